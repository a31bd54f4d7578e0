/*
 * test_nodes.c: several outpostd nodes on one store, on both engines:
 * registering nodes, heartbeats, presence fenced by registration generation,
 * a down node's devices offline, per-node clean-up, copying. Hostile inputs first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"
#include "pgtest.h"
#include "testkeys.h"
#include "testutil.h"

static char *keydir;
#define NKEYS 3
static struct pubkey keys[NKEYS];

struct fixture {
	char *dir;
	char state[600];
	char uri[600];		/* PostgreSQL: a fresh schema's URI; "" on SQLite */
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	if (store_open(fx->state, &fx->st) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int
setup_pg(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char why[512] = "";

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (pgtest_fresh(fx->uri, sizeof(fx->uri)) != 0)
		return -1;
	if (store_open_spec(fx->uri, NULL, &fx->st, why, sizeof(why)) != 0) {
		print_error("%s\n", why);
		return -1;
	}
	return strcmp(store_engine(fx->st), "postgresql") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* A node record named name at addr with key, started (and beating) at t. */
static struct store_node
node(const char *name, const char *addr, const char *key, int64_t t)
{
	struct store_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.peer_addr, sizeof(n.peer_addr), "%s", addr);
	snprintf(n.node_key, sizeof(n.node_key), "%s", key);
	snprintf(n.version, sizeof(n.version), "0.test");
	n.started = n.heartbeat = t;
	return n;
}

static int64_t
reg(struct store *st, const char *name, int64_t t)
{
	struct store_node n = node(name, "127.0.0.1:2222", "ssh-ed25519 AAAAkey", t);
	int64_t id = 0;

	assert_int_equal(store_node_register(st, &n, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Fleet acme with devices d0, d1 (keys 0, 1); their ids. */
static void
two_devices(struct store *st, int64_t *d0, int64_t *d1)
{
	char fleet[LIM_LABEL + 1];

	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_device_add(st, "d0", "acme", &keys[0]), 0);
	assert_int_equal(store_device_add(st, "d1", "acme", &keys[1]), 0);
	assert_int_equal(store_device_resolve(st, 0, "d0", "acme", d0, fleet), 0);
	assert_int_equal(store_device_resolve(st, 0, "d1", "acme", d1, fleet), 0);
}

struct dev {
	bool online;
	char node[LIM_LABEL + 1];
	int64_t gen, last_seen;
	char addr[128];
};

static int
dev_cb(void *arg, const struct store_device *d)
{
	struct dev *o = arg;

	o->online = d->online;
	snprintf(o->node, sizeof(o->node), "%s", d->node);
	o->gen = d->gen;
	o->last_seen = d->last_seen;
	snprintf(o->addr, sizeof(o->addr), "%s", d->last_addr);
	return 0;
}

static struct dev
dev(struct store *st, int64_t id)
{
	struct dev o;

	memset(&o, 0, sizeof(o));
	assert_int_equal(store_device_get(st, id, dev_cb, &o), 0);
	return o;
}

/* "name/up/devices;" per node, "name/0/devices+stranded;" for a down one. */
struct text {
	char s[2048];
};

static int
node_cb(void *arg, const struct store_node *n)
{
	struct text *t = arg;
	size_t l = strlen(t->s);

	if (n->stranded > 0)
		snprintf(t->s + l, sizeof(t->s) - l, "%s/%d/%d+%d;", n->name, n->up, n->devices, n->stranded);
	else
		snprintf(t->s + l, sizeof(t->s) - l, "%s/%d/%d;", n->name, n->up, n->devices);
	return 0;
}

static int
states_cb(void *arg, const char *fleet, int online, int standby, int offline)
{
	struct text *t = arg;
	size_t l = strlen(t->s);

	snprintf(t->s + l, sizeof(t->s) - l, "%s:%d/%d/%d;", fleet, online, standby, offline);
	return 0;
}

static int
presence_cb(void *arg, const struct store_presence *p)
{
	struct text *t = arg;
	size_t l = strlen(t->s);

	snprintf(t->s + l, sizeof(t->s) - l, "%lld:%d@%s/%lld;", (long long)p->device_id, p->online,
	    p->node, (long long)p->gen);
	return 0;
}

/* The largest pseq seen, into *(int64_t *)arg. */
static int
last_cb(void *arg, const struct store_presence *q)
{
	int64_t *v = arg;

	if (q->pseq > *v)
		*v = q->pseq;
	return 0;
}

static int
stop_cb(void *arg, const struct store_presence *q)
{
	(void)q;
	++*(int *)arg;
	return 5;
}

/* ---- hostile inputs ---- */

static void
test_register_hostile(void **state)
{
	struct fixture *fx = *state;
	int64_t now = timefmt_now(), id = 99;
	struct store_node n;
	const char *bad[] = { "", "a.b", "white space", "-lead", "x;DROP TABLE nodes", "\xff\xfe",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };

	assert_int_equal(store_node_register(fx->st, NULL, &id), ERR_INVAL);
	assert_int_equal(id, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = node("ok", "h:1", "k", now);
		snprintf(n.name, sizeof(n.name), "%s", bad[i]);
		if (strlen(bad[i]) >= sizeof(n.name))
			memset(n.name, 'a', sizeof(n.name));	/* no NUL at all */
		int r = store_node_register(fx->st, &n, &id);
		assert_true(r == ERR_NAME || r == ERR_TOOLONG);
		assert_int_equal(id, 0);
	}
	/* a peer address, key or version that fills its array without a NUL */
	n = node("ok", "h:1", "k", now);
	memset(n.peer_addr, 'x', sizeof(n.peer_addr));
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_TOOLONG);
	n = node("ok", "h:1", "k", now);
	memset(n.node_key, 'x', sizeof(n.node_key));
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_TOOLONG);
	n = node("ok", "h:1", "k", now);
	memset(n.version, 'x', sizeof(n.version));
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_TOOLONG);
	/* the longest that fits is stored whole */
	n = node("ok", "", "k", now);
	memset(n.peer_addr, 'x', sizeof(n.peer_addr) - 1);
	assert_int_equal(store_node_register(fx->st, &n, &id), 0);
	struct store_node got;
	assert_int_equal(store_node_get(fx->st, "ok", &got), 0);
	assert_int_equal(strlen(got.peer_addr), sizeof(n.peer_addr) - 1);
	/* control characters (a log or terminal injection) */
	n = node("ok2", "h:1\n[fake] line", "k", now);
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_INVAL);
	n = node("ok2", "h:1", "ssh-ed25519 \x1b[2J", now);
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_INVAL);
	/* times */
	n = node("ok2", "h:1", "k", 0);
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_INVAL);
	n = node("ok2", "h:1", "k", -5);
	assert_int_equal(store_node_register(fx->st, &n, &id), ERR_INVAL);
	/* SQL in fields is data */
	n = node("ok3", "'); DELETE FROM nodes; --", "k' OR '1'='1", now);
	assert_int_equal(store_node_register(fx->st, &n, &id), 0);
	assert_int_equal(store_node_get(fx->st, "ok3", &got), 0);
	assert_string_equal(got.peer_addr, "'); DELETE FROM nodes; --");
	assert_string_equal(got.node_key, "k' OR '1'='1");
	/* lookups */
	assert_int_equal(store_node_get(fx->st, "", &got), ERR_NAME);
	assert_int_equal(store_node_get(fx->st, "a.b", &got), ERR_NAME);
	assert_int_equal(store_node_get(fx->st, "nope", &got), ERR_NOTFOUND);
	assert_int_equal(store_node_heartbeat(fx->st, 999999, now), ERR_NOTFOUND);
	assert_int_equal(store_node_heartbeat(fx->st, -1, now), ERR_NOTFOUND);
	assert_int_equal(store_session_clear_node(fx->st, -1), ERR_INVAL);
	assert_int_equal(store_session_clear_node(fx->st, INT64_MAX), ERR_INVAL);
}

