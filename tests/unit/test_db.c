/* test_db.c: the store's two engines (db_sqlite, db_pg) through the raw db.h contract (prepare, bind, step, errors, transactions), hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/eventfd.h>

#include "common/err.h"
#include "store/db.h"
#include "pgtest.h"
#include "testutil.h"

struct fixture {
	const struct db_backend *be;
	char target[512];		/* what be->open takes */
	struct store st;
	char *dir;
};

/* ---- the engines ---- */

/* A fresh target for engine be in fx->target; 0 or -1. */
static int
fresh_target(struct fixture *fx)
{
	if (fx->be == &db_pg)
		return pgtest_fresh(fx->target, sizeof(fx->target));
	if (fx->dir == NULL && (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	static int n;
	snprintf(fx->target, sizeof(fx->target), "%s/db%d.sqlite", fx->dir, ++n);
	return 0;
}

static int
open_store(struct fixture *fx, struct store *st)
{
	char why[512] = "";
	int r;

	memset(st, 0, sizeof(*st));
	st->be = fx->be;
	r = fx->be->open(st, fx->target, why, sizeof(why));
	if (r != 0)
		print_error("open %s: %d %s\n", fx->target, r, why);
	return r;
}

static int
setup_engine(void **state, const struct db_backend *be)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->be = be;
	*state = fx;
	if (be == &db_pg && pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (fresh_target(fx) != 0 || open_store(fx, &fx->st) != 0)
		return -1;
	return 0;
}

static int
setup_pg(void **state)
{
	return setup_engine(state, &db_pg);
}

static int
setup_sqlite(void **state)
{
	return setup_engine(state, &db_sqlite);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL)
		return 0;
	if (fx->st.be != NULL)
		fx->st.be->close(&fx->st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

static struct query q_fleet_add = { .sql = "INSERT INTO fleets (name, created) VALUES (?1, ?2)" };
static struct query q_fleet_names = { .sql = "SELECT name FROM fleets ORDER BY name" };
static struct query q_fleet_count = { .sql = "SELECT count(*) FROM fleets" };

static int
fleet_add(struct store *st, const char *name)
{
	struct db_stmt *s;
	int r = st->be->prepare(st, &q_fleet_add, &s);

	if (r != 0)
		return r;
	st->be->bind_text(s, 1, name);
	st->be->bind_int(s, 2, 1700000000);
	r = st->be->step(s);
	st->be->release(s);
	return r;
}

/* The number of fleets, or a negative err.h code. */
static int64_t
fleet_count(struct store *st)
{
	struct db_stmt *s;
	int64_t n;
	int r = st->be->prepare(st, &q_fleet_count, &s);

	if (r != 0)
		return r;
	r = st->be->step(s);
	n = r == DB_ROW ? st->be->col_int(s, 0) : r < 0 ? r : -1000;
	st->be->release(s);
	return n;
}

static void
assert_one_sentence(struct store *st)
{
	assert_true(st->errmsg[0] != '\0');
	assert_null(strchr(st->errmsg, '\n'));
}

/* ---- hostile inputs ---- */

/* A URI that libpq cannot parse is a configuration error, its password never shown. */
static void
test_pg_open_bad_uri(void **state)
{
	struct store st = { .be = &db_pg };
	char why[512];

	(void)state;
	int r = db_pg.open(&st, "postgresql://outpost:s3cr%zzet@127.0.0.1:1/outpost", why, sizeof(why));
	assert_int_equal(r, ERR_CONFIG);
	assert_null(strstr(why, "s3cr"));
	assert_non_null(strstr(why, "***"));
	assert_null(st.conn);
	r = db_pg.open(&st, "postgresql://h/db?nosuchparameter=1", why, sizeof(why));
	assert_int_equal(r, ERR_CONFIG);
}

/* Nothing listens on the port: unreachable, one sentence, password masked. */
static void
test_pg_open_refused(void **state)
{
	struct store st = { .be = &db_pg };
	char why[512];

	(void)state;
	int r = db_pg.open(&st, "postgresql://outpost:hunter2@127.0.0.1:1/outpost?password=hunter3",
	    why, sizeof(why));
	assert_int_equal(r, ERR_UNREACHABLE);
	assert_null(strstr(why, "hunter"));
	assert_non_null(strstr(why, "127.0.0.1"));
	assert_null(strchr(why, '\n'));
	assert_null(st.conn);
}

/* ?N inside literals, quoted identifiers and comments is text, not a parameter. */
static struct query q_literals = {
	.sql = "SELECT '?9 ''?8''' /* ?7 */, ?1 || '?', coalesce(?2, 'null?') AS \"?5\" -- ?6\n",
};

static void
test_literals_keep_question_marks(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	struct db_stmt *s;

	assert_int_equal(st->be->prepare(st, &q_literals, &s), 0);
	assert_int_equal(st->be->bind_text(s, 1, "x'y?"), 0);
	assert_int_equal(st->be->bind_text(s, 2, NULL), 0);
	assert_int_equal(st->be->step(s), DB_ROW);
	assert_string_equal(st->be->col_text(s, 0), "?9 '?8'");
	assert_string_equal(st->be->col_text(s, 1), "x'y??");
	assert_string_equal(st->be->col_text(s, 2), "null?");
	assert_int_equal(st->be->step(s), DB_DONE);
	st->be->release(s);
}

/* A parameter the query does not have is refused, and the step then fails. */
static void
test_bind_out_of_range(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	struct db_stmt *s;

	assert_int_equal(st->be->prepare(st, &q_fleet_add, &s), 0);
	assert_true(st->be->bind_int(s, 3, 1) < 0);
	assert_true(st->be->bind_int(s, 0, 1) < 0);
	assert_true(st->be->bind_text(s, -1, "x") < 0);
	st->be->release(s);
	assert_int_equal(fleet_count(st), 0);
}

/* PostgreSQL's rewriting refuses what it cannot number. */
static struct query q_bare = { .sql = "SELECT ?" };
static struct query q_zero = { .sql = "SELECT ?0" };
static struct query q_big = { .sql = "SELECT ?33" };
static struct query q_pg_own = {
	.sql = "SELECT no_such_function(?1)",
	.pg = "SELECT ?1 || 'pg'",
};

static void
test_pg_bad_parameters(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	struct db_stmt *s;

	assert_int_equal(st->be->prepare(st, &q_bare, &s), ERR_STORE);
	assert_null(s);
	assert_one_sentence(st);
	assert_int_equal(st->be->prepare(st, &q_zero, &s), ERR_STORE);
	assert_int_equal(st->be->prepare(st, &q_big, &s), ERR_STORE);
	/* .pg is what PostgreSQL runs */
	assert_int_equal(st->be->prepare(st, &q_pg_own, &s), 0);
	assert_int_equal(st->be->bind_text(s, 1, "on "), 0);
	assert_int_equal(st->be->step(s), DB_ROW);
	assert_string_equal(st->be->col_text(s, 0), "on pg");
	st->be->release(s);
	/* E'' strings take backslash escapes: the ?2 in it is text */
	struct query q = { .sql = "SELECT E'\\'?2' || ?1" };
	assert_int_equal(st->be->prepare(st, &q, &s), 0);
	assert_int_equal(st->be->bind_text(s, 1, "v"), 0);
	assert_true(st->be->bind_text(s, 2, "w") < 0);
	st->be->release(s);
	assert_int_equal(st->be->prepare(st, &q, &s), 0);
	assert_int_equal(st->be->bind_text(s, 1, "v"), 0);
	assert_int_equal(st->be->step(s), DB_ROW);
	assert_string_equal(st->be->col_text(s, 0), "'?2v");
	st->be->release(s);
}

/* Text comes back byte for byte: quotes, backslashes, SQL, UTF-8, long. */
static void
test_text_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q_name = { .sql = "SELECT name, length(name) FROM fleets WHERE name = ?1" };
	char big[4001];
	const char *names[] = {
		"it's", "a\\b\\\\c", "'; DROP TABLE fleets; --", "\"q\"", "$1 ?1 %s",
		"caf\xc3\xa9 \xe2\x9c\x93", big,
	};
	struct db_stmt *s;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(fleet_add(st, names[i]), DB_DONE);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(st->be->prepare(st, &q_name, &s), 0);
		st->be->bind_text(s, 1, names[i]);
		assert_int_equal(st->be->step(s), DB_ROW);
		assert_string_equal(st->be->col_text(s, 0), names[i]);
		assert_false(st->be->col_null(s, 0));
		assert_int_equal(st->be->step(s), DB_DONE);
		st->be->release(s);
	}
	assert_int_equal(fleet_count(st), (int64_t)(sizeof(names) / sizeof(names[0])));
}

/* NULL binds NULL; a NULL column reads as 0 and "". */
static void
test_nulls(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q = { .sql = "SELECT ?1, upper(?2) IS NULL, hostname FROM devices RIGHT JOIN (SELECT 1) x ON 0 = 1" };
	struct db_stmt *s;

	assert_int_equal(st->be->prepare(st, &q, &s), 0);
	assert_int_equal(st->be->bind_text(s, 1, NULL), 0);
	assert_int_equal(st->be->bind_text(s, 2, NULL), 0);
	assert_int_equal(st->be->step(s), DB_ROW);
	assert_true(st->be->col_null(s, 0));
	assert_string_equal(st->be->col_text(s, 0), "");
	assert_int_equal(st->be->col_int(s, 0), 0);
	assert_int_equal(st->be->col_int(s, 1), 1);	/* a boolean reads as 1 */
	assert_true(st->be->col_null(s, 2));
	/* past the last column */
	assert_string_equal(st->be->col_text(s, 9), "");
	assert_true(st->be->col_null(s, 9));
	st->be->release(s);
}

/* Integers are int64 both ways. */
static void
test_int64(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q = { .sql = "INSERT INTO sessions (id, kind, principal, since, bytes) "
	    "VALUES (?1, 'user', 'u', ?2, ?3)" };
	static struct query q_get = { .sql = "SELECT id, since, bytes FROM sessions" };
	struct db_stmt *s;

	assert_int_equal(st->be->prepare(st, &q, &s), 0);
	st->be->bind_int(s, 1, INT64_MAX);
	st->be->bind_int(s, 2, INT64_MIN);
	st->be->bind_int(s, 3, -1);
	assert_int_equal(st->be->step(s), DB_DONE);
	st->be->release(s);
	assert_int_equal(st->be->prepare(st, &q_get, &s), 0);
	assert_int_equal(st->be->step(s), DB_ROW);
	assert_true(st->be->col_int(s, 0) == INT64_MAX);
	assert_true(st->be->col_int(s, 1) == INT64_MIN);
	assert_true(st->be->col_int(s, 2) == -1);
	st->be->release(s);
}

/* Unique and check violations are ERR_EXISTS, a foreign key ERR_NOTFOUND; none counts as a failure. */
static void
test_constraint_codes(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q_admin = { .sql = "INSERT INTO users (name, admin, created) VALUES (?1, ?2, 0)" };
	static struct query q_dev = { .sql = "INSERT INTO devices (name, fleet_id, created) VALUES (?1, ?2, 0)" };
	struct db_stmt *s;

	assert_int_equal(fleet_add(st, "acme"), DB_DONE);
	assert_int_equal(fleet_add(st, "acme"), ERR_EXISTS);
	assert_one_sentence(st);
	assert_int_equal(st->be->prepare(st, &q_admin, &s), 0);
	st->be->bind_text(s, 1, "u");
	st->be->bind_int(s, 2, 2);
	assert_int_equal(st->be->step(s), ERR_EXISTS);
	st->be->release(s);
	assert_one_sentence(st);
	assert_int_equal(st->be->prepare(st, &q_dev, &s), 0);
	st->be->bind_text(s, 1, "d");
	st->be->bind_int(s, 2, 987654321);
	assert_int_equal(st->be->step(s), ERR_NOTFOUND);
	st->be->release(s);
	assert_one_sentence(st);
	assert_int_equal(st->failures, 0);
	/* the store still works after each */
	assert_int_equal(fleet_count(st), 1);
}

/* A real failure (no such table) is ERR_STORE and counted. */
static void
test_store_failure_counted(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q = { .sql = "SELECT * FROM no_such_table WHERE x = ?1" };
	struct db_stmt *s = NULL;
	int r = st->be->prepare(st, &q, &s);

	if (r == 0) {
		st->be->bind_int(s, 1, 1);
		r = st->be->step(s);
		st->be->release(s);
	}
	assert_int_equal(r, ERR_STORE);
	assert_one_sentence(st);
	assert_true(st->failures >= 1);
	assert_int_equal(fleet_count(st), 0);
}

/* ---- statements ---- */

/* changes() counts the rows a finished statement touched. */
static void
test_changes(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	static struct query q = { .sql = "UPDATE fleets SET created = created + 1 WHERE name <> ?1" };
	struct db_stmt *s;

	for (int i = 0; i < 3; i++) {
		char n[8];
		snprintf(n, sizeof(n), "f%d", i);
		assert_int_equal(fleet_add(st, n), DB_DONE);
	}
	assert_int_equal(st->be->prepare(st, &q, &s), 0);
	st->be->bind_text(s, 1, "f1");
	assert_int_equal(st->be->step(s), DB_DONE);
	assert_int_equal(st->be->changes(s), 2);
	st->be->release(s);
}

/* A callback that re-enters the store gets a statement of its own for the same query. */
static void
test_reentered_statement(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	struct db_stmt *outer, *inner;
	int n = 0;

	assert_int_equal(fleet_add(st, "a"), DB_DONE);
	assert_int_equal(fleet_add(st, "b"), DB_DONE);
	assert_int_equal(st->be->prepare(st, &q_fleet_names, &outer), 0);
	assert_int_equal(st->be->step(outer), DB_ROW);
	assert_string_equal(st->be->col_text(outer, 0), "a");
	/* inside the walk: the same query again, and a write */
	assert_int_equal(st->be->prepare(st, &q_fleet_names, &inner), 0);
	assert_ptr_not_equal(inner, outer);
	while (st->be->step(inner) == DB_ROW)
		n++;
	assert_int_equal(n, 2);
	st->be->release(inner);
	assert_int_equal(fleet_add(st, "c"), DB_DONE);
	assert_string_equal(st->be->col_text(outer, 0), "a");	/* the outer row is intact */
	assert_int_equal(st->be->step(outer), DB_ROW);
	assert_string_equal(st->be->col_text(outer, 0), "b");
	st->be->release(outer);
	/* the cached statement is usable again */
	assert_int_equal(st->be->prepare(st, &q_fleet_names, &outer), 0);
	n = 0;
	while (st->be->step(outer) == DB_ROW)
		n++;
	assert_int_equal(n, 3);
	st->be->release(outer);
}

/* ---- transactions ---- */

static void
test_rollback_and_commit(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;

	assert_int_equal(st->be->begin(st), 0);
	assert_int_equal(fleet_add(st, "gone"), DB_DONE);
	assert_int_equal(fleet_count(st), 1);
	st->be->rollback(st);
	assert_int_equal(fleet_count(st), 0);
	assert_int_equal(st->be->begin(st), 0);
	assert_int_equal(fleet_add(st, "kept"), DB_DONE);
	assert_int_equal(st->be->commit(st), 0);
	assert_int_equal(fleet_count(st), 1);
	/* commit or rollback with no transaction */
	assert_true(st->be->commit(st) < 0);
	st->be->rollback(st);
	assert_int_equal(fleet_count(st), 1);
}

/* PostgreSQL: a failed statement dooms its transaction; commit says so and keeps nothing. */
static void
test_pg_failed_statement_dooms_transaction(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;

	assert_int_equal(st->be->begin(st), 0);
	assert_true(st->be->begin(st) < 0);	/* no nesting */
	assert_int_equal(fleet_add(st, "x"), DB_DONE);
	assert_int_equal(fleet_add(st, "x"), ERR_EXISTS);
	assert_int_equal(st->be->commit(st), ERR_STORE);
	assert_one_sentence(st);
	assert_int_equal(fleet_count(st), 0);
}

/* Another connection's write moves the counter. */
static void
test_change_counter(void **state)
{
	struct fixture *fx = *state;
	struct store other;

	assert_int_equal(open_store(fx, &other), 0);
	int64_t c0 = fx->st.be->change_counter(&fx->st);
	assert_true(c0 >= 0);
	assert_int_equal(fx->st.be->change_counter(&fx->st), c0);	/* reading changes nothing */
	assert_int_equal(fleet_add(&other, "new"), DB_DONE);
	int64_t c1 = fx->st.be->change_counter(&fx->st);
	assert_true(c1 != c0);
	other.be->close(&other);
}

/* ---- schema ---- */

static struct query q_version = { .sql = "SELECT max(version) FROM schema_version" };
static struct query q_set_version = { .sql = "UPDATE schema_version SET version = ?1 WHERE version = (SELECT max(version) FROM schema_version)" };

/* Opening again keeps the schema and the data; a newer schema is refused. */
static void
test_pg_schema_version(void **state)
{
	struct fixture *fx = *state;
	struct store again;
	struct db_stmt *s;
	char why[512];

	assert_int_equal(fleet_add(&fx->st, "keep"), DB_DONE);
	assert_int_equal(open_store(fx, &again), 0);
	assert_int_equal(fleet_count(&again), 1);
	assert_int_equal(again.be->prepare(&again, &q_version, &s), 0);
	assert_int_equal(again.be->step(s), DB_ROW);
	assert_int_equal(again.be->col_int(s, 0), 11);
	again.be->release(s);
	assert_int_equal(again.be->prepare(&again, &q_set_version, &s), 0);
	again.be->bind_int(s, 1, 99);
	assert_int_equal(again.be->step(s), DB_DONE);
	again.be->release(s);
	again.be->close(&again);
	memset(&again, 0, sizeof(again));
	again.be = &db_pg;
	assert_int_equal(db_pg.open(&again, fx->target, why, sizeof(why)), ERR_STORE);
	assert_non_null(strstr(why, "newer"));
	assert_null(again.conn);
}

struct opener {
	struct fixture *fx;
	int r;
};

static void *
open_thread(void *arg)
{
	struct opener *o = arg;
	struct store st;

	o->r = open_store(o->fx, &st);
	if (o->r == 0) {
		o->r = fleet_count(&st) == 0 ? 0 : -1;
		st.be->close(&st);
	}
	return NULL;
}

/* Several processes creating the schema at once: each waits for the first (advisory lock). */
static void
test_pg_concurrent_create(void **state)
{
	struct fixture *fx = *state;
	struct opener o[4];
	pthread_t t[4];

	assert_int_equal(fresh_target(fx), 0);	/* an empty schema: all four race to create it */
	for (int i = 0; i < 4; i++) {
		o[i] = (struct opener){ .fx = fx, .r = -1 };
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(o[i].r, 0);
	}
}

/* ---- a statement that loses a deadlock runs again ---- */

struct updater {
	struct store *st;
	int r, changes;
};

static struct query q_touch_both = {
	.sql = "UPDATE fleets SET created = created + 1 WHERE name IN ('a', 'b')",
};

static void *
update_thread(void *arg)
{
	struct updater *u = arg;
	struct db_stmt *s;

	u->r = u->st->be->prepare(u->st, &q_touch_both, &s);
	if (u->r == 0) {
		u->r = u->st->be->step(s);
		u->changes = u->st->be->changes(s);
		u->st->be->release(s);
	}
	return NULL;
}

static PGresult *
must(PGconn *c, const char *sql, ExecStatusType want)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != want)
		print_error("%s: %s", sql, PQerrorMessage(c));
	assert_int_equal(PQresultStatus(res), want);
	return res;
}

