/*
 * fuzz_audit.c: the audit log reader: one record (audit_record_parse on an
 * exact-size line), and the whole file through audit_verify and audit_read
 * (what `outpost audit` and `audit verify` run on a possibly damaged log).
 */
#include "fuzz.h"

#include "common/audit.h"
#include "common/err.h"

static int
count_cb(void *arg, const struct audit_record *rec)
{
	FUZZ_CHECK(rec->n >= 3);
	FUZZ_CHECK(audit_record_get(rec, "ts") != NULL);
	FUZZ_CHECK(audit_record_get(rec, "event") != NULL);
	FUZZ_CHECK(audit_record_get(rec, "prev") != NULL);
	(*(size_t *)arg)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_record rec;
	struct audit_verify_result res;
	const char *why = NULL;
	size_t n = 0;

	/* the first line on its own, in an allocation of exactly its length */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	char *line = fuzz_exact(data, len);
	if (audit_record_parse(line, len, &rec, &why) == 0) {
		FUZZ_CHECK(rec.n >= 3);
		const struct audit_field *prev = audit_record_get(&rec, "prev");
		FUZZ_CHECK(prev != NULL && prev->is_string && prev->vlen == AUDIT_HASH_HEX);
		for (int i = 0; i < rec.n; i++)
			FUZZ_CHECK(rec.f[i].key != NULL && rec.f[i].val != NULL);
	} else
		FUZZ_CHECK(why != NULL);
	audit_record_clear(&rec);
	free(line);

	const char *path = fuzz_file("audit.log", data, size);
	memset(&res, 0, sizeof(res));
	int r = audit_verify(path, &res);
	FUZZ_CHECK(r == 0 || r == ERR_INVAL);
	FUZZ_CHECK(memchr(res.why, '\0', sizeof(res.why)) != NULL);
	if (r == ERR_INVAL)
		FUZZ_CHECK(res.bad_line >= 1 && res.why[0] != '\0');
	FUZZ_CHECK(audit_read(path, count_cb, &n) == 0);
	if (r == 0)
		FUZZ_CHECK(n == res.records);
	return 0;
}