static void
test_presence_hostile(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();
	char big[LIM_PEER_STRING + 10];

	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, NULL, 5, now, "a:1"), ERR_NAME);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a.b", 5, now, "a:1"), ERR_NAME);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "x y", 5, now, "a:1"), ERR_NAME);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 0, now, "a:1"), ERR_INVAL);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", -7, now, "a:1"), ERR_INVAL);
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 5, now, big), ERR_TOOLONG);
	assert_int_equal(store_device_set_presence(fx->st, 999999, true, "a", 5, now, "a:1"), ERR_NOTFOUND);
	assert_int_equal(store_device_set_presence(fx->st, 999999, false, "a", 5, now, NULL), ERR_NOTFOUND);
	/* nothing was written */
	struct dev o = dev(fx->st, d0);
	assert_false(o.online);
	assert_string_equal(o.node, "");
	assert_int_equal(o.gen, 0);
	assert_int_equal(store_device_node_offline(fx->st, "a.b", now), ERR_NAME);
	assert_int_equal(store_device_node_offline(fx->st, NULL, now), ERR_NAME);
	/* a mirror's row: a node name that fills its array, or is not a label */
	struct store_presence p = { .device_id = d0, .gen = 5, .pseq = 1, .online = true };
	memset(p.node, 'a', sizeof(p.node));
	assert_int_equal(store_presence_apply(fx->st, &p), ERR_NAME);
	snprintf(p.node, sizeof(p.node), "a b");
	assert_int_equal(store_presence_apply(fx->st, &p), ERR_NAME);
	assert_int_equal(store_presence_apply(fx->st, NULL), ERR_NAME);
	snprintf(p.node, sizeof(p.node), "b");
	p.device_id = 999999;
	assert_int_equal(store_presence_apply(fx->st, &p), ERR_NOTFOUND);
}

