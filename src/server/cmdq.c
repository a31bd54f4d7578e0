/*
 * cmdq.c: the command workers: a bounded queue of remote commands, a few
 * threads that run them through the command layer with their own store
 * connection and audit branch, and one eventfd that brings results (and
 * requests only the loop may serve) back to outpostd's event loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "common/limits.h"
#include "common/log.h"
#include "server/cmdq.h"
#include "store/store.h"

#define STORE_WARN_MS	10000	/* a store that will not open is logged at most this often */

/* A worker's `tunnel connect|disconnect`, waiting for the loop to send it. */
struct tunnel_req {
	struct tunnel_req *next;
	const char *fleet, *name, *cmd;
	char *why;
	size_t whylen;
	int result;
	bool answered;
};

struct worker {
	struct cmdq *q;
	pthread_t thread;
	bool started;
	struct store *st;		/* opened at the first job */
	const struct cmdq_job *running;	/* under q->mu */
	struct audit *audit;		/* a branch of the loop's */
	int64_t store_warned_ms;
};

struct cmdq {
	struct cmdq_config cfg;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t work;		/* a job queued, or stop */
	pthread_cond_t answered;	/* a tunnel request answered */
	struct cmdq_job *first, **last;	/* waiting for a worker */
	struct cmdq_job *done;		/* finished, for the loop (any order) */
	struct tunnel_req *reqs;	/* for the loop */
	size_t jobs;			/* queued or running */
	bool stop;
	struct cmdq_stats stats;
	struct worker w[CMDQ_WORKERS_MAX];
	int nworkers;
};

