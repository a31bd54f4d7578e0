/* cmd.c: the command dispatch table, the exec command-line splitter, and helpers every command family shares. */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd-int.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/token.h"
#include "store/store.h"

static int help_exec(struct cmd_call *c, int argc, char **argv);

static const struct cmd_entry help_entry = {
	.name = "help",
	.usage = "",
	.exec = help_exec,
	.user_ok = true,
};

/* Top-level commands, in the order help lists them. */
static const struct cmd_entry *const cmd_table[] = {
	&cmd_ls_entry,
	&cmd_user_whoami_entry,
	&cmd_fleet_entry,
	&cmd_user_entry,
	&cmd_user_grant_entry,
	&cmd_user_revoke_entry,
	&cmd_device_entry,
	&cmd_who_entry,
	&cmd_kick_entry,
	&cmd_nodes_entry,
	&cmd_audit_entry,
	&cmd_token_entry,
	&cmd_enroll_entry,
	&cmd_report_entry,
	&cmd_known_hosts_entry,
	&cmd_ssh_config_entry,
	&cmd_tunnel_entry,
	&cmd_metrics_entry,
	&cmd_import_entry,
	&cmd_store_entry,
	&help_entry,
};
#define NCMDS (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* ---- messages ---- */

static void
vmsg(struct cmd_call *c, const char *fmt, va_list ap)
{
	FILE *f = c->ctx->err != NULL ? c->ctx->err : stderr;

	fprintf(f, "outpost: %s: ", c->what);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

int
cmd_fail(struct cmd_call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, fmt, ap);
	va_end(ap);
	return CMD_FAIL;
}

int
cmd_usage(struct cmd_call *c, const char *fmt, ...)
{
	FILE *f = c->ctx->err != NULL ? c->ctx->err : stderr;
	va_list ap;

	fprintf(f, "outpost: %s: ", c->what);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fprintf(f, " (usage: %s%s%s)\n", c->what, c->usage[0] ? " " : "", c->usage);
	return CMD_USAGE;
}

int
cmd_store_fail(struct cmd_call *c, int r)
{
	const char *m = store_errmsg(c->ctx->st);

	return cmd_fail(c, "%s", (m != NULL && m[0] != '\0') ? m : err_str(r));
}

/* Makes an untrusted argument safe and short enough to quote in a message. */
static const char *
shown(const char *arg, char *buf, size_t len)
{
	log_printable(buf, len, arg, strnlen(arg, len));
	return buf;
}

int
cmd_label(struct cmd_call *c, const char *kind, const char *arg, char *dst)
{
	char b[80];

	if (names_label_normalize(arg, dst, LIM_LABEL + 1) == 0)
		return 0;
	return cmd_usage(c, "invalid %s name '%s': lower-case letters, digits and '-', "
	    "1-63 characters, no leading or trailing '-'", kind, shown(arg, b, sizeof(b)));
}

/* ---- keys ---- */

static int
key_error(struct cmd_call *c, int r, const char *src, int saved_errno)
{
	char b[256];

	shown(src, b, sizeof(b));
	if (r == ERR_IO)
		return cmd_fail(c, "cannot read key file %s: %s", b, strerror(saved_errno));
	if (r == ERR_TOOLONG)
		return cmd_fail(c, "%s: key line longer than %d bytes", b, LIM_KEYLINE);
	return cmd_fail(c, "%s: not a usable OpenSSH public key (expected one line "
	    "'type base64 [comment]', such as ~/.ssh/id_ed25519.pub)", b);
}

int
cmd_read_key(struct cmd_call *c, const char *arg, struct pubkey *k)
{
	struct cmd_ctx *ctx = c->ctx;
	int r;

	memset(k, 0, sizeof(*k));
	if (strcmp(arg, "-") != 0 && ctx->remote) {
		fprintf(ctx->err, "outpost: --key FILE cannot be read over SSH; "
		    "pipe the key and use --key -\n");
		return CMD_USAGE;
	}
	if (strcmp(arg, "-") == 0) {
		if (ctx->in == NULL)
			return cmd_fail(c, "no key on standard input; pipe the public key in");
		r = pubkey_read_stream(ctx->in, k);
		return r == 0 ? 0 : key_error(c, r, "standard input", 0);
	}
	errno = 0;
	r = pubkey_read_file(arg, k);
	return r == 0 ? 0 : key_error(c, r, arg, errno);
}

