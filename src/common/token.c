/* token.c: enrollment tokens: written, strictly parsed and redacted (the format is in token.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/token.h"

#define REDACT_MIN_RUN	8	/* "op1:" + fewer characters carries no secret */
#define SECRET_MIN_RUN	20	/* hex runs this long or longer, up to a secret's, are redacted */

static bool
secret_ok(const char *s, size_t len)
{
	if (len != TOKEN_SECRET_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Length of the field starting at s, up to ':' or the end. */
static size_t
field_len(const char *s)
{
	const char *c = strchr(s, ':');
	return c ? (size_t)(c - s) : strlen(s);
}

static int
parse_server(const char *s, size_t len, struct hostport *out)
{
	uint8_t raw[HOSTPORT_STR_MAX + 1];
	size_t n;

	if (b64_decode(B64_URL, s, len, raw, sizeof(raw) - 1, &n) != 0 || n == 0)
		return ERR_INVAL;
	if (memchr(raw, '\0', n) != NULL)
		return ERR_INVAL;
	raw[n] = '\0';
	return hostport_parse((const char *)raw, out);
}

static int
parse_hostkey(const char *s, size_t len, uint8_t out[TOKEN_HOSTKEY_LEN])
{
	size_t n;

	if (b64_decode(B64_URL, s, len, out, TOKEN_HOSTKEY_LEN, &n) != 0)
		return ERR_INVAL;
	return n == TOKEN_HOSTKEY_LEN ? 0 : ERR_INVAL;
}

static int
parse_fields(const char *p, struct token *out)
{
	size_t n = field_len(p);

	if (p[n] != ':' || parse_server(p, n, &out->server) != 0)
		return ERR_INVAL;
	p += n + 1;
	n = field_len(p);
	if (p[n] != ':' || parse_hostkey(p, n, out->hostkey) != 0)
		return ERR_INVAL;
	p += n + 1;
	n = field_len(p);
	if (p[n] != '\0' || !secret_ok(p, n))
		return ERR_INVAL;
	memcpy(out->secret, p, n);
	out->secret[n] = '\0';
	return 0;
}

int
token_parse(const char *s, struct token *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strnlen(s, LIM_TOKEN + 1) > LIM_TOKEN)
		return ERR_INVAL;
	if (strncmp(s, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return ERR_INVAL;
	r = parse_fields(s + strlen(TOKEN_PREFIX), out);
	if (r != 0)
		token_clear(out);
	return r;
}

int
token_format(const struct token *t, char *dst, size_t dstlen)
{
	char addr[HOSTPORT_STR_MAX + 1], enc_addr[HOSTPORT_STR_MAX * 2], enc_key[64];
	struct hostport check;
	struct token back;
	int n, r = 0;

	if (dstlen > 0)
		dst[0] = '\0';
	hostport_format(&t->server, addr, sizeof(addr));
	if (hostport_parse(addr, &check) != 0 ||
	    !secret_ok(t->secret, strnlen(t->secret, TOKEN_SECRET_LEN + 1)))
		return ERR_INVAL;
	b64_encode(B64_URL, (const uint8_t *)addr, strlen(addr), enc_addr, sizeof(enc_addr));
	b64_encode(B64_URL, t->hostkey, TOKEN_HOSTKEY_LEN, enc_key, sizeof(enc_key));
	n = snprintf(dst, dstlen, TOKEN_PREFIX "%s:%s:%s", enc_addr, enc_key, t->secret);
	if (n < 0 || (size_t)n >= dstlen)
		r = ERR_TOOLONG;
	else if (token_parse(dst, &back) != 0)	/* never write what the parser refuses */
		r = ERR_INVAL;
	token_clear(&back);
	if (r != 0 && dstlen > 0)
		memset(dst, 0, dstlen);
	return r;
}

void
token_clear(struct token *t)
{
	explicit_bzero(t, sizeof(*t));
}

/* ---- redaction ---- */

static bool
alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
hexdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A character of a token's body: base64url or the field separator. */
static bool
body_char(unsigned char c)
{
	return alnum(c) || c == '-' || c == '_' || c == ':';
}

/*
 * At a word boundary, the number of bytes from s on that are to be replaced
 * by TOKEN_REDACTED, after keeping *keep bytes; 0 if s starts nothing to redact.
 */
static size_t
redact_span(const unsigned char *s, size_t *keep)
{
	size_t n = 0;

	*keep = 0;
	if (strncasecmp((const char *)s, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
		const unsigned char *b = s + strlen(TOKEN_PREFIX);
		while (body_char(b[n]))
			n++;
		*keep = strlen(TOKEN_PREFIX);
		if (n == strlen(TOKEN_REDACTED) && memcmp(b, TOKEN_REDACTED, n) == 0)
			return 0;	/* redacted already */
		return n >= REDACT_MIN_RUN ? n : 0;
	}
	while (hexdigit(s[n]) && n <= TOKEN_SECRET_LEN)
		n++;
	if (n < SECRET_MIN_RUN || n > TOKEN_SECRET_LEN || alnum(s[n]))
		return 0;
	return n;
}

size_t
token_redact(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = r, prev = 0;
	size_t count = 0, keep, n;

	if (s == NULL)
		return 0;
	while (*r != '\0') {
		if (!alnum(prev) && (n = redact_span(r, &keep)) > 0) {
			prev = r[keep + n - 1];	/* before w, never past r, overwrites it */
			memmove(w, r, keep);	/* "op1:" as it was written */
			memcpy(w + keep, TOKEN_REDACTED, strlen(TOKEN_REDACTED));
			w += keep + strlen(TOKEN_REDACTED);
			r += keep + n;
			count++;
			continue;
		}
		prev = *r;
		*w++ = *r++;
	}
	*w = '\0';
	return count;
}
