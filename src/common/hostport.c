/* hostport.c: strict parsing of "HOST:PORT" and "[IPv6]:PORT". */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/hostport.h"
#include "common/err.h"

int
hostport_parse_port(const char *s, size_t len)
{
	int v = 0;

	if (s == NULL || len == 0 || len > 5 || s[0] == '0')
		return ERR_INVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_INVAL;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? v : ERR_INVAL;
}

static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int
valid_name(const char *h, size_t len)
{
	if (len == 0 || len > HOSTPORT_HOST_MAX || h[0] == '-' || h[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!name_char(h[i]))
			return 0;
	return 1;
}

static int
valid_v6(const char *h, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Splits s into host and port text; returns 0 or ERR_INVAL. */
static int
split(const char *s, size_t len, const char **h, size_t *hlen, int *v6)
{
	const char *colon;

	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL || close + 1 >= s + len || close[1] != ':')
			return ERR_INVAL;
		*h = s + 1;
		*hlen = (size_t)(close - s - 1);
		*v6 = 1;
		return valid_v6(*h, *hlen) ? 0 : ERR_INVAL;
	}
	colon = memchr(s, ':', len);
	if (colon == NULL || memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
		return ERR_INVAL;
	*h = s;
	*hlen = (size_t)(colon - s);
	*v6 = 0;
	return valid_name(*h, *hlen) ? 0 : ERR_INVAL;
}

int
hostport_parse(const char *s, struct hostport *out)
{
	const char *h;
	size_t len, hlen;
	int v6, port;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return ERR_INVAL;
	len = strnlen(s, HOSTPORT_STR_MAX + 1);
	if (len == 0 || len > HOSTPORT_STR_MAX || split(s, len, &h, &hlen, &v6) != 0)
		return ERR_INVAL;
	const char *p = h + hlen + (v6 ? 2 : 1);
	port = hostport_parse_port(p, len - (size_t)(p - s));
	if (port < 0)
		return ERR_INVAL;
	memcpy(out->host, h, hlen);
	out->host[hlen] = '\0';
	out->port = port;
	out->v6 = v6;
	return 0;
}

void
hostport_format(const struct hostport *hp, char *dst, size_t dstlen)
{
	if (hp->v6)
		snprintf(dst, dstlen, "[%s]:%d", hp->host, hp->port);
	else
		snprintf(dst, dstlen, "%s:%d", hp->host, hp->port);
}
