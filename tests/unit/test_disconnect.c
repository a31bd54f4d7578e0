/* test_disconnect.c: the bytes a refused client receives (banner + unencrypted SSH_MSG_DISCONNECT), checked field by field and by stock ssh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <libssh/libssh.h>

#include "ssh/disconnect.h"
#include "testutil.h"

#define BANNER DISCONNECT_BANNER

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses the refusal in b and checks every field against reason (rlen bytes). */
static void
check_refusal(const struct jbuf *b, const char *reason, size_t rlen)
{
	const unsigned char *p = (const unsigned char *)b->data;
	const size_t bl = strlen(BANNER);

	assert_false(b->failed);
	assert_true(b->len > bl + 4);
	assert_memory_equal(p, BANNER, bl);
	p += bl;
	uint32_t plen = get_u32(p);
	unsigned pad = p[4];
	/* the packet is exactly what follows the banner; no MAC before NEWKEYS */
	assert_int_equal(b->len, bl + 4 + plen);
	assert_true(pad >= 4);
	assert_int_equal((4 + plen) % 8, 0);
	assert_true(plen >= 1 + 1 + 4 + 4 + 4 + pad);
	const unsigned char *payload = p + 5, *end = p + 4 + plen - pad;
	assert_int_equal(payload[0], 1);			/* SSH_MSG_DISCONNECT */
	assert_int_equal(get_u32(payload + 1), 11);		/* BY_APPLICATION */
	assert_int_equal(get_u32(payload + 5), rlen);
	assert_memory_equal(payload + 9, reason, rlen);
	assert_int_equal(get_u32(payload + 9 + rlen), 0);	/* empty language tag */
	assert_ptr_equal(payload + 9 + rlen + 4, end);		/* nothing else in the payload */
	assert_int_equal(plen, 1 + (1 + 4 + 4 + rlen + 4) + pad);
	/* RFC 4253 6: at most 255 bytes of padding; we use the least that works */
	assert_true(pad < 12);
}

static void
test_every_small_length(void **state)
{
	char reason[64];

	for (size_t n = 0; n <= 40; n++) {
		struct jbuf b;
		for (size_t i = 0; i < n; i++)
			reason[i] = (char)('a' + i % 26);
		reason[n] = '\0';
		jbuf_init(&b, 4096);
		disconnect_bytes(&b, reason);
		check_refusal(&b, reason, n);
		jbuf_free(&b);
	}
}

static void
test_long_and_hostile_reason(void **state)
{
	char reason[401];
	struct jbuf b;

	memset(reason, 'r', 400);
	reason[400] = '\0';
	jbuf_init(&b, 4096);
	disconnect_bytes(&b, reason);
	check_refusal(&b, reason, 400);
	jbuf_free(&b);

	/* bytes that mean something in the packet framing are just data */
	const char *odd = "\x01\x0b\r\nSSH-2.0-x\r\n\xff\x80";
	jbuf_init(&b, 4096);
	disconnect_bytes(&b, odd);
	check_refusal(&b, odd, strlen(odd));
	jbuf_free(&b);

	/* appends after what is already there, e.g. a half-sent earlier write */
	jbuf_init(&b, 4096);
	assert_int_equal(jbuf_add(&b, "prefix", 6), 0);
	disconnect_bytes(&b, "x");
	assert_memory_equal(b.data, "prefix" BANNER, 6 + strlen(BANNER));
	struct jbuf rest = b;
	rest.data += 6;
	rest.len -= 6;
	check_refusal(&rest, "x", 1);
	jbuf_free(&b);

	/* a buffer too small is marked failed, not overrun */
	jbuf_init(&b, 30);
	disconnect_bytes(&b, "device x.y is offline");
	assert_true(b.failed);
	assert_true(b.len <= 30);
	jbuf_free(&b);
}

/*
 * Serves the refusal bytes to one stock `ssh` on a loopback port and
 * returns what ssh printed on stderr (malloc'd), or NULL to skip.
 */
