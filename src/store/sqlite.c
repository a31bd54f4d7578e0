/*
 * sqlite.c: the SQLite engine under the store (db.h): one connection in WAL
 * mode, each query prepared once per connection, schema migrations 1-11 kept
 * in user_version, and SQLite's errors told as one sentence.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"

#define STORE_BUSY_MS		5000

/*
 * Numbered schema migrations: entry i takes user_version i to i + 1 and ends
 * by setting user_version itself, so no SQL is ever assembled at run time.
 * Append only; never edit a migration that has shipped.
 */
static const char *const migrations[] = {
	/* 1: fleets, users, devices, keys, grants. */
	"CREATE TABLE fleets ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE devices ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id) ON DELETE RESTRICT,"
	"  online INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),"
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  last_addr TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  agent_version TEXT,"
	"  hostname TEXT,"
	"  os TEXT,"
	"  host_keys TEXT,"
	"  reconnects INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (fleet_id, name)"
	");"
	"CREATE INDEX devices_by_name ON devices(name);"
	"CREATE TABLE keys ("
	"  id INTEGER PRIMARY KEY,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  type TEXT NOT NULL,"
	"  blob TEXT NOT NULL,"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  device_id INTEGER REFERENCES devices(id) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL,"
	"  CHECK ((user_id IS NULL) <> (device_id IS NULL))"
	");"
	"CREATE INDEX keys_by_user ON keys(user_id);"
	"CREATE UNIQUE INDEX keys_by_device ON keys(device_id);"
	"CREATE TABLE grants ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id) ON DELETE CASCADE,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (user_id, fleet_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX grants_by_fleet ON grants(fleet_id);"
	"PRAGMA user_version = 1;",

	/* 2: live sessions, written by outpostd, read and kicked by `who` and `kick`. */
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('user', 'device')),"
	"  principal TEXT NOT NULL,"
	"  key_fp TEXT NOT NULL DEFAULT '',"
	"  src TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  kicked INTEGER NOT NULL DEFAULT 0 CHECK (kicked IN (0, 1))"
	");"
	"CREATE INDEX sessions_by_principal ON sessions(kind, principal);"
	"CREATE INDEX sessions_kicked ON sessions(id) WHERE kicked = 1;"
	"PRAGMA user_version = 2;",

	/* 3: enrollment tokens (only a hash of the secret is kept). */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id) ON DELETE CASCADE,"
	"  uses_left INTEGER NOT NULL DEFAULT -1,"
	"  used INTEGER NOT NULL DEFAULT 0,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
	"  created INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 3;",

	/* 4: on-demand devices: the last state outpostd read from MQTT ('' = not on demand). */
	"ALTER TABLE devices ADD COLUMN ondemand TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN ondemand_since INTEGER NOT NULL DEFAULT 0;"
	"PRAGMA user_version = 4;",

	/* 5: when the device booted, from the uptime its agent reports (0 = unknown). */
	"ALTER TABLE devices ADD COLUMN booted INTEGER NOT NULL DEFAULT 0;"
	"PRAGMA user_version = 5;",

	/* 6: the anchor of the audit chain: its last record as the writers last saw it. */
	"CREATE TABLE audit_anchor ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL CHECK (seq >= 0),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  hash TEXT NOT NULL CHECK (length(hash) = 64),"
	"  updated INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 6;",

	/* 7: `enroll` logins are live sessions too (who, kick). The table is
	 * live state, cleared at every start: recreated with the wider CHECK. */
	"DROP TABLE sessions;"
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('user', 'device', 'enroll')),"
	"  principal TEXT NOT NULL,"
	"  key_fp TEXT NOT NULL DEFAULT '',"
	"  src TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  kicked INTEGER NOT NULL DEFAULT 0 CHECK (kicked IN (0, 1))"
	");"
	"CREATE INDEX sessions_by_principal ON sessions(kind, principal);"
	"CREATE INDEX sessions_kicked ON sessions(id) WHERE kicked = 1;"
	"PRAGMA user_version = 7;",

	/* 8: a device's port-table port (seed 000's -R 22050:localhost:22), one device per port and fleet. */
	"ALTER TABLE devices ADD COLUMN port INTEGER CHECK (port IS NULL OR port BETWEEN 1 AND 65535);"
	"CREATE UNIQUE INDEX devices_by_port ON devices(fleet_id, port) WHERE port IS NOT NULL;"
	"PRAGMA user_version = 8;",

	/* 9: host keys outpostd learned from plain devices' sshds (hostkeys.c), one per
	 * device, port and type; a different key seen since waits in `pending` until
	 * an admin accepts it. PostgreSQL's equivalent: hostkeys.c's opening comment. */
	"CREATE TABLE host_keys ("
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	"  type TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  pending TEXT NOT NULL DEFAULT '',"
	"  learned INTEGER NOT NULL,"
	"  seen INTEGER NOT NULL,"
	"  changed INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (device_id, port, type)"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 9;",

	/* 10: several nodes (outpostd processes) on one store: the nodes, which node
	 * holds each device under which registration generation, the order of presence
	 * changes, one audit anchor per node's chain ('' = the pre-nodes chain, claimed
	 * by the first node that starts) and every node's records (PostgreSQL installs).
	 * audit_anchor stays, unused, so the migration only adds. */
	"CREATE TABLE nodes ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  peer_addr TEXT NOT NULL DEFAULT '',"
	"  node_key TEXT NOT NULL DEFAULT '',"
	"  started INTEGER NOT NULL,"
	"  heartbeat INTEGER NOT NULL,"
	"  version TEXT NOT NULL DEFAULT ''"
	");"
	"ALTER TABLE devices ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN pseq INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX devices_by_pseq ON devices(pseq);"
	"CREATE TABLE audit_anchors ("
	"  node TEXT PRIMARY KEY,"
	"  seq INTEGER NOT NULL CHECK (seq >= 0),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  hash TEXT NOT NULL CHECK (length(hash) = 64),"
	"  updated INTEGER NOT NULL"
	");"
	"INSERT INTO audit_anchors SELECT '', seq, size, hash, updated FROM audit_anchor;"
	"CREATE TABLE audit_records ("
	"  node TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  record TEXT NOT NULL,"
	"  PRIMARY KEY (node, seq)"
	");"
	"PRAGMA user_version = 10;",

	/* 11: PostgreSQL's triggers on nodes notify presence rather than a change
	 * (pg.c); SQLite has no triggers: only the version moves, in step. */
	"PRAGMA user_version = 11;",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct db_stmt {
	struct store *st;	/* first, as db.h asks */
	sqlite3_stmt *s;
	bool owned;		/* a private copy: release() finalizes it */
	int bind_rc;		/* a failed bind, reported by the next step */
	int64_t started;	/* with a timer: when prepare() handed it out, ns */
};

