/*
 * refuse.c: the refusal channel kind. A technician's direct-tcpip we cannot
 * route is accepted anyway and answered as a minimal SSH server would
 * (src/ssh/disconnect.c), so `ssh -J` prints the reason; libssh 0.10 cannot
 * put a reason in a refused channel open (docs/LIBSSH.md, "No reason text
 * on a refused channel open").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/chan.h"
#include "server/server.h"
#include "ssh/disconnect.h"

#define REFUSE_LINGER_MS 5000

/* A refusal's own state. */
struct refusal {
	char *reason;			/* the text; owned */
	struct jbuf out;		/* identification + disconnect, not yet written */
	int64_t deadline_ms;		/* give up then */
};

static void
refusal_reap(struct chan *h)
{
	struct refusal *rf = h->data;

	if (rf == NULL)
		return;
	jbuf_free(&rf->out);
	free(rf->reason);
	free(rf);
	h->data = NULL;
}

void
refuse_chan(struct chan *h, const char *reason)
{
	struct refusal *rf = calloc(1, sizeof(*rf));

	if (rf != NULL)
		rf->reason = strdup(reason);
	if (rf == NULL || rf->reason == NULL) {
		free(rf);
		chan_become(h, &chan_refusal, NULL);
		chan_kill(h);
		return;
	}
	jbuf_init(&rf->out, LIM_EXEC_OUTPUT);
	rf->deadline_ms = h->srv->now_ms + h->srv->cfg->refuse_wait * 1000L;
	chan_become(h, &chan_refusal, rf);
}

void
refuse_open(struct conn *c, ssh_channel ch, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	session_log(c, LOG_LVL_INFO, "refused: %s", reason);
	struct chan *h = chan_new(c, ch, &chan_refusal, NULL);
	if (h == NULL) {
		ssh_channel_free(ch);
		return;
	}
	refuse_chan(h, reason);
}

/* Discards whatever the refused client sends. */
static void
refuse_discard(struct chan *h)
{
	char buf[4096];

	while (h->pending > 0) {
		uint32_t n = h->pending < sizeof(buf) ? h->pending : sizeof(buf);
		int r = ssh_channel_read_nonblocking(h->ch, buf, n, 0);
		if (r <= 0) {
			h->pending = 0;
			break;
		}
		h->pending -= (uint32_t)r < h->pending ? (uint32_t)r : h->pending;
	}
}

/*
 * Reads the client's first bytes: an SSH client gets the reason, anything
 * else a close. The reason has REFUSE_LINGER_MS to get through the
 * client's window (a client announcing none would otherwise hold the
 * channel forever); after it we linger until the client hangs up (it
 * prints the reason only if it can still send its KEXINIT), at most
 * REFUSE_LINGER_MS again.
 */
static bool
refuse_pump(struct chan *h)
{
	struct refusal *rf = h->data;
	char first[4];

	if (rf->out.len == 0 && !h->eof_sent) {
		if (h->pending >= 4) {
			int n = ssh_channel_read_nonblocking(h->ch, first, 4, 0);
			if (n == 4 && memcmp(first, "SSH-", 4) == 0) {
				disconnect_bytes(&rf->out, rf->reason);
				h->pending -= 4;
				rf->deadline_ms = h->srv->now_ms + REFUSE_LINGER_MS;
			} else {
				chan_kill(h);
				return true;
			}
		} else if (h->eof_rcvd || h->srv->now_ms >= rf->deadline_ms) {
			chan_kill(h);
			return true;
		} else
			return false;
	}
	refuse_discard(h);
	if (h->eof_sent) {
		if (h->eof_rcvd || h->srv->now_ms >= rf->deadline_ms)
			chan_kill(h);
		return false;
	}
	if (h->srv->now_ms >= rf->deadline_ms) {
		chan_kill(h);	/* a client that opens no window cannot hold the channel */
		return true;
	}
	uint32_t win = ssh_channel_window_size(h->ch);
	size_t n = rf->out.len < win ? rf->out.len : win;
	if (n > 0) {
		int w = session_write(h->conn, h->ch, rf->out.data, (uint32_t)n, false);
		if (w < 0) {
			chan_kill(h);
			return true;
		}
		jbuf_consume(&rf->out, (size_t)w);
		server_touch(h->conn);
	}
	if (rf->out.len == 0) {
		/* No EOF from us: OpenSSH's -W would then stop reading the inner
		 * client, whose KEXINIT write fails before it reads our reason. */
		h->eof_sent = true;	/* "all said" */
		rf->deadline_ms = h->srv->now_ms + REFUSE_LINGER_MS;
	}
	return n > 0;
}

static bool
refusal_pump(struct chan *h)
{
	if (h->data == NULL) {		/* out of memory turning into a refusal */
		chan_kill(h);
		return true;
	}
	return refuse_pump(h);
}

const struct chan_ops chan_refusal = {
	.name = "refusal",
	.pump = refusal_pump,
	.reap = refusal_reap,
};
