/* test_pubkey.c: OpenSSH public key lines, hostile inputs first, then keys made by ssh-keygen at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/limits.h"
#include "ssh/pubkey.h"
#include "testutil.h"

static char *dir;	/* generated keys live here for the whole group */
static char ed_line[1024], rsa_line[4096], ec_line[1024], ec384_line[1024];

static void
read_first_line(const char *name, char *dst, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	char *s = tu_slurp(path);
	assert_non_null(s);
	s[strcspn(s, "\n")] = '\0';
	snprintf(dst, len, "%s", s);
	free(s);
}

static int
group_setup(void **state)
{
	if ((dir = tu_mkdtemp()) == NULL)
		return -1;
	if (tu_keygen(dir, "ed", "ed25519") != 0 || tu_keygen(dir, "rsa", "rsa") != 0 ||
	    tu_keygen(dir, "ec", "ecdsa") != 0)
		return -1;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ecdsa -b 384 -N '' -f '%s/ec384' >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		return -1;
	read_first_line("ed", ed_line, sizeof(ed_line));
	read_first_line("rsa", rsa_line, sizeof(rsa_line));
	read_first_line("ec", ec_line, sizeof(ec_line));
	read_first_line("ec384", ec384_line, sizeof(ec384_line));
	return 0;
}

static int
group_teardown(void **state)
{
	tu_rmrf(dir);
	free(dir);
	return 0;
}

/* The base64 word of a key line, copied. */
static char *
blob_of(const char *line)
{
	const char *s = strchr(line, ' ') + 1;
	return strndup(s, strcspn(s, " "));
}

/* Asserts that a line is refused with code and leaves out cleared. */
static void
refuse(const char *line, int code)
{
	struct pubkey k;

	memset(&k, 'x', sizeof(k));
	int r = pubkey_parse_line(line, &k);
	if (r != code)
		fail_msg("line '%.60s' gave %d, want %d", line ? line : "(null)", r, code);
	assert_null(k.blob);
	assert_null(k.comment);
	assert_string_equal(k.fp, "");
}

static void
test_garbage(void **state)
{
	refuse(NULL, ERR_KEY);
	refuse("", ERR_KEY);
	refuse("   ", ERR_KEY);
	refuse("ssh-ed25519", ERR_KEY);
	refuse("ssh-ed25519 ", ERR_KEY);
	refuse("ssh-ed25519 !!!!notbase64!!!!", ERR_KEY);
	refuse("ssh-ed25519 AAAA", ERR_KEY);
	refuse("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIA", ERR_KEY);
	refuse("-----BEGIN OPENSSH PRIVATE KEY-----", ERR_KEY);
	refuse("restrict,command=\"/bin/sh\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", ERR_KEY);
	/* a type word longer than PUBKEY_TYPE_MAX */
	char longtype[200];
	memset(longtype, 'a', sizeof(longtype) - 1);
	longtype[sizeof(longtype) - 1] = '\0';
	refuse(longtype, ERR_KEY);
}

static void
test_truncated(void **state)
{
	char line[1024];
	size_t n = strlen(ed_line);
	const char *sp2 = strchr(strchr(ed_line, ' ') + 1, ' ');
	size_t blob_end = sp2 ? (size_t)(sp2 - ed_line) : n;

	/* cut the blob at every length short of whole */
	for (size_t cut = strlen("ssh-ed25519 "); cut < blob_end; cut += 3) {
		memcpy(line, ed_line, cut);
		line[cut] = '\0';
		refuse(line, ERR_KEY);
	}
}

static void
test_type_mismatch(void **state)
{
	char line[4200];
	char *ed = blob_of(ed_line), *ec = blob_of(ec_line), *ec384 = blob_of(ec384_line);

	snprintf(line, sizeof(line), "ssh-rsa %s", ed);
	refuse(line, ERR_KEY);
	snprintf(line, sizeof(line), "ecdsa-sha2-nistp256 %s", ed);
	refuse(line, ERR_KEY);
	snprintf(line, sizeof(line), "ecdsa-sha2-nistp384 %s", ec);
	refuse(line, ERR_KEY);
	snprintf(line, sizeof(line), "ecdsa-sha2-nistp256 %s", ec384);
	refuse(line, ERR_KEY);
	snprintf(line, sizeof(line), "ssh-ed25519 %s", ec);
	refuse(line, ERR_KEY);
	snprintf(line, sizeof(line), "ssh-ed25519-cert-v01@openssh.com %s", ed);
	refuse(line, ERR_KEY);
	free(ed);
	free(ec);
	free(ec384);
}

/* A valid blob with bytes appended is not the same key. */
static void
test_trailing_bytes_in_blob(void **state)
{
	char *b64 = blob_of(ed_line);
	unsigned char raw[512], more[600];
	char enc[1024], line[1200];
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64));

	assert_true(n > 0);
	while (n > 0 && raw[n - 1] == 0 && (strlen(b64) % 4 == 0) && b64[strlen(b64) - 1] == '=')
		n--;	/* DecodeBlock counts padding as zero bytes */
	memcpy(more, raw, (size_t)n);
	memcpy(more + n, "junk", 4);
	EVP_EncodeBlock((unsigned char *)enc, more, n + 4);
	snprintf(line, sizeof(line), "ssh-ed25519 %s", enc);
	refuse(line, ERR_KEY);
	free(b64);
}

