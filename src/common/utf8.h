/* utf8.h: the one UTF-8 validity check (RFC 3629), for the JSON writer and the audit reader. */
#ifndef OUTPOST_UTF8_H
#define OUTPOST_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length (1-4) of the valid UTF-8 sequence starting at s, or 0 if it is not
 * one: a stray continuation byte, an overlong form, a surrogate, a code
 * point past U+10FFFF, or a sequence cut short by end (s < end required).
 * NUL is a valid 1-byte sequence; callers that stop at NUL do so themselves.
 */
size_t utf8_len(const unsigned char *s, const unsigned char *end);

/* The code point of the valid n-byte sequence at s (n from utf8_len). */
unsigned long utf8_cp(const unsigned char *s, size_t n);

/*
 * Code points a terminal acts on rather than shows: C1 controls (U+0080-
 * U+009F, e.g. CSI) and Unicode's Bidi_Control set (U+061C, U+200E-U+200F,
 * U+202A-U+202E, U+2066-U+2069), which can make a line read other than it is.
 */
bool utf8_unsafe(unsigned long cp);

#endif
