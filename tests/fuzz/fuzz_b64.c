/* fuzz_b64.c: both base64 decoders (token fields, SHA256: fingerprints); each accepted string is the one canonical encoding of what it decodes to. */
#include "fuzz.h"

#include "agent/b64.h"
#include "common/b64.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *raw = fuzz_exact(data, size);
	size_t outlen = 0, dstlen = size % 7 == 0 ? 32 : 4096;
	uint8_t *dst = malloc(dstlen);
	char *enc = malloc(2 * size + 8);

	long n = b64url_decode(s, dst, dstlen);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= dstlen);
		FUZZ_CHECK(b64url_len((size_t)n) == strlen(s));
		b64url_encode(dst, (size_t)n, enc);
		FUZZ_CHECK(strcmp(enc, s) == 0);
	}
	for (int a = B64_STD; a <= B64_URL; a++) {
		if (b64_decode((enum b64_alphabet)a, raw, size, dst, dstlen, &outlen) == 0) {
			FUZZ_CHECK(outlen <= dstlen);
			b64_encode((enum b64_alphabet)a, dst, outlen, enc, 2 * size + 8);
			FUZZ_CHECK(strlen(enc) == size && memcmp(enc, raw, size) == 0);
		}
	}
	free(dst);
	free(enc);
	free(s);
	free(raw);
	return 0;
}
