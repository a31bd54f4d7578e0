/* test_config.c: outpostd's config file parser (hostile first), keywords, defaults, and dump/load round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/conffile.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "server/config.h"
#include "store/store.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char path[512];
	struct config c;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/outpostd.conf", f->dir);
	setenv("OUTPOST_STATE", "/srv/outpost-test", 1);
	config_defaults(&f->c);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(&f->c);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Writes len bytes (may hold NULs) as the config file. */
static void
write_conf(struct fixture *f, const char *text, size_t len)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Loads text into fresh defaults and expects ERR_CONFIG naming line and reason. */
static void
refuse(struct fixture *f, const char *text, size_t len, int line, const char *why_part)
{
	char why[512] = "", where[600];

	config_free(&f->c);
	config_defaults(&f->c);
	write_conf(f, text, len);
	int r = config_load(&f->c, f->path, why, sizeof(why));
	if (r != ERR_CONFIG)
		fail_msg("loaded '%.60s' (%d), want ERR_CONFIG", text, r);
	snprintf(where, sizeof(where), "%s:%d: ", f->path, line);
	if (strncmp(why, where, strlen(where)) != 0)
		fail_msg("why '%s' does not start with '%s'", why, where);
	if (why_part != NULL && strstr(why, why_part) == NULL)
		fail_msg("why '%s' lacks '%s'", why, why_part);
}

#define REFUSE(f, lit, line, part) refuse((f), (lit), sizeof(lit) - 1, (line), (part))

static void
load_ok(struct fixture *f, const char *text)
{
	char why[512] = "";

	config_free(&f->c);
	config_defaults(&f->c);
	write_conf(f, text, strlen(text));
	if (config_load(&f->c, f->path, why, sizeof(why)) != 0)
		fail_msg("refused '%.60s': %s", text, why);
}

static void
test_file_hostile(void **state)
{
	struct fixture *f = *state;

	REFUSE(f, "Bogus 1\n", 1, "unknown keyword 'Bogus'");
	REFUSE(f, "# ok\n\nListenAddress 1.2.3.4:22\n", 3, "unknown keyword");
	REFUSE(f, "Listen\n", 1, "expected 'Keyword value'");
	REFUSE(f, "Listen   \t \n", 1, "expected");
	REFUSE(f, "Listen=\n", 1, "expected");
	REFUSE(f, "LogLevel debug\nMaxAuthTries\n", 2, "expected");
	REFUSE(f, "=info\n", 1, NULL);
	REFUSE(f, "Listen 1.2.3.4:22\n\x01\n", 2, NULL);
	/* embedded NULs: the rest of the line must not be silently dropped */
	REFUSE(f, "LogLevel debug\0junk\n", 1, NULL);
	REFUSE(f, "LogLevel info\nListen 1.2.3.4:22\0\n", 2, NULL);
	REFUSE(f, "\0Bogus\n", 1, NULL);
	REFUSE(f, "LogLevel debug\n\0\n", 2, NULL);
	/* numbers out of range or not numbers */
	REFUSE(f, "KeepaliveInterval 0\n", 1, "bad value '0' for KeepaliveInterval");
	REFUSE(f, "KeepaliveInterval 3601\n", 1, "KeepaliveInterval");
	REFUSE(f, "KeepaliveInterval -1\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval 99999999999999999999\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval 4294967316\n", 1, NULL);	/* 20 mod 2^32 */
	REFUSE(f, "KeepaliveInterval 1e3\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval 0x10\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval ten\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval 5 5\n", 1, NULL);
	REFUSE(f, "KeepaliveInterval 5s\n", 1, NULL);
	REFUSE(f, "KeepaliveCountMax 101\n", 1, "KeepaliveCountMax");
	REFUSE(f, "KeepaliveCountMax 0\n", 1, NULL);
	REFUSE(f, "LoginGraceTime 601\n", 1, "LoginGraceTime");
	REFUSE(f, "LoginGraceTime 0\n", 1, NULL);
	REFUSE(f, "MaxAuthTries 0\n", 1, "MaxAuthTries");
	REFUSE(f, "MaxAuthTries 101\n", 1, NULL);
	REFUSE(f, "Syslog maybe\n", 1, "Syslog");
	REFUSE(f, "AuditSyslog maybe\n", 1, "AuditSyslog");
	REFUSE(f, "AuditQueueMax 0\n", 1, "AuditQueueMax");
	REFUSE(f, "AuditQueueMax -1\n", 1, "AuditQueueMax");
	REFUSE(f, "AuditQueueMax 1000001\n", 1, "AuditQueueMax");
	REFUSE(f, "AuditQueueMax 12x\n", 1, "AuditQueueMax");
	REFUSE(f, "Syslog 2\n", 1, NULL);
	REFUSE(f, "LogLevel verbose\n", 1, "LogLevel");
	REFUSE(f, "LogLevel warning\n", 1, NULL);
	REFUSE(f, "LogLevel DEBUGDEBUGDEBUGDEBUG\n", 1, NULL);
	REFUSE(f, "LogLevel 3\n", 1, NULL);
	/* key exchanges: only names outpostd offers, said clearly */
	REFUSE(f, "KexAlgorithms diffie-hellman-group1-sha1\n", 1,
	    "'diffie-hellman-group1-sha1' is not a key exchange outpostd offers");
	REFUSE(f, "KexAlgorithms curve25519-sha256,sntrup761x25519-sha512@openssh.com\n", 1,
	    "'sntrup761x25519-sha512@openssh.com' is not");
	REFUSE(f, "KexAlgorithms curve25519-sha256,,ecdh-sha2-nistp256\n", 1, "KexAlgorithms");
	REFUSE(f, "KexAlgorithms curve25519-sha256,\n", 1, "KexAlgorithms");
	REFUSE(f, "KexAlgorithms curve25519-sha2566\n", 1, "is not a key exchange");
	REFUSE(f, "KexAlgorithms CURVE25519-SHA256\n", 1, "KexAlgorithms");
	REFUSE(f, "KexAlgorithms +diffie-hellman-group18-sha512\n", 1, "KexAlgorithms");
}

