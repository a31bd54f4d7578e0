/* fuzz_pubkey.c: OpenSSH public key lines (user key-add --key -, device add, report --host-key) parsed and checked through libssh. */
#include "fuzz.h"

#include "common/err.h"
#include "ssh/pubkey.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *copy = NULL;
	struct pubkey k;
	unsigned char hash[32];

	memset(&k, 0, sizeof(k));
	if (pubkey_parse_line(s, &k) == 0) {
		FUZZ_CHECK(k.blob != NULL && k.comment != NULL);
		FUZZ_CHECK(strncmp(k.fp, "SHA256:", 7) == 0);
		FUZZ_CHECK(pubkey_sha256(&k, hash) == 0);
	}
	pubkey_clear(&k);
	pubkey_clear(&k);
	FILE *f = fuzz_stream(data, size, &copy);
	if (f == NULL)
		abort();
	if (pubkey_read_stream(f, &k) == 0)
		FUZZ_CHECK(k.blob != NULL);
	pubkey_clear(&k);
	fclose(f);
	free(copy);
	free(s);
	return 0;
}
