/*
 * auditrec.c: every node's audit chain in the store (audit_records, used on
 * PostgreSQL): copying a node's audit.log into it by seq, reading all
 * chains merged by time, and verifying each chain against its anchor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/jbuf.h"
#include "common/utf8.h"
#include "store/db.h"

/* ---- the records ---- */

/*
 * A batch of records in one statement: a JSON array of [seq, ts, hash,
 * record] in ?2 (a statement per record made copying 10,000 records at a
 * shutdown take 1.4 s on PostgreSQL over TCP, one round trip each).
 */
static struct query q_rec_add = {
	.sql = "INSERT INTO audit_records (node, seq, ts, hash, record) "
	    "SELECT ?1, e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3 FROM json_each(?2) AS e "
	    "WHERE true ON CONFLICT (node, seq) DO NOTHING",
	.pg = "INSERT INTO audit_records (node, seq, ts, hash, record) "
	    "SELECT ?1, (e ->> 0)::bigint, (e ->> 1)::bigint, e ->> 2, e ->> 3 FROM json_array_elements(?2::json) AS e "
	    "ON CONFLICT (node, seq) DO NOTHING",
};

/* Inserts recs[0..n) (another copier may have inserted some of them: those stay). */
static int
add_records(struct store *st, const char *node, const struct store_audit_record *recs, int n)
{
	struct db_stmt *s;
	struct jbuf a;
	int r;

	if (n == 0)
		return 0;
	jbuf_init(&a, (size_t)1 << 30);
	jbuf_add(&a, "[", 1);
	for (int i = 0; i < n; i++) {
		if (recs[i].seq <= 0 || !store_audit_hash_valid(recs[i].hash) || recs[i].record == NULL) {
			jbuf_free(&a);
			db_set_err(st, "not an audit record: seq %lld", (long long)recs[i].seq);
			return ERR_INVAL;
		}
		jbuf_addf(&a, "%s[%lld,%lld,", i > 0 ? "," : "", (long long)recs[i].seq, (long long)recs[i].ts);
		jbuf_json_string(&a, recs[i].hash);
		jbuf_add(&a, ",", 1);
		jbuf_json_string(&a, recs[i].record);
		jbuf_add(&a, "]", 1);
	}
	jbuf_add(&a, "]", 1);
	if (a.failed) {
		jbuf_free(&a);
		db_set_err(st, "out of memory");
		return ERR_NOMEM;
	}
	if ((r = db_prepare(st, &q_rec_add, &s)) == 0) {
		db_bind_text(s, 1, node);
		db_bind_text(s, 2, a.data);
		r = db_exec(s, NULL);
		db_release(s);
	}
	jbuf_free(&a);
	return r;
}

int
store_audit_records_append(struct store *st, const char *node,
    const struct store_audit_record *recs, int n, const struct audit_head *head)
{
	int r;

	if ((r = db_check_label(st, "node", node)) != 0)
		return r;
	if (n < 0 || (n > 0 && recs == NULL)) {
		db_set_err(st, "no audit records");
		return ERR_INVAL;
	}
	if ((r = db_tx_begin(st)) != 0)
		return r;
	r = add_records(st, node, recs, n);
	if (r == 0 && head != NULL)
		r = store_audit_anchor_set(st, node, head, false);
	return db_tx_end(st, r);
}

static struct query q_rec_last = {
	.sql = "SELECT seq, hash FROM audit_records WHERE node = ?1 ORDER BY seq DESC LIMIT 1",
};

int
store_audit_records_last(struct store *st, const char *node, int64_t *seq, char *hash)
{
	struct db_stmt *s;
	int r;

	*seq = 0;
	memset(hash, '0', AUDIT_HASH_HEX);
	hash[AUDIT_HASH_HEX] = '\0';
	if ((r = db_check_label(st, "node", node)) != 0 || (r = db_prepare(st, &q_rec_last, &s)) != 0)
		return r;
	db_bind_text(s, 1, node);
	if ((r = db_step_one(s)) == 0) {
		*seq = db_col_int(s, 0);
		snprintf(hash, AUDIT_HASH_HEX + 1, "%s", db_col_text(s, 1));
	} else if (r == ERR_NOTFOUND)
		r = 0;
	db_release(s);
	return r;
}

