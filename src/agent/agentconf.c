/* agentconf.c: reading and atomically writing agent.conf. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agentconf.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/names.h"
#include "common/timefmt.h"

static int has_control(const char *s);

struct keyword {
	const char *name;
	unsigned bit;		/* 0: may repeat */
	int (*set)(struct agent_conf *c, const char *v);
};

static int
set_server(struct agent_conf *c, const char *v)
{
	struct hostport hp;

	if (hostport_parse(v, &hp) != 0 || agentconf_add_server(c, &hp) != 0)
		return ERR_INVAL;
	c->seen |= CONF_SERVER;
	return 0;
}

static int
set_hostkey(struct agent_conf *c, const char *v)
{
	uint8_t h[TOKEN_HOSTKEY_LEN];
	size_t n;

	if (strncmp(v, "SHA256:", 7) != 0 ||
	    b64_decode(B64_STD, v + 7, strlen(v + 7), h, sizeof(h), &n) != 0 ||
	    n != sizeof(h))
		return ERR_INVAL;
	if ((c->seen & CONF_HOSTKEY_HEX) && memcmp(h, c->hostkey, n) != 0)
		return ERR_INVAL;
	memcpy(c->hostkey, h, n);
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int
set_hostkey_hex(struct agent_conf *c, const char *v)
{
	uint8_t h[TOKEN_HOSTKEY_LEN];

	if (strlen(v) != 2 * sizeof(h))
		return ERR_INVAL;
	for (size_t i = 0; i < sizeof(h); i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return ERR_INVAL;
		h[i] = (uint8_t)(hi << 4 | lo);
	}
	if ((c->seen & CONF_HOSTKEY) && memcmp(h, c->hostkey, sizeof(h)) != 0)
		return ERR_INVAL;
	memcpy(c->hostkey, h, sizeof(h));
	return 0;
}

static int
set_label(char *dst, size_t dstlen, const char *v)
{
	if (!names_label_valid(v, strlen(v)))
		return ERR_INVAL;
	snprintf(dst, dstlen, "%s", v);
	return 0;
}

static int
set_name(struct agent_conf *c, const char *v)
{
	return set_label(c->name, sizeof(c->name), v);
}

static int
set_fleet(struct agent_conf *c, const char *v)
{
	return set_label(c->fleet, sizeof(c->fleet), v);
}

static int
set_service(struct agent_conf *c, const char *v)
{
	struct service sv;

	if (service_parse(v, &sv) != 0)
		return ERR_INVAL;
	return agentconf_add_service(c, &sv);
}

/* An absolute glob for the sshd's public host keys (sshd's HostKey files + ".pub"). */
static int
set_sshd_host_keys(struct agent_conf *c, const char *v)
{
	if (v[0] != '/' || strlen(v) >= sizeof(c->sshd_host_keys))
		return ERR_INVAL;
	snprintf(c->sshd_host_keys, sizeof(c->sshd_host_keys), "%s", v);
	return 0;
}

static int
set_on_demand(struct agent_conf *c, const char *v)
{
	if (strcmp(v, "yes") == 0)
		c->mqtt.on_demand = true;
	else if (strcmp(v, "no") == 0)
		c->mqtt.on_demand = false;
	else
		return ERR_INVAL;
	return 0;
}

static int
set_mqtt(struct agent_conf *c, const char *v)
{
	if (mqttspec_url_parse(v, &c->mqtt.url) != 0)
		return ERR_INVAL;
	c->mqtt.have_url = true;
	return 0;
}

static int
set_path(char *dst, const char *v)
{
	if (strlen(v) >= AGENTCONF_PATH_MAX)
		return ERR_INVAL;
	snprintf(dst, AGENTCONF_PATH_MAX, "%s", v);
	return 0;
}

static int set_cafile(struct agent_conf *c, const char *v) { return set_path(c->mqtt.cafile, v); }
static int set_cert(struct agent_conf *c, const char *v) { return set_path(c->mqtt.cert, v); }
static int set_key(struct agent_conf *c, const char *v) { return set_path(c->mqtt.key, v); }

static int
set_topic(struct agent_conf *c, const char *v)
{
	if (mqttspec_template_check(v, false) != 0)
		return ERR_INVAL;
	snprintf(c->mqtt.topic, sizeof(c->mqtt.topic), "%s", v);
	return 0;
}

static int
set_client_id(struct agent_conf *c, const char *v)
{
	if (!mqttspec_client_id_ok(v))
		return ERR_INVAL;
	snprintf(c->mqtt.client_id, sizeof(c->mqtt.client_id), "%s", v);
	return 0;
}

static int
set_idle(struct agent_conf *c, const char *v)
{
	int64_t s;

	if (timefmt_parse_duration(v, &s) != 0 || s > 7 * 86400)
		return ERR_INVAL;
	c->mqtt.idle_s = s;
	return 0;
}

static const struct keyword keywords[] = {
	{ "server", 0, set_server },	/* may repeat: sets CONF_SERVER itself */
	{ "hostkey", CONF_HOSTKEY, set_hostkey },
	{ "hostkey-sha256", CONF_HOSTKEY_HEX, set_hostkey_hex },
	{ "name", CONF_NAME, set_name },
	{ "fleet", CONF_FLEET, set_fleet },
	{ "service", 0, set_service },
	{ "sshd-host-keys", CONF_SSHD_HOST_KEYS, set_sshd_host_keys },
	{ "on-demand", CONF_ON_DEMAND, set_on_demand },
	{ "mqtt", CONF_MQTT, set_mqtt },
	{ "mqtt-cafile", CONF_MQTT_CAFILE, set_cafile },
	{ "mqtt-cert", CONF_MQTT_CERT, set_cert },
	{ "mqtt-key", CONF_MQTT_KEY, set_key },
	{ "mqtt-topic", CONF_MQTT_TOPIC, set_topic },
	{ "mqtt-client-id", CONF_MQTT_CLIENT_ID, set_client_id },
	{ "idle", CONF_IDLE, set_idle },
};

int
agentconf_set(struct agent_conf *c, const char *key, const char *value)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i].name, key) == 0) {
			if (value == NULL || value[0] == '\0' || has_control(value) ||
			    keywords[i].set(c, value) != 0)
				return ERR_INVAL;
			c->seen |= keywords[i].bit;
			return 0;
		}
	return ERR_INVAL;
}

