/* disconnect.h: the bytes a minimal SSH server sends to hang up with a reason before key exchange. */
#ifndef OUTPOST_DISCONNECT_H
#define OUTPOST_DISCONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/jbuf.h"

#define DISCONNECT_BANNER "SSH-2.0-outpost\r\n"
#define DISCONNECT_BY_APPLICATION 11	/* RFC 4253 11.1 reason code */

/*
 * Appends to out the identification line and an unencrypted
 * SSH_MSG_DISCONNECT (reason code DISCONNECT_BY_APPLICATION) whose
 * description is reason. OpenSSH's client prints it as "Received
 * disconnect from ...: <reason>". A buffer too small is marked failed.
 */
void disconnect_bytes(struct jbuf *out, const char *reason);
/* The SSH_MSG_DISCONNECT alone, for a peer that has had the identification line already. */
void disconnect_packet(struct jbuf *out, const char *reason);

/*
 * "Busy, come back later" (PROTOCOL.md, "Busy: try again in N s"): a
 * disconnect before key exchange whose description ends with
 * DISCONNECT_BUSY_TAG, seconds, " s". outpostd says it when more clients
 * want a handshake than it can start within their patience; outpost-agent
 * and outpost-loadgen wait that long instead of their backoff.
 */
#define DISCONNECT_BUSY_TAG "try again in "
#define DISCONNECT_BUSY_MAX_S 600	/* a longer wait, as told by anyone, is read as this */

/* Writes the busy description for secs (clamped to 1..DISCONNECT_BUSY_MAX_S) into buf. */
void disconnect_busy_reason(char *buf, size_t len, int secs);

/*
 * The same words at a shutdown, to a logged-in device (PROTOCOL.md, "Come
 * back in N s at a shutdown"): "server shutting down: try again in N s",
 * read by disconnect_busy_parse like a busy answer.
 */
void disconnect_stop_reason(char *buf, size_t len, int secs);

/*
 * Whether err (libssh's error text of a failed connect, or a bare
 * description) is a busy answer; if so *secs is its wait, clamped to
 * 1..DISCONNECT_BUSY_MAX_S. Anything else, including a tag without a
 * well-formed number or with text after " s", is not one.
 */
bool disconnect_busy_parse(const char *err, int *secs);

#endif
