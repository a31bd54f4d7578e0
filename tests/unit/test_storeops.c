/* test_storeops.c: outpostd's queued store writes (coalescing, bound, barriers, order), hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "server/storeops.h"
#include "store/store.h"
#include "testutil.h"

static char *keydir;
static struct pubkey key;

static int
group_setup(void **state)
{
	char path[600];

	(void)state;
	if ((keydir = tu_mkdtemp()) == NULL || tu_keygen(keydir, "k", "ed25519") != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/k.pub", keydir);
	return pubkey_read_file(path, &key) == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	pubkey_clear(&key);
	tu_rmrf(keydir);
	free(keydir);
	return 0;
}

static size_t
count(const struct storeop *op)
{
	size_t n = 0;

	for (; op != NULL; op = op->next)
		n++;
	return n;
}

static void
test_hostile(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 4);
	assert_int_equal(storeops_put(&q, NULL), ERR_INVAL);	/* a constructor out of memory */
	struct storeop *bad = storeop_session_clear();
	bad->kind = SOP_MAX;
	assert_int_equal(storeops_put(&q, bad), ERR_INVAL);
	storeop_free(bad);
	assert_int_equal(storeop_apply(NULL, NULL), ERR_INVAL);
	assert_string_equal(storeop_name(NULL), "?");
	storeop_free(NULL);
	storeop_free_list(NULL);
	storeops_unget(&q, NULL);
	assert_null(storeops_take(&q));
	storeops_free(&q);
}

/* The bound: past it a new record is refused and counted; one that folds still goes in. */
static void
test_bound(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 3);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(storeops_put(&q, storeop_online(i, true, 100, "1.2.3.4:5")), 0);
	assert_int_equal(storeops_put(&q, storeop_online(4, true, 100, NULL)), ERR_BUSY);
	assert_int_equal(storeops_put(&q, storeop_session_clear()), ERR_BUSY);
	assert_int_equal(q.dropped, 2);
	assert_int_equal(storeops_put(&q, storeop_online(2, false, 200, NULL)), 0);
	assert_int_equal(q.len, 3);
	storeops_free(&q);
	assert_int_equal(q.len, 0);
}

/* A reconnect storm: 10,000 devices flapping three times are 10,000 records, each the last state. */
static void
test_storm_coalesces(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 20000);
	for (int round = 0; round < 3; round++)
		for (int i = 1; i <= 10000; i++)
			assert_int_equal(storeops_put(&q, storeop_online(i, round != 1, 100 + round,
			    round == 0 ? "10.0.0.1:1" : NULL)), 0);
	assert_int_equal(q.len, 10000);
	struct storeop *list = storeops_take(&q);
	assert_int_equal(count(list), 10000);
	assert_int_equal(list->id, 1);
	assert_true(list->online);
	assert_int_equal(list->when, 102);
	assert_string_equal(list->addr, "10.0.0.1:1");	/* an offline write keeps the address */
	storeop_free_list(list);
	storeops_free(&q);
}

static void
test_session_folds(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 10);
	assert_int_equal(storeops_put(&q, storeop_session_add(7, "user", "alice", "SHA256:x", "1.2.3.4:5", 9)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_bytes(7, 10)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_bytes(7, 20)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_bytes(8, 5)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_del(8)), 0);
	assert_int_equal(q.len, 2);
	struct storeop *list = storeops_take(&q);
	assert_true(list->add && list->has_bytes && !list->del);
	assert_int_equal(list->bytes, 20);
	assert_true(list->next->has_bytes && list->next->del);
	storeop_free_list(list);
}

/* Nothing before a whole-table write folds with what follows it: their order stays. */
static void
test_barrier_keeps_order(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 10);
	assert_int_equal(storeops_put(&q, storeop_online(1, true, 1, "a:1")), 0);
	assert_int_equal(storeops_put(&q, storeop_all_offline(2)), 0);
	assert_int_equal(storeops_put(&q, storeop_online(1, true, 3, "b:2")), 0);
	assert_int_equal(storeops_put(&q, storeop_online(1, false, 4, NULL)), 0);
	assert_int_equal(q.len, 3);
	struct storeop *list = storeops_take(&q);
	assert_int_equal(list->when, 1);
	assert_int_equal(list->next->kind, SOP_ALL_OFFLINE);
	assert_int_equal(list->next->next->when, 4);
	assert_false(list->next->next->online);
	storeop_free_list(list);
}