/*
 * Our statement (outside a transaction) locks b, waits for a; another
 * session holding a then asks for b: the server aborts ours (its deadlock
 * check fires first: the other's waits 20 s) and the backend runs it again.
 */
static void
test_pg_deadlock_retried(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;
	struct updater u = { .st = st, .r = -1 };
	char admin[600], sql[160];
	pthread_t t;

	if (getenv("OUTPOST_TEST_PG") != NULL && getenv("OUTPOST_TEST_PG")[0] != '\0')
		skip();	/* needs the superuser of our own server */
	assert_int_equal(fleet_add(st, "b"), DB_DONE);	/* b first: a sequential scan meets it first */
	assert_int_equal(fleet_add(st, "a"), DB_DONE);
	/* the same schema as postgres, who may lengthen its own deadlock_timeout */
	const char *at = strstr(fx->target, "outpost@");
	assert_non_null(at);
	snprintf(admin, sizeof(admin), "%.*spostgres@%s", (int)(at - fx->target), fx->target, at + 8);
	PGconn *other = PQconnectdb(admin), *watch = PQconnectdb(admin);
	assert_int_equal(PQstatus(other), CONNECTION_OK);
	assert_int_equal(PQstatus(watch), CONNECTION_OK);
	PQclear(must(other, "SET deadlock_timeout = '20s'", PGRES_COMMAND_OK));
	PQclear(must(other, "BEGIN", PGRES_COMMAND_OK));
	PQclear(must(other, "UPDATE fleets SET created = 0 WHERE name = 'a'", PGRES_COMMAND_OK));
	assert_int_equal(pthread_create(&t, NULL, update_thread, &u), 0);
	/* wait (bounded) until our statement waits for a lock */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
	    "AND query LIKE 'UPDATE fleets SET created = created + 1%%'");
	int waiting = 0;
	for (int i = 0; i < 200 && !waiting; i++) {
		PGresult *res = must(watch, sql, PGRES_TUPLES_OK);
		waiting = atoi(PQgetvalue(res, 0, 0)) > 0;
		PQclear(res);
		if (!waiting)
			usleep(50 * 1000);
	}
	assert_true(waiting);
	/* now the cycle: the other session wants b */
	PQclear(must(other, "UPDATE fleets SET created = 0 WHERE name = 'b'", PGRES_COMMAND_OK));
	PQclear(must(other, "COMMIT", PGRES_COMMAND_OK));
	pthread_join(t, NULL);
	assert_int_equal(u.r, DB_DONE);
	assert_int_equal(u.changes, 2);
	PQfinish(other);
	PQfinish(watch);
}