/* ---- nodes ---- */

static void
test_register_and_heartbeat(void **state)
{
	struct fixture *fx = *state;
	int64_t now = timefmt_now(), a, b, again;
	struct store_node n, got;
	struct text t = { "" };

	a = reg(fx->st, "alpha", now);
	b = reg(fx->st, "beta", now);
	assert_true(a != b);
	assert_true(a < (INT64_C(1) << (63 - STORE_NODE_SHIFT)));
	assert_int_equal(store_node_list(fx->st, node_cb, &t), 0);
	assert_string_equal(t.s, "alpha/1/0;beta/1/0;");
	assert_int_equal(store_node_get(fx->st, "alpha", &got), 0);
	assert_int_equal(got.id, a);
	assert_string_equal(got.peer_addr, "127.0.0.1:2222");
	assert_string_equal(got.node_key, "ssh-ed25519 AAAAkey");
	assert_string_equal(got.version, "0.test");
	assert_int_equal(got.started, now);
	assert_true(got.up);

	/* the same node again (a restart, even right after a crash): same row, new address */
	n = node("alpha", "10.0.0.1:22", "ssh-ed25519 AAAAkey", now + 1);
	assert_int_equal(store_node_register(fx->st, &n, &again), 0);
	assert_int_equal(again, a);
	assert_int_equal(store_node_get(fx->st, "alpha", &got), 0);
	assert_string_equal(got.peer_addr, "10.0.0.1:22");
	assert_int_equal(got.started, now + 1);

	/* another key under a live node's name is refused, naming where it runs */
	n = node("alpha", "10.0.0.2:22", "ssh-ed25519 AAAAother", now + 2);
	assert_int_equal(store_node_register(fx->st, &n, &again), ERR_INUSE);
	assert_int_equal(again, 0);
	assert_non_null(strstr(store_errmsg(fx->st), "node alpha is already running at 10.0.0.1:22"));
	assert_int_equal(store_node_get(fx->st, "alpha", &got), 0);
	assert_string_equal(got.node_key, "ssh-ed25519 AAAAkey");	/* untouched */

	/* heartbeats move forward only */
	assert_int_equal(store_node_heartbeat(fx->st, a, now + 10), 0);
	assert_int_equal(store_node_heartbeat(fx->st, a, now + 3), 0);
	assert_int_equal(store_node_get(fx->st, "alpha", &got), 0);
	assert_int_equal(got.heartbeat, now + 10);

	/* once its heartbeat is past LIM_NODE_DOWN_S, the name may be taken by another key */
	n = node("alpha", "10.0.0.2:22", "ssh-ed25519 AAAAother", now + 10 + LIM_NODE_DOWN_S + 1);
	assert_int_equal(store_node_register(fx->st, &n, &again), 0);
	assert_int_equal(again, a);

	/* a node that stopped beating is down */
	n = node("gamma", "", "", now - LIM_NODE_DOWN_S - 5);
	assert_int_equal(store_node_register(fx->st, &n, &again), 0);
	assert_int_equal(store_node_get(fx->st, "gamma", &got), 0);
	assert_false(got.up);
	assert_int_equal(store_node_heartbeat(fx->st, again, now), 0);
	assert_int_equal(store_node_get(fx->st, "gamma", &got), 0);
	assert_true(got.up);
}

