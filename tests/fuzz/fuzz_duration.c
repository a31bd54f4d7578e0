/* fuzz_duration.c: durations as `grant --for`, `token create --ttl` and friends read them. */
#include "fuzz.h"

#include "common/timefmt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t v = -1;
	char iso[64];

	if (timefmt_parse_duration(s, &v) == 0) {
		FUZZ_CHECK(v > 0);
		timefmt_iso(v, iso, sizeof(iso));
		FUZZ_CHECK(memchr(iso, '\0', sizeof(iso)) != NULL);
	}
	if (size >= sizeof(int64_t)) {
		memcpy(&v, data, sizeof(v));
		timefmt_iso(v, iso, sizeof(iso));
		FUZZ_CHECK(memchr(iso, '\0', sizeof(iso)) != NULL);
		timefmt_iso(v, iso, 5);		/* truncation, never overrun */
	}
	free(s);
	return 0;
}
