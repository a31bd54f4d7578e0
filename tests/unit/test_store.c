/* test_store.c: the store on both engines (SQLite, and the tests' own PostgreSQL), one fresh store per test, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"
#include "pgtest.h"
#include "testkeys.h"
#include "testutil.h"

static char *keydir;
#define NKEYS 5
static struct pubkey keys[NKEYS];	/* ed25519 keys made by ssh-keygen */

struct fixture {
	char *dir;
	char state[600];
	char uri[600];			/* PostgreSQL: a fresh schema's URI; "" on SQLite */
	struct store *st;
};

static int
group_setup(void **state)
{
	(void)state;
	return tu_keys_make(&keydir, keys, NKEYS, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_keys_free(keydir, keys, NKEYS);
	keydir = NULL;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	if (store_open(fx->state, &fx->st) != 0)
		return -1;
	*state = fx;
	return 0;
}

/* The same store on PostgreSQL: a fresh schema on the tests' server. */
static int
setup_pg(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char why[512] = "";

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (pgtest_fresh(fx->uri, sizeof(fx->uri)) != 0)
		return -1;
	if (store_open_spec(fx->uri, NULL, &fx->st, why, sizeof(why)) != 0) {
		print_error("%s\n", why);
		return -1;
	}
	return strcmp(store_engine(fx->st), "postgresql") == 0 ? 0 : -1;
}

/* Another connection to the fixture's store (the CLI beside outpostd). */
static int
reopen(struct fixture *fx, struct store **out)
{
	if (fx->uri[0] != '\0')
		return store_open_spec(fx->uri, NULL, out, NULL, 0);
	return store_open(fx->state, out);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- collecting callbacks ---- */

struct rows {
	char text[4096];
	int n;
};

static int
fleet_cb(void *arg, const char *fleet, int ndevices)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%s=%d;", fleet, ndevices);
	r->n++;
	return 0;
}

static int
user_cb(void *arg, const struct store_user *u)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%s/%d/%s/%d;", u->name, u->admin, u->fleets,
	    (int)strlen(u->key_fps));
	r->n++;
	return 0;
}

static int
device_cb(void *arg, const struct store_device *d)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%s.%s/%d/%lld/%s;", d->name, d->fleet, d->online,
	    (long long)d->last_seen, d->last_addr);
	r->n++;
	return 0;
}

static struct rows
devices(struct store *st, int64_t user_id)
{
	struct rows r = { "", 0 };

	if (user_id < 0)
		assert_int_equal(store_device_list(st, device_cb, &r), 0);
	else
		assert_int_equal(store_device_list_for_user(st, user_id, device_cb, &r), 0);
	return r;
}

