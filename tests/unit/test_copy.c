/*
 * test_copy.c: store_copy between two stores, hostile cases first: a target
 * holding records is refused and left as it was, --force replaces it, the
 * copy keeps every record and id and later inserts do not collide. SQLite
 * to SQLite (a file and sqlite::memory:), SQLite to the tests' PostgreSQL
 * and back (skipped, loudly, without PostgreSQL 15). Then `outpost store copy`: refused
 * over SSH, audited, no password taken on the command line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/err.h"
#include "common/jbuf.h"
#include "common/timefmt.h"
#include "store/store.h"
#include <sys/stat.h>

#include "testkeys.h"
#include "testutil.h"
#include "pgtest.h"

static char *dir;
#define NKEYS 6
static struct pubkey keys[NKEYS];

static int
group_setup(void **state)
{
	(void)state;
	return tu_keys_make(&dir, keys, NKEYS, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_keys_free(dir, keys, NKEYS);
	dir = NULL;
	return 0;
}

static struct store *
open_spec(const char *spec)
{
	struct store *st = NULL;
	char why[256];

	if (store_open_spec(spec, NULL, &st, why, sizeof(why)) != 0)
		fail_msg("open %s: %s", spec, why);
	return st;
}

/* A fresh SQLite file store under dir, named by tag. */
static struct store *
open_file(const char *tag)
{
	char spec[700];

	snprintf(spec, sizeof(spec), "sqlite:%s/%s.db", dir, tag);
	unlink(spec + 7);
	return open_spec(spec);
}

/* Fleets, users with keys and grants, devices with everything a device row holds, tokens, the anchor, a session. */
static void
populate(struct store *st)
{
	char fleet[LIM_LABEL + 1], hash[65], holder[LIM_LABEL + 1];
	int64_t id;
	struct audit_head h = { .seq = 42, .size = 4242 };

	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_fleet_add(st, "globex"), 0);
	assert_int_equal(store_fleet_add(st, "gone"), 0);
	assert_int_equal(store_fleet_rm(st, "gone"), 0);	/* a hole in the ids */
	assert_int_equal(store_user_add(st, "alice", false, &keys[0]), 0);
	assert_int_equal(store_user_add_key(st, "alice", &keys[1]), 0);
	assert_int_equal(store_user_add(st, "root", true, &keys[2]), 0);
	assert_int_equal(store_grant(st, "alice", "acme", 0), 0);
	assert_int_equal(store_grant(st, "alice", "globex", timefmt_now() + 3600), 0);
	assert_int_equal(store_device_add(st, "pi-hq", "acme", &keys[3]), 0);
	assert_int_equal(store_device_resolve(st, 0, "pi-hq", "acme", &id, fleet), 0);
	assert_int_equal(store_device_set_info(st, id, "pi-hq-host", "Debian 12", "1.2.3",
	    "ssh-ed25519 AAAAC3Nza\nssh-rsa AAAAB3", 1700000000), 0);
	assert_int_equal(store_device_bind_port(st, id, 22050, holder, sizeof(holder)), 0);
	assert_int_equal(store_device_set_online(st, id, true, 1700000100, "10.0.0.1:4242"), 0);
	assert_int_equal(store_device_set_ondemand(st, id, "standby", 1700000200), 0);
	/* a device enrolled with a token, with no info at all (NULL columns) */
	memset(hash, 'a', 64);
	hash[64] = '\0';
	assert_int_equal(store_token_add(st, hash, "globex", 1, 0), 0);
	assert_int_equal(store_enroll(st, hash, "pi-lab", &keys[4], fleet), 0);
	memset(hash, 'b', 64);
	assert_int_equal(store_token_add(st, hash, "acme", 0, timefmt_now() + 600), 0);
	assert_int_equal(store_token_revoke(st, "bbbbbbbbbbbb"), 0);
	memset(h.hash, 'c', AUDIT_HASH_HEX);
	h.hash[AUDIT_HASH_HEX] = '\0';
	assert_int_equal(store_audit_anchor_set(st, "a", &h, false), 0);
	assert_int_equal(store_session_add(st, 7, "user", "alice", keys[0].fp, "127.0.0.1:5", 1700000300), 0);
}

/* ---- a picture of a store through its public API, ids included ---- */

static int
dump_fleet(void *arg, const char *fleet, int n)
{
	jbuf_addf(arg, "fleet %s %d\n", fleet, n);
	return 0;
}

