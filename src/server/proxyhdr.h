/* proxyhdr.h: the PROXY protocol v2 header a load balancer sends first (HAProxy send-proxy-v2), and the ProxyProtocol address list. */
#ifndef OUTPOST_PROXYHDR_H
#define OUTPOST_PROXYHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXYHDR_SIG_LEN 12
#define PROXYHDR_FIXED 16		/* signature, version/command, family, length */
#define PROXYHDR_MAX 512		/* whole header, TLVs included; longer is refused */
#define PROXY_ALLOW_MAX 16

struct proxyhdr {
	bool local;			/* LOCAL (health check): keep the balancer's address */
	char ip[48];			/* PROXY: the client's address, numeric */
	int port;
};

/*
 * Parses a v2 header at the start of p[0..n). Returns the header's length
 * (> 0) when whole and valid, 0 when more bytes are needed (what is there
 * is a valid prefix), ERR_INVAL when it cannot be a valid header. Accepts
 * PROXY over TCP/IPv4 or TCP/IPv6 and LOCAL with any family; TLVs are
 * checked to stay within the stated length and skipped.
 */
int proxyhdr_parse(const uint8_t *p, size_t n, struct proxyhdr *out);
/* How many bytes to read next to finish a header of which n are in p (never past its end). */
size_t proxyhdr_want(const uint8_t *p, size_t n);
/* True when p[0..n) (n >= 1) begins like a v2 header or a v1 "PROXY " line. */
bool proxyhdr_looks_like(const uint8_t *p, size_t n);

struct proxy_allow {
	struct { int family; uint8_t addr[16]; int bits; } e[PROXY_ALLOW_MAX];
	int n;
};

/* Parses "ADDR[/BITS] ..." (spaces or commas); 0, or ERR_CONFIG with why set. a may be NULL (check only). */
int proxy_allow_parse(const char *list, struct proxy_allow *a, char *why, size_t whylen);
/* True when the numeric address ip is in the list. */
bool proxy_allow_match(const struct proxy_allow *a, const char *ip);

#endif
