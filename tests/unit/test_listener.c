/* test_listener.c: listen address parsing (hostile first), and real loopback sockets from listener_open/accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/tcp.h"
#include "server/listener.h"
#include "testutil.h"

static void
refuse(const char *spec)
{
	char host[64], port[8];

	memset(host, 'h', sizeof(host));
	memset(port, 'p', sizeof(port));
	if (listener_parse(spec, host, sizeof(host), port, sizeof(port)) != ERR_INVAL)
		fail_msg("accepted '%s' as host '%s' port '%s'", spec ? spec : "(null)", host, port);
	assert_string_equal(host, "");
	assert_string_equal(port, "");
}

static void
accept_spec(const char *spec, const char *want_host, const char *want_port)
{
	char host[64], port[8];

	if (listener_parse(spec, host, sizeof(host), port, sizeof(port)) != 0)
		fail_msg("refused '%s'", spec);
	assert_string_equal(host, want_host);
	assert_string_equal(port, want_port);
}

static void
test_parse_hostile(void **state)
{
	static const char *const bad[] = {
		"", ":", "::", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
		"1.2.3.4:99999", "1.2.3.4:-1", "1.2.3.4:+22", "1.2.3.4: 22", "1.2.3.4:22 ",
		"1.2.3.4:22a", "1.2.3.4:ssh", "1.2.3.4:0x16", "1.2.3.4:2.2", "0", "65536",
		"abc", "-22", "::1:2222", "fe80::1:22", "1:2:3", "[::1]", "[::1]:",
		"[::1]2222", "[::1]:0", "[::1]:abc", "[::1:2222", "[::1]:22:33", "[::1]]:22",
		"[]", "*:", "*:0", "1.2.3.4:22\n", "1.2.3.4:1234567", "1.2.3.4:000000022",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuse(bad[i]);
	refuse(NULL);
	/* a port string that would overflow strtol */
	refuse("1.2.3.4:99999999999999999999999");
}

static void
test_parse_host_lengths(void **state)
{
	char spec[128], host[16], port[8];

	/* hostlen 16: 15 characters fit, 16 do not */
	snprintf(spec, sizeof(spec), "%s:22", "123456789012345");
	assert_int_equal(listener_parse(spec, host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "123456789012345");
	snprintf(spec, sizeof(spec), "%s:22", "1234567890123456");
	assert_int_equal(listener_parse(spec, host, sizeof(host), port, sizeof(port)), ERR_INVAL);
	snprintf(spec, sizeof(spec), "[%s]:22", "1234567890123456");
	assert_int_equal(listener_parse(spec, host, sizeof(host), port, sizeof(port)), ERR_INVAL);
	/* port buffer too small for the digits */
	assert_int_equal(listener_parse("1.2.3.4:2222", host, sizeof(host), port, 4), ERR_INVAL);
	assert_int_equal(listener_parse("1.2.3.4:222", host, sizeof(host), port, 4), 0);
	assert_string_equal(port, "222");
	/* a huge host */
	char *big = malloc(100000);
	memset(big, 'a', 100000);
	strcpy(big + 100000 - 4, ":22");
	assert_int_equal(listener_parse(big, host, sizeof(host), port, sizeof(port)), ERR_INVAL);
	char why[256];
	assert_int_equal(listener_open(big, why, sizeof(why)), ERR_INVAL);
	free(big);
}

static void
test_parse_valid(void **state)
{
	accept_spec("127.0.0.1:2222", "127.0.0.1", "2222");
	accept_spec("0.0.0.0:22", "0.0.0.0", "22");
	accept_spec("[::1]:2222", "::1", "2222");
	accept_spec("[::]:1", "::", "1");
	accept_spec("[fe80::1%lo]:65535", "fe80::1%lo", "65535");
	accept_spec("2222", "", "2222");
	accept_spec(":2222", "", "2222");
	accept_spec("*:2222", "", "2222");
	accept_spec("1.2.3.4:65535", "1.2.3.4", "65535");
	accept_spec("1.2.3.4:1", "1.2.3.4", "1");
	accept_spec("host.example:22", "host.example", "22");
}

/* A loopback TCP port nobody listens on right now. */
static int
free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = socket(family, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in)
	    : sizeof(struct sockaddr_in6)) == 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
		    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

/* A listener on a free loopback port: its fd, its "ADDR:PORT" in spec, its address in sa. */
static int
listen_v4(char *spec, size_t speclen, struct sockaddr_in *sa)
{
	char why[256] = "";
	int port = free_port(AF_INET);
	socklen_t sl = sizeof(*sa);

	assert_true(port > 0);
	snprintf(spec, speclen, "127.0.0.1:%d", port);
	int lfd = listener_open(spec, why, sizeof(why));
	if (lfd < 0)
		fail_msg("listener_open %s: %d %s", spec, lfd, why);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)sa, &sl), 0);
	return lfd;
}

