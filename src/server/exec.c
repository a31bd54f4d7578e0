/*
 * exec.c: session channels. The only thing a session may do is run one
 * outpost command (`ssh -p 2222 jump ls`) through the same command layer as
 * the local CLI, on a command worker (cmdq.c), never on the event loop. No
 * shell, pty, X11, agent forwarding or subsystems.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "cli/cmd.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ncroute.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/cmdq.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/wake.h"

#define NO_SHELL_TEXT \
	"outpost: this jump server has no shell.\r\n" \
	"Reach a device with: ssh -J <user>@<jump>:<port> <name>.<fleet>\r\n" \
	"List commands with: ssh -p <port> <user>@<jump> help\r\n"

/* A chan_exec channel's data. */
struct exec {
	struct jbuf out;		/* stdout */
	struct jbuf errout;		/* stderr */
	struct jbuf in;			/* stdin collected for `--key -` */
	uint64_t in_total;		/* stdin bytes received, kept or not (an enroll login's cap) */
	char **argv;			/* waiting for stdin EOF */
	int argc;
	int exit_status;
	bool output_ready;		/* out/errout complete: send, then exit-status + close */
	struct cmdq_job *job;		/* running on a worker; NULL when none */
};

#define EXEC_WORKERS		2
#define BUSY_WARN_MS		5000	/* "busy" is logged at most this often */

/* One server per process: the command workers are this module's own. */
static struct cmdq *pool;
static struct watch pool_watch;
static int64_t busy_warned_ms;
static unsigned long busy_unlogged;

#define X(h) ((struct exec *)(h)->data)

