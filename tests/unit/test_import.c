/* test_import.c: `import sshd` against a temp store: hostile files first (all or nothing, line numbers), then plans, imports, port tables, users and stdin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/limits.h"
#include "store/store.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char state[600], file[600], table[600];
	struct store *st;
	struct audit *audit;
	struct cmd_ctx ctx;
	char *out, *err;
	char key[4][200];	/* "ssh-ed25519 BASE64" of k0..k3 */
	char fp[4][64];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->file, sizeof(fx->file), "%s/authorized_keys", fx->dir);
	snprintf(fx->table, sizeof(fx->table), "%s/ports", fx->dir);
	if (store_open(fx->state, &fx->st) != 0 || audit_open(fx->state, &fx->audit) != 0)
		return -1;
	fx->ctx = (struct cmd_ctx){ .st = fx->st, .admin = true, .audit = fx->audit,
	    .state_dir = fx->state };
	for (int i = 0; i < 4; i++) {
		char name[8], path[700];
		snprintf(name, sizeof(name), "k%d", i);
		if (tu_keygen(fx->dir, name, "ed25519") != 0 ||
		    tu_fingerprint(fx->dir, name, fx->fp[i], sizeof(fx->fp[i])) != 0)
			return -1;
		snprintf(path, sizeof(path), "%s/%s.pub", fx->dir, name);
		char *t = tu_slurp(path);
		if (t == NULL)
			return -1;
		t[strcspn(t, " ")] = ' ';
		char *sp = strchr(t, ' ');
		sp = sp ? strchr(sp + 1, ' ') : NULL;
		if (sp != NULL)
			*sp = '\0';
		snprintf(fx->key[i], sizeof(fx->key[i]), "%s", t);
		free(t);
	}
	store_fleet_add(fx->st, "acme");
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

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Runs `import sshd ARGS` (stdin in, may be NULL); fx->out / fx->err hold the output. */
static int
run(struct fixture *fx, bool remote, const char *in, const char *args)
{
	char line[2048], **argv;
	int argc;
	size_t ol, el;

	free(fx->out);
	free(fx->err);
	snprintf(line, sizeof(line), "import sshd %s", args);
	assert_int_equal(cmd_split(line, strlen(line), &argv, &argc, NULL), 0);
	fx->ctx.remote = remote;
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
count_devices(struct fixture *fx)
{
	int n = -1;
	assert_int_equal(store_fleet_get(fx->st, "acme", &n), 0);
	return n;
}

/* The device holding port in any fleet ("name.fleet"), or "" if none or several. */
static const char *
port_owner(struct fixture *fx, uint32_t port)
{
	static char q[2 * LIM_TARGET + 8];
	int64_t id;

	if (store_device_by_port(fx->st, 0, port, &id, q, sizeof(q)) != 0)
		q[0] = '\0';
	return q;
}

static void
has(const char *text, const char *part)
{
	if (strstr(text, part) == NULL)
		fail_msg("<%s> lacks <%s>", text, part);
}

/* A file with one bad line among good ones: refused with the line number, nothing written. */
static void
refused(struct fixture *fx, const char *text, size_t len, const char *err_part)
{
	char args[700];

	write_file(fx->file, text, len);
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme", fx->file);
	int r = run(fx, false, NULL, args);
	if (r != CMD_FAIL)
		fail_msg("<%.80s> gave %d; out %s", text, r, fx->out);
	has(fx->err, err_part);
	has(fx->err, "nothing imported");
	assert_int_equal(count_devices(fx), 0);
}

static void
test_hostile(void **state)
{
	struct fixture *fx = *state;
	char buf[LIM_KEYLINE * 2];
	int n;

	n = snprintf(buf, sizeof(buf), "%s good\n%s A@nul\n", fx->key[0], fx->key[1]);
	*strchr(strchr(buf, '\n'), '@') = '\0';
	refused(fx, buf, (size_t)n, "authorized_keys:2: NUL byte");
	n = snprintf(buf, sizeof(buf), "%s good\nssh-ed25519 ", fx->key[0]);
	memset(buf + n, 'A', LIM_KEYLINE);
	n += LIM_KEYLINE;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n%s last\n", fx->key[1]);
	refused(fx, buf, (size_t)n, "authorized_keys:2: line longer than");
	n = snprintf(buf, sizeof(buf), "%s same\r\n%s Same\r\n", fx->key[0], fx->key[1]);
	refused(fx, buf, (size_t)n, ":2: the name same is also line 1's");
	n = snprintf(buf, sizeof(buf), "%s a\n\n# x\n%s b\n", fx->key[0], fx->key[0]);
	refused(fx, buf, (size_t)n, ":4: the same key as line 1");
	n = snprintf(buf, sizeof(buf), "%s pi@raspberrypi\n%s pi@RaspberryPi\n", fx->key[0], fx->key[1]);
	refused(fx, buf, (size_t)n, ":2: the name pi-raspberrypi is also line 1's");
	n = snprintf(buf, sizeof(buf), "%s\n", fx->key[0]);
	refused(fx, buf, (size_t)n, ":1: the comment '' gives no name");
	n = snprintf(buf, sizeof(buf), "%s \xe2\x9a\xa1\n", fx->key[0]);
	refused(fx, buf, (size_t)n, "gives no name");
	n = snprintf(buf, sizeof(buf), "command=\"/usr/bin/rsync --server\" %s backup\n", fx->key[0]);
	refused(fx, buf, (size_t)n, ":1: command=\"/usr/bin/rsync --server\": this key runs a program");
	n = snprintf(buf, sizeof(buf), "from=\"10.0.0.0/8\" %s x\n", fx->key[0]);
	refused(fx, buf, (size_t)n, ":1: from= limits");
	n = snprintf(buf, sizeof(buf), "restrict %s x\n", fx->key[0]);
	refused(fx, buf, (size_t)n, "may not forward ports");
	n = snprintf(buf, sizeof(buf), "port-forwarding,restrict %s x\n", fx->key[0]);
	refused(fx, buf, (size_t)n, "may not forward ports");	/* order matters, as in sshd */
	n = snprintf(buf, sizeof(buf), "frobnicate %s x\n", fx->key[0]);
	refused(fx, buf, (size_t)n, "unknown option 'frobnicate'");
	n = snprintf(buf, sizeof(buf), "cert-authority %s x\n", fx->key[0]);
	refused(fx, buf, (size_t)n, "certificate authorities");
	n = snprintf(buf, sizeof(buf), "permitlisten=\"1\" %s a\npermitlisten=\"1\" %s b\n", fx->key[0],
	    fx->key[1]);
	refused(fx, buf, (size_t)n, ":2: port 1 is also a's (line 1)");
	/* a key type outpost refuses */
	assert_int_equal(tu_keygen(fx->dir, "dsa", "dsa"), 0);
	char path[700];
	snprintf(path, sizeof(path), "%s/dsa.pub", fx->dir);
	char *dsa = tu_slurp(path);
	refused(fx, dsa, strlen(dsa), ":1: key type ssh-dss is not accepted");
	free(dsa);
	/* every problem is reported, each with its line */
	n = snprintf(buf, sizeof(buf), "from=\"x\" %s a\nbogus\n%s c\n%s c\n", fx->key[0], fx->key[1],
	    fx->key[2]);
	refused(fx, buf, (size_t)n, ":1: from=");
	has(fx->err, ":2: ");
	has(fx->err, ":4: the name c is also line 3's");
	has(fx->err, "3 problems; nothing imported");
}

static void
test_store_conflicts(void **state)
{
	struct fixture *fx = *state;
	char buf[4096], args[700];

	/* k0 as device "hq" already; k1 belongs to a user */
	snprintf(buf, sizeof(buf), "%s hq\n", fx->key[0]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme", fx->file);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	snprintf(buf, sizeof(buf), "%s alice\n", fx->key[1]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--users %s --fleet acme", fx->file);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	assert_int_equal(count_devices(fx), 1);

	/* a name bound to another key; a key bound to a user; k0 again under a new name */
	snprintf(buf, sizeof(buf), "%s hq\n%s techie\n%s hq2\n", fx->key[2], fx->key[1], fx->key[0]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme", fx->file);
	assert_int_equal(run(fx, false, NULL, args), CMD_FAIL);
	has(fx->err, ":1: device hq.acme already exists with another key");
	has(fx->err, ":2: key ");
	has(fx->err, "already belongs to user alice");
	has(fx->err, ":3: key ");
	has(fx->err, "already belongs to device hq.acme");
	assert_int_equal(count_devices(fx), 1);

	/* the same key under the same name again: unchanged, and the rest imported */
	snprintf(buf, sizeof(buf), "%s hq\n%s new\n", fx->key[0], fx->key[3]);
	write_file(fx->file, buf, strlen(buf));
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	has(fx->out, "hq.acme  ");
	has(fx->out, "(already imported)");
	has(fx->out, "# imported 1 devices into fleet acme (1 already there)");
	assert_int_equal(count_devices(fx), 2);

	/* an unknown fleet */
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet nope", fx->file);
	assert_int_equal(run(fx, false, NULL, args), CMD_FAIL);
	has(fx->err, "no fleet named nope");
}

static void
test_plan_and_ports(void **state)
{
	struct fixture *fx = *state;
	char buf[4096], args[1400], line[300];

	snprintf(buf, sizeof(buf),
	    "# the old jump\n"
	    "%s auvik-acme-hq\n"
	    "restrict,port-forwarding,permitlisten=\"localhost:22051\",no-pty %s Auvik Globex Main\r\n"
	    "command=\"/bin/false\",permitlisten=\"22060\" %s auvik-initech-office\n",
	    fx->key[0], fx->key[1], fx->key[2]);
	write_file(fx->file, buf, strlen(buf));
	write_file(fx->table, "# PORT NAME\n22050 auvik-acme-hq   # Acme Corp\n\n"
	    "\t22052\tAUVIK-INITECH-OFFICE\r\n22053 spare\n", 88);
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s --dry-run", fx->file,
	    fx->table);
	int r = run(fx, false, NULL, args);
	if (r != CMD_OK)
		fail_msg("dry run: %d: %s", r, fx->err);
	snprintf(line, sizeof(line), "auvik-acme-hq.acme  %s  port 22050 port-table  line 2\n", fx->fp[0]);
	has(fx->out, line);
	snprintf(line, sizeof(line), "auvik-globex-main.acme  %s  port 22051 permitlisten  line 3\n",
	    fx->fp[1]);
	has(fx->out, line);
	snprintf(line, sizeof(line), "auvik-initech-office.acme  %s  port 22052 port-table  line 4\n",
	    fx->fp[2]);
	has(fx->out, line);
	has(fx->out, "#   line 4: command=\"/bin/false\" ignored");
	has(fx->out, "permitlisten 22060 differs from the port table's 22052");
	has(fx->out, "ports:5: 22053 spare matches no key");
	has(fx->out, "# dry run: 3 devices would be imported");
	assert_int_equal(count_devices(fx), 0);

	/* names from the table through permitlisten ports */
	snprintf(buf, sizeof(buf), "permitlisten=\"22050\" %s pi@raspberrypi\n"
	    "permitlisten=\"*:22053\" %s pi@raspberrypi\n", fx->key[0], fx->key[1]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s --names port-table",
	    fx->file, fx->table);
	r = run(fx, false, NULL, args);
	if (r != CMD_OK)
		fail_msg("port-table names: %d: %s", r, fx->err);
	has(fx->out, "auvik-acme-hq.acme  ");
	has(fx->out, "spare.acme  ");
	assert_int_equal(count_devices(fx), 2);

	/* bad tables: line numbers, nothing written */
	write_file(fx->table, "22050 a\n22050 b\n0 c\n65536 d\n022 e\n1 f g\n2 -x\n3 a\n", 49);
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s", fx->file, fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_FAIL);
	has(fx->err, "ports:2: port 22050 is also on line 1");
	has(fx->err, "ports:3: '0' is not a port");
	has(fx->err, "ports:4: '65536' is not a port");
	has(fx->err, "ports:5: '022' is not a port");
	has(fx->err, "ports:6: expected 'PORT NAME'");
	has(fx->err, "ports:7: '-x' is not a valid name");
	has(fx->err, "ports:8: a is also on line 1");
	assert_int_equal(count_devices(fx), 2);
}

static void
test_usage_and_stdin(void **state)
{
	struct fixture *fx = *state;
	char in[1024], args[700];

	assert_int_equal(run(fx, false, NULL, "--fleet acme"), CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--authorized-keys - --users - --fleet acme"), CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--authorized-keys - --fleet acme --names port-table"),
	    CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--authorized-keys - --fleet acme --names other"),
	    CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--users - --fleet acme --ports x"), CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--authorized-keys - --ports - --fleet acme"), CMD_USAGE);
	assert_int_equal(run(fx, false, NULL, "--authorized-keys - --fleet acme"), CMD_FAIL);
	has(fx->err, "nothing on standard input");
	/* over SSH: files refused, standard input read */
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme", fx->file);
	assert_int_equal(run(fx, true, NULL, args), CMD_USAGE);
	has(fx->err, "cannot be read over SSH");
	assert_int_equal(run(fx, true, "", "--authorized-keys - --fleet acme --ports /etc/x"), CMD_USAGE);
	snprintf(in, sizeof(in), "%s from-stdin\n", fx->key[0]);
	assert_int_equal(run(fx, true, in, "--authorized-keys - --fleet acme"), CMD_OK);
	has(fx->out, "from-stdin.acme");
	char *argv[] = { "import", "sshd", "--authorized-keys", "-", NULL };
	assert_true(cmd_wants_stdin(4, argv));
	char *argv2[] = { "import", "sshd", "--users=-", NULL };
	assert_true(cmd_wants_stdin(3, argv2));
	char *argv3[] = { "import", "sshd", "--", "--users", "-", NULL };
	assert_false(cmd_wants_stdin(5, argv3));
	/* users: granted the fleet; permitopen refused for them */
	snprintf(in, sizeof(in), "%s Alice Tech\n", fx->key[1]);
	assert_int_equal(run(fx, false, in, "--users - --fleet acme"), CMD_OK);
	snprintf(in, sizeof(in), "alice-tech  %s  grant acme  line 1\n", fx->fp[1]);
	has(fx->out, in);
	snprintf(in, sizeof(in), "permitopen=\"localhost:22050\" %s bob\n", fx->key[2]);
	assert_int_equal(run(fx, false, in, "--users - --fleet acme"), CMD_FAIL);
	has(fx->err, "standard input:1: permitopen=\"localhost:22050\" limits this key");
	/* an admin record for the import */
	char path[700];
	snprintf(path, sizeof(path), "%s/audit.log", fx->state);
	char *log = tu_slurp(path);
	has(log, "\"import\":\"users\"");
	has(log, "\"names\":\"alice-tech\"");
	free(log);
}

