/* token.h: enrollment tokens, op1:<b64u(ADDR:PORT)>:<b64u(SHA-256 of host key)>:<secret>. */
#ifndef OUTPOST_AGENT_TOKEN_H
#define OUTPOST_AGENT_TOKEN_H

#include <stdint.h>

#include "common/hostport.h"

#define TOKEN_HOSTKEY_LEN	32	/* raw SHA-256 */
#define TOKEN_SECRET_LEN	32	/* lower-case hex characters */

struct agent_token {
	struct hostport server;			/* the jump server, as the admin gave it */
	uint8_t hostkey[TOKEN_HOSTKEY_LEN];	/* SHA-256 of its host key blob */
	char secret[TOKEN_SECRET_LEN + 1];
};

/*
 * Parses a token strictly: the "op1" version, exactly four ':'-separated
 * fields, unpadded base64url with canonical trailing bits, an address that
 * hostport_parse accepts, a 32-byte hash and 32 lower-case hex characters.
 * No white space anywhere, at most AGENT_TOKEN_MAX bytes.
 * Returns 0 or ERR_INVAL; out is cleared on entry and on failure.
 */
int agent_token_parse(const char *s, struct agent_token *out);

#endif
