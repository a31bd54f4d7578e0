/* store.c: the SQLite state store: schema migrations, prepared queries, and every read and write of state. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "store/store.h"

#define STORE_DB_NAME		"outpost.db"
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
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Every query the store runs, prepared once on first use. */
enum query {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_DATA_VERSION,
	Q_FLEET_ADD, Q_FLEET_ID, Q_FLEET_RM, Q_FLEET_LIST,
	Q_USER_ADD, Q_USER_ID, Q_USER_RM, Q_USER_LIST, Q_USER_GET,
	Q_KEY_ADD_USER, Q_KEY_ADD_DEVICE, Q_KEY_OWNER,
	Q_GRANT, Q_REVOKE,
	Q_DEVICE_ADD, Q_DEVICE_RM, Q_DEVICE_LIST, Q_DEVICE_LIST_USER, Q_DEVICE_GET,
	Q_DEVICE_RESOLVE, Q_DEVICE_ONLINE, Q_DEVICE_ALL_OFFLINE,
	Q_PRINCIPAL,
	Q_SESSION_ADD, Q_SESSION_BYTES, Q_SESSION_DEL, Q_SESSION_CLEAR, Q_SESSION_LIST,
	Q_SESSION_LIST_KICKED, Q_SESSION_KICK_ID, Q_SESSION_KICK_PRINCIPAL,
	Q_MAY_REACH,
	Q_TOKEN_ADD, Q_TOKEN_LIST, Q_TOKEN_REVOKE, Q_TOKEN_FIND, Q_TOKEN_USE,
	Q_DEVICE_KEY_BY_NAME, Q_DEVICE_INFO, Q_DEVICE_INFO_GET, Q_USER_KEY_RM,
	Q_DEVICE_ONDEMAND, Q_DEVICE_ONDEMAND_CLEAR,
	Q_FLEET_STATES,
	Q_ANCHOR_GET, Q_ANCHOR_SET,
	Q_PORT_HOLDER, Q_PORT_BIND, Q_PORT_RESOLVE,
	Q_MAX
};

/* Columns shared by every device listing, in struct store_device order. */
#define DEVICE_COLUMNS \
	"SELECT d.id, d.name, f.name, coalesce(k.fingerprint, ''), d.online, " \
	"d.last_seen, d.last_addr, d.ondemand, d.ondemand_since, coalesce(d.port, 0) FROM devices d " \
	"JOIN fleets f ON f.id = d.fleet_id LEFT JOIN keys k ON k.device_id = d.id "
/* Fleets user ?1 may reach at time ?2. */
#define GRANTED_FLEETS \
	"SELECT fleet_id FROM grants WHERE user_id = ?1 AND (expires = 0 OR expires > ?2)"
/* Comma-separated lists for struct store_user. */
#define USER_COLUMNS \
	"SELECT u.id, u.name, u.admin, " \
	"coalesce((SELECT group_concat(n, ',') FROM (SELECT f.name AS n FROM grants g " \
	"  JOIN fleets f ON f.id = g.fleet_id WHERE g.user_id = u.id " \
	"  AND (g.expires = 0 OR g.expires > ?1) ORDER BY f.name)), ''), " \
	"coalesce((SELECT group_concat(fp, ',') FROM (SELECT fingerprint AS fp FROM keys " \
	"  WHERE user_id = u.id ORDER BY id)), '') FROM users u "

/* Columns of struct store_session, in order. */
#define SESSION_COLUMNS \
	"SELECT id, kind, principal, key_fp, src, since, bytes, kicked FROM sessions "

