/* audit-read.c: reading audit.log back: a strict parser for one record, a walk over all records, and chain verification. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/utf8.h"
#include "common/log.h"

#define JSON_DEPTH_MAX	16
#define READ_CHUNK	65536

/* ---- parsing one record ---- */

struct parser {
	const unsigned char *p, *end;
	const char *why;
	int depth;
};

static void
ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
}

static int
bad(struct parser *ps, const char *why)
{
	if (ps->why == NULL)
		ps->why = why;
	return ERR_INVAL;
}

static int
hex4(const unsigned char *s, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*out = *out << 4 | d;
	}
	return 0;
}

/* Writes code point cp as UTF-8 at dst; returns the byte count. */
static size_t
put_utf8(char *dst, unsigned cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | cp >> 6);
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | cp >> 12);
		dst[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | cp >> 18);
	dst[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	dst[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \uXXXX escape (and its low surrogate) at ps->p, just after the backslash-u. */
static int
unicode_escape(struct parser *ps, unsigned *cp)
{
	unsigned lo;

	if (ps->end - ps->p < 4 || hex4(ps->p, cp) != 0)
		return bad(ps, "bad \\u escape");
	ps->p += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return bad(ps, "lone low surrogate");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
	    hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
		return bad(ps, "lone high surrogate");
	ps->p += 6;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* One escape after a backslash; appends its bytes at dst + *n. */
static int
escape(struct parser *ps, char *dst, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned cp;
	const char *e;

	if (ps->p >= ps->end)
		return bad(ps, "unterminated string");
	if (*ps->p == 'u') {
		ps->p++;
		if (unicode_escape(ps, &cp) != 0)
			return ERR_INVAL;
		*n += put_utf8(dst + *n, cp);
		return 0;
	}
	if ((e = memchr(from, *ps->p, sizeof(from) - 1)) == NULL)
		return bad(ps, "bad escape");
	dst[(*n)++] = to[e - from];
	ps->p++;
	return 0;
}

/* A string at ps->p (on its opening quote), decoded into a malloc'd *out. */
static int
string(struct parser *ps, char **out, size_t *outlen)
{
	/* Decoding never grows the text: an escape is at least as long as its bytes. */
	char *dst = malloc((size_t)(ps->end - ps->p) + 1);
	size_t n = 0, k;

	*out = NULL;
	if (dst == NULL)
		return bad(ps, "out of memory");
	ps->p++;
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\') {
			ps->p++;
			if (escape(ps, dst, &n) != 0)
				goto fail;
		} else if (*ps->p < 0x20) {
			bad(ps, "control character in a string");
			goto fail;
		} else if ((k = utf8_len(ps->p, ps->end)) == 0) {
			bad(ps, "invalid UTF-8");
			goto fail;
		} else {
			memcpy(dst + n, ps->p, k);
			n += k;
			ps->p += k;
		}
	}
	if (ps->p >= ps->end) {
		bad(ps, "unterminated string");
		goto fail;
	}
	ps->p++;
	dst[n] = '\0';
	*out = dst;
	*outlen = n;
	return 0;
fail:
	free(dst);
	return ERR_INVAL;
}

static int
digits(struct parser *ps)
{
	const unsigned char *start = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > start ? 0 : bad(ps, "bad number");
}

/* A number, strictly by RFC 8259's grammar. */
static int
number(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (digits(ps) != 0)
		return ERR_INVAL;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (digits(ps) != 0)
			return ERR_INVAL;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		return digits(ps);
	}
	return 0;
}

static int skip_value(struct parser *ps);

/* An object or array, checked and skipped ({ or [ at ps->p). */
static int
skip_container(struct parser *ps)
{
	char close = *ps->p == '{' ? '}' : ']';
	bool obj = close == '}';
	char *key;
	size_t klen;

	if (++ps->depth > JSON_DEPTH_MAX)
		return bad(ps, "nested too deeply");
	ps->p++;
	ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"')
				return bad(ps, "expected a member name");
			if (string(ps, &key, &klen) != 0)
				return ERR_INVAL;
			free(key);
			ws(ps);
			if (ps->p >= ps->end || *ps->p++ != ':')
				return bad(ps, "expected ':'");
		}
		if (skip_value(ps) != 0)
			return ERR_INVAL;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return bad(ps, "expected ',' or the end of a container");
	}
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return bad(ps, "unexpected character");
	ps->p += n;
	return 0;
}

