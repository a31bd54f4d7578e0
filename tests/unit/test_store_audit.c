/*
 * test_store_audit.c: the audit chains in the store (store/anchor.c,
 * store/auditrec.c) on both engines: anchors by node and the claim of the
 * pre-nodes one, records appended and read back merged, a node's audit.log
 * copied by seq, and verify of a chain cut, emptied or rewritten in the
 * store. Hostile inputs first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "common/audit.h"
#include "common/err.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char state[600], log[700];
	char uri[512];		/* "" on SQLite */
	struct store *st;
};

static int
fixture_new(void **state, struct fixture **out)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/" AUDIT_LOG_NAME, fx->state);
	*out = fx;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx;

	if (fixture_new(state, &fx) != 0)
		return -1;
	return store_open(fx->state, &fx->st) == 0 ? 0 : -1;
}

static int
setup_pg(void **state)
{
	struct fixture *fx;
	char why[512] = "";

	if (fixture_new(state, &fx) != 0)
		return -1;
	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (pgtest_fresh(fx->uri, sizeof(fx->uri)) != 0)
		return -1;
	if (store_open_spec(fx->uri, NULL, &fx->st, why, sizeof(why)) != 0) {
		print_error("%s\n", why);
		return -1;
	}
	/* audit.log lives in a state directory whatever the store */
	return mkdir(fx->state, 0700) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Raw SQL on the fixture's store, as an intruder (or an older version) would write it. */
static void
raw_sql(struct fixture *fx, const char *sql)
{
	if (fx->uri[0] != '\0') {
		PGconn *c = PQconnectdb(fx->uri);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PGresult *res = PQexec(c, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
		return;
	}
	char path[700], *msg = NULL;
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/outpost.db", fx->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void
head_of(struct audit_head *h, int64_t seq, char fill)
{
	memset(h, 0, sizeof(*h));
	h->seq = seq;
	h->size = seq * 100;
	memset(h->hash, fill, AUDIT_HASH_HEX);
}

/* ---- anchors by node ---- */

static void
test_anchor_hostile(void **state)
{
	struct fixture *fx = *state;
	struct audit_head h, got;
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	head_of(&h, 3, 'a');
	const char *bad[] = { NULL, "", "a b", "../a", "a'; DROP TABLE audit_anchors; --", "-a",
		"a\nb", longname };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_audit_anchor_set(fx->st, bad[i], &h, false), ERR_NAME);
		if (bad[i] != NULL && bad[i][0] != '\0')
			assert_int_equal(store_audit_anchor_get(fx->st, bad[i], &got), ERR_NAME);
		assert_int_not_equal(store_audit_anchor_claim(fx->st, bad[i]), 0);
	}
	assert_int_equal(store_audit_anchor_get(fx->st, NULL, &got), ERR_NAME);
	h.hash[5] = 'G';
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_claim(fx->st, "a"), ERR_NOTFOUND);
}

static int
count_chain(void *arg, const char *node, const struct audit_head *anchor)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s:%lld ", node,
	    anchor != NULL ? (long long)anchor->seq : -1LL);
	return 0;
}

/* Each node's anchor goes forward on its own; a reset takes one node's back. */
static void
test_anchor_by_node(void **state)
{
	struct fixture *fx = *state;
	struct audit_head h, got;
	char chains[256] = "";

	head_of(&h, 5, 'a');
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), 0);
	head_of(&h, 2, 'b');
	assert_int_equal(store_audit_anchor_set(fx->st, "B", &h, false), ERR_NAME);	/* lower case only */
	assert_int_equal(store_audit_anchor_set(fx->st, "b", &h, false), 0);
	head_of(&h, 3, 'c');
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), 0);	/* behind: ignored */
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 5);
	assert_int_equal(store_audit_anchor_get(fx->st, "b", &got), 0);
	assert_int_equal(got.seq, 2);
	assert_int_equal(got.size, 200);
	head_of(&h, 1, 'd');
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, true), 0);	/* reset */
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 1);
	assert_int_equal(store_audit_anchor_get(fx->st, "b", &got), 0);
	assert_int_equal(got.seq, 2);
	assert_int_equal(store_audit_chains(fx->st, count_chain, chains), 0);
	assert_string_equal(chains, "a:1 b:2 ");
}

