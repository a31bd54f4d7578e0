/* test_b64.c: the one base64 (b64.c), unpadded, both alphabets: hostile input first, then RFC 4648 vectors and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"

/* The URL alphabet, as tokens use it: the decoded length, or -1. */
static long
b64url_decode(const char *s, void *dst, size_t dstlen)
{
	size_t n;
	int r = b64_decode(B64_URL, s, strlen(s), dst, dstlen, &n);

	if (r != 0) {
		assert_int_equal(r, ERR_INVAL);
		assert_int_equal(n, 0);
		return -1;
	}
	return (long)n;
}

static void
b64url_encode(const void *src, size_t n, char *dst)
{
	b64_encode(B64_URL, src, n, dst, b64_encoded_len(n) + 1);
}

#define b64url_len b64_encoded_len

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Expects decoding s to fail, and dst to stay untouched past what a decoder may write. */
static void
refuse(const char *s)
{
	unsigned char dst[512];

	memset(dst, 0xa5, sizeof(dst));
	long n = b64url_decode(s, dst, 400);
	if (n != -1)
		fail_msg("decoding '%.60s' gave %ld, want -1", s, n);
	for (size_t i = 400; i < sizeof(dst); i++)
		assert_int_equal(dst[i], 0xa5);
}

/* Every byte outside the alphabet, at every position of a valid 8-character string. */
static void
test_invalid_characters(void **state)
{
	char s[9];
	int refused = 0;

	(void)state;
	for (int c = 1; c < 256; c++) {
		if (strchr(url_alphabet, c) != NULL)
			continue;
		for (int pos = 0; pos < 8; pos++) {
			memcpy(s, "Zm9vYmFy", 9);
			s[pos] = (char)c;
			refuse(s);
			refused++;
		}
	}
	/* 256 - 64 alphabet - NUL = 191 bytes, at 8 places each */
	assert_int_equal(refused, 191 * 8);
	/* the standard alphabet's extras and padding are not base64url */
	refuse("Zm9vYg==");
	refuse("Zm9vYg=");
	refuse("Zg==");
	refuse("+/+/");
	refuse("ab/c");
	refuse("Zm9v Yg");
	refuse(" Zm9v");
	refuse("Zm9v\n");
	refuse("Zm9v\xc3\xa9");
}

/* Lengths that no byte string encodes to: 1 mod 4. */
static void
test_impossible_lengths(void **state)
{
	char s[64];

	(void)state;
	for (size_t len = 1; len < sizeof(s); len += 4) {
		memset(s, 'A', len);
		s[len] = '\0';
		refuse(s);
	}
	refuse("_");
	refuse("AAAA_");
}

/*
 * For every 1- and 2-byte input, the last character of its encoding carries
 * 4 or 2 bits that must be zero; each other character with the same high
 * bits decodes to the same bytes and must be refused.
 */
static void
test_noncanonical_trailing_bits(void **state)
{
	unsigned char in[2], out[4];
	char enc[8];
	int refused = 0;

	(void)state;
	for (size_t n = 1; n <= 2; n++) {
		unsigned spare = n == 1 ? 4 : 2;	/* unused low bits of the last char */
		for (unsigned v = 0; v < (n == 1 ? 256u : 65536u); v++) {
			in[0] = (unsigned char)(n == 1 ? v : v >> 8);
			in[1] = (unsigned char)v;
			b64url_encode(in, n, enc);
			size_t last = strlen(enc) - 1;
			int canon = (int)(strchr(url_alphabet, enc[last]) - url_alphabet);
			assert_int_equal(canon & ((1 << spare) - 1), 0);
			assert_int_equal(b64url_decode(enc, out, sizeof(out)), (long)n);
			assert_memory_equal(out, in, n);
			if (v % 97 != 0 && n == 2)
				continue;	/* every low-bit pattern, on a sample of 2-byte inputs */
			for (int low = 1; low < (1 << spare); low++) {
				enc[last] = url_alphabet[canon | low];
				refuse(enc);
				refused++;
			}
		}
	}
	assert_true(refused > 256 * 15);
	refuse("Zh");	/* "f" is "Zg" */
	refuse("Zm9");	/* "fo" is "Zm8" */
	refuse("Zm9vZ_");
}

/* The decoder never writes past dstlen, and says so instead of truncating. */
static void
test_output_overflow(void **state)
{
	unsigned char src[300], dst[310];
	char enc[420];

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 1; n <= sizeof(src); n++) {
		b64url_encode(src, n, enc);
		for (size_t cap = n > 4 ? n - 4 : 0; cap < n; cap++) {
			memset(dst, 0x5a, sizeof(dst));
			if (b64url_decode(enc, dst, cap) != -1)
				fail_msg("%zu bytes decoded into %zu", n, cap);
			for (size_t i = cap; i < sizeof(dst); i++)
				if (dst[i] != 0x5a)
					fail_msg("%zu bytes into %zu: byte %zu written", n, cap, i);
		}
		memset(dst, 0x5a, sizeof(dst));
		assert_int_equal(b64url_decode(enc, dst, n), (long)n);
		assert_memory_equal(dst, src, n);
		assert_int_equal(dst[n], 0x5a);
	}
	/* a long hostile string into a small buffer */
	char *big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'A', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	memset(dst, 0x5a, sizeof(dst));
	assert_int_equal(b64url_decode(big, dst, 32), -1);
	assert_int_equal(dst[32], 0x5a);
	free(big);
	/* nothing fits in nothing, except nothing */
	assert_int_equal(b64url_decode("AA", dst, 0), -1);
	assert_int_equal(b64url_decode("", dst, 0), 0);
}

