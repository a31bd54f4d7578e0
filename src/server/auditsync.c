/*
 * auditsync.c: the audit copier thread (auditsync.h): this node's audit.log
 * into the store's audit_records by seq, off the loop, on its own store
 * connection; the log is the queue, so an outage only delays the copy.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "server/auditsync.h"
#include "server/server.h"

#define RETRY_MAX_MS	30000

static struct {
	bool running;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, poke, done;		/* under mu */
	/* the thread's own */
	char *spec, *state_dir;
	char node[LIM_LABEL + 1];
	char path[PATH_MAX];
	struct store *st;
	struct store_audit_cursor cur;
	int failing;			/* the error last logged, 0 = none */
	uint64_t waited;		/* records copied since the copy last failed */
} as;

/* For outpost_audit_store_behind_records: the log's last record (the loop's), the store's. */
static atomic_int_fast64_t head_seq, copied_seq;

/* Connects, then copies what the store lacks; 0 or the error (logged once per kind). */
static int
copy_once(void)
{
	char why[512];
	int n = 0, r;

	r = as.st == NULL ? store_open_spec(as.spec, as.state_dir, &as.st, why, sizeof(why)) : 0;
	if (r == 0 && (r = store_audit_sync(as.st, as.node, as.path, &as.cur, 0, &n)) != 0)
		snprintf(why, sizeof(why), "%s", store_errmsg(as.st));
	if (r == 0) {
		if (as.cur.valid)
			atomic_store(&copied_seq, as.cur.seq);
		if (as.failing != 0)
			log_info("audit: this node's records are in the store again (%llu copied since)",
			    (unsigned long long)(as.waited + (uint64_t)n));
		as.failing = 0;
		as.waited = 0;
		return 0;
	}
	as.waited += (uint64_t)n;
	if (as.failing != r) {
		if (r == ERR_INVAL)
			log_error("audit: %s", why);
		else
			log_warn("audit: cannot copy this node's records to the store (they wait in "
			    "audit.log and are copied when it answers): %s", why);
	}
	as.failing = r;
	return r;
}

/* Waits until poked, stopped or ms passed (CLOCK_MONOTONIC). Called with mu held. */
static void
wait_ms(int64_t ms)
{
	int64_t until = timefmt_mono_ms() + ms;
	struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000L };

	while (!as.poke && !as.stop)
		if (pthread_cond_timedwait(&as.cv, &as.mu, &ts) == ETIMEDOUT)
			break;
}

static void *
run(void *arg)
{
	int64_t delay = AUDITSYNC_MS;

	(void)arg;
	pthread_mutex_lock(&as.mu);
	while (!as.stop) {
		wait_ms(delay);
		as.poke = false;
		if (as.stop)
			break;
		pthread_mutex_unlock(&as.mu);
		int r = copy_once();
		pthread_mutex_lock(&as.mu);
		/* a failing store is tried again later, less often; a cut log only rarely */
		delay = r == 0 ? AUDITSYNC_MS : delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
	}
	pthread_mutex_unlock(&as.mu);
	copy_once();	/* the records of the shutdown itself */
	pthread_mutex_lock(&as.mu);
	as.done = true;
	pthread_cond_broadcast(&as.cv);
	pthread_mutex_unlock(&as.mu);
	return NULL;
}

void
auditsync_start(struct server *srv, const char *node)
{
	const struct config *cfg = srv->cfg;
	sigset_t all, old;

	/* called before the store thread takes srv->st: this is the real store */
	if (as.running || node[0] == '\0' || cfg->store == NULL ||
	    strcmp(store_engine(srv->st), "postgresql") != 0)
		return;
	if (snprintf(as.path, sizeof(as.path), "%s/" AUDIT_LOG_NAME, cfg->state_dir) >=
	    (int)sizeof(as.path))
		fatal("state directory path too long");
	snprintf(as.node, sizeof(as.node), "%s", node);
	if ((as.spec = strdup(cfg->store)) == NULL || (as.state_dir = strdup(cfg->state_dir)) == NULL)
		fatal("out of memory");
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&as.cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&as.mu, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* signals stay with the loop */
	if (pthread_create(&as.thread, NULL, run, NULL) != 0)
		fatal("cannot start the audit copier thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	as.running = true;
	log_info("audit: this node's records (node %s) are copied to the store's audit_records", as.node);
}

int64_t
auditsync_behind(void)
{
	int64_t behind = atomic_load(&head_seq) - atomic_load(&copied_seq);

	return as.running && behind > 0 ? behind : 0;
}

bool
auditsync_running(void)
{
	return as.running;
}

void
auditsync_poke(int64_t seq)
{
	if (!as.running)
		return;
	atomic_store(&head_seq, seq);
	pthread_mutex_lock(&as.mu);
	as.poke = true;
	pthread_cond_signal(&as.cv);
	pthread_mutex_unlock(&as.mu);
}

void
auditsync_stop(void)
{
	int64_t until = timefmt_mono_ms() + AUDITSYNC_STOP_MS;
	struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000L };
	bool done;

	if (!as.running)
		return;
	pthread_mutex_lock(&as.mu);
	as.stop = true;
	pthread_cond_signal(&as.cv);
	while (!as.done)
		if (pthread_cond_timedwait(&as.cv, &as.mu, &ts) == ETIMEDOUT)
			break;
	done = as.done;
	pthread_mutex_unlock(&as.mu);
	as.running = false;
	if (!done) {
		/* the store does not answer: the rest waits in audit.log for the next start */
		log_warn("audit: the store took no records for %d s at shutdown; the rest are copied "
		    "from audit.log at the next start", AUDITSYNC_STOP_MS / 1000);
		pthread_detach(as.thread);
		server_thread_left();
		return;
	}
	pthread_join(as.thread, NULL);
	store_close(as.st);
	as.st = NULL;
	free(as.spec);
	free(as.state_dir);
	as.spec = as.state_dir = NULL;
}
