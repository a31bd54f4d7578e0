/* conn.h: one SSH connection to the jump server: TCP, handshake, host key pin, public-key auth. */
#ifndef OUTPOST_AGENT_CONN_H
#define OUTPOST_AGENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "common/hostport.h"
#include "common/token.h"

struct conn_params {
	const struct hostport *server;
	const uint8_t *pin;		/* TOKEN_HOSTKEY_LEN bytes: SHA-256 of the host key */
	const char *pin_source;		/* "the token", "agent.conf": for the refusal */
	ssh_key key;			/* the agent's private key */
	const char *user;		/* "enroll" or "agent" */
	int busy_s;			/* out: an ERR_BUSY's "try again in" seconds */
};

/*
 * Connects to each address the server's name resolves to, in turn, until
 * one gets through all of it (TCP_NODELAY, keepalive, TCP_USER_TIMEOUT set
 * before the handshake), checks the server's host key against the pin BEFORE any
 * authentication, then authenticates with the key. On success *out is an
 * authenticated session in blocking mode (with AGENT_SSH_TIMEOUT_S); the
 * caller frees it with ssh_disconnect + ssh_free.
 * Returns 0; ERR_IO (could not reach the server), ERR_DENIED (host key
 * differs from the pin: why holds the loud message), ERR_KEY (the server
 * refused our key) or ERR_SSH, from the last address tried; or ERR_BUSY
 * when an address answered busy (PROTOCOL.md, "Busy: try again in N s")
 * and the others failed no worse, with p->busy_s the soonest such
 * address's wait. why always says what happened.
 */
int conn_open(struct conn_params *p, ssh_session *out, char *why, size_t whylen);

/*
 * The soonest "try again in" among several attempts (a name's addresses,
 * agent.conf's servers): busy_pick_note after each attempt that returned
 * r, with its busy seconds and its why (after prefix); busy_pick_result
 * after the last, which returned r: ERR_BUSY with the soonest one's why
 * when one answered busy and the last failed no worse (ERR_IO, ERR_SSH,
 * ERR_BUSY), else r.
 */
struct busy_pick {
	int secs;			/* 0: none answered busy */
	char why[512];
};
void busy_pick_note(struct busy_pick *bp, int r, int secs, const char *prefix, const char *why);
int busy_pick_result(const struct busy_pick *bp, int r, char *why, size_t whylen);

#endif
