/*
 * cmd-metrics.c: `metrics`: outpostd's Prometheus metrics text, for admins.
 * The counters live in the running outpostd, so the command works through
 * the server (`ssh -p PORT jump metrics`); the local program says so.
 */
#include <stdio.h>

#include "cli/cmd-int.h"
#include "common/err.h"

static int
metrics_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 0, 0, &o)) != 0)
		return r;
	if (c->ctx->metrics == NULL)
		return cmd_fail(c, "the counters live in the running outpostd: run it through the "
		    "server (ssh -p PORT ADMIN@JUMP metrics), or scrape MetricsListen (outpostd.conf(5))");
	if ((r = c->ctx->metrics(c->ctx->metrics_arg, c->ctx->out)) != 0)
		return cmd_fail(c, "%s", err_str(r));
	return CMD_OK;
}

const struct cmd_entry cmd_metrics_entry = { .name = "metrics", .usage = "", .exec = metrics_exec };
