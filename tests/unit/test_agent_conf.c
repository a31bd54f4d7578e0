/* test_agent_conf.c: agent.conf parsing (hostile first), writing, atomic replacement, round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/agentconf.h"
#include "common/err.h"
#include "testutil.h"

#define HEX "996300d9220536f8f6915b44270b643dfdc2ce107554f2269ba2c423db87740c"
#define FP "SHA256:mWMA2SIFNvj2kVtEJwtkPf3CzhB1VPImm6LEI9uHdAw"

static int
parse_str(const char *text, size_t len, struct agent_conf *c, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	assert_non_null(f);
	r = agentconf_parse(f, c, err, errlen);
	fclose(f);
	return r;
}

static const char *const hostile[] = {
	"bogus 1\n", "server\n", "server \n", "server localhost\n", "server localhost:0\n",
	"server a:1\nserver a:1\n", "server a:1\nserver A:1\n", "server [::1]:22\nserver [::1]:22\n", "hostkey " HEX "\n", "hostkey SHA256:abc\n",
	"hostkey SHA256:mWMA2SIFNvj2kVtEJwtkPf3CzhB1VPImm6LEI9uHdAw=\n",
	"hostkey-sha256 " HEX "00\n", "hostkey-sha256 996300D9220536f8f6915b44270b643dfdc2ce107554f2269ba2c423db87740c\n",
	"hostkey-sha256 zz6300d9220536f8f6915b44270b643dfdc2ce107554f2269ba2c423db87740c\n",
	/* the two forms disagree */
	"hostkey " FP "\nhostkey-sha256 006300d9220536f8f6915b44270b643dfdc2ce107554f2269ba2c423db87740c\n",
	"name Pi\n", "name pi.acme\n", "name -pi\n", "name $(id)\n", "fleet a b\n",
	"name pi\nname pi\n", "service 22\n", "service 22=localhost\n", "service 0=localhost:22\n",
	"name pi\x01\n", "name pi\r\n", "SERVER localhost:22\n",
	"sshd-host-keys etc/ssh/*.pub\n", "sshd-host-keys\n",
	"sshd-host-keys /a/*.pub\nsshd-host-keys /b/*.pub\n",
	/* on-demand mode */
	"on-demand\n", "on-demand maybe\n", "on-demand YES\n", "mqtt broker:1883\n",
	"mqtt http://broker\n", "mqtt mqtt://broker:0\n", "mqtt mqtt://a\nmqtt mqtt://b\n",
	"mqtt mqtt://user@broker\n", "mqtt-topic outpost/+/x\n", "mqtt-topic outpost/#\n",
	"mqtt-topic /outpost\n", "mqtt-topic outpost/{fleet}/{fleet}\n", "idle 0\n", "idle -5m\n",
	"idle 10x\n", "idle 30d\n", "mqtt-client-id a b\n", "mqtt-client-id caf\xc3\xa9\n",
};

static void
test_mqtt(void **state)
{
	static const char text[] = "server jump:2222\nhostkey " FP "\nname pi\nfleet acme\non-demand yes\nmqtt mqtts://broker.example\n"
	    "mqtt-cafile /etc/outpost/ca.pem\nmqtt-cert /etc/outpost/dev.crt\n"
	    "mqtt-key /etc/outpost/dev.key\nmqtt-topic atlas/{fleet}/{name}/tunnel\nidle 90s\n";
	struct agent_conf c, back;
	char err[256], *buf = NULL;
	size_t len = 0;

	assert_int_equal(parse_str(text, sizeof(text) - 1, &c, err, sizeof(err)), 0);
	assert_true(c.mqtt.on_demand);
	assert_true(c.mqtt.url.tls);
	assert_int_equal(c.mqtt.url.port, 8883);
	assert_int_equal(c.mqtt.idle_s, 90);
	assert_string_equal(c.mqtt.topic, "atlas/{fleet}/{name}/tunnel");
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), 0);
	/* written back and read again: the same */
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(agentconf_emit(f, &c), 0);
	fclose(f);
	assert_int_equal(parse_str(buf, len, &back, err, sizeof(err)), 0);
	free(buf);
	assert_memory_equal(&back.mqtt, &c.mqtt, sizeof(c.mqtt));
	/* the command line's setters */
	assert_int_equal(agentconf_set(&c, "idle", "2s"), 0);
	assert_int_equal(c.mqtt.idle_s, 2);
	assert_int_equal(agentconf_set(&c, "idle", ""), ERR_INVAL);
	assert_int_equal(agentconf_set(&c, "mqtt", "mqtt://x\n"), ERR_INVAL);
	assert_int_equal(agentconf_set(&c, "server", NULL), ERR_INVAL);
	assert_int_equal(agentconf_set(&c, "no-such", "x"), ERR_INVAL);
	/* checks: a broker is needed; TLS files only with mqtts; cert and key go together */
	memset(&c, 0, sizeof(c));
	c.mqtt.on_demand = true;
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(agentconf_set(&c, "mqtt", "mqtt://broker"), 0);
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), 0);
	assert_int_equal(agentconf_set(&c, "mqtt-cert", "/x.crt"), 0);
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(agentconf_set(&c, "mqtt", "mqtts://broker"), 0);
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(agentconf_set(&c, "mqtt-key", "/x.key"), 0);
	assert_int_equal(agentconf_check_mqtt(&c, err, sizeof(err)), 0);
}