/* ---- notifications (LISTEN/NOTIFY) ---- */

static struct query q_presence_touch = { .sql = "UPDATE devices SET online = 0 WHERE id < 0" };

/* Waits up to 5 s for want among the STORE_NOTIFY_* bits; all the bits seen, or a negative code. */
static int
wait_bits(struct store *st, int wake_fd, unsigned want)
{
	unsigned seen = 0, which;

	for (int i = 0; i < 50 && (seen & want) != want; i++) {
		int r = st->be->wait_notify(st, wake_fd, 100, &which);
		if (r != 0)
			return r;
		seen |= which;
	}
	return (int)seen;
}

/* Another connection's commits wake a listener: a change, a presence change (even of no row), the wake fd; its own presence writes do not. */
static void
test_pg_notify(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st, other;
	struct db_stmt *s;
	unsigned which = 99;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_true(efd >= 0);
	/* not listening: refused, nothing waited for */
	assert_int_equal(st->be->wait_notify(st, efd, 1000, &which), ERR_STORE);
	assert_int_equal(which, 0);
	assert_int_equal(st->be->listen(st), 0);
	assert_int_equal(st->be->wait_notify(st, efd, 0, &which), 0);
	assert_int_equal(which, 0);
	assert_int_equal(open_store(fx, &other), 0);
	assert_int_equal(fleet_add(&other, "n1"), DB_DONE);
	assert_int_equal(wait_bits(st, efd, STORE_NOTIFY_CHANGE), STORE_NOTIFY_CHANGE);
	assert_int_equal(other.be->prepare(&other, &q_presence_touch, &s), 0);
	assert_int_equal(other.be->step(s), DB_DONE);
	other.be->release(s);
	assert_int_equal(wait_bits(st, efd, STORE_NOTIFY_PRESENCE), STORE_NOTIFY_PRESENCE);
	/* a wake from our own side */
	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(st->be->wait_notify(st, efd, 1000, &which), 0);
	assert_int_equal(which, STORE_NOTIFY_WAKE);
	/* our own commit: its notification arrives during the statement and is kept for the next wait */
	assert_int_equal(fleet_add(st, "n2"), DB_DONE);
	assert_int_equal(wait_bits(st, -1, STORE_NOTIFY_CHANGE), STORE_NOTIFY_CHANGE);
	/* our own presence write: no presence notification (the writer knows it) */
	assert_int_equal(st->be->prepare(st, &q_presence_touch, &s), 0);
	assert_int_equal(st->be->step(s), DB_DONE);
	st->be->release(s);
	assert_int_equal(st->be->wait_notify(st, -1, 300, &which), 0);
	assert_int_equal(which, 0);
	/* nothing more: the time runs out */
	assert_int_equal(st->be->wait_notify(st, -1, 50, &which), 0);
	assert_int_equal(which, 0);
	other.be->close(&other);
	close(efd);
}