int
exec_session_open(struct conn *c, ssh_message m)
{
	if (c->who.kind == PRINCIPAL_NONE || c->nchans >= LIM_CHANNELS) {
		session_refused(c, "channel", "session", c->nchans >= LIM_CHANNELS ?
		    "too many channels on this session" : "not permitted");
		return MSG_DEFAULT;	/* users run commands, devices `report`, enrolling keys `enroll` */
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	if (ch != NULL && exec_chan_new(c, ch) == NULL)
		ssh_channel_free(ch);
	return MSG_HANDLED;
}

struct chan *
exec_chan_new(struct conn *c, ssh_channel ch)
{
	struct exec *x = calloc(1, sizeof(*x));
	struct chan *h = x ? chan_new(c, ch, &chan_exec, x) : NULL;

	if (h == NULL) {
		free(x);
		return NULL;
	}
	jbuf_init(&x->out, LIM_EXEC_OUTPUT);
	jbuf_init(&x->errout, LIM_EXEC_OUTPUT);
	jbuf_init(&x->in, LIM_EXEC_STDIN);
	return h;
}

/* The "command" record of a command that never reached a worker. */
static void
audit_command(struct conn *c, char **argv, int argc, int status)
{
	struct jbuf *b = audit_begin(c->srv->audit, "command");
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	audit_member_command(b, argv, argc);
	jbuf_member_int(b, "status", status);
	audit_commit(c->srv->audit);
}

static enum cmd_role
exec_role(const struct conn *c)
{
	switch (c->who.kind) {
	case PRINCIPAL_DEVICE: return CMD_ROLE_DEVICE;
	case PRINCIPAL_ENROLL: return CMD_ROLE_ENROLL;
	default: return CMD_ROLE_USER;
	}
}

/* `metrics`: the loop's counters now, the same text as MetricsListen serves, for the job. */
static int
take_metrics(struct server *srv, struct cmdq_job *job)
{
	struct jbuf b;

	jbuf_init(&b, LIM_METRICS_TEXT);
	int r = metrics_text(srv, &b);
	if (r == 0) {
		job->metrics = b.data ? b.data : strdup("");
		job->metrics_len = b.len;
		return job->metrics ? 0 : ERR_NOMEM;
	}
	jbuf_free(&b);
	return r;
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static int
copy_key(struct pubkey *dst, const struct pubkey *src)
{
	memcpy(dst->type, src->type, sizeof(dst->type));
	memcpy(dst->fp, src->fp, sizeof(dst->fp));
	dst->blob = dup_or_empty(src->blob);
	dst->comment = dup_or_empty(src->comment);
	return dst->blob && dst->comment ? 0 : ERR_NOMEM;
}

/* The channel's command as a job: argv and stdin move into it, the caller's identity is copied. */
static struct cmdq_job *
job_new(struct chan *h)
{
	struct conn *c = h->conn;
	struct exec *x = X(h);
	struct cmdq_job *job = cmdq_job_new();

	if (job == NULL)
		return NULL;
	job->argv = x->argv;
	job->argc = x->argc;
	x->argv = NULL;
	job->in = x->in.data;
	job->inlen = x->in.len;
	memset(&x->in, 0, sizeof(x->in));
	jbuf_init(&x->in, LIM_EXEC_STDIN);
	job->role = exec_role(c);
	job->admin = c->who.admin;
	job->user_id = c->who.id;
	job->device_id = c->who.kind == PRINCIPAL_DEVICE ? c->who.id : 0;
	job->session = c->id;
	job->owner = h;
	job->user = dup_or_empty(c->who.name);
	job->src = dup_or_empty(c->peer);
	job->server_addr = dup_or_empty(c->srv->public_addr);
	int r = job->user && job->src && job->server_addr ? copy_key(&job->key, &c->key) : ERR_NOMEM;
	/* only for whom cmd_run will show it: no loop work for a refusal */
	if (r == 0 && job->admin && job->role == CMD_ROLE_USER && strcmp(job->argv[0], "metrics") == 0)
		r = take_metrics(c->srv, job);
	if (r != 0) {
		cmdq_job_free(job);
		return NULL;
	}
	return job;
}

/* The channel's output is complete: the pump sends it, then exit-status and close. */
static void
exec_finish(struct chan *h, int status)
{
	struct exec *x = X(h);

	x->exit_status = status;
	x->output_ready = true;
	h->srv->work = true;
}

static void
log_busy(struct conn *c, const char *cmd)
{
	int64_t now = c->srv->now_ms;

	busy_unlogged++;
	if (busy_warned_ms != 0 && now - busy_warned_ms < BUSY_WARN_MS)
		return;
	session_log(c, LOG_LVL_WARN, "command '%s' refused: too many commands waiting or running "
	    "(%d in all, %d of one session; %lu refused since the last warning)", cmd, LIM_EXEC_QUEUE,
	    LIM_EXEC_PER_SESSION, busy_unlogged);
	busy_warned_ms = now;
	busy_unlogged = 0;
}

/* Hands the command to a worker; the answer comes back through exec_job_done. */
static void
exec_run(struct chan *h)
{
	struct conn *c = h->conn;
	struct exec *x = X(h);

	if (x->in.failed) {
		/* a truncated file must not pass for a shorter one (`import sshd --authorized-keys -`) */
		jbuf_addf(&x->errout, "outpost: standard input is larger than %zu bytes; run the "
		    "command on the jump server with outpost -d\n", x->in.limit);
		audit_command(c, x->argv, x->argc, CMD_FAIL);
		session_log(c, LOG_LVL_INFO, "command '%s' exited %d", x->argv[0], CMD_FAIL);
		cmd_argv_free(x->argv);
		x->argv = NULL;
		exec_finish(h, CMD_FAIL);
		return;
	}
	char cmd[LIM_LABEL + 1];
	snprintf(cmd, sizeof(cmd), "%s", x->argv[0]);
	struct cmdq_job *job = job_new(h);
	int r = job != NULL ? cmdq_submit(pool, job) : ERR_NOMEM;
	if (r == 0) {
		x->job = job;
		return;
	}
	cmdq_job_free(job);
	if (r == ERR_BUSY) {
		log_busy(c, cmd);
		jbuf_add(&x->errout, CMDQ_BUSY_TEXT, sizeof(CMDQ_BUSY_TEXT) - 1);
	} else
		jbuf_add(&x->errout, "outpost: out of memory\n", 23);
	exec_finish(h, CMD_FAIL);
}

/* A worker finished a job: its channel (if it still lives) sends the output. */
static void
exec_job_done(void *arg, struct cmdq_job *job)
{
	struct server *srv = arg;
	struct chan *h = job->owner;

	srv->recheck_now = true;	/* what the command changed applies to live sessions */
	if (h == NULL || h->conn == NULL) {
		if (job->ran)
			log_info("command '%s' of session %llu exited %d after its channel closed",
			    job->argv[0], (unsigned long long)job->session, job->status);
		else
			log_info("command '%s' of session %llu not run: its channel closed first",
			    job->argv[0], (unsigned long long)job->session);
		cmdq_job_free(job);
		return;
	}
	struct conn *c = h->conn;
	struct exec *x = X(h);
	x->job = NULL;
	jbuf_free(&x->out);
	jbuf_free(&x->errout);
	x->out = job->out;
	x->errout = job->err;
	jbuf_init(&job->out, LIM_EXEC_OUTPUT);
	jbuf_init(&job->err, LIM_EXEC_OUTPUT);
	if (c->who.kind == PRINCIPAL_ENROLL)
		c->enrolled = job->enrolled;
	session_log(c, LOG_LVL_INFO, "command '%s' exited %d", job->argv[0], job->status);
	exec_finish(h, job->status);
	cmdq_job_free(job);
}

/* `tunnel connect|disconnect` from a worker, on the loop: through our broker connection. */
static int
tunnel_send(void *arg, const char *fleet, const char *name, const char *cmd, char *why,
    size_t whylen)
{
	struct server *srv = arg;

	if (!wake_enabled(srv)) {
		snprintf(why, whylen, "this outpostd follows no MQTT broker (MqttURL is not set)");
		return ERR_CONFIG;
	}
	if (wake_send(srv, fleet, name, cmd) != 0) {
		snprintf(why, whylen, "the MQTT broker is unreachable now; try again later");
		return ERR_IO;
	}
	return 0;
}

void
exec_init(struct server *srv)
{
	struct cmdq_config cfg = {
		.store_spec = srv->cfg->store, .state_dir = srv->cfg->state_dir,
		.node = srv->node_name[0] != '\0' ? srv->node_name : NULL,
		.audit = srv->audit, .workers = EXEC_WORKERS,
		.max_jobs = LIM_EXEC_QUEUE, .max_per_session = LIM_EXEC_PER_SESSION,
		.done = exec_job_done, .tunnel_send = tunnel_send, .arg = srv,
	};
	int r = cmdq_new(&cfg, &pool);

	if (r != 0)
		fatal("cannot start the command workers: %s", err_str(r));
	pool_watch.kind = WATCH_EXEC;
	pool_watch.fd = cmdq_fd(pool);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pool_watch };
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, pool_watch.fd, &ev) != 0)
		fatal("epoll: %s", strerror(errno));
}

