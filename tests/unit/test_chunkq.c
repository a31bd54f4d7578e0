/*
 * test_chunkq.c: the chunk queue, hostile first: empty and oversized
 * consumes, bytes across chunk edges in order, a peeked pointer that stays
 * valid while bytes are appended (a libssh callback may append inside a
 * write), emptied chunks going back, and the pool's bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/chunkq.h"

/* Drains q into out (up to cap bytes), peek by peek; returns the count. */
static size_t
drain(struct chunkq *q, char *out, size_t cap)
{
	size_t got = 0, n;
	const char *p;

	while ((p = chunkq_peek(q, &n)) != NULL) {
		assert_true(n > 0 && n <= CHUNKQ_DATA);
		assert_true(got + n <= cap);
		memcpy(out + got, p, n);
		got += n;
		chunkq_consume(q, n);
	}
	assert_int_equal(q->len, 0);
	return got;
}

/* Nothing queued: peek says so; consuming or clearing an empty queue is harmless. */
static void
test_empty(void **state)
{
	struct chunkpool pool = { .max = 2 };
	struct chunkq q;
	size_t n = 99;

	(void)state;
	chunkq_init(&q, &pool);
	assert_null(chunkq_peek(&q, &n));
	assert_int_equal(n, 0);
	chunkq_consume(&q, 0);
	chunkq_consume(&q, SIZE_MAX);
	assert_int_equal(chunkq_add(&q, "x", 0), 0);
	assert_int_equal(q.nchunks, 0);
	assert_int_equal(chunkq_footprint(&q), 0);
	chunkq_clear(&q);
	chunkq_clear(NULL);
	chunkpool_drain(&pool);
}

/* Consuming more than is queued drops what is there, and the chunks go back. */
static void
test_consume_too_much(void **state)
{
	struct chunkpool pool = { .max = 8 };
	struct chunkq q;

	(void)state;
	chunkq_init(&q, &pool);
	char *big = calloc(1, 3 * CHUNKQ_DATA);
	assert_non_null(big);
	assert_int_equal(chunkq_add(&q, big, 2 * CHUNKQ_DATA + 1), 2 * CHUNKQ_DATA + 1);
	assert_int_equal(q.nchunks, 3);
	chunkq_consume(&q, SIZE_MAX);
	assert_int_equal(q.len, 0);
	assert_int_equal(q.nchunks, 0);
	assert_int_equal(pool.nfree, 3);
	assert_int_equal(chunkq_footprint(&q), 0);
	free(big);
	chunkpool_drain(&pool);
	assert_int_equal(pool.nfree, 0);
}

/* Odd-sized appends and consumes across chunk edges keep every byte in order. */
static void
test_order_across_chunks(void **state)
{
	struct chunkpool pool = { .max = 1 };
	struct chunkq q;
	size_t total = 5 * CHUNKQ_DATA + 1234, in = 0, out = 0;
	unsigned char *src = malloc(total), *dst = malloc(total);

	(void)state;
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < total; i++)
		src[i] = (unsigned char)(i * 7 + i / 251);
	chunkq_init(&q, &pool);
	while (out < total) {
		size_t k = in < total ? (in * 31 + 17) % 40000 + 1 : 0;
		if (k > total - in)
			k = total - in;
		assert_int_equal(chunkq_add(&q, src + in, k), k);
		in += k;
		size_t n;
		const char *p = chunkq_peek(&q, &n);
		if (p == NULL)
			continue;
		size_t take = (out % 3 == 0) ? n : n / 2 + 1;
		memcpy(dst + out, p, take);
		chunkq_consume(&q, take);
		out += take;
		assert_int_equal(q.len, in - out);
		assert_true(chunkq_footprint(&q) >= q.len);
		assert_true(chunkq_footprint(&q) <= q.len + 2 * (CHUNKQ_DATA + 64));
	}
	assert_memory_equal(src, dst, total);
	assert_int_equal(q.nchunks, 0);
	assert_true(pool.nfree <= 1);
	chunkpool_drain(&pool);
	free(src);
	free(dst);
}

/* A pointer from peek survives appends (they go to the tail, or a new chunk). */
static void
test_peek_survives_add(void **state)
{
	struct chunkpool pool = { .max = 4 };
	struct chunkq q;
	char a[100], b[CHUNKQ_DATA], out[sizeof(a) + sizeof(b)];
	size_t n;

	(void)state;
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	chunkq_init(&q, &pool);
	chunkq_add(&q, a, sizeof(a));
	const char *p = chunkq_peek(&q, &n);
	assert_int_equal(n, sizeof(a));
	assert_int_equal(chunkq_add(&q, b, sizeof(b)), sizeof(b));	/* fills the chunk, then a new one */
	assert_memory_equal(p, a, sizeof(a));
	chunkq_consume(&q, 50);
	assert_int_equal(drain(&q, out, sizeof(out)), sizeof(a) + sizeof(b) - 50);
	assert_memory_equal(out, a, 50);
	assert_memory_equal(out + 50, b, sizeof(b));
	chunkpool_drain(&pool);
}

/* The pool keeps at most max free chunks; a queue that held much holds nothing once drained. */
static void
test_pool_bound(void **state)
{
	struct chunkpool pool = { .max = 2 };
	struct chunkq q1, q2;
	char *big = calloc(1, 10 * CHUNKQ_DATA);

	(void)state;
	assert_non_null(big);
	chunkq_init(&q1, &pool);
	chunkq_init(&q2, &pool);
	assert_int_equal(chunkq_add(&q1, big, 10 * CHUNKQ_DATA), 10 * CHUNKQ_DATA);
	assert_int_equal(chunkq_add(&q2, big, 1), 1);
	assert_int_equal(chunkq_footprint(&q1), 10 * chunkq_footprint(&q2));
	chunkq_consume(&q1, 10 * CHUNKQ_DATA);
	assert_int_equal(q1.nchunks, 0);
	assert_int_equal(pool.nfree, 2);
	chunkq_clear(&q2);
	assert_int_equal(pool.nfree, 2);
	assert_int_equal(chunkq_add(&q2, big, 3), 3);	/* reuses a cached chunk */
	assert_int_equal(pool.nfree, 1);
	chunkq_clear(&q2);
	chunkpool_drain(&pool);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_consume_too_much),
		cmocka_unit_test(test_order_across_chunks),
		cmocka_unit_test(test_peek_survives_add),
		cmocka_unit_test(test_pool_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
