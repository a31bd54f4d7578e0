/* test_pkeycache.c: the kept OpenSSL keys are the keys asked for, and only those. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/pidcache.h"
#include "ssh/pkeycache.h"

static unsigned long
hits(void)
{
	unsigned long h, m;

	pkeycache_stats(&h, &m);
	return h;
}

/* An Ed25519 signature of msg by k (deterministic: same key, same bytes). */
static size_t
sign(EVP_PKEY *k, const char *msg, unsigned char *sig, size_t cap)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t len = cap;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &len, (const unsigned char *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(md);
	return len;
}

/* The X25519 secret of priv with peer. */
static void
derive(EVP_PKEY *priv, EVP_PKEY *peer, unsigned char out[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(priv, NULL);
	size_t len = 32;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, peer), 1);
	assert_int_equal(EVP_PKEY_derive(c, out, &len), 1);
	assert_int_equal(len, 32);
	EVP_PKEY_CTX_free(c);
}

static EVP_PKEY *
x25519_keygen(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* Hostile and odd inputs go to OpenSSL unchanged: its answers, not ours. */
static void
test_passthrough(void **state)
{
	unsigned char seed[64] = { 1 };	/* room for the wrong lengths below */

	(void)state;
	pkeycache_init();
	unsigned long h0 = hits();
	assert_null(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 31));
	assert_null(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, NULL, 32));
	assert_null(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, seed, 33));
	assert_null(EVP_PKEY_new_raw_private_key(-1, NULL, seed, 32));
	/* Ed448 and HMAC keys are built, never kept */
	unsigned char k57[57] = { 2 };
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED448, NULL, k57, sizeof(k57));
	EVP_PKEY *b = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED448, NULL, k57, sizeof(k57));
	assert_non_null(a);
	assert_ptr_not_equal(a, b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY *m = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, seed, 32);
	assert_non_null(m);
	EVP_PKEY_free(m);
	assert_int_equal(hits(), h0);
	pkeycache_clear();
}

/* Not armed: every call builds a new key. */
static void
test_unarmed(void **state)
{
	unsigned char seed[32];

	(void)state;
	pkeycache_clear();
	assert_int_equal(RAND_bytes(seed, sizeof(seed)), 1);
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	EVP_PKEY *b = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* An Ed25519 seed seen before: the same key, signing as a fresh one does;
 * another seed is another key; past the table's size the oldest goes. */
static void
test_ed25519(void **state)
{
	unsigned char seed[32], other[32], s1[64], s2[64];

	(void)state;
	pkeycache_init();
	assert_int_equal(RAND_bytes(seed, sizeof(seed)), 1);
	memcpy(other, seed, sizeof(other));
	other[31] ^= 1;		/* one bit apart */
	EVP_PKEY *fresh = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, sizeof(seed));
	assert_non_null(fresh);
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	unsigned long h0 = hits();
	EVP_PKEY *b = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	assert_ptr_equal(a, b);
	assert_int_equal(hits(), h0 + 1);
	assert_int_equal(EVP_PKEY_eq(b, fresh), 1);
	assert_int_equal(sign(b, "outpost", s1, sizeof(s1)), 64);
	assert_int_equal(sign(fresh, "outpost", s2, sizeof(s2)), 64);
	assert_memory_equal(s1, s2, 64);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);	/* the table's reference keeps it */
	EVP_PKEY *c = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, other, sizeof(other));
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_eq(c, fresh), 0);
	EVP_PKEY_free(c);
	/* eight more seeds push the first out: a miss, still the right key */
	for (int i = 0; i < 8; i++) {
		unsigned char s[32];
		assert_int_equal(RAND_bytes(s, sizeof(s)), 1);
		EVP_PKEY_free(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, s, sizeof(s)));
	}
	h0 = hits();
	EVP_PKEY *d = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	assert_int_equal(hits(), h0);
	assert_int_equal(EVP_PKEY_eq(d, fresh), 1);
	EVP_PKEY_free(d);
	EVP_PKEY_free(fresh);
	pkeycache_clear();
}

/* A generated X25519 key rebuilt from its private half is that key, once;
 * the shared secret is the same as with a fresh build. */
static void
test_x25519(void **state)
{
	unsigned char priv[32], k1[32], k2[32];
	size_t len = sizeof(priv);

	(void)state;
	pkeycache_init();
	EVP_PKEY *peer = x25519_keygen();
	EVP_PKEY *ours = x25519_keygen();
	assert_int_equal(EVP_PKEY_get_raw_private_key(ours, priv, &len), 1);
	EVP_PKEY *fresh = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, sizeof(priv));
	EVP_PKEY_free(ours);	/* as libssh does after keeping the raw halves */
	unsigned long h0 = hits();
	EVP_PKEY *again = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv));
	assert_ptr_equal(again, ours);
	assert_int_equal(hits(), h0 + 1);
	derive(again, peer, k1);
	derive(fresh, peer, k2);
	assert_memory_equal(k1, k2, 32);
	EVP_PKEY_free(again);
	/* taken once: a second rebuild is a new key (and correct) */
	EVP_PKEY *third = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv));
	assert_int_equal(hits(), h0 + 1);
	assert_int_equal(EVP_PKEY_eq(third, fresh), 1);
	EVP_PKEY_free(third);
	/* a ring of 256: the 257th keygen after it forgets the first */
	EVP_PKEY *first = x25519_keygen();
	len = sizeof(priv);
	assert_int_equal(EVP_PKEY_get_raw_private_key(first, priv, &len), 1);
	for (int i = 0; i < 256; i++)
		EVP_PKEY_free(x25519_keygen());
	h0 = hits();
	EVP_PKEY *late = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv));
	assert_int_equal(hits(), h0);
	assert_ptr_not_equal(late, first);
	assert_int_equal(EVP_PKEY_eq(late, first), 1);
	EVP_PKEY_free(late);
	EVP_PKEY_free(first);
	EVP_PKEY_free(fresh);
	EVP_PKEY_free(peer);
	pkeycache_clear();
}

/* getpid from memory once armed; a forked child sees its own pid. */
static void
test_pidcache_fork(void **state)
{
	int fds[2];
	pid_t mine, child, seen = 0;

	(void)state;
	pidcache_init();
	mine = getpid();
	assert_int_equal(getpid(), mine);
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t p = getpid();
		_exit(write(fds[1], &p, sizeof(p)) == sizeof(p) ? 0 : 1);
	}
	assert_int_equal(read(fds[0], &seen, sizeof(seen)), sizeof(seen));
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_int_equal(seen, child);
	assert_int_not_equal(seen, mine);
	assert_int_equal(getpid(), mine);
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_unarmed),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_x25519),
		cmocka_unit_test(test_pidcache_fork),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
