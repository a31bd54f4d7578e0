/*
 * splice.c: the splice channel kinds. Both sides of a route (splice.h) move
 * bytes in the main loop as each side's window allows; a technician's bytes
 * that wait in outpostd are counted per user and bounded, and a channel
 * whose reader keeps up gets a deep window (docs/ARCHITECTURE.md, "Windows
 * on long links"). route.c makes and ends routes; chan.c owns a channel's life.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/metrics.h"
#include "server/peer.h"
#include "server/server.h"
#include "server/splice.h"

#define PUMP_CHUNK 65536		/* bytes moved per read/write */
#define PUMP_BUDGET (512 * 1024)	/* bytes per direction per loop turn */
#define SPILL_MAX (PUMP_CHUNK * 2)

static void account(struct chan *h);
static void acct_forget(struct chan *h);
static bool trim_wanted;	/* a route ended since splice_trim */

struct splice *
splice_new(void)
{
	struct splice *sp = calloc(1, sizeof(*sp));

	if (sp != NULL)
		jbuf_init(&sp->spill, SPILL_MAX);
	return sp;
}

void
splice_free(struct splice *sp)
{
	if (sp == NULL)
		return;
	jbuf_free(&sp->spill);
	free(sp);
}

/* Both sides: unlink from the partner, drop the route, free the side's data. */
static void
splice_reap(struct chan *h)
{
	struct splice *sp = h->data;

	if (sp == NULL)
		return;
	if (sp->peer != NULL && SP(sp->peer)->peer == h)
		SP(sp->peer)->peer = NULL;
	if (sp->route != NULL) {
		acct_forget(h);
		route_unref(h->srv, sp->route);
	}
	splice_free(sp);
	h->data = NULL;
}

/* ---- what a principal's routes hold ---- */

/*
 * The bytes one technician sent that wait in outpostd, over all their
 * routes, and how many of their channels have a deep window. Shared by the
 * routes, freed with the last. Above LIM_PRINCIPAL_HELD their sessions are
 * not read until half of it is left (docs/HARDENING.md, "Memory per channel").
 */
struct acct {
	int64_t user_id;
	char user[LIM_LABEL + 1];
	int refs;
	size_t held;
	int ndeep;		/* channels granted LIM_DEEP_WINDOW */
	bool over;
};

static bool
is_splice(const struct chan *h)
{
	return (h->ops == &chan_splice_client || h->ops == &chan_splice_device) && h->data != NULL;
}

struct acct *
splice_acct_get(struct server *srv, int64_t user_id, const char *user)
{
	for (struct chan *h = srv->chans; h != NULL; h = h->next) {
		struct acct *a = is_splice(h) && SP(h)->route != NULL ? SP(h)->route->acct : NULL;
		if (a != NULL && a->user_id == user_id) {
			a->refs++;
			return a;
		}
	}
	struct acct *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->user_id = user_id;
	snprintf(a->user, sizeof(a->user), "%s", user);
	a->refs = 1;
	return a;
}

/*
 * Re-counts what h holds of the bytes its user sent: on the technician's
 * side what libssh buffers for the channel, on the device's side the spill.
 * Bytes coming from the device are not counted: not reading the user's
 * sessions would not stop them, and would stop the window adjustments that
 * let them go (each channel's window bounds them).
 */
static void
account(struct chan *h)
{
	struct splice *sp = h->data;
	struct acct *a = sp->route != NULL ? sp->route->acct : NULL;
	size_t now = h->dead ? 0 : h->ops == &chan_splice_client ? (size_t)h->pending : sp->spill.len;

	if (a == NULL)
		return;
	a->held = a->held - sp->counted + now;
	sp->counted = now;
}

/* Pauses or resumes reading every session of a's user when a crosses its bound. */
static void
acct_check(struct server *srv, struct acct *a)
{
	bool over = a->held > (a->over ? LIM_PRINCIPAL_HELD / 2 : LIM_PRINCIPAL_HELD);

	if (over == a->over)
		return;
	a->over = over;
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (c->authed && c->who.kind == PRINCIPAL_USER && c->who.id == a->user_id) {
			c->paused = over;
			server_touch(c);
		}
	log_info("user %s: %zu bytes from them wait for their devices: %s", a->user, a->held,
	    over ? "not reading their sessions" : "reading their sessions again");
}

/* Takes h's bytes and deep window out of its user's account: h is going, or changing kind. */
static void
acct_forget(struct chan *h)
{
	struct splice *sp = h->data;
	struct acct *a = sp->route->acct;

	if (a == NULL)
		return;
	a->held -= sp->counted;
	sp->counted = 0;
	trim_wanted = true;
	if (sp->deep)
		a->ndeep--;
	sp->deep = false;
	acct_check(h->srv, a);
}

/*
 * Gives freed memory back to the kernel once a second after routes that
 * carried bytes ended: libssh's channel buffers keep the size they grew to,
 * and glibc keeps what they free on its heap (256 stuck channels closed:
 * RSS stayed 10 MB above where it started without this; docs/HARDENING.md).
 */
