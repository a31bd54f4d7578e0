/* test_authkeys.c: authorized_keys lines (hostile first: NULs, over-long lines, quotes and commas in options, CRLF) and labels made from key comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/names.h"
#include "ssh/authkeys.h"
#include "testutil.h"

/* A real ed25519 key blob (a fixed test key, not a secret). */
#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

static void
refuse(const char *line, size_t len, int code, const char *why_part)
{
	struct authkeys_line l;
	char why[200] = "x";
	int r = authkeys_parse(line, len, &l, why, sizeof(why));

	if (r != code)
		fail_msg("'%.60s' gave %d (%s), want %d", line, r, why, code);
	assert_int_equal(l.nopts, 0);
	assert_null(l.key.blob);
	if (why_part != NULL && strstr(why, why_part) == NULL)
		fail_msg("'%.60s': why '%s' lacks '%s'", line, why, why_part);
}
#define REFUSE(lit, code, part) refuse((lit), sizeof(lit) - 1, (code), (part))

static void
test_hostile(void **state)
{
	(void)state;
	REFUSE(KEY " a\0b", ERR_INVAL, "NUL");
	REFUSE("no-pty\0" KEY, ERR_INVAL, "NUL");
	REFUSE(KEY " \x1b[2Jx", ERR_INVAL, "control");
	REFUSE(KEY "\r\r", ERR_INVAL, "control");		/* only one CR is a line ending */
	REFUSE("command=\"a " KEY, ERR_INVAL, "unterminated");
	REFUSE("command=\"a\\\" " KEY, ERR_INVAL, "unterminated");
	REFUSE("command=a " KEY, ERR_INVAL, "double quotes");
	REFUSE("no-pty,,no-x11 " KEY, ERR_INVAL, "option name");
	REFUSE("no-pty, " KEY, ERR_INVAL, "option name");
	REFUSE(",no-pty " KEY, ERR_INVAL, "option name");
	REFUSE("no-pty", ERR_INVAL, "no key");
	REFUSE("command=\"x\"junk " KEY, ERR_INVAL, "expected ','");
	REFUSE("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJ", ERR_KEY,
	    "not a valid ssh-ed25519");
	REFUSE("ssh-frob AAAA x", ERR_KEY, "unknown key type 'ssh-frob'");
	REFUSE("ssh-ed25519-cert-v01@openssh.com AAAA x", ERR_KEY, "certificates");
	REFUSE("no-pty ssh-ed25519", ERR_KEY, NULL);
	REFUSE("ecdsa-sha2-nistp256 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x",
	    ERR_KEY, NULL);					/* a blob of another type */
	char *big = malloc(LIM_KEYLINE + 2);
	memset(big, 'a', LIM_KEYLINE + 1);
	refuse(big, LIM_KEYLINE + 1, ERR_TOOLONG, "longer");
	/* 33 options */
	size_t o = 0;
	for (int i = 0; i <= AUTHKEYS_MAX_OPTS; i++)
		o += (size_t)sprintf(big + o, "%sno-pty", i ? "," : "");
	o += (size_t)sprintf(big + o, " %s", KEY);
	refuse(big, o, ERR_INVAL, "too many");
	free(big);
	/* why may be NULL */
	struct authkeys_line l;
	assert_int_equal(authkeys_parse("x", 1, &l, NULL, 0), ERR_INVAL);
	authkeys_line_clear(NULL);
}

static void
test_skipped(void **state)
{
	struct authkeys_line l;

	(void)state;
	assert_int_equal(authkeys_parse("", 0, &l, NULL, 0), 1);
	assert_int_equal(authkeys_parse(" \t\r", 3, &l, NULL, 0), 1);
	assert_int_equal(authkeys_parse("# " KEY, strlen("# " KEY), &l, NULL, 0), 1);
	assert_int_equal(authkeys_parse("   #x", 5, &l, NULL, 0), 1);
	assert_int_equal(authkeys_parse(NULL, 0, &l, NULL, 0), 1);
}

