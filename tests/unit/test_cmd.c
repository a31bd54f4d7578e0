/* test_cmd.c: the exec command-line splitter (hostile first) and every command against a temp store, output captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include <pwd.h>
#include <sys/stat.h>

#include "cli/cmd.h"
#include "common/audit.h"
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

/* Size of a file, or -1. */
static long
tu_file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Lines in s. */
static int
tu_count_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* "local:<unix user>", as the command layer names the local operator. */
static const char *
local_actor(void)
{
	static char buf[300];
	struct passwd *pw = getpwuid(geteuid());

	snprintf(buf, sizeof(buf), "local:%s", pw != NULL ? pw->pw_name : "?");
	return buf;
}


static char *keydir;
static char key_line[3][1024];
static char key_fp[3][128];

struct fixture {
	char *dir;
	char state[600];
	char log[640];
	struct audit *audit;
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

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/audit.log", fx->state);
	if (store_open(fx->state, &fx->st) != 0 || audit_open(fx->state, &fx->audit) != 0)
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
	    "\"online\":true,\"node\":null,\"last_seen\":\"2026-11-21T10:00:00Z\",\"address\":\"203.0.113.7:51234\","
	    "\"key\":\"%s\",\"state\":\"online\",\"ondemand\":null,\"port\":null},"
	    "{\"device\":\"cam.beta\",\"name\":\"cam\",\"fleet\":\"beta\","
	    "\"online\":false,\"node\":null,\"last_seen\":null,\"address\":null,\"key\":\"%s\","
	    "\"state\":\"offline\",\"ondemand\":null,\"port\":null}]\n", key_fp[0], key_fp[1]);
	expect(fx, "ls --json", CMD_OK, want, "");
	expect(fx, "device ls --json", CMD_OK, want, "");
	/* nodes: one that stopped beating long ago is down */
	expect(fx, "nodes", CMD_OK, "", "");
	expect(fx, "nodes --json", CMD_OK, "[]\n", "");
	expect(fx, "nodes extra", CMD_USAGE, "", NULL);
	struct store_node nd = { .started = 1795255200, .heartbeat = 1795255200 };
	int64_t nid;
	snprintf(nd.name, sizeof(nd.name), "n1");
	snprintf(nd.peer_addr, sizeof(nd.peer_addr), "10.0.0.1:22");
	assert_int_equal(store_node_register(fx->st, &nd, &nid), 0);
	expect(fx, "nodes", CMD_OK, "n1  10.0.0.1:22  down  0 devices  heartbeat 2026-11-21T10:00:00Z\n", "");
	/* accept-hostkey: hostile names first, then a device with nothing pending */
	expect(fx, "device accept-hostkey", CMD_USAGE, "", NULL);
	expect(fx, "device accept-hostkey pi-hq", CMD_USAGE, "", "outpost: device accept-hostkey: say which "
	    "fleet: pi-hq.FLEET (usage: device accept-hostkey NAME.FLEET)\n");
	expect(fx, "device accept-hostkey pi-hq.a.b", CMD_USAGE, "", NULL);
	expect(fx, "device accept-hostkey 'pi hq.acme'", CMD_USAGE, "", NULL);
	expect(fx, "device accept-hostkey pi-hq.acme extra", CMD_USAGE, "", NULL);
	expect(fx, "device accept-hostkey pi-hq.beta", CMD_FAIL, "", NULL);
	expect(fx, "device accept-hostkey PI-HQ.ACME", CMD_OK,
	    "device pi-hq.acme: no changed host key to accept\n", "");
	expect(fx, "ls", CMD_OK, lines, "");
	expect(fx, "device rm pi-hq", CMD_USAGE, "", "outpost: device rm: say which fleet: pi-hq.FLEET (usage: device rm NAME.FLEET)\n");
	expect(fx, "device rm pi-hq.a.b", CMD_USAGE, "", NULL);
	expect(fx, "device rm pi-hq.beta", CMD_FAIL, "", "outpost: device rm: no device named pi-hq.beta\n");
	expect(fx, "device rm PI-HQ.ACME", CMD_OK, "device pi-hq.acme removed\n", "");
	expect(fx, "ls", CMD_OK, "cam.beta  offline  never  -\n", "");
	/* a down node holds nothing: the rows still online at it are stranded; a clean stop says so */
	int64_t cam;
	char cf[LIM_LABEL + 1];
	assert_int_equal(store_device_resolve(fx->st, 0, "cam", "beta", &cam, cf), 0);
	assert_int_equal(store_device_set_presence(fx->st, cam, true, "n1", 7, 1795255200, NULL), 0);
	expect(fx, "nodes", CMD_OK, "n1  10.0.0.1:22  down  0 devices, 1 stranded  heartbeat 2026-11-21T10:00:00Z\n",
	    "");
	assert_int_equal(store_node_stop(fx->st, nid, 1795255200), 0);
	expect(fx, "nodes", CMD_OK, "n1  10.0.0.1:22  down  0 devices, 1 stranded  stopped\n", "");
	expect(fx, "nodes --json", CMD_OK, NULL, "");
	assert_non_null(strstr(fx->out, "\"up\":false,\"devices\":0,\"stranded\":1,\"stopped\":true,"
	    "\"heartbeat\":null,\"started\":\"2026-11-21T10:00:00Z\""));
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
bind_port(struct fixture *fx, const char *name, const char *fleet, uint32_t port)
{
	int64_t id;
	char f[LIM_LABEL + 1], holder[LIM_LABEL + 1];

	assert_int_equal(store_device_resolve(fx->st, 0, name, fleet, &id, f), 0);
	assert_int_equal(store_device_bind_port(fx->st, id, port, holder, sizeof(holder)), 0);
}

