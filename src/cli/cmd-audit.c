/* cmd-audit.c: `audit` (query the audit log by time, user and device) and `audit verify` (check its hash chain). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

/*
 * Parses an ISO-8601 UTC time as outpost writes them: 2026-11-21,
 * 2026-11-21T10:00:00Z or 2026-11-21T10:00:00.123Z, into milliseconds since
 * the epoch. Returns 0 or -1.
 */
static int
parse_iso(const char *s, size_t len, int64_t *out)
{
	struct tm tm = { 0 };
	int n = -1, ms = 0;
	char buf[40];

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 10 && sscanf(buf, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3)
		;
	else if ((len == 20 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) == 6) ||
	    (len == 24 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) == 7))
		;
	else
		return -1;
	/* the fixed shape: digits exactly where they belong */
	for (size_t i = 0; i < len; i++) {
		char want = "dddd-dd-ddTdd:dd:dd.dddZ"[len == 20 && i == 19 ? 23 : i];
		if (want == 'd' ? (buf[i] < '0' || buf[i] > '9') : buf[i] != want)
			return -1;
	}
	if (n != (int)len || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

/* --since: an ISO-8601 time, or a duration meaning that long ago; milliseconds. */
static int
parse_since(struct cmd_call *c, const char *arg, int64_t *out)
{
	int64_t secs;

	if (parse_iso(arg, strlen(arg), out) == 0)
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
		if (parse_iso(ts->val, ts->vlen, &t) != 0 || t < q->since)
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

/* "ts  event  key=value key=value" with the other keys sorted, prev left out. */
static void
text_line(struct jbuf *j, const struct audit_record *rec)
{
	int idx[rec->n], k = 0;
	char key[128];

	put_value(j, audit_record_get(rec, "ts"));
	jbuf_add(j, "  ", 2);
	put_value(j, audit_record_get(rec, "event"));
	for (int i = 0; i < rec->n; i++)
		if (strcmp(rec->f[i].key, "ts") != 0 && strcmp(rec->f[i].key, "event") != 0 &&
		    strcmp(rec->f[i].key, "prev") != 0)
			idx[k++] = i;
	sort_rec = rec;
	qsort(idx, (size_t)k, sizeof(idx[0]), by_key);
	for (int i = 0; i < k; i++) {
		const struct audit_field *f = &rec->f[idx[i]];
		log_printable(key, sizeof(key), f->key, strlen(f->key));
		jbuf_addf(j, "%s%s=", i == 0 ? "  " : " ", key);
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
		fwrite(rec->raw, 1, rec->rawlen, q->out);
		q->n++;
		return 0;
	}
	jbuf_init(&j, 8 * AUDIT_RECORD_MAX);
	text_line(&j, rec);
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

static int
audit_exec(struct cmd_call *c, int argc, char **argv)
{
	char path[PATH_MAX];
	struct cmd_opts o;
	struct query q;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_SINCE | OPT_USER | OPT_DEVICE | OPT_JSON, 0, 0,
	    &o)) != 0 || (r = query_setup(c, &o, &q)) != 0 || (r = log_path(c, path, sizeof(path))) != 0)
		return r;
	if (q.json)
		fputc('[', q.out);
	r = audit_read(path, query_one, &q);
	if (q.json)
		fputs("]\n", q.out);
	if (r != 0)
		return cmd_fail(c, "cannot read %s: %s", path, err_str(r));
	return CMD_OK;
}

static int
verify_exec(struct cmd_call *c, int argc, char **argv)
{
	struct audit_verify_result res;
	char path[PATH_MAX];
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 0, 0, &o)) != 0 ||
	    (r = log_path(c, path, sizeof(path))) != 0)
		return r;
	struct audit_head anchor;
	int ar = c->ctx->st != NULL ? store_audit_anchor_get(c->ctx->st, &anchor) : ERR_NOTFOUND;
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
