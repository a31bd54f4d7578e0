/* cmd-ls.c: `ls`: the devices the caller may reach, one line each or as JSON. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"

/*
 * What `ls` says a device is: online (a live session), standby (on demand:
 * only its MQTT session, woken by a connection), or offline.
 */
const char *
cmd_device_state(const struct store_device *d)
{
	if (d->online)
		return "online";
	if (d->ondemand != NULL && (strcmp(d->ondemand, "standby") == 0 ||
	    strcmp(d->ondemand, "disconnected") == 0 || strcmp(d->ondemand, "connected") == 0))
		return "standby";
	return "offline";
}

/* "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234" */
static int
device_line(void *arg, const struct store_device *d)
{
	FILE *out = arg;
	char when[32];

	timefmt_iso(d->last_seen, when, sizeof(when));
	fprintf(out, "%s.%s  %s  %s  %s\n", d->name, d->fleet, cmd_device_state(d),
	    when, (d->last_addr != NULL && d->last_addr[0] != '\0') ? d->last_addr : "-");
	return 0;
}

static int
device_json(void *arg, const struct store_device *d)
{
	struct cmd_json *js = arg;
	char when[32], target[LIM_TARGET + 1];

	timefmt_iso(d->last_seen, when, sizeof(when));
	snprintf(target, sizeof(target), "%s.%s", d->name, d->fleet);
	cmd_json_item(js);
	jbuf_member_str(&js->j, "device", target);
	jbuf_member_str(&js->j, "name", d->name);
	jbuf_member_str(&js->j, "fleet", d->fleet);
	jbuf_member_bool(&js->j, "online", d->online);
	jbuf_member_str(&js->j, "last_seen", d->last_seen > 0 ? when : NULL);
	jbuf_member_str(&js->j, "address",
	    (d->last_addr != NULL && d->last_addr[0] != '\0') ? d->last_addr : NULL);
	jbuf_member_str(&js->j, "key", d->key_fp);
	jbuf_member_str(&js->j, "state", cmd_device_state(d));
	jbuf_member_str(&js->j, "ondemand",
	    (d->ondemand != NULL && d->ondemand[0] != '\0') ? d->ondemand : NULL);
	jbuf_obj_end(&js->j);
	return 0;
}

/* Walks all devices for the operator and admins, else those granted to the user. */
static int
walk(struct cmd_ctx *ctx, store_device_cb cb, void *arg)
{
	if (ctx->admin)
		return store_device_list(ctx->st, cb, arg);
	return store_device_list_for_user(ctx->st, ctx->user_id, cb, arg);
}

int
cmd_ls_devices(struct cmd_call *c, bool json)
{
	struct cmd_json js;
	int r;

	if (!json) {
		r = walk(c->ctx, device_line, c->ctx->out);
		return r == 0 ? CMD_OK : cmd_store_fail(c, r);
	}
	cmd_json_begin(&js);
	if ((r = walk(c->ctx, device_json, &js)) != 0) {
		jbuf_free(&js.j);
		return cmd_store_fail(c, r);
	}
	return cmd_json_end(c, &js);
}

static int
ls_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	return cmd_ls_devices(c, o.json);
}

const struct cmd_entry cmd_ls_entry = { "ls", "[--json]", ls_exec, true, NULL, false };