static int
record_row(struct db_stmt *s, void *cb, void *arg)
{
	struct store_audit_record rec = {
		.node = db_col_text(s, 0),
		.seq = db_col_int(s, 1),
		.ts = db_col_int(s, 2),
		.hash = db_col_text(s, 3),
		.record = db_col_text(s, 4),
	};
	return ((store_audit_record_cb)cb)(arg, &rec);
}

static struct query q_rec_list = {
	.sql = "SELECT node, seq, ts, hash, record FROM audit_records WHERE ts >= ?1 "
	    "ORDER BY ts, node, seq",
};

int
store_audit_records_list(struct store *st, int64_t since_ms, store_audit_record_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_rec_list, &s)) != 0)
		return r;
	db_bind_int(s, 1, since_ms);
	r = db_for_each_row(s, record_row, (void *)cb, arg);
	db_release(s);
	return r;
}

static struct query q_rec_chain = {
	.sql = "SELECT node, seq, ts, hash, record FROM audit_records WHERE node = ?1 ORDER BY seq",
};

int
store_audit_records_chain(struct store *st, const char *node, store_audit_record_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_rec_chain, &s)) != 0)
		return r;
	db_bind_text(s, 1, node);
	r = db_for_each_row(s, record_row, (void *)cb, arg);
	db_release(s);
	return r;
}

/* ---- verifying a chain ---- */

static int
verify_one(void *arg, const struct store_audit_record *rec)
{
	struct audit_chain *ch = arg;
	char hex[AUDIT_HASH_HEX + 1];
	size_t len = strlen(rec->record);
	int64_t want = (int64_t)ch->res.records + 1;

	if (rec->seq != want) {
		audit_chain_fail(ch, "record %lld: missing (the next the store holds is record %lld)",
		    (long long)want, (long long)rec->seq);
		return ERR_INVAL;
	}
	audit_hash_hex(rec->record, len, hex);
	if (strcmp(hex, rec->hash) != 0) {
		audit_chain_fail(ch, "record %lld: its text does not hash to its hash column "
		    "(rewritten in the store)", (long long)rec->seq);
		return ERR_INVAL;
	}
	return audit_chain_add(ch, rec->record, len);
}

int
store_audit_chain_verify(struct store *st, const char *node, const struct audit_head *anchor,
    struct audit_verify_result *res)
{
	struct audit_chain ch;
	int r;

	audit_chain_start(&ch, anchor, "record");
	r = store_audit_records_chain(st, node, verify_one, &ch);
	if (r != 0 && r != ERR_INVAL) {
		memset(res, 0, sizeof(*res));
		snprintf(res->why, sizeof(res->why), "%s", store_errmsg(st));
		return r;
	}
	r = audit_chain_end(&ch);
	*res = ch.res;
	return r;
}

/* ---- copying a node's audit.log into the store ---- */

struct copy {
	struct store_audit_cursor *cur;
	int64_t want_seq;		/* locating: the line to find */
	const char *want_hash;
	int64_t seq, start, end;	/* the last line walked */
	char hash[AUDIT_HASH_HEX + 1];
	bool found;
	/* collecting */
	struct store_audit_record *recs;
	char (*hashes)[AUDIT_HASH_HEX + 1];
	char **texts;
	int n, max;
	bool check_first;		/* the first line must chain onto the cursor */
	bool strict;			/* and be a record (a cursor from the anchor: maybe mid-line) */
	bool broken;
};

/* Locating: counts lines until want_seq; stops there. */
static int
locate_line(void *arg, const char *line, size_t len, bool overlong, int64_t end)
{
	struct copy *c = arg;

	(void)overlong;
	c->seq++;
	c->start = c->end;
	c->end = end;
	if (c->seq < c->want_seq)
		return 0;
	audit_hash_hex(line, len, c->hash);
	c->found = strcmp(c->hash, c->want_hash) == 0;
	return 1;
}

