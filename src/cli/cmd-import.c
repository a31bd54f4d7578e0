/*
 * cmd-import.c: `import sshd`: an existing sshd jump host's authorized_keys
 * file (and its port table) becomes devices of a fleet, or users granted
 * one, all in one store transaction after every line has been checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "ssh/authkeys.h"
#include "store/store.h"

#define MAX_PORTS	8	/* permitlisten ports kept per key */

/* A port table row: "PORT NAME". */
struct table_row {
	int port;
	char name[LIM_LABEL + 1];
	int line;
	bool used;
};

/* One key line to import. */
struct entry {
	int line;
	char name[LIM_LABEL + 1];
	struct pubkey key;
	int listen[MAX_PORTS];		/* from permitlisten */
	int nlisten;
	/*
	 * The device's port, 0 = none. Shown in the plan, not stored: the store
	 * has no place for a device's port yet. Port-table routing (issue 18
	 * item 3) should add one (a column or table keyed by device) and have
	 * import_one in src/store/devices.c write it, so `-J jump -p PORT user@localhost`
	 * finds the device from the day it is imported.
	 */
	int port;
	const char *port_src;		/* "port-table", "permitlisten" or "none" */
	bool present;			/* already bound to this name and key: skipped */
	bool taken;			/* its key belongs to someone else (reported) */
	char note[240];
};

struct import {
	struct cmd_call *c;
	bool users;
	bool names_from_table;
	char fleet[LIM_LABEL + 1];
	const char *src, *tsrc;		/* input names for messages */
	struct entry *e;
	size_t n, cap;
	struct table_row *tab;
	size_t ntab, tcap;
	int errors;
};

/* ---- messages ---- */

/* "outpost: import sshd: FILE:LINE: why" on the error stream; counts it. Returns 0. */
static int __attribute__((format(printf, 4, 5)))
problem(struct import *im, const char *src, int line, const char *fmt, ...)
{
	FILE *f = im->c->ctx->err;
	va_list ap;

	fprintf(f, "outpost: %s: %s:%d: ", im->c->what, src, line);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	im->errors++;
	return 0;
}

/* s (at most max bytes) made printable in b, for messages. */
static const char *
shown(char *b, size_t blen, const char *s, size_t max)
{
	log_printable(b, blen, s, strnlen(s, max));
	return b;
}

/* Appends to an entry's note ("; " between notes). */
static void __attribute__((format(printf, 2, 3)))
note(struct entry *e, const char *fmt, ...)
{
	size_t o = strlen(e->note);
	va_list ap;

	if (o > 0 && o + 2 < sizeof(e->note))
		o += (size_t)snprintf(e->note + o, sizeof(e->note) - o, "; ");
	va_start(ap, fmt);
	vsnprintf(e->note + o, sizeof(e->note) - o, fmt, ap);
	va_end(ap);
}

/* ---- reading lines ---- */

/*
 * Reads one line of at most LIM_KEYLINE bytes into buf (LIM_KEYLINE + 1),
 * NULs kept (*len says how many bytes). A longer line is consumed whole and
 * reported as ERR_TOOLONG. Returns 1 for a line, 0 at the end.
 */
static int
read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	bool toolong = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (n >= LIM_KEYLINE)
			toolong = true;
		else
			buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	*len = n;
	if (ch == EOF && n == 0 && !toolong)
		return 0;
	return toolong ? ERR_TOOLONG : 1;
}

/* Opens FILE or "-" (standard input); files only for the local operator. */
static int
open_input(struct import *im, const char *opt, const char *arg, FILE **f, const char **name)
{
	struct cmd_ctx *ctx = im->c->ctx;

	*f = NULL;
	if (strcmp(arg, "-") == 0) {
		*name = "standard input";
		if (ctx->in == NULL)
			return cmd_fail(im->c, "nothing on standard input for --%s -", opt);
		*f = ctx->in;
		return 0;
	}
	*name = arg;
	if (ctx->remote)
		return cmd_usage(im->c, "--%s FILE cannot be read over SSH; pipe the file and use "
		    "--%s -", opt, opt);
	if ((*f = fopen(arg, "r")) == NULL)
		return cmd_fail(im->c, "cannot read %.200s: %s", arg, strerror(errno));
	return 0;
}

