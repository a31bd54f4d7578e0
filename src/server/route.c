/*
 * route.c: channels and routes. A technician's direct-tcpip to name.fleet:port
 * is spliced to a forwarded-tcpip channel opened on that device's session;
 * refusals are told to the technician's SSH client as a disconnect message.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/wake.h"

#define PUMP_CHUNK 65536		/* bytes moved per read/write */
#define PUMP_BUDGET (512 * 1024)	/* bytes per direction per loop turn */
#define SPILL_MAX (PUMP_CHUNK * 2)
#define OPEN_TIMEOUT_MS 20000		/* device must answer a forwarded-tcpip open */
#define REFUSE_LINGER_MS 5000
#define SSH_DISCONNECT_BY_APPLICATION 11
#define ERR_OFFLINE 1			/* resolve(): known device, no session */

static bool wait_pump(struct chan *h);
static void account(struct chan *h);
static void acct_forget(struct chan *h);
static void acct_unref(struct server *srv, struct acct *a);
static bool trim_wanted;	/* a route ended since route_trim */

/* ---- channel callbacks: record facts only ---- */

static int
on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	if (is_stderr || h->dead)
		return (int)len;	/* nothing we serve reads stderr */
	if (h->kind == CHAN_EXEC) {
		if (h->argv != NULL)
			jbuf_add(&h->in, data, len);	/* stdin for `--key -`, capped */
		return (int)len;
	}
	uint32_t arrived = len > h->pending ? len - h->pending : 0;
	h->win_left = arrived < h->win_left ? h->win_left - arrived : 0;
	h->pending = len;
	account(h);
	h->srv->work = true;
	return 0;	/* stays in libssh's buffer until the peer can take it */
}

static void
on_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	h->eof_rcvd = true;
	h->srv->work = true;
}

static void
on_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	h->close_rcvd = true;
	h->eof_rcvd = true;
	h->srv->work = true;
}

struct chan *
chan_new(struct conn *c, ssh_channel ch, enum chan_kind kind)
{
	struct chan *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->srv = c->srv;
	h->conn = c;
	h->ch = ch;
	h->kind = kind;
	jbuf_init(&h->spill, SPILL_MAX);
	jbuf_init(&h->out, LIM_EXEC_OUTPUT);
	jbuf_init(&h->errout, LIM_EXEC_OUTPUT);
	jbuf_init(&h->in, LIM_KEYLINE * 2);
	ssh_callbacks_init(&h->cb);
	h->cb.userdata = h;
	h->cb.channel_data_function = on_data;
	h->cb.channel_eof_function = on_eof;
	h->cb.channel_close_function = on_close;
	if (ch != NULL)
		ssh_set_channel_callbacks(ch, &h->cb);
	h->next = c->srv->chans;
	if (h->next)
		h->next->prev = h;
	c->srv->chans = h;
	c->nchans++;
	return h;
}

void
chan_kill(struct chan *h)
{
	if (h->dead)
		return;
	h->dead = true;
	h->srv->work = true;
	if (h->peer != NULL)
		h->peer->peer_gone = true;
}

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

void
chan_reap(struct chan *h)
{
	struct server *srv = h->srv;

	if (h->ch != NULL && h->conn != NULL) {
		ssh_remove_channel_callbacks(h->ch, &h->cb);
		ssh_channel_free(h->ch);	/* sends CLOSE if still owed */
		server_touch(h->conn);
	}
	if (h->peer != NULL && h->peer->peer == h) {
		h->peer->peer = NULL;
		h->peer->peer_gone = true;
	}
	if (h->route != NULL) {
		acct_forget(h);
		route_unref(srv, h->route);
	}
	if (h->prev)
		h->prev->next = h->next;
	else
		srv->chans = h->next;
	if (h->next)
		h->next->prev = h->prev;
	if (h->conn != NULL)
		h->conn->nchans--;
	jbuf_free(&h->spill);
	jbuf_free(&h->out);
	jbuf_free(&h->errout);
	jbuf_free(&h->in);
	for (int i = 0; h->argv != NULL && h->argv[i] != NULL; i++)
		free(h->argv[i]);
	free(h->argv);
	free(h->reason);
	free(h->wait);
	free(h);
}

