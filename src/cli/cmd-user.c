/* cmd-user.c: `user add|ls|rm`, `grant`, `revoke` and `whoami`: technicians, their keys and the fleets they may reach. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"

/* Normalizes every --fleet and checks that each exists; fleets gets LIM_LABEL + 1 bytes per entry. */
static int
check_fleets(struct cmd_call *c, const struct cmd_opts *o, char (*fleets)[LIM_LABEL + 1])
{
	int r;

	for (int i = 0; i < o->nfleets; i++) {
		if ((r = cmd_label(c, "fleet", o->fleets[i], fleets[i])) != 0)
			return r;
		if ((r = store_fleet_get(c->ctx->st, fleets[i], NULL)) == ERR_NOTFOUND)
			return cmd_fail(c, "no fleet named %s; create it first with 'fleet add %s'",
			    fleets[i], fleets[i]);
		if (r != 0)
			return cmd_store_fail(c, r);
	}
	return 0;
}

/* Grants the fleets to a new user; on failure records it, removes the user again. */
static int
grant_all(struct cmd_call *c, const char *user, char (*fleets)[LIM_LABEL + 1], int n)
{
	for (int i = 0; i < n; i++) {
		int r = store_grant(c->ctx->st, user, fleets[i], 0);
		if (r != 0) {
			r = cmd_audit_failed(c, r);
			store_user_rm(c->ctx->st, user);
			return r;
		}
	}
	return 0;
}

/* Starts the admin record for `user add`: the user, admin flag, key and fleets. */
static void
audit_user_add(struct cmd_call *c, const char *user, bool admin, const char *key_fp,
    char (*fleets)[LIM_LABEL + 1], int n)
{
	struct jbuf *b = cmd_audit_begin(c), list;

	jbuf_init(&list, LIM_EXEC_CMD);
	for (int i = 0; i < n; i++)
		jbuf_addf(&list, "%s%s", i ? "," : "", fleets[i]);
	jbuf_member_str(b, "user", user);
	jbuf_member_bool(b, "admin", admin);
	jbuf_member_str(b, "key_fp", key_fp);
	jbuf_member_str(b, "fleets", list.data != NULL ? list.data : "");
	jbuf_free(&list);
}

static int
user_add(struct cmd_call *c, int argc, char **argv)
{
	char fleets[CMD_MAX_FLEETS][LIM_LABEL + 1];
	struct cmd_opts o;
	struct pubkey key = { 0 };
	char user[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_KEY | OPT_FLEET | OPT_ADMIN, 1, 1, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0)
		return r;
	if (o.key == NULL)
		return cmd_usage(c, "missing --key");
	if ((r = check_fleets(c, &o, fleets)) != 0 || (r = cmd_read_key(c, o.key, &key)) != 0)
		goto out;
	r = store_user_add(c->ctx->st, user, o.admin, &key);
	audit_user_add(c, user, o.admin, key.fp, fleets, o.nfleets);
	if (r != 0) {
		r = cmd_audit_failed(c, r);
		goto out;
	}
	if ((r = grant_all(c, user, fleets, o.nfleets)) != 0 || (r = cmd_audit_ok(c)) != 0)
		goto out;
	fprintf(c->ctx->out, "user %s added: key %s%s", user, key.fp, o.admin ? ", admin" : "");
	for (int i = 0; i < o.nfleets; i++)
		fprintf(c->ctx->out, "%s%s", i == 0 ? ", fleets " : ",", fleets[i]);
	fputc('\n', c->ctx->out);
out:
	pubkey_clear(&key);
	return r;
}

static int
user_rm(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char user[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0)
		return r;
	r = store_user_rm(c->ctx->st, user);
	jbuf_member_str(cmd_audit_begin(c), "user", user);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "user %s removed\n", user);
	return CMD_OK;
}

/* "alice  admin  acme,beta  SHA256:...,SHA256:..." ("-" for no fleets). */
static int
user_line(void *arg, const struct store_user *u)
{
	FILE *out = arg;

	fprintf(out, "%s  %s  %s  %s\n", u->name, u->admin ? "admin" : "user",
	    u->fleets[0] ? u->fleets : "-", u->key_fps[0] ? u->key_fps : "-");
	return 0;
}

static void
user_members(struct jbuf *j, const struct store_user *u)
{
	jbuf_member_str(j, "name", u->name);
	jbuf_member_bool(j, "admin", u->admin);
	cmd_json_csv(j, "fleets", u->fleets);
	cmd_json_csv(j, "keys", u->key_fps);
}

static int
user_json(void *arg, const struct store_user *u)
{
	struct cmd_json *js = arg;

	cmd_json_item(js);
	user_members(&js->j, u);
	jbuf_obj_end(&js->j);
	return 0;
}

static int
user_ls(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct cmd_json js;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (!o.json)
		return cmd_listed(c, NULL, store_user_list(c->ctx->st, user_line, c->ctx->out));
	cmd_json_begin(&js);
	return cmd_listed(c, &js, store_user_list(c->ctx->st, user_json, &js));
}

