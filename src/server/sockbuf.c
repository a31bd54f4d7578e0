/*
 * sockbuf.c: one 64 KiB read-ahead buffer in front of libssh's socket reads,
 * for the session outpostd is polling.
 *
 * Why interposition: libssh reads at most 4 KiB per poll(2) wakeup and
 * Debian's package cannot be rebuilt with a larger MAX_BUF_SIZE. Profiles of
 * a 1 GiB transfer showed outpostd spending more than half its CPU in the
 * kernel, mostly on one poll(2) and one recv(2) per 4 KiB. The buffer is
 * global and belongs to one descriptor at a time; session_poll drains it
 * before ending, so nothing read ahead waits without epoll knowing.
 *
 * It depends on how libssh 0.10 reads and polls (one recv of at most 4 KiB
 * after a poll of the session's socket alone), so sockbuf_init turns it
 * off on any other libssh, and test_sockbuf fails if libssh stops calling
 * these functions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sockbuf.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"

static struct {
	int fd;			/* -1: no read-ahead */
	size_t off, len;	/* unread bytes are buf[off..len) */
	bool readable;		/* epoll said so, and nothing read since */
	bool drained;		/* the last read left the socket empty */
	bool flushing;		/* sockbuf_begin_flush: POLLOUT only, no reads */
	bool eof;		/* a read of fd returned 0: the peer hung up */
	bool plain;		/* libssh not the one measured: pass everything through */
	unsigned char buf[SOCKBUF_SIZE];
} sb = { .fd = -1 };

bool
sockbuf_init(const char *libssh_version)
{
	const char *v = libssh_version != NULL ? libssh_version : "unknown";

	sb.plain = strncmp(v, SOCKBUF_LIBSSH, strlen(SOCKBUF_LIBSSH)) != 0;
	if (sb.plain)
		log_warn("libssh %s: outpostd's 64 KiB read-ahead was measured with libssh %sx only; "
		    "reading through plain recv(2) and poll(2)", v, SOCKBUF_LIBSSH);
	return !sb.plain;
}

void
sockbuf_begin(int fd, bool readable)
{
	sb.fd = fd;
	sb.off = sb.len = 0;
	sb.readable = readable;
	sb.drained = !readable;	/* epoll just said so */
	sb.flushing = false;
	sb.eof = false;
}

bool
sockbuf_begin_flush(int fd)
{
	if (sb.fd >= 0 || sb.plain || fd < 0)
		return false;	/* inside session_poll: its read-ahead stays (or libssh closed it) */
	sockbuf_begin(fd, false);
	sb.flushing = true;
	return true;
}

bool
sockbuf_pending(void)
{
	return sb.fd >= 0 && sb.off < sb.len;
}

bool
sockbuf_peer_closed(void)
{
	return sb.fd >= 0 && sb.eof;
}

size_t
sockbuf_end(void)
{
	size_t left = sb.len - sb.off;

	sb.fd = -1;
	sb.off = sb.len = 0;
	sb.readable = sb.drained = sb.flushing = sb.eof = false;
	return left;
}

static ssize_t
take(void *buf, size_t len)
{
	size_t n = sb.len - sb.off;

	if (n > len)
		n = len;
	memcpy(buf, sb.buf + sb.off, n);
	sb.off += n;
	return (ssize_t)n;
}

/* Interposes libc's recv for libssh; see the file comment. */
ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	if (fd != sb.fd || sb.flushing || sb.plain || flags != 0 || len == 0) {
		ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
		if (n == 0 && fd == sb.fd && len > 0)
			sb.eof = true;
		return n;
	}
	if (sb.off < sb.len)
		return take(buf, len);
	sb.readable = false;
	ssize_t n = recvfrom(fd, sb.buf, sizeof(sb.buf), 0, NULL, NULL);
	sb.drained = n > 0 && (size_t)n < sizeof(sb.buf);
	if (n == 0)
		sb.eof = true;
	if (n <= 0)
		return n;
	sb.off = 0;
	sb.len = (size_t)n;
	return take(buf, len);
}

/*
 * For a poll of the read-ahead descriptor alone: the revents to answer
 * (POLLIN, POLLOUT or 0), or -1 when unknown (ask the kernel). Bytes in the
 * buffer answer POLLIN alone even when POLLOUT is asked too: libssh keeps
 * POLLOUT asked while it reads (it forgets to clear it after a read), and
 * what it has to write is flushed by the real poll that ends
 * session_poll's rounds, or by session_flush. While flushing, POLLOUT is
 * answered yes without asking: send() below turns a full socket into a
 * short write, which libssh keeps buffered, and never reads.
 */
static int
known(const struct pollfd *p, int timeout)
{
	if (p->fd == sb.fd && sb.flushing)
		return p->events & POLLOUT;
	if (p->fd != sb.fd || !(p->events & POLLIN))
		return -1;
	if (sb.off < sb.len)
		return POLLIN;
	if (timeout != 0)
		return -1;
	if (sb.readable)
		return POLLIN;
	/* Drained: nothing to read, and POLLOUT is not answered either, so
	 * libssh keeps what it writes meanwhile; session_flush sends it all at
	 * the end of session_poll, in one send(2). */
	return sb.drained ? 0 : -1;
}

/*
 * Interposes libc's poll: answers from what sockbuf knows when libssh polls
 * the read-ahead descriptor alone, asks the kernel otherwise. With other
 * descriptors in the set and read-ahead bytes waiting, the kernel is asked
 * without waiting, since one descriptor is ready already. (glibc declares
 * the array write-only for its fortify checks; poll(2) reads it too.)
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts, *tsp = NULL;
	nfds_t mine = nfds;

	if (sb.fd < 0 || sb.plain)
		goto ask;
	if (nfds == 1) {
		int k = known(&fds[0], timeout);
		if (k >= 0) {
			fds[0].revents = (short)k;
			return k != 0;
		}
	}
	if (sb.off < sb.len)
		for (nfds_t i = 0; i < nfds; i++)
			if (fds[i].fd == sb.fd && (fds[i].events & POLLIN))
				mine = i;
	if (mine < nfds)
		timeout = 0;
ask:
	if (timeout >= 0) {
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
		tsp = &ts;
	}
	int rc = ppoll(fds, nfds, tsp, NULL);
	if (rc < 0 || mine == nfds)
		return rc;
	if (fds[mine].revents == 0)
		rc++;
	fds[mine].revents |= POLLIN;
	return rc;
}

/*
 * Interposes libc's send for libssh. libssh sends only after poll(2) said
 * POLLOUT and treats any -1 as a dead connection; for the descriptor being
 * polled or flushed, a full socket (EAGAIN) is reported as 0 bytes sent
 * instead, which libssh keeps buffered and asks POLLOUT for again. Every
 * other descriptor, and every other error, passes straight through.
 */
ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t n = sendto(fd, buf, len, flags, NULL, 0);

	if (n < 0 && fd == sb.fd && !sb.plain && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n;
}
