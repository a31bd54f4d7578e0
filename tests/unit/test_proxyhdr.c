/* test_proxyhdr.c: PROXY protocol v2 headers (hostile first: truncated, wrong signature, v1, AF_UNIX, over-long, TLVs past the end) and the ProxyProtocol list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "server/proxyhdr.h"

static const uint8_t SIG[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A header: ver_cmd, family, then len bytes of payload from pl. */
static size_t
mk(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *pl, size_t len)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (len > 0 && pl != NULL)
		memcpy(out + 16, pl, len);
	return 16 + len;
}

static const uint8_t V4[12] = { 127, 0, 3, 5, 127, 0, 0, 1, 0xd4, 0x31, 0x00, 0x16 };	/* :54321 -> :22 */

static void
test_truncated(void **state)
{
	uint8_t b[64];
	struct proxyhdr h;
	size_t n = mk(b, 0x21, 0x11, V4, sizeof(V4));

	(void)state;
	for (size_t k = 1; k < n; k++) {
		assert_int_equal(proxyhdr_parse(b, k, &h), 0);
		assert_true(proxyhdr_want(b, k) > 0);
		assert_true(k + proxyhdr_want(b, k) <= n);	/* never reads past the header */
	}
	assert_int_equal(proxyhdr_want(b, n), 0);
}

static void
test_wrong_signature(void **state)
{
	uint8_t b[64];
	struct proxyhdr h;

	(void)state;
	size_t n = mk(b, 0x21, 0x11, V4, sizeof(V4));
	for (size_t i = 0; i < 12; i++) {
		b[i] ^= 0x20;
		assert_int_equal(proxyhdr_parse(b, n, &h), ERR_INVAL);
		assert_int_equal(proxyhdr_parse(b, i + 1, &h), ERR_INVAL);	/* refused as soon as seen */
		b[i] ^= 0x20;
	}
	assert_int_equal(proxyhdr_parse((const uint8_t *)"SSH-2.0-OpenSSH_9.2\r\n", 21, &h), ERR_INVAL);
	assert_int_equal(proxyhdr_parse((const uint8_t *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, &h), ERR_INVAL);
	assert_false(proxyhdr_looks_like((const uint8_t *)"S", 1));
	assert_true(proxyhdr_looks_like((const uint8_t *)"PROX", 4));
	assert_true(proxyhdr_looks_like(b, 1));
}

static void
test_bad_version_command(void **state)
{
	uint8_t b[64];
	struct proxyhdr h;

	(void)state;
	size_t n = mk(b, 0x11, 0x11, V4, sizeof(V4));	/* version 1 in binary */
	assert_int_equal(proxyhdr_parse(b, n, &h), ERR_INVAL);
	assert_int_equal(proxyhdr_parse(b, 13, &h), ERR_INVAL);
	n = mk(b, 0x31, 0x11, V4, sizeof(V4));
	assert_int_equal(proxyhdr_parse(b, n, &h), ERR_INVAL);
	n = mk(b, 0x22, 0x11, V4, sizeof(V4));	/* command 2 */
	assert_int_equal(proxyhdr_parse(b, n, &h), ERR_INVAL);
}

static void
test_bad_family(void **state)
{
	uint8_t b[300], pl[216];
	struct proxyhdr h;

	(void)state;
	memset(pl, 'a', sizeof(pl));
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x31, pl, 216), &h), ERR_INVAL);	/* AF_UNIX stream */
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x32, pl, 216), &h), ERR_INVAL);
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x12, V4, 12), &h), ERR_INVAL);	/* UDP */
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x00, NULL, 0), &h), ERR_INVAL);	/* PROXY, UNSPEC */
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x11, V4, 11), &h), ERR_INVAL);	/* short address */
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x21, pl, 35), &h), ERR_INVAL);
}

static void
test_overlong(void **state)
{
	uint8_t b[PROXYHDR_MAX + 64];
	struct proxyhdr h;

	(void)state;
	mk(b, 0x21, 0x11, V4, sizeof(V4));
	b[14] = 0xff;
	b[15] = 0xff;
	assert_int_equal(proxyhdr_parse(b, 16, &h), ERR_INVAL);
	assert_int_equal(proxyhdr_want(b, 16), 0);
	b[14] = (uint8_t)((PROXYHDR_MAX - 15) >> 8);
	b[15] = (uint8_t)(PROXYHDR_MAX - 15);
	assert_int_equal(proxyhdr_parse(b, 16, &h), ERR_INVAL);
}