/* Computes a grant's expiry from --for; 0 = never. */
static int
grant_expiry(struct cmd_call *c, const char *dur, int64_t *expires)
{
	int64_t secs, now = timefmt_now();

	*expires = 0;
	if (dur == NULL)
		return 0;
	if (timefmt_parse_duration(dur, &secs) != 0 || secs > INT64_C(100) * 366 * 86400)
		return cmd_usage(c, "invalid duration '%.40s': use e.g. 90m, 8h, 7d, 1h30m "
		    "(at most 100 years)", dur);
	*expires = now + secs;
	return 0;
}

static int
grant_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char user[LIM_LABEL + 1], fleet[LIM_LABEL + 1], when[32];
	int64_t expires;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_FOR, 2, 2, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0 ||
	    (r = cmd_label(c, "fleet", o.pos[1], fleet)) != 0 ||
	    (r = grant_expiry(c, o.dur, &expires)) != 0)
		return r;
	r = store_grant(c->ctx->st, user, fleet, expires);
	timefmt_iso(expires, when, sizeof(when));
	struct jbuf *b = cmd_audit_begin(c);
	jbuf_member_str(b, "user", user);
	jbuf_member_str(b, "fleet", fleet);
	jbuf_member_str(b, "expires", when);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "user %s may reach fleet %s until %s\n", user, fleet,
	    expires ? when : "revoked");
	return CMD_OK;
}

static int
revoke_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char user[LIM_LABEL + 1], fleet[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 2, 2, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0 ||
	    (r = cmd_label(c, "fleet", o.pos[1], fleet)) != 0)
		return r;
	r = store_revoke(c->ctx->st, user, fleet);
	struct jbuf *b = cmd_audit_begin(c);
	jbuf_member_str(b, "user", user);
	jbuf_member_str(b, "fleet", fleet);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "user %s may no longer reach fleet %s\n", user, fleet);
	return CMD_OK;
}

static int
whoami_json(void *arg, const struct store_user *u)
{
	struct jbuf *j = arg;

	jbuf_obj_begin(j);
	user_members(j, u);
	jbuf_obj_end(j);
	jbuf_add(j, "\n", 1);
	return 0;
}

static int
whoami_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_ctx *ctx = c->ctx;
	struct cmd_opts o;
	struct jbuf j;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (ctx->user_id == 0) {
		fprintf(ctx->out, o.json ? "{\"name\":null,\"admin\":true,\"local\":true}\n" :
		    "local operator (admin, all fleets)\n");
		return CMD_OK;
	}
	if (!o.json) {
		r = store_user_get(ctx->st, ctx->user_id, user_line, ctx->out);
		return r == 0 ? CMD_OK : cmd_store_fail(c, r);
	}
	jbuf_init(&j, LIM_EXEC_OUTPUT);
	if ((r = store_user_get(ctx->st, ctx->user_id, whoami_json, &j)) == 0 && !j.failed)
		fwrite(j.data, 1, j.len, ctx->out);
	jbuf_free(&j);
	return r == 0 ? CMD_OK : cmd_store_fail(c, r);
}

static int
user_key_add(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct pubkey k;
	char user[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_KEY, 1, 1, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0)
		return r;
	if (o.key == NULL)
		return cmd_usage(c, "--key is required");
	if ((r = cmd_read_key(c, o.key, &k)) != 0)
		return r;
	r = store_user_add_key(c->ctx->st, user, &k);
	struct jbuf *b = cmd_audit_begin(c);
	jbuf_member_str(b, "user", user);
	jbuf_member_str(b, "key_fp", k.fp);
	if (r != 0) {
		pubkey_clear(&k);
		return cmd_audit_failed(c, r);
	}
	if ((r = cmd_audit_ok(c)) == 0)
		fprintf(c->ctx->out, "user %s: key %s added\n", user, k.fp);
	pubkey_clear(&k);
	return r == 0 ? CMD_OK : r;
}

static int
user_key_rm(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char user[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 2, 2, &o)) != 0 ||
	    (r = cmd_label(c, "user", o.pos[0], user)) != 0)
		return r;
	r = store_user_rm_key(c->ctx->st, user, o.pos[1]);
	struct jbuf *b = cmd_audit_begin(c);
	jbuf_member_str(b, "user", user);
	jbuf_member_str(b, "key_fp", o.pos[1]);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "user %s: key %s removed\n", user, o.pos[1]);
	return CMD_OK;
}

static const struct cmd_entry user_subs[] = {
	{ .name = "add", .usage = "NAME --key FILE [--fleet F]... [--admin]", .exec = user_add,
	    .changes = true },
	{ .name = "ls", .usage = "[--json]", .exec = user_ls },
	{ .name = "rm", .usage = "NAME", .exec = user_rm, .changes = true },
	{ .name = "key-add", .usage = "NAME --key FILE", .exec = user_key_add, .changes = true },
	{ .name = "key-rm", .usage = "NAME FINGERPRINT", .exec = user_key_rm, .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_user_entry = { .name = "user", .subs = user_subs };
const struct cmd_entry cmd_user_grant_entry = {
	.name = "grant",
	.usage = "USER FLEET [--for DURATION]",
	.exec = grant_exec,
	.changes = true,
};
const struct cmd_entry cmd_user_revoke_entry = {
	.name = "revoke",
	.usage = "USER FLEET",
	.exec = revoke_exec,
	.changes = true,
};
const struct cmd_entry cmd_user_whoami_entry = {
	.name = "whoami",
	.usage = "[--json]",
	.exec = whoami_exec,
	.user_ok = true,
};
