/* nodes.c: the outpostd processes (nodes) sharing one store: registration, heartbeat, listing. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

/* Ids stay below 2^23 so that session ids (id << STORE_NODE_SHIFT | serial) stay positive. */
#define NODE_ID_MAX	((INT64_C(1) << (63 - STORE_NODE_SHIFT)) - 1)

/*
 * ERR_TOOLONG unless field (len bytes) holds a NUL; ERR_INVAL if it holds a
 * control character (a byte below 0x20 or 0x7f). what names it in the message.
 */
static int
check_field(struct store *st, const char *what, const char *field, size_t len)
{
	size_t n = strnlen(field, len);

	if (n >= len) {
		db_set_err(st, "node %s too long", what);
		return ERR_TOOLONG;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)field[i] < 0x20 || field[i] == 0x7f) {
			db_set_err(st, "node %s holds a control character", what);
			return ERR_INVAL;
		}
	return 0;
}

static int
check_node(struct store *st, const struct store_node *n)
{
	int r;

	if (n == NULL) {
		db_set_err(st, "no node");
		return ERR_INVAL;
	}
	if (memchr(n->name, '\0', sizeof(n->name)) == NULL) {
		db_set_err(st, "node name too long");
		return ERR_TOOLONG;
	}
	if ((r = db_check_label(st, "node", n->name)) != 0 ||
	    (r = check_field(st, "peer address", n->peer_addr, sizeof(n->peer_addr))) != 0 ||
	    (r = check_field(st, "key", n->node_key, sizeof(n->node_key))) != 0 ||
	    (r = check_field(st, "version", n->version, sizeof(n->version))) != 0)
		return r;
	if (n->started <= 0 || n->heartbeat < 0) {
		db_set_err(st, "invalid node start time");
		return ERR_INVAL;
	}
	return 0;
}

/* Columns of struct store_node in order; ?1 is now. */
#define NODE_COLUMNS \
	"SELECT n.id, n.name, n.peer_addr, n.node_key, n.started, n.heartbeat, n.version, " \
	"(SELECT count(*) FROM devices d WHERE d.node = n.name AND d.online = 1), " \
	"CASE WHEN n.heartbeat >= ?1 - " RECORDS_STR(LIM_NODE_DOWN_S) " THEN 1 ELSE 0 END FROM nodes n "

static struct query q_node_list = {
	.sql = NODE_COLUMNS "ORDER BY n.name",
};

static struct query q_node_get = {
	.sql = NODE_COLUMNS "WHERE n.name = ?2",
};

/* The rows and up at ?1, without the device counts: the store thread reads them every second. */
static struct query q_node_scan = {
	.sql = "SELECT id, name, peer_addr, node_key, started, heartbeat, version, 0, "
	    "CASE WHEN heartbeat >= ?1 - " RECORDS_STR(LIM_NODE_DOWN_S) " THEN 1 ELSE 0 END FROM nodes ORDER BY name",
};

static void
node_from_row(struct db_stmt *s, struct store_node *n)
{
	int held;

	memset(n, 0, sizeof(*n));
	n->id = db_col_int(s, 0);
	snprintf(n->name, sizeof(n->name), "%s", db_col_text(s, 1));
	snprintf(n->peer_addr, sizeof(n->peer_addr), "%s", db_col_text(s, 2));
	snprintf(n->node_key, sizeof(n->node_key), "%s", db_col_text(s, 3));
	n->started = db_col_int(s, 4);
	n->heartbeat = db_col_int(s, 5);
	snprintf(n->version, sizeof(n->version), "%s", db_col_text(s, 6));
	held = (int)db_col_int(s, 7);
	n->up = db_col_int(s, 8) != 0;
	if (n->up)
		n->devices = held;
	else
		n->stranded = held;	/* nobody holds them: they show offline until they register elsewhere */
}