static char *
ssh_sees(const char *reason)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char errpath[] = "/tmp/outpost-refusal-XXXXXX", port[16];
	struct jbuf b;
	int lfd, cfd, efd;
	pid_t pid;

	if (system("command -v ssh >/dev/null 2>&1") != 0)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	efd = mkstemp(errpath);
	assert_true(efd >= 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(efd, 2);
		execlp("ssh", "ssh", "-F", "/dev/null", "-p", port, "-o", "BatchMode=yes",
		    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		    "-o", "ConnectTimeout=10", "-o", "LogLevel=INFO", "probe@127.0.0.1", "true",
		    (char *)NULL);
		_exit(127);
	}
	close(efd);

	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	jbuf_init(&b, 4096);
	disconnect_bytes(&b, reason);
	assert_int_equal(write(cfd, b.data, b.len), (ssize_t)b.len);
	jbuf_free(&b);
	/* drain until ssh hangs up, so closing never resets the connection first */
	pfd.fd = cfd;
	for (int i = 0; i < 100; i++) {
		char sink[4096];
		if (poll(&pfd, 1, 100) == 1 && read(cfd, sink, sizeof(sink)) <= 0)
			break;
	}
	close(cfd);
	close(lfd);

	int st = 0;
	for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("ssh did not exit after the disconnect");
	}
	char *err = tu_slurp(errpath);
	unlink(errpath);
	assert_non_null(err);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 127)
		fail_msg("could not run ssh");
	assert_int_equal(WEXITSTATUS(st), 255);
	return err;
}

static void
test_stock_ssh_reads_it(void **state)
{
	static const char *const reasons[] = {
		"device kiosk-7.acme is offline (last seen 2026-11-21T10:00:00Z)",
		"", "x", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh",
	};
	char big[401];

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char *err = ssh_sees(reasons[i]);
		if (err == NULL)
			skip();
		char want[256];
		snprintf(want, sizeof(want), "Received disconnect from 127.0.0.1 port ");
		if (strstr(err, want) == NULL)
			fail_msg("reason '%s': ssh said: %s", reasons[i], err);
		snprintf(want, sizeof(want), ":11: %s\r\n", reasons[i]);
		if (strstr(err, want) == NULL && (snprintf(want, sizeof(want), ":11: %s\n",
		    reasons[i]), strstr(err, want) == NULL))
			fail_msg("reason '%s' not in: %s", reasons[i], err);
		free(err);
	}
	memset(big, 'q', 400);
	big[400] = '\0';
	char *err = ssh_sees(big);
	assert_non_null(err);
	if (strstr(err, "Received disconnect") == NULL || strstr(err, big) == NULL)
		fail_msg("400-byte reason not shown: %s", err);
	free(err);
}

static void
test_busy_parse_hostile(void **state)
{
	static const char *const not_busy[] = {
		"", "try again in", "try again in s", "try again in  5 s", "try again in -5 s",
		"try again in 5", "try again in 5 s ", "try again in 5 seconds", "try again in 5s",
		"try again in 0x10 s", "try again in 5 s and more", "Try Again In 5 s",
		"Received SSH_MSG_DISCONNECT: 11:too many connections from this source",
		"Socket error: disconnected",
	};
	int secs = -7;

	assert_false(disconnect_busy_parse(NULL, &secs));
	for (size_t i = 0; i < sizeof(not_busy) / sizeof(not_busy[0]); i++)
		if (disconnect_busy_parse(not_busy[i], &secs))
			fail_msg("'%s' read as busy (%d s)", not_busy[i], secs);
	assert_int_equal(secs, -7);	/* untouched by what is not one */
	/* clamped: never 0 (a storm of immediate retries), never past the cap */
	assert_true(disconnect_busy_parse("try again in 0 s", &secs));
	assert_int_equal(secs, 1);
	assert_true(disconnect_busy_parse("try again in 000000000000000000000000000007 s", &secs));
	assert_int_equal(secs, DISCONNECT_BUSY_MAX_S);	/* too many digits: the cap, not 7 */
	assert_true(disconnect_busy_parse("try again in 99999999999999999999999999 s", &secs));
	assert_int_equal(secs, DISCONNECT_BUSY_MAX_S);
	assert_true(disconnect_busy_parse("try again in 601 s", &secs));
	assert_int_equal(secs, DISCONNECT_BUSY_MAX_S);
	/* the last tag counts: a description quoting another's is read at its end */
	assert_true(disconnect_busy_parse("try again in 9 s; try again in 42 s", &secs));
	assert_int_equal(secs, 42);
	assert_true(disconnect_busy_parse("Received SSH_MSG_DISCONNECT: 11:outpostd is busy with a "
	    "reconnect storm: try again in 42 s", &secs));
	assert_int_equal(secs, 42);
}

