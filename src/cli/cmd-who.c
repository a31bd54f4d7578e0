/* cmd-who.c: `who` (live sessions, as outpostd records them in the store) and `kick` (asking outpostd to end some). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "store/store.h"

/* "12  user  alice  SHA256:...  192.0.2.1:5000  2026-11-21T10:00:00Z  1234" */
static int
session_line(void *arg, const struct store_session *s)
{
	FILE *out = arg;
	char since[32];

	timefmt_iso(s->since, since, sizeof(since));
	fprintf(out, "%lld  %s  %s  %s  %s  %s  %lld%s\n", (long long)s->id, s->kind, s->principal,
	    s->key_fp[0] ? s->key_fp : "-", s->src[0] ? s->src : "-", since, (long long)s->bytes,
	    s->kicked ? "  kicked" : "");
	return 0;
}

static int
session_json(void *arg, const struct store_session *s)
{
	struct cmd_json *js = arg;
	char since[32];

	timefmt_iso(s->since, since, sizeof(since));
	cmd_json_item(js);
	jbuf_member_int(&js->j, "id", s->id);
	jbuf_member_str(&js->j, "kind", s->kind);
	jbuf_member_str(&js->j, "principal", s->principal);
	jbuf_member_str(&js->j, "key_fp", s->key_fp[0] ? s->key_fp : NULL);
	jbuf_member_str(&js->j, "src", s->src[0] ? s->src : NULL);
	jbuf_member_str(&js->j, "since", since);
	jbuf_member_int(&js->j, "bytes", s->bytes);
	jbuf_member_bool(&js->j, "kicked", s->kicked);
	jbuf_obj_end(&js->j);
	return 0;
}

static int
who_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct cmd_json js;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (!o.json)
		return cmd_listed(c, NULL, store_session_list(c->ctx->st, session_line, c->ctx->out));
	cmd_json_begin(&js);
	return cmd_listed(c, &js, store_session_list(c->ctx->st, session_json, &js));
}

static int
kick_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char target[LIM_TARGET + 8];
	int r, n = 0;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0)
		return r;
	log_printable(target, sizeof(target), o.pos[0], strnlen(o.pos[0], sizeof(target)));
	r = store_session_kick(c->ctx->st, o.pos[0], &n);
	if (r == ERR_NAME || r == ERR_INVAL)
		return cmd_usage(c, "'%s' is not a session id, a user name or NAME.FLEET", target);
	struct jbuf *b = cmd_audit_begin(c);
	jbuf_member_str(b, "target", target);
	jbuf_member_int(b, "sessions", n);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "kicked %d session%s\n", n, n == 1 ? "" : "s");
	return CMD_OK;
}

const struct cmd_entry cmd_who_entry = { .name = "who", .usage = "[--json]", .exec = who_exec };
const struct cmd_entry cmd_kick_entry = {
	.name = "kick",
	.usage = "SESSION|NAME.FLEET|USER",
	.exec = kick_exec,
	.changes = true,
};
