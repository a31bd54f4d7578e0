/* test_cmd.c: the exec command-line splitter (hostile first) and every command against a temp store, output captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cmd.h"
#include "common/err.h"
#include "common/limits.h"
#include "store/store.h"
#include "testutil.h"

/* ---- cmd_split ---- */

static void
refuse_split(const char *line, size_t len, int code, const char *why_part)
{
	char **argv = (char **)1;
	int argc = 99;
	const char *why = NULL;

	int r = cmd_split(line, len, &argv, &argc, &why);
	if (r != code)
		fail_msg("split '%.40s' gave %d, want %d", line ? line : "(null)", r, code);
	assert_null(argv);
	assert_int_equal(argc, 0);
	if (why_part != NULL) {
		assert_non_null(why);
		if (strstr(why, why_part) == NULL)
			fail_msg("why '%s' lacks '%s'", why, why_part);
	}
}

static void
test_split_hostile(void **state)
{
	static const char *const shell[] = {
		"ls; rm -rf /", ";", "ls | cat", "ls & ls", "ls && ls", "$(id)", "ls $HOME",
		"`id`", "ls > /tmp/x", "ls < /etc/passwd", "(ls)", "ls )", "a\\ b", "ls\\",
		"fleet add a;b", "x$", "x`", "'ok' ;",
	};
	for (size_t i = 0; i < sizeof(shell) / sizeof(shell[0]); i++)
		refuse_split(shell[i], strlen(shell[i]), ERR_INVAL, "not supported");
	refuse_split("ls\0rm", 5, ERR_INVAL, "NUL");
	refuse_split("ls '\0'", 6, ERR_INVAL, "control");
	refuse_split("ls\n", 3, ERR_INVAL, "control");
	refuse_split("ls\r", 3, ERR_INVAL, "control");
	refuse_split("ls \x1b[2J", 7, ERR_INVAL, "control");
	refuse_split("ls '\x7f'", 6, ERR_INVAL, "control");
	refuse_split("ls \"a\nb\"", 8, ERR_INVAL, "control");
	refuse_split("ls 'abc", 7, ERR_INVAL, "unterminated single");
	refuse_split("ls \"abc", 7, ERR_INVAL, "unterminated double");
	refuse_split("ls \"abc\\\"", 9, ERR_INVAL, "unterminated double");
	refuse_split("'", 1, ERR_INVAL, "unterminated");
	refuse_split(NULL, 0, ERR_INVAL, NULL);

	/* 1 MiB, and one byte over the limit */
	char *big = malloc(1 << 20);
	memset(big, 'a', 1 << 20);
	refuse_split(big, 1 << 20, ERR_TOOLONG, NULL);
	refuse_split(big, LIM_EXEC_CMD + 1, ERR_TOOLONG, NULL);
	/* too many words */
	for (int i = 0; i < 2 * (LIM_EXEC_ARGS + 1); i += 2)
		big[i + 1] = ' ';
	refuse_split(big, 2 * (LIM_EXEC_ARGS + 1), ERR_TOOLONG, "too many words");
	/* exactly the limits are fine */
	char **argv;
	int argc;
	assert_int_equal(cmd_split(big, 2 * LIM_EXEC_ARGS, &argv, &argc, NULL), 0);
	assert_int_equal(argc, LIM_EXEC_ARGS);
	assert_null(argv[argc]);
	cmd_argv_free(argv);
	memset(big, 'b', LIM_EXEC_CMD);
	assert_int_equal(cmd_split(big, LIM_EXEC_CMD, &argv, &argc, NULL), 0);
	assert_int_equal(argc, 1);
	assert_int_equal(strlen(argv[0]), LIM_EXEC_CMD);
	cmd_argv_free(argv);
	free(big);
	cmd_argv_free(NULL);
}

/* Splits line and checks the words, joined with '|'. */
static void
split_ok(const char *line, const char *want)
{
	char **argv;
	int argc;
	char got[1024] = "";

	assert_int_equal(cmd_split(line, strlen(line), &argv, &argc, NULL), 0);
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strcat(got, "|");
		strcat(got, argv[i]);
	}
	assert_null(argv[argc]);
	cmd_argv_free(argv);
	if (strcmp(got, want) != 0)
		fail_msg("split <%s> gave <%s>, want <%s>", line, got, want);
}