/* ---- presence ---- */

/* The fencing rule: an older registration never overwrites a newer one; a node takes back only its own. */
static void
test_fencing(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();
	struct dev o;

	reg(fx->st, "a", now);
	reg(fx->st, "b", now);
	two_devices(fx->st, &d0, &d1);

	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 1000, now, "10.0.0.1:1"), 0);
	o = dev(fx->st, d0);
	assert_true(o.online);
	assert_string_equal(o.node, "a");
	assert_int_equal(o.gen, 1000);
	assert_string_equal(o.addr, "10.0.0.1:1");

	/* an older registration (a slow write from b) cannot overwrite a's */
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "b", 999, now, "10.0.0.2:1"), ERR_DENIED);
	assert_non_null(strstr(store_errmsg(fx->st), "node a"));
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "b", 1000, now, "10.0.0.2:1"), ERR_DENIED);
	o = dev(fx->st, d0);
	assert_string_equal(o.node, "a");
	assert_int_equal(o.gen, 1000);
	assert_string_equal(o.addr, "10.0.0.1:1");

	/* b cannot take a's device offline, under a's gen or any other */
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "b", 1000, now + 1, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "b", 999, now + 1, NULL), 0);
	o = dev(fx->st, d0);
	assert_true(o.online);
	assert_string_equal(o.node, "a");

	/* the device reconnects to b: the newer registration takes it over */
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "b", 2000, now + 2, "10.0.0.2:2"), 0);
	/* a's session ends late: its offline write leaves b's registration alone */
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "a", 1000, now + 3, NULL), 0);
	o = dev(fx->st, d0);
	assert_true(o.online);
	assert_string_equal(o.node, "b");
	assert_int_equal(o.gen, 2000);
	assert_string_equal(o.addr, "10.0.0.2:2");
	/* a late registration of a, older than b's, stays refused even after b's ends */
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "b", 2000, now + 4, NULL), 0);
	o = dev(fx->st, d0);
	assert_false(o.online);
	assert_string_equal(o.node, "b");	/* who last held it */
	assert_int_equal(o.last_seen, now + 4);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 1500, now + 5, NULL), ERR_DENIED);
	assert_false(dev(fx->st, d0).online);
	/* a registration on the same node: newer gen */
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "b", 3000, now + 6, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "b", 3001, now + 6, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "b", 3000, now + 7, NULL), 0);
	assert_true(dev(fx->st, d0).online);	/* 3001 still holds it */
	/* d1 was never touched */
	o = dev(fx->st, d1);
	assert_false(o.online);
	assert_int_equal(o.gen, 0);
}

