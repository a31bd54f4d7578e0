/*
 * cmd-enroll.c: enrollment and what technicians need to trust devices:
 * `token create|ls|revoke`, `enroll TOKEN NAME` (run by an enrolling key),
 * `report` (run by a device's agent), `known-hosts` and `ssh-config`.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli/cmd-int.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/names.h"
#include "common/timefmt.h"
#include "common/token.h"
#include "store/store.h"

#define HOSTKEYS_MAX 8192

/* The jump's address for tokens and ssh-config: --server, the daemon's, or hostname:2222. */
static void
server_addr(struct cmd_call *c, const char *opt, char *dst, size_t len)
{
	char host[200] = "localhost";

	if (opt != NULL) {
		snprintf(dst, len, "%s", opt);
		return;
	}
	if (c->ctx->server_addr != NULL) {
		snprintf(dst, len, "%s", c->ctx->server_addr);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(dst, len, "%s:2222", host);
}

/*
 * Reads the primary host key outpostd published as <state>/ssh_host_key.pub
 * (else, from an older outpostd, <state>/ssh_host_ed25519_key.pub): its
 * SHA-256 and its printed fingerprint.
 */
static int
host_key(struct cmd_call *c, unsigned char hash[32], char *fp, size_t fplen)
{
	char path[PATH_MAX];
	struct pubkey k;

	if (c->ctx->state_dir == NULL)
		return cmd_fail(c, "state directory unknown");
	snprintf(path, sizeof(path), "%s/ssh_host_key.pub", c->ctx->state_dir);
	if (access(path, F_OK) != 0)
		snprintf(path, sizeof(path), "%s/ssh_host_ed25519_key.pub", c->ctx->state_dir);
	if (pubkey_read_file(path, &k) != 0)
		return cmd_fail(c, "cannot read the server's host key %s: start outpostd once to create it",
		    path);
	int r = pubkey_sha256(&k, hash);
	snprintf(fp, fplen, "%s", k.fp);
	pubkey_clear(&k);
	return r == 0 ? 0 : cmd_fail(c, "the host key in %s is not usable", path);
}

/* HOST:PORT with a host, a port from 1 to 65535, nothing a config file or shell would split. */
static bool
addr_ok(const char *a)
{
	size_t n = strlen(a);
	const char *colon = strrchr(a, ':');

	return n > 2 && n < 200 && colon != NULL && colon != a && colon[1] != '\0' &&
	    strlen(colon + 1) <= 5 && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    atoi(colon + 1) >= 1 && atoi(colon + 1) <= 65535 &&
	    strcspn(a, " \t\r\n'\"\\") == n;
}

/* A new token's secret: TOKEN_SECRET_LEN hex characters from the kernel's random source. */
static int
new_secret(struct cmd_call *c, char secret[TOKEN_SECRET_LEN + 1])
{
	unsigned char rnd[TOKEN_SECRET_LEN / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return cmd_fail(c, "no randomness available");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

/* Stores the token's hash (never the secret) and writes the admin record. */
static int
record_token(struct cmd_call *c, const struct token *t, const char *fleet, long uses,
    int64_t expires, char hash[65])
{
	audit_hash_hex(t->secret, TOKEN_SECRET_LEN, hash);
	int r = store_token_add(c->ctx->st, hash, fleet, (int)uses, expires);
	struct jbuf *rec = cmd_audit_begin(c);
	jbuf_member_str(rec, "fleet", fleet);
	char id[13];
	snprintf(id, sizeof(id), "%.12s", hash);
	jbuf_member_str(rec, "token", id);
	if (r != 0)
		return cmd_audit_failed(c, r);
	return cmd_audit_ok(c);
}

static int
token_create(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char fleet[LIM_LABEL + 1], addr[400], fp[PUBKEY_FP_MAX], hash[65], text[LIM_TOKEN + 1];
	struct token t;
	int64_t ttl = 0;
	long uses = 1;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_FLEET | OPT_USES | OPT_TTL | OPT_SERVER, 0, 0, &o)) != 0)
		return r;
	if (o.nfleets != 1)
		return cmd_usage(c, "exactly one --fleet is needed");
	if ((r = cmd_label(c, "fleet", o.fleets[0], fleet)) != 0)
		return r;
	if (o.uses != NULL) {
		char *end;
		uses = strtol(o.uses, &end, 10);
		if (*o.uses == '\0' || *end != '\0' || uses < 0 || uses > 1000000)
			return cmd_usage(c, "--uses takes a count from 0 (unlimited) to 1000000");
	}
	/* At most 100 years, as for grants: now + ttl must not overflow. */
	if (o.ttl != NULL && (timefmt_parse_duration(o.ttl, &ttl) != 0 ||
	    ttl > INT64_C(100) * 366 * 86400))
		return cmd_usage(c, "bad --ttl '%.32s' (e.g. 30m, 24h, 7d)", o.ttl);
	server_addr(c, o.server, addr, sizeof(addr));
	/* the agent reads the address with hostport_parse: refuse what it would */
	if (!addr_ok(addr) || hostport_parse(addr, &t.server) != 0)
		return cmd_usage(c, "bad server address '%.64s' (want HOST:PORT or [IPv6]:PORT)", addr);
	if ((r = host_key(c, t.hostkey, fp, sizeof(fp))) != 0 || (r = new_secret(c, t.secret)) != 0)
		goto out;
	if (token_format(&t, text, sizeof(text)) != 0) {
		r = cmd_fail(c, "cannot write a token for the server address '%.64s'", addr);
		goto out;
	}
	int64_t expires = ttl > 0 ? timefmt_now() + ttl : 0;
	if ((r = record_token(c, &t, fleet, uses, expires, hash)) != 0)
		goto out;
	char when[32];
	timefmt_iso(expires, when, sizeof(when));
	fprintf(c->ctx->out, "token %.12s for fleet %s: %s, %s%s\n", hash, fleet,
	    uses == 0 ? "unlimited uses" : uses == 1 ? "1 use" : "several uses",
	    expires ? "expires " : "never expires", expires ? when : "");
	fprintf(c->ctx->out, "server %s, host key %s\n", addr, fp);
	fprintf(c->ctx->out, "on the device: outpost-agent enroll TOKEN --name NAME\n");
	fprintf(c->ctx->out, "or with OpenSSH: ssh -p PORT enroll@HOST TOKEN NAME\n");
	fprintf(c->ctx->out, "%s\n", text);
	r = CMD_OK;
out:
	token_clear(&t);
	explicit_bzero(text, sizeof(text));
	return r;
}

