/*
 * audit.h: the audit trail, one JSON object per line in <state>/audit.log,
 * each chained to the one before it by SHA-256; writing (outpostd and the
 * local `outpost` append to the same file), reading back and verifying.
 */
#ifndef OUTPOST_AUDIT_H
#define OUTPOST_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jbuf.h"

#define AUDIT_LOG_NAME		"audit.log"
#define AUDIT_RECORD_MAX	8192	/* one whole line, "prev" and newline included */
#define AUDIT_WRITE_MAX		(256 * 1024)	/* the writer thread's lines in one write(2) */
#define AUDIT_HASH_HEX		64	/* hex SHA-256 */
/* A "command" record keeps the words that fit in this many bytes; if any are
 * dropped it says "command_truncated":true and the full "command_bytes". */
#define AUDIT_COMMAND_MAX	1024

/*
 * outpostd queues records for a writer thread that owns the file, so a log
 * that cannot be written at once (another process holding its lock, a slow
 * disk) never stalls the event loop. The queue is bounded: from
 * AUDIT_QUEUE_MAX records waiting (AuditQueueMax in outpostd.conf), new
 * logins and connections are refused (audit_admit) until it drains; what is
 * already under way may queue up to AUDIT_QUEUE_HARD_FACTOR times that, and a
 * record past even that goes to the daemon's log in full, counted in an
 * audit-gap record. At close the queue is drained for up to AUDIT_DRAIN_MS.
 */
#define AUDIT_QUEUE_MAX		1024
#define AUDIT_QUEUE_HARD_FACTOR	2
#define AUDIT_DRAIN_MS		10000
/* What a refused login or connection is told. */
#define AUDIT_BUSY_REASON	"the audit log is not keeping up: new logins and connections are " \
				"refused until its records are written"

struct audit;

/*
 * Opens (creating, mode 0600, append-only, never through a symbolic link)
 * <state_dir>/audit.log. *out is NULL on failure (ERR_READONLY, ERR_IO,
 * ERR_TOOLONG, ERR_NOMEM; ERR_DENIED if audit.log is a symbolic link). The
 * caller frees with audit_close(), which first drains a writer thread's
 * queue (for up to AUDIT_DRAIN_MS; what is left then goes to the daemon's log).
 */
int audit_open(const char *state_dir, struct audit **out);
void audit_close(struct audit *a);	/* NULL is a no-op */

/* Also sends each record to syslog (LOG_AUTHPRIV | LOG_INFO) when on, as it is written. */
void audit_set_syslog(struct audit *a, bool on);

/*
 * The head of the chain: the log's last record. The store keeps one as the
 * anchor (store_audit_anchor_*), so that `outpost audit verify` can tell a
 * log cut at its end, emptied or rewritten from an intact one.
 */
struct audit_head {
	int64_t seq;			/* its line number: records in the log up to it; 0 = empty log */
	int64_t size;			/* bytes of the log up to and including its newline */
	char hash[AUDIT_HASH_HEX + 1];	/* hex SHA-256 of its line; zeros for seq 0 */
};

/*
 * Before the first record: the head as the store's anchor last saw it (NULL:
 * none, count the whole log). The first write checks that the log still
 * holds that record; if not, it appends an "audit-cut" record first.
 */
void audit_set_head(struct audit *a, const struct audit_head *h);
/*
 * The head after the records written since the last call, for the store's
 * anchor: true and *h set if it moved. *reset is true if the log had been cut
 * or rewritten (an audit-cut record was written): the anchor must then be
 * replaced even though its seq goes down. Thread-safe.
 */
bool audit_head_take(struct audit *a, struct audit_head *h, bool *reset);

/*
 * Starts the writer thread (outpostd): from now on audit_commit queues and
 * returns at once, and max (0: AUDIT_QUEUE_MAX) records waiting make
 * audit_admit refuse. Call after signals are blocked or routed; the thread
 * blocks all signals. ERR_INVAL if already started, ERR_NOMEM.
 */
int audit_start_writer(struct audit *a, size_t max);
/*
 * A handle for another thread of this process (outpostd's command workers):
 * its own record buffer for audit_begin, while audit_commit queues onto a's
 * writer thread, so the records join a's one chain and head. a must have a
 * writer thread; close every branch with audit_close before
 * audit_stop_writer(a). Only audit_begin, audit_commit and audit_close are
 * meant for a branch. 0, ERR_INVAL (no writer thread, or a is a branch),
 * ERR_NOMEM.
 */
int audit_branch(struct audit *a, struct audit **out);
/*
 * Drains the queue (for up to AUDIT_DRAIN_MS; then the rest goes to the
 * daemon's log) and ends the writer thread; later records are written
 * directly. audit_close does this too; call it first to take the final head.
 */
void audit_stop_writer(struct audit *a);

