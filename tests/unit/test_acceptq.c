/* test_acceptq.c: the queue of accepted connections waiting to start: bounds, order, wrap-around, descriptors closed on free. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/acceptq.h"

/* Hostile sizes and names first: a capacity below one, a peer name too long or absent. */
static void
test_bounds(void **state)
{
	struct acceptq_item it;
	char longpeer[200];
	struct acceptq *q = acceptq_new(-3);

	(void)state;
	assert_non_null(q);
	assert_int_equal(acceptq_len(q), 0);
	assert_false(acceptq_pop(q, &it));
	assert_int_equal(acceptq_oldest_ms(q), -1);
	memset(longpeer, 'x', sizeof(longpeer) - 1);
	longpeer[sizeof(longpeer) - 1] = '\0';
	assert_true(acceptq_push(q, 7, longpeer, true, 5));
	assert_true(acceptq_full(q));
	assert_false(acceptq_push(q, 8, NULL, false, 6));	/* full: the caller keeps 8 */
	assert_true(acceptq_pop(q, &it));
	assert_int_equal(it.fd, 7);
	assert_true(it.counted);
	assert_int_equal(strlen(it.peer), ACCEPTQ_PEER_MAX - 1);
	assert_true(acceptq_push(q, 8, NULL, false, 6));
	assert_true(acceptq_pop(q, &it));
	assert_string_equal(it.peer, "");
	acceptq_free(q);
	acceptq_free(NULL);
}

/* Oldest first across the ring's wrap-around, with each one's accept time. */
static void
test_order(void **state)
{
	struct acceptq_item it;
	struct acceptq *q = acceptq_new(3);
	int next = 0;

	(void)state;
	for (int round = 0; round < 5; round++) {
		while (!acceptq_full(q)) {
			char peer[32];
			snprintf(peer, sizeof(peer), "127.0.0.1:%d", 1000 + next);
			assert_true(acceptq_push(q, 100 + next, peer, next % 2 == 0, 10 * next));
			next++;
		}
		assert_int_equal(acceptq_len(q), 3);
		int first = next - 3;
		assert_int_equal(acceptq_oldest_ms(q), 10 * first);
		assert_true(acceptq_pop(q, &it));
		assert_int_equal(it.fd, 100 + first);
		assert_int_equal(it.accepted_ms, 10 * first);
		assert_int_equal(it.counted, first % 2 == 0);
		assert_true(acceptq_pop(q, &it));
		assert_int_equal(it.fd, 101 + first);
		assert_int_equal(acceptq_len(q), 1);
	}
	while (acceptq_pop(q, &it))
		;
	acceptq_free(q);
}

/* The limit: clamped to 1..cap; lowered below the length it drops nothing, only stops pushes. */
static void
test_limit(void **state)
{
	struct acceptq_item it;
	struct acceptq *q = acceptq_new(4);

	(void)state;
	assert_int_equal(acceptq_limit(q), 4);
	acceptq_set_limit(q, -5);
	assert_int_equal(acceptq_limit(q), 1);
	acceptq_set_limit(q, 1000);
	assert_int_equal(acceptq_limit(q), 4);
	for (int i = 0; i < 3; i++)
		assert_true(acceptq_push(q, 20 + i, "p", false, i));
	acceptq_set_limit(q, 2);
	assert_true(acceptq_full(q));
	assert_false(acceptq_push(q, 23, "p", false, 3));
	assert_int_equal(acceptq_len(q), 3);
	assert_true(acceptq_pop(q, &it));
	assert_int_equal(it.fd, 20);
	assert_true(acceptq_full(q));			/* 2 of 2 */
	assert_true(acceptq_pop(q, &it));
	assert_false(acceptq_full(q));
	assert_true(acceptq_push(q, 23, "p", false, 3));
	while (acceptq_pop(q, &it))
		;
	acceptq_free(q);
}

/* acceptq_free closes what is still queued. */
static void
test_free_closes(void **state)
{
	int fds[2];
	struct acceptq *q = acceptq_new(4);

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_true(acceptq_push(q, fds[0], "a", false, 1));
	acceptq_free(q);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_free_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