static const char *
token_state(const struct store_token *t)
{
	if (t->revoked)
		return "revoked";
	if (t->expires != 0 && t->expires <= timefmt_now())
		return "expired";
	if (t->uses_left == 0)
		return "used-up";
	return "active";
}

static int
token_line(void *arg, const struct store_token *t)
{
	FILE *out = arg;
	char when[32], left[16];

	timefmt_iso(t->expires, when, sizeof(when));
	if (t->uses_left < 0)
		snprintf(left, sizeof(left), "unlimited");
	else
		snprintf(left, sizeof(left), "%d", t->uses_left);
	fprintf(out, "%s  %s  %s  uses-left=%s  used=%d  expires=%s\n", t->id, t->fleet,
	    token_state(t), left, t->used, t->expires ? when : "never");
	return 0;
}

static int
token_json(void *arg, const struct store_token *t)
{
	struct cmd_json *js = arg;
	char when[32];

	timefmt_iso(t->expires, when, sizeof(when));
	cmd_json_item(js);
	jbuf_member_str(&js->j, "id", t->id);
	jbuf_member_str(&js->j, "fleet", t->fleet);
	jbuf_member_str(&js->j, "state", token_state(t));
	jbuf_member_int(&js->j, "uses_left", t->uses_left);
	jbuf_member_int(&js->j, "used", t->used);
	jbuf_member_str(&js->j, "expires", t->expires ? when : NULL);
	jbuf_obj_end(&js->j);
	return 0;
}

static int
token_ls(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct cmd_json js;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	if (!o.json)
		return cmd_listed(c, NULL, store_token_list(c->ctx->st, token_line, c->ctx->out));
	cmd_json_begin(&js);
	return cmd_listed(c, &js, store_token_list(c->ctx->st, token_json, &js));
}

