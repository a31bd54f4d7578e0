/* agentconf.h: STATE_DIR/agent.conf, what enrollment learned (server, pinned host key, name) plus services. */
#ifndef OUTPOST_AGENT_AGENTCONF_H
#define OUTPOST_AGENT_AGENTCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/hostport.h"
#include "agent/service.h"
#include "common/token.h"
#include "common/limits.h"
#include "common/mqttspec.h"

#define AGENTCONF_FP_MAX	64	/* "SHA256:" + 43 base64 characters */
#define AGENTCONF_GLOB_MAX	256	/* sshd-host-keys pattern */
#define AGENTCONF_PATH_MAX	512	/* a TLS file named in agent.conf or on the command line */
#define AGENTCONF_IDLE_DEFAULT	600	/* seconds without a channel before an on-demand tunnel drops */

/* On-demand mode (outpost-agent(8), PROTOCOL.md): an MQTT session, a tunnel only when asked. */
struct agent_mqtt {
	bool on_demand;
	bool have_url;
	struct mqtt_url url;
	char cafile[AGENTCONF_PATH_MAX];	/* "" = none */
	char cert[AGENTCONF_PATH_MAX];
	char key[AGENTCONF_PATH_MAX];
	char topic[MQTT_TOPIC_MAX];		/* prefix template; "" = MQTT_DEFAULT_TEMPLATE */
	char client_id[MQTT_TOPIC_MAX];		/* "" = outpost-<name>.<fleet> */
	int64_t idle_s;				/* 0 = AGENTCONF_IDLE_DEFAULT */
};

struct agent_conf {
	struct hostport servers[LIM_AGENT_SERVERS];	/* tried in this order */
	size_t nservers;
	uint8_t hostkey[TOKEN_HOSTKEY_LEN];	/* SHA-256 of the pinned host key blob */
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];
	struct service services[LIM_SERVICES];
	size_t nservices;
	char sshd_host_keys[AGENTCONF_GLOB_MAX];	/* "" = the default glob */
	struct agent_mqtt mqtt;
	unsigned seen;				/* CONF_* bits: which keys were given */
};

enum { CONF_SERVER = 1, CONF_HOSTKEY = 2, CONF_HOSTKEY_HEX = 4, CONF_NAME = 8,
	CONF_FLEET = 16, CONF_ON_DEMAND = 32, CONF_MQTT = 64, CONF_MQTT_CAFILE = 128,
	CONF_MQTT_CERT = 256, CONF_MQTT_KEY = 512, CONF_MQTT_TOPIC = 1024, CONF_IDLE = 2048,
	CONF_MQTT_CLIENT_ID = 4096, CONF_SSHD_HOST_KEYS = 8192 };

/*
 * Parses "key value" lines ('#' comments and blank lines skipped):
 * server ADDR:PORT (up to LIM_AGENT_SERVERS lines, no duplicates), hostkey SHA256:<base64>, hostkey-sha256 <64 hex>
 * (if both are given they must agree), name LABEL, fleet LABEL, any
 * number (up to LIM_SERVICES) of service PORT=HOST:PORT, and
 * sshd-host-keys /ABSOLUTE/GLOB (the public host keys to report); for
 * on-demand mode on-demand yes|no, mqtt URL, mqtt-cafile, mqtt-cert,
 * mqtt-key PATH, mqtt-topic TEMPLATE, mqtt-client-id ID, idle DURATION. Unknown keys,
 * repeated keys, over-long lines, NULs and control bytes are errors.
 * Does not require any key (see agentconf_check). On error returns
 * ERR_CONFIG and writes "line N: why" into err.
 */
int agentconf_parse(FILE *f, struct agent_conf *out, char *err, size_t errlen);

/* agentconf_parse on a file; ERR_NOTFOUND if it does not exist, ERR_IO if unreadable. */
int agentconf_read(const char *path, struct agent_conf *out, char *err, size_t errlen);

/* Requires server, a host key, name and fleet. Returns 0 or ERR_CONFIG (why in err). */
int agentconf_check(const struct agent_conf *c, char *err, size_t errlen);

/* Requires a broker URL when on-demand mode is on. Returns 0 or ERR_CONFIG (why in err). */
int agentconf_check_mqtt(const struct agent_conf *c, char *err, size_t errlen);

/*
 * Setters shared by agent.conf and the command line (--mqtt URL ...):
 * key is an agent.conf keyword; returns 0 or ERR_INVAL.
 */
int agentconf_set(struct agent_conf *c, const char *key, const char *value);

/* Writes c to f in the format agentconf_parse reads. Returns 0 or ERR_IO. */
int agentconf_emit(FILE *f, const struct agent_conf *c);

/* Writes c to path atomically (temporary file, fsync, rename). Returns 0 or ERR_IO. */
int agentconf_write(const char *path, const struct agent_conf *c);

/* Appends a server; ERR_EXISTS if listed already, ERR_TOOLONG if full. */
int agentconf_add_server(struct agent_conf *c, const struct hostport *hp);

/* Adds sv, replacing a service with the same port. ERR_TOOLONG if full. */
int agentconf_add_service(struct agent_conf *c, const struct service *sv);

/* "SHA256:<unpadded base64>", as ssh-keygen -l prints (dstlen >= AGENTCONF_FP_MAX). */
void agentconf_fingerprint(const uint8_t hash[TOKEN_HOSTKEY_LEN], char *dst, size_t dstlen);

#endif