static const char *const query_sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_DATA_VERSION] = "PRAGMA data_version",
	[Q_FLEET_ADD] = "INSERT INTO fleets (name, created) VALUES (?1, ?2)",
	[Q_FLEET_ID] = "SELECT id, (SELECT count(*) FROM devices WHERE fleet_id = fleets.id) "
	    "FROM fleets WHERE name = ?1",
	[Q_FLEET_RM] = "DELETE FROM fleets WHERE id = ?1",
	[Q_FLEET_LIST] = "SELECT f.name, count(d.id) FROM fleets f "
	    "LEFT JOIN devices d ON d.fleet_id = f.id GROUP BY f.id ORDER BY f.name",
	[Q_USER_ADD] = "INSERT INTO users (name, admin, created) VALUES (?1, ?2, ?3)",
	[Q_USER_ID] = "SELECT id FROM users WHERE name = ?1",
	[Q_USER_RM] = "DELETE FROM users WHERE name = ?1",
	[Q_USER_LIST] = USER_COLUMNS "ORDER BY u.name",
	[Q_USER_GET] = USER_COLUMNS "WHERE u.id = ?2",
	[Q_KEY_ADD_USER] = "INSERT INTO keys (fingerprint, type, blob, comment, user_id, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_KEY_ADD_DEVICE] = "INSERT INTO keys (fingerprint, type, blob, comment, device_id, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_KEY_OWNER] = "SELECT u.name, d.name, f.name FROM keys k "
	    "LEFT JOIN users u ON u.id = k.user_id LEFT JOIN devices d ON d.id = k.device_id "
	    "LEFT JOIN fleets f ON f.id = d.fleet_id WHERE k.fingerprint = ?1",
	[Q_GRANT] = "INSERT INTO grants (user_id, fleet_id, expires, created) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (user_id, fleet_id) DO UPDATE SET expires = excluded.expires",
	[Q_REVOKE] = "DELETE FROM grants WHERE user_id = ?1 AND fleet_id = ?2",
	[Q_DEVICE_ADD] = "INSERT INTO devices (name, fleet_id, created) VALUES (?1, ?2, ?3)",
	[Q_DEVICE_RM] = "DELETE FROM devices WHERE name = ?1 "
	    "AND fleet_id = (SELECT id FROM fleets WHERE name = ?2)",
	[Q_DEVICE_LIST] = DEVICE_COLUMNS "ORDER BY f.name, d.name",
	[Q_DEVICE_LIST_USER] = DEVICE_COLUMNS "WHERE d.fleet_id IN (" GRANTED_FLEETS ") "
	    "ORDER BY f.name, d.name",
	[Q_DEVICE_GET] = DEVICE_COLUMNS "WHERE d.id = ?1",
	[Q_DEVICE_RESOLVE] = "SELECT d.id, f.name FROM devices d JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE d.name = ?3 AND (?4 = '' OR f.name = ?4) "
	    "AND (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) ORDER BY f.name LIMIT 2",
	[Q_DEVICE_ONLINE] = "UPDATE devices SET online = ?2, last_seen = ?3, "
	    "last_addr = coalesce(?4, last_addr) WHERE id = ?1",
	[Q_DEVICE_ALL_OFFLINE] = "UPDATE devices SET online = 0, last_seen = ?1 WHERE online = 1",
	[Q_PRINCIPAL] = "SELECT k.type, k.fingerprint, u.id, u.name, u.admin, d.id, d.name, f.name "
	    "FROM keys k LEFT JOIN users u ON u.id = k.user_id "
	    "LEFT JOIN devices d ON d.id = k.device_id LEFT JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE k.fingerprint = ?1 AND k.blob = ?2",
	[Q_SESSION_ADD] = "INSERT INTO sessions (id, kind, principal, key_fp, src, since) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_SESSION_BYTES] = "UPDATE sessions SET bytes = ?2 WHERE id = ?1",
	[Q_SESSION_DEL] = "DELETE FROM sessions WHERE id = ?1",
	[Q_SESSION_CLEAR] = "DELETE FROM sessions",
	[Q_SESSION_LIST] = SESSION_COLUMNS "ORDER BY id",
	[Q_SESSION_LIST_KICKED] = SESSION_COLUMNS "WHERE kicked = 1 ORDER BY id",
	[Q_SESSION_KICK_ID] = "UPDATE sessions SET kicked = 1 WHERE id = ?1",
	[Q_SESSION_KICK_PRINCIPAL] = "UPDATE sessions SET kicked = 1 WHERE kind = ?1 AND principal = ?2",
	[Q_TOKEN_ADD] = "INSERT INTO tokens (hash, fleet_id, uses_left, expires, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_TOKEN_LIST] = "SELECT substr(t.hash, 1, 12), f.name, t.uses_left, t.used, t.expires, "
	    "t.revoked, t.created FROM tokens t JOIN fleets f ON f.id = t.fleet_id ORDER BY t.id",
	[Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE substr(hash, 1, length(?1)) = ?1",
	[Q_TOKEN_FIND] = "SELECT t.id, t.fleet_id, f.name, t.uses_left, t.expires, t.revoked "
	    "FROM tokens t JOIN fleets f ON f.id = t.fleet_id WHERE t.hash = ?1",
	[Q_TOKEN_USE] = "UPDATE tokens SET used = used + 1, "
	    "uses_left = CASE WHEN uses_left > 0 THEN uses_left - 1 ELSE uses_left END WHERE id = ?1",
	[Q_DEVICE_KEY_BY_NAME] = "SELECT d.id, coalesce(k.fingerprint, '') FROM devices d "
	    "LEFT JOIN keys k ON k.device_id = d.id WHERE d.name = ?1 AND d.fleet_id = ?2",
	[Q_DEVICE_INFO] = "UPDATE devices SET hostname = ?2, os = ?3, agent_version = ?4, "
	    "host_keys = ?5, booted = ?6, reconnects = reconnects + 1 WHERE id = ?1",
	[Q_DEVICE_INFO_GET] = "SELECT d.name, f.name, coalesce(d.hostname, ''), coalesce(d.os, ''), "
	    "coalesce(d.agent_version, ''), coalesce(d.host_keys, ''), d.booted FROM devices d "
	    "JOIN fleets f ON f.id = d.fleet_id WHERE (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) "
	    "ORDER BY f.name, d.name",
	[Q_USER_KEY_RM] = "DELETE FROM keys WHERE fingerprint = ?2 "
	    "AND user_id = (SELECT id FROM users WHERE name = ?1)",
	[Q_DEVICE_ONDEMAND] = "UPDATE devices SET ondemand = ?2, ondemand_since = ?3 WHERE id = ?1",
	[Q_DEVICE_ONDEMAND_CLEAR] = "UPDATE devices SET ondemand = '', ondemand_since = 0 "
	    "WHERE ondemand <> ''",
	[Q_FLEET_STATES] = "SELECT f.name, coalesce(sum(d.online), 0), "
	    "coalesce(sum(d.online = 0 AND d.ondemand IN ('standby', 'connected', 'disconnected')), 0), "
	    "count(d.id) FROM fleets f LEFT JOIN devices d ON d.fleet_id = f.id GROUP BY f.id ORDER BY f.name",
	[Q_ANCHOR_GET] = "SELECT seq, size, hash FROM audit_anchor WHERE id = 1",
	/* forward only, unless ?5 (the log was cut and an audit-cut record re-anchors it) */
	[Q_ANCHOR_SET] = "INSERT INTO audit_anchor (id, seq, size, hash, updated) "
	    "VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
	    "size = excluded.size, hash = excluded.hash, updated = excluded.updated "
	    "WHERE excluded.seq > audit_anchor.seq OR ?5",
	[Q_PORT_HOLDER] = "SELECT o.name FROM devices d JOIN devices o ON o.fleet_id = d.fleet_id "
	    "WHERE d.id = ?1 AND o.port = ?2 AND o.id <> d.id",
	[Q_PORT_BIND] = "UPDATE devices SET port = ?2 WHERE id = ?1 AND port IS NULL",
	[Q_PORT_RESOLVE] = "SELECT d.id, d.name, f.name FROM devices d JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE d.port = ?3 AND (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) ORDER BY f.name, d.name LIMIT 2",
	[Q_MAY_REACH] = "SELECT 1 FROM users u, devices d WHERE u.id = ?1 AND d.id = ?3 "
	    "AND (u.admin = 1 OR d.fleet_id IN (" GRANTED_FLEETS "))",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_MAX];
	int64_t own_writes;	/* bumped on each of our commits */
	int64_t failures;	/* store_failures() */
	void (*timer)(void *arg, int64_t ns);	/* store_set_timer() */
	void *timer_arg;
	int64_t started[Q_MAX];	/* with a timer: when query() handed the statement out, ns */
	char errmsg[256];
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records a human-readable reason for the last failure. */
static void __attribute__((format(printf, 2, 3)))
set_err(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
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
	set_err(st, "%s", sqlite3_errmsg(st->db));
	if ((rc & 0xff) != SQLITE_CONSTRAINT && (rc & 0xff) != SQLITE_TOOBIG)
		st->failures++;	/* the store failed, not the caller's request */
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return ERR_NOMEM;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY: {
		/* SQLite says "disk I/O error"; the system's reason is what helps */
		int e = sqlite3_system_errno(st->db);
		const char *file = sqlite3_db_filename(st->db, "main");
		struct statvfs vfs;
		if (e == 0 && file != NULL && statvfs(file, &vfs) == 0)
			e = (vfs.f_flag & ST_RDONLY) ? EROFS : vfs.f_bavail == 0 ? ENOSPC : 0;
		if (e == 0 && file != NULL)
			e = probe_write(file);
		set_err(st, "the state directory cannot be written: %s (%s)",
		    e != 0 ? strerror(e) : (rc & 0xff) == SQLITE_FULL ? "disk full" : "I/O error",
		    sqlite3_errmsg(st->db));
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
 * Returns the prepared statement for id, reset and unbound, in *out. If the
 * cached one is in use (a callback re-entered the store), a private copy is
 * prepared and *owned is set: the caller finalizes it with done().
 */
static int
query(struct store *st, enum query id, sqlite3_stmt **out, bool *owned)
{
	int rc;

	*out = NULL;
	*owned = false;
	if (st->q[id] != NULL && sqlite3_stmt_busy(st->q[id])) {
		rc = sqlite3_prepare_v2(st->db, query_sql[id], -1, out, NULL);
		*owned = true;
		return rc == SQLITE_OK ? 0 : sql_err(st, rc);
	}
	if (st->q[id] == NULL) {
		rc = sqlite3_prepare_v3(st->db, query_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->q[id], NULL);
		if (rc != SQLITE_OK)
			return sql_err(st, rc);
	}
	*out = st->q[id];
	if (st->timer != NULL)
		st->started[id] = mono_ns();
	return 0;
}

/* Releases a statement obtained from query(). */
static void
done(sqlite3_stmt *s, bool owned)
{
	if (s == NULL)
		return;
	if (owned) {
		sqlite3_finalize(s);
		return;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows; *changes gets the rows touched. */
static int
step_done(struct store *st, sqlite3_stmt *s, int *changes)
{
	int rc = sqlite3_step(s);

	if (changes != NULL)
		*changes = sqlite3_changes(st->db);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return sql_err(st, rc);
}

/* Runs one of the fixed statements that take no parameters. */
static int
exec_fixed(struct store *st, enum query id)
{
	sqlite3_stmt *s;
	bool owned;
	int r = query(st, id, &s, &owned);

	if (r == 0)
		r = step_done(st, s, NULL);
	done(s, owned);
	return r;
}

static int
tx_begin(struct store *st)
{
	return exec_fixed(st, Q_BEGIN);
}

/* Commits if r is 0, else rolls back; returns r or the commit's error. */
static int
tx_end(struct store *st, int r)
{
	if (r != 0) {
		char keep[sizeof(st->errmsg)];
		memcpy(keep, st->errmsg, sizeof(keep));
		exec_fixed(st, Q_ROLLBACK);
		memcpy(st->errmsg, keep, sizeof(keep));
		return r;
	}
	r = exec_fixed(st, Q_COMMIT);
	if (r != 0) {
		exec_fixed(st, Q_ROLLBACK);
		return r;
	}
	st->own_writes++;
	return 0;
}

/* Validates a name the caller should already have normalized. */
static int
check_label(struct store *st, const char *what, const char *s)
{
	if (s != NULL && names_label_valid(s, strnlen(s, LIM_LABEL + 1)))
		return 0;
	set_err(st, "invalid %s name", what);
	return ERR_NAME;
}

static int
check_key(struct store *st, const struct pubkey *key)
{
	if (key != NULL && key->blob != NULL && key->type[0] != '\0' &&
	    strncmp(key->fp, "SHA256:", 7) == 0 && key->blob[0] != '\0')
		return 0;
	set_err(st, "not a usable public key");
	return ERR_KEY;
}

/* ---- opening ---- */

/* Creates the state directory if missing and checks that we may write it. */
static int
prepare_dir(const char *dir, char *why, size_t whylen)
{
	struct statvfs vfs;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(e));
		return (e == EROFS || e == EACCES || e == EPERM) ? ERR_READONLY : ERR_IO;
	}
	if (access(dir, R_OK | X_OK) != 0) {
		snprintf(why, whylen, "cannot read %s: %s", dir, strerror(errno));
		return ERR_IO;
	}
	if (access(dir, W_OK) != 0 || (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))) {
		snprintf(why, whylen, "state directory %s is read-only; outpost needs to write %s there",
		    dir, STORE_DB_NAME);
		return ERR_READONLY;
	}
	return 0;
}

/*
 * Creates outpost.db with mode 0600 if it does not exist yet. An existing
 * file is only checked with access(2), never opened: closing any descriptor
 * of the file drops every POSIX lock this process holds on it, and another
 * connection of ours (outpostd's store thread, its command workers) would
 * then look absent to the CLI, which deletes the WAL it is writing to.
 */
static int
prepare_db_file(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 && errno == EEXIST && access(path, R_OK | W_OK) == 0)
		return 0;
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
	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
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

	if ((r = tx_begin(st)) != 0)
		return r;
	if ((r = schema_version(st, &v)) != 0 || v != from)
		return tx_end(st, r);
	if (sqlite3_exec(st->db, migrations[from], NULL, NULL, &msg) != SQLITE_OK) {
		set_err(st, "schema migration %d failed: %s", from + 1, msg ? msg : "?");
		sqlite3_free(msg);
		return tx_end(st, ERR_STORE);
	}
	if ((r = schema_version(st, &v)) == 0 && v != from + 1) {
		set_err(st, "schema migration %d did not set user_version", from + 1);
		r = ERR_STORE;
	}
	return tx_end(st, r);
}

