/* test_pseqwin.c: the presence orders already handed to the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "server/pseqwin.h"

/* Hostile and edge orders: none, zero, negative, huge, far below. */
static void
test_edges(void **state)
{
	struct pseqwin w;

	(void)state;
	pseqwin_reset(&w);
	assert_false(pseqwin_seen(&w, 0));
	assert_false(pseqwin_seen(&w, 1));
	assert_false(pseqwin_seen(&w, -5));
	assert_false(pseqwin_seen(&w, INT64_MAX));
	pseqwin_add(&w, 0);		/* ignored */
	pseqwin_add(&w, -7);
	assert_int_equal(w.top, 0);
	pseqwin_add(&w, INT64_MAX);
	assert_true(pseqwin_seen(&w, INT64_MAX));
	assert_false(pseqwin_seen(&w, INT64_MAX - 1));
	assert_false(pseqwin_seen(&w, 1));	/* far below: never read, so new */
	pseqwin_add(&w, 1);			/* far below: not kept, no harm */
	assert_false(pseqwin_seen(&w, 1));
	assert_int_equal(w.top, INT64_MAX);
	assert_false(pseqwin_seen(&w, INT64_MIN));
}

/* Marks survive the window moving up, and go once it has moved past them. */
static void
test_window_moves(void **state)
{
	struct pseqwin w;

	(void)state;
	pseqwin_reset(&w);
	for (int64_t p = 1000; p < 1300; p += 3)
		pseqwin_add(&w, p);
	for (int64_t p = 1000; p < 1300; p++)
		assert_int_equal(pseqwin_seen(&w, p), (p - 1000) % 3 == 0);
	/* a late commit below the top, inside the window */
	assert_false(pseqwin_seen(&w, 1202));
	pseqwin_add(&w, 1202);
	assert_true(pseqwin_seen(&w, 1202));
	/* up by less than a word, by words and bits, by exactly the size */
	int64_t top = w.top;
	for (int64_t up = 1; up < PSEQWIN_SIZE; up = up * 2 + 5) {
		pseqwin_add(&w, top + up);
		top += up;
		for (int64_t p = 1000; p < 1300; p++) {
			bool want = ((p - 1000) % 3 == 0 || p == 1202 || p == 1298) && top - p < PSEQWIN_SIZE;	/* 1298: the first move's top */
			assert_int_equal(pseqwin_seen(&w, p), want);
		}
		assert_true(pseqwin_seen(&w, top));
	}
	pseqwin_add(&w, top + PSEQWIN_SIZE);
	for (int64_t p = top + 1; p < top + PSEQWIN_SIZE; p++)
		assert_false(pseqwin_seen(&w, p));
	assert_false(pseqwin_seen(&w, top));
	pseqwin_reset(&w);
	assert_false(pseqwin_seen(&w, top + PSEQWIN_SIZE));
}

/* Against a plain set: every order of a random walk, the same answer. */
static void
test_against_set(void **state)
{
	static bool set[20000];
	struct pseqwin w;
	uint64_t x = 88172645463325252ULL;
	int64_t top = 0;

	(void)state;
	pseqwin_reset(&w);
	memset(set, 0, sizeof(set));
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		int64_t p = top + (int64_t)(x % 40) - 30;	/* mostly late, sometimes ahead */
		if (p < 1 || p >= 20000)
			continue;
		if (p > top)
			top = p;
		pseqwin_add(&w, p);
		set[p] = true;
		for (int64_t q = top - PSEQWIN_SIZE + 1; q <= top + 2 && q < 20000; q++)
			if (q >= 1)
				assert_int_equal(pseqwin_seen(&w, q), q <= top && set[q]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_window_moves),
		cmocka_unit_test(test_against_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
