/* test_registry.c: device id -> conn map: takeover, conditional delete, colliding ids, growth and tombstone churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "server/registry.h"
#include "testutil.h"

/* The registry never dereferences conns: distinct fake pointers will do. */
#define CONN(n) ((struct conn *)(uintptr_t)(0x10000u + (uintptr_t)(n) * 16u))

static void
test_basic(void **state)
{
	struct registry *r = registry_new();

	assert_non_null(r);
	assert_int_equal(registry_count(r), 0);
	assert_null(registry_get(r, 1));
	assert_null(registry_get(r, INT64_MAX));
	registry_del(r, 1, CONN(1));		/* absent: no-op */
	assert_int_equal(registry_count(r), 0);

	assert_null(registry_set(r, 7, CONN(7)));
	assert_ptr_equal(registry_get(r, 7), CONN(7));
	assert_null(registry_get(r, 8));
	assert_int_equal(registry_count(r), 1);
	/* setting the same conn again is not a takeover */
	assert_null(registry_set(r, 7, CONN(7)));
	assert_int_equal(registry_count(r), 1);
	registry_del(r, 7, CONN(7));
	assert_null(registry_get(r, 7));
	assert_int_equal(registry_count(r), 0);
	registry_del(r, 7, CONN(7));		/* twice: still a no-op */
	assert_int_equal(registry_count(r), 0);
	/* back again after delete */
	assert_null(registry_set(r, 7, CONN(70)));
	assert_ptr_equal(registry_get(r, 7), CONN(70));
	assert_int_equal(registry_count(r), 1);
	registry_free(r);
	registry_free(NULL);
}

static void
test_takeover(void **state)
{
	struct registry *r = registry_new();

	assert_null(registry_set(r, 42, CONN(1)));
	/* a second session for the same device replaces the first, and says which */
	assert_ptr_equal(registry_set(r, 42, CONN(2)), CONN(1));
	assert_ptr_equal(registry_get(r, 42), CONN(2));
	assert_int_equal(registry_count(r), 1);
	/* the old conn's teardown must not remove the new mapping */
	registry_del(r, 42, CONN(1));
	assert_ptr_equal(registry_get(r, 42), CONN(2));
	assert_int_equal(registry_count(r), 1);
	assert_ptr_equal(registry_set(r, 42, CONN(3)), CONN(2));
	registry_del(r, 42, CONN(2));
	registry_del(r, 42, NULL);
	assert_ptr_equal(registry_get(r, 42), CONN(3));
	registry_del(r, 42, CONN(3));
	assert_null(registry_get(r, 42));
	assert_int_equal(registry_count(r), 0);
	/* a conn serving one device does not affect another's entry */
	assert_null(registry_set(r, 1, CONN(9)));
	assert_null(registry_set(r, 2, CONN(9)));
	registry_del(r, 1, CONN(9));
	assert_ptr_equal(registry_get(r, 2), CONN(9));
	assert_int_equal(registry_count(r), 1);
	registry_free(r);
}

/* Ids that land in the same home slot of a 64-slot table, plus extremes. */
static void
test_colliding_ids(void **state)
{
	struct registry *r = registry_new();
	int64_t ids[40];
	size_t n = 0;

	/* same multiplicative hash as the registry today; any ids would still be a valid test */
	for (int64_t id = 1; n < 30; id++)
		if ((((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 17 & 63) == 5)
			ids[n++] = id;
	ids[n++] = INT64_MAX;
	ids[n++] = INT64_MAX - 1;
	ids[n++] = (int64_t)1 << 32;
	ids[n++] = ((int64_t)1 << 32) + 1;
	ids[n++] = 1;
	ids[n++] = 2;
	for (size_t i = 0; i < n; i++)
		assert_null(registry_set(r, ids[i], CONN(i + 1)));
	assert_int_equal(registry_count(r), n);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(registry_get(r, ids[i]), CONN(i + 1));
	/* delete from the middle of the probe chains; the rest stay reachable */
	for (size_t i = 0; i < n; i += 2)
		registry_del(r, ids[i], CONN(i + 1));
	assert_int_equal(registry_count(r), n / 2);
	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0)
			assert_null(registry_get(r, ids[i]));
		else
			assert_ptr_equal(registry_get(r, ids[i]), CONN(i + 1));
	}
	/* refill over the tombstones, with a takeover of a survivor */
	for (size_t i = 0; i < n; i += 2)
		assert_null(registry_set(r, ids[i], CONN(100 + i)));
	assert_ptr_equal(registry_set(r, ids[1], CONN(500)), CONN(2));
	assert_int_equal(registry_count(r), n);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(registry_get(r, ids[i]),
		    i == 1 ? CONN(500) : i % 2 == 0 ? CONN(100 + i) : CONN(i + 1));
	registry_free(r);
}

/* 100k devices coming and going: every answer checked against a plain array. */
static void
test_growth(void **state)
{
	enum { N = 100000 };
	struct registry *r = registry_new();
	unsigned char *live = calloc(N + 1, 1);
	size_t count = 0;

	assert_non_null(live);
	for (int64_t id = 1; id <= N; id++) {
		assert_null(registry_set(r, id, CONN(id)));
		live[id] = 1;
		count++;
		if (id % 3 == 0) {		/* drop an earlier one, interleaved with growth */
			int64_t victim = id / 2;
			if (live[victim]) {
				registry_del(r, victim, CONN(victim + 1));	/* wrong conn: kept */
				assert_ptr_equal(registry_get(r, victim), CONN(victim));
				registry_del(r, victim, CONN(victim));
				live[victim] = 0;
				count--;
			}
		}
		if (id % 9973 == 0) {
			assert_int_equal(registry_count(r), count);
			for (int64_t k = 1; k <= id; k++)
				if ((registry_get(r, k) == CONN(k)) != (live[k] == 1))
					fail_msg("id %lld wrong after %lld inserts", (long long)k, (long long)id);
		}
	}
	assert_int_equal(registry_count(r), count);
	for (int64_t k = 1; k <= N; k++) {
		struct conn *c = registry_get(r, k);
		if (live[k] ? c != CONN(k) : c != NULL)
			fail_msg("id %lld maps to %p", (long long)k, (void *)c);
	}
	/* ids never inserted are absent, including ones just past the range */
	for (int64_t k = N + 1; k <= N + 1000; k++)
		assert_null(registry_get(r, k));
	assert_null(registry_get(r, (int64_t)N << 20));
	/* empty it completely */
	for (int64_t k = 1; k <= N; k++)
		if (live[k])
			registry_del(r, k, CONN(k));
	assert_int_equal(registry_count(r), 0);
	for (int64_t k = 1; k <= N; k += 97)
		assert_null(registry_get(r, k));
	free(live);
	registry_free(r);
}

/*
 * Few live entries, many distinct ids passing through: tombstones must be
 * reclaimed (a table full of them would make every miss scan it all).
 */
static void
test_tombstone_churn(void **state)
{
	struct registry *r = registry_new();

	for (int64_t id = 1; id <= 10; id++)
		assert_null(registry_set(r, id, CONN(id)));
	for (int64_t id = 1000; id < 1000 + 500000; id++) {
		assert_null(registry_set(r, id, CONN(id)));
		registry_del(r, id, CONN(id));
	}
	assert_int_equal(registry_count(r), 10);
	for (int64_t id = 1; id <= 10; id++)
		assert_ptr_equal(registry_get(r, id), CONN(id));
	for (int64_t id = 1000; id < 1000 + 500000; id += 1009)
		assert_null(registry_get(r, id));
	registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_colliding_ids),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_tombstone_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