static void
test_hostile(void **state)
{
	struct agent_conf c;
	char err[256];

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		err[0] = '\0';
		if (parse_str(hostile[i], strlen(hostile[i]), &c, err, sizeof(err)) != ERR_CONFIG)
			fail_msg("accepted: %s", hostile[i]);
		assert_non_null(strstr(err, "line "));
	}
	/* NUL inside a line */
	static const char nul[] = "name pi\0x\n";
	assert_int_equal(parse_str(nul, sizeof(nul) - 1, &c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "NUL"));
	/* an over-long line */
	static char longline[4000];
	memset(longline, 'a', sizeof(longline) - 1);
	memcpy(longline, "name ", 5);
	assert_int_equal(parse_str(longline, strlen(longline), &c, err, sizeof(err)), ERR_CONFIG);
	/* a pattern longer than its buffer (but not than a line) */
	char longglob[400] = "sshd-host-keys /";
	memset(longglob + strlen(longglob), 'k', 300);
	strcat(longglob, "\n");
	assert_int_equal(parse_str(longglob, strlen(longglob), &c, err, sizeof(err)), ERR_CONFIG);
	/* 33 services */
	char many[33 * 32] = "";
	for (int i = 1; i <= 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "service %d=localhost:22\n", i);
	assert_int_equal(parse_str(many, strlen(many), &c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "line 33"));
	/* a missing key is found by agentconf_check, not the parser */
	assert_int_equal(parse_str("name pi\nfleet acme\n", 19, &c, err, sizeof(err)), 0);
	assert_int_equal(agentconf_check(&c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "no server"));
}

static void
test_good(void **state)
{
	static const char text[] =
	    "# comment\n\n   \nserver [::1]:2222\nhostkey " FP "\nhostkey-sha256 " HEX "\n"
	    "name pi\t \nfleet acme\nservice 22=localhost:22\nservice 80=127.0.0.1:8080\n"
	    "service 22=127.0.0.1:2200\n";
	struct agent_conf c;
	char err[256];

	assert_int_equal(parse_str(text, sizeof(text) - 1, &c, err, sizeof(err)), 0);
	assert_int_equal(agentconf_check(&c, err, sizeof(err)), 0);
	assert_int_equal(c.nservers, 1);	/* an old single-server file */
	assert_string_equal(c.servers[0].host, "::1");
	assert_int_equal(c.servers[0].port, 2222);
	assert_int_equal(c.hostkey[0], 0x99);
	assert_int_equal(c.hostkey[31], 0x0c);
	assert_string_equal(c.name, "pi");
	assert_string_equal(c.fleet, "acme");
	assert_int_equal(c.nservices, 2);	/* the later 22 replaced the first */
	assert_int_equal(c.services[0].target.port, 2200);
	/* either host key form alone is enough */
	static const char one_form[] = "server a:1\nhostkey " FP "\nname a\nfleet b\n";
	assert_int_equal(parse_str(one_form, sizeof(one_form) - 1, &c, err, sizeof(err)), 0);
	assert_int_equal(agentconf_check(&c, err, sizeof(err)), 0);
	char fp[AGENTCONF_FP_MAX];
	agentconf_fingerprint(c.hostkey, fp, sizeof(fp));
	assert_string_equal(fp, FP);
}