/* Checking the cursor: the first line from its start must be its record, ending where it says. */
static int
check_line(void *arg, const char *line, size_t len, bool overlong, int64_t end)
{
	struct copy *c = arg;

	(void)overlong;
	audit_hash_hex(line, len, c->hash);
	c->end = end;
	c->found = true;
	return 1;
}

/* Does the file still hold the cursor's record where the cursor says? */
static bool
cursor_holds(const char *path, const struct store_audit_cursor *cur)
{
	struct copy c = { 0 };

	if (cur->seq == 0 || cur->start < 0)
		return true;	/* start < 0: from the anchor, checked by the next line's prev */
	if (audit_read_lines(path, cur->start, check_line, &c) < 0 || !c.found)
		return false;
	return c.end == cur->size && strcmp(c.hash, cur->hash) == 0;
}

/*
 * Where in the file the store's last record of the chain ends: from the
 * cursor if it still names it, else by counting lines. ERR_INVAL if the log
 * no longer holds that record (cut or rewritten).
 */
static int
locate(struct store *st, const char *node, const char *path, struct store_audit_cursor *cur,
    int64_t seq, const char *hash, bool hint)
{
	struct copy c = { .want_seq = seq, .want_hash = hash };
	struct audit_head a;
	int r;

	if (cur->valid && cur->seq == seq && strcmp(cur->hash, hash) == 0 && cursor_holds(path, cur))
		return 0;
	cur->valid = false;
	cur->seq = seq;
	memcpy(cur->hash, hash, AUDIT_HASH_HEX + 1);
	cur->start = cur->size = 0;
	/* The copier moves the anchor with each batch: where the last record ends, without reading the log. */
	struct stat sb;
	if (hint && seq > 0 && store_audit_anchor_get(st, node, &a) == 0 && a.seq == seq &&
	    strcmp(a.hash, hash) == 0 && stat(path, &sb) == 0 && sb.st_size >= a.size) {
		cur->size = a.size;
		cur->start = -1;
		cur->valid = true;
		return 0;
	}
	if (seq == 0) {
		cur->valid = true;
		return 0;
	}
	r = audit_read_lines(path, 0, locate_line, &c);
	if (r < 0) {
		db_set_err(st, "cannot read %s", path);
		return r;
	}
	if (!c.found) {
		db_set_err(st, "%s no longer holds record %lld as the store has it (%s): it was cut or "
		    "rewritten; its records are not copied to the store", path, (long long)seq,
		    c.seq < seq ? "it has fewer records" : "that record differs");
		return ERR_INVAL;
	}
	cur->start = c.start;
	cur->size = c.end;
	cur->valid = true;
	return 0;
}

/* ms since the epoch from a record's "ts" (0 if it has none that parses). */
static int64_t
record_ts(const char *line, size_t len)
{
	struct audit_record rec;
	int64_t ms = 0;

	if (audit_record_parse(line, len, &rec, NULL) != 0)
		return 0;
	const struct audit_field *ts = audit_record_get(&rec, "ts");
	if (ts != NULL && ts->is_string)
		audit_time_parse(ts->val, ts->vlen, &ms);
	audit_record_clear(&rec);
	return ms;
}

/* The text as the store can hold it: valid UTF-8 without NUL (else '?' stands in; its hash then tells). */
static char *
store_text(const char *line, size_t len)
{
	char *t = malloc(len + 1);
	const unsigned char *p = (const unsigned char *)line, *end = p + len;
	size_t k;

	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += k) {
		k = p[i] != 0 ? utf8_len(p + i, end) : 0;
		if (k == 0) {
			t[i] = '?';
			k = 1;
		} else
			memcpy(t + i, p + i, k);
	}
	t[len] = '\0';
	return t;
}