void
splice_trim(void)
{
	if (!trim_wanted)
		return;
	trim_wanted = false;
	malloc_trim(0);
}

void
splice_acct_unref(struct server *srv, struct acct *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	a->held = 0;
	acct_check(srv, a);
	free(a);
}

/* ---- splicing ---- */

/* Channel data on a splice: it stays in libssh's buffer until the peer can take it. */
static int
splice_data(struct chan *h, const void *p, uint32_t len)
{
	struct splice *sp = h->data;
	uint32_t arrived = len > h->pending ? len - h->pending : 0;

	(void)p;
	sp->win_left = arrived < sp->win_left ? sp->win_left - arrived : 0;
	h->pending = len;
	account(h);
	h->srv->work = true;
	return 0;
}

/*
 * Reads n bytes of what libssh holds for src. While src's reader keeps up
 * (these n are all libssh holds and dst's window takes them at once) and
 * the route has moved at least a quarter of a deep window, the read also
 * tops src's receive window up to LIM_DEEP_WINDOW: libssh 0.10.6 grows a
 * window to count - buffered when a read asks for more than buffered +
 * window, and otherwise keeps it at most 1,280,000, too little for a long
 * link (docs/ARCHITECTURE.md, "Windows on long links"). It copies only
 * what it holds, n, checked first. A stuck reader gets no such grant.
 */
static int
relay_read(struct chan *src, char *buf, uint32_t n, uint32_t dst_win, uint64_t moved)
{
	struct splice *sp = src->data;
	struct acct *a = sp->route->acct;
	bool deep_ok = a != NULL && !a->over && (sp->deep || a->ndeep < LIM_DEEP_WINDOWS);

	if (deep_ok && n == src->pending && n <= dst_win && !src->eof_rcvd &&
	    moved >= LIM_DEEP_WINDOW / 4 &&
	    (!sp->deep || sp->since_grant >= LIM_DEEP_WINDOW / 8) &&
	    ssh_channel_poll(src->ch, 0) == (int)n) {
		if (!sp->deep)
			a->ndeep++;
		/* "left": at least that much of the last grant was still open to the sender */
		log_debug("%s -> %s:%u: %s window topped up to %u after %llu bytes, %lld ms and %u bytes left",
		    sp->route->user, sp->route->device, sp->route->port,
		    src->ops == &chan_splice_client ? "technician's" : "device's", LIM_DEEP_WINDOW,
		    (unsigned long long)moved, sp->deep ? (long long)(src->srv->now_ms - sp->granted_ms) : 0LL,
		    sp->deep ? sp->win_left : 0);
		sp->deep = true;
		sp->since_grant = 0;
		sp->granted_ms = src->srv->now_ms;
		sp->win_left = LIM_DEEP_WINDOW - n;
		return ssh_channel_read_timeout(src->ch, buf, LIM_DEEP_WINDOW, 0, 0);
	}
	int r = ssh_channel_read_nonblocking(src->ch, buf, n, 0);
	if (r > 0 && sp->since_grant < LIM_DEEP_WINDOW)
		sp->since_grant += (uint32_t)r;
	return r;
}

/*
 * What dst takes now: its window, or nothing while its session's socket is
 * full. libssh queues whatever is written in one unbounded buffer per
 * session; writing only to sessions whose socket keeps up leaves a stuck
 * reader's bytes in the sender's channel, where the window and the
 * account bound them.
 */
static uint32_t
writable(const struct chan *dst)
{
	if (ssh_get_status(dst->conn->s) & SSH_WRITE_PENDING)
		return 0;
	return ssh_channel_window_size(dst->ch);
}

/* Writes what the channel will take; keeps the rest in dst->spill. */
static int
write_or_spill(struct chan *dst, const char *p, size_t n)
{
	int w = session_write(dst->conn, dst->ch, p, (uint32_t)n, false);
	if (w < 0)
		return -1;
	if ((size_t)w < n && jbuf_add(&SP(dst)->spill, p + w, n - (size_t)w) != 0)
		return -1;
	account(dst);
	server_touch(dst->conn);
	return 0;
}

/* Moves bytes src -> dst as dst's window allows. Returns true if any moved. */
static bool
transfer(struct chan *src, struct chan *dst, uint64_t *counter)
{
	static char buf[PUMP_CHUNK];
	size_t budget = PUMP_BUDGET;
	bool moved = false;

	if (SP(dst)->spill.len > 0) {
		struct jbuf *sp = &SP(dst)->spill;
		uint32_t win = writable(dst);
		size_t n = sp->len < win ? sp->len : win;
		int w = n ? session_write(dst->conn, dst->ch, sp->data, (uint32_t)n, false) : 0;
		if (w < 0) {
			chan_kill(dst);
			return true;
		}
		jbuf_consume(sp, (size_t)w);
		account(dst);
		moved = w > 0;
		if (sp->len > 0)
			return moved;
	}
	while (src->pending > 0 && budget > 0) {
		uint32_t win = writable(dst);
		size_t n = src->pending;
		if (win == 0)
			break;
		if (n > win)
			n = win;
		if (n > sizeof(buf))
			n = sizeof(buf);
		int r = relay_read(src, buf, (uint32_t)n, win, *counter);
		if (r <= 0) {
			src->pending = 0;
			account(src);
			if (r < 0)
				chan_kill(src);
			break;
		}
		src->pending = (uint32_t)r >= src->pending ? 0 : src->pending - (uint32_t)r;
		account(src);
		*counter += (uint64_t)r;
		metrics_relayed(counter == &SP(src)->route->up, (uint64_t)r);
		src->conn->bytes += (uint64_t)r;
		dst->conn->bytes += (uint64_t)r;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		moved = true;
		if (write_or_spill(dst, buf, (size_t)r) != 0) {
			chan_kill(dst);
			break;
		}
		if (SP(dst)->spill.len > 0)
			break;
	}
	if (moved)
		server_touch(src->conn);
	return moved;
}