void
exec_ready(struct server *srv)
{
	(void)srv;
	cmdq_ready(pool);
}

void
exec_stats(struct cmdq_stats *out)
{
	cmdq_get_stats(pool, out);
}

void
exec_free(struct server *srv)
{
	(void)srv;
	cmdq_free(pool);
	pool = NULL;
}

static int
on_exec(struct chan *h, ssh_message m)
{
	struct exec *x = X(h);
	const char *cmd = ssh_message_channel_request_command(m);
	const char *why = NULL;
	char **argv = NULL;
	int argc = 0;

	if (x->output_ready || x->argv != NULL || x->job != NULL)
		return MSG_DEFAULT;	/* one command per channel */
	ssh_message_channel_request_reply_success(m);
	int r = cmd ? cmd_split(cmd, strlen(cmd), &argv, &argc, &why) : ERR_INVAL;
	if (r != 0 || argc == 0) {
		const char *reason = why ? why : r == ERR_TOOLONG ? "command line too long" :
		    "empty command; try 'help'";
		session_refused(h->conn, "command", cmd ? cmd : "", reason);
		jbuf_addf(&x->errout, "outpost: %s\n", reason);
		x->exit_status = CMD_USAGE;
		x->output_ready = true;
		cmd_argv_free(argv);
		return MSG_HANDLED;
	}
	if (ncroute_is_nc(argc, argv)) {	/* a routing request (seed 001), not a command */
		char reason[256];
		r = route_exec_nc(h, argc, argv, reason, sizeof(reason));
		cmd_argv_free(argv);
		if (r == 0)
			return MSG_HANDLED;	/* h is a route now: x is gone */
		jbuf_addf(&x->errout, "outpost: %s\n", reason);
		x->exit_status = CMD_FAIL;
		x->output_ready = true;
		return MSG_HANDLED;
	}
	x->argv = argv;
	x->argc = argc;
	if (!cmd_wants_stdin(argc, argv) || h->eof_rcvd)
		exec_run(h);
	return MSG_HANDLED;
}

