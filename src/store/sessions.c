/* sessions.c: the live sessions outpostd records for `outpost who` and `outpost kick`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"
#include "store/db.h"

/* Checks what outpostd records about a session before it reaches SQL. */
static int
check_session(struct store *st, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since)
{
	struct name_target t;

	if (id <= 0 || since < 0) {
		db_set_err(st, "invalid session id or start time");
		return ERR_INVAL;
	}
	if (kind == NULL || (strcmp(kind, "user") != 0 && strcmp(kind, "device") != 0 &&
	    strcmp(kind, "enroll") != 0)) {
		db_set_err(st, "session kind must be user, device or enroll");
		return ERR_INVAL;
	}
	if (principal == NULL || names_parse_target(principal, &t) != 0 ||
	    (strcmp(kind, "device") != 0) != (t.fleet[0] == '\0')) {
		db_set_err(st, "invalid session principal");
		return ERR_NAME;
	}
	if ((key_fp != NULL && strnlen(key_fp, PUBKEY_FP_MAX) >= PUBKEY_FP_MAX) ||
	    (src != NULL && strnlen(src, LIM_PEER_STRING) >= LIM_PEER_STRING)) {
		db_set_err(st, "session key fingerprint or source too long");
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

/* Columns of struct store_session, in order. */
#define SESSION_COLUMNS \
	"SELECT id, kind, principal, key_fp, src, since, bytes, kicked FROM sessions "

static struct query q_session_add = {
	.sql = "INSERT INTO sessions (id, kind, principal, key_fp, src, since) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

int
store_session_add(struct store *st, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since)
{
	char canon[LIM_TARGET + 1];
	struct db_stmt *s;
	int r;

	if ((r = check_session(st, id, kind, principal, key_fp, src, since)) != 0 ||
	    (r = db_prepare(st, &q_session_add, &s)) != 0)
		return r;
	principal_canon(principal, canon, sizeof(canon));
	db_bind_int(s, 1, id);
	db_bind_text(s, 2, kind);
	db_bind_text(s, 3, canon);
	db_bind_text(s, 4, key_fp ? key_fp : "");
	db_bind_text(s, 5, src ? src : "");
	db_bind_int(s, 6, since);
	r = db_exec(s, NULL);
	db_release(s);
	if (r == ERR_EXISTS)
		db_set_err(st, "session %lld is already recorded", (long long)id);
	return r;
}

static struct query q_session_bytes = {
	.sql = "UPDATE sessions SET bytes = ?2 WHERE id = ?1",
};

static struct query q_session_del = {
	.sql = "DELETE FROM sessions WHERE id = ?1",
};

/* Runs a statement keyed by session id; ERR_NOTFOUND if no row changed. */
static int
session_by_id(struct store *st, struct query *q, int64_t id, bool with_value, int64_t value)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_prepare(st, q, &s)) != 0)
		return r;
	db_bind_int(s, 1, id);
	if (with_value)
		db_bind_int(s, 2, value);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no live session %lld", (long long)id);
		return ERR_NOTFOUND;
	}
	return r;
}

int
store_session_set_bytes(struct store *st, int64_t id, int64_t bytes)
{
	if (bytes < 0) {
		db_set_err(st, "negative byte count");
		return ERR_INVAL;
	}
	return session_by_id(st, &q_session_bytes, id, true, bytes);
}

int
store_session_del(struct store *st, int64_t id)
{
	return session_by_id(st, &q_session_del, id, false, 0);
}

static struct query q_session_clear = {
	.sql = "DELETE FROM sessions",
};

int
store_session_clear(struct store *st)
{
	return db_run(st, &q_session_clear, NULL);
}

static struct query q_session_clear_node = {
	.sql = "DELETE FROM sessions WHERE id < ?3 OR (id >= ?1 AND id <= ?2)",
};