/* Host keys outpostd learned: known-hosts names them as ssh looks them up; a change is flagged, not printed, until accepted. */
static void
test_learned_host_keys(void **state)
{
	struct fixture *fx = *state;
	char want[2400], old[256];
	int64_t id;
	int seen;
	char f[LIM_LABEL + 1];
	/* host keys of the devices' sshds: key 2 of the fixture (never a principal's here) and another */
	struct pubkey hk2, hk3;
	const struct pubkey *k2 = &hk2, *k3 = &hk3;
	assert_int_equal(pubkey_parse_line(key_line[2], &hk2), 0);
	assert_int_equal(pubkey_parse_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", &hk3), 0);

	populate(fx);
	assert_int_equal(run(fx, "known-hosts"), CMD_OK);
	assert_string_equal(fx->out, "");
	bind_port(fx, "cam", "beta", 22051);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi-hq", "acme", &id, f), 0);
	assert_int_equal(store_hostkey_seen(fx->st, id, 22, k2->type, k2->blob, 1, &seen, old, sizeof(old)), 0);
	assert_int_equal(store_device_resolve(fx->st, 0, "cam", "beta", &id, f), 0);
	assert_int_equal(store_hostkey_seen(fx->st, id, 22051, k2->type, k2->blob, 1, &seen, old, sizeof(old)), 0);
	assert_int_equal(store_hostkey_seen(fx->st, id, 2222, k2->type, k2->blob, 1, &seen, old, sizeof(old)), 0);
	snprintf(want, sizeof(want),	/* by fleet, name, port */
	    "pi-hq.acme %s %s\n"
	    "[cam.beta]:2222 %s %s\n"
	    "[cam.beta]:22051,cam.beta,[localhost]:22051 %s %s\n",
	    k2->type, k2->blob, k2->type, k2->blob, k2->type, k2->blob);
	expect(fx, "known-hosts", CMD_OK, want, "");
	/* cam's sshd on 22051 shows another key: flagged in ls, known-hosts unchanged */
	assert_int_equal(store_hostkey_seen(fx->st, id, 22051, k3->type, k3->blob, 2, &seen, old, sizeof(old)), 0);
	assert_int_equal(seen, HOSTKEY_CHANGED);
	expect(fx, "known-hosts", CMD_OK, want, "");
	assert_int_equal(run(fx, "ls"), CMD_OK);
	assert_non_null(strstr(fx->out, "cam.beta  offline  never  -  port 22051  HOST KEY CHANGED (kept the recorded one: "
	    "outpost device accept-hostkey cam.beta)\n"));
	assert_non_null(strstr(fx->out, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n"));
	assert_int_equal(run(fx, "ls --json"), CMD_OK);
	assert_non_null(strstr(fx->out, "\"host_keys_learned\":2,\"host_key_changed\":true"));
	assert_non_null(strstr(fx->out, "\"host_keys_learned\":1,\"host_key_changed\":false"));
	expect(fx, "device accept-hostkey cam.beta", CMD_OK, "device cam.beta: 1 host key accepted\n", "");
	assert_int_equal(run(fx, "known-hosts"), CMD_OK);
	snprintf(want, sizeof(want), "[cam.beta]:22051,cam.beta,[localhost]:22051 %s %s\n", k3->type, k3->blob);
	assert_non_null(strstr(fx->out, want));
	assert_int_equal(run(fx, "ls"), CMD_OK);
	assert_null(strstr(fx->out, "HOST KEY CHANGED"));
	pubkey_clear(&hk2);
	pubkey_clear(&hk3);
}

/* ssh-config --port-table: hostile words first; only bound devices; a bare alias only where unique. */
static void
test_ssh_config_port_table(void **state)
{
	struct fixture *fx = *state;
	char line[800];

	populate(fx);
	expect(fx, "ssh-config --port-table extra", CMD_USAGE, "", NULL);
	expect(fx, "ssh-config --port-table=yes", CMD_USAGE, "", NULL);
	expect(fx, "ssh-config --port-table --server 'h:1 ProxyCommand=x'", CMD_USAGE, "", NULL);
	/* no bound port: only the header */
	assert_int_equal(run(fx, "ssh-config --port-table --server jump.example.com:22"), CMD_OK);
	assert_null(strstr(fx->out, "Host "));
	bind_port(fx, "pi-hq", "acme", 22050);
	bind_port(fx, "cam", "beta", 22051);
	/* ls shows a bound port (seed 000's `ss -tlnp | grep 22050`) */
	expect(fx, "ls", CMD_OK, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234  port 22050\n"
	    "cam.beta  offline  never  -  port 22051\n", "");
	assert_int_equal(run(fx, "ls --json"), CMD_OK);
	assert_non_null(strstr(fx->out, "\"ondemand\":null,\"port\":22050}"));
	assert_int_equal(run(fx, "ssh-config --port-table --server jump.example.com:22"), CMD_OK);
	assert_non_null(strstr(fx->out, "Host pi-hq.acme pi-hq\n    HostName localhost\n    Port 22050\n"
	    "    ProxyJump jump.example.com:22\n    HostKeyAlias pi-hq.acme\n"));
	assert_non_null(strstr(fx->out, "Host cam.beta cam\n"));
	/* a second cam: both keep only their qualified names */
	snprintf(line, sizeof(line), "device add cam --fleet acme --key '%s'", keyfile(2));
	expect(fx, line, CMD_OK, NULL, "");
	bind_port(fx, "cam", "acme", 22052);
	assert_int_equal(run(fx, "ssh-config --port-table --server jump.example.com:22"), CMD_OK);
	assert_non_null(strstr(fx->out, "Host cam.beta\n"));
	assert_non_null(strstr(fx->out, "Host cam.acme\n    HostName localhost\n    Port 22052\n"));
	assert_non_null(strstr(fx->out, "Host pi-hq.acme pi-hq\n"));
	/* the plain form is unchanged */
	assert_int_equal(run(fx, "ssh-config --server jump.example.com:22"), CMD_OK);
	assert_null(strstr(fx->out, "HostName localhost"));
	assert_non_null(strstr(fx->out, "Host *.acme\n"));
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
	assert_int_equal(run_as(fx, true, false, alice, NULL, "whoami"), CMD_OK);
	assert_non_null(strstr(fx->out, "alice  user  acme  SHA256:"));
	assert_int_equal(run_as(fx, true, false, alice, NULL, "whoami --json"), CMD_OK);
	assert_non_null(strstr(fx->out, "{\"name\":\"alice\",\"admin\":false,\"fleets\":[\"acme\"]"));

	/* admin commands are refused, naming the command */
	static const char *const refused[][2] = {
		{ "fleet add x", "fleet add" }, { "fleet ls", "fleet ls" },
		{ "fleet rm acme", "fleet rm" }, { "user add x --key -", "user add" },
		{ "user ls", "user ls" }, { "user rm alice", "user rm" },
		{ "grant alice beta", "grant" }, { "revoke alice acme", "revoke" },
		{ "device add x --fleet acme --key -", "device add" },
		{ "device rm pi-hq.acme", "device rm" }, { "device ls", "device ls" },
		{ "device accept-hostkey pi-hq.acme", "device accept-hostkey" },
		{ "device ls --json", "device ls" }, { "who", "who" }, { "who --json", "who" },
		{ "kick alice", "kick" }, { "kick 1", "kick" }, { "audit", "audit" },
		{ "audit --json", "audit" }, { "audit --user alice", "audit" },
		{ "audit verify", "audit verify" },
	};
	long before = tu_file_size(fx->log);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(run_as(fx, true, false, alice, key_line[0], refused[i][0]), CMD_FAIL);
		char want[100];
		snprintf(want, sizeof(want), "outpost: not permitted: %s needs an admin\n", refused[i][1]);
		assert_string_equal(fx->err, want);
		assert_string_equal(fx->out, "");
	}
	assert_int_equal(tu_file_size(fx->log), before);	/* refusals change nothing */
	/* and nothing changed */
	assert_int_equal(run(fx, "grant alice beta"), CMD_OK);
	assert_int_equal(run_as(fx, true, false, alice, NULL, "ls"), CMD_OK);
	assert_string_equal(fx->out, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n"
	    "cam.beta  offline  never  -\n");

	/* help lists only what she may run */
	assert_int_equal(run_as(fx, true, false, alice, NULL, "help"), CMD_OK);
	assert_string_equal(fx->out, "commands (ssh -p PORT HOST <command>):\n"
	    "  ls [--json]\n  whoami [--json]\n  known-hosts\n  ssh-config [--server HOST:PORT] [--port-table]\n"
	    "  tunnel connect NAME[.FLEET]\n  tunnel disconnect NAME[.FLEET]\n  tunnel status NAME[.FLEET]\n"
	    "  help\n");

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

/* ---- tunnel connect|disconnect|status ---- */

struct sent {
	char what[128];
	int fail;
};

static int
fake_send(void *arg, const char *fleet, const char *name, const char *cmd, char *why, size_t whylen)
{
	struct sent *s = arg;

	snprintf(s->what, sizeof(s->what), "%s %s.%s", cmd, name, fleet);
	if (s->fail)
		snprintf(why, whylen, "broker down");
	return s->fail ? ERR_IO : 0;
}

static void
test_tunnel_commands(void **state)
{
	struct fixture *fx = *state;
	struct sent sent = { "", 0 };
	int64_t id;
	char f[LIM_LABEL + 1];

	populate(fx);
	assert_int_equal(store_device_resolve(fx->st, 0, "cam", "beta", &id, f), 0);
	/* hostile states are refused by the store */
	assert_int_equal(store_device_set_ondemand(fx->st, id, "Standby", 1), ERR_INVAL);
	assert_int_equal(store_device_set_ondemand(fx->st, id, "stand by", 1), ERR_INVAL);
	assert_int_equal(store_device_set_ondemand(fx->st, id, "standby'; DROP TABLE devices;--", 1), ERR_INVAL);
	assert_int_equal(store_device_set_ondemand(fx->st, 99999, "standby", 1), ERR_NOTFOUND);
	assert_int_equal(store_device_set_ondemand(fx->st, id, "disconnected", 1795255200), 0);
	expect(fx, "ls", CMD_OK, "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234\n"
	    "cam.beta  standby  never  -\n", "");
	/* status works locally */
	expect(fx, "tunnel status cam.beta", CMD_OK,
	    "cam.beta  standby  mqtt disconnected since 2026-11-21T10:00:00Z\n", "");
	expect(fx, "tunnel status PI-HQ", CMD_OK, "pi-hq.acme  online  not on demand\n", "");
	/* connect needs outpostd's broker connection */
	assert_int_equal(run(fx, "tunnel connect cam.beta"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "needs outpostd's MQTT connection"));
	/* hostile and malformed arguments */
	expect(fx, "tunnel connect", CMD_USAGE, "", NULL);
	expect(fx, "tunnel connect a b", CMD_USAGE, "", NULL);
	expect(fx, "tunnel connect 'a;b'", CMD_USAGE, "", NULL);
	expect(fx, "tunnel connect ../../etc", CMD_USAGE, "", NULL);
	expect(fx, "tunnel frob cam.beta", CMD_USAGE, "", NULL);
	expect(fx, "tunnel status nosuch.beta", CMD_FAIL, "", NULL);
	/* through outpostd */
	fx->ctx.tunnel_send = fake_send;
	fx->ctx.tunnel_arg = &sent;
	assert_int_equal(run_as(fx, true, true, 0, NULL, "tunnel connect cam.beta"), CMD_OK);
	assert_string_equal(sent.what, "connect cam.beta");
	assert_string_equal(fx->out, "connect sent to cam.beta (it was disconnected)\n");
	assert_int_equal(run_as(fx, true, true, 0, NULL, "tunnel disconnect cam"), CMD_OK);
	assert_string_equal(sent.what, "disconnect cam.beta");
	sent.what[0] = '\0';
	assert_int_equal(run_as(fx, true, true, 0, NULL, "tunnel connect pi-hq.acme"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "not an on-demand device"));
	assert_string_equal(sent.what, "");
	/* a user without a grant on the fleet: as if the device did not exist */
	assert_int_equal(run_as(fx, true, false, 424242, NULL, "tunnel connect cam.beta"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "no device named cam.beta"));
	assert_string_equal(sent.what, "");
	sent.fail = 1;
	assert_int_equal(run_as(fx, true, true, 0, NULL, "tunnel connect cam.beta"), CMD_FAIL);
	assert_non_null(strstr(fx->err, "broker down"));
	fx->ctx.tunnel_send = NULL;
}

/* ---- audit records of administrative changes ---- */

struct recs {
	char lines[64][2048];
	int n;
};

/* Every record in the log, checked to verify, with prev removed for comparison. */
static void
read_recs(struct fixture *fx, struct recs *r)
{
	struct audit_verify_result res;
	char *text = tu_slurp(fx->log), *p = text;

	assert_int_equal(audit_verify(fx->log, &res), 0);
	r->n = 0;
	while (p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		char *pv = strstr(p, ",\"prev\":\"");
		assert_non_null(pv);
		assert_true(r->n < 64);
		/* drop the timestamp too: {"ts":"...","event":... -> {"event":... */
		char *ev = strstr(p, "\"event\":");
		assert_non_null(ev);
		snprintf(r->lines[r->n++], sizeof(r->lines[0]), "{%.*s}", (int)(pv - ev), ev);
		p = nl + 1;
	}
	free(text);
}

/* Expects the n-th (0-based) record to be exactly want, where ACTOR stands for the actor. */
static void
expect_rec(struct recs *r, int i, const char *actor, const char *want_fmt)
{
	char want[2048];

	assert_true(i < r->n);
	snprintf(want, sizeof(want), want_fmt, actor);
	if (strcmp(r->lines[i], want) != 0)
		fail_msg("record %d is\n%s\nwanted\n%s", i, r->lines[i], want);
}

static void
test_admin_records(void **state)
{
	struct fixture *fx = *state;
	struct recs r;
	char line[800], want[1200];
	const char *me = local_actor();

	expect(fx, "fleet add ACME", CMD_OK, "fleet acme added\n", "");
	expect(fx, "fleet add acme", CMD_FAIL, "", NULL);
	snprintf(line, sizeof(line), "user add alice --key '%s' --fleet acme", keyfile(0));
	expect(fx, line, CMD_OK, NULL, "");
	expect(fx, "grant alice acme --for 2h", CMD_OK, NULL, "");
	expect(fx, "grant alice nope", CMD_FAIL, "", NULL);
	expect(fx, "revoke alice acme", CMD_OK, NULL, "");
	snprintf(line, sizeof(line), "device add pi --fleet acme --key '%s'", keyfile(1));
	expect(fx, line, CMD_OK, NULL, "");
	expect(fx, "device rm pi.acme", CMD_OK, NULL, "");
	expect(fx, "user rm alice", CMD_OK, NULL, "");
	expect(fx, "fleet rm acme", CMD_OK, NULL, "");
	expect(fx, "fleet rm acme", CMD_FAIL, "", NULL);
	/* usage errors and read-only commands leave no record */
	expect(fx, "fleet add 'bad name'", CMD_USAGE, "", NULL);
	expect(fx, "fleet ls", CMD_OK, NULL, "");
	expect(fx, "user ls --json", CMD_OK, NULL, "");

	read_recs(fx, &r);
	assert_int_equal(r.n, 11);
	expect_rec(&r, 0, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"fleet add ACME\","
	    "\"fleet\":\"acme\",\"result\":\"ok\"}");
	expect_rec(&r, 1, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"fleet add acme\","
	    "\"fleet\":\"acme\",\"result\":\"failed\",\"error\":\"fleet acme already exists\"}");
	snprintf(want, sizeof(want), "{\"event\":\"admin\",\"actor\":\"%%s\",\"command\":\"user add alice "
	    "--key %s --fleet acme\",\"user\":\"alice\",\"admin\":false,\"key_fp\":\"%s\","
	    "\"fleets\":\"acme\",\"result\":\"ok\"}", keyfile(0), key_fp[0]);
	expect_rec(&r, 2, me, want);
	assert_non_null(strstr(r.lines[3], "\"command\":\"grant alice acme --for 2h\",\"user\":\"alice\","
	    "\"fleet\":\"acme\",\"expires\":\"20"));
	assert_non_null(strstr(r.lines[3], "Z\",\"result\":\"ok\"}"));
	expect_rec(&r, 4, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"grant alice nope\","
	    "\"user\":\"alice\",\"fleet\":\"nope\",\"expires\":\"never\",\"result\":\"failed\","
	    "\"error\":\"no fleet named nope\"}");
	expect_rec(&r, 5, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"revoke alice acme\","
	    "\"user\":\"alice\",\"fleet\":\"acme\",\"result\":\"ok\"}");
	snprintf(want, sizeof(want), "{\"event\":\"admin\",\"actor\":\"%%s\",\"command\":\"device add pi "
	    "--fleet acme --key %s\",\"device\":\"pi.acme\",\"fleet\":\"acme\",\"key_fp\":\"%s\","
	    "\"result\":\"ok\"}", keyfile(1), key_fp[1]);
	expect_rec(&r, 6, me, want);
	expect_rec(&r, 7, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"device rm pi.acme\","
	    "\"device\":\"pi.acme\",\"fleet\":\"acme\",\"result\":\"ok\"}");
	expect_rec(&r, 8, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"user rm alice\","
	    "\"user\":\"alice\",\"result\":\"ok\"}");
	expect_rec(&r, 9, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"fleet rm acme\","
	    "\"fleet\":\"acme\",\"result\":\"ok\"}");
	expect_rec(&r, 10, me, "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"fleet rm acme\","
	    "\"fleet\":\"acme\",\"result\":\"failed\",\"error\":\"no fleet named acme\"}");
}

/* Runs an argv as given (bytes the splitter would refuse), locally as the operator. */
static int
run_argv(struct fixture *fx, int argc, char **argv)
{
	size_t ol, el;

	free(fx->out);
	free(fx->err);
	fx->ctx.remote = false;
	fx->ctx.admin = true;
	fx->ctx.in = NULL;
	fx->ctx.out = open_memstream(&fx->out, &ol);
	fx->ctx.err = open_memstream(&fx->err, &el);
	int r = cmd_run(&fx->ctx, argc, argv);
	fclose(fx->ctx.out);
	fclose(fx->ctx.err);
	return r;
}

/* A remote admin is the actor; words are recorded printable and quoted where needed. */
static void
test_admin_records_remote(void **state)
{
	struct fixture *fx = *state;
	struct recs r;
	char *argv[] = { "fleet", "add", "x\x1b[2J\n\"y", NULL };

	fx->ctx.user = "root-admin";
	assert_int_equal(run_as(fx, true, true, 99, NULL, "fleet add 'Acme'"), CMD_OK);
	assert_int_equal(run_as(fx, true, true, 99, key_line[2], "user add bob --key - --admin"), CMD_OK);
	assert_int_equal(run_as(fx, true, true, 99, NULL, "grant bob acme"), CMD_OK);
	/* a local argv with control bytes fails as a usage error, unrecorded */
	assert_int_equal(run_argv(fx, 3, argv), CMD_USAGE);
	read_recs(fx, &r);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, "root-admin", "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"fleet add Acme\","
	    "\"fleet\":\"acme\",\"result\":\"ok\"}");
	assert_non_null(strstr(r.lines[1], "\"actor\":\"root-admin\",\"command\":\"user add bob --key - "
	    "--admin\",\"user\":\"bob\",\"admin\":true,"));
	expect_rec(&r, 2, "root-admin", "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"grant bob acme\","
	    "\"user\":\"bob\",\"fleet\":\"acme\",\"expires\":\"never\",\"result\":\"ok\"}");
	/* words with spaces, quotes or control bytes are recorded escaped and quoted */
	assert_int_equal(store_session_add(fx->st, 5, "user", "bob", "", "", 1), 0);
	char *argv2[] = { "kick", "BOB", "--", NULL };
	assert_int_equal(run_argv(fx, 3, argv2), CMD_OK);
	char *argv3[] = { "kick", "--", "x y'\x01", NULL };
	assert_int_equal(run_argv(fx, 3, argv3), CMD_USAGE);
	char *argv4[] = { "kick", "", NULL };
	assert_int_equal(run_argv(fx, 2, argv4), CMD_USAGE);
	char *argv5[] = { "kick", "--", "bob", NULL };
	assert_int_equal(run_argv(fx, 3, argv5), CMD_OK);
	char *argv6[] = { "kick", "'bob'", NULL };
	assert_int_equal(run_argv(fx, 2, argv6), CMD_USAGE);
	read_recs(fx, &r);
	assert_int_equal(r.n, 5);
	expect_rec(&r, 3, local_actor(), "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":"
	    "\"kick BOB --\",\"target\":\"BOB\",\"sessions\":1,\"result\":\"ok\"}");
	expect_rec(&r, 4, local_actor(), "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":"
	    "\"kick -- bob\",\"target\":\"bob\",\"sessions\":1,\"result\":\"ok\"}");

	/* a key file whose path holds a space and a control byte */
	char path[800], cmdtext[900], *key = tu_slurp(keyfile(1));
	snprintf(path, sizeof(path), "%s/my keys\x01.pub", fx->dir);
	FILE *fp = fopen(path, "w");
	fputs(key, fp);
	fclose(fp);
	free(key);
	char *argv7[] = { "device", "add", "cam", "--fleet", "acme", "--key", path, NULL };
	assert_int_equal(run_argv(fx, 7, argv7), CMD_OK);
	read_recs(fx, &r);
	assert_int_equal(r.n, 6);
	snprintf(cmdtext, sizeof(cmdtext), "\"command\":\"device add cam --fleet acme --key '%s/my "
	    "keys\\\\x01.pub'\",", fx->dir);
	if (strstr(r.lines[5], cmdtext) == NULL)
		fail_msg("%s lacks %s", r.lines[5], cmdtext);
}

/* Without an audit log, every administrative change is refused and nothing changes. */
static void
test_audit_unavailable(void **state)
{
	struct fixture *fx = *state;
	char line[800];

	expect(fx, "fleet add acme", CMD_OK, NULL, "");
	fx->ctx.audit = NULL;
	static const char *const changes[][2] = {
		{ "fleet add beta", "fleet add" }, { "fleet rm acme", "fleet rm" },
		{ "user add bob --key -", "user add" }, { "user rm bob", "user rm" },
		{ "grant bob acme", "grant" }, { "revoke bob acme", "revoke" },
		{ "device add pi --fleet acme --key -", "device add" }, { "device rm pi.acme", "device rm" },
		{ "kick bob", "kick" }, { "kick 1", "kick" },
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		assert_int_equal(run_as(fx, false, true, 0, key_line[0], changes[i][0]), CMD_FAIL);
		snprintf(line, sizeof(line), "outpost: %s: audit log unavailable; administrative "
		    "changes are refused\n", changes[i][1]);
		assert_string_equal(fx->err, line);
		assert_string_equal(fx->out, "");
	}
	expect(fx, "fleet ls", CMD_OK, "acme  0 devices\n", "");
	expect(fx, "user ls", CMD_OK, "", "");
	expect(fx, "who", CMD_OK, "", "");
	/* queries need the state directory, not the handle */
	expect(fx, "audit verify", CMD_OK, "audit log OK: 1 record\n", "");
	fx->ctx.state_dir = NULL;
	expect(fx, "audit verify", CMD_FAIL, "", "outpost: audit verify: audit log unavailable\n");
	expect(fx, "audit", CMD_FAIL, "", "outpost: audit: audit log unavailable\n");
}

/* The audit write fails after the change: success is never printed. */
static void
test_audit_write_fails(void **state)
{
	struct fixture *fx = *state;
	struct audit *full;
	struct rlimit old, lim;
	char dir[700], log[760];
	int fd;

	/* a log already at the file size limit (sparse): no byte more fits */
	snprintf(dir, sizeof(dir), "%s/full", fx->dir);
	snprintf(log, sizeof(log), "%s/audit.log", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_true((fd = open(log, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	close(fd);
	assert_int_equal(audit_open(dir, &full), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 64 << 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	fx->ctx.audit = full;
	expect(fx, "fleet add acme", CMD_FAIL, "", NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(fx->err, "outpost: fleet add: the change was made, but its audit record "
	    "could not be written"));
	audit_close(full);
	fx->ctx.audit = fx->audit;
	expect(fx, "fleet ls", CMD_OK, "acme  0 devices\n", "");
}

/* ---- who and kick ---- */

static void
test_who_kick(void **state)
{
	struct fixture *fx = *state;
	struct recs r;

	expect(fx, "who", CMD_OK, "", "");
	expect(fx, "who --json", CMD_OK, "[]\n", "");
	expect(fx, "who extra", CMD_USAGE, "", NULL);
	assert_int_equal(store_session_add(fx->st, 3, "user", "alice", "SHA256:abc", "192.0.2.1:5000",
	    1795255200), 0);
	assert_int_equal(store_session_add(fx->st, 4, "device", "pi.acme", "SHA256:def",
	    "[2001:db8::1]:22", 1795255201), 0);
	assert_int_equal(store_session_add(fx->st, 9, "user", "alice", "", "", 1795255202), 0);
	assert_int_equal(store_session_set_bytes(fx->st, 4, 123456789), 0);
	expect(fx, "who", CMD_OK,
	    "3  user  alice  SHA256:abc  192.0.2.1:5000  2026-11-21T10:00:00Z  0\n"
	    "4  device  pi.acme  SHA256:def  [2001:db8::1]:22  2026-11-21T10:00:01Z  123456789\n"
	    "9  user  alice  -  -  2026-11-21T10:00:02Z  0\n", "");
	expect(fx, "who --json", CMD_OK,
	    "[{\"id\":3,\"kind\":\"user\",\"principal\":\"alice\",\"key_fp\":\"SHA256:abc\","
	    "\"src\":\"192.0.2.1:5000\",\"since\":\"2026-11-21T10:00:00Z\",\"bytes\":0,\"kicked\":false},"
	    "{\"id\":4,\"kind\":\"device\",\"principal\":\"pi.acme\",\"key_fp\":\"SHA256:def\","
	    "\"src\":\"[2001:db8::1]:22\",\"since\":\"2026-11-21T10:00:01Z\",\"bytes\":123456789,"
	    "\"kicked\":false},"
	    "{\"id\":9,\"kind\":\"user\",\"principal\":\"alice\",\"key_fp\":null,\"src\":null,"
	    "\"since\":\"2026-11-21T10:00:02Z\",\"bytes\":0,\"kicked\":false}]\n", "");

	/* hostile and unknown targets first */
	expect(fx, "kick", CMD_USAGE, "", NULL);
	expect(fx, "kick 'a b'", CMD_USAGE, "",
	    "outpost: kick: 'a b' is not a session id, a user name or NAME.FLEET "
	    "(usage: kick SESSION|NAME.FLEET|USER)\n");
	expect(fx, "kick -1", CMD_USAGE, "", NULL);
	expect(fx, "kick -- -1", CMD_USAGE, "", NULL);
	expect(fx, "kick a.b.c", CMD_USAGE, "", NULL);
	expect(fx, "kick 5", CMD_FAIL, "", "outpost: kick: no live session 5\n");
	expect(fx, "kick bob", CMD_FAIL, "", "outpost: kick: no live session of bob\n");
	expect(fx, "kick pi", CMD_FAIL, "", "outpost: kick: no live session of pi\n");
	expect(fx, "kick pi.beta", CMD_FAIL, "", "outpost: kick: no live session of pi.beta\n");

	expect(fx, "kick 3", CMD_OK, "kicked 1 session\n", "");
	expect(fx, "kick ALICE", CMD_OK, "kicked 2 sessions\n", "");
	expect(fx, "kick Pi.Acme", CMD_OK, "kicked 1 session\n", "");
	expect(fx, "who", CMD_OK, NULL, "");
	assert_non_null(strstr(fx->out, "123456789  kicked\n"));
	expect(fx, "who --json", CMD_OK, NULL, "");
	assert_null(strstr(fx->out, "\"kicked\":false"));

	read_recs(fx, &r);
	assert_int_equal(r.n, 7);
	expect_rec(&r, 0, local_actor(), "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"kick 5\","
	    "\"target\":\"5\",\"sessions\":0,\"result\":\"failed\",\"error\":\"no live session 5\"}");
	expect_rec(&r, 4, local_actor(), "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"kick 3\","
	    "\"target\":\"3\",\"sessions\":1,\"result\":\"ok\"}");
	expect_rec(&r, 5, local_actor(), "{\"event\":\"admin\",\"actor\":\"%s\",\"command\":\"kick ALICE\","
	    "\"target\":\"ALICE\",\"sessions\":2,\"result\":\"ok\"}");
}

/* ---- audit queries ---- */

/* Writes a chained log from record bodies given without prev ("{...}" minus the closing brace). */
static void
write_chain(const char *path, const char *const *bodies, int n, const char *extra_tail)
{
	char prev[AUDIT_HASH_HEX + 1], line[4096];
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	for (int i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "%s,\"prev\":\"%s\"}", bodies[i], prev);
		fprintf(fp, "%s\n", line);
		audit_hash_hex(line, (size_t)len, prev);
	}
	if (extra_tail != NULL)
		fputs(extra_tail, fp);
	fclose(fp);
}

/*
 * Text mode shows what a peer planted (a device name, a command) without
 * letting it act on the terminal: C1 controls and bidi controls are escaped
 * like C0 ones, whether the log holds them raw (written before they were
 * escaped) or as \\u escapes (decoded, then escaped again).
 */
static void
test_audit_text_controls(void **state)
{
	struct fixture *fx = *state;
	static const char *const bodies[] = {
		"{\"ts\":\"2026-11-21T10:00:00.000Z\",\"event\":\"connect\",\"user\":\"alice\","
		    "\"device\":\"pi\xc2\x9b" "31mX\",\"reason\":\"a\xe2\x80\xae" "cba\"",
		"{\"ts\":\"2026-11-21T10:00:01.000Z\",\"event\":\"command\",\"user\":\"alice\","
		    "\"command\":\"\\u0085\\u202d\\u2066x\\u2069\\u0080\"",
	};

	write_chain(fx->log, bodies, 2, NULL);
	expect(fx, "audit", CMD_OK,
	    "2026-11-21T10:00:00.000Z  connect  device=\"pi\\u009b31mX\" reason=\"a\\u202ecba\" user=alice\n"
	    "2026-11-21T10:00:01.000Z  command  command=\"\\u0085\\u202d\\u2066x\\u2069\\u0080\" user=alice\n",
	    "");
	for (const unsigned char *p = (const unsigned char *)fx->out; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p < 0x7f ? true : *p == '\n');
}

static void
test_audit_query(void **state)
{
	struct fixture *fx = *state;
	static const char *const bodies[] = {
		"{\"ts\":\"2026-11-20T09:00:00.000Z\",\"event\":\"auth\",\"session\":1,\"kind\":\"user\","
		    "\"user\":\"alice\",\"key_fp\":\"SHA256:a\",\"src\":\"192.0.2.1:1\",\"result\":\"ok\"",
		"{\"ts\":\"2026-11-21T10:00:00.000Z\",\"event\":\"connect\",\"session\":1,\"user\":\"alice\","
		    "\"device\":\"pi.acme\",\"port\":22,\"result\":\"ok\"",
		"{\"ts\":\"2026-11-21T10:30:00.500Z\",\"event\":\"connect\",\"session\":2,\"user\":\"bob\","
		    "\"device\":\"PI.beta\",\"port\":22,\"result\":\"refused\",\"reason\":\"not permitted\"",
		"{\"ts\":\"2026-11-21T11:00:00.000Z\",\"event\":\"admin\",\"actor\":\"local:root\","
		    "\"command\":\"user rm bob\",\"user\":\"bob\",\"result\":\"ok\"",
		"{\"ts\":\"2026-11-21T12:00:00.000Z\",\"event\":\"register\",\"session\":3,\"kind\":\"device\","
		    "\"device\":\"pi2.acme\",\"port\":22,\"weird\":\"a b=\\\"c\\u0000\\u001b\",\"n\":[1,2],"
		    "\"z\":null",
	};

	write_chain(fx->log, bodies, 5, "not json\n{\"torn");
	expect(fx, "audit verify", CMD_FAIL, "",
	    "outpost: audit verify: line 6: not a complete JSON record (not a JSON object) "
	    "(5 records before it chain correctly)\n");
	/* hostile options first */
	expect(fx, "audit --since yesterday", CMD_USAGE, "", NULL);
	expect(fx, "audit --since 2026-11-21T10:00:00", CMD_USAGE, "", NULL);
	expect(fx, "audit --since 2026-13-01", CMD_USAGE, "", NULL);
	expect(fx, "audit --since 2026-11-21T25:00:00Z", CMD_USAGE, "", NULL);
	expect(fx, "audit --since ' 2026-11-21'", CMD_USAGE, "", NULL);
	expect(fx, "audit --since 2026-11-21x", CMD_USAGE, "", NULL);
	expect(fx, "audit --since 0", CMD_USAGE, "", NULL);
	expect(fx, "audit --since -1h", CMD_USAGE, "", NULL);
	expect(fx, "audit --device a.b.c", CMD_USAGE, "", NULL);
	expect(fx, "audit --device ''", CMD_USAGE, "", NULL);
	expect(fx, "audit --user", CMD_USAGE, "", NULL);
	expect(fx, "audit extra", CMD_USAGE, "", NULL);
	expect(fx, "audit --json --json", CMD_OK, NULL, "");	/* a flag twice is harmless */

	/* all records, text: ts, event, then the other keys sorted, prev left out */
	expect(fx, "audit", CMD_OK,
	    "2026-11-20T09:00:00.000Z  auth  key_fp=SHA256:a kind=user result=ok session=1 src=192.0.2.1:1 user=alice\n"
	    "2026-11-21T10:00:00.000Z  connect  device=pi.acme port=22 result=ok session=1 user=alice\n"
	    "2026-11-21T10:30:00.500Z  connect  device=PI.beta port=22 reason=\"not permitted\" result=refused session=2 user=bob\n"
	    "2026-11-21T11:00:00.000Z  admin  actor=local:root command=\"user rm bob\" result=ok user=bob\n"
	    "2026-11-21T12:00:00.000Z  register  device=pi2.acme kind=device n=[1,2] port=22 session=3 weird=\"a b=\\\"c\\\\x00\\\\x1b\" z=null\n",
	    "");
	/* --since as a time (inclusive) and as a duration ago */
	expect(fx, "audit --since 2026-11-21T10:30:00Z", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 3);
	assert_true(strncmp(fx->out, "2026-11-21T10:30:00.500Z  connect", 33) == 0);
	expect(fx, "audit --since 2026-11-21", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 4);
	expect(fx, "audit --since 2026-11-21T10:30:00.600Z", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 2);
	expect(fx, "audit --since 1h", CMD_OK, "", "");	/* these records are all older */
	expect(fx, "audit --since 5000w", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 5);
	/* --user matches user, actor and ssh_user; case-insensitive names */
	expect(fx, "audit --user ALICE", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 2);
	expect(fx, "audit --user bob", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 2);
	expect(fx, "audit --user local:root", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 1);
	expect(fx, "audit --user nobody", CMD_OK, "", "");
	/* --device: NAME.FLEET exactly, a bare NAME in any fleet */
	expect(fx, "audit --device pi.acme", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 1);
	expect(fx, "audit --device pi", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 2);
	expect(fx, "audit --device Pi.Beta --user bob --since 2026-11-21", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 1);
	expect(fx, "audit --device pi --user alice --since 2026-11-21T10:00:01Z", CMD_OK, "", "");
	/* --json: the records themselves, prev included, as one array */
	expect(fx, "audit --json", CMD_OK, NULL, "");
	assert_true(tu_json_valid(fx->out, strlen(fx->out)));
	assert_int_equal(fx->out[0], '[');
	assert_non_null(strstr(fx->out, "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"));
	assert_non_null(strstr(fx->out, "\"weird\":\"a b=\\\"c\\u0000\\u001b\""));
	assert_null(strstr(fx->out, "torn"));
	assert_null(strstr(fx->out, "not json"));
	expect(fx, "audit --json --user nobody", CMD_OK, "[]\n", "");
	expect(fx, "audit --json --device pi.acme", CMD_OK, NULL, "");
	assert_true(tu_json_valid(fx->out, strlen(fx->out)));
	assert_int_equal(strncmp(fx->out, "[{\"ts\":\"2026-11-21T10:00:00.000Z\",\"event\":\"connect\"", 51), 0);
	/* a missing log */
	unlink(fx->log);
	expect(fx, "audit", CMD_FAIL, "", NULL);
	assert_non_null(strstr(fx->err, "outpost: audit: cannot read "));
	expect(fx, "audit verify", CMD_FAIL, "", NULL);
	assert_non_null(strstr(fx->err, "cannot read"));
}

/* Commands append through the handle and verify reads back the same chain. */
static void
test_audit_verify_cmd(void **state)
{
	struct fixture *fx = *state;

	expect(fx, "audit verify", CMD_OK, "audit log OK: 0 records\n", "");
	expect(fx, "audit verify --json", CMD_USAGE, "", NULL);
	expect(fx, "audit verify now", CMD_USAGE, "", NULL);
	expect(fx, "fleet add acme", CMD_OK, NULL, "");
	expect(fx, "fleet add beta", CMD_OK, NULL, "");
	expect(fx, "fleet rm beta", CMD_OK, NULL, "");
	expect(fx, "audit verify", CMD_OK, "audit log OK: 3 records\n", "");
	/* delete the middle record */
	char *text = tu_slurp(fx->log);
	char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	memmove(l2, l3, strlen(l3) + 1);
	FILE *fp = fopen(fx->log, "w");
	fputs(text, fp);
	fclose(fp);
	free(text);
	expect(fx, "audit verify", CMD_FAIL, "",
	    "outpost: audit verify: line 2: prev does not match line 1 (1 record before it chain correctly)\n");
	/* the same through the text query: the records are still readable */
	expect(fx, "audit", CMD_OK, NULL, "");
	assert_int_equal(tu_count_lines(fx->out), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tunnel_commands),
		cmocka_unit_test(test_split_hostile),
		cmocka_unit_test(test_split_quoting),
		cmocka_unit_test(test_wants_stdin),
		T(test_dispatch_errors),
		T(test_remote_users),
		T(test_ssh_config_port_table),
		T(test_learned_host_keys),
		T(test_json_escaping),
		T(test_fleet_commands),
		T(test_user_commands),
		T(test_device_commands),
		T(test_admin_records),
		T(test_admin_records_remote),
		T(test_audit_unavailable),
		T(test_audit_write_fails),
		T(test_who_kick),
		T(test_audit_query),
		T(test_audit_text_controls),
		T(test_audit_verify_cmd),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