/*
 * May a new login or connection start? 0, or ERR_BUSY while the queue holds
 * its maximum: then refuse it with AUDIT_BUSY_REASON (fail closed). Each
 * refusal is counted; a warning is logged at most every 10 s, and once when
 * the queue drains. Always 0 without a writer thread. Thread-safe.
 */
int audit_admit(struct audit *a);

/*
 * Waits up to ms for the writer thread's queue to hold fewer than its
 * maximum: for a caller that queues many records at once and serves nobody
 * meanwhile (outpostd's shutdown: a disconnect record per session), so the
 * queue never reaches its hard limit, past which records go to the daemon's
 * log instead. True if there is room (always without a writer thread).
 */
bool audit_wait_room(struct audit *a, int ms);

/* For metrics (a snapshot; thread-safe). All zero for NULL. */
struct audit_stats {
	size_t depth;		/* records queued or being written now */
	size_t max;		/* the queue's limit (AuditQueueMax) */
	size_t peak;		/* the most ever queued at once */
	uint64_t written;	/* records the writer thread handled (appended, or sent to the log) */
	uint64_t refused;	/* logins and connections refused by audit_admit */
	uint64_t overflowed;	/* records past the hard limit: in the daemon's log only */
};
void audit_get_stats(struct audit *a, struct audit_stats *out);

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
 * With a writer thread the record is queued and this is done there, for
 * every record waiting at once: their lines, each chained onto the one
 * before, in one write(2) of at most AUDIT_WRITE_MAX bytes (a write that
 * fails or is short is cut off again, whole); without, here. If the log does not end in a newline (a crash mid-write), a newline
 * is written first: the broken tail stays visible to audit_verify as its own
 * line. Returns 0 (appended, or queued), ERR_TOOLONG (record over
 * AUDIT_RECORD_MAX, dropped whole) or ERR_IO (not appended: the record went to
 * the daemon's log in full, and an audit-gap record will say so; never fatal).
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

/*
 * Parses an ISO-8601 UTC time as records hold them (2026-11-21,
 * 2026-11-21T10:00:00Z or 2026-11-21T10:00:00.123Z; len bytes, untrusted)
 * into milliseconds since the epoch. Returns 0 or -1.
 */
int audit_time_parse(const char *s, size_t len, int64_t *out);

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
	bool anchored;		/* an anchor was given and checked */
	size_t anchor_seq;	/* its record */
};
/*
 * Checks the whole log: every line is a complete record (audit_record_parse)
 * and its prev is the hash of the line before it (zeros for line 1), and no
 * record is an "audit-cut" (a writer found the log cut or rewritten).
 * Returns 0 if the chain holds, ERR_INVAL at the first bad line (res says
 * which and why), ERR_IO if the file cannot be read (why says so).
 */
int audit_verify(const char *path, struct audit_verify_result *res);
/*
 * The same, and then against the store's anchor (NULL: none): the log must
 * still hold record anchor->seq, with anchor->hash. Fewer records means the
 * log was cut at its end (or emptied); another hash, that it was rewritten.
 * Records after the anchor are the ones written since it was last saved.
 */
int audit_verify_anchored(const char *path, const struct audit_head *anchor,
    struct audit_verify_result *res);

/*
 * A chain checked record by record, wherever its records come from
 * (audit.log's lines; the store's audit_records, one chain per node): start
 * with the store's anchor (NULL: none; kept by pointer until end) and the
 * word messages call one record ("line", "record"), add each record in
 * order, then end. add and end return 0, or ERR_INVAL with res.why and
 * res.bad_line set at the first fault (later adds then do nothing).
 */
struct audit_chain {
	const struct audit_head *anchor;
	const char *unit;
	char prev[AUDIT_HASH_HEX + 1];		/* hash of the last record added */
	char at_anchor[AUDIT_HASH_HEX + 1];
	struct audit_verify_result res;
};
void audit_chain_start(struct audit_chain *ch, const struct audit_head *anchor, const char *unit);
int audit_chain_add(struct audit_chain *ch, const char *line, size_t len);
/* A fault the caller found itself (a missing record, a hash column that lies): the chain is bad at the next record. */
void audit_chain_fail(struct audit_chain *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int audit_chain_end(struct audit_chain *ch);

/*
 * Walks the complete lines (ending in a newline) of the log at path from
 * byte offset from (the start of a line), calling cb with each line (without
 * its newline; only its first AUDIT_RECORD_MAX bytes if overlong) and the
 * offset just past its newline. A torn last line is left out. A non-zero
 * return from cb stops the walk and is returned; ERR_IO if the file cannot
 * be read.
 */
typedef int (*audit_line_cb)(void *arg, const char *line, size_t len, bool overlong, int64_t end);
int audit_read_lines(const char *path, int64_t from, audit_line_cb cb, void *arg);
/*
 * True if the log at path holds record h->seq with h->hash, ending at byte
 * h->size: the chain h anchors is this log's (reads the log up to there).
 */
bool audit_log_holds(const char *path, const struct audit_head *h);

#endif
