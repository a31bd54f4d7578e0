/* test_privs.c: the start-up mode checks (StrictModes): hostile modes and links first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "server/privs.h"
#include "testutil.h"

static void
touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void
expect(const char *dir, const char *key, int want, const char *want_why)
{
	char why[1024];
	int r = privs_check_modes(dir, key, why, sizeof(why));

	if (r != want || (want_why != NULL && strstr(why, want_why) == NULL))
		fail_msg("check gave %d (%s); wanted %d (%s)", r, why, want, want_why);
}

static void
test_modes(void **state)
{
	char *dir = tu_mkdtemp(), key[600], other[600], msg[800];

	(void)state;
	assert_non_null(dir);
	snprintf(key, sizeof(key), "%s/ssh_host_ed25519_key", dir);
	snprintf(other, sizeof(other), "%s/elsewhere", dir);
	/* hostile first: the directory open to others, to the group, traversable */
	static const mode_t bad_dir[] = { 0777, 0755, 0750, 0711, 0701, 0710, 0720, 0702 };
	for (size_t i = 0; i < sizeof(bad_dir) / sizeof(bad_dir[0]); i++) {
		assert_int_equal(chmod(dir, bad_dir[i]), 0);
		snprintf(msg, sizeof(msg), "(mode %04o): it holds the host key, the database and the "
		    "audit log; fix with: chmod 700 %s", (unsigned)bad_dir[i], dir);
		expect(dir, NULL, ERR_DENIED, msg);
	}
	assert_int_equal(chmod(dir, 0700), 0);
	expect(dir, NULL, 0, NULL);			/* no key yet: generated 0600 later */
	/* the key readable or writable by anyone else */
	static const mode_t bad_key[] = { 0644, 0640, 0604, 0660, 0606, 0620, 0602, 0666, 0610, 0601 };
	for (size_t i = 0; i < sizeof(bad_key) / sizeof(bad_key[0]); i++) {
		touch(key, bad_key[i]);
		snprintf(msg, sizeof(msg), "host key %s is readable or writable by group or others "
		    "(mode %04o); fix with: chmod 600 %s", key, (unsigned)bad_key[i], key);
		expect(dir, NULL, ERR_DENIED, msg);
	}
	touch(key, 0600);
	expect(dir, NULL, 0, NULL);
	touch(key, 0400);
	expect(dir, NULL, 0, NULL);
	/* a link to a key: the target's mode counts */
	unlink(key);
	touch(other, 0644);
	assert_int_equal(symlink(other, key), 0);
	expect(dir, NULL, ERR_DENIED, "mode 0644");
	assert_int_equal(chmod(other, 0600), 0);
	expect(dir, NULL, 0, NULL);
	/* HostKey elsewhere, named in the config */
	expect(dir, other, 0, NULL);
	assert_int_equal(chmod(other, 0660), 0);
	expect(dir, other, ERR_DENIED, "chmod 600");
	/* not a file, not a directory */
	unlink(key);
	assert_int_equal(mkdir(key, 0700), 0);
	expect(dir, NULL, ERR_DENIED, "is not a regular file");
	rmdir(key);
	expect(other, NULL, ERR_DENIED, "is not a directory");
	/* a link to a state directory: the target's mode counts */
	char ln[700], sub[700];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(ln, sizeof(ln), "%s/link", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(symlink(sub, ln), 0);
	expect(ln, NULL, ERR_DENIED, "mode 0755");
	assert_int_equal(chmod(sub, 0700), 0);
	expect(ln, NULL, 0, NULL);
	/* missing */
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	expect(sub, NULL, ERR_IO, "cannot examine state directory");
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