static int64_t
user_id(struct store *st, const char *name, int keyi)
{
	struct store_principal p;

	assert_int_equal(store_principal_by_key(st, &keys[keyi], &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_USER);
	assert_string_equal(p.name, name);
	return p.id;
}

static int64_t
device_id(struct store *st, const char *name, const char *fleet)
{
	int64_t id;
	char f[LIM_LABEL + 1];

	assert_int_equal(store_device_resolve(st, 0, name, fleet, &id, f), 0);
	return id;
}

/* ---- opening ---- */

static void
test_open_hostile(void **state)
{
	struct fixture *fx = *state;
	struct store *st = (struct store *)1;
	char why[512], path[700];

	assert_int_equal(store_open(NULL, &st), ERR_INVAL);
	assert_null(st);
	assert_int_equal(store_open("", &st), ERR_INVAL);
	char *longp = malloc(8000);
	memset(longp, 'a', 7999);
	longp[7999] = '\0';
	assert_int_not_equal(store_open(longp, &st), 0);
	assert_null(st);
	free(longp);
	/* a path under a regular file */
	snprintf(path, sizeof(path), "%s/state/outpost.db/sub", fx->dir);
	assert_int_equal(store_open_why(path, &st, why, sizeof(why)), ERR_IO);
	assert_non_null(strstr(why, "sub"));
	/* a path whose parent does not exist */
	snprintf(path, sizeof(path), "%s/no/such", fx->dir);
	assert_int_equal(store_open_why(path, &st, why, sizeof(why)), ERR_IO);
	/* outpost.db that is not a database */
	snprintf(path, sizeof(path), "%s/junk", fx->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/junk/outpost.db", fx->dir);
	FILE *f = fopen(path, "w");
	fputs("this is not an SQLite database, just text that is long enough to look like a header........", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/junk", fx->dir);
	assert_int_equal(store_open_why(path, &st, why, sizeof(why)), ERR_STORE);
	assert_null(st);
	assert_true(strlen(why) > 0);
}

/* In a child that cannot write dir (root drops to nobody), store_open says read-only. */
static void
test_open_readonly(void **state)
{
	struct fixture *fx = *state;
	char path[700];

	snprintf(path, sizeof(path), "%s/ro", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	chmod(fx->dir, 0755);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = NULL;
		char why[512] = "";
		if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(10);
		chmod(path, 0555);	/* works when not root */
		int r = store_open_why(path, &st, why, sizeof(why));
		if (r != ERR_READONLY)
			_exit(11);
		if (strstr(why, "read-only") == NULL || strstr(why, path) == NULL)
			_exit(12);
		_exit(st == NULL ? 0 : 13);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* a missing directory inside a read-only one cannot be created */
	snprintf(path, sizeof(path), "%s/ro/new", fx->dir);
	chmod(fx->dir, 0700);
}

static void
test_open_modes_and_reopen(void **state)
{
	struct fixture *fx = *state;
	struct stat sb;
	char path[700];

	assert_int_equal(stat(fx->state, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/outpost.db", fx->state);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	/* reopening migrates nothing and keeps data */
	for (int i = 0; i < 3; i++) {
		store_close(fx->st);
		fx->st = NULL;
		assert_int_equal(store_open(fx->state, &fx->st), 0);
	}
	assert_int_equal(store_fleet_add(fx->st, "acme"), ERR_EXISTS);
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 11);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	/* a database from a newer program is refused */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_close(fx->st);
	fx->st = NULL;
	char why[512];
	assert_int_equal(store_open_why(fx->state, &fx->st, why, sizeof(why)), ERR_STORE);
	assert_non_null(strstr(why, "newer"));
	assert_null(fx->st);
}

/* ---- names ---- */

static void
test_invalid_names(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
		"", "Acme", "a.b", "-a", "a-", "a b", "a'; DROP TABLE fleets; --", "\xff",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	int64_t id;
	char f[LIM_LABEL + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_fleet_add(fx->st, bad[i]), ERR_NAME);
		assert_int_equal(store_fleet_rm(fx->st, bad[i]), ERR_NAME);
		assert_int_equal(store_user_add(fx->st, bad[i], false, &keys[0]), ERR_NAME);
		assert_int_equal(store_user_rm(fx->st, bad[i]), ERR_NAME);
		assert_int_equal(store_grant(fx->st, bad[i], "acme", 0), ERR_NAME);
		assert_int_equal(store_device_add(fx->st, bad[i], "acme", &keys[0]), ERR_NAME);
		assert_int_equal(store_device_add(fx->st, "pi", bad[i], &keys[0]), ERR_NAME);
		assert_int_equal(store_device_rm(fx->st, "pi", bad[i]), ERR_NAME);
		assert_int_equal(store_device_resolve(fx->st, 0, bad[i], "", &id, f), ERR_NAME);
	}
	assert_int_equal(store_fleet_add(fx->st, NULL), ERR_NAME);
	struct rows r = { "", 0 };
	assert_int_equal(store_fleet_list(fx->st, fleet_cb, &r), 0);
	assert_int_equal(r.n, 0);
	/* an unusable key struct */
	struct pubkey empty = { 0 };
	assert_int_equal(store_user_add(fx->st, "alice", false, &empty), ERR_KEY);
	assert_int_equal(store_user_add(fx->st, "alice", false, NULL), ERR_KEY);
}

/* ---- fleets ---- */

static void
test_fleets(void **state)
{
	struct fixture *fx = *state;
	struct rows r = { "", 0 };
	int n = -1;

	assert_int_equal(store_fleet_rm(fx->st, "acme"), ERR_NOTFOUND);
	assert_int_equal(store_fleet_get(fx->st, "acme", &n), ERR_NOTFOUND);
	assert_int_equal(store_fleet_add(fx->st, "zeta"), 0);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_fleet_add(fx->st, "acme"), ERR_EXISTS);
	assert_string_equal(store_errmsg(fx->st), "fleet acme already exists");
	assert_int_equal(store_device_add(fx->st, "pi", "acme", &keys[0]), 0);
	assert_int_equal(store_device_add(fx->st, "pi2", "acme", &keys[1]), 0);
	assert_int_equal(store_fleet_get(fx->st, "acme", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_fleet_list(fx->st, fleet_cb, &r), 0);
	assert_string_equal(r.text, "acme=2;zeta=0;");
	assert_int_equal(store_fleet_rm(fx->st, "acme"), ERR_INUSE);
	assert_non_null(strstr(store_errmsg(fx->st), "2 devices"));
	assert_int_equal(store_device_rm(fx->st, "pi", "acme"), 0);
	assert_int_equal(store_device_rm(fx->st, "pi2", "acme"), 0);
	/* grants go with the fleet */
	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[2]), 0);
	assert_int_equal(store_grant(fx->st, "alice", "acme", 0), 0);
	assert_int_equal(store_fleet_rm(fx->st, "acme"), 0);
	r = (struct rows){ "", 0 };
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/0//50;");
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	r = (struct rows){ "", 0 };
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/0//50;");	/* not granted again by the new fleet */
}

/* ---- users and keys ---- */

static void
test_users(void **state)
{
	struct fixture *fx = *state;
	struct rows r = { "", 0 };

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_fleet_add(fx->st, "beta"), 0);
	assert_int_equal(store_user_add(fx->st, "bob", false, &keys[0]), 0);
	assert_int_equal(store_user_add(fx->st, "alice", true, &keys[1]), 0);
	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[2]), ERR_EXISTS);
	assert_string_equal(store_errmsg(fx->st), "user alice already exists");
	/* the failed add left nothing behind: key 2 is still free */
	assert_int_equal(store_user_add_key(fx->st, "bob", &keys[2]), 0);
	assert_int_equal(store_user_add_key(fx->st, "nobody", &keys[3]), ERR_NOTFOUND);
	assert_int_equal(store_user_add_key(fx->st, "alice", &keys[2]), ERR_EXISTS);
	assert_non_null(strstr(store_errmsg(fx->st), "already belongs to user bob"));
	assert_int_equal(store_grant(fx->st, "bob", "beta", 0), 0);
	assert_int_equal(store_grant(fx->st, "bob", "acme", 0), 0);
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/1//50;bob/0/acme,beta/101;");
	int64_t bob = user_id(fx->st, "bob", 0);
	assert_int_equal(user_id(fx->st, "bob", 2), bob);
	r = (struct rows){ "", 0 };
	assert_int_equal(store_user_get(fx->st, bob, user_cb, &r), 0);
	assert_string_equal(r.text, "bob/0/acme,beta/101;");
	assert_int_equal(store_user_get(fx->st, 999999, user_cb, &r), ERR_NOTFOUND);
	/* removing a user removes its keys and grants */
	assert_int_equal(store_user_rm(fx->st, "bob"), 0);
	assert_int_equal(store_user_rm(fx->st, "bob"), ERR_NOTFOUND);
	struct store_principal p;
	assert_int_equal(store_principal_by_key(fx->st, &keys[0], &p), ERR_NOTFOUND);
	assert_int_equal(store_principal_by_key(fx->st, &keys[2], &p), ERR_NOTFOUND);
	assert_int_equal(store_user_add(fx->st, "bob", false, &keys[0]), 0);
	r = (struct rows){ "", 0 };
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/1//50;bob/0//50;");
}

/* A key belongs to exactly one principal, across users and devices. */
static void
test_key_unique_across_principals(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[0]), 0);
	assert_int_equal(store_device_add(fx->st, "pi", "acme", &keys[0]), ERR_EXISTS);
	assert_non_null(strstr(store_errmsg(fx->st), "user alice"));
	assert_int_equal(store_device_add(fx->st, "pi", "acme", &keys[1]), 0);
	assert_int_equal(store_user_add(fx->st, "bob", false, &keys[1]), ERR_EXISTS);
	assert_non_null(strstr(store_errmsg(fx->st), "device pi.acme"));
	assert_int_equal(store_user_add_key(fx->st, "alice", &keys[1]), ERR_EXISTS);
	assert_int_equal(store_device_add(fx->st, "pi2", "acme", &keys[1]), ERR_EXISTS);
	/* the failed adds left no user bob and no device pi2 */
	struct rows r = devices(fx->st, -1);
	assert_string_equal(r.text, "pi.acme/0/0/;");
	assert_int_equal(store_user_rm(fx->st, "bob"), ERR_NOTFOUND);
	/* principal lookup needs fingerprint AND blob */
	struct store_principal p;
	struct pubkey forged = keys[2];
	memcpy(forged.fp, keys[0].fp, sizeof(forged.fp));
	memset(&p, 'x', sizeof(p));
	assert_int_equal(store_principal_by_key(fx->st, &forged, &p), ERR_NOTFOUND);
	assert_int_equal(p.kind, PRINCIPAL_NONE);
	assert_string_equal(p.name, "");
	assert_int_equal(store_principal_by_key(fx->st, &keys[1], &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_DEVICE);
	assert_string_equal(p.name, "pi");
	assert_string_equal(p.fleet, "acme");
	assert_string_equal(p.key_fp, keys[1].fp);
	assert_string_equal(p.key_type, "ssh-ed25519");
	assert_false(p.admin);
	/* device removal frees its key */
	assert_int_equal(store_device_rm(fx->st, "pi", "acme"), 0);
	assert_int_equal(store_device_rm(fx->st, "pi", "acme"), ERR_NOTFOUND);
	assert_int_equal(store_principal_by_key(fx->st, &keys[1], &p), ERR_NOTFOUND);
	assert_int_equal(store_user_add(fx->st, "bob", true, &keys[1]), 0);
	assert_int_equal(store_principal_by_key(fx->st, &keys[1], &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_USER);
	assert_true(p.admin);
	assert_string_equal(p.fleet, "");
}

static void
test_grants(void **state)
{
	struct fixture *fx = *state;
	int64_t now = timefmt_now();

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[0]), 0);
	assert_int_equal(store_grant(fx->st, "nobody", "acme", 0), ERR_NOTFOUND);
	assert_string_equal(store_errmsg(fx->st), "no user named nobody");
	assert_int_equal(store_grant(fx->st, "alice", "nope", 0), ERR_NOTFOUND);
	assert_string_equal(store_errmsg(fx->st), "no fleet named nope");
	assert_int_equal(store_grant(fx->st, "alice", "acme", -1), ERR_INVAL);
	assert_int_equal(store_revoke(fx->st, "alice", "acme"), ERR_NOTFOUND);
	assert_int_equal(store_grant(fx->st, "alice", "acme", now - 10), 0);	/* already expired */
	struct rows r = { "", 0 };
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/0//50;");
	assert_int_equal(store_grant(fx->st, "alice", "acme", now + 3600), 0);	/* replaces */
	r = (struct rows){ "", 0 };
	assert_int_equal(store_user_list(fx->st, user_cb, &r), 0);
	assert_string_equal(r.text, "alice/0/acme/50;");
	assert_int_equal(store_revoke(fx->st, "alice", "acme"), 0);
	assert_int_equal(store_revoke(fx->st, "alice", "acme"), ERR_NOTFOUND);
	assert_int_equal(store_revoke(fx->st, "alice", "nope"), ERR_NOTFOUND);
	assert_int_equal(store_revoke(fx->st, "nobody", "acme"), ERR_NOTFOUND);
}

