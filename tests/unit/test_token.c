/* test_token.c: the token module (token.c): strict parsing, hostile inputs first; format -> parse round trips; redaction of tokens in any text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/token.h"

/* b64u("127.0.0.1:2222") and b64u(32 bytes 0x00..0x1f) */
#define ADDR "MTI3LjAuMC4xOjIyMjI"
#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define SECRET "0123456789abcdef0123456789abcdef"
#define GOOD "op1:" ADDR ":" KEY ":" SECRET

static const char *const hostile[] = {
	"", "op1", "op1:", "op1:::", "op1::::", "op2:" ADDR ":" KEY ":" SECRET,
	"OP1:" ADDR ":" KEY ":" SECRET, "op:" ADDR ":" KEY ":" SECRET, ADDR ":" KEY ":" SECRET,
	" " GOOD, GOOD " ", GOOD "\n", "op1: " ADDR ":" KEY ":" SECRET, GOOD "\t", "\t" GOOD,
	GOOD "\x01", "op1:" ADDR ":" KEY ":\x7f" SECRET, "op1:" ADDR "\x1b:" KEY ":" SECRET,
	"op1:" ADDR ":" KEY ":" SECRET ":", "op1:" ADDR ":" KEY, "op1:" ADDR ":" KEY ":",
	"op1:" ADDR ":" SECRET, "op1:" KEY ":" SECRET, "op1:" SECRET,	/* missing fields */
	"op1:" ADDR ":" KEY ":" KEY ":" SECRET,			/* one too many */
	"op1::" KEY ":" SECRET,					/* empty address */
	"op1:" ADDR "::" SECRET,				/* empty key */
	"op1:" ADDR "=:" KEY ":" SECRET,			/* padding */
	"op1:" ADDR ":" KEY "=:" SECRET,
	"op1:" ADDR "!:" KEY ":" SECRET,			/* not base64 */
	"op1:" "MTI3LjAuMC4xOjIyMj*" ":" KEY ":" SECRET,
	"op1:" ADDR ":" KEY "A:" SECRET,			/* 33 bytes */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg:" SECRET,	/* 31 bytes */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAAA:" SECRET,	/* 35 bytes */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9:" SECRET,	/* trailing bits */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+" ":" SECRET,	/* std alphabet */
	"op1:" ADDR ":" "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH" ":" SECRET,	/* 4n+1 characters */
	"op1:" ADDR ":" KEY ":" "0123456789ABCDEF0123456789abcdef",	/* upper-case hex */
	"op1:" ADDR ":" KEY ":" "0123456789abcdef0123456789abcde",	/* 31 */
	"op1:" ADDR ":" KEY ":" "0123456789abcdef0123456789abcdef0",	/* 33 */
	"op1:" ADDR ":" KEY ":" "0123456789abcdeg0123456789abcdef",
	"op1:" ADDR ":" KEY ":" "0123456789abcdef 123456789abcdef",
	"op1:" ADDR ":" KEY ":",				/* no secret */
	"op1:MTI3LjAuMC4x:" KEY ":" SECRET,			/* "127.0.0.1", no port */
	"op1:MTI3LjAuMC4xOjA:" KEY ":" SECRET,			/* port 0 */
	"op1:MTI3LjAuMC4xOjY1NTM2:" KEY ":" SECRET,		/* port 65536 */
	"op1:MTI3LjAuMC4xOjAyMjIy:" KEY ":" SECRET,		/* port 02222 */
	"op1:OjoxOjIyMjI:" KEY ":" SECRET,			/* "::1:2222" unbracketed */
	"op1:MTI3LjAuMC4xOjIyMjIA:" KEY ":" SECRET,		/* embedded NUL after the port */
	"op1:MTI3LjAAMC4xOjIyMjI:" KEY ":" SECRET,		/* "127.0\0.1:2222" */
	"op1:aG9zdCBuYW1lOjIy:" KEY ":" SECRET,			/* "host name:22" */
	"op1:aG9zdAo6MjI:" KEY ":" SECRET,			/* "host\n:22" */
	"op1:W2Zvb106MjI:" KEY ":" SECRET,			/* "[foo]:22" */
	"op1:LWg6MjI:" KEY ":" SECRET,				/* "-h:22": an option to ssh */
};