/* Brings the schema to the newest version; refuses a database from a newer program. */
static int
migrate(struct store *st)
{
	int r, v;

	if ((r = schema_version(st, &v)) != 0)
		return r;
	if (v > NMIGRATIONS) {
		set_err(st, "%s has schema version %d, newer than this program's %d",
		    STORE_DB_NAME, v, NMIGRATIONS);
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
	char *msg = NULL;

	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_exec(st->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = sqlite3_extended_errcode(st->db);
		set_err(st, "cannot configure %s: %s", STORE_DB_NAME, msg ? msg : "?");
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_READONLY ? ERR_READONLY : ERR_STORE;
	}
	return 0;
}

/* Opens the SQLite database at path; dir, when not NULL, is created first (the state directory). */
static int
open_sqlite(const char *dir, const char *path, struct store **out, char *why, size_t whylen)
{
	struct store *st = NULL;
	int r;

	bool memory = strcmp(path, ":memory:") == 0;

	if ((dir != NULL && (r = prepare_dir(dir, why, whylen)) != 0) ||
	    (!memory && (r = prepare_db_file(path, why, whylen)) != 0))
		return r;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
	    (memory ? SQLITE_OPEN_CREATE : 0), NULL);
	if (rc != SQLITE_OK) {
		r = st->db ? sql_err(st, rc) : ERR_NOMEM;
		snprintf(why, whylen, "cannot open %s: %s", path, sqlite3_errstr(rc));
		goto out;
	}
	if ((r = configure(st)) != 0 || (r = migrate(st)) != 0) {
		snprintf(why, whylen, "%s: %s", path, st->errmsg);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	store_close(st);
	return r;
}

static bool
is_pg_uri(const char *spec)
{
	return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

int
store_open_spec(const char *spec, const char *state_dir, struct store **out, char *why, size_t whylen)
{
	char path[PATH_MAX];
	char scratch[256];
	struct stat sb;

	*out = NULL;
	if (why == NULL || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	why[0] = '\0';
	if (spec == NULL || spec[0] == '\0' || strcmp(spec, "sqlite") == 0) {
		if (state_dir == NULL || state_dir[0] == '\0') {
			snprintf(why, whylen, "no state directory given");
			return ERR_INVAL;
		}
		if (snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_DB_NAME) >= (int)sizeof(path)) {
			snprintf(why, whylen, "state directory path too long");
			return ERR_TOOLONG;
		}
		return open_sqlite(state_dir, path, out, why, whylen);
	}
	if (strcmp(spec, "sqlite::memory:") == 0)	/* outpostd's mirror (storeq.c) */
		return open_sqlite(NULL, ":memory:", out, why, whylen);
	if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '\0') {
		const char *p = spec + 7;
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (snprintf(path, sizeof(path), "%s/%s", p, STORE_DB_NAME) >= (int)sizeof(path)) {
				snprintf(why, whylen, "store path too long");
				return ERR_TOOLONG;
			}
			return open_sqlite(p, path, out, why, whylen);
		}
		if (strlen(p) >= sizeof(path)) {
			snprintf(why, whylen, "store path too long");
			return ERR_TOOLONG;
		}
		return open_sqlite(NULL, p, out, why, whylen);
	}
	if (is_pg_uri(spec)) {
		char shown[512];
		store_spec_redact(spec, shown, sizeof(shown));
		snprintf(why, whylen, "%s: this build has no PostgreSQL store yet", shown);
		return ERR_CONFIG;
	}
	snprintf(why, whylen, "unknown store \"%.64s\": use sqlite, sqlite:PATH or a postgresql:// URI", spec);
	return ERR_CONFIG;
}

int
store_open_why(const char *state_dir, struct store **out, char *why, size_t whylen)
{
	return store_open_spec(NULL, state_dir, out, why, whylen);
}

int
store_open(const char *state_dir, struct store **out)
{
	return store_open_spec(NULL, state_dir, out, NULL, 0);
}

