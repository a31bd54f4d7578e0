/* fuzz_token.c: enrollment tokens as outpost-agent enroll reads them (pasted by people, so untrusted). */
#include "fuzz.h"

#include "agent/token.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct agent_token t;

	if (agent_token_parse(s, &t) == 0) {
		FUZZ_CHECK(t.server.port >= 1 && t.server.port <= 65535);
		FUZZ_CHECK(t.server.host[0] != '\0');
		FUZZ_CHECK(strlen(t.secret) == TOKEN_SECRET_LEN);
		FUZZ_CHECK(strspn(t.secret, "0123456789abcdef") == TOKEN_SECRET_LEN);
	} else {
		/* cleared on failure */
		FUZZ_CHECK(t.secret[0] == '\0' && t.server.host[0] == '\0');
	}
	free(s);
	return 0;
}