static void
expect_encoding(const char *in, size_t n, const char *want)
{
	char enc[64];
	unsigned char dec[64];

	memset(enc, 0x5a, sizeof(enc));
	b64url_encode(in, n, enc);
	if (strcmp(enc, want) != 0)
		fail_msg("encoding %zu bytes gave '%s', want '%s'", n, enc, want);
	assert_int_equal(b64url_len(n), strlen(want));
	assert_int_equal((unsigned char)enc[strlen(want) + 1], 0x5a);	/* one NUL, no more */
	assert_int_equal(b64url_decode(want, dec, sizeof(dec)), (long)n);
	assert_memory_equal(dec, in, n);
}

/* RFC 4648 section 10, without the padding (section 3.2), and the URL alphabet (section 5). */
static void
test_rfc4648_vectors(void **state)
{
	(void)state;
	expect_encoding("", 0, "");
	expect_encoding("f", 1, "Zg");
	expect_encoding("fo", 2, "Zm8");
	expect_encoding("foo", 3, "Zm9v");
	expect_encoding("foob", 4, "Zm9vYg");
	expect_encoding("fooba", 5, "Zm9vYmE");
	expect_encoding("foobar", 6, "Zm9vYmFy");
	/* 62 and 63 are '-' and '_' where standard base64 has '+' and '/' */
	expect_encoding("\xfb\xff\xbf", 3, "-_-_");
	expect_encoding("\xfb\xef", 2, "--8");
	expect_encoding("\xff", 1, "_w");
	expect_encoding("\x00\x00\x00", 3, "AAAA");
	expect_encoding("\x00", 1, "AA");
	expect_encoding("jump.example.com:2222", 21, "anVtcC5leGFtcGxlLmNvbToyMjIy");
}

/* Random bytes of every length 0..300: exact length, alphabet only, byte-exact back. */
static void
test_round_trips(void **state)
{
	unsigned char src[301], dst[301];
	char enc[420];

	(void)state;
	srandom(4648);
	for (int rep = 0; rep < 20; rep++) {
		for (size_t n = 0; n <= 300; n++) {
			for (size_t i = 0; i < n; i++)
				src[i] = (unsigned char)random();
			memset(enc, 0x5a, sizeof(enc));
			b64url_encode(src, n, enc);
			size_t len = strlen(enc);
			assert_int_equal(len, b64url_len(n));
			assert_int_equal(len, (n * 4 + 2) / 3);
			assert_int_equal(strspn(enc, url_alphabet), len);
			assert_int_not_equal(len % 4, 1);
			assert_int_equal((unsigned char)enc[len + 1], 0x5a);
			memset(dst, 0, sizeof(dst));
			assert_int_equal(b64url_decode(enc, dst, n), (long)n);
			assert_memory_equal(dst, src, n);
		}
	}
}

/* The standard alphabet (SHA256: fingerprints): '+' and '/', never '-' and '_'; NUL is no character. */
static void
test_standard_alphabet(void **state)
{
	uint8_t out[64];
	size_t n = 99;
	char enc[64];

	(void)state;
	assert_int_equal(b64_decode(B64_STD, "-_-_", 4, out, sizeof(out), &n), ERR_INVAL);
	assert_int_equal(n, 0);
	assert_int_equal(b64_decode(B64_URL, "+/+/", 4, out, sizeof(out), &n), ERR_INVAL);
	assert_int_equal(b64_decode(B64_STD, "+/+/", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	b64_encode(B64_STD, out, 3, enc, sizeof(enc));
	assert_string_equal(enc, "+/+/");
	/* an embedded NUL inside the given length is refused, not taken as the end */
	assert_int_equal(b64_decode(B64_STD, "Zm9v\0mFy", 8, out, sizeof(out), &n), ERR_INVAL);
	assert_int_equal(b64_decode(B64_URL, "Zm9vYmFy", 8, out, sizeof(out), &n), 0);
	assert_int_equal(b64_decode(B64_URL, NULL, 0, out, sizeof(out), &n), ERR_INVAL);
	/* 32 bytes (a SHA-256) are 43 characters */
	memset(out, 0xff, 32);
	b64_encode(B64_STD, out, 32, enc, sizeof(enc));
	assert_int_equal(strlen(enc), 43);
	assert_int_equal(b64_encoded_len(32), 43);
	/* a short destination is cut, still terminated */
	memset(enc, 0x5a, sizeof(enc));
	b64_encode(B64_STD, out, 32, enc, 5);
	assert_string_equal(enc, "////");
	assert_int_equal((unsigned char)enc[5], 0x5a);
	b64_encode(B64_STD, out, 32, enc, 0);	/* nothing written at all */
	assert_int_equal((unsigned char)enc[0], '/');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_characters),
		cmocka_unit_test(test_impossible_lengths),
		cmocka_unit_test(test_noncanonical_trailing_bits),
		cmocka_unit_test(test_output_overflow),
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_standard_alphabet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