/* The DH groups and NIST curves only when listed; a refused list changes nothing. */
static void
test_kex(void **state)
{
	struct fixture *f = *state;
	char why[256];

	config_free(&f->c);
	config_defaults(&f->c);
	assert_string_equal(f->c.kex, "curve25519-sha256,curve25519-sha256@libssh.org");
	assert_int_not_equal(config_set(&f->c, "KexAlgorithms", "diffie-hellman-group14-sha1",
	    why, sizeof(why)), 0);
	assert_string_equal(f->c.kex, "curve25519-sha256,curve25519-sha256@libssh.org");
	assert_int_equal(config_set(&f->c, "kexalgorithms", "curve25519-sha256,ecdh-sha2-nistp256,"
	    "diffie-hellman-group18-sha512", why, sizeof(why)), 0);
	assert_string_equal(f->c.kex, "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group18-sha512");
	/* a later refusal of another keyword does not repeat this one's reason */
	assert_int_not_equal(config_set(&f->c, "MaxAuthTries", "0", why, sizeof(why)), 0);
	assert_string_equal(why, "bad value '0' for MaxAuthTries");
}

static void
test_file_long_lines(void **state)
{
	struct fixture *f = *state;
	char *buf = malloc(8192);

	assert_non_null(buf);
	/* far over the limit, on line 3 */
	int n = snprintf(buf, 8192, "# a\nLogLevel info\nStateDir /");
	memset(buf + n, 'a', 5000);
	strcpy(buf + n + 5000, "\nLogLevel debug\n");
	refuse(f, buf, strlen(buf), 3, "too long");
	/* no newline at the end of the file */
	buf[n + 5000] = '\0';
	refuse(f, buf, strlen(buf), 3, "too long");

	/* LIM_CONFIG_LINE bytes with the newline are fine, one more is not */
	n = snprintf(buf, 8192, "StateDir /");
	memset(buf + n, 'b', LIM_CONFIG_LINE - 1 - (size_t)n);
	strcpy(buf + LIM_CONFIG_LINE - 1, "\nLogLevel debug\n");
	load_ok(f, buf);
	assert_int_equal(strlen(f->c.state_dir), LIM_CONFIG_LINE - 1 - strlen("StateDir "));
	assert_int_equal(f->c.log_level, LOG_LVL_DEBUG);
	n = snprintf(buf, 8192, "StateDir /");
	memset(buf + n, 'b', LIM_CONFIG_LINE - (size_t)n);
	strcpy(buf + LIM_CONFIG_LINE, "\nLogLevel debug\n");
	refuse(f, buf, strlen(buf), 1, "too long");
	free(buf);
}

static void
test_file_unreadable(void **state)
{
	struct fixture *f = *state;
	char why[512] = "", path[600];

	snprintf(path, sizeof(path), "%s/missing.conf", f->dir);
	assert_int_equal(config_load(&f->c, path, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "cannot open"));
	/* a directory opens but cannot be read: not an empty config */
	why[0] = '\0';
	assert_int_equal(config_load(&f->c, f->dir, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, f->dir));
}

