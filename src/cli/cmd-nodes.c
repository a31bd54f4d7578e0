/* cmd-nodes.c: `nodes`: the outpostd processes (nodes) sharing the store, up or down. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"

/*
 * "a  10.0.0.1:2222  up  3 devices  heartbeat 2026-11-21T10:00:00Z"; a down
 * node holds none: "b  10.0.0.2:2222  down  0 devices, 2 stranded  heartbeat
 * ..." (rows still online at it: they show offline until they register
 * elsewhere), or "... down  0 devices  stopped" after a clean stop.
 */
static int
node_line(void *arg, const struct store_node *n)
{
	FILE *out = arg;
	char beat[48] = "stopped", stranded[32] = "";

	if (n->heartbeat > 0) {
		memcpy(beat, "heartbeat ", 10);
		timefmt_iso(n->heartbeat, beat + 10, sizeof(beat) - 10);
	}
	if (n->stranded > 0)
		snprintf(stranded, sizeof(stranded), ", %d stranded", n->stranded);
	fprintf(out, "%s  %s  %s  %d device%s%s  %s\n", n->name, n->peer_addr[0] ? n->peer_addr : "-",
	    n->up ? "up" : "down", n->devices, n->devices == 1 ? "" : "s", stranded, beat);
	return 0;
}

static int
node_json(void *arg, const struct store_node *n)
{
	struct cmd_json *js = arg;
	char beat[32], started[32];

	timefmt_iso(n->heartbeat, beat, sizeof(beat));
	timefmt_iso(n->started, started, sizeof(started));
	cmd_json_item(js);
	jbuf_member_str(&js->j, "name", n->name);
	jbuf_member_str(&js->j, "peer_address", n->peer_addr[0] ? n->peer_addr : NULL);
	jbuf_member_bool(&js->j, "up", n->up);
	jbuf_member_int(&js->j, "devices", n->devices);
	jbuf_member_int(&js->j, "stranded", n->stranded);
	jbuf_member_bool(&js->j, "stopped", n->heartbeat == 0);
	jbuf_member_str(&js->j, "heartbeat", n->heartbeat > 0 ? beat : NULL);
	jbuf_member_str(&js->j, "started", started);
	jbuf_member_str(&js->j, "version", n->version[0] ? n->version : NULL);
	jbuf_member_str(&js->j, "node_key", n->node_key[0] ? n->node_key : NULL);
	jbuf_member_int(&js->j, "id", n->id);
	jbuf_obj_end(&js->j);
	return 0;
}

static int
nodes_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct cmd_json js;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (!o.json)
		return cmd_listed(c, NULL, store_node_list(c->ctx->st, node_line, c->ctx->out));
	cmd_json_begin(&js);
	return cmd_listed(c, &js, store_node_list(c->ctx->st, node_json, &js));
}

const struct cmd_entry cmd_nodes_entry = { .name = "nodes", .usage = "[--json]", .exec = nodes_exec };
