/* pubkey.c: parsing and fingerprinting OpenSSH public keys with libssh. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/limits.h"
#include "ssh/pubkey.h"

void
pubkey_clear(struct pubkey *k)
{
	if (k == NULL)
		return;
	free(k->blob);
	free(k->comment);
	memset(k, 0, sizeof(*k));
}

static int
fill_fingerprint(ssh_key key, struct pubkey *out)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) < 0)
		return ERR_KEY;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return ERR_NOMEM;
	snprintf(out->fp, sizeof(out->fp), "%s", fp);
	ssh_string_free_char(fp);
	return 0;
}

int
pubkey_from_ssh_key(const void *ssh_key_obj, struct pubkey *out)
{
	ssh_key key = (ssh_key)ssh_key_obj;
	char *b64 = NULL;
	const char *tname;
	int r;

	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return ERR_KEY;
	tname = ssh_key_type_to_char(ssh_key_type(key));
	if (tname == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return ERR_KEY;
	snprintf(out->type, sizeof(out->type), "%s", tname);
	out->blob = strdup(b64);
	ssh_string_free_char(b64);
	out->comment = strdup("");
	if (out->blob == NULL || out->comment == NULL) {
		pubkey_clear(out);
		return ERR_NOMEM;
	}
	r = fill_fingerprint(key, out);
	if (r != 0)
		pubkey_clear(out);
	return r;
}

/*
 * True if the key blob (base64) starts with the type name given, as the
 * SSH wire format says it must. libssh keeps the type it was told, even for
 * an ECDSA blob of another curve, so this is checked here.
 */
static bool
blob_names_type(const char *b64, const char *type)
{
	unsigned char raw[3 * (4 + PUBKEY_TYPE_MAX + 2) / 3 + 8];	/* decoded prefix */
	size_t n = strlen(b64), tlen = strlen(type);
	size_t take = 4 * ((4 + PUBKEY_TYPE_MAX + 2) / 3);

	if (n < take)
		take = n - n % 4;
	if (take < 8 || EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)take) < 4)
		return false;
	uint32_t len = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
	    (uint32_t)raw[2] << 8 | raw[3];
	return len == tlen && 4 + tlen <= 3 * take / 4 && memcmp(raw + 4, type, tlen) == 0;
}

/* Splits off the next space-separated word; returns its length. */
static size_t
next_word(const char **p, const char **word)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	*word = s;
	while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
		s++;
	*p = s;
	return (size_t)(s - *word);
}

int
pubkey_parse_line(const char *line, struct pubkey *out)
{
	const char *p = line, *w;
	char type[PUBKEY_TYPE_MAX];
	char *b64 = NULL;
	ssh_key key = NULL;
	size_t n;
	int r = ERR_KEY;

	memset(out, 0, sizeof(*out));
	if (line == NULL)
		return ERR_KEY;
	if (strnlen(line, LIM_KEYLINE + 1) > LIM_KEYLINE)
		return ERR_TOOLONG;
	n = next_word(&p, &w);
	if (n == 0 || n >= sizeof(type))
		return ERR_KEY;
	memcpy(type, w, n);
	type[n] = '\0';
	n = next_word(&p, &w);
	if (n == 0 || (b64 = strndup(w, n)) == NULL)
		return n == 0 ? ERR_KEY : ERR_NOMEM;
	enum ssh_keytypes_e kt = ssh_key_type_from_name(type);
	if (kt == SSH_KEYTYPE_UNKNOWN || strstr(type, "-cert-") != NULL ||
	    ssh_pki_import_pubkey_base64(b64, kt, &key) != SSH_OK)
		goto out;
	r = pubkey_from_ssh_key(key, out);
	if (r != 0)
		goto out;
	/*
	 * libssh decodes the blob as the named type without checking the type
	 * string inside it, and ignores trailing bytes. Re-encoding must give
	 * back exactly the input, or the line is lying about its key.
	 */
	if (strcmp(out->blob, b64) != 0 || strcmp(out->type, type) != 0 ||
	    !blob_names_type(b64, type)) {
		pubkey_clear(out);
		r = ERR_KEY;
		goto out;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	size_t clen = strcspn(p, "\r\n");
	free(out->comment);
	out->comment = strndup(p, clen);
	if (out->comment == NULL) {
		pubkey_clear(out);
		r = ERR_NOMEM;
	}
out:
	ssh_key_free(key);
	free(b64);
	return r;
}

/*
 * Reads one line of at most LIM_KEYLINE bytes into buf (LIM_KEYLINE + 1
 * bytes) without its newline. Returns 1 for a line, 0 at end of input,
 * ERR_TOOLONG, or ERR_KEY for an embedded NUL.
 */
static int
read_line(FILE *f, char *buf)
{
	size_t n = 0;
	bool nul = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (n >= LIM_KEYLINE)
			return ERR_TOOLONG;
		if (ch == '\0')
			nul = true;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ch == EOF && n == 0)
		return 0;
	return nul ? ERR_KEY : 1;
}

int
pubkey_read_stream(FILE *f, struct pubkey *out)
{
	char *line;
	int r;

	memset(out, 0, sizeof(*out));
	if (f == NULL || (line = malloc(LIM_KEYLINE + 1)) == NULL)
		return f == NULL ? ERR_KEY : ERR_NOMEM;
	while ((r = read_line(f, line)) == 1) {
		const char *s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '\r' || *s == '#')
			continue;
		break;
	}
	if (r == 1)
		r = pubkey_parse_line(line + strspn(line, " \t"), out);
	else if (r == 0)
		r = ERR_KEY;	/* no key line at all */
	free(line);
	return r;
}

int
pubkey_read_file(const char *path, struct pubkey *out)
{
	FILE *f;
	int r;

	memset(out, 0, sizeof(*out));
	if ((f = fopen(path, "r")) == NULL)
		return ERR_IO;
	r = pubkey_read_stream(f, out);
	fclose(f);
	return r;
}

int
pubkey_sha256(const struct pubkey *k, unsigned char out[32])
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	int r = ERR_KEY;

	if (k == NULL || k->blob == NULL ||
	    ssh_pki_import_pubkey_base64(k->blob, ssh_key_type_from_name(k->type), &key) != SSH_OK)
		return ERR_KEY;
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0 && hlen == 32) {
		memcpy(out, hash, 32);
		r = 0;
	}
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return r;
}
