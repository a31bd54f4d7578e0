/* test_busy.c: the wait a shutting-down outpostd tells each device (busy_return_s): silent without a measured pace, spread at the pace, bounded, hostile numbers first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/limits.h"
#include "server/server.h"

static void
measured(struct server *srv, double pace, int64_t ms, int64_t ready_ms)
{
	memset(srv, 0, sizeof(*srv));
	srv->queued_ms = ms;
	srv->queued_logins = (uint64_t)(pace * (double)ms / 1000.0);
	srv->ready_ms = ready_ms;
}

/* Nothing measured, too little measured, too slow, or too few devices: nothing said. */
static void
test_silent(void **state)
{
	struct server srv;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(busy_return_s(&srv, 0, 20000), 0);	/* a node that never had a queue */
	measured(&srv, 200, 2999, 5000);
	assert_int_equal(busy_return_s(&srv, 0, 20000), 0);	/* under 3 s of queued ticks */
	measured(&srv, LIM_BUSY_RATE_MIN - 1, 60000, 5000);
	assert_int_equal(busy_return_s(&srv, 0, 20000), 0);	/* slower than busy answers start at */
	measured(&srv, 200, 60000, 5000);
	assert_int_equal(busy_return_s(&srv, 0, 600), 0);	/* all back within 3 s anyway */
	assert_true(busy_return_s(&srv, 0, 601) > 0);
	/* hostile: a negative time measured, a start that took "forever" */
	measured(&srv, 200, 60000, 5000);
	srv.queued_ms = -5;
	assert_int_equal(busy_return_s(&srv, 0, 20000), 0);
	measured(&srv, 200, 60000, INT64_MAX);
	assert_int_equal(busy_return_s(&srv, 0, 20000), 15);	/* a start counts 15 s at most */
	measured(&srv, 200, 60000, -1000);
	assert_int_equal(busy_return_s(&srv, 0, 20000), 5);	/* and 5 s at least */
}

/* 20,000 devices at 200 logins a second: from the start's time on, 220 a second, never past 120 s. */
static void
test_spread(void **state)
{
	struct server srv;
	int per_s[130];
	const size_t n = 20000;

	(void)state;
	memset(per_s, 0, sizeof(per_s));
	measured(&srv, 200, 60000, 7000);
	int prev = 0;
	for (size_t k = 0; k < n; k++) {
		int s = busy_return_s(&srv, k, n);
		assert_true(s >= 7 && s <= 120);
		assert_true(s >= prev);		/* in order, below the horizon */
		prev = s;
		per_s[s]++;
	}
	assert_int_equal(busy_return_s(&srv, 0, n), 7);
	for (int s = 8; s < 97; s++)	/* 1.1 x the pace in every whole second */
		assert_in_range(per_s[s], 219, 221);
	assert_int_equal(busy_return_s(&srv, n - 1, n), 98);	/* 7 + 19,999 / 220, rounded */

	/* past the horizon: the rest over its second half, not on its last second */
	measured(&srv, 20, 60000, 5000);
	memset(per_s, 0, sizeof(per_s));
	for (size_t k = 0; k < n; k++) {
		int s = busy_return_s(&srv, k, n);
		assert_true(s >= 1 && s <= 120);
		per_s[s]++;
	}
	assert_true(per_s[120] < (int)n / 20);
	assert_true(per_s[60] > 0 && per_s[90] > 0);
	/* and a k far past any fleet */
	int s = busy_return_s(&srv, SIZE_MAX, n);
	assert_true(s >= 60 && s <= 120);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
