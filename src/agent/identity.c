/* identity.c: creating and loading the agent's key pair. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/identity.h"
#include "common/err.h"
#include "common/log.h"

/* Writes key.pub as an authorized_keys line with a comment. */
static int
write_pub(const char *path, ssh_key key)
{
	char host[256] = "device";
	char *b64 = NULL;
	FILE *f;
	int r = 0;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return ERR_KEY;
	gethostname(host, sizeof(host) - 1);
	f = fopen(path, "we");
	if (f == NULL) {
		ssh_string_free_char(b64);
		return ERR_IO;
	}
	fchmod(fileno(f), 0644);
	fprintf(f, "%s %s outpost-agent@%s\n", ssh_key_type_to_char(ssh_key_type(key)), b64, host);
	if (fclose(f) != 0)
		r = ERR_IO;
	ssh_string_free_char(b64);
	return r;
}

static int
create_key(const char *priv, const char *pub)
{
	ssh_key key = NULL;
	mode_t old;
	int r = 0;

	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return ERR_KEY;
	old = umask(077);
	if (ssh_pki_export_privkey_file(key, NULL, NULL, NULL, priv) != SSH_OK)
		r = ERR_IO;
	umask(old);
	if (r == 0 && chmod(priv, 0600) != 0)
		r = ERR_IO;
	if (r == 0)
		r = write_pub(pub, key);
	if (r != 0)
		unlink(priv);
	ssh_key_free(key);
	return r;
}

int
identity_load(const char *state_dir, int create, ssh_key *out, int *created)
{
	char priv[4096], pub[4100];
	int r;

	*out = NULL;
	*created = 0;
	snprintf(priv, sizeof(priv), "%s/%s", state_dir, AGENT_KEY_FILE);
	snprintf(pub, sizeof(pub), "%s.pub", priv);
	if (access(priv, F_OK) != 0) {
		if (errno != ENOENT || !create)
			return ERR_IO;
		r = create_key(priv, pub);
		if (r != 0)
			return r;
		*created = 1;
	}
	if (ssh_pki_import_privkey_file(priv, NULL, NULL, NULL, out) != SSH_OK)
		return ERR_KEY;
	return 0;
}