/* ---- devices ---- */

/* Fleets acme (pi, pi2), beta (pi), gamma (pi, cam); alice: acme forever, beta expired; bob: acme+gamma. */
static void
populate(struct store *st)
{
	int64_t now = timefmt_now();

	assert_int_equal(store_fleet_add(st, "acme"), 0);
	assert_int_equal(store_fleet_add(st, "beta"), 0);
	assert_int_equal(store_fleet_add(st, "gamma"), 0);
	assert_int_equal(store_device_add(st, "pi2", "acme", &keys[0]), 0);
	assert_int_equal(store_device_add(st, "pi", "acme", &keys[1]), 0);
	assert_int_equal(store_device_add(st, "pi", "beta", &keys[2]), 0);
	assert_int_equal(store_user_add(st, "alice", false, &keys[3]), 0);
	assert_int_equal(store_user_add(st, "bob", false, &keys[4]), 0);
	assert_int_equal(store_grant(st, "alice", "acme", 0), 0);
	assert_int_equal(store_grant(st, "alice", "beta", now - 1), 0);
	assert_int_equal(store_grant(st, "bob", "acme", now + 600), 0);
	assert_int_equal(store_grant(st, "bob", "beta", 0), 0);
}

static void
test_device_add_rm(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(store_device_add(fx->st, "pi", "nope", &keys[0]), ERR_NOTFOUND);
	assert_string_equal(store_errmsg(fx->st), "no fleet named nope");
	populate(fx->st);
	assert_int_equal(store_device_add(fx->st, "pi", "acme", &keys[4]), ERR_EXISTS);
	/* names are stored as given; callers normalize, the store refuses upper case */
	assert_int_equal(store_device_add(fx->st, "PI", "acme", &keys[4]), ERR_NAME);
	struct rows r = devices(fx->st, -1);
	assert_string_equal(r.text, "pi.acme/0/0/;pi2.acme/0/0/;pi.beta/0/0/;");
	assert_int_equal(store_device_rm(fx->st, "pi", "gamma"), ERR_NOTFOUND);
	assert_int_equal(store_device_rm(fx->st, "pi", "acme"), 0);
	r = devices(fx->st, -1);
	assert_string_equal(r.text, "pi2.acme/0/0/;pi.beta/0/0/;");
}

static void
test_device_lists_for_users(void **state)
{
	struct fixture *fx = *state;

	populate(fx->st);
	int64_t alice = user_id(fx->st, "alice", 3), bob = user_id(fx->st, "bob", 4);
	struct rows r = devices(fx->st, alice);
	assert_string_equal(r.text, "pi.acme/0/0/;pi2.acme/0/0/;");	/* beta expired */
	r = devices(fx->st, bob);
	assert_string_equal(r.text, "pi.acme/0/0/;pi2.acme/0/0/;pi.beta/0/0/;");
	r = devices(fx->st, 999);
	assert_int_equal(r.n, 0);
	assert_int_equal(store_revoke(fx->st, "bob", "acme"), 0);
	r = devices(fx->st, bob);
	assert_string_equal(r.text, "pi.beta/0/0/;");
}

static void
test_resolve(void **state)
{
	struct fixture *fx = *state;
	int64_t id;
	char f[LIM_LABEL + 1];

	populate(fx->st);
	int64_t alice = user_id(fx->st, "alice", 3), bob = user_id(fx->st, "bob", 4);
	/* operator (0): everything; bare "pi" is in acme and beta */
	memset(f, 'x', sizeof(f));
	id = 77;
	assert_int_equal(store_device_resolve(fx->st, 0, "pi", "", &id, f), ERR_AMBIGUOUS);
	assert_int_equal(id, 0);
	assert_string_equal(f, "");
	assert_int_equal(store_device_resolve(fx->st, 0, "pi", NULL, &id, f), ERR_AMBIGUOUS);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi", "beta", &id, f), 0);
	assert_string_equal(f, "beta");
	assert_true(id > 0);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi2", "", &id, f), 0);
	assert_string_equal(f, "acme");
	/* alice: beta expired, so bare pi is unambiguous for her */
	assert_int_equal(store_device_resolve(fx->st, alice, "pi", "", &id, f), 0);
	assert_string_equal(f, "acme");
	assert_int_equal(id, device_id(fx->st, "pi", "acme"));
	assert_int_equal(store_device_resolve(fx->st, alice, "pi", "beta", &id, f), ERR_NOTFOUND);
	assert_int_equal(id, 0);
	/* ungranted fleet looks exactly like a missing device */
	assert_int_equal(store_device_resolve(fx->st, alice, "pi", "gamma", &id, f), ERR_NOTFOUND);
	assert_int_equal(store_device_resolve(fx->st, alice, "nope", "", &id, f), ERR_NOTFOUND);
	/* bob reaches both */
	assert_int_equal(store_device_resolve(fx->st, bob, "pi", "", &id, f), ERR_AMBIGUOUS);
	assert_int_equal(store_device_resolve(fx->st, bob, "pi", "beta", &id, f), 0);
	/* a user with no grants at all */
	assert_int_equal(store_device_resolve(fx->st, 12345, "pi2", "", &id, f), ERR_NOTFOUND);
	assert_int_equal(store_device_resolve(fx->st, bob, "pi", "Bad!", &id, f), ERR_NAME);
}

