/* cmd-audit.c: `audit` (query the audit log by time, user and device) and `audit verify` (check its hash chain). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd-int.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "store/store.h"

/* <state_dir>/audit.log into path, or a failure message and CMD_FAIL. */
static int
log_path(struct cmd_call *c, char *path, size_t len)
{
	const char *dir = c->ctx->state_dir;

	if (dir == NULL || dir[0] == '\0')
		return cmd_fail(c, "audit log unavailable");
	if (snprintf(path, len, "%s/%s", dir, AUDIT_LOG_NAME) >= (int)len)
		return cmd_fail(c, "state directory path too long");
	return 0;
}

/* --since: an ISO-8601 time, or a duration meaning that long ago; milliseconds. */
static int
parse_since(struct cmd_call *c, const char *arg, int64_t *out)
{
	int64_t secs;

	if (audit_time_parse(arg, strlen(arg), out) == 0)
		return 0;
	if (timefmt_parse_duration(arg, &secs) == 0) {
		int64_t now = timefmt_now();
		*out = secs >= now ? 0 : (now - secs) * 1000;
		return 0;
	}
	return cmd_usage(c, "invalid --since '%.40s': use a time like 2026-11-21T10:00:00Z "
	    "or a duration like 1h, 7d", arg);
}

struct query {
	FILE *out;
	bool json;
	bool has_since;
	int64_t since;			/* milliseconds since the epoch */
	const char *user;		/* normalized when a label */
	char user_buf[LIM_LABEL + 1];
	const char *device;
	char device_buf[LIM_TARGET + 1];
	long n;
	const char *node;		/* the record's node (the store's chains), or NULL */
};

static bool
field_is(const struct audit_record *rec, const char *key, const char *want, bool bare_device)
{
	const struct audit_field *f = audit_record_get(rec, key);
	size_t wl = strlen(want);

	if (f == NULL || !f->is_string || strlen(f->val) != f->vlen)
		return false;
	if (strcasecmp(f->val, want) == 0)
		return true;
	/* a bare device name matches that name in every fleet */
	return bare_device && f->vlen > wl && strncasecmp(f->val, want, wl) == 0 && f->val[wl] == '.';
}

static bool
matches(const struct query *q, const struct audit_record *rec)
{
	if (q->has_since) {
		const struct audit_field *ts = audit_record_get(rec, "ts");
		int64_t t;
		if (audit_time_parse(ts->val, ts->vlen, &t) != 0 || t < q->since)
			return false;
	}
	if (q->user != NULL && !field_is(rec, "user", q->user, false) &&
	    !field_is(rec, "actor", q->user, false) && !field_is(rec, "ssh_user", q->user, false))
		return false;
	if (q->device != NULL) {
		bool bare = strchr(q->device, '.') == NULL;
		if (!field_is(rec, "device", q->device, bare) &&
		    !field_is(rec, "from_device", q->device, bare))
			return false;
	}
	return true;
}

/* True if a value can be printed without quotes: printable ASCII, no space, = or quotes. */
static bool
plain(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '=' || s[i] == '"' || s[i] == '\'' ||
		    s[i] == '\\')
			return false;
	return true;
}

static const struct audit_record *sort_rec;

static int
by_key(const void *a, const void *b)
{
	return strcmp(sort_rec->f[*(const int *)a].key, sort_rec->f[*(const int *)b].key);
}

/* Appends one value: bare if plain, else as a JSON string (NULs shown as \x00). */
static void
put_value(struct jbuf *j, const struct audit_field *f)
{
	char *shown;

	if (!f->is_string || plain(f->val, f->vlen)) {
		jbuf_add(j, f->val, f->vlen);	/* a plain string, or raw JSON */
		return;
	}
	if (strlen(f->val) == f->vlen) {
		jbuf_json_string(j, f->val);
		return;
	}
	if ((shown = malloc(4 * f->vlen + 1)) == NULL) {
		j->failed = true;
		return;
	}
	log_printable(shown, 4 * f->vlen + 1, f->val, f->vlen);
	jbuf_json_string(j, shown);
	free(shown);
}