static void
test_busy_reason_round_trip(void **state)
{
	char buf[128];
	int secs = 0;

	for (int want = -5; want <= DISCONNECT_BUSY_MAX_S + 5; want++) {
		disconnect_busy_reason(buf, sizeof(buf), want);
		assert_true(disconnect_busy_parse(buf, &secs));
		assert_int_equal(secs, want < 1 ? 1 : want > DISCONNECT_BUSY_MAX_S ? DISCONNECT_BUSY_MAX_S : want);
		/* a shutdown's, and as the agent reads it at a session's end */
		char why[256];
		secs = 0;
		disconnect_stop_reason(buf, sizeof(buf), want);
		assert_int_equal(strncmp(buf, "server shutting down: ", 22), 0);
		snprintf(why, sizeof(why), "the server disconnected: %s", buf);
		assert_true(disconnect_busy_parse(why, &secs));
		assert_int_equal(secs, want < 1 ? 1 : want > DISCONNECT_BUSY_MAX_S ? DISCONNECT_BUSY_MAX_S : want);
	}
	/* the plain shutdown words are not an answer */
	assert_false(disconnect_busy_parse("the server disconnected: server shutting down", &secs));
	disconnect_stop_reason(buf, 30, 42);
	assert_false(disconnect_busy_parse(buf, &secs));
	/* a buffer too small is cut, and a cut answer is not read as one */
	disconnect_busy_reason(buf, 20, 42);
	assert_int_equal(strlen(buf), 19);
	assert_false(disconnect_busy_parse(buf, &secs));
}

/*
 * A libssh client (the agent's and the loadgen's) answered busy: its error
 * reads as one, whether it is quick or slower than the answer (slow: its
 * socket connected and idle 200 ms before libssh takes it).
 */
static void
libssh_reads_busy(bool slow)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char reason[128];
	struct jbuf b;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), secs = 0;

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {	/* the server: answers as outpostd's busy.c does */
		int cfd = accept(lfd, NULL, NULL);
		char sink[4096];
		size_t got = 0;
		if (cfd < 0)
			_exit(1);
		/* the identification at once; the disconnect once the client's
		 * identification and its KEXINIT's start are here */
		(void)!write(cfd, DISCONNECT_BANNER, strlen(DISCONNECT_BANNER));
		struct pollfd pfd = { .fd = cfd, .events = POLLIN };
		char *nl = NULL;
		while (poll(&pfd, 1, 5000) == 1) {
			ssize_t r = read(cfd, sink + got, sizeof(sink) - got - 1);
			if (r <= 0)
				_exit(2);
			got += (size_t)r;
			nl = memchr(sink, '\n', got);
			if (nl != NULL && nl + 1 < sink + got)
				break;
		}
		if (nl == NULL)
			_exit(3);
		jbuf_init(&b, 4096);
		disconnect_busy_reason(reason, sizeof(reason), 37);
		disconnect_packet(&b, reason);
		(void)!write(cfd, b.data, b.len);
		shutdown(cfd, SHUT_WR);
		for (int i = 0; i < 50; i++)
			if (poll(&pfd, 1, 100) == 1 && read(cfd, sink, sizeof(sink)) <= 0)
				break;
		_exit(0);
	}
	close(lfd);
	/* a client slower than the answer (a loaded loadgen): its
	 * identification reaches a closed socket, and the kernel resets */
	ssh_session s = ssh_new();
	assert_non_null(s);
	long timeout = 10;
	int port = ntohs(sa.sin_port);
	ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1");
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
	if (slow) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		usleep(200000);
		ssh_options_set(s, SSH_OPTIONS_FD, &fd);
	} else
		ssh_options_set(s, SSH_OPTIONS_PORT, &port);
	assert_int_not_equal(ssh_connect(s), SSH_OK);
	if (!disconnect_busy_parse(ssh_get_error(s), &secs))
		fail_msg("libssh's error is not read as busy: %s", ssh_get_error(s));
	assert_int_equal(secs, 37);
	ssh_free(s);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);	/* the server saw the KEXINIT's start */
}

static void
test_libssh_reads_busy(void **state)
{
	libssh_reads_busy(false);
	libssh_reads_busy(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_small_length),
		cmocka_unit_test(test_long_and_hostile_reason),
		cmocka_unit_test(test_stock_ssh_reads_it),
		cmocka_unit_test(test_busy_parse_hostile),
		cmocka_unit_test(test_busy_reason_round_trip),
		cmocka_unit_test(test_libssh_reads_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