/* Presence changes come back in order, each write once, past a given pseq. */
static void
test_presence_since(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();
	struct text t = { "" };
	char want[256];
	int64_t last = 0;

	reg(fx->st, "a", now);
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_presence_since(fx->st, 0, NULL, presence_cb, &t), 0);
	assert_string_equal(t.s, "");	/* never written */
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "a", 10, now, "x:1"), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 11, now, "x:2"), 0);
	assert_int_equal(store_presence_since(fx->st, 0, NULL, presence_cb, &t), 0);
	snprintf(want, sizeof(want), "%lld:1@a/10;%lld:1@a/11;", (long long)d1, (long long)d0);
	assert_string_equal(t.s, want);

	/* the last pseq seen: only what changed after it */
	t.s[0] = '\0';
	assert_int_equal(store_device_set_presence(fx->st, d1, false, "a", 10, now, NULL), 0);
	assert_int_equal(store_presence_since(fx->st, 0, NULL, last_cb, &last), 0);
	assert_int_equal(store_presence_since(fx->st, last, NULL, presence_cb, &t), 0);
	assert_string_equal(t.s, "");
	assert_int_equal(store_device_set_presence(fx->st, d0, false, "a", 11, now, NULL), 0);
	assert_int_equal(store_presence_since(fx->st, last, NULL, presence_cb, &t), 0);
	snprintf(want, sizeof(want), "%lld:0@a/11;", (long long)d0);
	assert_string_equal(t.s, want);
	/* a fenced (refused) write moves nothing */
	t.s[0] = '\0';
	assert_int_equal(store_presence_since(fx->st, 0, NULL, last_cb, &last), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 5, now, NULL), ERR_DENIED);
	assert_int_equal(store_presence_since(fx->st, last, NULL, presence_cb, &t), 0);
	assert_string_equal(t.s, "");
	/* a callback's non-zero return stops the walk */
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 12, now, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "a", 13, now, NULL), 0);
	int calls = 0;
	assert_int_equal(store_presence_since(fx->st, last, NULL, stop_cb, &calls), 5);
	assert_int_equal(calls, 1);
	/* a node's own rows left out: another node's registration still comes back */
	reg(fx->st, "b", now);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "b", 14, now, NULL), 0);
	t.s[0] = '\0';
	assert_int_equal(store_presence_since(fx->st, last, "a", presence_cb, &t), 0);
	snprintf(want, sizeof(want), "%lld:1@b/14;", (long long)d1);
	assert_string_equal(t.s, want);
	t.s[0] = '\0';
	assert_int_equal(store_presence_since(fx->st, last, "b", presence_cb, &t), 0);
	snprintf(want, sizeof(want), "%lld:1@a/12;", (long long)d0);
	assert_string_equal(t.s, want);
}

/* A mirror catching up writes rows verbatim, without fencing. */
static void
test_presence_apply(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();

	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 500, now, "x:1"), 0);
	struct store_presence p = { .device_id = d0, .gen = 400, .pseq = 77, .last_seen = now - 9,
	    .online = false, .node = "b" };
	assert_int_equal(store_presence_apply(fx->st, &p), 0);
	struct dev o = dev(fx->st, d0);
	assert_false(o.online);
	assert_string_equal(o.node, "b");
	assert_int_equal(o.gen, 400);
	assert_int_equal(o.last_seen, now - 9);
	assert_string_equal(o.addr, "x:1");
	struct text t = { "" };
	assert_int_equal(store_presence_since(fx->st, 76, NULL, presence_cb, &t), 0);
	char want[64];
	snprintf(want, sizeof(want), "%lld:0@b/400;", (long long)d0);
	assert_string_equal(t.s, want);
}

