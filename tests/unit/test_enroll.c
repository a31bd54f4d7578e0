/*
 * test_enroll.c: enrollment through the command layer (token create|ls|revoke,
 * enroll, report, known-hosts, ssh-config) against a temp state directory with
 * a real host key, as each role: hostile input and refusals first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/timefmt.h"
#include "ssh/pubkey.h"
#include "store/store.h"
#include "testutil.h"

#define NKEYS 7		/* k0 alice, k1-k5 devices, k6 bob */
#define SERVER "jump.example.com:2222"

static char *keydir;
static struct pubkey keys[NKEYS];
static char key_path[NKEYS][600];
static char hk_line[2][1024];		/* device sshd host keys: ecdsa, rsa */
static struct pubkey hk[2];

struct fixture {
	char *dir;
	char state[600];
	char log[640];
	char hostpub[640];
	struct audit *audit;
	struct store *st;
	struct cmd_ctx ctx;
	char *out, *err;
};

/* Who runs a command. */
struct caller {
	enum cmd_role role;
	bool admin;
	int64_t uid;
	const char *user;
	const struct pubkey *key;
	int64_t did;
};

/* ---- fixture ---- */

static int
group_setup(void **state)
{
	char name[8];

	(void)state;
	if ((keydir = tu_mkdtemp()) == NULL)
		return -1;
	for (int i = 0; i < NKEYS; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(key_path[i], sizeof(key_path[i]), "%s/k%d.pub", keydir, i);
		if (tu_keygen(keydir, name, "ed25519") != 0 || pubkey_read_file(key_path[i], &keys[i]) != 0)
			return -1;
	}
	const char *types[2] = { "ecdsa", "rsa" };
	for (int i = 0; i < 2; i++) {
		char path[700];
		snprintf(name, sizeof(name), "h%d", i);
		snprintf(path, sizeof(path), "%s/h%d.pub", keydir, i);
		char *s = NULL;
		if (tu_keygen(keydir, name, types[i]) != 0 || (s = tu_slurp(path)) == NULL ||
		    pubkey_read_file(path, &hk[i]) != 0)
			return -1;
		s[strcspn(s, "\n")] = '\0';
		snprintf(hk_line[i], sizeof(hk_line[i]), "%s", s);
		free(s);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NKEYS; i++)
		pubkey_clear(&keys[i]);
	for (int i = 0; i < 2; i++)
		pubkey_clear(&hk[i]);
	tu_rmrf(keydir);
	free(keydir);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/audit.log", fx->state);
	snprintf(fx->hostpub, sizeof(fx->hostpub), "%s/ssh_host_ed25519_key.pub", fx->state);
	if (store_open(fx->state, &fx->st) != 0 || audit_open(fx->state, &fx->audit) != 0 ||
	    tu_keygen(fx->state, "ssh_host_ed25519_key", "ed25519") != 0)
		return -1;
	fx->ctx = (struct cmd_ctx){ .st = fx->st, .admin = true, .audit = fx->audit,
	    .state_dir = fx->state };
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	audit_close(fx->audit);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx->out);
	free(fx->err);
	free(fx);
	return 0;
}

/* ---- running commands ---- */

static const struct caller LOCAL = { CMD_ROLE_LOCAL, true, 0, NULL, NULL, 0 };

static struct caller
as_enroll(int k)
{
	return (struct caller){ CMD_ROLE_ENROLL, false, 0, "enroll", &keys[k], 0 };
}

/* The principal that owns key k, which must exist. */
static struct store_principal
owner(struct fixture *fx, int k)
{
	struct store_principal p;

	assert_int_equal(store_principal_by_key(fx->st, &keys[k], &p), 0);
	return p;
}

static struct caller
as_device(struct fixture *fx, int k)
{
	struct store_principal p = owner(fx, k);

	assert_int_equal(p.kind, PRINCIPAL_DEVICE);
	return (struct caller){ CMD_ROLE_DEVICE, false, 0, NULL, &keys[k], p.id };
}

static struct caller
as_user(struct fixture *fx, int k, const char *name)
{
	struct store_principal p = owner(fx, k);

	assert_int_equal(p.kind, PRINCIPAL_USER);
	return (struct caller){ CMD_ROLE_USER, p.admin, p.id, name, &keys[k], 0 };
}

static int
run_argv(struct fixture *fx, struct caller who, int argc, char **argv)
{
	size_t ol, el;

	free(fx->out);
	free(fx->err);
	fx->ctx.role = who.role;
	fx->ctx.remote = who.role != CMD_ROLE_LOCAL;
	fx->ctx.admin = who.admin;
	fx->ctx.user_id = who.uid;
	fx->ctx.user = who.user;
	fx->ctx.key = who.key;
	fx->ctx.device_id = who.did;
	fx->ctx.in = NULL;
	fx->ctx.out = open_memstream(&fx->out, &ol);
	fx->ctx.err = open_memstream(&fx->err, &el);
	int r = cmd_run(&fx->ctx, argc, argv);
	fclose(fx->ctx.out);
	fclose(fx->ctx.err);
	return r;
}

/* Splits line as outpostd would (so it must be a valid exec line) and runs it. */
static int
run(struct fixture *fx, struct caller who, const char *line)
{
	char **argv;
	int argc;

	if (cmd_split(line, strlen(line), &argv, &argc, NULL) != 0)
		fail_msg("cannot split '%s'", line);
	int r = run_argv(fx, who, argc, argv);
	cmd_argv_free(argv);
	return r;
}

