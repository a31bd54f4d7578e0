/* test_names.c: labels, name.fleet targets and host-name mangling, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/names.h"

static const char *const bad_labels[] = {
	"", "-", "-a", "a-", "a_b", "a.b", "a b", " a", "a ", "a\tb", "a/b", "a;b",
	"$(id)", "`id`", "a'b", "caf\xc3\xa9", "\xff", "a\nb", "*", "..",
	/* 64 characters */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static void
test_label_hostile(void **state)
{
	char dst[LIM_LABEL + 1];

	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
		assert_false(names_label_valid(bad_labels[i], strlen(bad_labels[i])));
		memset(dst, 'x', sizeof(dst));
		assert_int_equal(names_label_normalize(bad_labels[i], dst, sizeof(dst)), ERR_NAME);
		assert_string_equal(dst, "");
	}
	assert_false(names_label_valid(NULL, 3));
	assert_int_equal(names_label_normalize(NULL, dst, sizeof(dst)), ERR_NAME);
	/* an embedded NUL inside the given length */
	assert_false(names_label_valid("ab\0cd", 5));
	/* upper case is not valid as stored form, only after normalizing */
	assert_false(names_label_valid("Pi", 2));
	/* destination too small for the name */
	assert_int_equal(names_label_normalize("abcdef", dst, 4), ERR_NAME);
	/* 1 MiB name */
	static char huge[1 << 20];
	memset(huge, 'a', sizeof(huge) - 1);
	assert_int_equal(names_label_normalize(huge, dst, sizeof(dst)), ERR_NAME);
}

static void
test_label_valid(void **state)
{
	char dst[LIM_LABEL + 1];
	const char *max = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

	assert_int_equal(strlen(max), 63);
	assert_true(names_label_valid(max, 63));
	assert_true(names_label_valid("a", 1));
	assert_true(names_label_valid("0", 1));
	assert_true(names_label_valid("pi-hq", 5));
	assert_true(names_label_valid("a--b", 4));
	/* only len bytes count */
	assert_true(names_label_valid("ab-", 2));
	assert_int_equal(names_label_normalize("Pi-HQ", dst, sizeof(dst)), 0);
	assert_string_equal(dst, "pi-hq");
	assert_int_equal(names_label_normalize(max, dst, sizeof(dst)), 0);
	assert_string_equal(dst, max);
}

static void
test_target_hostile(void **state)
{
	static const char *const bad[] = {
		"", ".", "a.", ".a", "a..b", "a.b.c", "a.b.", "-a.b", "a.-b", "a b.c", "a.b c",
		"a_b.c", "pi-hq.acme\n", "pi.acme:22", "[::1]", "1.2.3.4", "*.acme",
	};
	struct name_target t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&t, 'x', sizeof(t));
		assert_int_equal(names_parse_target(bad[i], &t), ERR_NAME);
		assert_string_equal(t.name, "");
		assert_string_equal(t.fleet, "");
	}
	assert_int_equal(names_parse_target(NULL, &t), ERR_NAME);
	/* 64-character components, and a target longer than LIM_TARGET */
	char longname[200];
	memset(longname, 'a', 64);
	strcpy(longname + 64, ".acme");
	assert_int_equal(names_parse_target(longname, &t), ERR_NAME);
	memset(longname, 'a', 150);
	longname[150] = '\0';
	longname[70] = '.';
	assert_int_equal(names_parse_target(longname, &t), ERR_NAME);
}

static void
test_target_valid(void **state)
{
	struct name_target t;

	assert_int_equal(names_parse_target("Pi-HQ.ACME", &t), 0);
	assert_string_equal(t.name, "pi-hq");
	assert_string_equal(t.fleet, "acme");
	assert_int_equal(names_parse_target("pi", &t), 0);
	assert_string_equal(t.name, "pi");
	assert_string_equal(t.fleet, "");
}

static void
test_from_hostname(void **state)
{
	char dst[LIM_LABEL + 1];
	char small[4];

	assert_int_equal(names_from_hostname(NULL, dst, sizeof(dst)), ERR_NAME);
	assert_int_equal(names_from_hostname("", dst, sizeof(dst)), ERR_NAME);
	assert_int_equal(names_from_hostname("---", dst, sizeof(dst)), ERR_NAME);
	assert_int_equal(names_from_hostname(".local", dst, sizeof(dst)), ERR_NAME);
	assert_int_equal(names_from_hostname("__", dst, sizeof(dst)), ERR_NAME);
	assert_string_equal(dst, "");
	assert_int_equal(names_from_hostname("Pi_HQ.local", dst, sizeof(dst)), 0);
	assert_string_equal(dst, "pi-hq");
	assert_int_equal(names_from_hostname("-a__b-", dst, sizeof(dst)), 0);
	assert_string_equal(dst, "a-b");
	assert_int_equal(names_from_hostname("rpi 4 (kitchen)", dst, sizeof(dst)), 0);
	assert_string_equal(dst, "rpi-4-kitchen");
	/* truncation never leaves a trailing '-' */
	char host[100];
	memset(host, 'a', sizeof(host));
	host[62] = '_';
	host[99] = '\0';
	assert_int_equal(names_from_hostname(host, dst, sizeof(dst)), 0);
	assert_true(names_label_valid(dst, strlen(dst)));
	assert_int_equal(strlen(dst), 62);
	assert_int_equal(names_from_hostname("abcdef", small, sizeof(small)), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(names_from_hostname("ab", small, 1), ERR_NAME);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_hostile),
		cmocka_unit_test(test_target_hostile),
		cmocka_unit_test(test_label_valid),
		cmocka_unit_test(test_target_valid),
		cmocka_unit_test(test_from_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
