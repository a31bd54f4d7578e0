/*
 * pkeycache.c: OpenSSL keys libssh would otherwise rebuild at every
 * handshake, each rebuild a scalar multiplication thrown away.
 *
 * libssh 0.10.6 hands OpenSSL raw private keys, and OpenSSL derives the
 * public half of every key it is given that way:
 *  - the host key: each signature (one per key exchange) starts with
 *    EVP_PKEY_new_raw_private_key(ED25519, seed) (pki_crypto.c);
 *  - the ephemeral X25519 key: generated with EVP_PKEY_keygen and freed,
 *    then rebuilt from its raw private half to derive the shared secret
 *    (curve25519.c, ssh_curve25519_build_k).
 * With its OSSL_PARAM plumbing that was 11 % of outpostd's CPU in a
 * reconnect storm (perf, docs/BENCHMARKS.md). Defining the two functions
 * here binds libssh's calls to these (the executable's symbols come first,
 * as with sockbuf.c and pidcache.c):
 *  - an Ed25519 key built from a seed already seen is the same key again
 *    (a reference; OpenSSL keys are reference-counted and not changed by
 *    signing), from a table of ED_SLOTS seeds, the oldest replaced;
 *  - an X25519 key that EVP_PKEY_keygen made is kept (a reference) in a
 *    ring of X_SLOTS until a caller rebuilds it from its private half,
 *    which then gets that key and the ring forgets it.
 * Anything else, and every miss, is OpenSSL's own function (dlsym's next
 * definition). The copies of private halves are cleansed when dropped.
 * Until pkeycache_init nothing is kept.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ssh/pkeycache.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define ED_SLOTS 8	/* host keys (and a few rotated out) */
#define X_SLOTS 256	/* key exchanges between keygen and the shared secret */
#define RAW_LEN 32	/* Ed25519 seed, X25519 private key */

struct slot {
	EVP_PKEY *key;	/* NULL: free */
	unsigned char raw[RAW_LEN];
};

typedef EVP_PKEY *new_raw_fn(int, ENGINE *, const unsigned char *, size_t);
typedef int keygen_fn(EVP_PKEY_CTX *, EVP_PKEY **);

static struct {
	pthread_mutex_t mu;
	new_raw_fn *new_raw;	/* OpenSSL's */
	keygen_fn *keygen;
	bool armed;
	struct slot ed[ED_SLOTS], x[X_SLOTS];
	unsigned int ed_next, x_next;	/* the slot replaced next */
	unsigned long hits, misses;
} pc = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* OpenSSL's own two functions, found once. */
static void
resolve(void)
{
	pc.new_raw = (new_raw_fn *)dlsym(RTLD_NEXT, "EVP_PKEY_new_raw_private_key");
	pc.keygen = (keygen_fn *)dlsym(RTLD_NEXT, "EVP_PKEY_keygen");
}

static pthread_once_t resolved = PTHREAD_ONCE_INIT;

void
pkeycache_init(void)
{
	pthread_once(&resolved, resolve);
	pthread_mutex_lock(&pc.mu);
	pc.armed = pc.new_raw != NULL && pc.keygen != NULL;
	pthread_mutex_unlock(&pc.mu);
}

static void
drop(struct slot *s)
{
	EVP_PKEY_free(s->key);
	s->key = NULL;
	OPENSSL_cleanse(s->raw, sizeof(s->raw));
}

void
pkeycache_clear(void)
{
	pthread_mutex_lock(&pc.mu);
	for (int i = 0; i < ED_SLOTS; i++)
		drop(&pc.ed[i]);
	for (int i = 0; i < X_SLOTS; i++)
		drop(&pc.x[i]);
	pc.armed = false;
	pthread_mutex_unlock(&pc.mu);
}

void
pkeycache_stats(unsigned long *hits, unsigned long *misses)
{
	pthread_mutex_lock(&pc.mu);
	*hits = pc.hits;
	*misses = pc.misses;
	pthread_mutex_unlock(&pc.mu);
}