static void
test_tlv_past_end(void **state)
{
	uint8_t b[128], pl[40];
	struct proxyhdr h;

	(void)state;
	memcpy(pl, V4, 12);
	pl[12] = 0x04; pl[13] = 0x00; pl[14] = 0x05;	/* NOOP, 5 bytes, only 2 there */
	pl[15] = 0; pl[16] = 0;
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x11, pl, 17), &h), ERR_INVAL);
	assert_int_equal(proxyhdr_parse(b, mk(b, 0x21, 0x11, pl, 14), &h), ERR_INVAL);	/* half a TLV header */
	pl[14] = 0x02;
	int r = proxyhdr_parse(b, mk(b, 0x21, 0x11, pl, 17), &h);	/* fits exactly: skipped */
	assert_int_equal(r, 16 + 17);
	assert_string_equal(h.ip, "127.0.3.5");
}

static void
test_valid(void **state)
{
	uint8_t b[128], v6[36];
	struct proxyhdr h;

	(void)state;
	size_t n = mk(b, 0x21, 0x11, V4, sizeof(V4));
	memcpy(b + n, "SSH-2.0-x\r\n", 11);	/* what follows is not the header's */
	assert_int_equal(proxyhdr_parse(b, n + 11, &h), (int)n);
	assert_false(h.local);
	assert_string_equal(h.ip, "127.0.3.5");
	assert_int_equal(h.port, 54321);

	memset(v6, 0, sizeof(v6));
	v6[15] = 1;		/* ::1 */
	v6[32] = 0x01; v6[33] = 0xbb;
	n = mk(b, 0x21, 0x21, v6, sizeof(v6));
	assert_int_equal(proxyhdr_parse(b, n, &h), (int)n);
	assert_string_equal(h.ip, "::1");
	assert_int_equal(h.port, 443);

	n = mk(b, 0x20, 0x00, NULL, 0);	/* LOCAL: a health check */
	assert_int_equal(proxyhdr_parse(b, n, &h), 16);
	assert_true(h.local);
	n = mk(b, 0x20, 0x11, V4, sizeof(V4));
	assert_int_equal(proxyhdr_parse(b, n, &h), (int)n);
	assert_true(h.local);
	assert_string_equal(h.ip, "");
}

static void
test_allow(void **state)
{
	struct proxy_allow a;
	char why[200];

	(void)state;
	assert_int_equal(proxy_allow_parse("", &a, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(proxy_allow_parse("haproxy.example", &a, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "haproxy.example"));
	assert_int_equal(proxy_allow_parse("10.0.0.0/33", &a, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(proxy_allow_parse("10.0.0.0/", &a, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(proxy_allow_parse("10.0.0.0/-1", &a, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(proxy_allow_parse("::1/129", &a, why, sizeof(why)), ERR_CONFIG);
	assert_int_equal(proxy_allow_parse("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", &a, why, sizeof(why)),
	    ERR_CONFIG);

	assert_int_equal(proxy_allow_parse("127.0.0.1 10.1.0.0/16, fd00::/8", &a, why, sizeof(why)), 0);
	assert_int_equal(a.n, 3);
	assert_true(proxy_allow_match(&a, "127.0.0.1"));
	assert_false(proxy_allow_match(&a, "127.0.0.2"));
	assert_true(proxy_allow_match(&a, "10.1.255.3"));
	assert_false(proxy_allow_match(&a, "10.2.0.1"));
	assert_true(proxy_allow_match(&a, "fd12::1"));
	assert_false(proxy_allow_match(&a, "fe80::1"));
	assert_false(proxy_allow_match(&a, "garbage"));
	assert_int_equal(proxy_allow_parse("10.0.0.0/9", &a, why, sizeof(why)), 0);
	assert_true(proxy_allow_match(&a, "10.127.0.1"));
	assert_false(proxy_allow_match(&a, "10.128.0.1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_signature),
		cmocka_unit_test(test_bad_version_command),
		cmocka_unit_test(test_bad_family),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_tlv_past_end),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_allow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