/* The command's side of ports: a port held in the fleet is refused before writing, naming both;
 * a dry run binds nothing; the import binds each device's port; a second run binds what is missing. */
static void
test_import_ports(void **state)
{
	struct fixture *fx = *state;
	char buf[4096], args[1400], line[300];
	struct pubkey k;
	int64_t id;
	char f[LIM_LABEL + 1], holder[LIM_LABEL + 1];

	/* "old" (k3) holds 22051 in acme */
	assert_int_equal(pubkey_parse_line(fx->key[3], &k), 0);
	assert_int_equal(store_device_add(fx->st, "old", "acme", &k), 0);
	pubkey_clear(&k);
	assert_int_equal(store_device_resolve(fx->st, 0, "old", "acme", &id, f), 0);
	assert_int_equal(store_device_bind_port(fx->st, id, 22051, holder, sizeof(holder)), 0);
	snprintf(buf, sizeof(buf), "%s hq\npermitlisten=\"22051\" %s main\n", fx->key[0], fx->key[1]);
	write_file(fx->file, buf, strlen(buf));
	write_file(fx->table, "22050 hq\n", 9);
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s --dry-run", fx->file,
	    fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_FAIL);
	has(fx->err, "authorized_keys:2: port 22051 of device main.acme is already device old.acme's");
	has(fx->err, "1 problem; nothing imported");
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s", fx->file, fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_FAIL);
	assert_int_equal(count_devices(fx), 1);
	assert_string_equal(port_owner(fx, 22050), "");
	/* without the conflict: the dry run shows the ports and binds none */
	snprintf(buf, sizeof(buf), "%s hq\npermitlisten=\"22052\" %s main\n", fx->key[0], fx->key[1]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s --dry-run", fx->file,
	    fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	snprintf(line, sizeof(line), "hq.acme  %s  port 22050 port-table  line 1\n", fx->fp[0]);
	has(fx->out, line);
	snprintf(line, sizeof(line), "main.acme  %s  port 22052 permitlisten  line 2\n", fx->fp[1]);
	has(fx->out, line);
	assert_string_equal(port_owner(fx, 22050), "");
	assert_string_equal(port_owner(fx, 22052), "");
	/* the import binds them */
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s", fx->file, fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	has(fx->out, "# imported 2 devices into fleet acme (0 already there)");
	assert_string_equal(port_owner(fx, 22050), "hq.acme");
	assert_string_equal(port_owner(fx, 22052), "main.acme");
	char path[700];
	snprintf(path, sizeof(path), "%s/audit.log", fx->state);
	char *log = tu_slurp(path);
	has(log, "\"count\":2,\"ports\":2");
	free(log);
	/* imported before without ports: a second run with the table binds them, a bound one kept */
	snprintf(buf, sizeof(buf), "%s hq\n%s new\n%s old\n", fx->key[0], fx->key[2], fx->key[3]);
	write_file(fx->file, buf, strlen(buf));
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme", fx->file);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	assert_string_equal(port_owner(fx, 22053), "");
	/* old keeps 22051: its row's 22052 (main's) is no conflict, only a note */
	write_file(fx->table, "22050 hq\n22053 new\n22052 old\n", 29);
	snprintf(args, sizeof(args), "--authorized-keys %s --fleet acme --ports %s", fx->file, fx->table);
	assert_int_equal(run(fx, false, NULL, args), CMD_OK);
	has(fx->out, "new.acme  ");
	has(fx->out, "(already imported; its port is bound now)");
	has(fx->out, "port 22052 not bound: the device keeps its port 22051");
	has(fx->out, "# imported 0 devices into fleet acme (3 already there)");
	assert_string_equal(port_owner(fx, 22053), "new.acme");
	assert_string_equal(port_owner(fx, 22051), "old.acme");
	assert_string_equal(port_owner(fx, 22052), "main.acme");
}

