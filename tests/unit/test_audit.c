/* test_audit.c: audit.log records: hostile parses first, one valid JSON line each, the SHA-256 chain, every kind of tampering, torn tails, concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "common/audit.h"
#include "common/err.h"
#include "testutil.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

struct fixture {
	char *dir;
	char log[512];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = tu_mkdtemp()) == NULL)
		return -1;
	snprintf(f->log, sizeof(f->log), "%s/audit.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* SHA-256 in hex computed here, independently of audit_hash_hex. */
static void
sha_hex(const char *p, size_t len, char *hex)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)p, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Reads a whole file of any size (tu_slurp stops at 64 KiB). */
static char *
slurp_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	assert_non_null(fp);
	do {
		if (cap - n < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		k = fread(buf + n, 1, cap - n, fp);
		n += k;
	} while (k > 0);
	fclose(fp);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/*
 * Splits text into lines; each must end in '\n', be one valid JSON object and
 * end with ,"prev":"<hash of the line before>"} (zeros for the first), which
 * is removed from the copy. Returns the count.
 */
static size_t
check_lines(const char *text, char lines[][9000], size_t max)
{
	char prev[65] = ZEROS, want[128];
	size_t n = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		if (nl == NULL)
			fail_msg("partial last line: %.80s", p);
		size_t len = (size_t)(nl - p);
		if (len == 0 || p[0] != '{' || p[len - 1] != '}' || !tu_json_valid(p, len))
			fail_msg("line %zu is not one JSON object: %.*s", n + 1, (int)len, p);
		assert_true(n < max && len < 9000);
		snprintf(want, sizeof(want), ",\"prev\":\"%s\"}", prev);
		if (len < strlen(want) || memcmp(p + len - strlen(want), want, strlen(want)) != 0)
			fail_msg("line %zu does not end with %s: %.*s", n + 1, want, (int)len, p);
		memcpy(lines[n], p, len - strlen(want));
		strcpy(lines[n] + len - strlen(want), "}");
		sha_hex(p, len, prev);
		n++;
		p = nl + 1;
	}
	return n;
}

/* {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ","event":"<event>" at the start of line. */
static void
assert_head(const char *line, const char *event)
{
	char want[128];

	assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
	const char *ts = line + 7;
	for (int i = 0; i < 24; i++) {
		char c = ts[i], shape = "dddd-dd-ddTdd:dd:dd.dddZ"[i];
		if (shape == 'd' ? (c < '0' || c > '9') : c != shape)
			fail_msg("bad ts in %s", line);
	}
	assert_true(strncmp(ts, "2020", 4) > 0);
	snprintf(want, sizeof(want), "\",\"event\":\"%s\"", event);
	assert_true(strncmp(ts + 24, want, strlen(want)) == 0);
}

/* Writes n records "r0".."r<n-1>" through a fresh handle. */
static void
write_records(const char *dir, int n)
{
	struct audit *a;

	assert_int_equal(audit_open(dir, &a), 0);
	for (int i = 0; i < n; i++) {
		struct jbuf *b = audit_begin(a, "rec");
		jbuf_member_int(b, "i", i);
		jbuf_member_str(b, "user", "alice");
		assert_int_equal(audit_commit(a), 0);
	}
	audit_close(a);
}

/* Runs audit_verify; checks the outcome and the reason's text. */
static void
expect_verify(const char *path, int want_r, size_t want_records, const char *want_why)
{
	struct audit_verify_result res;
	int r = audit_verify(path, &res);

	if (r != want_r)
		fail_msg("audit_verify gave %d (%s), wanted %d", r, res.why, want_r);
	if (res.records != want_records)
		fail_msg("%zu records before '%s', wanted %zu", res.records, res.why, want_records);
	if (want_why == NULL) {
		assert_int_equal(res.bad_line, 0);
		assert_string_equal(res.why, "");
	} else if (strncmp(res.why, want_why, strlen(want_why)) != 0)
		fail_msg("why '%s', wanted it to start with '%s'", res.why, want_why);
}

/* ---- hostile record parses ---- */

static void
test_parse_hostile(void **state)
{
	static const char P[] = ",\"prev\":\"" ZEROS "\"}";
	static const char *const bad[] = {
		"",
		" ",
		"{}",
		"[]",
		"null",
		"\"ts\"",
		"{\"ts\":\"t\",\"event\":\"e\"}",			/* no prev */
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"",	/* not closed */
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}}",
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"} x",
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\",}",
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "0\"}",	/* 65 digits */
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" "000000000000000000000000000000000000000000000000000000000000000" "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" "ABCDEF0000000000000000000000000000000000000000000000000000000000" "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":0}",
		"{\"ts\":\"t\",\"prev\":\"" ZEROS "\",\"event\":\"e\"}",	/* prev not last */
		"{\"event\":\"e\",\"prev\":\"" ZEROS "\"}",			/* no ts */
		"{\"ts\":\"t\",\"prev\":\"" ZEROS "\"}",			/* no event */
		"{\"ts\":1,\"event\":\"e\",\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":null,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"ts\":\"u\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* duplicate */
		"{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\",\"prev\":\"" ZEROS "\"}",
		"{'ts':\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\x01\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* raw control */
		"{\"ts\":\"t\xff\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* invalid UTF-8 */
		"{\"ts\":\"t\xc0\x80\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* overlong NUL */
		"{\"ts\":\"t\xed\xa0\x80\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* surrogate */
		"{\"ts\":\"t\\ud800\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* lone high */
		"{\"ts\":\"t\\udc00\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* lone low */
		"{\"ts\":\"t\\u12\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\\x41\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\\",
		"{\"t\\u0000s\":\"t\",\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}",	/* NUL in key */
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":01,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":1.,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":-,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":+1,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":tru,\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":[1,],\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":{\"a\"},\"prev\":\"" ZEROS "\"}",
		"{\"ts\":\"t\",\"event\":\"e\",\"n\":NaN,\"prev\":\"" ZEROS "\"}",
	};
	struct audit_record rec;
	const char *why;
	char deep[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (audit_record_parse(bad[i], strlen(bad[i]), &rec, &why) != ERR_INVAL)
			fail_msg("accepted bad record %zu: %s", i, bad[i]);
		assert_non_null(why);
		assert_int_equal(rec.n, 0);
		assert_null(rec.f);
	}
	/* embedded NUL byte in the line itself */
	static const char nul[] = "{\"ts\":\"t\0\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}";
	assert_int_equal(audit_record_parse(nul, sizeof(nul) - 1, &rec, &why), ERR_INVAL);
	/* nesting past the limit, and just inside it */
	int k = snprintf(deep, sizeof(deep), "{\"ts\":\"t\",\"event\":\"e\",\"n\":");
	for (int i = 0; i < 40; i++)
		deep[k++] = '[';
	for (int i = 0; i < 40; i++)
		deep[k++] = ']';
	k += snprintf(deep + k, sizeof(deep) - (size_t)k, "%s", P);
	assert_int_equal(audit_record_parse(deep, (size_t)k, &rec, &why), ERR_INVAL);
	k = snprintf(deep, sizeof(deep), "{\"ts\":\"t\",\"event\":\"e\",\"n\":[[[{\"a\":[]}]]]%s", P);
	assert_int_equal(audit_record_parse(deep, (size_t)k, &rec, &why), 0);
	assert_string_equal(audit_record_get(&rec, "n")->val, "[[[{\"a\":[]}]]]");
	assert_false(audit_record_get(&rec, "n")->is_string);
	audit_record_clear(&rec);
	/* too long to be a record */
	char *big = malloc(AUDIT_RECORD_MAX + 100);
	memset(big, ' ', AUDIT_RECORD_MAX + 100);
	memcpy(big, "{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}", 97);
	assert_int_equal(audit_record_parse(big, AUDIT_RECORD_MAX, &rec, &why), ERR_INVAL);
	free(big);
	audit_record_clear(NULL);
}

