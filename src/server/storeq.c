/*
 * storeq.c: the store thread, the loop's in-memory mirror of the store, and
 * the write-behind queue between them (storeq.h; docs/ARCHITECTURE.md,
 * "The store thread").
 *
 * Locking: one mutex guards the queue and the hand-over fields; both sides
 * hold it only to move pointers and fold records, never across a query.
 * The invariant that keeps the mirror right: the thread writes the queue
 * to the real store before it copies the real store into a fresh mirror,
 * and writes nothing more until the loop has taken that mirror
 * (swap_pending); the loop then re-applies what is still queued to it.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "server/metrics.h"
#include "server/pseqwin.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/storeops.h"
#include "server/storeq.h"

/*
 * How the thread learns that someone else changed the real store, so that
 * a key `outpost user add` just added logs in at once and a revoke ends
 * sessions at once (the loop answers from the mirror only): on PostgreSQL
 * it LISTENs (store_wait_notify: the notification wakes it) and reads the
 * change counter only with the look at the nodes' up/down state every
 * NODES_LOOK_MS (or NOTIFY_CHECK_MS), a check that also finds a silent
 * connection; on SQLite, which has no notifications, it reads the
 * counter (a local read of microseconds) every 25 ms.
 */
#define NOTIFY_CHECK_MS	10000
#define POLL_LOCAL_MS	25
#define POLL_MS		50	/* a PostgreSQL schema without the notifying triggers (before migration 10) */
#define BATCH_MS	20	/* after the first queued record, wait for more to batch */
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000
#define STOP_WAIT_S	10	/* storeq_stop waits this long for the last writes */
/*
 * Presence catch-up reads from this far before the last pseq seen: a
 * presence write outside the writers' lock may commit after a later pseq
 * (rows are each device's current state, so reading one twice is harmless).
 */
#define PRESENCE_OVERLAP	256
_Static_assert(PRESENCE_OVERLAP < PSEQWIN_SIZE, "the orders handed must cover every read's overlap");
#define PRESENCE_MAX	65536	/* rows handed to the loop at once; past it, a full copy */
#define NODES_LOOK_MS	1000	/* how often the thread reads the nodes' rows (a node goes down silently) */

struct storeq {
	struct server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct storeops q;
	bool stop, poke;
	bool force_copy;		/* the loop asks for a full copy */
	bool swap_pending;		/* fresh is filled; the loop has not taken it */
	struct store *fresh;		/* a filled mirror for the loop */
	struct store *retired;		/* the loop's old mirror, for the thread to close */
	struct store_presence *rows;	/* presence rows for the loop, in the thread's order */
	size_t nrows, rows_cap;
	size_t rows_stale;		/* the first rows_stale predate fresh: not applied to it */
	struct store_node *node_rows;	/* the nodes' rows for the loop's mirror (frozen by their up) */
	size_t nnode_rows;
	bool nodes_ready;		/* node_rows waits for the loop (newer than fresh, if any) */
	/* the thread's own */
	struct store *real;		/* the store; its backend reconnects by itself */
	int64_t seen;			/* the real store's change counter at the last copy */
	int64_t last_pseq;		/* the newest presence order read or copied */
	struct pseqwin handed;		/* the orders of the overlap already handed to the loop */
	struct store_node *nodes_seen;	/* the nodes as the loop's mirror has them, or will */
	size_t nnodes_seen;
	int64_t next_nodes_ms;		/* the next read of the nodes' rows */
	bool reload;			/* copy even if the counter did not move */
	int64_t next_poll_ms, next_try_ms, down_since_ms;
	int64_t backoff_ms;
	int poll_ms;			/* NOTIFY_CHECK_MS or POLL_LOCAL_MS */
	bool listening;			/* store_listen took: the thread waits on notifications */
	bool look_after_swap;		/* a change came while a mirror waited for the loop */
	unsigned notified;		/* STORE_NOTIFY_* not acted on yet */
	int wake_fd;			/* listening: an eventfd the loop's side writes to wake the thread */
	/* the loop's own */
	struct watch watch;
	bool full_logged;
	/* either */
	atomic_bool unreachable;
	atomic_bool stopping;		/* storeq_stopping: the loop takes no more mirrors */
	atomic_uint_fast64_t written, batches, reloads, refused, dropped, depth;
	atomic_uint_fast64_t node_updates;	/* nodes' rows handed to the loop without a full copy */
	atomic_int_fast64_t failures;	/* the real store's store_failures, over reconnects */
	atomic_uint_fast64_t notifies;	/* notifications acted on */
	atomic_int_fast64_t contact_ms;	/* the thread's last successful round trip with the real store */
	int64_t locked_since_ms;	/* the thread's: writes wait for another writer's lock since */
	atomic_uint_fast64_t lock_waits;	/* drains that found the lock held through the store's wait */
	bool cut_off;			/* the loop's: it dropped its device sessions for that */
	atomic_uint_fast64_t cutoff_drops;	/* device sessions dropped for it */
};

/* The real store answered (thread). */
static void
contact(struct storeq *sq)
{
	atomic_store(&sq->contact_ms, timefmt_mono_ms());
}

