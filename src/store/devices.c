/* devices.c: devices, their presence, port-table ports, on-demand state and reports, and resolving a name to one. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

/* Columns shared by every device listing, in struct store_device order; now: the parameter holding the time. */
#define DEVICE_COLUMNS(now) \
	"SELECT d.id, d.name, f.name, coalesce(k.fingerprint, ''), " DEVICE_LIVE(now) ", " \
	"d.last_seen, d.last_addr, d.ondemand, d.ondemand_since, coalesce(d.port, 0), d.node, d.gen, d.online " \
	"FROM devices d JOIN fleets f ON f.id = d.fleet_id LEFT JOIN keys k ON k.device_id = d.id "

/* The next presence order: SQLite's under its one writer, PostgreSQL's from its sequence. */
#define PSEQ_NEXT	"(SELECT coalesce(max(pseq), 0) + 1 FROM devices)"
#define PSEQ_NEXT_PG	"nextval('presence_seq')"

static struct query q_device_add = {
	.sql = "INSERT INTO devices (name, fleet_id, created) VALUES (?1, ?2, ?3) RETURNING id",
};

int
device_insert(struct store *st, const char *name, const char *fleet, int64_t fid, int64_t *id)
{
	struct db_stmt *s;
	int r;

	*id = 0;
	if ((r = db_prepare(st, &q_device_add, &s)) != 0)
		return r;
	db_bind_text(s, 1, name);
	db_bind_int(s, 2, fid);
	db_bind_int(s, 3, timefmt_now());
	if ((r = db_step(s)) == DB_ROW)
		*id = db_col_int(s, 0);
	db_release(s);
	r = r < 0 ? r : 0;
	if (r == ERR_EXISTS)
		db_set_err(st, "device %s.%s already exists", name, fleet);
	return r;
}

int
store_device_add(struct store *st, const char *name, const char *fleet, const struct pubkey *key)
{
	int64_t fid, id;
	int r;

	if ((r = db_check_label(st, "device", name)) != 0 || (r = db_check_label(st, "fleet", fleet)) != 0 ||
	    (r = db_check_key(st, key)) != 0 || (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &fid, NULL)) == 0 &&
	    (r = device_insert(st, name, fleet, fid, &id)) == 0)
		r = key_insert(st, KEY_DEVICE, id, key);
	return db_tx_end(st, r);
}

/* One imported device, or user granted fleet fid. */
static int
import_one(struct store *st, const char *fleet, int64_t fid, bool users,
    const struct store_import_item *it)
{
	int64_t id;
	int r;

	if ((r = db_check_label(st, users ? "user" : "device", it->name)) != 0 ||
	    (r = db_check_key(st, it->key)) != 0)
		return r;
	if (users) {
		if ((r = user_insert(st, it->name, false, &id)) == 0 &&
		    (r = key_insert(st, KEY_USER, id, it->key)) == 0)
			r = user_grant(st, id, fid, 0);
		return r;
	}
	if (it->existing) {
		struct store_principal p;
		if (it->port == 0)
			return 0;
		if ((r = store_principal_by_key(st, it->key, &p)) == ERR_NOTFOUND ||
		    (r == 0 && (p.kind != PRINCIPAL_DEVICE || strcmp(p.name, it->name) != 0 ||
		    strcmp(p.fleet, fleet) != 0))) {
			db_set_err(st, "device %s.%s with this key is not in the store", it->name, fleet);
			return ERR_NOTFOUND;
		}
		if (r != 0)
			return r;
		id = p.id;
	} else if ((r = device_insert(st, it->name, fleet, fid, &id)) != 0 ||
	    (r = key_insert(st, KEY_DEVICE, id, it->key)) != 0)
		return r;
	if (it->port == 0)
		return 0;
	char holder[LIM_LABEL + 1];
	if ((r = store_device_bind_port(st, id, it->port, holder, sizeof(holder))) == ERR_EXISTS)
		db_set_err(st, "port %u of device %s.%s is already device %s.%s's", it->port, it->name,
		    fleet, holder[0] ? holder : "another", fleet);
	else if (r == ERR_INVAL)
		db_set_err(st, "device %s.%s: port %u out of range (1-65535)", it->name, fleet, it->port);
	return r;
}