static void
test_split_quoting(void **state)
{
	split_ok("", "");
	split_ok("   \t ", "");
	split_ok("ls", "ls");
	split_ok("  fleet\tadd   acme  ", "fleet|add|acme");
	split_ok("'a b'", "a b");
	split_ok("\"a b\"", "a b");
	split_ok("a'b'\"c\"d", "abcd");
	split_ok("'$(id); `x` | & < > ( ) \\'", "$(id); `x` | & < > ( ) \\");
	split_ok("\"say \\\"hi\\\" \\\\ \\n\"", "say \"hi\" \\ \\n");
	split_ok("'it''s'", "its");
	split_ok("x '' y", "x||y");
	split_ok("caf\xc3\xa9", "caf\xc3\xa9");
	split_ok("'a\tb'", "a\tb");
	char **argv;
	int argc;
	assert_int_equal(cmd_split("''", 2, &argv, &argc, NULL), 0);
	assert_int_equal(argc, 1);
	assert_string_equal(argv[0], "");
	cmd_argv_free(argv);
	/* len bounds the line: bytes after it are ignored */
	assert_int_equal(cmd_split("ls; rm", 2, &argv, &argc, NULL), 0);
	assert_int_equal(argc, 1);
	cmd_argv_free(argv);
}

static void
test_wants_stdin(void **state)
{
	char *a[] = { "user", "add", "bob", "--key", "-", NULL };
	char *b[] = { "user", "add", "bob", "--key=-", NULL };
	char *c[] = { "user", "add", "bob", "--key", "/x", NULL };
	char *d[] = { "user", "add", "bob", "--key", NULL };
	char *e[] = { "ls", "--", "--key", "-", NULL };

	assert_true(cmd_wants_stdin(5, a));
	assert_true(cmd_wants_stdin(4, b));
	assert_false(cmd_wants_stdin(5, c));
	assert_false(cmd_wants_stdin(4, d));
	assert_false(cmd_wants_stdin(4, e));
	assert_false(cmd_wants_stdin(0, NULL));
}

/* ---- commands against a store ---- */

static char *keydir;
static char key_line[3][1024];
static char key_fp[3][128];

struct fixture {
	char *dir;
	struct store *st;
	struct cmd_ctx ctx;
	char *out, *err;
};

static int
group_setup(void **state)
{
	char name[8], path[600];

	if ((keydir = tu_mkdtemp()) == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(path, sizeof(path), "%s/k%d.pub", keydir, i);
		if (tu_keygen(keydir, name, "ed25519") != 0 ||
		    tu_fingerprint(keydir, name, key_fp[i], sizeof(key_fp[i])) != 0)
			return -1;
		char *s = tu_slurp(path);
		if (s == NULL)
			return -1;
		snprintf(key_line[i], sizeof(key_line[i]), "%s", s);
		free(s);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	tu_rmrf(keydir);
	free(keydir);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[600];

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/state", fx->dir);
	if (store_open(path, &fx->st) != 0)
		return -1;
	fx->ctx = (struct cmd_ctx){ .st = fx->st, .admin = true };
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx->out);
	free(fx->err);
	free(fx);
	return 0;
}

/* Runs line as the given caller with optional stdin; fx->out / fx->err hold what it printed. */
static int
run_as(struct fixture *fx, bool remote, bool admin, int64_t uid, const char *in, const char *line)
{
	char **argv;
	int argc;
	size_t ol, el;

	free(fx->out);
	free(fx->err);
	assert_int_equal(cmd_split(line, strlen(line), &argv, &argc, NULL), 0);
	fx->ctx.remote = remote;
	fx->ctx.admin = admin;
	fx->ctx.user_id = uid;
	fx->ctx.out = open_memstream(&fx->out, &ol);
	fx->ctx.err = open_memstream(&fx->err, &el);
	fx->ctx.in = in != NULL ? fmemopen((void *)in, strlen(in), "r") : NULL;
	int r = cmd_run(&fx->ctx, argc, argv);
	fclose(fx->ctx.out);
	fclose(fx->ctx.err);
	if (fx->ctx.in != NULL)
		fclose(fx->ctx.in);
	cmd_argv_free(argv);
	return r;
}

static int
run(struct fixture *fx, const char *line)
{
	return run_as(fx, false, true, 0, NULL, line);
}