/* Masks the password of a URI's userinfo (scheme://user:PASSWORD@host) and of password= parameters. */
void
store_spec_redact(const char *spec, char *out, size_t len)
{
	size_t n = 0;
	const char *p = spec != NULL ? spec : "";
	const char *auth_end = NULL, *colon = NULL;

	if (len == 0)
		return;
	const char *slashes = strstr(p, "://");
	if (slashes != NULL) {
		const char *host = slashes + 3;
		size_t span = strcspn(host, "/?#");
		const char *at = memrchr(host, '@', span);
		if (at != NULL) {
			colon = memchr(host, ':', (size_t)(at - host));
			auth_end = at;
		}
	}
	while (*p != '\0' && n + 1 < len) {
		if (colon != NULL && p == colon + 1) {
			for (const char *m = "***"; *m != '\0' && n + 1 < len; m++)
				out[n++] = *m;
			p = auth_end;
			continue;
		}
		if ((p == spec || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ') &&
		    strncmp(p, "password=", 9) == 0) {
			for (const char *m = "password=***"; *m != '\0' && n + 1 < len; m++)
				out[n++] = *m;
			p += 9 + strcspn(p + 9, "& ");
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

const char *
store_engine(const struct store *st)
{
	(void)st;
	return "sqlite";
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < Q_MAX; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st);
}

const char *
store_errmsg(struct store *st)
{
	if (st == NULL)
		return "no state store";
	return st->errmsg;
}

int64_t
store_failures(const struct store *st)
{
	return st != NULL ? st->failures : 0;
}

/*
 * A statement finished. SQLite's own figure has millisecond resolution:
 * measure from query() with the monotonic clock instead, and fall back to
 * SQLite's for private copies (a re-entered statement).
 */
static int
on_profile(unsigned type, void *arg, void *stmt, void *ns)
{
	struct store *st = arg;
	int64_t t = *(const sqlite3_int64 *)ns;

	if (type != SQLITE_TRACE_PROFILE || st->timer == NULL)
		return 0;
	for (int i = 0; i < Q_MAX; i++)
		if (st->q[i] == stmt && st->started[i] > 0) {
			t = mono_ns() - st->started[i];
			st->started[i] = 0;
			break;
		}
	st->timer(st->timer_arg, t);
	return 0;
}

void
store_set_timer(struct store *st, void (*fn)(void *arg, int64_t ns), void *arg)
{
	st->timer = fn;
	st->timer_arg = arg;
	sqlite3_trace_v2(st->db, fn != NULL ? SQLITE_TRACE_PROFILE : 0, fn != NULL ? on_profile : NULL, st);
}

int64_t
store_change_counter(struct store *st)
{
	sqlite3_stmt *s;
	bool owned;
	int64_t v = 0;

	if (query(st, Q_DATA_VERSION, &s, &owned) != 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	done(s, owned);
	return v + st->own_writes;
}

/* ---- lookups shared by several operations ---- */

/* Fleet id and device count by name; ERR_NOTFOUND with a message. */
static int
fleet_lookup(struct store *st, const char *fleet, int64_t *id, int *ndevices)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	*id = 0;
	if (ndevices != NULL)
		*ndevices = 0;
	if ((r = query(st, Q_FLEET_ID, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, fleet, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		if (ndevices != NULL)
			*ndevices = sqlite3_column_int(s, 1);
	} else if (rc == SQLITE_DONE) {
		set_err(st, "no fleet named %s", fleet);
		r = ERR_NOTFOUND;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

static int
user_lookup(struct store *st, const char *user, int64_t *id)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	*id = 0;
	if ((r = query(st, Q_USER_ID, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE) {
		set_err(st, "no user named %s", user);
		r = ERR_NOTFOUND;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* ERR_EXISTS (naming the owner) if the key is already enrolled, else 0. */
static int
key_free(struct store *st, const struct pubkey *key)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_KEY_OWNER, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, key->fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *u = (const char *)sqlite3_column_text(s, 0);
		const char *d = (const char *)sqlite3_column_text(s, 1);
		const char *f = (const char *)sqlite3_column_text(s, 2);
		if (u != NULL)
			set_err(st, "key %s already belongs to user %s", key->fp, u);
		else
			set_err(st, "key %s already belongs to device %s.%s", key->fp,
			    d ? d : "?", f ? f : "?");
		r = ERR_EXISTS;
	} else if (rc != SQLITE_DONE)
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* Inserts a key owned by the user (Q_KEY_ADD_USER) or device (Q_KEY_ADD_DEVICE) owner. */
static int
key_insert(struct store *st, enum query id, int64_t owner, const struct pubkey *key)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = key_free(st, key)) != 0 || (r = query(st, id, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, key->fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, key->blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, key->comment ? key->comment : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, owner);
	sqlite3_bind_int64(s, 6, timefmt_now());
	r = step_done(st, s, NULL);
	done(s, owned);
	return r;
}

/* ---- fleets ---- */

int
store_fleet_add(struct store *st, const char *fleet)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = check_label(st, "fleet", fleet)) != 0 ||
	    (r = query(st, Q_FLEET_ADD, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, fleet, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, timefmt_now());
	r = step_done(st, s, NULL);
	done(s, owned);
	if (r == ERR_EXISTS)
		set_err(st, "fleet %s already exists", fleet);
	if (r == 0)
		st->own_writes++;
	return r;
}

int
store_fleet_rm(struct store *st, const char *fleet)
{
	sqlite3_stmt *s = NULL;
	bool owned = false;
	int64_t id;
	int r, n;

	if ((r = check_label(st, "fleet", fleet)) != 0 || (r = tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &id, &n)) != 0)
		goto out;
	if (n > 0) {
		set_err(st, "fleet %s still has %d device%s; remove %s first", fleet, n,
		    n == 1 ? "" : "s", n == 1 ? "it" : "them");
		r = ERR_INUSE;
		goto out;
	}
	if ((r = query(st, Q_FLEET_RM, &s, &owned)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	r = step_done(st, s, NULL);
	if (r == ERR_NOTFOUND) {	/* a device raced in: foreign key RESTRICT */
		set_err(st, "fleet %s still has devices", fleet);
		r = ERR_INUSE;
	}
out:
	done(s, owned);
	return tx_end(st, r);
}

/* Steps through rows, handing each to each(); a non-zero return from it stops and is returned. */
static int
for_each_row(struct store *st, sqlite3_stmt *s, int (*each)(sqlite3_stmt *, void *, void *),
    void *cb, void *arg)
{
	int rc, r;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = each(s, cb, arg)) != 0)
			return r;
	return rc == SQLITE_DONE ? 0 : sql_err(st, rc);
}

/* Runs q, which takes no parameters, and hands each row to each() (for_each_row). */
static int
list_rows(struct store *st, enum query q, int (*each)(sqlite3_stmt *, void *, void *), void *cb,
    void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, q, &s, &owned)) != 0)
		return r;
	r = for_each_row(st, s, each, cb, arg);
	done(s, owned);
	return r;
}

static int
fleet_row(sqlite3_stmt *s, void *cb, void *arg)
{
	store_fleet_cb fn = (store_fleet_cb)cb;

	return fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1));
}

int
store_fleet_list(struct store *st, store_fleet_cb cb, void *arg)
{
	return list_rows(st, Q_FLEET_LIST, fleet_row, (void *)cb, arg);
}

static int
fleet_state_row(sqlite3_stmt *s, void *cb, void *arg)
{
	store_fleet_state_cb fn = (store_fleet_state_cb)cb;
	int online = sqlite3_column_int(s, 1), standby = sqlite3_column_int(s, 2);

	return fn(arg, (const char *)sqlite3_column_text(s, 0), online, standby,
	    sqlite3_column_int(s, 3) - online - standby);
}

int
store_fleet_states(struct store *st, store_fleet_state_cb cb, void *arg)
{
	return list_rows(st, Q_FLEET_STATES, fleet_state_row, (void *)cb, arg);
}

int
store_fleet_get(struct store *st, const char *fleet, int *ndevices)
{
	int64_t id;
	int n = 0, r;

	if (ndevices != NULL)
		*ndevices = 0;
	if ((r = check_label(st, "fleet", fleet)) != 0 || (r = fleet_lookup(st, fleet, &id, &n)) != 0)
		return r;
	if (ndevices != NULL)
		*ndevices = n;
	return 0;
}

/* ---- users ---- */

static int
user_insert(struct store *st, const char *user, bool admin, int64_t *id)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	*id = 0;
	if ((r = query(st, Q_USER_ADD, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, admin ? 1 : 0);
	sqlite3_bind_int64(s, 3, timefmt_now());
	r = step_done(st, s, NULL);
	done(s, owned);
	if (r == ERR_EXISTS)
		set_err(st, "user %s already exists", user);
	if (r == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return r;
}

int
store_user_add(struct store *st, const char *user, bool admin, const struct pubkey *key)
{
	int64_t id;
	int r;

	if ((r = check_label(st, "user", user)) != 0 || (r = check_key(st, key)) != 0 ||
	    (r = tx_begin(st)) != 0)
		return r;
	if ((r = user_insert(st, user, admin, &id)) == 0)
		r = key_insert(st, Q_KEY_ADD_USER, id, key);
	return tx_end(st, r);
}

int
store_user_add_key(struct store *st, const char *user, const struct pubkey *key)
{
	int64_t id;
	int r;

	if ((r = check_label(st, "user", user)) != 0 || (r = check_key(st, key)) != 0 ||
	    (r = tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &id)) == 0)
		r = key_insert(st, Q_KEY_ADD_USER, id, key);
	return tx_end(st, r);
}

int
store_user_rm_key(struct store *st, const char *user, const char *fp)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = check_label(st, "user", user)) != 0)
		return r;
	if (fp == NULL || strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) >= PUBKEY_FP_MAX) {
		set_err(st, "a key is named by its fingerprint, SHA256:...");
		return ERR_INVAL;
	}
	if ((r = query(st, Q_USER_KEY_RM, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, fp, -1, SQLITE_STATIC);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "user %s has no key %s", user, fp);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

int
store_user_rm(struct store *st, const char *user)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = check_label(st, "user", user)) != 0 || (r = query(st, Q_USER_RM, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no user named %s", user);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

int
store_grant(struct store *st, const char *user, const char *fleet, int64_t expires)
{
	sqlite3_stmt *s = NULL;
	bool owned = false;
	int64_t uid, fid;
	int r;

	if ((r = check_label(st, "user", user)) != 0 || (r = check_label(st, "fleet", fleet)) != 0)
		return r;
	if (expires < 0) {
		set_err(st, "expiry before 1970");
		return ERR_INVAL;
	}
	if ((r = tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &uid)) != 0 || (r = fleet_lookup(st, fleet, &fid, NULL)) != 0 ||
	    (r = query(st, Q_GRANT, &s, &owned)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, uid);
	sqlite3_bind_int64(s, 2, fid);
	sqlite3_bind_int64(s, 3, expires);
	sqlite3_bind_int64(s, 4, timefmt_now());
	r = step_done(st, s, NULL);
out:
	done(s, owned);
	return tx_end(st, r);
}

int
store_revoke(struct store *st, const char *user, const char *fleet)
{
	sqlite3_stmt *s = NULL;
	bool owned = false;
	int64_t uid, fid;
	int r, n = 0;

	if ((r = check_label(st, "user", user)) != 0 || (r = check_label(st, "fleet", fleet)) != 0 ||
	    (r = tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &uid)) != 0 || (r = fleet_lookup(st, fleet, &fid, NULL)) != 0 ||
	    (r = query(st, Q_REVOKE, &s, &owned)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, uid);
	sqlite3_bind_int64(s, 2, fid);
	if ((r = step_done(st, s, &n)) == 0 && n == 0) {
		set_err(st, "user %s has no grant for fleet %s", user, fleet);
		r = ERR_NOTFOUND;
	}
out:
	done(s, owned);
	return tx_end(st, r);
}

static int
user_row(sqlite3_stmt *s, void *cb, void *arg)
{
	store_user_cb fn = (store_user_cb)cb;
	struct store_user u = {
		.id = sqlite3_column_int64(s, 0),
		.name = (const char *)sqlite3_column_text(s, 1),
		.admin = sqlite3_column_int(s, 2) != 0,
		.fleets = (const char *)sqlite3_column_text(s, 3),
		.key_fps = (const char *)sqlite3_column_text(s, 4),
	};

	return fn(arg, &u);
}

int
store_user_list(struct store *st, store_user_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, Q_USER_LIST, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, timefmt_now());
	r = for_each_row(st, s, user_row, (void *)cb, arg);
	done(s, owned);
	return r;
}

int
store_user_get(struct store *st, int64_t user_id, store_user_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_USER_GET, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, timefmt_now());
	sqlite3_bind_int64(s, 2, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = user_row(s, (void *)cb, arg);
	else if (rc == SQLITE_DONE) {
		set_err(st, "no user with id %lld", (long long)user_id);
		r = ERR_NOTFOUND;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* ---- devices ---- */

static int
device_insert(struct store *st, const char *name, const char *fleet, int64_t fid, int64_t *id)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	*id = 0;
	if ((r = query(st, Q_DEVICE_ADD, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, fid);
	sqlite3_bind_int64(s, 3, timefmt_now());
	r = step_done(st, s, NULL);
	done(s, owned);
	if (r == ERR_EXISTS)
		set_err(st, "device %s.%s already exists", name, fleet);
	if (r == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return r;
}

int
store_device_add(struct store *st, const char *name, const char *fleet, const struct pubkey *key)
{
	int64_t fid, id;
	int r;

	if ((r = check_label(st, "device", name)) != 0 || (r = check_label(st, "fleet", fleet)) != 0 ||
	    (r = check_key(st, key)) != 0 || (r = tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &fid, NULL)) == 0 &&
	    (r = device_insert(st, name, fleet, fid, &id)) == 0)
		r = key_insert(st, Q_KEY_ADD_DEVICE, id, key);
	return tx_end(st, r);
}

/* Grants fleet fid to user uid forever, inside the caller's transaction. */
static int
grant_insert(struct store *st, int64_t uid, int64_t fid)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, Q_GRANT, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, uid);
	sqlite3_bind_int64(s, 2, fid);
	sqlite3_bind_int64(s, 3, 0);
	sqlite3_bind_int64(s, 4, timefmt_now());
	r = step_done(st, s, NULL);
	done(s, owned);
	return r;
}

/* One imported device, or user granted fleet fid. */
static int
import_one(struct store *st, const char *fleet, int64_t fid, bool users,
    const struct store_import_item *it)
{
	int64_t id;
	int r;

	if ((r = check_label(st, users ? "user" : "device", it->name)) != 0 ||
	    (r = check_key(st, it->key)) != 0)
		return r;
	if (users) {
		if ((r = user_insert(st, it->name, false, &id)) == 0 &&
		    (r = key_insert(st, Q_KEY_ADD_USER, id, it->key)) == 0)
			r = grant_insert(st, id, fid);
		return r;
	}
	if ((r = device_insert(st, it->name, fleet, fid, &id)) == 0)
		r = key_insert(st, Q_KEY_ADD_DEVICE, id, it->key);
	return r;
}

int
store_import(struct store *st, const char *fleet, bool users, const struct store_import_item *items,
    size_t n, size_t *failed)
{
	int64_t fid;
	int r;

	*failed = n;
	if ((r = check_label(st, "fleet", fleet)) != 0 || (r = tx_begin(st)) != 0)
		return r;
	r = fleet_lookup(st, fleet, &fid, NULL);
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = import_one(st, fleet, fid, users, &items[i])) != 0)
			*failed = i;
	return tx_end(st, r);
}