int
store_import(struct store *st, const char *fleet, bool users, const struct store_import_item *items,
    size_t n, size_t *failed)
{
	int64_t fid;
	int r;

	*failed = n;
	if ((r = db_check_label(st, "fleet", fleet)) != 0 || (r = db_tx_begin(st)) != 0)
		return r;
	r = fleet_lookup(st, fleet, &fid, NULL);
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = import_one(st, fleet, fid, users, &items[i])) != 0)
			*failed = i;
	return db_tx_end(st, r);
}

static struct query q_device_rm = {
	.sql = "DELETE FROM devices WHERE name = ?1 "
	    "AND fleet_id = (SELECT id FROM fleets WHERE name = ?2)",
};

int
store_device_rm(struct store *st, const char *name, const char *fleet)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_check_label(st, "device", name)) != 0 || (r = db_check_label(st, "fleet", fleet)) != 0 ||
	    (r = db_prepare(st, &q_device_rm, &s)) != 0)
		return r;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, fleet);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no device named %s.%s", name, fleet);
		return ERR_NOTFOUND;
	}
	if (r == 0)
		st->own_writes++;
	return r;
}

static struct query q_device_list = {
	.sql = DEVICE_COLUMNS("?1") "ORDER BY f.name, d.name",
};

static struct query q_device_list_user = {
	.sql = DEVICE_COLUMNS("?2") "WHERE d.fleet_id IN (" GRANTED_FLEETS ") "
	    "ORDER BY f.name, d.name",
};

static struct query q_device_get = {
	.sql = DEVICE_COLUMNS("?2") "WHERE d.id = ?1",
};

static int
device_row(struct db_stmt *s, void *cb, void *arg)
{
	store_device_cb fn = (store_device_cb)cb;
	struct store_device d = {
		.id = db_col_int(s, 0),
		.name = db_col_text(s, 1),
		.fleet = db_col_text(s, 2),
		.key_fp = db_col_text(s, 3),
		.online = db_col_int(s, 4) != 0,
		.last_seen = db_col_int(s, 5),
		.last_addr = db_col_text(s, 6),
		.ondemand = db_col_text(s, 7),
		.ondemand_since = db_col_int(s, 8),
		.port = (uint32_t)db_col_int(s, 9),
		.gen = db_col_int(s, 11),
		.held = db_col_int(s, 12) != 0,
	};

	snprintf(d.node, sizeof(d.node), "%s", db_col_text(s, 10));
	return fn(arg, &d);
}

int
store_device_list(struct store *st, store_device_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_device_list, &s)) != 0)
		return r;
	db_bind_int(s, 1, timefmt_now());
	r = db_for_each_row(s, device_row, (void *)cb, arg);
	db_release(s);
	return r;
}

int
store_device_list_for_user(struct store *st, int64_t user_id, store_device_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_device_list_user, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	r = db_for_each_row(s, device_row, (void *)cb, arg);
	db_release(s);
	return r;
}

static struct query q_device_resolve = {
	.sql = "SELECT d.id, f.name FROM devices d JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE d.name = ?3 AND (?4 = '' OR f.name = ?4) "
	    "AND (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) ORDER BY f.name LIMIT 2",
};