/* Wakes the thread (under mu): its condition variable, or its eventfd while it waits on the store. */
static void
wake_thread(struct storeq *sq)
{
	uint64_t one = 1;

	pthread_cond_signal(&sq->cv);
	if (sq->wake_fd >= 0 && write(sq->wake_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		log_warn("store: cannot wake the store thread: %s", strerror(errno));
}

/* Publishes the real store's failure count for metrics (thread). */
static void
note_failures(struct storeq *sq)
{
	atomic_store(&sq->failures, store_failures(sq->real));
}

static int64_t
mono_ms(void)
{
	return timefmt_mono_ms();
}

/* Waits on cv until deadline (CLOCK_MONOTONIC ms) or a signal. */
static void
wait_until(struct storeq *sq, int64_t deadline_ms)
{
	struct timespec ts = { .tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000 };

	pthread_cond_timedwait(&sq->cv, &sq->mu, &ts);
}

/* Copies the real store into a fresh mirror: every record and the live sessions (kicks). */
static int
fill(struct store *real, struct store *m, char *why, size_t whylen)
{
	return store_copy_flags(real, m, STORE_COPY_FORCE | STORE_COPY_SESSIONS, NULL, why, whylen);
}

/*
 * Gives a closed mirror's pages back to the kernel, and those of the
 * result sets a fill read from the real store: glibc keeps freed memory in
 * the middle of its heaps, so a node held about two mirrors' worth after
 * its first refill (docs/BENCHMARKS.md, "Where a node's memory goes").
 * malloc_trim takes each arena's lock in turn, the loop's too, for the
 * walk of its free chunks: a few milliseconds, once per refill.
 */
static void
give_back(void)
{
	malloc_trim(0);
}

/* ---- the thread ---- */

/* The real store is gone: close it, refuse logins, back off. */
static void
went_unreachable(struct storeq *sq, const char *why)
{
	size_t queued;

	pthread_mutex_lock(&sq->mu);
	queued = sq->q.len;
	pthread_mutex_unlock(&sq->mu);
	log_warn("store: the state store is unreachable (%s): new logins are refused until it is "
	    "back; established sessions go on; %zu writes wait", why, queued);
	note_failures(sq);
	atomic_store(&sq->unreachable, true);
	sq->down_since_ms = mono_ms();
	sq->backoff_ms = BACKOFF_MIN_MS;
	sq->next_try_ms = sq->down_since_ms + sq->backoff_ms;
}

/* r failed a call on the real store: was it the connection (a probe says so)? */
static bool
lost(struct storeq *sq, int r)
{
	return r == ERR_UNREACHABLE || (r == ERR_STORE && store_change_counter(sq->real) < 0);
}

/* A probe: the backend reconnects at its next statement (pg.c ensure_connected). */
static void
reconnect(struct storeq *sq)
{
	if (store_change_counter(sq->real) < 0) {
		sq->backoff_ms = sq->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sq->backoff_ms * 2;
		sq->next_try_ms = mono_ms() + sq->backoff_ms;
		log_debug("store: still unreachable (%s); next try in %lld s", store_errmsg(sq->real),
		    (long long)sq->backoff_ms / 1000);
		return;
	}
	pthread_mutex_lock(&sq->mu);
	size_t queued = sq->q.len;
	pthread_mutex_unlock(&sq->mu);
	log_info("store: the state store is reachable again after %lld s; new logins are accepted; "
	    "%zu queued writes follow", (long long)(mono_ms() - sq->down_since_ms + 500) / 1000, queued);
	sq->reload = true;
	contact(sq);
	atomic_store(&sq->unreachable, false);
}

/*
 * Writes list to the real store in one transaction. A record the store
 * refuses (its device removed meanwhile) is dropped with a log line; the
 * rest are then written one by one. Returns NULL, or what is still to be
 * written when the connection was lost or another writer held the lock
 * past the store's wait (*locked; the caller puts it back either way).
 */
static struct storeop *
write_list(struct storeq *sq, struct storeop *list, bool *locked)
{
	struct store *st = sq->real;
	uint64_t n = 0;
	int r = store_batch_begin(st);

	for (const struct storeop *op = list; op != NULL; op = op->next)
		n++;
	for (struct storeop *op = list; r == 0 && op != NULL; op = op->next)
		if ((r = storeop_apply(st, op)) == ERR_NOTFOUND || r == ERR_DENIED)
			r = 0;	/* its device or session went meanwhile, or a newer registration holds it */
	if (r == 0)
		r = store_batch_commit(st);
	else
		store_batch_rollback(st);
	*locked = r == ERR_LOCKED;
	if (*locked)
		return list;	/* nothing of it written: all of it again, in order */
	if (r == 0) {
		contact(sq);
		atomic_fetch_add(&sq->written, n);
		atomic_fetch_add(&sq->batches, 1);
		log_debug("store: wrote %llu queued records in one transaction", (unsigned long long)n);
		return NULL;
	}
	if (lost(sq, r))
		return list;
	/* PostgreSQL aborts a whole transaction for one bad statement: one by one */
	uint64_t failed = 0;
	char first[300] = "";
	for (struct storeop *op = list; op != NULL; op = op->next) {
		if ((r = storeop_apply(st, op)) == ERR_DENIED)
			r = 0;
		if (r == ERR_LOCKED) {
			*locked = true;
			return op;
		}
		if (r != 0 && r != ERR_NOTFOUND && lost(sq, r))
			return op;
		if (r != 0 && r != ERR_NOTFOUND && failed++ == 0)
			snprintf(first, sizeof(first), "%s of %lld: %s", storeop_name(op), (long long)op->id,
			    store_errmsg(st));
		else if (r == 0 || r == ERR_NOTFOUND)
			atomic_fetch_add(&sq->written, 1);
	}
	if (failed > 0)
		log_warn("store: %llu of %llu queued writes were refused and dropped (%s)",
		    (unsigned long long)failed, (unsigned long long)n, first);
	return NULL;
}

/* Writes what is queued, unless a mirror waits for the loop. false: the store was lost. */
static bool
drain(struct storeq *sq)
{
	struct storeop *list;

	pthread_mutex_lock(&sq->mu);
	list = sq->swap_pending ? NULL : storeops_take(&sq->q);
	atomic_store(&sq->depth, sq->q.len);
	pthread_mutex_unlock(&sq->mu);
	if (list == NULL)
		return true;
	bool locked = false;
	int64_t t0 = mono_ms();
	struct storeop *left = write_list(sq, list, &locked);
	if (left == NULL) {
		if (sq->locked_since_ms != 0)
			log_info("store: the state store's lock is free again after %lld s; the queued writes "
			    "are written", (long long)(mono_ms() - sq->locked_since_ms + 500) / 1000);
		sq->locked_since_ms = 0;
		storeop_free_list(list);
		return true;
	}
	for (struct storeop *op = list; op != left; ) {	/* written before the loss */
		struct storeop *next = op->next;
		storeop_free(op);
		op = next;
	}
	pthread_mutex_lock(&sq->mu);
	storeops_unget(&sq->q, left);
	size_t waiting = sq->q.len;
	atomic_store(&sq->depth, waiting);
	pthread_mutex_unlock(&sq->mu);
	if (!locked) {
		went_unreachable(sq, store_errmsg(sq->real));
		return false;
	}
	/*
	 * Another writer (an `outpost` command, a backup, sqlite3) held the
	 * lock through the store's whole wait: the writes stay queued, in
	 * order, and the next round tries again. The store is not lost: its
	 * readers go on, and so do logins (the loop reads its mirror).
	 */
	atomic_fetch_add(&sq->lock_waits, 1);
	if (sq->locked_since_ms == 0) {
		sq->locked_since_ms = t0;
		log_warn("store: another writer holds the state store's lock (%s); %zu writes wait for it",
		    store_errmsg(sq->real), waiting);
	}
	return true;
}

static int
top_pseq(void *arg, const struct store_presence *p)
{
	int64_t *top = arg;

	if (p->pseq > *top)
		*top = p->pseq;
	return 0;
}

/* The newest presence order in a store (a fresh mirror: local, quick). */
static int64_t
max_pseq(struct store *m)
{
	int64_t top = 0;

	store_presence_since(m, 0, NULL, top_pseq, &top);
	return top;
}

/* Rows the thread read, on their way to the loop (bounded by PRESENCE_MAX). */
struct collect {
	struct store_presence *v;
	size_t len, cap;
	bool more;		/* past PRESENCE_MAX: the rest next round */
};

static int
collect_row(void *arg, const struct store_presence *p)
{
	struct collect *c = arg;

	if (c->len >= PRESENCE_MAX) {
		c->more = true;
		return 0;
	}
	if (c->len == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct store_presence *v = realloc(c->v, cap * sizeof(*v));
		if (v == NULL) {
			c->more = true;
			return 0;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->len++] = *p;
	return 0;
}

/*
 * A presence notification: the rows changed since the last pseq, handed to
 * the loop (storeq_ready applies them to its mirror and drops its own
 * device sessions that another node registered since).
 */
static void
read_presence(struct storeq *sq)
{
	struct collect c = { 0 };
	int64_t from = sq->last_pseq > PRESENCE_OVERLAP ? sq->last_pseq - PRESENCE_OVERLAP : 0;
	int r = store_presence_since(sq->real, from, sq->srv->node_name, collect_row, &c);

	if (r != 0) {
		free(c.v);
		if (lost(sq, r))
			went_unreachable(sq, store_errmsg(sq->real));
		else
			log_warn("store: cannot read presence changes: %s", store_errmsg(sq->real));
		return;
	}
	contact(sq);
	/* the overlap's rows the loop already has are not handed again */
	size_t k = 0;
	for (size_t i = 0; i < c.len; i++)
		if (!pseqwin_seen(&sq->handed, c.v[i].pseq))
			c.v[k++] = c.v[i];
	c.len = k;
	for (size_t i = 0; i < c.len; i++) {
		pseqwin_add(&sq->handed, c.v[i].pseq);
		if (c.v[i].pseq > sq->last_pseq)
			sq->last_pseq = c.v[i].pseq;
	}
	if (c.len == 0) {
		free(c.v);
		return;
	}
	pthread_mutex_lock(&sq->mu);
	if (c.more)
		sq->notified |= STORE_NOTIFY_PRESENCE;	/* the rest next round */
	if (sq->nrows + c.len > PRESENCE_MAX) {
		/* the loop is far behind: a full copy tells it everything */
		sq->reload = true;
		free(c.v);
	} else if (sq->rows == NULL) {
		sq->rows = c.v;
		sq->nrows = c.len;
		sq->rows_cap = c.cap;
	} else {
		if (sq->nrows + c.len > sq->rows_cap) {
			struct store_presence *v = realloc(sq->rows, (sq->nrows + c.len) * sizeof(*v));
			if (v == NULL) {
				sq->reload = true;
				c.len = 0;
			} else {
				sq->rows = v;
				sq->rows_cap = sq->nrows + c.len;
			}
		}
		memcpy(sq->rows + sq->nrows, c.v, c.len * sizeof(*c.v));
		sq->nrows += c.len;
		free(c.v);
	}
	pthread_mutex_unlock(&sq->mu);
	uint64_t one = 1;
	if (write(sq->watch.fd, &one, sizeof(one)) != sizeof(one))
		log_warn("store: cannot wake the loop: %s", strerror(errno));
	log_debug("store: %zu presence changes for the loop (up to presence order %lld)", c.len,
	    (long long)sq->last_pseq);
}

/* ---- the nodes' rows, without a full copy ---- */

#define NODES_MAX	4096	/* rows the thread reads; more is a broken store */

/* Node rows as the thread read them: heartbeat cleared (only up counts). */
struct node_list {
	struct store_node *v;
	size_t len, cap;
};

static int
collect_node(void *arg, const struct store_node *n)
{
	struct node_list *l = arg;

	if (l->len >= NODES_MAX)
		return ERR_TOOLONG;
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct store_node *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->len] = *n;
	l->v[l->len].heartbeat = 0;
	l->v[l->len].devices = l->v[l->len].stranded = 0;
	l->len++;
	return 0;
}

/* st's nodes and their up/down state at now into *l (freed by the caller, also on failure). */
static int
node_list_read(struct store *st, int64_t now, struct node_list *l)
{
	memset(l, 0, sizeof(*l));
	return store_node_scan(st, now, collect_node, l);
}

static bool
same_node(const struct store_node *a, const struct store_node *b)
{
	return a->id == b->id && a->up == b->up && a->started == b->started &&
	    strcmp(a->name, b->name) == 0 && strcmp(a->peer_addr, b->peer_addr) == 0 &&
	    strcmp(a->node_key, b->node_key) == 0 && strcmp(a->version, b->version) == 0;
}

static bool
same_nodes(const struct store_node *a, size_t na, const struct store_node *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!same_node(&a[i], &b[i]))
			return false;
	return true;
}

/*
 * Reads the nodes' rows and up/down state on the real store (every
 * NODES_LOOK_MS, and on a presence notification: a node registering or
 * stopping notifies it); when they differ from the mirror's, hands them to
 * the loop (storeq_ready writes them into its mirror: store_node_mirror),
 * instead of a full copy of everything for one node's row.
 */
static void
look_at_nodes(struct storeq *sq)
{
	struct node_list l;
	int r = node_list_read(sq->real, timefmt_now(), &l);

	sq->next_nodes_ms = mono_ms() + NODES_LOOK_MS;
	if (r != 0) {
		free(l.v);
		if (lost(sq, r))
			went_unreachable(sq, store_errmsg(sq->real));
		else
			log_warn("store: cannot read the nodes: %s", store_errmsg(sq->real));
		return;
	}
	contact(sq);
	if (same_nodes(l.v, l.len, sq->nodes_seen, sq->nnodes_seen)) {
		free(l.v);
		return;
	}
	struct store_node *copy = l.len > 0 ? malloc(l.len * sizeof(*copy)) : NULL;
	if (l.len > 0 && copy == NULL) {
		free(l.v);
		sq->reload = true;	/* out of memory: the next look copies everything */
		return;
	}
	if (l.len > 0)
		memcpy(copy, l.v, l.len * sizeof(*copy));
	free(sq->nodes_seen);
	sq->nodes_seen = l.v;
	sq->nnodes_seen = l.len;
	pthread_mutex_lock(&sq->mu);
	free(sq->node_rows);
	sq->node_rows = copy;
	sq->nnode_rows = l.len;
	sq->nodes_ready = true;
	pthread_mutex_unlock(&sq->mu);
	uint64_t one = 1;
	if (write(sq->watch.fd, &one, sizeof(one)) != sizeof(one))
		log_warn("store: cannot wake the loop: %s", strerror(errno));
	log_debug("store: the nodes' rows changed (%zu nodes): the loop's copy takes them", l.len);
}

/* Fills a fresh mirror from the real store and hands it to the loop. */
static void
copy_to_loop(struct storeq *sq, int64_t counter)
{
	char why[512];
	struct store *m = NULL;
	int64_t t0 = mono_ms(), now = timefmt_now();
	int r = store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why));
	struct node_list seen = { 0 };

	if (r == 0 && (r = fill(sq->real, m, why, sizeof(why))) == 0 &&
	    ((r = store_node_freeze(m, now)) != 0 || (r = node_list_read(m, now, &seen)) != 0))
		snprintf(why, sizeof(why), "%s", store_errmsg(m));
	if (r == 0) {
		free(sq->nodes_seen);
		sq->nodes_seen = seen.v;
		sq->nnodes_seen = seen.len;
		seen.v = NULL;
		sq->next_nodes_ms = mono_ms() + NODES_LOOK_MS;
		contact(sq);	/* a long copy is an answer too */
		atomic_fetch_add(&sq->reloads, 1);	/* before the loop can see it */
		int64_t top = max_pseq(m);
		pthread_mutex_lock(&sq->mu);
		sq->fresh = m;
		sq->swap_pending = true;
		sq->rows_stale = sq->nrows;	/* the copy is newer than the rows waiting */
		free(sq->node_rows);		/* and than the nodes' rows waiting */
		sq->node_rows = NULL;
		sq->nnode_rows = 0;
		sq->nodes_ready = false;
		pthread_mutex_unlock(&sq->mu);
		if (top > sq->last_pseq)
			sq->last_pseq = top;
		uint64_t one = 1;
		if (write(sq->watch.fd, &one, sizeof(one)) != sizeof(one))
			log_warn("store: cannot wake the loop: %s", strerror(errno));
		sq->seen = counter;
		sq->reload = false;
		log_debug("store: a fresh copy for the loop in %lld ms (change counter %lld)",
		    (long long)(mono_ms() - t0), (long long)counter);
		return;
	}
	free(seen.v);
	store_close(m);
	give_back();
	if (lost(sq, r))
		went_unreachable(sq, why);
	else
		log_warn("store: cannot refresh outpostd's copy of the store: %s", why);
}

