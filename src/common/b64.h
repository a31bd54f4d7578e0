/* b64.h: the one base64 of all binaries: strict and unpadded, in the standard alphabet (SHA256: fingerprints) and the URL alphabet (enrollment tokens). */
#ifndef OUTPOST_B64_H
#define OUTPOST_B64_H

#include <stddef.h>
#include <stdint.h>

enum b64_alphabet { B64_STD, B64_URL };

/* Characters that n bytes encode to, without padding (no terminating NUL). */
size_t b64_encoded_len(size_t n);

/*
 * Decodes len characters of unpadded base64 in the given alphabet into dst
 * (room for dstlen bytes). Refuses '=', any character outside the alphabet
 * (NUL included), a length of 4n+1, non-zero unused trailing bits (so each
 * value has exactly one encoding) and output longer than dstlen (checked
 * before anything is written). Stores the decoded length in *outlen (0 on
 * failure). Returns 0 or ERR_INVAL.
 */
int b64_decode(enum b64_alphabet a, const char *src, size_t len, uint8_t *dst,
    size_t dstlen, size_t *outlen);

/*
 * Encodes n bytes, unpadded, into dst and terminates it; dstlen must be at
 * least b64_encoded_len(n) + 1, or the encoding is cut short (still terminated).
 */
void b64_encode(enum b64_alphabet a, const uint8_t *src, size_t n, char *dst,
    size_t dstlen);

#endif
