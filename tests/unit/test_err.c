/* test_err.c: every error code has its own text; unknown codes do not crash. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"

static void
test_unknown_codes(void **state)
{
	(void)state;
	assert_string_equal(err_str(1), "unknown error");
	assert_string_equal(err_str(INT_MAX), "unknown error");
	assert_string_equal(err_str(ERR_MAX), "unknown error");
	assert_string_equal(err_str(ERR_MAX - 1), "unknown error");
	assert_string_equal(err_str(INT_MIN), "unknown error");
}

static void
test_every_code_has_text(void **state)
{
	(void)state;
	for (int c = 0; c > ERR_MAX; c--) {
		const char *t = err_str(c);
		assert_non_null(t);
		assert_true(strlen(t) > 3);
		assert_string_not_equal(t, "unknown error");
		for (int d = 0; d > c; d--)
			assert_string_not_equal(t, err_str(d));
	}
}

static void
test_some_texts(void **state)
{
	(void)state;
	assert_string_equal(err_str(ERR_OK), "success");
	assert_string_equal(err_str(ERR_READONLY), "state directory is read-only");
	assert_non_null(strstr(err_str(ERR_NAME), "1-63"));
	assert_string_equal(err_str(ERR_AMBIGUOUS), "name is ambiguous");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_every_code_has_text),
		cmocka_unit_test(test_some_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