static void
test_overlong(void **state)
{
	char *line = malloc(LIM_KEYLINE + 100);

	assert_non_null(line);
	snprintf(line, LIM_KEYLINE + 100, "%s ", ed_line);
	size_t n = strlen(line);
	memset(line + n, 'c', LIM_KEYLINE + 10 - n);
	line[LIM_KEYLINE + 10] = '\0';
	refuse(line, ERR_TOOLONG);

	/* the same through a stream */
	struct pubkey k;
	FILE *f = fmemopen(line, strlen(line), "r");
	assert_int_equal(pubkey_read_stream(f, &k), ERR_TOOLONG);
	fclose(f);
	/* exactly at the limit is fine */
	line[LIM_KEYLINE] = '\0';
	assert_int_equal(pubkey_parse_line(line, &k), 0);
	char *b = blob_of(ed_line);
	assert_int_equal(strlen(k.comment), LIM_KEYLINE - strlen("ssh-ed25519 ") - strlen(b) - 1);
	free(b);
	pubkey_clear(&k);
	free(line);
}

static void
test_nul_in_stream(void **state)
{
	char buf[1200];
	struct pubkey k;
	size_t n = strlen(ed_line);

	/* a NUL after the blob: the visible prefix is a valid key, the line is not */
	memcpy(buf, ed_line, n);
	buf[n] = '\0';
	memcpy(buf + n + 1, "evil\n", 5);
	FILE *f = fmemopen(buf, n + 6, "r");
	assert_int_equal(pubkey_read_stream(f, &k), ERR_KEY);
	assert_null(k.blob);
	fclose(f);
	/* NUL at the start */
	buf[0] = '\0';
	f = fmemopen(buf, n + 6, "r");
	assert_int_equal(pubkey_read_stream(f, &k), ERR_KEY);
	fclose(f);
	/* empty stream, and only comments */
	f = fmemopen((char *)"# nothing\n\n   \n", 15, "r");
	assert_int_equal(pubkey_read_stream(f, &k), ERR_KEY);
	fclose(f);
	assert_int_equal(pubkey_read_stream(NULL, &k), ERR_KEY);
}

static void
test_files(void **state)
{
	struct pubkey k;
	char path[512];

	assert_int_equal(pubkey_read_file("/nonexistent/x.pub", &k), ERR_IO);
	snprintf(path, sizeof(path), "%s/ed", dir);	/* the private key */
	assert_int_equal(pubkey_read_file(path, &k), ERR_KEY);
	assert_int_equal(pubkey_read_file(dir, &k), ERR_KEY);	/* a directory */
	snprintf(path, sizeof(path), "%s/ed.pub", dir);
	assert_int_equal(pubkey_read_file(path, &k), 0);
	assert_string_equal(k.type, "ssh-ed25519");
	assert_string_equal(k.comment, "test ed");
	pubkey_clear(&k);
	pubkey_clear(&k);	/* twice is safe */
	pubkey_clear(NULL);
}

/* Each generated key parses, and its fingerprint is what ssh-keygen -l says. */
static void
check_key(const char *name, const char *line, const char *type)
{
	struct pubkey k;
	char fp[128];

	assert_int_equal(tu_fingerprint(dir, name, fp, sizeof(fp)), 0);
	assert_int_equal(pubkey_parse_line(line, &k), 0);
	assert_string_equal(k.type, type);
	assert_string_equal(k.fp, fp);
	char *b = blob_of(line);
	assert_string_equal(k.blob, b);
	free(b);
	pubkey_clear(&k);
}

static void
test_real_keys(void **state)
{
	check_key("ed", ed_line, "ssh-ed25519");
	check_key("rsa", rsa_line, "ssh-rsa");
	check_key("ec", ec_line, "ecdsa-sha2-nistp256");
	check_key("ec384", ec384_line, "ecdsa-sha2-nistp384");
}

static void
test_stream_skips_comments_and_crlf(void **state)
{
	char buf[1400];
	struct pubkey k;

	snprintf(buf, sizeof(buf), "# my key\n\n   \n  %s\r\n", ed_line);
	FILE *f = fmemopen(buf, strlen(buf), "r");
	assert_int_equal(pubkey_read_stream(f, &k), 0);
	fclose(f);
	assert_string_equal(k.type, "ssh-ed25519");
	assert_string_equal(k.comment, "test ed");	/* no \r */
	pubkey_clear(&k);

	/* a key line without a trailing newline, and tabs between words */
	char *b = blob_of(ed_line);
	snprintf(buf, sizeof(buf), "ssh-ed25519\t%s\tx y", b);
	free(b);
	f = fmemopen(buf, strlen(buf), "r");
	assert_int_equal(pubkey_read_stream(f, &k), 0);
	fclose(f);
	assert_string_equal(k.comment, "x y");
	pubkey_clear(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_type_mismatch),
		cmocka_unit_test(test_trailing_bytes_in_blob),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_nul_in_stream),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_real_keys),
		cmocka_unit_test(test_stream_skips_comments_and_crlf),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