static void
test_parse_decodes(void **state)
{
	static const char line[] =
	    "{ \"ts\" : \"2026-11-21T10:00:00.000Z\", \"event\":\"a\\\"b\","
	    "\"s\":\"\\u00e9\\ud83d\\ude00\\n\\/\\u0000x\",\"n\":-12.5e+3,\"t\":true,\"z\":null,"
	    "\"prev\":\"" ZEROS "\" }";
	struct audit_record rec;
	const char *why = "unset";

	(void)state;
	assert_int_equal(audit_record_parse(line, sizeof(line) - 1, &rec, &why), 0);
	assert_null(why);
	assert_int_equal(rec.n, 7);
	assert_string_equal(rec.f[0].key, "ts");
	assert_string_equal(audit_record_get(&rec, "event")->val, "a\"b");
	const struct audit_field *s = audit_record_get(&rec, "s");
	assert_true(s->is_string);
	assert_int_equal(s->vlen, 2 + 4 + 1 + 1 + 1 + 1);
	assert_memory_equal(s->val, "\xc3\xa9\xf0\x9f\x98\x80\n/\0x", s->vlen);
	assert_string_equal(audit_record_get(&rec, "n")->val, "-12.5e+3");
	assert_false(audit_record_get(&rec, "n")->is_string);
	assert_string_equal(audit_record_get(&rec, "t")->val, "true");
	assert_string_equal(audit_record_get(&rec, "z")->val, "null");
	assert_null(audit_record_get(&rec, "missing"));
	assert_ptr_equal(rec.raw, line);
	audit_record_clear(&rec);
	assert_int_equal(rec.n, 0);
}