int
store_device_rm(struct store *st, const char *name, const char *fleet)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = check_label(st, "device", name)) != 0 || (r = check_label(st, "fleet", fleet)) != 0 ||
	    (r = query(st, Q_DEVICE_RM, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, fleet, -1, SQLITE_STATIC);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no device named %s.%s", name, fleet);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

static int
device_row(sqlite3_stmt *s, void *cb, void *arg)
{
	store_device_cb fn = (store_device_cb)cb;
	struct store_device d = {
		.id = sqlite3_column_int64(s, 0),
		.name = (const char *)sqlite3_column_text(s, 1),
		.fleet = (const char *)sqlite3_column_text(s, 2),
		.key_fp = (const char *)sqlite3_column_text(s, 3),
		.online = sqlite3_column_int(s, 4) != 0,
		.last_seen = sqlite3_column_int64(s, 5),
		.last_addr = (const char *)sqlite3_column_text(s, 6),
		.ondemand = (const char *)sqlite3_column_text(s, 7),
		.ondemand_since = sqlite3_column_int64(s, 8),
		.port = (uint32_t)sqlite3_column_int64(s, 9),
	};

	return fn(arg, &d);
}

int
store_device_list(struct store *st, store_device_cb cb, void *arg)
{
	return list_rows(st, Q_DEVICE_LIST, device_row, (void *)cb, arg);
}

int
store_device_list_for_user(struct store *st, int64_t user_id, store_device_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, Q_DEVICE_LIST_USER, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, timefmt_now());
	r = for_each_row(st, s, device_row, (void *)cb, arg);
	done(s, owned);
	return r;
}

