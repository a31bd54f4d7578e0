/*
 * delayrelay.c: a TCP relay that holds every byte for a fixed delay in each
 * direction, with no bandwidth cap, to put a long link in front of a jump on
 * loopback (this kernel has no netem). One epoll loop, one process.
 *
 *   outpost-delayrelay -l PORT -t PORT -d MS [-q MIB]
 *
 * Listens on 127.0.0.1:PORT (-l); each accepted connection gets its own
 * connection to 127.0.0.1:PORT (-t). Bytes read from either side are written
 * to the other MS milliseconds later (so the link's round trip is 2 * MS).
 * Reading stops in a direction while it holds more than -q MiB (default 64):
 * SSH's windows, not this relay, are what should limit a transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

struct chunk {
	struct chunk *next;
	int64_t due_us;
	size_t len, off;
	char data[];
};

/* One direction: bytes read from `from`, written to `to` when due. */
struct dir {
	int from, to;
	struct chunk *head, *tail;
	size_t held;
	int eof;		/* read EOF from `from`: shut `to` down once drained */
	int done;
};

struct pair {
	int fd[2];		/* 0: accepted side, 1: target side */
	struct dir d[2];	/* d[0]: fd0 -> fd1, d[1]: fd1 -> fd0 */
	uint32_t ev[2];
	struct pair *next, *prev;
};

static int64_t delay_us;
static size_t hold_max = 64u << 20;
static int epfd;
static struct pair *pairs;
static uint16_t target_port;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
setup_fd(int fd)
{
	int one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
pair_free(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		struct chunk *c = p->d[i].head;
		while (c != NULL) {
			struct chunk *n = c->next;
			free(c);
			c = n;
		}
		epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd[i], NULL);
		close(p->fd[i]);
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

/* Sets each descriptor's interest: read unless its direction is full or at
 * EOF, write while a due chunk waits for it. */
static void
interest(struct pair *p, int64_t now)
{
	for (int s = 0; s < 2; s++) {
		struct dir *in = &p->d[s], *out = &p->d[1 - s];
		uint32_t want = 0;
		if (!in->eof && in->held < hold_max)
			want |= EPOLLIN;
		if (out->head != NULL && out->head->due_us <= now)
			want |= EPOLLOUT;
		if (want == p->ev[s])
			continue;
		struct epoll_event ev = { .events = want, .data.u64 = ((uint64_t)(uintptr_t)p) | (uint64_t)s };
		epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd[s], &ev);
		p->ev[s] = want;
	}
}

/* Reads what fd `from` has into direction d. Returns -1 on error. */
static int
pull(struct dir *d, int64_t now)
{
	while (d->held < hold_max) {
		struct chunk *c = malloc(sizeof(*c) + CHUNK);
		if (c == NULL)
			return -1;
		ssize_t n = read(d->from, c->data, CHUNK);
		if (n <= 0) {
			free(c);
			if (n == 0) {
				d->eof = 1;
				return 0;
			}
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		}
		c->len = (size_t)n;
		c->off = 0;
		c->due_us = now + delay_us;
		c->next = NULL;
		if (d->tail)
			d->tail->next = c;
		else
			d->head = c;
		d->tail = c;
		d->held += (size_t)n;
		if ((size_t)n < CHUNK)
			return 0;
	}
	return 0;
}

/* Writes due chunks of d. Returns -1 on error. */
static int
push(struct dir *d, int64_t now)
{
	while (d->head != NULL && d->head->due_us <= now) {
		struct chunk *c = d->head;
		ssize_t n = write(d->to, c->data + c->off, c->len - c->off);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->off += (size_t)n;
		d->held -= (size_t)n;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->head == NULL && d->eof && !d->done) {
		shutdown(d->to, SHUT_WR);
		d->done = 1;
	}
	return 0;
}

static void
on_accept(int lfd)
{
	for (;;) {
		int a = accept(lfd, NULL, NULL);
		if (a < 0)
			return;
		int t = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(target_port),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		/* A blocking connect on loopback: immediate. */
		if (t < 0 || connect(t, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(a);
			if (t >= 0)
				close(t);
			continue;
		}
		struct pair *p = calloc(1, sizeof(*p));
		if (p == NULL) {
			close(a);
			close(t);
			continue;
		}
		setup_fd(a);
		setup_fd(t);
		p->fd[0] = a;
		p->fd[1] = t;
		p->d[0] = (struct dir){ .from = a, .to = t };
		p->d[1] = (struct dir){ .from = t, .to = a };
		for (int s = 0; s < 2; s++) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)(uintptr_t)p) | (uint64_t)s };
			epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd[s], &ev);
			p->ev[s] = EPOLLIN;
		}
		p->next = pairs;
		if (pairs)
			pairs->prev = p;
		pairs = p;
	}
}

/* Moves what is due in every pair; returns the ms until the next chunk is due. */
static int
service_all(int64_t now)
{
	int64_t next = -1;

	for (struct pair *p = pairs, *n; p != NULL; p = n) {
		n = p->next;
		if (push(&p->d[0], now) < 0 || push(&p->d[1], now) < 0 ||
		    (p->d[0].done && p->d[1].done)) {
			pair_free(p);
			continue;
		}
		interest(p, now);
		for (int i = 0; i < 2; i++) {
			struct chunk *c = p->d[i].head;
			if (c != NULL && c->due_us > now && (next < 0 || c->due_us < next))
				next = c->due_us;
		}
	}
	if (next < 0)
		return -1;
	return (int)((next - now + 999) / 1000);
}

int
main(int argc, char **argv)
{
	int lport = 0, opt;
	long delay_ms = -1;

	while ((opt = getopt(argc, argv, "l:t:d:q:")) != -1) {
		switch (opt) {
		case 'l': lport = atoi(optarg); break;
		case 't': target_port = (uint16_t)atoi(optarg); break;
		case 'd': delay_ms = atol(optarg); break;
		case 'q': hold_max = (size_t)atol(optarg) << 20; break;
		default: goto usage;
		}
	}
	if (lport <= 0 || lport > 65535 || target_port == 0 || delay_ms < 0 || hold_max == 0)
		goto usage;
	delay_us = delay_ms * 1000;
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 128) != 0) {
		perror("delayrelay: listen");
		return 1;
	}
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	epfd = epoll_create1(0);
	struct epoll_event lev = { .events = EPOLLIN, .data.u64 = 0 };
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
	int timeout = -1;
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, timeout);
		int64_t now = now_us();
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == 0) {
				on_accept(lfd);
				continue;
			}
			struct pair *p = (struct pair *)(uintptr_t)(evs[i].data.u64 & ~(uint64_t)1);
			int s = (int)(evs[i].data.u64 & 1);
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->d[s].eof &&
			    pull(&p->d[s], now) < 0)
				p->d[s].eof = 1;	/* reset: pass on what we hold, then end */
		}
		timeout = service_all(now);
	}
usage:
	fprintf(stderr, "usage: outpost-delayrelay -l PORT -t PORT -d MS [-q MIB]\n");
	return 2;
}
