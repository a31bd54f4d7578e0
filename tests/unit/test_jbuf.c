/* test_jbuf.c: the bounded buffer (limits, the failed flag, consume) and the JSON writer's escaping, hostile first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/jbuf.h"
#include "testutil.h"

/* The JSON string literal jbuf_json_string makes of s. */
static void
assert_json_string(const char *s, const char *want)
{
	struct jbuf b;

	jbuf_init(&b, 4096);
	jbuf_json_string(&b, s);
	assert_false(b.failed);
	if (strcmp(b.data, want) != 0)
		fail_msg("escaped to %s, want %s", b.data, want);
	if (!tu_json_valid(b.data, b.len))
		fail_msg("not valid JSON: %s", b.data);
	jbuf_free(&b);
}

/* The checker the other tests lean on must itself reject bad JSON. */
static void
test_checker_rejects(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1\"b\":2}",
		"[1,]", "[1 2]", "\"abc", "\"a\nb\"", "\"\\x41\"", "\"\\u12\"", "01", "1.", "-",
		"tru", "nul", "{} {}", "{\"a\":1}x", "'a'",
		"\"\xff\"", "\"\xc0\x80\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xf0\x80\x80\x80\"", "\"\xe2\x82\"", "\"\x80\"",
	};
	static const char *const good[] = {
		"{}", "[]", "{\"a\":[1,-2.5e3,true,false,null,\"x\"],\"b\":{}}", " 0 ",
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", "\"\\u00ff\\\"\\\\\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tu_json_valid(bad[i], strlen(bad[i])))
			fail_msg("checker accepted bad[%zu] %s", i, bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tu_json_valid(good[i], strlen(good[i])))
			fail_msg("checker refused good[%zu] %s", i, good[i]);
	assert_false(tu_json_valid("\"a\0b\"", 5));
}