/* ---- refusals ---- */

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * What a minimal SSH server would say before hanging up (RFC 4253 4.2, 6,
 * 11.1): identification, then an unencrypted SSH_MSG_DISCONNECT carrying the
 * reason, which OpenSSH prints as "Received disconnect from ...: <reason>".
 */
void
route_refusal_bytes(struct jbuf *out, const char *reason)
{
	static const char banner[] = "SSH-2.0-outpost\r\n";
	unsigned char hdr[5 + 1 + 4 + 4], tail[4 + 16];
	size_t rlen = strlen(reason);
	size_t payload = 1 + 4 + 4 + rlen + 4;
	size_t pad = 8 - ((4 + 1 + payload) % 8);

	if (pad < 4)
		pad += 8;
	put_u32(hdr, (uint32_t)(1 + payload + pad));
	hdr[4] = (unsigned char)pad;
	hdr[5] = 1;	/* SSH_MSG_DISCONNECT */
	put_u32(hdr + 6, SSH_DISCONNECT_BY_APPLICATION);
	put_u32(hdr + 10, (uint32_t)rlen);
	memset(tail, 0, sizeof(tail));	/* empty language tag, then padding */
	jbuf_add(out, banner, sizeof(banner) - 1);
	jbuf_add(out, hdr, sizeof(hdr));
	jbuf_add(out, reason, rlen);
	jbuf_add(out, tail, 4 + pad);
}

static void
audit_connect(struct conn *c, const char *dest, int port, const char *result, const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, "connect");
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

/* Turns an accepted client channel into one that explains the refusal. */
static void
chan_refuse(struct chan *h, const char *reason)
{
	h->kind = CHAN_REFUSE;
	free(h->reason);
	h->reason = strdup(reason);
	h->deadline_ms = h->srv->now_ms + h->srv->cfg->refuse_wait * 1000L;
	h->srv->work = true;
	if (h->reason == NULL)
		chan_kill(h);
}

