/* cmd-fleet.c: `fleet add|ls|rm`: creating, listing and removing fleets. */
#include <stdio.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "store/store.h"

static int
fleet_add(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char fleet[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 ||
	    (r = cmd_label(c, "fleet", o.pos[0], fleet)) != 0)
		return r;
	r = store_fleet_add(c->ctx->st, fleet);
	jbuf_member_str(cmd_audit_begin(c), "fleet", fleet);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "fleet %s added\n", fleet);
	return CMD_OK;
}

static int
fleet_rm(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char fleet[LIM_LABEL + 1];
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 ||
	    (r = cmd_label(c, "fleet", o.pos[0], fleet)) != 0)
		return r;
	r = store_fleet_rm(c->ctx->st, fleet);
	jbuf_member_str(cmd_audit_begin(c), "fleet", fleet);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "fleet %s removed\n", fleet);
	return CMD_OK;
}

/* One fleet as a text line: "acme  3 devices". */
static int
fleet_line(void *arg, const char *fleet, int ndevices)
{
	FILE *out = arg;

	fprintf(out, "%s  %d device%s\n", fleet, ndevices, ndevices == 1 ? "" : "s");
	return 0;
}

static int
fleet_json(void *arg, const char *fleet, int ndevices)
{
	struct cmd_json *js = arg;

	cmd_json_item(js);
	jbuf_member_str(&js->j, "name", fleet);
	jbuf_member_int(&js->j, "devices", ndevices);
	jbuf_obj_end(&js->j);
	return 0;
}

static int
fleet_ls(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct cmd_json js;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (!o.json)
		return cmd_listed(c, NULL, store_fleet_list(c->ctx->st, fleet_line, c->ctx->out));
	cmd_json_begin(&js);
	return cmd_listed(c, &js, store_fleet_list(c->ctx->st, fleet_json, &js));
}

static const struct cmd_entry fleet_subs[] = {
	{ .name = "add", .usage = "NAME", .exec = fleet_add, .changes = true },
	{ .name = "ls", .usage = "[--json]", .exec = fleet_ls },
	{ .name = "rm", .usage = "NAME", .exec = fleet_rm, .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_fleet_entry = { .name = "fleet", .subs = fleet_subs };
