/*
 * copy.c: copies every record of one store into another, on any pair of
 * engines (`outpost store copy`, and outpostd's in-memory mirror of a
 * PostgreSQL store): ids kept, one transaction on each side.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store.h"

/*
 * One table: its columns read in order from `from` and written in the same
 * order to `to`. types has one letter per column: 'i' integer, 't' text;
 * NULL is carried over as NULL either way.
 */
struct copy_table {
	const char *name;
	const char *types;
	struct query sel, ins, del;
};

#define COPY_TABLE(n, cols, params, ty) {					\
	.name = n, .types = ty,							\
	.sel = { .sql = "SELECT " cols " FROM " n " ORDER BY 1, 2" },		\
	.ins = { .sql = "INSERT INTO " n " (" cols ") VALUES (" params ")" },	\
	.del = { .sql = "DELETE FROM " n },					\
}

/*
 * The schema's record tables in an order that satisfies the foreign keys
 * when inserting (and, backwards, when deleting). The live sessions table
 * is last and copied only on request (STORE_COPY_SESSIONS), and then only
 * the kicked sessions: it is who is connected to the outpostd nodes now,
 * cleared when a node starts, not a record to move, and a mirror reads
 * only the kicks in it (docs/ARCHITECTURE.md, "The store thread"). The nodes are copied (a mirror needs their keys and
 * heartbeats) but not counted as records (a target outpostd registered in
 * is still empty); audit_records (every node's audit records on
 * PostgreSQL) is not copied. schema_version (PostgreSQL) and SQLite's user_version are
 * each store's own: both sides are at the newest version once opened.
 */
