/* hostport.h: "HOST:PORT" and "[IPv6]:PORT" as users and tokens write them. */
#ifndef OUTPOST_HOSTPORT_H
#define OUTPOST_HOSTPORT_H

#include <stddef.h>

#define HOSTPORT_HOST_MAX	253	/* a DNS name; IPv6 literals are shorter */
#define HOSTPORT_STR_MAX	(HOSTPORT_HOST_MAX + 8)	/* "[" host "]:" 65535 */

struct hostport {
	char host[HOSTPORT_HOST_MAX + 1];	/* without brackets */
	int port;				/* 1-65535 */
	int v6;					/* written in brackets */
};

/*
 * Parses "host:port" (host: a DNS name or IPv4 address, [A-Za-z0-9.-_]) or
 * "[ipv6]:port". The port is decimal, 1-65535, no sign or leading zero.
 * Returns 0 or ERR_INVAL; out is cleared on entry and on failure.
 */
int hostport_parse(const char *s, struct hostport *out);

/* Parses a port number as hostport_parse does; returns it or ERR_INVAL. */
int hostport_parse_port(const char *s, size_t len);

/* Writes hp back in the form hostport_parse reads (dstlen >= HOSTPORT_STR_MAX). */
void hostport_format(const struct hostport *hp, char *dst, size_t dstlen);

#endif
