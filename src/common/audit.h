/*
 * audit.h: the audit trail, one JSON object per line in <state>/audit.log,
 * each chained to the one before it by SHA-256; writing (outpostd and the
 * local `outpost` append to the same file), reading back and verifying.
 */
#ifndef OUTPOST_AUDIT_H
#define OUTPOST_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/jbuf.h"

#define AUDIT_LOG_NAME		"audit.log"
#define AUDIT_RECORD_MAX	8192	/* one whole line, "prev" and newline included */
#define AUDIT_HASH_HEX		64	/* hex SHA-256 */
/* A "command" record keeps the words that fit in this many bytes; if any are
 * dropped it says "command_truncated":true and the full "command_bytes". */
#define AUDIT_COMMAND_MAX	1024

struct audit;

/*
 * Opens (creating, mode 0600, append-only) <state_dir>/audit.log. *out is
 * NULL on failure (ERR_READONLY, ERR_IO, ERR_TOOLONG, ERR_NOMEM). The caller
 * frees with audit_close().
 */
int audit_open(const char *state_dir, struct audit **out);
void audit_close(struct audit *a);	/* NULL is a no-op */

/* Also sends each record to syslog (LOG_AUTHPRIV | LOG_INFO) when on. */
void audit_set_syslog(struct audit *a, bool on);

/*
 * Starts a record: returns a buffer (owned by a, valid until the next
 * audit_begin) holding `{"ts":...,"event":"<event>"` to which the caller adds
 * members with jbuf_member_*, then calls audit_commit(). a may be NULL: the
 * record then goes nowhere and audit_commit(NULL) returns ERR_INVAL.
 */
struct jbuf *audit_begin(struct audit *a, const char *event);
/*
 * Adds "command": the words of argv joined by spaces, as many whole words as
 * fit in AUDIT_COMMAND_MAX bytes; if any are dropped, also
 * "command_truncated":true and "command_bytes" (the whole line's length).
 */
void audit_member_command(struct jbuf *b, char *const *argv, int argc);

/*
 * Finishes the record with `"prev":"<hex SHA-256 of the previous line>"`
 * (64 zeros for the first record of an empty log) and appends it with one
 * write(2) under flock(LOCK_EX), so several processes may append to one log.
 * If the log does not end in a newline (a crash mid-write), a newline is
 * written first: the broken tail stays visible to audit_verify as its own
 * line. Returns 0, ERR_TOOLONG (record over AUDIT_RECORD_MAX, dropped whole)
 * or ERR_IO (logged, never fatal).
 */
int audit_commit(struct audit *a);

/* ---- reading back (audit-read.c) ---- */

/* One member of a record. */
struct audit_field {
	char *key;		/* decoded; a key holding \u0000 makes the record invalid */
	char *val;		/* decoded string (may hold NULs: use vlen), or the raw
				 * JSON text of any other value; NUL-terminated */
	size_t vlen;
	bool is_string;
};

/* One parsed record. Owned by whoever parsed it; audit_record_clear frees it. */
struct audit_record {
	size_t line;		/* 1-based line number in the log */
	const char *raw;	/* the line itself, without newline (valid during a callback) */
	size_t rawlen;
	struct audit_field *f;
	int n;
};

/*
 * Parses one line (len bytes, untrusted) as a JSON object with string members
 * "ts" and "event" and a last member "prev" of 64 lower-case hex digits.
 * Returns 0, or ERR_INVAL with a static reason in *why. rec is cleared on
 * entry; free it with audit_record_clear().
 */
int audit_record_parse(const char *line, size_t len, struct audit_record *rec, const char **why);
void audit_record_clear(struct audit_record *rec);	/* NULL is a no-op */
/* The member named key, or NULL. */
const struct audit_field *audit_record_get(const struct audit_record *rec, const char *key);

/* Lower-case hex SHA-256 of len bytes into hex (AUDIT_HASH_HEX + 1 bytes). */
void audit_hash_hex(const void *p, size_t len, char *hex);

/*
 * Walks the log at path, calling cb for each record that parses (bad lines
 * are skipped; audit_verify reports them). A non-zero return from cb stops
 * the walk and is returned. ERR_IO if the file cannot be read.
 */
typedef int (*audit_record_cb)(void *arg, const struct audit_record *rec);
int audit_read(const char *path, audit_record_cb cb, void *arg);

struct audit_verify_result {
	size_t records;		/* complete, chained records before the first bad line */
	size_t bad_line;	/* 1-based; 0 if none */
	char why[192];		/* "line 17: prev does not match line 16" */
};
/*
 * Checks the whole log: every line is a complete record (audit_record_parse)
 * and its prev is the hash of the line before it (zeros for line 1).
 * Returns 0 if the chain holds, ERR_INVAL at the first bad line (res says
 * which and why), ERR_IO if the file cannot be read (why says so).
 */
int audit_verify(const char *path, struct audit_verify_result *res);

#endif
