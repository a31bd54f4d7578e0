/* jbuf.c: bounded growable buffer and minimal JSON writer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jbuf.h"
#include "common/utf8.h"

void
jbuf_init(struct jbuf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void
jbuf_free(struct jbuf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int
reserve(struct jbuf *b, size_t extra)
{
	if (b->failed)
		return ERR_NOMEM;
	if (extra > b->limit || b->len > b->limit - extra) {
		b->failed = true;
		return ERR_TOOLONG;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	char *p = realloc(b->data, ncap);
	if (p == NULL) {
		b->failed = true;
		return ERR_NOMEM;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
jbuf_add(struct jbuf *b, const void *p, size_t n)
{
	int r = reserve(b, n);
	if (r != 0)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
jbuf_addf(struct jbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return ERR_INVAL;
	if ((size_t)n < sizeof(small))
		return jbuf_add(b, small, (size_t)n);
	int r = reserve(b, (size_t)n);
	if (r != 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
jbuf_consume(struct jbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		if (b->data != NULL)
			b->data[0] = '\0';
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
jbuf_json_string(struct jbuf *b, const char *val)
{
	const unsigned char *s = (const unsigned char *)val, *end = s + strlen(val);

	jbuf_add(b, "\"", 1);
	while (*s != '\0') {
		/* a run of plain ASCII in one append (a byte at a time was most of
		 * building an audit record) */
		const unsigned char *run = s;
		while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			s++;
		if (s > run)
			jbuf_add(b, run, (size_t)(s - run));
		if (*s == '\0')
			break;
		size_t n = utf8_len(s, end);
		if (*s == '"' || *s == '\\') {
			char esc[2] = { '\\', (char)*s };
			jbuf_add(b, esc, 2);
			n = 1;
		} else if (n == 0 || *s < 0x20 || *s == 0x7f) {
			jbuf_addf(b, "\\u%04x", *s);
			n = 1;
		} else if (n > 1 && utf8_unsafe(utf8_cp(s, n)))
			jbuf_addf(b, "\\u%04lx", utf8_cp(s, n));
		else
			jbuf_add(b, s, n);
		s += n;
	}
	jbuf_add(b, "\"", 1);
}

void
jbuf_obj_begin(struct jbuf *b)
{
	jbuf_add(b, "{", 1);
	b->need_comma = false;
}

void
jbuf_obj_end(struct jbuf *b)
{
	jbuf_add(b, "}", 1);
	b->need_comma = true;
}

static void
member_key(struct jbuf *b, const char *key)
{
	if (b->need_comma)
		jbuf_add(b, ",", 1);
	jbuf_json_string(b, key);
	jbuf_add(b, ":", 1);
	b->need_comma = true;
}

void
jbuf_member_str(struct jbuf *b, const char *key, const char *val)
{
	member_key(b, key);
	if (val == NULL)
		jbuf_add(b, "null", 4);
	else
		jbuf_json_string(b, val);
}

void
jbuf_member_int(struct jbuf *b, const char *key, int64_t val)
{
	member_key(b, key);
	jbuf_addf(b, "%lld", (long long)val);
}

void
jbuf_member_bool(struct jbuf *b, const char *key, bool val)
{
	member_key(b, key);
	jbuf_add(b, val ? "true" : "false", val ? 4 : 5);
}
