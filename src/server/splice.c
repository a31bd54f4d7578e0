/*
 * splice.c: the splice channel kinds. Both sides of a route (splice.h) move
 * bytes in the main loop as each side's window allows; a technician's bytes
 * are taken from libssh on arrival into the channel's own queue of chunks
 * that go back as it drains, counted per user and bounded
 * (docs/HARDENING.md, "Memory per channel"), and a channel whose reader
 * keeps up gets a deep window (docs/ARCHITECTURE.md, "Windows on long
 * links"). route.c makes and ends routes; chan.c owns a channel's life.
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
#include "server/sockbuf.h"
#include "server/splice.h"

#define PUMP_CHUNK 65536		/* bytes moved per read/write */
#define PUMP_BUDGET (512 * 1024)	/* bytes per direction per loop turn */
#define SPILL_MAX (PUMP_CHUNK * 2)
#define POOL_MAX 32			/* free queue chunks kept for reuse (1 MiB) */

static void account(struct chan *h);
static void acct_forget(struct chan *h);
static bool trim_wanted;	/* a route ended since splice_trim */
static struct chunkpool pool = { .max = POOL_MAX };	/* every client side's queue chunks */

struct splice *
splice_new(void)
{
	struct splice *sp = calloc(1, sizeof(*sp));

	if (sp != NULL) {
		jbuf_init(&sp->spill, SPILL_MAX);
		chunkq_init(&sp->q, &pool);
	}
	return sp;
}