static int
dump_user(void *arg, const struct store_user *u)
{
	jbuf_addf(arg, "user %lld %s %d [%s] [%s]\n", (long long)u->id, u->name, u->admin,
	    u->fleets, u->key_fps);
	return 0;
}

static int
dump_device(void *arg, const struct store_device *d)
{
	jbuf_addf(arg, "device %lld %s.%s %s %d %lld %s %s %lld %u\n", (long long)d->id, d->name,
	    d->fleet, d->key_fp, d->online, (long long)d->last_seen, d->last_addr, d->ondemand,
	    (long long)d->ondemand_since, d->port);
	return 0;
}

static int
dump_info(void *arg, const struct store_device_info *d)
{
	jbuf_addf(arg, "info %s.%s %s|%s|%s|%s|%lld\n", d->name, d->fleet, d->hostname, d->os,
	    d->version, d->host_keys, (long long)d->booted);
	return 0;
}

static int
dump_token(void *arg, const struct store_token *t)
{
	jbuf_addf(arg, "token %s %s %d %d %lld %d %lld\n", t->id, t->fleet, t->uses_left, t->used,
	    (long long)t->expires, t->revoked, (long long)t->created);
	return 0;
}

static int
dump_session(void *arg, const struct store_session *s)
{
	jbuf_addf(arg, "session %lld %s %s\n", (long long)s->id, s->kind, s->principal);
	return 0;
}

/* Every record st holds, as text (sessions only if with_sessions); the caller frees. */
static char *
dump(struct store *st, bool with_sessions)
{
	struct jbuf b;
	struct audit_head h;

	jbuf_init(&b, 1 << 20);
	assert_int_equal(store_fleet_list(st, dump_fleet, &b), 0);
	assert_int_equal(store_user_list(st, dump_user, &b), 0);
	assert_int_equal(store_device_list(st, dump_device, &b), 0);
	assert_int_equal(store_device_info_list(st, 0, dump_info, &b), 0);
	assert_int_equal(store_token_list(st, dump_token, &b), 0);
	if (store_audit_anchor_get(st, "a", &h) == 0)
		jbuf_addf(&b, "anchor %lld %lld %s\n", (long long)h.seq, (long long)h.size, h.hash);
	if (with_sessions)
		assert_int_equal(store_session_list(st, dump_session, &b), 0);
	jbuf_add(&b, "", 1);
	assert_false(b.failed);
	return (char *)b.data;
}

/* Fails naming the first line where two dumps differ (cmocka cuts long strings). */
#define assert_same_dump(want, got) same_dump((want), (got), __FILE__, __LINE__)
static void
same_dump(const char *want, const char *got, const char *file, int line)
{
	size_t i = 0, bol = 0;

	while (want[i] != '\0' && want[i] == got[i]) {
		if (want[i] == '\n')
			bol = i + 1;
		i++;
	}
	if (want[i] == got[i])
		return;
	print_error("%s:%d: stores differ at\n  want: %.*s\n  got:  %.*s\n", file, line,
	    (int)strcspn(want + bol, "\n"), want + bol, (int)strcspn(got + bol, "\n"), got + bol);
	fail();
}

/* ---- hostile and refused ---- */

static void
test_refuses_bad_pairs(void **state)
{
	struct store *a = open_file("bad");
	char why[256];

	(void)state;
	assert_int_equal(store_copy(a, a, false, why, sizeof(why)), ERR_INVAL);
	assert_non_null(strstr(why, "two different"));
	assert_int_equal(store_copy(NULL, a, false, why, sizeof(why)), ERR_INVAL);
	assert_int_equal(store_copy(a, NULL, true, NULL, 0), ERR_INVAL);
	/* the same file through a second handle: refused, not a wait on its own lock */
	char spec[700];
	snprintf(spec, sizeof(spec), "sqlite:%s/bad.db", dir);
	struct store *again = open_spec(spec);
	assert_int_equal(store_copy(a, again, true, why, sizeof(why)), ERR_INVAL);
	assert_non_null(strstr(why, "same database"));
	store_close(again);
	store_close(a);
}

