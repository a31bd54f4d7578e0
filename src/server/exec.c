/*
 * exec.c: session channels. The only thing a session may do is run one
 * outpost command (`ssh -p 2222 jump ls`) through the same command layer as
 * the local CLI. No shell, pty, X11, agent forwarding or subsystems.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "common/err.h"
#include "common/log.h"
#include "common/ncroute.h"
#include "common/audit.h"
#include "server/chan.h"
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
};

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

/* `tunnel connect|disconnect` from a command: through our broker connection. */
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

/* An enroll login's command succeeded and its key now belongs to a device. */
static bool
enroll_bound(struct conn *c, int status)
{
	struct store_principal who;

	return status == CMD_OK && store_principal_by_key(c->srv->st, &c->key, &who) == 0 &&
	    who.kind == PRINCIPAL_DEVICE;
}

/* `metrics`: the loop's counters now, the same text as MetricsListen serves. */
static int
exec_metrics(void *arg, FILE *out)
{
	struct jbuf b;

	jbuf_init(&b, LIM_METRICS_TEXT);
	int r = metrics_text(arg, &b);
	if (r == 0 && b.len > 0)
		fwrite(b.data, 1, b.len, out);
	jbuf_free(&b);
	return r;
}

/* Runs the command now, with what stdin brought as its standard input. */
static void
exec_run(struct chan *h)
{
	struct conn *c = h->conn;
	struct exec *x = X(h);
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);
	FILE *in = x->in.len > 0 ? fmemopen(x->in.data, x->in.len, "r") : NULL;

	if (x->in.failed) {
		/* a truncated file must not pass for a shorter one (`import sshd --authorized-keys -`) */
		if (out) fclose(out);
		if (err) fclose(err);
		if (in) fclose(in);
		in = NULL;
		free(obuf);
		free(ebuf);
		x->exit_status = CMD_FAIL;
		jbuf_addf(&x->errout, "outpost: standard input is larger than %zu bytes; run the "
		    "command on the jump server with outpost -d\n", x->in.limit);
	} else if (out == NULL || err == NULL) {
		if (out) fclose(out);
		if (err) fclose(err);
		free(obuf);
		free(ebuf);
		x->exit_status = CMD_FAIL;
		jbuf_add(&x->errout, "outpost: out of memory\n", 23);
	} else {
		struct cmd_ctx ctx = {
			.st = c->srv->st, .in = in, .out = out, .err = err,
			.remote = true, .admin = c->who.admin,
			.user_id = c->who.id, .user = c->who.name,
			.audit = c->srv->audit, .state_dir = c->srv->cfg->state_dir,
			.server_addr = c->srv->public_addr, .role = exec_role(c),
			.key = &c->key, .device_id = c->who.kind == PRINCIPAL_DEVICE ? c->who.id : 0,
			.tunnel_send = tunnel_send, .tunnel_arg = c->srv,
			.metrics = exec_metrics, .metrics_arg = c->srv,
		};
		x->exit_status = cmd_run(&ctx, x->argc, x->argv);
		c->srv->recheck_now = true;
		take_stream(out, &obuf, &olen, &x->out);
		take_stream(err, &ebuf, &elen, &x->errout);
	}
	if (in != NULL)
		fclose(in);
	if (c->who.kind == PRINCIPAL_ENROLL)
		c->enrolled = enroll_bound(c, x->exit_status);
	audit_command(c, x->argv, x->argc, x->exit_status);
	session_log(c, LOG_LVL_INFO, "command '%s' exited %d", x->argv[0] ? x->argv[0] : "",
	    x->exit_status);
	cmd_argv_free(x->argv);
	x->argv = NULL;
	x->output_ready = true;
	h->srv->work = true;
}

static int
on_exec(struct chan *h, ssh_message m)
{
	struct exec *x = X(h);
	const char *cmd = ssh_message_channel_request_command(m);
	const char *why = NULL;
	char **argv = NULL;
	int argc = 0;

	if (x->output_ready || x->argv != NULL)
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
		if (x->output_ready || x->argv != NULL)
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