/* The store's side: all or nothing in one transaction, the failing item named. */
static void
test_store_import(void **state)
{
	struct fixture *fx = *state;
	struct pubkey k[3];
	size_t failed = 99;

	for (int i = 0; i < 3; i++)
		assert_int_equal(pubkey_parse_line(fx->key[i], &k[i]), 0);
	struct store_import_item items[] = { { "a", &k[0] }, { "b", &k[1] }, { "a", &k[2] } };
	assert_int_equal(store_import(fx->st, "acme", false, items, 3, &failed), ERR_EXISTS);
	assert_int_equal(failed, 2);
	assert_int_equal(count_devices(fx), 0);
	items[2].key = &k[0];
	items[2].name = "c";
	assert_int_equal(store_import(fx->st, "acme", false, items, 3, &failed), ERR_EXISTS);
	assert_int_equal(failed, 2);
	assert_non_null(strstr(store_errmsg(fx->st), "already belongs to device a.acme"));
	assert_int_equal(count_devices(fx), 0);
	assert_int_equal(store_import(fx->st, "nope", false, items, 2, &failed), ERR_NOTFOUND);
	assert_int_equal(failed, 2);
	items[0].name = "Bad Name";
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), ERR_NAME);
	assert_int_equal(failed, 0);
	items[0].name = "a";
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), 0);
	assert_int_equal(count_devices(fx), 2);
	/* users: granted the fleet; a device's key refused and nothing kept */
	struct store_import_item users[] = { { "u1", &k[2] }, { "u2", &k[0] } };
	assert_int_equal(store_import(fx->st, "acme", true, users, 2, &failed), ERR_EXISTS);
	assert_int_equal(failed, 1);
	struct store_principal p;
	assert_int_equal(store_principal_by_key(fx->st, &k[2], &p), ERR_NOTFOUND);
	assert_int_equal(store_import(fx->st, "acme", true, users, 1, &failed), 0);
	assert_int_equal(store_principal_by_key(fx->st, &k[2], &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_USER);
	int64_t id;
	char fleet[LIM_LABEL + 1];
	assert_int_equal(store_device_resolve(fx->st, p.id, "a", "", &id, fleet), 0);
	assert_int_equal(store_import(fx->st, "acme", true, users, 0, &failed), 0);	/* nothing */
	for (int i = 0; i < 3; i++)
		pubkey_clear(&k[i]);
}