/* ---- options ---- */

struct opt_spec {
	const char *name;
	unsigned bit;
	bool takes_value;
};

static const struct opt_spec opt_specs[] = {
	{ "key", OPT_KEY, true },
	{ "fleet", OPT_FLEET, true },
	{ "admin", OPT_ADMIN, false },
	{ "for", OPT_FOR, true },
	{ "json", OPT_JSON, false },
	{ "since", OPT_SINCE, true },
	{ "user", OPT_USER, true },
	{ "device", OPT_DEVICE, true },
	{ "uses", OPT_USES, true },
	{ "ttl", OPT_TTL, true },
	{ "server", OPT_SERVER, true },
	{ "authorized-keys", OPT_AUTHKEYS, true },
	{ "users", OPT_USERS, true },
	{ "ports", OPT_PORTS, true },
	{ "names", OPT_NAMES, true },
	{ "dry-run", OPT_DRYRUN, false },
	{ "port-table", OPT_PORT_TABLE, false },
};

static const struct opt_spec *
opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opt_specs) / sizeof(opt_specs[0]); i++)
		if (strlen(opt_specs[i].name) == len && strncmp(opt_specs[i].name, name, len) == 0)
			return &opt_specs[i];
	return NULL;
}

/* Stores one option's value; returns 0 or CMD_USAGE. */
static int
opt_store(struct cmd_call *c, const struct opt_spec *sp, const char *val, struct cmd_opts *o)
{
	const char **slot = NULL;

	switch (sp->bit) {
	case OPT_KEY: slot = &o->key; break;
	case OPT_FOR: slot = &o->dur; break;
	case OPT_SINCE: slot = &o->since; break;
	case OPT_USER: slot = &o->user; break;
	case OPT_DEVICE: slot = &o->device; break;
	case OPT_USES: slot = &o->uses; break;
	case OPT_TTL: slot = &o->ttl; break;
	case OPT_SERVER: slot = &o->server; break;
	case OPT_AUTHKEYS: slot = &o->authkeys; break;
	case OPT_USERS: slot = &o->users; break;
	case OPT_PORTS: slot = &o->ports; break;
	case OPT_NAMES: slot = &o->names; break;
	case OPT_DRYRUN: o->dry_run = true; return 0;
	case OPT_ADMIN: o->admin = true; return 0;
	case OPT_JSON: o->json = true; return 0;
	case OPT_PORT_TABLE: o->port_table = true; return 0;
	case OPT_FLEET:
		if (o->nfleets >= CMD_MAX_FLEETS)
			return cmd_usage(c, "too many --fleet options");
		o->fleets[o->nfleets++] = val;
		return 0;
	}
	if (*slot != NULL)
		return cmd_usage(c, "--%s given twice", sp->name);
	*slot = val;
	return 0;
}

/* Parses the option at argv[*i] ("--name" or "--name=value"). */
static int
opt_one(struct cmd_call *c, int argc, char **argv, int *i, unsigned allowed, struct cmd_opts *o)
{
	const char *a = argv[*i], *name = a + 2, *eq = NULL, *val = NULL;
	char b[64];

	if (a[1] == '-')
		eq = strchr(name, '=');
	const struct opt_spec *sp = a[1] == '-' ?
	    opt_find(name, eq ? (size_t)(eq - name) : strlen(name)) : NULL;
	if (sp == NULL || !(allowed & sp->bit))
		return cmd_usage(c, "unknown option '%s'", shown(a, b, sizeof(b)));
	if (sp->takes_value) {
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			return cmd_usage(c, "--%s needs a value", sp->name);
	} else if (eq != NULL)
		return cmd_usage(c, "--%s takes no value", sp->name);
	return opt_store(c, sp, val, o);
}