/* Runs and expects status, exact stdout and exact stderr (NULL = don't care). */
static void
expect(struct fixture *fx, const char *line, int status, const char *out, const char *err)
{
	int r = run(fx, line);

	if (r != status)
		fail_msg("'%s' exited %d, want %d; err: %s", line, r, status, fx->err);
	if (out != NULL && strcmp(fx->out, out) != 0)
		fail_msg("'%s' printed <%s>, want <%s>", line, fx->out, out);
	if (err != NULL && strcmp(fx->err, err) != 0)
		fail_msg("'%s' errored <%s>, want <%s>", line, fx->err, err);
}

static char *
keyfile(int i)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/k%d.pub", keydir, i);
	return path;
}

static void
test_dispatch_errors(void **state)
{
	struct fixture *fx = *state;

	size_t el;
	fx->ctx.err = open_memstream(&fx->err, &el);
	assert_int_equal(cmd_run(&fx->ctx, 0, NULL), CMD_USAGE);
	fclose(fx->ctx.err);
	assert_string_equal(fx->err, "outpost: no command given; try 'help'\n");
	expect(fx, "bogus", CMD_USAGE, "", "outpost: unknown command 'bogus'; try 'help'\n");
	expect(fx, "fleet", CMD_USAGE, "", "outpost: fleet: missing sub-command (usage: fleet add|ls|rm)\n");
	expect(fx, "fleet explode", CMD_USAGE, "", NULL);
	expect(fx, "fleet add", CMD_USAGE, "", "outpost: fleet add: missing argument (usage: fleet add NAME)\n");
	expect(fx, "fleet add a b", CMD_USAGE, "", NULL);
	expect(fx, "fleet add --admin x", CMD_USAGE, "", "outpost: fleet add: unknown option '--admin' (usage: fleet add NAME)\n");
	expect(fx, "fleet ls --json=yes", CMD_USAGE, "", NULL);
	expect(fx, "fleet add 'bad name'", CMD_USAGE, "", NULL);
	assert_non_null(strstr(fx->err, "invalid fleet name 'bad name'"));
	/* local argv can hold anything: the bad value is shown escaped */
	char *argv[] = { "fleet", "add", "\x1b[31mred", NULL };
	free(fx->err);
	fx->ctx.err = open_memstream(&fx->err, &el);
	assert_int_equal(cmd_run(&fx->ctx, 3, argv), CMD_USAGE);
	fclose(fx->ctx.err);
	assert_non_null(strstr(fx->err, "'\\x1b[31mred'"));
	assert_null(strchr(fx->err, 0x1b));
}

static void
test_fleet_commands(void **state)
{
	struct fixture *fx = *state;

	expect(fx, "fleet ls", CMD_OK, "", "");
	expect(fx, "fleet ls --json", CMD_OK, "[]\n", "");
	expect(fx, "fleet add ACME", CMD_OK, "fleet acme added\n", "");
	expect(fx, "fleet add acme", CMD_FAIL, "", "outpost: fleet add: fleet acme already exists\n");
	expect(fx, "fleet add beta", CMD_OK, NULL, "");
	assert_int_equal(run(fx, "device add pi --fleet acme --key '%s'") , CMD_FAIL);	/* no such file */
	char line[800];
	snprintf(line, sizeof(line), "device add pi --fleet Acme --key '%s'", keyfile(0));
	expect(fx, line, CMD_OK, NULL, "");
	expect(fx, "fleet ls", CMD_OK, "acme  1 device\nbeta  0 devices\n", "");
	expect(fx, "fleet ls --json", CMD_OK, "[{\"name\":\"acme\",\"devices\":1},{\"name\":\"beta\",\"devices\":0}]\n", "");
	expect(fx, "fleet rm acme", CMD_FAIL, "",
	    "outpost: fleet rm: fleet acme still has 1 device; remove it first\n");
	expect(fx, "fleet rm gamma", CMD_FAIL, "", "outpost: fleet rm: no fleet named gamma\n");
	expect(fx, "fleet rm BETA", CMD_OK, "fleet beta removed\n", "");
}

