/* test_race.c: writers racing on one store, each on its own connection (the CLI, outpostd, several outpostd): one name, one key, one use of a single-use token, every grant kept. Both engines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>

#include "common/err.h"
#include "store/store.h"
#include "pgtest.h"
#include "testkeys.h"
#include "testutil.h"

#define NWRITERS	6	/* connections racing at once */
#define NROUNDS		8	/* races per test: a lucky interleaving must not hide a bug */

static char *keydir;
static struct pubkey keys[NWRITERS];

struct fixture {
	char *dir;
	char spec[600];		/* store_open_spec's: sqlite:PATH or a PostgreSQL URI */
	struct store *st;	/* the checking connection */
	struct store *w[NWRITERS];	/* one per writer, opened before the race */
};

static int
group_setup(void **state)
{
	(void)state;
	return tu_keys_make(&keydir, keys, NWRITERS, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_keys_free(keydir, keys, NWRITERS);
	keydir = NULL;
	return 0;
}

static int
open_all(struct fixture *fx)
{
	char why[512] = "";

	if (store_open_spec(fx->spec, NULL, &fx->st, why, sizeof(why)) != 0) {
		print_error("%s\n", why);
		return -1;
	}
	for (int i = 0; i < NWRITERS; i++)
		if (store_open_spec(fx->spec, NULL, &fx->w[i], why, sizeof(why)) != 0) {
			print_error("%s\n", why);
			return -1;
		}
	return 0;
}

static int
setup_sqlite(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	snprintf(fx->spec, sizeof(fx->spec), "sqlite:%s", fx->dir);
	return open_all(fx);
}

static int
setup_pg(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (pgtest_fresh(fx->spec, sizeof(fx->spec)) != 0)
		return -1;
	return open_all(fx);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL)
		return 0;
	store_close(fx->st);
	for (int i = 0; i < NWRITERS; i++)
		store_close(fx->w[i]);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- the race ---- */

struct writer {
	struct store *st;
	int i, round;
	pthread_barrier_t *go;
	int (*op)(struct writer *w);
	int r;
	char why[256];
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_barrier_wait(w->go);
	w->r = w->op(w);
	snprintf(w->why, sizeof(w->why), "%s", store_errmsg(w->st));
	return NULL;
}

/* Runs op on every writer's connection at once; results in ws[i].r. */
static void
race(struct fixture *fx, int round, int (*op)(struct writer *w), struct writer *ws)
{
	pthread_t t[NWRITERS];
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, NWRITERS);
	for (int i = 0; i < NWRITERS; i++) {
		ws[i] = (struct writer){ .st = fx->w[i], .i = i, .round = round, .go = &go, .op = op };
		assert_int_equal(pthread_create(&t[i], NULL, writer_main, &ws[i]), 0);
	}
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
}

/* How many writers got r; the others must have got one of the refusals in ok (or 0). */
static int
count(const struct writer *ws, int r, int also_ok)
{
	int n = 0;

	for (int i = 0; i < NWRITERS; i++) {
		if (ws[i].r == r)
			n++;
		else if (ws[i].r != also_ok)
			print_error("writer %d: %d (%s)\n", i, ws[i].r, ws[i].why);
		assert_true(ws[i].r == r || ws[i].r == also_ok);
	}
	return n;
}

static const char token_hash[] = "5eed0000000000000000000000000000000000000000000000000000000000%02x";

static void
hash_of(int round, char *out)
{
	snprintf(out, 65, token_hash, round);
}

/* ---- one name, two keys ---- */

static int
enroll_same_name(struct writer *w)
{
	char hash[65], name[16], fleet[LIM_LABEL + 1];

	hash_of(0, hash);
	snprintf(name, sizeof(name), "pi%d", w->round);
	return store_enroll(w->st, hash, name, &keys[w->i], fleet);
}

struct owner {
	char fp[PUBKEY_FP_MAX];
	int n;
};

static int
device_cb(void *arg, const struct store_device *d)
{
	struct owner *o = arg;

	snprintf(o->fp, sizeof(o->fp), "%s", d->key_fp);
	o->n++;
	return 0;
}

/* Writers enrolling one name with their own keys: one wins, the rest are told the name is taken. */
static void
test_enroll_one_name_two_keys(void **state)
{
	struct fixture *fx = *state;
	struct writer ws[NWRITERS];
	char hash[65];

	hash_of(0, hash);
	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	assert_int_equal(store_token_add(fx->st, hash, "acme", 0, 0), 0);	/* unlimited */
	for (int round = 0; round < NROUNDS; round++) {
		race(fx, round, enroll_same_name, ws);
		assert_int_equal(count(ws, 0, ERR_EXISTS), 1);
		int winner = -1;
		for (int i = 0; i < NWRITERS; i++)
			if (ws[i].r == 0)
				winner = i;
		char name[16];
		int64_t id;
		char f[LIM_LABEL + 1];
		struct owner o = { "", 0 };
		snprintf(name, sizeof(name), "pi%d", round);
		assert_int_equal(store_device_resolve(fx->st, 0, name, "acme", &id, f), 0);
		assert_int_equal(store_device_get(fx->st, id, device_cb, &o), 0);
		assert_string_equal(o.fp, keys[winner].fp);
		/* the keys stay free for the next round */
		assert_int_equal(store_device_rm(fx->st, name, "acme"), 0);
	}
}