/* The real store changed (or must be read again): a fresh mirror, after the queue. */
static void
look_for_changes(struct storeq *sq)
{
	/* first: a look skipped must still move its deadline, or the thread
	 * finds it due at every round and spins (test_stopping_sleeps) */
	sq->next_poll_ms = mono_ms() + sq->poll_ms;
	if (atomic_load(&sq->stopping))
		return;		/* a copy nobody would take (100,000 devices: seconds) */
	pthread_mutex_lock(&sq->mu);
	bool pending = sq->swap_pending;
	pthread_mutex_unlock(&sq->mu);
	if (pending) {
		sq->look_after_swap = true;	/* the next look, when the loop took it */
		return;
	}
	sq->look_after_swap = false;
	int64_t counter = store_change_counter(sq->real);
	if (counter < 0) {
		went_unreachable(sq, store_errmsg(sq->real));
		return;
	}
	contact(sq);
	if (counter != sq->seen || sq->reload)
		copy_to_loop(sq, counter);
}

/* One round: close a retired mirror, reconnect if due, write the queue, look for changes, read presence. */
static void
round_once(struct storeq *sq, bool looking, bool presence)
{
	pthread_mutex_lock(&sq->mu);
	struct store *old = sq->retired;
	sq->retired = NULL;
	pthread_mutex_unlock(&sq->mu);
	if (old != NULL) {
		store_close(old);
		give_back();
	}
	if (atomic_load(&sq->unreachable)) {
		if (mono_ms() < sq->next_try_ms)
			return;
		reconnect(sq);
		if (atomic_load(&sq->unreachable))
			return;
		looking = true;
	}
	if (drain(sq) && (looking || sq->reload))
		look_for_changes(sq);
	bool stopping = atomic_load(&sq->stopping);	/* what the loop will not read any more */
	if ((presence || mono_ms() >= sq->next_nodes_ms) && !stopping && !atomic_load(&sq->unreachable))
		look_at_nodes(sq);	/* a node's row, or its up/down state, changed? */
	else if (stopping && mono_ms() >= sq->next_nodes_ms)
		sq->next_nodes_ms = mono_ms() + NODES_LOOK_MS;	/* skipped: not due again at once */
	if (presence && !stopping && !atomic_load(&sq->unreachable))
		read_presence(sq);
	if (!atomic_load(&sq->unreachable))
		note_failures(sq);
}