/* A batch that could not be written goes back ahead of what came since, and still folds. */
static void
test_unget(void **state)
{
	struct storeops q;

	(void)state;
	storeops_init(&q, 2);
	assert_int_equal(storeops_put(&q, storeop_online(1, true, 1, "a:1")), 0);
	assert_int_equal(storeops_put(&q, storeop_online(2, true, 1, "a:2")), 0);
	struct storeop *batch = storeops_take(&q);
	assert_int_equal(storeops_put(&q, storeop_online(1, false, 5, NULL)), 0);
	storeops_unget(&q, batch);
	assert_int_equal(q.len, 3);	/* the bound does not refuse what was counted once */
	assert_int_equal(storeops_put(&q, storeop_online(1, true, 9, NULL)), 0);	/* folds into the newest */
	struct storeop *list = storeops_take(&q);
	assert_int_equal(count(list), 3);
	assert_int_equal(list->id, 1);
	assert_int_equal(list->when, 1);
	assert_int_equal(list->next->id, 2);
	assert_int_equal(list->next->next->when, 9);
	assert_true(list->next->next->online);
	storeop_free_list(list);
}

struct seen {
	bool online;
	char addr[64];
	int64_t last_seen;
	char ondemand[16];
	int sessions;
	int64_t bytes;
};

static int
device_cb(void *arg, const struct store_device *d)
{
	struct seen *s = arg;

	s->online = d->online;
	snprintf(s->addr, sizeof(s->addr), "%s", d->last_addr);
	s->last_seen = d->last_seen;
	snprintf(s->ondemand, sizeof(s->ondemand), "%s", d->ondemand);
	return 0;
}

static int
session_cb(void *arg, const struct store_session *ss)
{
	struct seen *s = arg;

	s->sessions++;
	s->bytes = ss->bytes;
	return 0;
}

/* The records written to a real store in one batch give what the direct calls would. */
static void
test_apply_to_store(void **state)
{
	struct store *st;
	struct storeops q;
	struct seen s = { 0 };
	char *dir = tu_mkdtemp(), path[600];
	int64_t id;
	char fleet[LIM_LABEL + 1];

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_device_add(st, "pi", "acme", &key), 0);
	assert_int_equal(store_device_resolve(st, 0, "pi", "acme", &id, fleet), 0);
	storeops_init(&q, 100);
	assert_int_equal(storeops_put(&q, storeop_online(id, true, 50, "9.9.9.9:1")), 0);
	assert_int_equal(storeops_put(&q, storeop_session_add(3, "device", "pi.acme", "SHA256:k", "9.9.9.9:1", 50)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_bytes(3, 4096)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_add(4, "user", "bob", "SHA256:b", "1.1.1.1:1", 50)), 0);
	assert_int_equal(storeops_put(&q, storeop_session_del(4)), 0);	/* began and ended while queued */
	assert_int_equal(storeops_put(&q, storeop_ondemand(id, "standby", 60)), 0);
	assert_int_equal(storeops_put(&q, storeop_online(id, false, 70, NULL)), 0);
	assert_int_equal(storeops_put(&q, storeop_port(id, 2222)), 0);
	assert_int_equal(storeops_put(&q, storeop_port(id, 3333)), 0);	/* the first port stays */
	assert_int_equal(storeops_put(&q, storeop_info(id, "host", "linux", "1.0", "", 5)), 0);
	int64_t before = store_change_counter(st);
	struct storeop *list = storeops_take(&q);
	assert_int_equal(store_batch_begin(st), 0);
	for (struct storeop *op = list; op != NULL; op = op->next)
		assert_int_equal(storeop_apply(st, op), 0);
	assert_int_equal(store_batch_commit(st), 0);
	assert_int_equal(store_change_counter(st), before);	/* our own batch is not someone's change */
	storeop_free_list(list);
	assert_int_equal(store_device_get(st, id, device_cb, &s), 0);
	assert_false(s.online);
	assert_string_equal(s.addr, "9.9.9.9:1");
	assert_int_equal(s.last_seen, 70);
	assert_string_equal(s.ondemand, "standby");
	assert_int_equal(store_session_list(st, session_cb, &s), 0);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(s.bytes, 4096);
	int64_t dev;
	char q2[300];
	assert_int_equal(store_device_by_port(st, 0, 2222, &dev, q2, sizeof(q2)), 0);
	assert_int_equal(dev, id);
	/* a device removed meanwhile: its record fails alone */
	struct storeop *gone = storeop_online(id + 100, true, 80, NULL);
	assert_int_equal(storeop_apply(st, gone), ERR_NOTFOUND);
	storeop_free(gone);
	/* a rolled-back batch leaves nothing */
	assert_int_equal(store_batch_begin(st), 0);
	struct storeop *clr = storeop_session_clear();
	assert_int_equal(storeop_apply(st, clr), 0);
	storeop_free(clr);
	store_batch_rollback(st);
	s.sessions = 0;
	assert_int_equal(store_session_list(st, session_cb, &s), 0);
	assert_int_equal(s.sessions, 1);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

/* Applies (each must succeed) and frees what q holds. */
static void
apply_all(struct store *st, struct storeops *q)
{
	struct storeop *list = storeops_take(q);

	for (struct storeop *op = list; op != NULL; op = op->next)
		assert_int_equal(storeop_apply(st, op), 0);
	storeop_free_list(list);
}

