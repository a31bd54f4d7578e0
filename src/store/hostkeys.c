/*
 * hostkeys.c: the host keys outpostd learned from plain-OpenSSH devices'
 * sshds (server/hostkey.c), one recorded key per device, port and key type,
 * and a different key seen since kept aside as `pending` until an admin
 * accepts it (SCHEMA.md, host_keys).
 *
 * Its table is migration 9 on both engines (sqlite.c, pg.c).
 *
 * Every query below is plain SQL both engines take.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/timefmt.h"
#include "ssh/pubkey.h"
#include "store/db.h"
#include "store/records.h"

/* The host key types an OpenSSH sshd shows (ssh -Q HostKeyAlgorithms, plain keys only). */
static const char *const host_key_types[] = {
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
};

/* ERR_KEY unless (type, blob) is a host key of a known type whose blob says so too. */
static int
check_host_key(struct store *st, const char *type, const char *blob)
{
	char line[LIM_KEYLINE + PUBKEY_TYPE_MAX + 2];
	struct pubkey k;
	size_t i;

	for (i = 0; i < sizeof(host_key_types) / sizeof(host_key_types[0]); i++)
		if (type != NULL && strcmp(type, host_key_types[i]) == 0)
			break;
	if (i == sizeof(host_key_types) / sizeof(host_key_types[0])) {
		db_set_err(st, "not a host key type");
		return ERR_KEY;
	}
	if (blob == NULL || blob[0] == '\0' || strlen(blob) > LIM_KEYLINE - PUBKEY_TYPE_MAX ||
	    strspn(blob, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(blob)) {
		db_set_err(st, "a host key must be one base64 blob");
		return ERR_KEY;
	}
	snprintf(line, sizeof(line), "%s %s", type, blob);
	int r = pubkey_parse_line(line, &k);
	pubkey_clear(&k);
	if (r != 0) {
		db_set_err(st, "the %s host key does not parse as one", type);
		return ERR_KEY;
	}
	return 0;
}

static int
check_port(struct store *st, uint32_t port)
{
	if (port == 0 || port > 65535) {
		db_set_err(st, "port %u out of range", port);
		return ERR_INVAL;
	}
	return 0;
}

static struct query q_hostkey_get = {
	.sql = "SELECT key, pending FROM host_keys WHERE device_id = ?1 AND port = ?2 AND type = ?3",
};
static struct query q_hostkey_add = {
	.sql = "INSERT INTO host_keys (device_id, port, type, key, learned, seen) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
};
static struct query q_hostkey_same = {
	.sql = "UPDATE host_keys SET seen = ?4 WHERE device_id = ?1 AND port = ?2 AND type = ?3",
};
static struct query q_hostkey_pending = {
	.sql = "UPDATE host_keys SET pending = ?4, changed = ?5, seen = ?5 "
	    "WHERE device_id = ?1 AND port = ?2 AND type = ?3",
};

/* The recorded and pending keys of one row into key/pending (copies); ERR_NOTFOUND if none. */
static int
hostkey_get(struct store *st, int64_t device_id, uint32_t port, const char *type,
    char *key, size_t klen, char *pending, size_t plen)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_hostkey_get, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, port);
	db_bind_text(s, 3, type);
	if ((r = db_step_one(s)) == 0) {
		snprintf(key, klen, "%s", db_col_text(s, 0));
		snprintf(pending, plen, "%s", db_col_text(s, 1));
	}
	db_release(s);
	return r;
}

/* Runs q with the row's key (device_id, port, type) and then v (?4) and now (?5). */
static int
hostkey_write(struct store *st, struct query *q, int64_t device_id, uint32_t port,
    const char *type, const char *v, int64_t now)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, q, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, port);
	db_bind_text(s, 3, type);
	if (v != NULL) {
		db_bind_text(s, 4, v);
		db_bind_int(s, 5, now);
	} else
		db_bind_int(s, 4, now);
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

