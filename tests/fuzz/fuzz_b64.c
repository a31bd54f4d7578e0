/* fuzz_b64.c: the one base64 decoder, both alphabets (token fields, SHA256: fingerprints); each accepted string is the one canonical encoding of what it decodes to. */
#include "fuzz.h"

#include "common/b64.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_exact(data, size);
	size_t outlen = 0, dstlen = size % 7 == 0 ? 32 : 4096;
	uint8_t *dst = malloc(dstlen);
	char *enc = malloc(2 * size + 8);

	for (int a = B64_STD; a <= B64_URL; a++) {
		if (b64_decode((enum b64_alphabet)a, raw, size, dst, dstlen, &outlen) == 0) {
			FUZZ_CHECK(outlen <= dstlen);
			FUZZ_CHECK(b64_encoded_len(outlen) == size);
			b64_encode((enum b64_alphabet)a, dst, outlen, enc, 2 * size + 8);
			FUZZ_CHECK(strlen(enc) == size && memcmp(enc, raw, size) == 0);
		} else
			FUZZ_CHECK(outlen == 0);
	}
	free(dst);
	free(enc);
	free(raw);
	return 0;
}
