/* fleets.c: adding, removing, counting and listing fleets. */
#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

static struct query q_fleet_id = {
	.sql = "SELECT id, (SELECT count(*) FROM devices WHERE fleet_id = fleets.id) "
	    "FROM fleets WHERE name = ?1",
};

/* Fleet id and device count by name; ERR_NOTFOUND with a message. */
int
fleet_lookup(struct store *st, const char *fleet, int64_t *id, int *ndevices)
{
	struct db_stmt *s;
	int r;

	*id = 0;
	if (ndevices != NULL)
		*ndevices = 0;
	if ((r = db_prepare(st, &q_fleet_id, &s)) != 0)
		return r;
	db_bind_text(s, 1, fleet);
	if ((r = db_step_one(s)) == 0) {
		*id = db_col_int(s, 0);
		if (ndevices != NULL)
			*ndevices = (int)db_col_int(s, 1);
	} else if (r == ERR_NOTFOUND)
		db_set_err(st, "no fleet named %s", fleet);
	db_release(s);
	return r;
}

static struct query q_fleet_add = {
	.sql = "INSERT INTO fleets (name, created) VALUES (?1, ?2)",
};

int
store_fleet_add(struct store *st, const char *fleet)
{
	struct db_stmt *s;
	int r;

	if ((r = db_check_label(st, "fleet", fleet)) != 0 ||
	    (r = db_prepare(st, &q_fleet_add, &s)) != 0)
		return r;
	db_bind_text(s, 1, fleet);
	db_bind_int(s, 2, timefmt_now());
	r = db_exec(s, NULL);
	db_release(s);
	if (r == ERR_EXISTS)
		db_set_err(st, "fleet %s already exists", fleet);
	if (r == 0)
		st->own_writes++;
	return r;
}

static struct query q_fleet_rm = {
	.sql = "DELETE FROM fleets WHERE id = ?1",
};

int
store_fleet_rm(struct store *st, const char *fleet)
{
	struct db_stmt *s = NULL;
	int64_t id;
	int r, n;

	if ((r = db_check_label(st, "fleet", fleet)) != 0 || (r = db_tx_begin(st)) != 0)
		return r;
	if ((r = fleet_lookup(st, fleet, &id, &n)) != 0)
		goto out;
	if (n > 0) {
		db_set_err(st, "fleet %s still has %d device%s; remove %s first", fleet, n,
		    n == 1 ? "" : "s", n == 1 ? "it" : "them");
		r = ERR_INUSE;
		goto out;
	}
	if ((r = db_prepare(st, &q_fleet_rm, &s)) != 0)
		goto out;
	db_bind_int(s, 1, id);
	r = db_exec(s, NULL);
	if (r == ERR_NOTFOUND) {	/* a device raced in: foreign key RESTRICT */
		db_set_err(st, "fleet %s still has devices", fleet);
		r = ERR_INUSE;
	}
out:
	db_release(s);
	return db_tx_end(st, r);
}

static struct query q_fleet_list = {
	.sql = "SELECT f.name, count(d.id) FROM fleets f "
	    "LEFT JOIN devices d ON d.fleet_id = f.id GROUP BY f.id ORDER BY f.name",
};

static int
fleet_row(struct db_stmt *s, void *cb, void *arg)
{
	store_fleet_cb fn = (store_fleet_cb)cb;

	return fn(arg, db_col_text(s, 0), (int)db_col_int(s, 1));
}

int
store_fleet_list(struct store *st, store_fleet_cb cb, void *arg)
{
	return db_list_rows(st, &q_fleet_list, fleet_row, (void *)cb, arg);
}

static struct query q_fleet_states = {
	.sql = "SELECT f.name, coalesce(sum(" DEVICE_LIVE("?1") "), 0), "
	    "coalesce(sum(CASE WHEN " DEVICE_LIVE("?1") " = 0 AND d.ondemand IN ('standby', 'connected', 'disconnected') "
	    "THEN 1 ELSE 0 END), 0), "
	    "count(d.id) FROM fleets f LEFT JOIN devices d ON d.fleet_id = f.id GROUP BY f.id ORDER BY f.name",
};

static int
fleet_state_row(struct db_stmt *s, void *cb, void *arg)
{
	store_fleet_state_cb fn = (store_fleet_state_cb)cb;
	int online = (int)db_col_int(s, 1), standby = (int)db_col_int(s, 2);

	return fn(arg, db_col_text(s, 0), online, standby,
	    (int)db_col_int(s, 3) - online - standby);
}

int
store_fleet_states(struct store *st, store_fleet_state_cb cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, &q_fleet_states, &s)) != 0)
		return r;
	db_bind_int(s, 1, timefmt_now());
	r = db_for_each_row(s, fleet_state_row, (void *)cb, arg);
	db_release(s);
	return r;
}

int
store_fleet_get(struct store *st, const char *fleet, int *ndevices)
{
	int64_t id;
	int n = 0, r;

	if (ndevices != NULL)
		*ndevices = 0;
	if ((r = db_check_label(st, "fleet", fleet)) != 0 || (r = fleet_lookup(st, fleet, &id, &n)) != 0)
		return r;
	if (ndevices != NULL)
		*ndevices = n;
	return 0;
}