int
store_device_resolve(struct store *st, int64_t user_id, const char *name, const char *fleet,
    int64_t *device_id, char *fleet_out)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc, rows = 0;

	*device_id = 0;
	fleet_out[0] = '\0';
	if (fleet == NULL)
		fleet = "";
	if ((r = check_label(st, "device", name)) != 0 ||
	    (fleet[0] != '\0' && (r = check_label(st, "fleet", fleet)) != 0) ||
	    (r = query(st, Q_DEVICE_RESOLVE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, timefmt_now());
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, fleet, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && ++rows == 1) {
		*device_id = sqlite3_column_int64(s, 0);
		snprintf(fleet_out, LIM_LABEL + 1, "%s", (const char *)sqlite3_column_text(s, 1));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sql_err(st, rc);
	else if (rows == 0) {
		set_err(st, "no device named %s%s%s", name, fleet[0] ? "." : "", fleet);
		r = ERR_NOTFOUND;
	} else if (rows > 1) {
		set_err(st, "device name %s is in several fleets", name);
		r = ERR_AMBIGUOUS;
	}
	done(s, owned);
	if (r != 0) {
		*device_id = 0;
		fleet_out[0] = '\0';
	}
	return r;
}

int
store_device_get(struct store *st, int64_t device_id, store_device_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_DEVICE_GET, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = device_row(s, (void *)cb, arg);
	else if (rc == SQLITE_DONE) {
		set_err(st, "no device with id %lld", (long long)device_id);
		r = ERR_NOTFOUND;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

int
store_device_set_online(struct store *st, int64_t device_id, bool online, int64_t when,
    const char *addr)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if (addr != NULL && strnlen(addr, LIM_PEER_STRING) >= LIM_PEER_STRING) {
		set_err(st, "address too long");
		return ERR_TOOLONG;
	}
	if ((r = query(st, Q_DEVICE_ONLINE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_int(s, 2, online ? 1 : 0);
	sqlite3_bind_int64(s, 3, when);
	if (addr != NULL)
		sqlite3_bind_text(s, 4, addr, -1, SQLITE_STATIC);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no device with id %lld", (long long)device_id);
		return ERR_NOTFOUND;
	}
	return r;	/* liveness is not an access change: no own_writes bump */
}

int
store_device_bind_port(struct store *st, int64_t device_id, uint32_t port, char *holder, size_t hlen)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc, n = 0;

	if (holder != NULL && hlen > 0)
		holder[0] = '\0';
	if (port == 0 || port > 65535) {
		set_err(st, "port %u out of range", port);
		return ERR_INVAL;
	}
	if ((r = query(st, Q_PORT_HOLDER, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_int64(s, 2, port);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (holder != NULL && hlen > 0)
			snprintf(holder, hlen, "%s", (const char *)sqlite3_column_text(s, 0));
		set_err(st, "port %u is bound to another device of the fleet", port);
		r = ERR_EXISTS;
	} else if (rc != SQLITE_DONE)
		r = sql_err(st, rc);
	done(s, owned);
	if (r != 0)
		return r;
	if ((r = query(st, Q_PORT_BIND, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_int64(s, 2, port);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == ERR_EXISTS)	/* the unique index: bound by another writer meanwhile */
		set_err(st, "port %u is bound to another device of the fleet", port);
	return r;
}

int
store_device_by_port(struct store *st, int64_t user_id, uint32_t port, int64_t *device_id,
    char *qualified, size_t qlen)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc, rows = 0;

	*device_id = 0;
	if (qualified != NULL && qlen > 0)
		qualified[0] = '\0';
	if ((r = query(st, Q_PORT_RESOLVE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, timefmt_now());
	sqlite3_bind_int64(s, 3, port);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t l = qualified != NULL && qlen > 0 ? strlen(qualified) : 0;
		if (++rows == 1)
			*device_id = sqlite3_column_int64(s, 0);
		if (qualified != NULL && qlen > l)
			snprintf(qualified + l, qlen - l, "%s%s.%s", rows > 1 ? " and " : "",
			    (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2));
	}
	if (rc != SQLITE_DONE)
		r = sql_err(st, rc);
	else if (rows == 0) {
		set_err(st, "no device holds port %u", port);
		r = ERR_NOTFOUND;
	} else if (rows > 1)
		r = ERR_AMBIGUOUS;
	done(s, owned);
	if (r != 0 && r != ERR_AMBIGUOUS)
		*device_id = 0;
	return r;
}

int
store_device_all_offline(struct store *st, int64_t when)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = query(st, Q_DEVICE_ALL_OFFLINE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, when);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n > 0)
		st->own_writes++;
	return r;
}

int
store_device_set_ondemand(struct store *st, int64_t device_id, const char *state, int64_t when)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if (state == NULL || strnlen(state, 32) >= 32 || strspn(state, "abcdefghijklmnopqrstuvwxyz") != strlen(state)) {
		set_err(st, "bad on-demand state");
		return ERR_INVAL;
	}
	if ((r = query(st, Q_DEVICE_ONDEMAND, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, when);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no device with id %lld", (long long)device_id);
		return ERR_NOTFOUND;
	}
	return r;	/* liveness, not an access change */
}

int
store_device_clear_ondemand(struct store *st)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = query(st, Q_DEVICE_ONDEMAND_CLEAR, &s, &owned)) != 0)
		return r;
	r = step_done(st, s, &n);
	done(s, owned);
	return r;
}

/* ---- authentication ---- */

static void
principal_fill(sqlite3_stmt *s, struct store_principal *p)
{
	const char *col;

	snprintf(p->key_type, sizeof(p->key_type), "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(p->key_fp, sizeof(p->key_fp), "%s", (const char *)sqlite3_column_text(s, 1));
	if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
		p->kind = PRINCIPAL_USER;
		p->id = sqlite3_column_int64(s, 2);
		col = (const char *)sqlite3_column_text(s, 3);
		snprintf(p->name, sizeof(p->name), "%s", col ? col : "");
		p->admin = sqlite3_column_int(s, 4) != 0;
		return;
	}
	p->kind = PRINCIPAL_DEVICE;
	p->id = sqlite3_column_int64(s, 5);
	col = (const char *)sqlite3_column_text(s, 6);
	snprintf(p->name, sizeof(p->name), "%s", col ? col : "");
	col = (const char *)sqlite3_column_text(s, 7);
	snprintf(p->fleet, sizeof(p->fleet), "%s", col ? col : "");
}

int
store_principal_by_key(struct store *st, const struct pubkey *key, struct store_principal *out)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = check_key(st, key)) != 0 || (r = query(st, Q_PRINCIPAL, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, key->fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key->blob, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		principal_fill(s, out);
	else if (rc == SQLITE_DONE) {
		set_err(st, "no user or device has key %s", key->fp);
		r = ERR_NOTFOUND;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* ---- live sessions ---- */

/* Checks what outpostd records about a session before it reaches SQL. */
static int
check_session(struct store *st, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since)
{
	struct name_target t;

	if (id <= 0 || since < 0) {
		set_err(st, "invalid session id or start time");
		return ERR_INVAL;
	}
	if (kind == NULL || (strcmp(kind, "user") != 0 && strcmp(kind, "device") != 0 &&
	    strcmp(kind, "enroll") != 0)) {
		set_err(st, "session kind must be user, device or enroll");
		return ERR_INVAL;
	}
	if (principal == NULL || names_parse_target(principal, &t) != 0 ||
	    (strcmp(kind, "device") != 0) != (t.fleet[0] == '\0')) {
		set_err(st, "invalid session principal");
		return ERR_NAME;
	}
	if ((key_fp != NULL && strnlen(key_fp, PUBKEY_FP_MAX) >= PUBKEY_FP_MAX) ||
	    (src != NULL && strnlen(src, LIM_PEER_STRING) >= LIM_PEER_STRING)) {
		set_err(st, "session key fingerprint or source too long");
		return ERR_TOOLONG;
	}
	return 0;
}

/* Writes the canonical (lower-case) principal of a valid one into dst. */
static void
principal_canon(const char *principal, char *dst, size_t len)
{
	struct name_target t;

	names_parse_target(principal, &t);
	snprintf(dst, len, "%s%s%s", t.name, t.fleet[0] ? "." : "", t.fleet);
}

int
store_session_add(struct store *st, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since)
{
	char canon[LIM_TARGET + 1];
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = check_session(st, id, kind, principal, key_fp, src, since)) != 0 ||
	    (r = query(st, Q_SESSION_ADD, &s, &owned)) != 0)
		return r;
	principal_canon(principal, canon, sizeof(canon));
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, canon, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, key_fp ? key_fp : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, src ? src : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, since);
	r = step_done(st, s, NULL);
	done(s, owned);
	if (r == ERR_EXISTS)
		set_err(st, "session %lld is already recorded", (long long)id);
	return r;
}

/* Runs a statement keyed by session id; ERR_NOTFOUND if no row changed. */
static int
session_by_id(struct store *st, enum query q, int64_t id, bool with_value, int64_t value)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if ((r = query(st, q, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	if (with_value)
		sqlite3_bind_int64(s, 2, value);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no live session %lld", (long long)id);
		return ERR_NOTFOUND;
	}
	return r;
}

int
store_session_set_bytes(struct store *st, int64_t id, int64_t bytes)
{
	if (bytes < 0) {
		set_err(st, "negative byte count");
		return ERR_INVAL;
	}
	return session_by_id(st, Q_SESSION_BYTES, id, true, bytes);
}

int
store_session_del(struct store *st, int64_t id)
{
	return session_by_id(st, Q_SESSION_DEL, id, false, 0);
}

int
store_session_clear(struct store *st)
{
	return exec_fixed(st, Q_SESSION_CLEAR);
}

static int
session_row(sqlite3_stmt *s, void *cb, void *arg)
{
	store_session_cb fn = (store_session_cb)cb;
	struct store_session ss = {
		.id = sqlite3_column_int64(s, 0),
		.kind = (const char *)sqlite3_column_text(s, 1),
		.principal = (const char *)sqlite3_column_text(s, 2),
		.key_fp = (const char *)sqlite3_column_text(s, 3),
		.src = (const char *)sqlite3_column_text(s, 4),
		.since = sqlite3_column_int64(s, 5),
		.bytes = sqlite3_column_int64(s, 6),
		.kicked = sqlite3_column_int(s, 7) != 0,
	};

	return fn(arg, &ss);
}

static int
session_walk(struct store *st, enum query q, store_session_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, q, &s, &owned)) != 0)
		return r;
	r = for_each_row(st, s, session_row, (void *)cb, arg);
	done(s, owned);
	return r;
}

