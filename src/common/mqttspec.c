/* mqttspec.c: parsing broker URLs, topic templates and on-demand payloads. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/mqttspec.h"
#include "common/names.h"

/* Decimal 1-65535, no sign or leading zero; -1 otherwise. */
static int
parse_port(const char *s, size_t len)
{
	int v = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

static bool
host_ok(const char *h, size_t len, bool v6)
{
	const char *set = v6 ? "0123456789abcdefABCDEF:." :
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

	if (len == 0 || len > MQTT_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (h[i] == '\0' || strchr(set, h[i]) == NULL)
			return false;
	if (v6) {
		/* Brackets hold an IPv6 address and nothing else ("[.1]" is not one). */
		char buf[INET6_ADDRSTRLEN];
		struct in6_addr a;
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, h, len);
		buf[len] = '\0';
		return inet_pton(AF_INET6, buf, &a) == 1;
	}
	return h[0] != '-' && h[0] != '.';
}

int
mqttspec_url_parse(const char *s, struct mqtt_url *out)
{
	const char *p, *hend, *port = NULL;
	size_t len, plen = 0;
	bool v6 = false;

	memset(out, 0, sizeof(*out));
	if (s == NULL || (len = strnlen(s, MQTT_HOST_MAX + 32)) > MQTT_HOST_MAX + 30)
		return ERR_INVAL;
	if (strncmp(s, "mqtt://", 7) == 0)
		p = s + 7;
	else if (strncmp(s, "mqtts://", 8) == 0) {
		p = s + 8;
		out->tls = true;
	} else
		return ERR_INVAL;
	const char *end = s + len;
	if (end > p && end[-1] == '/')
		end--;
	if (*p == '[') {
		v6 = true;
		hend = memchr(p, ']', (size_t)(end - p));
		if (hend == NULL)
			goto bad;
		p++;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				goto bad;
			port = hend + 2;
		}
	} else {
		hend = memchr(p, ':', (size_t)(end - p));
		if (hend != NULL)
			port = hend + 1;
		else
			hend = end;
	}
	if (!host_ok(p, (size_t)(hend - p), v6))
		goto bad;
	if (port != NULL) {
		plen = (size_t)(end - port);
		if ((out->port = parse_port(port, plen)) < 0)
			goto bad;
	} else
		out->port = out->tls ? MQTT_PORT_TLS : MQTT_PORT_PLAIN;
	memcpy(out->host, p, (size_t)(hend - p));
	out->host[hend - p] = '\0';
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return ERR_INVAL;
}

void
mqttspec_url_format(const struct mqtt_url *u, char *dst, size_t dstlen)
{
	bool v6 = strchr(u->host, ':') != NULL;

	snprintf(dst, dstlen, "%s://%s%s%s:%d", u->tls ? "mqtts" : "mqtt", v6 ? "[" : "",
	    u->host, v6 ? "]" : "", u->port);
}

/* One level of a template: literal, {fleet} or {name}. */
enum level { LVL_LITERAL, LVL_FLEET, LVL_NAME };

static enum level
level_kind(const char *p, size_t n)
{
	if (n == 7 && memcmp(p, "{fleet}", 7) == 0)
		return LVL_FLEET;
	if (n == 6 && memcmp(p, "{name}", 6) == 0)
		return LVL_NAME;
	return LVL_LITERAL;
}

int
mqttspec_template_check(const char *tmpl, bool need_both)
{
	size_t len;
	int nfleet = 0, nname = 0;

	if (tmpl == NULL)
		return ERR_INVAL;
	len = strnlen(tmpl, MQTT_TOPIC_MAX);
	if (len == 0 || len > MQTT_TOPIC_MAX - 14 || tmpl[0] == '/' || tmpl[0] == '$' ||
	    tmpl[len - 1] == '/')
		return ERR_INVAL;
	for (const char *p = tmpl; *p != '\0';) {
		size_t n = strcspn(p, "/");
		if (n == 0)
			return ERR_INVAL;	/* empty level: "a//b" */
		enum level k = level_kind(p, n);
		for (size_t i = 0; k == LVL_LITERAL && i < n; i++)
			if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
			    strchr("+#{}", p[i]) != NULL)
				return ERR_INVAL;
		nfleet += k == LVL_FLEET;
		nname += k == LVL_NAME;
		p += n;
		if (*p == '/')
			p++;
	}
	if (nfleet > 1 || nname > 1 || (need_both && (nfleet != 1 || nname != 1)))
		return ERR_INVAL;
	return 0;
}