static int
addr_cb(void *arg, const struct store_device *d)
{
	snprintf(arg, 128, "%s.%s %d %lld %s %s", d->name, d->fleet, d->online,
	    (long long)d->last_seen, d->last_addr, d->key_fp);
	return 0;
}

static int
port_of(void *arg, const struct store_device *d)
{
	if (strcmp(d->name, "pi") == 0 && strcmp(d->fleet, "acme") == 0)
		*(uint32_t *)arg = d->port;
	return 0;
}

/* Port-table ports: hostile ports first, one device per port and fleet, the first port kept. */
static void
test_bind_port(void **state)
{
	struct fixture *fx = *state;
	char holder[LIM_LABEL + 1];
	int64_t pi2, pi, pib;
	char f[LIM_LABEL + 1];
	uint32_t port = 77;

	populate(fx->st);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi2", "acme", &pi2, f), 0);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi", "acme", &pi, f), 0);
	assert_int_equal(store_device_resolve(fx->st, 0, "pi", "beta", &pib, f), 0);
	memset(holder, 'x', sizeof(holder));
	assert_int_equal(store_device_bind_port(fx->st, pi, 0, holder, sizeof(holder)), ERR_INVAL);
	assert_string_equal(holder, "");
	assert_int_equal(store_device_bind_port(fx->st, pi, 65536, holder, sizeof(holder)), ERR_INVAL);
	assert_int_equal(store_device_bind_port(fx->st, pi, UINT32_MAX, NULL, 0), ERR_INVAL);
	assert_int_equal(store_device_list(fx->st, port_of, &port), 0);
	assert_int_equal(port, 0);
	/* bound, idempotent, and listed */
	assert_int_equal(store_device_bind_port(fx->st, pi, 22050, holder, sizeof(holder)), 0);
	assert_int_equal(store_device_bind_port(fx->st, pi, 22050, holder, sizeof(holder)), 0);
	assert_int_equal(store_device_list(fx->st, port_of, &port), 0);
	assert_int_equal(port, 22050);
	/* another device of the fleet: refused, naming the holder */
	assert_int_equal(store_device_bind_port(fx->st, pi2, 22050, holder, sizeof(holder)), ERR_EXISTS);
	assert_string_equal(holder, "pi");
	/* another fleet may use the same number */
	assert_int_equal(store_device_bind_port(fx->st, pib, 22050, holder, sizeof(holder)), 0);
	/* the device keeps its first port */
	assert_int_equal(store_device_bind_port(fx->st, pi, 22051, holder, sizeof(holder)), 0);
	assert_int_equal(store_device_list(fx->st, port_of, &port), 0);
	assert_int_equal(port, 22050);
	assert_int_equal(store_device_bind_port(fx->st, pi2, 22051, holder, sizeof(holder)), 0);
	/* resolving a port: per user's fleets; ambiguous across fleets */
	char names[2 * LIM_TARGET + 8];
	int64_t id = 5;
	int64_t alice = user_id(fx->st, "alice", 3), bob = user_id(fx->st, "bob", 4);
	assert_int_equal(store_device_by_port(fx->st, 0, 22050, &id, names, sizeof(names)), ERR_AMBIGUOUS);
	assert_string_equal(names, "pi.acme and pi.beta");
	assert_int_equal(store_device_by_port(fx->st, alice, 22050, &id, names, sizeof(names)), 0);
	assert_string_equal(names, "pi.acme");	/* alice's beta grant has expired */
	assert_int_equal(id, pi);
	assert_int_equal(store_device_by_port(fx->st, bob, 22050, &id, names, sizeof(names)), ERR_AMBIGUOUS);
	assert_int_equal(store_device_by_port(fx->st, 0, 22051, &id, names, sizeof(names)), 0);
	assert_string_equal(names, "pi2.acme");
	assert_int_equal(store_device_by_port(fx->st, 0, 1, &id, names, sizeof(names)), ERR_NOTFOUND);
	assert_int_equal(id, 0);
	assert_string_equal(names, "");
	assert_int_equal(store_device_by_port(fx->st, 0, 22050, &id, names, 8), ERR_AMBIGUOUS);
	assert_true(strlen(names) < 8);
	/* no such device: nothing bound, no error from a missing row */
	assert_int_equal(store_device_bind_port(fx->st, 999999, 22052, holder, sizeof(holder)), 0);
}

static void
test_liveness(void **state)
{
	struct fixture *fx = *state;
	char got[128], want[128];

	populate(fx->st);
	int64_t id = device_id(fx->st, "pi", "acme");
	assert_int_equal(store_device_set_online(fx->st, 999999, true, 5, "x"), ERR_NOTFOUND);
	char big[LIM_PEER_STRING + 10];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_device_set_online(fx->st, id, true, 5, big), ERR_TOOLONG);
	assert_int_equal(store_device_set_online(fx->st, id, true, 1795255200, "203.0.113.7:5123"), 0);
	assert_int_equal(store_device_get(fx->st, id, addr_cb, got), 0);
	snprintf(want, sizeof(want), "pi.acme 1 1795255200 203.0.113.7:5123 %s", keys[1].fp);
	assert_string_equal(got, want);
	/* NULL address keeps the old one */
	assert_int_equal(store_device_set_online(fx->st, id, false, 1795255300, NULL), 0);
	assert_int_equal(store_device_get(fx->st, id, addr_cb, got), 0);
	snprintf(want, sizeof(want), "pi.acme 0 1795255300 203.0.113.7:5123 %s", keys[1].fp);
	assert_string_equal(got, want);
	assert_int_equal(store_device_get(fx->st, 999999, addr_cb, got), ERR_NOTFOUND);
	/* all offline touches only online devices */
	int64_t id2 = device_id(fx->st, "pi2", "acme");
	assert_int_equal(store_device_set_online(fx->st, id, true, 100, NULL), 0);
	assert_int_equal(store_device_all_offline(fx->st, 200), 0);
	struct rows r = devices(fx->st, -1);
	assert_string_equal(r.text, "pi.acme/0/200/203.0.113.7:5123;pi2.acme/0/0/;pi.beta/0/0/;");
	(void)id2;
}

/* ---- change counter and callbacks ---- */

static void
test_change_counter(void **state)
{
	struct fixture *fx = *state;
	struct store *other;

	int64_t c0 = store_change_counter(fx->st);
	assert_int_equal(store_change_counter(fx->st), c0);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	int64_t c1 = store_change_counter(fx->st);
	assert_true(c1 != c0);
	/* failed writes change nothing */
	assert_int_equal(store_fleet_add(fx->st, "acme"), ERR_EXISTS);
	assert_int_equal(store_change_counter(fx->st), c1);
	/* another connection's commit is noticed */
	assert_int_equal(reopen(fx, &other), 0);
	assert_int_equal(store_fleet_add(other, "beta"), 0);
	int64_t c2 = store_change_counter(fx->st);
	assert_true(c2 != c1);
	assert_int_equal(store_change_counter(fx->st), c2);
	store_close(other);
	store_close(NULL);
}

static int
stop_cb(void *arg, const char *fleet, int n)
{
	(*(int *)arg)++;
	return 7;
}

