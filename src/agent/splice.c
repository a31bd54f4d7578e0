/* splice.c: moving bytes between a forwarded-tcpip channel and a local socket.
 * Each direction holds at most one AGENT_SPLICE_BUF; beyond that the bytes
 * stay with the sender: libssh's channel window towards the server, the
 * local socket's receive buffer towards the service. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/splice.h"
#include "common/log.h"
#include "common/timefmt.h"

static void
kill_splice(struct splice *sp, const char *fmt, ...)
{
	va_list ap;

	if (sp->dead)
		return;
	sp->dead = true;
	va_start(ap, fmt);
	vsnprintf(sp->why, sizeof(sp->why), fmt, ap);
	va_end(ap);
}

/* Tries one address; returns fd (connected or in progress) or -1 with errno. */
static int
connect_addr(const struct addrinfo *a, bool *in_progress)
{
	int one = 1, fd, e;

	fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
		*in_progress = false;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*in_progress = true;
		return fd;
	}
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
splice_connect(const struct hostport *target, bool *in_progress, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int fd = -1, err = 0;

	snprintf(port, sizeof(port), "%d", target->port);
	int g = getaddrinfo(target->host, port, &hints, &ai);
	if (g != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", target->host, gai_strerror(g));
		return -1;
	}
	for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = connect_addr(a, in_progress);
		if (fd < 0)
			err = errno;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(why, whylen, "%s", strerror(err));
	return fd;
}

struct splice *
splice_new(ssh_channel ch, int fd, bool connecting, int port, const char *peer)
{
	struct splice *sp = calloc(1, sizeof(*sp));

	if (sp == NULL)
		return NULL;
	sp->ch = ch;
	sp->fd = fd;
	sp->pfd = -1;
	sp->connecting = connecting;
	sp->port = port;
	log_printable(sp->peer, sizeof(sp->peer), peer, peer ? strlen(peer) : 0);
	sp->start_ms = timefmt_mono_ms();
	sp->since_grant = AGENT_DEEP_WINDOW;	/* the first grant may come at once */
	return sp;
}

short
splice_events(const struct splice *sp)
{
	short ev = 0;

	if (sp->dead)
		return 0;
	if (sp->connecting)
		return POLLOUT;
	if (sp->down_off < sp->down_len)
		ev |= POLLOUT;
	if (!sp->local_eof && sp->up_off == sp->up_len && ssh_channel_window_size(sp->ch) > 0)
		ev |= POLLIN;
	return ev;
}

static void
finish_connect(struct splice *sp, short revents)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
		return;
	if (getsockopt(sp->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0)
		kill_splice(sp, "cannot connect to the service: %s", strerror(err));
	else
		sp->connecting = false;
}

/*
 * Reads from the channel into the empty down buffer: the service took all
 * it was given, so it keeps up. When what libssh holds fits in the buffer
 * and a megabyte has gone down, the read also tops the channel's window up
 * to AGENT_DEEP_WINDOW (again after each eighth of it): libssh 0.10.6 grows
 * a window to count - buffered when a read asks for more than buffered +
 * window, and otherwise keeps it at most 1,280,000, too little for a long
 * link (docs/ARCHITECTURE.md, "Windows on long links"). It copies only what
 * it holds, checked first to fit.
 */
static int
read_granting(struct splice *sp)
{
	int held = ssh_channel_poll(sp->ch, 0);

	if (held == 0)
		return 0;	/* polled already: nothing yet */
	if (held > 0 && (size_t)held <= sizeof(sp->down) && sp->bytes_down >= AGENT_DEEP_WINDOW / 4 &&
	    sp->since_grant >= AGENT_DEEP_WINDOW / 8) {
		sp->since_grant = 0;
		return ssh_channel_read_timeout(sp->ch, sp->down, AGENT_DEEP_WINDOW, 0, 0);
	}
	int n = ssh_channel_read_nonblocking(sp->ch, sp->down, sizeof(sp->down), 0);
	if (n > 0 && sp->since_grant < AGENT_DEEP_WINDOW)
		sp->since_grant += (uint32_t)n;
	return n;
}

