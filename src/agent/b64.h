/* b64.h: strict, unpadded base64 decoding (base64url for tokens, standard for SHA256: fingerprints). */
#ifndef OUTPOST_AGENT_B64_H
#define OUTPOST_AGENT_B64_H

#include <stddef.h>
#include <stdint.h>

enum b64_alphabet { B64_STD, B64_URL };

/*
 * Decodes len characters of unpadded base64 in the given alphabet into dst
 * (room for dstlen bytes). Refuses '=', any character outside the alphabet,
 * a length of 4n+1, non-zero unused trailing bits (so each value has exactly
 * one encoding) and output longer than dstlen. Stores the decoded length in
 * *outlen. Returns 0 or ERR_INVAL.
 */
int b64_decode(enum b64_alphabet a, const char *src, size_t len, uint8_t *dst,
    size_t dstlen, size_t *outlen);

/* Encodes n bytes, unpadded, into dst (dstlen >= 4 * ceil(n / 3) + 1). */
void b64_encode(enum b64_alphabet a, const uint8_t *src, size_t n, char *dst,
    size_t dstlen);

#endif