/* The last writes before outpostd stops: one more connection attempt if the store was lost. */
static void
finish(struct storeq *sq)
{
	if (atomic_load(&sq->unreachable))
		reconnect(sq);
	if (!atomic_load(&sq->unreachable))
		drain(sq);
	pthread_mutex_lock(&sq->mu);
	size_t left = sq->q.len;
	pthread_mutex_unlock(&sq->mu);
	if (left > 0)
		log_warn("store: %zu queued writes are lost: %s", left, sq->locked_since_ms != 0 ?
		    "another writer held the state store's lock" : "the state store is unreachable");
}

/*
 * Waits (mu held on entry and exit, released meanwhile) for a notification
 * on the real store, the loop's wake or timeout_ms. A lost connection
 * counts as a change: the look that follows finds the store unreachable.
 */
static void
wait_notify(struct storeq *sq, int timeout_ms)
{
	unsigned which = 0;
	uint64_t n;

	pthread_mutex_unlock(&sq->mu);
	int r = store_wait_notify(sq->real, sq->wake_fd, timeout_ms, &which);
	if (which & STORE_NOTIFY_WAKE) {
		if (read(sq->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			log_warn("store: the store thread's eventfd: %s", strerror(errno));
	}
	if (which & (STORE_NOTIFY_CHANGE | STORE_NOTIFY_PRESENCE)) {
		atomic_fetch_add(&sq->notifies, 1);
		log_debug("store: notified (%s%s)", which & STORE_NOTIFY_CHANGE ? " change" : "",
		    which & STORE_NOTIFY_PRESENCE ? " presence" : "");
	}
	if (r != 0) {
		log_debug("store: waiting for notifications: %s", store_errmsg(sq->real));
		which |= STORE_NOTIFY_CHANGE;
	}
	pthread_mutex_lock(&sq->mu);
	sq->notified |= which & (STORE_NOTIFY_CHANGE | STORE_NOTIFY_PRESENCE);
}

static void *
run(void *arg)
{
	struct storeq *sq = arg;

	pthread_mutex_lock(&sq->mu);
	for (;;) {
		int64_t now = mono_ms();
		bool down = atomic_load(&sq->unreachable);
		int64_t due = down ? sq->next_try_ms :
		    sq->next_nodes_ms < sq->next_poll_ms ? sq->next_nodes_ms : sq->next_poll_ms;
		bool queued = sq->q.len > 0 && !sq->swap_pending && !down;
		bool changed = !down && !sq->swap_pending &&
		    ((sq->notified & STORE_NOTIFY_CHANGE) || sq->look_after_swap);
		bool presence = !down && (sq->notified & STORE_NOTIFY_PRESENCE);
		if (sq->stop)
			break;
		if (sq->force_copy) {
			sq->force_copy = false;
			sq->reload = true;
			sq->poke = true;
		}
		if (!sq->poke && !queued && !changed && !presence && now < due) {
			if (sq->listening && !down)
				wait_notify(sq, (int)(due - now));
			else
				wait_until(sq, due);
			continue;
		}
		bool looking = sq->poke || now >= due || changed;
		sq->poke = false;
		if (changed)
			sq->notified &= ~STORE_NOTIFY_CHANGE;
		sq->notified &= ~STORE_NOTIFY_PRESENCE;
		pthread_mutex_unlock(&sq->mu);
		if (queued && !looking && !presence) {
			struct timespec batch = { .tv_nsec = BATCH_MS * 1000000L };
			nanosleep(&batch, NULL);	/* let a storm's records gather into one drain */
		}
		round_once(sq, looking, presence);
		pthread_mutex_lock(&sq->mu);
	}
	pthread_mutex_unlock(&sq->mu);
	finish(sq);
	return NULL;
}

/* ---- the loop's side ---- */

/* Queues op, written to the mirror already; wakes the thread if the queue was empty. */
static void
enqueue(struct storeq *sq, struct storeop *op)
{
	const char *name = storeop_name(op);
	int64_t id = op->id;

	pthread_mutex_lock(&sq->mu);
	bool was_empty = sq->q.len == 0;
	int r = storeops_put(&sq->q, op);
	size_t len = sq->q.len;
	atomic_store(&sq->depth, len);
	atomic_store(&sq->dropped, sq->q.dropped);
	if (was_empty)
		wake_thread(sq);
	pthread_mutex_unlock(&sq->mu);
	if (r == ERR_BUSY && !sq->full_logged) {
		log_warn("store: the write queue is full (%zu records, the state store is %s): "
		    "%s of %lld and later writes are dropped until it drains", len,
		    atomic_load(&sq->unreachable) ? "unreachable" : "slow", name, (long long)id);
		sq->full_logged = true;
	} else if (r == 0 && sq->full_logged && len < sq->q.max / 2)
		sq->full_logged = false;
}

/*
 * Applies op to a mirror. A mirror holds only the kicked live sessions (the
 * fill copies no others; ours go to the real store alone): a session's
 * start and byte count are not written to it, its end removes its kicked
 * row if it has one.
 */
static int
mirror_apply(struct store *m, const struct storeop *op)
{
	if (op->kind != SOP_SESSION)
		return storeop_apply(m, op);
	if (!op->del || op->add)
		return 0;
	int r = store_session_del(m, op->id);
	return r == ERR_NOTFOUND ? 0 : r;
}

/* Applies op to the loop's store now and, in mirror mode, queues it for the real one. */
static int
submit(struct server *srv, struct storeop *op)
{
	if (op == NULL)
		return ERR_NOMEM;
	/* Stopping, the mirror is about to go: the real store alone is written
	 * (this node's 20,000 devices offline were as many UPDATEs of the
	 * mirror, in the loop, before the sessions' closing) */
	int r = srv->sq != NULL && srv->shutdown ? 0 :
	    srv->sq != NULL ? mirror_apply(srv->st, op) : storeop_apply(srv->st, op);
	if (r != 0 || srv->sq == NULL) {
		storeop_free(op);
		return r;
	}
	enqueue(srv->sq, op);
	return 0;
}

static bool
mirror_wanted(struct store *real)
{
	const char *env = getenv("OUTPOST_STORE_MIRROR");

	/* OUTPOST_STORE_MIRROR=0: SQLite's direct path, for comparison in bench/ */
	return strcmp(store_engine(real), "postgresql") == 0 || env == NULL || strcmp(env, "0") != 0;
}

void
storeq_start(struct server *srv)
{
	char why[512];
	struct storeq *sq;
	struct store *m = NULL, *real = srv->st;

	if (!mirror_wanted(real))
		return;
	if ((sq = calloc(1, sizeof(*sq))) == NULL)
		fatal("out of memory");
	sq->srv = srv;
	sq->real = real;
	sq->wake_fd = -1;
	sq->poll_ms = strcmp(store_engine(real), "sqlite") == 0 ? POLL_LOCAL_MS : POLL_MS;
	/* before the counter and the copy: a change after them is notified */
	if (store_listen(real) == 0) {
		if ((sq->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			fatal("eventfd: %s", strerror(errno));
		sq->listening = true;
		sq->poll_ms = NOTIFY_CHECK_MS;
	}
	sq->seen = store_change_counter(real);
	atomic_store(&sq->contact_ms, mono_ms());
	if (store_open_spec("sqlite::memory:", NULL, &m, why, sizeof(why)) != 0 ||
	    fill(real, m, why, sizeof(why)) != 0)
		fatal("cannot fill outpostd's copy of the store: %s", why);
	struct node_list seen;
	int64_t now = timefmt_now();
	if (store_node_freeze(m, now) != 0 || node_list_read(m, now, &seen) != 0)
		fatal("cannot fill outpostd's copy of the store: %s", store_errmsg(m));
	sq->nodes_seen = seen.v;
	sq->nnodes_seen = seen.len;
	give_back();
	sq->last_pseq = max_pseq(m);
	storeops_init(&sq->q, LIM_STORE_QUEUE);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sq->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&sq->mu, NULL);
	sq->watch.kind = WATCH_STORE;
	if ((sq->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("eventfd: %s", strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &sq->watch };
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, sq->watch.fd, &ev) != 0)
		fatal("epoll_ctl: %s", strerror(errno));
	sq->next_poll_ms = mono_ms() + sq->poll_ms;
	srv->st = m;
	srv->sq = sq;
	store_set_timer(real, NULL, NULL);	/* metrics time the loop's queries, not the thread's */
	metrics_store_attach(srv);
	if (pthread_create(&sq->thread, NULL, run, sq) != 0)
		fatal("cannot start the store thread");
	log_info("store: %s through the store thread; the loop reads an in-memory copy; %s",
	    store_engine(real), sq->listening ? "changes by LISTEN/NOTIFY" : "changes by polling");
}

/*
 * One presence row from the real store (loop): another node's registration
 * newer than one of our live device sessions ends it (takeover across
 * nodes); the row goes into the mirror unless it predates it (stale) or is
 * our own (the mirror has our writes, some not in the real store yet).
 */
static void
presence_row(struct server *srv, const struct store_presence *p, bool apply)
{
	bool ours = strcmp(p->node, srv->node_name) == 0;
	struct conn *c = registry_get(srv->reg, p->device_id);

	if (c != NULL && !c->dead && c->who.kind == PRINCIPAL_DEVICE) {
		if (p->gen <= c->gen || ours)
			return;		/* our session is the newer registration */
		if (p->online)
			session_taken_over(c, p->node[0] ? p->node : "(unnamed)", p->gen);
	} else if (ours)
		return;
	int r = apply ? store_presence_apply(srv->st, p) : 0;
	if (r != 0 && r != ERR_NOTFOUND)	/* not found: a device the mirror does not have yet */
		log_debug("store: presence of device %lld not applied to the copy: %s",
		    (long long)p->device_id, store_errmsg(srv->st));
}

/* The thread copies everything next (loop): the mirror could not take a change. */
static void
ask_full_copy(struct storeq *sq)
{
	pthread_mutex_lock(&sq->mu);
	sq->force_copy = true;
	wake_thread(sq);
	pthread_mutex_unlock(&sq->mu);
}

/*
 * The nodes' rows changed on the real store (loop): the mirror takes them
 * (a node up or down, registered, gone, its address or key), and the
 * sessions of other nodes logged in here are checked against their keys.
 */
static void
nodes_rows(struct server *srv, const struct store_node *v, size_t n)
{
	if (store_node_mirror(srv->st, v, n) != 0) {
		log_warn("store: the nodes' rows not applied to the copy: %s; copying everything",
		    store_errmsg(srv->st));
		ask_full_copy(srv->sq);
		return;
	}
	atomic_fetch_add(&srv->sq->node_updates, 1);
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (c->who.kind == PRINCIPAL_NODE)
			session_recheck(c);
}

void
storeq_ready(struct server *srv)
{
	struct storeq *sq = srv->sq;
	uint64_t n;

	if (sq == NULL || read(sq->watch.fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&sq->mu);
	struct store *m = sq->fresh, *old = NULL;
	struct store_presence *rows = sq->rows;
	size_t nrows = sq->nrows, stale = m != NULL ? sq->rows_stale : 0;
	sq->rows = NULL;
	sq->nrows = sq->rows_cap = sq->rows_stale = 0;
	sq->fresh = NULL;
	struct store_node *nodes = sq->node_rows;
	size_t nnodes = sq->nnode_rows;
	bool nodes_ready = sq->nodes_ready;
	sq->node_rows = NULL;
	sq->nnode_rows = 0;
	sq->nodes_ready = false;
	if (m != NULL) {
		/* what the loop wrote since the thread's last drain is not in the copy */
		for (const struct storeop *op = sq->q.head; op != NULL; op = op->next)
			mirror_apply(m, op);
		old = sq->retired;
		sq->retired = srv->st;
		srv->st = m;
	}
	sq->swap_pending = false;
	wake_thread(sq);
	pthread_mutex_unlock(&sq->mu);
	store_close(old);	/* only if the thread has not closed the one before yet */
	if (m != NULL) {
		metrics_store_attach(srv);
		srv->recheck_now = true;
	}
	if (nodes_ready)
		nodes_rows(srv, nodes, nnodes);
	free(nodes);
	/* one transaction for them all, not one per row (a storm brings
	 * hundreds a second from the other nodes) */
	bool batch = nrows > stale + 1 && store_batch_begin(srv->st) == 0;
	for (size_t i = 0; i < nrows; i++)
		presence_row(srv, &rows[i], i >= stale);
	free(rows);
	if (batch && store_batch_commit(srv->st) != 0) {
		log_warn("store: %zu presence changes not applied to the copy: %s; copying everything",
		    nrows - stale, store_errmsg(srv->st));
		ask_full_copy(sq);
	}
}

void
storeq_poke(struct server *srv)
{
	struct storeq *sq = srv->sq;

	if (sq == NULL)
		return;
	pthread_mutex_lock(&sq->mu);
	sq->poke = true;
	wake_thread(sq);
	pthread_mutex_unlock(&sq->mu);
}

void
storeq_stopping(struct server *srv)
{
	if (srv->sq != NULL)
		atomic_store(&srv->sq->stopping, true);
}

void
storeq_stop(struct server *srv)
{
	struct storeq *sq = srv->sq;

	if (sq == NULL) {
		store_close(srv->st);
		srv->st = NULL;
		return;
	}
	pthread_mutex_lock(&sq->mu);
	struct store *fresh = sq->fresh;
	sq->fresh = NULL;
	sq->swap_pending = false;	/* the loop takes no more mirrors: let the thread write */
	sq->stop = true;
	wake_thread(sq);
	pthread_mutex_unlock(&sq->mu);
	store_close(fresh);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STOP_WAIT_S;
	if (pthread_timedjoin_np(sq->thread, NULL, &ts) != 0) {
		log_warn("store: the store thread did not finish its writes within %d s; leaving them",
		    STOP_WAIT_S);
		server_thread_left();
		return;		/* the process is exiting; the thread may still hold sq */
	}
	close(sq->watch.fd);
	if (sq->wake_fd >= 0)
		close(sq->wake_fd);
	store_close(sq->real);
	store_close(sq->fresh);	/* a copy the thread made after stop was asked (the loop takes none now) */
	store_close(sq->retired);
	store_close(srv->st);
	srv->st = NULL;
	storeops_free(&sq->q);
	free(sq->rows);
	free(sq->node_rows);
	free(sq->nodes_seen);
	pthread_mutex_destroy(&sq->mu);
	pthread_cond_destroy(&sq->cv);
	free(sq);
	srv->sq = NULL;
}

/* ms since the thread's last successful round trip with the real store. */
static int64_t
quiet_ms(const struct storeq *sq)
{
	return mono_ms() - atomic_load(&sq->contact_ms);
}

bool
storeq_unreachable(const struct server *srv)
{
	return srv->sq != NULL && (atomic_load(&srv->sq->unreachable) ||
	    quiet_ms(srv->sq) > LIM_NODE_DOWN_S * 1000);
}

struct others {
	const char *me;
	int n, up;
};

/* Nodes in the store other than this one, and those of them up (store_node_scan). */
static int
count_others(void *arg, const struct store_node *n)
{
	struct others *o = arg;

	if (strcmp(n->name, o->me) != 0) {
		o->n++;
		o->up += n->up;
	}
	return 0;
}

void
storeq_tick(struct server *srv)
{
	struct storeq *sq = srv->sq;

	if (sq == NULL)
		return;
	int64_t quiet = quiet_ms(sq);
	if (quiet <= LIM_NODE_DOWN_S * 1000) {
		if (sq->cut_off)
			log_info("store: in contact with the state store again; devices may register here");
		sq->cut_off = false;
		return;
	}
	if (sq->cut_off)
		return;
	/*
	 * Other nodes take this one for down past the same bound: its devices
	 * are theirs to take. A lone node (no other in the store) keeps them:
	 * nobody else could.
	 */
	sq->cut_off = true;
	struct others others = { .me = srv->node_name };
	store_node_scan(srv->st, timefmt_now(), count_others, &others);
	if (others.n == 0) {
		log_warn("store: no answer from the state store for %lld s; no other node to take this one's "
		    "devices: their sessions go on", (long long)quiet / 1000);
		return;
	}
	uint64_t n = 0;
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (c->authed && !c->dead && c->who.kind == PRINCIPAL_DEVICE) {
			session_kill(c, "this node cannot reach the state store; connect to another node");
			n++;
		}
	atomic_fetch_add(&sq->cutoff_drops, n);
	log_warn("store: no answer from the state store for %lld s (the bound is %d s): dropped the %llu "
	    "device sessions this node can no longer vouch for", (long long)quiet / 1000, LIM_NODE_DOWN_S,
	    (unsigned long long)n);
}

bool
storeq_mirrored(const struct server *srv)
{
	return srv->sq != NULL;
}

void
storeq_get_stats(const struct server *srv, struct storeq_stats *out)
{
	const struct storeq *sq = srv->sq;

	memset(out, 0, sizeof(*out));
	if (sq == NULL)
		return;
	out->depth = atomic_load(&sq->depth);
	out->max = LIM_STORE_QUEUE;
	out->dropped = atomic_load(&sq->dropped);
	out->written = atomic_load(&sq->written);
	out->batches = atomic_load(&sq->batches);
	out->reloads = atomic_load(&sq->reloads);
	out->notifies = atomic_load(&sq->notifies);
	out->cutoff_drops = atomic_load(&sq->cutoff_drops);
	out->node_updates = atomic_load(&sq->node_updates);
	out->lock_waits = atomic_load(&sq->lock_waits);
	out->refused = atomic_load(&sq->refused);
	out->failures = (uint64_t)atomic_load(&sq->failures);
}

void
storeq_refused_login(struct server *srv)
{
	if (srv->sq != NULL)
		atomic_fetch_add(&srv->sq->refused, 1);
}

/* ---- the writes ---- */

int
storeq_device_set_online(struct server *srv, int64_t device_id, bool online, int64_t when,
    const char *addr)
{
	return submit(srv, storeop_online(device_id, online, when, addr));
}

int
storeq_device_set_presence(struct server *srv, int64_t device_id, bool online, int64_t gen,
    int64_t when, const char *addr)
{
	return submit(srv, storeop_presence(device_id, online, srv->node_name, gen, when, addr));
}

int
storeq_node_offline(struct server *srv, int64_t when)
{
	int r;

	if (srv->node_id <= 0) {
		if ((r = storeq_device_all_offline(srv, when)) != 0)
			return r;
		return storeq_session_clear(srv);
	}
	if ((r = submit(srv, storeop_node_offline(srv->node_name, when))) != 0)
		return r;
	return submit(srv, storeop_session_clear_node(srv->node_id));
}

int
storeq_node_heartbeat(struct server *srv, int64_t now)
{
	return submit(srv, storeop_heartbeat(srv->node_id, now));
}

int
storeq_node_stop(struct server *srv, int64_t started)
{
	if (srv->node_id <= 0)
		return 0;
	return submit(srv, storeop_node_stop(srv->node_id, started));
}

int
storeq_device_all_offline(struct server *srv, int64_t when)
{
	return submit(srv, storeop_all_offline(when));
}

int
storeq_session_add(struct server *srv, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since)
{
	return submit(srv, storeop_session_add(id, kind, principal, key_fp, src, since));
}

int
storeq_session_set_bytes(struct server *srv, int64_t id, int64_t bytes)
{
	return submit(srv, storeop_session_bytes(id, bytes));
}

int
storeq_session_del(struct server *srv, int64_t id)
{
	return submit(srv, storeop_session_del(id));
}

int
storeq_session_clear(struct server *srv)
{
	return submit(srv, storeop_session_clear());
}

int
storeq_device_set_ondemand(struct server *srv, int64_t device_id, const char *state, int64_t when)
{
	return submit(srv, storeop_ondemand(device_id, state, when));
}

int
storeq_device_clear_ondemand(struct server *srv)
{
	struct others others = { .me = srv->node_name };

	/*
	 * Another node up follows the same broker and has kept the states
	 * current (retained states that match what the store says are not
	 * written again): forgetting them would blank every device's state
	 * for every node until this node's broker connection brings them back.
	 */
	if (srv->node_name[0] != '\0' && store_node_scan(srv->st, timefmt_now(), count_others, &others) == 0 &&
	    others.up > 0) {
		log_debug("store: %d other nodes up keep the on-demand states: not cleared", others.up);
		return 0;
	}
	return submit(srv, storeop_ondemand_clear());
}

static int
port_cb(void *arg, const struct store_device *d)
{
	*(uint32_t *)arg = d->port;
	return 0;
}

/* The holder's name comes from the mirror; the real store keeps the first port too. */
int
storeq_device_bind_port(struct server *srv, int64_t device_id, uint32_t port, char *holder,
    size_t hlen)
{
	uint32_t had = 0;

	if (srv->sq != NULL && store_device_get(srv->st, device_id, port_cb, &had) != 0)
		had = 0;	/* no such device: the bind below says so */
	int r = store_device_bind_port(srv->st, device_id, port, holder, hlen);

	/* a device keeps its first port: with one already, the bind changed nothing */
	if (r == 0 && srv->sq != NULL && had == 0) {
		struct storeop *op = storeop_port(device_id, port);
		if (op == NULL)
			return ERR_NOMEM;
		enqueue(srv->sq, op);
	}
	return r;
}

int
storeq_device_set_info(struct server *srv, int64_t device_id, const char *hostname,
    const char *os, const char *version, const char *host_keys, int64_t booted)
{
	return submit(srv, storeop_info(device_id, hostname, os, version, host_keys, booted));
}

int
storeq_hostkey_seen(struct server *srv, int64_t device_id, uint32_t port, const char *type,
    const char *key, int64_t now, int *seen, char *old, size_t oldlen)
{
	int r = store_hostkey_seen(srv->st, device_id, port, type, key, now, seen, old, oldlen);

	if (r == 0 && srv->sq != NULL) {
		struct storeop *op = storeop_hostkey(device_id, port, type, key, now);
		if (op == NULL)
			return ERR_NOMEM;
		enqueue(srv->sq, op);
	}
	return r;
}

int
storeq_audit_anchor_set(struct server *srv, const char *node, const struct audit_head *h,
    bool reset)
{
	return submit(srv, storeop_anchor(node, h, reset));
}
