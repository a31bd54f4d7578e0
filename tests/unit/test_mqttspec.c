/* test_mqttspec.c: broker URLs, topic templates and on-demand payloads, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mqttspec.h"

static const char *const bad_urls[] = {
	"", "mqtt:", "mqtt://", "mqtts://", "http://broker:1883", "MQTT://broker", "tcp://broker",
	"mqtt://:1883", "mqtt://broker:", "mqtt://broker:0", "mqtt://broker:65536",
	"mqtt://broker:01883", "mqtt://broker:+1", "mqtt://broker:-1", "mqtt://broker:18 83",
	"mqtt://broker:1883x", "mqtt://user:pw@broker", "mqtt://broker/path", "mqtt://broker//",
	"mqtt://broker?x=1", "mqtt://broker#f", "mqtt://bro ker", "mqtt://bro\tker",
	"mqtt://broker\n", "mqtt://-broker", "mqtt://.broker", "mqtt://[::1", "mqtt://[]:1883",
	"mqtt://[::1]1883", "mqtt://[::1]:", "mqtt://[::g]", "mqtt://[::1]:99999", "mqtts://[.1]:88/", "mqtt://[1.2.3.4]", "mqtt://[:]",
	"mqtt://$(id)", "mqtt://`id`", "mqtt://caf\xc3\xa9", " mqtt://broker", "mqtt://broker:1883:1",
	"mqtt://broker:99999999999999999999",
};

static void
test_url_hostile(void **state)
{
	struct mqtt_url u;
	static char huge[1 << 16];

	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		memset(&u, 'x', sizeof(u));
		if (mqttspec_url_parse(bad_urls[i], &u) != ERR_INVAL)
			fail_msg("accepted '%s'", bad_urls[i]);
		assert_string_equal(u.host, "");
		assert_int_equal(u.port, 0);
	}
	assert_int_equal(mqttspec_url_parse(NULL, &u), ERR_INVAL);
	/* a host one byte too long, then a 64 KiB one */
	char longhost[7 + MQTT_HOST_MAX + 2];
	memcpy(longhost, "mqtt://", 7);
	memset(longhost + 7, 'a', MQTT_HOST_MAX + 1);
	longhost[sizeof(longhost) - 1] = '\0';
	assert_int_equal(mqttspec_url_parse(longhost, &u), ERR_INVAL);
	memcpy(huge, "mqtt://", 7);
	memset(huge + 7, 'a', sizeof(huge) - 8);
	assert_int_equal(mqttspec_url_parse(huge, &u), ERR_INVAL);
	/* an embedded NUL ends the string: what follows is not seen */
	assert_int_equal(mqttspec_url_parse("mqtt://broker\0:1", &u), 0);
	assert_int_equal(u.port, MQTT_PORT_PLAIN);
}