static void
test_hash_vectors(void **state)
{
	char hex[AUDIT_HASH_HEX + 1];

	(void)state;
	audit_hash_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	audit_hash_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- writing ---- */

static void
test_records(void **state)
{
	struct fixture *f = *state;
	static char lines[8][9000];
	struct audit *a = (struct audit *)1;

	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_non_null(a);
	struct stat st;
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	struct jbuf *b = audit_begin(a, "login");
	jbuf_member_str(b, "user", "alice");
	jbuf_member_int(b, "session", 17);
	jbuf_member_bool(b, "ok", true);
	assert_int_equal(audit_commit(a), 0);
	/* nothing but the head */
	audit_begin(a, "start");
	assert_int_equal(audit_commit(a), 0);
	/* hostile member values: still one line, still JSON */
	b = audit_begin(a, "connect");
	jbuf_member_str(b, "device", "evil\n{\"event\":\"fake\"}\r\n");
	jbuf_member_str(b, "orig", "\x1b[2J\\\"\xff\xc0\x80");
	jbuf_member_str(b, "reason", NULL);
	jbuf_member_str(b, "n\"ame", "\xc3\xa9t\xc3\xa9");
	assert_int_equal(audit_commit(a), 0);
	audit_close(a);

	char *text = tu_slurp(f->log);
	assert_non_null(text);
	assert_int_equal(check_lines(text, lines, 8), 3);
	assert_head(lines[0], "login");
	assert_non_null(strstr(lines[0], ",\"user\":\"alice\",\"session\":17,\"ok\":true}"));
	assert_head(lines[1], "start");
	assert_int_equal(strlen(lines[1]), strlen("{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"start\"}"));
	assert_head(lines[2], "connect");
	assert_non_null(strstr(lines[2], "\"device\":\"evil\\u000a{\\\"event\\\":\\\"fake\\\"}\\u000d\\u000a\""));
	assert_non_null(strstr(lines[2], "\"orig\":\"\\u001b[2J\\\\\\\"\\u00ff\\u00c0\\u0080\""));
	assert_non_null(strstr(lines[2], "\"reason\":null"));
	assert_non_null(strstr(lines[2], "\"n\\\"ame\":\"\xc3\xa9t\xc3\xa9\"}"));
	free(text);
	expect_verify(f->log, 0, 3, NULL);
	audit_close(NULL);
}

static void
test_null_handle(void **state)
{
	(void)state;
	struct jbuf *b = audit_begin(NULL, "nowhere");
	assert_non_null(b);
	jbuf_member_str(b, "k", "v");
	assert_int_equal(audit_commit(NULL), ERR_INVAL);
	audit_set_syslog(NULL, true);
}

static void
test_hostile_event(void **state)
{
	struct fixture *f = *state;
	static char lines[4][9000];
	struct audit *a;

	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_begin(a, "ev\"il\n");
	assert_int_equal(audit_commit(a), 0);
	audit_close(a);
	char *text = tu_slurp(f->log);
	assert_int_equal(check_lines(text, lines, 4), 1);
	assert_head(lines[0], "ev\\\"il\\u000a");
	free(text);
}

static void
test_oversize_dropped(void **state)
{
	struct fixture *f = *state;
	static char lines[8][9000];
	static char big[9000];
	struct audit *a;

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_begin(a, "first");
	assert_int_equal(audit_commit(a), 0);

	struct jbuf *b = audit_begin(a, "huge");
	jbuf_member_str(b, "before", "kept?");
	jbuf_member_str(b, "blob", big);
	jbuf_member_str(b, "after", "never");
	assert_int_equal(audit_commit(a), ERR_TOOLONG);

	/* many small members that add up past the limit */
	b = audit_begin(a, "many");
	for (int i = 0; i < 2000; i++)
		jbuf_member_int(b, "k", i);
	assert_int_equal(audit_commit(a), ERR_TOOLONG);

	/* escaping pushes a short-looking value over the limit */
	memset(big, '\x01', 2000);
	big[2000] = '\0';
	b = audit_begin(a, "escaped");
	jbuf_member_str(b, "ctl", big);		/* 12000 bytes once escaped */
	assert_int_equal(audit_commit(a), ERR_TOOLONG);

	/* the next record is unaffected */
	b = audit_begin(a, "next");
	jbuf_member_int(b, "n", 2);
	assert_int_equal(audit_commit(a), 0);
	/* just under the limit is written whole */
	memset(big, 'y', 8000);
	big[8000] = '\0';
	b = audit_begin(a, "big-ok");
	jbuf_member_str(b, "blob", big);
	assert_int_equal(audit_commit(a), 0);
	/* the largest record that fits, prev and newline included, and one byte more */
	int fails = 0;
	for (size_t n = 8200; n > 8000; n--) {
		memset(big, 'z', n);
		big[n] = '\0';
		b = audit_begin(a, "edge");
		jbuf_member_str(b, "blob", big);
		if (audit_commit(a) == 0)
			break;
		fails++;
	}
	assert_true(fails > 0);
	audit_close(a);

	char *text = tu_slurp(f->log);
	size_t n = check_lines(text, lines, 8);
	assert_int_equal(n, 4);
	assert_head(lines[0], "first");
	assert_head(lines[1], "next");
	assert_non_null(strstr(lines[1], "\"n\":2}"));
	assert_head(lines[2], "big-ok");
	memset(big, 'y', 8000);
	big[8000] = '\0';
	assert_non_null(strstr(lines[2], big));
	assert_head(lines[3], "edge");
	/* the edge record: its line, newline included, is exactly the maximum */
	const char *last = strrchr(text, '\n');
	*(char *)last = '\0';
	const char *start = strrchr(text, '\n') + 1;
	assert_int_equal(strlen(start) + 1, AUDIT_RECORD_MAX);
	*(char *)last = '\n';
	assert_null(strstr(text, "huge"));
	assert_null(strstr(text, "kept?"));
	assert_null(strstr(text, "many"));
	assert_null(strstr(text, "escaped"));
	free(text);
	expect_verify(f->log, 0, 4, NULL);
}

static void
test_append_across_reopen(void **state)
{
	struct fixture *f = *state;
	static char lines[8][9000];
	struct audit *a;

	for (int round = 0; round < 3; round++) {
		assert_int_equal(audit_open(f->dir, &a), 0);
		struct jbuf *b = audit_begin(a, "round");
		jbuf_member_int(b, "n", round);
		assert_int_equal(audit_commit(a), 0);
		audit_close(a);
	}
	/* two writers at once (a restart overlapping) interleave whole lines, still chained */
	struct audit *a1, *a2;
	assert_int_equal(audit_open(f->dir, &a1), 0);
	assert_int_equal(audit_open(f->dir, &a2), 0);
	audit_begin(a1, "one");
	audit_begin(a2, "two");
	assert_int_equal(audit_commit(a2), 0);
	assert_int_equal(audit_commit(a1), 0);
	audit_begin(a2, "three");
	assert_int_equal(audit_commit(a2), 0);
	audit_close(a1);
	audit_close(a2);

	char *text = tu_slurp(f->log);
	assert_int_equal(check_lines(text, lines, 8), 6);
	for (int i = 0; i < 3; i++) {
		char want[32];
		assert_head(lines[i], "round");
		snprintf(want, sizeof(want), ",\"n\":%d}", i);
		assert_non_null(strstr(lines[i], want));
	}
	assert_head(lines[3], "two");
	assert_head(lines[4], "one");
	assert_head(lines[5], "three");
	free(text);
	expect_verify(f->log, 0, 6, NULL);
}

/* audit_open as an unprivileged user (root ignores directory modes). */
static int
open_as_nobody(const char *dir)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct audit *a = (struct audit *)1;
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(100);
		int r = audit_open(dir, &a);
		_exit(a != NULL && r != 0 ? 101 : -r);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 100);
	assert_int_not_equal(WEXITSTATUS(st), 101);
	return -WEXITSTATUS(st);
}

static void
test_unwritable(void **state)
{
	struct fixture *f = *state;
	struct audit *a = (struct audit *)1;
	char path[600];

	/* read-only state directory */
	assert_int_equal(chmod(f->dir, 0555), 0);
	int r = open_as_nobody(f->dir);
	if (r != ERR_READONLY && r != ERR_IO)
		fail_msg("read-only dir gave %d", r);
	assert_int_equal(r, ERR_READONLY);	/* EACCES: the clearer code */
	assert_int_equal(access(f->log, F_OK), -1);
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* missing directory, a file where the directory should be */
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(audit_open(path, &a), ERR_IO);
	assert_null(a);
	snprintf(path, sizeof(path), "%s/file", f->dir);
	FILE *fp = fopen(path, "w");
	fclose(fp);
	a = (struct audit *)1;
	assert_int_equal(audit_open(path, &a), ERR_IO);
	assert_null(a);
	/* audit.log is a directory */
	assert_int_equal(mkdir(f->log, 0700), 0);
	a = (struct audit *)1;
	r = audit_open(f->dir, &a);
	assert_true(r == ERR_IO || r == ERR_READONLY);
	assert_null(a);
	rmdir(f->log);
	/* a path too long for the file name */
	char *lng = malloc(5000);
	memset(lng, 'd', 4999);
	lng[4999] = '\0';
	a = (struct audit *)1;
	assert_int_equal(audit_open(lng, &a), ERR_TOOLONG);
	assert_null(a);
	free(lng);
}

/*
 * audit.log is a symbolic link (planted to make outpostd append to, or
 * truncate, another file): refused, never followed, whatever it points at.
 */
static void
test_symlink_refused(void **state)
{
	struct fixture *f = *state;
	char target[600];
	struct audit *a;
	struct stat sb;

	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	write_file(target, "keep\n", 5);
	assert_int_equal(symlink(target, f->log), 0);
	a = (struct audit *)1;
	assert_int_equal(audit_open(f->dir, &a), ERR_DENIED);
	assert_null(a);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_size, 5);
	/* dangling: not created through the link either */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(audit_open(f->dir, &a), ERR_DENIED);
	assert_int_equal(stat(target, &sb), -1);
	if (access("/dev/full", W_OK) == 0) {
		unlink(f->log);
		assert_int_equal(symlink("/dev/full", f->log), 0);
		assert_int_equal(audit_open(f->dir, &a), ERR_DENIED);
	}
}

