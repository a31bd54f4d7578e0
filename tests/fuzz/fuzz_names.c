/* fuzz_names.c: device, fleet and user names, name.fleet targets (what technicians send in direct-tcpip) and host names made into labels. */
#include "fuzz.h"

#include "common/names.h"

static void
check_label(const char *s)
{
	FUZZ_CHECK(names_label_valid(s, strlen(s)));
	for (const char *p = s; *p; p++)
		FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_exact(data, size);
	char *s = fuzz_cstr(data, size);
	char dst[LIM_LABEL + 1];
	struct name_target t;

	if (names_label_valid(raw, size))
		FUZZ_CHECK(size >= 1 && size <= LIM_LABEL);
	if (names_label_normalize(s, dst, sizeof(dst)) == 0)
		check_label(dst);
	if (names_parse_target(s, &t) == 0) {
		check_label(t.name);
		if (t.fleet[0] != '\0')
			check_label(t.fleet);
	}
	if (names_from_hostname(s, dst, sizeof(dst)) == 0)
		check_label(dst);
	/* a destination buffer that is too small must be refused, never overrun */
	char small[8];
	if (names_from_hostname(s, small, sizeof(small)) == 0)
		FUZZ_CHECK(strlen(small) < sizeof(small));
	free(raw);
	free(s);
	return 0;
}