/* "ts  event  [node=N ]key=value key=value" with the other keys sorted, prev left out. */
static void
text_line(struct jbuf *j, const struct audit_record *rec, const char *node)
{
	int idx[rec->n], k = 0;
	char key[128];

	put_value(j, audit_record_get(rec, "ts"));
	jbuf_add(j, "  ", 2);
	put_value(j, audit_record_get(rec, "event"));
	if (node != NULL)
		jbuf_addf(j, "  node=%s", node);
	for (int i = 0; i < rec->n; i++)
		if (strcmp(rec->f[i].key, "ts") != 0 && strcmp(rec->f[i].key, "event") != 0 &&
		    strcmp(rec->f[i].key, "prev") != 0)
			idx[k++] = i;
	sort_rec = rec;
	qsort(idx, (size_t)k, sizeof(idx[0]), by_key);
	for (int i = 0; i < k; i++) {
		const struct audit_field *f = &rec->f[idx[i]];
		log_printable(key, sizeof(key), f->key, strlen(f->key));
		jbuf_addf(j, "%s%s=", i == 0 && node == NULL ? "  " : " ", key);
		put_value(j, f);
	}
	jbuf_add(j, "\n", 1);
}

static int
query_one(void *arg, const struct audit_record *rec)
{
	struct query *q = arg;
	struct jbuf j;

	if (!matches(q, rec))
		return 0;
	if (q->json) {
		if (q->n > 0)
			fputc(',', q->out);
		if (q->node != NULL && rec->rawlen > 1)
			fprintf(q->out, "{\"node\":\"%s\",%.*s", q->node, (int)rec->rawlen - 1, rec->raw + 1);
		else
			fwrite(rec->raw, 1, rec->rawlen, q->out);
		q->n++;
		return 0;
	}
	jbuf_init(&j, 8 * AUDIT_RECORD_MAX);
	text_line(&j, rec, q->node);
	if (!j.failed)
		fwrite(j.data, 1, j.len, q->out);
	jbuf_free(&j);
	q->n++;
	return 0;
}

/* Fills the query from the options; returns 0 or CMD_USAGE. */
static int
query_setup(struct cmd_call *c, const struct cmd_opts *o, struct query *q)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->out = c->ctx->out;
	q->json = o->json;
	if (o->since != NULL) {
		if ((r = parse_since(c, o->since, &q->since)) != 0)
			return r;
		q->has_since = true;
	}
	if (o->user != NULL) {
		/* a label is normalized; "local:root" and other actors are taken as given */
		q->user = names_label_normalize(o->user, q->user_buf, sizeof(q->user_buf)) == 0 ?
		    q->user_buf : o->user;
	}
	if (o->device != NULL) {
		struct name_target t;
		if (names_parse_target(o->device, &t) != 0)
			return cmd_usage(c, "invalid --device: expected NAME or NAME.FLEET");
		snprintf(q->device_buf, sizeof(q->device_buf), "%s%s%s", t.name,
		    t.fleet[0] ? "." : "", t.fleet);
		q->device = q->device_buf;
	}
	return 0;
}

/* True when the chains live in the store (PostgreSQL): every node's, not only this one's file. */
static bool
chains_in_store(const struct cmd_ctx *ctx)
{
	return ctx->st != NULL && strcmp(store_engine(ctx->st), "postgresql") == 0;
}

/* Copies this node's audit.log records the store lacks (outpostd does it too, a moment later). */
static int
sync_log(struct cmd_ctx *ctx, char *why, size_t whylen)
{
	struct store_audit_cursor cur = { 0 };
	char path[PATH_MAX];
	int n, r;

	if (ctx->node == NULL || ctx->state_dir == NULL || ctx->state_dir[0] == '\0' ||
	    snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, AUDIT_LOG_NAME) >= (int)sizeof(path) ||
	    access(path, R_OK) != 0)
		return 0;
	if ((r = store_audit_sync(ctx->st, ctx->node, path, &cur, 0, &n)) != 0) {
		snprintf(why, whylen, "cannot copy the audit records of node %s to the store: %s",
		    ctx->node, store_errmsg(ctx->st));
		return -1;
	}
	return 0;
}

