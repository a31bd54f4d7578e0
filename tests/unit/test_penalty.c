/* test_penalty.c: per-source accounting: enroll logins stay unauthenticated and are capped per address, exempt or not; failures block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "server/penalty.h"
#include "testutil.h"

static struct penalty *
table(int per_source, const char *exempt)
{
	struct penalty_config pc = {
		.startups_begin = 100, .startups_rate = 30, .startups_full = 1000,
		.per_source = per_source, .fail_limit = 3, .block_min_s = 30, .block_max_s = 600,
		.exempt = exempt,
	};
	struct penalty *p = penalty_new(&pc);

	assert_non_null(p);
	return p;
}

static bool
admit(struct penalty *p, const char *ip, int64_t now)
{
	const char *why;
	char evict[PENALTY_IP_MAX + 1];

	return penalty_admit(p, ip, now, 99, &why, evict);
}

/* Hostile first: enroll admission for unknown sources, closing more than opened. */
static void
test_enroll_hostile(void **state)
{
	struct penalty *p = table(2, NULL);

	(void)state;
	assert_false(penalty_enroll_admit(p, "192.0.2.1"));	/* never admitted */
	penalty_enroll_closed(p, "192.0.2.1");			/* no-op */
	assert_true(admit(p, "192.0.2.1", 1000));
	assert_true(penalty_enroll_admit(p, "192.0.2.1"));
	penalty_enroll_closed(p, "192.0.2.1");
	penalty_enroll_closed(p, "192.0.2.1");			/* once too often: no underflow */
	assert_true(penalty_enroll_admit(p, "192.0.2.1"));
	assert_true(admit(p, "192.0.2.1", 1000));
	assert_true(penalty_enroll_admit(p, "192.0.2.1"));
	assert_false(penalty_enroll_admit(p, "192.0.2.1"));	/* third: over PerSourceMaxStartups */
	penalty_free(p);
	penalty_free(NULL);
}

/* An enroll login keeps its unauthenticated slot: the source's cap still applies. */
static void
test_enroll_stays_unauthenticated(void **state)
{
	struct penalty *p = table(2, NULL);

	(void)state;
	assert_true(admit(p, "192.0.2.7", 1000));
	assert_true(penalty_enroll_admit(p, "192.0.2.7"));
	assert_true(admit(p, "192.0.2.7", 1000));
	assert_true(penalty_enroll_admit(p, "192.0.2.7"));
	assert_int_equal(penalty_unauth_total(p), 2);
	assert_false(admit(p, "192.0.2.7", 1000));		/* both slots held by enroll logins */
	assert_true(admit(p, "198.51.100.1", 1000));		/* another address is not affected */
	/* they end without enrolling: failures, the third blocks the source */
	penalty_enroll_closed(p, "192.0.2.7");
	penalty_unauth_closed(p, "192.0.2.7", true, 2000);
	penalty_enroll_closed(p, "192.0.2.7");
	penalty_unauth_closed(p, "192.0.2.7", true, 2000);
	assert_true(admit(p, "192.0.2.7", 2000));
	penalty_unauth_closed(p, "192.0.2.7", true, 2000);
	assert_false(admit(p, "192.0.2.7", 2001));
	assert_true(admit(p, "192.0.2.7", 2000 + 30001));	/* after PerSourcePenaltyMin */
	penalty_free(p);
}

/* Exempt addresses are not limited by PerSourceMaxStartups, but their enroll logins are. */
static void
test_enroll_exempt_capped(void **state)
{
	struct penalty *p = table(2, "127.0.0.0/8");

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_true(admit(p, "127.0.0.1", 1000));
	assert_true(penalty_enroll_admit(p, "127.0.0.1"));
	assert_true(penalty_enroll_admit(p, "127.0.0.1"));
	assert_false(penalty_enroll_admit(p, "127.0.0.1"));
	/* an entry holding enroll logins is not forgotten while they last */
	penalty_expire(p, 1000 + 24 * 3600 * 1000LL);
	assert_false(penalty_enroll_admit(p, "127.0.0.1"));
	penalty_enroll_closed(p, "127.0.0.1");
	assert_true(penalty_enroll_admit(p, "127.0.0.1"));
	penalty_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_hostile),
		cmocka_unit_test(test_enroll_stays_unauthenticated),
		cmocka_unit_test(test_enroll_exempt_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
