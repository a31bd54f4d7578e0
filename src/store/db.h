/*
 * db.h: the seam between the store's records and its two engines, inside
 * src/store only (nothing outside includes it).
 *
 * The record files (fleets.c, users.c, devices.c, sessions.c, tokens.c,
 * anchor.c) keep their SQL next to the functions that run it, as static
 * struct query objects, and run them through the db_* calls below. A
 * backend (sqlite.c, pg.c) prepares a query once per connection, binds its
 * ?N parameters (pg.c rewrites them to $N), steps its rows, and maps its
 * errors onto common/err.h with one sentence in st->errmsg. SQL that both
 * engines take is written once (`sql`); where they differ, `pg` holds
 * PostgreSQL's text for the same parameters and columns.
 *
 * Conventions both engines honour: integers are int64; booleans are stored
 * as INTEGER 0/1 (never a SQL boolean column, so a row reads the same on
 * both); text is UTF-8; a NULL column reads as 0 or "".
 */
#ifndef OUTPOST_STORE_DB_H
#define OUTPOST_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The most queries the record files may define; raise when adding past it. */
#define DB_MAX_QUERIES	128

struct query {
	const char *sql;	/* both engines, parameters ?1..?N */
	const char *pg;		/* PostgreSQL's own text, NULL when sql serves */
	int slot;		/* 1 + its index in a connection's cache, given on first use */
};

struct db_stmt;			/* a backend's prepared statement in use */

/* What a step returned, besides a negative err.h code. */
enum { DB_DONE = 0, DB_ROW = 1 };

struct db_backend {
	const char *name;	/* "sqlite", "postgresql" */
	/*
	 * Connects to target (sqlite: the database file's path; postgresql: a
	 * libpq URI), configures the connection and brings the schema to the
	 * newest version under the engine's lock. On failure: one sentence in
	 * why, naming the target (passwords masked) and the cause.
	 */
	int (*open)(struct store *st, const char *target, char *why, size_t whylen);
	void (*close)(struct store *st);
	/*
	 * The statement for q, reset and unbound. If q's cached statement is in
	 * use (a callback re-entered the store), a private one; db_release()
	 * frees either correctly.
	 */
	int (*prepare)(struct store *st, struct query *q, struct db_stmt **out);
	int (*bind_int)(struct db_stmt *s, int idx, int64_t v);	/* idx from 1 */
	int (*bind_text)(struct db_stmt *s, int idx, const char *v);	/* NULL binds NULL */
	/* DB_ROW, DB_DONE, or a negative code (ERR_EXISTS on a unique or check
	 * violation, ERR_NOTFOUND on a foreign key, ERR_UNREACHABLE when the
	 * server is gone, ERR_STORE otherwise) with st->errmsg set. */
	int (*step)(struct db_stmt *s);
	int64_t (*col_int)(struct db_stmt *s, int col);		/* col from 0 */
	const char *(*col_text)(struct db_stmt *s, int col);	/* never NULL */
	bool (*col_null)(struct db_stmt *s, int col);
	int (*changes)(struct db_stmt *s);	/* rows the finished statement touched */
	void (*release)(struct db_stmt *s);
	/* A write transaction that serializes with every other writer. */
	int (*begin)(struct store *st);
	int (*commit)(struct store *st);
	void (*rollback)(struct store *st);
	/* Changes whenever any connection commits a write (store_change_counter). */
	int64_t (*change_counter)(struct store *st);
};

extern const struct db_backend db_sqlite;
extern const struct db_backend db_pg;

/* The part of a store every file shares; a backend keeps its own in `conn`. */
struct store {
	const struct db_backend *be;
	void *conn;
	int64_t own_writes;	/* bumped on each of our commits */
	int64_t failures;	/* store_failures() */
	void (*timer)(void *arg, int64_t ns);	/* store_set_timer() */
	void *timer_arg;
	char errmsg[256];
};

#endif