/* The pre-nodes anchor ('') goes to the first node that claims it, and only to one. */
static void
test_anchor_claim(void **state)
{
	struct fixture *fx = *state;
	struct audit_head h, got;
	char chains[256] = "";

	raw_sql(fx, "INSERT INTO audit_anchors (node, seq, size, hash, updated) VALUES ('', 7, 700, "
	    "'7777777777777777777777777777777777777777777777777777777777777777', 1)");
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), 0);
	assert_int_equal(got.seq, 7);
	assert_int_equal(store_audit_chains(fx->st, count_chain, chains), 0);
	assert_string_equal(chains, ":7 ");
	/* a node with a chain of its own never takes it */
	head_of(&h, 2, 'b');
	assert_int_equal(store_audit_anchor_set(fx->st, "b", &h, false), 0);
	assert_int_equal(store_audit_anchor_claim(fx->st, "b"), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_get(fx->st, "b", &got), 0);
	assert_int_equal(got.seq, 2);
	/* the first without one does; the next finds nothing left */
	assert_int_equal(store_audit_anchor_claim(fx->st, "a"), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.size, 700);
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_claim(fx->st, "c"), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_get(fx->st, "c", &got), ERR_NOTFOUND);
}

/* ---- records ---- */

struct seen {
	char text[4096];
	int n;
};

static int
collect(void *arg, const struct store_audit_record *r)
{
	struct seen *s = arg;

	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%s/%lld/%lld ",
	    r->node, (long long)r->seq, (long long)r->ts);
	s->n++;
	return 0;
}

static const char H1[] = "1111111111111111111111111111111111111111111111111111111111111111";

static void
test_records_hostile(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_record r = { .seq = 1, .ts = 5, .hash = H1, .record = "{}" };
	struct seen s = { "", 0 };
	int64_t seq;
	char hash[AUDIT_HASH_HEX + 1];

	assert_int_equal(store_audit_records_append(fx->st, "", &r, 1, NULL), ERR_NAME);
	assert_int_equal(store_audit_records_append(fx->st, "a b", &r, 1, NULL), ERR_NAME);
	assert_int_equal(store_audit_records_append(fx->st, "a", NULL, 1, NULL), ERR_INVAL);
	assert_int_equal(store_audit_records_append(fx->st, "a", &r, -1, NULL), ERR_INVAL);
	r.seq = 0;
	assert_int_equal(store_audit_records_append(fx->st, "a", &r, 1, NULL), ERR_INVAL);
	r.seq = 1;
	r.hash = "'; DROP TABLE audit_records; --";
	assert_int_equal(store_audit_records_append(fx->st, "a", &r, 1, NULL), ERR_INVAL);
	r.hash = H1;
	r.record = NULL;
	assert_int_equal(store_audit_records_append(fx->st, "a", &r, 1, NULL), ERR_INVAL);
	/* a batch with one bad record leaves nothing behind */
	struct store_audit_record two[2] = {
		{ .seq = 1, .ts = 5, .hash = H1, .record = "{}" },
		{ .seq = 2, .ts = 5, .hash = "x", .record = "{}" },
	};
	assert_int_equal(store_audit_records_append(fx->st, "a", two, 2, NULL), ERR_INVAL);
	assert_int_equal(store_audit_records_list(fx->st, 0, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_audit_records_last(fx->st, "a", &seq, hash), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(store_audit_records_last(fx->st, "../a", &seq, hash), ERR_NAME);
}

/* Two nodes' records, read back merged by time; a second copier's duplicates are harmless. */
static void
test_records_merged(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_record a[3] = {
		{ .seq = 1, .ts = 1000, .hash = H1, .record = "{\"a\":1}" },
		{ .seq = 2, .ts = 3000, .hash = H1, .record = "{\"a\":2}" },
		{ .seq = 3, .ts = 5000, .hash = H1, .record = "{\"a\":3}" },
	};
	struct store_audit_record b[2] = {
		{ .seq = 1, .ts = 2000, .hash = H1, .record = "{\"b\":1}" },
		{ .seq = 2, .ts = 3000, .hash = H1, .record = "{\"b\":2}" },
	};
	struct audit_head h, got;
	struct seen s = { "", 0 };
	int64_t seq;
	char hash[AUDIT_HASH_HEX + 1];

	head_of(&h, 2, '2');
	assert_int_equal(store_audit_records_append(fx->st, "a", a, 2, &h), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 2);
	head_of(&h, 3, '3');
	assert_int_equal(store_audit_records_append(fx->st, "a", a, 3, &h), 0);	/* 1, 2 again */
	assert_int_equal(store_audit_records_append(fx->st, "b", b, 2, NULL), 0);
	assert_int_equal(store_audit_records_list(fx->st, 0, collect, &s), 0);
	assert_string_equal(s.text, "a/1/1000 b/1/2000 a/2/3000 b/2/3000 a/3/5000 ");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_records_list(fx->st, 3000, collect, &s), 0);
	assert_string_equal(s.text, "a/2/3000 b/2/3000 a/3/5000 ");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_records_chain(fx->st, "b", collect, &s), 0);
	assert_string_equal(s.text, "b/1/2000 b/2/3000 ");
	assert_int_equal(store_audit_records_last(fx->st, "a", &seq, hash), 0);
	assert_int_equal(seq, 3);
	assert_string_equal(hash, H1);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 3);
}