/* Several server lines: hostile first, then the limit, order and a round trip. */
static void
test_servers(void **state)
{
	static char text[LIM_AGENT_SERVERS * 40 + 4096], err[256];
	static struct agent_conf c, d;
	char *dir = tu_mkdtemp(), path[512];

	/* one too many */
	text[0] = '\0';
	for (int i = 1; i <= LIM_AGENT_SERVERS + 1; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "server n%d.example:%d\n", i, 2000 + i);
	assert_int_equal(parse_str(text, strlen(text), &c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "too many servers"));
	char want[32];
	snprintf(want, sizeof(want), "line %d:", LIM_AGENT_SERVERS + 1);
	assert_non_null(strstr(err, want));
	/* a duplicate, even in another case, after good lines */
	static const char dup[] = "server a.example:1\nserver b.example:1\nserver A.EXAMPLE:1\n";
	assert_int_equal(parse_str(dup, sizeof(dup) - 1, &c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "line 3: server listed twice"));
	/* the same host on another port is another server */
	static const char ports[] = "server a.example:1\nserver a.example:2\n";
	assert_int_equal(parse_str(ports, sizeof(ports) - 1, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nservers, 2);
	/* malformed and empty values */
	static const char *const bad[] = { "server\n", "server  \t\n", "server a.example\n",
		"server a.example:\n", "server :22\n", "server a.example:65536\n",
		"server a.example:022\n", "server a b:22\n", "server [::1:22\n",
		"server a.example:1 b.example:2\n", "server a.example:1,b.example:2\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i], strlen(bad[i]), &c, err, sizeof(err)) != ERR_CONFIG)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "line 1: bad value for server"));
	}
	/* an over-long host name (254 characters) after a good line */
	snprintf(text, sizeof(text), "server ok.example:1\nserver ");
	memset(text + strlen(text), 'h', 254);
	strcat(text, ":22\n");
	assert_int_equal(parse_str(text, strlen(text), &c, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "line 2: bad value for server"));
	/* exactly the limit, interleaved with other keys: kept in order, written back in order */
	snprintf(text, sizeof(text), "hostkey-sha256 " HEX "\nname pi\n");
	for (int i = 1; i <= LIM_AGENT_SERVERS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "server n%d.example:%d\n%s", i, 2000 + i,
		    i == 3 ? "fleet acme\n" : "");
	assert_int_equal(parse_str(text, strlen(text), &c, err, sizeof(err)), 0);
	assert_int_equal(agentconf_check(&c, err, sizeof(err)), 0);
	assert_int_equal(c.nservers, LIM_AGENT_SERVERS);
	assert_string_equal(c.servers[0].host, "n1.example");
	assert_int_equal(c.servers[LIM_AGENT_SERVERS - 1].port, 2000 + LIM_AGENT_SERVERS);
	assert_int_equal(agentconf_add_server(&c, &c.servers[0]), ERR_EXISTS);
	struct hostport extra = { .host = "extra.example", .port = 1 };
	assert_int_equal(agentconf_add_server(&c, &extra), ERR_TOOLONG);
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	assert_int_equal(agentconf_write(path, &c), 0);
	assert_int_equal(agentconf_read(path, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nservers, LIM_AGENT_SERVERS);
	for (size_t i = 0; i < d.nservers; i++) {
		assert_string_equal(d.servers[i].host, c.servers[i].host);
		assert_int_equal(d.servers[i].port, c.servers[i].port);
	}
	char *content = tu_slurp(path);
	assert_non_null(strstr(content, "server n1.example:2001\nserver n2.example:2002\n"));
	free(content);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void
test_write_round_trip(void **state)
{
	char *dir = tu_mkdtemp(), path[512], err[256];
	struct agent_conf c, d;
	struct stat st;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	static const char text[] = "server jump.example.com:2222\nhostkey-sha256 " HEX
	    "\nname pi-hq\nfleet acme\nservice 80=[::1]:8080\nsshd-host-keys /srv/sshd/key_*.pub\n";
	assert_int_equal(parse_str(text, sizeof(text) - 1, &c, err, sizeof(err)), 0);
	/* replaces an existing file; no temporary file is left behind */
	FILE *f = fopen(path, "w");
	fputs("old\n", f);
	fclose(f);
	assert_int_equal(agentconf_write(path, &c), 0);
	assert_int_equal(agentconf_read(path, &d, err, sizeof(err)), 0);
	assert_int_equal(agentconf_check(&d, err, sizeof(err)), 0);
	assert_memory_equal(c.hostkey, d.hostkey, sizeof(c.hostkey));
	assert_int_equal(d.nservers, 1);
	assert_string_equal(d.servers[0].host, "jump.example.com");
	assert_string_equal(d.name, "pi-hq");
	assert_int_equal(d.nservices, 1);
	assert_int_equal(d.services[0].port, 80);
	assert_string_equal(d.sshd_host_keys, "/srv/sshd/key_*.pub");
	char *content = tu_slurp(path);
	assert_non_null(strstr(content, "hostkey " FP "\n"));
	assert_non_null(strstr(content, "hostkey-sha256 " HEX "\n"));
	free(content);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	/* missing file, unwritable directory */
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(agentconf_read(path, &d, err, sizeof(err)), ERR_NOTFOUND);
	assert_int_equal(agentconf_write("/nonexistent-dir/agent.conf", &c), ERR_IO);
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_mqtt),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_write_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