static void
close_input(struct import *im, FILE *f)
{
	if (f != NULL && f != im->c->ctx->in)
		fclose(f);
}

/* ---- the port table ---- */

/* Parses "1" to "65535" (digits only, no leading zero); 0 if it is not one. */
static int
parse_port(const char *s, size_t n)
{
	int p = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		p = p * 10 + (s[i] - '0');
	}
	return p <= 65535 ? p : 0;
}

static struct table_row *
table_by_port(struct import *im, int port)
{
	for (size_t i = 0; i < im->ntab; i++)
		if (im->tab[i].port == port)
			return &im->tab[i];
	return NULL;
}

static struct table_row *
table_by_name(struct import *im, const char *name)
{
	for (size_t i = 0; i < im->ntab; i++)
		if (strcmp(im->tab[i].name, name) == 0)
			return &im->tab[i];
	return NULL;
}

/* Splits a table line into at most 3 fields ('#' at a field's start ends the line). */
static int
fields(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0' || *s == '#')
			return n;
		if (n < max)
			f[n] = s;
		n++;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* One port table line (CR dropped, NUL and control bytes refused). Returns 0. */
static int
table_line(struct import *im, char *line, size_t len, int lineno)
{
	char *f[2], b[80];
	struct table_row row = { .line = lineno };
	struct table_row *other;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return problem(im, im->tsrc, lineno, "NUL or control byte");
	int nf = fields(line, f, 2);
	if (nf == 0)
		return 0;
	if (nf != 2)
		return problem(im, im->tsrc, lineno, "expected 'PORT NAME'");
	if ((row.port = parse_port(f[0], strlen(f[0]))) == 0)
		return problem(im, im->tsrc, lineno, "'%s' is not a port (1-65535)",
		    shown(b, sizeof(b), f[0], 40));
	if (names_label_normalize(f[1], row.name, sizeof(row.name)) != 0)
		return problem(im, im->tsrc, lineno, "'%s' is not a valid name (letters, digits and "
		    "'-', 1-63 characters)", shown(b, sizeof(b), f[1], 70));
	if ((other = table_by_port(im, row.port)) != NULL)
		return problem(im, im->tsrc, lineno, "port %d is also on line %d", row.port, other->line);
	if ((other = table_by_name(im, row.name)) != NULL)
		return problem(im, im->tsrc, lineno, "%s is also on line %d", row.name, other->line);
	if (im->ntab >= LIM_IMPORT_LINES)
		return problem(im, im->tsrc, lineno, "more than %d entries", LIM_IMPORT_LINES);
	if (cmd_grow((void **)&im->tab, &im->tcap, im->ntab, sizeof(*im->tab)) != 0)
		return problem(im, im->tsrc, lineno, "out of memory");
	im->tab[im->ntab++] = row;
	return 0;
}

/* ---- options: what outpost does with each ---- */

enum opt_act {
	ACT_IGNORE,	/* outpost never grants what it allows or restricts */
	ACT_NOTE,	/* ignored, and the plan says so */
	ACT_REFUSE,	/* a restriction outpostd cannot keep: the admin decides */
	ACT_LISTEN,	/* permitlisten: the device's port */
	ACT_FWD_OFF,	/* restrict, no-port-forwarding */
	ACT_FWD_ON,	/* port-forwarding */
	ACT_COMMAND,	/* command=: a shell refusal is ignored, anything else refused */
};

struct opt_rule {
	const char *name;
	enum opt_act device, user;
	const char *why;	/* for ACT_NOTE / ACT_REFUSE */
};

static const struct opt_rule opt_rules[] = {
	{ "no-pty", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "pty", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "no-x11-forwarding", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "x11-forwarding", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "no-agent-forwarding", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "agent-forwarding", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "no-user-rc", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "user-rc", ACT_IGNORE, ACT_IGNORE, NULL },
	{ "restrict", ACT_FWD_OFF, ACT_FWD_OFF, NULL },
	{ "no-port-forwarding", ACT_FWD_OFF, ACT_FWD_OFF, NULL },
	{ "port-forwarding", ACT_FWD_ON, ACT_FWD_ON, NULL },
	{ "permitlisten", ACT_LISTEN, ACT_NOTE, "permitlisten ignored: users register no ports" },
	{ "permitopen", ACT_NOTE, ACT_REFUSE, NULL },
	{ "command", ACT_COMMAND, ACT_COMMAND, NULL },
	{ "environment", ACT_NOTE, ACT_NOTE, "environment ignored: outpost runs no program for any key" },
	{ "tunnel", ACT_NOTE, ACT_NOTE, "tunnel ignored: outpost forwards no tun devices" },
	{ "from", ACT_REFUSE, ACT_REFUSE, "from= limits where this key may log in from, which "
	    "outpostd cannot enforce: remove the option to accept the key from anywhere" },
	{ "expiry-time", ACT_REFUSE, ACT_REFUSE, "expiry-time: outpost keys do not expire: remove "
	    "the option (and grant by hand with --for)" },
	{ "cert-authority", ACT_REFUSE, ACT_REFUSE, "certificate authorities are not supported" },
	{ "principals", ACT_REFUSE, ACT_REFUSE, "certificate principals are not supported" },
	{ "no-touch-required", ACT_REFUSE, ACT_REFUSE, "security-key touch policies are not "
	    "enforced by outpostd" },
	{ "verify-required", ACT_REFUSE, ACT_REFUSE, "security-key PIN policies are not "
	    "enforced by outpostd" },
};

static const struct opt_rule *
rule_find(const char *name)
{
	for (size_t i = 0; i < sizeof(opt_rules) / sizeof(opt_rules[0]); i++)
		if (strcmp(opt_rules[i].name, name) == 0)
			return &opt_rules[i];
	return NULL;
}

/* A forced command that only refuses a shell: false, true, nologin or echo. */
static bool
shell_refusal(const char *cmd)
{
	static const char *const ok[] = { "false", "true", "nologin", "echo" };
	size_t n = strcspn(cmd += strspn(cmd, " \t"), " \t");
	const char *base = cmd;

	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '/')
			base = cmd + i + 1;
	size_t bn = (size_t)(cmd + n - base);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strlen(ok[i]) == bn && strncmp(base, ok[i], bn) == 0)
			return true;
	return false;
}