/* What a peer can plant in a record's text comes back byte for byte (records go in as one JSON batch). */
static int
texts(void *arg, const struct store_audit_record *r)
{
	struct seen *s = arg;

	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%s|", r->record);
	s->n++;
	return 0;
}

static void
test_records_text_round_trip(void **state)
{
	struct fixture *fx = *state;
	static const char *const planted[] = {
		"{\"command\":\"a\\\"b\\\\c\"}",
		"quote \" backslash \\ slash / tab\t cr\r",
		"C1 \xc2\x85 bidi \xe2\x80\xae rev \xe2\x81\xa6 \xf0\x9f\x94\x91 ]\"[,",
		"\x01\x1f\x7f \\u0000 \\ud800 ' ; DROP TABLE audit_records; --",
	};
	enum { N = sizeof(planted) / sizeof(planted[0]) };
	struct store_audit_record recs[N];
	struct seen s = { "", 0 };
	char want[4096] = "";

	for (int i = 0; i < N; i++) {
		recs[i] = (struct store_audit_record){ .seq = i + 1, .ts = 100 + i, .hash = H1, .record = planted[i] };
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s|", planted[i]);
	}
	assert_int_equal(store_audit_records_append(fx->st, "a", recs, N, NULL), 0);
	assert_int_equal(store_audit_records_chain(fx->st, "a", texts, &s), 0);
	assert_int_equal(s.n, N);
	assert_string_equal(s.text, want);
}

/* ---- a node's audit.log copied, and verified in the store ---- */

/* n records appended to the fixture's audit.log, directly (as the CLI writes). */
static void
write_as(struct fixture *fx, int n, const char *user)
{
	struct audit *a;

	assert_int_equal(audit_open(fx->state, &a), 0);
	for (int i = 0; i < n; i++) {
		struct jbuf *b = audit_begin(a, "admin");
		jbuf_member_int(b, "i", i);
		jbuf_member_str(b, "user", user);
		assert_int_equal(audit_commit(a), 0);
	}
	audit_close(a);
}

static void
write_records(struct fixture *fx, int n)
{
	write_as(fx, n, "alice");
}