void
cmd_audit_prepare(struct cmd_ctx *ctx)
{
	struct audit_head h;
	char path[PATH_MAX];
	bool claimed;
	int r = ERR_NOTFOUND;

	if (ctx->audit == NULL)
		return;
	if (ctx->st != NULL && ctx->node != NULL && ctx->state_dir != NULL &&
	    snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, AUDIT_LOG_NAME) < (int)sizeof(path))
		r = store_audit_anchor_load(ctx->st, ctx->node, path, &h, &claimed);
	audit_set_head(ctx->audit, r == 0 ? &h : NULL);
}

int
cmd_audit_save(struct cmd_ctx *ctx, char *why, size_t whylen)
{
	struct audit_head h;
	bool reset;

	if (!audit_head_take(ctx->audit, &h, &reset) || ctx->st == NULL || ctx->node == NULL)
		return 0;
	/* on PostgreSQL the anchor moves with the records; a cut log re-anchors at once */
	if ((!chains_in_store(ctx) || reset) &&
	    store_audit_anchor_set(ctx->st, ctx->node, &h, reset) != 0) {
		snprintf(why, whylen, "cannot save the audit anchor: %s", store_errmsg(ctx->st));
		return -1;
	}
	return chains_in_store(ctx) ? sync_log(ctx, why, whylen) : 0;
}

static int
query_record(void *arg, const struct store_audit_record *r)
{
	struct query *q = arg;
	struct audit_record rec;

	if (audit_record_parse(r->record, strlen(r->record), &rec, NULL) != 0)
		return 0;	/* as in the file: a bad record is verify's to report */
	rec.line = (size_t)r->seq;
	q->node = r->node;
	query_one(q, &rec);
	audit_record_clear(&rec);
	return 0;
}

static int
audit_exec(struct cmd_call *c, int argc, char **argv)
{
	char path[PATH_MAX], why[512];
	struct cmd_opts o;
	struct query q;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_SINCE | OPT_USER | OPT_DEVICE | OPT_JSON, 0, 0,
	    &o)) != 0 || (r = query_setup(c, &o, &q)) != 0)
		return r;
	bool store = chains_in_store(c->ctx);
	if (!store && (r = log_path(c, path, sizeof(path))) != 0)
		return r;
	if (store && sync_log(c->ctx, why, sizeof(why)) != 0)
		fprintf(c->ctx->err, "outpost: warning: %s\n", why);
	if (q.json)
		fputc('[', q.out);
	if (store)
		r = store_audit_records_list(c->ctx->st, q.has_since ? q.since : 0, query_record, &q);
	else
		r = audit_read(path, query_one, &q);
	if (q.json)
		fputs("]\n", q.out);
	if (r != 0 && store)
		return cmd_store_fail(c, r);
	if (r != 0)
		return cmd_fail(c, "cannot read %s: %s", path, err_str(r));
	return CMD_OK;
}

/* This node's audit.log against its anchor; 0, or CMD_FAIL after saying why. */
static int
verify_file(struct cmd_call *c, const char *path)
{
	struct audit_verify_result res;
	struct audit_head anchor;
	int ar = ERR_NOTFOUND, r;

	if (c->ctx->st != NULL && c->ctx->node != NULL)
		ar = store_audit_anchor_get(c->ctx->st, c->ctx->node, &anchor);
	if (ar != 0 && ar != ERR_NOTFOUND)
		return cmd_store_fail(c, ar);
	r = audit_verify_anchored(path, ar == 0 ? &anchor : NULL, &res);
	if (r == ERR_INVAL)
		return cmd_fail(c, "%s (%zu record%s before it chain correctly)", res.why,
		    res.records, res.records == 1 ? "" : "s");
	if (r != 0)
		return cmd_fail(c, "%s", res.why);
	fprintf(c->ctx->out, "audit log OK: %zu record%s\n", res.records,
	    res.records == 1 ? "" : "s");
	if (res.anchored)
		fprintf(c->ctx->out, "anchored: the store holds record %zu as the head (%zu written since)\n",
		    res.anchor_seq, res.records - res.anchor_seq);
	return CMD_OK;
}