void
splice_free(struct splice *sp)
{
	if (sp == NULL)
		return;
	jbuf_free(&sp->spill);
	chunkq_clear(&sp->q);
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
	size_t pinned;		/* what libssh's buffers keep of what they held and gave up (parked channels) */
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
 * side its queue's chunks (whole, what they cost) and what libssh still
 * buffers for the channel; the device's side holds none of them. Bytes
 * coming from the device are not counted: not reading the user's sessions
 * would not stop them, and would stop the window adjustments that let them
 * go (each channel's window bounds them).
 */
static void
account(struct chan *h)
{
	struct splice *sp = h->data;
	struct acct *a = sp->route != NULL ? sp->route->acct : NULL;
	size_t now = h->dead || h->ops != &chan_splice_client ? 0 :
	    chunkq_footprint(&sp->q) + (size_t)h->pending;

	if (a == NULL)
		return;
	a->held = a->held - sp->counted + now;
	sp->counted = now;
	if (!sp->parked || h->dead)
		return;
	if (h->pending > sp->parked_max)
		sp->parked_max = h->pending;
	a->pinned = a->pinned - sp->pinned + (sp->parked_max - h->pending);
	sp->pinned = sp->parked_max - h->pending;
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
	a->pinned -= sp->pinned;
	sp->pinned = 0;
	sp->parked = false;
	acct_check(h->srv, a);
}

/*
 * Gives freed memory back to the kernel once a second after routes that
 * carried bytes ended: glibc keeps what the queues' chunks and libssh's
 * channel buffers free on its heap (256 stuck channels closed: RSS stayed
 * 10 MB above where it started without this; docs/HARDENING.md).
 */
void
splice_trim(void)
{
	if (!trim_wanted)
		return;
	trim_wanted = false;
	chunkpool_drain(&pool);
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

/* Notes what arrived of the window h was last granted: len is all libssh holds, new bytes and old. */
static void
arrived(struct chan *h, uint32_t len)
{
	struct splice *sp = h->data;
	uint32_t n = len > h->pending ? len - h->pending : 0;

	sp->win_left = n < sp->win_left ? sp->win_left - n : 0;
	h->srv->work = true;
}

/*
 * Whether h may leave bytes in libssh past its queue's bound. libssh keeps
 * the size its buffer grows to while the channel lives: bytes that wait
 * there are counted in held, but once they have gone on the memory stays,
 * counted in a->pinned. Above LIM_PRINCIPAL_PINNED no more of the user's
 * channels may park; their queues, whose chunks go back as they drain,
 * take the bytes, counted, until LIM_PRINCIPAL_HELD pauses the user.
 */
static bool
may_park(const struct chan *h)
{
	const struct acct *a = SP(h)->route->acct;

	return a == NULL || a->pinned < LIM_PRINCIPAL_PINNED;
}

/*
 * The technician's bytes, taken on arrival into the channel's queue, so
 * libssh's buffer holds no more than a packet and keeps no grown
 * allocation (libssh 0.10 never shrinks a channel's buffer;
 * docs/HARDENING.md, "Memory per channel"). Past LIM_RELAY_QUEUE the rest
 * stays in libssh (h->pending), where the window it counts stops the
 * sender, if may_park; so do bytes that come while the device's side
 * opens (a refusal must still find the client's first bytes there).
 * Inside a deep grant every byte is taken: relay_grant's read must find
 * libssh's buffer empty. Runs inside libssh (and re-entrantly inside a
 * write or a grant): appends to the queue's tail only.
 */
static int
client_data(struct chan *h, const void *p, uint32_t len)
{
	struct splice *sp = h->data;
	size_t room = !sp->route->opened ? 0 :
	    sp->q.len < LIM_RELAY_QUEUE ? LIM_RELAY_QUEUE - sp->q.len : may_park(h) ? 0 : len;
	size_t want = sp->granting || len < room ? len : room;
	size_t took = chunkq_add(&sp->q, p, want);

	arrived(h, len);
	if (took < want && sp->granting) {	/* out of memory: the bytes can wait nowhere */
		chan_kill(h);
		took = len;
	}
	if (took < len)
		sp->parked = true;	/* libssh's buffer grows (also while the device's side opens) */
	h->pending = len - (uint32_t)took;
	account(h);
	return (int)took;
}

/* Bytes from the device: they stay in libssh's buffer until the technician's side takes them. */
static int
device_data(struct chan *h, const void *p, uint32_t len)
{
	(void)p;
	arrived(h, len);
	h->pending = len;
	return 0;
}

/*
 * Whether src's receive window may be topped up to LIM_DEEP_WINDOW now: its
 * reader keeps up (the caller checked), its user is under their bound and
 * has a deep window to give, and the route has moved at least a quarter of
 * one (half of that since the last top-up). libssh 0.10.6 keeps a window
 * at most 1,280,000 bytes, too little for a long link (docs/ARCHITECTURE.md,
 * "Windows on long links"); a stuck reader gets no such grant.
 */
static bool
deep_due(const struct chan *src, uint64_t moved)
{
	const struct splice *sp = src->data;
	const struct acct *a = sp->route->acct;

	return a != NULL && !a->over && (sp->deep || a->ndeep < LIM_DEEP_WINDOWS) &&
	    !src->eof_rcvd && moved >= LIM_DEEP_WINDOW / 4 &&
	    (!sp->deep || sp->since_grant >= LIM_DEEP_WINDOW / 8);
}

/* Records a top-up of src's window to LIM_DEEP_WINDOW, held bytes still in libssh. */
static void
deep_granted(struct chan *src, uint32_t held, uint64_t moved)
{
	struct splice *sp = src->data;

	if (!sp->deep)
		sp->route->acct->ndeep++;
	/* "left": at least that much of the last grant was still open to the sender */
	log_debug("%s -> %s:%u: %s window topped up to %u after %llu bytes, %lld ms and %u bytes left",
	    sp->route->user, sp->route->device, sp->route->port,
	    src->ops == &chan_splice_client ? "technician's" : "device's", LIM_DEEP_WINDOW,
	    (unsigned long long)moved, sp->deep ? (long long)(src->srv->now_ms - sp->granted_ms) : 0LL,
	    sp->deep ? sp->win_left : 0);
	sp->deep = true;
	sp->since_grant = 0;
	sp->granted_ms = src->srv->now_ms;
	sp->win_left = LIM_DEEP_WINDOW - held;
}

/*
 * The device's side: reads n bytes of what libssh holds for src. While
 * src's reader keeps up (these n are all libssh holds and dst's window
 * takes them at once) and deep_due, the read also tops src's window up:
 * libssh 0.10.6 grows a window to count - buffered when a read asks for
 * more than buffered + window. It copies only what it holds, n, checked first.
 */
static int
relay_read(struct chan *src, char *buf, uint32_t n, uint32_t dst_win, uint64_t moved)
{
	struct splice *sp = src->data;

	if (n == src->pending && n <= dst_win && deep_due(src, moved) &&
	    ssh_channel_poll(src->ch, 0) == (int)n) {
		deep_granted(src, n, moved);
		return ssh_channel_read_timeout(src->ch, buf, LIM_DEEP_WINDOW, 0, 0);
	}
	int r = ssh_channel_read_nonblocking(src->ch, buf, n, 0);
	if (r > 0 && sp->since_grant < LIM_DEEP_WINDOW)
		sp->since_grant += (uint32_t)r;
	return r;
}

/*
 * The technician's side, its queue drained and nothing left in libssh:
 * the same top-up, a read of LIM_DEEP_WINDOW with libssh's buffer empty.
 * With libssh's buffer empty the calls poll the session: as for a write,
 * sockbuf answers that poll without reading, so the read copies nothing.
 * Should a read happen anyway (sockbuf passing through), client_data runs
 * inside it with sp->granting and takes every byte, and the read still
 * copies none.
 */
static void
relay_grant(struct chan *cl, uint64_t moved)
{
	struct splice *sp = cl->data;
	char none[1];

	if (sp->q.len > 0 || cl->pending > 0 || cl->dead || !deep_due(cl, moved))
		return;
	bool mine = sockbuf_begin_flush(server_conn_fd(cl->conn));
	sp->granting = true;
	if (ssh_channel_poll(cl->ch, 0) == 0) {
		deep_granted(cl, 0, moved);
		ssh_channel_read_timeout(cl->ch, none, LIM_DEEP_WINDOW, 0, 0);
	}
	sp->granting = false;
	if (mine)
		sockbuf_end();
	server_touch(cl->conn);
}

/*
 * What dst takes now: its window, or nothing while its session's socket is
 * full. libssh queues whatever is written in one unbounded buffer per
 * session; writing only to sessions whose socket keeps up leaves a stuck
 * reader's bytes in the sender's channel (or its queue), where the window
 * and the account bound them.
 */
static uint32_t
writable(const struct chan *dst)
{
	if (ssh_get_status(dst->conn->s) & SSH_WRITE_PENDING)
		return 0;
	return ssh_channel_window_size(dst->ch);
}

/* Counts r bytes moved src -> dst on the route's counter. */
static void
relayed(struct chan *src, struct chan *dst, uint64_t *counter, uint32_t r)
{
	*counter += r;
	metrics_relayed(counter == &SP(src)->route->up, r);
	src->conn->bytes += r;
	dst->conn->bytes += r;
}

/*
 * Moves into cl's queue, while it has room, what libssh still holds for cl:
 * bytes that came while it waited to become a splice, or past the queue's
 * bound. With bytes held the read does no I/O; an extra copy, off the hot path.
 */
static void
take_held(struct chan *cl)
{
	static char buf[PUMP_CHUNK];
	struct splice *sp = cl->data;

	while (cl->pending > 0 && sp->q.len < LIM_RELAY_QUEUE && !cl->dead) {
		uint32_t n = cl->pending < sizeof(buf) ? cl->pending : (uint32_t)sizeof(buf);
		int r = ssh_channel_read_nonblocking(cl->ch, buf, n, 0);
		if (r <= 0) {
			cl->pending = 0;
			if (r == SSH_ERROR)
				chan_kill(cl);
			break;
		}
		cl->pending = (uint32_t)r >= cl->pending ? 0 : cl->pending - (uint32_t)r;
		if (chunkq_add(&sp->q, buf, (size_t)r) < (size_t)r)
			chan_kill(cl);	/* out of memory */
	}
	account(cl);
}

/*
 * Technician -> device: writes cl's queue as dv takes it, straight from its
 * chunks (what is not taken stays queued: no spill on this side). A queue
 * drained with dv still taking is a reader that keeps up: relay_grant.
 * Returns true if any moved.
 */
static bool
transfer_up(struct chan *cl, struct chan *dv)
{
	struct splice *sp = cl->data;
	uint64_t *counter = &sp->route->up;
	size_t budget = PUMP_BUDGET;
	bool moved = false, kept_up = true;

	take_held(cl);
	while (sp->q.len > 0 && !cl->dead) {
		uint32_t win = budget > 0 ? writable(dv) : 0;
		size_t n;
		const char *p = chunkq_peek(&sp->q, &n);
		if (win == 0) {
			kept_up = false;
			break;
		}
		if (n > win)
			n = win;
		int w = session_write(dv->conn, dv->ch, p, (uint32_t)n, false);
		if (w < 0) {
			chan_kill(dv);
			return true;
		}
		chunkq_consume(&sp->q, (size_t)w);	/* p may not be used past here */
		if (w > 0) {
			relayed(cl, dv, counter, (uint32_t)w);
			if (sp->since_grant < LIM_DEEP_WINDOW)
				sp->since_grant += (uint32_t)w;
			budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
			moved = true;
			server_touch(dv->conn);
		}
		if ((size_t)w < n) {	/* short: a rekey */
			kept_up = false;
			break;
		}
		if (sp->q.len == 0)
			take_held(cl);
	}
	account(cl);
	if (moved) {
		server_touch(cl->conn);
		if (kept_up)
			relay_grant(cl, *counter);
	}
	return moved;
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
	server_touch(dst->conn);
	return 0;
}

/*
 * Writes dst's spill as its window allows; an emptied spill gives its
 * memory back (it may have grown to SPILL_MAX). Returns the bytes written,
 * or -1 (dst killed).
 */
static int
spill_flush(struct chan *dst)
{
	struct jbuf *sp = &SP(dst)->spill;
	uint32_t win = writable(dst);
	size_t n = sp->len < win ? sp->len : win;
	int w = n ? session_write(dst->conn, dst->ch, sp->data, (uint32_t)n, false) : 0;

	if (w < 0) {
		chan_kill(dst);
		return -1;
	}
	jbuf_consume(sp, (size_t)w);
	if (sp->len == 0)
		jbuf_free(sp);
	return w;
}

/* Device -> technician: moves bytes as cl's window allows. Returns true if any moved. */
static bool
transfer_down(struct chan *dv, struct chan *cl)
{
	static char buf[PUMP_CHUNK];
	uint64_t *counter = &SP(cl)->route->down;
	size_t budget = PUMP_BUDGET;
	bool moved = false;

	if (SP(cl)->spill.len > 0) {
		int w = spill_flush(cl);
		if (w < 0)
			return true;
		moved = w > 0;
		if (SP(cl)->spill.len > 0)
			return moved;
	}
	while (dv->pending > 0 && budget > 0) {
		uint32_t win = writable(cl);
		size_t n = dv->pending;
		if (win == 0)
			break;
		if (n > win)
			n = win;
		if (n > sizeof(buf))
			n = sizeof(buf);
		int r = relay_read(dv, buf, (uint32_t)n, win, *counter);
		if (r <= 0) {
			dv->pending = 0;
			if (r < 0)
				chan_kill(dv);
			break;
		}
		dv->pending = (uint32_t)r >= dv->pending ? 0 : dv->pending - (uint32_t)r;
		relayed(dv, cl, counter, (uint32_t)r);
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		moved = true;
		if (write_or_spill(cl, buf, (size_t)r) != 0) {
			chan_kill(cl);
			break;
		}
		if (SP(cl)->spill.len > 0)
			break;
	}
	if (moved)
		server_touch(dv->conn);
	return moved;
}

/* Forwards EOF and CLOSE from src to dst once src's bytes are all delivered. */
static void
forward_end(struct chan *src, struct chan *dst)
{
	if (src->pending > 0 || SP(src)->q.len > 0 || SP(dst)->spill.len > 0 || dst->dead)
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
	moved = transfer_up(cl, dv);
	moved |= transfer_down(dv, cl);
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
	.data = client_data,
	.reap = splice_reap,
};

const struct chan_ops chan_splice_device = {
	.name = "splice-device",
	.pump = device_pump,
	.data = device_data,
	.reap = splice_reap,
};