int
store_device_resolve(struct store *st, int64_t user_id, const char *name, const char *fleet,
    int64_t *device_id, char *fleet_out)
{
	struct db_stmt *s;
	int r, rc, rows = 0;

	*device_id = 0;
	fleet_out[0] = '\0';
	if (fleet == NULL)
		fleet = "";
	if ((r = db_check_label(st, "device", name)) != 0 ||
	    (fleet[0] != '\0' && (r = db_check_label(st, "fleet", fleet)) != 0) ||
	    (r = db_prepare(st, &q_device_resolve, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	db_bind_text(s, 3, name);
	db_bind_text(s, 4, fleet);
	while ((rc = db_step(s)) == DB_ROW && ++rows == 1) {
		*device_id = db_col_int(s, 0);
		snprintf(fleet_out, LIM_LABEL + 1, "%s", db_col_text(s, 1));
	}
	if (rc != DB_ROW && rc != DB_DONE)
		r = rc;
	else if (rows == 0) {
		db_set_err(st, "no device named %s%s%s", name, fleet[0] ? "." : "", fleet);
		r = ERR_NOTFOUND;
	} else if (rows > 1) {
		db_set_err(st, "device name %s is in several fleets", name);
		r = ERR_AMBIGUOUS;
	}
	db_release(s);
	if (r != 0) {
		*device_id = 0;
		fleet_out[0] = '\0';
	}
	return r;
}

int
store_device_get(struct store *st, int64_t device_id, store_device_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_device_get, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, timefmt_now());
	if ((r = db_step_one(s)) == 0)
		r = device_row(s, (void *)cb, arg);
	else if (r == ERR_NOTFOUND)
		db_set_err(st, "no device with id %lld", (long long)device_id);
	db_release(s);
	return r;
}

static struct query q_device_online = {
	.sql = "UPDATE devices SET online = ?2, last_seen = ?3, "
	    "last_addr = coalesce(?4, last_addr), pseq = " PSEQ_NEXT " WHERE id = ?1",
	.pg = "UPDATE devices SET online = ?2, last_seen = ?3, "
	    "last_addr = coalesce(?4, last_addr), pseq = " PSEQ_NEXT_PG " WHERE id = ?1",
};

/* ERR_TOOLONG (with a message) for an address past LIM_PEER_STRING. */
static int
check_addr(struct store *st, const char *addr)
{
	if (addr != NULL && strnlen(addr, LIM_PEER_STRING) >= LIM_PEER_STRING) {
		db_set_err(st, "address too long");
		return ERR_TOOLONG;
	}
	return 0;
}

int
store_device_set_online(struct store *st, int64_t device_id, bool online, int64_t when,
    const char *addr)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = check_addr(st, addr)) != 0 || (r = db_prepare(st, &q_device_online, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, online ? 1 : 0);
	db_bind_int(s, 3, when);
	if (addr != NULL)
		db_bind_text(s, 4, addr);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no device with id %lld", (long long)device_id);
		return ERR_NOTFOUND;
	}
	return r;	/* liveness is not an access change: no own_writes bump */
}

/* A registration claims the device unless a newer one holds it. */
static struct query q_presence_online = {
	.sql = "UPDATE devices SET online = 1, node = ?2, gen = ?3, last_seen = ?4, "
	    "last_addr = coalesce(?5, last_addr), pseq = " PSEQ_NEXT " WHERE id = ?1 AND gen < ?3",
	.pg = "UPDATE devices SET online = 1, node = ?2, gen = ?3, last_seen = ?4, "
	    "last_addr = coalesce(?5, last_addr), pseq = " PSEQ_NEXT_PG " WHERE id = ?1 AND gen < ?3",
};

/* A node takes back only its own registration. */
static struct query q_presence_offline = {
	.sql = "UPDATE devices SET online = 0, last_seen = ?4, last_addr = coalesce(?5, last_addr), "
	    "pseq = " PSEQ_NEXT " WHERE id = ?1 AND node = ?2 AND gen = ?3",
	.pg = "UPDATE devices SET online = 0, last_seen = ?4, last_addr = coalesce(?5, last_addr), "
	    "pseq = " PSEQ_NEXT_PG " WHERE id = ?1 AND node = ?2 AND gen = ?3",
};

