/* anchor.c: the audit chain's anchor, the head of audit.log as its writers last saw it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "store/db.h"
#include "store/records.h"

static bool
hash_hex_valid(const char *h)
{
	if (h == NULL || strlen(h) != AUDIT_HASH_HEX)
		return false;
	return strspn(h, "0123456789abcdef") == AUDIT_HASH_HEX;
}

static struct query q_anchor_get = {
	.sql = "SELECT seq, size, hash FROM audit_anchor WHERE id = 1",
};

int
store_audit_anchor_get(struct store *st, struct audit_head *out)
{
	struct db_stmt *s;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = db_prepare(st, &q_anchor_get, &s)) != 0)
		return r;
	rc = db_step(s);
	if (rc == DB_ROW) {
		const char *h = db_col_text(s, 2);
		out->seq = db_col_int(s, 0);
		out->size = db_col_int(s, 1);
		if (hash_hex_valid(h))
			memcpy(out->hash, h, AUDIT_HASH_HEX + 1);
		else
			r = ERR_STORE;
	} else
		r = rc == DB_DONE ? ERR_NOTFOUND : rc;
	db_release(s);
	if (r == ERR_NOTFOUND)
		db_set_err(st, "no audit anchor yet");
	else if (r == ERR_STORE && rc == DB_ROW)
		db_set_err(st, "the audit anchor's hash is not 64 hex digits");
	return r;
}

/* Forward only, unless ?5 (the log was cut and an audit-cut record re-anchors it). */
static struct query q_anchor_set = {
	.sql = "INSERT INTO audit_anchor (id, seq, size, hash, updated) "
	    "VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
	    "size = excluded.size, hash = excluded.hash, updated = excluded.updated "
	    "WHERE excluded.seq > audit_anchor.seq OR ?5 <> 0",
};

int
store_audit_anchor_set(struct store *st, const struct audit_head *h, bool reset)
{
	struct db_stmt *s;
	int r;

	if (h == NULL || h->seq < 0 || h->size < 0 || !hash_hex_valid(h->hash)) {
		db_set_err(st, "not an audit chain head");
		return ERR_INVAL;
	}
	if ((r = db_prepare(st, &q_anchor_set, &s)) != 0)
		return r;
	db_bind_int(s, 1, h->seq);
	db_bind_int(s, 2, h->size);
	db_bind_text(s, 3, h->hash);
	db_bind_int(s, 4, timefmt_now());
	db_bind_int(s, 5, reset ? 1 : 0);
	r = db_exec(s, NULL);
	db_release(s);
	return r;	/* bookkeeping of the log, not an access change: no own_writes bump */
}
