/* token.c: strict parsing of enrollment tokens (the format is in token.h). */
#include <string.h>

#include "agent/agent.h"
#include "common/b64.h"
#include "agent/token.h"
#include "common/err.h"

#define TOKEN_PREFIX "op1:"

/* Returns the length of the field starting at s, up to ':' or the end. */
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
parse_secret(const char *s, size_t len, char *out)
{
	if (len != TOKEN_SECRET_LEN)
		return ERR_INVAL;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return ERR_INVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int
parse_fields(const char *p, struct agent_token *out)
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
	if (p[n] != '\0')
		return ERR_INVAL;
	return parse_secret(p, n, out->secret);
}

int
agent_token_parse(const char *s, struct agent_token *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strnlen(s, AGENT_TOKEN_MAX + 1) > AGENT_TOKEN_MAX)
		return ERR_INVAL;
	if (strncmp(s, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return ERR_INVAL;
	r = parse_fields(s + strlen(TOKEN_PREFIX), out);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}