static void
test_url_valid(void **state)
{
	struct mqtt_url u;
	char back[300];

	assert_int_equal(mqttspec_url_parse("mqtt://127.0.0.1:1883", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 1883);
	assert_false(u.tls);
	assert_int_equal(mqttspec_url_parse("mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com", &u), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, MQTT_PORT_TLS);
	mqttspec_url_format(&u, back, sizeof(back));
	assert_string_equal(back, "mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883");
	assert_int_equal(mqttspec_url_parse("mqtt://broker/", &u), 0);
	assert_int_equal(u.port, 1883);
	assert_int_equal(mqttspec_url_parse("mqtts://[::1]:8884", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8884);
	mqttspec_url_format(&u, back, sizeof(back));
	assert_string_equal(back, "mqtts://[::1]:8884");
	assert_int_equal(mqttspec_url_parse("mqtt://b:65535", &u), 0);
	assert_int_equal(u.port, 65535);
}

static const char *const bad_templates[] = {
	"", "/", "/outpost", "outpost/", "outpost//x", "outpost/+/x", "outpost/#", "#", "+",
	"$SYS/x", "out post", "out\tpost", "out\npost", "outpost/{fleet}/{fleet}",
	"outpost/{name}/{name}", "outpost/x{fleet}", "outpost/{fleet}x", "outpost/{other}",
	"outpost/{fleet", "outpost/fleet}", "caf\xc3\xa9", "\x7f",
};

static void
test_template_hostile(void **state)
{
	char big[MQTT_TOPIC_MAX + 10];

	for (size_t i = 0; i < sizeof(bad_templates) / sizeof(bad_templates[0]); i++)
		if (mqttspec_template_check(bad_templates[i], false) != ERR_INVAL)
			fail_msg("accepted '%s'", bad_templates[i]);
	assert_int_equal(mqttspec_template_check(NULL, false), ERR_INVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mqttspec_template_check(big, false), ERR_INVAL);
	/* outpostd needs both placeholders to know the device */
	assert_int_equal(mqttspec_template_check("atlas/tau/{name}/tunnel", true), ERR_INVAL);
	assert_int_equal(mqttspec_template_check("atlas/{fleet}/tunnel", true), ERR_INVAL);
	assert_int_equal(mqttspec_template_check("atlas/tau/dev1/tunnel", false), 0);
}

static void
test_topics(void **state)
{
	char t[MQTT_TOPIC_MAX], small[12];

	assert_int_equal(mqttspec_template_check(MQTT_DEFAULT_TEMPLATE, true), 0);
	assert_int_equal(mqttspec_topic(MQTT_DEFAULT_TEMPLATE, "acme", "pi-hq", "control", t, sizeof(t)), 0);
	assert_string_equal(t, "outpost/acme/pi-hq/tunnel/control");
	assert_int_equal(mqttspec_topic(MQTT_DEFAULT_TEMPLATE, "+", "+", "state", t, sizeof(t)), 0);
	assert_string_equal(t, "outpost/+/+/tunnel/state");
	/* seed 003's layout: realm/system/device/tunnel */
	assert_int_equal(mqttspec_template_check("atlas/{fleet}/{name}/tunnel", true), 0);
	assert_int_equal(mqttspec_topic("atlas/{fleet}/{name}/tunnel", "hula", "primary", "state", t, sizeof(t)), 0);
	assert_string_equal(t, "atlas/hula/primary/tunnel/state");
	assert_int_equal(mqttspec_topic("{name}", "f", "n", "", t, sizeof(t)), 0);
	assert_string_equal(t, "n");
	assert_int_equal(mqttspec_topic(MQTT_DEFAULT_TEMPLATE, "acme", "pi-hq", "state", small, sizeof(small)), ERR_TOOLONG);
}

static void
test_match_hostile(void **state)
{
	static const char *const bad[] = {
		"", "outpost", "outpost/acme/pi-hq/tunnel", "outpost/acme/pi-hq/tunnel/",
		"outpost/acme/pi-hq/tunnel/state/x", "outpost/acme/pi-hq/tunnel/control",
		"outpost/ACME/pi-hq/tunnel/state", "outpost/acme/Pi-hq/tunnel/state",
		"outpost/acme/-x/tunnel/state", "outpost//pi-hq/tunnel/state",
		"outpost/acme//tunnel/state", "outpost/a.b/pi-hq/tunnel/state",
		"outpost/acme/pi hq/tunnel/state", "outpost/acme/pi-hq/tunnel/statex",
		"other/acme/pi-hq/tunnel/state", "outpost/acme/pi-hq/tunnelx/state",
		"outpost/+/+/tunnel/state", "outpost/#",
		"outpost/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x/tunnel/state",
	};
	char fleet[LIM_LABEL + 1], name[LIM_LABEL + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(fleet, 'x', sizeof(fleet));
		if (mqttspec_topic_match(MQTT_DEFAULT_TEMPLATE, "state", bad[i], strlen(bad[i]),
		    fleet, name) != ERR_INVAL)
			fail_msg("matched '%s'", bad[i]);
		assert_string_equal(fleet, "");
		assert_string_equal(name, "");
	}
	/* an embedded NUL inside the length */
	const char nul[] = "outpost/acme/pi\0hq/tunnel/state";
	assert_int_equal(mqttspec_topic_match(MQTT_DEFAULT_TEMPLATE, "state", nul, sizeof(nul) - 1,
	    fleet, name), ERR_INVAL);
	/* not terminated: only len bytes count */
	const char *t = "outpost/acme/pi-hq/tunnel/stateXXXX";
	assert_int_equal(mqttspec_topic_match(MQTT_DEFAULT_TEMPLATE, "state", t, strlen(t) - 4,
	    fleet, name), 0);
	assert_string_equal(fleet, "acme");
	assert_string_equal(name, "pi-hq");
	static char huge[1 << 16];
	memset(huge, '/', sizeof(huge));
	assert_int_equal(mqttspec_topic_match(MQTT_DEFAULT_TEMPLATE, "state", huge, sizeof(huge),
	    fleet, name), ERR_INVAL);
}

static void
test_match_valid(void **state)
{
	char fleet[LIM_LABEL + 1], name[LIM_LABEL + 1];
	const char *t = "atlas/hula/primary/tunnel/state";

	assert_int_equal(mqttspec_topic_match("atlas/{fleet}/{name}/tunnel", "state", t, strlen(t),
	    fleet, name), 0);
	assert_string_equal(fleet, "hula");
	assert_string_equal(name, "primary");
	t = "atlas/tau/dev-1/state";
	assert_int_equal(mqttspec_topic_match("atlas/tau/{name}", "state", t, strlen(t), fleet, name), 0);
	assert_string_equal(fleet, "");
	assert_string_equal(name, "dev-1");
}

static void
test_payload_hostile(void **state)
{
	static const char *const bad[] = {
		"", "\n", "Connect", "CONNECT", " connect", "connect ", "connect\r\n", "connect\n\n",
		"connectx", "connec", "connect\nx", "x|connect", "connect\x1b[2J", "|",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mqttspec_command_parse(bad[i], strlen(bad[i])) != MQTT_CMD_NONE)
			fail_msg("command '%s'", bad[i]);
		if (mqttspec_state_parse(bad[i], strlen(bad[i])) != MQTT_STATE_NONE)
			fail_msg("state '%s'", bad[i]);
	}
	assert_int_equal(mqttspec_command_parse("connect\0", 8), MQTT_CMD_NONE);
	assert_int_equal(mqttspec_command_parse(NULL, 5), MQTT_CMD_NONE);
	assert_int_equal(mqttspec_state_parse("standby\0junk", 12), MQTT_STATE_NONE);
	char big[MQTT_PAYLOAD_MAX + 2];
	memset(big, ' ', sizeof(big));
	memcpy(big, "connect|", 8);
	assert_int_equal(mqttspec_command_parse(big, sizeof(big)), MQTT_CMD_NONE);
	assert_int_equal(mqttspec_state_parse(big, sizeof(big)), MQTT_STATE_NONE);
	assert_int_equal(mqttspec_state_from_name(NULL), MQTT_STATE_NONE);
	assert_string_equal(mqttspec_state_name((enum mqtt_state)99), "");
}

static void
test_payload_valid(void **state)
{
	assert_int_equal(mqttspec_command_parse("connect", 7), MQTT_CMD_CONNECT);
	assert_int_equal(mqttspec_command_parse("connect\n", 8), MQTT_CMD_CONNECT);
	assert_int_equal(mqttspec_command_parse("disconnect", 10), MQTT_CMD_DISCONNECT);
	assert_int_equal(mqttspec_command_parse("connect|by=alice", 16), MQTT_CMD_CONNECT);
	assert_int_equal(mqttspec_state_parse("connected|port=63943", 20), MQTT_STATE_CONNECTED);
	assert_int_equal(mqttspec_state_parse("disconnected|reason=idle", 24), MQTT_STATE_DISCONNECTED);
	assert_int_equal(mqttspec_state_parse("standby", 7), MQTT_STATE_STANDBY);
	assert_int_equal(mqttspec_state_parse("offline", 7), MQTT_STATE_OFFLINE);
	for (int s = MQTT_STATE_STANDBY; s <= MQTT_STATE_OFFLINE; s++)
		assert_int_equal(mqttspec_state_from_name(mqttspec_state_name((enum mqtt_state)s)), s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_hostile),
		cmocka_unit_test(test_url_valid),
		cmocka_unit_test(test_template_hostile),
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_match_hostile),
		cmocka_unit_test(test_match_valid),
		cmocka_unit_test(test_payload_hostile),
		cmocka_unit_test(test_payload_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
