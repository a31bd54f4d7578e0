/* utf8.h: the one UTF-8 validity check (RFC 3629), for the JSON writer and the audit reader. */
#ifndef OUTPOST_UTF8_H
#define OUTPOST_UTF8_H

#include <stddef.h>

/*
 * Length (1-4) of the valid UTF-8 sequence starting at s, or 0 if it is not
 * one: a stray continuation byte, an overlong form, a surrogate, a code
 * point past U+10FFFF, or a sequence cut short by end (s < end required).
 * NUL is a valid 1-byte sequence; callers that stop at NUL do so themselves.
 */
size_t utf8_len(const unsigned char *s, const unsigned char *end);

#endif
