/* b64.h: base64url without padding (RFC 4648 section 5), as enrollment tokens use it. */
#ifndef OUTPOST_B64_H
#define OUTPOST_B64_H

#include <stddef.h>

/* Encodes n bytes into dst (at least b64url_len(n) + 1 bytes); always terminates. */
void b64url_encode(const void *src, size_t n, char *dst);
size_t b64url_len(size_t n);
/*
 * Decodes a NUL-terminated base64url string without padding into dst
 * (dstlen bytes). Returns the decoded length, or -1 on a bad character,
 * impossible length, non-zero trailing bits or overflow.
 */
long b64url_decode(const char *src, void *dst, size_t dstlen);

#endif