static void
test_open_accept_v4(void **state)
{
	char spec[64], why[256] = "", peer[64];
	struct sockaddr_in sa;
	int lfd = listen_v4(spec, sizeof(spec), &sa);
	int port = ntohs(sa.sin_port);

	assert_int_equal(sa.sin_family, AF_INET);
	assert_int_equal(ntohs(sa.sin_port), port);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);

	/* nothing pending: -1 at once, not a hang */
	assert_int_equal(listener_accept(lfd, peer, sizeof(peer)), -1);

	/* the same port again is refused with a reason */
	why[0] = '\0';
	assert_int_equal(listener_open(spec, why, sizeof(why)), ERR_IO);
	assert_non_null(strstr(why, spec));
	assert_non_null(strstr(why, strerror(EADDRINUSE)));

	int cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	int afd = listener_accept(lfd, peer, sizeof(peer));
	assert_true(afd >= 0);
	struct sockaddr_in ca;
	socklen_t cl = sizeof(ca);
	assert_int_equal(getsockname(cfd, (struct sockaddr *)&ca, &cl), 0);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(ca.sin_port));
	assert_string_equal(peer, want);
	assert_true(fcntl(afd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(afd, F_GETFD) & FD_CLOEXEC);

	/* tune, then read the options back */
	listener_tune(afd, 12345);
	int v = 0;
	socklen_t vl = sizeof(v);
	assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
	assert_int_not_equal(v, 0);
	assert_int_equal(getsockopt(afd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl), 0);
	assert_int_not_equal(v, 0);
	unsigned int uto = 0;
	vl = sizeof(uto);
	assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, &vl), 0);
	assert_int_equal(uto, 12345);

	/* idle time: a number for a TCP socket, -1 for anything else */
	assert_int_equal(write(cfd, "x", 1), 1);
	long idle = tcp_idle_ms(afd);
	assert_true(idle >= 0 && idle < 60000);
	int pfds[2];
	assert_int_equal(pipe(pfds), 0);
	assert_int_equal(tcp_idle_ms(pfds[0]), -1);
	close(pfds[0]);
	close(pfds[1]);

	/* a short peer buffer is terminated, never overrun */
	close(afd);
	close(cfd);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	char small[8];
	memset(small, 'z', sizeof(small));
	afd = listener_accept(lfd, small, 6);
	assert_true(afd >= 0);
	assert_int_equal(strlen(small), 5);
	assert_int_equal(small[6], 'z');
	close(afd);
	close(cfd);
	close(lfd);
}

/* Connects to sa and accepts it on lfd: the accepted fd; the client's in *cfd. */
static int
accept_one(int lfd, const struct sockaddr_in *sa, int *cfd)
{
	char peer[64];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*cfd, (const struct sockaddr *)sa, sizeof(*sa)), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	int afd = listener_accept(lfd, peer, sizeof(peer));
	assert_true(afd >= 0);
	return afd;
}

/* Options set on the listener reach the sockets it accepts (one check, no
 * setsockopt per connection); an untuned one or a non-socket says no. */
static void
test_tuned_inherited(void **state)
{
	char spec[64];
	struct sockaddr_in sa;
	int cfd, afd, lfd = listen_v4(spec, sizeof(spec), &sa);

	(void)state;
	/* before tuning: an accepted socket is not tuned */
	afd = accept_one(lfd, &sa, &cfd);
	assert_false(listener_tuned(afd, 60000));
	close(afd);
	close(cfd);

	/* tuned listener: the next accepted socket carries it all */
	listener_tune(lfd, 60000);
	afd = accept_one(lfd, &sa, &cfd);
	assert_true(listener_tuned(afd, 60000));
	/* another user timeout than the one set is not "tuned" */
	assert_false(listener_tuned(afd, 30000));
	close(afd);
	close(cfd);

	/* not a socket, not a descriptor */
	int pfds[2];
	assert_int_equal(pipe(pfds), 0);
	assert_false(listener_tuned(pfds[0], 60000));
	close(pfds[0]);
	close(pfds[1]);
	assert_false(listener_tuned(-1, 60000));
	close(lfd);
}

static void
test_open_v6(void **state)
{
	char spec[64], why[256] = "", peer[64];
	int port = free_port(AF_INET6);

	if (port < 0)
		skip();		/* no IPv6 loopback here */
	snprintf(spec, sizeof(spec), "[::1]:%d", port);
	int lfd = listener_open(spec, why, sizeof(why));
	if (lfd < 0)
		fail_msg("listener_open %s: %s", spec, why);
	struct sockaddr_in6 sa;
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(sa.sin6_family, AF_INET6);
	assert_int_equal(ntohs(sa.sin6_port), port);
	assert_memory_equal(&sa.sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback));
	int cfd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	int afd = listener_accept(lfd, peer, sizeof(peer));
	assert_true(afd >= 0);
	assert_true(strncmp(peer, "[::1]:", 6) == 0);
	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_open_bad(void **state)
{
	static const struct { const char *spec; int code; const char *why; } bad[] = {
		{ "garbage", ERR_INVAL, "bad listen address 'garbage'" },
		{ "::1:2222", ERR_INVAL, "bad listen address '::1:2222'" },
		{ "127.0.0.1:0", ERR_INVAL, "bad listen address" },
		{ "300.1.1.1:2222", ERR_INVAL, "listen address '300.1.1.1:2222'" },
		{ "localhost:2222", ERR_INVAL, "listen address 'localhost:2222'" },	/* numeric only */
		{ "[1.2.3.4]:2222", ERR_IO, NULL },
		{ "192.0.2.1:2222", ERR_IO, "cannot listen on 192.0.2.1:2222" },	/* not ours */
	};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		int r = listener_open(bad[i].spec, why, sizeof(why));
		if (r >= 0) {
			close(r);
			fail_msg("listened on '%s'", bad[i].spec);
		}
		if (bad[i].why == NULL) {
			assert_true(r < 0 && why[0] != '\0');
			continue;
		}
		if (r != bad[i].code || strstr(why, bad[i].why) == NULL)
			fail_msg("'%s': %d '%s', want %d '%s'", bad[i].spec, r, why, bad[i].code, bad[i].why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_host_lengths),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_open_accept_v4),
		cmocka_unit_test(test_tuned_inherited),
		cmocka_unit_test(test_open_v6),
		cmocka_unit_test(test_open_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
