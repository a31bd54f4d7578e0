/* users.c: users, the keys they add and remove, their grants, and what they may reach. */
#include <string.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

/* Comma-separated lists for struct store_user. */
#define USER_COLUMNS \
	"SELECT u.id, u.name, u.admin, " \
	"coalesce((SELECT group_concat(n, ',') FROM (SELECT f.name AS n FROM grants g " \
	"  JOIN fleets f ON f.id = g.fleet_id WHERE g.user_id = u.id " \
	"  AND (g.expires = 0 OR g.expires > ?1) ORDER BY f.name)), ''), " \
	"coalesce((SELECT group_concat(fp, ',') FROM (SELECT fingerprint AS fp FROM keys " \
	"  WHERE user_id = u.id ORDER BY id)), '') FROM users u "
/* The same for PostgreSQL, whose aggregate is string_agg with its own ORDER BY. */
#define USER_COLUMNS_PG \
	"SELECT u.id, u.name, u.admin, " \
	"coalesce((SELECT string_agg(f.name, ',' ORDER BY f.name) FROM grants g " \
	"  JOIN fleets f ON f.id = g.fleet_id WHERE g.user_id = u.id " \
	"  AND (g.expires = 0 OR g.expires > ?1)), ''), " \
	"coalesce((SELECT string_agg(fingerprint, ',' ORDER BY id) FROM keys " \
	"  WHERE user_id = u.id), '') FROM users u "

static struct query q_user_id = {
	.sql = "SELECT id FROM users WHERE name = ?1",
};

int
user_lookup(struct store *st, const char *user, int64_t *id)
{
	struct db_stmt *s;
	int r;

	*id = 0;
	if ((r = db_prepare(st, &q_user_id, &s)) != 0)
		return r;
	db_bind_text(s, 1, user);
	if ((r = db_step_one(s)) == 0)
		*id = db_col_int(s, 0);
	else if (r == ERR_NOTFOUND)
		db_set_err(st, "no user named %s", user);
	db_release(s);
	return r;
}

static struct query q_user_add = {
	.sql = "INSERT INTO users (name, admin, created) VALUES (?1, ?2, ?3) RETURNING id",
};

int
user_insert(struct store *st, const char *user, bool admin, int64_t *id)
{
	struct db_stmt *s;
	int r;

	*id = 0;
	if ((r = db_prepare(st, &q_user_add, &s)) != 0)
		return r;
	db_bind_text(s, 1, user);
	db_bind_int(s, 2, admin ? 1 : 0);
	db_bind_int(s, 3, timefmt_now());
	if ((r = db_step(s)) == DB_ROW)
		*id = db_col_int(s, 0);
	db_release(s);
	r = r < 0 ? r : 0;
	if (r == ERR_EXISTS)
		db_set_err(st, "user %s already exists", user);
	return r;
}

int
store_user_add(struct store *st, const char *user, bool admin, const struct pubkey *key)
{
	int64_t id;
	int r;

	if ((r = db_check_label(st, "user", user)) != 0 || (r = db_check_key(st, key)) != 0 ||
	    (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = user_insert(st, user, admin, &id)) == 0)
		r = key_insert(st, KEY_USER, id, key);
	return db_tx_end(st, r);
}

int
store_user_add_key(struct store *st, const char *user, const struct pubkey *key)
{
	int64_t id;
	int r;

	if ((r = db_check_label(st, "user", user)) != 0 || (r = db_check_key(st, key)) != 0 ||
	    (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &id)) == 0)
		r = key_insert(st, KEY_USER, id, key);
	return db_tx_end(st, r);
}

static struct query q_user_key_rm = {
	.sql = "DELETE FROM keys WHERE fingerprint = ?2 "
	    "AND user_id = (SELECT id FROM users WHERE name = ?1)",
};

int
store_user_rm_key(struct store *st, const char *user, const char *fp)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_check_label(st, "user", user)) != 0)
		return r;
	if (fp == NULL || strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) >= PUBKEY_FP_MAX) {
		db_set_err(st, "a key is named by its fingerprint, SHA256:...");
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_user_key_rm, &s)) != 0)
		return r;
	db_bind_text(s, 1, user);
	db_bind_text(s, 2, fp);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "user %s has no key %s", user, fp);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

static struct query q_user_rm = {
	.sql = "DELETE FROM users WHERE name = ?1",
};

int
store_user_rm(struct store *st, const char *user)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_check_label(st, "user", user)) != 0 || (r = db_prepare(st, &q_user_rm, &s)) != 0)
		return r;
	db_bind_text(s, 1, user);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no user named %s", user);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

