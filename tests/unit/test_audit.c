/* test_audit.c: audit.log records: one valid JSON line each, oversize dropped whole, unwritable dirs, append across reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/err.h"
#include "server/audit.h"
#include "testutil.h"

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

/* Splits text into lines; each must end in '\n' and be one valid JSON object. Returns the count. */
static size_t
check_lines(const char *text, char lines[][9000], size_t max)
{
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
		memcpy(lines[n], p, len);
		lines[n][len] = '\0';
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
	audit_close(NULL);
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
	audit_close(a);

	char *text = tu_slurp(f->log);
	assert_int_equal(check_lines(text, lines, 8), 3);
	assert_head(lines[0], "first");
	assert_head(lines[1], "next");
	assert_non_null(strstr(lines[1], "\"n\":2}"));
	assert_head(lines[2], "big-ok");
	assert_non_null(strstr(lines[2], big));
	assert_null(strstr(text, "huge"));
	assert_null(strstr(text, "kept?"));
	assert_null(strstr(text, "many"));
	assert_null(strstr(text, "escaped"));
	free(text);
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
	/* two writers at once (a restart overlapping) interleave whole lines */
	struct audit *a1, *a2;
	assert_int_equal(audit_open(f->dir, &a1), 0);
	assert_int_equal(audit_open(f->dir, &a2), 0);
	audit_begin(a1, "one");
	audit_begin(a2, "two");
	assert_int_equal(audit_commit(a2), 0);
	assert_int_equal(audit_commit(a1), 0);
	audit_close(a1);
	audit_close(a2);

	char *text = tu_slurp(f->log);
	assert_int_equal(check_lines(text, lines, 8), 5);
	for (int i = 0; i < 3; i++) {
		char want[32];
		assert_head(lines[i], "round");
		snprintf(want, sizeof(want), ",\"n\":%d}", i);
		assert_non_null(strstr(lines[i], want));
	}
	assert_head(lines[3], "two");
	assert_head(lines[4], "one");
	free(text);
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
}

/* A full disk: the write fails, the caller hears ERR_IO, nothing aborts. */
static void
test_write_fails(void **state)
{
	struct fixture *f = *state;
	struct audit *a;

	if (access("/dev/full", W_OK) != 0)
		skip();
	assert_int_equal(symlink("/dev/full", f->log), 0);
	assert_int_equal(audit_open(f->dir, &a), 0);
	for (int i = 0; i < 3; i++) {
		struct jbuf *b = audit_begin(a, "lost");
		jbuf_member_int(b, "i", i);
		assert_int_equal(audit_commit(a), ERR_IO);
	}
	audit_close(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
