/*
 * fuzz_audit_write.c: peer strings (user names, commands, reasons) go into
 * audit records through jbuf's JSON escaping; every record built from any
 * bytes must parse back with audit_record_parse, to the same string when the
 * bytes are valid UTF-8.
 */
#include "fuzz.h"

#include "common/audit.h"
#include "common/jbuf.h"

/* RFC 3629 UTF-8 without controls (which jbuf escapes and the parser decodes back). */
static int
valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], need, cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
		else return 0;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

#define NVALS 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *vals[NVALS];
	int nv = 0;
	struct jbuf b;
	struct audit_record rec;
	const char *why = NULL;
	char key[16];

	/* values are the input's NUL-separated parts */
	for (size_t i = 0; nv < NVALS && i <= size;) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t n = nul ? (size_t)(nul - (data + i)) : size - i;
		vals[nv++] = fuzz_cstr(data + i, n);
		i += n + 1;
	}
	jbuf_init(&b, AUDIT_RECORD_MAX);
	jbuf_obj_begin(&b);
	jbuf_member_str(&b, "ts", "2026-11-30T10:00:00.000Z");
	jbuf_member_str(&b, "event", "fuzz");
	for (int i = 0; i < nv; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		jbuf_member_str(&b, key, vals[i]);
	}
	jbuf_member_str(&b, "prev", "0000000000000000000000000000000000000000000000000000000000000000");
	jbuf_obj_end(&b);
	if (!b.failed) {
		FUZZ_CHECK(memchr(b.data, '\n', b.len) == NULL);
		int r = audit_record_parse(b.data, b.len, &rec, &why);
		if (r != 0)
			fprintf(stderr, "record %.*s: %s\n", (int)b.len, b.data, why);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(rec.n == nv + 3);
		for (int i = 0; i < nv; i++) {
			const struct audit_field *f = &rec.f[i + 2];
			FUZZ_CHECK(f->is_string);
			size_t n = strlen(vals[i]);
			if (valid_utf8((const unsigned char *)vals[i], n))
				FUZZ_CHECK(f->vlen == n && memcmp(f->val, vals[i], n) == 0);
		}
		audit_record_clear(&rec);
	}
	jbuf_free(&b);
	for (int i = 0; i < nv; i++)
		free(vals[i]);
	return 0;
}