static void
test_hostile(void **state)
{
	struct token t;

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		memset(&t, 0x55, sizeof(t));
		if (token_parse(hostile[i], &t) != ERR_INVAL)
			fail_msg("accepted hostile token %zu '%s'", i, hostile[i]);
		assert_int_equal(t.server.port, 0);
		assert_string_equal(t.server.host, "");
		assert_string_equal(t.secret, "");
		for (size_t k = 0; k < TOKEN_HOSTKEY_LEN; k++)
			assert_int_equal(t.hostkey[k], 0);
	}
	assert_int_equal(token_parse(NULL, &t), ERR_INVAL);
	/* an embedded NUL ends the string: what follows is not part of the token */
	char nul[] = GOOD "\0junk";
	assert_int_equal(token_parse(nul, &t), 0);
	char cut[] = "op1:" ADDR ":" KEY ":0123456789abcdef\0" "0123456789abcdef";
	assert_int_equal(token_parse(cut, &t), ERR_INVAL);
	/* over-long: LIM_TOKEN bytes of junk, and a megabyte */
	static char huge[1 << 20];
	memset(huge, 'A', sizeof(huge) - 1);
	memcpy(huge, "op1:", 4);
	assert_int_equal(token_parse(huge, &t), ERR_INVAL);
	huge[LIM_TOKEN + 1] = '\0';
	assert_int_equal(token_parse(huge, &t), ERR_INVAL);
	/* a host name as long as hostport allows, but the whole token too long */
	char longer[2048], host[300], enc[600];
	memset(host, 'h', 253);
	snprintf(host + 253, sizeof(host) - 253, ":2222");
	struct token g = { .server = { .port = 2222 } };
	memcpy(g.server.host, host, 253);
	snprintf(g.secret, sizeof(g.secret), "%s", SECRET);
	assert_int_equal(token_format(&g, enc, sizeof(enc)), 0);
	assert_true(strlen(enc) <= LIM_TOKEN);
	snprintf(longer, sizeof(longer), "%s%0*d", enc, LIM_TOKEN, 0);
	assert_int_equal(token_parse(longer, &t), ERR_INVAL);
}