static int
token_revoke(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0)
		return r;
	r = store_token_revoke(c->ctx->st, o.pos[0]);
	jbuf_member_str(cmd_audit_begin(c), "token", o.pos[0]);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "token %s revoked\n", o.pos[0]);
	return CMD_OK;
}

/*
 * Binds the calling key to NAME with a token. The secret is only hashed: the
 * admin record and outpostd's command record and log quote the command line
 * through token_redact.
 */
static int
enroll(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char name[LIM_LABEL + 1], fleet[LIM_LABEL + 1] = "", hash[65];
	struct token t;
	int r;

	if (c->ctx->role != CMD_ROLE_ENROLL || c->ctx->key == NULL)
		return cmd_fail(c, "enroll is run by the device: ssh -p PORT enroll@HOST TOKEN NAME");
	if ((r = cmd_parse(c, argc, argv, 0, 2, 2, &o)) != 0)
		return r;
	if (token_parse(o.pos[0], &t) != 0)
		return cmd_fail(c, "that is not an outpost token (op1:..., as `outpost token create` prints it)");
	audit_hash_hex(t.secret, TOKEN_SECRET_LEN, hash);
	token_clear(&t);
	if ((r = cmd_label(c, "device", o.pos[1], name)) != 0)
		return r;
	r = store_enroll(c->ctx->st, hash, name, c->ctx->key, fleet);
	struct jbuf *rec = cmd_audit_begin(c);
	jbuf_member_str(rec, "device", name);
	jbuf_member_str(rec, "fleet", fleet);
	jbuf_member_str(rec, "key_fp", c->ctx->key->fp);
	char id[13];
	snprintf(id, sizeof(id), "%.12s", hash);
	jbuf_member_str(rec, "token", id);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "enrolled %s.%s\n", name, fleet);
	return CMD_OK;
}

/* Appends one validated "TYPE BASE64" host key line to keys. */
static int
add_host_key(struct cmd_call *c, const char *line, struct jbuf *keys)
{
	struct pubkey k;

	if (pubkey_parse_line(line, &k) != 0)
		return cmd_usage(c, "bad --host-key '%.40s'", line);
	if (keys->len > 0)
		jbuf_add(keys, "\n", 1);
	jbuf_addf(keys, "%s %s", k.type, k.blob);
	pubkey_clear(&k);
	return keys->failed ? cmd_fail(c, "too many host keys") : 0;
}

/* Keeps a reported string printable and short. */
static void
clean(const char *src, char *dst, size_t len)
{
	size_t o = 0;

	for (; src != NULL && *src != '\0' && o + 1 < len; src++)
		dst[o++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[o] = '\0';
}

/* --uptime SECONDS (decimal, at most 100 years): *booted = now - SECONDS. */
static int
parse_uptime(struct cmd_call *c, const char *v, int64_t *booted)
{
	int64_t secs = 0;
	size_t n = strlen(v);

	if (n == 0 || n > 10 || strspn(v, "0123456789") != n)
		return cmd_usage(c, "bad --uptime '%.32s' (want seconds)", v);
	for (size_t i = 0; i < n; i++)
		secs = secs * 10 + (v[i] - '0');
	if (secs > 100LL * 366 * 86400)
		return cmd_usage(c, "bad --uptime '%.32s' (want seconds)", v);
	*booted = timefmt_now() - secs;
	return 0;
}

static int
report(struct cmd_call *c, int argc, char **argv)
{
	char host[128] = "", os[128] = "", ver[64] = "";
	int64_t booted = 0;
	struct jbuf keys;
	int r = 0;

	if (c->ctx->role != CMD_ROLE_DEVICE)
		return cmd_fail(c, "report is sent by a device's agent");
	jbuf_init(&keys, HOSTKEYS_MAX);
	for (int i = 1; i < argc && r == 0; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			r = cmd_usage(c, "%.32s needs a value", argv[i]);
		else if (strcmp(argv[i], "--hostname") == 0)
			clean(v, host, sizeof(host));
		else if (strcmp(argv[i], "--os") == 0)
			clean(v, os, sizeof(os));
		else if (strcmp(argv[i], "--version") == 0)
			clean(v, ver, sizeof(ver));
		else if (strcmp(argv[i], "--uptime") == 0)
			r = parse_uptime(c, v, &booted);
		else if (strcmp(argv[i], "--host-key") == 0)
			r = add_host_key(c, v, &keys);
		else
			r = cmd_usage(c, "unknown option '%.32s'", argv[i]);
	}
	if (r == 0 && (r = store_device_set_info(c->ctx->st, c->ctx->device_id, host, os, ver,
	    keys.data ? keys.data : "", booted)) != 0)
		r = cmd_store_fail(c, r);
	jbuf_free(&keys);
	if (r == 0)
		fprintf(c->ctx->out, "reported\n");
	return r;
}

static int
known_line(void *arg, const struct store_device_info *d)
{
	FILE *out = arg;
	const char *p = d->host_keys;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, "\n");
		fprintf(out, "%s.%s %.*s\n", d->name, d->fleet, (int)n, p);
		p += n + (p[n] == '\n');
	}
	return 0;
}