static struct query q_grant = {
	.sql = "INSERT INTO grants (user_id, fleet_id, expires, created) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (user_id, fleet_id) DO UPDATE SET expires = excluded.expires",
};

/* Grants fleet fid to user uid until expires (0: never), replacing an older expiry. */
int
user_grant(struct store *st, int64_t uid, int64_t fid, int64_t expires)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_grant, &s)) != 0)
		return r;
	db_bind_int(s, 1, uid);
	db_bind_int(s, 2, fid);
	db_bind_int(s, 3, expires);
	db_bind_int(s, 4, timefmt_now());
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

int
store_grant(struct store *st, const char *user, const char *fleet, int64_t expires)
{
	int64_t uid, fid;
	int r;

	if ((r = db_check_label(st, "user", user)) != 0 || (r = db_check_label(st, "fleet", fleet)) != 0)
		return r;
	if (expires < 0) {
		db_set_err(st, "expiry before 1970");
		return ERR_INVAL;
	}
	if ((r = db_tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &uid)) == 0 && (r = fleet_lookup(st, fleet, &fid, NULL)) == 0)
		r = user_grant(st, uid, fid, expires);
	return db_tx_end(st, r);
}

static struct query q_revoke = {
	.sql = "DELETE FROM grants WHERE user_id = ?1 AND fleet_id = ?2",
};

int
store_revoke(struct store *st, const char *user, const char *fleet)
{
	struct db_stmt *s = NULL;
	int64_t uid, fid;
	int r, n = 0;

	if ((r = db_check_label(st, "user", user)) != 0 || (r = db_check_label(st, "fleet", fleet)) != 0 ||
	    (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = user_lookup(st, user, &uid)) != 0 || (r = fleet_lookup(st, fleet, &fid, NULL)) != 0 ||
	    (r = db_prepare(st, &q_revoke, &s)) != 0)
		goto out;
	db_bind_int(s, 1, uid);
	db_bind_int(s, 2, fid);
	if ((r = db_exec(s, &n)) == 0 && n == 0) {
		db_set_err(st, "user %s has no grant for fleet %s", user, fleet);
		r = ERR_NOTFOUND;
	}
out:
	db_release(s);
	return db_tx_end(st, r);
}

static struct query q_user_list = {
	.sql = USER_COLUMNS "ORDER BY u.name",
	.pg = USER_COLUMNS_PG "ORDER BY u.name",
};

static struct query q_user_get = {
	.sql = USER_COLUMNS "WHERE u.id = ?2",
	.pg = USER_COLUMNS_PG "WHERE u.id = ?2",
};

static int
user_row(struct db_stmt *s, void *cb, void *arg)
{
	store_user_cb fn = (store_user_cb)cb;
	struct store_user u = {
		.id = db_col_int(s, 0),
		.name = db_col_text(s, 1),
		.admin = db_col_int(s, 2) != 0,
		.fleets = db_col_text(s, 3),
		.key_fps = db_col_text(s, 4),
	};

	return fn(arg, &u);
}

int
store_user_list(struct store *st, store_user_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_user_list, &s)) != 0)
		return r;
	db_bind_int(s, 1, timefmt_now());
	r = db_for_each_row(s, user_row, (void *)cb, arg);
	db_release(s);
	return r;
}

int
store_user_get(struct store *st, int64_t user_id, store_user_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_user_get, &s)) != 0)
		return r;
	db_bind_int(s, 1, timefmt_now());
	db_bind_int(s, 2, user_id);
	if ((r = db_step_one(s)) == 0)
		r = user_row(s, (void *)cb, arg);
	else if (r == ERR_NOTFOUND)
		db_set_err(st, "no user with id %lld", (long long)user_id);
	db_release(s);
	return r;
}

static struct query q_may_reach = {
	.sql = "SELECT 1 FROM users u, devices d WHERE u.id = ?1 AND d.id = ?3 "
	    "AND (u.admin = 1 OR d.fleet_id IN (" GRANTED_FLEETS "))",
};

int
store_user_may_reach(struct store *st, int64_t user_id, int64_t device_id)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_may_reach, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	db_bind_int(s, 3, device_id);
	if ((r = db_step_one(s)) == ERR_NOTFOUND)
		db_set_err(st, "user %lld may not reach device %lld", (long long)user_id,
		    (long long)device_id);
	db_release(s);
	return r;
}
