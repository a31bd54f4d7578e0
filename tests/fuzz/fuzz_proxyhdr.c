/* fuzz_proxyhdr.c: PROXY protocol v2 headers, as a balancer's bytes arrive (any split), and the ProxyProtocol list. */
#include "fuzz.h"

#include "server/proxyhdr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyhdr h;
	struct proxy_allow a;
	char why[200];
	uint8_t buf[PROXYHDR_MAX];
	size_t have = 0;
	int r = 0;

	/* Read as proxywait.c does: only what proxyhdr_want asks for. */
	while (have < size) {
		size_t want = proxyhdr_want(buf, have);
		if (want == 0 || have + want > sizeof(buf))
			break;
		if (want > size - have)
			want = size - have;
		memcpy(buf + have, data + have, want);
		have += want;
		if ((r = proxyhdr_parse(buf, have, &h)) != 0)
			break;
	}
	r = proxyhdr_parse(buf, have, &h);
	if (r > 0) {
		FUZZ_CHECK((size_t)r == have && r <= PROXYHDR_MAX);
		FUZZ_CHECK(h.local || (h.ip[0] != '\0' && h.port >= 0 && h.port <= 65535));
	}
	char *s = fuzz_cstr(data, size);
	if (proxy_allow_parse(s, &a, why, sizeof(why)) == 0) {
		FUZZ_CHECK(a.n >= 1 && a.n <= PROXY_ALLOW_MAX);
		(void)proxy_allow_match(&a, s);
	}
	free(s);
	return 0;
}