/* permitlisten="[HOST:]PORT": records PORT, or notes a value naming no single port. */
static void
opt_listen(struct entry *e, const char *v)
{
	const char *colon = strrchr(v, ':');
	const char *p = colon != NULL ? colon + 1 : v;
	int port = parse_port(p, strlen(p));
	char b[80];

	if (port == 0) {
		note(e, "permitlisten=\"%s\" names no single port", shown(b, sizeof(b), v, 60));
		return;
	}
	for (int i = 0; i < e->nlisten; i++)
		if (e->listen[i] == port)
			return;
	if (e->nlisten < MAX_PORTS)
		e->listen[e->nlisten++] = port;
}

/* Applies one option's rule; returns false after reporting a refusal. */
static bool
apply_option(struct import *im, struct entry *e, const struct authkeys_opt *o, bool *fwd)
{
	const struct opt_rule *r = rule_find(o->name);
	enum opt_act act = r == NULL ? ACT_REFUSE : im->users ? r->user : r->device;
	const char *v = o->value != NULL ? o->value : "";
	char b[120];

	shown(b, sizeof(b), v, 100);
	switch (act) {
	case ACT_IGNORE: return true;
	case ACT_FWD_OFF: *fwd = false; return true;
	case ACT_FWD_ON: *fwd = true; return true;
	case ACT_LISTEN: opt_listen(e, v); return true;
	case ACT_NOTE:
		if (strcmp(o->name, "permitopen") == 0)
			note(e, "permitopen=\"%s\" ignored: devices open no forwards through outpost", b);
		else
			note(e, "%s", r->why);
		return true;
	case ACT_COMMAND:
		if (shell_refusal(v)) {
			note(e, "command=\"%s\" ignored: outpost runs no program for any key", b);
			return true;
		}
		problem(im, im->src, e->line, "command=\"%s\": this key runs a program on the old "
		    "jump host and outpost runs none: leave the line out, or drop the option if the key "
		    "is only a tunnel", b);
		return false;
	case ACT_REFUSE:
		break;
	}
	if (r == NULL) {
		shown(b, sizeof(b), o->name, 60);
		problem(im, im->src, e->line, "unknown option '%s'", b);
	} else if (strcmp(o->name, "permitopen") == 0)
		problem(im, im->src, e->line, "permitopen=\"%s\" limits this key to some destinations "
		    "but outpost grants whole fleets: drop the option to grant fleet %s, or leave the "
		    "user out", b, im->fleet);
	else
		problem(im, im->src, e->line, "%s", r->why);
	return false;
}

