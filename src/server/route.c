/*
 * route.c: the splice channel kinds. A technician's direct-tcpip to
 * name.fleet:port is resolved, then spliced to a forwarded-tcpip channel
 * opened on that device's session; bytes move in the main loop as each
 * side's window allows. Refusals are refuse.c's, the wait for an on-demand
 * device wake.c's, a channel's life chan.c's.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/ncroute.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/wake.h"

#define PUMP_CHUNK 65536		/* bytes moved per read/write */
#define PUMP_BUDGET (512 * 1024)	/* bytes per direction per loop turn */
#define SPILL_MAX (PUMP_CHUNK * 2)
#define OPEN_TIMEOUT_MS 20000		/* device must answer a forwarded-tcpip open */

/* A route: what both sides of one splice share, and what is audited at its end. */
struct route {
	int64_t started_ms;
	int64_t started_wall;		/* UNIX time the route opened */
	uint64_t up, down;		/* bytes client->device, device->client */
	int64_t device_id;
	int64_t user_id;
	char device[LIM_TARGET + 1];	/* name.fleet */
	uint32_t port;
	char user[LIM_LABEL + 1];
	char user_fp[PUBKEY_FP_MAX];
	char src[64];			/* technician's TCP peer */
	char orig[64];			/* originator the client claimed */
	int orig_port;
	char device_bind[LIM_PEER_STRING];	/* bind address the device registered */
	bool opened;
	int refs;
	struct acct *acct;		/* the user's bytes held, shared by their routes */
};

/* One side of a splice (chan_splice_client or chan_splice_device): its data. */
struct splice {
	struct chan *peer;		/* the other side; NULL once it was reaped */
	struct route *route;		/* shared by both sides */
	bool opening;			/* device side: forwarded-tcpip open in progress */
	int64_t deadline_ms;		/* opening: give up then */
	struct jbuf spill;		/* read from peer, not yet accepted by ch */
	uint32_t since_grant;		/* bytes read since the last deep window grant */
	size_t counted;			/* what it holds of its user's bytes, as counted in route->acct */
	bool deep;			/* granted a deep window (counts in acct->ndeep) */
	int64_t granted_ms;		/* when, last */
	uint32_t win_left;		/* of that grant, what the sender has not used yet (at least) */
};

#define SP(h) ((struct splice *)(h)->data)

struct acct;
static void account(struct chan *h);
static void acct_forget(struct chan *h);
static void acct_unref(struct server *srv, struct acct *a);
static bool trim_wanted;	/* a route ended since route_trim */

static void
route_unref(struct server *srv, struct route *rt)
{
	if (--rt->refs > 0)
		return;
	if (rt->opened) {
		struct jbuf *b = audit_begin(srv->audit, "disconnect");
		jbuf_member_str(b, "what", "channel");
		jbuf_member_str(b, "user", rt->user);
		jbuf_member_str(b, "key_fp", rt->user_fp);
		jbuf_member_str(b, "src", rt->src);
		jbuf_member_str(b, "device", rt->device);
		jbuf_member_int(b, "port", rt->port);
		char start[32];
		timefmt_iso(rt->started_wall, start, sizeof(start));
		jbuf_member_str(b, "start", start);
		jbuf_member_str(b, "result", "ok");
		jbuf_member_int(b, "bytes_up", (int64_t)rt->up);
		jbuf_member_int(b, "bytes_down", (int64_t)rt->down);
		jbuf_member_int(b, "bytes", (int64_t)(rt->up + rt->down));
		jbuf_member_int(b, "duration_ms", srv->now_ms - rt->started_ms);
		audit_commit(srv->audit);
		log_info("%s -> %s:%u closed: %llu bytes up, %llu down, %lld ms", rt->user,
		    rt->device, rt->port, (unsigned long long)rt->up,
		    (unsigned long long)rt->down, (long long)(srv->now_ms - rt->started_ms));
	}
	acct_unref(srv, rt->acct);
	free(rt);
}

static struct splice *
splice_new(void)
{
	struct splice *sp = calloc(1, sizeof(*sp));

	if (sp != NULL)
		jbuf_init(&sp->spill, SPILL_MAX);
	return sp;
}

/* NULL is a no-op. */
static void
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

/* Writes a `connect` audit record for c's channel to dest:port. */
void
route_audit_connect(struct conn *c, const char *dest, int port, const char *result, const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, "connect");
	metrics_connect(result);
	jbuf_member_int(b, "session", (int64_t)c->id);
	if (c->who.kind == PRINCIPAL_DEVICE) {
		char self[LIM_TARGET + 1];
		snprintf(self, sizeof(self), "%s.%s", c->who.name, c->who.fleet);
		jbuf_member_str(b, "from_device", self);
	} else
		jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "device", dest);
	jbuf_member_int(b, "port", port);
	jbuf_member_str(b, "result", result);
	if (why != NULL)
		jbuf_member_str(b, "reason", why);
	audit_commit(c->srv->audit);
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