struct conn {
	sqlite3 *db;
	bool tracing;		/* the profile hook is installed */
	int top;		/* cache[0..top - 1] may hold statements */
	struct db_stmt cache[DB_MAX_QUERIES];	/* by query slot - 1 */
};

static sqlite3 *
db_of(struct store *st)
{
	return ((struct conn *)st->conn)->db;
}

/*
 * Why the directory holding file cannot be written, as an errno (0 if it
 * can): a file system that an error turned read-only still says "rw" in its
 * mount flags, so try.
 */
static int
probe_write(const char *file)
{
	char path[PATH_MAX + 32];
	const char *slash = strrchr(file, '/');
	int fd, e = 0;

	snprintf(path, sizeof(path), "%.*s/.outpost-write-probe.%ld",
	    slash != NULL ? (int)(slash - file) : 1, slash != NULL ? file : ".", (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return errno == EEXIST ? 0 : errno;
	if (write(fd, "x", 1) != 1 || fsync(fd) != 0)
		e = errno;
	close(fd);
	unlink(path);
	return e;
}

/* Translates an SQLite result code and keeps SQLite's message. */
static int
sql_err(struct store *st, int rc)
{
	sqlite3 *db = db_of(st);

	db_set_err(st, "%s", sqlite3_errmsg(db));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_BUSY:	/* another writer held the lock past STORE_BUSY_MS */
	case SQLITE_LOCKED:
		break;
	default:
		st->failures++;	/* the store failed, not the caller's request or a lock */
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ERR_LOCKED;
	case SQLITE_NOMEM:
		return ERR_NOMEM;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY: {
		/* SQLite says "disk I/O error"; the system's reason is what helps */
		int e = sqlite3_system_errno(db);
		const char *file = sqlite3_db_filename(db, "main");
		struct statvfs vfs;
		if (file != NULL && file[0] == '\0')
			file = NULL;	/* in memory */
		if (e == 0 && file != NULL && statvfs(file, &vfs) == 0)
			e = (vfs.f_flag & ST_RDONLY) ? EROFS : vfs.f_bavail == 0 ? ENOSPC : 0;
		if (e == 0 && file != NULL)
			e = probe_write(file);
		db_set_err(st, "the state directory cannot be written: %s (%s)",
		    e != 0 ? strerror(e) : (rc & 0xff) == SQLITE_FULL ? "disk full" : "I/O error",
		    sqlite3_errmsg(db));
		return (rc & 0xff) == SQLITE_READONLY || e == EROFS ? ERR_READONLY : ERR_STORE;
	}
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return ERR_NOTFOUND;
		return ERR_EXISTS;
	case SQLITE_TOOBIG:
		return ERR_TOOLONG;
	default:
		return ERR_STORE;
	}
}

/*
 * A statement finished. SQLite's own figure has millisecond resolution:
 * measure from prepare() with the monotonic clock instead, and fall back to
 * SQLite's for private copies (a re-entered statement).
 */
static int
on_profile(unsigned type, void *arg, void *stmt, void *ns)
{
	struct store *st = arg;
	struct conn *c = st->conn;
	int64_t t = *(const sqlite3_int64 *)ns;

	if (type != SQLITE_TRACE_PROFILE || st->timer == NULL)
		return 0;
	for (int i = 0; i < c->top; i++)
		if (c->cache[i].s == stmt && c->cache[i].started > 0) {
			t = timefmt_mono_ns() - c->cache[i].started;
			c->cache[i].started = 0;
			break;
		}
	st->timer(st->timer_arg, t);
	return 0;
}

/* Installs or removes the profile hook as store_set_timer() last asked. */
static void
trace_follow(struct store *st)
{
	struct conn *c = st->conn;
	bool want = st->timer != NULL;

	if (want == c->tracing)
		return;
	sqlite3_trace_v2(c->db, want ? SQLITE_TRACE_PROFILE : 0, want ? on_profile : NULL, st);
	c->tracing = want;
}

static int
sq_prepare(struct store *st, struct query *q, struct db_stmt **out)
{
	struct conn *c = st->conn;
	int slot = db_query_slot(q), rc;
	struct db_stmt *d;

	*out = NULL;
	if (slot < 0)
		return slot;
	trace_follow(st);
	d = &c->cache[slot - 1];
	if (d->s != NULL && sqlite3_stmt_busy(d->s)) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return sql_err(st, SQLITE_NOMEM);
		d->st = st;
		d->owned = true;
		if ((rc = sqlite3_prepare_v2(c->db, q->sql, -1, &d->s, NULL)) != SQLITE_OK) {
			free(d);
			return sql_err(st, rc);
		}
		*out = d;
		return 0;
	}
	if (d->s == NULL) {
		rc = sqlite3_prepare_v3(c->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &d->s, NULL);
		if (rc != SQLITE_OK)
			return sql_err(st, rc);
		d->st = st;
		if (slot > c->top)
			c->top = slot;
	}
	d->bind_rc = SQLITE_OK;
	if (st->timer != NULL)
		d->started = timefmt_mono_ns();
	*out = d;
	return 0;
}

