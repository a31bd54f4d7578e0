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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The most queries the record files may define; raise when adding past it. */
#define DB_MAX_QUERIES	128

struct query {
	const char *sql;	/* both engines, parameters ?1..?N */
	const char *pg;		/* PostgreSQL's own text, NULL when sql serves */
	_Atomic int slot;	/* 1 + its index in a connection's cache, given on first use */
};

/*
 * A backend's prepared statement in use. Each backend defines its own, and
 * it must begin with `struct store *st` (its store), so that the db_* calls
 * below, given only the statement, reach st->be.
 */
struct db_stmt;

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
	/*
	 * Notifications from other connections' commits (NULL: the engine has
	 * none; store_listen and store_wait_notify in store.h say how they behave).
	 */
	int (*listen)(struct store *st);
	int (*wait_notify)(struct store *st, int wake_fd, int timeout_ms, unsigned *which);
};

/* What a store spec names (spec.c); the one place its forms are told apart. */
enum spec_form { SPEC_STATE_DIR, SPEC_SQLITE_PATH, SPEC_PG, SPEC_BAD };
/* NULL, "" and "sqlite": the state dir; "sqlite:PATH" (*path set; "sqlite:" is
 * SPEC_BAD); a postgresql:// or postgres:// URI; anything else SPEC_BAD. */
enum spec_form spec_form(const char *spec, const char **path);

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

/* The SQLite database file in a state directory. */
#define DB_SQLITE_NAME	"outpost.db"

/*
 * The calls record files make (store.c), each through st->be. A statement
 * from db_prepare is released with db_release on every path (NULL is a
 * no-op); text bound with db_bind_text must stay valid until then. A bind
 * that fails (out of memory) makes the statement's next step fail.
 */
/* q's slot (1..DB_MAX_QUERIES), assigned on first use; ERR_STORE past the cap. */
int db_query_slot(struct query *q);
int db_prepare(struct store *st, struct query *q, struct db_stmt **out);
void db_bind_int(struct db_stmt *s, int idx, int64_t v);
void db_bind_text(struct db_stmt *s, int idx, const char *v);
int db_step(struct db_stmt *s);		/* DB_ROW, DB_DONE or a negative code */
/* Steps to the one row a lookup wants: 0 on it, ERR_NOTFOUND if none (st->errmsg untouched), else the error. */
int db_step_one(struct db_stmt *s);
/* Steps a statement that returns no rows (or ignores them); *changes (may be NULL) gets the rows touched. */
int db_exec(struct db_stmt *s, int *changes);
int64_t db_col_int(struct db_stmt *s, int col);
const char *db_col_text(struct db_stmt *s, int col);
bool db_col_null(struct db_stmt *s, int col);
void db_release(struct db_stmt *s);
/* Prepares q, which takes no parameters, runs it and releases it. */
int db_run(struct store *st, struct query *q, int *changes);

/* Steps through s's rows, handing each to each(); a non-zero return from it stops and is returned. */
typedef int (*db_row_fn)(struct db_stmt *s, void *cb, void *arg);
int db_for_each_row(struct db_stmt *s, db_row_fn each, void *cb, void *arg);
/* Runs q, which takes no parameters, and hands each row to each(). */
int db_list_rows(struct store *st, struct query *q, db_row_fn each, void *cb, void *arg);

int db_tx_begin(struct store *st);
/* Commits if r is 0, else rolls back keeping st->errmsg; returns r or the commit's error. */
int db_tx_end(struct store *st, int r);

/* One sentence in st->errmsg. */
void db_set_err(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ERR_NAME unless s is a valid (normalized) label; what names it in the message. */
int db_check_label(struct store *st, const char *what, const char *s);
/* ERR_KEY unless key is a usable public key. */
int db_check_key(struct store *st, const struct pubkey *key);

#endif
