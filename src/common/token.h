/*
 * token.h: enrollment tokens, the one place they are written, parsed and
 * redacted (the CLI writes them, outpostd's `enroll` and outpost-agent parse
 * them, every log line and audit command record is redacted here):
 *
 *   op1:<b64url(HOST:PORT)>:<b64url(SHA-256 of the server's host key blob)>:<secret>
 *
 * The secret is 32 lower-case hex characters. PROTOCOL.md "Enrollment tokens".
 */
#ifndef OUTPOST_TOKEN_H
#define OUTPOST_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/hostport.h"

#define TOKEN_PREFIX		"op1:"
#define TOKEN_HOSTKEY_LEN	32	/* raw SHA-256 */
#define TOKEN_SECRET_LEN	32	/* lower-case hex characters */
#define TOKEN_REDACTED		"redacted"	/* what replaces a secret in logs and records */

struct token {
	struct hostport server;			/* the jump server, as the admin gave it */
	uint8_t hostkey[TOKEN_HOSTKEY_LEN];	/* SHA-256 of its host key blob */
	char secret[TOKEN_SECRET_LEN + 1];
};

/*
 * Writes t as a token into dst (dstlen bytes; LIM_TOKEN + 1 is always
 * enough). Refuses to write what token_parse would refuse: returns 0,
 * ERR_INVAL (a bad server address or secret) or ERR_TOOLONG (dst too
 * small); dst is "" on failure.
 */
int token_format(const struct token *t, char *dst, size_t dstlen);

/*
 * Parses a token strictly: the "op1" version, exactly four ':'-separated
 * fields, unpadded base64url with canonical trailing bits, an address that
 * hostport_parse accepts (no NUL inside), a 32-byte hash and 32 lower-case
 * hex characters. No white space anywhere, at most LIM_TOKEN bytes.
 * Returns 0 or ERR_INVAL; out is cleared on entry and on failure.
 */
int token_parse(const char *s, struct token *out);

/* Wipes t (the secret included) in a way the compiler keeps. */
void token_clear(struct token *t);

/*
 * Redacts, in place, every token-shaped word of the NUL-terminated string s,
 * whole or cut short, valid or not, so that no secret reaches a log or an
 * audit record:
 *  - "op1:" (any case) at the start of s or after a byte that is not a
 *    letter or digit, followed by at least 8 base64url or ':' characters:
 *    those characters become "redacted";
 *  - a run of 20 to 32 hex digits (either case) with no letter or digit on
 *    either side (a secret on its own, or one cut short): it becomes
 *    "redacted".
 * Anything else, e.g. "op1:22", a 12-digit token id or a 64-digit hash, is
 * left alone. s never grows. Returns the number of words redacted.
 */
size_t token_redact(char *s);

#endif