/* Ports: bound in the import's transaction; a taken or bad port fails it all, naming both. */
static void
test_store_import_ports(void **state)
{
	struct fixture *fx = *state;
	struct pubkey k[4];
	size_t failed = 99;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pubkey_parse_line(fx->key[i], &k[i]), 0);
	/* out of range: nothing written */
	struct store_import_item items[] = { { "a", &k[0], 22050, false }, { "b", &k[1], 65536, false } };
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), ERR_INVAL);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(store_errmsg(fx->st), "b.acme: port 65536"));
	assert_int_equal(count_devices(fx), 0);
	items[1].port = UINT32_MAX;
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), ERR_INVAL);
	assert_int_equal(count_devices(fx), 0);
	/* two items, one port: the second fails, naming both; nothing kept */
	items[1].port = 22050;
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), ERR_EXISTS);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(store_errmsg(fx->st), "port 22050 of device b.acme is already device a.acme's"));
	assert_int_equal(count_devices(fx), 0);
	assert_string_equal(port_owner(fx, 22050), "");
	/* a port a device of the fleet already holds */
	assert_int_equal(store_device_add(fx->st, "old", "acme", &k[2]), 0);
	int64_t old;
	char f[LIM_LABEL + 1], holder[LIM_LABEL + 1];
	assert_int_equal(store_device_resolve(fx->st, 0, "old", "acme", &old, f), 0);
	assert_int_equal(store_device_bind_port(fx->st, old, 22051, holder, sizeof(holder)), 0);
	items[1].port = 22051;
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), ERR_EXISTS);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(store_errmsg(fx->st), "port 22051 of device b.acme is already device old.acme's"));
	assert_int_equal(count_devices(fx), 1);
	assert_string_equal(port_owner(fx, 22050), "");
	/* the same port in another fleet is no conflict; 0 is none */
	assert_int_equal(store_fleet_add(fx->st, "beta"), 0);
	items[1].port = 0;
	assert_int_equal(store_import(fx->st, "acme", false, items, 2, &failed), 0);
	assert_string_equal(port_owner(fx, 22050), "a.acme");
	assert_int_equal(count_devices(fx), 3);
	struct store_import_item other[] = { { "c", &k[3], 22050, false } };
	assert_int_equal(store_import(fx->st, "beta", false, other, 1, &failed), 0);
	int64_t id;
	char q[2 * LIM_TARGET + 8];
	assert_int_equal(store_device_by_port(fx->st, 0, 22050, &id, q, sizeof(q)), ERR_AMBIGUOUS);
	/* existing devices: only their port is bound, a bound port kept */
	struct store_import_item again[] = { { "b", &k[1], 22052, true }, { "old", &k[2], 22053, true },
	    { "a", &k[0], 0, true } };
	assert_int_equal(store_import(fx->st, "acme", false, again, 3, &failed), 0);
	assert_string_equal(port_owner(fx, 22052), "b.acme");
	assert_string_equal(port_owner(fx, 22053), "");
	assert_string_equal(port_owner(fx, 22051), "old.acme");
	assert_int_equal(count_devices(fx), 3);
	/* an existing item that is not there, or not with that key */
	struct store_import_item ghost[] = { { "ghost", &k[3], 22054, true } };
	assert_int_equal(store_import(fx->st, "acme", false, ghost, 1, &failed), ERR_NOTFOUND);
	assert_int_equal(failed, 0);
	ghost[0].name = "a";	/* k3 is c.beta's */
	assert_int_equal(store_import(fx->st, "acme", false, ghost, 1, &failed), ERR_NOTFOUND);
	assert_non_null(strstr(store_errmsg(fx->st), "device a.acme with this key is not in the store"));
	assert_string_equal(port_owner(fx, 22054), "");
	for (int i = 0; i < 4; i++)
		pubkey_clear(&k[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_and_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_and_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_import_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_ports, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