static struct query q_presence_holder = {
	.sql = "SELECT node, gen FROM devices WHERE id = ?1",
};

int
store_device_set_presence(struct store *st, int64_t device_id, bool online, const char *node,
    int64_t gen, int64_t when, const char *addr)
{
	struct db_stmt *s;
	int r, n = 0;

	if (node == NULL || (node[0] != '\0' && (r = db_check_label(st, "node", node)) != 0))
		return node == NULL ? db_check_label(st, "node", node) : r;
	if (gen <= 0) {
		db_set_err(st, "invalid registration generation %lld", (long long)gen);
		return ERR_INVAL;
	}
	if ((r = check_addr(st, addr)) != 0 ||
	    (r = db_prepare(st, online ? &q_presence_online : &q_presence_offline, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_text(s, 2, node);
	db_bind_int(s, 3, gen);
	db_bind_int(s, 4, when);
	if (addr != NULL)
		db_bind_text(s, 5, addr);
	r = db_exec(s, &n);
	db_release(s);
	if (r != 0 || n > 0)
		return r;	/* liveness is not an access change: no own_writes bump */
	/* nothing written: no such device, or (online) a newer registration holds it */
	if ((r = db_prepare(st, &q_presence_holder, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	if ((r = db_step_one(s)) == ERR_NOTFOUND)
		db_set_err(st, "no device with id %lld", (long long)device_id);
	else if (r == 0 && online) {
		db_set_err(st, "device %lld is held by node %s with a newer registration",
		    (long long)device_id, db_col_text(s, 0)[0] ? db_col_text(s, 0) : "(none)");
		r = ERR_DENIED;
	}
	db_release(s);
	return r;
}

static struct query q_presence_since = {
	.sql = "SELECT id, gen, pseq, last_seen, online, node FROM devices "
	    "WHERE pseq > ?1 AND (?2 = '' OR node <> ?2) ORDER BY pseq",
};

static int
presence_row(struct db_stmt *s, void *cb, void *arg)
{
	store_presence_cb fn = (store_presence_cb)cb;
	struct store_presence p = {
		.device_id = db_col_int(s, 0),
		.gen = db_col_int(s, 1),
		.pseq = db_col_int(s, 2),
		.last_seen = db_col_int(s, 3),
		.online = db_col_int(s, 4) != 0,
	};

	snprintf(p.node, sizeof(p.node), "%s", db_col_text(s, 5));
	return fn(arg, &p);
}

int
store_presence_since(struct store *st, int64_t after_pseq, const char *skip_node, store_presence_cb cb,
    void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_presence_since, &s)) != 0)
		return r;
	db_bind_int(s, 1, after_pseq);
	db_bind_text(s, 2, skip_node != NULL ? skip_node : "");
	r = db_for_each_row(s, presence_row, (void *)cb, arg);
	db_release(s);
	return r;
}

static struct query q_presence_apply = {
	.sql = "UPDATE devices SET online = ?2, node = ?3, gen = ?4, pseq = ?5, last_seen = ?6 WHERE id = ?1",
};

int
store_presence_apply(struct store *st, const struct store_presence *p)
{
	struct db_stmt *s;
	int r, n = 0;

	if (p == NULL || memchr(p->node, '\0', sizeof(p->node)) == NULL ||
	    (p->node[0] != '\0' && db_check_label(st, "node", p->node) != 0)) {
		db_set_err(st, "invalid node name");
		return ERR_NAME;
	}
	if ((r = db_prepare(st, &q_presence_apply, &s)) != 0)
		return r;
	db_bind_int(s, 1, p->device_id);
	db_bind_int(s, 2, p->online ? 1 : 0);
	db_bind_text(s, 3, p->node);
	db_bind_int(s, 4, p->gen);
	db_bind_int(s, 5, p->pseq);
	db_bind_int(s, 6, p->last_seen);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no device with id %lld", (long long)p->device_id);
		return ERR_NOTFOUND;
	}
	return r;
}

static struct query q_port_holder = {
	.sql = "SELECT o.name FROM devices d JOIN devices o ON o.fleet_id = d.fleet_id "
	    "WHERE d.id = ?1 AND o.port = ?2 AND o.id <> d.id",
};

static struct query q_port_bind = {
	.sql = "UPDATE devices SET port = ?2 WHERE id = ?1 AND port IS NULL",
};

int
store_device_bind_port(struct store *st, int64_t device_id, uint32_t port, char *holder, size_t hlen)
{
	struct db_stmt *s;
	int r, n = 0;

	if (holder != NULL && hlen > 0)
		holder[0] = '\0';
	if (port == 0 || port > 65535) {
		db_set_err(st, "port %u out of range", port);
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_port_holder, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, port);
	if ((r = db_step_one(s)) == ERR_NOTFOUND)
		r = 0;
	else if (r == 0) {
		if (holder != NULL && hlen > 0)
			snprintf(holder, hlen, "%s", db_col_text(s, 0));
		db_set_err(st, "port %u is bound to another device of the fleet", port);
		r = ERR_EXISTS;
	}
	db_release(s);
	if (r != 0)
		return r;
	if ((r = db_prepare(st, &q_port_bind, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_int(s, 2, port);
	r = db_exec(s, &n);
	db_release(s);
	if (r == ERR_EXISTS)	/* the unique index: bound by another writer meanwhile */
		db_set_err(st, "port %u is bound to another device of the fleet", port);
	return r;
}

static struct query q_port_resolve = {
	.sql = "SELECT d.id, d.name, f.name FROM devices d JOIN fleets f ON f.id = d.fleet_id "
	    "WHERE d.port = ?3 AND (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) ORDER BY f.name, d.name LIMIT 2",
};

int
store_device_by_port(struct store *st, int64_t user_id, uint32_t port, int64_t *device_id,
    char *qualified, size_t qlen)
{
	struct db_stmt *s;
	int r, rc, rows = 0;

	*device_id = 0;
	if (qualified != NULL && qlen > 0)
		qualified[0] = '\0';
	if ((r = db_prepare(st, &q_port_resolve, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	db_bind_int(s, 3, port);
	while ((rc = db_step(s)) == DB_ROW) {
		size_t l = qualified != NULL && qlen > 0 ? strlen(qualified) : 0;
		if (++rows == 1)
			*device_id = db_col_int(s, 0);
		if (qualified != NULL && qlen > l)
			snprintf(qualified + l, qlen - l, "%s%s.%s", rows > 1 ? " and " : "",
			    db_col_text(s, 1), db_col_text(s, 2));
	}
	if (rc != DB_DONE)
		r = rc;
	else if (rows == 0) {
		db_set_err(st, "no device holds port %u", port);
		r = ERR_NOTFOUND;
	} else if (rows > 1)
		r = ERR_AMBIGUOUS;
	db_release(s);
	if (r != 0 && r != ERR_AMBIGUOUS)
		*device_id = 0;
	return r;
}

static struct query q_device_all_offline = {
	.sql = "UPDATE devices SET online = 0, last_seen = ?1, pseq = " PSEQ_NEXT " WHERE online = 1",
	.pg = "UPDATE devices SET online = 0, last_seen = ?1, pseq = " PSEQ_NEXT_PG " WHERE online = 1",
};

int
store_device_all_offline(struct store *st, int64_t when)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_prepare(st, &q_device_all_offline, &s)) != 0)
		return r;
	db_bind_int(s, 1, when);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n > 0)
		st->own_writes++;
	return r;
}

static struct query q_device_node_offline = {
	.sql = "UPDATE devices SET online = 0, last_seen = ?1, pseq = " PSEQ_NEXT " "
	    "WHERE online = 1 AND (node = ?2 OR node = '')",
	.pg = "UPDATE devices SET online = 0, last_seen = ?1, pseq = " PSEQ_NEXT_PG " "
	    "WHERE online = 1 AND (node = ?2 OR node = '')",
};

int
store_device_node_offline(struct store *st, const char *node, int64_t when)
{
	struct db_stmt *s;
	int r, n = 0;

	if (node == NULL || (node[0] != '\0' && (r = db_check_label(st, "node", node)) != 0))
		return node == NULL ? db_check_label(st, "node", node) : r;
	if ((r = db_prepare(st, &q_device_node_offline, &s)) != 0)
		return r;
	db_bind_int(s, 1, when);
	db_bind_text(s, 2, node);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n > 0)
		st->own_writes++;
	return r;
}

static struct query q_device_ondemand = {
	.sql = "UPDATE devices SET ondemand = ?2, ondemand_since = ?3 WHERE id = ?1",
};

int
store_device_set_ondemand(struct store *st, int64_t device_id, const char *state, int64_t when)
{
	struct db_stmt *s;
	int r, n = 0;

	if (state == NULL || strnlen(state, 32) >= 32 || strspn(state, "abcdefghijklmnopqrstuvwxyz") != strlen(state)) {
		db_set_err(st, "bad on-demand state");
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_device_ondemand, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_text(s, 2, state);
	db_bind_int(s, 3, when);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no device with id %lld", (long long)device_id);
		return ERR_NOTFOUND;
	}
	return r;	/* liveness, not an access change */
}

static struct query q_device_ondemand_clear = {
	.sql = "UPDATE devices SET ondemand = '', ondemand_since = 0 "
	    "WHERE ondemand <> ''",
};

int
store_device_clear_ondemand(struct store *st)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_prepare(st, &q_device_ondemand_clear, &s)) != 0)
		return r;
	r = db_exec(s, &n);
	db_release(s);
	return r;
}

