/*
 * proxywait.c: a connection from an address listed in ProxyProtocol (a load
 * balancer) must begin with a PROXY protocol v2 header. Until it is whole,
 * the connection waits here: non-blocking reads of exactly the header's
 * bytes into a small buffer (libssh never sees them, and nothing past the
 * header is read), at most PROXY_WAIT_MS, at most PROXY_WAIT_MAX at once.
 * Then session_accept takes the socket with the client's address from the
 * header (LOCAL, a health check: the balancer's own address).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/proxyhdr.h"
#include "server/server.h"

#define PROXY_WAIT_MS 5000	/* a balancer sends its header at once */
#define PROXY_WAIT_MAX 1024	/* connections waiting for a header */

struct proxywait {
	struct watch watch;	/* first: epoll's pointer is to it */
	struct proxywait *prev, *next;
	char peer[64];		/* the balancer's "ip:port" */
	int64_t deadline_ms;
	size_t have;
	uint8_t buf[PROXYHDR_MAX];
};

int
proxywait_init(struct server *srv)
{
	char why[200];

	if (srv->cfg->proxy_protocol == NULL)
		return 0;
	if ((srv->proxy_allow = calloc(1, sizeof(*srv->proxy_allow))) == NULL)
		return ERR_NOMEM;
	if (proxy_allow_parse(srv->cfg->proxy_protocol, srv->proxy_allow, why, sizeof(why)) != 0) {
		log_error("%s", why);
		return ERR_CONFIG;
	}
	log_info("PROXY protocol v2 header required from %s", srv->cfg->proxy_protocol);
	return 0;
}

static void
drop(struct server *srv, struct proxywait *pw, bool close_fd)
{
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, pw->watch.fd, NULL);
	if (close_fd)
		close(pw->watch.fd);
	if (pw->prev)
		pw->prev->next = pw->next;
	else
		srv->proxying = pw->next;
	if (pw->next)
		pw->next->prev = pw->prev;
	srv->nproxying--;
	free(pw);
}

/* A listed peer that did not send a valid header: closed and counted. */
static void
fail(struct server *srv, struct proxywait *pw, const char *why)
{
	log_warn("connection from %s (a ProxyProtocol address) closed: %s", pw->peer, why);
	metrics_refused("proxy header");
	drop(srv, pw, true);
}

bool
proxywait_take(struct server *srv, int fd, const char *peer)
{
	struct proxywait *pw;
	char ip[64];

	if (srv->proxy_allow == NULL)
		return false;
	listener_peer_ip(peer, ip, sizeof(ip));
	if (!proxy_allow_match(srv->proxy_allow, ip))
		return false;
	if (srv->nproxying >= PROXY_WAIT_MAX || (pw = calloc(1, sizeof(*pw))) == NULL) {
		log_debug("connection from %s refused: too many waiting for a PROXY header", peer);
		metrics_refused("proxy header");
		close(fd);
		return true;
	}
	pw->watch.kind = WATCH_PROXY;
	pw->watch.fd = fd;
	snprintf(pw->peer, sizeof(pw->peer), "%s", peer);
	pw->deadline_ms = srv->now_ms + PROXY_WAIT_MS;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pw->watch };
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		log_warn("accept %s: epoll: %s", peer, strerror(errno));
		close(fd);
		free(pw);
		return true;
	}
	pw->next = srv->proxying;
	if (srv->proxying)
		srv->proxying->prev = pw;
	srv->proxying = pw;
	srv->nproxying++;
	return true;
}

void
proxywait_ready(struct server *srv, struct watch *w)
{
	struct proxywait *pw = (struct proxywait *)w;
	struct proxyhdr h;
	int r;

	for (;;) {
		size_t want = proxyhdr_want(pw->buf, pw->have);
		if (want == 0 || pw->have + want > sizeof(pw->buf))
			break;
		ssize_t n = recvfrom(w->fd, pw->buf + pw->have, want, 0, NULL, NULL);	/* not sockbuf's recv */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (pw->have == 0) {	/* connected and left: a bare TCP check */
				log_debug("connection from %s closed before a PROXY header", pw->peer);
				drop(srv, pw, true);
			} else
				fail(srv, pw, n == 0 ? "closed inside its PROXY header" : strerror(errno));
			return;
		}
		pw->have += (size_t)n;
		if (proxyhdr_parse(pw->buf, pw->have, &h) < 0)
			break;
	}
	r = proxyhdr_parse(pw->buf, pw->have, &h);
	if (r == 0)
		return;	/* more to come, before the deadline */
	if (r < 0) {
		fail(srv, pw, pw->have > 0 && pw->buf[0] == 'S' ?
		    "sent SSH without the PROXY protocol v2 header it must send first" :
		    "not a valid PROXY protocol v2 header");
		return;
	}
	char peer[64];
	if (h.local)
		snprintf(peer, sizeof(peer), "%s", pw->peer);
	else if (strchr(h.ip, ':') != NULL)
		snprintf(peer, sizeof(peer), "[%s]:%d", h.ip, h.port);
	else
		snprintf(peer, sizeof(peer), "%s:%d", h.ip, h.port);
	log_debug("connection from %s: PROXY %s %s", pw->peer, h.local ? "LOCAL" : "for", peer);
	int fd = w->fd;
	drop(srv, pw, false);
	session_accept(srv, fd, peer);
}

void
proxywait_tick(struct server *srv)
{
	struct proxywait *pw = srv->proxying, *next;

	for (; pw != NULL; pw = next) {
		next = pw->next;
		if (srv->now_ms >= pw->deadline_ms)
			fail(srv, pw, "no PROXY protocol v2 header in time");
	}
}

void
proxywait_free(struct server *srv)
{
	while (srv->proxying != NULL)
		drop(srv, srv->proxying, true);
	free(srv->proxy_allow);
	srv->proxy_allow = NULL;
}