int
mqttspec_topic(const char *tmpl, const char *fleet, const char *name, const char *leaf,
    char *dst, size_t dstlen)
{
	size_t at = 0;

	if (dstlen == 0)
		return ERR_TOOLONG;
	dst[0] = '\0';
	for (const char *p = tmpl; *p != '\0';) {
		size_t n = strcspn(p, "/");
		enum level k = level_kind(p, n);
		const char *v = k == LVL_FLEET ? fleet : k == LVL_NAME ? name : p;
		size_t vn = k == LVL_LITERAL ? n : strlen(v);
		if (at + vn + 2 > dstlen)
			return ERR_TOOLONG;
		memcpy(dst + at, v, vn);
		at += vn;
		p += n;
		if (*p == '/') {
			dst[at++] = '/';
			p++;
		}
	}
	if (leaf[0] != '\0') {
		size_t ln = strlen(leaf);
		if (at + ln + 2 > dstlen)
			return ERR_TOOLONG;
		dst[at++] = '/';
		memcpy(dst + at, leaf, ln);
		at += ln;
	}
	dst[at] = '\0';
	return 0;
}

/* Copies a placeholder's value after checking it is a lower-case label. */
static int
take_label(const char *v, size_t n, char *dst)
{
	if (!names_label_valid(v, n))
		return ERR_INVAL;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int
mqttspec_topic_match(const char *tmpl, const char *leaf, const char *topic, size_t len,
    char *fleet, char *name)
{
	const char *t = topic, *tend = topic + len;

	fleet[0] = name[0] = '\0';
	if (len == 0 || len > MQTT_TOPIC_MAX || memchr(topic, '\0', len) != NULL)
		return ERR_INVAL;
	for (const char *p = tmpl; *p != '\0';) {
		size_t n = strcspn(p, "/");
		const char *slash = memchr(t, '/', (size_t)(tend - t));
		if (slash == NULL)
			goto bad;	/* the leaf level must follow */
		size_t tn = (size_t)(slash - t);
		enum level k = level_kind(p, n);
		if (k == LVL_LITERAL && (tn != n || memcmp(t, p, n) != 0))
			goto bad;
		if (k == LVL_FLEET && take_label(t, tn, fleet) != 0)
			goto bad;
		if (k == LVL_NAME && take_label(t, tn, name) != 0)
			goto bad;
		t = slash + 1;
		p += n;
		if (*p == '/')
			p++;
	}
	if ((size_t)(tend - t) != strlen(leaf) || memcmp(t, leaf, strlen(leaf)) != 0)
		goto bad;
	return 0;
bad:
	fleet[0] = name[0] = '\0';
	return ERR_INVAL;
}

/* The word of a payload: up to '|', after dropping one trailing newline; 0 if malformed. */
static size_t
payload_word(const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len == 0 || len > MQTT_PAYLOAD_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f)
			return 0;	/* NULs, newlines, escapes */
	const char *bar = memchr(p, '|', len);
	return bar != NULL ? (size_t)(bar - p) : len;
}

static bool
word_is(const char *p, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(p, w, n) == 0;
}

static const char *const state_names[] = {
	[MQTT_STATE_NONE] = "",
	[MQTT_STATE_STANDBY] = "standby",
	[MQTT_STATE_CONNECTED] = "connected",
	[MQTT_STATE_DISCONNECTED] = "disconnected",
	[MQTT_STATE_OFFLINE] = "offline",
};

enum mqtt_state
mqttspec_state_parse(const void *payload, size_t len)
{
	const char *p = payload;
	size_t n = p != NULL ? payload_word(p, len) : 0;

	for (int s = MQTT_STATE_STANDBY; n > 0 && s <= MQTT_STATE_OFFLINE; s++)
		if (word_is(p, n, state_names[s]))
			return (enum mqtt_state)s;
	return MQTT_STATE_NONE;
}

enum mqtt_command
mqttspec_command_parse(const void *payload, size_t len)
{
	const char *p = payload;
	size_t n = p != NULL ? payload_word(p, len) : 0;

	if (n > 0 && word_is(p, n, "connect"))
		return MQTT_CMD_CONNECT;
	if (n > 0 && word_is(p, n, "disconnect"))
		return MQTT_CMD_DISCONNECT;
	return MQTT_CMD_NONE;
}

const char *
mqttspec_state_name(enum mqtt_state s)
{
	return (unsigned)s <= MQTT_STATE_OFFLINE ? state_names[s] : "";
}

enum mqtt_state
mqttspec_state_from_name(const char *name)
{
	return name != NULL ? mqttspec_state_parse(name, strlen(name)) : MQTT_STATE_NONE;
}