static int
node_row(struct db_stmt *s, void *cb, void *arg)
{
	store_node_cb fn = (store_node_cb)cb;
	struct store_node n;

	node_from_row(s, &n);
	return fn(arg, &n);
}

int
store_node_list(struct store *st, store_node_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_node_list, &s)) != 0)
		return r;
	db_bind_int(s, 1, timefmt_now());
	r = db_for_each_row(s, node_row, (void *)cb, arg);
	db_release(s);
	return r;
}

int
store_node_scan(struct store *st, int64_t now, store_node_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_node_scan, &s)) != 0)
		return r;
	db_bind_int(s, 1, now);
	r = db_for_each_row(s, node_row, (void *)cb, arg);
	db_release(s);
	return r;
}

/* One node by name at time now. */
static int
node_get_at(struct store *st, const char *name, int64_t now, struct store_node *out)
{
	struct db_stmt *s;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = db_check_label(st, "node", name)) != 0 || (r = db_prepare(st, &q_node_get, &s)) != 0)
		return r;
	db_bind_int(s, 1, now);
	db_bind_text(s, 2, name);
	if ((r = db_step_one(s)) == 0)
		node_from_row(s, out);
	else if (r == ERR_NOTFOUND)
		db_set_err(st, "no node named %s", name);
	db_release(s);
	return r;
}

int
store_node_get(struct store *st, const char *name, struct store_node *out)
{
	return node_get_at(st, name, timefmt_now(), out);
}

static struct query q_node_insert = {
	.sql = "INSERT INTO nodes (name, peer_addr, node_key, started, heartbeat, version) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
};

static struct query q_node_update = {
	.sql = "UPDATE nodes SET peer_addr = ?2, node_key = ?3, started = ?4, heartbeat = ?5, "
	    "version = ?6 WHERE id = ?1",
};

/* Inserts or updates (id non-zero) the row of n; *id gets the new row's id. */
static int
node_write(struct store *st, const struct store_node *n, int64_t *id)
{
	struct db_stmt *s;
	int64_t hb = n->heartbeat > n->started ? n->heartbeat : n->started;
	bool insert = *id == 0;
	int r, c = 0;

	if ((r = db_prepare(st, insert ? &q_node_insert : &q_node_update, &s)) != 0)
		return r;
	if (insert)
		db_bind_text(s, 1, n->name);
	else
		db_bind_int(s, 1, *id);
	db_bind_text(s, 2, n->peer_addr);
	db_bind_text(s, 3, n->node_key);
	db_bind_int(s, 4, n->started);
	db_bind_int(s, 5, hb);
	db_bind_text(s, 6, n->version);
	if (insert) {
		if ((r = db_step(s)) == DB_ROW) {
			*id = db_col_int(s, 0);
			r = 0;
		} else if (r == DB_DONE)
			r = ERR_STORE;
	} else if ((r = db_exec(s, &c)) == 0 && c == 0)
		r = ERR_NOTFOUND;
	db_release(s);
	if (r == ERR_EXISTS)
		db_set_err(st, "node %s registered meanwhile", n->name);
	return r;
}

int
store_node_register(struct store *st, const struct store_node *n, int64_t *id)
{
	struct store_node old;
	int64_t got = 0;
	int r;

	if (id != NULL)
		*id = 0;
	if ((r = check_node(st, n)) != 0 || (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = node_get_at(st, n->name, n->started, &old)) == 0) {
		got = old.id;
		if (old.up && strcmp(old.node_key, n->node_key) != 0) {
			db_set_err(st, "node %s is already running at %s", n->name,
			    old.peer_addr[0] ? old.peer_addr : "an address peers cannot reach");
			r = ERR_INUSE;
		}
	} else if (r == ERR_NOTFOUND)
		r = 0;
	if (r == 0)
		r = node_write(st, n, &got);
	if (r == 0 && (got <= 0 || got > NODE_ID_MAX)) {
		db_set_err(st, "node id %lld out of range (1-%lld)", (long long)got, (long long)NODE_ID_MAX);
		r = ERR_STORE;
	}
	if ((r = db_tx_end(st, r)) == 0 && id != NULL)
		*id = got;
	return r;
}

