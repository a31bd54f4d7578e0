/*
 * test_chan.c: the channel table: every kind's life from new to reap when
 * either side closes first, when a session goes away under its channels, and
 * a kill while a channel waits for an on-demand device. Channels are real
 * libssh channels on real sessions (sshpair.h); ASan and valgrind catch a
 * leak or a double free of a kind's data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/limits.h"
#include "common/log.h"
#include "server/chan.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/splice.h"
#include "server/wake.h"
#include "store/store.h"
#include "sshpair.h"
#include "testutil.h"

struct fixture {
	struct server srv;
	struct config cfg;
	struct conn user, device;
	struct sshpair upair, dpair;	/* the sessions of user and device */
	char *dir;
};

static void
conn_init(struct fixture *f, struct conn *c, struct sshpair *pair, enum store_principal_kind kind,
    const char *name)
{
	memset(c, 0, sizeof(*c));
	c->srv = &f->srv;
	assert_int_equal(sshpair_open(pair), 0);
	c->s = pair->server;
	c->authed = true;
	c->who.kind = kind;
	c->who.id = kind == PRINCIPAL_DEVICE ? 7 : 3;
	snprintf(c->who.name, sizeof(c->who.name), "%s", name);
	snprintf(c->who.fleet, sizeof(c->who.fleet), "%s", kind == PRINCIPAL_DEVICE ? "acme" : "");
	snprintf(c->peer, sizeof(c->peer), "127.0.0.1:40000");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cfg.refuse_wait = 10;
	f->cfg.wake_timeout = 20;
	f->srv.cfg = &f->cfg;
	f->srv.now_ms = 1000000;
	f->srv.reg = registry_new();
	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	assert_int_equal(store_open(f->dir, &f->srv.st), 0);
	conn_init(f, &f->user, &f->upair, PRINCIPAL_USER, "alice");
	conn_init(f, &f->device, &f->dpair, PRINCIPAL_DEVICE, "pi");
	f->device.services = calloc(1, sizeof(*f->device.services));
	assert_non_null(f->device.services);
	f->device.services_cap = 1;
	f->device.services[0].bind_addr = strdup("pi.acme");
	f->device.services[0].port = 22;
	f->device.nservices = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	assert_null(f->srv.chans);
	assert_int_equal(f->user.nchans, 0);
	assert_int_equal(f->device.nchans, 0);
	sshpair_close(&f->upair);
	sshpair_close(&f->dpair);
	free(f->device.services[0].bind_addr);
	free(f->device.services);
	store_close(f->srv.st);
	registry_free(f->srv.reg);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static size_t
nchans(const struct server *srv)
{
	size_t n = 0;

	for (const struct chan *h = srv->chans; h != NULL; h = h->next)
		n++;
	return n;
}

/* One turn of the main loop's channel work: pump every channel, reap the dead. */
static void
turn(struct server *srv)
{
	struct chan *h, *next;

	for (h = srv->chans; h != NULL; h = h->next)
		chan_pump(h);
	for (h = srv->chans; h != NULL; h = next) {
		next = h->next;
		if (h->dead)
			chan_reap(h);
	}
}

/* Turns until no channel is left; fails after a few. */
static void
run_until_empty(struct server *srv)
{
	for (int i = 0; i < 5 && srv->chans != NULL; i++)
		turn(srv);
	assert_null(srv->chans);
}

/* What libssh calls when the peer closes the channel. */
static void
peer_closes(struct chan *h)
{
	h->cb.channel_close_function(NULL, h->ch, h->cb.userdata);
	assert_true(h->close_rcvd);
	assert_true(h->eof_rcvd);
}

static struct chan *
new_client(struct fixture *f)
{
	struct chan *cl = chan_new(&f->user, ssh_channel_new(f->user.s), &chan_splice_client, NULL);

	assert_non_null(cl);
	route_link(cl, &f->device, "pi.acme", 7, 22, "127.0.0.1", 50000);
	assert_ptr_equal(cl->ops, &chan_splice_client);
	assert_int_equal(nchans(&f->srv), 2);
	assert_int_equal(f->device.nchans, 1);
	return cl;
}

static struct chan *
device_side(struct fixture *f)
{
	for (struct chan *h = f->srv.chans; h != NULL; h = h->next)
		if (h->ops == &chan_splice_device)
			return h;
	fail_msg("no device side");
	return NULL;
}

/* Both close; the client side is reaped first and its partner follows. */
static void
test_splice_client_side_first(void **state)
{
	struct fixture *f = *state;
	struct chan *cl = new_client(f), *dv = device_side(f);

	peer_closes(cl);
	peer_closes(dv);
	chan_kill(cl);
	chan_kill(cl);		/* idempotent */
	turn(&f->srv);
	assert_int_equal(nchans(&f->srv), 1);
	assert_ptr_equal(f->srv.chans, dv);
	run_until_empty(&f->srv);
}

/* Both close; the device side goes first: an unopened route becomes a refusal, then closes. */
static void
test_splice_device_side_first(void **state)
{
	struct fixture *f = *state;
	struct chan *cl = new_client(f), *dv = device_side(f);

	peer_closes(dv);
	peer_closes(cl);
	chan_kill(dv);
	for (struct chan *h = f->srv.chans, *n; h != NULL; h = n) {
		n = h->next;
		if (h->dead)
			chan_reap(h);
	}
	assert_int_equal(nchans(&f->srv), 1);
	turn(&f->srv);
	assert_true(cl->dead || cl->ops == &chan_refusal);
	run_until_empty(&f->srv);
}

/* The device's session ends while the route opens: the client is told why, then closes. */
static void
test_splice_device_session_gone(void **state)
{
	struct fixture *f = *state;

	struct chan *cl = new_client(f);

	chan_session_gone(&f->device);
	assert_null(device_side(f)->conn);
	turn(&f->srv);
	assert_ptr_equal(cl->ops, &chan_refusal);	/* "device ... went offline" */
	assert_int_equal(nchans(&f->srv), 1);
	peer_closes(cl);
	run_until_empty(&f->srv);
}

/* The technician's session ends under the route. */
static void
test_splice_user_session_gone(void **state)
{
	struct fixture *f = *state;

	new_client(f);
	chan_session_gone(&f->user);
	run_until_empty(&f->srv);
}

/* What libssh calls when len bytes are buffered for h (new and old); returns what h took. */
static int
arrives(struct chan *h, uint32_t len)
{
	static char bytes[LIM_RELAY_QUEUE + (2 << 20)];

	return h->cb.channel_data_function(NULL, h->ch, bytes, len, 0, h->cb.userdata);
}

/*
 * A technician's bytes: left in libssh while the device's side opens (a
 * refusal must still find the client's first bytes), then taken on arrival
 * into the channel's queue up to LIM_RELAY_QUEUE, so libssh's buffer holds
 * no more than a packet; past the bound the rest stays in libssh, and both
 * count in the user's account. Bytes from the device stay in libssh.
 */
static void
test_splice_client_data(void **state)
{
	struct fixture *f = *state;
	struct chan *cl = new_client(f), *dv = device_side(f);
	struct splice *sp = cl->data;

	assert_int_equal(arrives(cl, 0), 0);
	assert_int_equal(arrives(cl, 100), 0);		/* opening: stays in libssh */
	assert_int_equal(cl->pending, 100);
	assert_int_equal(sp->q.len, 0);
	assert_int_equal(sp->counted, 100);
	sp->route->opened = true;
	assert_int_equal(arrives(cl, 100 + 32768), 100 + 32768);	/* the old bytes first, then the packet */
	assert_int_equal(cl->pending, 0);
	assert_int_equal(sp->q.len, 100 + 32768);
	assert_int_equal(sp->counted, chunkq_footprint(&sp->q));
	while (sp->q.len + 32768 <= LIM_RELAY_QUEUE)
		assert_int_equal(arrives(cl, 32768), 32768);
	size_t room = LIM_RELAY_QUEUE - sp->q.len;
	assert_true(room < 32768);
	assert_int_equal(arrives(cl, 32768), (int)room);	/* up to the bound */
	assert_int_equal(cl->pending, 32768 - room);
	assert_int_equal(arrives(cl, cl->pending + 32768), 0);	/* then nothing: the window stops */
	assert_int_equal(cl->pending, 65536 - room);
	assert_int_equal(sp->q.len, LIM_RELAY_QUEUE);
	assert_int_equal(sp->counted, chunkq_footprint(&sp->q) + cl->pending);

	assert_int_equal(arrives(dv, 5000), 0);
	assert_int_equal(dv->pending, 5000);
	assert_int_equal(SP(dv)->counted, 0);
	assert_int_equal(SP(dv)->q.len, 0);

	peer_closes(cl);
	peer_closes(dv);
	chan_kill(cl);
	run_until_empty(&f->srv);
}

/*
 * Past the queue's bound bytes wait in libssh, whose buffer keeps the size
 * it grew to once they have gone: that memory counts as the user's pinned,
 * and above LIM_PRINCIPAL_PINNED the next channel's queue takes its bytes
 * instead (counted in the account, which pauses the user).
 */
static void
test_splice_pinned_bound(void **state)
{
	struct fixture *f = *state;
	enum { PARK = 1 << 20, N = LIM_PRINCIPAL_PINNED / PARK + 1 };
	struct chan *cl[N];

	for (int i = 0; i < N; i++) {
		cl[i] = chan_new(&f->user, ssh_channel_new(f->user.s), &chan_splice_client, NULL);
		assert_non_null(cl[i]);
		route_link(cl[i], &f->device, "pi.acme", 7, 22, "127.0.0.1", 50000);
		assert_ptr_equal(cl[i]->ops, &chan_splice_client);
		struct splice *sp = cl[i]->data;
		sp->route->opened = true;
		assert_int_equal(arrives(cl[i], LIM_RELAY_QUEUE), LIM_RELAY_QUEUE);
		if (i < N - 1) {
			assert_int_equal(arrives(cl[i], PARK), 0);	/* parks: the window stops */
			assert_true(sp->parked);
			assert_int_equal(cl[i]->pending, PARK);
			assert_int_equal(sp->pinned, 0);
			assert_int_equal(arrives(cl[i], 0), 0);		/* they went on; the buffer stays */
			assert_int_equal(cl[i]->pending, 0);
			assert_int_equal(sp->pinned, PARK);
		} else {
			assert_int_equal(arrives(cl[i], 32768), 32768);	/* over the bound: queued */
			assert_false(sp->parked);
			assert_int_equal(cl[i]->pending, 0);
			assert_int_equal(sp->q.len, LIM_RELAY_QUEUE + 32768);
		}
	}
	chan_session_gone(&f->user);
	run_until_empty(&f->srv);
}

/* An exec channel drops stdin nobody asked for, and closes when the client does. */
static void
test_exec_reap_on_close(void **state)
{
	struct fixture *f = *state;
	struct chan *h = exec_chan_new(&f->user, ssh_channel_new(f->user.s));
	char junk[100] = "stdin nobody reads";

	assert_non_null(h);
	assert_ptr_equal(h->ops, &chan_exec);
	assert_int_equal(h->cb.channel_data_function(NULL, h->ch, junk, sizeof(junk), 0,
	    h->cb.userdata), (int)sizeof(junk));
	assert_int_equal(h->cb.channel_data_function(NULL, h->ch, junk, sizeof(junk), 1,
	    h->cb.userdata), (int)sizeof(junk));
	assert_int_equal(h->pending, 0);
	turn(&f->srv);
	assert_false(h->dead);	/* no command yet, client still there */
	peer_closes(h);
	run_until_empty(&f->srv);
}

/* A refusal waits for the client's identification; the client closes first, or the wait ends. */
static void
test_refusal_reap(void **state)
{
	struct fixture *f = *state;

	refuse_open(&f->user, ssh_channel_new(f->user.s), "no device named %s", "x.y");
	struct chan *h = f->srv.chans;
	assert_non_null(h);
	assert_ptr_equal(h->ops, &chan_refusal);
	/* splice-kind data is left in libssh's buffer and counted */
	assert_int_equal(h->cb.channel_data_function(NULL, h->ch, "SS", 2, 0, h->cb.userdata), 0);
	assert_int_equal(h->pending, 2);
	turn(&f->srv);
	assert_false(h->dead);
	peer_closes(h);
	run_until_empty(&f->srv);

	refuse_open(&f->user, ssh_channel_new(f->user.s), "quiet client");
	turn(&f->srv);
	assert_non_null(f->srv.chans);
	f->srv.now_ms += f->cfg.refuse_wait * 1000L;
	run_until_empty(&f->srv);
}

static struct chan *
new_wait(struct fixture *f)
{
	wake_wait_open(&f->user, ssh_channel_new(f->user.s), 7, "pi.acme", 22, "127.0.0.1", 50000);
	struct chan *h = f->srv.chans;
	assert_non_null(h);
	assert_ptr_equal(h->ops, &chan_wake_wait);
	turn(&f->srv);
	assert_false(h->dead);	/* still waiting */
	return h;
}

/* A kill while waiting for a wake (a session kill, a revoke): the wait's data goes with it. */
static void
test_kill_during_wake(void **state)
{
	struct fixture *f = *state;

	chan_kill(new_wait(f));
	run_until_empty(&f->srv);

	new_wait(f);
	chan_session_gone(&f->user);
	run_until_empty(&f->srv);

	peer_closes(new_wait(f));	/* the client gives up */
	run_until_empty(&f->srv);

	new_wait(f);
	f->srv.now_ms += f->cfg.wake_timeout * 1000L;
	turn(&f->srv);		/* becomes a refusal */
	assert_ptr_equal(f->srv.chans->ops, &chan_refusal);
	chan_kill(f->srv.chans);
	run_until_empty(&f->srv);
}

/* The device registers while a channel waits: the wait becomes a route, then a kill of both. */
static void
test_wake_then_route_then_kill(void **state)
{
	struct fixture *f = *state;
	struct chan *h = new_wait(f);

	assert_null(registry_set(f->srv.reg, 7, &f->device));
	turn(&f->srv);
	assert_ptr_equal(h->ops, &chan_splice_client);
	assert_int_equal(nchans(&f->srv), 2);
	route_recheck(h);	/* alice may not reach device 7 in an empty store */
	assert_true(h->dead);
	assert_true(device_side(f)->dead);
	run_until_empty(&f->srv);
	registry_del(f->srv.reg, 7, &f->device);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_splice_client_side_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_device_side_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_device_session_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_user_session_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_client_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_pinned_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_reap_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_reap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_then_route_then_kill, setup, teardown),
	};
	log_init("test_chan", LOG_LVL_ERROR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
