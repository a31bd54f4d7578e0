/* test_agent_rotation.c: the order servers are tried in and where the backoff falls (no timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/rotation.h"

/*
 * The run loop's shape (run_connect + run_main) over pure state: one round
 * tries servers in order while they fail; a whole failed round costs one
 * backoff. up[i] says whether server i answers in round r (bit r).
 * Records the servers tried in order; returns the rounds spent (backoffs)
 * before a connection, or -1 if none within max_rounds.
 */
static int
simulate(size_t n, const unsigned *up, int max_rounds, size_t *tried, size_t *ntried,
    struct backoff *b, size_t *connected)
{
	struct rotation rot;

	*ntried = 0;
	for (int round = 0; round < max_rounds; round++) {
		rotation_start(&rot, n);
		do {
			tried[(*ntried)++] = rot.i;
			if (up[rot.i] & (1u << round)) {
				*connected = rot.i;
				backoff_session_ended(b, AGENT_STABLE_MS);
				return round;
			}
		} while (rotation_failed(&rot));
		backoff_session_ended(b, 0);
		(void)backoff_next_ms(b);	/* once per round, never per server */
	}
	return -1;
}

static void
test_degenerate(void **state)
{
	struct rotation r;

	/* one server: every failure ends the round */
	rotation_start(&r, 1);
	assert_int_equal(r.i, 0);
	assert_false(rotation_failed(&r));
	assert_int_equal(r.i, 0);
	assert_false(rotation_failed(&r));
	/* the last of several: the round is over, and stays over */
	rotation_start(&r, 3);
	assert_true(rotation_failed(&r));
	assert_true(rotation_failed(&r));
	assert_int_equal(r.i, 2);
	assert_false(rotation_failed(&r));
	assert_false(rotation_failed(&r));
	assert_int_equal(r.i, 2);
	/* the limit */
	rotation_start(&r, LIM_AGENT_SERVERS);
	for (size_t i = 1; i < LIM_AGENT_SERVERS; i++) {
		assert_true(rotation_failed(&r));
		assert_int_equal(r.i, i);
	}
	assert_false(rotation_failed(&r));
}

/* A dead first server costs no backoff: the second is tried in the same round. */
static void
test_dead_first(void **state)
{
	unsigned up[3] = { 0, ~0u, ~0u };
	size_t tried[64], ntried, at = 99;
	struct backoff b;

	backoff_init(&b, 7);
	assert_int_equal(simulate(3, up, 5, tried, &ntried, &b, &at), 0);
	assert_int_equal(at, 1);
	assert_int_equal(ntried, 2);
	assert_int_equal(tried[0], 0);
	assert_int_equal(tried[1], 1);
	assert_int_equal(b.attempt, 0);		/* no backoff was taken */
}

/* All down: one backoff per round, the attempt grows per round, servers in order each round. */
static void
test_all_down(void **state)
{
	unsigned up[4] = { 0, 0, 0, 0 };
	size_t tried[64], ntried, at = 99;
	struct backoff b;

	backoff_init(&b, 7);
	assert_int_equal(simulate(4, up, 5, tried, &ntried, &b, &at), -1);
	assert_int_equal(ntried, 20);
	for (size_t i = 0; i < ntried; i++)
		assert_int_equal(tried[i], i % 4);
	assert_int_equal(b.attempt, 5);		/* 5 rounds, 5 backoffs (not 20) */
}

/* Nothing sticky: a server that failed in one round is tried first again in the next,
 * and the one that worked last is not preferred over the first when that is back. */
static void
test_nothing_sticky(void **state)
{
	/* server 0 up from round 2 on, server 2 up in round 1 only */
	unsigned up[3] = { ~0u << 2, 0, 1u << 1 };
	size_t tried[64], ntried, at = 99;
	struct backoff b;

	backoff_init(&b, 7);
	assert_int_equal(simulate(3, up, 5, tried, &ntried, &b, &at), 1);
	assert_int_equal(at, 2);
	assert_int_equal(ntried, 6);
	assert_int_equal(tried[3], 0);		/* round 1 starts at the first again */
	/* the session on 2 is lost; the next round starts from 0, which is up now */
	up[2] = 0;
	unsigned later[3] = { up[0] >> 2, up[1] >> 2, up[2] >> 2 };
	assert_int_equal(simulate(3, later, 5, tried, &ntried, &b, &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(ntried, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_degenerate),
		cmocka_unit_test(test_dead_first),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_nothing_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
