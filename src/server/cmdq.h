/*
 * cmdq.h: remote commands (`ssh -p 2222 jump ls`) run by a few worker
 * threads, off outpostd's event loop: a bounded queue of jobs, each worker
 * with its own store connection and its own audit branch. The loop submits a
 * job with copies of everything the command needs, and learns through one
 * eventfd in its epoll that a job finished or that a worker needs something
 * only the loop may do (`tunnel connect` publishing on the MQTT connection).
 *
 * Threads: cmdq_new, cmdq_submit, cmdq_ready, cmdq_job_orphan and cmdq_free
 * are the loop's; a job belongs to the worker from cmdq_submit until
 * cmdq_ready hands it back to the done callback.
 */
#ifndef OUTPOST_CMDQ_H
#define OUTPOST_CMDQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cmd.h"
#include "common/jbuf.h"
#include "ssh/pubkey.h"

struct audit;
struct cmdq;

/* One command. The loop fills the inputs; the worker fills the outputs. */
struct cmdq_job {
	/* inputs, all owned by the job (cmdq_job_free frees them) */
	char **argv;			/* NULL-terminated, from cmd_split */
	int argc;
	char *in;			/* standard input, or NULL */
	size_t inlen;
	enum cmd_role role;
	bool admin;
	int64_t user_id;
	char *user;			/* the caller's name */
	struct pubkey key;		/* the caller's key (enroll binds it) */
	int64_t device_id;		/* CMD_ROLE_DEVICE */
	char *server_addr;		/* "host:port" clients dial */
	char *metrics;			/* `metrics`: the loop's text, taken before the job was queued */
	size_t metrics_len;
	uint64_t session;		/* for the "command" audit record */
	char *src;			/* the peer's "ip:port" */
	/* outputs */
	int status;			/* CMD_OK, CMD_FAIL or CMD_USAGE */
	struct jbuf out, err;		/* stdout, stderr (LIM_EXEC_OUTPUT each) */
	bool enrolled;			/* CMD_ROLE_ENROLL: the key now belongs to a device */
	bool ran;			/* false: orphaned before a worker took it, never run */
	/* the loop's */
	void *owner;			/* who waits for it (an exec channel); NULL once gone */
	atomic_bool cancelled;		/* owner gone before a worker started it: not run */
	struct cmdq_job *next;
};

struct cmdq_config {
	const char *store_spec;		/* store_open_spec's spec (NULL: SQLite in state_dir) */
	const char *state_dir;
	const char *node;		/* whose audit chain state_dir's audit.log is (cmd_ctx.node); may be NULL */
	struct audit *audit;		/* the loop's, with a writer thread; workers branch it */
	int workers;			/* 1 to CMDQ_WORKERS_MAX */
	size_t max_jobs;		/* queued or running; more are refused with ERR_BUSY */
	size_t max_per_session;		/* of one session, likewise */
	/* A job finished (on the loop, from cmdq_ready); the callee frees it. */
	void (*done)(void *arg, struct cmdq_job *job);
	/*
	 * ctx.tunnel_send for the commands, run on the loop (from cmdq_ready)
	 * while the worker waits; NULL: `tunnel connect` says there is no broker.
	 */
	int (*tunnel_send)(void *arg, const char *fleet, const char *name, const char *cmd,
	    char *why, size_t whylen);
	void *arg;			/* for done and tunnel_send */
};

#define CMDQ_WORKERS_MAX	4
/* What a refused command is told, on its standard error. */
#define CMDQ_BUSY_TEXT		"outpost: busy: too many commands waiting; try again\n"

/*
 * Starts the workers (their store connections open at their first job).
 * cfg's strings must outlive q. 0, ERR_INVAL or ERR_NOMEM; *out NULL on failure.
 */
int cmdq_new(const struct cmdq_config *cfg, struct cmdq **out);
/* The eventfd to watch (EPOLLIN): call cmdq_ready when readable. */
int cmdq_fd(const struct cmdq *q);
/* A new job with empty outputs, or NULL out of memory. */
struct cmdq_job *cmdq_job_new(void);
void cmdq_job_free(struct cmdq_job *job);	/* NULL is a no-op */
/*
 * Queues job (taking it: on 0 the done callback gets it back). ERR_BUSY when
 * max_jobs (or max_per_session of job->session) are queued or running: the
 * job stays the caller's.
 */
int cmdq_submit(struct cmdq *q, struct cmdq_job *job);
/* The owner of job went away: the result goes nowhere; not started, not run. */
void cmdq_job_orphan(struct cmdq_job *job);
/* The loop's turn: answers workers' tunnel requests, hands finished jobs to done. */
void cmdq_ready(struct cmdq *q);

struct cmdq_stats {
	size_t jobs;			/* queued or running now */
	uint64_t run;			/* commands run */
	uint64_t busy;			/* refused with ERR_BUSY */
	uint64_t store_failed;		/* jobs refused because a worker's store would not open */
};
void cmdq_get_stats(struct cmdq *q, struct cmdq_stats *out);	/* zeros for NULL */
/*
 * Stops the workers after the jobs they run; jobs whose owner is gone
 * (cmdq_job_orphan) are skipped, waiting tunnel requests are refused
 * ("outpostd is stopping"), and finished jobs not yet handed to done are
 * freed. Orphan every job first; call before closing the audit handle.
 * NULL is a no-op.
 */
void cmdq_free(struct cmdq *q);

#endif
