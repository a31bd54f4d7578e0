/* test_sockbuf.c: outpostd's read-ahead recv()/poll() and flushing send() on real socket pairs: hostile states first, then byte-exact reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server.h"
#include "server/sockbuf.h"
#include "sshpair.h"

struct pair {
	int us, peer;
};

static struct pair
pair_new(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	return (struct pair){ sv[0], sv[1] };
}

static void
pair_free(struct pair *p)
{
	if (p->us >= 0)
		close(p->us);
	if (p->peer >= 0)
		close(p->peer);
	sockbuf_end();
}

/* Writes n bytes of a pattern that starts at byte offset off. */
static void
feed(int fd, size_t off, size_t n)
{
	unsigned char b[4096];

	while (n > 0) {
		size_t k = n < sizeof(b) ? n : sizeof(b);
		for (size_t i = 0; i < k; i++)
			b[i] = (unsigned char)((off + i) * 131 % 251);
		ssize_t w = write(fd, b, k);
		assert_true(w > 0);
		off += (size_t)w;
		n -= (size_t)w;
	}
}

static int
poll1(int fd, short events, int timeout)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc = poll(&p, 1, timeout);

	return rc <= 0 ? rc : p.revents;
}

/* A descriptor that is not the read-ahead one: plain recv, errors intact. */
static void
test_passthrough_and_errors(void **state)
{
	struct pair p = pair_new();
	char b[16];

	(void)state;
	errno = 0;
	assert_int_equal(recv(p.us, b, sizeof(b), 0), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(poll1(p.us, POLLIN, 0), 0);
	feed(p.peer, 0, 5);
	assert_int_equal(poll1(p.us, POLLIN, 0), POLLIN);
	assert_int_equal(recv(p.us, b, sizeof(b), 0), 5);
	/* a bad descriptor as the read-ahead one: the kernel's error, nothing kept */
	sockbuf_begin(-5, false);
	errno = 0;
	assert_int_equal(recv(-5, b, sizeof(b), 0), -1);
	assert_int_equal(errno, EBADF);
	assert_false(sockbuf_pending());
	assert_int_equal(sockbuf_end(), 0);
	/* zero-length and flagged reads are not buffered */
	sockbuf_begin(p.us, true);
	feed(p.peer, 0, 10);
	assert_int_equal(recv(p.us, b, 0, 0), 0);
	assert_int_equal(recv(p.us, b, 3, MSG_PEEK), 3);
	assert_false(sockbuf_pending());
	assert_int_equal(recv(p.us, b, 4, 0), 4);
	assert_true(sockbuf_pending());
	assert_int_equal(sockbuf_end(), 6);	/* dropped, and said so */
	assert_false(sockbuf_pending());
	pair_free(&p);
}

/* EOF after read-ahead bytes: the bytes first, then the end. */
static void
test_eof_after_bytes(void **state)
{
	struct pair p = pair_new();
	char b[4096];

	(void)state;
	sockbuf_begin(p.us, true);
	feed(p.peer, 0, 6000);
	close(p.peer);
	p.peer = -1;
	assert_int_equal(recv(p.us, b, sizeof(b), 0), 4096);
	assert_int_equal(poll1(p.us, POLLIN, 0), POLLIN);
	assert_int_equal(recv(p.us, b, sizeof(b), 0), 6000 - 4096);
	assert_false(sockbuf_pending());
	assert_false(sockbuf_peer_closed());	/* bytes are not the end */
	/* the short read means "drained": POLLIN is not claimed without the kernel... */
	assert_int_equal(poll1(p.us, POLLIN, 0), 0);
	/* ...but a poll that may wait asks the kernel, which sees the EOF */
	assert_true(poll1(p.us, POLLIN, 50) & (POLLIN | POLLHUP));
	assert_int_equal(recv(p.us, b, sizeof(b), 0), 0);
	assert_true(sockbuf_peer_closed());	/* a hang-up, not a protocol error */
	assert_int_equal(sockbuf_end(), 0);
	assert_false(sockbuf_peer_closed());
	pair_free(&p);
}

/* Many 4 KiB reads, as libssh does them, are byte-exact across refills. */
static void
test_byte_exact(void **state)
{
	struct pair p = pair_new();
	unsigned char b[4096];
	size_t total = 0, want = 3 * SOCKBUF_SIZE + 1234;
	int reads = 0;

	(void)state;
	int sz = 1 << 20;
	setsockopt(p.us, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(p.peer, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	feed(p.peer, 0, want);
	sockbuf_begin(p.us, true);
	while (total < want) {
		assert_int_equal(poll1(p.us, POLLIN, 0) & POLLIN, POLLIN);
		ssize_t n = recv(p.us, b, sizeof(b), 0);
		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++)
			if (b[i] != (unsigned char)((total + (size_t)i) * 131 % 251))
				fail_msg("byte %zu differs", total + (size_t)i);
		total += (size_t)n;
		reads++;
	}
	assert_int_equal(total, want);
	assert_true(reads >= (int)(want / sizeof(b)));
	assert_int_equal(sockbuf_end(), 0);
	pair_free(&p);
}

/* What poll answers without the kernel, and when it must ask. */
static void
test_poll_answers(void **state)
{
	struct pair p = pair_new();
	char b[100];

	(void)state;
	/* epoll said readable: POLLIN is answered without asking (the socket
	 * is in fact empty here, which proves no kernel call was made) */
	sockbuf_begin(p.us, true);
	assert_int_equal(poll1(p.us, POLLIN, 0), POLLIN);
	sockbuf_end();
	/* epoll said not readable: POLLIN alone is answered "no" even when bytes
	 * arrived since (epoll is level-triggered and reports them next turn) */
	feed(p.peer, 0, 50);
	sockbuf_begin(p.us, false);
	assert_int_equal(poll1(p.us, POLLIN, 0), 0);
	/* POLLOUT asked too: still no, without the kernel (writes wait for
	 * session_flush at the end of the turn, one send for all of them) */
	assert_int_equal(poll1(p.us, POLLIN | POLLOUT, 0), 0);
	/* POLLOUT alone (libssh's recursive flush from inside a callback) is
	 * the kernel's */
	assert_int_equal(poll1(p.us, POLLOUT, 0), POLLOUT);
	/* a wait is the kernel's */
	assert_int_equal(poll1(p.us, POLLIN | POLLOUT, 100), POLLIN | POLLOUT);
	/* read-ahead bytes answer POLLIN alone, POLLOUT or not */
	assert_int_equal(recv(p.us, b, 10, 0), 10);
	assert_int_equal(poll1(p.us, POLLIN | POLLOUT, 0), POLLIN);
	assert_int_equal(poll1(p.us, POLLIN, 1000), POLLIN);
	/* POLLOUT alone is never answered from the buffer */
	assert_int_equal(poll1(p.us, POLLOUT, 0), POLLOUT);
	assert_int_equal(sockbuf_end(), 40);
	pair_free(&p);
}

/* A set of several descriptors with read-ahead bytes waiting: no wait, POLLIN merged. */
static void
test_poll_many(void **state)
{
	struct pair p = pair_new(), q = pair_new();
	char b[8];

	(void)state;
	feed(p.peer, 0, 20);
	sockbuf_begin(p.us, true);
	assert_int_equal(recv(p.us, b, sizeof(b), 0), 8);
	struct pollfd fds[2] = { { .fd = q.us, .events = POLLIN }, { .fd = p.us, .events = POLLIN } };
	assert_int_equal(poll(fds, 2, 5000), 1);	/* would wait 5 s if asked to */
	assert_int_equal(fds[0].revents, 0);
	assert_int_equal(fds[1].revents, POLLIN);
	feed(q.peer, 0, 1);
	fds[0].revents = fds[1].revents = 0;
	assert_int_equal(poll(fds, 2, 0), 2);
	assert_int_equal(fds[0].revents, POLLIN);
	assert_int_equal(fds[1].revents, POLLIN);
	/* a second begin ends the first: its bytes are gone, the new one starts empty */
	sockbuf_begin(q.us, true);
	assert_false(sockbuf_pending());
	assert_int_equal(recv(q.us, b, sizeof(b), 0), 1);
	sockbuf_end();
	pair_free(&q);
	pair_free(&p);
}

/* Flush mode: POLLOUT without asking, never POLLIN or a read-ahead; a full socket is a 0-byte send. */
static void
test_flush(void **state)
{
	struct pair p = pair_new(), q = pair_new();
	char b[4096];

	(void)state;
	memset(b, 'x', sizeof(b));
	/* fill p.us until the kernel refuses */
	while (send(p.us, b, sizeof(b), MSG_NOSIGNAL) > 0)
		;
	/* not flushing: the kernel's EAGAIN, as libc gives it */
	errno = 0;
	assert_int_equal(send(p.us, b, sizeof(b), MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EAGAIN);
	/* refused while a read-ahead is in force: that one stays */
	sockbuf_begin(q.us, true);
	assert_false(sockbuf_begin_flush(p.us));
	errno = 0;
	assert_int_equal(send(p.us, b, sizeof(b), MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EAGAIN);
	sockbuf_end();
	assert_true(sockbuf_begin_flush(p.us));
	/* POLLOUT is claimed without the kernel (the socket is in fact full)... */
	assert_int_equal(poll1(p.us, POLLIN | POLLOUT, 0), POLLOUT);
	/* ...so the send that finds it full says 0 bytes, not an error */
	assert_int_equal(send(p.us, b, sizeof(b), MSG_NOSIGNAL), 0);
	/* POLLIN is never claimed, even with bytes waiting, and reads are not buffered */
	feed(p.peer, 0, 100);
	assert_int_equal(poll1(p.us, POLLIN, 0), 0);
	assert_int_equal(recv(p.us, b, 10, 0), 10);
	assert_false(sockbuf_pending());
	/* other descriptors keep their errors */
	errno = 0;
	assert_int_equal(send(-7, b, 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(sockbuf_end(), 0);
	/* a peer gone is still an error while flushing: only EAGAIN becomes 0 */
	close(q.peer);
	q.peer = -1;
	assert_true(sockbuf_begin_flush(q.us));
	errno = 0;
	assert_int_equal(send(q.us, b, 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	/* ended: back to the plain answers */
	assert_int_equal(sockbuf_end(), 0);
	assert_int_equal(poll1(p.us, POLLIN, 0), POLLIN);
	pair_free(&q);
	pair_free(&p);
}

/*
 * libssh itself, on a real session: its reads of the polled socket come
 * through our recv (4 KiB at a time, the rest read ahead) and see the
 * peer's end of stream there. Fails if a libssh stops calling outpostd's
 * recv/poll for the session socket, or reads differently from what the
 * read-ahead was measured with.
 */
static void
test_libssh_reads_through_us(void **state)
{
	struct sshpair p;
	static char big[30000];

	(void)state;
	assert_int_equal(sshpair_open(&p), 0);
	assert_true(sockbuf_init(ssh_version(0)));
	memset(big, 'i', sizeof(big) - 1);
	assert_int_equal(ssh_send_ignore(p.client, big), SSH_OK);
	assert_int_equal(ssh_blocking_flush(p.client, 5000), SSH_OK);
	sockbuf_begin(ssh_get_fd(p.server), true);
	assert_int_equal(ssh_event_dopoll(p.ev, 100), SSH_OK);
	assert_true(sockbuf_pending());	/* libssh took 4 KiB of what our recv read */
	for (int i = 0; i < 100 && sockbuf_pending(); i++)
		ssh_event_dopoll(p.ev, 0);
	assert_false(sockbuf_pending());
	assert_int_equal(sockbuf_end(), 0);

	sockbuf_begin(ssh_get_fd(p.server), true);
	assert_int_equal(shutdown(p.cfd, SHUT_WR), 0);
	for (int i = 0; i < 100 && !sockbuf_peer_closed(); i++)
		ssh_event_dopoll(p.ev, 10);
	assert_true(sockbuf_peer_closed());	/* libssh's read of the EOF was ours */
	sockbuf_end();
	sshpair_close(&p);
}

/*
 * libssh closes the server's socket itself when the client's
 * SSH_MSG_DISCONNECT arrives (docs/LIBSSH.md, "libssh closes the socket"),
 * and the number goes to the next socket(2): server_conn_fd must say -1
 * from then on, also once the number is another socket's, and sockbuf must
 * not begin on it.
 */
static void
test_libssh_closes_on_disconnect(void **state)
{
	struct sshpair p;
	struct conn c;

	(void)state;
	assert_int_equal(sshpair_open(&p), 0);
	assert_true(sockbuf_init(ssh_version(0)));
	memset(&c, 0, sizeof(c));
	c.s = p.server;
	c.watch.fd = p.sfd;
	assert_int_equal(server_conn_fd(&c), p.sfd);
	ssh_disconnect(p.client);	/* sends SSH_MSG_DISCONNECT, closes its end */
	for (int i = 0; i < 100 && fcntl(p.sfd, F_GETFD) >= 0; i++)
		ssh_event_dopoll(p.ev, 10);
	errno = 0;
	assert_int_equal(fcntl(p.sfd, F_GETFD), -1);	/* closed by libssh, not by us */
	assert_int_equal(errno, EBADF);
	assert_int_equal(ssh_get_fd(p.server), -1);
	assert_int_equal(server_conn_fd(&c), -1);
	/* the lowest free number: the next socket is likely to get it */
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(again >= 0);
	if (again == p.sfd)
		assert_int_equal(server_conn_fd(&c), -1);	/* another's now: still not ours */
	assert_false(sockbuf_begin_flush(server_conn_fd(&c)));
	close(again);
	sshpair_close(&p);
}

/* On a libssh it was not measured with, everything passes straight through. */
static void
test_other_libssh_passes_through(void **state)
{
	struct pair p = pair_new();
	char b[16];

	(void)state;
	assert_false(sockbuf_init("0.11.1/openssl/zlib"));
	assert_false(sockbuf_init(NULL));
	sockbuf_begin(p.us, true);
	feed(p.peer, 0, 100);
	assert_int_equal(recv(p.us, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_false(sockbuf_pending());	/* no read-ahead */
	assert_int_equal(poll1(p.us, POLLIN, 0), POLLIN);	/* the kernel's answer */
	assert_int_equal(sockbuf_end(), 0);
	assert_false(sockbuf_begin_flush(p.us));	/* no flush mode */
	assert_true(sockbuf_init("0.10.6/openssl/zlib"));
	pair_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passthrough_and_errors),
		cmocka_unit_test(test_eof_after_bytes),
		cmocka_unit_test(test_byte_exact),
		cmocka_unit_test(test_poll_answers),
		cmocka_unit_test(test_poll_many),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_libssh_reads_through_us),
		cmocka_unit_test(test_libssh_closes_on_disconnect),
		cmocka_unit_test(test_other_libssh_passes_through),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