static void
test_user_commands(void **state)
{
	struct fixture *fx = *state;
	char line[800], want[800];

	expect(fx, "fleet add acme", CMD_OK, NULL, "");
	expect(fx, "fleet add beta", CMD_OK, NULL, "");
	expect(fx, "user add alice", CMD_USAGE, "", "outpost: user add: missing --key (usage: user add NAME --key FILE [--fleet F]... [--admin])\n");
	snprintf(line, sizeof(line), "user add alice --key '%s' --fleet nope --fleet acme", keyfile(0));
	expect(fx, line, CMD_FAIL, "", "outpost: user add: no fleet named nope; create it first with 'fleet add nope'\n");
	expect(fx, "user ls", CMD_OK, "", "");	/* nothing half-made */
	snprintf(line, sizeof(line), "user add Alice --key='%s' --fleet beta --fleet ACME --admin", keyfile(0));
	snprintf(want, sizeof(want), "user alice added: key %s, admin, fleets beta,acme\n", key_fp[0]);
	expect(fx, line, CMD_OK, want, "");
	snprintf(line, sizeof(line), "user add bob --key '%s' --key '%s'", keyfile(1), keyfile(1));
	expect(fx, line, CMD_USAGE, "", NULL);
	snprintf(line, sizeof(line), "user add bob --key '%s'", keyfile(0));
	snprintf(want, sizeof(want), "outpost: user add: key %s already belongs to user alice\n", key_fp[0]);
	expect(fx, line, CMD_FAIL, "", want);
	/* --key - reads the context's input */
	assert_int_equal(run_as(fx, false, true, 0, key_line[1], "user add bob --key -"), CMD_OK);
	assert_int_equal(run_as(fx, false, true, 0, NULL, "user add carol --key -"), CMD_FAIL);
	assert_string_equal(fx->err, "outpost: user add: no key on standard input; pipe the public key in\n");
	assert_int_equal(run_as(fx, false, true, 0, "garbage\n", "user add carol --key -"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "standard input: not a usable OpenSSH public key"));
	snprintf(want, sizeof(want), "alice  admin  acme,beta  %s\nbob  user  -  %s\n", key_fp[0], key_fp[1]);
	expect(fx, "user ls", CMD_OK, want, "");
	snprintf(want, sizeof(want), "[{\"name\":\"alice\",\"admin\":true,\"fleets\":[\"acme\",\"beta\"],"
	    "\"keys\":[\"%s\"]},{\"name\":\"bob\",\"admin\":false,\"fleets\":[],\"keys\":[\"%s\"]}]\n",
	    key_fp[0], key_fp[1]);
	expect(fx, "user ls --json", CMD_OK, want, "");
	expect(fx, "grant bob acme", CMD_OK, "user bob may reach fleet acme until revoked\n", "");
	expect(fx, "grant bob beta --for 1h30", CMD_USAGE, "", NULL);
	expect(fx, "grant bob beta --for 0", CMD_USAGE, "", NULL);
	expect(fx, "grant bob beta --for 9999999999w", CMD_USAGE, "", NULL);
	expect(fx, "grant bob beta --for 2h", CMD_OK, NULL, "");
	assert_non_null(strstr(fx->out, "user bob may reach fleet beta until 20"));
	assert_int_equal(fx->out[strlen(fx->out) - 2], 'Z');
	expect(fx, "grant nobody acme", CMD_FAIL, "", "outpost: grant: no user named nobody\n");
	expect(fx, "grant bob nope", CMD_FAIL, "", "outpost: grant: no fleet named nope\n");
	expect(fx, "revoke bob acme", CMD_OK, "user bob may no longer reach fleet acme\n", "");
	expect(fx, "revoke bob acme", CMD_FAIL, "", "outpost: revoke: user bob has no grant for fleet acme\n");
	expect(fx, "user rm BOB", CMD_OK, "user bob removed\n", "");
	expect(fx, "user rm bob", CMD_FAIL, "", "outpost: user rm: no user named bob\n");
	expect(fx, "whoami", CMD_OK, "local operator (admin, all fleets)\n", "");
}