/* A target with records is refused and keeps them; with force it becomes the source. */
static void
test_non_empty_target(void **state)
{
	struct store *a = open_file("src1"), *b = open_file("dst1");
	char why[256], *before, *after, *want;

	(void)state;
	populate(a);
	assert_int_equal(store_fleet_add(b, "initech"), 0);
	before = dump(b, true);
	assert_int_equal(store_copy(a, b, false, why, sizeof(why)), ERR_EXISTS);
	assert_non_null(strstr(why, "--force"));
	after = dump(b, true);
	assert_same_dump(before, after);
	free(after);
	/* an anchor alone makes a store non-empty too */
	struct store *c = open_file("dst1b");
	struct audit_head h = { .seq = 1, .size = 10 };
	memset(h.hash, 'd', AUDIT_HASH_HEX);
	assert_int_equal(store_audit_anchor_set(c, "a", &h, false), 0);
	assert_int_equal(store_copy(a, c, false, why, sizeof(why)), ERR_EXISTS);
	store_close(c);

	assert_int_equal(store_copy(a, b, true, why, sizeof(why)), 0);
	want = dump(a, false);
	after = dump(b, false);
	assert_same_dump(want, after);
	assert_int_equal(store_fleet_get(b, "initech", NULL), ERR_NOTFOUND);
	free(before);
	free(after);
	free(want);
	store_close(a);
	store_close(b);
}

/* ---- the copy ---- */