/* Refills the channel -> service buffer; returns bytes read, 0 if none, -1 on error. */
static int
fill_down(struct splice *sp)
{
	char discard[4096];
	int n;

	/* forwarded-tcpip carries no extended data; drop any so it cannot hold the window */
	while (ssh_channel_read_nonblocking(sp->ch, discard, sizeof(discard), 1) > 0)
		;
	n = read_granting(sp);
	if (n == SSH_ERROR) {
		kill_splice(sp, "channel read failed");
		return -1;
	}
	if (n <= 0)
		return 0;	/* nothing yet, or SSH_EOF */
	sp->down_off = 0;
	sp->down_len = (size_t)n;
	return n;
}

/* channel -> service; returns true if the turn limit was hit. */
static bool
pump_down(struct splice *sp)
{
	size_t moved = 0;

	while (!sp->dead) {
		if (sp->down_off == sp->down_len) {
			if (moved >= AGENT_SPLICE_TURN)
				return true;
			if (fill_down(sp) <= 0)
				break;
		}
		ssize_t w = send(sp->fd, sp->down + sp->down_off, sp->down_len - sp->down_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				kill_splice(sp, "write to the service: %s", strerror(errno));
			break;
		}
		sp->down_off += (size_t)w;
		sp->bytes_down += (uint64_t)w;
		moved += (size_t)w;
	}
	if (!sp->dead && !sp->shut_wr && sp->down_off == sp->down_len && ssh_channel_is_eof(sp->ch)) {
		shutdown(sp->fd, SHUT_WR);
		sp->shut_wr = true;
	}
	return false;
}

/* Refills the service -> channel buffer within the channel's window. */
static int
fill_up(struct splice *sp)
{
	uint32_t win = ssh_channel_window_size(sp->ch);
	size_t want = win < sizeof(sp->up) ? win : sizeof(sp->up);
	ssize_t n;

	if (want == 0 || sp->local_eof)
		return 0;
	n = recv(sp->fd, sp->up, want, 0);
	if (n == 0)
		sp->local_eof = true;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		kill_splice(sp, "read from the service: %s", strerror(errno));
	if (n <= 0)
		return 0;
	sp->up_off = 0;
	sp->up_len = (size_t)n;
	return (int)n;
}

/* service -> channel; returns true if the turn limit was hit. */
static bool
pump_up(struct splice *sp)
{
	size_t moved = 0;

	while (!sp->dead) {
		if (sp->up_off == sp->up_len) {
			if (moved >= AGENT_SPLICE_TURN)
				return true;
			if (fill_up(sp) <= 0)
				break;
		}
		int w = ssh_channel_write(sp->ch, sp->up + sp->up_off, (uint32_t)(sp->up_len - sp->up_off));
		if (w == SSH_ERROR) {
			kill_splice(sp, "channel write failed");
			break;
		}
		if (w == 0)
			break;	/* window closed or rekey: the rest waits here */
		sp->up_off += (size_t)w;
		sp->bytes_up += (uint64_t)w;
		moved += (size_t)w;
	}
	if (!sp->dead && sp->local_eof && !sp->sent_eof && sp->up_off == sp->up_len) {
		ssh_channel_send_eof(sp->ch);
		sp->sent_eof = true;
	}
	return false;
}

bool
splice_pump(struct splice *sp, short revents)
{
	bool more;

	if (sp->dead)
		return false;
	if (sp->connecting) {
		finish_connect(sp, revents);
		if (sp->connecting || sp->dead)
			return false;
	}
	more = pump_down(sp);
	more |= pump_up(sp);
	if (sp->dead)
		return false;
	if (ssh_channel_is_closed(sp->ch))
		kill_splice(sp, "closed by the server");
	else if (sp->shut_wr && sp->sent_eof)
		kill_splice(sp, "done");
	return more;
}

void
splice_free(struct splice *sp)
{
	if (sp == NULL)
		return;
	if (sp->ch != NULL) {
		if (!ssh_channel_is_closed(sp->ch))
			ssh_channel_close(sp->ch);
		ssh_channel_free(sp->ch);
	}
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp);
}