static void
test_limit_and_failed(void **state)
{
	struct jbuf b;

	jbuf_init(&b, 8);
	assert_int_equal(jbuf_add(&b, "12345678", 8), 0);	/* exactly the limit */
	assert_int_equal(b.len, 8);
	assert_false(b.failed);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(jbuf_add(&b, "9", 1), ERR_TOOLONG);
	assert_true(b.failed);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");	/* nothing partial appended */
	/* sticky: even an empty append fails once failed */
	assert_true(jbuf_add(&b, "", 0) < 0);
	assert_true(jbuf_addf(&b, "%d", 1) < 0);
	assert_int_equal(b.len, 8);
	/* consuming does not clear the flag: the caller must see the loss */
	jbuf_consume(&b, 8);
	assert_true(b.failed);
	assert_true(jbuf_add(&b, "x", 1) < 0);
	jbuf_free(&b);

	/* one append larger than the whole limit, on a fresh buffer */
	jbuf_init(&b, 4);
	assert_int_equal(jbuf_add(&b, "abcde", 5), ERR_TOOLONG);
	assert_true(b.failed);
	assert_int_equal(b.len, 0);
	jbuf_free(&b);

	/* sizes whose sum wraps size_t must not pass the limit check */
	jbuf_init(&b, 16);
	assert_int_equal(jbuf_add(&b, "ab", 2), 0);
	assert_int_equal(jbuf_add(&b, "x", SIZE_MAX), ERR_TOOLONG);
	assert_int_equal(b.len, 2);
	jbuf_free(&b);
	jbuf_init(&b, 16);
	assert_int_equal(jbuf_add(&b, "ab", 2), 0);
	assert_int_equal(jbuf_add(&b, "x", SIZE_MAX - 1), ERR_TOOLONG);
	jbuf_free(&b);

	/* limit 0: nothing but empty appends */
	jbuf_init(&b, 0);
	assert_int_equal(jbuf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(jbuf_add(&b, "x", 1), ERR_TOOLONG);
	jbuf_free(&b);
	jbuf_free(NULL);
}

static void
test_json_over_limit(void **state)
{
	struct jbuf b;
	char big[300];

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	jbuf_init(&b, 64);
	jbuf_obj_begin(&b);
	jbuf_member_str(&b, "k", big);
	jbuf_obj_end(&b);
	assert_true(b.failed);
	assert_true(b.len <= 64);
	jbuf_free(&b);

	/* escapes expand six-fold: the limit counts output bytes */
	jbuf_init(&b, 20);
	jbuf_json_string(&b, "\x01\x01\x01\x01");	/* 2 + 24 bytes */
	assert_true(b.failed);
	assert_true(b.len <= 20);
	jbuf_free(&b);
}

static void
test_addf(void **state)
{
	struct jbuf b;
	char s[5000];

	/* around the 256-byte stack buffer inside jbuf_addf */
	for (size_t n = 250; n < 262; n++) {
		memset(s, 'a' + (int)(n % 26), n);
		s[n] = '\0';
		jbuf_init(&b, 1 << 20);
		assert_int_equal(jbuf_add(&b, "<", 1), 0);
		assert_int_equal(jbuf_addf(&b, "%s>", s), 0);
		assert_int_equal(b.len, n + 2);
		assert_int_equal(b.data[0], '<');
		assert_memory_equal(b.data + 1, s, n);
		assert_int_equal(b.data[n + 1], '>');
		assert_int_equal(b.data[n + 2], '\0');
		jbuf_free(&b);
	}

	/* long output, several growth steps */
	memset(s, 'z', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	jbuf_init(&b, 1 << 20);
	for (int i = 0; i < 10; i++)
		assert_int_equal(jbuf_addf(&b, "%d:%s;", i, s), 0);
	assert_int_equal(b.len, 10 * (2 + strlen(s) + 1));
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data + b.len - 3, "zz;", 3);
	assert_memory_equal(b.data + 2 + strlen(s) + 1, "1:zz", 4);
	jbuf_free(&b);

	/* long output exactly at, and one past, the limit */
	jbuf_init(&b, 1000);
	memset(s, 'q', 1000);
	s[1000] = '\0';
	assert_int_equal(jbuf_addf(&b, "%s", s), 0);
	assert_int_equal(b.len, 1000);
	jbuf_free(&b);
	jbuf_init(&b, 999);
	assert_int_equal(jbuf_add(&b, "keep", 4), 0);
	assert_int_equal(jbuf_addf(&b, "%s", s), ERR_TOOLONG);
	assert_true(b.failed);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	jbuf_free(&b);

	/* short output over the limit too */
	jbuf_init(&b, 3);
	assert_int_equal(jbuf_addf(&b, "%d", 1234), ERR_TOOLONG);
	assert_int_equal(b.len, 0);
	jbuf_free(&b);
}

static void
test_consume(void **state)
{
	struct jbuf b;

	jbuf_init(&b, 100);
	jbuf_consume(&b, 0);		/* never allocated */
	jbuf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	assert_int_equal(jbuf_add(&b, "hello world", 11), 0);
	jbuf_consume(&b, 0);
	assert_string_equal(b.data, "hello world");
	jbuf_consume(&b, 6);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "world");
	jbuf_consume(&b, 4);
	assert_string_equal(b.data, "d");
	jbuf_consume(&b, 1);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(jbuf_add(&b, "abc", 3), 0);
	jbuf_consume(&b, 1000);		/* more than held */
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* consuming frees room under the limit */
	char fill[100];
	memset(fill, 'f', sizeof(fill));
	assert_int_equal(jbuf_add(&b, fill, 100), 0);
	assert_int_equal(jbuf_add(&b, "x", 1), ERR_TOOLONG);
	jbuf_free(&b);
	jbuf_init(&b, 100);
	assert_int_equal(jbuf_add(&b, fill, 100), 0);
	jbuf_consume(&b, 40);
	assert_int_equal(jbuf_add(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 70);
	assert_memory_equal(b.data + 60, "0123456789", 10);
	jbuf_free(&b);
	/* reusable after free + init */
	jbuf_init(&b, 10);
	assert_int_equal(jbuf_add(&b, "again", 5), 0);
	assert_string_equal(b.data, "again");
	jbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_escape_hostile(void **state)
{
	assert_json_string("", "\"\"");
	assert_json_string("\"", "\"\\\"\"");
	assert_json_string("\\", "\"\\\\\"");
	assert_json_string("a\"b\\c", "\"a\\\"b\\\\c\"");
	assert_json_string("\\\"\\\"", "\"\\\\\\\"\\\\\\\"\"");
	assert_json_string("\x01", "\"\\u0001\"");
	assert_json_string("\n\r\t", "\"\\u000a\\u000d\\u0009\"");
	assert_json_string("\x1f \x7f", "\"\\u001f \\u007f\"");
	assert_json_string("\x1b[2J", "\"\\u001b[2J\"");
	/* invalid UTF-8: every offending byte escaped on its own */
	assert_json_string("\xff", "\"\\u00ff\"");
	assert_json_string("\xfe\xff", "\"\\u00fe\\u00ff\"");
	assert_json_string("\x80", "\"\\u0080\"");
	assert_json_string("a\xbf" "b", "\"a\\u00bfb\"");
	/* C1 controls (valid UTF-8) act on terminals: CSI is ESC [ */
	assert_json_string("\xc2\x9b" "31m", "\"\\u009b31m\"");
	assert_json_string("\xc2\x80\xc2\x9f\xc2\xa0", "\"\\u0080\\u009f\xc2\xa0\"");
	/* bidi overrides and isolates, and the marks */
	assert_json_string("a\xe2\x80\xae" "x", "\"a\\u202ex\"");	/* RLO */
	assert_json_string("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9", "\"\\u202a\\u2066\\u2069\"");
	assert_json_string("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\"\\u200e\\u200f\\u061c\"");
	/* neighbours pass */
	assert_json_string("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa",
	    "\"\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\"");
	assert_json_string("\xc0\x80", "\"\\u00c0\\u0080\"");		/* overlong NUL */
	assert_json_string("\xc1\xbf", "\"\\u00c1\\u00bf\"");		/* overlong */
	assert_json_string("\xe2\x82", "\"\\u00e2\\u0082\"");		/* truncated at the end */
	assert_json_string("\xe2\x82x", "\"\\u00e2\\u0082x\"");		/* truncated mid-string */
	assert_json_string("\xf0\x9f\x98", "\"\\u00f0\\u009f\\u0098\"");
	assert_json_string("\xc3", "\"\\u00c3\"");
	assert_json_string("\xc3\xc3\xa9", "\"\\u00c3\xc3\xa9\"");	/* bad lead, then a good é */
	assert_json_string("\xf5\x80\x80\x80", "\"\\u00f5\\u0080\\u0080\\u0080\"");
	/*
	 * Structurally well-formed but invalid (RFC 3629 4): overlong 3- and
	 * 4-byte forms, UTF-16 surrogates, code points past U+10FFFF. Passing
	 * them raw makes the audit line invalid UTF-8 for strict readers.
	 */
	assert_json_string("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");	/* overlong '/' */
	assert_json_string("\xe0\x9f\xbf", "\"\\u00e0\\u009f\\u00bf\"");
	assert_json_string("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");	/* U+D800 */
	assert_json_string("\xed\xbf\xbf", "\"\\u00ed\\u00bf\\u00bf\"");	/* U+DFFF */
	assert_json_string("\xf0\x80\x80\x80", "\"\\u00f0\\u0080\\u0080\\u0080\"");
	assert_json_string("\xf0\x8f\xbf\xbf", "\"\\u00f0\\u008f\\u00bf\\u00bf\"");
	assert_json_string("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");	/* U+110000 */
}

static void
test_escape_valid_utf8(void **state)
{
	static const char *const ok[] = {
		"plain ascii ~!@#$%^&*()_+{}|:<>?",
		"\xc2\xa0",			/* U+00A0, the first 2-byte after the C1 controls */
		"\xc3\xa9t\xc3\xa9",		/* été */
		"\xdf\xbf",			/* U+07FF */
		"\xe0\xa0\x80",			/* U+0800, smallest 3-byte */
		"\xe2\x82\xac",			/* € */
		"\xed\x9f\xbf",			/* U+D7FF, just below the surrogates */
		"\xee\x80\x80",			/* U+E000, just above */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000, smallest 4-byte */
		"\xf0\x9f\x98\x80",		/* 😀 */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF, the last code point */
		"\xe6\x97\xa5\xe6\x9c\xac kiosk-7",
	};
	char want[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\"", ok[i]);
		assert_json_string(ok[i], want);
	}
}

/* A nested object as a member, the way callers write one (cmd_json_csv). */
static void
member_obj_begin(struct jbuf *b, const char *key)
{
	if (b->need_comma)
		jbuf_add(b, ",", 1);
	jbuf_json_string(b, key);
	jbuf_add(b, ":", 1);
	jbuf_obj_begin(b);
}

static void
test_members_and_nesting(void **state)
{
	struct jbuf b;

	jbuf_init(&b, 4096);
	jbuf_obj_begin(&b);
	jbuf_obj_end(&b);
	assert_string_equal(b.data, "{}");
	jbuf_free(&b);

	jbuf_init(&b, 4096);
	jbuf_obj_begin(&b);
	jbuf_member_int(&b, "a", 1);
	member_obj_begin(&b, "o");
	jbuf_member_str(&b, "x", "y");
	member_obj_begin(&b, "deep");
	jbuf_obj_end(&b);
	jbuf_member_bool(&b, "z", false);
	jbuf_obj_end(&b);
	jbuf_member_bool(&b, "b", true);
	member_obj_begin(&b, "e");
	jbuf_obj_end(&b);
	jbuf_member_str(&b, "s", NULL);
	jbuf_member_int(&b, "min", INT64_MIN);
	jbuf_member_int(&b, "max", INT64_MAX);
	jbuf_member_str(&b, "k\"ey\n", "v");
	jbuf_obj_end(&b);
	assert_false(b.failed);
	assert_string_equal(b.data,
	    "{\"a\":1,\"o\":{\"x\":\"y\",\"deep\":{},\"z\":false},\"b\":true,\"e\":{},"
	    "\"s\":null,\"min\":-9223372036854775808,\"max\":9223372036854775807,"
	    "\"k\\\"ey\\u000a\":\"v\"}");
	assert_true(tu_json_valid(b.data, b.len));
	jbuf_free(&b);

	/* JSON lines: the second object starts without a comma */
	jbuf_init(&b, 4096);
	jbuf_obj_begin(&b);
	jbuf_member_int(&b, "a", 1);
	jbuf_obj_end(&b);
	jbuf_add(&b, "\n", 1);
	jbuf_obj_begin(&b);
	jbuf_member_int(&b, "b", 2);
	jbuf_obj_end(&b);
	assert_string_equal(b.data, "{\"a\":1}\n{\"b\":2}");
	jbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_rejects),
		cmocka_unit_test(test_limit_and_failed),
		cmocka_unit_test(test_json_over_limit),
		cmocka_unit_test(test_addf),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_escape_hostile),
		cmocka_unit_test(test_escape_valid_utf8),
		cmocka_unit_test(test_members_and_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
