/* testkeys.h: a set of ssh-keygen keys in a temp directory, read as struct pubkey, for the store tests' group set-ups. */
#ifndef OUTPOST_TESTKEYS_H
#define OUTPOST_TESTKEYS_H

#include "ssh/pubkey.h"
#include "testutil.h"

/*
 * Makes n keys k0 .. k(n-1) in a fresh directory (*dir, freed by
 * tu_keys_free), of types[i] ("ed25519", "ecdsa", "rsa"; all ed25519 when
 * types is NULL), and reads them into keys. 0, or -1.
 */
static inline int
tu_keys_make(char **dir, struct pubkey *keys, int n, const char *const *types)
{
	char name[16], path[600];

	if ((*dir = tu_mkdtemp()) == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(path, sizeof(path), "%s/%s.pub", *dir, name);
		if (tu_keygen(*dir, name, types != NULL ? types[i] : "ed25519") != 0 ||
		    pubkey_read_file(path, &keys[i]) != 0)
			return -1;
	}
	return 0;
}

static inline void
tu_keys_free(char *dir, struct pubkey *keys, int n)
{
	for (int i = 0; i < n; i++)
		pubkey_clear(&keys[i]);
	if (dir != NULL)
		tu_rmrf(dir);
	free(dir);
}

#endif