/* Any value, checked and skipped. */
static int
skip_value(struct parser *ps)
{
	char *s;
	size_t n;

	ws(ps);
	if (ps->p >= ps->end)
		return bad(ps, "expected a value");
	switch (*ps->p) {
	case '"':
		if (string(ps, &s, &n) != 0)
			return ERR_INVAL;
		free(s);
		return 0;
	case '{':
	case '[':
		return skip_container(ps);
	case 't':
		return literal(ps, "true");
	case 'f':
		return literal(ps, "false");
	case 'n':
		return literal(ps, "null");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return number(ps);
		return bad(ps, "unexpected character");
	}
}

/* One member's value: decoded if a string, else its raw text. */
static int
member_value(struct parser *ps, struct audit_field *f)
{
	const unsigned char *start;

	ws(ps);
	if (ps->p < ps->end && *ps->p == '"') {
		f->is_string = true;
		return string(ps, &f->val, &f->vlen);
	}
	start = ps->p;
	if (skip_value(ps) != 0)
		return ERR_INVAL;
	f->vlen = (size_t)(ps->p - start);
	if ((f->val = strndup((const char *)start, f->vlen)) == NULL)
		return bad(ps, "out of memory");
	return 0;
}

static int
add_member(struct parser *ps, struct audit_record *rec)
{
	struct audit_field *f, *nf;
	size_t klen;

	ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return bad(ps, "expected a member name");
	if ((nf = realloc(rec->f, (size_t)(rec->n + 1) * sizeof(*nf))) == NULL)
		return bad(ps, "out of memory");
	rec->f = nf;
	f = &rec->f[rec->n];
	memset(f, 0, sizeof(*f));
	rec->n++;
	if (string(ps, &f->key, &klen) != 0)
		return ERR_INVAL;
	if (strlen(f->key) != klen)
		return bad(ps, "NUL in a member name");
	for (int i = 0; i < rec->n - 1; i++)
		if (strcmp(rec->f[i].key, f->key) == 0)
			return bad(ps, "duplicate member");
	ws(ps);
	if (ps->p >= ps->end || *ps->p++ != ':')
		return bad(ps, "expected ':'");
	return member_value(ps, f);
}

static int
object(struct parser *ps, struct audit_record *rec)
{
	ws(ps);
	if (ps->p >= ps->end || *ps->p++ != '{')
		return bad(ps, "not a JSON object");
	ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		return bad(ps, "empty object");
	for (;;) {
		if (add_member(ps, rec) != 0)
			return ERR_INVAL;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}')
			break;
		return bad(ps, ps->p >= ps->end ? "object not closed" : "expected ',' or '}'");
	}
	ps->p++;
	ws(ps);
	return ps->p == ps->end ? 0 : bad(ps, "text after the object");
}

static bool
is_hash(const struct audit_field *f)
{
	if (f == NULL || !f->is_string || f->vlen != AUDIT_HASH_HEX)
		return false;
	for (size_t i = 0; i < f->vlen; i++)
		if (!((f->val[i] >= '0' && f->val[i] <= '9') || (f->val[i] >= 'a' && f->val[i] <= 'f')))
			return false;
	return true;
}

/* The members every record has: ts and event strings, prev last. */
static const char *
check_shape(const struct audit_record *rec)
{
	const struct audit_field *ts = audit_record_get(rec, "ts");
	const struct audit_field *ev = audit_record_get(rec, "event");

	if (ts == NULL || !ts->is_string || ts->vlen == 0)
		return "no \"ts\" string";
	if (ev == NULL || !ev->is_string || ev->vlen == 0)
		return "no \"event\" string";
	if (strcmp(rec->f[rec->n - 1].key, "prev") != 0)
		return "\"prev\" is not the last member";
	if (!is_hash(&rec->f[rec->n - 1]))
		return "\"prev\" is not 64 lower-case hex digits";
	return NULL;
}

void
audit_record_clear(struct audit_record *rec)
{
	if (rec == NULL)
		return;
	for (int i = 0; i < rec->n; i++) {
		free(rec->f[i].key);
		free(rec->f[i].val);
	}
	free(rec->f);
	memset(rec, 0, sizeof(*rec));
}