static struct query q_node_heartbeat = {
	.sql = "UPDATE nodes SET heartbeat = CASE WHEN heartbeat > ?2 THEN heartbeat ELSE ?2 END WHERE id = ?1",
};

int
store_node_heartbeat(struct store *st, int64_t id, int64_t now)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = db_prepare(st, &q_node_heartbeat, &s)) != 0)
		return r;
	db_bind_int(s, 1, id);
	db_bind_int(s, 2, now);
	r = db_exec(s, &n);
	db_release(s);
	if (r == 0 && n == 0) {
		db_set_err(st, "no node with id %lld", (long long)id);
		return ERR_NOTFOUND;
	}
	return r;	/* liveness, not an access change */
}

static struct query q_node_stop = {
	.sql = "UPDATE nodes SET heartbeat = 0 WHERE id = ?1 AND started = ?2",
};

int
store_node_stop(struct store *st, int64_t id, int64_t started)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_node_stop, &s)) != 0)
		return r;
	db_bind_int(s, 1, id);
	db_bind_int(s, 2, started);
	r = db_exec(s, NULL);	/* no row: the name started again elsewhere meanwhile, its row is not ours */
	db_release(s);
	return r;
}

static struct query q_node_mirror_clear = {
	.sql = "DELETE FROM nodes",
};

static struct query q_node_mirror_row = {
	.sql = "INSERT INTO nodes (id, name, peer_addr, node_key, started, heartbeat, version) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

/* One row of store_node_mirror, its heartbeat frozen. */
static int
mirror_row(struct store *st, const struct store_node *n)
{
	struct db_stmt *s;
	int r;

	if (memchr(n->name, '\0', sizeof(n->name)) == NULL ||
	    memchr(n->peer_addr, '\0', sizeof(n->peer_addr)) == NULL ||
	    memchr(n->node_key, '\0', sizeof(n->node_key)) == NULL ||
	    memchr(n->version, '\0', sizeof(n->version)) == NULL) {
		db_set_err(st, "node row not terminated");
		return ERR_TOOLONG;
	}
	if ((r = db_prepare(st, &q_node_mirror_row, &s)) != 0)
		return r;
	db_bind_int(s, 1, n->id);
	db_bind_text(s, 2, n->name);
	db_bind_text(s, 3, n->peer_addr);
	db_bind_text(s, 4, n->node_key);
	db_bind_int(s, 5, n->started);
	db_bind_int(s, 6, n->up ? STORE_NODE_FROZEN_UP : 0);
	db_bind_text(s, 7, n->version);
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}

int
store_node_mirror(struct store *st, const struct store_node *v, size_t n)
{
	int r;

	if (n > 0 && v == NULL) {
		db_set_err(st, "no nodes");
		return ERR_INVAL;
	}
	if ((r = store_batch_begin(st)) != 0)
		return r;
	r = db_run(st, &q_node_mirror_clear, NULL);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = mirror_row(st, &v[i]);
	if (r != 0) {
		store_batch_rollback(st);
		return r;
	}
	return store_batch_commit(st);	/* not an access change: no session is checked again for it */
}

/* Up nodes beat forever, down ones never did: the mirror keeps the state it was filled with. */
static struct query q_node_freeze = {
	.sql = "UPDATE nodes SET heartbeat = CASE WHEN heartbeat >= ?1 - " RECORDS_STR(LIM_NODE_DOWN_S)
	    " THEN ?2 ELSE 0 END",
};

int
store_node_freeze(struct store *st, int64_t now)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_node_freeze, &s)) != 0)
		return r;
	db_bind_int(s, 1, now);
	db_bind_int(s, 2, STORE_NODE_FROZEN_UP);
	r = db_exec(s, NULL);
	db_release(s);
	return r;
}
