/* test_storeq.c: the store thread on SQLite in mirror mode (the default; OUTPOST_STORE_MIRROR=0 is the direct path): writes reach the store, others' changes reach the mirror, a lock held by another writer delays them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "server/server.h"
#include "server/storeq.h"
#include "store/store.h"
#include "testutil.h"
#ifdef HAVE_LIBPQ
#include "pgtest.h"
#endif

struct seen {
	bool online;
	int64_t last_seen;
};

static int
device_cb(void *arg, const struct store_device *d)
{
	struct seen *s = arg;

	s->online = d->online;
	s->last_seen = d->last_seen;
	return 0;
}

/* Counts sessions (and bytes summed) into a struct sessions. */
struct sessions {
	int n;
	int64_t bytes;
};

static int
session_cb(void *arg, const struct store_session *ss)
{
	struct sessions *c = arg;

	c->n++;
	c->bytes += ss->bytes;
	return 0;
}

static struct sessions
sessions_of(struct store *st, bool kicked)
{
	struct sessions c = { 0 };

	assert_int_equal(kicked ? store_session_list_kicked(st, session_cb, &c) :
	    store_session_list(st, session_cb, &c), 0);
	return c;
}

/* Waits up to 5 s for the eventfd in srv->epfd, then lets storeq take the mirror. */
static bool
take_mirror(struct server *srv)
{
	struct epoll_event ev;

	if (epoll_wait(srv->epfd, &ev, 1, 5000) != 1)
		return false;
	storeq_ready(srv);
	return true;
}

