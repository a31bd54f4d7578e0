/* test_loadgen.c: outpost-loadgen's pure helpers: command line, device names, source addresses, rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lgopts.h"

static int
parse(struct lg_opts *o, char *why, ...)
{
	char *argv[32] = { "outpost-loadgen" };
	int argc = 1;
	va_list ap;

	va_start(ap, why);
	for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	why[0] = '\0';
	return lg_parse_args(argc, argv, o, why, 256);
}

static void
test_args_hostile(void **state)
{
	struct lg_opts o;
	char why[256];
	static const char *bad_n[] = { "0", "-1", "65537", "1x", "", " 5", "+5", "99999999999999999999" };

	(void)state;
	assert_int_equal(parse(&o, why, NULL), -1);			/* no -k */
	assert_non_null(strstr(why, "-k"));
	assert_int_equal(parse(&o, why, "-k", NULL), -1);		/* missing value */
	assert_int_equal(parse(&o, why, "-k", "f", "extra", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-z", "1", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "--n", "1", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-", NULL), -1);
	for (size_t i = 0; i < sizeof(bad_n) / sizeof(bad_n[0]); i++)
		assert_int_equal(parse(&o, why, "-k", "f", "-n", bad_n[i], NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-r", "0", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-r", "100001", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-P", "65536", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-t", "-1", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-m", "ECHO", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-f", "Bench", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-f", "-bench", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-f", "a.b", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-p", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-u", "", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-a", "", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-a", "ssh-ed25519,", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-a", ",ssh-ed25519", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-a", "RSA-SHA2-512", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-a", "ssh-ed25519 x", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-s", "host", NULL), -1);
	assert_int_equal(parse(&o, why, "-k", "f", "-x", NULL), -1);	/* -x needs -d or -D */
	assert_int_equal(parse(&o, why, "-k", "f", "-x", "-D", NULL), -1);
	assert_true(strlen(why) > 0);
}

static void
test_args_good(void **state)
{
	struct lg_opts o;
	char why[256];

	(void)state;
	assert_int_equal(parse(&o, why, "-h", NULL), 1);
	assert_int_equal(parse(&o, why, "-k", "keys", NULL), 0);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 2222);
	assert_int_equal(o.ndevices, 100);
	assert_string_equal(o.fleet, "bench");
	assert_string_equal(o.user, "dev");
	assert_string_equal(o.hostkey_algs, "ssh-ed25519");
	assert_true(o.spread);
	assert_int_equal(o.mode, LG_ECHO);
	assert_int_equal(parse(&o, why, "-k", "keys", "-s", "[::1]:2022", "-n", "65536", "-f", "f-1",
	    "-p", "x", "-r", "7", "-P", "80", "-m", "discard", "-t", "30", "-d", "st", "-x", "-q",
	    "-v", "-S", "-o", "stat", "-H", "hk.pub", "-u", "agent", NULL), 0);
	assert_string_equal(o.host, "::1");
	assert_int_equal(o.port, 2022);
	assert_int_equal(o.ndevices, 65536);
	assert_string_equal(o.fleet, "f-1");
	assert_string_equal(o.prefix, "x");
	assert_int_equal(o.rate, 7);
	assert_int_equal(o.service_port, 80);
	assert_int_equal(o.mode, LG_DISCARD);
	assert_int_equal(o.seconds, 30);
	assert_string_equal(o.state_dir, "st");
	assert_true(o.provision_only && o.quiet && o.verbose && !o.spread);
	assert_string_equal(o.status, "stat");
	assert_string_equal(o.hostkey, "hk.pub");
	assert_string_equal(o.user, "agent");
	assert_int_equal(parse(&o, why, "-k", "keys", "-a", "rsa-sha2-512,ssh-ed25519@x.org", NULL), 0);
	assert_string_equal(o.hostkey_algs, "rsa-sha2-512,ssh-ed25519@x.org");
	assert_null(o.store);
	assert_int_equal(parse(&o, why, "-k", "keys", "-D", "postgresql://db/outpost", "-x", NULL), 0);
	assert_string_equal(o.store, "postgresql://db/outpost");
	assert_null(o.state_dir);
	assert_true(o.provision_only);
}

static void
test_hostport(void **state)
{
	char host[16];
	int port = 0;
	static const char *bad[] = { "", ":22", "h:", "h:0", "h:65536", "h:22x", "a:b:22", "[::1]22",
	    "[::1", "[]:22", "h: 22", "averyveryverylonghostname:22" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lg_parse_hostport(bad[i], host, sizeof(host), &port), -1);
	assert_int_equal(lg_parse_hostport(NULL, host, sizeof(host), &port), -1);
	assert_int_equal(lg_parse_hostport("h:1", host, 0, &port), -1);
	assert_int_equal(lg_parse_hostport("127.0.0.1:65535", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 65535);
	assert_int_equal(lg_parse_hostport("[fe80::1]:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fe80::1");
	assert_int_equal(port, 1);
}

static void
test_names(void **state)
{
	char b[64], small[8];

	(void)state;
	assert_int_equal(lg_device_name("lg", 0, b, sizeof(b)), 0);
	assert_string_equal(b, "lg-00000");
	assert_int_equal(lg_device_name("lg", 65535, b, sizeof(b)), 0);
	assert_string_equal(b, "lg-65535");
	assert_int_equal(lg_device_name("lg", 65536, b, sizeof(b)), -1);
	assert_int_equal(lg_device_name("LG", 1, b, sizeof(b)), -1);
	assert_int_equal(lg_device_name("", 1, b, sizeof(b)), -1);
	assert_int_equal(lg_device_name(NULL, 1, b, sizeof(b)), -1);
	assert_int_equal(lg_device_name("lg-", 1, b, sizeof(b)), -1);
	assert_int_equal(lg_device_name("lg", 1, small, sizeof(small)), -1);	/* truncated */
	assert_int_equal(lg_source_addr(0, b, sizeof(b)), 0);
	assert_string_equal(b, "127.2.0.0");
	assert_int_equal(lg_source_addr(258, b, sizeof(b)), 0);
	assert_string_equal(b, "127.2.1.2");
	assert_int_equal(lg_source_addr(65535, b, sizeof(b)), 0);
	assert_string_equal(b, "127.2.255.255");
	assert_int_equal(lg_source_addr(65536, b, sizeof(b)), -1);
	assert_int_equal(lg_source_addr(1, small, 4), -1);
}

static void
test_rate(void **state)
{
	struct lg_rate r;
	int n = 0;

	(void)state;
	lg_rate_init(&r, 100, 1000);
	/* A burst is bounded: at most rate/10 + 1 at once, even after a long pause. */
	for (int i = 0; i < 1000; i++)
		n += lg_rate_take(&r, 1000);
	assert_int_equal(n, 1);
	n = 0;
	for (int i = 0; i < 1000; i++)
		n += lg_rate_take(&r, 100000);
	assert_int_equal(n, 11);
	/* Over a second in 1 ms steps: about rate events. */
	while (lg_rate_take(&r, 200000))
		;
	n = 0;
	for (int64_t t = 200001; t <= 201000; t++)
		while (lg_rate_take(&r, t))
			n++;
	assert_in_range(n, 99, 101);
	/* Time going backwards grants nothing. */
	n = 0;
	for (int i = 0; i < 100; i++)
		n += lg_rate_take(&r, 500);
	assert_in_range(n, 0, 1);
	lg_rate_init(&r, 0, 0);		/* clamped to 1/s */
	assert_true(lg_rate_take(&r, 0));
	assert_false(lg_rate_take(&r, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_hostile),
		cmocka_unit_test(test_args_good),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
