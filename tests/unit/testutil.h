/* testutil.h: temp directories, generated keys, file helpers and a strict JSON checker shared by the unit tests (header-only). */
#ifndef OUTPOST_TESTUTIL_H
#define OUTPOST_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes a fresh directory under $TMPDIR; returns a malloc'd path or NULL. */
static inline char *
tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;

	if (asprintf(&p, "%s/outpost-unit-XXXXXX", base ? base : "/tmp") < 0)
		return NULL;
	if (mkdtemp(p) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static inline int
tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* rm -rf path; frees nothing. */
static inline void
tu_rmrf(const char *path)
{
	if (path != NULL)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole small file into a malloc'd string (NULL on error). */
static inline char *
tu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	if (buf != NULL)
		len = fread(buf, 1, 65535, f);
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/*
 * Generates a key with ssh-keygen into dir/name(.pub); returns 0 on success.
 * type: "ed25519", "rsa", "ecdsa".
 */
static inline int
tu_keygen(const char *dir, const char *name, const char *type)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t %s %s -N '' -C 'test %s' -f '%s/%s' </dev/null >/dev/null 2>&1",
	    type, strcmp(type, "rsa") == 0 ? "-b 2048" : "", name, dir, name);
	return system(cmd) == 0 ? 0 : -1;
}

/* ssh-keygen -l's SHA256 fingerprint of dir/name.pub into fp (fplen bytes). */
static inline int
tu_fingerprint(const char *dir, const char *name, char *fp, size_t fplen)
{
	char cmd[1024];
	FILE *p;
	int r = -1;

	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f '%s/%s.pub'", dir, name);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	char line[512];
	if (fgets(line, sizeof(line), p) != NULL) {
		char *s = strchr(line, ' ');
		char *e = s ? strchr(s + 1, ' ') : NULL;
		if (s != NULL && e != NULL && (size_t)(e - s - 1) < fplen) {
			memcpy(fp, s + 1, (size_t)(e - s - 1));
			fp[e - s - 1] = '\0';
			r = 0;
		}
	}
	pclose(p);
	return r;
}

/*
 * Strict JSON checker for test output (RFC 8259, strict UTF-8 per RFC 3629:
 * no overlongs, surrogates or code points past U+10FFFF). Returns 1 if the
 * len bytes at s are exactly one JSON value with optional whitespace around.
 */
struct tu_json {
	const unsigned char *p, *end;
	int depth;
};

static inline void
tu_json_ws(struct tu_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline int
tu_json_utf8(struct tu_json *j)
{
	unsigned char c = j->p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(j->end - j->p) < n || j->p[1] < lo || j->p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (j->p[i] < 0x80 || j->p[i] > 0xbf)
			return 0;
	j->p += n;
	return 1;
}

static inline int
tu_json_string(struct tu_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return 0;
	for (j->p++; j->p < j->end; ) {
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c >= 0x80) {
			if (!tu_json_utf8(j))
				return 0;
			continue;
		}
		j->p++;
		if (c != '\\')
			continue;
		if (j->p >= j->end)
			return 0;
		c = *j->p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, j->p++)
				if (j->p >= j->end || strchr("0123456789abcdefABCDEF", *j->p) == NULL || *j->p == '\0')
					return 0;
		} else if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
			return 0;
	}
	return 0;
}

static inline int
tu_json_digits(struct tu_json *j)
{
	const unsigned char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static inline int
tu_json_number(struct tu_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!tu_json_digits(j))
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!tu_json_digits(j))
			return 0;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!tu_json_digits(j))
			return 0;
	}
	return 1;
}

static inline int tu_json_value(struct tu_json *j);

/* Object or array after its opening bracket. */
static inline int
tu_json_container(struct tu_json *j, int obj)
{
	unsigned char close = obj ? '}' : ']';

	tu_json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 1;
	}
	for (;;) {
		tu_json_ws(j);
		if (obj) {
			if (!tu_json_string(j))
				return 0;
			tu_json_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return 0;
		}
		if (!tu_json_value(j))
			return 0;
		tu_json_ws(j);
		if (j->p >= j->end)
			return 0;
		if (*j->p == close) {
			j->p++;
			return 1;
		}
		if (*j->p++ != ',')
			return 0;
	}
}

static inline int
tu_json_literal(struct tu_json *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static inline int
tu_json_value(struct tu_json *j)
{
	int ok;

	tu_json_ws(j);
	if (j->p >= j->end || j->depth > 64)
		return 0;
	switch (*j->p) {
	case '{':
	case '[':
		j->depth++;
		j->p++;
		ok = tu_json_container(j, j->p[-1] == '{');
		j->depth--;
		return ok;
	case '"':
		return tu_json_string(j);
	case 't':
		return tu_json_literal(j, "true");
	case 'f':
		return tu_json_literal(j, "false");
	case 'n':
		return tu_json_literal(j, "null");
	default:
		return tu_json_number(j);
	}
}

static inline int
tu_json_valid(const char *s, size_t len)
{
	struct tu_json j = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };

	if (!tu_json_value(&j))
		return 0;
	tu_json_ws(&j);
	return j.p == j.end;
}

#endif
