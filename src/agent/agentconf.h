/* agentconf.h: STATE_DIR/agent.conf, what enrollment learned (server, pinned host key, name) plus services. */
#ifndef OUTPOST_AGENT_AGENTCONF_H
#define OUTPOST_AGENT_AGENTCONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/hostport.h"
#include "agent/service.h"
#include "agent/token.h"
#include "common/limits.h"

#define AGENTCONF_FP_MAX	64	/* "SHA256:" + 43 base64 characters */
#define AGENTCONF_GLOB_MAX	256	/* sshd-host-keys pattern */

struct agent_conf {
	struct hostport server;
	uint8_t hostkey[TOKEN_HOSTKEY_LEN];	/* SHA-256 of the pinned host key blob */
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];
	struct service services[LIM_SERVICES];
	size_t nservices;
	char sshd_host_keys[AGENTCONF_GLOB_MAX];	/* "" = the default glob */
	unsigned seen;				/* CONF_* bits: which keys were given */
};

enum { CONF_SERVER = 1, CONF_HOSTKEY = 2, CONF_HOSTKEY_HEX = 4, CONF_NAME = 8,
	CONF_FLEET = 16, CONF_SSHD_HOST_KEYS = 32 };

/*
 * Parses "key value" lines ('#' comments and blank lines skipped):
 * server ADDR:PORT, hostkey SHA256:<base64>, hostkey-sha256 <64 hex>
 * (if both are given they must agree), name LABEL, fleet LABEL, any
 * number (up to LIM_SERVICES) of service PORT=HOST:PORT, and
 * sshd-host-keys /ABSOLUTE/GLOB (the public host keys to report). Unknown keys,
 * repeated keys, over-long lines, NULs and control bytes are errors.
 * Does not require any key (see agentconf_check). On error returns
 * ERR_CONFIG and writes "line N: why" into err.
 */
int agentconf_parse(FILE *f, struct agent_conf *out, char *err, size_t errlen);

/* agentconf_parse on a file; ERR_NOTFOUND if it does not exist, ERR_IO if unreadable. */
int agentconf_read(const char *path, struct agent_conf *out, char *err, size_t errlen);

/* Requires server, a host key, name and fleet. Returns 0 or ERR_CONFIG (why in err). */
int agentconf_check(const struct agent_conf *c, char *err, size_t errlen);

/* Writes c to f in the format agentconf_parse reads. Returns 0 or ERR_IO. */
int agentconf_emit(FILE *f, const struct agent_conf *c);

/* Writes c to path atomically (temporary file, fsync, rename). Returns 0 or ERR_IO. */
int agentconf_write(const char *path, const struct agent_conf *c);

/* Adds sv, replacing a service with the same port. ERR_TOOLONG if full. */
int agentconf_add_service(struct agent_conf *c, const struct service *sv);

/* "SHA256:<unpadded base64>", as ssh-keygen -l prints (dstlen >= AGENTCONF_FP_MAX). */
void agentconf_fingerprint(const uint8_t hash[TOKEN_HOSTKEY_LEN], char *dst, size_t dstlen);

#endif