void
route_refuse(struct conn *c, ssh_channel ch, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_info("session %llu (%s) from %s: refused: %s", (unsigned long long)c->id,
	    c->who.name, c->peer, reason);
	struct chan *h = chan_new(c, ch, CHAN_REFUSE);
	if (h == NULL) {
		ssh_channel_free(ch);
		return;
	}
	chan_refuse(h, reason);
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
 * else a close. After the reason we linger until the client hangs up (it
 * prints the reason only if it can still send its KEXINIT), at most
 * REFUSE_LINGER_MS.
 */
static bool
refuse_pump(struct chan *h)
{
	char first[4];

	if (h->out.len == 0 && !h->eof_sent) {
		if (h->pending >= 4) {
			int n = ssh_channel_read_nonblocking(h->ch, first, 4, 0);
			if (n == 4 && memcmp(first, "SSH-", 4) == 0) {
				route_refusal_bytes(&h->out, h->reason);
				h->pending -= 4;
			} else {
				chan_kill(h);
				return true;
			}
		} else if (h->eof_rcvd || h->srv->now_ms >= h->deadline_ms) {
			chan_kill(h);
			return true;
		} else
			return false;
	}
	refuse_discard(h);
	if (h->eof_sent) {
		if (h->eof_rcvd || h->srv->now_ms >= h->deadline_ms)
			chan_kill(h);
		return false;
	}
	uint32_t win = ssh_channel_window_size(h->ch);
	size_t n = h->out.len < win ? h->out.len : win;
	if (n > 0) {
		int w = session_write(h->conn, h->ch, h->out.data, (uint32_t)n, false);
		if (w < 0) {
			chan_kill(h);
			return true;
		}
		jbuf_consume(&h->out, (size_t)w);
		server_touch(h->conn);
	}
	if (h->out.len == 0) {
		/* No EOF from us: OpenSSH's -W would then stop reading the inner
		 * client, whose KEXINIT write fails before it reads our reason. */
		h->eof_sent = true;	/* "all said" */
		h->deadline_ms = h->srv->now_ms + REFUSE_LINGER_MS;
	}
	return n > 0;
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

static struct acct *
acct_get(struct server *srv, int64_t user_id, const char *user)
{
	for (struct chan *h = srv->chans; h != NULL; h = h->next) {
		struct acct *a = h->route != NULL ? h->route->acct : NULL;
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
	struct acct *a = h->route != NULL ? h->route->acct : NULL;
	size_t now = h->dead ? 0 : h->kind == CHAN_CLIENT ? (size_t)h->pending : h->spill.len;

	if (a == NULL)
		return;
	a->held = a->held - h->counted + now;
	h->counted = now;
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

/* Takes the dead h's bytes and deep window out of its user's account. */
static void
acct_forget(struct chan *h)
{
	struct acct *a = h->route->acct;

	if (a == NULL)
		return;
	account(h);	/* h is dead: it holds nothing now */
	trim_wanted = true;
	if (h->deep)
		a->ndeep--;
	h->deep = false;
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
	struct acct *a = src->route->acct;
	bool deep_ok = a != NULL && !a->over && (src->deep || a->ndeep < LIM_DEEP_WINDOWS);

	if (deep_ok && n == src->pending && n <= dst_win && !src->eof_rcvd &&
	    moved >= LIM_DEEP_WINDOW / 4 &&
	    (!src->deep || src->since_grant >= LIM_DEEP_WINDOW / 8) &&
	    ssh_channel_poll(src->ch, 0) == (int)n) {
		if (!src->deep)
			a->ndeep++;
		/* "left": at least that much of the last grant was still open to the sender */
		log_debug("%s -> %s:%u: %s window topped up to %u after %llu bytes, %lld ms and %u bytes left",
		    src->route->user, src->route->device, src->route->port,
		    src->kind == CHAN_CLIENT ? "technician's" : "device's", LIM_DEEP_WINDOW,
		    (unsigned long long)moved, src->deep ? (long long)(src->srv->now_ms - src->granted_ms) : 0LL,
		    src->deep ? src->win_left : 0);
		src->deep = true;
		src->since_grant = 0;
		src->granted_ms = src->srv->now_ms;
		src->win_left = LIM_DEEP_WINDOW - n;
		return ssh_channel_read_timeout(src->ch, buf, LIM_DEEP_WINDOW, 0, 0);
	}
	int r = ssh_channel_read_nonblocking(src->ch, buf, n, 0);
	if (r > 0 && src->since_grant < LIM_DEEP_WINDOW)
		src->since_grant += (uint32_t)r;
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
	if ((size_t)w < n && jbuf_add(&dst->spill, p + w, n - (size_t)w) != 0)
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

	if (dst->spill.len > 0) {
		struct jbuf *sp = &dst->spill;
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
		src->conn->bytes += (uint64_t)r;
		dst->conn->bytes += (uint64_t)r;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		moved = true;
		if (write_or_spill(dst, buf, (size_t)r) != 0) {
			chan_kill(dst);
			break;
		}
		if (dst->spill.len > 0)
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
	if (src->pending > 0 || dst->spill.len > 0 || dst->dead)
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
	struct route *rt = cl->route;
	int rc = ssh_channel_open_reverse_forward(dv->ch, rt->device_bind, (int)rt->port,
	    rt->orig, rt->orig_port);

	server_touch(dv->conn);
	if (rc == SSH_AGAIN && cl->srv->now_ms < dv->deadline_ms)
		return false;
	if (rc != SSH_OK) {
		char why[256];
		snprintf(why, sizeof(why), rc == SSH_AGAIN ?
		    "device %s did not answer in time" :
		    "device %s could not connect to its service on port %u",
		    rt->device, rt->port);
		audit_connect(cl->conn, rt->device, (int)rt->port, "failed", why);
		log_info("%s -> %s:%u: %s", rt->user, rt->device, rt->port, why);
		chan_kill(dv);
		cl->peer = NULL;
		chan_refuse(cl, why);
		return false;
	}
	dv->opening = false;
	rt->opened = true;
	rt->started_ms = cl->srv->now_ms;
	rt->started_wall = timefmt_now();
	audit_connect(cl->conn, rt->device, (int)rt->port, "ok", NULL);
	log_info("%s (%s) -> %s:%u connected", rt->user, rt->src, rt->device, rt->port);
	return true;
}

static bool
route_pump(struct chan *cl)
{
	struct chan *dv = cl->peer;
	bool moved;

	if (dv == NULL || dv->dead) {
		if (!cl->route->opened) {
			char why[256];
			snprintf(why, sizeof(why), "device %s went offline", cl->route->device);
			cl->peer = NULL;
			chan_refuse(cl, why);
		} else
			chan_kill(cl);
		return true;
	}
	if (dv->opening && !open_step(cl, dv))
		return false;
	moved = transfer(cl, dv, &cl->route->up);
	moved |= transfer(dv, cl, &cl->route->down);
	if (cl->route->acct != NULL) {
		acct_check(cl->srv, cl->route->acct);
		if (cl->route->acct->over && !cl->conn->paused) {
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

bool
chan_pump(struct chan *h)
{
	if (h->dead)
		return false;
	switch (h->kind) {
	case CHAN_CLIENT:
		return route_pump(h);
	case CHAN_DEVICE:
		if (h->peer_gone && h->peer == NULL) {
			chan_kill(h);
			return true;
		}
		return false;	/* driven from the client side */
	case CHAN_REFUSE:
		return refuse_pump(h);
	case CHAN_EXEC:
		return exec_pump(h);
	case CHAN_WAIT:
		return wait_pump(h);
	}
	return false;
}

/* ---- direct-tcpip ---- */

/* Resolves dest for the technician; on failure writes the reason. */
static int
resolve(struct conn *c, const char *dest, uint32_t port, struct conn **dcp,
    int64_t *dev_id, char *qualified, size_t qlen, char *why, size_t whylen)
{
	struct server *srv = c->srv;
	struct name_target t;
	char fleet[LIM_LABEL + 1];
	char shown[128];

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
 * Routes the accepted client channel cl to device conn dc: a route, a
 * forwarded-tcpip channel on dc's session (opened step by step in the pump).
 * On failure cl becomes a refusal.
 */
static void
route_link(struct chan *cl, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = cl->srv;
	struct route *rt = route_new(cl->conn, dc, qualified, dev_id, port, orig, orig_port);
	ssh_channel dch = rt ? ssh_channel_new(dc->s) : NULL;
	struct chan *dv = dch ? chan_new(dc, dch, CHAN_DEVICE) : NULL;

	if (dv == NULL) {
		if (dch != NULL)
			ssh_channel_free(dch);
		free(rt);
		chan_refuse(cl, "out of memory");
		return;
	}
	cl->kind = CHAN_CLIENT;
	cl->peer = dv;
	dv->peer = cl;
	cl->route = dv->route = rt;
	rt->refs = 2;
	rt->acct = acct_get(srv, rt->user_id, rt->user);
	dv->opening = true;
	dv->deadline_ms = srv->now_ms + OPEN_TIMEOUT_MS;
	srv->work = true;
}

/* ---- waking on-demand devices ---- */

/* Has the device an on-demand state (from MQTT) that `connect` may change? */
static int
ondemand_cb(void *arg, const struct store_device *d)
{
	snprintf(arg, 16, "%s", d->ondemand != NULL ? d->ondemand : "");
	return 0;
}

static bool
wake_wanted(struct server *srv, int64_t dev_id)
{
	char state[16] = "";

	if (!wake_enabled(srv) || store_device_get(srv->st, dev_id, ondemand_cb, state) != 0)
		return false;
	return state[0] != '\0';
}

static void
audit_wake(struct conn *c, const struct wake_wait *w, const char *result, const char *state)
{
	struct jbuf *b = audit_begin(c->srv->audit, "wake");
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "device", w->device);
	jbuf_member_int(b, "port", w->port);
	jbuf_member_str(b, "state", state);
	jbuf_member_str(b, "result", result);
	audit_commit(c->srv->audit);
}

/* Holds the accepted channel ch while name.fleet is told to raise its tunnel. */
static void
route_wait(struct conn *c, ssh_channel ch, int64_t dev_id, const char *qualified,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = c->srv;
	struct wake_wait *w = calloc(1, sizeof(*w));
	struct chan *h = w ? chan_new(c, ch, CHAN_WAIT) : NULL;
	char state[16] = "";

	if (h == NULL) {
		free(w);
		route_refuse(c, ch, "out of memory");
		return;
	}
	h->wait = w;
	w->device_id = dev_id;
	snprintf(w->device, sizeof(w->device), "%s", qualified);
	const char *dot = strchr(qualified, '.');
	snprintf(w->name, sizeof(w->name), "%.*s", (int)(dot - qualified), qualified);
	snprintf(w->fleet, sizeof(w->fleet), "%s", dot + 1);
	w->port = port;
	log_printable(w->orig, sizeof(w->orig), orig, strnlen(orig, 64));
	w->orig_port = orig_port;
	w->started_ms = srv->now_ms;
	w->resent_ms = srv->now_ms;
	h->deadline_ms = srv->now_ms + srv->cfg->wake_timeout * 1000L;
	store_device_get(srv->st, dev_id, ondemand_cb, state);
	int r = wake_send(srv, w->fleet, w->name, "connect");
	audit_wake(c, w, r == 0 ? "sent" : "queued", state);
	log_info("session %llu (%s) from %s: waking %s (%s) for port %u%s",
	    (unsigned long long)c->id, c->who.name, c->peer, w->device, state, port,
	    r == 0 ? "" : ": broker down, sending when it is back");
}

/* A waiting channel: route it once the device has registered the port, or give up. */
static bool
wait_pump(struct chan *h)
{
	struct server *srv = h->srv;
	struct wake_wait *w = h->wait;
	struct conn *dc = registry_get(srv->reg, w->device_id);
	char why[256];

	if (h->close_rcvd || h->eof_rcvd) {
		log_info("%s -> %s:%u: the client left while the device was waking",
		    h->conn->who.name, w->device, w->port);
		audit_connect(h->conn, w->device, (int)w->port, "failed", "client left while waking");
		chan_kill(h);
		return true;
	}
	if (dc != NULL && !dc->dead && session_find_service(dc, w->port) != NULL) {
		log_info("%s -> %s:%u: device woke after %lld ms", h->conn->who.name, w->device,
		    w->port, (long long)(srv->now_ms - w->started_ms));
		h->wait = NULL;
		route_link(h, dc, w->device, w->device_id, w->port, w->orig, w->orig_port);
		free(w);
		return true;
	}
	if (srv->now_ms < h->deadline_ms)
		return false;
	if (dc != NULL && !dc->dead)
		snprintf(why, sizeof(why), "device %s woke up but has no service on port %u",
		    w->device, w->port);
	else {
		char state[16] = "";
		store_device_get(srv->st, w->device_id, ondemand_cb, state);
		snprintf(why, sizeof(why), "device %s did not come online within %d s of a wake-up "
		    "(%s%s)", w->device, srv->cfg->wake_timeout,
		    wake_broker_up(srv) ? "its MQTT state: " : "the MQTT broker is unreachable",
		    wake_broker_up(srv) ? (state[0] ? state : "none") : "");
	}
	log_info("%s -> %s:%u: %s", h->conn->who.name, w->device, w->port, why);
	audit_connect(h->conn, w->device, (int)w->port, "failed", why);
	chan_refuse(h, why);
	return true;
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
		return;
	}
	if (c->nchans >= LIM_CHANNELS) {
		ssh_message_reply_default(m);
		log_warn("session %llu: channel limit reached", (unsigned long long)c->id);
		return;
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	if (ch == NULL)
		return;
	if (c->who.kind != PRINCIPAL_USER) {
		audit_connect(c, dest, (int)port, "refused", "not permitted");
		route_refuse(c, ch, "not permitted: devices cannot open connections through outpost");
		return;
	}
	int r = resolve(c, dest, port, &dc, &dev_id, qualified, sizeof(qualified), why, sizeof(why));
	if (r == ERR_OFFLINE && wake_wanted(srv, dev_id)) {
		route_wait(c, ch, dev_id, qualified, port, orig, orig_port);
		return;
	}
	if (r != 0) {
		if (r == ERR_OFFLINE)
			store_device_get(srv->st, dev_id, last_seen_cb, why);
		audit_connect(c, dest, (int)port, "refused", why);
		route_refuse(c, ch, "%s", why);
		return;
	}
	struct chan *cl = chan_new(c, ch, CHAN_CLIENT);
	if (cl == NULL) {
		ssh_channel_free(ch);
		return;
	}
	route_link(cl, dc, qualified, dev_id, port, orig, orig_port);
}

/* Ends an open route whose user may no longer reach its device (revoked, expired, removed). */
void
route_recheck(struct chan *cl)
{
	struct route *rt = cl->route;

	if (cl->dead || cl->kind != CHAN_CLIENT || rt == NULL)
		return;
	if (store_user_may_reach(cl->srv->st, rt->user_id, rt->device_id) != ERR_NOTFOUND)
		return;
	log_info("%s -> %s:%u: access revoked: closing", rt->user, rt->device, rt->port);
	chan_kill(cl);
	if (cl->peer != NULL)
		chan_kill(cl->peer);
}
