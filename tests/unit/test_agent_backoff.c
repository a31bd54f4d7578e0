/* test_agent_backoff.c: reconnect delays: bounds, cap, jitter spread, reset after a stable session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/conn.h"
#include "common/err.h"

static void
test_ceiling(void **state)
{
	assert_int_equal(backoff_ceiling_ms(0), 1000);
	assert_int_equal(backoff_ceiling_ms(1), 2000);
	assert_int_equal(backoff_ceiling_ms(5), 32000);
	assert_int_equal(backoff_ceiling_ms(6), 60000);
	assert_int_equal(backoff_ceiling_ms(31), 60000);
	assert_int_equal(backoff_ceiling_ms(1000000), 60000);	/* no shift overflow */
}

static void
test_bounds_and_growth(void **state)
{
	struct backoff b;

	backoff_init(&b, 42);
	for (unsigned i = 0; i < 200; i++) {
		int64_t cap = backoff_ceiling_ms(b.attempt);
		int64_t d = backoff_next_ms(&b);
		assert_true(d >= 0);
		assert_true(d <= cap);
		assert_true(d <= AGENT_BACKOFF_CAP_MS);
	}
	assert_true(b.attempt >= 30);	/* keeps counting, saturates */
}

/* 10,000 first delays from different seeds (agents after a restart) spread over [0, 1 s]. */
static void
test_jitter_spread(void **state)
{
	int buckets[10] = { 0 };
	int64_t min = INT64_MAX, max = -1;

	for (uint64_t seed = 1; seed <= 10000; seed++) {
		struct backoff b;
		backoff_init(&b, seed * 7919);
		int64_t d = backoff_next_ms(&b);
		buckets[d == 1000 ? 9 : d / 100]++;
		min = d < min ? d : min;
		max = d > max ? d : max;
	}
	for (int i = 0; i < 10; i++)
		assert_in_range(buckets[i], 800, 1200);	/* ~1000 each */
	assert_true(min < 10);
	assert_true(max > 990);
	/* at the cap, delays cover [0, 60 s] rather than bunching at 60 s */
	struct backoff b;
	int low = 0, high = 0;
	backoff_init(&b, 99);
	b.attempt = 20;
	for (int i = 0; i < 1000; i++) {
		int64_t d = backoff_next_ms(&b);
		low += d < 20000;
		high += d > 40000;
	}
	assert_in_range(low, 250, 420);
	assert_in_range(high, 250, 420);
}

static void
test_reset(void **state)
{
	struct backoff b;

	backoff_init(&b, 1);
	for (int i = 0; i < 8; i++)
		backoff_next_ms(&b);
	assert_int_equal(b.attempt, 8);
	backoff_session_ended(&b, 0);			/* never connected */
	assert_int_equal(b.attempt, 8);
	backoff_session_ended(&b, AGENT_STABLE_MS - 1);	/* flapping */
	assert_int_equal(b.attempt, 8);
	backoff_session_ended(&b, AGENT_STABLE_MS);
	assert_int_equal(b.attempt, 0);
	assert_true(backoff_next_ms(&b) <= 1000);
	assert_int_equal(b.attempt, 1);
}

static void
test_busy(void **state)
{
	struct backoff b;
	int64_t lo = INT64_MAX, hi = 0;

	backoff_init(&b, 42);
	for (int i = 0; i < 3; i++)
		backoff_next_ms(&b);
	/* the server's wait plus under a second of jitter, the attempt count untouched */
	for (int i = 0; i < 1000; i++) {
		int64_t d = backoff_busy_ms(&b, 37);
		assert_true(d >= 37000 && d < 38000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_int_equal(b.attempt, 3);
	assert_true(hi - lo > 900);	/* spread over the second */
	assert_true(backoff_busy_ms(&b, -5) < 1000);
}

/*
 * The soonest busy answer among several attempts wins over a plain failure
 * of the last, never over a refusal that needs a person; none, no change.
 */
static void
test_busy_pick(void **state)
{
	struct busy_pick bp = { 0 };
	char why[64];

	(void)state;
	assert_int_equal(busy_pick_result(&bp, ERR_IO, why, sizeof(why)), ERR_IO);	/* none busy */
	busy_pick_note(&bp, ERR_IO, 5, "a: ", "refused");	/* not busy: not a candidate */
	assert_int_equal(bp.secs, 0);
	busy_pick_note(&bp, ERR_BUSY, 40, "a: ", "busy 40");
	busy_pick_note(&bp, ERR_BUSY, 12, "b: ", "busy 12");
	busy_pick_note(&bp, ERR_BUSY, 30, "c: ", "busy 30");
	busy_pick_note(&bp, ERR_BUSY, 12, "d: ", "busy 12 again");	/* a tie keeps the first */
	assert_int_equal(bp.secs, 12);
	assert_int_equal(busy_pick_result(&bp, ERR_SSH, why, sizeof(why)), ERR_BUSY);
	assert_string_equal(why, "b: busy 12");
	assert_int_equal(busy_pick_result(&bp, ERR_IO, why, sizeof(why)), ERR_BUSY);
	assert_int_equal(busy_pick_result(&bp, ERR_BUSY, why, sizeof(why)), ERR_BUSY);
	assert_int_equal(busy_pick_result(&bp, ERR_DENIED, why, sizeof(why)), ERR_DENIED);
	assert_int_equal(busy_pick_result(&bp, ERR_KEY, why, sizeof(why)), ERR_KEY);
	assert_int_equal(busy_pick_result(&bp, 0, why, sizeof(why)), 0);
	/* a why longer than the pick keeps is cut, not overrun */
	char big[2048];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	busy_pick_note(&bp, ERR_BUSY, 1, "e: ", big);
	assert_int_equal(bp.secs, 1);
	assert_int_equal(strlen(bp.why), sizeof(bp.why) - 1);
	assert_int_equal(busy_pick_result(&bp, ERR_IO, why, sizeof(why)), ERR_BUSY);
	assert_int_equal(strlen(why), sizeof(why) - 1);
}

static void
test_seeds_differ(void **state)
{
	/* two agents seeded from the kernel do not share a sequence */
	assert_true(backoff_seed() != backoff_seed());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_bounds_and_growth),
		cmocka_unit_test(test_jitter_spread),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_busy_pick),
		cmocka_unit_test(test_seeds_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
