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
#include "common/audit.h"
#include "server/server.h"
#include "server/wake.h"

#define NO_SHELL_TEXT \
	"outpost: this jump server has no shell.\r\n" \
	"Reach a device with: ssh -J <user>@<jump>:<port> <name>.<fleet>\r\n" \
	"List commands with: ssh -p <port> <user>@<jump> help\r\n"

int
exec_session_open(struct conn *c, ssh_message m)
{
	if (c->who.kind == PRINCIPAL_NONE || c->nchans >= LIM_CHANNELS)
		return 1;	/* users run commands, devices `report`, enrolling keys `enroll` */
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	if (ch == NULL)
		return 0;
	if (chan_new(c, ch, CHAN_EXEC) == NULL)
		ssh_channel_free(ch);
	return 0;
}

static struct chan *
find_chan(struct conn *c, ssh_channel ch)
{
	for (struct chan *h = c->srv->chans; h != NULL; h = h->next)
		if (h->ch == ch && h->conn == c && !h->dead)
			return h;
	return NULL;
}

static void
audit_command(struct conn *c, char **argv, int argc, int status)
{
	struct jbuf line;

	jbuf_init(&line, 1024);
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			jbuf_add(&line, " ", 1);
		jbuf_add(&line, argv[i], strlen(argv[i]));
	}
	struct jbuf *b = audit_begin(c->srv->audit, "command");
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "command", line.data ? line.data : "");
	jbuf_member_int(b, "status", status);
	audit_commit(c->srv->audit);
	jbuf_free(&line);
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

int
exec_stdin(struct chan *h, const void *data, uint32_t len)
{
	struct conn *c = h->conn;

	h->in_total += len;
	if (c->who.kind == PRINCIPAL_ENROLL && h->in_total > LIM_ENROLL_STDIN) {
		if (!c->dead)
			log_info("session %llu (enroll) from %s: more than %d bytes of input: ending it",
			    (unsigned long long)c->id, c->peer, LIM_ENROLL_STDIN);
		c->failed = true;
		session_kill(c, "enroll session: too much input");
		return (int)len;
	}
	if (h->argv != NULL)
		jbuf_add(&h->in, data, len);	/* stdin for `--key -`, capped */
	return (int)len;
}

/* Runs h->argv now, with h->in as standard input. */
static void
exec_run(struct chan *h)
{
	struct conn *c = h->conn;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);
	FILE *in = h->in.len > 0 ? fmemopen(h->in.data, h->in.len, "r") : NULL;

	if (out == NULL || err == NULL) {
		if (out) fclose(out);
		if (err) fclose(err);
		free(obuf);
		free(ebuf);
		h->exit_status = CMD_FAIL;
		jbuf_add(&h->errout, "outpost: out of memory\n", 23);
	} else {
		struct cmd_ctx ctx = {
			.st = c->srv->st, .in = in, .out = out, .err = err,
			.remote = true, .admin = c->who.admin,
			.user_id = c->who.id, .user = c->who.name,
			.audit = c->srv->audit, .state_dir = c->srv->cfg->state_dir,
			.server_addr = c->srv->public_addr, .role = exec_role(c),
			.key = &c->key, .device_id = c->who.kind == PRINCIPAL_DEVICE ? c->who.id : 0,
			.tunnel_send = tunnel_send, .tunnel_arg = c->srv,
		};
		h->exit_status = cmd_run(&ctx, h->argc, h->argv);
		c->srv->recheck_now = true;
		take_stream(out, &obuf, &olen, &h->out);
		take_stream(err, &ebuf, &elen, &h->errout);
	}
	if (in != NULL)
		fclose(in);
	if (c->who.kind == PRINCIPAL_ENROLL)
		c->enrolled = enroll_bound(c, h->exit_status);
	audit_command(c, h->argv, h->argc, h->exit_status);
	log_info("session %llu (%s): command '%s' exited %d", (unsigned long long)c->id,
	    c->who.name, h->argv[0] ? h->argv[0] : "", h->exit_status);
	cmd_argv_free(h->argv);
	h->argv = NULL;
	h->output_ready = true;
	h->srv->work = true;
}

static int
on_exec(struct chan *h, ssh_message m)
{
	const char *cmd = ssh_message_channel_request_command(m);
	const char *why = NULL;
	char **argv = NULL;
	int argc = 0;

	if (h->output_ready || h->argv != NULL)
		return 1;	/* one command per channel */
	ssh_message_channel_request_reply_success(m);
	int r = cmd ? cmd_split(cmd, strlen(cmd), &argv, &argc, &why) : ERR_INVAL;
	if (r != 0 || argc == 0) {
		jbuf_addf(&h->errout, "outpost: %s\n", why ? why : r == ERR_TOOLONG ?
		    "command line too long" : "empty command; try 'help'");
		h->exit_status = CMD_USAGE;
		h->output_ready = true;
		cmd_argv_free(argv);
		return 0;
	}
	h->argv = argv;
	h->argc = argc;
	if (!cmd_wants_stdin(argc, argv) || h->eof_rcvd)
		exec_run(h);
	return 0;
}

int
exec_channel_request(struct conn *c, ssh_message m)
{
	struct chan *h = find_chan(c, ssh_message_channel_request_channel(m));

	if (h == NULL || h->kind != CHAN_EXEC)
		return 1;
	switch (ssh_message_subtype(m)) {
	case SSH_CHANNEL_REQUEST_EXEC:
		return on_exec(h, m);
	case SSH_CHANNEL_REQUEST_SHELL:
		if (h->output_ready || h->argv != NULL)
			return 1;
		ssh_message_channel_request_reply_success(m);
		jbuf_add(&h->errout, NO_SHELL_TEXT, sizeof(NO_SHELL_TEXT) - 1);
		h->exit_status = CMD_FAIL;
		h->output_ready = true;
		h->srv->work = true;
		return 0;
	default:
		return 1;	/* pty, env, x11, agent, subsystem...: refused */
	}
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

bool
exec_pump(struct chan *h)
{
	if (h->close_rcvd) {
		chan_kill(h);
		return true;
	}
	if (h->argv != NULL && h->eof_rcvd)
		exec_run(h);
	if (!h->output_ready)
		return false;
	if (!drain(h, &h->out, false) || !drain(h, &h->errout, true))
		return false;
	if (h->dead)
		return true;
	ssh_channel_request_send_exit_status(h->ch, h->exit_status);
	ssh_channel_send_eof(h->ch);
	chan_kill(h);
	return true;
}