struct nested {
	struct store *st;
	int outer, inner;
};

static int
inner_cb(void *arg, const struct store_device *d)
{
	((struct nested *)arg)->inner++;
	return 0;
}

static int
outer_cb(void *arg, const struct store_device *d)
{
	struct nested *n = arg;

	n->outer++;
	return store_device_list(n->st, inner_cb, n);
}

static void
test_callbacks(void **state)
{
	struct fixture *fx = *state;
	int calls = 0;

	populate(fx->st);
	assert_int_equal(store_fleet_list(fx->st, stop_cb, &calls), 7);
	assert_int_equal(calls, 1);
	/* the walk was abandoned cleanly: the store still works */
	assert_int_equal(store_fleet_add(fx->st, "delta"), 0);
	struct nested n = { fx->st, 0, 0 };
	assert_int_equal(store_device_list(fx->st, outer_cb, &n), 0);
	assert_int_equal(n.outer, 3);
	assert_int_equal(n.inner, 9);
}

/* Quotes and SQL in key comments are data, never SQL. */
static void
test_hostile_strings_are_data(void **state)
{
	struct fixture *fx = *state;
	struct pubkey k = keys[0];

	k.comment = (char *)"x'); DROP TABLE users; --";
	assert_int_equal(store_user_add(fx->st, "alice", false, &k), 0);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_device_add(fx->st, "pi", "acme", &keys[1]), 0);
	int64_t id = device_id(fx->st, "pi", "acme");
	assert_int_equal(store_device_set_online(fx->st, id, true, 1, "'\"; DELETE FROM devices; --"), 0);
	struct rows r = devices(fx->st, -1);
	assert_string_equal(r.text, "pi.acme/1/1/'\"; DELETE FROM devices; --;");
	struct store_principal p;
	assert_int_equal(store_principal_by_key(fx->st, &keys[0], &p), 0);
	assert_string_equal(p.name, "alice");
}

/* ---- metrics: per-fleet states, the statement timer, the failure count ---- */

static int
state_cb(void *arg, const char *fleet, int online, int standby, int offline)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%s=%d/%d/%d;", fleet, online, standby, offline);
	r->n++;
	return 0;
}

static void
count_timed(void *arg, int64_t ns)
{
	int *n = arg;

	assert_true(ns >= 0 && ns < 10 * 1000000000LL);
	(*n)++;
}

static void
test_fleet_states(void **state)
{
	struct fixture *fx = *state;
	struct rows r = { "", 0 };
	int timed = 0;

	assert_int_equal(store_fleet_states(fx->st, state_cb, &r), 0);
	assert_int_equal(r.n, 0);
	store_set_timer(fx->st, count_timed, &timed);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_fleet_add(fx->st, "empty"), 0);
	/* a caller's mistake is not a store failure */
	assert_int_equal(store_fleet_add(fx->st, "acme"), ERR_EXISTS);
	assert_int_equal(store_device_add(fx->st, "on", "acme", &keys[0]), 0);
	assert_int_equal(store_device_add(fx->st, "sb", "acme", &keys[1]), 0);
	assert_int_equal(store_device_add(fx->st, "off", "acme", &keys[2]), 0);
	assert_int_equal(store_device_add(fx->st, "woken", "acme", &keys[3]), 0);
	assert_int_equal(store_device_set_online(fx->st, device_id(fx->st, "on", "acme"), true, 5, "a"), 0);
	assert_int_equal(store_device_set_ondemand(fx->st, device_id(fx->st, "sb", "acme"), "standby", 5), 0);
	/* on demand and online counts as online, once */
	int64_t w = device_id(fx->st, "woken", "acme");
	assert_int_equal(store_device_set_ondemand(fx->st, w, "connected", 5), 0);
	assert_int_equal(store_device_set_online(fx->st, w, true, 5, "a"), 0);
	assert_int_equal(store_fleet_states(fx->st, state_cb, &r), 0);
	assert_string_equal(r.text, "acme=2/1/1;empty=0/0/0;");
	assert_true(timed > 10);
	assert_int_equal(store_failures(fx->st), 0);
	store_set_timer(fx->st, NULL, NULL);
	int before = timed;
	assert_int_equal(store_fleet_states(fx->st, state_cb, &r), 0);
	assert_int_equal(timed, before);
}

/* A spec that names no engine is refused with a sentence; passwords never show. */
static void
test_spec_hostile(void **state)
{
	struct store *st = (struct store *)1;
	char why[256], out[128];

	(void)state;
	assert_int_equal(store_open_spec("mysql://x", "/nonexistent", &st, why, sizeof(why)), ERR_CONFIG);
	assert_null(st);
	assert_non_null(strstr(why, "postgresql://"));
	assert_int_equal(store_open_spec("sqlite:", "/nonexistent", &st, why, sizeof(why)), ERR_CONFIG);
	store_spec_redact("postgresql://ann:s3cret@db.example:5432/outpost?sslmode=require", out, sizeof(out));
	assert_string_equal(out, "postgresql://ann:***@db.example:5432/outpost?sslmode=require");
	store_spec_redact("postgresql://db/outpost?sslmode=require&password=s3cret&x=1", out, sizeof(out));
	assert_string_equal(out, "postgresql://db/outpost?sslmode=require&password=***&x=1");
	store_spec_redact("postgresql://ann@db/o", out, sizeof(out));
	assert_string_equal(out, "postgresql://ann@db/o");
	store_spec_redact("postgresql://a:b@c:d@h/o", out, sizeof(out));
	assert_null(strstr(out, "b@c"));
	store_spec_redact("postgresql://ann:s3cret@db", out, 20);
	assert_null(strstr(out, "s3c"));
	store_spec_redact(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

/* "sqlite::memory:": a full schema in memory, one private database per open. */
static void
test_memory(void **state)
{
	struct store *a, *b;
	char why[256];
	int n = -1;

	(void)state;
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &a, why, sizeof(why)), 0);
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &b, why, sizeof(why)), 0);
	assert_string_equal(store_engine(a), "sqlite");
	assert_int_equal(store_fleet_add(a, "acme"), 0);
	assert_int_equal(store_fleet_get(b, "acme", NULL), ERR_NOTFOUND);
	assert_int_equal(store_fleet_add(b, "acme"), 0);
	assert_int_equal(store_device_add(a, "pi", "acme", &keys[0]), 0);
	assert_int_equal(store_device_add(b, "pi", "acme", &keys[0]), 0);	/* another database */
	assert_int_equal(store_fleet_get(a, "acme", &n), 0);
	assert_int_equal(n, 1);
	store_close(a);
	assert_int_equal(store_open_spec("sqlite::memory:", NULL, &a, why, sizeof(why)), 0);
	assert_int_equal(store_fleet_get(a, "acme", NULL), ERR_NOTFOUND);	/* gone at close */
	store_close(a);
	store_close(b);
}

