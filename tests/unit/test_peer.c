/* test_peer.c: peering between nodes (server/peer.c): the node login name and node keys, hostile ones first; who holds a device; the backoff; counters. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "server/peer.h"
#include "server/server.h"
#include "store/store.h"
#include "testkeys.h"
#include "testutil.h"

static char *keydir;
#define NKEYS 3
static struct pubkey keys[NKEYS];	/* [0] node a's key, [1] node b's, [2] a user's */

struct fixture {
	char *dir;
	char state[600];
	struct server srv;
	int64_t dev;			/* pi.acme */
};

/* "type blob" of keys[i]. */
static void
keytext(int i, char *out, size_t len)
{
	snprintf(out, len, "%s %s", keys[i].type, keys[i].blob);
}

static void
reg_node(struct store *st, const char *name, const char *addr, const char *key, int64_t t)
{
	struct store_node n;
	int64_t id = 0;

	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.peer_addr, sizeof(n.peer_addr), "%s", addr);
	snprintf(n.node_key, sizeof(n.node_key), "%s", key);
	snprintf(n.version, sizeof(n.version), "0.test");
	n.started = n.heartbeat = t;
	assert_int_equal(store_node_register(st, &n, &id), 0);
}

/* This node is b; nodes a (key 0) and b (key 1) beat now; device pi.acme exists. */
static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char k[LIM_PUBKEY_TEXT], fleet[LIM_LABEL + 1];
	int64_t now = timefmt_now();

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	if (store_open(fx->state, &fx->srv.st) != 0)
		return -1;
	snprintf(fx->srv.node_name, sizeof(fx->srv.node_name), "b");
	keytext(0, k, sizeof(k));
	reg_node(fx->srv.st, "a", "127.0.0.2:2222", k, now);
	keytext(1, k, sizeof(k));
	reg_node(fx->srv.st, "b", "127.0.0.3:2222", k, now);
	reg_node(fx->srv.st, "nokey", "127.0.0.4:2222", "", now);
	reg_node(fx->srv.st, "junk", "127.0.0.5:2222", "ssh-ed25519 !!!not-base64", now);
	reg_node(fx->srv.st, "old", "127.0.0.6:2222", k, now - 3600);
	assert_int_equal(store_fleet_add(fx->srv.st, "acme"), 0);
	assert_int_equal(store_device_add(fx->srv.st, "pi", "acme", &keys[2]), 0);
	assert_int_equal(store_device_resolve(fx->srv.st, 0, "pi", "acme", &fx->dev, fleet), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	peer_free(&fx->srv);
	ssh_key_free(fx->srv.node_key);
	store_close(fx->srv.st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Only the named node's own key, whole, is that node: hostile names and keys first. */
static void
test_key_is_node_hostile(void **state)
{
	struct fixture *fx = *state;
	struct server *srv = &fx->srv;
	struct pubkey cut = keys[0];

	assert_false(peer_key_is_node(srv, NULL, &keys[0]));
	assert_false(peer_key_is_node(srv, "", &keys[0]));
	assert_false(peer_key_is_node(srv, "zz", &keys[0]));		/* no such node */
	assert_false(peer_key_is_node(srv, "a.acme", &keys[0]));
	assert_false(peer_key_is_node(srv, "a'; --", &keys[0]));
	assert_false(peer_key_is_node(srv, "a", &keys[1]));		/* b's key as a */
	assert_false(peer_key_is_node(srv, "a", &keys[2]));		/* a user's key as a */
	assert_false(peer_key_is_node(srv, "nokey", &keys[0]));	/* a node without a key */
	assert_false(peer_key_is_node(srv, "junk", &keys[0]));	/* a key that does not parse */
	cut.blob = NULL;
	assert_false(peer_key_is_node(srv, "a", &cut));
	snprintf(cut.type, sizeof(cut.type), "ssh-rsa");		/* same blob, other type */
	cut.blob = keys[0].blob;
	assert_false(peer_key_is_node(srv, "a", &cut));
	assert_true(peer_key_is_node(srv, "a", &keys[0]));
	assert_true(peer_key_is_node(srv, "b", &keys[1]));
}

/* Another node that is up holds it: routed through; this node, a down node, offline: not. */
static void
test_holder(void **state)
{
	struct fixture *fx = *state;
	struct server *srv = &fx->srv;
	char node[LIM_LABEL + 1] = "x";
	int64_t now = timefmt_now();

	assert_false(peer_holder(srv, fx->dev, node, sizeof(node)));	/* peering off: no key yet */
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &srv->node_key), SSH_OK);
	peer_init(srv);
	assert_false(peer_holder(srv, fx->dev, node, sizeof(node)));	/* offline */
	assert_false(peer_holder(srv, 0, node, sizeof(node)));
	assert_false(peer_holder(srv, -1, node, sizeof(node)));
	assert_false(peer_holder(srv, fx->dev + 1000, node, sizeof(node)));
	assert_int_equal(store_device_set_presence(srv->st, fx->dev, true, "b", 10, now, "x:1"), 0);
	assert_false(peer_holder(srv, fx->dev, node, sizeof(node)));	/* on this node */
	assert_int_equal(store_device_set_presence(srv->st, fx->dev, true, "old", 20, now, "x:1"), 0);
	assert_false(peer_holder(srv, fx->dev, node, sizeof(node)));	/* its node is down */
	assert_int_equal(store_device_set_presence(srv->st, fx->dev, true, "a", 30, now, "x:1"), 0);
	assert_true(peer_holder(srv, fx->dev, node, sizeof(node)));
	assert_string_equal(node, "a");
	assert_int_equal(store_device_set_presence(srv->st, fx->dev, false, "a", 30, now, "x:1"), 0);
	assert_false(peer_holder(srv, fx->dev, node, sizeof(node)));
}

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
		cmocka_unit_test_setup_teardown(test_key_is_node_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder, setup, teardown),
	};
	int r;

	if (tu_keys_make(&keydir, keys, NKEYS, NULL) != 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_keys_free(keydir, keys, NKEYS);
	return r;
}
