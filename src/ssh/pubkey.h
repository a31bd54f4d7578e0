/* pubkey.h: OpenSSH public keys as outpost stores them (type, base64 blob, SHA256 fingerprint). */
#ifndef OUTPOST_PUBKEY_H
#define OUTPOST_PUBKEY_H

#include <stddef.h>
#include <stdio.h>

#define PUBKEY_TYPE_MAX 64
#define PUBKEY_FP_MAX 64		/* "SHA256:" + 43 base64 chars */

struct pubkey {
	char type[PUBKEY_TYPE_MAX];	/* e.g. "ssh-ed25519" */
	char *blob;			/* base64 of the key blob; owned */
	char fp[PUBKEY_FP_MAX];		/* "SHA256:..." as ssh-keygen -l prints */
	char *comment;			/* may be "" ; owned */
};

/*
 * Parses one authorized_keys-style line "type base64 [comment]" (no options)
 * of at most LIM_KEYLINE bytes. Checks the blob really is a key of that type
 * (via libssh) and fills out; the caller frees with pubkey_clear().
 * Returns 0, ERR_KEY or ERR_TOOLONG.
 */
int pubkey_parse_line(const char *line, struct pubkey *out);

/*
 * Reads the first key line (skipping blank lines and '#' comments) from a
 * stream or a file path. Returns 0, ERR_IO (file cannot be opened), ERR_KEY
 * or ERR_TOOLONG.
 */
int pubkey_read_stream(FILE *f, struct pubkey *out);
int pubkey_read_file(const char *path, struct pubkey *out);

/* Fills out from a libssh key object (an ssh_key passed as void *). */
int pubkey_from_ssh_key(const void *ssh_key, struct pubkey *out);

/*
 * The raw 32-byte SHA-256 of the key blob (what "SHA256:" fingerprints
 * encode), for pinning. Returns 0 or ERR_KEY.
 */
int pubkey_sha256(const struct pubkey *k, unsigned char out[32]);

/* Frees the owned strings; safe on a zeroed or already-cleared struct. */
void pubkey_clear(struct pubkey *k);

#endif