/* Two fleets, three devices; pi.acme online with a known time and address. */
static void
populate(struct fixture *fx)
{
	char line[800];

	expect(fx, "fleet add acme", CMD_OK, NULL, "");
	expect(fx, "fleet add beta", CMD_OK, NULL, "");
	snprintf(line, sizeof(line), "device add pi-hq --fleet acme --key '%s'", keyfile(0));
	expect(fx, line, CMD_OK, NULL, "");
	snprintf(line, sizeof(line), "device add CAM.Beta --key '%s'", keyfile(1));
	expect(fx, line, CMD_OK, NULL, "");
	int64_t id;
	char f[LIM_LABEL + 1];
	assert_int_equal(store_device_resolve(fx->st, 0, "pi-hq", "acme", &id, f), 0);
	assert_int_equal(store_device_set_online(fx->st, id, true, 1795255200, "203.0.113.7:51234"), 0);
}

static void
test_device_commands(void **state)
{
	struct fixture *fx = *state;
	char line[800], want[1200];

	snprintf(line, sizeof(line), "device add pi --fleet acme --key '%s'", keyfile(0));
	expect(fx, line, CMD_FAIL, "", "outpost: device add: no fleet named acme\n");
	populate(fx);
	snprintf(line, sizeof(line), "device add pi2 --key '%s'", keyfile(2));
	expect(fx, line, CMD_USAGE, "", NULL);
	snprintf(line, sizeof(line), "device add pi2 --fleet acme --fleet beta --key '%s'", keyfile(2));
	expect(fx, line, CMD_USAGE, "", NULL);
	snprintf(line, sizeof(line), "device add pi2.acme --fleet beta --key '%s'", keyfile(2));
	expect(fx, line, CMD_USAGE, "", NULL);
	snprintf(line, sizeof(line), "device add pi2 --fleet acme --key '%s'", keyfile(0));
	snprintf(want, sizeof(want), "outpost: device add: key %s already belongs to device pi-hq.acme\n", key_fp[0]);
	expect(fx, line, CMD_FAIL, "", want);
	snprintf(line, sizeof(line), "device add pi-hq --fleet acme --key '%s'", keyfile(2));
	expect(fx, line, CMD_FAIL, "", "outpost: device add: device pi-hq.acme already exists\n");
	const char *lines = "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n"
	    "cam.beta  offline  never  -\n";
	expect(fx, "ls", CMD_OK, lines, "");
	expect(fx, "device ls", CMD_OK, lines, "");
	snprintf(want, sizeof(want), "[{\"device\":\"pi-hq.acme\",\"name\":\"pi-hq\",\"fleet\":\"acme\","
	    "\"online\":true,\"last_seen\":\"2026-11-21T10:00:00Z\",\"address\":\"203.0.113.7:51234\","
	    "\"key\":\"%s\"},{\"device\":\"cam.beta\",\"name\":\"cam\",\"fleet\":\"beta\","
	    "\"online\":false,\"last_seen\":null,\"address\":null,\"key\":\"%s\"}]\n", key_fp[0], key_fp[1]);
	expect(fx, "ls --json", CMD_OK, want, "");
	expect(fx, "device ls --json", CMD_OK, want, "");
	expect(fx, "device rm pi-hq", CMD_USAGE, "", "outpost: device rm: say which fleet: pi-hq.FLEET (usage: device rm NAME.FLEET)\n");
	expect(fx, "device rm pi-hq.a.b", CMD_USAGE, "", NULL);
	expect(fx, "device rm pi-hq.beta", CMD_FAIL, "", "outpost: device rm: no device named pi-hq.beta\n");
	expect(fx, "device rm PI-HQ.ACME", CMD_OK, "device pi-hq.acme removed\n", "");
	expect(fx, "ls", CMD_OK, "cam.beta  offline  never  -\n", "");
}

/* Strings that reach JSON from the store are escaped. */
static void
test_json_escaping(void **state)
{
	struct fixture *fx = *state;
	int64_t id;
	char f[LIM_LABEL + 1];

	populate(fx);
	assert_int_equal(store_device_resolve(fx->st, 0, "cam", "beta", &id, f), 0);
	assert_int_equal(store_device_set_online(fx->st, id, false, 1, "a\"b\\c\x01\xff"), 0);
	expect(fx, "ls --json", CMD_OK, NULL, "");
	assert_non_null(strstr(fx->out, "\"address\":\"a\\\"b\\\\c\\u0001\\u00ff\""));
}

