/*
 * cmd-tunnel.c: `tunnel connect|disconnect|status NAME[.FLEET]`: explicit
 * control of on-demand devices for technicians granted the fleet, so that
 * laptops need no MQTT client. connect and disconnect go through outpostd's
 * broker connection (ctx->tunnel_send); status reads the store and so also
 * works locally.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "store/store.h"

struct found {
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];
	char state[32];		/* ls's word */
	char ondemand[32];	/* MQTT state, "" if none */
	int64_t since, last_seen;
	bool online;
};

static int
found_cb(void *arg, const struct store_device *d)
{
	struct found *f = arg;

	snprintf(f->state, sizeof(f->state), "%s", cmd_device_state(d));
	snprintf(f->ondemand, sizeof(f->ondemand), "%s", d->ondemand ? d->ondemand : "");
	f->since = d->ondemand_since;
	f->last_seen = d->last_seen;
	f->online = d->online;
	return 0;
}

/* Resolves NAME[.FLEET] among what the caller may reach (everything for admins and locally). */
static int
find(struct cmd_call *c, const char *arg, struct found *f)
{
	struct name_target t;
	int64_t id = 0;
	char b[80];

	memset(f, 0, sizeof(*f));
	log_printable(b, sizeof(b), arg, strnlen(arg, 64));
	if (names_parse_target(arg, &t) != 0)
		return cmd_usage(c, "invalid device '%s': expected NAME or NAME.FLEET", b);
	int r = store_device_resolve(c->ctx->st, c->ctx->admin ? 0 : c->ctx->user_id, t.name,
	    t.fleet, &id, f->fleet);
	if (r != 0)
		return cmd_store_fail(c, r);
	snprintf(f->name, sizeof(f->name), "%s", t.name);
	if ((r = store_device_get(c->ctx->st, id, found_cb, f)) != 0)
		return cmd_store_fail(c, r);
	return 0;
}

static void
audit_wake(struct cmd_call *c, const struct found *f, const char *cmd, const char *result)
{
	char device[LIM_TARGET + 1], actor[128];

	if (c->ctx->audit == NULL)
		return;
	snprintf(device, sizeof(device), "%s.%s", f->name, f->fleet);
	cmd_actor(c->ctx, actor, sizeof(actor));
	struct jbuf *b = audit_begin(c->ctx->audit, "wake");
	jbuf_member_str(b, "user", actor);
	jbuf_member_str(b, "device", device);
	jbuf_member_str(b, "command", cmd);
	jbuf_member_str(b, "state", f->ondemand);
	jbuf_member_str(b, "result", result);
	audit_commit(c->ctx->audit);
}

static int
send_cmd(struct cmd_call *c, int argc, char **argv, const char *cmd)
{
	struct cmd_opts o;
	struct found f;
	char why[256] = "";
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 || (r = find(c, o.pos[0], &f)) != 0)
		return r;
	if (c->ctx->tunnel_send == NULL)
		return cmd_fail(c, "needs outpostd's MQTT connection: run it as "
		    "`ssh -p PORT JUMP tunnel %s %s.%s`", cmd, f.name, f.fleet);
	if (f.ondemand[0] == '\0')
		return cmd_fail(c, "%s.%s is not an on-demand device (outpostd has seen no MQTT "
		    "state for it)", f.name, f.fleet);
	if (c->ctx->tunnel_send(c->ctx->tunnel_arg, f.fleet, f.name, cmd, why, sizeof(why)) != 0) {
		audit_wake(c, &f, cmd, "failed");
		return cmd_fail(c, "%s.%s: %s", f.name, f.fleet, why);
	}
	audit_wake(c, &f, cmd, "sent");
	fprintf(c->ctx->out, "%s sent to %s.%s (it was %s)\n", cmd, f.name, f.fleet, f.ondemand);
	return CMD_OK;
}

static int
tunnel_connect(struct cmd_call *c, int argc, char **argv)
{
	return send_cmd(c, argc, argv, "connect");
}

static int
tunnel_disconnect(struct cmd_call *c, int argc, char **argv)
{
	return send_cmd(c, argc, argv, "disconnect");
}

/* "pi-hq.acme  standby  mqtt disconnected since 2026-11-30T11:33:01Z" */
static int
tunnel_status(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct found f;
	char since[32];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 || (r = find(c, o.pos[0], &f)) != 0)
		return r;
	timefmt_iso(f.since, since, sizeof(since));
	if (f.ondemand[0] == '\0')
		fprintf(c->ctx->out, "%s.%s  %s  not on demand\n", f.name, f.fleet, f.state);
	else
		fprintf(c->ctx->out, "%s.%s  %s  mqtt %s since %s\n", f.name, f.fleet, f.state,
		    f.ondemand, since);
	return CMD_OK;
}

static const struct cmd_entry tunnel_subs[] = {
	{ .name = "connect", .usage = "NAME[.FLEET]", .exec = tunnel_connect, .user_ok = true },
	{ .name = "disconnect", .usage = "NAME[.FLEET]", .exec = tunnel_disconnect,
	    .user_ok = true },
	{ .name = "status", .usage = "NAME[.FLEET]", .exec = tunnel_status, .user_ok = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_tunnel_entry = {
	.name = "tunnel",
	.user_ok = true,
	.subs = tunnel_subs,
};
