/* test_utf8.c: the one UTF-8 check (utf8.c): hostile sequences first, then every 1- to 3-byte sequence against a reference decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/utf8.h"

static size_t
len_of(const char *s, size_t n)
{
	return utf8_len((const unsigned char *)s, (const unsigned char *)s + n);
}

static void
test_hostile(void **state)
{
	static const struct { const char *s; size_t n; } bad[] = {
		{ "\x80", 1 }, { "\xbf", 1 }, { "\xc0\x80", 2 }, { "\xc1\xbf", 2 },	/* overlong NUL, '?' */
		{ "\xe0\x80\x80", 3 }, { "\xe0\x9f\xbf", 3 },			/* overlong 3-byte */
		{ "\xf0\x80\x80\x80", 4 }, { "\xf0\x8f\xbf\xbf", 4 },		/* overlong 4-byte */
		{ "\xed\xa0\x80", 3 }, { "\xed\xbf\xbf", 3 },			/* surrogates */
		{ "\xf4\x90\x80\x80", 4 }, { "\xf5\x80\x80\x80", 4 }, { "\xff", 1 }, { "\xfe", 1 },
		{ "\xc3", 1 }, { "\xe2\x82", 2 }, { "\xf0\x9f\x98", 3 },		/* cut short by end */
		{ "\xc3\x00", 2 }, { "\xe2\x00\xac", 3 }, { "\xe2\x82\x00", 3 },	/* NUL inside */
		{ "\xc3\xc3", 2 }, { "\xe2\x82\xe2", 3 }, { "\xf0\x9f\x98\x41", 4 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (len_of(bad[i].s, bad[i].n) != 0)
			fail_msg("sequence %zu accepted", i);
	/* nothing to read */
	assert_int_equal(utf8_len((const unsigned char *)"a", (const unsigned char *)"a"), 0);
	/* a valid sequence, but end cuts it: the end is what counts, not a NUL */
	assert_int_equal(len_of("\xe2\x82\xac", 2), 0);
	assert_int_equal(len_of("\xf0\x9f\x98\x80", 3), 0);
}

static void
test_edges(void **state)
{
	(void)state;
	assert_int_equal(len_of("\0", 1), 1);
	assert_int_equal(len_of("\x7f", 1), 1);
	assert_int_equal(len_of("\xc2\x80", 2), 2);		/* U+0080 */
	assert_int_equal(len_of("\xdf\xbf", 2), 2);		/* U+07FF */
	assert_int_equal(len_of("\xe0\xa0\x80", 3), 3);		/* U+0800 */
	assert_int_equal(len_of("\xed\x9f\xbf", 3), 3);		/* U+D7FF */
	assert_int_equal(len_of("\xee\x80\x80", 3), 3);		/* U+E000 */
	assert_int_equal(len_of("\xef\xbf\xbf", 3), 3);		/* U+FFFF */
	assert_int_equal(len_of("\xf0\x90\x80\x80", 4), 4);	/* U+10000 */
	assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */
	assert_int_equal(len_of("\xe2\x80\xae" "abc", 6), 3);	/* U+202E is valid (escaping is the printer's job) */
}

/* A reference: decode by the definition, then check the code point's range and shortest form. */
static size_t
reference(const unsigned char *s, size_t n)
{
	size_t want;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) { want = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { want = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { want = 4; cp = s[0] & 0x07; }
	else return 0;
	if (n < want)
		return 0;
	for (size_t i = 1; i < want; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[want] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return want;
}

static void
test_exhaustive(void **state)
{
	unsigned char s[4];
	size_t valid[5] = { 0 };

	(void)state;
	for (uint32_t v = 0; v < (1u << 24); v++) {
		s[0] = (unsigned char)(v >> 16);
		s[1] = (unsigned char)(v >> 8);
		s[2] = (unsigned char)v;
		s[3] = 0x80 | (v & 0x3f);
		size_t want = reference(s, 4), got = utf8_len(s, s + 4);
		if (got != want)
			fail_msg("%02x %02x %02x %02x: got %zu, want %zu", s[0], s[1], s[2], s[3], got, want);
		if (s[1] == 0 && s[2] == 0 && s[0] < 0x80)
			valid[1]++;
	}
	assert_int_equal(valid[1], 128);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_exhaustive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