static struct acct *
acct_get(struct server *srv, int64_t user_id, const char *user)
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
route_trim(void)
{
	if (!trim_wanted)
		return;
	trim_wanted = false;
	malloc_trim(0);
}

static void
acct_unref(struct server *srv, struct acct *a)
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

/* Steps a forwarded-tcpip open on the device; true once open. */
static bool
open_step(struct chan *cl, struct chan *dv)
{
	struct route *rt = SP(cl)->route;
	int rc = ssh_channel_open_reverse_forward(dv->ch, rt->device_bind, (int)rt->port,
	    rt->orig, rt->orig_port);

	server_touch(dv->conn);
	if (rc == SSH_AGAIN && cl->srv->now_ms < SP(dv)->deadline_ms)
		return false;
	if (rc != SSH_OK) {
		char why[256];
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
	log_info("%s (%s) -> %s:%u connected", rt->user, rt->src, rt->device, rt->port);
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

/* ---- direct-tcpip ---- */

/* True if dest is what `-J jump -p PORT user@localhost` sends: the jump itself. */
bool
route_is_port_table(const char *dest)
{
	static const char *const self[] = { "localhost", "127.0.0.1", "::1" };

	for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++)
		if (strcasecmp(dest, self[i]) == 0)
			return true;
	return false;
}

/*
 * Port-table routing (seed 000's `ssh -J jump -p 22050 user@localhost`):
 * the live device, among the fleets c may reach, that registered port.
 * Two such devices: refused as ambiguous, naming both.
 */
static int
resolve_port(struct conn *c, uint32_t port, struct conn **dcp, int64_t *dev_id,
    char *qualified, size_t qlen, char *why, size_t whylen)
{
	struct server *srv = c->srv;
	struct conn *found = NULL;
	/* Reach is per fleet: one store query per fleet, not per device holding the port. */
	struct fleet_reach { const char *fleet; bool ok; } seen[16];
	size_t nseen = 0;

	for (struct conn *d = srv->conns; d != NULL; d = d->next) {
		if (d->dead || !d->authed || d->who.kind != PRINCIPAL_DEVICE ||
		    registry_get(srv->reg, d->who.id) != d || session_find_service(d, port) == NULL)
			continue;
		if (!c->who.admin) {
			size_t i;
			for (i = 0; i < nseen && strcmp(seen[i].fleet, d->who.fleet) != 0; i++)
				;
			bool ok = i < nseen ? seen[i].ok :
			    store_user_may_reach(srv->st, c->who.id, d->who.id) == 0;
			if (i == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = (struct fleet_reach){ d->who.fleet, ok };
			if (!ok)
				continue;
		}
		if (found != NULL) {
			snprintf(why, whylen, "port %u is ambiguous: devices %s.%s and %s.%s both hold it;"
			    " say NAME.FLEET:%u", port, found->who.name, found->who.fleet,
			    d->who.name, d->who.fleet, port);
			return ERR_AMBIGUOUS;
		}
		found = d;
	}
	if (found == NULL) {
		/* None online: the device the store binds the port to is offline
		 * (and may be woken), unless two fleets bind it. */
		char names[2 * LIM_TARGET + 8];
		int r = store_device_by_port(srv->st, c->who.admin ? 0 : c->who.id, port, dev_id,
		    names, sizeof(names));
		if (r == 0) {
			snprintf(qualified, qlen, "%s", names);
			struct conn *d = registry_get(srv->reg, *dev_id);
			if (d != NULL && !d->dead) {
				snprintf(why, whylen, "device %s has no service on port %u", names, port);
				return ERR_NOTFOUND;
			}
			snprintf(why, whylen, "device %s is offline", names);
			return ERR_OFFLINE;
		}
		*dev_id = 0;
		if (r == ERR_AMBIGUOUS)
			snprintf(why, whylen, "port %u is ambiguous: devices %s both hold it; say NAME.FLEET:%u",
			    port, names, port);
		else
			snprintf(why, whylen, "no device holds port %u", port);
		return r == ERR_AMBIGUOUS ? r : ERR_NOTFOUND;
	}
	*dcp = found;
	*dev_id = found->who.id;
	snprintf(qualified, qlen, "%s.%s", found->who.name, found->who.fleet);
	return 0;
}

/* Resolves dest for the technician; on failure writes the reason. */
int
route_resolve(struct conn *c, const char *dest, uint32_t port, struct conn **dcp,
    int64_t *dev_id, char *qualified, size_t qlen, char *why, size_t whylen)
{
	struct server *srv = c->srv;
	struct name_target t;
	char fleet[LIM_LABEL + 1];
	char shown[128];

	*dcp = NULL;
	*dev_id = 0;
	if (route_is_port_table(dest))
		return resolve_port(c, port, dcp, dev_id, qualified, qlen, why, whylen);
	log_printable(shown, sizeof(shown), dest, strnlen(dest, LIM_PEER_STRING));
	if (names_parse_target(dest, &t) != 0) {
		snprintf(why, whylen, "no device named %s", shown);
		return ERR_NOTFOUND;
	}
	int r = store_device_resolve(srv->st, c->who.admin ? 0 : c->who.id, t.name, t.fleet,
	    dev_id, fleet);
	if (r == ERR_AMBIGUOUS) {
		snprintf(why, whylen, "device name %s is ambiguous: say %s.<fleet>", t.name, t.name);
		return r;
	}
	if (r != 0) {
		snprintf(why, whylen, r == ERR_NOTFOUND ? "no device named %s" :
		    "cannot look up %s: internal error", shown);
		return r;
	}
	snprintf(qualified, qlen, "%s.%s", t.name, fleet);
	*dcp = registry_get(srv->reg, *dev_id);
	if (*dcp != NULL && (*dcp)->dead)
		*dcp = NULL;
	if (*dcp == NULL) {
		snprintf(why, whylen, "device %s is offline", qualified);
		return ERR_OFFLINE;
	}
	if (session_find_service(*dcp, port) == NULL) {
		snprintf(why, whylen, "device %s has no service on port %u", qualified, port);
		return ERR_NOTFOUND;
	}
	return 0;
}

/* Adds "(last seen ...)" to an offline reason. */
static int
last_seen_cb(void *arg, const struct store_device *d)
{
	char *why = arg, when[32];

	timefmt_iso(d->last_seen, when, sizeof(when));
	size_t l = strlen(why);
	snprintf(why + l, 256 - l, " (last seen %s)", when);
	return 0;
}

static struct route *
route_new(struct conn *c, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct route *rt = calloc(1, sizeof(*rt));
	const struct service *svc = session_find_service(dc, port);

	if (rt == NULL || svc == NULL)
		goto fail;
	snprintf(rt->device, sizeof(rt->device), "%s", qualified);
	snprintf(rt->device_bind, sizeof(rt->device_bind), "%s", svc->bind_addr);
	rt->device_id = dev_id;
	rt->user_id = c->who.id;
	rt->port = port;
	snprintf(rt->user, sizeof(rt->user), "%s", c->who.name);
	snprintf(rt->user_fp, sizeof(rt->user_fp), "%s", c->who.key_fp);
	snprintf(rt->src, sizeof(rt->src), "%s", c->peer);
	log_printable(rt->orig, sizeof(rt->orig), orig, strnlen(orig, 64));
	if (rt->orig[0] == '\0')
		snprintf(rt->orig, sizeof(rt->orig), "127.0.0.1");
	rt->orig_port = orig_port > 0 && orig_port < 65536 ? orig_port : 0;
	rt->started_ms = c->srv->now_ms;
	return rt;
fail:
	free(rt);
	return NULL;
}

/*
 * Makes the accepted channel cl (of any kind) the client side of a route to
 * device conn dc, with a forwarded-tcpip channel on dc's session (opened
 * step by step in the pump). On failure cl becomes a refusal.
 */
void
route_link(struct chan *cl, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = cl->srv;
	struct route *rt = route_new(cl->conn, dc, qualified, dev_id, port, orig, orig_port);
	struct splice *csp = rt ? splice_new() : NULL, *dsp = csp ? splice_new() : NULL;
	ssh_channel dch = dsp ? ssh_channel_new(dc->s) : NULL;
	struct chan *dv = dch ? chan_new(dc, dch, &chan_splice_device, dsp) : NULL;

	if (dv == NULL) {
		if (dch != NULL)
			ssh_channel_free(dch);
		splice_free(dsp);
		splice_free(csp);
		free(rt);
		refuse_chan(cl, "out of memory");
		return;
	}
	chan_become(cl, &chan_splice_client, csp);
	csp->peer = dv;
	dsp->peer = cl;
	csp->route = dsp->route = rt;
	rt->refs = 2;
	rt->acct = acct_get(srv, rt->user_id, rt->user);
	dsp->opening = true;
	dsp->deadline_ms = srv->now_ms + OPEN_TIMEOUT_MS;
	srv->work = true;
}

void
route_direct_tcpip(struct conn *c, ssh_message m)
{
	struct server *srv = c->srv;
	const char *dest = ssh_message_channel_request_open_destination(m);
	const char *orig = ssh_message_channel_request_open_originator(m);
	uint32_t port = (uint32_t)ssh_message_channel_request_open_destination_port(m);
	int orig_port = ssh_message_channel_request_open_originator_port(m);
	char why[256] = "", qualified[LIM_TARGET + 1];
	struct conn *dc = NULL;
	int64_t dev_id = 0;

	if (dest == NULL || orig == NULL) {
		ssh_message_reply_default(m);
		session_refused(c, "channel", "direct-tcpip", "malformed open");
		return;
	}
	if (c->nchans >= LIM_CHANNELS) {
		ssh_message_reply_default(m);
		session_refused(c, "channel", "direct-tcpip", "too many channels on this session");
		return;
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	if (ch == NULL)
		return;
	if (audit_admit(srv->audit) != 0) {	/* fail closed (audit.h) */
		refuse_open(c, ch, "%s", AUDIT_BUSY_REASON);
		return;
	}
	if (c->who.kind != PRINCIPAL_USER) {
		route_audit_connect(c, dest, (int)port, "refused", "not permitted");
		refuse_open(c, ch, "not permitted: devices cannot open connections through outpost");
		return;
	}
	int r = route_resolve(c, dest, port, &dc, &dev_id, qualified, sizeof(qualified), why, sizeof(why));
	if (r == ERR_OFFLINE && wake_wanted(srv, dev_id)) {
		wake_wait_open(c, ch, dev_id, qualified, port, orig, orig_port);
		return;
	}
	if (r != 0) {
		if (r == ERR_OFFLINE)
			store_device_get(srv->st, dev_id, last_seen_cb, why);
		route_audit_connect(c, dest, (int)port, "refused", why);
		refuse_open(c, ch, "%s", why);
		return;
	}
	struct chan *cl = chan_new(c, ch, &chan_splice_client, NULL);
	if (cl == NULL) {
		ssh_channel_free(ch);
		return;
	}
	route_link(cl, dc, qualified, dev_id, port, orig, orig_port);
}

/*
 * An exec channel's `nc` line (seed 001's `ProxyCommand ssh SERVER nc -U
 * /home/host/%h`, or `ssh SERVER nc HOST PORT`), routed by the rules of a
 * direct-tcpip: h becomes the client side of a splice to the device.
 * Nothing is run. An on-demand device is not woken for it (refused offline).
 */
int
route_exec_nc(struct chan *h, int argc, char *const argv[], char *why, size_t whylen)
{
	struct conn *c = h->conn, *dc = NULL;
	struct nc_route nr;
	const char *perr = NULL;
	char qualified[LIM_TARGET + 1], shown[LIM_TARGET + 1];
	int64_t dev_id = 0;
	int r;

	r = ncroute_parse(argc, argv, &nr, &perr);
	if (r != 0)
		snprintf(why, whylen, "%s", perr);
	else if (c->who.kind != PRINCIPAL_USER) {
		snprintf(why, whylen, "not permitted: devices cannot open connections through outpost");
		r = ERR_DENIED;
	} else
		r = route_resolve(c, nr.host, nr.port, &dc, &dev_id, qualified, sizeof(qualified),
		    why, whylen);
	if (r == ERR_OFFLINE && whylen >= 256)
		store_device_get(c->srv->st, dev_id, last_seen_cb, why);
	if (r != 0) {
		log_printable(shown, sizeof(shown), argc > 1 ? argv[1] : "", argc > 1 ?
		    strnlen(argv[1], LIM_TARGET) : 0);
		route_audit_connect(c, nr.host[0] ? nr.host : shown, (int)nr.port, "refused", why);
		session_log(c, LOG_LVL_INFO, "nc refused: %s", why);
		return r;
	}
	session_log(c, LOG_LVL_DEBUG, "nc %s %s: routing to %s:%u", argv[1], argv[2], qualified, nr.port);
	route_link(h, dc, qualified, dev_id, nr.port, "127.0.0.1", 0);
	return 0;
}

/* Ends an open route whose user may no longer reach its device (revoked, expired, removed). */
void
route_recheck(struct chan *cl)
{
	struct route *rt;

	if (cl->dead || cl->ops != &chan_splice_client || cl->data == NULL)
		return;
	rt = SP(cl)->route;
	if (store_user_may_reach(cl->srv->st, rt->user_id, rt->device_id) != ERR_NOTFOUND)
		return;
	log_info("%s -> %s:%u: access revoked: closing", rt->user, rt->device, rt->port);
	chan_kill(cl);
	if (SP(cl)->peer != NULL)
		chan_kill(SP(cl)->peer);
}
