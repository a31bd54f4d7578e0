/* keys.c: the public keys users and devices own, and who owns a key (authentication). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

static struct query q_key_owner = {
	.sql = "SELECT u.name, d.name, f.name FROM keys k "
	    "LEFT JOIN users u ON u.id = k.user_id LEFT JOIN devices d ON d.id = k.device_id "
	    "LEFT JOIN fleets f ON f.id = d.fleet_id WHERE k.fingerprint = ?1",
};

/* ERR_EXISTS (naming the owner) if the key is already enrolled, else 0. */
static int
key_free(struct store *st, const struct pubkey *key)
{
	struct db_stmt *s;
	int r, rc;

	if ((r = db_prepare(st, &q_key_owner, &s)) != 0)
		return r;
	db_bind_text(s, 1, key->fp);
	rc = db_step(s);
	if (rc == DB_ROW) {
		if (!db_col_null(s, 0))
			db_set_err(st, "key %s already belongs to user %s", key->fp, db_col_text(s, 0));
		else
			db_set_err(st, "key %s already belongs to device %s.%s", key->fp,
			    db_col_null(s, 1) ? "?" : db_col_text(s, 1),
			    db_col_null(s, 2) ? "?" : db_col_text(s, 2));
		r = ERR_EXISTS;
	} else if (rc != DB_DONE)
		r = rc;
	db_release(s);
	return r;
}

static struct query q_key_add_user = {
	.sql = "INSERT INTO keys (fingerprint, type, blob, comment, user_id, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

static struct query q_key_add_device = {
	.sql = "INSERT INTO keys (fingerprint, type, blob, comment, device_id, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

int
key_insert(struct store *st, enum key_owner kind, int64_t owner, const struct pubkey *key)
{
	struct query *q = kind == KEY_USER ? &q_key_add_user : &q_key_add_device;
	struct db_stmt *s;
	int r;

	if ((r = key_free(st, key)) != 0 || (r = db_prepare(st, q, &s)) != 0)
		return r;
	db_bind_text(s, 1, key->fp);
	db_bind_text(s, 2, key->type);
	db_bind_text(s, 3, key->blob);
	db_bind_text(s, 4, key->comment ? key->comment : "");
	db_bind_int(s, 5, owner);
	db_bind_int(s, 6, timefmt_now());
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

static struct query q_principal = {
	.sql = "SELECT k.type, k.fingerprint, u.id, u.name, u.admin, d.id, d.name, f.name "
	    "FROM keys k LEFT JOIN users u ON u.id = k.user_id "
	    "LEFT JOIN devices d ON d.id = k.device_id LEFT JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE k.fingerprint = ?1 AND k.blob = ?2",
};

static void
principal_fill(struct db_stmt *s, struct store_principal *p)
{
	snprintf(p->key_type, sizeof(p->key_type), "%s", db_col_text(s, 0));
	snprintf(p->key_fp, sizeof(p->key_fp), "%s", db_col_text(s, 1));
	if (!db_col_null(s, 2)) {
		p->kind = PRINCIPAL_USER;
		p->id = db_col_int(s, 2);
		snprintf(p->name, sizeof(p->name), "%s", db_col_text(s, 3));
		p->admin = db_col_int(s, 4) != 0;
		return;
	}
	p->kind = PRINCIPAL_DEVICE;
	p->id = db_col_int(s, 5);
	snprintf(p->name, sizeof(p->name), "%s", db_col_text(s, 6));
	snprintf(p->fleet, sizeof(p->fleet), "%s", db_col_text(s, 7));
}

int
store_principal_by_key(struct store *st, const struct pubkey *key, struct store_principal *out)
{
	struct db_stmt *s;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = db_check_key(st, key)) != 0 || (r = db_prepare(st, &q_principal, &s)) != 0)
		return r;
	db_bind_text(s, 1, key->fp);
	db_bind_text(s, 2, key->blob);
	rc = db_step(s);
	if (rc == DB_ROW)
		principal_fill(s, out);
	else if (rc == DB_DONE) {
		db_set_err(st, "no user or device has key %s", key->fp);
		r = ERR_NOTFOUND;
	} else
		r = rc;
	db_release(s);
	return r;
}