/* Collecting: the lines after the cursor, up to max. */
static int
collect_line(void *arg, const char *line, size_t len, bool overlong, int64_t end)
{
	struct copy *c = arg;
	struct store_audit_record *rec = &c->recs[c->n];

	(void)overlong;
	if (c->check_first && c->n == 0) {
		/* a line that is no record (a torn write) is copied as it is: verify tells */
		struct audit_record pr;
		bool ok = !c->strict;
		if (audit_record_parse(line, len, &pr, NULL) == 0) {
			ok = memcmp(pr.f[pr.n - 1].val, c->cur->hash, AUDIT_HASH_HEX) == 0;
			audit_record_clear(&pr);
		}
		if (!ok) {
			c->broken = true;
			return 1;
		}
	}
	if ((c->texts[c->n] = store_text(line, len)) == NULL)
		return ERR_NOMEM;
	c->start = c->n == 0 ? c->cur->size : c->end;
	audit_hash_hex(line, len, c->hashes[c->n]);
	rec->seq = c->cur->seq + c->n + 1;
	rec->ts = record_ts(line, len);
	rec->hash = c->hashes[c->n];
	rec->record = c->texts[c->n];
	c->end = end;
	return ++c->n == c->max ? 1 : 0;
}

static void
copy_free(struct copy *c)
{
	for (int i = 0; c->texts != NULL && i < c->n; i++)
		free(c->texts[i]);
	free(c->texts);
	free(c->hashes);
	free(c->recs);
}

#define BROKEN	2	/* copy_batch: the line after the cursor does not chain onto it */

/* One batch of up to max records from the cursor on; *copied gets how many. */
static int
copy_batch(struct store *st, const char *node, const char *path, struct store_audit_cursor *cur,
    int max, int *copied)
{
	struct copy c = { .cur = cur, .max = max, .check_first = cur->seq > 0, .strict = cur->start < 0,
		.end = cur->size };
	int r;

	c.recs = calloc((size_t)max, sizeof(*c.recs));
	c.hashes = calloc((size_t)max, sizeof(*c.hashes));
	c.texts = calloc((size_t)max, sizeof(*c.texts));
	if (c.recs == NULL || c.hashes == NULL || c.texts == NULL) {
		copy_free(&c);
		return ERR_NOMEM;
	}
	r = audit_read_lines(path, cur->size, collect_line, &c);
	if (r == 1)
		r = 0;
	if (r == 0 && c.broken) {
		cur->valid = false;	/* the cursor's offset no longer holds the chain: count again */
		r = BROKEN;
	} else if (r < 0)
		db_set_err(st, "cannot read %s", path);
	if (r == 0 && c.n > 0) {
		struct audit_head h = { .seq = cur->seq + c.n, .size = c.end };
		memcpy(h.hash, c.hashes[c.n - 1], sizeof(h.hash));
		if ((r = store_audit_records_append(st, node, c.recs, c.n, &h)) == 0) {
			cur->seq = h.seq;
			cur->start = c.start;
			cur->size = h.size;
			memcpy(cur->hash, h.hash, sizeof(cur->hash));
			*copied += c.n;
		}
	}
	int n = c.n;
	copy_free(&c);
	return r == 0 && n == max ? 1 : r;
}

int
store_audit_sync(struct store *st, const char *node, const char *path,
    struct store_audit_cursor *cur, int max, int *copied)
{
	char hash[AUDIT_HASH_HEX + 1];
	int64_t seq;
	int r, rounds = 0;

	*copied = 0;
	if ((r = db_check_label(st, "node", node)) != 0)
		return r;
	if (max <= 0)
		max = STORE_AUDIT_BATCH;
	do {
		if ((r = store_audit_records_last(st, node, &seq, hash)) != 0 ||
		    (r = locate(st, node, path, cur, seq, hash, rounds == 0)) != 0)
			return r;
		r = copy_batch(st, node, path, cur, max, copied);
		if (r == BROKEN && rounds++ == 0)
			r = 1;	/* located by counting once more; a second miss is a rewritten log */
		else if (r == BROKEN) {
			db_set_err(st, "%s no longer continues record %lld as the store has it: it was "
			    "rewritten; its records are not copied to the store", path, (long long)seq);
			r = ERR_INVAL;
		}
	} while (r == 1);
	return r;
}
