/* jbuf.h: a growable byte buffer with a hard cap, and JSON object building on top of it. */
#ifndef OUTPOST_JBUF_H
#define OUTPOST_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *data;		/* owned; NUL-terminated when len > 0 */
	size_t len;
	size_t cap;		/* allocated */
	size_t limit;		/* hard cap on len; appends past it fail */
	bool failed;		/* an append failed (memory or limit) */
	bool need_comma;	/* JSON: a member was written in this object */
};

/* Initializes an empty buffer that may grow up to limit bytes. */
void jbuf_init(struct jbuf *b, size_t limit);
/* Frees the data; the struct may be reused after jbuf_init. */
void jbuf_free(struct jbuf *b);
/* Appends raw bytes; returns 0 or ERR_NOMEM / ERR_TOOLONG (and sets failed). */
int jbuf_add(struct jbuf *b, const void *p, size_t n);
int jbuf_addf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (consumed by a writer). */
void jbuf_consume(struct jbuf *b, size_t n);

/* JSON: jbuf_obj_begin, then members, then jbuf_obj_end. Strings are escaped
 * (control bytes as \u00XX, invalid UTF-8 bytes likewise, and the C1 controls
 * U+0080-U+009F and bidi controls as \uXXXX: printed, they would act on a
 * terminal or reorder the line). */
void jbuf_obj_begin(struct jbuf *b);
void jbuf_obj_end(struct jbuf *b);
void jbuf_member_str(struct jbuf *b, const char *key, const char *val);	/* NULL -> null */
void jbuf_member_int(struct jbuf *b, const char *key, int64_t val);
void jbuf_member_bool(struct jbuf *b, const char *key, bool val);
/* Appends val as a JSON string literal (with quotes). */
void jbuf_json_string(struct jbuf *b, const char *val);

#endif