/*
 * A key outpostd learned from a plain device's sshd, under the names ssh
 * looks it up by: `name.fleet` for port 22 (and for the port-table port,
 * which `ssh-config --port-table` reaches with HostKeyAlias name.fleet),
 * `[name.fleet]:PORT` for another port, and `[localhost]:PORT` for the
 * port-table port (seed 000's verbatim `ssh -J jump -p PORT user@localhost`).
 * The recorded key only: a changed one waits for `device accept-hostkey`.
 */
static int
learned_line(void *arg, const struct store_hostkey *k)
{
	FILE *out = arg;

	if (k->port == 22)
		fprintf(out, "%s.%s", k->name, k->fleet);
	else
		fprintf(out, "[%s.%s]:%u", k->name, k->fleet, k->port);
	if (k->port != 22 && k->port == k->table_port)
		fprintf(out, ",%s.%s,[localhost]:%u", k->name, k->fleet, k->port);
	fprintf(out, " %s %s\n", k->type, k->key);
	return 0;
}

static int
known_hosts(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int64_t uid = c->ctx->admin ? 0 : c->ctx->user_id;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 0, 0, &o)) != 0)
		return r;
	r = store_device_info_list(c->ctx->st, uid, known_line, c->ctx->out);
	if (r == 0)
		r = store_hostkey_list(c->ctx->st, uid, learned_line, c->ctx->out);
	return r == 0 ? CMD_OK : cmd_store_fail(c, r);
}

struct config_walk {
	FILE *out;
	const char *jump;	/* user@host:port */
};

static void
host_block(struct config_walk *w, const char *fleet)
{
	fprintf(w->out,
	    "Host *.%s\n"
	    "    ProxyJump %s\n"
	    "    UserKnownHostsFile ~/.ssh/outpost_known_hosts\n"
	    "    StrictHostKeyChecking yes\n\n", fleet, w->jump);
}

static int
fleet_block(void *arg, const char *fleet, int ndevices)
{
	(void)ndevices;
	host_block(arg, fleet);
	return 0;
}

static int
user_blocks(void *arg, const struct store_user *u)
{
	struct config_walk *w = arg;
	const char *p = u->fleets;

	while (p != NULL && *p != '\0') {
		char fleet[LIM_LABEL + 1];
		size_t n = strcspn(p, ",");
		snprintf(fleet, sizeof(fleet), "%.*s", (int)(n < LIM_LABEL ? n : LIM_LABEL), p);
		host_block(w, fleet);
		p += n + (p[n] == ',');
	}
	return 0;
}

/* One device of the port table, for `ssh-config --port-table`. */
struct port_row {
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];
	uint32_t port;
};

struct port_rows {
	struct port_row *v;
	size_t n, cap;
};

static int
port_row_add(void *arg, const struct store_device *d)
{
	struct port_rows *rs = arg;

	if (d->port == 0)
		return 0;
	if (cmd_grow((void **)&rs->v, &rs->cap, rs->n, sizeof(*rs->v)) != 0)
		return ERR_NOMEM;
	struct port_row *p = &rs->v[rs->n++];
	snprintf(p->name, sizeof(p->name), "%s", d->name);
	snprintf(p->fleet, sizeof(p->fleet), "%s", d->fleet);
	p->port = d->port;
	return 0;
}