/* A device whose node is down is offline in listings and fleet states; node "" needs no heartbeat. */
static void
test_down_node_offline(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();
	struct text t = { "" };
	struct store_node n;
	int64_t dead;

	reg(fx->st, "up1", now);
	n = node("dead", "", "", now - LIM_NODE_DOWN_S - 1);
	assert_int_equal(store_node_register(fx->st, &n, &dead), 0);
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "up1", 10, now, "x:1"), 0);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "dead", 10, now, "x:2"), 0);
	assert_true(dev(fx->st, d0).online);
	assert_false(dev(fx->st, d1).online);
	assert_int_equal(store_fleet_states(fx->st, states_cb, &t), 0);
	assert_string_equal(t.s, "acme:1/0/1;");
	t.s[0] = '\0';
	assert_int_equal(store_node_list(fx->st, node_cb, &t), 0);
	assert_string_equal(t.s, "dead/0/0+1;up1/1/1;");	/* dead holds none: stranded */
	/* the dead node comes back: its device shows again */
	assert_int_equal(store_node_heartbeat(fx->st, dead, now), 0);
	assert_true(dev(fx->st, d1).online);
	/* rows of no node (a store without nodes) go by their online column */
	assert_int_equal(store_device_set_online(fx->st, d1, true, now, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "", 20, now, NULL), 0);
	assert_true(dev(fx->st, d1).online);
	assert_string_equal(dev(fx->st, d1).node, "");
	/* a device held by a node no row names (removed) is offline */
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "ghost", 30, now, NULL), 0);
	assert_false(dev(fx->st, d1).online);
}

/* A node's start and stop touch its own rows (and the pre-nodes ones), not other nodes'. */
static void
test_per_node_cleanup(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, d2, now = timefmt_now();
	char fleet[LIM_LABEL + 1];

	int64_t a = reg(fx->st, "a", now);
	int64_t b = reg(fx->st, "b", now);
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_add(fx->st, "d2", "acme", &keys[2]), 0);
	assert_int_equal(store_device_resolve(fx->st, 0, "d2", "acme", &d2, fleet), 0);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 10, now, "x:1"), 0);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "b", 10, now, "x:2"), 0);
	assert_int_equal(store_device_set_online(fx->st, d2, true, now, "x:3"), 0);	/* pre-nodes row */
	assert_int_equal(store_device_node_offline(fx->st, "a", now + 5), 0);
	assert_false(dev(fx->st, d0).online);
	assert_int_equal(dev(fx->st, d0).last_seen, now + 5);
	assert_true(dev(fx->st, d1).online);
	assert_false(dev(fx->st, d2).online);

	/* sessions: a's id range and the pre-nodes ids go, b's stay */
	int64_t sa = (a << STORE_NODE_SHIFT) | 1, sb = (b << STORE_NODE_SHIFT) | 1;
	assert_int_equal(store_session_add(fx->st, sa, "user", "bob", "", "", now), 0);
	assert_int_equal(store_session_add(fx->st, sb, "user", "bob", "", "", now), 0);
	assert_int_equal(store_session_add(fx->st, 7, "user", "bob", "", "", now), 0);
	assert_int_equal(store_session_clear_node(fx->st, a), 0);
	assert_int_equal(store_session_del(fx->st, sa), ERR_NOTFOUND);
	assert_int_equal(store_session_del(fx->st, 7), ERR_NOTFOUND);
	assert_int_equal(store_session_del(fx->st, sb), 0);
}

/* A copy (outpost store copy, the mirror) keeps nodes, holders and generations. */
static void
test_copy_keeps_nodes(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now();
	struct store *m;
	char why[256] = "";
	struct text t = { "" };

	reg(fx->st, "a", now);
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 42, now, "x:1"), 0);
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why)), 0);
	assert_int_equal(store_copy_flags(fx->st, m, STORE_COPY_SESSIONS, NULL, why, sizeof(why)), 0);
	assert_int_equal(store_node_list(m, node_cb, &t), 0);
	assert_string_equal(t.s, "a/1/1;");
	struct dev o = dev(m, d0);
	assert_true(o.online);
	assert_string_equal(o.node, "a");
	assert_int_equal(o.gen, 42);
	/* the fence holds in the copy too */
	assert_int_equal(store_device_set_presence(m, d0, true, "b", 41, now, NULL), ERR_DENIED);
	/* and new presence writes in the copy still move past the copied order */
	int64_t before = 0;
	assert_int_equal(store_presence_since(m, 0, NULL, last_cb, &before), 0);
	assert_int_equal(store_device_set_presence(m, d1, true, "a", 43, now, NULL), 0);
	t.s[0] = '\0';
	assert_int_equal(store_presence_since(m, before, NULL, presence_cb, &t), 0);
	char want[64];
	snprintf(want, sizeof(want), "%lld:1@a/43;", (long long)d1);
	assert_string_equal(t.s, want);
	store_close(m);
}

