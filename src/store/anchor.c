/*
 * anchor.c: the audit chains' anchors, one per node (audit_anchors): the head
 * of a node's audit.log as its writers last saw it ('' is the chain from
 * before nodes, until a node claims it).
 */
#include <string.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "store/db.h"

bool
store_audit_hash_valid(const char *h)
{
	if (h == NULL || strlen(h) != AUDIT_HASH_HEX)
		return false;
	return strspn(h, "0123456789abcdef") == AUDIT_HASH_HEX;
}

/* '' (the pre-nodes chain) is a node name here only where allow_empty says so. */
static int
check_node(struct store *st, const char *node, bool allow_empty)
{
	if (allow_empty && node != NULL && node[0] == '\0')
		return 0;
	return db_check_label(st, "node", node);
}

/* Fills out from a row's seq, size, hash at columns from col on. */
static int
head_from_row(struct store *st, struct db_stmt *s, int col, struct audit_head *out)
{
	const char *h = db_col_text(s, col + 2);

	out->seq = db_col_int(s, col);
	out->size = db_col_int(s, col + 1);
	if (!store_audit_hash_valid(h)) {
		db_set_err(st, "the audit anchor's hash is not 64 hex digits");
		return ERR_STORE;
	}
	memcpy(out->hash, h, AUDIT_HASH_HEX + 1);
	return 0;
}

static struct query q_anchor_get = {
	.sql = "SELECT seq, size, hash FROM audit_anchors WHERE node = ?1",
};

int
store_audit_anchor_get(struct store *st, const char *node, struct audit_head *out)
{
	struct db_stmt *s;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = check_node(st, node, true)) != 0 || (r = db_prepare(st, &q_anchor_get, &s)) != 0)
		return r;
	db_bind_text(s, 1, node);
	if ((r = db_step_one(s)) == 0)
		r = head_from_row(st, s, 0, out);
	else if (r == ERR_NOTFOUND)
		db_set_err(st, "no audit anchor yet for node '%s'", node);
	db_release(s);
	return r;
}

/* The pre-nodes chain becomes node's, unless node has a chain already; one claimant wins. */
static struct query q_anchor_claim = {
	.sql = "UPDATE audit_anchors SET node = ?1 WHERE node = '' AND NOT EXISTS "
	    "(SELECT 1 FROM audit_anchors WHERE node = ?1)",
};

int
store_audit_anchor_claim(struct store *st, const char *node)
{
	struct db_stmt *s;
	int r, n = 0;

	if ((r = check_node(st, node, false)) != 0 || (r = db_prepare(st, &q_anchor_claim, &s)) != 0)
		return r;
	db_bind_text(s, 1, node);
	r = db_exec(s, &n);
	db_release(s);
	if (r == ERR_EXISTS)	/* another process claimed it for node at the same time */
		r = 0;
	if (r == 0 && n == 0) {
		db_set_err(st, "no unclaimed audit anchor");
		return ERR_NOTFOUND;
	}
	return r;
}

int
store_audit_anchor_load(struct store *st, const char *node, const char *log_path,
    struct audit_head *out, bool *claimed)
{
	struct audit_head pre;
	int r;

	*claimed = false;
	if ((r = store_audit_anchor_get(st, node, out)) != ERR_NOTFOUND)
		return r;
	if (store_audit_anchor_get(st, "", &pre) != 0 || log_path == NULL ||
	    !audit_log_holds(log_path, &pre)) {
		db_set_err(st, "no audit anchor yet for node '%s'", node);
		return ERR_NOTFOUND;	/* none, or another node's log: not ours to take */
	}
	if ((r = store_audit_anchor_claim(st, node)) != 0)
		return r;
	*claimed = true;
	return store_audit_anchor_get(st, node, out);
}

/* Forward only, unless ?6 (the log was cut and an audit-cut record re-anchors it). */
static struct query q_anchor_set = {
	.sql = "INSERT INTO audit_anchors (node, seq, size, hash, updated) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, "
	    "size = excluded.size, hash = excluded.hash, updated = excluded.updated "
	    "WHERE excluded.seq > audit_anchors.seq OR ?6 <> 0",
};

int
store_audit_anchor_set(struct store *st, const char *node, const struct audit_head *h, bool reset)
{
	struct db_stmt *s;
	int r;

	if ((r = check_node(st, node, false)) != 0)
		return r;
	if (h == NULL || h->seq < 0 || h->size < 0 || !store_audit_hash_valid(h->hash)) {
		db_set_err(st, "not an audit chain head");
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_anchor_set, &s)) != 0)
		return r;
	db_bind_text(s, 1, node);
	db_bind_int(s, 2, h->seq);
	db_bind_int(s, 3, h->size);
	db_bind_text(s, 4, h->hash);
	db_bind_int(s, 5, timefmt_now());
	db_bind_int(s, 6, reset ? 1 : 0);
	r = db_exec(s, NULL);
	db_release(s);
	return r;	/* bookkeeping of the log, not an access change: no own_writes bump */
}

/* Every chain the store knows of: anchored, or with records, or both. */
static struct query q_chains = {
	.sql = "SELECT c.node, a.seq, a.size, a.hash FROM "
	    "(SELECT node FROM audit_anchors UNION SELECT DISTINCT node FROM audit_records) c "
	    "LEFT JOIN audit_anchors a ON a.node = c.node ORDER BY c.node",
};

static int
chain_row(struct db_stmt *s, void *cb, void *arg)
{
	struct audit_head h;
	bool anchored = !db_col_null(s, 1);

	memset(&h, 0, sizeof(h));
	if (anchored && head_from_row(*(struct store **)s, s, 1, &h) != 0)
		return ERR_STORE;
	return ((store_audit_chain_cb)cb)(arg, db_col_text(s, 0), anchored ? &h : NULL);
}

int
store_audit_chains(struct store *st, store_audit_chain_cb cb, void *arg)
{
	return db_list_rows(st, &q_chains, chain_row, (void *)cb, arg);
}