/*
 * The port-table form (seed 000's blocks: HostName localhost, Port N,
 * ProxyJump): `ssh NAME` keeps working for a migrated fleet. A bare name
 * is an alias only where it is unique among the listed devices.
 */
static int
port_table_config(struct cmd_call *c, const char *jump)
{
	struct port_rows rs = { 0 };
	int r;

	if (c->ctx->admin)
		r = store_device_list(c->ctx->st, port_row_add, &rs);
	else
		r = store_device_list_for_user(c->ctx->st, c->ctx->user_id, port_row_add, &rs);
	if (r != 0) {
		free(rs.v);
		return r == ERR_NOMEM ? cmd_fail(c, "out of memory") : cmd_store_fail(c, r);
	}
	fprintf(c->ctx->out, "# outpost: the port table; save `ssh -p PORT %s known-hosts` as ~/.ssh/outpost_known_hosts\n\n",
	    c->ctx->user ? "USER@HOST" : "HOST");
	for (size_t i = 0; i < rs.n; i++) {
		bool unique = true;
		for (size_t j = 0; j < rs.n && unique; j++)
			unique = j == i || strcmp(rs.v[i].name, rs.v[j].name) != 0;
		fprintf(c->ctx->out,
		    "Host %s.%s%s%s\n"
		    "    HostName localhost\n"
		    "    Port %u\n"
		    "    ProxyJump %s\n"
		    "    HostKeyAlias %s.%s\n"
		    "    UserKnownHostsFile ~/.ssh/outpost_known_hosts\n"
		    "    StrictHostKeyChecking yes\n\n",
		    rs.v[i].name, rs.v[i].fleet, unique ? " " : "", unique ? rs.v[i].name : "",
		    rs.v[i].port, jump, rs.v[i].name, rs.v[i].fleet);
	}
	free(rs.v);
	return CMD_OK;
}

static int
ssh_config(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	char addr[400], jump[480];
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_SERVER | OPT_PORT_TABLE, 0, 0, &o)) != 0)
		return r;
	server_addr(c, o.server, addr, sizeof(addr));
	if (!addr_ok(addr))
		return cmd_usage(c, "bad server address '%.64s' (want HOST:PORT)", addr);
	snprintf(jump, sizeof(jump), "%s%s%s", c->ctx->user ? c->ctx->user : "",
	    c->ctx->user ? "@" : "", addr);
	if (o.port_table)
		return port_table_config(c, jump);
	struct config_walk w = { c->ctx->out, jump };
	fprintf(c->ctx->out, "# outpost: save `ssh -p PORT %s known-hosts` as ~/.ssh/outpost_known_hosts\n\n",
	    c->ctx->user ? "USER@HOST" : "HOST");
	if (c->ctx->admin)
		r = store_fleet_list(c->ctx->st, fleet_block, &w);
	else
		r = store_user_get(c->ctx->st, c->ctx->user_id, user_blocks, &w);
	return r == 0 ? CMD_OK : cmd_store_fail(c, r);
}

static const struct cmd_entry token_subs[] = {
	{ .name = "create", .usage = "--fleet F [--uses N] [--ttl DURATION] [--server HOST:PORT]",
	    .exec = token_create, .changes = true },
	{ .name = "ls", .usage = "[--json]", .exec = token_ls },
	{ .name = "revoke", .usage = "ID", .exec = token_revoke, .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_token_entry = { .name = "token", .subs = token_subs };
const struct cmd_entry cmd_enroll_entry = {
	.name = "enroll", .usage = "TOKEN NAME", .exec = enroll, .changes = true,
	.roles = CMD_FOR_ENROLL,
};
const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.usage = "--hostname H --os O --version V --uptime S [--host-key 'TYPE B64']...",
	.exec = report, .roles = CMD_FOR_DEVICE,
};
const struct cmd_entry cmd_known_hosts_entry = {
	.name = "known-hosts", .usage = "", .exec = known_hosts, .user_ok = true,
};
const struct cmd_entry cmd_ssh_config_entry = {
	.name = "ssh-config", .usage = "[--server HOST:PORT] [--port-table]", .exec = ssh_config,
	.user_ok = true,
};