int
store_session_list(struct store *st, store_session_cb cb, void *arg)
{
	return session_walk(st, Q_SESSION_LIST, cb, arg);
}

int
store_session_list_kicked(struct store *st, store_session_cb cb, void *arg)
{
	return session_walk(st, Q_SESSION_LIST_KICKED, cb, arg);
}

/* True if s is 1-18 ASCII digits (fits in int64_t). */
static bool
all_digits(const char *s, size_t len)
{
	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Binds the kick statement for target: a session id, a user name, or name.fleet. */
static int
kick_bind(struct store *st, const char *target, sqlite3_stmt **s, bool *owned, char *canon)
{
	struct name_target t;
	size_t len = strnlen(target, LIM_TARGET + 1);
	int r;

	if (all_digits(target, len)) {
		if ((r = query(st, Q_SESSION_KICK_ID, s, owned)) != 0)
			return r;
		sqlite3_bind_int64(*s, 1, strtoll(target, NULL, 10));
		snprintf(canon, LIM_TARGET + 1, "%s", target);
		return 0;
	}
	if (len > LIM_TARGET || names_parse_target(target, &t) != 0) {
		set_err(st, "kick what? give a session id, a user name or NAME.FLEET");
		return ERR_NAME;
	}
	if ((r = query(st, Q_SESSION_KICK_PRINCIPAL, s, owned)) != 0)
		return r;
	snprintf(canon, LIM_TARGET + 1, "%s%s%s", t.name, t.fleet[0] ? "." : "", t.fleet);
	sqlite3_bind_text(*s, 1, t.fleet[0] ? "device" : "user", -1, SQLITE_STATIC);
	sqlite3_bind_text(*s, 2, canon, -1, SQLITE_TRANSIENT);
	return 0;
}

int
store_session_kick(struct store *st, const char *target, int *count)
{
	char canon[LIM_TARGET + 1];
	sqlite3_stmt *s = NULL;
	bool owned = false;
	int r, n = 0;

	if (count != NULL)
		*count = 0;
	if (target == NULL) {
		set_err(st, "kick what? give a session id, a user name or NAME.FLEET");
		return ERR_INVAL;
	}
	if ((r = kick_bind(st, target, &s, &owned, canon)) != 0)
		return r;
	r = step_done(st, s, &n);
	done(s, owned);
	if (r != 0)
		return r;
	if (n == 0) {
		set_err(st, "no live session %s%s", all_digits(canon, strlen(canon)) ? "" : "of ",
		    canon);
		return ERR_NOTFOUND;
	}
	st->own_writes++;
	if (count != NULL)
		*count = n;
	return 0;
}

int
store_user_may_reach(struct store *st, int64_t user_id, int64_t device_id)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_MAY_REACH, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, timefmt_now());
	sqlite3_bind_int64(s, 3, device_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		set_err(st, "user %lld may not reach device %lld", (long long)user_id,
		    (long long)device_id);
		r = ERR_NOTFOUND;
	} else if (rc != SQLITE_ROW)
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* ---- enrollment tokens ---- */

static bool
hex_hash_ok(const char *h)
{
	return h != NULL && strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64;
}

int
store_token_add(struct store *st, const char *hash, const char *fleet, int uses, int64_t expires)
{
	sqlite3_stmt *s;
	bool owned;
	int64_t fid;
	int r;

	if (!hex_hash_ok(hash)) {
		set_err(st, "bad token hash");
		return ERR_INVAL;
	}
	if ((r = check_label(st, "fleet", fleet)) != 0 || (r = tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &fid, NULL)) == 0 &&
	    (r = query(st, Q_TOKEN_ADD, &s, &owned)) == 0) {
		sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, fid);
		sqlite3_bind_int(s, 3, uses > 0 ? uses : -1);
		sqlite3_bind_int64(s, 4, expires);
		sqlite3_bind_int64(s, 5, timefmt_now());
		r = step_done(st, s, NULL);
		done(s, owned);
	}
	return tx_end(st, r);
}

int
store_token_list(struct store *st, store_token_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_TOKEN_LIST, &s, &owned)) != 0)
		return r;
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_token t = {
			.id = (const char *)sqlite3_column_text(s, 0),
			.fleet = (const char *)sqlite3_column_text(s, 1),
			.uses_left = sqlite3_column_int(s, 2),
			.used = sqlite3_column_int(s, 3),
			.expires = sqlite3_column_int64(s, 4),
			.revoked = sqlite3_column_int(s, 5) != 0,
			.created = sqlite3_column_int64(s, 6),
		};
		r = cb(arg, &t);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