/* verify of node's chain with its anchor: returns r, res.why in why. */
static int
verify(struct fixture *fx, const char *node, char *why, size_t len)
{
	struct audit_verify_result res;
	struct audit_head anchor;
	int ar = store_audit_anchor_get(fx->st, node, &anchor);

	assert_true(ar == 0 || ar == ERR_NOTFOUND);
	int r = store_audit_chain_verify(fx->st, node, ar == 0 ? &anchor : NULL, &res);
	snprintf(why, len, "%s", res.why);
	if (r == 0)
		snprintf(why, len, "OK %zu %zu", res.records, res.anchor_seq);
	return r;
}

static void
expect_verify(struct fixture *fx, const char *node, int want_r, const char *want)
{
	char why[256];
	int r = verify(fx, node, why, sizeof(why));

	if (r != want_r || strstr(why, want) == NULL)
		fail_msg("verify %s: %d \"%s\", wanted %d \"%s\"", node, r, why, want_r, want);
}

static void
sync_ok(struct fixture *fx, const char *node, struct store_audit_cursor *cur, int max, int want)
{
	int n = -1, r = store_audit_sync(fx->st, node, fx->log, cur, max, &n);

	if (r != 0)
		fail_msg("sync: %d %s", r, store_errmsg(fx->st));
	assert_int_equal(n, want);
}

static void
test_sync_and_verify(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_cursor cur = { 0 }, other = { 0 };
	struct seen s = { "", 0 };
	int n;

	/* hostile: a bad node, a missing file */
	assert_int_equal(store_audit_sync(fx->st, "a b", fx->log, &cur, 0, &n), ERR_NAME);
	write_records(fx, 5);
	sync_ok(fx, "a", &cur, 2, 5);		/* in batches of 2 */
	assert_int_equal(cur.seq, 5);
	sync_ok(fx, "a", &cur, 0, 0);		/* nothing new */
	write_records(fx, 3);
	sync_ok(fx, "a", &cur, 0, 3);
	sync_ok(fx, "a", &other, 0, 0);		/* a second copier finds it done */
	write_records(fx, 2);
	struct store_audit_cursor third = { 0 };
	sync_ok(fx, "a", &third, 0, 2);		/* a new cursor starts where the anchor says */
	assert_int_equal(third.seq, 10);
	expect_verify(fx, "a", 0, "OK 10 10");
	/* the same file as node b: a chain of its own */
	struct store_audit_cursor fourth = { 0 };
	sync_ok(fx, "b", &fourth, 0, 10);
	expect_verify(fx, "b", 0, "OK 10 10");
	assert_int_equal(store_audit_records_list(fx->st, 0, collect, &s), 0);
	assert_int_equal(s.n, 20);

	/* a record rewritten in the store, its hash column too: the next prev tells */
	raw_sql(fx, "UPDATE audit_records SET record = replace(record, 'alice', 'mallory') "
	    "WHERE node = 'b' AND seq = 3");
	expect_verify(fx, "b", ERR_INVAL, "record 3: its text does not hash to its hash column");
	expect_verify(fx, "a", 0, "OK 10 10");
	raw_sql(fx, "UPDATE audit_records SET hash = (SELECT hash FROM audit_records WHERE node = 'a' "
	    "AND seq = 1) WHERE node = 'b' AND seq = 3");
	raw_sql(fx, "UPDATE audit_records SET record = (SELECT record FROM audit_records WHERE node = 'a' "
	    "AND seq = 1) WHERE node = 'b' AND seq = 3");
	expect_verify(fx, "b", ERR_INVAL, "record 3: prev does not match record 2");
	/* a record gone from the middle */
	raw_sql(fx, "DELETE FROM audit_records WHERE node = 'a' AND seq = 4");
	expect_verify(fx, "a", ERR_INVAL, "record 4: missing (the next the store holds is record 5)");
}

/* Record seq of node's chain, as the store holds it, into text. */
struct grab {
	int64_t seq;
	char text[AUDIT_RECORD_MAX];
};

static int
grab_one(void *arg, const struct store_audit_record *r)
{
	struct grab *g = arg;

	if (r->seq == g->seq)
		snprintf(g->text, sizeof(g->text), "%s", r->record);
	return 0;
}