/* ---- losing the server (last: it stops and restarts the test PostgreSQL) ---- */

/* A listener whose server goes hears of it at once; reconnected, it listens again and reports what it may have missed. */
static void
test_pg_notify_unreachable_then_back(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st, other;
	unsigned which;

	if (getenv("OUTPOST_TEST_PG") != NULL && getenv("OUTPOST_TEST_PG")[0] != '\0')
		skip();
	assert_int_equal(st->be->listen(st), 0);
	assert_int_equal(pgtest_stop(), 0);
	assert_int_equal(st->be->wait_notify(st, -1, 5000, &which), ERR_UNREACHABLE);
	assert_one_sentence(st);
	assert_int_equal(pgtest_start_again(), 0);
	assert_int_equal(fleet_count(st), 0);	/* reconnects, and listens again */
	assert_int_equal(st->be->wait_notify(st, -1, 0, &which), 0);
	assert_int_equal(which, STORE_NOTIFY_CHANGE | STORE_NOTIFY_PRESENCE);
	assert_int_equal(open_store(fx, &other), 0);
	assert_int_equal(fleet_add(&other, "after"), DB_DONE);
	assert_int_equal(wait_bits(st, -1, STORE_NOTIFY_CHANGE), STORE_NOTIFY_CHANGE);
	other.be->close(&other);
}