/* One thread's store, used as outpostd and the CLI would; returns how many checks failed. */
static void *
slots_worker(void *arg)
{
	pthread_barrier_t *start = arg;
	static const char hash[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct store_principal p;
	struct audit_head h = { .seq = 3, .size = 99 }, got;
	struct store *st;
	char fleet[LIM_LABEL + 1];
	int64_t id;
	int n, bad = 0;

	memset(h.hash, 'a', AUDIT_HASH_HEX);
	h.hash[AUDIT_HASH_HEX] = '\0';
	if (store_open_spec("sqlite::memory:", NULL, &st, NULL, 0) != 0)
		return (void *)1;
	pthread_barrier_wait(start);
	bad += store_fleet_add(st, "acme") != 0;
	bad += store_fleet_add(st, "beta") != 0;
	bad += store_device_add(st, "pi", "acme", &keys[0]) != 0;
	bad += store_device_add(st, "pi", "beta", &keys[1]) != 0;
	bad += store_user_add(st, "alice", false, &keys[3]) != 0;
	bad += store_grant(st, "alice", "acme", 0) != 0;
	bad += store_principal_by_key(st, &keys[3], &p) != 0 || p.kind != PRINCIPAL_USER;
	bad += store_device_resolve(st, p.id, "pi", "", &id, fleet) != 0 || strcmp(fleet, "acme") != 0;
	bad += store_device_resolve(st, 0, "pi", "", &id, fleet) != ERR_AMBIGUOUS;
	bad += store_user_may_reach(st, p.id, id) != ERR_NOTFOUND;
	bad += store_token_add(st, hash, "acme", 1, 0) != 0;
	bad += store_enroll(st, hash, "pi3", &keys[2], fleet) != 0;
	bad += store_enroll(st, hash, "pi4", &keys[4], fleet) != ERR_DENIED;
	bad += store_session_add(st, 1, "user", "alice", keys[3].fp, "127.0.0.1:2", 1) != 0;
	bad += store_session_kick(st, "alice", &n) != 0 || n != 1;
	bad += store_audit_anchor_set(st, "a", &h, false) != 0;
	bad += store_audit_anchor_get(st, "a", &got) != 0 || got.seq != 3;
	bad += store_failures(st) != 0;
	store_close(st);
	return (void *)(intptr_t)bad;
}

/*
 * Queries get their cache slots on first use, process-wide: threads that
 * each open a store and race through every kind of query in a fresh process
 * (a child, where no slot is given yet) must each see the right SQL run.
 */
static void
test_slots_threads(void **state)
{
	enum { NTHREADS = 4 };
	int status;

	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t[NTHREADS];
		pthread_barrier_t start;
		intptr_t bad = 0;
		pthread_barrier_init(&start, NULL, NTHREADS);
		for (int i = 0; i < NTHREADS; i++)
			if (pthread_create(&t[i], NULL, slots_worker, &start) != 0)
				_exit(2);
		for (int i = 0; i < NTHREADS; i++) {
			void *r;
			pthread_join(t[i], &r);
			bad += (intptr_t)r;
		}
		_exit(bad == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int
info_cb(void *arg, const struct store_device_info *d)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%s.%s/%s/%s/%s/%s/%lld;", d->name, d->fleet,
	    d->hostname, d->os, d->version, d->host_keys, (long long)d->booted);
	r->n++;
	return 0;
}

/* import (all or nothing), device reports, on-demand states cleared, a user's key removed. */
static void
test_import_reports_keys(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct store_import_item items[] = { { "a", &keys[0] }, { "b", &keys[1] }, { "c", &keys[0] } };
	size_t failed;

	assert_int_equal(store_fleet_add(st, "acme"), 0);
	/* the third reuses a key: nothing is imported, and the failing item is named */
	assert_int_equal(store_import(st, "acme", false, items, 3, &failed), ERR_EXISTS);
	assert_int_equal(failed, 2);
	assert_int_equal(devices(st, -1).n, 0);
	assert_int_equal(store_import(st, "nope", false, items, 2, &failed), ERR_NOTFOUND);
	assert_int_equal(failed, 2);
	assert_int_equal(store_import(st, "acme", false, items, 2, &failed), 0);
	assert_int_equal(devices(st, -1).n, 2);
	struct store_import_item users[] = { { "carol", &keys[2] } };
	assert_int_equal(store_import(st, "acme", true, users, 1, &failed), 0);

	/* reports: text with quotes and newlines is data */
	int64_t a = device_id(st, "a", "acme");
	assert_int_equal(store_device_set_info(st, a, "h'1", "Debian \"12\"", "0.1", "ssh-ed25519 AAAA\nssh-rsa BBBB", 77), 0);
	struct rows r = { "", 0 };
	assert_int_equal(store_device_info_list(st, 0, info_cb, &r), 0);
	assert_string_equal(r.text, "a.acme/h'1/Debian \"12\"/0.1/ssh-ed25519 AAAA\nssh-rsa BBBB/77;b.acme/////0;");
	int64_t carol = user_id(st, "carol", 2);
	r = (struct rows){ "", 0 };
	assert_int_equal(store_device_info_list(st, carol, info_cb, &r), 0);
	assert_int_equal(r.n, 2);	/* imported users are granted the fleet */

	/* on-demand states go at a restart */
	assert_int_equal(store_device_set_ondemand(st, a, "standby", 5), 0);
	assert_int_equal(store_device_clear_ondemand(st), 0);
	assert_string_equal(devices(st, -1).text, "a.acme/0/0/;b.acme/0/0/;");

	/* a user's key, by fingerprint, only their own */
	assert_int_equal(store_user_add_key(st, "carol", &keys[3]), 0);
	assert_int_equal(store_user_rm_key(st, "carol", keys[0].fp), ERR_NOTFOUND);
	assert_int_equal(store_user_rm_key(st, "carol", keys[2].fp), 0);
	struct store_principal p;
	assert_int_equal(store_principal_by_key(st, &keys[2], &p), ERR_NOTFOUND);
	assert_int_equal(store_principal_by_key(st, &keys[3], &p), 0);
	assert_string_equal(p.name, "carol");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown),
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown),
/* Every test of the store's behaviour, run once per engine. */
#define BOTH_ENGINES(X) \
	X(test_invalid_names) \
	X(test_hostile_strings_are_data) \
	X(test_fleets) \
	X(test_users) \
	X(test_key_unique_across_principals) \
	X(test_grants) \
	X(test_device_add_rm) \
	X(test_device_lists_for_users) \
	X(test_resolve) \
	X(test_bind_port) \
	X(test_liveness) \
	X(test_change_counter) \
	X(test_callbacks) \
	X(test_sessions_hostile) \
	X(test_fleet_states) \
	X(test_sessions) \
	X(test_sessions_callbacks) \
	X(test_audit_anchor) \
	X(test_may_reach) \
	X(test_import_reports_keys)

/* ---- live sessions ---- */

static int
session_cb(void *arg, const struct store_session *ss)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);

	snprintf(r->text + l, sizeof(r->text) - l, "%lld/%s/%s/%s/%s/%lld/%lld/%d;",
	    (long long)ss->id, ss->kind, ss->principal, ss->key_fp, ss->src,
	    (long long)ss->since, (long long)ss->bytes, ss->kicked);
	r->n++;
	return 0;
}