static int
device_add_same_name(struct writer *w)
{
	char name[16];

	snprintf(name, sizeof(name), "dev%d", w->round);
	return store_device_add(w->st, name, "acme", &keys[w->i]);
}

/* `device add` of one name from several CLIs at once: one row. */
static void
test_device_add_one_name(void **state)
{
	struct fixture *fx = *state;
	struct writer ws[NWRITERS];

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	for (int round = 0; round < NROUNDS; round++) {
		char name[16];
		race(fx, round, device_add_same_name, ws);
		assert_int_equal(count(ws, 0, ERR_EXISTS), 1);
		snprintf(name, sizeof(name), "dev%d", round);
		assert_int_equal(store_device_rm(fx->st, name, "acme"), 0);
	}
}

/* ---- one single-use token ---- */

static int
enroll_single_use(struct writer *w)
{
	char hash[65], name[16], fleet[LIM_LABEL + 1];

	hash_of(w->round + 1, hash);
	snprintf(name, sizeof(name), "r%dw%d", w->round, w->i);
	return store_enroll(w->st, hash, name, &keys[w->i], fleet);
}

struct token_use {
	int used, uses_left, n;
};

static int
token_cb(void *arg, const struct store_token *t)
{
	struct token_use *u = arg;

	u->used = t->used;
	u->uses_left = t->uses_left;
	u->n++;
	return 0;
}

static int
fleet_count_cb(void *arg, const char *fleet, int ndevices)
{
	*(int *)arg += ndevices;
	return 0;
}

/* Writers enrolling different names with one single-use token: it is used once. */
static void
test_single_use_token_used_once(void **state)
{
	struct fixture *fx = *state;
	struct writer ws[NWRITERS];
	char hash[65];

	assert_int_equal(store_fleet_add(fx->st, "acme"), 0);
	for (int round = 0; round < NROUNDS; round++) {
		struct token_use u = { 0, 0, 0 };
		int devices = 0;
		hash_of(round + 1, hash);
		assert_int_equal(store_token_add(fx->st, hash, "acme", 1, 0), 0);
		race(fx, round, enroll_single_use, ws);
		assert_int_equal(count(ws, 0, ERR_DENIED), 1);
		assert_int_equal(store_token_list(fx->st, token_cb, &u), 0);
		assert_int_equal(u.used, 1);
		assert_int_equal(u.uses_left, 0);
		assert_int_equal(store_fleet_list(fx->st, fleet_count_cb, &devices), 0);
		assert_int_equal(devices, 1);
		/* free the key for the next round; the used-up token is revoked */
		for (int i = 0; i < NWRITERS; i++)
			if (ws[i].r == 0) {
				char name[16];
				snprintf(name, sizeof(name), "r%dw%d", round, i);
				assert_int_equal(store_device_rm(fx->st, name, "acme"), 0);
			}
		char id[13];
		snprintf(id, sizeof(id), "%.12s", hash);
		assert_int_equal(store_token_revoke(fx->st, id), 0);
	}
}

/* ---- no grant lost ---- */

static int
grant_own_fleet(struct writer *w)
{
	char fleet[16];
	int r;

	snprintf(fleet, sizeof(fleet), "f%d", w->i);
	r = store_grant(w->st, "alice", fleet, 0);
	if (r == 0)
		r = store_grant(w->st, "alice", "shared", 4000000000 + w->i);	/* all at once, one row */
	return r;
}

static int
user_cb(void *arg, const struct store_user *u)
{
	snprintf(arg, 256, "%s", u->fleets);
	return 0;
}

/* Writers granting alice a fleet each, and one fleet all together: every grant is there. */
static void
test_no_grant_lost(void **state)
{
	struct fixture *fx = *state;
	struct writer ws[NWRITERS];
	char fleets[256], want[256] = "", fleet[16];

	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[0]), 0);
	assert_int_equal(store_fleet_add(fx->st, "shared"), 0);
	for (int i = 0; i < NWRITERS; i++) {
		snprintf(fleet, sizeof(fleet), "f%d", i);
		assert_int_equal(store_fleet_add(fx->st, fleet), 0);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s,", fleet);
	}
	strcat(want, "shared");
	race(fx, 0, grant_own_fleet, ws);
	assert_int_equal(count(ws, 0, 0), NWRITERS);
	assert_int_equal(store_user_list(fx->st, user_cb, fleets), 0);
	assert_string_equal(fleets, want);
}

#define SQ(f) cmocka_unit_test_setup_teardown(f, setup_sqlite, teardown)
#define PG(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)

int
main(void)
{
	const struct CMUnitTest sqlite[] = {
		SQ(test_enroll_one_name_two_keys),
		SQ(test_device_add_one_name),
		SQ(test_single_use_token_used_once),
		SQ(test_no_grant_lost),
	};
	const struct CMUnitTest pg[] = {
		PG(test_enroll_one_name_two_keys),
		PG(test_device_add_one_name),
		PG(test_single_use_token_used_once),
		PG(test_no_grant_lost),
	};
	int r;

	if (group_setup(NULL) != 0)
		return 1;
	r = cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
	r += cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
	group_teardown(NULL);
	return r;
}