static void
test_verify_cut_and_tail(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_cursor cur = { 0 };
	struct grab g = { .seq = 4 };
	char hex[AUDIT_HASH_HEX + 1], sql[256];

	write_records(fx, 4);
	sync_ok(fx, "a", &cur, 0, 4);
	expect_verify(fx, "a", 0, "OK 4 4");
	/* the tail rewritten as an intruder would: new text chained onto record 3, its true hash */
	raw_sql(fx, "UPDATE audit_records SET record = '{\"ts\":\"2026-01-01T00:00:00.000Z\","
	    "\"event\":\"x\",\"prev\":\"' || (SELECT hash FROM audit_records WHERE node = 'a' AND seq = 3) "
	    "|| '\"}' WHERE node = 'a' AND seq = 4");
	assert_int_equal(store_audit_records_chain(fx->st, "a", grab_one, &g), 0);
	audit_hash_hex(g.text, strlen(g.text), hex);
	snprintf(sql, sizeof(sql), "UPDATE audit_records SET hash = '%s' WHERE node = 'a' AND seq = 4", hex);
	raw_sql(fx, sql);
	expect_verify(fx, "a", ERR_INVAL, "record 4: not the record the store anchored");
	/* cut at its end */
	raw_sql(fx, "DELETE FROM audit_records WHERE node = 'a' AND seq >= 3");
	expect_verify(fx, "a", ERR_INVAL, "the chain ends at record 2, but the store's anchor is record 4");
	/* emptied */
	raw_sql(fx, "DELETE FROM audit_records WHERE node = 'a'");
	expect_verify(fx, "a", ERR_INVAL, "the chain is empty, but the store's anchor is record 4");
}

/* A log cut or rewritten under the copy: nothing more is copied, the store's copy stays. */
static void
test_sync_refuses_cut_log(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_cursor cur = { 0 }, fresh = { 0 };
	int n;

	write_records(fx, 3);
	sync_ok(fx, "a", &cur, 0, 3);
	assert_int_equal(truncate(fx->log, 0), 0);
	write_as(fx, 5, "bob");		/* a new chain, longer than the old */
	assert_int_equal(store_audit_sync(fx->st, "a", fx->log, &cur, 0, &n), ERR_INVAL);
	assert_non_null(strstr(store_errmsg(fx->st), "rewritten"));
	assert_int_equal(store_audit_sync(fx->st, "a", fx->log, &fresh, 0, &n), ERR_INVAL);
	assert_int_equal(n, 0);
	assert_int_equal(truncate(fx->log, 0), 0);
	assert_int_equal(store_audit_sync(fx->st, "a", fx->log, &fresh, 0, &n), ERR_INVAL);
	assert_non_null(strstr(store_errmsg(fx->st), "fewer records"));
	expect_verify(fx, "a", 0, "OK 3 3");
}

/* A torn line (a crash mid-write) is copied as it is, and verify names it. */
static void
test_sync_torn_line(void **state)
{
	struct fixture *fx = *state;
	struct store_audit_cursor cur = { 0 };

	write_records(fx, 2);
	FILE *f = fopen(fx->log, "a");
	assert_non_null(f);
	fputs("{\"ts\":\"2026-01-01T00:00:00.000Z\",\"ev\xff", f);	/* torn, and not UTF-8 */
	fclose(f);
	sync_ok(fx, "a", &cur, 0, 2);		/* the torn tail waits for its newline */
	write_records(fx, 2);			/* the writer ends the torn line first */
	sync_ok(fx, "a", &cur, 0, 3);
	expect_verify(fx, "a", ERR_INVAL, "record 3: its text does not hash");
}

/*
 * A single-node SQLite install from before nodes (schema 9, one anchor in
 * audit_anchor) upgrades: the anchor becomes the pre-nodes chain's, the node
 * claims it, and its audit.log verifies against it. Then the writer, started
 * from that anchor, appends without an audit-cut.
 */