/* A state directory with fleet acme and device pi (its key in *key); srv on it with its store open, not started. */
static char *
one_device(struct server *srv, struct config *cfg, struct pubkey *key, char *path, size_t len)
{
	char *dir = tu_mkdtemp();

	assert_non_null(dir);
	assert_int_equal(tu_keygen(dir, "k", "ed25519"), 0);
	snprintf(path, len, "%s/k.pub", dir);
	assert_int_equal(pubkey_read_file(path, key), 0);
	snprintf(path, len, "%s/state", dir);
	memset(srv, 0, sizeof(*srv));
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = path;
	srv->cfg = cfg;
	assert_true((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	assert_int_equal(store_open(path, &srv->st), 0);
	assert_int_equal(store_fleet_add(srv->st, "acme"), 0);
	assert_int_equal(store_device_add(srv->st, "pi", "acme", key), 0);
	return dir;
}

static void
test_mirror_mode(void **state)
{
	struct server srv;
	struct config cfg;
	struct store *other;
	struct pubkey key;
	char path[600];
	int64_t id;
	char fleet[LIM_LABEL + 1];
	struct seen s = { 0 };

	(void)state;
	char *dir = one_device(&srv, &cfg, &key, path, sizeof(path));
	struct store *real = srv.st;

	setenv("OUTPOST_STORE_MIRROR", "1", 1);
	storeq_start(&srv);
	assert_true(storeq_mirrored(&srv));
	assert_ptr_not_equal(srv.st, real);
	assert_false(storeq_unreachable(&srv));
	assert_int_equal(store_device_resolve(srv.st, 0, "pi", "acme", &id, fleet), 0);

	/* a write: in the mirror at once, in the store a drain later */
	assert_int_equal(storeq_device_set_online(&srv, id, true, 1234, "1.2.3.4:5"), 0);
	assert_int_equal(store_device_get(srv.st, id, device_cb, &s), 0);
	assert_true(s.online);
	assert_int_equal(store_open(path, &other), 0);
	s.online = false;
	for (int i = 0; i < 500; i++) {
		assert_int_equal(store_device_get(other, id, device_cb, &s), 0);
		if (s.online)
			break;
		usleep(10000);
	}
	assert_true(s.online);
	assert_int_equal(s.last_seen, 1234);
	/* a bad write fails on the mirror and is not queued */
	assert_int_equal(storeq_device_set_online(&srv, id + 99, true, 1, NULL), ERR_NOTFOUND);

	/* someone else's change: a fresh mirror through the eventfd */
	assert_int_equal(store_fleet_add(other, "globex"), 0);
	assert_int_equal(store_fleet_get(srv.st, "globex", NULL), ERR_NOTFOUND);
	assert_true(take_mirror(&srv));
	assert_int_equal(store_fleet_get(srv.st, "globex", NULL), 0);
	/* what the loop wrote stays in the new mirror */
	assert_int_equal(store_device_get(srv.st, id, device_cb, &s), 0);
	assert_true(s.online);

	/*
	 * A live session goes to the real store alone: the mirror holds only the
	 * kicked ones (every node's sessions in every mirror cost 142 bytes each).
	 */
	assert_int_equal(storeq_session_add(&srv, 42, "device", "pi.acme", key.fp, "1.2.3.4:5", 1), 0);
	assert_int_equal(storeq_session_set_bytes(&srv, 42, 7), 0);
	assert_int_equal(sessions_of(srv.st, false).n, 0);
	for (int i = 0; i < 500 && sessions_of(other, false).bytes != 7; i++)
		usleep(10000);
	assert_int_equal(sessions_of(other, false).n, 1);
	assert_int_equal(sessions_of(other, false).bytes, 7);
	/* kicked: the next mirror has it, and its end removes it from both */
	int kicked = 0;
	assert_int_equal(store_session_kick(other, "42", &kicked), 0);
	assert_true(take_mirror(&srv));
	assert_int_equal(sessions_of(srv.st, true).n, 1);
	assert_int_equal(sessions_of(srv.st, false).n, 1);
	assert_int_equal(storeq_session_del(&srv, 42), 0);
	assert_int_equal(sessions_of(srv.st, false).n, 0);
	for (int i = 0; i < 500 && sessions_of(other, false).n != 0; i++)
		usleep(10000);
	assert_int_equal(sessions_of(other, false).n, 0);
	/* a session never in the mirror ends without an error */
	assert_int_equal(storeq_session_add(&srv, 43, "device", "pi.acme", key.fp, "1.2.3.4:6", 2), 0);
	assert_int_equal(storeq_session_del(&srv, 43), 0);

	struct storeq_stats st;
	storeq_get_stats(&srv, &st);
	assert_true(st.written >= 1);
	assert_true(st.reloads >= 1);
	assert_int_equal(st.dropped, 0);

	/* stop writes what is queued */
	assert_int_equal(storeq_device_set_online(&srv, id, false, 5678, NULL), 0);
	storeq_stop(&srv);
	assert_null(srv.st);
	assert_int_equal(store_device_get(other, id, device_cb, &s), 0);
	assert_false(s.online);
	assert_int_equal(s.last_seen, 5678);
	store_close(other);
	close(srv.epfd);
	unsetenv("OUTPOST_STORE_MIRROR");
	pubkey_clear(&key);
	tu_rmrf(dir);
	free(dir);
}

#ifdef HAVE_LIBPQ
/*
 * PostgreSQL: another node's heartbeat changes no counter and notifies
 * nobody, yet the mirror learns within a few seconds that a node down in
 * it (its heartbeat old) beats again. Before, every other node looked down
 * in the mirror LIM_NODE_DOWN_S after its last copy, so no route went
 * through a peer (t-nodes-failover found it; branch nodes' store_node_freeze
 * and up mark fix it).
 */
static void
test_mirror_heartbeats_pg(void **state)
{
	struct server srv;
	struct config cfg;
	struct store *other = NULL;
	struct store_node n, got;
	char *dir = tu_mkdtemp(), path[600], uri[512], why[512];
	int64_t bid = 0, now = timefmt_now();

	(void)state;
	assert_non_null(dir);
	if (pgtest_uri() == NULL && pgtest_missing()) {
		tu_rmrf(dir);
		free(dir);
		skip();
	}
	assert_int_equal(pgtest_fresh(uri, sizeof(uri)), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	memset(&srv, 0, sizeof(srv));
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = path;
	srv.cfg = &cfg;
	snprintf(srv.node_name, sizeof(srv.node_name), "a");
	assert_true((srv.epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	assert_int_equal(store_open_spec(uri, NULL, &srv.st, why, sizeof(why)), 0);
	assert_string_equal(store_engine(srv.st), "postgresql");
	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "b");
	snprintf(n.peer_addr, sizeof(n.peer_addr), "127.0.0.3:2222");
	snprintf(n.node_key, sizeof(n.node_key), "ssh-ed25519 AAAAkey");
	n.started = n.heartbeat = now - 10 * LIM_NODE_DOWN_S;
	assert_int_equal(store_node_register(srv.st, &n, &bid), 0);

	storeq_start(&srv);
	assert_true(storeq_mirrored(&srv));
	assert_int_equal(store_node_get(srv.st, "b", &got), 0);
	assert_false(got.up);

	assert_int_equal(store_open_spec(uri, NULL, &other, why, sizeof(why)), 0);
	assert_int_equal(store_node_heartbeat(other, bid, now), 0);
	int64_t t0 = timefmt_mono_ms();
	while (timefmt_mono_ms() - t0 < 3 * LIM_NODE_HEARTBEAT_S * 1000) {
		struct epoll_event ev;
		if (epoll_wait(srv.epfd, &ev, 1, 500) == 1)
			storeq_ready(&srv);
		assert_int_equal(store_node_get(srv.st, "b", &got), 0);
		if (got.up)
			break;
	}
	assert_true(got.up);
	/* a node registering, and one stopping cleanly, reach the mirror the same way */
	n.started = n.heartbeat = now;
	snprintf(n.name, sizeof(n.name), "c");
	int64_t cid = 0;
	assert_int_equal(store_node_register(other, &n, &cid), 0);
	assert_int_equal(store_node_stop(other, bid, now - 10 * LIM_NODE_DOWN_S), 0);
	t0 = timefmt_mono_ms();
	bool c_up = false, b_down = false;
	while (timefmt_mono_ms() - t0 < 5000 && !(c_up && b_down)) {
		struct epoll_event ev;
		if (epoll_wait(srv.epfd, &ev, 1, 500) == 1)
			storeq_ready(&srv);
		c_up = store_node_get(srv.st, "c", &got) == 0 && got.up;
		b_down = store_node_get(srv.st, "b", &got) == 0 && !got.up;
	}
	assert_true(c_up);
	assert_true(b_down);
	/* none of it cost a full copy of the store */
	struct storeq_stats qs;
	storeq_get_stats(&srv, &qs);
	assert_int_equal(qs.reloads, 0);
	assert_true(qs.node_updates >= 2);
	storeq_stop(&srv);
	store_close(other);
	close(srv.epfd);
	tu_rmrf(dir);
	free(dir);
}
#endif

/* Records written to the real store once the queue is empty again. */
static uint64_t
written_after_drain(struct server *srv)
{
	struct storeq_stats st;

	for (int i = 0; i < 200; i++) {
		storeq_get_stats(srv, &st);
		if (st.depth == 0)
			break;
		usleep(10000);
	}
	usleep(300000);	/* a record taken off the queue is written a moment later */
	storeq_get_stats(srv, &st);
	return st.written;
}

/*
 * A port-table device binding its own port again at each reconnect writes
 * nothing to the real store: on PostgreSQL the UPDATE, even of no row,
 * fired the change trigger and every node copied the whole store again.
 */
static void
test_port_bind_once(void **state)
{
	struct server srv;
	struct config cfg;
	struct pubkey key[2];
	char *dir = tu_mkdtemp(), path[600], holder[LIM_LABEL + 1], fleet[LIM_LABEL + 1];
	int64_t id, id2;

	(void)state;
	assert_non_null(dir);
	for (int i = 0; i < 2; i++) {
		char name[8];
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(tu_keygen(dir, name, "ed25519"), 0);
		snprintf(path, sizeof(path), "%s/k%d.pub", dir, i);
		assert_int_equal(pubkey_read_file(path, &key[i]), 0);
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	memset(&srv, 0, sizeof(srv));
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = path;
	srv.cfg = &cfg;
	assert_true((srv.epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	assert_int_equal(store_open(path, &srv.st), 0);
	assert_int_equal(store_fleet_add(srv.st, "acme"), 0);
	assert_int_equal(store_device_add(srv.st, "pi", "acme", &key[0]), 0);
	assert_int_equal(store_device_add(srv.st, "pj", "acme", &key[1]), 0);
	setenv("OUTPOST_STORE_MIRROR", "1", 1);
	storeq_start(&srv);
	assert_true(storeq_mirrored(&srv));
	assert_int_equal(store_device_resolve(srv.st, 0, "pi", "acme", &id, fleet), 0);
	assert_int_equal(store_device_resolve(srv.st, 0, "pj", "acme", &id2, fleet), 0);

	/* hostile first: out of range, an unknown device, a port another device holds */
	assert_int_equal(storeq_device_bind_port(&srv, id, 0, holder, sizeof(holder)), ERR_INVAL);
	assert_int_equal(storeq_device_bind_port(&srv, id, 70000, holder, sizeof(holder)), ERR_INVAL);
	uint64_t w0 = written_after_drain(&srv);
	assert_int_equal(storeq_device_bind_port(&srv, id, 22050, holder, sizeof(holder)), 0);
	uint64_t w1 = written_after_drain(&srv);
	assert_int_equal(w1, w0 + 1);
	assert_int_equal(storeq_device_bind_port(&srv, id2, 22050, holder, sizeof(holder)), ERR_EXISTS);
	assert_string_equal(holder, "pi");
	/* again (a reconnect), and another port for a device that has one: nothing queued */
	assert_int_equal(storeq_device_bind_port(&srv, id, 22050, holder, sizeof(holder)), 0);
	assert_int_equal(storeq_device_bind_port(&srv, id, 22051, holder, sizeof(holder)), 0);
	assert_int_equal(written_after_drain(&srv), w1);
	/* the other device's first port is written */
	assert_int_equal(storeq_device_bind_port(&srv, id2, 22052, holder, sizeof(holder)), 0);
	assert_int_equal(written_after_drain(&srv), w1 + 1);
	storeq_stop(&srv);
	/* the real store has both first ports */
	struct store *real;
	char q[2 * LIM_TARGET + 8];
	int64_t got;
	assert_int_equal(store_open(path, &real), 0);
	assert_int_equal(store_device_by_port(real, 0, 22050, &got, q, sizeof(q)), 0);
	assert_int_equal(got, id);
	assert_int_equal(store_device_by_port(real, 0, 22052, &got, q, sizeof(q)), 0);
	assert_int_equal(got, id2);
	assert_int_equal(store_device_by_port(real, 0, 22051, &got, q, sizeof(q)), ERR_NOTFOUND);
	store_close(real);
	close(srv.epfd);
	unsetenv("OUTPOST_STORE_MIRROR");
	pubkey_clear(&key[0]);
	pubkey_clear(&key[1]);
	tu_rmrf(dir);
	free(dir);
}

/*
 * Another writer holds the real store's lock through the store's whole
 * wait: the queued write stays queued (counted), is neither dropped nor
 * lost, the store is not taken for unreachable, and it is written once
 * the lock is free. Before, each record waited out the lock in turn and
 * was then dropped as refused.
 */
static void
test_locked_store(void **state)
{
	struct server srv;
	struct config cfg;
	struct store *other;
	struct pubkey key;
	struct storeq_stats st;
	char path[600];
	int64_t id;
	char fleet[LIM_LABEL + 1];
	struct seen s = { 0 };

	(void)state;
	char *dir = one_device(&srv, &cfg, &key, path, sizeof(path));
	storeq_start(&srv);
	assert_true(storeq_mirrored(&srv));
	assert_int_equal(store_device_resolve(srv.st, 0, "pi", "acme", &id, fleet), 0);
	assert_int_equal(store_open(path, &other), 0);

	storeq_get_stats(&srv, &st);
	uint64_t written = st.written;
	assert_int_equal(store_batch_begin(other), 0);	/* BEGIN IMMEDIATE: the write lock */
	assert_int_equal(storeq_device_set_online(&srv, id, true, 4321, NULL), 0);
	for (int i = 0; i < 1000; i++) {	/* the store's wait is 5 s */
		storeq_get_stats(&srv, &st);
		if (st.lock_waits > 0)
			break;
		usleep(10000);
	}
	assert_true(st.lock_waits > 0);
	assert_int_equal(st.written, written);	/* queued still (or taken again for the next try) */
	assert_int_equal(st.dropped, 0);
	assert_false(storeq_unreachable(&srv));
	/* the loop's side answers meanwhile, from its mirror */
	assert_int_equal(store_device_get(srv.st, id, device_cb, &s), 0);
	assert_true(s.online);
	assert_int_equal(store_batch_commit(other), 0);
	s.online = false;
	for (int i = 0; i < 1000 && !s.online; i++) {
		assert_int_equal(store_device_get(other, id, device_cb, &s), 0);
		if (!s.online)
			usleep(10000);
	}
	assert_true(s.online);
	assert_int_equal(s.last_seen, 4321);
	storeq_get_stats(&srv, &st);
	assert_int_equal(st.written, written + 1);
	assert_int_equal(st.dropped, 0);
	storeq_stop(&srv);
	store_close(other);
	close(srv.epfd);
	pubkey_clear(&key);
	tu_rmrf(dir);
	free(dir);
}

/* The process's CPU time (every thread's), ms. */
static int64_t
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/*
 * Once outpostd stops (storeq_stopping: the loop takes no more mirrors, so
 * the thread neither looks for changes nor at the nodes), the thread still
 * sleeps between rounds. It used to spin: the two looks it skipped were
 * what moved its deadlines, so every round found them due, about a second
 * of CPU per node through a 20,000-session shutdown, beside the sessions'
 * own work.
 */
static void
test_stopping_sleeps(void **state)
{
	struct server srv;
	struct config cfg;
	struct pubkey key;
	char path[600];
	int64_t id;
	char fleet[LIM_LABEL + 1];

	(void)state;
	char *dir = one_device(&srv, &cfg, &key, path, sizeof(path));
	setenv("OUTPOST_STORE_MIRROR", "1", 1);
	storeq_start(&srv);
	assert_true(storeq_mirrored(&srv));
	assert_int_equal(store_device_resolve(srv.st, 0, "pi", "acme", &id, fleet), 0);
	storeq_stopping(&srv);
	usleep(100000);
	int64_t c0 = cpu_ms();
	usleep(800000);
	int64_t spent = cpu_ms() - c0;
	/* writes queued while stopping still reach the store */
	assert_int_equal(storeq_device_set_online(&srv, id, true, 1234, NULL), 0);
	storeq_stop(&srv);
	if (spent > 200)
		fail_msg("the stopping store thread took %lld ms of CPU in 800 ms", (long long)spent);
	struct store *real;
	struct seen s = { 0 };
	assert_int_equal(store_open(path, &real), 0);
	assert_int_equal(store_device_get(real, id, device_cb, &s), 0);
	assert_true(s.online);
	store_close(real);
	close(srv.epfd);
	unsetenv("OUTPOST_STORE_MIRROR");
	pubkey_clear(&key);
	tu_rmrf(dir);
	free(dir);
}

/* SQLite's direct path, kept for comparison in bench/: OUTPOST_STORE_MIRROR=0. */
static void
test_direct_mode(void **state)
{
	struct server srv;
	struct config cfg;
	char *dir = tu_mkdtemp(), path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	memset(&srv, 0, sizeof(srv));
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = path;
	srv.cfg = &cfg;
	setenv("OUTPOST_STORE_MIRROR", "0", 1);
	assert_int_equal(store_open(path, &srv.st), 0);
	struct store *real = srv.st;
	storeq_start(&srv);
	unsetenv("OUTPOST_STORE_MIRROR");
	assert_false(storeq_mirrored(&srv));
	assert_ptr_equal(srv.st, real);
	assert_int_equal(storeq_session_clear(&srv), 0);
	assert_int_equal(storeq_device_set_online(&srv, 42, true, 1, NULL), ERR_NOTFOUND);
	storeq_stop(&srv);
	assert_null(srv.st);
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_mode),
		cmocka_unit_test(test_locked_store),
		cmocka_unit_test(test_mirror_mode),
		cmocka_unit_test(test_stopping_sleeps),
		cmocka_unit_test(test_port_bind_once),
#ifdef HAVE_LIBPQ
		cmocka_unit_test(test_mirror_heartbeats_pg),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