static void
test_pg_unreachable_then_back(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;

	if (getenv("OUTPOST_TEST_PG") != NULL && getenv("OUTPOST_TEST_PG")[0] != '\0')
		skip();	/* not ours to stop */
	assert_int_equal(fleet_add(st, "before"), DB_DONE);
	assert_int_equal(pgtest_stop(), 0);
	assert_int_equal(fleet_count(st), ERR_UNREACHABLE);
	assert_int_equal(fleet_add(st, "during"), ERR_UNREACHABLE);
	assert_one_sentence(st);
	assert_non_null(strstr(st->errmsg, "cannot be reached"));
	assert_int_equal(st->be->begin(st), ERR_UNREACHABLE);
	assert_true(st->be->change_counter(st) < 0);
	assert_int_equal(pgtest_start_again(), 0);
	/* the next call reconnects and prepares again */
	assert_int_equal(fleet_count(st), 1);
	assert_int_equal(st->be->begin(st), 0);
	assert_int_equal(fleet_add(st, "after"), DB_DONE);
	assert_int_equal(st->be->commit(st), 0);
	assert_int_equal(fleet_count(st), 2);
}

/* A transaction open when the server goes is lost whole; the next one works. */
static void
test_pg_unreachable_in_transaction(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->st;

	if (getenv("OUTPOST_TEST_PG") != NULL && getenv("OUTPOST_TEST_PG")[0] != '\0')
		skip();
	assert_int_equal(st->be->begin(st), 0);
	assert_int_equal(fleet_add(st, "half"), DB_DONE);
	assert_int_equal(pgtest_stop(), 0);
	assert_int_equal(fleet_add(st, "half2"), ERR_UNREACHABLE);
	assert_int_equal(st->be->commit(st), ERR_UNREACHABLE);
	assert_int_equal(pgtest_start_again(), 0);
	assert_int_equal(fleet_count(st), 0);
}

