/*
 * busy.c: "busy, try again in N s" (PROTOCOL.md, "Busy: try again in N s";
 * docs/ARCHITECTURE.md, "Busy answers"). While logins complete, a
 * connection the full waiting list cannot take is answered before key
 * exchange and without libssh, instead of being left to the kernel's
 * queue, whose dropped SYNs make a reconnect storm a lottery with a tail.
 *
 * Our identification line goes at once; the disconnect only once the
 * client's identification and the start of its first packet (KEXINIT)
 * are here. libssh 0.10's client loses a disconnect that arrives while it
 * still holds bytes to send: in the same poll round the write to the
 * socket it has just closed replaces the error text with "Socket error"
 * (docs/LIBSSH.md, "A disconnect before key exchange"). Once its KEXINIT
 * is on the wire it holds nothing. The sending side is then shut and the
 * socket kept until the client hangs up, reading and dropping what it
 * sends: a close with unread bytes would be a reset. A client gets
 * BUSY_ASK_MS to send its KEXINIT (a device starved of CPU in a storm is
 * slow), then BUSY_TOLD_MS to hang up; at most busy_cap() are kept at
 * once, the oldest told going first, then the oldest asked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "server/acceptq.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/proxyhdr.h"
#include "server/server.h"
#include "ssh/disconnect.h"

#define BUSY_ASK_MS 20000	/* for the client's identification and KEXINIT */
#define BUSY_TOLD_MS 5000	/* then for it to hang up */
#define BUSY_MAX 8192		/* kept at once, at most (and never past busy_cap's share of descriptors) */
#define BUSY_FD_RESERVE 1024	/* descriptors busy answers leave free, above the sessions' */
#define BUSY_PROMISE_RATE 1.5	/* promised returns a second, per login a second of late */
#define BUSY_HORIZON_S 60	/* no return promised later than this; past it, spread over its second half */

struct busyconn {
	struct watch watch;	/* first: epoll's pointer is to it */
	struct busyconn *prev, *next;	/* in srv->busy_asked or busy_told, oldest first */
	struct busyq *q;	/* which */
	int64_t deadline_ms;
	size_t got;		/* bytes read from the client */
	bool line;		/* its identification line has ended */
	bool answered;		/* the disconnect is sent */
	bool balancer;		/* from a ProxyProtocol address: its header comes first */
	bool hdr_done;		/* ... and has been read (or was not one) */
	int secs;		/* the wait promised */
	size_t hdr_have;
	uint8_t *hdr;		/* PROXYHDR_MAX bytes, a balancer's connection only */
};

bool
busy_mode(const struct server *srv)
{
	return srv->login_rate >= LIM_BUSY_RATE_MIN;
}

static void
q_unlink(struct busyq *q, struct busyconn *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		q->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		q->tail = b->prev;
	b->prev = b->next = NULL;
}

static void
q_append(struct busyq *q, struct busyconn *b)
{
	b->q = q;
	b->prev = q->tail;
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
}

/* How many may be kept: BUSY_MAX, less when the sessions leave fewer descriptors. */
static int
busy_cap(const struct server *srv)
{
	static long nofile;
	struct rlimit rl;

	if (nofile == 0)
		nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 1024;
	long room = nofile - (long)srv->nconns - BUSY_FD_RESERVE;
	return room < 16 ? 16 : room > BUSY_MAX ? BUSY_MAX : (int)room;
}

/*
 * Closes b's socket (epoll forgets it with the close) and sets b aside:
 * this turn's events may still name it (the cap closes the oldest while
 * the listener's event is handled), so busy_reap frees it before the next
 * epoll_wait, and busy_ready ignores it meanwhile.
 */
static void
done(struct server *srv, struct busyconn *b)
{
	char sink[512];

	(void)!recvfrom(b->watch.fd, sink, sizeof(sink), MSG_DONTWAIT, NULL, NULL);	/* a FIN, not a reset */
	close(b->watch.fd);
	b->watch.fd = -1;
	q_unlink(b->q, b);
	srv->nbusy--;
	b->next = srv->busy_dead;
	srv->busy_dead = b;
}

