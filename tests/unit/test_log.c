/* test_log.c: making peer strings printable (hostile first), level names, and the threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/limits.h"
#include "common/log.h"
#include "testutil.h"

/* Output of log_printable into a buffer that is big enough. */
static void
assert_printable(const char *src, size_t srclen, const char *want)
{
	char dst[1024];

	memset(dst, '#', sizeof(dst));
	log_printable(dst, sizeof(dst), src, srclen);
	if (strcmp(dst, want) != 0)
		fail_msg("printable gave '%s', want '%s'", dst, want);
}

static void
test_printable_hostile(void **state)
{
	assert_printable("a\0b", 3, "a\\x00b");
	assert_printable("\0\0", 2, "\\x00\\x00");
	assert_printable("\\", 1, "\\x5c");		/* so \x41 in a log can't be faked */
	assert_printable("\\x41", 4, "\\x5cx41");
	assert_printable("\x7f\x80\xff", 3, "\\x7f\\x80\\xff");
	assert_printable("\xc3\xa9", 2, "\\xc3\\xa9");
	assert_printable("a\nb\r\tc", 6, "a\\x0ab\\x0d\\x09c");
	assert_printable("\x1b[31mred", 8, "\\x1b[31mred");
	assert_printable(" ~", 2, " ~");
	assert_printable("abc", 0, "");
	assert_printable(NULL, 10, "");
	assert_printable("abc", 2, "ab");		/* srclen, not the NUL, bounds */
	/* every byte value */
	for (int c = 0; c < 256; c++) {
		char src = (char)c, want[8];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			snprintf(want, sizeof(want), "%c", c);
		else
			snprintf(want, sizeof(want), "\\x%02x", c);
		assert_printable(&src, 1, want);
	}
}

static void
test_printable_tiny(void **state)
{
	char dst[4];

	memcpy(dst, "zzzz", 4);
	log_printable(dst, 0, "abc", 3);	/* dstlen 0: not even a NUL */
	assert_memory_equal(dst, "zzzz", 4);
	log_printable(dst, 1, "abc", 3);
	assert_int_equal(dst[0], '\0');
	assert_memory_equal(dst + 1, "zzz", 3);
	memcpy(dst, "zzzz", 4);
	log_printable(dst, 1, "\xff", 1);
	assert_int_equal(dst[0], '\0');
	assert_int_equal(dst[1], 'z');
	memcpy(dst, "zzzz", 4);
	log_printable(dst, 1, NULL, 0);
	assert_int_equal(dst[0], '\0');
}

/*
 * At every small dst size: the output is the longest prefix of whole
 * tokens ("a" or "\xNN") of the full output that fits with its NUL, and
 * nothing past dstlen is touched.
 */
static void
test_printable_truncation(void **state)
{
	static const char src[] = "ab\0\xff" "c\\d\x01" "ef";
	const size_t srclen = sizeof(src) - 1;
	const char *full = "ab\\x00\\xffc\\x5cd\\x01ef";
	size_t tok_end[32], ntok = 0;
	char dst[64];

	for (size_t i = 0, o = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		o += c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
		tok_end[ntok++] = o;
	}
	assert_int_equal(tok_end[ntok - 1], strlen(full));
	for (size_t dstlen = 1; dstlen <= strlen(full) + 3; dstlen++) {
		size_t want = 0;
		for (size_t t = 0; t < ntok && tok_end[t] < dstlen; t++)
			want = tok_end[t];
		memset(dst, '#', sizeof(dst));
		log_printable(dst, dstlen, src, srclen);
		if (strlen(dst) != want)
			fail_msg("dstlen %zu: got %zu bytes '%s', want %zu", dstlen, strlen(dst), dst, want);
		assert_memory_equal(dst, full, want);
		for (size_t k = dstlen; k < sizeof(dst); k++)
			if (dst[k] != '#')
				fail_msg("dstlen %zu: byte %zu written", dstlen, k);
	}
}

static void
test_printable_long(void **state)
{
	char src[5000], dst[LIM_PEER_STRING];

	memset(src, '\x01', sizeof(src));
	memset(dst, '#', sizeof(dst));
	log_printable(dst, sizeof(dst), src, sizeof(src));
	assert_int_equal(strlen(dst), (sizeof(dst) - 1) / 4 * 4);
	assert_memory_equal(dst, "\\x01\\x01", 8);
}

static void
test_level_parse(void **state)
{
	static const char *const bad[] = {
		"", " info", "info ", "inf", "infos", "warning", "err", "ERROR", "Info",
		"DEBUG", "trace", "0", "3", "info\n", "verbose",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (log_level_parse(bad[i]) != -1)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(log_level_parse("error"), LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("warn"), LOG_LVL_WARN);
	assert_int_equal(log_level_parse("info"), LOG_LVL_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_LVL_DEBUG);
}

/* Runs fn with stderr sent to a temp file; returns what it printed (malloc'd). */
static char *
capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/outpost-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	char *out = tu_slurp(path);
	unlink(path);
	assert_non_null(out);
	return out;
}

static void
emit_levels(void)
{
	log_init("unit", LOG_LVL_WARN, 0);
	log_error("e-%d", 1);
	log_warn("w-%d", 2);
	log_info("i-%d", 3);
	log_debug("d-%d", 4);
	log_set_level(LOG_LVL_DEBUG);
	log_debug("d-%d", 5);
	log_set_level(LOG_LVL_ERROR);
	log_warn("w-%d", 6);
}

static void
emit_long(void)
{
	static char big[10000];

	memset(big, 'L', sizeof(big) - 1);
	log_init("unit", LOG_LVL_INFO, 0);
	log_info("%s", big);
	log_info("after");
}

static void
test_threshold(void **state)
{
	char *out = capture_stderr(emit_levels);

	assert_non_null(strstr(out, "unit[error] e-1\n"));
	assert_non_null(strstr(out, "unit[warn] w-2\n"));
	assert_null(strstr(out, "i-3"));
	assert_null(strstr(out, "d-4"));
	assert_non_null(strstr(out, "unit[debug] d-5\n"));
	assert_null(strstr(out, "w-6"));
	/* one line per message, each stamped like 2026-01-02T03:04:05.678Z */
	size_t lines = 0;
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 3);
	assert_true(strlen(out) > 24 && out[4] == '-' && out[10] == 'T' && out[19] == '.' && out[23] == 'Z');
	free(out);

	/* an over-long message is cut, still one line, and logging goes on */
	out = capture_stderr(emit_long);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(nl - out < 2200);
	assert_non_null(strstr(nl + 1, "unit[info] after\n"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable_hostile),
		cmocka_unit_test(test_printable_tiny),
		cmocka_unit_test(test_printable_truncation),
		cmocka_unit_test(test_printable_long),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