int
agentconf_check_mqtt(const struct agent_conf *c, char *err, size_t errlen)
{
	const struct agent_mqtt *m = &c->mqtt;

	if (!m->on_demand)
		return 0;
	if (!m->have_url) {
		snprintf(err, errlen, "on-demand mode needs a broker: --mqtt URL or 'mqtt URL' in agent.conf");
		return ERR_CONFIG;
	}
	if (!m->url.tls && (m->cafile[0] || m->cert[0] || m->key[0])) {
		snprintf(err, errlen, "TLS files given for a plain mqtt:// broker: use mqtts://");
		return ERR_CONFIG;
	}
	if ((m->cert[0] == '\0') != (m->key[0] == '\0')) {
		snprintf(err, errlen, "a client certificate needs its key (--mqtt-cert with --mqtt-key)");
		return ERR_CONFIG;
	}
	return 0;
}

static int
fail(char *err, size_t errlen, size_t lineno, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %zu: %s", lineno, why);
	return ERR_CONFIG;
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 1;
	return 0;
}

/* A server line, with a reason for each refusal. */
static int
parse_server(struct agent_conf *c, const char *v, size_t lineno, char *err, size_t errlen)
{
	struct hostport hp;
	int r;

	if (hostport_parse(v, &hp) != 0)
		return fail(err, errlen, lineno, "bad value for server (expected HOST:PORT or [IPv6]:PORT)");
	r = agentconf_add_server(c, &hp);
	if (r == ERR_EXISTS)
		return fail(err, errlen, lineno, "server listed twice");
	if (r != 0)
		return fail(err, errlen, lineno, "too many servers (at most %d)", LIM_AGENT_SERVERS);
	c->seen |= CONF_SERVER;
	return 0;
}

/* Handles one line without its newline; 0 or ERR_CONFIG. */
static int
parse_line(struct agent_conf *c, char *line, size_t lineno, char *err, size_t errlen)
{
	char *p = line + strspn(line, " \t"), *v;
	size_t klen, vlen;

	if (*p == '\0' || *p == '#')
		return 0;
	if (has_control(p))
		return fail(err, errlen, lineno, "control character");
	klen = strcspn(p, " \t");
	v = p + klen + strspn(p + klen, " \t");
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		v[--vlen] = '\0';
	p[klen] = '\0';
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		const struct keyword *k = &keywords[i];
		if (strcmp(k->name, p) != 0)
			continue;
		if (k->bit != 0 && (c->seen & k->bit))
			return fail(err, errlen, lineno, "%s given twice", k->name);
		if (vlen > 0 && k->set == set_server)
			return parse_server(c, v, lineno, err, errlen);
		if (vlen == 0 || k->set(c, v) != 0)
			return fail(err, errlen, lineno, "bad value for %s", k->name);
		c->seen |= k->bit;
		return 0;
	}
	return fail(err, errlen, lineno, "unknown keyword");
}

int
agentconf_parse(FILE *f, struct agent_conf *out, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > LIM_CONFIG_LINE)
			r = fail(err, errlen, lineno, "line too long");
		else if (strlen(line) != (size_t)n)
			r = fail(err, errlen, lineno, "NUL byte");
		else
			r = parse_line(out, line, lineno, err, errlen);
	}
	free(line);
	if (r == 0 && ferror(f))
		r = fail(err, errlen, lineno, "read error");
	return r;
}

int
agentconf_read(const char *path, struct agent_conf *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int r;

	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	}
	r = agentconf_parse(f, out, err, errlen);
	fclose(f);
	return r;
}

