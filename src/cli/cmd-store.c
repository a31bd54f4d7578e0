/*
 * cmd-store.c: `outpost store copy --from SPEC --to SPEC [--force]`, moving
 * every record of one store into another (an SQLite install to PostgreSQL,
 * and back). Local only: it opens database files and URIs on the machine
 * it runs on, which a remote caller must not name.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/audit.h"
#include "common/err.h"
#include "store/store.h"

#define SPEC_SHOWN	512

struct copy_args {
	const char *from, *to;
	bool force;
};

/* True if spec carries a password (store_spec_redact would mask something). */
static bool
has_password(const char *spec)
{
	char shown[SPEC_SHOWN];

	store_spec_redact(spec, shown, sizeof(shown));
	return strcmp(shown, spec) != 0;
}

/* --from SPEC, --to SPEC (or --from=SPEC), --force; nothing else. */
static int
parse_copy(struct cmd_call *c, int argc, char **argv, struct copy_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i], **dst = NULL;
		size_t n = 0;
		if (strcmp(w, "--force") == 0) {
			a->force = true;
			continue;
		}
		if (strncmp(w, "--from", 6) == 0)
			dst = &a->from, n = 6;
		else if (strncmp(w, "--to", 4) == 0)
			dst = &a->to, n = 4;
		if (dst == NULL || (w[n] != '\0' && w[n] != '='))
			return cmd_usage(c, "unknown argument '%.40s'", w);
		if (*dst != NULL)
			return cmd_usage(c, "%.6s given twice", w);
		if (w[n] == '=')
			*dst = w + n + 1;
		else if (i + 1 < argc)
			*dst = argv[++i];
		else
			return cmd_usage(c, "%s needs a store (sqlite:PATH or postgresql://...)", w);
		if ((*dst)[0] == '\0')
			return cmd_usage(c, "%.6s needs a store (sqlite:PATH or postgresql://...)", w);
	}
	if (a->from == NULL || a->to == NULL)
		return cmd_usage(c, "both --from and --to are needed");
	if (strlen(a->from) >= SPEC_SHOWN || strlen(a->to) >= SPEC_SHOWN)
		return cmd_usage(c, "a store longer than %d bytes", SPEC_SHOWN - 1);
	if (has_password(a->from) || has_password(a->to))
		return cmd_usage(c, "a password on the command line is visible to every user (ps) "
		    "and would be recorded; put it in a passfile (PGPASSFILE or passfile=)");
	return 0;
}

/* Opens both sides and copies; why says what failed, naming the store. */
static int
copy_specs(struct cmd_call *c, const struct copy_args *a, int64_t *rows, char *why, size_t whylen)
{
	struct store *from = NULL, *to = NULL;
	char msg[400];
	int r;

	if ((r = store_open_spec(a->from, c->ctx->state_dir, &from, msg, sizeof(msg))) != 0) {
		snprintf(why, whylen, "cannot open the source: %s", msg[0] ? msg : err_str(r));
		return r;
	}
	if ((r = store_open_spec(a->to, c->ctx->state_dir, &to, msg, sizeof(msg))) != 0)
		snprintf(why, whylen, "cannot open the target: %s", msg[0] ? msg : err_str(r));
	else
		r = store_copy_flags(from, to, a->force ? STORE_COPY_FORCE : 0, rows, why, whylen);
	store_close(from);
	store_close(to);
	return r;
}

static int
store_copy_cmd(struct cmd_call *c, int argc, char **argv)
{
	struct copy_args a;
	char from_shown[SPEC_SHOWN], to_shown[SPEC_SHOWN], why[512] = "";
	int64_t rows = 0;
	int r;

	if (c->ctx->remote)
		return cmd_fail(c, "runs only on the server itself (`outpost store copy` there): "
		    "it opens the database files and URIs it is given");
	if ((r = parse_copy(c, argc, argv, &a)) != 0)
		return r;
	store_spec_redact(a.from, from_shown, sizeof(from_shown));
	store_spec_redact(a.to, to_shown, sizeof(to_shown));
	r = copy_specs(c, &a, &rows, why, sizeof(why));
	struct jbuf *rec = cmd_audit_begin(c);
	jbuf_member_str(rec, "from", from_shown);
	jbuf_member_str(rec, "to", to_shown);
	if (r != 0) {
		/* cmd_audit_failed would quote the state store's error, not the copy's */
		jbuf_member_str(rec, "result", "failed");
		jbuf_member_str(rec, "error", why[0] ? why : err_str(r));
		c->rec = NULL;
		audit_commit(c->ctx->audit);
		if (r == ERR_EXISTS)
			return cmd_fail(c, "%s: %s", to_shown, why);
		return cmd_fail(c, "%s", why[0] ? why : err_str(r));
	}
	jbuf_member_int(rec, "rows", rows);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "copied %lld record%s from %s to %s%s\n", (long long)rows,
	    rows == 1 ? "" : "s", from_shown, to_shown, a.force ? " (its rows replaced)" : "");
	return CMD_OK;
}

static const struct cmd_entry store_subs[] = {
	{ .name = "copy", .usage = "--from STORE --to STORE [--force]", .exec = store_copy_cmd,
	    .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_store_entry = { .name = "store", .subs = store_subs };