const struct audit_field *
audit_record_get(const struct audit_record *rec, const char *key)
{
	for (int i = 0; i < rec->n; i++)
		if (strcmp(rec->f[i].key, key) == 0)
			return &rec->f[i];
	return NULL;
}

int
audit_record_parse(const char *line, size_t len, struct audit_record *rec, const char **why)
{
	struct parser ps = { (const unsigned char *)line, (const unsigned char *)line + len, NULL, 0 };
	const char *scratch;

	if (why == NULL)
		why = &scratch;
	*why = NULL;
	memset(rec, 0, sizeof(*rec));
	if (line == NULL || len == 0) {
		*why = "empty line";
		return ERR_INVAL;
	}
	if (len >= AUDIT_RECORD_MAX) {
		*why = "longer than a record may be";
		return ERR_INVAL;
	}
	rec->raw = line;
	rec->rawlen = len;
	if (object(&ps, rec) != 0) {
		*why = ps.why;
		audit_record_clear(rec);
		return ERR_INVAL;
	}
	if ((*why = check_shape(rec)) != NULL) {
		audit_record_clear(rec);
		return ERR_INVAL;
	}
	return 0;
}

int
audit_time_parse(const char *s, size_t len, int64_t *out)
{
	struct tm tm = { 0 };
	int n = -1, ms = 0;
	char buf[40];

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 10 && sscanf(buf, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3)
		;
	else if ((len == 20 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) == 6) ||
	    (len == 24 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) == 7))
		;
	else
		return -1;
	/* the fixed shape: digits exactly where they belong */
	for (size_t i = 0; i < len; i++) {
		char want = "dddd-dd-ddTdd:dd:dd.dddZ"[len == 20 && i == 19 ? 23 : i];
		if (want == 'd' ? (buf[i] < '0' || buf[i] > '9') : buf[i] != want)
			return -1;
	}
	if (n != (int)len || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

/* ---- reading lines ---- */

struct reader {
	int fd;
	char buf[READ_CHUNK];
	size_t pos, len;
	bool eof;
	char line[AUDIT_RECORD_MAX];
	size_t linelen;		/* bytes kept in line (at most AUDIT_RECORD_MAX) */
	bool overlong;		/* the line had more than AUDIT_RECORD_MAX - 1 bytes */
	bool terminated;	/* it ended in a newline */
	size_t lineno;
	int64_t consumed;	/* bytes read up to the end of the current line */
};

static int
fill(struct reader *rd)
{
	ssize_t k;

	do
		k = read(rd->fd, rd->buf, sizeof(rd->buf));
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return ERR_IO;
	rd->pos = 0;
	rd->len = (size_t)k;
	rd->eof = k == 0;
	return 0;
}

/* Reads the next line; returns 1, 0 at the end of the file, or ERR_IO. */
static int
next_line(struct reader *rd)
{
	bool any = false;

	rd->linelen = 0;
	rd->overlong = rd->terminated = false;
	for (;;) {
		if (rd->pos == rd->len) {
			if (fill(rd) != 0)
				return ERR_IO;
			if (rd->eof)
				break;
		}
		any = true;
		char *s = rd->buf + rd->pos, *nl = memchr(s, '\n', rd->len - rd->pos);
		size_t n = nl != NULL ? (size_t)(nl - s) : rd->len - rd->pos;
		size_t room = AUDIT_RECORD_MAX - rd->linelen;
		if (n >= room)
			rd->overlong = true;
		memcpy(rd->line + rd->linelen, s, n < room ? n : room);
		rd->linelen += n < room ? n : room;
		rd->pos += n + (nl != NULL);
		rd->consumed += (int64_t)(n + (nl != NULL));
		if (nl != NULL) {
			rd->terminated = true;
			break;
		}
	}
	if (!any)
		return 0;
	rd->lineno++;
	return 1;
}

static int
reader_open(const char *path, int64_t from, struct reader **out)
{
	struct reader *rd;

	*out = NULL;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return ERR_NOMEM;
	if ((rd->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (from > 0 && lseek(rd->fd, (off_t)from, SEEK_SET) < 0)) {
		if (rd->fd >= 0)
			close(rd->fd);
		free(rd);
		return ERR_IO;
	}
	*out = rd;
	return 0;
}

static void
reader_close(struct reader *rd)
{
	if (rd == NULL)
		return;
	close(rd->fd);
	free(rd);
}

int
audit_read(const char *path, audit_record_cb cb, void *arg)
{
	struct reader *rd;
	struct audit_record rec;
	int r, more;

	if ((r = reader_open(path, 0, &rd)) != 0)
		return r;
	while ((more = next_line(rd)) == 1) {
		if (!rd->terminated || rd->overlong ||
		    audit_record_parse(rd->line, rd->linelen, &rec, NULL) != 0)
			continue;
		rec.line = rd->lineno;
		r = cb(arg, &rec);
		audit_record_clear(&rec);
		if (r != 0)
			break;
	}
	if (more < 0)
		r = more;
	reader_close(rd);
	return r;
}

/* ---- checking a chain, record by record ---- */

void
audit_chain_start(struct audit_chain *ch, const struct audit_head *anchor, const char *unit)
{
	memset(ch, 0, sizeof(*ch));
	ch->anchor = anchor;
	ch->unit = unit != NULL ? unit : "line";
	memset(ch->prev, '0', AUDIT_HASH_HEX);
}

/* Checks one complete line against the hash of the one before it; fills res.why if bad. */
static int
chain_check(struct audit_chain *ch, const char *line, size_t len)
{
	struct audit_verify_result *res = &ch->res;
	struct audit_record rec;
	const char *why, *u = ch->unit;
	size_t n = res->records + 1;

	if (audit_record_parse(line, len, &rec, &why) != 0) {
		snprintf(res->why, sizeof(res->why), "%s %zu: not a complete JSON record (%s)", u, n,
		    why != NULL ? why : "?");
		return ERR_INVAL;
	}
	bool ok = memcmp(rec.f[rec.n - 1].val, ch->prev, AUDIT_HASH_HEX) == 0;
	const struct audit_field *ev = audit_record_get(&rec, "event");
	if (ok && ev != NULL && ev->is_string && strcmp(ev->val, "audit-cut") == 0) {
		/* a writer found the log cut or rewritten before this line */
		const struct audit_field *why_f = audit_record_get(&rec, "reason");
		char shown[100] = "";
		if (why_f != NULL && why_f->is_string)
			log_printable(shown, sizeof(shown), why_f->val, why_f->vlen);
		snprintf(res->why, sizeof(res->why), "%s %zu: audit-cut: the log was cut or rewritten "
		    "before this record (%s)", u, n, shown);
		audit_record_clear(&rec);
		return ERR_INVAL;
	}
	audit_record_clear(&rec);
	if (ok)
		return 0;
	if (n == 1)
		snprintf(res->why, sizeof(res->why), "%s 1: prev does not match the start of a log "
		    "(64 zeros): %ss before it are missing", u, u);
	else
		snprintf(res->why, sizeof(res->why), "%s %zu: prev does not match %s %zu", u, n, u, n - 1);
	return ERR_INVAL;
}

int
audit_chain_add(struct audit_chain *ch, const char *line, size_t len)
{
	if (ch->res.bad_line != 0)
		return ERR_INVAL;
	if (chain_check(ch, line, len) != 0) {
		ch->res.bad_line = ch->res.records + 1;
		return ERR_INVAL;
	}
	audit_hash_hex(line, len, ch->prev);
	ch->res.records++;
	if (ch->anchor != NULL && (int64_t)ch->res.records == ch->anchor->seq)
		memcpy(ch->at_anchor, ch->prev, sizeof(ch->at_anchor));
	return 0;
}

void
audit_chain_fail(struct audit_chain *ch, const char *fmt, ...)
{
	va_list ap;

	if (ch->res.bad_line != 0)
		return;
	ch->res.bad_line = ch->res.records + 1;
	va_start(ap, fmt);
	vsnprintf(ch->res.why, sizeof(ch->res.why), fmt, ap);
	va_end(ap);
}

/* After the walk: does the chain still hold the record the store anchored? */
static int
check_anchor(struct audit_chain *ch)
{
	struct audit_verify_result *res = &ch->res;
	long long s = (long long)ch->anchor->seq;
	bool file = strcmp(ch->unit, "line") == 0;

	res->anchored = true;
	res->anchor_seq = (size_t)ch->anchor->seq;
	if ((long long)res->records < s) {
		res->bad_line = res->records + 1;
		if (res->records == 0)
			snprintf(res->why, sizeof(res->why), "the %s is empty, but the store's anchor is "
			    "record %lld: it was emptied", file ? "log" : "chain", s);
		else
			snprintf(res->why, sizeof(res->why), "the %s ends at record %zu, but the store's "
			    "anchor is record %lld: it was cut at its end", file ? "log" : "chain",
			    res->records, s);
		return ERR_INVAL;
	}
	if (s > 0 && strcmp(ch->at_anchor, ch->anchor->hash) != 0) {
		res->bad_line = (size_t)s;
		snprintf(res->why, sizeof(res->why), "%s %lld: not the record the store anchored "
		    "(its hash differs): the %s was rewritten up to there", ch->unit, s,
		    file ? "log" : "chain");
		return ERR_INVAL;
	}
	return 0;
}

int
audit_chain_end(struct audit_chain *ch)
{
	if (ch->res.bad_line != 0)
		return ERR_INVAL;
	return ch->anchor != NULL ? check_anchor(ch) : 0;
}

/* Checks the line the reader holds (lines torn or too long fail here). */
static int
verify_line(struct reader *rd, struct audit_chain *ch)
{
	size_t n = rd->lineno;

	if (rd->overlong) {
		audit_chain_fail(ch, "line %zu: longer than %d bytes", n, AUDIT_RECORD_MAX - 1);
		return ERR_INVAL;
	}
	if (!rd->terminated) {
		audit_chain_fail(ch, "line %zu: not a complete JSON record (no newline at the end: "
		    "torn write?)", n);
		return ERR_INVAL;
	}
	return audit_chain_add(ch, rd->line, rd->linelen);
}

int
audit_verify_anchored(const char *path, const struct audit_head *anchor,
    struct audit_verify_result *res)
{
	struct audit_chain ch;
	struct reader *rd;
	int r, more;

	memset(res, 0, sizeof(*res));
	if ((r = reader_open(path, 0, &rd)) != 0) {
		snprintf(res->why, sizeof(res->why), "cannot read %s: %s", path,
		    r == ERR_IO ? strerror(errno) : err_str(r));
		return r;
	}
	audit_chain_start(&ch, anchor, "line");
	while ((more = next_line(rd)) == 1)
		if ((r = verify_line(rd, &ch)) != 0)
			break;
	if (more < 0) {
		*res = ch.res;
		snprintf(res->why, sizeof(res->why), "cannot read %s: %s", path, strerror(errno));
		reader_close(rd);
		return ERR_IO;
	}
	reader_close(rd);
	r = audit_chain_end(&ch);
	*res = ch.res;
	return r;
}

int
audit_verify(const char *path, struct audit_verify_result *res)
{
	return audit_verify_anchored(path, NULL, res);
}

/* audit_log_holds: counts lines up to the head's record and checks it there. */
struct holds {
	const struct audit_head *h;
	int64_t seq;
	bool found;
};

static int
holds_line(void *arg, const char *line, size_t len, bool overlong, int64_t end)
{
	struct holds *k = arg;
	char hex[AUDIT_HASH_HEX + 1];

	(void)overlong;
	if (++k->seq < k->h->seq)
		return 0;
	audit_hash_hex(line, len, hex);
	k->found = end == k->h->size && strcmp(hex, k->h->hash) == 0;
	return 1;
}

bool
audit_log_holds(const char *path, const struct audit_head *h)
{
	struct holds k = { .h = h };

	if (h->seq == 0)
		return h->size == 0;
	return audit_read_lines(path, 0, holds_line, &k) >= 0 && k.found;
}

int
audit_read_lines(const char *path, int64_t from, audit_line_cb cb, void *arg)
{
	struct reader *rd;
	int r = 0, more;

	if (from < 0)
		return ERR_INVAL;
	if ((r = reader_open(path, from, &rd)) != 0)
		return r;
	while ((more = next_line(rd)) == 1 && rd->terminated)
		if ((r = cb(arg, rd->line, rd->linelen, rd->overlong, from + rd->consumed)) != 0)
			break;
	if (more < 0)
		r = more;
	reader_close(rd);
	return r;
}