static int
sq_bind_int(struct db_stmt *d, int idx, int64_t v)
{
	int rc = sqlite3_bind_int64(d->s, idx, v);

	if (rc != SQLITE_OK && d->bind_rc == SQLITE_OK)
		d->bind_rc = rc;
	return rc == SQLITE_OK ? 0 : ERR_STORE;
}

static int
sq_bind_text(struct db_stmt *d, int idx, const char *v)
{
	int rc = v != NULL ? sqlite3_bind_text(d->s, idx, v, -1, SQLITE_STATIC) :
	    sqlite3_bind_null(d->s, idx);

	if (rc != SQLITE_OK && d->bind_rc == SQLITE_OK)
		d->bind_rc = rc;
	return rc == SQLITE_OK ? 0 : ERR_STORE;
}

static int
sq_step(struct db_stmt *d)
{
	int rc;

	if (d->bind_rc != SQLITE_OK)
		return sql_err(d->st, d->bind_rc);
	rc = sqlite3_step(d->s);
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return sql_err(d->st, rc);
}

static int64_t
sq_col_int(struct db_stmt *d, int col)
{
	return sqlite3_column_int64(d->s, col);
}

static const char *
sq_col_text(struct db_stmt *d, int col)
{
	const char *t = (const char *)sqlite3_column_text(d->s, col);

	return t != NULL ? t : "";
}

static bool
sq_col_null(struct db_stmt *d, int col)
{
	return sqlite3_column_type(d->s, col) == SQLITE_NULL;
}

static int
sq_changes(struct db_stmt *d)
{
	return sqlite3_changes(db_of(d->st));
}

static void
sq_release(struct db_stmt *d)
{
	if (d->owned) {
		sqlite3_finalize(d->s);
		free(d);
		return;
	}
	sqlite3_reset(d->s);
	sqlite3_clear_bindings(d->s);
}

static struct query q_begin = { .sql = "BEGIN IMMEDIATE" };
static struct query q_commit = { .sql = "COMMIT" };
static struct query q_rollback = { .sql = "ROLLBACK" };
static struct query q_data_version = { .sql = "PRAGMA data_version" };

static int
sq_begin(struct store *st)
{
	return db_run(st, &q_begin, NULL);
}

static int
sq_commit(struct store *st)
{
	return db_run(st, &q_commit, NULL);
}

static void
sq_rollback(struct store *st)
{
	(void)db_run(st, &q_rollback, NULL);
}