static struct rows
sessions(struct store *st, bool kicked_only)
{
	struct rows r = { "", 0 };

	if (kicked_only)
		assert_int_equal(store_session_list_kicked(st, session_cb, &r), 0);
	else
		assert_int_equal(store_session_list(st, session_cb, &r), 0);
	return r;
}

static void
test_sessions_hostile(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	char lng[400];
	int n = 7;

	memset(lng, 'a', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	assert_int_equal(store_session_add(st, 0, "user", "alice", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, -4, "user", "alice", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, "user", "alice", "", "", -1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, NULL, "alice", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, "admin", "alice", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, "User", "alice", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, "user", NULL, "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "user", "", "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "user", "alice.acme", "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "device", "pi", "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "device", "pi.acme.x", "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "enroll", "enroll.acme", "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "Enroll", "enroll", "", "", 1), ERR_INVAL);
	assert_int_equal(store_session_add(st, 1, "user", "x'; DROP TABLE sessions; --", "", "", 1),
	    ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "user", lng, "", "", 1), ERR_NAME);
	assert_int_equal(store_session_add(st, 1, "user", "alice", lng, "", 1), ERR_TOOLONG);
	assert_int_equal(store_session_add(st, 1, "user", "alice", "", lng, 1), ERR_TOOLONG);
	assert_int_equal(sessions(st, false).n, 0);
	/* NULL fingerprint and source are stored as "" */
	assert_int_equal(store_session_add(st, 1, "user", "alice", NULL, NULL, 1), 0);
	assert_int_equal(store_session_add(st, 1, "device", "pi.acme", "", "", 1), ERR_EXISTS);
	assert_int_equal(store_session_set_bytes(st, 2, 5), ERR_NOTFOUND);
	assert_int_equal(store_session_set_bytes(st, 1, -5), ERR_INVAL);
	assert_int_equal(store_session_del(st, 2), ERR_NOTFOUND);
	assert_string_equal(sessions(st, false).text, "1/user/alice///1/0/0;");
	/* an enroll login is listed and kicked by id like any session */
	assert_int_equal(store_session_add(st, 3, "enroll", "enroll", "SHA256:x", "192.0.2.9:1", 2), 0);
	assert_int_equal(store_session_kick(st, "3", &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sessions(st, true).text, "3/enroll/enroll/SHA256:x/192.0.2.9:1/2/0/1;");
	assert_int_equal(store_session_del(st, 3), 0);

	/* kick targets that are not a session id, a user or NAME.FLEET */
	static const char *const bad[] = { "", "-1", "+1", "1.2.3", "a..b", ".acme", "pi.",
	    "a b", "x'; --", "%", " 1", "1 ", "1\t" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 7;
		int r = store_session_kick(st, bad[i], &n);
		if (r != ERR_NAME)
			fail_msg("kick '%s' gave %d", bad[i], r);
		assert_int_equal(n, 0);
	}
	assert_int_equal(store_session_kick(st, NULL, &n), ERR_INVAL);
	assert_int_equal(store_session_kick(st, lng, &n), ERR_NAME);
	/* ids that do not exist, and digits too many for an id (a valid user name then) */
	assert_int_equal(store_session_kick(st, "0", &n), ERR_NOTFOUND);
	assert_string_equal(store_errmsg(st), "no live session 0");
	assert_int_equal(store_session_kick(st, "2", &n), ERR_NOTFOUND);
	assert_int_equal(store_session_kick(st, "99999999999999999999999", &n), ERR_NOTFOUND);
	assert_int_equal(store_session_kick(st, "bob", NULL), ERR_NOTFOUND);
	assert_string_equal(store_errmsg(st), "no live session of bob");
	assert_int_equal(sessions(st, true).n, 0);
}

static void
test_sessions(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st, *cli;
	int n = 0;

	assert_int_equal(store_session_add(st, 1, "user", "Alice", "SHA256:aaa", "192.0.2.1:5000", 100), 0);
	assert_int_equal(store_session_add(st, 2, "device", "PI.acme", "SHA256:ppp", "198.51.100.2:6000", 101), 0);
	assert_int_equal(store_session_add(st, 7, "user", "alice", "SHA256:aab", "192.0.2.1:5001", 102), 0);
	assert_int_equal(store_session_add(st, 3, "user", "bob", "SHA256:bbb", "[2001:db8::1]:22", 103), 0);
	assert_int_equal(store_session_add(st, 4, "device", "pi.beta", "SHA256:qqq", "203.0.113.9:1", 104), 0);
	assert_int_equal(store_session_set_bytes(st, 2, INT64_C(5000000000)), 0);
	assert_string_equal(sessions(st, false).text,
	    "1/user/alice/SHA256:aaa/192.0.2.1:5000/100/0/0;"
	    "2/device/pi.acme/SHA256:ppp/198.51.100.2:6000/101/5000000000/0;"
	    "3/user/bob/SHA256:bbb/[2001:db8::1]:22/103/0/0;"
	    "4/device/pi.beta/SHA256:qqq/203.0.113.9:1/104/0/0;"
	    "7/user/alice/SHA256:aab/192.0.2.1:5001/102/0/0;");

	/* the CLI kicks on its own connection; outpostd's sees it */
	assert_int_equal(reopen(fx, &cli), 0);
	int64_t before = store_change_counter(st);
	assert_int_equal(store_session_kick(cli, "7", &n), 0);
	assert_int_equal(n, 1);
	assert_int_not_equal(store_change_counter(st), before);
	assert_string_equal(sessions(st, true).text,
	    "7/user/alice/SHA256:aab/192.0.2.1:5001/102/0/1;");
	/* a user name kicks every session of that user (and no device named alike) */
	assert_int_equal(store_session_kick(cli, "ALICE", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_session_kick(cli, "pi", &n), ERR_NOTFOUND);
	assert_int_equal(store_session_kick(cli, "bob.acme", &n), ERR_NOTFOUND);
	assert_int_equal(store_session_kick(cli, "Pi.Acme", &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sessions(st, true).text,
	    "1/user/alice/SHA256:aaa/192.0.2.1:5000/100/0/1;"
	    "2/device/pi.acme/SHA256:ppp/198.51.100.2:6000/101/5000000000/1;"
	    "7/user/alice/SHA256:aab/192.0.2.1:5001/102/0/1;");
	store_close(cli);

	/* outpostd ends them and deletes the rows */
	assert_int_equal(store_session_del(st, 1), 0);
	assert_int_equal(store_session_del(st, 1), ERR_NOTFOUND);
	assert_int_equal(store_session_del(st, 7), 0);
	assert_int_equal(store_session_del(st, 2), 0);
	assert_int_equal(sessions(st, true).n, 0);
	assert_int_equal(sessions(st, false).n, 2);
	assert_int_equal(store_session_clear(st), 0);
	assert_int_equal(sessions(st, false).n, 0);
	assert_int_equal(store_session_clear(st), 0);
	/* ids are outpostd's serials: they may be reused after a restart */
	assert_int_equal(store_session_add(st, 1, "user", "bob", "", "", 200), 0);
}

/* A stop from the callback ends the walk; callbacks may re-enter the store. */
static int
session_stop_cb(void *arg, const struct store_session *ss)
{
	struct store *st = arg;

	assert_int_equal(store_session_set_bytes(st, ss->id, 42), 0);
	return 9;
}

static void
test_sessions_callbacks(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(store_session_add(fx->st, 1, "user", "bob", "", "", 1), 0);
	assert_int_equal(store_session_add(fx->st, 2, "user", "bob", "", "", 1), 0);
	assert_int_equal(store_session_list(fx->st, session_stop_cb, fx->st), 9);
	assert_string_equal(sessions(fx->st, false).text, "1/user/bob///1/42/0;2/user/bob///1/0/0;");
}

/* A version-1 database (before sessions) is migrated on open, its data kept. */
static void
test_migration_1_to_2(void **state)
{
	struct fixture *fx = *state;
	char path[700];
	sqlite3 *db;

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	store_close(fx->st);
	fx->st = NULL;
	snprintf(path, sizeof(path), "%s/outpost.db", fx->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE tokens; DROP TABLE sessions; "
	    "ALTER TABLE devices DROP COLUMN ondemand; ALTER TABLE devices DROP COLUMN ondemand_since; "
	    "ALTER TABLE devices DROP COLUMN booted; DROP TABLE audit_anchor; "
	    "DROP INDEX devices_by_port; ALTER TABLE devices DROP COLUMN port; DROP TABLE host_keys; "
	    "DROP TABLE nodes; DROP TABLE audit_anchors; DROP TABLE audit_records; DROP INDEX devices_by_pseq; "
	    "ALTER TABLE devices DROP COLUMN node; ALTER TABLE devices DROP COLUMN gen; "
	    "ALTER TABLE devices DROP COLUMN pseq; PRAGMA user_version = 1;",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(fx->state, &fx->st), 0);
	assert_int_equal(store_fleet_get(fx->st, "acme", NULL), 0);
	assert_int_equal(store_session_add(fx->st, 1, "user", "bob", "", "", 1), 0);
	assert_int_equal(sessions(fx->st, false).n, 1);
}

/* The audit anchor: hostile heads refused, forward only unless reset. */
static void
test_audit_anchor(void **state)
{
	struct fixture *fx = *state;
	struct audit_head h, got;

	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), ERR_NOTFOUND);
	memset(&h, 0, sizeof(h));
	/* hostile heads first */
	assert_int_equal(store_audit_anchor_set(fx->st, "a", NULL, false), ERR_INVAL);
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);	/* empty hash */
	memset(h.hash, 'A', AUDIT_HASH_HEX);					/* upper case */
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);
	memset(h.hash, 'a', AUDIT_HASH_HEX);
	h.hash[10] = '\'';
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);
	memset(h.hash, 'a', AUDIT_HASH_HEX);
	h.seq = -1;
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);
	h.seq = 5;
	h.size = -1;
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), ERR_INVAL);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), ERR_NOTFOUND);
	/* set, forward, not back */
	h.size = 500;
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 5);
	assert_int_equal(got.size, 500);
	assert_string_equal(got.hash, h.hash);
	h.seq = 3;
	h.size = 300;
	memset(h.hash, 'b', AUDIT_HASH_HEX);
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), 0);	/* a slower writer */
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 5);
	h.seq = 9;
	h.size = 900;
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, false), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 9);
	assert_string_equal(got.hash, h.hash);
	/* reset: a cut log re-anchored lower */
	h.seq = 1;
	h.size = 100;
	memset(h.hash, 'c', AUDIT_HASH_HEX);
	assert_int_equal(store_audit_anchor_set(fx->st, "a", &h, true), 0);
	assert_int_equal(store_audit_anchor_get(fx->st, "a", &got), 0);
	assert_int_equal(got.seq, 1);
	assert_int_equal(got.size, 100);
	assert_string_equal(got.hash, h.hash);
}