int
cmd_parse(struct cmd_call *c, int argc, char **argv, unsigned allowed, int minpos, int maxpos,
    struct cmd_opts *o)
{
	bool ended = false;
	int r;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!ended && strcmp(a, "--") == 0) {
			ended = true;
			continue;
		}
		if (!ended && a[0] == '-' && a[1] != '\0') {
			if ((r = opt_one(c, argc, argv, &i, allowed, o)) != 0)
				return r;
			continue;
		}
		if (o->npos >= maxpos || o->npos >= CMD_MAX_POS)
			return cmd_usage(c, "too many arguments");
		o->pos[o->npos++] = a;
	}
	if (o->npos < minpos)
		return cmd_usage(c, "missing argument");
	return 0;
}

/* ---- JSON lists ---- */

void
cmd_json_begin(struct cmd_json *js)
{
	jbuf_init(&js->j, LIM_EXEC_OUTPUT);
	js->n = 0;
	jbuf_add(&js->j, "[", 1);
}

void
cmd_json_item(struct cmd_json *js)
{
	if (js->n++ > 0)
		jbuf_add(&js->j, ",", 1);
	jbuf_obj_begin(&js->j);
}

int
cmd_json_end(struct cmd_call *c, struct cmd_json *js)
{
	int r = CMD_OK;

	jbuf_add(&js->j, "]\n", 2);
	if (js->j.failed)
		r = cmd_fail(c, "output too large");
	else
		fwrite(js->j.data, 1, js->j.len, c->ctx->out);
	jbuf_free(&js->j);
	return r;
}

int
cmd_listed(struct cmd_call *c, struct cmd_json *js, int r)
{
	if (r != 0) {
		if (js != NULL)
			jbuf_free(&js->j);
		return cmd_store_fail(c, r);
	}
	return js != NULL ? cmd_json_end(c, js) : CMD_OK;
}

void
cmd_json_csv(struct jbuf *j, const char *key, const char *csv)
{
	const char *p = csv != NULL ? csv : "";

	if (j->need_comma)
		jbuf_add(j, ",", 1);
	jbuf_json_string(j, key);
	jbuf_add(j, ":[", 2);
	for (bool first = true; *p != '\0'; first = false) {
		size_t n = strcspn(p, ",");
		char *item = strndup(p, n);
		if (!first)
			jbuf_add(j, ",", 1);
		if (item == NULL) {
			j->failed = true;
			return;
		}
		jbuf_json_string(j, item);
		free(item);
		p += n;
		if (*p == ',')
			p++;
	}
	jbuf_add(j, "]", 1);
	j->need_comma = true;
}

/* ---- dispatch ---- */