/* Copies a (populated) into b (empty) and checks b is a with every id, and lives on. */
static void
check_copy(struct store *a, struct store *b)
{
	char why[256], fleet[LIM_LABEL + 1], *want, *got;
	int64_t rows = 0, id;
	struct store_principal p;

	want = dump(a, false);
	assert_int_equal(store_copy_flags(a, b, 0, &rows, why, sizeof(why)), 0);
	/* 2 fleets, 2 users, 2 devices, 5 keys, 2 grants, 2 tokens, 1 anchor */
	assert_int_equal(rows, 16);
	got = dump(b, false);
	assert_same_dump(want, got);
	free(got);
	/* live sessions stay behind unless asked for */
	got = dump(b, true);
	assert_null(strstr(got, "session "));
	free(got);
	/* the keys still authenticate their owners */
	assert_int_equal(store_principal_by_key(b, &keys[1], &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_USER);
	assert_string_equal(p.name, "alice");
	assert_int_equal(store_principal_by_key(b, &keys[4], &p), 0);
	assert_string_equal(p.name, "pi-lab");
	assert_string_equal(p.fleet, "globex");
	/* the used single-use token stays used */
	char hash[65];
	memset(hash, 'a', 64);
	hash[64] = '\0';
	assert_int_equal(store_enroll(b, hash, "pi-new", &keys[5], fleet), ERR_DENIED);
	/* new rows get ids past the copied ones, on both sides alike */
	assert_int_equal(store_fleet_add(a, "hooli"), 0);
	assert_int_equal(store_fleet_add(b, "hooli"), 0);
	assert_int_equal(store_device_add(a, "pi-new", "hooli", &keys[5]), 0);
	assert_int_equal(store_device_add(b, "pi-new", "hooli", &keys[5]), 0);
	assert_int_equal(store_user_add(b, "bob", false, &keys[5]), ERR_EXISTS);
	assert_int_equal(store_device_resolve(b, 0, "pi-new", "hooli", &id, fleet), 0);
	free(want);
	want = dump(a, false);
	got = dump(b, false);
	assert_same_dump(want, got);
	free(want);
	free(got);
}

static void
test_file_to_file(void **state)
{
	struct store *a = open_file("src2"), *b = open_file("dst2");

	(void)state;
	populate(a);
	check_copy(a, b);
	store_close(a);
	store_close(b);
}

static void
test_file_to_memory(void **state)
{
	struct store *a = open_file("src3"), *m = open_spec("sqlite::memory:");
	char why[256], *want, *got;
	int64_t rows;

	(void)state;
	populate(a);
	check_copy(a, m);
	store_close(m);
	/* the mirror's way: the kicked sessions too, and a refresh over a full copy */
	m = open_spec("sqlite::memory:");
	assert_int_equal(store_copy_flags(a, m, STORE_COPY_SESSIONS, &rows, why, sizeof(why)), 0);
	assert_int_equal(store_session_add(a, 8, "device", "pi-hq.acme", keys[3].fp, "127.0.0.1:6", 1), 0);
	assert_int_equal(store_session_add(a, 9, "device", "pi-lab.acme", keys[4].fp, "127.0.0.1:7", 2), 0);
	int kicked = 0;
	assert_int_equal(store_session_kick(a, "9", &kicked), 0);
	assert_int_equal(kicked, 1);
	assert_int_equal(store_copy_flags(a, m, STORE_COPY_SESSIONS | STORE_COPY_FORCE, &rows, why,
	    sizeof(why)), 0);
	want = dump(a, false);
	got = dump(m, false);
	assert_same_dump(want, got);
	free(got);
	/* live sessions are not copied (7 and 8: the mirror's are the real store's alone), kicked ones are */
	got = dump(m, true);
	assert_null(strstr(got, "session 7 "));
	assert_null(strstr(got, "session 8 "));
	assert_non_null(strstr(got, "session 9 device pi-lab.acme"));
	free(want);
	free(got);
	store_close(m);
	store_close(a);
}

/* A fresh schema on the tests' PostgreSQL, or skip without PostgreSQL 15. */
static struct store *
open_pg(void)
{
	char uri[512];

	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	assert_int_equal(pgtest_fresh(uri, sizeof(uri)), 0);
	return open_spec(uri);
}

/*
 * SQLite -> PostgreSQL -> SQLite: every record and id on each side; the
 * identity sequences moved past the copied ids (a new user, key, token,
 * fleet and device get fresh ids on PostgreSQL, not a duplicate key); a
 * second copy into the now populated PostgreSQL refused, then forced.
 */
static void
test_pg_round_trip(void **state)
{
	struct store *a = open_file("src5"), *pg = open_pg(), *back = open_file("back5");
	char why[256], hash[65], *want, *got;
	int64_t rows;

	(void)state;
	assert_string_equal(store_engine(pg), "postgresql");
	populate(a);
	check_copy(a, pg);	/* also adds fleet hooli and device pi-new on both */
	assert_int_equal(store_user_rm(pg, "root"), 0);
	memset(hash, 'e', 64);
	hash[64] = '\0';
	assert_int_equal(store_token_add(pg, hash, "hooli", 1, 0), 0);
	assert_int_equal(store_user_add(pg, "bob", false, &keys[2]), 0);

	assert_int_equal(store_copy_flags(pg, back, 0, &rows, why, sizeof(why)), 0);
	want = dump(pg, false);
	got = dump(back, false);
	assert_same_dump(want, got);
	free(got);
	free(want);

	assert_int_equal(store_copy(back, pg, false, why, sizeof(why)), ERR_EXISTS);
	assert_non_null(strstr(why, "--force"));
	assert_int_equal(store_device_rm(back, "pi-new", "hooli"), 0);
	assert_int_equal(store_fleet_rm(back, "hooli"), 0);
	assert_int_equal(store_copy(back, pg, true, why, sizeof(why)), 0);
	want = dump(back, false);
	got = dump(pg, false);
	assert_same_dump(want, got);
	assert_int_equal(store_fleet_get(pg, "hooli", NULL), ERR_NOTFOUND);
	assert_int_equal(store_fleet_add(pg, "hooli"), 0);
	free(want);
	free(got);
	store_close(a);
	store_close(pg);
	store_close(back);
}

/* An empty source gives an empty target (and nothing to refuse). */
static void
test_empty(void **state)
{
	struct store *a = open_file("src4"), *b = open_file("dst4");
	int64_t rows = -1;

	(void)state;
	assert_int_equal(store_copy_flags(a, b, 0, &rows, NULL, 0), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(store_copy(a, b, false, NULL, 0), 0);
	store_close(a);
	store_close(b);
}

/* ---- outpost store copy ---- */

struct run {
	char *out, *err;
	int status;
};

/* Runs one command on the state directory dir/tag (remote or local); the caller frees out and err. */
static struct run
run_cmd(const char *tag, bool remote, int argc, char **argv)
{
	char state[700];
	struct store *st;
	struct audit *au;
	struct run r;
	size_t ol, el;

	snprintf(state, sizeof(state), "%s/%s", dir, tag);
	assert_int_equal(store_open(state, &st), 0);
	assert_int_equal(audit_open(state, &au), 0);
	struct cmd_ctx ctx = { .st = st, .admin = true, .audit = au, .state_dir = state,
	    .remote = remote, .user = remote ? "root" : NULL, .user_id = remote ? 1 : 0 };
	ctx.out = open_memstream(&r.out, &ol);
	ctx.err = open_memstream(&r.err, &el);
	r.status = cmd_run(&ctx, argc, argv);
	fclose(ctx.out);
	fclose(ctx.err);
	audit_close(au);
	store_close(st);
	return r;
}

static void
test_cmd_remote_refused(void **state)
{
	char to[700], log[700];
	char *argv[] = { "store", "copy", "--from", "sqlite", "--to", to, NULL };
	struct run r;
	struct stat sb;

	(void)state;
	snprintf(to, sizeof(to), "sqlite:%s/remote-target.db", dir);
	r = run_cmd("remote", true, 6, argv);
	assert_int_equal(r.status, CMD_FAIL);
	assert_non_null(strstr(r.err, "only on the server itself"));
	assert_int_not_equal(stat(to + 7, &sb), 0);	/* nothing opened, nothing made */
	snprintf(log, sizeof(log), "%s/remote/audit.log", dir);
	char *rec = tu_slurp(log);
	assert_true(rec == NULL || strstr(rec, "store copy") == NULL);
	free(rec);
	free(r.out);
	free(r.err);
}

static void
test_cmd_usage(void **state)
{
	char *twice[] = { "store", "copy", "--from", "a", "--from", "b", "--to", "c", NULL };
	char *none[] = { "store", "copy", "--to", "c", NULL };
	char *empty[] = { "store", "copy", "--from=", "--to", "c", NULL };
	char *bad[] = { "store", "copy", "--fromage", "a", "--to", "c", NULL };
	char *dangling[] = { "store", "copy", "--from", "a", "--to", NULL };
	struct { char **argv; int argc; } cases[] = {
		{ twice, 8 }, { none, 4 }, { empty, 5 }, { bad, 6 }, { dangling, 5 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = run_cmd("usage", false, cases[i].argc, cases[i].argv);
		assert_int_equal(r.status, CMD_USAGE);
		free(r.out);
		free(r.err);
	}
}

/* A copy is audited, a failed one too; a password on the command line is refused before anything. */
static void
test_cmd_audited_redacted(void **state)
{
	char to[700], log[700];
	char *argv[] = { "store", "copy", "--from", "sqlite", "--to", to, NULL };
	char *pg[] = { "store", "copy", "--from", "sqlite", "--to",
	    "postgresql://bob:hunter2@127.0.0.1:1/outpost?password=hunter3", NULL };
	struct run r;

	(void)state;
	char *fleet[] = { "fleet", "add", "acme", NULL };
	snprintf(to, sizeof(to), "sqlite:%s/cmd-target.db", dir);
	r = run_cmd("cmd", false, 3, fleet);
	assert_int_equal(r.status, CMD_OK);
	free(r.out);
	free(r.err);
	r = run_cmd("cmd", false, 6, argv);
	assert_int_equal(r.status, CMD_OK);
	assert_non_null(strstr(r.out, "copied 1 record from sqlite to sqlite:"));
	free(r.out);
	free(r.err);
	r = run_cmd("cmd", false, 6, argv);	/* now not empty */
	assert_int_equal(r.status, CMD_FAIL);
	assert_non_null(strstr(r.err, "--force"));
	free(r.out);
	free(r.err);
	r = run_cmd("cmd", false, 6, pg);
	assert_int_equal(r.status, CMD_USAGE);
	assert_non_null(strstr(r.err, "passfile"));
	assert_null(strstr(r.err, "hunter"));
	free(r.out);
	free(r.err);
	pg[5] = "postgresql://bob@127.0.0.1:1/outpost";	/* nothing listens on port 1 */
	r = run_cmd("cmd", false, 6, pg);
	assert_int_equal(r.status, CMD_FAIL);
	free(r.out);
	free(r.err);
	snprintf(log, sizeof(log), "%s/cmd/audit.log", dir);
	char *rec = tu_slurp(log);
	assert_non_null(rec);
	assert_non_null(strstr(rec, "\"command\":\"store copy --from sqlite --to sqlite:"));
	assert_non_null(strstr(rec, "\"rows\":"));
	assert_non_null(strstr(rec, "\"result\":\"failed\""));
	assert_non_null(strstr(rec, "\"to\":\"postgresql://bob@127.0.0.1:1/outpost\""));
	assert_null(strstr(rec, "hunter"));
	free(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_bad_pairs),
		cmocka_unit_test(test_non_empty_target),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_file_to_file),
		cmocka_unit_test(test_file_to_memory),
		cmocka_unit_test(test_pg_round_trip),
		cmocka_unit_test(test_cmd_remote_refused),
		cmocka_unit_test(test_cmd_usage),
		cmocka_unit_test(test_cmd_audited_redacted),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
