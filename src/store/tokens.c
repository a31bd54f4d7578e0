/* tokens.c: enrollment tokens, and enrolling a device with one. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

static bool
hex_hash_ok(const char *h)
{
	return h != NULL && strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64;
}

static struct query q_token_add = {
	.sql = "INSERT INTO tokens (hash, fleet_id, uses_left, expires, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
};

int
store_token_add(struct store *st, const char *hash, const char *fleet, int uses, int64_t expires)
{
	struct db_stmt *s;
	int64_t fid;
	int r;

	if (!hex_hash_ok(hash)) {
		db_set_err(st, "bad token hash");
		return ERR_INVAL;
	}
	if ((r = db_check_label(st, "fleet", fleet)) != 0 || (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &fid, NULL)) == 0 &&
	    (r = db_prepare(st, &q_token_add, &s)) == 0) {
		db_bind_text(s, 1, hash);
		db_bind_int(s, 2, fid);
		db_bind_int(s, 3, uses > 0 ? uses : -1);
		db_bind_int(s, 4, expires);
		db_bind_int(s, 5, timefmt_now());
		r = db_exec(s, NULL);
		db_release(s);
	}
	return db_tx_end(st, r);
}

static struct query q_token_list = {
	.sql = "SELECT substr(t.hash, 1, 12), f.name, t.uses_left, t.used, t.expires, "
	    "t.revoked, t.created FROM tokens t JOIN fleets f ON f.id = t.fleet_id ORDER BY t.id",
};

int
store_token_list(struct store *st, store_token_cb cb, void *arg)
{
	struct db_stmt *s;
	int r, rc;

	if ((r = db_prepare(st, &q_token_list, &s)) != 0)
		return r;
	while (r == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_token t = {
			.id = db_col_text(s, 0),
			.fleet = db_col_text(s, 1),
			.uses_left = (int)db_col_int(s, 2),
			.used = (int)db_col_int(s, 3),
			.expires = db_col_int(s, 4),
			.revoked = db_col_int(s, 5) != 0,
			.created = db_col_int(s, 6),
		};
		r = cb(arg, &t);
	}
	if (r == 0 && rc != DB_DONE)
		r = rc;
	db_release(s);
	return r;
}

/* ?1 is 6-64 hex digits (checked), so LIKE sees no wildcard in it. */
static struct query q_token_revoke = {
	.sql = "UPDATE tokens SET revoked = 1 WHERE hash LIKE (?1 || '%')",
};

int
store_token_revoke(struct store *st, const char *id)
{
	struct db_stmt *s;
	int r, n = 0;

	if (id == NULL || strlen(id) < 6 || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id)) {
		db_set_err(st, "a token id is 6 to 64 hex digits, as `token ls` shows it");
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_token_revoke, &s)) != 0)
		return r;
	db_bind_text(s, 1, id);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no token %s", id);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

static struct query q_token_find = {
	.sql = "SELECT t.id, t.fleet_id, f.name, t.uses_left, t.expires, t.revoked "
	    "FROM tokens t JOIN fleets f ON f.id = t.fleet_id WHERE t.hash = ?1",
};

/* The token row for hash; checks it may still be used. */
static int
token_usable(struct store *st, const char *hash, int64_t *tid, int64_t *fid, char *fleet)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_token_find, &s)) != 0)
		return r;
	db_bind_text(s, 1, hash);
	if ((r = db_step_one(s)) == 0) {
		*tid = db_col_int(s, 0);
		*fid = db_col_int(s, 1);
		snprintf(fleet, LIM_LABEL + 1, "%s", db_col_text(s, 2));
		int uses = (int)db_col_int(s, 3);
		int64_t exp = db_col_int(s, 4);
		if (db_col_int(s, 5) != 0) {
			db_set_err(st, "this token was revoked");
			r = ERR_DENIED;
		} else if (exp != 0 && exp <= timefmt_now()) {
			db_set_err(st, "this token has expired");
			r = ERR_DENIED;
		} else if (uses == 0) {
			db_set_err(st, "this token has been used up");
			r = ERR_DENIED;
		}
	} else if (r == ERR_NOTFOUND) {
		db_set_err(st, "unknown token");
		r = ERR_DENIED;
	}
	db_release(s);
	return r;
}

static struct query q_device_key_by_name = {
	.sql = "SELECT d.id, coalesce(k.fingerprint, '') FROM devices d "
	    "LEFT JOIN keys k ON k.device_id = d.id WHERE d.name = ?1 AND d.fleet_id = ?2",
};

/* Device id and key fingerprint of name in fleet fid; ERR_NOTFOUND if none. */
static int
device_key(struct store *st, const char *name, int64_t fid, int64_t *did, char *fp, size_t fplen)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_device_key_by_name, &s)) != 0)
		return r;
	db_bind_text(s, 1, name);
	db_bind_int(s, 2, fid);
	if ((r = db_step_one(s)) == 0) {
		*did = db_col_int(s, 0);
		snprintf(fp, fplen, "%s", db_col_text(s, 1));
	}
	db_release(s);
	return r;
}

/*
 * Uses the token only if it is still usable when the row is written: a
 * writer that revoked it or used its last use meanwhile (another process,
 * outside our transaction) makes this touch no row.
 */
static struct query q_token_use = {
	.sql = "UPDATE tokens SET used = used + 1, "
	    "uses_left = CASE WHEN uses_left > 0 THEN uses_left - 1 ELSE uses_left END "
	    "WHERE id = ?1 AND revoked = 0 AND uses_left <> 0 AND (expires = 0 OR expires > ?2)",
};

static int
token_use(struct store *st, int64_t tid)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_prepare(st, &q_token_use, &s)) != 0)
		return r;
	db_bind_int(s, 1, tid);
	db_bind_int(s, 2, timefmt_now());
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n != 1) {
		db_set_err(st, "this token was revoked, has expired or was used up meanwhile");
		r = ERR_DENIED;
	}
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
		db_set_err(st, "unknown token");
		return ERR_DENIED;
	}
	if ((r = db_check_label(st, "device", name)) != 0 || (r = db_check_key(st, key)) != 0 ||
	    (r = db_tx_begin(st)) != 0)
		return r;
	/* A refused token that exists still names its fleet (tid set). */
	int usable = token_usable(st, hash, &tid, &fid, fleet_out);
	if (usable != 0 && (usable != ERR_DENIED || tid == 0))
		return db_tx_end(st, usable);
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
			db_set_err(st, "the name %s.%s is already bound to another key", name, fleet_out);
			r = ERR_EXISTS;
		}
		return db_tx_end(st, r);
	}
	if (r != ERR_NOTFOUND)
		return db_tx_end(st, r);
	if (usable != 0)
		return db_tx_end(st, usable);
	if ((r = device_insert(st, name, fleet_out, fid, &did)) == 0 &&
	    (r = key_insert(st, KEY_DEVICE, did, key)) == 0)
		r = token_use(st, tid);
	return db_tx_end(st, r);
}