static const struct cmd_entry *
find_top(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

static const struct cmd_entry *
find_sub(const struct cmd_entry *family, const char *name)
{
	for (const struct cmd_entry *e = family->subs; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Lists a family's sub-command words as "add|ls|rm". */
static void
sub_words(const struct cmd_entry *family, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const struct cmd_entry *e = family->subs; e->name != NULL && o < len; e++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "", e->name);
}

/* Resolves "fleet add ..." to its leaf entry; prints a usage error if it cannot. */
static int
find_leaf(struct cmd_call *c, const struct cmd_entry *top, int argc, char **argv,
    const struct cmd_entry **leaf)
{
	char words[64], b[64];

	*leaf = top;
	snprintf(c->what, sizeof(c->what), "%s", top->name);
	c->usage = top->usage != NULL ? top->usage : "";
	if (top->subs == NULL)
		return 0;
	/* A family that runs by itself too (`audit [--json]`, `audit verify`). */
	if (top->exec != NULL && (argc < 2 || find_sub(top, argv[1]) == NULL))
		return 0;
	sub_words(top, words, sizeof(words));
	c->usage = words;
	if (argc < 2)
		return cmd_usage(c, "missing sub-command");
	if ((*leaf = find_sub(top, argv[1])) == NULL)
		return cmd_usage(c, "unknown sub-command '%s'", shown(argv[1], b, sizeof(b)));
	snprintf(c->what, sizeof(c->what), "%s %s", top->name, (*leaf)->name);
	c->usage = (*leaf)->usage;
	return 0;
}

/* Devices may run only what is marked for them, enrolling keys likewise. */
static bool role_may_run(const struct cmd_ctx *ctx, const struct cmd_entry *leaf);

/* What `help` shows the caller: what it may run, without other roles' commands. */
static bool
listed(const struct cmd_ctx *ctx, const struct cmd_entry *e)
{
	if (ctx->role == CMD_ROLE_DEVICE || ctx->role == CMD_ROLE_ENROLL)
		return role_may_run(ctx, e);
	return e->roles == 0 && (ctx->admin || e->user_ok);
}

static bool
role_may_run(const struct cmd_ctx *ctx, const struct cmd_entry *leaf)
{
	if (leaf == &help_entry)
		return true;	/* every role may ask what it may run */
	switch (ctx->role) {
	case CMD_ROLE_DEVICE: return (leaf->roles & CMD_FOR_DEVICE) != 0;
	case CMD_ROLE_ENROLL: return (leaf->roles & CMD_FOR_ENROLL) != 0;
	default: return true;
	}
}

int
cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_call call = { .ctx = ctx, .what = "", .usage = "", .argc = argc, .argv = argv };
	const struct cmd_entry *top, *leaf;
	FILE *err = ctx->err != NULL ? ctx->err : stderr;
	char b[64];
	int r;

	if (argc < 1 || argv == NULL || argv[0] == NULL) {
		fprintf(err, "outpost: no command given; try 'help'\n");
		return CMD_USAGE;
	}
	/* OpenSSH enrollment sends just "TOKEN NAME": `ssh enroll@jump TOKEN NAME`. */
	char *enroll_argv[4] = { "enroll", NULL, NULL, NULL };
	if (ctx->role == CMD_ROLE_ENROLL && argc <= 3 &&
	    strncmp(argv[0], TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
		for (int i = 0; i < argc; i++)
			enroll_argv[i + 1] = argv[i];
		argv = enroll_argv;
		argc++;
		call.argc = argc;
		call.argv = argv;
	}
	if ((top = find_top(argv[0])) == NULL) {
		fprintf(err, "outpost: unknown command '%s'; try 'help'\n",
		    shown(argv[0], b, sizeof(b)));
		return CMD_USAGE;
	}
	if ((r = find_leaf(&call, top, argc, argv, &leaf)) != 0)
		return r;
	if (!role_may_run(ctx, leaf)) {
		fprintf(err, "outpost: not permitted: %s is not available to %s\n", call.what,
		    ctx->role == CMD_ROLE_DEVICE ? "devices" : "enrolling keys");
		return CMD_FAIL;
	}
	if (ctx->role <= CMD_ROLE_USER && !ctx->admin && !leaf->user_ok) {
		fprintf(err, "outpost: not permitted: %s needs an admin\n", call.what);
		return CMD_FAIL;
	}
	if (leaf->changes && ctx->audit == NULL)
		return cmd_fail(&call, "audit log unavailable; administrative changes are refused");
	if (top != leaf)
		return leaf->exec(&call, argc - 1, argv + 1);
	return leaf->exec(&call, argc, argv);
}

/* ---- audit records of administrative changes ---- */

void
cmd_actor(const struct cmd_ctx *ctx, char *dst, size_t len)
{
	struct passwd *pw;

	if (ctx->remote) {
		snprintf(dst, len, "%s", ctx->user != NULL ? ctx->user : "?");
		return;
	}
	if ((pw = getpwuid(geteuid())) != NULL && pw->pw_name != NULL)
		snprintf(dst, len, "local:%s", pw->pw_name);
	else
		snprintf(dst, len, "local:uid%lu", (unsigned long)geteuid());
}

/* True if a word can be shown bare; otherwise it is single-quoted. */
static bool
plain_word(const char *w)
{
	if (w[0] == '\0')
		return false;
	for (; *w != '\0'; w++)
		if (*w == ' ' || *w == '\t' || *w == '\'' || *w == '"')
			return false;
	return true;
}

/* The command's words, tokens redacted, printable, quoted where needed, at most LIM_EXEC_CMD bytes. */
static void
command_text(const struct cmd_call *c, struct jbuf *out)
{
	char raw[LIM_EXEC_CMD + 1], word[LIM_EXEC_CMD + 1];

	for (int i = 0; i < c->argc && c->argv[i] != NULL; i++) {
		snprintf(raw, sizeof(raw), "%s", c->argv[i]);
		token_redact(raw);
		log_printable(word, sizeof(word), raw, strlen(raw));
		bool q = !plain_word(word);
		jbuf_addf(out, "%s%s%s%s", i ? " " : "", q ? "'" : "", word, q ? "'" : "");
	}
}

struct jbuf *
cmd_audit_begin(struct cmd_call *c)
{
	char actor[LIM_LABEL + 64];
	struct jbuf cmd;

	cmd_actor(c->ctx, actor, sizeof(actor));
	jbuf_init(&cmd, LIM_EXEC_CMD);
	command_text(c, &cmd);
	c->rec = audit_begin(c->ctx->audit, "admin");
	jbuf_member_str(c->rec, "actor", actor);
	jbuf_member_str(c->rec, "command", cmd.failed ? "(too long)" : cmd.data ? cmd.data : "");
	jbuf_free(&cmd);
	return c->rec;
}

/* No token's secret in any member of a record (a token pasted as a revoke id, a name...). */
static void
redact_record(struct jbuf *rec)
{
	if (rec->data != NULL && token_redact(rec->data) > 0)
		rec->len = strlen(rec->data);
}

int
cmd_audit_ok(struct cmd_call *c)
{
	int r;

	if (c->rec == NULL)
		cmd_audit_begin(c);
	jbuf_member_str(c->rec, "result", "ok");
	redact_record(c->rec);
	c->rec = NULL;
	if ((r = audit_commit(c->ctx->audit)) == 0)
		return 0;
	return cmd_fail(c, "the change was made, but its audit record could not be written (%s); "
	    "check the audit log", err_str(r));
}

int
cmd_audit_failed(struct cmd_call *c, int r)
{
	const char *m = store_errmsg(c->ctx->st);
	char why[256];

	snprintf(why, sizeof(why), "%s", (m != NULL && m[0] != '\0') ? m : err_str(r));
	if (c->rec == NULL)
		cmd_audit_begin(c);
	jbuf_member_str(c->rec, "result", "failed");
	jbuf_member_str(c->rec, "error", why);
	redact_record(c->rec);
	c->rec = NULL;
	audit_commit(c->ctx->audit);
	return cmd_fail(c, "%s", why);
}

/* ---- help ---- */

static void
help_line(FILE *f, const char *prefix, const struct cmd_entry *e)
{
	fprintf(f, "  %s%s%s%s\n", prefix, e->name, e->usage[0] ? " " : "", e->usage);
}

static int
help_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_ctx *ctx = c->ctx;
	char prefix[40];

	(void)argc;
	(void)argv;
	fprintf(ctx->out, "commands%s:\n", ctx->remote ? " (ssh -p PORT HOST <command>)" :
	    " (outpost [-d STATE_DIR] <command>)");
	for (size_t i = 0; i < NCMDS; i++) {
		const struct cmd_entry *top = cmd_table[i];
		if (top->exec != NULL && listed(ctx, top))
			help_line(ctx->out, "", top);
		if (top->subs == NULL)
			continue;
		snprintf(prefix, sizeof(prefix), "%s ", top->name);
		for (const struct cmd_entry *e = top->subs; e->name != NULL; e++)
			if (listed(ctx, e))
				help_line(ctx->out, prefix, e);
	}
	return CMD_OK;
}

/* ---- splitting exec command lines ---- */

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_control(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* Characters a shell would interpret; refused outside quotes. */
static bool
is_special(char ch)
{
	return ch != '\0' && strchr(";|&$`<>()\\", ch) != NULL;
}

struct splitter {
	char **argv;
	int argc;
	char *word;		/* being built, or NULL between words */
	size_t wlen;
	const char *why;
};

static int
word_add(struct splitter *sp, char ch)
{
	if (sp->word == NULL) {
		if (sp->argc >= LIM_EXEC_ARGS) {
			sp->why = "too many words";
			return ERR_TOOLONG;
		}
		/* A word is never longer than the whole line. */
		if ((sp->word = malloc(LIM_EXEC_CMD + 1)) == NULL)
			return ERR_NOMEM;
		sp->wlen = 0;
	}
	if (ch != '\0')
		sp->word[sp->wlen++] = ch;
	return 0;
}

static int
word_end(struct splitter *sp)
{
	if (sp->word == NULL)
		return 0;
	sp->word[sp->wlen] = '\0';
	char *w = realloc(sp->word, sp->wlen + 1);
	sp->argv[sp->argc++] = w != NULL ? w : sp->word;
	sp->word = NULL;
	return 0;
}

/* Copies a quoted part starting after its opening quote; *i ends after the closing one. */
static int
quoted(struct splitter *sp, const char *line, size_t len, size_t *i, char q)
{
	int r;

	if ((r = word_add(sp, '\0')) != 0)	/* '' is an empty word */
		return r;
	for (; *i < len; (*i)++) {
		char ch = line[*i];
		if (is_control((unsigned char)ch)) {
			sp->why = "control characters are not allowed";
			return ERR_INVAL;
		}
		if (ch == q) {
			(*i)++;
			return 0;
		}
		if (q == '"' && ch == '\\' && *i + 1 < len &&
		    (line[*i + 1] == '"' || line[*i + 1] == '\\'))
			ch = line[++*i];
		if ((r = word_add(sp, ch)) != 0)
			return r;
	}
	sp->why = q == '"' ? "unterminated double quote" : "unterminated single quote";
	return ERR_INVAL;
}

static int
split_loop(struct splitter *sp, const char *line, size_t len)
{
	size_t i = 0;
	int r;

	while (i < len) {
		char ch = line[i];
		if (is_space(ch)) {
			word_end(sp);
			i++;
		} else if (ch == '\'' || ch == '"') {
			i++;
			if ((r = quoted(sp, line, len, &i, ch)) != 0)
				return r;
		} else if (is_control((unsigned char)ch)) {
			sp->why = ch == '\0' ? "NUL bytes are not allowed" :
			    "control characters are not allowed";
			return ERR_INVAL;
		} else if (is_special(ch)) {
			sp->why = "shell syntax (; | & $ ` < > ( ) \\) is not supported; quote the word";
			return ERR_INVAL;
		} else {
			if ((r = word_add(sp, ch)) != 0)
				return r;
			i++;
		}
	}
	return word_end(sp);
}

int
cmd_split(const char *line, size_t len, char ***argv_out, int *argc_out, const char **why)
{
	struct splitter sp = { 0 };
	const char *scratch;
	int r;

	*argv_out = NULL;
	*argc_out = 0;
	if (why == NULL)
		why = &scratch;
	*why = NULL;
	if (line == NULL) {
		*why = "no command";
		return ERR_INVAL;
	}
	if (len > LIM_EXEC_CMD) {
		*why = "command line too long";
		return ERR_TOOLONG;
	}
	if ((sp.argv = calloc(LIM_EXEC_ARGS + 1, sizeof(char *))) == NULL)
		return ERR_NOMEM;
	r = split_loop(&sp, line, len);
	free(sp.word);
	if (r != 0) {
		*why = sp.why;
		cmd_argv_free(sp.argv);
		return r;
	}
	*argv_out = sp.argv;
	*argc_out = sp.argc;
	return 0;
}

void
cmd_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

/* Options whose value "-" means standard input. */
static const char *const stdin_opts[] = { "--key", "--authorized-keys", "--users", "--ports" };

static bool
stdin_word(char **argv, int argc, int i)
{
	for (size_t k = 0; k < sizeof(stdin_opts) / sizeof(stdin_opts[0]); k++) {
		size_t n = strlen(stdin_opts[k]);
		if (strncmp(argv[i], stdin_opts[k], n) != 0)
			continue;
		if (strcmp(argv[i] + n, "=-") == 0)
			return true;
		if (argv[i][n] == '\0' && i + 1 < argc && argv[i + 1] != NULL &&
		    strcmp(argv[i + 1], "-") == 0)
			return true;
	}
	return false;
}

bool
cmd_wants_stdin(int argc, char **argv)
{
	for (int i = 0; i < argc && argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (stdin_word(argv, argc, i))
			return true;
	}
	return false;
}

int
cmd_grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*v, ncap * size);
	if (p == NULL)
		return ERR_NOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}