static int64_t
sq_change_counter(struct store *st)
{
	struct db_stmt *s;
	int64_t v = 0;

	if (db_prepare(st, &q_data_version, &s) != 0)
		return -1;
	if (db_step(s) == DB_ROW)
		v = db_col_int(s, 0);
	db_release(s);
	return v;
}

/* ---- opening ---- */

/*
 * Creates the database file with mode 0600 if it does not exist yet. Never
 * opens an existing one: closing any descriptor of the file drops every
 * POSIX lock this process holds on it, those of its other SQLite
 * connections too (outpostd's loop and command workers), and another
 * process could then take the database for unused and remove its WAL.
 */
static int
prepare_db_file(const char *path, char *why, size_t whylen)
{
	struct stat sb;

	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		return 0;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;	/* made meanwhile, or not a regular file: sqlite3_open_v2 says */
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(e));
		return (e == EROFS || e == EACCES) ? ERR_READONLY : ERR_IO;
	}
	close(fd);
	return 0;
}

/* Reads PRAGMA user_version. */
static int
schema_version(struct store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*version = 0;
	rc = sqlite3_prepare_v2(db_of(st), "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : sql_err(st, rc);
}

/* Applies one migration inside its own write transaction, unless another process just did. */
static int
migrate_one(struct store *st, int from)
{
	int r, v;
	char *msg = NULL;

	if ((r = db_tx_begin(st)) != 0)
		return r;
	if ((r = schema_version(st, &v)) != 0 || v != from)
		return db_tx_end(st, r);
	if (sqlite3_exec(db_of(st), migrations[from], NULL, NULL, &msg) != SQLITE_OK) {
		db_set_err(st, "schema migration %d failed: %s", from + 1, msg ? msg : "?");
		sqlite3_free(msg);
		return db_tx_end(st, ERR_STORE);
	}
	if ((r = schema_version(st, &v)) == 0 && v != from + 1) {
		db_set_err(st, "schema migration %d did not set user_version", from + 1);
		r = ERR_STORE;
	}
	return db_tx_end(st, r);
}

/* Brings the schema to the newest version; refuses a database from a newer program. */
static int
migrate(struct store *st)
{
	int r, v;

	if ((r = schema_version(st, &v)) != 0)
		return r;
	if (v > NMIGRATIONS) {
		db_set_err(st, "%s has schema version %d, newer than this program's %d",
		    DB_SQLITE_NAME, v, NMIGRATIONS);
		return ERR_STORE;
	}
	for (; v < NMIGRATIONS; v++)
		if ((r = migrate_one(st, v)) != 0)
			return r;
	return 0;
}

/* Connection settings: WAL, foreign keys, busy timeout, NORMAL sync. */
static int
configure(struct store *st)
{
	static const char *const pragmas =
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;";
	sqlite3 *db = db_of(st);
	char *msg = NULL;

	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = sqlite3_extended_errcode(db);
		db_set_err(st, "cannot configure %s: %s", DB_SQLITE_NAME, msg ? msg : "?");
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_READONLY ? ERR_READONLY : ERR_STORE;
	}
	return 0;
}

static void
sq_close(struct store *st)
{
	struct conn *c = st->conn;

	if (c == NULL)
		return;
	for (int i = 0; i < c->top; i++)
		sqlite3_finalize(c->cache[i].s);
	sqlite3_close(c->db);
	free(c);
	st->conn = NULL;
}

/* target: the database file's path, or ":memory:" for a private database in memory. */
static int
sq_open(struct store *st, const char *target, char *why, size_t whylen)
{
	bool memory = strcmp(target, ":memory:") == 0;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | (memory ? SQLITE_OPEN_MEMORY : 0);
	struct conn *c;
	int r, rc;

	if (!memory && (r = prepare_db_file(target, why, whylen)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	st->conn = c;
	if ((rc = sqlite3_open_v2(target, &c->db, flags, NULL)) != SQLITE_OK) {
		r = c->db != NULL ? sql_err(st, rc) : ERR_NOMEM;
		snprintf(why, whylen, "cannot open %s: %s", target, sqlite3_errstr(rc));
		goto fail;
	}
	if ((r = configure(st)) != 0 || (r = migrate(st)) != 0) {
		snprintf(why, whylen, "%s: %s", target, st->errmsg);
		goto fail;
	}
	return 0;
fail:
	sq_close(st);
	return r;
}

const struct db_backend db_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.prepare = sq_prepare,
	.bind_int = sq_bind_int,
	.bind_text = sq_bind_text,
	.step = sq_step,
	.col_int = sq_col_int,
	.col_text = sq_col_text,
	.col_null = sq_col_null,
	.changes = sq_changes,
	.release = sq_release,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.change_counter = sq_change_counter,
};