/* The chains in the store, collected before any is walked. */
struct chain_list {
	struct chain { char node[LIM_LABEL + 1]; bool anchored; struct audit_head anchor; } *v;
	size_t n, cap;
};

static int
add_chain(void *arg, const char *node, const struct audit_head *anchor)
{
	struct chain_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct chain *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	struct chain *ch = &l->v[l->n++];
	snprintf(ch->node, sizeof(ch->node), "%s", node);
	ch->anchored = anchor != NULL;
	if (anchor != NULL)
		ch->anchor = *anchor;
	return 0;
}

/* One node's chain in the store: a line saying how it is; 0, ERR_INVAL if broken, or a store error. */
static int
verify_chain(struct cmd_call *c, const struct chain *ch, char *why, size_t whylen)
{
	struct audit_verify_result res;
	FILE *out = c->ctx->out;
	int r;

	if (ch->node[0] == '\0') {
		fprintf(out, "node '': the chain from before nodes (anchored at record %lld), "
		    "not claimed by any node yet\n", (long long)ch->anchor.seq);
		return 0;
	}
	r = store_audit_chain_verify(c->ctx->st, ch->node, ch->anchored ? &ch->anchor : NULL, &res);
	if (r == 0) {
		fprintf(out, "node %s: OK: %zu record%s", ch->node, res.records,
		    res.records == 1 ? "" : "s");
		if (res.anchored)
			fprintf(out, ", anchored at record %zu", res.anchor_seq);
		fputc('\n', out);
	} else if (r == ERR_INVAL) {
		snprintf(why, whylen, "node %s: %s (%zu record%s before it chain correctly)", ch->node,
		    res.why, res.records, res.records == 1 ? "" : "s");
		fprintf(out, "node %s: BROKEN: %s\n", ch->node, res.why);
	}
	return r;
}

/* Every node's chain in the store (PostgreSQL). */
static int
verify_store(struct cmd_call *c)
{
	struct chain_list l = { 0 };
	char why[512] = "", first[512] = "";
	int r, broken = 0;

	if ((r = store_audit_chains(c->ctx->st, add_chain, &l)) != 0) {
		free(l.v);
		return cmd_store_fail(c, r);
	}
	for (size_t i = 0; i < l.n; i++) {
		if ((r = verify_chain(c, &l.v[i], why, sizeof(why))) == ERR_INVAL && broken++ == 0)
			snprintf(first, sizeof(first), "%s", why);
		else if (r != 0 && r != ERR_INVAL) {
			free(l.v);
			return cmd_store_fail(c, r);
		}
	}
	free(l.v);
	if (broken > 0)
		return cmd_fail(c, "%s%s", first, broken > 1 ? " (and more nodes: see above)" : "");
	fprintf(c->ctx->out, "store OK: %zu chain%s\n", l.n, l.n == 1 ? "" : "s");
	return CMD_OK;
}

static int
verify_exec(struct cmd_call *c, int argc, char **argv)
{
	char path[PATH_MAX], why[512];
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 0, 0, &o)) != 0)
		return r;
	if (!chains_in_store(c->ctx))
		return (r = log_path(c, path, sizeof(path))) != 0 ? r : verify_file(c, path);
	if (sync_log(c->ctx, why, sizeof(why)) != 0)
		fprintf(c->ctx->err, "outpost: warning: %s\n", why);
	/* this node's own log, if it has one here, then every node's chain in the store */
	int fr = CMD_OK;
	if (c->ctx->node != NULL && c->ctx->state_dir != NULL && c->ctx->state_dir[0] != '\0' &&
	    log_path(c, path, sizeof(path)) == 0 && access(path, R_OK) == 0)
		fr = verify_file(c, path);
	r = verify_store(c);
	return fr != CMD_OK ? fr : r;
}

static const struct cmd_entry audit_subs[] = {
	{ .name = "verify", .usage = "", .exec = verify_exec },
	{ .name = NULL },
};

const struct cmd_entry cmd_audit_entry = {
	.name = "audit",
	.usage = "[--since T] [--user U] [--device D] [--json]",
	.exec = audit_exec,
	.subs = audit_subs,
};
