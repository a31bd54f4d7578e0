/* fuzz_ncroute.c: `nc` lines (words split at NUL or newline) and socket paths read as routes (seed 001's nc -U /home/host/%h). */
#include "fuzz.h"

#include "common/err.h"
#include "common/names.h"
#include "common/ncroute.h"

#define MAX_WORDS 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *words[MAX_WORDS + 1];
	int n = 0;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	char *p = s, *end = s + size;
	while (p <= end && n < MAX_WORDS) {
		words[n++] = p;
		while (p < end && *p != '\0' && *p != '\n')
			p++;
		*p = '\0';	/* also at end: s has size + 1 bytes */
		p++;
	}
	words[n] = NULL;

	struct nc_route r;
	const char *why = NULL;
	struct name_target t;
	if (ncroute_parse(n, words, &r, &why) == 0) {
		FUZZ_CHECK(why == NULL);
		FUZZ_CHECK(r.port >= 1 && r.port <= 65535);
		FUZZ_CHECK(r.host[0] != '\0' && r.host[0] != '-');
		if (r.unix_path)
			FUZZ_CHECK(r.port == 22 && names_parse_target(r.host, &t) == 0);
	} else {
		FUZZ_CHECK(why != NULL && r.host[0] == '\0' && r.port == 0);
	}
	char name[LIM_TARGET + 1];
	if (ncroute_socket_name(words[0], name, sizeof(name)) == 0)
		FUZZ_CHECK(names_parse_target(name, &t) == 0);
	else
		FUZZ_CHECK(name[0] == '\0');
	free(s);
	return 0;
}
