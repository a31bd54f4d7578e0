/* proxyhdr.c: PROXY protocol v2 header parsing (strict) and the ProxyProtocol address list. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "server/proxyhdr.h"

static const uint8_t sig[PROXYHDR_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

enum { CMD_LOCAL = 0x0, CMD_PROXY = 0x1, FAM_TCP4 = 0x11, FAM_TCP6 = 0x21 };

size_t
proxyhdr_want(const uint8_t *p, size_t n)
{
	if (n < PROXYHDR_FIXED)
		return PROXYHDR_FIXED - n;
	size_t total = PROXYHDR_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (total > PROXYHDR_MAX)
		return 0;	/* the parser refuses it */
	return total > n ? total - n : 0;
}

bool
proxyhdr_looks_like(const uint8_t *p, size_t n)
{
	size_t k = n < PROXYHDR_SIG_LEN ? n : PROXYHDR_SIG_LEN;
	if (n > 0 && memcmp(p, sig, k) == 0)
		return true;
	k = n < 6 ? n : 6;
	return n > 0 && memcmp(p, "PROXY ", k) == 0;
}

int
proxyhdr_parse(const uint8_t *p, size_t n, struct proxyhdr *out)
{
	size_t k = n < PROXYHDR_SIG_LEN ? n : PROXYHDR_SIG_LEN;

	memset(out, 0, sizeof(*out));
	if (memcmp(p, sig, k) != 0)
		return ERR_INVAL;
	if (n > 12 && (p[12] >> 4) != 2)
		return ERR_INVAL;	/* only version 2 */
	if (n > 12 && (p[12] & 0xf) != CMD_LOCAL && (p[12] & 0xf) != CMD_PROXY)
		return ERR_INVAL;
	if (n < PROXYHDR_FIXED)
		return 0;
	size_t len = (size_t)p[14] << 8 | p[15];
	if (PROXYHDR_FIXED + len > PROXYHDR_MAX)
		return ERR_INVAL;
	bool local = (p[12] & 0xf) == CMD_LOCAL;
	size_t alen;
	if (p[13] == FAM_TCP4)
		alen = 12;
	else if (p[13] == FAM_TCP6)
		alen = 36;
	else if (local)
		alen = 0;	/* LOCAL: the family and its addresses are ignored */
	else
		return ERR_INVAL;	/* UDP, AF_UNIX, UNSPEC with PROXY */
	if (len < alen)
		return ERR_INVAL;
	if (n < PROXYHDR_FIXED + len)
		return 0;
	const uint8_t *a = p + PROXYHDR_FIXED;
	if (alen == 0)
		alen = len;	/* LOCAL with another family: its bytes are skipped whole */
	/* TLVs: type, 16-bit length, value; each within the stated length. */
	for (size_t off = alen; off < len;) {
		if (len - off < 3)
			return ERR_INVAL;
		size_t tl = (size_t)a[off + 1] << 8 | a[off + 2];
		if (tl > len - off - 3)
			return ERR_INVAL;
		off += 3 + tl;
	}
	out->local = local;
	if (!local) {
		if (p[13] == FAM_TCP4) {
			inet_ntop(AF_INET, a, out->ip, sizeof(out->ip));
			out->port = a[8] << 8 | a[9];	/* src, dst, src port, dst port */
		} else {
			inet_ntop(AF_INET6, a, out->ip, sizeof(out->ip));
			out->port = a[32] << 8 | a[33];
		}
	}
	return (int)(PROXYHDR_FIXED + len);
}

static int
parse_one(const char *s, size_t len, int *family, uint8_t addr[16], int *bits)
{
	char buf[64];
	const char *slash;

	if (len == 0 || len >= sizeof(buf))
		return ERR_CONFIG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	*bits = -1;
	if (slash != NULL) {
		const char *b = slash + 1;
		if (*b == '\0' || strspn(b, "0123456789") != strlen(b) || strlen(b) > 3)
			return ERR_CONFIG;
		*bits = atoi(b);
		buf[slash - buf] = '\0';
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		*family = AF_INET6;
	else
		return ERR_CONFIG;
	int max = *family == AF_INET ? 32 : 128;
	if (*bits < 0)
		*bits = max;
	return *bits <= max ? 0 : ERR_CONFIG;
}

int
proxy_allow_parse(const char *list, struct proxy_allow *a, char *why, size_t whylen)
{
	struct proxy_allow tmp;
	const char *s = list;

	memset(&tmp, 0, sizeof(tmp));
	while (s != NULL && *s != '\0') {
		s += strspn(s, " \t,");
		size_t len = strcspn(s, " \t,");
		if (len == 0)
			break;
		if (tmp.n >= PROXY_ALLOW_MAX) {
			snprintf(why, whylen, "ProxyProtocol: more than %d addresses", PROXY_ALLOW_MAX);
			return ERR_CONFIG;
		}
		if (parse_one(s, len, &tmp.e[tmp.n].family, tmp.e[tmp.n].addr, &tmp.e[tmp.n].bits) != 0) {
			snprintf(why, whylen, "ProxyProtocol: '%.*s' is not an address or ADDR/BITS",
			    (int)(len < 64 ? len : 64), s);
			return ERR_CONFIG;
		}
		tmp.n++;
		s += len;
	}
	if (tmp.n == 0) {
		snprintf(why, whylen, "ProxyProtocol: no address given");
		return ERR_CONFIG;
	}
	if (a != NULL)
		*a = tmp;
	return 0;
}

bool
proxy_allow_match(const struct proxy_allow *a, const char *ip)
{
	uint8_t addr[16];
	int family;

	memset(addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, ip, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		family = AF_INET6;
	else
		return false;
	for (int i = 0; i < a->n; i++) {
		if (a->e[i].family != family)
			continue;
		int bits = a->e[i].bits, full = bits / 8, rest = bits % 8;
		if (memcmp(a->e[i].addr, addr, (size_t)full) != 0)
			continue;
		if (rest == 0 || ((a->e[i].addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0)
			return true;
	}
	return false;
}