static void
test_file_valid(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "");
	assert_string_equal(f->c.state_dir, "/srv/outpost-test");
	assert_int_equal(f->c.nlisten, 0);
	assert_int_equal(f->c.keepalive_interval, 30);

	load_ok(f,
	    "# outpostd.conf\n"
	    "\n"
	    "   \t\n"
	    "   # indented comment\n"
	    "listen 127.0.0.1:2222\n"
	    "LISTEN=[::1]:2222\n"
	    "Listen = 0.0.0.0:22\n"
	    "\tStateDir\t/var/lib/my outpost  \t\n"
	    "HostKey /etc/outpost/key\r\n"
	    "keepaliveinterval 3600\n"
	    "KeepaliveCountMax=1\n"
	    "LoginGraceTime\t600\n"
	    "MaxAuthTries 100\n"
	    "LogLevel DEBUG\n"
	    "sYSLOG True");
	assert_int_equal(f->c.nlisten, 3);
	assert_string_equal(f->c.listen[0], "127.0.0.1:2222");
	assert_string_equal(f->c.listen[1], "[::1]:2222");
	assert_string_equal(f->c.listen[2], "0.0.0.0:22");
	assert_string_equal(f->c.state_dir, "/var/lib/my outpost");
	assert_int_equal(f->c.nhost_keys, 1);
	assert_string_equal(f->c.host_keys[0], "/etc/outpost/key");
	assert_int_equal(f->c.keepalive_interval, 3600);
	assert_int_equal(f->c.keepalive_count_max, 1);
	assert_int_equal(f->c.login_grace_time, 600);
	assert_int_equal(f->c.max_auth_tries, 100);
	assert_int_equal(f->c.log_level, LOG_LVL_DEBUG);
	assert_true(f->c.syslog);

	/* lower bounds, later lines win, every LogLevel spelling */
	load_ok(f, "KeepaliveInterval 1\nKeepaliveCountMax 1\nLoginGraceTime 1\nMaxAuthTries 1\n"
	    "LogLevel debug\nLogLevel Warn\nSyslog yes\nSyslog 0\n");
	assert_int_equal(f->c.keepalive_interval, 1);
	assert_int_equal(f->c.login_grace_time, 1);
	assert_int_equal(f->c.max_auth_tries, 1);
	assert_int_equal(f->c.log_level, LOG_LVL_WARN);
	assert_false(f->c.syslog);
	static const struct { const char *v; int l; } lv[] = {
		{ "error", LOG_LVL_ERROR }, { "ERROR", LOG_LVL_ERROR }, { "Warn", LOG_LVL_WARN },
		{ "iNfO", LOG_LVL_INFO }, { "Debug", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "LogLevel %s\n", lv[i].v);
		load_ok(f, text);
		assert_int_equal(f->c.log_level, lv[i].l);
	}
	static const struct { const char *v; bool b; } bo[] = {
		{ "yes", true }, { "YES", true }, { "true", true }, { "1", true },
		{ "no", false }, { "No", false }, { "FALSE", false }, { "0", false },
	};
	for (size_t i = 0; i < sizeof(bo) / sizeof(bo[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "Syslog %s\n", bo[i].v);
		load_ok(f, text);
		assert_int_equal(f->c.syslog, bo[i].b);
	}
}