int
store_session_clear_node(struct store *st, int64_t node_id)
{
	struct db_stmt *s;
	int r;

	if (node_id < 0 || node_id >= (INT64_C(1) << (63 - STORE_NODE_SHIFT))) {
		db_set_err(st, "invalid node id %lld", (long long)node_id);
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_session_clear_node, &s)) != 0)
		return r;
	db_bind_int(s, 1, node_id << STORE_NODE_SHIFT);
	db_bind_int(s, 2, (node_id << STORE_NODE_SHIFT) | ((INT64_C(1) << STORE_NODE_SHIFT) - 1));
	db_bind_int(s, 3, INT64_C(1) << STORE_NODE_SHIFT);
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

static struct query q_session_list = {
	.sql = SESSION_COLUMNS "ORDER BY id",
};

static struct query q_session_list_kicked = {
	.sql = SESSION_COLUMNS "WHERE kicked = 1 ORDER BY id",
};

static int
session_row(struct db_stmt *s, void *cb, void *arg)
{
	store_session_cb fn = (store_session_cb)cb;
	struct store_session ss = {
		.id = db_col_int(s, 0),
		.kind = db_col_text(s, 1),
		.principal = db_col_text(s, 2),
		.key_fp = db_col_text(s, 3),
		.src = db_col_text(s, 4),
		.since = db_col_int(s, 5),
		.bytes = db_col_int(s, 6),
		.kicked = db_col_int(s, 7) != 0,
	};

	return fn(arg, &ss);
}

static int
session_walk(struct store *st, struct query *q, store_session_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, q, &s)) != 0)
		return r;
	r = db_for_each_row(s, session_row, (void *)cb, arg);
	db_release(s);
	return r;
}

int
store_session_list(struct store *st, store_session_cb cb, void *arg)
{
	return session_walk(st, &q_session_list, cb, arg);
}

int
store_session_list_kicked(struct store *st, store_session_cb cb, void *arg)
{
	return session_walk(st, &q_session_list_kicked, cb, arg);
}

static struct query q_session_kick_id = {
	.sql = "UPDATE sessions SET kicked = 1 WHERE id = ?1",
};

static struct query q_session_kick_principal = {
	.sql = "UPDATE sessions SET kicked = 1 WHERE kind = ?1 AND principal = ?2",
};

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
kick_bind(struct store *st, const char *target, struct db_stmt **s, char *canon)
{
	struct name_target t;
	size_t len = strnlen(target, LIM_TARGET + 1);
	int r;

	if (all_digits(target, len)) {
		if ((r = db_prepare(st, &q_session_kick_id, s)) != 0)
			return r;
		db_bind_int(*s, 1, strtoll(target, NULL, 10));
		snprintf(canon, LIM_TARGET + 1, "%s", target);
		return 0;
	}
	if (len > LIM_TARGET || names_parse_target(target, &t) != 0) {
		db_set_err(st, "kick what? give a session id, a user name or NAME.FLEET");
		return ERR_NAME;
	}
	if ((r = db_prepare(st, &q_session_kick_principal, s)) != 0)
		return r;
	snprintf(canon, LIM_TARGET + 1, "%s%s%s", t.name, t.fleet[0] ? "." : "", t.fleet);
	db_bind_text(*s, 1, t.fleet[0] ? "device" : "user");
	db_bind_text(*s, 2, canon);
	return 0;
}

int
store_session_kick(struct store *st, const char *target, int *count)
{
	char canon[LIM_TARGET + 1];
	struct db_stmt *s = NULL;
	int r, n = 0;

	if (count != NULL)
		*count = 0;
	if (target == NULL) {
		db_set_err(st, "kick what? give a session id, a user name or NAME.FLEET");
		return ERR_INVAL;
	}
	if ((r = kick_bind(st, target, &s, canon)) != 0)
		return r;
	r = db_exec(s, &n);
	db_release(s);
	if (r != 0)
		return r;
	if (n == 0) {
		db_set_err(st, "no live session %s%s", all_digits(canon, strlen(canon)) ? "" : "of ",
		    canon);
		return ERR_NOTFOUND;
	}
	st->own_writes++;
	if (count != NULL)
		*count = n;
	return 0;
}