static void
test_good(void **state)
{
	struct token t;

	(void)state;
	assert_int_equal(token_parse(GOOD, &t), 0);
	assert_string_equal(t.server.host, "127.0.0.1");
	assert_int_equal(t.server.port, 2222);
	assert_int_equal(t.server.v6, 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(t.hostkey[i], i);
	assert_string_equal(t.secret, SECRET);
	/* "[::1]:2222" */
	assert_int_equal(token_parse("op1:Wzo6MV06MjIyMg:" KEY ":" SECRET, &t), 0);
	assert_string_equal(t.server.host, "::1");
	assert_true(t.server.v6);
	/* "jump.example.com:22", b64u with '-' / '_' in the key */
	assert_int_equal(token_parse("op1:anVtcC5leGFtcGxlLmNvbToyMg:"
	    "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8:" SECRET, &t), 0);
	assert_string_equal(t.server.host, "jump.example.com");
	assert_int_equal(t.server.port, 22);
	assert_int_equal(t.hostkey[0], 0xfb);
	token_clear(&t);
	assert_string_equal(t.secret, "");
	assert_int_equal(t.server.port, 0);
}

/* What token_format writes, token_parse reads back to the same fields; what it refuses, it writes nothing of. */
static void
test_format(void **state)
{
	struct token t = { 0 }, back;
	char out[LIM_TOKEN + 1];

	(void)state;
	/* refused: a bad address, a bad secret, a short buffer */
	static const char *const bad_secret[] = {
		"", "0123456789abcdef", "0123456789abcdef0123456789abcde ", "0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef:123456789abcdef",
	};
	t.server.port = 2222;
	snprintf(t.server.host, sizeof(t.server.host), "127.0.0.1");
	for (size_t i = 0; i < sizeof(bad_secret) / sizeof(bad_secret[0]); i++) {
		snprintf(t.secret, sizeof(t.secret), "%s", bad_secret[i]);
		memset(out, 'x', sizeof(out));
		assert_int_equal(token_format(&t, out, sizeof(out)), ERR_INVAL);
		assert_string_equal(out, "");
	}
	memcpy(t.secret, SECRET "junk-past-the-end", sizeof(t.secret));	/* not terminated */
	assert_int_equal(token_format(&t, out, sizeof(out)), ERR_INVAL);
	snprintf(t.secret, sizeof(t.secret), "%s", SECRET);
	static const char *const bad_host[] = { "", "host name", "-h", "a:b", "h\n", "[x]" };
	for (size_t i = 0; i < sizeof(bad_host) / sizeof(bad_host[0]); i++) {
		snprintf(t.server.host, sizeof(t.server.host), "%s", bad_host[i]);
		assert_int_equal(token_format(&t, out, sizeof(out)), ERR_INVAL);
		assert_string_equal(out, "");
	}
	snprintf(t.server.host, sizeof(t.server.host), "127.0.0.1");
	for (int port = -1; port <= 65536; port += 65537) {
		t.server.port = port;
		assert_int_equal(token_format(&t, out, sizeof(out)), ERR_INVAL);
	}
	t.server.port = 2222;
	for (int i = 0; i < 32; i++)
		t.hostkey[i] = (uint8_t)i;
	assert_int_equal(token_format(&t, out, strlen(GOOD)), ERR_TOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(token_format(&t, out, 0), ERR_TOOLONG);
	/* the exact text of the known token */
	assert_int_equal(token_format(&t, out, strlen(GOOD) + 1), 0);
	assert_string_equal(out, GOOD);
	/* round trips: names, IPv4, IPv6, every port edge, random keys and secrets */
	static const char *const hosts[] = {
		"127.0.0.1", "jump.example.com", "j", "a-b_c.d", "::1", "fe80::1", "2001:db8::42",
	};
	static const int ports[] = { 1, 22, 2222, 65535 };
	srandom(14);
	for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
		for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
			memset(&t, 0, sizeof(t));
			snprintf(t.server.host, sizeof(t.server.host), "%s", hosts[h]);
			t.server.v6 = strchr(hosts[h], ':') != NULL;
			t.server.port = ports[p];
			for (int i = 0; i < TOKEN_HOSTKEY_LEN; i++)
				t.hostkey[i] = (uint8_t)random();
			for (int i = 0; i < TOKEN_SECRET_LEN; i++)
				t.secret[i] = "0123456789abcdef"[random() % 16];
			assert_int_equal(token_format(&t, out, sizeof(out)), 0);
			assert_int_equal(token_parse(out, &back), 0);
			assert_memory_equal(&back, &t, sizeof(t));
		}
	}
}

/* Redacts a copy of in and compares with want; n is the number of redactions expected. */
static void
redact_is(const char *in, const char *want, size_t n)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", in);
	size_t got = token_redact(buf);
	if (strcmp(buf, want) != 0 || got != n)
		fail_msg("redact '%s':\n got '%s' (%zu)\nwant '%s' (%zu)", in, buf, got, want, n);
	assert_true(strlen(buf) <= strlen(in));
	assert_int_equal(token_redact(buf), 0);	/* idempotent */
	assert_string_equal(buf, want);
}