/* Forwards EOF and CLOSE from src to dst once src's bytes are all delivered. */
static void
forward_end(struct chan *src, struct chan *dst)
{
	if (src->pending > 0 || SP(dst)->spill.len > 0 || dst->dead)
		return;
	if (src->eof_rcvd && !dst->eof_sent) {
		ssh_channel_send_eof(dst->ch);
		dst->eof_sent = true;
		server_touch(dst->conn);
	}
	if (src->close_rcvd || src->dead) {
		chan_kill(src);
		chan_kill(dst);
	}
}

/* Steps a forwarded-tcpip open on the device (a direct-tcpip on a peer node's link); true once open. */
static bool
open_step(struct chan *cl, struct chan *dv)
{
	struct route *rt = SP(cl)->route;
	char why[256] = "";
	int rc;

	if (dv->conn->link != NULL) {
		int p = peer_open_step(dv, rt, why, sizeof(why));
		rc = p > 0 ? SSH_OK : p == 0 ? SSH_AGAIN : SSH_ERROR;
	} else {
		rc = ssh_channel_open_reverse_forward(dv->ch, rt->device_bind, (int)rt->port,
		    rt->orig, rt->orig_port);
		server_touch(dv->conn);
	}
	if (rc == SSH_AGAIN && cl->srv->now_ms < SP(dv)->deadline_ms)
		return false;
	if (rc != SSH_OK) {
		if (rc == SSH_AGAIN && rt->via[0] != '\0')
			snprintf(why, sizeof(why), "device %s: node %s did not answer in time", rt->device, rt->via);
		else if (why[0] == '\0')
			snprintf(why, sizeof(why), rc == SSH_AGAIN ?
			    "device %s did not answer in time" :
			    "device %s could not connect to its service on port %u",
			    rt->device, rt->port);
		route_audit_connect(cl->conn, rt->device, (int)rt->port, "failed", why);
		log_info("%s -> %s:%u: %s", rt->user, rt->device, rt->port, why);
		chan_kill(dv);
		refuse_chan(cl, why);
		return false;
	}
	SP(dv)->opening = false;
	rt->opened = true;
	rt->started_ms = cl->srv->now_ms;
	rt->started_wall = timefmt_now();
	route_audit_connect(cl->conn, rt->device, (int)rt->port, "ok", NULL);
	log_info("%s (%s) -> %s:%u connected%s%s", rt->user, rt->src, rt->device, rt->port,
	    rt->via[0] ? " via node " : "", rt->via);
	return true;
}

static bool
route_pump(struct chan *cl)
{
	struct chan *dv = SP(cl)->peer;
	bool moved;

	if (dv == NULL || dv->dead) {
		if (!SP(cl)->route->opened) {
			char why[256];
			snprintf(why, sizeof(why), "device %s went offline", SP(cl)->route->device);
			refuse_chan(cl, why);
		} else
			chan_kill(cl);
		return true;
	}
	if (SP(dv)->opening && !open_step(cl, dv))
		return false;
	moved = transfer(cl, dv, &SP(cl)->route->up);
	moved |= transfer(dv, cl, &SP(cl)->route->down);
	struct acct *a = SP(cl)->route->acct;
	if (a != NULL) {
		acct_check(cl->srv, a);
		if (a->over && !cl->conn->paused) {
			cl->conn->paused = true;	/* a session opened since */
			server_touch(cl->conn);
		}
	}
	if (!cl->dead && !dv->dead) {
		forward_end(cl, dv);
		forward_end(dv, cl);
	}
	return moved;
}

static bool
client_pump(struct chan *cl)
{
	if (cl->data == NULL) {		/* not linked: cannot happen outside tests */
		chan_kill(cl);
		return true;
	}
	return route_pump(cl);
}

/* The device side is driven from the client side; alone, it closes. */
static bool
device_pump(struct chan *dv)
{
	if (SP(dv)->peer == NULL) {
		chan_kill(dv);
		return true;
	}
	return false;
}

const struct chan_ops chan_splice_client = {
	.name = "splice-client",
	.pump = client_pump,
	.data = splice_data,
	.reap = splice_reap,
};

const struct chan_ops chan_splice_device = {
	.name = "splice-device",
	.pump = device_pump,
	.data = splice_data,
	.reap = splice_reap,
};