static struct copy_table tables[] = {
	COPY_TABLE("fleets", "id, name, created", "?1, ?2, ?3", "iti"),
	COPY_TABLE("users", "id, name, admin, created", "?1, ?2, ?3, ?4", "itii"),
	COPY_TABLE("devices",
	    "id, name, fleet_id, online, last_seen, last_addr, created, agent_version, "
	    "hostname, os, host_keys, reconnects, ondemand, ondemand_since, booted, port, node, gen, pseq",
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19",
	    "itiiitittttitiiitii"),
	COPY_TABLE("keys", "id, fingerprint, type, blob, comment, user_id, device_id, created",
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8", "ittttiii"),
	COPY_TABLE("grants", "user_id, fleet_id, expires, created", "?1, ?2, ?3, ?4", "iiii"),
	COPY_TABLE("tokens", "id, hash, fleet_id, uses_left, used, expires, revoked, created",
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8", "itiiiiii"),
	COPY_TABLE("audit_anchor", "id, seq, size, hash, updated", "?1, ?2, ?3, ?4, ?5", "iiiti"),
	COPY_TABLE("host_keys", "device_id, port, type, key, pending, learned, seen, changed",
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8", "iitttiii"),
	COPY_TABLE("audit_anchors", "node, seq, size, hash, updated", "?1, ?2, ?3, ?4, ?5", "tiiti"),
	COPY_TABLE("nodes", "id, name, peer_addr, node_key, started, heartbeat, version",
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7", "itttiit"),
	/* only the kicked ones: what a mirror reads (the loop ends them), not every node's live sessions */
	{
		.name = "sessions", .types = "ittttiii",
		.sel = { .sql = "SELECT id, kind, principal, key_fp, src, since, bytes, kicked FROM sessions "
		    "WHERE kicked = 1 ORDER BY 1, 2" },
		.ins = { .sql = "INSERT INTO sessions (id, kind, principal, key_fp, src, since, bytes, kicked) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
		.del = { .sql = "DELETE FROM sessions" },
	},
};
#define NTABLES		(sizeof(tables) / sizeof(tables[0]))
#define NRECORDS	(NTABLES - 1)	/* all but sessions */

/* Rows in the record tables (grants, keys, devices and tokens hang on fleets and users, but count them all). */
static struct query q_rows = {
	.sql = "SELECT (SELECT count(*) FROM fleets) + (SELECT count(*) FROM users) + "
	    "(SELECT count(*) FROM devices) + (SELECT count(*) FROM keys) + "
	    "(SELECT count(*) FROM grants) + (SELECT count(*) FROM tokens) + "
	    "(SELECT count(*) FROM audit_anchor) + (SELECT count(*) FROM host_keys) + "
	    "(SELECT count(*) FROM audit_anchors)",
};

/*
 * PostgreSQL's identity columns hand out ids from a sequence that rows
 * inserted with their own ids do not move: set each past the largest id.
 * SQLite's INTEGER PRIMARY KEY takes max(id) + 1 by itself.
 */
#define SETVAL(t) \
	"setval(pg_get_serial_sequence('" t "', 'id'), coalesce((SELECT max(id) FROM " t "), 0) + 1, false)"
static struct query q_sequences = {
	.sql = "SELECT 0",
	.pg = "SELECT " SETVAL("fleets") ", " SETVAL("users") ", " SETVAL("devices") ", "
	    SETVAL("keys") ", " SETVAL("tokens") ", " SETVAL("nodes") ", "
	    "setval('presence_seq', coalesce((SELECT max(pseq) FROM devices), 0) + 1, false)",
};

/*
 * Where a store's data lives, to refuse copying a store onto itself through
 * two handles (which would also wait on its own lock): SQLite's file ("" in
 * memory: always private), PostgreSQL's server address and database.
 */
static struct query q_identity = {
	.sql = "SELECT file FROM pragma_database_list WHERE name = 'main'",
	.pg = "SELECT coalesce(host(inet_server_addr()), 'socket') || ':' || inet_server_port() "
	    "|| '/' || current_database()",
};

static int
identity(struct store *st, char *out, size_t len)
{
	struct db_stmt *s;
	int r;

	out[0] = '\0';
	if ((r = db_prepare(st, &q_identity, &s)) != 0)
		return r;
	if ((r = db_step(s)) == DB_ROW) {
		snprintf(out, len, "%s:%s", store_engine(st), db_col_text(s, 0));
		r = 0;
	}
	db_release(s);
	return r < 0 ? r : 0;
}

/* ERR_INVAL (why says so) if from and to are one database. */
static int
check_distinct(struct store *from, struct store *to, char *why, size_t whylen)
{
	char a[600], b[600];
	int r;

	if ((r = identity(from, a, sizeof(a))) != 0) {
		snprintf(why, whylen, "cannot read the source: %s", store_errmsg(from));
		return r;
	}
	if ((r = identity(to, b, sizeof(b))) != 0) {
		snprintf(why, whylen, "cannot read the target: %s", store_errmsg(to));
		return r;
	}
	if (strcmp(a, b) != 0 || strcmp(a, "sqlite:") == 0)
		return 0;
	snprintf(why, whylen, "the source and the target are the same database");
	return ERR_INVAL;
}

/* The count of record rows in st, in *n. */
static int
count_rows(struct store *st, int64_t *n)
{
	struct db_stmt *s;
	int r;

	*n = 0;
	if ((r = db_prepare(st, &q_rows, &s)) != 0)
		return r;
	if ((r = db_step(s)) == DB_ROW) {
		*n = db_col_int(s, 0);
		r = 0;
	} else if (r == DB_DONE)
		r = ERR_STORE;
	db_release(s);
	return r;
}

/* Binds column c of the row in src to parameter c + 1 of dst, NULL as NULL. */
static void
bind_column(struct db_stmt *dst, struct db_stmt *src, int c, char type)
{
	if (db_col_null(src, c))
		db_bind_text(dst, c + 1, NULL);
	else if (type == 'i')
		db_bind_int(dst, c + 1, db_col_int(src, c));
	else
		db_bind_text(dst, c + 1, db_col_text(src, c));
}

/* Copies one table's rows; *rows counts them. */
static int
copy_table(struct store *from, struct store *to, struct copy_table *t, int64_t *rows)
{
	struct db_stmt *sel, *ins;
	int r, ncols = (int)strlen(t->types);

	if ((r = db_prepare(from, &t->sel, &sel)) != 0)
		return r;
	while ((r = db_step(sel)) == DB_ROW) {
		if ((r = db_prepare(to, &t->ins, &ins)) != 0)
			break;
		for (int c = 0; c < ncols; c++)
			bind_column(ins, sel, c, t->types[c]);
		r = db_exec(ins, NULL);
		db_release(ins);
		if (r != 0)
			break;
		(*rows)++;
	}
	db_release(sel);
	return r == DB_DONE ? 0 : r;
}

/* Empties the target's tables (the first n, children first). */
static int
clear_tables(struct store *to, size_t n)
{
	int r;

	for (size_t i = n; i-- > 0;)
		if ((r = db_run(to, &tables[i].del, NULL)) != 0)
			return r;
	return 0;
}

/* The copy itself, inside both transactions; on failure why names the table. */
static int
copy_all(struct store *from, struct store *to, unsigned flags, int64_t *rows, char *why,
    size_t whylen)
{
	size_t n = (flags & STORE_COPY_SESSIONS) ? NTABLES : NRECORDS;
	int64_t have;
	int r;

	if ((r = count_rows(to, &have)) != 0) {
		snprintf(why, whylen, "cannot read the target: %s", store_errmsg(to));
		return r;
	}
	if (have > 0 && !(flags & STORE_COPY_FORCE)) {
		snprintf(why, whylen, "the target already holds %lld records: "
		    "copy into an empty store, or replace them with --force", (long long)have);
		return ERR_EXISTS;
	}
	if ((r = clear_tables(to, n)) != 0) {
		snprintf(why, whylen, "cannot empty the target: %s", store_errmsg(to));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct store *bad;
		if ((r = copy_table(from, to, &tables[i], rows)) == 0)
			continue;
		bad = from->errmsg[0] != '\0' ? from : to;
		snprintf(why, whylen, "copying %s: %s", tables[i].name, store_errmsg(bad));
		return r;
	}
	if ((r = db_run(to, &q_sequences, NULL)) != 0) {
		snprintf(why, whylen, "setting the target's id sequences: %s", store_errmsg(to));
		return r;
	}
	return 0;
}

int
store_copy_flags(struct store *from, struct store *to, unsigned flags, int64_t *rows,
    char *why, size_t whylen)
{
	char scratch[256];
	int64_t count = 0;
	int r;

	if (why == NULL || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	why[0] = '\0';
	if (rows != NULL)
		*rows = 0;
	if (from == NULL || to == NULL || from == to) {
		snprintf(why, whylen, "copy needs two different stores");
		return ERR_INVAL;
	}
	if ((r = check_distinct(from, to, why, whylen)) != 0)
		return r;
	/*
	 * The source is read on one snapshot no writer changes half-way
	 * (SQLite: its write lock; PostgreSQL: REPEATABLE READ, no lock).
	 */
	if ((r = db_tx_begin_read(from)) != 0) {
		snprintf(why, whylen, "cannot read the source: %s", store_errmsg(from));
		return r;
	}
	if ((r = db_tx_begin(to)) != 0) {
		snprintf(why, whylen, "cannot lock the target: %s", store_errmsg(to));
		db_tx_end(from, r);
		return r;
	}
	from->errmsg[0] = to->errmsg[0] = '\0';
	r = copy_all(from, to, flags, &count, why, whylen);
	if ((r = db_tx_end(to, r)) != 0 && why[0] == '\0')
		snprintf(why, whylen, "committing the target: %s", store_errmsg(to));
	from->be->rollback(from);	/* only read: nothing to commit */
	if (r == 0 && rows != NULL)
		*rows = count;
	return r;
}

int
store_copy(struct store *from, struct store *to, bool force, char *why, size_t whylen)
{
	return store_copy_flags(from, to, force ? STORE_COPY_FORCE : 0, NULL, why, whylen);
}