/* The slot of n holding raw, or NULL. */
static struct slot *
find(struct slot *s, int n, const unsigned char *raw)
{
	for (int i = 0; i < n; i++)
		if (s[i].key != NULL && CRYPTO_memcmp(s[i].raw, raw, RAW_LEN) == 0)
			return &s[i];
	return NULL;
}

/* Puts key (a reference the table now owns) into the next slot of n. */
static void
put(struct slot *s, int n, unsigned int *next, EVP_PKEY *key, const unsigned char *raw)
{
	struct slot *t = &s[*next];

	*next = (*next + 1) % (unsigned int)n;
	drop(t);
	t->key = key;
	memcpy(t->raw, raw, RAW_LEN);
}

/* Ed25519: the cached key, a new reference to it; NULL on a miss. */
static EVP_PKEY *
ed_hit(const unsigned char *seed)
{
	struct slot *s = find(pc.ed, ED_SLOTS, seed);

	if (s == NULL || EVP_PKEY_up_ref(s->key) != 1)
		return NULL;
	return s->key;
}

/* X25519: the kept key from its keygen, now the caller's; NULL on a miss. */
static EVP_PKEY *
x_take(const unsigned char *priv)
{
	struct slot *s = find(pc.x, X_SLOTS, priv);
	EVP_PKEY *k;

	if (s == NULL)
		return NULL;
	k = s->key;
	s->key = NULL;
	OPENSSL_cleanse(s->raw, sizeof(s->raw));
	return k;
}

EVP_PKEY *
EVP_PKEY_new_raw_private_key(int type, ENGINE *e, const unsigned char *priv, size_t len)
{
	EVP_PKEY *k = NULL;

	pthread_once(&resolved, resolve);
	if (pc.new_raw == NULL)
		return NULL;	/* not OpenSSL 3's libcrypto: cannot happen when linked */
	if ((type != EVP_PKEY_ED25519 && type != EVP_PKEY_X25519) || e != NULL || priv == NULL || len != RAW_LEN)
		return pc.new_raw(type, e, priv, len);
	pthread_mutex_lock(&pc.mu);
	if (pc.armed) {
		k = type == EVP_PKEY_ED25519 ? ed_hit(priv) : x_take(priv);
		if (k != NULL)
			pc.hits++;
		else
			pc.misses++;
	}
	pthread_mutex_unlock(&pc.mu);
	if (k != NULL)
		return k;
	k = pc.new_raw(type, e, priv, len);
	if (k == NULL || type != EVP_PKEY_ED25519)
		return k;
	pthread_mutex_lock(&pc.mu);
	if (pc.armed && EVP_PKEY_up_ref(k) == 1)
		put(pc.ed, ED_SLOTS, &pc.ed_next, k, priv);
	pthread_mutex_unlock(&pc.mu);
	return k;
}

int
EVP_PKEY_keygen(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey)
{
	unsigned char priv[RAW_LEN];
	size_t len = sizeof(priv);

	pthread_once(&resolved, resolve);
	if (pc.keygen == NULL)
		return -1;
	int rc = pc.keygen(ctx, ppkey);
	if (rc != 1 || ppkey == NULL || *ppkey == NULL || EVP_PKEY_get_base_id(*ppkey) != EVP_PKEY_X25519)
		return rc;
	pthread_mutex_lock(&pc.mu);
	if (pc.armed && EVP_PKEY_get_raw_private_key(*ppkey, priv, &len) == 1 && len == RAW_LEN &&
	    EVP_PKEY_up_ref(*ppkey) == 1)
		put(pc.x, X_SLOTS, &pc.x_next, *ppkey, priv);
	pthread_mutex_unlock(&pc.mu);
	OPENSSL_cleanse(priv, sizeof(priv));
	return rc;
}