static void
kick_loop(struct cmdq *q)
{
	uint64_t one = 1;

	while (write(q->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

struct cmdq_job *
cmdq_job_new(void)
{
	struct cmdq_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	jbuf_init(&job->out, LIM_EXEC_OUTPUT);
	jbuf_init(&job->err, LIM_EXEC_OUTPUT);
	atomic_init(&job->cancelled, false);
	return job;
}

void
cmdq_job_free(struct cmdq_job *job)
{
	if (job == NULL)
		return;
	cmd_argv_free(job->argv);
	free(job->in);
	free(job->user);
	pubkey_clear(&job->key);
	free(job->server_addr);
	free(job->metrics);
	free(job->src);
	jbuf_free(&job->out);
	jbuf_free(&job->err);
	free(job);
}

void
cmdq_job_orphan(struct cmdq_job *job)
{
	job->owner = NULL;
	atomic_store(&job->cancelled, true);
}

/* ---- the worker's side ---- */

/* ctx.tunnel_send in a worker: the loop sends it (cmdq_ready) while we wait. */
static int
tunnel_via_loop(void *arg, const char *fleet, const char *name, const char *cmd, char *why,
    size_t whylen)
{
	struct cmdq *q = arg;
	struct tunnel_req req = { .fleet = fleet, .name = name, .cmd = cmd, .why = why,
	    .whylen = whylen };

	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		snprintf(why, whylen, "outpostd is stopping");
		return ERR_IO;
	}
	req.next = q->reqs;
	q->reqs = &req;
	kick_loop(q);
	while (!req.answered)
		pthread_cond_wait(&q->answered, &q->mu);
	pthread_mutex_unlock(&q->mu);
	return req.result;
}

/* ctx.metrics in a worker: the text the loop took when it queued the job. */
static int
metrics_copy(void *arg, FILE *out)
{
	const struct cmdq_job *job = arg;

	if (job->metrics == NULL)
		return ERR_INVAL;
	if (job->metrics_len > 0)
		fwrite(job->metrics, 1, job->metrics_len, out);
	return 0;
}

/* Copies a memstream's result into a bounded buffer. */
static void
take_stream(FILE *f, char **buf, size_t *len, struct jbuf *dst)
{
	fclose(f);
	if (*buf != NULL && jbuf_add(dst, *buf, *len) != 0) {
		jbuf_free(dst);
		jbuf_init(dst, LIM_EXEC_OUTPUT);
		static const char msg[] = "outpost: output too large\n";
		jbuf_add(dst, msg, sizeof(msg) - 1);
	}
	free(*buf);
	*buf = NULL;
}

/* The worker's store, opened now if it is not yet; NULL with the reason in job->err. */
static struct store *
worker_store(struct worker *w, struct cmdq_job *job)
{
	struct cmdq *q = w->q;
	char why[512];

	if (w->st != NULL)
		return w->st;
	if (store_open_spec(q->cfg.store_spec, q->cfg.state_dir, &w->st, why, sizeof(why)) == 0)
		return w->st;
	int64_t now = timefmt_mono_ms();
	if (w->store_warned_ms == 0 || now - w->store_warned_ms >= STORE_WARN_MS) {
		log_warn("commands: cannot open the store: %s", why);
		w->store_warned_ms = now;
	}
	jbuf_addf(&job->err, "outpost: the store is not available now (%s); try again\n", why);
	pthread_mutex_lock(&q->mu);
	q->stats.store_failed++;
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void
audit_command(struct worker *w, const struct cmdq_job *job)
{
	struct jbuf *b = audit_begin(w->audit, "command");

	jbuf_member_int(b, "session", (int64_t)job->session);
	jbuf_member_str(b, "user", job->user ? job->user : "");
	jbuf_member_str(b, "key_fp", job->key.fp);
	jbuf_member_str(b, "src", job->src ? job->src : "");
	audit_member_command(b, job->argv, job->argc);
	jbuf_member_int(b, "status", job->status);
	audit_commit(w->audit);
}

/* Runs cmd_run on the worker's store with the job's standard streams. */
static void
run_cmd(struct worker *w, struct store *st, struct cmdq_job *job)
{
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);
	FILE *in = job->inlen > 0 ? fmemopen(job->in, job->inlen, "r") : NULL;

	if (out == NULL || err == NULL || (job->inlen > 0 && in == NULL)) {
		if (out) fclose(out);
		if (err) fclose(err);
		free(obuf);
		free(ebuf);
		job->status = CMD_FAIL;
		jbuf_add(&job->err, "outpost: out of memory\n", 23);
	} else {
		struct cmd_ctx ctx = {
			.st = st, .in = in, .out = out, .err = err,
			.remote = true, .admin = job->admin,
			.user_id = job->user_id, .user = job->user,
			.audit = w->audit, .state_dir = w->q->cfg.state_dir, .node = w->q->cfg.node,
			.server_addr = job->server_addr, .role = job->role,
			.key = &job->key, .device_id = job->device_id,
			.tunnel_send = w->q->cfg.tunnel_send ? tunnel_via_loop : NULL, .tunnel_arg = w->q,
			.metrics = job->metrics ? metrics_copy : NULL, .metrics_arg = job,
		};
		job->status = cmd_run(&ctx, job->argc, job->argv);
		take_stream(out, &obuf, &olen, &job->out);
		take_stream(err, &ebuf, &elen, &job->err);
	}
	if (in != NULL)
		fclose(in);
}

/* An enroll login's command succeeded and its key now belongs to a device. */
static bool
enroll_bound(struct store *st, const struct cmdq_job *job)
{
	struct store_principal who;

	return job->status == CMD_OK && store_principal_by_key(st, &job->key, &who) == 0 &&
	    who.kind == PRINCIPAL_DEVICE;
}

static void
run_job(struct worker *w, struct cmdq_job *job)
{
	struct store *st = worker_store(w, job);

	job->ran = true;
	if (st == NULL)
		job->status = CMD_FAIL;
	else {
		int64_t failures = store_failures(st);
		run_cmd(w, st, job);
		if (job->role == CMD_ROLE_ENROLL)
			job->enrolled = enroll_bound(st, job);
		if (store_failures(st) != failures) {
			/* a lost connection (PostgreSQL restarted) is opened afresh for the next job */
			log_debug("commands: the store failed (%s); reopening it for the next command",
			    store_errmsg(st));
			store_close(st);
			w->st = NULL;
		}
	}
	audit_command(w, job);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct cmdq *q = w->q;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->first == NULL && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		struct cmdq_job *job = q->first;
		if (job == NULL)
			break;
		if ((q->first = job->next) == NULL)
			q->last = &q->first;
		w->running = job;
		pthread_mutex_unlock(&q->mu);
		if (!atomic_load(&job->cancelled))
			run_job(w, job);
		pthread_mutex_lock(&q->mu);
		q->stats.run++;
		w->running = NULL;
		job->next = q->done;
		q->done = job;
		kick_loop(q);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* ---- the loop's side ---- */

/* Answers the workers' waiting tunnel requests: sent by the loop, or refused (stopping). */
static void
answer_tunnels(struct cmdq *q, bool refuse)
{
	pthread_mutex_lock(&q->mu);
	struct tunnel_req *r = q->reqs;
	q->reqs = NULL;
	pthread_mutex_unlock(&q->mu);
	for (struct tunnel_req *n; r != NULL; r = n) {
		n = r->next;	/* r lives on a waiting worker's stack: read next first */
		int res = ERR_IO;
		if (refuse)
			snprintf(r->why, r->whylen, "outpostd is stopping");
		else	/* without mu: it may publish */
			res = q->cfg.tunnel_send(q->cfg.arg, r->fleet, r->name, r->cmd, r->why, r->whylen);
		pthread_mutex_lock(&q->mu);
		r->result = res;
		r->answered = true;
		pthread_cond_broadcast(&q->answered);
		pthread_mutex_unlock(&q->mu);
	}
}

/* Workers finish the job they run (queued ones were orphaned: skipped), then end. */
static void
stop_workers(struct cmdq *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nworkers; i++) {
		if (!q->w[i].started)
			continue;
		while (pthread_tryjoin_np(q->w[i].thread, NULL) == EBUSY) {
			answer_tunnels(q, true);	/* a worker may wait for the loop */
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
		}
		q->w[i].started = false;
	}
}

static void
free_jobs(struct cmdq_job *job)
{
	while (job != NULL) {
		struct cmdq_job *next = job->next;
		cmdq_job_free(job);
		job = next;
	}
}

void
cmdq_free(struct cmdq *q)
{
	if (q == NULL)
		return;
	stop_workers(q);
	for (int i = 0; i < q->nworkers; i++) {
		store_close(q->w[i].st);
		audit_close(q->w[i].audit);
	}
	free_jobs(q->first);
	free_jobs(q->done);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->answered);
	pthread_mutex_destroy(&q->mu);
	if (q->efd >= 0)
		close(q->efd);
	free(q);
}

static int
start_worker(struct cmdq *q, struct worker *w)
{
	sigset_t all, old;
	int r;

	w->q = q;
	if ((r = audit_branch(q->cfg.audit, &w->audit)) != 0)
		return r;
	/* Signals stay with the loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return ERR_NOMEM;
	w->started = true;
	return 0;
}

int
cmdq_new(const struct cmdq_config *cfg, struct cmdq **out)
{
	struct cmdq *q;
	int r = 0;

	*out = NULL;
	if (cfg->workers < 1 || cfg->workers > CMDQ_WORKERS_MAX || cfg->max_jobs == 0 ||
	    cfg->done == NULL)
		return ERR_INVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return ERR_NOMEM;
	q->cfg = *cfg;
	if (q->cfg.max_per_session == 0)
		q->cfg.max_per_session = q->cfg.max_jobs;
	q->last = &q->first;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->answered, NULL);
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		r = ERR_NOMEM;
	for (int i = 0; r == 0 && i < cfg->workers; i++, q->nworkers++)
		r = start_worker(q, &q->w[i]);
	if (r != 0) {
		cmdq_free(q);
		return r;
	}
	*out = q;
	return 0;
}

int
cmdq_fd(const struct cmdq *q)
{
	return q->efd;
}

/* Jobs of session, queued or running. Called with mu held. */
static size_t
session_jobs(struct cmdq *q, uint64_t session)
{
	size_t n = 0;

	for (const struct cmdq_job *j = q->first; j != NULL; j = j->next)
		n += j->session == session;
	for (int i = 0; i < q->nworkers; i++)
		n += q->w[i].running != NULL && q->w[i].running->session == session;
	return n;
}

int
cmdq_submit(struct cmdq *q, struct cmdq_job *job)
{
	pthread_mutex_lock(&q->mu);
	if (q->stop || q->jobs >= q->cfg.max_jobs ||
	    session_jobs(q, job->session) >= q->cfg.max_per_session) {
		q->stats.busy++;
		pthread_mutex_unlock(&q->mu);
		return ERR_BUSY;
	}
	job->next = NULL;
	*q->last = job;
	q->last = &job->next;
	q->jobs++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
cmdq_ready(struct cmdq *q)
{
	uint64_t n;

	while (read(q->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	answer_tunnels(q, false);
	pthread_mutex_lock(&q->mu);
	struct cmdq_job *job = q->done;
	q->done = NULL;
	for (struct cmdq_job *j = job; j != NULL; j = j->next)
		q->jobs--;
	pthread_mutex_unlock(&q->mu);
	for (struct cmdq_job *next; job != NULL; job = next) {
		next = job->next;
		job->next = NULL;
		q->cfg.done(q->cfg.arg, job);
	}
}

void
cmdq_get_stats(struct cmdq *q, struct cmdq_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	*out = q->stats;
	out->jobs = q->jobs;
	pthread_mutex_unlock(&q->mu);
}
