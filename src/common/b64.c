/* b64.c: strict, unpadded base64 in the standard and URL alphabets (RFC 4648 sections 4 and 5). */
#include <string.h>

#include "common/b64.h"
#include "common/err.h"

static const char std_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
value(enum b64_alphabet a, char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (a == B64_URL ? '-' : '+'))
		return 62;
	if (c == (a == B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

size_t
b64_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

int
b64_decode(enum b64_alphabet a, const char *src, size_t len, uint8_t *dst,
    size_t dstlen, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	*outlen = 0;
	if (src == NULL || len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > dstlen)
		return ERR_INVAL;
	for (size_t i = 0; i < len; i++) {
		int v = value(a, src[i]);
		if (v < 0)
			return ERR_INVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)	/* leftover bits must be zero: one encoding per value */
		return ERR_INVAL;
	*outlen = o;
	return 0;
}

void
b64_encode(enum b64_alphabet a, const uint8_t *src, size_t n, char *dst,
    size_t dstlen)
{
	const char *chars = a == B64_URL ? url_chars : std_chars;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (dstlen == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | src[i];
		bits += 8;
		while (bits >= 6 && o + 1 < dstlen) {
			bits -= 6;
			dst[o++] = chars[(acc >> bits) & 63];
		}
	}
	if (bits > 0 && o + 1 < dstlen)
		dst[o++] = chars[(acc << (6 - bits)) & 63];
	dst[o] = '\0';
}