void
busy_reap(struct server *srv)
{
	while (srv->busy_dead != NULL) {
		struct busyconn *b = srv->busy_dead;
		srv->busy_dead = b->next;
		free(b->hdr);
		free(b);
	}
}

/* Reads what b's client sent; answers once it has sent its KEXINIT's start. False: closed. */
static bool
step(struct server *srv, struct busyconn *b)
{
	char buf[512];
	struct proxyhdr h;

	/* a balancer's PROXY header is not the client's identification (it
	 * holds newlines): read exactly its bytes first, as proxywait.c does */
	while (b->balancer && !b->hdr_done) {
		size_t want = proxyhdr_want(b->hdr, b->hdr_have);
		if (want == 0 || b->hdr_have + want > PROXYHDR_MAX) {
			b->hdr_done = true;
			break;
		}
		ssize_t r = recvfrom(b->watch.fd, b->hdr + b->hdr_have, want, MSG_DONTWAIT, NULL, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (r <= 0) {
			done(srv, b);
			return false;
		}
		b->hdr_have += (size_t)r;
		if (proxyhdr_parse(b->hdr, b->hdr_have, &h) != 0)
			b->hdr_done = true;	/* whole, or not a header: what follows is the client's */
	}
	for (;;) {
		ssize_t r = recvfrom(b->watch.fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL);	/* not sockbuf's recv */
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0 || b->got + (size_t)r > LIM_BUSY_DRAIN_MAX) {
			done(srv, b);	/* it hung up (the answer read), or talks too much */
			return false;
		}
		b->got += (size_t)r;
		char *nl = b->line ? NULL : memchr(buf, '\n', (size_t)r);
		if (nl != NULL)
			b->line = true;
		if (!b->answered && b->line && (nl == NULL || nl + 1 < buf + r)) {
			char reason[128];
			struct jbuf out;
			disconnect_busy_reason(reason, sizeof(reason), b->secs);
			jbuf_init(&out, 256);
			disconnect_packet(&out, reason);
			if (!out.failed)
				(void)send(b->watch.fd, out.data, out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
			jbuf_free(&out);
			shutdown(b->watch.fd, SHUT_WR);
			b->answered = true;
			q_unlink(b->q, b);
			q_append(&srv->busy_told, b);
			b->deadline_ms = srv->now_ms + BUSY_TOLD_MS;
		}
	}
	return true;
}

/*
 * The wait to promise: the next free return after what the waiting list
 * holds, at BUSY_PROMISE_RATE times the recent login rate. Promising too
 * early costs a client one more busy answer (cheap, and it comes back);
 * too late leaves the node idle while clients sleep, and a node's rate
 * is lowest in the seconds after it starts, when most answers are given.
 */
static int
promise_s(struct server *srv)
{
	double rate = srv->login_rate * BUSY_PROMISE_RATE, now = (double)srv->now_ms;
	double base = now + (double)acceptq_len(srv->waiting) * 1000.0 / srv->login_rate;
	double horizon = now + BUSY_HORIZON_S * 1000.0;

	if (srv->busy_slot_ms < base)
		srv->busy_slot_ms = base;
	if (srv->busy_slot_ms + 1000.0 / rate <= horizon) {
		srv->busy_slot_ms += 1000.0 / rate;
		return (int)((srv->busy_slot_ms - now + 999.0) / 1000.0);
	}
	/* the line is past the horizon: spread over its second half (no
	 * herd at the horizon's second), and the line stays where it is */
	return BUSY_HORIZON_S / 2 + rand() % (BUSY_HORIZON_S / 2 + 1);
}

/*
 * At shutdown, the wait to tell the k-th of n logged-in devices (PROTOCOL.md,
 * "Come back in N s at a shutdown"), or 0 to say nothing: devices that all
 * dial again within a second of their session's end meet the next start as
 * a herd, most answered busy (70,000 of 100,000 in a restart of five nodes,
 * stop 21). Their returns are spread at RETURN_PACE times the pace this
 * node took logins while its waiting list held some: that pace was
 * measured with busy answers costing the node time, so a restart without
 * them goes a little faster (at 1.0 the nodes waited for their devices, at
 * busy answers' 1.5 the excess was answered busy again, and 1.25 did either
 * on a machine whose speed moved; docs/ARCHITECTURE.md has the figures),
 * from about when the next process should be serving: this
 * one's start (ready_ms), at least RETURN_START_MIN_S, since a node big
 * enough to have had a queue takes that long to stop and start again (8 s
 * and 6 s at 20,000 devices a node). Said only once that pace is measured
 * (RETURN_MEASURED_MS of queued ticks) and when n would not all be back
 * within RETURN_HERD_S anyway; never later than RETURN_HORIZON_S, past
 * which the rest spread over its second half, as busy answers do.
 */
#define RETURN_MEASURED_MS 3000
#define RETURN_PACE 1.1	/* times the pace measured */
#define RETURN_START_MIN_S 5	/* the first return, at the earliest */
#define RETURN_START_MAX_S 15	/* ... and at the latest */
#define RETURN_HERD_S 3
#define RETURN_HORIZON_S 120

int
busy_return_s(const struct server *srv, size_t k, size_t n)
{
	if (srv->queued_ms < RETURN_MEASURED_MS)
		return 0;
	double pace = (double)srv->queued_logins * 1000.0 / (double)srv->queued_ms;
	if (pace < LIM_BUSY_RATE_MIN || (double)n <= pace * RETURN_HERD_S)
		return 0;
	double start = (double)srv->ready_ms / 1000.0;
	double s = (start < RETURN_START_MIN_S ? RETURN_START_MIN_S : start > RETURN_START_MAX_S ?
	    RETURN_START_MAX_S : start) + (double)k / (pace * RETURN_PACE);
	if (s > RETURN_HORIZON_S)
		return RETURN_HORIZON_S / 2 + rand() % (RETURN_HORIZON_S / 2 + 1);
	return (int)(s + 0.5);
}

void
busy_answer(struct server *srv, int fd, const char *peer)
{
	static const char ident[] = DISCONNECT_BANNER;
	struct busyconn *b;

	if (srv->nbusy >= busy_cap(srv))	/* the oldest told (most likely finished), else the oldest asked */
		done(srv, srv->busy_told.head != NULL ? srv->busy_told.head : srv->busy_asked.head);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		close(fd);
		return;
	}
	b->watch.kind = WATCH_BUSY;
	b->watch.fd = fd;
	b->deadline_ms = srv->now_ms + BUSY_ASK_MS;
	b->secs = promise_s(srv);
	char ip[64];
	listener_peer_ip(peer, ip, sizeof(ip));
	b->balancer = srv->proxy_allow != NULL && proxy_allow_match(srv->proxy_allow, ip);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &b->watch };
	if ((b->balancer && (b->hdr = malloc(PROXYHDR_MAX)) == NULL) ||
	    send(fd, ident, sizeof(ident) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(ident) - 1 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		free(b->hdr);
		free(b);
		return;
	}
	q_append(&srv->busy_asked, b);
	srv->nbusy++;
	metrics_refused("busy");
	log_debug("connection from %s answered busy: try again in %d s", peer, b->secs);
	srv->busy_count++;
	srv->busy_last_s = b->secs;
	if (srv->now_ms - srv->busy_logged_ms >= 10000) {
		log_info("busy: %llu connections told to come back later, the last in %lld s (%.0f logins a "
		    "second, %d waiting)", (unsigned long long)srv->busy_count, (long long)srv->busy_last_s,
		    srv->login_rate, acceptq_len(srv->waiting));
		srv->busy_count = 0;
		srv->busy_logged_ms = srv->now_ms;
	}
	step(srv, b);	/* what it sent already */
}

void
busy_ready(struct server *srv, struct watch *w)
{
	if (w->fd >= 0)
		step(srv, (struct busyconn *)w);
}

void
busy_tick(struct server *srv)
{
	struct busyq *qs[] = { &srv->busy_asked, &srv->busy_told };

	for (int i = 0; i < 2; i++)
		while (qs[i]->head != NULL && srv->now_ms >= qs[i]->head->deadline_ms)
			done(srv, qs[i]->head);
}

void
busy_free(struct server *srv)
{
	while (srv->busy_asked.head != NULL)
		done(srv, srv->busy_asked.head);
	while (srv->busy_told.head != NULL)
		done(srv, srv->busy_told.head);
	busy_reap(srv);
}
