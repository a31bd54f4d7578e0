/* test_store_hostkeys.c: host keys learned from plain devices' sshds (store/hostkeys.c) on both engines, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"
#include "pgtest.h"
#include "testkeys.h"
#include "testutil.h"

static char *keydir;
/* 0, 1: ed25519; 2: ecdsa; 3: rsa; 4: the device's login key */
#define NKEYS 5
static struct pubkey keys[NKEYS];

struct fixture {
	char *dir;
	char state[600];
	struct store *st;
	int64_t dev, other;	/* pi.acme, box.globex */
};

static int
group_setup(void **state)
{
	static const char *const types[NKEYS] = { "ed25519", "ed25519", "ecdsa", "rsa", "ed25519" };

	(void)state;
	return tu_keys_make(&keydir, keys, NKEYS, types);
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_keys_free(keydir, keys, NKEYS);
	keydir = NULL;
	return 0;
}

/* Two devices in two fleets on a store that is open in fx->st. */
static int
populate(struct fixture *fx)
{
	char fleet[LIM_LABEL + 1];
	struct pubkey k2 = { 0 };

	if (store_fleet_add(fx->st, "acme") != 0 || store_fleet_add(fx->st, "globex") != 0 ||
	    store_device_add(fx->st, "pi", "acme", &keys[4]) != 0 ||
	    store_device_resolve(fx->st, 0, "pi", "acme", &fx->dev, fleet) != 0)
		return -1;
	/* a second device needs a key of its own: keys[0] is only ever a host key here */
	int r = pubkey_parse_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", &k2) != 0 ||
	    store_device_add(fx->st, "box", "globex", &k2) != 0 ||
	    store_device_resolve(fx->st, 0, "box", "globex", &fx->other, fleet) != 0 ? -1 : 0;
	pubkey_clear(&k2);
	return r;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	if (store_open(fx->state, &fx->st) != 0)
		return -1;
	return populate(fx);
}

