/* test_timefmt.c: duration parsing (hostile first) and ISO-8601 formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"

static void
test_duration_hostile(void **state)
{
	static const char *const bad[] = {
		"", "0", "0s", "0h0m", "-5", "+5", "5x", "h", "1h30", "1 h", " 1h", "1h ",
		"1.5h", "1hh", "99999999999999999999", "9223372036854775807w",
		"15250284452472w", "1e3", "0x10", "١", "5\n",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (timefmt_parse_duration(bad[i], &v) != ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, 0);
	}
	assert_int_equal(timefmt_parse_duration(NULL, &v), ERR_INVAL);
	/* a sum that overflows only when the terms are added */
	assert_int_equal(timefmt_parse_duration("15250284452471w15250284452471w", &v), ERR_INVAL);
}

static void
test_duration_valid(void **state)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{ "90", 90 }, { "90s", 90 }, { "2m", 120 }, { "24h", 86400 },
		{ "7d", 604800 }, { "1w", 604800 }, { "1h30m", 5400 }, { "1d1h1m1s", 90061 },
		{ "007", 7 },
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(timefmt_parse_duration(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
}

static void
test_iso(void **state)
{
	char b[32];

	timefmt_iso(0, b, sizeof(b));
	assert_string_equal(b, "never");
	timefmt_iso(-1, b, sizeof(b));
	assert_string_equal(b, "never");
	timefmt_iso(1795255200, b, sizeof(b));
	assert_string_equal(b, "2026-11-21T10:00:00Z");
	timefmt_iso(1, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:01Z");
	/* too small a buffer: terminated, never overflowing */
	memset(b, 'x', sizeof(b));
	timefmt_iso(1795255200, b, 8);
	assert_true(memchr(b, '\0', 8) != NULL);
	assert_int_equal(b[8], 'x');
	/* absurd times do not crash */
	timefmt_iso(INT64_MAX, b, sizeof(b));
	assert_true(strlen(b) < sizeof(b));
}

static void
test_clocks(void **state)
{
	int64_t a = timefmt_mono_ms(), n = timefmt_now();

	assert_true(n > 1700000000);
	assert_true(timefmt_mono_ms() >= a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_hostile),
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_iso),
		cmocka_unit_test(test_clocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