/* Fenced presence: a registration and its end folded into one record still write both, in order. */
static void
test_presence_folds(void **state)
{
	struct store *st;
	struct storeops q;
	struct seen s = { 0 };
	char *dir = tu_mkdtemp(), path[600];
	int64_t id;
	char fleet[LIM_LABEL + 1];

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_device_add(st, "pi", "acme", &key), 0);
	assert_int_equal(store_device_resolve(st, 0, "pi", "acme", &id, fleet), 0);
	for (const char *const *nm = (const char *const[]){ "a", "b", NULL }; *nm != NULL; nm++) {
		struct store_node n = { .started = timefmt_now() };	/* listings show devices of live nodes */
		int64_t nid;
		snprintf(n.name, sizeof(n.name), "%s", *nm);
		assert_int_equal(store_node_register(st, &n, &nid), 0);
	}
	storeops_init(&q, 100);
	/* hostile: no node, no generation */
	assert_null(storeop_presence(id, true, NULL, 5, 1, NULL));
	assert_null(storeop_presence(id, true, "a", 0, 1, NULL));
	assert_null(storeop_presence(id, true, "a", -1, 1, NULL));
	/* online and offline of one registration while queued: the store sees both */
	assert_int_equal(storeops_put(&q, storeop_presence(id, true, "a", 100, 50, "9.9.9.9:1")), 0);
	assert_int_equal(storeops_put(&q, storeop_presence(id, false, "a", 100, 60, NULL)), 0);
	assert_int_equal(q.len, 1);
	apply_all(st, &q);
	assert_int_equal(store_device_get(st, id, device_cb, &s), 0);
	assert_false(s.online);
	assert_string_equal(s.addr, "9.9.9.9:1");
	assert_int_equal(s.last_seen, 60);
	/* a newer registration folded over an older one's end: online under the newer */
	assert_int_equal(storeops_put(&q, storeop_presence(id, true, "a", 200, 70, "9.9.9.9:2")), 0);
	assert_int_equal(storeops_put(&q, storeop_presence(id, false, "a", 200, 71, NULL)), 0);
	assert_int_equal(storeops_put(&q, storeop_presence(id, true, "a", 300, 72, "9.9.9.9:3")), 0);
	apply_all(st, &q);
	assert_int_equal(store_device_get(st, id, device_cb, &s), 0);
	assert_true(s.online);
	assert_string_equal(s.addr, "9.9.9.9:3");
	/* another node took it meanwhile: our folded online+offline leave its row alone */
	assert_int_equal(store_device_set_presence(st, id, true, "b", 1000, 80, "8.8.8.8:1"), 0);
	assert_int_equal(storeops_put(&q, storeop_presence(id, true, "a", 400, 81, "9.9.9.9:4")), 0);
	assert_int_equal(storeops_put(&q, storeop_presence(id, false, "a", 400, 82, NULL)), 0);
	apply_all(st, &q);
	assert_int_equal(store_device_get(st, id, device_cb, &s), 0);
	assert_true(s.online);
	assert_string_equal(s.addr, "8.8.8.8:1");
	/* alone, an online record a newer registration fences is ERR_DENIED (the store thread drops it) */
	struct storeop *late = storeop_presence(id, true, "a", 500, 83, NULL);
	assert_int_equal(storeop_apply(st, late), ERR_DENIED);
	storeop_free(late);
	storeops_free(&q);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

/* The mirror: an in-memory store filled from the real one has the same rows. */
static void
test_mirror_copy(void **state)
{
	struct store *st, *m;
	struct seen s = { 0 };
	char *dir = tu_mkdtemp(), path[600], why[256];
	int64_t id;
	char fleet[LIM_LABEL + 1];

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_device_add(st, "pi", "acme", &key), 0);
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why)), 0);
	assert_int_equal(store_copy_flags(st, m, STORE_COPY_FORCE | STORE_COPY_SESSIONS, NULL, why, sizeof(why)), 0);
	assert_int_equal(store_device_resolve(m, 0, "pi", "acme", &id, fleet), 0);
	assert_int_equal(store_device_set_online(m, id, true, 5, "x:1"), 0);
	assert_int_equal(store_device_get(st, id, device_cb, &s), 0);
	assert_false(s.online);		/* the mirror is a copy, not a view */
	struct stat sb;
	assert_int_not_equal(stat(":memory:", &sb), 0);	/* no file named after it */
	store_close(m);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_storm_coalesces),
		cmocka_unit_test(test_session_folds),
		cmocka_unit_test(test_barrier_keeps_order),
		cmocka_unit_test(test_unget),
		cmocka_unit_test(test_apply_to_store),
		cmocka_unit_test(test_presence_folds),
		cmocka_unit_test(test_mirror_copy),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