/* The same on PostgreSQL: a fresh schema on the tests' server. */
static int
setup_pg(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char uri[512], why[512] = "";

	if (fx == NULL || (fx->dir = tu_mkdtemp()) == NULL)
		return -1;
	*state = fx;
	if (pgtest_uri() == NULL && pgtest_missing())
		skip();
	if (pgtest_fresh(uri, sizeof(uri)) != 0)
		return -1;
	if (store_open_spec(uri, NULL, &fx->st, why, sizeof(why)) != 0) {
		print_error("%s\n", why);
		return -1;
	}
	return populate(fx);
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

/* ---- collecting rows ---- */

struct row {
	char target[LIM_TARGET + 1];
	uint32_t port, table_port;
	char type[PUBKEY_TYPE_MAX];
	char key[2048], pending[2048];
	int64_t changed;
};

struct rows {
	struct row v[16];
	int n;
};

static int
collect(void *arg, const struct store_hostkey *k)
{
	struct rows *rs = arg;

	if (rs->n >= 16)
		return ERR_TOOLONG;
	struct row *r = &rs->v[rs->n++];
	snprintf(r->target, sizeof(r->target), "%s.%s", k->name, k->fleet);
	r->port = k->port;
	r->table_port = k->table_port;
	snprintf(r->type, sizeof(r->type), "%s", k->type);
	snprintf(r->key, sizeof(r->key), "%s", k->key);
	snprintf(r->pending, sizeof(r->pending), "%s", k->pending);
	r->changed = k->changed;
	return 0;
}

static int
seen(struct fixture *fx, int64_t dev, uint32_t port, const struct pubkey *k, int *what)
{
	char old[2048];

	return store_hostkey_seen(fx->st, dev, port, k->type, k->blob, 1000, what, old, sizeof(old));
}

/* ---- hostile ---- */

static void
test_seen_hostile(void **state)
{
	struct fixture *fx = *state;
	const char *blob = keys[0].blob;
	char old[64], big[20000];
	int what = -1, n = -1;

	/* types that are not host keys, or lie about the blob */
	const char *bad_types[] = { "", "ssh-dss", "ssh-ed25519-cert-v01@openssh.com", "ssh-rsa",
	    "ecdsa-sha2-nistp256", "ssh-ed25519\n", "SSH-ED25519", NULL };
	for (int i = 0; i < (int)(sizeof(bad_types) / sizeof(bad_types[0])); i++)
		assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 22, bad_types[i], blob, 1, &what,
		    old, sizeof(old)), ERR_KEY);
	/* blobs that are not one key */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *bad_blobs[] = { "", "AAAA", "not base64!", "AAAAC3NzaC1lZDI1NTE5 AAAA", big, NULL,
	    "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJlAAAA" };
	for (int i = 0; i < (int)(sizeof(bad_blobs) / sizeof(bad_blobs[0])); i++)
		assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 22, "ssh-ed25519", bad_blobs[i],
		    1, &what, old, sizeof(old)), ERR_KEY);
	/* ports out of range */
	assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 0, "ssh-ed25519", blob, 1, &what, old,
	    sizeof(old)), ERR_INVAL);
	assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 65536, "ssh-ed25519", blob, 1, &what,
	    old, sizeof(old)), ERR_INVAL);
	assert_int_equal(store_hostkey_count(fx->st, fx->dev, 0, &n), ERR_INVAL);
	/* no such device */
	assert_int_equal(store_hostkey_seen(fx->st, 9999, 22, "ssh-ed25519", blob, 1, &what, old,
	    sizeof(old)), ERR_NOTFOUND);
	/* nothing was recorded by any of it */
	struct rows rs = { .n = 0 };
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_int_equal(rs.n, 0);
	assert_int_equal(store_hostkey_count(fx->st, fx->dev, 22, &n), 0);
	assert_int_equal(n, 0);
	/* accepting with nothing pending, or for a device that does not exist */
	assert_int_equal(store_hostkey_accept(fx->st, fx->dev, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_hostkey_accept(fx->st, 9999, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- learned, same, changed (never replaced), accepted ---- */

static void
test_learn_change_accept(void **state)
{
	struct fixture *fx = *state;
	char old[2048];
	int what = -1, n = -1;

	for (int i = 0; i < 4; i++)
		if (i != 1) {
			assert_int_equal(seen(fx, fx->dev, 22, &keys[i], &what), 0);
			assert_int_equal(what, HOSTKEY_LEARNED);
		}
	assert_int_equal(store_hostkey_count(fx->st, fx->dev, 22, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_hostkey_count(fx->st, fx->dev, 2222, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(seen(fx, fx->dev, 22, &keys[0], &what), 0);
	assert_int_equal(what, HOSTKEY_SAME);

	/* the ed25519 key changes: flagged, the recorded one stays */
	assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 22, keys[1].type, keys[1].blob, 2000,
	    &what, old, sizeof(old)), 0);
	assert_int_equal(what, HOSTKEY_CHANGED);
	assert_string_equal(old, keys[0].blob);
	struct rows rs = { .n = 0 };
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_int_equal(rs.n, 3);
	int ed = -1;
	for (int i = 0; i < rs.n; i++)
		if (strcmp(rs.v[i].type, "ssh-ed25519") == 0)
			ed = i;
	assert_true(ed >= 0);
	assert_string_equal(rs.v[ed].target, "pi.acme");
	assert_int_equal(rs.v[ed].port, 22);
	assert_string_equal(rs.v[ed].key, keys[0].blob);
	assert_string_equal(rs.v[ed].pending, keys[1].blob);
	assert_int_equal(rs.v[ed].changed, 2000);
	/* seen again: still changed, first seen time kept */
	assert_int_equal(store_hostkey_seen(fx->st, fx->dev, 22, keys[1].type, keys[1].blob, 3000,
	    &what, old, sizeof(old)), 0);
	assert_int_equal(what, HOSTKEY_CHANGED);
	rs.n = 0;
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_int_equal(rs.v[ed].changed, 2000);
	/* the old key shown again is "same": the change stays flagged */
	assert_int_equal(seen(fx, fx->dev, 22, &keys[0], &what), 0);
	assert_int_equal(what, HOSTKEY_SAME);

	/* accepted: the new key is the recorded one, nothing pending */
	assert_int_equal(store_hostkey_accept(fx->st, fx->dev, &n), 0);
	assert_int_equal(n, 1);
	rs.n = 0;
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_string_equal(rs.v[ed].key, keys[1].blob);
	assert_string_equal(rs.v[ed].pending, "");
	assert_int_equal(rs.v[ed].changed, 0);
	assert_int_equal(seen(fx, fx->dev, 22, &keys[1], &what), 0);
	assert_int_equal(what, HOSTKEY_SAME);
	assert_int_equal(store_hostkey_accept(fx->st, fx->dev, &n), 0);
	assert_int_equal(n, 0);
}

/* Ports are separate; a port-table port is listed with the device; grants limit the list; rm cascades. */
static void
test_ports_grants_rm(void **state)
{
	struct fixture *fx = *state;
	int what = -1;
	char holder[LIM_LABEL + 1];

	assert_int_equal(store_device_bind_port(fx->st, fx->dev, 22050, holder, sizeof(holder)), 0);
	assert_int_equal(seen(fx, fx->dev, 22050, &keys[0], &what), 0);
	assert_int_equal(what, HOSTKEY_LEARNED);
	assert_int_equal(seen(fx, fx->dev, 22, &keys[1], &what), 0);
	assert_int_equal(what, HOSTKEY_LEARNED);	/* another port: not a change */
	assert_int_equal(seen(fx, fx->other, 22, &keys[2], &what), 0);
	assert_int_equal(what, HOSTKEY_LEARNED);

	struct rows rs = { .n = 0 };
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.v[0].target, "pi.acme");	/* fleet, name, port order */
	assert_int_equal(rs.v[0].port, 22);
	assert_int_equal(rs.v[0].table_port, 22050);
	assert_int_equal(rs.v[1].port, 22050);
	assert_string_equal(rs.v[2].target, "box.globex");
	assert_int_equal(rs.v[2].table_port, 0);

	/* a user granted acme only sees pi's keys */
	struct store_principal alice;
	assert_int_equal(store_user_add(fx->st, "alice", false, &keys[3]), 0);
	assert_int_equal(store_grant(fx->st, "alice", "acme", 0), 0);
	assert_int_equal(store_principal_by_key(fx->st, &keys[3], &alice), 0);
	rs.n = 0;
	assert_int_equal(store_hostkey_list(fx->st, alice.id, collect, &rs), 0);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.v[1].target, "pi.acme");

	/* removing the device removes its keys */
	assert_int_equal(store_device_rm(fx->st, "pi", "acme"), 0);
	rs.n = 0;
	assert_int_equal(store_hostkey_list(fx->st, 0, collect, &rs), 0);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.v[0].target, "box.globex");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)
	const struct CMUnitTest tests[] = {
		T(test_seen_hostile),
		T(test_learn_change_accept),
		T(test_ports_grants_rm),
		P(test_seen_hostile),
		P(test_learn_change_accept),
		P(test_ports_grants_rm),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