static void
test_remote_users(void **state)
{
	struct fixture *fx = *state;
	char line[800];

	populate(fx);
	snprintf(line, sizeof(line), "user add alice --key '%s' --fleet acme", keyfile(2));
	expect(fx, line, CMD_OK, NULL, "");
	struct store_principal p;
	struct pubkey k;
	assert_int_equal(pubkey_read_file(keyfile(2), &k), 0);
	assert_int_equal(store_principal_by_key(fx->st, &k, &p), 0);
	pubkey_clear(&k);
	int64_t alice = p.id;
	fx->ctx.user = "alice";

	/* a non-admin sees only her fleets, in both listings */
	assert_int_equal(run_as(fx, true, false, alice, NULL, "ls"), CMD_OK);
	assert_string_equal(fx->out, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n");
	assert_int_equal(run_as(fx, true, false, alice, NULL, "device ls"), CMD_OK);
	assert_string_equal(fx->out, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n");
	assert_int_equal(run_as(fx, true, false, alice, NULL, "whoami"), CMD_OK);
	assert_non_null(strstr(fx->out, "alice  user  acme  SHA256:"));
	assert_int_equal(run_as(fx, true, false, alice, NULL, "whoami --json"), CMD_OK);
	assert_non_null(strstr(fx->out, "{\"name\":\"alice\",\"admin\":false,\"fleets\":[\"acme\"]"));

	/* admin commands are refused, naming the command */
	static const char *const refused[] = {
		"fleet add x", "fleet ls", "fleet rm acme", "user add x --key -", "user ls",
		"user rm alice", "grant alice beta", "revoke alice acme", "device add x --fleet acme --key -",
		"device rm pi-hq.acme",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(run_as(fx, true, false, alice, key_line[0], refused[i]), CMD_FAIL);
		char want[100], what[40];
		snprintf(what, sizeof(what), "%s", refused[i]);
		char *sp = strchr(what, ' ');
		if (strncmp(what, "grant", 5) == 0 || strncmp(what, "revoke", 6) == 0)
			*sp = '\0';
		else if (strchr(sp + 1, ' ') != NULL)
			*strchr(sp + 1, ' ') = '\0';
		snprintf(want, sizeof(want), "outpost: not permitted: %s needs an admin\n", what);
		assert_string_equal(fx->err, want);
		assert_string_equal(fx->out, "");
	}
	/* and nothing changed */
	assert_int_equal(run(fx, "grant alice beta"), CMD_OK);
	assert_int_equal(run_as(fx, true, false, alice, NULL, "ls"), CMD_OK);
	assert_string_equal(fx->out, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n"
	    "cam.beta  offline  never  -\n");

	/* help lists only what she may run */
	assert_int_equal(run_as(fx, true, false, alice, NULL, "help"), CMD_OK);
	assert_non_null(strstr(fx->out, "  ls [--json]\n"));
	assert_non_null(strstr(fx->out, "  device ls [--json]\n"));
	assert_null(strstr(fx->out, "fleet add"));
	assert_null(strstr(fx->out, "user add"));

	/* a remote admin may not make the server read its files */
	assert_int_equal(run_as(fx, true, true, alice, NULL, "user add bob --key /etc/passwd"), CMD_USAGE);
	assert_string_equal(fx->err, "outpost: --key FILE cannot be read over SSH; pipe the key and use --key -\n");
	assert_int_equal(run_as(fx, true, true, alice, NULL, "device add x --fleet acme --key=/etc/shadow"), CMD_USAGE);
	assert_string_equal(fx->err, "outpost: --key FILE cannot be read over SSH; pipe the key and use --key -\n");
	assert_int_equal(run_as(fx, true, true, alice, key_line[1], "user add bob --key -"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "already belongs to device cam.beta"));
	char kl[1100];
	snprintf(kl, sizeof(kl), "# comment first\n%s", key_line[0]);
	assert_int_equal(run(fx, "device rm pi-hq.acme"), CMD_OK);
	assert_int_equal(run_as(fx, true, true, alice, kl, "user add bob --key -"), CMD_OK);
	assert_int_equal(run_as(fx, true, true, alice, NULL, "help"), CMD_OK);
	assert_non_null(strstr(fx->out, "  fleet add NAME\n"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_hostile),
		cmocka_unit_test(test_split_quoting),
		cmocka_unit_test(test_wants_stdin),
		T(test_dispatch_errors),
		T(test_remote_users),
		T(test_json_escaping),
		T(test_fleet_commands),
		T(test_user_commands),
		T(test_device_commands),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