static struct query q_device_info = {
	.sql = "UPDATE devices SET hostname = ?2, os = ?3, agent_version = ?4, "
	    "host_keys = ?5, booted = ?6, reconnects = reconnects + 1 WHERE id = ?1",
};

int
store_device_set_info(struct store *st, int64_t device_id, const char *hostname,
    const char *os, const char *version, const char *host_keys, int64_t booted)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_device_info, &s)) != 0)
		return r;
	db_bind_int(s, 1, device_id);
	db_bind_text(s, 2, hostname ? hostname : "");
	db_bind_text(s, 3, os ? os : "");
	db_bind_text(s, 4, version ? version : "");
	db_bind_text(s, 5, host_keys ? host_keys : "");
	db_bind_int(s, 6, booted > 0 ? booted : 0);
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

static struct query q_device_info_get = {
	.sql = "SELECT d.name, f.name, coalesce(d.hostname, ''), coalesce(d.os, ''), "
	    "coalesce(d.agent_version, ''), coalesce(d.host_keys, ''), d.booted FROM devices d "
	    "JOIN fleets f ON f.id = d.fleet_id WHERE (?1 = 0 OR d.fleet_id IN (" GRANTED_FLEETS ")) "
	    "ORDER BY f.name, d.name",
};

int
store_device_info_list(struct store *st, int64_t user_id, store_info_cb cb, void *arg)
{
	struct db_stmt *s;
	int r, rc;

	if ((r = db_prepare(st, &q_device_info_get, &s)) != 0)
		return r;
	db_bind_int(s, 1, user_id);
	db_bind_int(s, 2, timefmt_now());
	while (r == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_device_info d = {
			.name = db_col_text(s, 0),
			.fleet = db_col_text(s, 1),
			.hostname = db_col_text(s, 2),
			.os = db_col_text(s, 3),
			.version = db_col_text(s, 4),
			.host_keys = db_col_text(s, 5),
			.booted = db_col_int(s, 6),
		};
		r = cb(arg, &d);
	}
	if (r == 0 && rc != DB_DONE)
		r = rc;
	db_release(s);
	return r;
}
