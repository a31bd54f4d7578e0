/* test_penalty.c: per-source accounting: enroll logins stay unauthenticated and are capped per address, exempt or not; failures block; the accept quota. */
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

/*
 * The waiting list's share per source: waiting and unauthenticated together
 * are capped, a blocked source does not wait, an exempt one is not capped,
 * ending more than began does not underflow, and a source with connections
 * waiting is not forgotten.
 */
static void
test_waiting_capped(void **state)
{
	struct penalty *p = table(3, "127.0.0.0/8");
	const char *why;

	(void)state;
	penalty_wait_done(p, "192.0.2.9");			/* never counted: no-op */
	assert_true(penalty_wait(p, "192.0.2.1", 1000, &why));
	assert_true(penalty_wait(p, "192.0.2.1", 1000, &why));
	assert_true(admit(p, "192.0.2.1", 1000));		/* 2 waiting + 1 unauthenticated */
	assert_false(penalty_wait(p, "192.0.2.1", 1000, &why));
	assert_non_null(strstr(why, "from this source"));
	assert_true(penalty_wait(p, "192.0.2.2", 1000, &why));	/* another source is not held back */
	penalty_wait_done(p, "192.0.2.1");
	assert_true(penalty_wait(p, "192.0.2.1", 1000, &why));
	for (int i = 0; i < 100; i++)				/* exempt: no cap */
		assert_true(penalty_wait(p, "127.0.0.1", 1000, &why));
	penalty_expire(p, 1000 + 3600 * 1000);			/* still waiting: remembered */
	assert_false(penalty_wait(p, "192.0.2.1", 3600 * 1000, &why));
	for (int i = 0; i < 5; i++)
		penalty_wait_done(p, "192.0.2.1");		/* more than began: no underflow */
	assert_true(penalty_wait(p, "192.0.2.1", 3600 * 1000, &why));
	/* a blocked source does not wait */
	for (int i = 0; i < 3; i++) {
		assert_true(admit(p, "192.0.2.3", 2000));
		penalty_unauth_closed(p, "192.0.2.3", true, 2000);
	}
	assert_false(penalty_wait(p, "192.0.2.3", 2001, &why));
	assert_non_null(strstr(why, "blocked"));
	penalty_free(p);
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

/*
 * The accept quota (a reconnect storm): hostile first (max below one, a
 * clock going back, closing more than opened); while handshakes are behind
 * or MaxStartups' begin are in flight, only as many as ended since, and when
 * none did, one per PENALTY_TRICKLE_MS only if the set in flight has been
 * idle that long; otherwise up to begin.
 */
static void
test_accept_quota(void **state)
{
	struct penalty *p = table(1000, "127.0.0.0/8");	/* MaxStartups 100:30:1000 */
	const int64_t idle = PENALTY_TRICKLE_MS, busy = PENALTY_TRICKLE_MS - 1;
	int64_t t = 1000000;

	(void)state;
	assert_int_equal(penalty_accept_quota(p, false, busy, 0, t), 1);
	assert_int_equal(penalty_accept_quota(p, false, busy, -5, t), 1);
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t), 64);
	for (int i = 0; i < 60; i++)
		assert_true(admit(p, "127.2.0.1", t));
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t), 40);	/* up to begin */
	for (int i = 0; i < 40; i++)
		assert_true(admit(p, "127.2.0.1", t));
	assert_int_equal(penalty_unauth_total(p), 100);
	/* at begin, the handshakes going on: none until one ends */
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t), 0);
	assert_int_equal(penalty_accept_quota(p, false, 0, 64, t + 5000), 0);
	penalty_unauth_closed(p, "127.2.0.1", true, t);
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t + 1), 1);	/* one ended: one comes */
	assert_true(admit(p, "127.2.0.1", t));
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t + 1), 0);
	/* at begin and idle (a flood that sends nothing): the trickle */
	assert_int_equal(penalty_accept_quota(p, false, idle, 64, t + 2), 1);
	assert_int_equal(penalty_accept_quota(p, false, idle, 64, t + 3), 0);
	assert_int_equal(penalty_accept_quota(p, true, idle, 64, t + 2 + PENALTY_TRICKLE_MS - 1), 0);
	assert_int_equal(penalty_accept_quota(p, true, idle, 64, t + 2 + PENALTY_TRICKLE_MS), 1);
	assert_int_equal(penalty_accept_quota(p, true, idle, 64, t - 5000), 1);	/* clock went back */
	assert_int_equal(penalty_accept_quota(p, true, idle, 64, t - 5000 + 1), 0);
	t += 10000;
	/* behind with room: only what ended */
	for (int i = 0; i < 90; i++)
		penalty_authenticated(p, "127.2.0.1");
	assert_int_equal(penalty_accept_quota(p, true, busy, 64, t), 64);	/* 90 ended: max */
	assert_int_equal(penalty_accept_quota(p, true, busy, 64, t), 0);	/* taken */
	penalty_authenticated(p, "127.2.0.1");
	penalty_authenticated(p, "127.2.0.1");
	penalty_unauth_closed(p, "127.2.0.1", false, t);
	assert_int_equal(penalty_accept_quota(p, true, busy, 64, t), 3);
	assert_int_equal(penalty_accept_quota(p, false, busy, 64, t), 64);	/* caught up: room */
	for (int i = 0; i < 7; i++)
		penalty_authenticated(p, "127.2.0.1");
	assert_int_equal(penalty_unauth_total(p), 0);
	penalty_authenticated(p, "127.2.0.1");				/* once too often */
	penalty_unauth_closed(p, "127.2.0.1", true, t);
	penalty_unauth_closed(p, "192.0.2.99", true, t);			/* never seen */
	assert_int_equal(penalty_unauth_total(p), 0);
	assert_int_equal(penalty_accept_quota(p, true, busy, 64, t + 1), 7);	/* the 7 */
	assert_int_equal(penalty_accept_quota(p, true, busy, 64, t + 1), 0);	/* no credit left */
	penalty_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_hostile),
		cmocka_unit_test(test_enroll_stays_unauthenticated),
		cmocka_unit_test(test_enroll_exempt_capped),
		cmocka_unit_test(test_accept_quota),
		cmocka_unit_test(test_waiting_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