int
agentconf_check(const struct agent_conf *c, char *err, size_t errlen)
{
	const char *missing = NULL;

	if (!(c->seen & CONF_SERVER))
		missing = "server";
	else if (!(c->seen & (CONF_HOSTKEY | CONF_HOSTKEY_HEX)))
		missing = "hostkey";
	else if (!(c->seen & CONF_NAME))
		missing = "name";
	else if (!(c->seen & CONF_FLEET))
		missing = "fleet";
	if (missing == NULL)
		return 0;
	snprintf(err, errlen, "no %s (enroll first: outpost-agent enroll TOKEN)", missing);
	return ERR_CONFIG;
}

void
agentconf_fingerprint(const uint8_t hash[TOKEN_HOSTKEY_LEN], char *dst, size_t dstlen)
{
	char b[48];

	b64_encode(B64_STD, hash, TOKEN_HOSTKEY_LEN, b, sizeof(b));
	snprintf(dst, dstlen, "SHA256:%s", b);
}

/* The on-demand keywords that were given, so that enrolling again keeps them. */
static void
emit_mqtt(FILE *f, const struct agent_conf *c)
{
	const struct agent_mqtt *m = &c->mqtt;
	char url[MQTT_HOST_MAX + 24];

	if (c->seen & CONF_ON_DEMAND)
		fprintf(f, "on-demand %s\n", m->on_demand ? "yes" : "no");
	if (m->have_url) {
		mqttspec_url_format(&m->url, url, sizeof(url));
		fprintf(f, "mqtt %s\n", url);
	}
	if (m->cafile[0])
		fprintf(f, "mqtt-cafile %s\n", m->cafile);
	if (m->cert[0])
		fprintf(f, "mqtt-cert %s\n", m->cert);
	if (m->key[0])
		fprintf(f, "mqtt-key %s\n", m->key);
	if (m->topic[0])
		fprintf(f, "mqtt-topic %s\n", m->topic);
	if (m->client_id[0])
		fprintf(f, "mqtt-client-id %s\n", m->client_id);
	if (m->idle_s > 0)
		fprintf(f, "idle %llds\n", (long long)m->idle_s);
}

int
agentconf_emit(FILE *f, const struct agent_conf *c)
{
	char hp[HOSTPORT_STR_MAX], fp[AGENTCONF_FP_MAX], sv[SERVICE_STR_MAX];

	fprintf(f, "# outpost-agent(8) state, written by `outpost-agent enroll`.\n");
	for (size_t i = 0; i < c->nservers; i++) {
		hostport_format(&c->servers[i], hp, sizeof(hp));
		fprintf(f, "server %s\n", hp);
	}
	agentconf_fingerprint(c->hostkey, fp, sizeof(fp));
	fprintf(f, "hostkey %s\nhostkey-sha256 ", fp);
	for (size_t i = 0; i < TOKEN_HOSTKEY_LEN; i++)
		fprintf(f, "%02x", c->hostkey[i]);
	fprintf(f, "\nname %s\nfleet %s\n", c->name, c->fleet);
	for (size_t i = 0; i < c->nservices; i++) {
		service_format(&c->services[i], sv, sizeof(sv));
		fprintf(f, "service %s\n", sv);
	}
	if (c->sshd_host_keys[0] != '\0')
		fprintf(f, "sshd-host-keys %s\n", c->sshd_host_keys);
	emit_mqtt(f, c);
	return ferror(f) ? ERR_IO : 0;
}

/* Makes path's directory entry durable after a rename. */
static void
sync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
agentconf_write(const char *path, const struct agent_conf *c)
{
	char tmp[4200];
	FILE *f;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return ERR_TOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ERR_IO;
	fchmod(fd, 0644);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return ERR_IO;
	}
	r = agentconf_emit(f, c);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		r = ERR_IO;
	if (fclose(f) != 0)
		r = ERR_IO;
	if (r == 0 && rename(tmp, path) != 0)
		r = ERR_IO;
	if (r != 0)
		unlink(tmp);
	else
		sync_dir(path);
	return r;
}

int
agentconf_add_server(struct agent_conf *c, const struct hostport *hp)
{
	for (size_t i = 0; i < c->nservers; i++)
		if (c->servers[i].port == hp->port && strcasecmp(c->servers[i].host, hp->host) == 0)
			return ERR_EXISTS;
	if (c->nservers >= LIM_AGENT_SERVERS)
		return ERR_TOOLONG;
	c->servers[c->nservers++] = *hp;
	return 0;
}

int
agentconf_add_service(struct agent_conf *c, const struct service *sv)
{
	for (size_t i = 0; i < c->nservices; i++)
		if (c->services[i].port == sv->port) {
			c->services[i] = *sv;
			return 0;
		}
	if (c->nservices >= LIM_SERVICES)
		return ERR_TOOLONG;
	c->services[c->nservices++] = *sv;
	return 0;
}