/* A full disk: the write fails, the caller hears ERR_IO, nothing aborts. */
static void
test_write_fails(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	struct audit *a;

	/* a log at the file size limit takes no byte more */
	write_file(f->log, "", 0);
	assert_int_equal(truncate(f->log, 1 << 20), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 1 << 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	for (int i = 0; i < 3; i++) {
		struct jbuf *b = audit_begin(a, "lost");
		jbuf_member_int(b, "i", i);
		assert_int_equal(audit_commit(a), ERR_IO);
	}
	audit_close(a);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
}

/*
 * A write cut short (RLIMIT_FSIZE stands in for a full disk: write(2) then
 * writes what fits) is cut off again, so the log never keeps half a record;
 * once records fit again an audit-gap record counts the lost ones first.
 */
static void
test_short_write_gap(void **state)
{
	struct fixture *f = *state;
	struct audit *a;
	struct audit_verify_result res;
	struct rlimit old, lim;
	struct stat sb;
	char big[2048];

	write_records(f->dir, 2);
	assert_int_equal(stat(f->log, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(audit_open(f->dir, &a), 0);
	for (int i = 0; i < 3; i++) {
		struct jbuf *b = audit_begin(a, "lost");
		jbuf_member_str(b, "pad", big);
		assert_int_equal(audit_commit(a), ERR_IO);
		struct stat now;
		assert_int_equal(stat(f->log, &now), 0);
		assert_int_equal(now.st_size, sb.st_size);	/* nothing half written stays */
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	struct jbuf *b = audit_begin(a, "after");
	jbuf_member_int(b, "n", 1);
	assert_int_equal(audit_commit(a), 0);
	audit_close(a);
	assert_int_equal(audit_verify(f->log, &res), 0);
	assert_int_equal(res.records, 4);
	char *text = tu_slurp(f->log);
	assert_non_null(text);
	char *gap = strstr(text, "\"event\":\"audit-gap\",\"lost\":3,\"since\":\"");
	assert_non_null(gap);
	assert_non_null(strstr(gap, "\"reason\":\"No space left on device\""));
	assert_true(strstr(text, "\"event\":\"after\"") > gap);
	free(text);
}

/* ---- the chain and verification ---- */

static void
test_verify_empty_and_missing(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct audit *a;

	/* missing file: cannot check */
	assert_int_equal(audit_verify(f->log, &res), ERR_IO);
	assert_non_null(strstr(res.why, "cannot read"));
	/* an empty log (as audit_open leaves it) is intact */
	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_close(a);
	expect_verify(f->log, 0, 0, NULL);
	/* a lone newline, and whitespace, are not records */
	write_file(f->log, "\n", 1);
	expect_verify(f->log, ERR_INVAL, 0, "line 1: not a complete JSON record (empty line)");
	write_file(f->log, "   \n", 4);
	expect_verify(f->log, ERR_INVAL, 0, "line 1: not a complete JSON record");
	/* a directory */
	unlink(f->log);
	mkdir(f->log, 0700);
	assert_int_not_equal(audit_verify(f->log, &res), 0);
	rmdir(f->log);
}

/* Lines of a 6-record log, to rebuild tampered copies from. */
struct lines6 {
	char *text;
	const char *l[7];
	size_t len[7];
};

static void
split6(const char *log, struct lines6 *ls)
{
	ls->text = slurp_all(log, NULL);
	const char *p = ls->text;
	for (int i = 1; i <= 6; i++) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		ls->l[i] = p;
		ls->len[i] = (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	assert_int_equal(*p, '\0');
}

/* Writes the lines listed in order (1-based; 0 ends the list). */
static void
rebuild(const char *log, const struct lines6 *ls, const int *order)
{
	FILE *fp = fopen(log, "w");

	assert_non_null(fp);
	for (; *order != 0; order++)
		fwrite(ls->l[*order], 1, ls->len[*order], fp);
	fclose(fp);
}

static void
test_verify_tampering(void **state)
{
	struct fixture *f = *state;
	struct lines6 ls;
	char *edit;

	write_records(f->dir, 6);
	expect_verify(f->log, 0, 6, NULL);
	split6(f->log, &ls);

	/* deleting a line in the middle, the first, the first two */
	rebuild(f->log, &ls, (const int[]){ 1, 2, 4, 5, 6, 0 });
	expect_verify(f->log, ERR_INVAL, 2, "line 3: prev does not match line 2");
	rebuild(f->log, &ls, (const int[]){ 2, 3, 4, 5, 6, 0 });
	expect_verify(f->log, ERR_INVAL, 0, "line 1: prev does not match the start of a log");
	rebuild(f->log, &ls, (const int[]){ 3, 4, 5, 6, 0 });
	expect_verify(f->log, ERR_INVAL, 0, "line 1: prev does not match");
	/* reordering: swapping neighbours, moving the last line to the front */
	rebuild(f->log, &ls, (const int[]){ 1, 2, 4, 3, 5, 6, 0 });
	expect_verify(f->log, ERR_INVAL, 2, "line 3: prev does not match line 2");
	rebuild(f->log, &ls, (const int[]){ 6, 1, 2, 3, 4, 5, 0 });
	expect_verify(f->log, ERR_INVAL, 0, "line 1: prev does not match");
	/* duplicating (replaying) a line */
	rebuild(f->log, &ls, (const int[]){ 1, 2, 2, 3, 4, 5, 6, 0 });
	expect_verify(f->log, ERR_INVAL, 2, "line 3: prev does not match line 2");

	/* editing a value in line 2 while keeping valid JSON: line 3 no longer chains */
	rebuild(f->log, &ls, (const int[]){ 1, 2, 3, 4, 5, 6, 0 });
	size_t len;
	edit = slurp_all(f->log, &len);
	char *alice = strstr(strchr(edit, '\n') + 1, "alice");
	assert_non_null(alice);
	memcpy(alice, "mallo", 5);
	write_file(f->log, edit, len);
	expect_verify(f->log, ERR_INVAL, 2, "line 3: prev does not match line 2");
	/* editing the prev of line 4 to chain onto a forged line 3: line 4 itself shows it */
	memcpy(alice, "alice", 5);
	char *l4 = edit;
	for (int i = 0; i < 3; i++)
		l4 = strchr(l4, '\n') + 1;
	char *pv = strstr(l4, "\"prev\":\"") + 8, orig = pv[0];
	pv[0] = orig == 'a' ? 'b' : 'a';
	write_file(f->log, edit, len);
	expect_verify(f->log, ERR_INVAL, 3, "line 4: prev does not match line 3");
	pv[0] = orig;
	/* breaking line 5's JSON */
	char *l5 = strchr(l4, '\n') + 1;
	l5[0] = '[';
	write_file(f->log, edit, len);
	expect_verify(f->log, ERR_INVAL, 4, "line 5: not a complete JSON record (not a JSON object)");
	l5[0] = '{';
	/* a CR added at the end of line 1 (editors do this) */
	char *crlf = malloc(len + 2);
	size_t l1 = (size_t)(strchr(edit, '\n') - edit);
	memcpy(crlf, edit, l1);
	crlf[l1] = '\r';
	memcpy(crlf + l1 + 1, edit + l1, len - l1);
	write_file(f->log, crlf, len + 1);
	expect_verify(f->log, ERR_INVAL, 1, "line 2: prev does not match line 1");
	free(crlf);
	/* an inserted blank line */
	write_file(f->log, edit, len);
	FILE *fp = fopen(f->log, "a");
	fputs("\n", fp);
	fclose(fp);
	expect_verify(f->log, ERR_INVAL, 6, "line 7: not a complete JSON record (empty line)");
	/* the untouched copy still verifies: the tests above changed one thing each */
	write_file(f->log, edit, len);
	expect_verify(f->log, 0, 6, NULL);
	free(edit);
	free(ls.text);
}

/* A crash mid-write left a torn last line; the next writer starts a new line after it. */
static void
test_torn_tail(void **state)
{
	struct fixture *f = *state;
	static const char torn[] = "{\"ts\":\"2026-11-21T10:00:00.000Z\",\"event\":\"conn";
	struct audit *a, *fresh;
	char want[128], hex[65];

	assert_int_equal(audit_open(f->dir, &a), 0);	/* open before the crash */
	write_records(f->dir, 3);
	audit_begin(a, "mine");
	assert_int_equal(audit_commit(a), 0);		/* knows the size now */
	FILE *fp = fopen(f->log, "a");
	fputs(torn, fp);
	fclose(fp);
	expect_verify(f->log, ERR_INVAL, 4, "line 5: not a complete JSON record (no newline");

	/* the handle that wrote last notices the size change */
	audit_begin(a, "after");
	assert_int_equal(audit_commit(a), 0);
	/* and a fresh one chains on normally */
	assert_int_equal(audit_open(f->dir, &fresh), 0);
	audit_begin(fresh, "later");
	assert_int_equal(audit_commit(fresh), 0);
	audit_close(fresh);
	audit_close(a);

	size_t len;
	char *text = slurp_all(f->log, &len);
	char *t = strstr(text, torn);
	assert_non_null(t);
	assert_int_equal(t[sizeof(torn) - 1], '\n');	/* the torn line was ended */
	char *next = t + sizeof(torn);
	sha_hex(torn, sizeof(torn) - 1, hex);
	snprintf(want, sizeof(want), ",\"prev\":\"%s\"}\n", hex);
	assert_true(strncmp(next, "{\"ts\":", 6) == 0);
	char *nl = strchr(next, '\n');
	assert_int_equal(strncmp(nl + 1 - strlen(want), want, strlen(want)), 0);
	assert_non_null(strstr(next, "\"event\":\"after\""));
	free(text);
	/* verify names the torn line, not the records after it */
	expect_verify(f->log, ERR_INVAL, 4, "line 5: not a complete JSON record (");
}

/* A garbage line longer than a record: verify says so; a writer still chains on its real hash. */
static void
test_overlong_line(void **state)
{
	struct fixture *f = *state;
	struct audit *a;
	char hex[65], want[128];
	size_t n = 3 * AUDIT_RECORD_MAX + 17;
	char *junk = malloc(n + 1);

	write_records(f->dir, 2);
	memset(junk, 'q', n);
	junk[n] = '\n';
	FILE *fp = fopen(f->log, "a");
	fwrite(junk, 1, n + 1, fp);
	fclose(fp);
	expect_verify(f->log, ERR_INVAL, 2, "line 3: longer than 8191 bytes");

	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_begin(a, "after");
	assert_int_equal(audit_commit(a), 0);
	audit_close(a);
	size_t len;
	char *text = slurp_all(f->log, &len);
	sha_hex(junk, n, hex);
	snprintf(want, sizeof(want), ",\"prev\":\"%s\"}\n", hex);
	assert_true(len > strlen(want));
	assert_string_equal(text + len - strlen(want), want);
	free(text);
	free(junk);
}

/* Several processes append at once; every record lands whole and the chain holds. */
static void
test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	enum { KIDS = 4, EACH = 150 };
	pid_t pids[KIDS];
	struct audit *a;

	assert_int_equal(audit_open(f->dir, &a), 0);	/* the parent writes too */
	for (int k = 0; k < KIDS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			struct audit *mine;
			if (audit_open(f->dir, &mine) != 0)
				_exit(2);
			for (int i = 0; i < EACH; i++) {
				struct jbuf *b = audit_begin(mine, "kid");
				jbuf_member_int(b, "kid", k);
				jbuf_member_int(b, "i", i);
				if (audit_commit(mine) != 0)
					_exit(3);
			}
			audit_close(mine);
			_exit(0);
		}
	}
	for (int i = 0; i < EACH; i++) {
		struct jbuf *b = audit_begin(a, "parent");
		jbuf_member_int(b, "i", i);
		assert_int_equal(audit_commit(a), 0);
	}
	for (int k = 0; k < KIDS; k++) {
		int st;
		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	audit_close(a);
	expect_verify(f->log, 0, (KIDS + 1) * EACH, NULL);
	/* each writer's records are all there, in its own order */
	size_t len;
	char *text = slurp_all(f->log, &len);
	int next[KIDS] = { 0 };
	for (char *p = text; *p != '\0'; p = strchr(p, '\n') + 1) {
		int k, i;
		if (sscanf(strstr(p, "\"event\":"), "\"event\":\"kid\",\"kid\":%d,\"i\":%d", &k, &i) == 2) {
			assert_true(k >= 0 && k < KIDS);
			assert_int_equal(i, next[k]);
			next[k]++;
		}
	}
	for (int k = 0; k < KIDS; k++)
		assert_int_equal(next[k], EACH);
	free(text);
}

/* ---- walking records ---- */

struct walk {
	int seen;
	int stop_at;
	size_t lines[16];
};

static int
walk_cb(void *arg, const struct audit_record *rec)
{
	struct walk *w = arg;

	assert_non_null(audit_record_get(rec, "ts"));
	if (w->seen < 16)
		w->lines[w->seen] = rec->line;
	if (++w->seen == w->stop_at)
		return 42;
	return 0;
}

static void
test_read_walk(void **state)
{
	struct fixture *f = *state;
	struct walk w = { 0 };

	assert_int_equal(audit_read(f->log, walk_cb, &w), ERR_IO);
	write_records(f->dir, 3);
	FILE *fp = fopen(f->log, "a");
	fputs("garbage\n\n{\"ts\":\"t\",\"event\":\"e\",\"prev\":\"" ZEROS "\"}\n{\"torn", fp);
	fclose(fp);
	assert_int_equal(audit_read(f->log, walk_cb, &w), 0);
	assert_int_equal(w.seen, 4);	/* bad lines skipped, line numbers kept */
	assert_int_equal(w.lines[0], 1);
	assert_int_equal(w.lines[2], 3);
	assert_int_equal(w.lines[3], 6);
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	assert_int_equal(audit_read(f->log, walk_cb, &w), 42);
	assert_int_equal(w.seen, 2);
}

/* The "command" member of one call, as a whole object: {"command":...}. */
static char *
command_member(char *const *argv, int argc)
{
	struct jbuf b;

	jbuf_init(&b, 2 * AUDIT_RECORD_MAX);
	jbuf_obj_begin(&b);
	audit_member_command(&b, argv, argc);
	jbuf_obj_end(&b);
	assert_false(b.failed);
	assert_true(tu_json_valid(b.data, b.len));
	return b.data;
}

/* Words past AUDIT_COMMAND_MAX bytes are dropped, and the record says so. */
static void
test_command_truncated(void **state)
{
	static char big[AUDIT_COMMAND_MAX + 2], exact[AUDIT_COMMAND_MAX + 1], want[3 * AUDIT_COMMAND_MAX];
	char *r;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	memset(exact, 'b', sizeof(exact) - 1);
	/* hostile first: one word longer than the limit, nothing kept */
	char *one[] = { big };
	r = command_member(one, 1);
	snprintf(want, sizeof(want), "{\"command\":\"\",\"command_truncated\":true,"
	    "\"command_bytes\":%d}", AUDIT_COMMAND_MAX + 1);
	assert_string_equal(r, want);
	free(r);
	/* a long word after a short one: the short one stays, then a shorter word
	 * that would fit is not kept either (the line is a prefix) */
	char *three[] = { "enroll", big, "x" };
	r = command_member(three, 3);
	snprintf(want, sizeof(want), "{\"command\":\"enroll\",\"command_truncated\":true,"
	    "\"command_bytes\":%d}", 6 + 1 + AUDIT_COMMAND_MAX + 1 + 2);
	assert_string_equal(r, want);
	free(r);
	/* exactly the limit: kept whole, no mark */
	char *ex[] = { exact };
	r = command_member(ex, 1);
	snprintf(want, sizeof(want), "{\"command\":\"%s\"}", exact);
	assert_string_equal(r, want);
	free(r);
	/* the limit and one more word of one byte: its space already does not fit */
	char *ex2[] = { exact, "c" };
	r = command_member(ex2, 2);
	assert_non_null(strstr(r, "\"command_truncated\":true,\"command_bytes\":1026}"));
	free(r);
	/* nothing, and ordinary commands: no mark */
	r = command_member(NULL, 0);
	assert_string_equal(r, "{\"command\":\"\"}");
	free(r);
	char *ls[] = { "ls", "--json" };
	r = command_member(ls, 2);
	assert_string_equal(r, "{\"command\":\"ls --json\"}");
	free(r);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
lines_in(const char *path)
{
	char *text = slurp_all(path, NULL);
	int n = 0;

	for (char *p = text; *p != '\0'; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* Commits one small record; returns what audit_commit did. */
static int
commit_one(struct audit *a, int i)
{
	struct jbuf *b = audit_begin(a, "rec");
	jbuf_member_int(b, "i", i);
	return audit_commit(a);
}

/* Waits up to 10 s for the writer thread to empty its queue. */
static void
wait_drained(struct audit *a)
{
	struct audit_stats st;

	for (int i = 0; i < 1000; i++) {
		audit_get_stats(a, &st);
		if (st.depth == 0)
			return;
		usleep(10000);
	}
	fail_msg("the audit queue did not drain: %zu records left", st.depth);
}

/* Records a branch's thread commits while the owner's thread commits too. */
static void *
branch_writer(void *arg)
{
	struct audit *b = arg;

	for (int i = 0; i < 200; i++) {
		struct jbuf *r = audit_begin(b, "branch");
		jbuf_member_int(r, "i", i);
		jbuf_member_str(r, "pad", "a record built in the branch's own buffer");
		assert_int_equal(audit_commit(b), 0);
	}
	return NULL;
}

/*
 * audit_branch: refused without a writer thread and on a branch; two threads
 * building records at once (each in its own buffer) give one verifiable
 * chain holding every record whole.
 */
static void
test_branch(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct audit *a, *b, *bb;
	pthread_t t;

	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_int_equal(audit_branch(a, &b), ERR_INVAL);	/* no writer thread */
	assert_null(b);
	assert_int_equal(audit_branch(NULL, &b), ERR_INVAL);
	assert_int_equal(audit_start_writer(a, 0), 0);
	assert_int_equal(audit_branch(a, &b), 0);
	assert_int_equal(audit_branch(b, &bb), ERR_INVAL);	/* a branch of a branch */
	assert_int_equal(audit_start_writer(b, 0), ERR_INVAL);
	assert_int_equal(audit_admit(b), 0);
	assert_int_equal(pthread_create(&t, NULL, branch_writer, b), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(commit_one(a, i), 0);
	pthread_join(t, NULL);
	audit_close(b);
	audit_close(a);		/* drains */
	assert_int_equal(audit_verify(f->log, &res), 0);
	assert_int_equal(res.records, 400);
	char *text = slurp_all(f->log, NULL);
	int branch = 0;
	for (char *p = text; (p = strstr(p, "\"event\":\"branch\"")) != NULL; p++)
		branch++;
	assert_int_equal(branch, 200);
	assert_non_null(strstr(text, "\"i\":199,\"pad\":\"a record built in the branch's own buffer\""));
	free(text);
}

/* Records "i":0 .. "i":n-1 (but skip, -1 for none) are in text in that order. */
static void
assert_in_order(const char *text, int n, int skip)
{
	const char *p = text;

	for (int i = 0; i < n; i++) {
		char want[32];
		if (i == skip)
			continue;
		snprintf(want, sizeof(want), "\"i\":%d,", i);
		const char *q = strstr(p, want);
		if (q == NULL)
			fail_msg("record %d missing or out of order", i);
		p = q;
	}
}

/*
 * Another process holds the log's lock (or the disk stalls): commits still
 * return at once; at the limit new logins are refused and counted; past
 * twice the limit a record goes to the daemon's log and an audit-gap record
 * counts it; once the lock is released everything is written, in order.
 */
static void
test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct audit_stats st;
	struct audit_verify_result res;
	struct audit *a;

	write_records(f->dir, 1);
	int held = open(f->log, O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_int_equal(audit_admit(a), 0);	/* no writer thread: never refused */
	assert_int_equal(audit_start_writer(a, 4), 0);
	assert_int_equal(audit_start_writer(a, 4), ERR_INVAL);
	for (int i = 0; i < 4; i++) {
		int64_t t0 = now_ms();
		assert_int_equal(commit_one(a, i), 0);
		assert_true(now_ms() - t0 < 1000);	/* queued, not waiting for the lock */
		if (i < 3)
			assert_int_equal(audit_admit(a), 0);
	}
	audit_get_stats(a, &st);
	assert_int_equal(st.depth, 4);
	assert_int_equal(st.max, 4);
	assert_int_equal(audit_admit(a), ERR_BUSY);
	assert_int_equal(audit_admit(a), ERR_BUSY);
	/* what is under way still queues, up to twice the limit */
	for (int i = 4; i < 8; i++)
		assert_int_equal(commit_one(a, i), 0);
	assert_int_equal(commit_one(a, 8), ERR_IO);	/* to the daemon's log */
	audit_get_stats(a, &st);
	assert_int_equal(st.depth, 8);
	assert_int_equal(st.peak, 8);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.overflowed, 1);
	assert_int_equal(lines_in(f->log), 1);	/* nothing written meanwhile */
	/* released: drained, admitted again */
	assert_int_equal(flock(held, LOCK_UN), 0);
	wait_drained(a);
	assert_int_equal(audit_admit(a), 0);
	assert_int_equal(commit_one(a, 9), 0);
	audit_close(a);		/* drains */
	close(held);
	assert_int_equal(audit_verify(f->log, &res), 0);
	assert_int_equal(res.records, 1 + 8 + 1 + 1);	/* first, 8 queued, the gap, the last */
	char *text = slurp_all(f->log, NULL);
	char *gap = strstr(text, "\"event\":\"audit-gap\",\"lost\":1,");
	assert_non_null(gap);
	assert_non_null(strstr(gap, "\"reason\":\"the audit queue was full\""));
	assert_in_order(text, 10, 8);	/* 8 missing */
	free(text);
}

/*
 * The writer thread appends what waits in runs of at most AUDIT_WRITE_MAX
 * bytes, one write(2) each: 3,000 records queued behind a held lock (more
 * than one run) come out whole, in order, each chained onto the one before,
 * and the head names the last.
 */
static void
test_writer_runs(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct audit_head h;
	struct audit *a;
	bool reset = true;
	char pad[200], hex[65];
	size_t len;

	write_records(f->dir, 1);
	int held = open(f->log, O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_int_equal(audit_start_writer(a, 4000), 0);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 3000; i++) {
		struct jbuf *b = audit_begin(a, "rec");
		jbuf_member_int(b, "i", i);
		jbuf_member_str(b, "pad", pad);
		assert_int_equal(audit_commit(a), 0);
	}
	assert_int_equal(lines_in(f->log), 1);	/* all queued behind the lock */
	assert_int_equal(flock(held, LOCK_UN), 0);
	close(held);
	wait_drained(a);
	audit_stop_writer(a);
	assert_true(audit_head_take(a, &h, &reset));
	assert_false(reset);
	audit_close(a);
	assert_int_equal(audit_verify(f->log, &res), 0);
	assert_int_equal(res.records, 3001);
	char *text = slurp_all(f->log, &len);
	assert_true(len > 2 * AUDIT_WRITE_MAX);		/* several runs */
	assert_int_equal(h.seq, 3001);
	assert_int_equal(h.size, (int64_t)len);
	/* the head is the hash of the last line, newline excluded */
	char *last = text + len - 1;
	while (last > text && last[-1] != '\n')
		last--;
	sha_hex(last, (size_t)(text + len - 1 - last), hex);
	assert_string_equal(h.hash, hex);
	assert_in_order(text, 3000, -1);
	free(text);
}

/*
 * A run that does not fit (RLIMIT_FSIZE stands in for a nearly full disk)
 * is cut off whole, then its records are written one at a time: as many as
 * fit are in the log, the rest go to the daemon's log and audit-gap records
 * count them once records fit again. How the writer thread splits the ten
 * into batches depends on when it wakes (a loaded machine may give it two:
 * then a small gap record fits between them, and a second gap counts the
 * rest), so the checks hold for any split: the first `fit` records are in
 * the log, in order, and the gaps count exactly the others.
 */
static void
test_writer_run_short(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct rlimit old, lim;
	struct audit *a;
	struct stat sb;
	char pad[120], want[64];

	write_records(f->dir, 1);
	assert_int_equal(stat(f->log, &sb), 0);
	int held = open(f->log, O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_int_equal(audit_start_writer(a, 0), 0);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 10; i++) {
		struct jbuf *b = audit_begin(a, "rec");
		jbuf_member_int(b, "i", i);
		jbuf_member_str(b, "pad", pad);
		assert_int_equal(audit_commit(a), 0);
	}
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 1000;	/* room for a few of the ten */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(flock(held, LOCK_UN), 0);
	close(held);
	wait_drained(a);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(commit_one(a, 10), 0);
	audit_close(a);
	assert_int_equal(audit_verify(f->log, &res), 0);
	char *text = slurp_all(f->log, NULL);
	int fit = 0, gaps = 0, lost = 0;
	for (char *p = text; (p = strstr(p, "\"pad\":\"p")) != NULL; p++)
		fit++;
	for (char *p = text; (p = strstr(p, "\"event\":\"audit-gap\",\"lost\":")) != NULL; p++) {
		gaps++;
		lost += atoi(p + strlen("\"event\":\"audit-gap\",\"lost\":"));
	}
	assert_true(fit >= 1 && fit < 10);
	assert_true(gaps >= 1);
	assert_int_equal(lost, 10 - fit);			/* every record not in the log counted */
	assert_int_equal(res.records, 1 + fit + gaps + 1);	/* first, those that fit, the gaps, the last */
	for (int i = 0; i < fit; i++) {				/* the first ones, in order */
		snprintf(want, sizeof(want), "\"i\":%d,", i);
		assert_non_null(strstr(text, want));
	}
	snprintf(want, sizeof(want), "\"i\":%d,", fit);
	assert_null(strstr(text, want));
	free(text);
}

/*
 * audit_wait_room: true at once without a writer thread or with room;
 * with the queue at its maximum behind a held lock, false after the time
 * given (not before); true once the writer drains it.
 */
static void
test_wait_room(void **state)
{
	struct fixture *f = *state;
	struct audit *a;

	assert_true(audit_wait_room(NULL, 1000));
	write_records(f->dir, 1);
	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_true(audit_wait_room(a, 1000));	/* no writer thread */
	int held = open(f->log, O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(audit_start_writer(a, 4), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(commit_one(a, i), 0);
	assert_true(audit_wait_room(a, 1000));	/* 3 of 4 */
	assert_int_equal(commit_one(a, 3), 0);
	int64_t t0 = now_ms();
	assert_false(audit_wait_room(a, 300));
	assert_true(now_ms() - t0 >= 290);
	assert_int_equal(flock(held, LOCK_UN), 0);
	close(held);
	assert_true(audit_wait_room(a, 10000));
	audit_close(a);
	assert_int_equal(lines_in(f->log), 5);
}

/* Close gives up on a lock never released: the queue goes to the daemon's log, close returns. */
static void
test_close_abandons(void **state)
{
	struct fixture *f = *state;
	struct audit *a;

	write_records(f->dir, 1);
	int held = open(f->log, O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	assert_int_equal(audit_start_writer(a, 0), 0);
	assert_int_equal(commit_one(a, 1), 0);
	int64_t t0 = now_ms();
	audit_close(a);
	assert_true(now_ms() - t0 < AUDIT_DRAIN_MS + 5000);
	close(held);
	assert_int_equal(lines_in(f->log), 1);
}

/* The head as the anchor sees it, after n records written directly. */
static void
anchored_log(struct fixture *f, int n, struct audit_head *h)
{
	struct audit *a;
	bool reset = true;

	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_set_head(a, NULL);
	for (int i = 0; i < n; i++)
		assert_int_equal(commit_one(a, i), 0);
	assert_true(audit_head_take(a, h, &reset));
	assert_false(reset);
	assert_false(audit_head_take(a, h, &reset));	/* nothing new */
	audit_close(a);
}

static void
expect_anchored(const char *log, const struct audit_head *h, int want_r, const char *want_why)
{
	struct audit_verify_result res;
	int r = audit_verify_anchored(log, h, &res);

	if (r != want_r || (want_why != NULL && strstr(res.why, want_why) == NULL))
		fail_msg("verify gave %d (%s); wanted %d (%s)", r, res.why, want_r, want_why != NULL ? want_why : "any reason");
}

/*
 * The anchor catches what the chain alone cannot: a log cut at its end,
 * emptied, or with its tail rewritten (a consistent new chain); a writer
 * that finds it so says so in an audit-cut record, which verify reports.
 */
static void
test_anchor_mismatch(void **state)
{
	struct fixture *f = *state;
	struct audit_head h, h2;
	struct audit *a;
	struct stat sb;
	bool reset;

	anchored_log(f, 3, &h);
	assert_int_equal(h.seq, 3);
	assert_int_equal(stat(f->log, &sb), 0);
	assert_int_equal(h.size, sb.st_size);
	expect_anchored(f->log, &h, 0, NULL);
	expect_anchored(f->log, NULL, 0, NULL);
	/* hostile anchors: past the end, a hash of nothing */
	h2 = h;
	h2.seq = 4;
	expect_anchored(f->log, &h2, ERR_INVAL, "the log ends at record 3, but the store's anchor is record 4");
	h2 = h;
	memset(h2.hash, 'f', AUDIT_HASH_HEX);
	expect_anchored(f->log, &h2, ERR_INVAL, "line 3: not the record the store anchored");
	/* records written after the anchor was saved are fine */
	write_records(f->dir, 2);
	expect_anchored(f->log, &h, 0, NULL);
	/* cut at its end: the chain alone still holds */
	char *text = slurp_all(f->log, NULL);
	char *third = strchr(strchr(text, '\n') + 1, '\n') + 1;
	write_file(f->log, text, (size_t)(third - text));
	expect_verify(f->log, 0, 2, NULL);
	expect_anchored(f->log, &h, ERR_INVAL, "the log ends at record 2, but the store's anchor is record 3: it was cut at its end");
	/* emptied */
	write_file(f->log, "", 0);
	expect_verify(f->log, 0, 0, NULL);
	expect_anchored(f->log, &h, ERR_INVAL, "the log is empty, but the store's anchor is record 3: it was emptied");
	/* tail rewritten: a new, consistent chain of as many records */
	free(text);
	write_records(f->dir, 3);
	expect_verify(f->log, 0, 3, NULL);
	expect_anchored(f->log, &h, ERR_INVAL, "line 3: not the record the store anchored");
	/* a writer that starts from the anchor finds the cut and records it */
	write_file(f->log, "", 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_set_head(a, &h);
	assert_int_equal(commit_one(a, 7), 0);
	assert_true(audit_head_take(a, &h2, &reset));
	assert_true(reset);
	assert_int_equal(h2.seq, 2);
	audit_close(a);
	text = slurp_all(f->log, NULL);
	assert_non_null(strstr(text, "\"event\":\"audit-cut\",\"anchor_seq\":3,"));
	assert_non_null(strstr(text, "\"log_records\":0,\"reason\":\"the log is 0 bytes long; record 3 ended at byte"));
	free(text);
	expect_verify(f->log, ERR_INVAL, 0, "line 1: audit-cut: the log was cut or rewritten before this record");
	/* re-anchored at the cut record: still reported, and a later cut below it too */
	expect_anchored(f->log, &h2, ERR_INVAL, "audit-cut");
	/* a writer whose head still holds: no audit-cut */
	write_file(f->log, "", 0);
	anchored_log(f, 2, &h);
	assert_int_equal(audit_open(f->dir, &a), 0);
	audit_set_head(a, &h);
	assert_int_equal(commit_one(a, 3), 0);
	assert_true(audit_head_take(a, &h2, &reset));
	assert_false(reset);
	assert_int_equal(h2.seq, 3);
	audit_close(a);
	expect_anchored(f->log, &h2, 0, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_decodes),
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_null_handle),
		cmocka_unit_test(test_command_truncated),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_abandons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_run_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_walk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
