/* lgopts.c: outpost-loadgen's command line, device names, source addresses and rate limit. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgopts.h"

/* Parses a whole decimal integer in [min, max]; 0 or -1. */
static int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* A lower-case DNS label: [a-z0-9-], 1..max, no leading or trailing '-'. */
static bool
label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int
lg_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	size_t n;

	if (s == NULL || hostlen == 0)
		return -1;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		colon = end + 1;
		s++;
		n = (size_t)(end - s);
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen || memchr(s, '\0', n) != NULL)
		return -1;
	if (parse_int(colon + 1, 1, 65535, port) != 0)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int
lg_device_name(const char *prefix, unsigned i, char *dst, size_t len)
{
	if (prefix == NULL || !label_ok(prefix, LG_PREFIX_MAX) || i >= LG_DEVICES_MAX)
		return -1;
	int n = snprintf(dst, len, "%s-%05u", prefix, i);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int
lg_source_addr(unsigned i, char *dst, size_t len)
{
	if (i >= LG_DEVICES_MAX)
		return -1;
	int n = snprintf(dst, len, "127.2.%u.%u", i >> 8, i & 0xff);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

void
lg_rate_init(struct lg_rate *r, int rate, int64_t now_ms)
{
	r->rate = rate > 0 ? rate : 1;
	r->tokens = 1;
	r->last_ms = now_ms;
}

bool
lg_rate_take(struct lg_rate *r, int64_t now_ms)
{
	double burst = r->rate / 10.0 + 1;

	if (now_ms > r->last_ms) {
		r->tokens += (double)(now_ms - r->last_ms) * r->rate / 1000.0;
		if (r->tokens > burst)
			r->tokens = burst;
		r->last_ms = now_ms;
	}
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

static void
defaults(struct lg_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->host, sizeof(o->host), "127.0.0.1");
	o->port = 2222;
	o->ndevices = 100;
	snprintf(o->fleet, sizeof(o->fleet), "bench");
	snprintf(o->prefix, sizeof(o->prefix), "lg");
	o->user = "dev";
	o->hostkey_algs = "ssh-ed25519";
	o->rate = 500;
	o->service_port = 22;
	o->mode = LG_ECHO;
	o->spread = true;
}

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

/* One option that takes a value; 0 or -1 with why. */
static int
set_value(struct lg_opts *o, char opt, const char *v, char *why, size_t whylen)
{
	switch (opt) {
	case 's':
		if (lg_parse_hostport(v, o->host, sizeof(o->host), &o->port) != 0)
			WHY("-s: expected HOST:PORT, got '%.64s'", v);
		return 0;
	case 'n':
		if (parse_int(v, 1, LG_DEVICES_MAX, &o->ndevices) != 0)
			WHY("-n: expected 1-%d devices", LG_DEVICES_MAX);
		return 0;
	case 'f':
		if (!label_ok(v, 63))
			WHY("-f: a fleet is a lower-case DNS label");
		snprintf(o->fleet, sizeof(o->fleet), "%s", v);
		return 0;
	case 'p':
		if (!label_ok(v, LG_PREFIX_MAX))
			WHY("-p: a prefix is a lower-case DNS label of at most %d characters", LG_PREFIX_MAX);
		snprintf(o->prefix, sizeof(o->prefix), "%s", v);
		return 0;
	case 'r':
		if (parse_int(v, 1, LG_RATE_MAX, &o->rate) != 0)
			WHY("-r: expected 1-%d connections per second", LG_RATE_MAX);
		return 0;
	case 'P':
		if (parse_int(v, 1, 65535, &o->service_port) != 0)
			WHY("-P: expected a port 1-65535");
		return 0;
	case 't':
		if (parse_int(v, 0, 86400 * 7, &o->seconds) != 0)
			WHY("-t: expected seconds, 0-604800");
		return 0;
	case 'm':
		if (strcmp(v, "echo") == 0)
			o->mode = LG_ECHO;
		else if (strcmp(v, "discard") == 0)
			o->mode = LG_DISCARD;
		else
			WHY("-m: expected echo or discard");
		return 0;
	case 'k': o->keys = v; return 0;
	case 'd': o->state_dir = v; return 0;
	case 'D': o->store = v; return 0;
	case 'o': o->status = v; return 0;
	case 'H': o->hostkey = v; return 0;
	case 'u':
		if (*v == '\0' || strlen(v) > 64)
			WHY("-u: expected a user name");
		o->user = v;
		return 0;
	case 'a':
		if (*v == '\0' || strlen(v) > 256 || v[0] == ',' || v[strlen(v) - 1] == ',' ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789@.,-") != strlen(v))
			WHY("-a: expected host key algorithms, e.g. rsa-sha2-512,ssh-ed25519");
		o->hostkey_algs = v;
		return 0;
	default:
		WHY("unknown option -%c", opt);
	}
}

int
lg_parse_args(int argc, char **argv, struct lg_opts *o, char *why, size_t whylen)
{
	defaults(o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a == NULL || a[0] != '-' || a[1] == '\0' || a[2] != '\0')
			WHY("unexpected argument '%.64s'", a ? a : "(null)");
		switch (a[1]) {
		case 'h': return 1;
		case 'x': o->provision_only = true; continue;
		case 'q': o->quiet = true; continue;
		case 'v': o->verbose = true; continue;
		case 'S': o->spread = false; continue;
		default: break;
		}
		if (i + 1 >= argc || argv[i + 1] == NULL)
			WHY("option %s needs a value", a);
		if (set_value(o, a[1], argv[++i], why, whylen) != 0)
			return -1;
	}
	if (o->keys == NULL)
		WHY("-k KEYFILE is required");
	if (o->provision_only && o->state_dir == NULL && o->store == NULL)
		WHY("-x needs -d STATE_DIR or -D STORE");
	return 0;
}