#define PG(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)
#define SQ(f) cmocka_unit_test_setup_teardown(f, setup_sqlite, teardown)

int
main(void)
{
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_open_bad_uri),
		cmocka_unit_test(test_pg_open_refused),
		PG(test_pg_bad_parameters),
		PG(test_pg_failed_statement_dooms_transaction),
		PG(test_pg_schema_version),
		PG(test_pg_concurrent_create),
		PG(test_pg_deadlock_retried),
		PG(test_pg_notify),
		PG(test_pg_unreachable_then_back),
		PG(test_pg_notify_unreachable_then_back),
		PG(test_pg_unreachable_in_transaction),
	};
	const struct CMUnitTest pg[] = {
		PG(test_literals_keep_question_marks),
		PG(test_bind_out_of_range),
		PG(test_text_round_trip),
		PG(test_nulls),
		PG(test_int64),
		PG(test_constraint_codes),
		PG(test_store_failure_counted),
		PG(test_changes),
		PG(test_reentered_statement),
		PG(test_rollback_and_commit),
		PG(test_change_counter),
	};
	const struct CMUnitTest sqlite[] = {
		SQ(test_literals_keep_question_marks),
		SQ(test_bind_out_of_range),
		SQ(test_text_round_trip),
		SQ(test_nulls),
		SQ(test_int64),
		SQ(test_constraint_codes),
		SQ(test_store_failure_counted),
		SQ(test_changes),
		SQ(test_reentered_statement),
		SQ(test_rollback_and_commit),
		SQ(test_change_counter),
	};
	int r = cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
	r += cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
	return r + cmocka_run_group_tests_name("postgresql only", pg_only, NULL, NULL);
}
