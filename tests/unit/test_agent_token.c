/* test_agent_token.c: enrollment token parsing, hostile inputs first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/token.h"
#include "common/err.h"

/* b64u("127.0.0.1:2222") and b64u(32 bytes 0x00..0x1f) */
#define ADDR "MTI3LjAuMC4xOjIyMjI"
#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define SECRET "0123456789abcdef0123456789abcdef"
#define GOOD "op1:" ADDR ":" KEY ":" SECRET

static const char *const hostile[] = {
	"", "op1", "op1:", "op1:::", "op2:" ADDR ":" KEY ":" SECRET,
	"OP1:" ADDR ":" KEY ":" SECRET,
	" " GOOD, GOOD " ", GOOD "\n", "op1: " ADDR ":" KEY ":" SECRET,
	"op1:" ADDR ":" KEY ":" SECRET ":", "op1:" ADDR ":" KEY, "op1:" ADDR ":" KEY ":",
	"op1::" KEY ":" SECRET,					/* empty address */
	"op1:" ADDR "=:" KEY ":" SECRET,			/* padding */
	"op1:" ADDR ":" KEY "=:" SECRET,
	"op1:" ADDR ":" KEY "A:" SECRET,			/* 33 bytes */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg:" SECRET,	/* 31 bytes */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9:" SECRET,	/* trailing bits */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+" ":" SECRET,	/* std alphabet */
	"op1:" ADDR ":" KEY ":" "0123456789ABCDEF0123456789abcdef",	/* upper-case hex */
	"op1:" ADDR ":" KEY ":" "0123456789abcdef0123456789abcde",	/* 31 */
	"op1:" ADDR ":" KEY ":" "0123456789abcdef0123456789abcdef0",	/* 33 */
	"op1:" ADDR ":" KEY ":" "0123456789abcdeg0123456789abcdef",
	"op1:MTI3LjAuMC4x:" KEY ":" SECRET,			/* "127.0.0.1", no port */
	"op1:MTI3LjAuMC4xOjA:" KEY ":" SECRET,			/* port 0 */
	"op1:MTI3LjAuMC4xOjY1NTM2:" KEY ":" SECRET,		/* port 65536 */
	"op1:OjoxOjIyMjI:" KEY ":" SECRET,			/* "::1:2222" unbracketed */
	"op1:MTI3LjAuMC4xOjIyMjIA:" KEY ":" SECRET,		/* embedded NUL */
	"op1:aG9zdCBuYW1lOjIy:" KEY ":" SECRET,			/* "host name:22" */
	"op1:W2Zvb106MjI:" KEY ":" SECRET,			/* "[foo]:22" */
};

static void
test_hostile(void **state)
{
	struct agent_token t;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		memset(&t, 0x55, sizeof(t));
		assert_int_equal(agent_token_parse(hostile[i], &t), ERR_INVAL);
		assert_int_equal(t.server.port, 0);
		assert_string_equal(t.secret, "");
	}
	assert_int_equal(agent_token_parse(NULL, &t), ERR_INVAL);
	/* an embedded NUL ends the string: what follows is not part of the token */
	char nul[] = GOOD "\0junk";
	assert_int_equal(agent_token_parse(nul, &t), 0);
	/* over-long */
	static char huge[1 << 16];
	memset(huge, 'A', sizeof(huge) - 1);
	memcpy(huge, "op1:", 4);
	assert_int_equal(agent_token_parse(huge, &t), ERR_INVAL);
}

static void
test_good(void **state)
{
	struct agent_token t;

	assert_int_equal(agent_token_parse(GOOD, &t), 0);
	assert_string_equal(t.server.host, "127.0.0.1");
	assert_int_equal(t.server.port, 2222);
	assert_int_equal(t.server.v6, 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(t.hostkey[i], i);
	assert_string_equal(t.secret, SECRET);
	/* "[::1]:2222" */
	assert_int_equal(agent_token_parse("op1:Wzo6MV06MjIyMg:" KEY ":" SECRET, &t), 0);
	assert_string_equal(t.server.host, "::1");
	assert_true(t.server.v6);
	/* "jump.example.com:22", b64u with '-' / '_' in the key */
	assert_int_equal(agent_token_parse("op1:anVtcC5leGFtcGxlLmNvbToyMg:"
	    "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8:" SECRET, &t), 0);
	assert_string_equal(t.server.host, "jump.example.com");
	assert_int_equal(t.server.port, 22);
	assert_int_equal(t.hostkey[0], 0xfb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