static void
test_too_many_listen(void **state)
{
	struct fixture *f = *state;
	char text[LIM_LISTEN * 40 + 64];
	size_t n = 0;

	for (int i = 0; i < LIM_LISTEN; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Listen 127.0.0.%d:%d\n", i + 1, 2000 + i);
	load_ok(f, text);
	assert_int_equal(f->c.nlisten, LIM_LISTEN);
	assert_string_equal(f->c.listen[LIM_LISTEN - 1], "127.0.0.16:2015");
	snprintf(text + n, sizeof(text) - n, "Listen 127.0.0.99:2999\n");
	refuse(f, text, strlen(text), LIM_LISTEN + 1, "Listen");
	assert_int_equal(f->c.nlisten, LIM_LISTEN);

	/* -l: the first replaces the file's list, later ones append */
	assert_int_equal(config_add_listen(&f->c, "10.0.0.1:1", true), 0);
	assert_int_equal(f->c.nlisten, 1);
	assert_string_equal(f->c.listen[0], "10.0.0.1:1");
	assert_int_equal(config_add_listen(&f->c, "10.0.0.2:2", false), 0);
	assert_int_equal(f->c.nlisten, 2);
	assert_string_equal(f->c.listen[1], "10.0.0.2:2");
}

static void
test_set(void **state)
{
	struct fixture *f = *state;
	char why[16];

	memset(why, 'x', sizeof(why));
	assert_int_equal(config_set(&f->c, "NoSuchKeywordAtAll", "1", why, 8), ERR_CONFIG);
	assert_int_equal(strlen(why), 7);		/* truncated, terminated */
	assert_int_equal(why[8], 'x');
	char big[256];
	assert_int_equal(config_set(&f->c, "MaxAuthTries", "7x", big, sizeof(big)), ERR_CONFIG);
	assert_string_equal(big, "bad value '7x' for MaxAuthTries");
	assert_int_equal(f->c.max_auth_tries, 6);	/* unchanged */
	assert_int_equal(config_set(&f->c, "maxauthtries", "7", big, sizeof(big)), 0);
	assert_int_equal(f->c.max_auth_tries, 7);
	assert_int_equal(config_set(&f->c, "", "7", big, sizeof(big)), ERR_CONFIG);
	assert_int_equal(config_set(&f->c, "Listen ", "1.2.3.4:5", big, sizeof(big)), ERR_CONFIG);
}

static void
test_defaults(void **state)
{
	struct config c;

	setenv("OUTPOST_STATE", "/somewhere/else", 1);
	config_defaults(&c);
	assert_string_equal(c.state_dir, "/somewhere/else");
	assert_int_equal(c.nhost_keys, 0);
	assert_int_equal(c.nlisten, 0);
	assert_int_equal(c.keepalive_interval, 30);
	assert_int_equal(c.keepalive_count_max, 2);
	assert_int_equal(c.login_grace_time, 30);
	assert_int_equal(c.max_auth_tries, 6);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_false(c.syslog);
	config_free(&c);
	config_free(&c);		/* cleared: a second free is harmless */
	setenv("OUTPOST_STATE", "", 1);
	config_defaults(&c);
	assert_string_equal(c.state_dir, "/var/lib/outpost");
	config_free(&c);
	unsetenv("OUTPOST_STATE");
	config_defaults(&c);
	assert_string_equal(c.state_dir, "/var/lib/outpost");
	config_free(&c);
}

/* config_dump of c as a malloc'd string. */
static char *
dump(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	assert_non_null(m);
	config_dump(c, m);
	assert_int_equal(fclose(m), 0);
	return text;
}

/* Dumps c, loads the dump over different defaults, and compares every setting. */
static void
round_trip(struct fixture *f, const struct config *c)
{
	char why[512] = "";
	struct config d;
	char *t1 = dump(c);

	write_conf(f, t1, strlen(t1));
	setenv("OUTPOST_STATE", "/not/the/same", 1);
	config_defaults(&d);
	if (config_load(&d, f->path, why, sizeof(why)) != 0)
		fail_msg("dump did not load: %s\n%s", why, t1);
	assert_string_equal(d.state_dir, c->state_dir);
	for (int i = 0; i < c->nhost_keys; i++)
		assert_string_equal(d.host_keys[i], c->host_keys[i]);
	assert_int_equal(d.nlisten, c->nlisten);
	for (int i = 0; i < c->nlisten; i++)
		assert_string_equal(d.listen[i], c->listen[i]);
	assert_int_equal(d.keepalive_interval, c->keepalive_interval);
	assert_int_equal(d.keepalive_count_max, c->keepalive_count_max);
	assert_int_equal(d.login_grace_time, c->login_grace_time);
	assert_int_equal(d.max_auth_tries, c->max_auth_tries);
	assert_int_equal(d.log_level, c->log_level);
	assert_int_equal(d.syslog, c->syslog);
	assert_int_equal(d.audit_syslog, c->audit_syslog);
	assert_int_equal(d.audit_queue_max, c->audit_queue_max);
	char *t2 = dump(&d);
	assert_string_equal(t2, t1);
	free(t1);
	free(t2);
	config_free(&d);
}

static void
test_dump_round_trip(void **state)
{
	struct fixture *f = *state;
	char why[256];

	round_trip(f, &f->c);		/* defaults, no HostKey, no Listen */
	char *t = dump(&f->c);
	assert_non_null(strstr(t, "StateDir /srv/outpost-test\n"));
	assert_non_null(strstr(t, "HostKey /srv/outpost-test/ssh_host_ed25519_key\n"));
	assert_non_null(strstr(t, "LogLevel info\n"));
	assert_non_null(strstr(t, "Syslog no\n"));
	assert_null(strstr(t, "Listen"));
	free(t);

	static const char *const set[][2] = {
		{ "StateDir", "/var/lib/out post" }, { "HostKey", "/etc/outpost/host key" },
		{ "Listen", "127.0.0.1:2222" }, { "Listen", "[::1]:2222" }, { "Listen", "2223" },
		{ "KeepaliveInterval", "3600" }, { "KeepaliveCountMax", "100" },
		{ "LoginGraceTime", "1" }, { "MaxAuthTries", "17" }, { "Syslog", "yes" },
	};
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_int_equal(config_set(&f->c, set[i][0], set[i][1], why, sizeof(why)), 0);
	for (int l = LOG_LVL_ERROR; l <= LOG_LVL_DEBUG; l++) {
		f->c.log_level = l;
		round_trip(f, &f->c);
	}
	for (int i = f->c.nlisten; i < LIM_LISTEN; i++) {
		char a[32];
		snprintf(a, sizeof(a), "127.0.0.1:%d", 3000 + i);
		assert_int_equal(config_add_listen(&f->c, a, false), 0);
	}
	round_trip(f, &f->c);
}

/* HostKey: hostile paths and duplicates refused; several keys kept in order, each dumped by -T. */
static void
test_host_keys(void **state)
{
	struct fixture *f = *state;
	char why[256];

	REFUSE(f, "HostKey /etc/ssh/a\x01b\n", 1, "HostKey");
	REFUSE(f, "HostKey /etc/ssh/ssh_host_rsa_key\nHostKey /etc/ssh/ssh_host_rsa_key\n", 2, "HostKey");
	REFUSE(f, "HostKey /a\nHostKey /b\nHostKey /c\nHostKey /d\n", 4, "HostKey");
	REFUSE(f, "HostKey\n", 1, NULL);
	load_ok(f, "HostKey /etc/ssh/ssh_host_rsa_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n"
	    "hostkey /etc/ssh/ssh_host_ed25519_key\n");
	assert_int_equal(f->c.nhost_keys, 3);
	assert_string_equal(f->c.host_keys[0], "/etc/ssh/ssh_host_rsa_key");
	assert_string_equal(f->c.host_keys[2], "/etc/ssh/ssh_host_ed25519_key");
	char *t = dump(&f->c);
	assert_non_null(strstr(t, "HostKey /etc/ssh/ssh_host_rsa_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n"
	    "HostKey /etc/ssh/ssh_host_ed25519_key\n"));
	assert_null(strstr(t, "ssh_host_ed25519_key\nHostKey /srv"));	/* no default beside them */
	free(t);
	round_trip(f, &f->c);
	/* a refused fourth leaves the three */
	assert_int_equal(config_set(&f->c, "HostKey", "/x", why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(f->c.nhost_keys, 3);
}

/* MQTT keywords: hostile values refused (and nothing changed), valid ones round-trip through -T. */
static void
test_mqtt_keywords(void **state)
{
	struct fixture *f = *state;
	char why[256];
	static const char *const bad[][2] = {
		{ "MqttURL", "http://broker" }, { "MqttURL", "mqtt://" }, { "MqttURL", "mqtt://b:0" },
		{ "MqttURL", "mqtt://user@b" }, { "MqttURL", "mqtt://b/x" }, { "MqttURL", "broker:1883" },
		{ "MqttTopic", "outpost/+/+/tunnel" }, { "MqttTopic", "outpost/#" },
		{ "MqttTopic", "outpost/{name}/tunnel" }, { "MqttTopic", "atlas/tau/{name}" },
		{ "MqttTopic", "outpost/{fleet}/{fleet}/{name}" }, { "MqttTopic", "/outpost/{fleet}/{name}" },
		{ "MqttTopic", "$SYS/{fleet}/{name}" }, { "WakeTimeout", "0" }, { "WakeTimeout", "601" },
		{ "WakeTimeout", "20s" }, { "MqttClientID", "a b" }, { "MqttClientID", "caf\xc3\xa9" },
		{ "MqttCAFile", "/etc/ca\x01.pem" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_set(&f->c, bad[i][0], bad[i][1], why, sizeof(why)) != ERR_CONFIG)
			fail_msg("accepted %s %s", bad[i][0], bad[i][1]);
	assert_null(f->c.mqtt_url);
	assert_string_equal(f->c.mqtt_topic, "outpost/{fleet}/{name}/tunnel");
	assert_int_equal(f->c.wake_timeout, 20);
	assert_null(f->c.mqtt_client_id);
	static const char *const good[][2] = {
		{ "MqttURL", "mqtts://a1b2-ats.iot.eu-west-1.amazonaws.com" },
		{ "MqttCAFile", "/etc/outpost/ca.pem" }, { "MqttCertFile", "/etc/outpost/d.crt" },
		{ "MqttKeyFile", "/etc/outpost/d.key" }, { "MqttTopic", "atlas/{fleet}/{name}/tunnel" },
		{ "MqttClientID", "outpostd" }, { "wakeTimeout", "600" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(config_set(&f->c, good[i][0], good[i][1], why, sizeof(why)), 0);
	char *t = dump(&f->c);
	assert_non_null(strstr(t, "MqttURL mqtts://a1b2-ats.iot.eu-west-1.amazonaws.com\n"));
	assert_non_null(strstr(t, "MqttTopic atlas/{fleet}/{name}/tunnel\n"));
	assert_non_null(strstr(t, "WakeTimeout 600\n"));
	free(t);
	round_trip(f, &f->c);
	assert_int_equal(config_set(&f->c, "MqttURL", "none", why, sizeof(why)), 0);
	assert_null(f->c.mqtt_url);
	round_trip(f, &f->c);
}

/* MetricsListen: off by default; an address with a port, or none; hostile values refused. */
static void
test_metrics_listen(void **state)
{
	struct fixture *f = *state;
	char why[256];
	static const char *const bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "::1:9100", "[::1]9100", "127.0.0.1:9x", "host\x01:9100",
		"127.0.0.1:9100 extra" };

	assert_null(f->c.metrics_listen);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_set(&f->c, "MetricsListen", bad[i], why, sizeof(why)) != ERR_CONFIG)
			fail_msg("accepted MetricsListen '%s'", bad[i]);
	assert_null(f->c.metrics_listen);
	assert_int_equal(config_set(&f->c, "MetricsListen", "[::1]:9100", why, sizeof(why)), 0);
	assert_int_equal(config_set(&f->c, "metricslisten", "127.0.0.1:9100", why, sizeof(why)), 0);
	char *t = dump(&f->c);
	assert_non_null(strstr(t, "MetricsListen 127.0.0.1:9100\n"));
	free(t);
	round_trip(f, &f->c);
	assert_int_equal(config_set(&f->c, "MetricsListen", "none", why, sizeof(why)), 0);
	assert_null(f->c.metrics_listen);
}

/* NodeName, PeerAddress, NodeKey: hostile values first, then defaults and -T. */
static void
test_node_keywords(void **state)
{
	struct fixture *f = *state;
	char why[256], big[LIM_HOSTPORT + 16];
	static const char *const bad_names[] = { "", "a.b", "white space", "-lead", "tail-", "x;y",
		"\xc3\xa9t\xc3\xa9", "a\x01b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };
	static const char *const bad_peers[] = { "", "host", "host:", ":2222", "host:0", "host:65536",
		"host:22 extra", "ho\x01st:22", "[::1]22" };

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		if (config_set(&f->c, "NodeName", bad_names[i], why, sizeof(why)) != ERR_CONFIG)
			fail_msg("accepted NodeName '%s'", bad_names[i]);
	assert_null(f->c.node_name);
	for (size_t i = 0; i < sizeof(bad_peers) / sizeof(bad_peers[0]); i++)
		if (config_set(&f->c, "PeerAddress", bad_peers[i], why, sizeof(why)) != ERR_CONFIG)
			fail_msg("accepted PeerAddress '%s'", bad_peers[i]);
	memset(big, 'h', sizeof(big));
	memcpy(big + sizeof(big) - 6, ":2222", 6);	/* a host name past LIM_HOSTPORT */
	assert_int_equal(config_set(&f->c, "PeerAddress", big, why, sizeof(why)), ERR_CONFIG);
	assert_null(f->c.peer_address);
	assert_int_equal(config_set(&f->c, "NodeKey", "/a\nb", why, sizeof(why)), ERR_CONFIG);
	assert_null(f->c.node_key);

	/* upper case is a label too; none means peers cannot reach it */
	assert_int_equal(config_set(&f->c, "NodeName", "Node-B", why, sizeof(why)), 0);
	assert_string_equal(f->c.node_name, "node-b");
	assert_int_equal(config_set(&f->c, "PeerAddress", "none", why, sizeof(why)), 0);
	assert_string_equal(f->c.peer_address, "");
	assert_int_equal(config_set(&f->c, "PeerAddress", "[fd00::2]:2222", why, sizeof(why)), 0);
	assert_int_equal(config_set(&f->c, "NodeKey", "/etc/outpost/node_key", why, sizeof(why)), 0);
	assert_int_equal(config_node_defaults(&f->c, why, sizeof(why)), 0);
	char *t = dump(&f->c);
	assert_non_null(strstr(t, "NodeName node-b\nPeerAddress [fd00::2]:2222\nNodeKey /etc/outpost/node_key\n"));
	free(t);

	/* defaults: the host name as a label, the first Listen, the state dir's node_key */
	struct config d;
	config_defaults(&d);
	assert_int_equal(config_add_listen(&d, "10.1.2.3:2200", false), 0);
	assert_int_equal(config_node_defaults(&d, why, sizeof(why)), 0);
	assert_non_null(d.node_name);
	assert_int_equal(config_set(&d, "NodeName", d.node_name, why, sizeof(why)), 0);	/* a label */
	assert_string_equal(d.peer_address, "10.1.2.3:2200");
	assert_string_equal(d.node_key, "/srv/outpost-test/node_key");
	config_free(&d);
	config_defaults(&d);
	assert_int_equal(config_add_listen(&d, "0.0.0.0:2222", false), 0);
	assert_int_equal(config_node_defaults(&d, why, sizeof(why)), 0);
	assert_null(strstr(d.peer_address, "0.0.0.0"));		/* the host name, not the wildcard */
	assert_non_null(strstr(d.peer_address, ":2222"));
	config_free(&d);
}

/* config_dump into a malloc'd string (caller frees). */
static char *
dump_str(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	config_dump(c, m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* Store: hostile values first; a refused line names itself and never shows a password. */
static void
test_store_hostile(void **state)
{
	struct fixture *f = *state;
	char text[LIM_CONFIG_LINE + 64];

	REFUSE(f, "Store\n", 1, "expected 'Keyword value'");
	REFUSE(f, "Store   \n", 1, "expected");
	REFUSE(f, "Store sqlite:\n", 1, "bad value for Store: sqlite: needs a path");
	REFUSE(f, "Store mysql://ann@db/outpost\n", 1,
	    "bad value for Store: unknown store \"mysql://ann@db/outpost\": use sqlite, sqlite:PATH "
	    "or a postgresql:// URI");
	REFUSE(f, "Store SQLite\n", 1, "unknown store");
	REFUSE(f, "Store sqlite3\n", 1, "unknown store");
	REFUSE(f, "Store /var/lib/outpost/outpost.db\n", 1, "unknown store");
	REFUSE(f, "Store postgresql:/db\n", 1, "unknown store");
	REFUSE(f, "Store file:///x.db\n", 1, "unknown store");
	REFUSE(f, "LogLevel info\nStore postgresql://db/outpost?application_name=a b\n", 2,
	    "a URI holds no spaces");
	REFUSE(f, "Store sqlite:/tmp/a\x01" "b\n", 1, "control character");
	REFUSE(f, "Store postgresql://db/outpost\x1b[2J\n", 1, "control character");
	REFUSE(f, "Store sqlite:/tmp/a\x7f\n", 1, "control character");
	REFUSE(f, "Store sqlite:/tmp/a\0b\n", 1, "NUL");
	/* a password in an unknown scheme is masked in the error too */
	REFUSE(f, "Store mysql://ann:s3cret@db/x\n", 1, "mysql://ann:***@db/x");
	char why[512] = "";
	config_free(&f->c);
	config_defaults(&f->c);
	write_conf(f, "Store mysql://ann:s3cret@db/x?password=hunter2\n", 47);
	assert_int_equal(config_load(&f->c, f->path, why, sizeof(why)), ERR_CONFIG);
	assert_null(strstr(why, "s3cret"));
	assert_null(strstr(why, "hunter2"));
	/* over-long: a line longer than the config line limit, and a value over LIM_STORE_SPEC */
	memset(text, 'a', sizeof(text));
	memcpy(text, "Store sqlite:/", 14);
	text[LIM_CONFIG_LINE + 10] = '\n';
	refuse(f, text, LIM_CONFIG_LINE + 11, 1, "line too long");
	char big[LIM_STORE_SPEC + 2];
	memset(big, 'a', sizeof(big));
	memcpy(big, "sqlite:/", 8);
	big[LIM_STORE_SPEC + 1] = '\0';
	assert_int_equal(config_set(&f->c, "Store", big, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "longer than 1024 bytes"));
	big[LIM_STORE_SPEC] = '\0';
	assert_int_equal(config_set(&f->c, "Store", big, why, sizeof(why)), 0);
	/* a refused value leaves the one before */
	assert_int_equal(config_set(&f->c, "Store", "sqlite:/srv/a.db", why, sizeof(why)), 0);
	assert_int_equal(config_set(&f->c, "Store", "redis://x", why, sizeof(why)), ERR_CONFIG);
	assert_string_equal(f->c.store, "sqlite:/srv/a.db");
}

/* The forms Store takes, and -T's view of them: a password is always masked. */
static void
test_store_forms(void **state)
{
	struct fixture *f = *state;
	char *d;

	d = dump_str(&f->c);
	assert_null(f->c.store);
	assert_non_null(strstr(d, "\nStore sqlite\n"));
	free(d);
	load_ok(f, "Store sqlite\n");
	assert_string_equal(f->c.store, "sqlite");
	load_ok(f, "store sqlite:/srv/other.db\n");
	assert_string_equal(f->c.store, "sqlite:/srv/other.db");
	load_ok(f, "Store postgres://db/outpost\n");
	load_ok(f, "Store postgresql://\n");
	load_ok(f, "Store = postgresql://outpost@db.example:5433/outpost?sslmode=verify-full\n");
	assert_string_equal(f->c.store, "postgresql://outpost@db.example:5433/outpost?sslmode=verify-full");
	d = dump_str(&f->c);
	assert_non_null(strstr(d, "\nStore postgresql://outpost@db.example:5433/outpost?sslmode=verify-full\n"));
	free(d);

	load_ok(f, "Store postgresql://ann:s3cret@db/outpost\n");
	assert_true(store_spec_has_password(f->c.store));
	d = dump_str(&f->c);
	assert_non_null(strstr(d, "\nStore postgresql://ann:***@db/outpost\n"));
	assert_null(strstr(d, "s3cret"));
	free(d);
	load_ok(f, "Store postgresql://ann@db/outpost?sslmode=require&password=s3cret&connect_timeout=5\n");
	d = dump_str(&f->c);
	assert_non_null(strstr(d, "\nStore postgresql://ann@db/outpost?sslmode=require&password=***&connect_timeout=5\n"));
	assert_null(strstr(d, "s3cret"));
	free(d);
	assert_false(store_spec_has_password("postgresql://ann@db/outpost"));
	assert_false(store_spec_has_password("sqlite:/srv/a:b@c.db"));
	assert_false(store_spec_has_password(NULL));
}

/* The sentences outpostd and the CLI print about a store. */
static void
test_store_sentences(void **state)
{
	struct fixture *f = *state;
	char out[256], tiny[8];

	store_spec_describe(NULL, "/var/lib/outpost", out, sizeof(out));
	assert_string_equal(out, "sqlite /var/lib/outpost/outpost.db");
	store_spec_describe("sqlite", "/var/lib/outpost", out, sizeof(out));
	assert_string_equal(out, "sqlite /var/lib/outpost/outpost.db");
	store_spec_describe("sqlite:/nonexistent/o.db", "/x", out, sizeof(out));
	assert_string_equal(out, "sqlite /nonexistent/o.db");
	char dir[600];
	snprintf(dir, sizeof(dir), "sqlite:%s", f->dir);
	store_spec_describe(dir, "/x", out, sizeof(out));
	assert_true(strncmp(out, "sqlite ", 7) == 0 && strstr(out, "/outpost.db") != NULL);
	store_spec_describe("postgresql://ann:pw@db/outpost", "/x", out, sizeof(out));
	assert_string_equal(out, "postgresql://ann:***@db/outpost");
	store_spec_describe("postgresql://ann:pw@db/outpost", "/x", tiny, sizeof(tiny));
	assert_string_equal(tiny, "postgre");	/* truncated, terminated, no password */

	store_spec_failure("postgresql://ann:pw@db/outpost", "/x",
	    "postgresql://ann:***@db/outpost: connection refused", out, sizeof(out));
	assert_string_equal(out, "cannot open the store postgresql://ann:***@db/outpost: connection refused");
	store_spec_failure(NULL, "/ro", "state directory /ro is read-only", out, sizeof(out));
	assert_string_equal(out, "cannot open the store sqlite /ro/outpost.db: state directory /ro is read-only");
	store_spec_failure("sqlite:/n/o.db", "/x", "", out, sizeof(out));
	assert_string_equal(out, "cannot open the store sqlite /n/o.db: unknown error");
	/* nothing listens on port 1: unreachable, in one sentence with the password masked */
	struct store *st = (struct store *)&st;
	assert_int_equal(store_open_spec("postgresql://ann:pw@127.0.0.1:1/x", "/x", &st, out, sizeof(out)),
	    ERR_UNREACHABLE);
	assert_null(st);
	assert_null(strstr(out, ":pw@"));
}

/* conffile_read, the one reader outpostd and the CLI share: the callback's refusal names the line. */
struct seen {
	int n;
	char last[64];
};

static int
record(void *arg, const char *key, const char *value, char *why, size_t whylen)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s=%s", key, value);
	if (strcmp(key, "Stop") == 0) {
		snprintf(why, whylen, "stopped here");
		return ERR_CONFIG;
	}
	return strcmp(key, "Quiet") == 0 ? ERR_CONFIG : 0;
}

static void
test_conffile(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	char why[512] = "", want[600];
	const char *text = "# c\n\n  A  1 \nB=two words\t\nStop x\nC 3\n";

	write_conf(f, text, strlen(text));
	assert_int_equal(conffile_read(f->path, record, &s, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.last, "Stop=x");
	snprintf(want, sizeof(want), "%s:5: stopped here", f->path);
	assert_string_equal(why, want);
	s.n = 0;
	write_conf(f, "Quiet 1\n", strlen("Quiet 1\n"));
	assert_int_equal(conffile_read(f->path, record, &s, why, sizeof(why)), ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:1: bad line", f->path);
	assert_string_equal(why, want);
	s.n = 0;
	write_conf(f, "A 1\nB two words\n", strlen("A 1\nB two words\n"));
	assert_int_equal(conffile_read(f->path, record, &s, why, sizeof(why)), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.last, "B=two words");
	assert_int_equal(conffile_read("/nonexistent/outpostd.conf", record, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "/nonexistent/outpostd.conf: cannot open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_sentences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conffile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mqtt_keywords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_keywords, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