static void __attribute__((format(printf, 5, 6)))
expect(struct fixture *fx, struct caller who, int status, const char *err_part, const char *fmt, ...)
{
	char line[LIM_EXEC_CMD + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	int r = run(fx, who, line);
	if (r != status)
		fail_msg("'%s' exited %d, want %d; out <%s> err <%s>", line, r, status, fx->out, fx->err);
	if (status == CMD_OK && fx->err[0] != '\0')
		fail_msg("'%s' succeeded with errors <%s>", line, fx->err);
	if (status != CMD_OK && fx->out[0] != '\0')
		fail_msg("'%s' failed with output <%s>", line, fx->out);
	if (err_part != NULL && strstr(fx->err, err_part) == NULL)
		fail_msg("'%s' errored <%s>, want <%s>", line, fx->err, err_part);
}

/* acme and beta; alice (k0) granted acme, bob (k6) nothing. */
static void
populate(struct fixture *fx)
{
	expect(fx, LOCAL, CMD_OK, NULL, "fleet add acme");
	expect(fx, LOCAL, CMD_OK, NULL, "fleet add beta");
	expect(fx, LOCAL, CMD_OK, NULL, "user add alice --key '%s' --fleet acme", key_path[0]);
	expect(fx, LOCAL, CMD_OK, NULL, "user add bob --key '%s'", key_path[6]);
}

/* ---- tokens ---- */

struct token {
	char text[600];
	char addr[300];
	unsigned char hostkey[32];
	char secret[40];
	char id[13];
	char hash[65];
};

/* base64url of s into dst: the decoded length, or -1. */
static long
b64url(const char *s, void *dst, size_t dstlen)
{
	size_t n;

	return b64_decode(B64_URL, s, strlen(s), dst, dstlen, &n) == 0 ? (long)n : -1;
}

/* Takes the token from the last line of out and checks every part of it. */
static void
parse_token(const char *out, struct token *t)
{
	const char *nl = out + strlen(out);
	char *save, *f[5];
	int n = 0;

	memset(t, 0, sizeof(*t));
	assert_true(nl > out && nl[-1] == '\n');
	const char *last = nl - 1;
	while (last > out && last[-1] != '\n')
		last--;
	assert_true(nl - 1 - last < (long)sizeof(t->text));
	memcpy(t->text, last, (size_t)(nl - 1 - last));
	char copy[600];
	snprintf(copy, sizeof(copy), "%s", t->text);
	for (char *p = strtok_r(copy, ":", &save); p != NULL && n < 5; p = strtok_r(NULL, ":", &save))
		f[n++] = p;
	if (n != 4 || strcmp(f[0], "op1") != 0)
		fail_msg("token '%s' is not op1:ADDR:KEY:SECRET", t->text);
	long len = b64url(f[1], t->addr, sizeof(t->addr) - 1);
	assert_true(len > 0);
	t->addr[len] = '\0';
	unsigned char big[40];
	assert_int_equal(b64url(f[2], big, sizeof(big)), 32);
	memcpy(t->hostkey, big, 32);
	assert_int_equal(strlen(f[3]), 32);
	assert_int_equal(strspn(f[3], "0123456789abcdef"), 32);
	snprintf(t->secret, sizeof(t->secret), "%s", f[3]);
	audit_hash_hex(t->secret, 32, t->hash);
	snprintf(t->id, sizeof(t->id), "%.12s", t->hash);
	/* the first line names the token by the same id */
	char head[40];
	snprintf(head, sizeof(head), "token %s for fleet ", t->id);
	if (strncmp(out, head, strlen(head)) != 0)
		fail_msg("output <%s> does not start with <%s>", out, head);
}

/* The SHA-256 of the server's host key blob, as a token must carry it. */
static void
host_key_hash(struct fixture *fx, unsigned char out[32])
{
	struct pubkey k;

	assert_int_equal(pubkey_read_file(fx->hostpub, &k), 0);
	assert_int_equal(pubkey_sha256(&k, out), 0);
	pubkey_clear(&k);
}

static void __attribute__((format(printf, 3, 4)))
make_token(struct fixture *fx, struct token *t, const char *fmt, ...)
{
	char args[512];
	unsigned char want[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	expect(fx, LOCAL, CMD_OK, NULL, "token create --server " SERVER " %s", args);
	parse_token(fx->out, t);
	assert_string_equal(t->addr, SERVER);
	host_key_hash(fx, want);
	assert_memory_equal(t->hostkey, want, 32);
}

/* The `token ls` line of id, copied into line; fails if there is none. */
static void
ls_line(struct fixture *fx, const char *id, char *line, size_t len)
{
	expect(fx, LOCAL, CMD_OK, NULL, "token ls");
	const char *p = strstr(fx->out, id);
	if (p == NULL || (p != fx->out && p[-1] != '\n'))
		fail_msg("no token %s in <%s>", id, fx->out);
	snprintf(line, len, "%.*s", (int)strcspn(p, "\n"), p);
}

static void
expect_ls(struct fixture *fx, const char *id, const char *want_part)
{
	char line[300];

	ls_line(fx, id, line, sizeof(line));
	if (strstr(line, want_part) == NULL)
		fail_msg("token line <%s> lacks <%s>", line, want_part);
}

static int
count_tokens(struct fixture *fx)
{
	int n = 0;

	expect(fx, LOCAL, CMD_OK, NULL, "token ls");
	for (const char *p = fx->out; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

static void
test_token_create_refused(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad_uses[] = {
		"-1", "abc", "''", "1000001", "3x", "0x10", "99999999999999999999", "1.5",
	};
	static const char *const bad_ttl[] = {
		"0", "0s", "abc", "-5m", "1h30", "5x", "''", "m", "9223372036854775807s",
		"9223372036854775000s", "106751991167300d",
	};
	static const char *const bad_server[] = {
		"nocolon", "host:", "host:abc", "'a b:22'", "'host:22 '", "host:-1", "'x\"y:22'",
		":2222", "host:0", "host:65536", "host:99999999999999999999",
	};

	expect(fx, LOCAL, CMD_USAGE, "exactly one --fleet", "token create");
	expect(fx, LOCAL, CMD_USAGE, "exactly one --fleet", "token create --fleet acme --fleet beta");
	expect(fx, LOCAL, CMD_USAGE, "invalid fleet name", "token create --fleet 'Bad Name'");
	expect(fx, LOCAL, CMD_USAGE, "invalid fleet name", "token create --fleet ''");
	expect(fx, LOCAL, CMD_USAGE, "unknown option", "token create --fleet acme --admin");
	expect(fx, LOCAL, CMD_USAGE, "too many arguments", "token create --fleet acme extra");
	expect(fx, LOCAL, CMD_USAGE, "missing sub-command", "token");
	expect(fx, LOCAL, CMD_USAGE, "unknown sub-command", "token rm x");
	/* the fleet must exist */
	expect(fx, LOCAL, CMD_FAIL, "no fleet named acme", "token create --fleet acme");
	populate(fx);
	for (size_t i = 0; i < sizeof(bad_uses) / sizeof(bad_uses[0]); i++)
		expect(fx, LOCAL, CMD_USAGE, "--uses takes a count", "token create --fleet acme --uses %s",
		    bad_uses[i]);
	expect(fx, LOCAL, CMD_USAGE, "--uses given twice", "token create --fleet acme --uses 1 --uses 2");
	expect(fx, LOCAL, CMD_USAGE, "--uses needs a value", "token create --fleet acme --uses");
	for (size_t i = 0; i < sizeof(bad_ttl) / sizeof(bad_ttl[0]); i++)
		expect(fx, LOCAL, CMD_USAGE, "--ttl", "token create --fleet acme --ttl %s", bad_ttl[i]);
	for (size_t i = 0; i < sizeof(bad_server) / sizeof(bad_server[0]); i++)
		expect(fx, LOCAL, CMD_USAGE, "bad server address",
		    "token create --fleet acme --server %s", bad_server[i]);
	char longhost[600];
	memset(longhost, 'h', 300);
	snprintf(longhost + 300, sizeof(longhost) - 300, ":2222");
	expect(fx, LOCAL, CMD_USAGE, "bad server address", "token create --fleet acme --server %s",
	    longhost);
	/* a bad PublicAddress is refused too, not put into tokens */
	fx->ctx.server_addr = "no-port-here";
	expect(fx, LOCAL, CMD_USAGE, "bad server address", "token create --fleet acme");
	fx->ctx.server_addr = NULL;
	/* the host key must be there and be a key */
	char moved[700];
	snprintf(moved, sizeof(moved), "%s.moved", fx->hostpub);
	assert_int_equal(rename(fx->hostpub, moved), 0);
	expect(fx, LOCAL, CMD_FAIL, "cannot read the server's host key", "token create --fleet acme");
	FILE *f = fopen(fx->hostpub, "w");
	assert_non_null(f);
	fputs("ssh-ed25519 AAAAnotakey host\n", f);
	fclose(f);
	expect(fx, LOCAL, CMD_FAIL, "cannot read the server's host key", "token create --fleet acme");
	fx->ctx.state_dir = NULL;
	expect(fx, LOCAL, CMD_FAIL, "state directory unknown", "token create --fleet acme");
	fx->ctx.state_dir = fx->state;
	/* without an audit log, no token */
	fx->ctx.audit = NULL;
	assert_int_equal(rename(moved, fx->hostpub), 0);
	expect(fx, LOCAL, CMD_FAIL, "audit log unavailable", "token create --fleet acme");
	fx->ctx.audit = fx->audit;
	/* nothing refused left a token behind */
	assert_int_equal(count_tokens(fx), 0);
}

static void
test_token_create(void **state)
{
	struct fixture *fx = *state;
	struct token t, t2;
	char line[300];

	populate(fx);
	make_token(fx, &t, "--fleet acme");
	assert_non_null(strstr(fx->out, ": 1 use, never expires\n"));
	expect_ls(fx, t.id, "  acme  active  uses-left=1  used=0  expires=never");
	make_token(fx, &t2, "--fleet ACME --uses 0");
	assert_non_null(strstr(fx->out, ": unlimited uses, never expires\n"));
	expect_ls(fx, t2.id, "  acme  active  uses-left=unlimited  used=0  expires=never");
	assert_string_not_equal(t.secret, t2.secret);
	make_token(fx, &t, "--fleet beta --uses 3");
	expect_ls(fx, t.id, "  beta  active  uses-left=3  used=0  expires=never");
	make_token(fx, &t, "--fleet acme --uses=1000000 --ttl 2h");
	assert_non_null(strstr(fx->out, ", expires 20"));
	ls_line(fx, t.id, line, sizeof(line));
	assert_non_null(strstr(line, "  acme  active  uses-left=1000000  used=0  expires=20"));
	/* the expiry is about two hours away */
	int64_t now = timefmt_now(), exp = 0;
	char iso[32], want[32];
	sscanf(strstr(line, "expires=") + 8, "%31s", iso);
	for (int64_t d = -5; d <= 5 && exp == 0; d++) {
		timefmt_iso(now + 7200 + d, want, sizeof(want));
		if (strcmp(iso, want) == 0)
			exp = now + 7200 + d;
	}
	if (exp == 0)
		fail_msg("expiry %s is not 2h from now", iso);
	/* the address: --server, else the daemon's PublicAddress, else hostname:2222 */
	fx->ctx.server_addr = "[2001:db8::1]:22";
	expect(fx, LOCAL, CMD_OK, NULL, "token create --fleet acme");
	parse_token(fx->out, &t);
	assert_string_equal(t.addr, "[2001:db8::1]:22");
	expect(fx, LOCAL, CMD_OK, NULL, "token create --fleet acme --server other.example:443");
	parse_token(fx->out, &t);
	assert_string_equal(t.addr, "other.example:443");
	fx->ctx.server_addr = NULL;
	char host[256], hp[300];
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(hp, sizeof(hp), "%s:2222", host);
	expect(fx, LOCAL, CMD_OK, NULL, "token create --fleet acme");
	parse_token(fx->out, &t);
	assert_string_equal(t.addr, hp);
	/* a new host key changes the pin */
	unsigned char before[32], after[32];
	host_key_hash(fx, before);
	char priv[700];
	snprintf(priv, sizeof(priv), "%s/ssh_host_ed25519_key", fx->state);
	assert_int_equal(unlink(priv), 0);
	assert_int_equal(unlink(fx->hostpub), 0);
	assert_int_equal(tu_keygen(fx->state, "ssh_host_ed25519_key", "ed25519"), 0);
	host_key_hash(fx, after);
	assert_memory_not_equal(before, after, 32);
	make_token(fx, &t, "--fleet acme");	/* checks the new hash */
	assert_int_equal(count_tokens(fx), 8);
	/* the primary of several HostKeys, as outpostd publishes it, wins over the default's file */
	assert_int_equal(tu_keygen(fx->state, "ssh_host_key", "ecdsa"), 0);
	snprintf(fx->hostpub, sizeof(fx->hostpub), "%s/ssh_host_key.pub", fx->state);
	make_token(fx, &t, "--fleet acme");
	host_key_hash(fx, before);
	assert_memory_equal(t.hostkey, before, 32);
	assert_memory_not_equal(before, after, 32);
}

/* ---- enroll ---- */

static int
enroll(struct fixture *fx, int k, const char *token, const char *name)
{
	char line[900];

	snprintf(line, sizeof(line), "enroll '%s' '%s'", token, name);
	return run(fx, as_enroll(k), line);
}

static void
expect_enrolled(struct fixture *fx, int k, const char *token, const char *name, const char *fleet)
{
	char want[200];

	if (enroll(fx, k, token, name) != CMD_OK)
		fail_msg("enroll %s with k%d failed: %s", name, k, fx->err);
	snprintf(want, sizeof(want), "enrolled %s.%s\n", name, fleet);
	assert_string_equal(fx->out, want);
	assert_string_equal(fx->err, "");
	struct store_principal p = owner(fx, k);
	assert_int_equal(p.kind, PRINCIPAL_DEVICE);
	assert_string_equal(p.name, name);
	assert_string_equal(p.fleet, fleet);
}

static void
expect_refused(struct fixture *fx, int k, const char *token, const char *name, int status,
    const char *why)
{
	struct store_principal p;
	int before = 0;

	int had = store_principal_by_key(fx->st, &keys[k], &p);
	before = had == 0 ? (int)p.kind : -1;
	int r = enroll(fx, k, token, name);
	if (r != status || strstr(fx->err, why) == NULL)
		fail_msg("enroll '%s' '%.40s' with k%d: %d <%s>, want %d <%s>", name, token, k, r,
		    fx->err, status, why);
	assert_string_equal(fx->out, "");
	/* the key is bound to nothing new */
	had = store_principal_by_key(fx->st, &keys[k], &p);
	assert_int_equal(had == 0 ? (int)p.kind : -1, before);
}

static void
test_enroll_hostile(void **state)
{
	struct fixture *fx = *state;
	struct token t;
	char tok[700];
	static const char *const names[] = {
		"", "pi-", "pi.acme", "pi acme", "../pi", "pi/x", "pi;id", "*", "pi_hq",
		"p\xc3\xaf", "0123456789012345678901234567890123456789012345678901234567890123",
	};

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 0");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		expect_refused(fx, 1, t.text, names[i], CMD_USAGE, "invalid device name");
	snprintf(tok, sizeof(tok), "enroll '%s' -pi", t.text);
	assert_int_equal(run(fx, as_enroll(1), tok), CMD_USAGE);
	assert_non_null(strstr(fx->err, "unknown option '-pi'"));
	snprintf(tok, sizeof(tok), "enroll '%s' -- -pi", t.text);
	assert_int_equal(run(fx, as_enroll(1), tok), CMD_USAGE);
	assert_non_null(strstr(fx->err, "invalid device name '-pi'"));
	char *argv[] = { "enroll", t.text, "pi\x1b[2J", NULL };
	assert_int_equal(run_argv(fx, as_enroll(1), 3, argv), CMD_USAGE);
	assert_null(strchr(fx->err, '\x1b'));
	/* malformed tokens */
	static const char *const bad[] = {
		"", "op1:", "op1:::", "op2:a:b:0123456789abcdef0123456789abcdef", "garbage",
		"OP1:a:b:0123456789abcdef0123456789abcdef",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(fx, 1, bad[i], "pi", CMD_FAIL, "that is not an outpost token");
	const char *secret_at = strrchr(t.text, ':') + 1;
	size_t head = (size_t)(secret_at - t.text);
	/* the secret: upper case, short, long, not hex */
	snprintf(tok, sizeof(tok), "%.*s%s", (int)head, t.text, "0123456789ABCDEF0123456789ABCDEF");
	expect_refused(fx, 1, tok, "pi", CMD_FAIL, "not an outpost token");
	snprintf(tok, sizeof(tok), "%s0", t.text);
	expect_refused(fx, 1, tok, "pi", CMD_FAIL, "not an outpost token");
	snprintf(tok, sizeof(tok), "%.*s", (int)strlen(t.text) - 1, t.text);
	expect_refused(fx, 1, tok, "pi", CMD_FAIL, "not an outpost token");
	snprintf(tok, sizeof(tok), "%.*s%s", (int)head, t.text, "0123456789abcdef0123456789abcdeg");
	expect_refused(fx, 1, tok, "pi", CMD_FAIL, "not an outpost token");
	/* over-long */
	char big[2000];
	memset(big, 'A', sizeof(big));
	memcpy(big, "op1:", 4);
	snprintf(big + 1500, sizeof(big) - 1500, ":%s", secret_at);
	char *bargv[] = { "enroll", big, "pi", NULL };
	assert_int_equal(run_argv(fx, as_enroll(1), 3, bargv), CMD_FAIL);
	assert_non_null(strstr(fx->err, "not an outpost token"));
	/* well-formed, but no such secret */
	snprintf(tok, sizeof(tok), "%.*s%s", (int)head, t.text, "00000000000000000000000000000000");
	expect_refused(fx, 1, tok, "pi", CMD_FAIL, "unknown token");
	/* missing or extra words */
	snprintf(tok, sizeof(tok), "enroll '%s'", t.text);
	assert_int_equal(run(fx, as_enroll(1), tok), CMD_USAGE);
	snprintf(tok, sizeof(tok), "enroll '%s' pi extra", t.text);
	assert_int_equal(run(fx, as_enroll(1), tok), CMD_USAGE);
	assert_int_equal(run(fx, as_enroll(1), "enroll"), CMD_USAGE);
	/* an enrolling caller without a key (cannot happen over SSH) binds nothing */
	struct caller nokey = as_enroll(1);
	nokey.key = NULL;
	snprintf(tok, sizeof(tok), "enroll '%s' pi", t.text);
	assert_int_equal(run(fx, nokey, tok), CMD_FAIL);
	/* nothing was enrolled, the unlimited token was never used */
	expect_ls(fx, t.id, "active  uses-left=unlimited  used=0");
	expect(fx, LOCAL, CMD_OK, NULL, "device ls");
	assert_null(strstr(fx->out, "acme"));
}

static void
test_enroll(void **state)
{
	struct fixture *fx = *state;
	struct token t, one;

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 3");
	expect_enrolled(fx, 1, t.text, "pi-hq", "acme");
	expect_ls(fx, t.id, "active  uses-left=2  used=1");
	/* names are normalized like everywhere else */
	assert_int_equal(enroll(fx, 2, t.text, "Pi-Lab"), CMD_OK);
	assert_string_equal(fx->out, "enrolled pi-lab.acme\n");
	assert_string_equal(owner(fx, 2).name, "pi-lab");
	expect_ls(fx, t.id, "active  uses-left=1  used=2");
	/* the same key and name again: fine, and the token is not used again */
	expect_enrolled(fx, 1, t.text, "pi-hq", "acme");
	expect_ls(fx, t.id, "active  uses-left=1  used=2");
	/* a name bound to another key */
	expect_refused(fx, 3, t.text, "pi-hq", CMD_FAIL, "the name pi-hq.acme is already bound to another key");
	/* a key bound to something else: another device, or a user */
	expect_refused(fx, 1, t.text, "pi-other", CMD_FAIL, "already belongs to device pi-hq.acme");
	expect_refused(fx, 0, t.text, "alice-pi", CMD_FAIL, "already belongs to user alice");
	expect_ls(fx, t.id, "active  uses-left=1  used=2");
	expect(fx, LOCAL, CMD_OK, NULL, "device ls");
	assert_null(strstr(fx->out, "pi-other"));
	assert_null(strstr(fx->out, "alice-pi"));
	/* the last use */
	expect_enrolled(fx, 3, t.text, "pi-3", "acme");
	expect_ls(fx, t.id, "used-up  uses-left=0  used=3");
	expect_refused(fx, 4, t.text, "pi-4", CMD_FAIL, "this token has been used up");
	/* re-enrolling with the same key after the token is used up (the agent's
	 * retry after a lost reply) still succeeds, and uses nothing */
	make_token(fx, &one, "--fleet beta");
	expect_enrolled(fx, 4, one.text, "gw", "beta");
	expect_ls(fx, one.id, "used-up  uses-left=0  used=1");
	expect_enrolled(fx, 4, one.text, "gw", "beta");
	expect_ls(fx, one.id, "used-up  uses-left=0  used=1");
	/* but not under another name, nor another key under that name */
	expect_refused(fx, 4, one.text, "gw2", CMD_FAIL, "this token has been used up");
	expect_refused(fx, 5, one.text, "gw", CMD_FAIL, "this token has been used up");
	/* the same name in another fleet is another device */
	make_token(fx, &one, "--fleet beta");
	expect_enrolled(fx, 5, one.text, "pi-hq", "beta");
	/* the bound keys log in as those devices */
	struct store_principal p = owner(fx, 1);
	int64_t id = 0;
	char fleet[LIM_LABEL + 1];
	assert_int_equal(store_device_resolve(fx->st, 0, "pi-hq", "acme", &id, fleet), 0);
	assert_int_equal(id, p.id);
	assert_string_equal(owner(fx, 5).fleet, "beta");
	expect(fx, LOCAL, CMD_OK, NULL, "device ls");
	assert_non_null(strstr(fx->out, "pi-hq.beta"));
	assert_non_null(strstr(fx->out, "gw.beta"));
	assert_non_null(strstr(fx->out, "pi-3.acme"));
}

static void
test_enroll_token_states(void **state)
{
	struct fixture *fx = *state;
	struct token t, r, e, u;
	char old_hash[65];
	const char *old_secret = "0123456789abcdef0123456789abcdef";

	populate(fx);
	make_token(fx, &t, "--fleet acme");
	make_token(fx, &r, "--fleet acme --uses 0");
	make_token(fx, &e, "--fleet acme --ttl 1s");
	make_token(fx, &u, "--fleet acme");
	/* one expired long ago, put into the store directly */
	audit_hash_hex(old_secret, 32, old_hash);
	assert_int_equal(store_token_add(fx->st, old_hash, "acme", 5, timefmt_now() - 60), 0);
	expect_enrolled(fx, 1, u.text, "used", "acme");
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %s", r.id);
	sleep(2);
	expect_ls(fx, t.id, "  acme  active  uses-left=1  used=0  expires=never");
	expect_ls(fx, r.id, "  acme  revoked  uses-left=unlimited  used=0");
	expect_ls(fx, e.id, "  acme  expired  uses-left=1  used=0  expires=20");
	expect_ls(fx, u.id, "  acme  used-up  uses-left=0  used=1  expires=never");
	char old_id[13];
	snprintf(old_id, sizeof(old_id), "%.12s", old_hash);
	expect_ls(fx, old_id, "  acme  expired  uses-left=5  used=0  expires=20");
	/* each refused with its reason */
	expect_refused(fx, 2, u.text, "pi", CMD_FAIL, "outpost: enroll: this token has been used up\n");
	expect_refused(fx, 2, r.text, "pi", CMD_FAIL, "outpost: enroll: this token was revoked\n");
	expect_refused(fx, 2, e.text, "pi", CMD_FAIL, "outpost: enroll: this token has expired\n");
	char tok[700];
	const char *secret_at = strrchr(t.text, ':') + 1;
	snprintf(tok, sizeof(tok), "%.*s%s", (int)(secret_at - t.text), t.text, old_secret);
	expect_refused(fx, 2, tok, "pi", CMD_FAIL, "outpost: enroll: this token has expired\n");
	/* revoked beats used-up and expired */
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %s", u.hash);
	expect_refused(fx, 2, u.text, "pi", CMD_FAIL, "this token was revoked");
	/* JSON */
	expect(fx, LOCAL, CMD_OK, NULL, "token ls --json");
	assert_true(tu_json_valid(fx->out, strlen(fx->out)));
	char want[300];
	snprintf(want, sizeof(want), "{\"id\":\"%s\",\"fleet\":\"acme\",\"state\":\"active\","
	    "\"uses_left\":1,\"used\":0,\"expires\":null}", t.id);
	assert_non_null(strstr(fx->out, want));
	snprintf(want, sizeof(want), "{\"id\":\"%s\",\"fleet\":\"acme\",\"state\":\"revoked\","
	    "\"uses_left\":-1,\"used\":0,\"expires\":null}", r.id);
	assert_non_null(strstr(fx->out, want));
	snprintf(want, sizeof(want), "{\"id\":\"%s\",\"fleet\":\"acme\",\"state\":\"expired\","
	    "\"uses_left\":1,\"used\":0,\"expires\":\"20", e.id);
	assert_non_null(strstr(fx->out, want));
	snprintf(want, sizeof(want), "{\"id\":\"%s\",\"fleet\":\"acme\",\"state\":\"revoked\","
	    "\"uses_left\":0,\"used\":1,\"expires\":null}", u.id);
	assert_non_null(strstr(fx->out, want));
	/* the secret is never shown again, nor the whole hash */
	assert_null(strstr(fx->out, t.secret));
	assert_null(strstr(fx->out, t.hash));
	assert_int_equal(count_tokens(fx), 5);
}

static void
test_token_revoke(void **state)
{
	struct fixture *fx = *state;
	struct token a, b;

	expect(fx, LOCAL, CMD_OK, NULL, "token ls --json");
	assert_string_equal(fx->out, "[]\n");
	expect(fx, LOCAL, CMD_OK, NULL, "token ls");
	assert_string_equal(fx->out, "");
	populate(fx);
	make_token(fx, &a, "--fleet acme");
	make_token(fx, &b, "--fleet acme");
	expect(fx, LOCAL, CMD_USAGE, "missing argument", "token revoke");
	expect(fx, LOCAL, CMD_USAGE, "too many arguments", "token revoke %s %s", a.id, b.id);
	static const char *const bad[] = {
		"abc", "''", "zzzzzz", "'%'", "'_'", "12345", "'abcdef '",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(fx, LOCAL, CMD_FAIL, "a token id is 6 to 64 hex digits", "token revoke %s", bad[i]);
	/* a prefix that matches nothing */
	char none[13] = "000000000000";
	for (const char *h = "0123456789abcdef"; *h != '\0'; h++)
		if (*h != a.id[0] && *h != b.id[0])
			none[0] = *h;
	expect(fx, LOCAL, CMD_FAIL, "no token", "token revoke %s", none);
	expect_ls(fx, a.id, "active");
	expect_ls(fx, b.id, "active");
	/* by the id `token ls` shows */
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %s", a.id);
	char want[80];
	snprintf(want, sizeof(want), "token %s revoked\n", a.id);
	assert_string_equal(fx->out, want);
	expect_ls(fx, a.id, "revoked");
	expect_ls(fx, b.id, "active");
	/* by a 6-digit prefix, and again (idempotent) */
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %.6s", b.id);
	expect_ls(fx, b.id, "revoked");
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %s", b.hash);
	expect_refused(fx, 1, b.text, "pi", CMD_FAIL, "this token was revoked");
	/* a revoked token stays revoked */
	expect_refused(fx, 1, a.text, "pi", CMD_FAIL, "this token was revoked");
	assert_int_equal(count_tokens(fx), 2);
}

/* ---- the bare form and roles ---- */

static void
test_bare_form(void **state)
{
	struct fixture *fx = *state;
	struct token t;
	char line[700];

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 0");
	/* `ssh enroll@jump TOKEN NAME`: only for enrolling keys */
	snprintf(line, sizeof(line), "'%s' pi-bare", t.text);
	assert_int_equal(run(fx, LOCAL, line), CMD_USAGE);
	assert_non_null(strstr(fx->err, "unknown command"));
	assert_int_equal(run(fx, as_user(fx, 0, "alice"), line), CMD_USAGE);
	assert_non_null(strstr(fx->err, "unknown command"));
	assert_int_equal(run(fx, (struct caller){ CMD_ROLE_USER, true, 1, "root", NULL, 0 }, line),
	    CMD_USAGE);
	expect_ls(fx, t.id, "used=0");
	assert_int_equal(run(fx, as_enroll(1), line), CMD_OK);
	assert_string_equal(fx->out, "enrolled pi-bare.acme\n");
	assert_int_equal(run(fx, as_device(fx, 1), line), CMD_USAGE);
	assert_non_null(strstr(fx->err, "unknown command"));
	/* the bare form with the wrong number of words, or not a token */
	snprintf(line, sizeof(line), "'%s'", t.text);
	assert_int_equal(run(fx, as_enroll(2), line), CMD_USAGE);
	snprintf(line, sizeof(line), "'%s' pi extra", t.text);
	assert_int_equal(run(fx, as_enroll(2), line), CMD_USAGE);
	snprintf(line, sizeof(line), "'%s' a b c", t.text);
	assert_int_equal(run(fx, as_enroll(2), line), CMD_USAGE);
	assert_int_equal(run(fx, as_enroll(2), "op1: pi"), CMD_FAIL);
	assert_int_equal(run(fx, as_enroll(2), "op2:x pi"), CMD_USAGE);
	assert_non_null(strstr(fx->err, "unknown command"));
	expect_ls(fx, t.id, "used=1");
}

/* status and the start of stderr for line run by who */
static void
expect_denied(struct fixture *fx, struct caller who, const char *line, const char *err)
{
	int r = run(fx, who, line);

	if (r == CMD_OK || strstr(fx->err, err) == NULL)
		fail_msg("role %d: '%s' gave %d <%s>, want a failure <%s>", who.role, line, r, fx->err, err);
	assert_string_equal(fx->out, "");
}

static void
test_roles(void **state)
{
	struct fixture *fx = *state;
	struct token t;
	char line[700];
	static const char *const everything[] = {
		"ls", "whoami", "fleet ls", "fleet add x", "user ls", "device ls", "who", "kick 1",
		"audit", "audit verify", "token ls", "token create --fleet acme", "token revoke abcdef",
		"known-hosts", "ssh-config", "grant alice beta", "help",
	};

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 0");
	expect_enrolled(fx, 1, t.text, "pi", "acme");
	/* an enrolling key may run enroll and nothing else */
	for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++) {
		if (strcmp(everything[i], "help") != 0)
			expect_denied(fx, as_enroll(2), everything[i],
			    "not available to enrolling keys");
	}
	expect_denied(fx, as_enroll(2), "report --hostname x", "not available to enrolling keys");
	assert_int_equal(run(fx, as_enroll(2), "help"), CMD_OK);
	assert_string_equal(fx->out, "commands (ssh -p PORT HOST <command>):\n  enroll TOKEN NAME\n  help\n");
	/* a device may run report and nothing else */
	for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++)
		if (strcmp(everything[i], "help") != 0)
			expect_denied(fx, as_device(fx, 1), everything[i], "not available to devices");
	snprintf(line, sizeof(line), "enroll '%s' pi2", t.text);
	expect_denied(fx, as_device(fx, 1), line, "not available to devices");
	assert_int_equal(run(fx, as_device(fx, 1), "help"), CMD_OK);
	assert_string_equal(fx->out, "commands (ssh -p PORT HOST <command>):\n  report --hostname H "
	    "--os O --version V --uptime S [--host-key 'TYPE B64']...\n  help\n");
	/* users and admins: not enroll, not report, and tokens are for admins */
	struct caller alice = as_user(fx, 0, "alice");
	struct caller root = { CMD_ROLE_USER, true, 99, "root", &keys[2], 0 };
	expect_denied(fx, alice, line, "not permitted: enroll needs an admin");
	expect_denied(fx, alice, "report --hostname x", "not permitted: report needs an admin");
	expect_denied(fx, alice, "token ls", "not permitted: token ls needs an admin");
	expect_denied(fx, alice, "token create --fleet acme", "needs an admin");
	expect_denied(fx, alice, "token revoke abcdef", "needs an admin");
	expect_denied(fx, root, line, "enroll is run by the device");
	expect_denied(fx, LOCAL, line, "enroll is run by the device");
	expect_denied(fx, root, "report --hostname x", "report is sent by a device's agent");
	expect_denied(fx, LOCAL, "report --hostname x", "report is sent by a device's agent");
	/* none of that bound a key or used the token */
	assert_int_equal(store_principal_by_key(fx->st, &keys[2], &(struct store_principal){ 0 }),
	    ERR_NOTFOUND);
	expect_ls(fx, t.id, "used=1");
	/* help lists for users and admins neither enroll nor report */
	assert_int_equal(run(fx, alice, "help"), CMD_OK);
	assert_null(strstr(fx->out, "enroll"));
	assert_null(strstr(fx->out, "report"));
	assert_null(strstr(fx->out, "token"));
	assert_non_null(strstr(fx->out, "known-hosts"));
	assert_non_null(strstr(fx->out, "ssh-config"));
	assert_int_equal(run(fx, root, "help"), CMD_OK);
	assert_null(strstr(fx->out, "enroll"));
	assert_null(strstr(fx->out, "  report"));
	assert_non_null(strstr(fx->out, "  token create --fleet F"));
	assert_non_null(strstr(fx->out, "  token revoke ID"));
}

/* ---- report, known-hosts, ssh-config ---- */

struct info_walk {
	char text[8192];
	size_t len;
};

static int
info_line(void *arg, const struct store_device_info *d)
{
	struct info_walk *w = arg;

	w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len, "%s.%s|%s|%s|%s|%s\n",
	    d->name, d->fleet, d->hostname, d->os, d->version, d->host_keys);
	return 0;
}

static const char *
infos(struct fixture *fx)
{
	static struct info_walk w;

	w.len = 0;
	w.text[0] = '\0';
	assert_int_equal(store_device_info_list(fx->st, 0, info_line, &w), 0);
	return w.text;
}

static void
test_report(void **state)
{
	struct fixture *fx = *state;
	struct token t;
	char line[4096], want[4096];

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 0");
	expect_enrolled(fx, 1, t.text, "pi", "acme");
	struct caller pi = as_device(fx, 1);
	assert_string_equal(infos(fx), "pi.acme||||\n");
	snprintf(line, sizeof(line), "report --hostname pi-hq.local --os 'Debian GNU/Linux 12' "
	    "--version 0.3.0 --uptime 12345 --host-key '%s' --host-key '%s'", hk_line[0], hk_line[1]);
	expect(fx, pi, CMD_OK, NULL, "%s", line);
	assert_string_equal(fx->out, "reported\n");
	/* stored without the comments */
	snprintf(want, sizeof(want), "pi.acme|pi-hq.local|Debian GNU/Linux 12|0.3.0|%s %s\n%s %s\n",
	    hk[0].type, hk[0].blob, hk[1].type, hk[1].blob);
	assert_string_equal(infos(fx), want);
	/* ls shows the report after the usual columns; --json as members */
	expect(fx, LOCAL, CMD_OK, NULL, "ls");
	char boot[32], lsline[200];
	timefmt_iso(timefmt_now() - 12345, boot, sizeof(boot));
	snprintf(lsline, sizeof(lsline), "pi.acme  offline  never  -  agent 0.3.0 on pi-hq.local "
	    "(Debian GNU/Linux 12), up since %.17s", boot);	/* to the minute: the clock moves */
	assert_non_null(strstr(fx->out, lsline));
	assert_non_null(strstr(fx->out, "Z, 2 host keys\n"));
	expect(fx, LOCAL, CMD_OK, NULL, "ls --json");
	assert_non_null(strstr(fx->out, "\"hostname\":\"pi-hq.local\",\"os\":\"Debian GNU/Linux 12\","
	    "\"agent_version\":\"0.3.0\",\"host_keys\":\""));
	snprintf(lsline, sizeof(lsline), "\"booted\":\"%.17s", boot);
	assert_non_null(strstr(fx->out, lsline));
	/* a bad uptime refuses the report */
	expect(fx, pi, CMD_USAGE, "bad --uptime", "report --hostname x --uptime -5");
	expect(fx, pi, CMD_USAGE, "bad --uptime", "report --hostname x --uptime 1e9");
	expect(fx, pi, CMD_USAGE, "bad --uptime", "report --hostname x --uptime 99999999999");
	expect(fx, pi, CMD_USAGE, "bad --uptime", "report --hostname x --uptime ''");

	/* a bad key refuses the whole report; what was stored stays */
	static const char *const bad_keys[] = {
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBAD", "ssh-ed25519", "", "not-a-type AAAA",
		"ssh-ed25519 !!!!",
	};
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		snprintf(line, sizeof(line), "report --hostname evil --host-key '%s'", bad_keys[i]);
		expect(fx, pi, CMD_USAGE, "bad --host-key", "%s", line);
	}
	/* a key of one type under another's name */
	snprintf(line, sizeof(line), "report --hostname evil --host-key 'ssh-rsa %s'", keys[2].blob);
	expect(fx, pi, CMD_USAGE, "bad --host-key", "%s", line);
	snprintf(line, sizeof(line), "report --hostname evil --host-key 'command=\"x\" %s'", hk_line[0]);
	expect(fx, pi, CMD_USAGE, "bad --host-key", "%s", line);
	expect(fx, pi, CMD_USAGE, "needs a value", "report --hostname");
	expect(fx, pi, CMD_USAGE, "unknown option", "report --shell /bin/sh");
	expect(fx, pi, CMD_USAGE, "unknown option", "report --hostname=x y");
	assert_string_equal(infos(fx), want);

	/* hostile strings: made printable, cut to size; a line break cannot add a host */
	char *argv[] = { "report", "--hostname", "pi\x1b[2J\n\x7f", "--os", NULL, "--version",
	    "v\xff", "--host-key", NULL, NULL };
	char longos[1000], keyinj[3000];
	memset(longos, 'o', sizeof(longos) - 1);
	longos[sizeof(longos) - 1] = '\0';
	argv[4] = longos;
	snprintf(keyinj, sizeof(keyinj), "%s x\nevil.acme %s", hk_line[0], hk_line[1]);
	argv[8] = keyinj;
	/* the injected line is part of the first key's comment, which is dropped */
	assert_int_equal(run_argv(fx, pi, 9, argv), CMD_OK);
	char o127[128];
	memset(o127, 'o', 127);
	o127[127] = '\0';
	snprintf(want, sizeof(want), "pi.acme|pi?[2J??|%s|v?|%s %s\n", o127, hk[0].type, hk[0].blob);
	assert_string_equal(infos(fx), want);
	/* reporting no keys clears them */
	expect(fx, pi, CMD_OK, NULL, "report --hostname pi --os Linux --version 1 --uptime 1");
	assert_string_equal(infos(fx), "pi.acme|pi|Linux|1|\n");
	/* too many keys to keep */
	size_t o = (size_t)snprintf(line, sizeof(line), "report");
	for (int i = 0; i < 7; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " --host-key '%s'", hk_line[1]);
	expect(fx, pi, CMD_OK, NULL, "%s", line);
	char *many = calloc(1, 20000);
	o = (size_t)snprintf(many, 20000, "report");
	for (int i = 0; i < 24; i++)
		o += (size_t)snprintf(many + o, 20000 - o, " --host-key '%s'", hk_line[1]);
	char **mv;
	int mc;
	assert_int_equal(cmd_split(many, strlen(many), &mv, &mc, NULL), ERR_TOOLONG);
	free(many);
	many = NULL;
	char *margv[52] = { "report" };
	for (int i = 0; i < 25; i++) {
		margv[1 + 2 * i] = "--host-key";
		margv[2 + 2 * i] = hk_line[1];
	}
	assert_int_equal(run_argv(fx, pi, 51, margv), CMD_FAIL);
	assert_non_null(strstr(fx->err, "too many host keys"));
}

/* Writes s to dir/name; returns the path (static). */
static const char *
write_file(struct fixture *fx, const char *name, const char *s)
{
	static char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(s, f);
	fclose(f);
	return path;
}

/* Exit status of a shell command. */
static int
sh(const char *fmt, ...)
{
	char cmd[2048] = "exec 2>/dev/null; ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void
test_known_hosts(void **state)
{
	struct fixture *fx = *state;
	struct token a, b;
	char line[4096], want[4600];

	populate(fx);
	make_token(fx, &a, "--fleet acme --uses 0");
	make_token(fx, &b, "--fleet beta --uses 0");
	expect_enrolled(fx, 1, a.text, "pi", "acme");
	expect_enrolled(fx, 2, a.text, "quiet", "acme");	/* never reports */
	expect_enrolled(fx, 3, b.text, "gw", "beta");
	snprintf(line, sizeof(line), "report --hostname pi --host-key '%s' --host-key '%s'",
	    hk_line[0], hk_line[1]);
	expect(fx, as_device(fx, 1), CMD_OK, NULL, "%s", line);
	snprintf(line, sizeof(line), "report --hostname gw --host-key '%s'", hk_line[1]);
	expect(fx, as_device(fx, 3), CMD_OK, NULL, "%s", line);

	char pi_lines[3000], gw_lines[1500];
	snprintf(pi_lines, sizeof(pi_lines), "pi.acme %s %s\npi.acme %s %s\n", hk[0].type, hk[0].blob,
	    hk[1].type, hk[1].blob);
	snprintf(gw_lines, sizeof(gw_lines), "gw.beta %s %s\n", hk[1].type, hk[1].blob);
	/* alice holds acme only */
	struct caller alice = as_user(fx, 0, "alice");
	expect(fx, alice, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, pi_lines);
	/* an expired grant shows nothing more */
	assert_int_equal(store_grant(fx->st, "alice", "beta", timefmt_now() - 10), 0);
	expect(fx, alice, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, pi_lines);
	/* admins and the local operator see every fleet */
	snprintf(want, sizeof(want), "%s%s", pi_lines, gw_lines);
	expect(fx, LOCAL, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, want);
	expect(fx, (struct caller){ CMD_ROLE_USER, true, 99, "root", NULL, 0 }, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, want);
	/* bob holds nothing */
	expect(fx, as_user(fx, 6, "bob"), CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, "");
	/* grants change what shows */
	expect(fx, LOCAL, CMD_OK, NULL, "grant alice beta");
	expect(fx, LOCAL, CMD_OK, NULL, "revoke alice acme");
	expect(fx, alice, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, gw_lines);
	expect(fx, alice, CMD_USAGE, NULL, "known-hosts extra");
	expect(fx, alice, CMD_USAGE, NULL, "known-hosts --json");
	/* stock OpenSSH reads the lines as written */
	expect(fx, LOCAL, CMD_OK, NULL, "known-hosts");
	const char *kh = write_file(fx, "known_hosts", fx->out);
	assert_int_equal(sh("ssh-keygen -F pi.acme -f '%s' | grep -q '^pi.acme %s '", kh, hk[0].type), 0);
	assert_int_equal(sh("ssh-keygen -F gw.beta -f '%s' >/dev/null", kh), 0);
	assert_int_not_equal(sh("ssh-keygen -F quiet.acme -f '%s' >/dev/null", kh), 0);
	/* removing the device removes its lines */
	expect(fx, LOCAL, CMD_OK, NULL, "device rm gw.beta");
	expect(fx, alice, CMD_OK, NULL, "known-hosts");
	assert_string_equal(fx->out, "");
}

static void
test_ssh_config(void **state)
{
	struct fixture *fx = *state;
	const char *head_user = "# outpost: save `ssh -p PORT USER@HOST known-hosts` as "
	    "~/.ssh/outpost_known_hosts\n\n";
	char want[2048];

	populate(fx);
	fx->ctx.server_addr = SERVER;
	struct caller alice = as_user(fx, 0, "alice");
	expect(fx, alice, CMD_OK, NULL, "ssh-config");
	snprintf(want, sizeof(want), "%sHost *.acme\n    ProxyJump alice@" SERVER "\n"
	    "    UserKnownHostsFile ~/.ssh/outpost_known_hosts\n    StrictHostKeyChecking yes\n\n",
	    head_user);
	assert_string_equal(fx->out, want);
	/* stock OpenSSH takes it as written */
	const char *cfg = write_file(fx, "config", fx->out);
	if (sh("command -v ssh >/dev/null") == 0) {
		assert_int_equal(sh("ssh -G -F '%s' pi.acme | grep -qx 'proxyjump alice@" SERVER "'", cfg), 0);
		assert_int_equal(sh("ssh -G -F '%s' pi.acme | grep -qx 'stricthostkeychecking true'", cfg), 0);
		assert_int_equal(sh("ssh -G -F '%s' pi.beta | grep -q '^proxyjump'", cfg), 1);
	}
	/* --server wins over PublicAddress */
	expect(fx, alice, CMD_OK, NULL, "ssh-config --server other.example:22");
	assert_non_null(strstr(fx->out, "    ProxyJump alice@other.example:22\n"));
	assert_null(strstr(fx->out, SERVER));
	expect(fx, alice, CMD_USAGE, "bad server address", "ssh-config --server 'x y'");
	expect(fx, alice, CMD_USAGE, "bad server address", "ssh-config --server nocolon");
	expect(fx, alice, CMD_USAGE, "too many arguments", "ssh-config extra");
	/* one block per reachable fleet */
	expect(fx, LOCAL, CMD_OK, NULL, "fleet add gamma");
	expect(fx, LOCAL, CMD_OK, NULL, "grant alice gamma");
	assert_int_equal(store_grant(fx->st, "alice", "beta", timefmt_now() - 10), 0);
	expect(fx, alice, CMD_OK, NULL, "ssh-config");
	assert_non_null(strstr(fx->out, "Host *.acme\n"));
	assert_non_null(strstr(fx->out, "Host *.gamma\n"));
	assert_null(strstr(fx->out, "beta"));
	/* bob: nothing but the header */
	expect(fx, as_user(fx, 6, "bob"), CMD_OK, NULL, "ssh-config");
	assert_string_equal(fx->out, head_user);
	/* a remote admin: every fleet, as themselves */
	expect(fx, (struct caller){ CMD_ROLE_USER, true, 99, "root", NULL, 0 }, CMD_OK, NULL, "ssh-config");
	assert_non_null(strstr(fx->out, "Host *.acme\n    ProxyJump root@" SERVER "\n"));
	assert_non_null(strstr(fx->out, "Host *.beta\n    ProxyJump root@" SERVER "\n"));
	assert_non_null(strstr(fx->out, "Host *.gamma\n    ProxyJump root@" SERVER "\n"));
	/* locally: no user, and the host name when there is no address */
	fx->ctx.server_addr = NULL;
	char host[256], blk[600];
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	expect(fx, LOCAL, CMD_OK, NULL, "ssh-config");
	snprintf(blk, sizeof(blk), "Host *.beta\n    ProxyJump %s:2222\n", host);
	assert_non_null(strstr(fx->out, blk));
	assert_non_null(strstr(fx->out, "`ssh -p PORT HOST known-hosts`"));
}

/* ---- audit ---- */

static char *
slurp_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;

	*len = 0;
	if (f == NULL)
		return NULL;
	buf = malloc(1 << 22);
	if (buf != NULL)
		*len = fread(buf, 1, 1 << 22, f);
	fclose(f);
	return buf;
}

static bool
file_has(const char *path, const char *s)
{
	size_t len;
	char *buf = slurp_bytes(path, &len);
	bool found = buf != NULL && memmem(buf, len, s, strlen(s)) != NULL;

	free(buf);
	return found;
}

struct recs {
	char lines[32][2048];
	int n;
};

static int
rec_line(void *arg, const struct audit_record *rec)
{
	(void)arg;
	(void)rec;
	return 0;
}

static void
read_recs(struct fixture *fx, struct recs *r)
{
	struct audit_verify_result res;
	char *text = tu_slurp(fx->log), *p = text;

	assert_int_equal(audit_verify(fx->log, &res), 0);
	assert_int_equal(audit_read(fx->log, rec_line, NULL), 0);
	r->n = 0;
	while (p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		char *ev = strstr(p, "\"event\":"), *pv = strstr(p, ",\"prev\":\"");
		assert_non_null(ev);
		assert_non_null(pv);
		assert_true(r->n < 32);
		snprintf(r->lines[r->n++], sizeof(r->lines[0]), "{%.*s}", (int)(pv - ev), ev);
		p = nl + 1;
	}
	free(text);
}

static void
test_audit(void **state)
{
	struct fixture *fx = *state;
	struct token t;
	struct recs r;
	char want[2048];

	populate(fx);
	make_token(fx, &t, "--fleet acme");
	expect(fx, LOCAL, CMD_FAIL, "no fleet named nope", "token create --fleet nope");
	expect_enrolled(fx, 1, t.text, "pi", "acme");
	expect_refused(fx, 2, t.text, "pi2", CMD_FAIL, "used up");
	expect(fx, LOCAL, CMD_OK, NULL, "token revoke %s", t.id);
	expect(fx, LOCAL, CMD_FAIL, "no token", "token revoke %s", "ffffffffffff");
	read_recs(fx, &r);
	assert_int_equal(r.n, 10);	/* 2 fleet add, 2 user add, then 6 */
	snprintf(want, sizeof(want), "\"command\":\"token create --server " SERVER " --fleet acme\","
	    "\"fleet\":\"acme\",\"token\":\"%s\",\"result\":\"ok\"}", t.id);
	assert_non_null(strstr(r.lines[4], want));
	assert_non_null(strstr(r.lines[5], "\"command\":\"token create --fleet nope\",\"fleet\":\"nope\","));
	assert_non_null(strstr(r.lines[5], "\"result\":\"failed\",\"error\":\"no fleet named nope\"}"));
	/* enrollment records the enrolling key, never the secret */
	assert_non_null(strstr(r.lines[6], "\"actor\":\"enroll\",\"command\":\"enroll op1:redacted pi\""));
	assert_non_null(strstr(r.lines[6], keys[1].fp));
	char tail[200];
	snprintf(tail, sizeof(tail), "\"device\":\"pi\",\"fleet\":\"acme\",\"key_fp\":\"%s\","
	    "\"token\":\"%s\",\"result\":\"ok\"}", keys[1].fp, t.id);
	assert_non_null(strstr(r.lines[6], tail));
	assert_non_null(strstr(r.lines[7], keys[2].fp));
	assert_non_null(strstr(r.lines[7], "\"result\":\"failed\",\"error\":\"this token has been used up\"}"));
	snprintf(want, sizeof(want), "\"command\":\"token revoke %s\",\"token\":\"%s\",\"result\":\"ok\"}",
	    t.id, t.id);
	assert_non_null(strstr(r.lines[8], want));
	assert_non_null(strstr(r.lines[9], "\"result\":\"failed\",\"error\":\"no token ffffffffffff\"}"));
	/* the secret is in neither the audit log nor the database; the full hash is not logged */
	char path[700];
	snprintf(path, sizeof(path), "%s/outpost.db", fx->state);
	store_close(fx->st);
	fx->st = NULL;
	assert_true(file_has(path, t.hash));	/* the check finds what is there */
	assert_false(file_has(path, t.secret));
	strcat(path, "-wal");
	assert_false(file_has(path, t.secret));
	assert_false(file_has(fx->log, t.hash));
	assert_false(file_has(fx->log, t.secret));
	assert_true(file_has(fx->log, t.id));
	assert_int_equal(store_open(fx->state, &fx->st), 0);
	fx->ctx.st = fx->st;
}

/*
 * Every shape of a command that carries a token and fails before the token
 * is checked, from every kind of caller: the admin records hold no secret,
 * no shape spent the token, and it still enrolls afterwards. (outpostd's own
 * command records and log lines are t-token-leak's.)
 */
static void
test_failing_shapes_leak_nothing(void **state)
{
	struct fixture *fx = *state;
	static const char *const shapes[] = {
		"enroll %s", "enroll %s n1 extra", "enroll --bogus %s n2", "enroll --token=%s n3",
		"%s", "%s n4 extra", "%s a b c", "report --hostname %s", "enroll n5 %s",
		"token revoke %s", "fleet add %s", "user add %s", "help %s", "enroll '%s' 'bad name'",
		"audit %s", "ls %s",
	};
	struct token t;
	char line[1024], padded[700];

	populate(fx);
	make_token(fx, &t, "--fleet acme --uses 2");
	const char *c1 = strchr(t.text, ':') + 1, *c2 = strchr(c1, ':');
	snprintf(padded, sizeof(padded), "op1:%.*s=%s", (int)(c2 - c1), c1, c2);
	struct caller who[] = { as_enroll(2), as_user(fx, 0, "alice"), as_user(fx, 6, "bob"), LOCAL };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++) {
			snprintf(line, sizeof(line), shapes[i], t.text);
			run(fx, who[w], line);
			if (strstr(fx->out, "enrolled") != NULL)
				fail_msg("'%s' as caller %zu enrolled: <%s>", line, w, fx->out);
		}
	}
	/* a token a lenient parser once took: refused, not spent */
	expect_refused(fx, 2, padded, "n6", CMD_FAIL, "not an outpost token");
	if (file_has(fx->log, t.secret)) {
		char *text = tu_slurp(fx->log);
		fprintf(stderr, "%s", text);
		fail_msg("a secret in the audit log");
	}
	expect_ls(fx, t.id, "uses-left=2");
	expect_enrolled(fx, 2, t.text, "pi", "acme");
	assert_false(file_has(fx->log, t.secret));
	assert_true(file_has(fx->log, "op1:redacted"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_token_create_refused),
		T(test_enroll_hostile),
		T(test_token_create),
		T(test_token_revoke),
		T(test_enroll),
		T(test_enroll_token_states),
		T(test_bare_form),
		T(test_roles),
		T(test_report),
		T(test_known_hosts),
		T(test_ssh_config),
		T(test_audit),
		T(test_failing_shapes_leak_nothing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
