/* disconnect.h: the bytes a minimal SSH server sends to hang up with a reason before key exchange. */
#ifndef OUTPOST_DISCONNECT_H
#define OUTPOST_DISCONNECT_H

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

#endif
