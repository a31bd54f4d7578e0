/* fuzz_token.c: the token module: token_parse on untrusted text (tokens are pasted by people, and outpostd's enroll reads them from any enrolling key), the format/parse round trip, and token_redact on any string. */
#include "fuzz.h"

#include <ctype.h>

#include "common/limits.h"
#include "common/token.h"

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
check_redact(const char *s)
{
	size_t len = strlen(s);
	char *r = strdup(s);

	FUZZ_CHECK(r != NULL);
	size_t n = token_redact(r);
	FUZZ_CHECK(strlen(r) <= len);
	FUZZ_CHECK((n == 0) == (strcmp(r, s) == 0));
	/* what came out is redacted already: a second pass changes nothing */
	char *again = strdup(r);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(token_redact(again) == 0 && strcmp(again, r) == 0);
	/* a whole token that starts a word loses its secret */
	struct token t;
	for (const char *p = s; (p = strstr(p, TOKEN_PREFIX)) != NULL; p++) {
		char word[LIM_TOKEN + 1];
		size_t w = strcspn(p, " \t\r\n\"'");
		if (w > LIM_TOKEN || (p > s && isalnum((unsigned char)p[-1])))
			continue;
		memcpy(word, p, w);
		word[w] = '\0';
		if (token_parse(word, &t) == 0)
			FUZZ_CHECK(count(r, t.secret) < count(s, t.secret));
	}
	free(again);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char text[LIM_TOKEN + 1];
	struct token t, back;

	if (token_parse(s, &t) == 0) {
		FUZZ_CHECK(t.server.port >= 1 && t.server.port <= 65535);
		FUZZ_CHECK(t.server.host[0] != '\0');
		FUZZ_CHECK(strlen(t.secret) == TOKEN_SECRET_LEN);
		FUZZ_CHECK(strspn(t.secret, "0123456789abcdef") == TOKEN_SECRET_LEN);
		/* one encoding per token: it formats back to the same text */
		FUZZ_CHECK(token_format(&t, text, sizeof(text)) == 0);
		FUZZ_CHECK(strcmp(text, s) == 0);
		FUZZ_CHECK(token_parse(text, &back) == 0 && memcmp(&back, &t, sizeof(t)) == 0);
		/* and a token is always redacted */
		FUZZ_CHECK(token_redact(text) == 1);
		FUZZ_CHECK(strcmp(text + strlen(TOKEN_PREFIX), TOKEN_REDACTED) == 0);
	} else {
		/* cleared on failure */
		FUZZ_CHECK(t.secret[0] == '\0' && t.server.host[0] == '\0');
	}
	check_redact(s);
	free(s);
	return 0;
}
