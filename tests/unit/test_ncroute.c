/* test_ncroute.c: `nc` lines and socket paths as routing requests, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/ncroute.h"

#define ARGV(...) ((char *const[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(r, ...) ncroute_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (r), &why)

static void
test_refused_lines(void **state)
{
	struct nc_route r;
	const char *why;

	(void)state;
	/* other programs, options and shapes */
	assert_int_equal(PARSE(&r, "sh", "-c", "id"), ERR_INVAL);
	assert_non_null(why);
	assert_int_equal(PARSE(&r, "ncat", "pi", "22"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-e", "/bin/sh"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-l", "22"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-c", "id"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-U", "/x/pi.sock", "extra"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-lU", "/x/pi.sock"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-v", "pi", "22"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "22", "-e", "sh"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "", "22"), ERR_INVAL);
	/* ports */
	assert_int_equal(PARSE(&r, "nc", "pi", "0"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "65536"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "-22"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "+22"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "22x"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "0000022"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", "4294967318"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "pi", ""), ERR_INVAL);
	assert_string_equal(r.host, "");
	assert_int_equal(r.port, 0);
	/* socket paths that name no device */
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/.sock"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/.."), ERR_INVAL);
	/* nothing is opened: only the last component counts */
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/../../etc"), 0);
	assert_string_equal(r.host, "etc");
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/a b"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-U", "/x/pi.acme.evil"), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", "-U", ""), ERR_INVAL);
	/* NULL and a huge path */
	assert_int_equal(ncroute_parse(3, ARGV("nc", "-U", "/x/pi"), NULL, &why), ERR_INVAL);
	assert_int_equal(ncroute_parse(0, NULL, &r, NULL), ERR_INVAL);
	static char huge[1 << 16];
	memset(huge, 'a', sizeof(huge) - 1);
	assert_int_equal(PARSE(&r, "nc", "-U", huge), ERR_INVAL);
	assert_int_equal(PARSE(&r, "nc", huge, "22"), ERR_INVAL);
	assert_false(ncroute_is_nc(0, NULL));
	assert_false(ncroute_is_nc(1, ARGV("ncx")));
}

static void
test_socket_name(void **state)
{
	char name[LIM_TARGET + 1], small[8];

	(void)state;
	assert_int_equal(ncroute_socket_name(NULL, name, sizeof(name)), ERR_NAME);
	assert_int_equal(ncroute_socket_name("/x/pi", small, sizeof(small)), ERR_NAME);
	assert_int_equal(ncroute_socket_name("/x/.sock.sock", name, sizeof(name)), ERR_NAME);
	assert_string_equal(name, "");
	assert_int_equal(ncroute_socket_name("/home/host/Host2.sock", name, sizeof(name)), 0);
	assert_string_equal(name, "host2");
	assert_int_equal(ncroute_socket_name("pi-hq.acme.sock", name, sizeof(name)), 0);
	assert_string_equal(name, "pi-hq.acme");
	assert_int_equal(ncroute_socket_name("/any/dir/pi-hq", name, sizeof(name)), 0);
	assert_string_equal(name, "pi-hq");
}

static void
test_accepted_lines(void **state)
{
	struct nc_route r;
	const char *why;

	(void)state;
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/host-2"), 0);
	assert_string_equal(r.host, "host-2");
	assert_int_equal(r.port, 22);
	assert_true(r.unix_path);
	assert_int_equal(PARSE(&r, "nc", "-U", "/home/host/host-2.sock"), 0);
	assert_string_equal(r.host, "host-2");
	assert_int_equal(PARSE(&r, "nc", "pi-hq.acme", "22"), 0);
	assert_string_equal(r.host, "pi-hq.acme");
	assert_int_equal(r.port, 22);
	assert_false(r.unix_path);
	assert_int_equal(PARSE(&r, "nc", "localhost", "22050"), 0);
	assert_string_equal(r.host, "localhost");
	assert_int_equal(r.port, 22050);
	assert_int_equal(PARSE(&r, "nc", "pi", "65535"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_lines),
		cmocka_unit_test(test_socket_name),
		cmocka_unit_test(test_accepted_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