int
store_token_revoke(struct store *st, const char *id)
{
	sqlite3_stmt *s;
	bool owned;
	int r, n = 0;

	if (id == NULL || strlen(id) < 6 || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id)) {
		set_err(st, "a token id is 6 to 64 hex digits, as `token ls` shows it");
		return ERR_INVAL;
	}
	if ((r = query(st, Q_TOKEN_REVOKE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	r = step_done(st, s, &n);
	done(s, owned);
	if (r == 0 && n == 0) {
		set_err(st, "no token %s", id);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

/* The token row for hash; checks it may still be used. */
static int
token_usable(struct store *st, const char *hash, int64_t *tid, int64_t *fid, char *fleet)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_TOKEN_FIND, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*tid = sqlite3_column_int64(s, 0);
		*fid = sqlite3_column_int64(s, 1);
		snprintf(fleet, LIM_LABEL + 1, "%s", (const char *)sqlite3_column_text(s, 2));
		int uses = sqlite3_column_int(s, 3);
		int64_t exp = sqlite3_column_int64(s, 4);
		if (sqlite3_column_int(s, 5) != 0) {
			set_err(st, "this token was revoked");
			r = ERR_DENIED;
		} else if (exp != 0 && exp <= timefmt_now()) {
			set_err(st, "this token has expired");
			r = ERR_DENIED;
		} else if (uses == 0) {
			set_err(st, "this token has been used up");
			r = ERR_DENIED;
		}
	} else if (rc == SQLITE_DONE) {
		set_err(st, "unknown token");
		r = ERR_DENIED;
	} else
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* Device id and key fingerprint of name in fleet fid; ERR_NOTFOUND if none. */
static int
device_key(struct store *st, const char *name, int64_t fid, int64_t *did, char *fp, size_t fplen)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_DEVICE_KEY_BY_NAME, &s, &owned)) != 0)
		return r;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, fid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*did = sqlite3_column_int64(s, 0);
		snprintf(fp, fplen, "%s", (const char *)sqlite3_column_text(s, 1));
	} else
		r = rc == SQLITE_DONE ? ERR_NOTFOUND : sql_err(st, rc);
	done(s, owned);
	return r;
}

static int
token_use(struct store *st, int64_t tid)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, Q_TOKEN_USE, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, tid);
	r = step_done(st, s, NULL);
	done(s, owned);
	return r;
}

int
store_enroll(struct store *st, const char *hash, const char *name, const struct pubkey *key,
    char *fleet_out)
{
	int64_t tid = 0, fid = 0, did = 0;
	char fp[PUBKEY_FP_MAX] = "";
	int r;

	fleet_out[0] = '\0';
	if (!hex_hash_ok(hash)) {
		set_err(st, "unknown token");
		return ERR_DENIED;
	}
	if ((r = check_label(st, "device", name)) != 0 || (r = check_key(st, key)) != 0 ||
	    (r = tx_begin(st)) != 0)
		return r;
	/* A refused token that exists still names its fleet (tid set). */
	int usable = token_usable(st, hash, &tid, &fid, fleet_out);
	if (usable != 0 && (usable != ERR_DENIED || tid == 0))
		return tx_end(st, usable);
	r = device_key(st, name, fid, &did, fp, sizeof(fp));
	if (r == 0) {
		/*
		 * Enrolling again with the same key changes nothing, so it succeeds
		 * even once the token is used up (an agent retrying after a lost
		 * reply); another key is refused, for the token's reason first.
		 */
		if (strcmp(fp, key->fp) == 0)
			r = 0;
		else if (usable != 0)
			r = usable;	/* store_errmsg still says why */
		else {
			set_err(st, "the name %s.%s is already bound to another key", name, fleet_out);
			r = ERR_EXISTS;
		}
		return tx_end(st, r);
	}
	if (r != ERR_NOTFOUND)
		return tx_end(st, r);
	if (usable != 0)
		return tx_end(st, usable);
	if ((r = device_insert(st, name, fleet_out, fid, &did)) == 0 &&
	    (r = key_insert(st, Q_KEY_ADD_DEVICE, did, key)) == 0)
		r = token_use(st, tid);
	return tx_end(st, r);
}

/* ---- what devices report about themselves ---- */

int
store_device_set_info(struct store *st, int64_t device_id, const char *hostname,
    const char *os, const char *version, const char *host_keys, int64_t booted)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if ((r = query(st, Q_DEVICE_INFO, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_text(s, 2, hostname ? hostname : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, os ? os : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, version ? version : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, host_keys ? host_keys : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, booted > 0 ? booted : 0);
	r = step_done(st, s, NULL);
	done(s, owned);
	return r;
}

int
store_device_info_list(struct store *st, int64_t user_id, store_info_cb cb, void *arg)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	if ((r = query(st, Q_DEVICE_INFO_GET, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, timefmt_now());
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_device_info d = {
			.name = (const char *)sqlite3_column_text(s, 0),
			.fleet = (const char *)sqlite3_column_text(s, 1),
			.hostname = (const char *)sqlite3_column_text(s, 2),
			.os = (const char *)sqlite3_column_text(s, 3),
			.version = (const char *)sqlite3_column_text(s, 4),
			.host_keys = (const char *)sqlite3_column_text(s, 5),
			.booted = sqlite3_column_int64(s, 6),
		};
		r = cb(arg, &d);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sql_err(st, rc);
	done(s, owned);
	return r;
}

/* ---- the audit chain's anchor ---- */

static bool
hash_hex_valid(const char *h)
{
	if (h == NULL || strlen(h) != AUDIT_HASH_HEX)
		return false;
	return strspn(h, "0123456789abcdef") == AUDIT_HASH_HEX;
}

int
store_audit_anchor_get(struct store *st, struct audit_head *out)
{
	sqlite3_stmt *s;
	bool owned;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = query(st, Q_ANCHOR_GET, &s, &owned)) != 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 2);
		out->seq = sqlite3_column_int64(s, 0);
		out->size = sqlite3_column_int64(s, 1);
		if (hash_hex_valid(h))
			memcpy(out->hash, h, AUDIT_HASH_HEX + 1);
		else
			r = ERR_STORE;
	} else
		r = rc == SQLITE_DONE ? ERR_NOTFOUND : sql_err(st, rc);
	done(s, owned);
	if (r == ERR_NOTFOUND)
		set_err(st, "no audit anchor yet");
	else if (r == ERR_STORE && rc == SQLITE_ROW)
		set_err(st, "the audit anchor's hash is not 64 hex digits");
	return r;
}

int
store_audit_anchor_set(struct store *st, const struct audit_head *h, bool reset)
{
	sqlite3_stmt *s;
	bool owned;
	int r;

	if (h == NULL || h->seq < 0 || h->size < 0 || !hash_hex_valid(h->hash)) {
		set_err(st, "not an audit chain head");
		return ERR_INVAL;
	}
	if ((r = query(st, Q_ANCHOR_SET, &s, &owned)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, h->seq);
	sqlite3_bind_int64(s, 2, h->size);
	sqlite3_bind_text(s, 3, h->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, timefmt_now());
	sqlite3_bind_int(s, 5, reset ? 1 : 0);
	r = step_done(st, s, NULL);
	done(s, owned);
	return r;	/* bookkeeping of the log, not an access change: no own_writes bump */
}

/* ---- outpostd's batches of its own writes (storeq.c) ---- */

int
store_batch_begin(struct store *st)
{
	return tx_begin(st);
}

/* Like tx_end, without bumping own_writes: presence and sessions are not access changes. */
int
store_batch_commit(struct store *st)
{
	int r = exec_fixed(st, Q_COMMIT);

	if (r != 0)
		exec_fixed(st, Q_ROLLBACK);
	return r;
}

void
store_batch_rollback(struct store *st)
{
	char keep[sizeof(st->errmsg)];

	memcpy(keep, st->errmsg, sizeof(keep));
	exec_fixed(st, Q_ROLLBACK);
	memcpy(st->errmsg, keep, sizeof(keep));
}

/*
 * TEMPORARY (store-thread branch): SQLite to SQLite only, with SQLite's
 * online backup, until src/store/copy.c (branch store-copy) lands with the
 * real store_copy; drop this then.
 */
int
store_copy(struct store *from, struct store *to, bool force, char *why, size_t whylen)
{
	(void)force;
	sqlite3_backup *b = sqlite3_backup_init(to->db, "main", from->db, "main");
	if (b == NULL) {
		snprintf(why, whylen, "cannot copy the store: %s", sqlite3_errmsg(to->db));
		return ERR_STORE;
	}
	int rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, "cannot copy the store: %s", sqlite3_errstr(rc));
		return ERR_STORE;
	}
	return 0;
}