/* All of a line's options, in order (restrict then port-forwarding re-enables, as in sshd). */
static bool
apply_options(struct import *im, struct entry *e, const struct authkeys_line *l)
{
	bool fwd = true, ok = true;

	for (int i = 0; i < l->nopts; i++)
		ok = apply_option(im, e, &l->opts[i], &fwd) && ok;
	if (ok && !fwd) {
		problem(im, im->src, e->line, "this key may not forward ports (restrict or "
		    "no-port-forwarding without port-forwarding), so it %s",
		    im->users ? "could not use the jump host" : "is not a tunnel");
		return false;
	}
	return ok;
}

/* ---- key lines ---- */

/* Key types outpostd accepts by default (PubkeyAcceptedAlgorithms). */
static bool
type_accepted(const char *type)
{
	static const char *const ok[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-rsa",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(type, ok[i]) == 0)
			return true;
	return false;
}

/* The name from the comment, or from the port table through a permitlisten port. */
static bool
name_entry(struct import *im, struct entry *e)
{
	char b[80];

	if (!im->names_from_table) {
		if (names_from_comment(e->key.comment, e->name, sizeof(e->name)) == 0)
			return true;
		problem(im, im->src, e->line, "the comment '%s' gives no name: add one%s",
		    shown(b, sizeof(b), e->key.comment, 60),
		    im->users ? "" : ", or name devices with --names port-table");
		return false;
	}
	if (e->nlisten == 0) {
		problem(im, im->src, e->line, "no permitlisten port to look up in the port table");
		return false;
	}
	struct table_row *t = table_by_port(im, e->listen[0]);
	for (int i = 1; t != NULL && i < e->nlisten; i++)
		if (table_by_port(im, e->listen[i]) != NULL) {
			problem(im, im->src, e->line, "permitlisten ports %d and %d are both in the "
			    "port table", e->listen[0], e->listen[i]);
			return false;
		}
	if (t == NULL) {
		problem(im, im->src, e->line, "permitlisten port %d is not in the port table",
		    e->listen[0]);
		return false;
	}
	snprintf(e->name, sizeof(e->name), "%s", t->name);
	return true;
}

/* The device's port: the table's row for its name, else its permitlisten port. */
static void
port_entry(struct import *im, struct entry *e)
{
	struct table_row *t = table_by_name(im, e->name);

	e->port_src = "none";
	if (t != NULL) {
		t->used = true;
		e->port = t->port;
		e->port_src = "port-table";
		if (e->nlisten > 0 && e->listen[0] != t->port)
			note(e, "permitlisten %d differs from the port table's %d, which is used",
			    e->listen[0], t->port);
	} else if (e->nlisten > 0) {
		e->port = e->listen[0];
		e->port_src = "permitlisten";
	}
	if (e->nlisten > 1)
		note(e, "permitlisten gives %d ports; the first is shown", e->nlisten);
}

static struct entry *
new_entry(struct import *im, int lineno)
{
	if (cmd_grow((void **)&im->e, &im->cap, im->n, sizeof(*im->e)) != 0)
		return NULL;
	struct entry *e = &im->e[im->n];
	memset(e, 0, sizeof(*e));
	e->line = lineno;
	e->port_src = "none";
	return e;
}

/* One authorized_keys line: parsed, its options applied, named. Kept only if usable. Returns 0. */
static int
key_line(struct import *im, char *buf, size_t len, int lineno)
{
	struct authkeys_line l;
	char why[200];
	struct entry *e;
	int r = authkeys_parse(buf, len, &l, why, sizeof(why));

	if (r == 1)
		return 0;
	if (r != 0)
		return problem(im, im->src, lineno, "%s", r == ERR_NOMEM ? "out of memory" : why);
	if (im->n >= LIM_IMPORT_LINES || (e = new_entry(im, lineno)) == NULL) {
		authkeys_line_clear(&l);
		return problem(im, im->src, lineno, "more than %d keys", LIM_IMPORT_LINES);
	}
	bool ok = apply_options(im, e, &l);
	if (ok && !type_accepted(l.key.type)) {
		problem(im, im->src, lineno, "key type %s is not accepted by outpostd (ed25519, "
		    "ECDSA, RSA and their security-key forms)", l.key.type);
		ok = false;
	}
	e->key = l.key;			/* taken over */
	memset(&l.key, 0, sizeof(l.key));
	authkeys_line_clear(&l);
	if (ok && name_entry(im, e)) {
		if (!im->users)
			port_entry(im, e);
		im->n++;
	} else
		pubkey_clear(&e->key);
	return 0;
}

/* Reads f line by line into line_fn; an over-long line is a problem of src. Returns 0 or ERR_NOMEM. */
static int
read_lines(struct import *im, FILE *f, const char *src,
    int (*line_fn)(struct import *, char *, size_t, int))
{
	char *buf = malloc(LIM_KEYLINE + 1);
	size_t len;
	int r, lineno = 0;

	if (buf == NULL)
		return ERR_NOMEM;
	while ((r = read_line(f, buf, &len)) != 0) {
		lineno++;
		if (r == ERR_TOOLONG)
			problem(im, src, lineno, "line longer than %d bytes", LIM_KEYLINE);
		else
			line_fn(im, buf, len, lineno);
	}
	free(buf);
	return 0;
}

/* ---- checks across lines and against the store ---- */

/* The first earlier line with the same key, name or port as b: reported, never guessed. */
static void
check_duplicate(struct import *im, struct entry *b)
{
	for (struct entry *a = im->e; a < b; a++) {
		if (strcmp(a->key.fp, b->key.fp) == 0)
			problem(im, im->src, b->line, "the same key as line %d (%s)", a->line, a->key.fp);
		else if (strcmp(a->name, b->name) == 0)
			problem(im, im->src, b->line, "the name %s is also line %d's", b->name, a->line);
		else if (b->port != 0 && a->port == b->port)
			problem(im, im->src, b->line, "port %d is also %s's (line %d)", b->port, a->name,
			    a->line);
		else
			continue;
		b->taken = true;
		return;
	}
}

static void
check_duplicates(struct import *im)
{
	for (size_t i = 0; i < im->n; i++)
		check_duplicate(im, &im->e[i]);
}

static int
device_fp(void *arg, const struct store_device *d)
{
	snprintf(arg, PUBKEY_FP_MAX, "%s", d->key_fp ? d->key_fp : "?");
	return 0;
}

/* A device name already in the fleet: ERR_EXISTS with its key in fp (PUBKEY_FP_MAX), else 0. */
static int
device_taken(struct import *im, const struct entry *e, char *fp)
{
	char fleet[LIM_LABEL + 1];
	int64_t id;

	if (store_device_resolve(im->c->ctx->st, 0, e->name, im->fleet, &id, fleet) != 0)
		return 0;
	store_device_get(im->c->ctx->st, id, device_fp, fp);
	return ERR_EXISTS;
}

/* Who holds the key in the store: present (same name), free, or a problem. */
static void
check_key_owner(struct import *im, struct entry *e)
{
	struct store_principal p;

	if (store_principal_by_key(im->c->ctx->st, &e->key, &p) != 0)
		return;
	bool same = im->users ? p.kind == PRINCIPAL_USER && strcmp(p.name, e->name) == 0 :
	    p.kind == PRINCIPAL_DEVICE && strcmp(p.name, e->name) == 0 &&
	    strcmp(p.fleet, im->fleet) == 0;
	if (same) {
		e->present = true;
		return;
	}
	if (p.kind == PRINCIPAL_USER)
		problem(im, im->src, e->line, "key %s already belongs to user %s", e->key.fp, p.name);
	else
		problem(im, im->src, e->line, "key %s already belongs to device %s.%s", e->key.fp,
		    p.name, p.fleet);
	e->taken = true;	/* reported: its name is not checked again */
}

/* Users whose names an entry wants but whose keys differ. */
static int
user_taken(void *arg, const struct store_user *u)
{
	struct import *im = arg;

	for (size_t i = 0; i < im->n; i++)
		if (!im->e[i].present && !im->e[i].taken && strcmp(im->e[i].name, u->name) == 0)
			problem(im, im->src, im->e[i].line, "user %s already exists with another key "
			    "(%s)", u->name, u->key_fps[0] ? u->key_fps : "none");
	return 0;
}

static int
check_store(struct import *im)
{
	char fp[PUBKEY_FP_MAX];

	for (size_t i = 0; i < im->n; i++)
		if (!im->e[i].taken)
			check_key_owner(im, &im->e[i]);
	if (im->users)
		return store_user_list(im->c->ctx->st, user_taken, im);
	for (size_t i = 0; i < im->n; i++)
		if (!im->e[i].present && !im->e[i].taken && device_taken(im, &im->e[i], fp) != 0)
			problem(im, im->src, im->e[i].line, "device %s.%s already exists with another "
			    "key (%s)", im->e[i].name, im->fleet, fp);
	return 0;
}

/* ---- the plan and the write ---- */

/*
 * One line per key: NAME.FLEET (or the user), fingerprint, port and its
 * source (devices) or the grant (users), the input line; notes follow as
 * "#" lines. Ports are shown, not stored: the store has no place for them
 * until port-table routing (issue 18 item 3) adds one; this plan and the
 * port table are what that item will read.
 */
static void
print_plan(struct import *im)
{
	FILE *out = im->c->ctx->out;

	for (size_t i = 0; i < im->n; i++) {
		const struct entry *e = &im->e[i];
		if (im->users)
			fprintf(out, "%s  %s  grant %s", e->name, e->key.fp, im->fleet);
		else if (e->port != 0)
			fprintf(out, "%s.%s  %s  port %d %s", e->name, im->fleet, e->key.fp, e->port,
			    e->port_src);
		else
			fprintf(out, "%s.%s  %s  port - none", e->name, im->fleet, e->key.fp);
		fprintf(out, "  line %d%s\n", e->line, e->present ? "  (already imported)" : "");
		if (e->note[0] != '\0')
			fprintf(out, "#   line %d: %s\n", e->line, e->note);
	}
	for (size_t i = 0; i < im->ntab; i++)
		if (!im->tab[i].used)
			fprintf(out, "#   %s:%d: %d %s matches no key\n", im->tsrc, im->tab[i].line,
			    im->tab[i].port, im->tab[i].name);
}

/* The admin record: fleet, what, how many, and the names (while they fit). */
static void
audit_import(struct import *im, size_t added)
{
	struct jbuf *b = cmd_audit_begin(im->c), names;

	jbuf_init(&names, 2048);
	for (size_t i = 0; i < im->n; i++)
		if (!im->e[i].present)
			jbuf_addf(&names, "%s%s", names.len ? "," : "", im->e[i].name);
	jbuf_member_str(b, "fleet", im->fleet);
	jbuf_member_str(b, "import", im->users ? "users" : "devices");
	jbuf_member_int(b, "count", (int64_t)added);
	jbuf_member_str(b, "names", names.failed ? "(too many to list)" : names.data ? names.data : "");
	jbuf_free(&names);
}

static int
write_all(struct import *im, size_t *added)
{
	struct store_import_item *items = calloc(im->n + 1, sizeof(*items));
	size_t n = 0, failed;
	int r;

	*added = 0;
	if (items == NULL)
		return cmd_fail(im->c, "out of memory");
	for (size_t i = 0; i < im->n; i++)
		if (!im->e[i].present)
			items[n++] = (struct store_import_item){ im->e[i].name, &im->e[i].key };
	r = store_import(im->c->ctx->st, im->fleet, im->users, items, n, &failed);
	audit_import(im, n);
	free(items);
	if (r != 0)
		return cmd_audit_failed(im->c, r);	/* nothing was written */
	*added = n;
	return cmd_audit_ok(im->c);
}

/* ---- the command ---- */

static int
check_args(struct cmd_call *c, const struct cmd_opts *o, struct import *im)
{
	int r;

	if ((o->authkeys == NULL) == (o->users == NULL))
		return cmd_usage(c, "give --authorized-keys FILE (devices) or --users FILE (users)");
	if (o->nfleets != 1)
		return cmd_usage(c, "give exactly one --fleet");
	if ((r = cmd_label(c, "fleet", o->fleets[0], im->fleet)) != 0)
		return r;
	im->users = o->users != NULL;
	if (im->users && (o->ports != NULL || o->names != NULL))
		return cmd_usage(c, "--ports and --names are for devices (--authorized-keys)");
	if (o->names != NULL && strcmp(o->names, "comment") != 0 && strcmp(o->names, "port-table") != 0)
		return cmd_usage(c, "--names takes comment or port-table");
	im->names_from_table = o->names != NULL && strcmp(o->names, "port-table") == 0;
	if (im->names_from_table && o->ports == NULL)
		return cmd_usage(c, "--names port-table needs --ports FILE");
	if (o->ports != NULL && strcmp(o->ports, "-") == 0 && strcmp(o->authkeys, "-") == 0)
		return cmd_usage(c, "only one of --authorized-keys and --ports can be standard input");
	if ((r = store_fleet_get(c->ctx->st, im->fleet, NULL)) == ERR_NOTFOUND)
		return cmd_fail(c, "no fleet named %s; create it first with 'fleet add %s'", im->fleet,
		    im->fleet);
	return r == 0 ? 0 : cmd_store_fail(c, r);
}

/* Reads the port table (if any) and the keys; every problem is reported. */
static int
read_inputs(struct import *im, const struct cmd_opts *o)
{
	const char *opt = im->users ? "users" : "authorized-keys";
	FILE *f;
	int r;

	if (o->ports != NULL) {
		if ((r = open_input(im, "ports", o->ports, &f, &im->tsrc)) != 0)
			return r;
		r = read_lines(im, f, im->tsrc, table_line);
		close_input(im, f);
		if (r != 0)
			return cmd_fail(im->c, "out of memory");
	}
	if ((r = open_input(im, opt, im->users ? o->users : o->authkeys, &f, &im->src)) != 0)
		return r;
	r = read_lines(im, f, im->src, key_line);
	close_input(im, f);
	return r == 0 ? 0 : cmd_fail(im->c, "out of memory");
}

static void
import_free(struct import *im)
{
	for (size_t i = 0; i < im->n; i++)
		pubkey_clear(&im->e[i].key);
	free(im->e);
	free(im->tab);
}

static int
finish(struct import *im, bool dry_run)
{
	size_t present = 0, added = 0;
	const char *what = im->users ? "users" : "devices";
	int r;

	for (size_t i = 0; i < im->n; i++)
		present += im->e[i].present;
	print_plan(im);
	if (im->errors > 0)
		return cmd_fail(im->c, "%d problem%s; nothing imported", im->errors,
		    im->errors == 1 ? "" : "s");
	if (dry_run) {
		fprintf(im->c->ctx->out, "# dry run: %zu %s would be imported into fleet %s "
		    "(%zu already there); nothing written\n", im->n - present, what, im->fleet, present);
		return CMD_OK;
	}
	if ((r = write_all(im, &added)) != 0)
		return r;
	fprintf(im->c->ctx->out, "# imported %zu %s into fleet %s (%zu already there)\n", added, what,
	    im->fleet, present);
	return CMD_OK;
}

static int
import_sshd(struct cmd_call *c, int argc, char **argv)
{
	struct import im = { .c = c };
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_FLEET | OPT_AUTHKEYS | OPT_USERS | OPT_PORTS |
	    OPT_NAMES | OPT_DRYRUN, 0, 0, &o)) != 0 || (r = check_args(c, &o, &im)) != 0)
		return r;
	if ((r = read_inputs(&im, &o)) == 0) {
		check_duplicates(&im);
		if ((r = check_store(&im)) != 0)
			r = cmd_store_fail(c, r);
		else
			r = finish(&im, o.dry_run);
	}
	import_free(&im);
	return r;
}

static const struct cmd_entry import_subs[] = {
	{ .name = "sshd", .usage = "--authorized-keys FILE|--users FILE --fleet F [--ports FILE] "
	    "[--names comment|port-table] [--dry-run]", .exec = import_sshd, .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_import_entry = { .name = "import", .subs = import_subs };