static void
test_upgrade_from_9(void **state)
{
	struct fixture *fx = *state;
	struct audit_verify_result res;
	struct audit_head h, got;
	struct audit *a;
	bool reset;
	char sql[512];

	assert_int_equal(audit_open(fx->state, &a), 0);
	for (int i = 0; i < 3; i++) {
		jbuf_member_int(audit_begin(a, "admin"), "i", i);
		assert_int_equal(audit_commit(a), 0);
	}
	assert_true(audit_head_take(a, &h, &reset));
	audit_close(a);
	store_close(fx->st);
	fx->st = NULL;
	snprintf(sql, sizeof(sql), "DROP TABLE audit_anchors; DROP TABLE audit_records; DROP TABLE nodes; "
	    "DROP INDEX devices_by_pseq; ALTER TABLE devices DROP COLUMN node; "
	    "ALTER TABLE devices DROP COLUMN gen; ALTER TABLE devices DROP COLUMN pseq; "
	    "INSERT INTO audit_anchor (id, seq, size, hash, updated) VALUES (1, %lld, %lld, '%s', 1); "
	    "PRAGMA user_version = 9;", (long long)h.seq, (long long)h.size, h.hash);
	raw_sql(fx, sql);
	assert_int_equal(store_open(fx->state, &fx->st), 0);	/* migration 10 */
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), 0);
	assert_int_equal(got.seq, 3);
	assert_int_equal(store_audit_anchor_get(fx->st, "vm1", &got), ERR_NOTFOUND);
	/* a new node, whose log does not hold that chain, leaves it alone */
	char other[700];
	bool claimed = true;
	snprintf(other, sizeof(other), "%s/other.log", fx->dir);
	assert_int_equal(store_audit_anchor_load(fx->st, "new", other, &got, &claimed), ERR_NOTFOUND);
	assert_false(claimed);
	FILE *f = fopen(other, "w");
	assert_non_null(f);
	fputs("{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"x\",\"prev\":\"0\"}\n", f);
	fclose(f);
	assert_int_equal(store_audit_anchor_load(fx->st, "new", other, &got, &claimed), ERR_NOTFOUND);
	assert_false(claimed);
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), 0);
	/* the node whose log it is takes it */
	assert_int_equal(store_audit_anchor_load(fx->st, "vm1", fx->log, &got, &claimed), 0);
	assert_true(claimed);
	assert_int_equal(store_audit_anchor_get(fx->st, "", &got), ERR_NOTFOUND);
	assert_int_equal(store_audit_anchor_load(fx->st, "vm1", fx->log, &got, &claimed), 0);
	assert_false(claimed);
	assert_int_equal(audit_verify_anchored(fx->log, &got, &res), 0);
	assert_true(res.anchored);
	assert_int_equal(res.anchor_seq, 3);
	/* the writer starts from the claimed anchor: no audit-cut, the chain goes on */
	assert_int_equal(audit_open(fx->state, &a), 0);
	audit_set_head(a, &got);
	jbuf_member_int(audit_begin(a, "admin"), "i", 3);
	assert_int_equal(audit_commit(a), 0);
	assert_true(audit_head_take(a, &h, &reset));
	assert_false(reset);
	audit_close(a);
	assert_int_equal(store_audit_anchor_set(fx->st, "vm1", &h, reset), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "vm1", &got), 0);
	assert_int_equal(got.seq, 4);
	assert_int_equal(audit_verify_anchored(fx->log, &got, &res), 0);
	assert_int_equal(res.records, 4);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)
#define BOTH(X) X(test_anchor_hostile), X(test_anchor_by_node), X(test_anchor_claim), \
	X(test_records_hostile), X(test_records_merged), X(test_records_text_round_trip), X(test_sync_and_verify), \
	X(test_verify_cut_and_tail), X(test_sync_refuses_cut_log), X(test_sync_torn_line)
	const struct CMUnitTest tests[] = { BOTH(T), T(test_upgrade_from_9), BOTH(P) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