/* The up/down state of each node at now, "name/up;" (store_node_scan). */
static int
scan_cb(void *arg, const struct store_node *n)
{
	struct text *t = arg;
	size_t l = strlen(t->s);

	snprintf(t->s + l, sizeof(t->s) - l, "%s/%d;", n->name, n->up);
	return 0;
}

struct nodes {
	struct store_node v[8];
	size_t n;
};

static int
keep_cb(void *arg, const struct store_node *n)
{
	struct nodes *k = arg;

	if (k->n < 8)
		k->v[k->n++] = *n;
	return 0;
}

/*
 * A mirror keeps the up/down state it was filled with (store_node_freeze);
 * store_node_scan on the real store says when it changed, and
 * store_node_mirror writes the new rows into the mirror, frozen, without
 * touching its devices or making a change the loop re-checks sessions for.
 */
static void
test_mirror_freeze(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now(), dead, a;
	struct store *m;
	struct store_node n;
	struct text t = { "" };
	char why[256] = "";

	/* hostile first: a row whose text is not terminated is refused, the mirror as it was */
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why)), 0);
	struct nodes bad = { .n = 1 };
	bad.v[0] = node("x", "", "", now);
	memset(bad.v[0].name, 'x', sizeof(bad.v[0].name));
	assert_int_equal(store_node_mirror(m, bad.v, 1), ERR_TOOLONG);
	assert_int_equal(store_node_mirror(m, NULL, 1), ERR_INVAL);
	assert_int_equal(store_node_mirror(m, NULL, 0), 0);
	store_close(m);

	a = reg(fx->st, "a", now);
	n = node("b", "", "", now - LIM_NODE_DOWN_S - 1);
	assert_int_equal(store_node_register(fx->st, &n, &dead), 0);
	assert_int_equal(store_node_scan(fx->st, now, scan_cb, &t), 0);
	assert_string_equal(t.s, "a/1;b/0;");
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "a", 5, now, NULL), 0);
	assert_int_equal(store_device_set_presence(fx->st, d1, true, "b", 5, now, NULL), 0);
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why)), 0);
	assert_int_equal(store_copy_flags(fx->st, m, STORE_COPY_SESSIONS, NULL, why, sizeof(why)), 0);
	assert_int_equal(store_node_freeze(m, now), 0);
	/* long after: a stays up and b down in the mirror, whatever the clock says */
	struct store_node got;
	assert_int_equal(store_node_get(m, "a", &got), 0);
	assert_true(got.up);
	assert_int_equal(got.heartbeat, STORE_NODE_FROZEN_UP);
	assert_int_equal(store_node_heartbeat(m, got.id, now + 5), 0);	/* our own beat keeps it */
	assert_int_equal(store_node_get(m, "a", &got), 0);
	assert_int_equal(got.heartbeat, STORE_NODE_FROZEN_UP);
	assert_int_equal(store_node_get(m, "b", &got), 0);
	assert_false(got.up);
	assert_true(dev(m, d0).online);
	struct dev o = dev(m, d1);
	assert_false(o.online);
	assert_string_equal(o.node, "b");

	/* b comes back and c registers on the real store: the scan says so, the mirror takes the rows */
	assert_int_equal(store_node_heartbeat(fx->st, dead, now), 0);
	reg(fx->st, "c", now);
	struct nodes k = { .n = 0 };
	assert_int_equal(store_node_scan(fx->st, now, keep_cb, &k), 0);
	assert_int_equal(k.n, 3);
	int64_t before = store_change_counter(m);
	assert_int_equal(store_node_mirror(m, k.v, k.n), 0);
	assert_int_equal(store_change_counter(m), before);	/* not an access change */
	t.s[0] = '\0';
	assert_int_equal(store_node_scan(m, now + 1000000, scan_cb, &t), 0);	/* frozen: the clock is not read */
	assert_string_equal(t.s, "a/1;b/1;c/1;");
	assert_true(dev(m, d1).online);		/* b's device shows again */
	assert_int_equal(store_node_get(m, "b", &got), 0);
	assert_int_equal(got.heartbeat, STORE_NODE_FROZEN_UP);
	assert_int_equal(got.id, dead);

	/* a stops cleanly: down at once on the real store; a stale start's stop changes nothing */
	assert_int_equal(store_node_stop(fx->st, a, now - 1), 0);
	assert_int_equal(store_node_get(fx->st, "a", &got), 0);
	assert_true(got.up);
	assert_int_equal(store_node_stop(fx->st, a, now), 0);
	assert_int_equal(store_node_get(fx->st, "a", &got), 0);
	assert_false(got.up);
	assert_int_equal(got.heartbeat, 0);
	assert_false(dev(fx->st, d0).online);
	k.n = 0;
	assert_int_equal(store_node_scan(fx->st, now, keep_cb, &k), 0);
	assert_int_equal(store_node_mirror(m, k.v, k.n), 0);
	assert_false(dev(m, d0).online);	/* its device is offline in the mirror too */
	/* a node removed from the real store leaves the mirror */
	assert_int_equal(store_node_mirror(m, k.v + 1, k.n - 1), 0);
	assert_int_equal(store_node_get(m, "a", &got), ERR_NOTFOUND);
	/* and starts again after a clean stop, whatever its key */
	n = node("a", "127.0.0.9:2222", "ssh-ed25519 AAAAother", now);
	assert_int_equal(store_node_register(fx->st, &n, NULL), 0);
	store_close(m);
}