/* A channel request on a session channel: exec runs a command, shell explains there is none. */
static int
exec_request(struct chan *h, ssh_message m)
{
	struct exec *x = X(h);

	switch (ssh_message_subtype(m)) {
	case SSH_CHANNEL_REQUEST_EXEC:
		return on_exec(h, m);
	case SSH_CHANNEL_REQUEST_SHELL:
		if (x->output_ready || x->argv != NULL || x->job != NULL)
			return MSG_DEFAULT;
		ssh_message_channel_request_reply_success(m);
		jbuf_add(&x->errout, NO_SHELL_TEXT, sizeof(NO_SHELL_TEXT) - 1);
		x->exit_status = CMD_FAIL;
		x->output_ready = true;
		h->srv->work = true;
		return MSG_HANDLED;
	default:
		return MSG_DEFAULT;	/* pty, env, x11, agent, subsystem...: refused */
	}
}

/* Standard input: kept for a command that reads it (`--key -`), capped; else dropped. */
static int
exec_data(struct chan *h, const void *p, uint32_t len)
{
	struct conn *c = h->conn;
	struct exec *x = X(h);

	x->in_total += len;
	if (c->who.kind == PRINCIPAL_ENROLL && x->in_total > LIM_ENROLL_STDIN) {
		if (!c->dead)
			session_log(c, LOG_LVL_INFO, "more than %d bytes of input: ending it",
			    LIM_ENROLL_STDIN);
		c->failed = true;
		session_kill(c, "enroll session: too much input");
		return (int)len;
	}
	if (x->argv != NULL)
		jbuf_add(&x->in, p, len);
	return (int)len;
}

/* Sends as much of buf as the window takes; true if all of it is gone. */
static bool
drain(struct chan *h, struct jbuf *buf, bool is_stderr)
{
	while (buf->len > 0) {
		uint32_t win = ssh_channel_window_size(h->ch);
		size_t n = buf->len < win ? buf->len : win;
		if (n == 0)
			return false;
		if (n > 32768)
			n = 32768;
		int w = session_write(h->conn, h->ch, buf->data, (uint32_t)n, is_stderr);
		if (w <= 0) {
			if (w < 0)
				chan_kill(h);
			return false;
		}
		jbuf_consume(buf, (size_t)w);
		server_touch(h->conn);
	}
	return true;
}

static bool
exec_pump(struct chan *h)
{
	struct exec *x = X(h);

	if (h->close_rcvd) {
		chan_kill(h);
		return true;
	}
	if (x->argv != NULL && h->eof_rcvd)
		exec_run(h);
	if (!x->output_ready)
		return false;
	if (!drain(h, &x->out, false) || !drain(h, &x->errout, true))
		return false;
	if (h->dead)
		return true;
	ssh_channel_request_send_exit_status(h->ch, x->exit_status);
	ssh_channel_send_eof(h->ch);
	chan_kill(h);
	return true;
}

static void
exec_reap(struct chan *h)
{
	struct exec *x = h->data;

	if (x == NULL)
		return;
	if (x->job != NULL)
		cmdq_job_orphan(x->job);	/* it finishes into nothing */
	jbuf_free(&x->out);
	jbuf_free(&x->errout);
	jbuf_free(&x->in);
	cmd_argv_free(x->argv);
	free(x);
	h->data = NULL;
}

const struct chan_ops chan_exec = {
	.name = "exec",
	.pump = exec_pump,
	.data = exec_data,
	.request = exec_request,
	.reap = exec_reap,
};
