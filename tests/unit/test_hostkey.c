/* test_hostkey.c: outpostd's host key prober (server/hostkey.c): who is probed, hostile banners first; names and counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "server/hostkey.h"

/* Only outpost-agent's libssh client is skipped: anything else is probed (a spoof only loses its keys). */
static void
test_banner_hostile(void **state)
{
	(void)state;
	assert_false(hostkey_banner_is_agent(NULL));
	assert_false(hostkey_banner_is_agent(""));
	assert_false(hostkey_banner_is_agent("SSH-2.0-libss"));
	assert_false(hostkey_banner_is_agent("SSH-1.99-libssh_0.10.6"));
	assert_false(hostkey_banner_is_agent("ssh-2.0-libssh_0.10.6"));
	assert_false(hostkey_banner_is_agent(" SSH-2.0-libssh_0.10.6"));
	assert_false(hostkey_banner_is_agent("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"));
	assert_false(hostkey_banner_is_agent("SSH-2.0-dropbear_2022.83"));
	assert_false(hostkey_banner_is_agent("SSH-2.0-\0libssh"));
	assert_true(hostkey_banner_is_agent("SSH-2.0-libssh_0.10.6"));
	assert_true(hostkey_banner_is_agent("SSH-2.0-libssh"));
}

/* Every outcome has a metrics label; out-of-range ones are safe; nothing counted or running at start. */
static void
test_results(void **state)
{
	(void)state;
	const char *want[HKP_MAX] = { "learned", "same", "changed", "failed", "skipped", "dropped" };
	for (int i = 0; i < HKP_MAX; i++) {
		assert_string_equal(hostkey_result_name(i), want[i]);
		assert_int_equal(hostkey_count(i), 0);
	}
	assert_string_equal(hostkey_result_name(-1), "?");
	assert_string_equal(hostkey_result_name(HKP_MAX), "?");
	assert_int_equal(hostkey_count(-1), 0);
	assert_int_equal(hostkey_count(HKP_MAX), 0);
	assert_int_equal(hostkey_running(), 0);
	hostkey_free();		/* an empty queue */
	hostkey_free();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_banner_hostile),
		cmocka_unit_test(test_results),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