static int
seen_in_tx(struct store *st, int64_t device_id, uint32_t port, const char *type, const char *key,
    int64_t now, int *seen, char *old, size_t oldlen)
{
	char rec[LIM_KEYLINE], pend[LIM_KEYLINE];
	int r = hostkey_get(st, device_id, port, type, rec, sizeof(rec), pend, sizeof(pend));

	if (r == ERR_NOTFOUND) {
		r = hostkey_write(st, &q_hostkey_add, device_id, port, type, key, now);
		if (r == ERR_NOTFOUND)	/* the foreign key: no such device */
			db_set_err(st, "no device with id %lld", (long long)device_id);
		if (r == 0)
			*seen = HOSTKEY_LEARNED;
		return r;
	}
	if (r != 0)
		return r;
	if (strcmp(rec, key) == 0) {
		*seen = HOSTKEY_SAME;
		return hostkey_write(st, &q_hostkey_same, device_id, port, type, NULL, now);
	}
	*seen = HOSTKEY_CHANGED;
	if (old != NULL && oldlen > 0)
		snprintf(old, oldlen, "%s", rec);
	if (strcmp(pend, key) == 0)	/* the same change seen again: keep when it was first seen */
		return hostkey_write(st, &q_hostkey_same, device_id, port, type, NULL, now);
	return hostkey_write(st, &q_hostkey_pending, device_id, port, type, key, now);
}

int
store_hostkey_seen(struct store *st, int64_t device_id, uint32_t port, const char *type,
    const char *key, int64_t now, int *seen, char *old, size_t oldlen)
{
	int r;

	*seen = HOSTKEY_SAME;
	if (old != NULL && oldlen > 0)
		old[0] = '\0';
	if ((r = check_port(st, port)) != 0 || (r = check_host_key(st, type, key)) != 0)
		return r;
	if ((r = db_tx_begin(st)) != 0)
		return r;
	r = seen_in_tx(st, device_id, port, type, key, now, seen, old, oldlen);
	return db_tx_end(st, r);
}

static struct query q_hostkey_count = {
	.sql = "SELECT count(*) FROM host_keys WHERE device_id = ?1 AND port = ?2",
};

int
store_hostkey_count(struct store *st, int64_t device_id, uint32_t port, int *n)
{
	struct db_stmt *s;
	int r;

	*n = 0;
	if ((r = check_port(st, port)) != 0 || (r = db_prepare(st, &q_hostkey_count, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, port);
	if ((r = db_step_one(s)) == 0)
		*n = (int)db_col_int(s, 0);
	else if (r == ERR_NOTFOUND)	/* count(*) always has its row */
		r = ERR_STORE;
	db_release(s);
	return r;
}

static struct query q_hostkey_accept = {
	.sql = "UPDATE host_keys SET key = pending, pending = '', changed = 0, learned = ?2 "
	    "WHERE device_id = ?1 AND pending <> ''",
};

int
store_hostkey_accept(struct store *st, int64_t device_id, int *n)
{
	struct db_stmt *s;
	int r;

	*n = 0;
	if ((r = db_prepare(st, &q_hostkey_accept, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, timefmt_now());
	r = db_exec(s, n);
	db_release(s);
	return r;
}

static struct query q_hostkey_list = {
	.sql = "SELECT d.name, f.name, h.port, coalesce(d.port, 0), h.type, h.key, h.pending, "
	    "h.learned, h.changed FROM host_keys h JOIN devices d ON d.id = h.device_id "
	    "JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) "
	    "ORDER BY f.name, d.name, h.port, h.type",
};

int
store_hostkey_list(struct store *st, int64_t user_id, store_hostkey_cb cb, void *arg)
{
	struct db_stmt *s;
	int r, rc;

	if ((r = db_prepare(st, &q_hostkey_list, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	while (r == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_hostkey k = {
			.name = db_col_text(s, 0),
			.fleet = db_col_text(s, 1),
			.port = (uint32_t)db_col_int(s, 2),
			.table_port = (uint32_t)db_col_int(s, 3),
			.type = db_col_text(s, 4),
			.key = db_col_text(s, 5),
			.pending = db_col_text(s, 6),
			.learned = db_col_int(s, 7),
			.changed = db_col_int(s, 8),
		};
		r = cb(arg, &k);
	}
	if (r == 0 && rc != DB_DONE)
		r = rc;
	db_release(s);
	return r;
}