/* held: the row says online; online: and its node is up. */
static int
held_cb(void *arg, const struct store_device *d)
{
	*(int *)arg = d->held * 2 + d->online;
	return 0;
}

static void
test_held_on_down_node(void **state)
{
	struct fixture *fx = *state;
	int64_t d0, d1, now = timefmt_now(), dead;
	struct store_node n = node("gone", "", "", now - 100);
	int v = -1;

	assert_int_equal(store_node_register(fx->st, &n, &dead), 0);
	two_devices(fx->st, &d0, &d1);
	assert_int_equal(store_device_set_presence(fx->st, d0, true, "gone", 5, now, NULL), 0);
	assert_int_equal(store_device_get(fx->st, d0, held_cb, &v), 0);
	assert_int_equal(v, 2);		/* held by gone, not online */
	assert_int_equal(store_device_get(fx->st, d1, held_cb, &v), 0);
	assert_int_equal(v, 0);
}

#define BOTH_ENGINES(X) \
	X(test_register_hostile) \
	X(test_presence_hostile) \
	X(test_register_and_heartbeat) \
	X(test_fencing) \
	X(test_presence_since) \
	X(test_presence_apply) \
	X(test_down_node_offline) \
	X(test_per_node_cleanup) \
	X(test_copy_keeps_nodes) \
	X(test_mirror_freeze) \
	X(test_held_on_down_node)

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown),
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown),

int
main(void)
{
	const struct CMUnitTest sqlite[] = { BOTH_ENGINES(T) };
	const struct CMUnitTest pg[] = { BOTH_ENGINES(P) };
	int r;

	if (tu_keys_make(&keydir, keys, NKEYS, NULL) != 0)
		return 1;
	r = cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
	r += cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
	tu_keys_free(keydir, keys, NKEYS);
	return r;
}
