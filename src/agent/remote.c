/* remote.c: one command over an SSH exec channel, output capped. */
#include <stdio.h>
#include <string.h>

#include "agent/remote.h"
#include "common/err.h"
#include "common/timefmt.h"

/* Appends what fits of n bytes to a NUL-terminated buffer of cap+1 bytes. */
static void
keep(char *buf, size_t cap, const char *p, int n)
{
	size_t len = strlen(buf), take = (size_t)n;

	if (len >= cap)
		return;
	if (take > cap - len)
		take = cap - len;
	memcpy(buf + len, p, take);
	buf[len + take] = '\0';
}

/* Reads both streams until EOF or the deadline. */
static void
collect(ssh_channel ch, int timeout_ms, struct remote_result *out)
{
	int64_t deadline = timefmt_mono_ms() + timeout_ms;
	char buf[4096];

	while (!ssh_channel_is_eof(ch) && !ssh_channel_is_closed(ch)) {
		int64_t left = deadline - timefmt_mono_ms();
		if (left <= 0)
			break;
		int n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, (int)(left < 1000 ? left : 1000));
		if (n == SSH_ERROR)
			break;
		if (n > 0)
			keep(out->out, AGENT_SERVER_REPLY_MAX, buf, n);
		while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), 1)) > 0)
			keep(out->err, AGENT_SERVER_REPLY_MAX, buf, n);
	}
	int n;
	while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), 1)) > 0)
		keep(out->err, AGENT_SERVER_REPLY_MAX, buf, n);
}

int
remote_exec(ssh_session s, const char *cmd, int timeout_ms, struct remote_result *out,
    char *why, size_t whylen)
{
	ssh_channel ch = ssh_channel_new(s);
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->status = -1;
	if (ch == NULL || ssh_channel_open_session(ch) != SSH_OK) {
		snprintf(why, whylen, "the server refused a session channel: %s", ssh_get_error(s));
		r = ERR_SSH;
	} else if (ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		snprintf(why, whylen, "the server refused the command: %s", ssh_get_error(s));
		r = ERR_SSH;
	} else {
		collect(ch, timeout_ms, out);
		ssh_channel_send_eof(ch);
		out->status = ssh_channel_get_exit_status(ch);
	}
	if (ch != NULL) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	return r;
}