static void
parse_ok(const char *line, struct authkeys_line *l)
{
	char why[200] = "";
	int r = authkeys_parse(line, strlen(line), l, why, sizeof(why));

	if (r != 0)
		fail_msg("'%.60s' refused: %d %s", line, r, why);
}

static void
test_options(void **state)
{
	struct authkeys_line l;

	(void)state;
	parse_ok(KEY " auvik-acme-hq\r", &l);
	assert_int_equal(l.nopts, 0);
	assert_string_equal(l.key.type, "ssh-ed25519");
	assert_string_equal(l.key.comment, "auvik-acme-hq");
	assert_int_equal(strncmp(l.key.fp, "SHA256:", 7), 0);
	authkeys_line_clear(&l);

	/* quotes with commas, spaces and escaped quotes inside; case-insensitive names */
	parse_ok("Restrict,PORT-forwarding,permitlisten=\"localhost:22050\","
	    "command=\"echo \\\"no shell, sorry\\\" \\\\x\",from=\"10.0.0.0/8,!10.1.*\"  " KEY
	    "   two words ", &l);
	assert_int_equal(l.nopts, 5);
	assert_string_equal(l.opts[0].name, "restrict");
	assert_null(l.opts[0].value);
	assert_string_equal(l.opts[1].name, "port-forwarding");
	assert_string_equal(l.opts[2].value, "localhost:22050");
	assert_string_equal(l.opts[3].value, "echo \"no shell, sorry\" \\\\x");
	assert_string_equal(l.opts[4].value, "10.0.0.0/8,!10.1.*");
	assert_string_equal(l.key.comment, "two words ");
	authkeys_line_clear(&l);
	authkeys_line_clear(&l);

	/* an empty comment; an empty value */
	parse_ok("environment=\"\" " KEY, &l);
	assert_string_equal(l.opts[0].value, "");
	assert_string_equal(l.key.comment, "");
	authkeys_line_clear(&l);
}

static void
comment_name(const char *comment, const char *want)
{
	char dst[LIM_LABEL + 1];
	int r = names_from_comment(comment, dst, sizeof(dst));

	if (want == NULL) {
		assert_int_equal(r, ERR_NAME);
		assert_string_equal(dst, "");
		return;
	}
	assert_int_equal(r, 0);
	if (strcmp(dst, want) != 0)
		fail_msg("'%s' gave '%s', want '%s'", comment, dst, want);
}

static void
test_comment_names(void **state)
{
	(void)state;
	comment_name("", NULL);
	comment_name("   ", NULL);
	comment_name("@@@...", NULL);
	comment_name("\xe2\x9a\xa1", NULL);		/* only non-ASCII */
	comment_name("auvik-acme-hq", "auvik-acme-hq");
	comment_name("Auvik ACME HQ", "auvik-acme-hq");
	comment_name("pi@raspberrypi.local", "pi-raspberrypi-local");
	comment_name("--x--", "x");
	comment_name("caf\xc3\xa9 \xe2\x9a\xa1 hq", "caf-hq");
	char longc[200];
	memset(longc, 'a', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = '\0';
	longc[63] = '.';				/* a '-' that truncation must not leave last */
	char dst[LIM_LABEL + 1];
	assert_int_equal(names_from_comment(longc, dst, sizeof(dst)), 0);
	assert_int_equal(strlen(dst), 63);
	longc[62] = '-';
	assert_int_equal(names_from_comment(longc, dst, sizeof(dst)), 0);
	assert_true(names_label_valid(dst, strlen(dst)));
	char small[4];
	assert_int_equal(names_from_comment("abcdef", small, sizeof(small)), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(names_from_comment("x", small, 1), ERR_NAME);
	assert_int_equal(names_from_comment(NULL, dst, sizeof(dst)), ERR_NAME);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_comment_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