/* Every shape a token reaches a log or record in: whole, inside text, cut short, mangled, several. */
static void
test_redact_hostile(void **state)
{
	(void)state;
	redact_is(GOOD, "op1:redacted", 1);
	redact_is("enroll " GOOD " pi", "enroll op1:redacted pi", 1);
	redact_is("enroll " GOOD, "enroll op1:redacted", 1);
	redact_is("'" GOOD "'", "'op1:redacted'", 1);
	redact_is("--token=" GOOD, "--token=op1:redacted", 1);
	redact_is("command '" GOOD "' exited 2", "command 'op1:redacted' exited 2", 1);
	redact_is("{\"command\":\"" GOOD " x\"}", "{\"command\":\"op1:redacted x\"}", 1);
	redact_is(GOOD " " GOOD "\t" GOOD, "op1:redacted op1:redacted\top1:redacted", 3);
	redact_is(GOOD GOOD, "op1:redacted", 1);	/* one word */
	redact_is("OP1:" ADDR ":" KEY ":" SECRET, "OP1:redacted", 1);
	redact_is("Op1:" ADDR ":" KEY ":" SECRET, "Op1:redacted", 1);
	/* malformed, cut short or padded: still no secret */
	redact_is("op1:" ADDR ":" KEY ":" "0123456789abcd", "op1:redacted", 1);
	redact_is("op1:" ADDR "=:" KEY ":" SECRET, "op1:redacted=:" KEY ":redacted", 2);
	redact_is("op1:" ADDR ":" KEY "==:" SECRET, "op1:redacted==:redacted", 2);
	redact_is("op1:" SECRET, "op1:redacted", 1);
	redact_is("op1:" ADDR ":" KEY ":" "0123456789ABCDEF0123456789ABCDEF", "op1:redacted", 1);
	redact_is("op1:" ADDR ":" KEY ":" SECRET "!", "op1:redacted!", 1);
	redact_is("op1:" ADDR ":" KEY ":" SECRET "\\x0a", "op1:redacted\\x0a", 1);
	redact_is("op1:" ADDR ":" KEY ":" SECRET "\n" GOOD, "op1:redacted\nop1:redacted", 2);
	redact_is("xop1:" ADDR ":" KEY ":" SECRET, "xop1:" ADDR ":" KEY ":redacted", 1);
	redact_is("op1:" ADDR "." KEY "." SECRET, "op1:redacted." KEY ".redacted", 2);
	/* a secret on its own, or cut short to 20 digits */
	redact_is(SECRET, "redacted", 1);
	redact_is("secret=" SECRET ";", "secret=redacted;", 1);
	redact_is("0123456789abcdef0123", "redacted", 1);
	redact_is("[" "0123456789ABCDEF0123456789abcdef" "]", "[redacted]", 1);
	/* NULL and empty */
	assert_int_equal(token_redact(NULL), 0);
	redact_is("", "", 0);
}

/* Token-like text that carries no secret is left alone. */
static void
test_redact_leaves_alone(void **state)
{
	static const char *const alone[] = {
		"op1", "op1:", "op1:22", "op1:abcdefg", "op1:redacted", "op2:" ADDR ":" KEY,
		"shop1:" ADDR ":" KEY, "top1:abcdefghijklmnop",
		"token a1b2c3d4e5f6 revoked",				/* a 12-digit token id */
		"0123456789abcdef012",					/* 19 digits */
		"0123456789abcdef0123456789abcdef0",			/* 33 */
		"prev 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",	/* a hash */
		"SHA256:x0123456789abcdef0123456789abcdefx",		/* inside a word */
		"key_fp SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"session 12 (alice): command 'ls' exited 0",
		"2026-12-05T20:46:13.158Z outpostd[info] listening on 127.0.0.1:2222",
		"enroll op1:redacted pi",
		"\xc3\xa9op1: \xff\x01",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
		redact_is(alone[i], alone[i], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_redact_hostile),
		cmocka_unit_test(test_redact_leaves_alone),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
