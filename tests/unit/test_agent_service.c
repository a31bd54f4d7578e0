/* test_agent_service.c: PORT=HOST:PORT service specs and HOST:PORT addresses, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/hostport.h"
#include "agent/service.h"
#include "common/err.h"

static const char *const bad_specs[] = {
	"", "=", "22", "22=", "=localhost:22", "22=localhost", "22=localhost:",
	"22=:22", "0=localhost:22", "65536=localhost:22", "022=localhost:22",
	"+22=localhost:22", "-1=localhost:22", " 22=localhost:22", "22 =localhost:22",
	"22= localhost:22", "22=localhost:22 ", "22=localhost:22\n", "22=localhost:0",
	"22=localhost:65536", "22=localhost:2a", "22=local host:22", "22=localhost:22:22",
	"22=::1:22", "22=[::1:22", "22=[::1]22", "22=[::1]:", "22=[]:22", "22=[foo]:22",
	"22=[127.0.0.1]:22", "22=-host:22", "22=.host:22", "22=host;id:22", "22=$(id):22",
	"22=h\xc3\xa9:22", "22=localhost:22=23", "99999999999999999999=localhost:22",
	"22=localhost:99999999999999999999", "2 2=localhost:22",
};

static void
test_service_hostile(void **state)
{
	struct service sv;

	for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
		memset(&sv, 0x55, sizeof(sv));
		if (service_parse(bad_specs[i], &sv) != ERR_INVAL)
			fail_msg("accepted \"%s\"", bad_specs[i]);
		assert_int_equal(sv.port, 0);
		assert_string_equal(sv.target.host, "");
	}
	assert_int_equal(service_parse(NULL, &sv), ERR_INVAL);
	/* a 300-character host name */
	char longhost[400] = "22=";
	memset(longhost + 3, 'a', 300);
	strcpy(longhost + 303, ":22");
	assert_int_equal(service_parse(longhost, &sv), ERR_INVAL);
}

static void
test_service_good(void **state)
{
	struct service sv;
	char out[SERVICE_STR_MAX];

	assert_int_equal(service_parse("22=localhost:22", &sv), 0);
	assert_int_equal(sv.port, 22);
	assert_string_equal(sv.target.host, "localhost");
	assert_int_equal(sv.target.port, 22);
	assert_int_equal(service_parse("65535=[::1]:1", &sv), 0);
	assert_int_equal(sv.port, 65535);
	assert_string_equal(sv.target.host, "::1");
	assert_int_equal(sv.target.port, 1);
	service_format(&sv, out, sizeof(out));
	assert_string_equal(out, "65535=[::1]:1");
	assert_int_equal(service_parse("80=192.168.1.20:8080", &sv), 0);
	service_format(&sv, out, sizeof(out));
	assert_string_equal(out, "80=192.168.1.20:8080");
	assert_int_equal(service_parse("22050=plc_1.lan:502", &sv), 0);
	assert_string_equal(sv.target.host, "plc_1.lan");
	assert_int_equal(service_parse(SERVICE_DEFAULT, &sv), 0);
}

static void
test_hostport(void **state)
{
	struct hostport hp;
	char out[HOSTPORT_STR_MAX];

	assert_int_equal(hostport_parse("[fe80::1%eth0]:22", &hp), ERR_INVAL);
	assert_int_equal(hostport_parse("[::ffff:1.2.3.4]:22", &hp), 0);
	hostport_format(&hp, out, sizeof(out));
	assert_string_equal(out, "[::ffff:1.2.3.4]:22");
	assert_int_equal(hostport_parse("jump.example.com:2222", &hp), 0);
	hostport_format(&hp, out, sizeof(out));
	assert_string_equal(out, "jump.example.com:2222");
	assert_int_equal(hostport_parse_port("65535", 5), 65535);
	assert_int_equal(hostport_parse_port("1", 1), 1);
	assert_int_equal(hostport_parse_port("", 0), ERR_INVAL);
	assert_int_equal(hostport_parse_port("123456", 6), ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_hostile),
		cmocka_unit_test(test_service_good),
		cmocka_unit_test(test_hostport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