static void
test_may_reach(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct pubkey extra;
	char path[600];

	populate(st);
	int64_t alice = user_id(st, "alice", 3), bob = user_id(st, "bob", 4);
	int64_t pi_acme = device_id(st, "pi", "acme"), pi_beta = device_id(st, "pi", "beta");
	int64_t pi2 = device_id(st, "pi2", "acme");

	/* hostile ids first */
	assert_int_equal(store_user_may_reach(st, 0, pi_acme), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, -1, pi_acme), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, alice, 0), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, alice, INT64_MAX), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, INT64_MIN, INT64_MIN), ERR_NOTFOUND);

	assert_int_equal(store_user_may_reach(st, alice, pi_acme), 0);
	assert_int_equal(store_user_may_reach(st, alice, pi2), 0);
	assert_int_equal(store_user_may_reach(st, alice, pi_beta), ERR_NOTFOUND);	/* expired */
	assert_int_equal(store_user_may_reach(st, bob, pi_beta), 0);
	/* revoking, an expiry in the past, removing the device or the user */
	assert_int_equal(store_revoke(st, "alice", "acme"), 0);
	assert_int_equal(store_user_may_reach(st, alice, pi_acme), ERR_NOTFOUND);
	assert_int_equal(store_grant(st, "bob", "beta", timefmt_now() - 1), 0);
	assert_int_equal(store_user_may_reach(st, bob, pi_beta), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, bob, pi_acme), 0);
	assert_int_equal(store_device_rm(st, "pi", "acme"), 0);
	assert_int_equal(store_user_may_reach(st, bob, pi_acme), ERR_NOTFOUND);
	assert_int_equal(store_user_may_reach(st, bob, pi2), 0);
	assert_int_equal(store_user_rm(st, "bob"), 0);
	assert_int_equal(store_user_may_reach(st, bob, pi2), ERR_NOTFOUND);
	/* an admin reaches every device without grants */
	snprintf(path, sizeof(path), "%s/k0.pub", keydir);
	assert_int_equal(store_device_rm(st, "pi2", "acme"), 0);	/* frees key 0 */
	assert_int_equal(pubkey_read_file(path, &extra), 0);
	assert_int_equal(store_user_add(st, "root", true, &extra), 0);
	int64_t root = user_id(st, "root", 0);
	assert_int_equal(store_user_may_reach(st, root, pi_beta), 0);
	assert_int_equal(store_user_may_reach(st, root, pi2), ERR_NOTFOUND);	/* gone */
	pubkey_clear(&extra);
}

int
main(void)
{
	/* what only SQLite has: a state directory, files, PRAGMAs, its migrations */
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_slots_threads),	/* first: no query has its slot yet */
		T(test_open_hostile)
		cmocka_unit_test(test_spec_hostile),
		cmocka_unit_test(test_memory),
		T(test_open_readonly)
		T(test_open_modes_and_reopen)
		T(test_migration_1_to_2)
	};
	const struct CMUnitTest sqlite[] = { BOTH_ENGINES(T) };
	const struct CMUnitTest pg[] = { BOTH_ENGINES(P) };
	int r;

	if (group_setup(NULL) != 0)
		return 1;
	r = cmocka_run_group_tests_name("sqlite only", sqlite_only, NULL, NULL);
	r += cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
	r += cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
	group_teardown(NULL);
	return r;
}
