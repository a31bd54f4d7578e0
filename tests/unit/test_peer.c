/* test_peer.c: peering between nodes (server/peer.c): the node login name, hostile names first; the backoff; counters. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "server/peer.h"

/* Only "node:" + one valid label names a node; anything else is a user name (and no node). */
static void
test_user_node_hostile(void **state)
{
	char longname[300];

	(void)state;
	assert_null(peer_user_node(NULL));
	assert_null(peer_user_node(""));
	assert_null(peer_user_node("node"));
	assert_null(peer_user_node("node:"));
	assert_null(peer_user_node("NODE:a"));
	assert_null(peer_user_node(" node:a"));
	assert_null(peer_user_node("node:a b"));
	assert_null(peer_user_node("node:a.b"));	/* a name.fleet is not a node */
	assert_null(peer_user_node("node:../etc"));
	assert_null(peer_user_node("node:a\n"));
	assert_null(peer_user_node("node:-a"));
	assert_null(peer_user_node("node:node:a"));
	assert_null(peer_user_node("nodes:a"));
	memcpy(longname, "node:", 5);
	memset(longname + 5, 'a', sizeof(longname) - 6);
	longname[sizeof(longname) - 1] = '\0';
	assert_null(peer_user_node(longname));	/* longer than a label */
	longname[5 + LIM_LABEL] = '\0';
	assert_non_null(peer_user_node(longname));	/* exactly a label */
	assert_string_equal(peer_user_node("node:a"), "a");
	assert_string_equal(peer_user_node("node:node-b2"), "node-b2");
}

/* 1 s doubling per failure in a row, capped; nonsense counts give the first or the cap. */
static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(peer_backoff_ms(INT_MIN), 1000);
	assert_int_equal(peer_backoff_ms(0), 1000);
	assert_int_equal(peer_backoff_ms(1), 1000);
	assert_int_equal(peer_backoff_ms(2), 2000);
	assert_int_equal(peer_backoff_ms(3), 4000);
	assert_int_equal(peer_backoff_ms(5), 16000);
	assert_int_equal(peer_backoff_ms(6), LIM_PEER_BACKOFF_MAX_S * 1000);
	assert_int_equal(peer_backoff_ms(1000), LIM_PEER_BACKOFF_MAX_S * 1000);
	assert_int_equal(peer_backoff_ms(INT_MAX), LIM_PEER_BACKOFF_MAX_S * 1000);
}

/* Nothing connected or counted before anything asked for a peer. */
static void
test_stats_start(void **state)
{
	struct peer_stats s;

	(void)state;
	memset(&s, 0xff, sizeof(s));
	peer_get_stats(&s);
	assert_int_equal(s.links, 0);
	assert_int_equal(s.links_up, 0);
	assert_int_equal(s.connects, 0);
	assert_int_equal(s.connect_failures, 0);
	assert_int_equal(s.opens, 0);
	assert_int_equal(s.open_failures, 0);
	assert_int_equal(s.refused_busy, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_node_hostile),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_stats_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
