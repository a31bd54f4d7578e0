/*
 * audit.c: appending hash-chained JSON-lines records to audit.log, queued
 * for a writer thread in outpostd (so a stalled log never stalls routing)
 * and written directly by the CLI; the head of the chain for the store's
 * anchor.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/audit.h"
#include "common/token.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "common/log.h"

/* `,"prev":"<64 hex>"}` and the newline, reserved at the end of every record. */
#define PREV_SUFFIX_LEN		(sizeof(",\"prev\":\"\"}\n") - 1 + AUDIT_HASH_HEX)
#define TAIL_CHUNK		8192
#define REFUSE_WARN_MS		10000	/* "refusing" is logged at most this often */
#define LOCK_POLL_MAX_MS	50	/* the writer retries a held lock at most this far apart */

/* A record waiting for the writer thread: its body, without "prev" and "}". */
struct queued {
	struct queued *next;
	size_t len;
	char body[];
};

struct audit {
	struct audit *trunk;		/* a branch (audit_branch): records go to trunk's queue */
	int fd;
	struct jbuf rec;		/* the record being built (audit_begin) */
	bool syslog;

	/* The writer's own state: the writer thread's once it runs, else the caller's. */
	struct audit_head head;		/* the last record of the log as we know it */
	bool head_known;		/* false: count the whole log at the next write */
	bool head_checked;		/* head came from our own writes, not from the store */
	struct jbuf line;		/* the line being written */
	struct jbuf run;		/* the writer thread's lines of one write(2) */
	unsigned long lost;		/* records not appended since the log last took one */
	char lost_since[40];		/* ts of the first of them */
	char lost_why[80];
	bool wrote, cut;		/* since the head was last published */

	/* Shared between the loop and the writer thread, under mu. */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* records queued, or stop */
	pthread_cond_t progress;	/* records written (close waits on it) */
	struct queued *first, **last;
	size_t depth;			/* queued or being written */
	size_t max;			/* new logins and routes refused from this depth */
	bool stop, abandon;
	struct audit_stats stats;
	unsigned long overflow;		/* dropped past the hard limit, for the writer's gap record */
	char overflow_since[40];
	struct audit_head published;	/* head after the last batch, for the store */
	bool published_new, published_reset;
	int64_t refuse_warned_ms;
	bool refusing;			/* refused since the queue last drained */
};

/* A record for a NULL handle goes here and is never written. */
static struct jbuf discard;

void
audit_hash_hex(const void *p, size_t len, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		memset(hex, '?', AUDIT_HASH_HEX);	/* never matches: verify reports it */
		hex[AUDIT_HASH_HEX] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int
audit_open(const char *state_dir, struct audit **out)
{
	char path[PATH_MAX];
	struct audit *a;
	int e;

	*out = NULL;
	if (state_dir == NULL ||
	    snprintf(path, sizeof(path), "%s/" AUDIT_LOG_NAME, state_dir) >= (int)sizeof(path))
		return ERR_TOOLONG;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERR_NOMEM;
	/* O_RDWR: the last line is read back to chain onto another writer's record.
	 * O_NOFOLLOW: a symbolic link planted as audit.log is refused, not followed. */
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		e = errno;
		free(a);
		return e == EROFS || e == EACCES ? ERR_READONLY : e == ELOOP ? ERR_DENIED : ERR_IO;
	}
	jbuf_init(&a->rec, AUDIT_RECORD_MAX - PREV_SUFFIX_LEN);
	jbuf_init(&a->line, AUDIT_RECORD_MAX);
	jbuf_init(&a->run, AUDIT_WRITE_MAX);
	a->first = NULL;
	a->last = &a->first;
	a->max = AUDIT_QUEUE_MAX;
	*out = a;
	return 0;
}

int
audit_branch(struct audit *a, struct audit **out)
{
	struct audit *b;

	*out = NULL;
	if (a == NULL || a->trunk != NULL || !a->threaded)
		return ERR_INVAL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ERR_NOMEM;
	b->trunk = a;
	b->fd = -1;
	jbuf_init(&b->rec, AUDIT_RECORD_MAX - PREV_SUFFIX_LEN);
	*out = b;
	return 0;
}

void
audit_set_syslog(struct audit *a, bool on)
{
	if (a != NULL)
		a->syslog = on;
}

void
audit_set_head(struct audit *a, const struct audit_head *h)
{
	if (a == NULL || a->threaded)
		return;
	if (h == NULL) {
		a->head_known = false;
		return;
	}
	a->head = *h;
	a->head.hash[AUDIT_HASH_HEX] = '\0';
	a->head_known = true;
	a->head_checked = false;
}

/* "2026-11-30T10:00:00.000Z" now. */
static void
now_stamp(char *stamp, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), len - strlen(stamp), ".%03ldZ", ts.tv_nsec / 1000000);
}

struct jbuf *
audit_begin(struct audit *a, const char *event)
{
	struct jbuf *b = a != NULL ? &a->rec : &discard;
	char stamp[40];

	now_stamp(stamp, sizeof(stamp));
	jbuf_free(b);
	/* Room for the prev member is kept back until the record is written. */
	jbuf_init(b, AUDIT_RECORD_MAX - PREV_SUFFIX_LEN);
	jbuf_obj_begin(b);
	jbuf_member_str(b, "ts", stamp);
	jbuf_member_str(b, "event", event);
	return b;
}

void
audit_member_command(struct jbuf *b, char *const *argv, int argc)
{
	struct jbuf line;
	size_t full = 0;

	jbuf_init(&line, AUDIT_COMMAND_MAX);
	for (int i = 0; i < argc && argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]);
		full += (i > 0) + n;
		if (line.failed || line.len + (i > 0) + n > AUDIT_COMMAND_MAX) {
			line.failed = true;	/* a later, shorter word must not fill the gap */
			continue;
		}
		if (i > 0)
			jbuf_add(&line, " ", 1);
		jbuf_add(&line, argv[i], n);
	}
	jbuf_member_str(b, "command", line.data != NULL ? line.data : "");
	if (line.failed) {
		jbuf_member_bool(b, "command_truncated", true);
		jbuf_member_int(b, "command_bytes", (int64_t)full);
	}
	jbuf_free(&line);
}

/* ---- the file ---- */

/* Reads exactly n bytes at off. */
static int
read_at(int fd, void *buf, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, buf, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return ERR_IO;
		buf = (char *)buf + k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/* Offset where the line ending just before end starts (end is after its newline). */
static int
line_start(int fd, off_t end, off_t *start)
{
	char buf[TAIL_CHUNK];
	off_t pos = end - 1;	/* the newline itself */

	while (pos > 0) {
		size_t n = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
		if (read_at(fd, buf, n, pos - (off_t)n) != 0)
			return ERR_IO;
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				*start = pos - (off_t)n + (off_t)i;
				return 0;
			}
		pos -= (off_t)n;
	}
	*start = 0;
	return 0;
}

/* Hashes bytes [start, end) of the file into hex. */
static int
hash_range(int fd, off_t start, off_t end, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[TAIL_CHUNK];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : ERR_NOMEM;

	while (r == 0 && start < end) {
		size_t n = end - start < (off_t)sizeof(buf) ? (size_t)(end - start) : sizeof(buf);
		if ((r = read_at(fd, buf, n, start)) == 0 && EVP_DigestUpdate(ctx, buf, n) != 1)
			r = ERR_NOMEM;
		start += (off_t)n;
	}
	if (r == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32))
		r = ERR_NOMEM;
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; r == 0 && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (r == 0)
		hex[AUDIT_HASH_HEX] = '\0';
	return r;
}

/* Newlines in bytes [start, end) of the file. */
static int
count_lines(int fd, off_t start, off_t end, int64_t *n)
{
	char buf[TAIL_CHUNK];

	*n = 0;
	while (start < end) {
		size_t k = end - start < (off_t)sizeof(buf) ? (size_t)(end - start) : sizeof(buf);
		if (read_at(fd, buf, k, start) != 0)
			return ERR_IO;
		for (size_t i = 0; i < k; i++)
			*n += buf[i] == '\n';
		start += (off_t)k;
	}
	return 0;
}

/*
 * Writes all n bytes at the end of the file (which is size bytes long) with
 * one write(2). A short write (a full disk) is cut off again, so the log
 * never keeps half a record; errno then says ENOSPC.
 */
static int
write_once(int fd, const void *p, size_t n, off_t size)
{
	ssize_t k;

	do
		k = write(fd, p, n);
	while (k < 0 && errno == EINTR);
	if (k == (ssize_t)n)
		return 0;
	if (k >= 0) {
		if (ftruncate(fd, size) != 0)
			log_error("audit: cannot cut off a partly written record: %s", strerror(errno));
		errno = ENOSPC;
	}
	return ERR_IO;
}

/* True if the line ending at h->size (newline included) is the record h names. */
static bool
holds_head(int fd, off_t size, const struct audit_head *h)
{
	char last, hex[AUDIT_HASH_HEX + 1];
	off_t start;

	if (h->size == 0)
		return h->seq == 0;
	if (h->size > size || read_at(fd, &last, 1, h->size - 1) != 0 || last != '\n')
		return false;
	if (line_start(fd, h->size, &start) != 0 || hash_range(fd, start, h->size - 1, hex) != 0)
		return false;
	return strcmp(hex, h->hash) == 0;
}

/* Sets head to the last line of the first `size` bytes, which end in a newline. */
static int
head_from_file(struct audit *a, off_t from, int64_t seq_before, off_t size)
{
	int64_t n;
	off_t start;
	int r;

	if ((r = count_lines(a->fd, from, size, &n)) != 0)
		return r;
	a->head.seq = seq_before + n;
	a->head.size = size;
	if (size == 0) {
		memset(a->head.hash, '0', AUDIT_HASH_HEX);
		a->head.hash[AUDIT_HASH_HEX] = '\0';
	} else if ((r = line_start(a->fd, size, &start)) != 0 ||
	    (r = hash_range(a->fd, start, size - 1, a->head.hash)) != 0)
		return r;
	a->head_known = true;
	return 0;
}

static int append_line(struct audit *a, const char *body, size_t len);

/*
 * The log no longer holds the record the anchor (or our last write) names:
 * it was cut, emptied or rewritten. An audit-cut record says so in the
 * chain itself, where `outpost audit verify` reports it.
 */
static void
append_cut(struct audit *a, const struct audit_head *was, off_t size)
{
	struct jbuf g;
	char stamp[40], why[160];

	if (size < was->size)
		snprintf(why, sizeof(why), "the log is %lld bytes long; record %lld ended at byte %lld",
		    (long long)size, (long long)was->seq, (long long)was->size);
	else
		snprintf(why, sizeof(why), "record %lld (ending at byte %lld) is not the one anchored",
		    (long long)was->seq, (long long)was->size);
	log_error("audit: audit.log was cut or rewritten: %s; an audit-cut record says so", why);
	now_stamp(stamp, sizeof(stamp));
	jbuf_init(&g, AUDIT_RECORD_MAX);
	jbuf_obj_begin(&g);
	jbuf_member_str(&g, "ts", stamp);
	jbuf_member_str(&g, "event", "audit-cut");
	jbuf_member_int(&g, "anchor_seq", was->seq);
	jbuf_member_str(&g, "anchor_hash", was->hash);
	jbuf_member_int(&g, "log_records", a->head.seq);
	jbuf_member_str(&g, "reason", why);
	if (!g.failed && append_line(a, g.data, g.len) == 0)
		a->cut = true;
	jbuf_free(&g);
}

/*
 * With the lock held: brings head up to the end of the file. Records other
 * writers appended after our head are counted; a torn tail gets its newline;
 * a log that no longer holds our head gets an audit-cut record.
 */
static int
sync_tail(struct audit *a)
{
	struct stat sb;
	char last;
	int r;

	if (fstat(a->fd, &sb) != 0)
		return ERR_IO;
	if (a->head_known && a->head_checked && sb.st_size == a->head.size)
		return 0;
	if (sb.st_size > 0) {
		if ((r = read_at(a->fd, &last, 1, sb.st_size - 1)) != 0)
			return r;
		if (last != '\n') {
			if ((r = write_once(a->fd, "\n", 1, sb.st_size)) != 0)
				return r;
			log_warn("audit: log did not end in a newline (torn record); ended it");
			sb.st_size++;
		}
	}
	if (!a->head_known)
		r = head_from_file(a, 0, 0, sb.st_size);
	else if (holds_head(a->fd, sb.st_size, &a->head))
		r = head_from_file(a, a->head.size, a->head.seq, sb.st_size);
	else {
		struct audit_head was = a->head;
		if ((r = head_from_file(a, 0, 0, sb.st_size)) == 0) {
			a->head_checked = true;
			append_cut(a, &was, sb.st_size);
		}
	}
	if (r == 0)
		a->head_checked = true;
	return r;
}

/*
 * Adds body (a record without prev and "}") to out as one line chained onto
 * the line whose hash is in hash, and sets hash to the new line's.
 * ERR_NOMEM if out cannot take it.
 */
static int
chain_line(struct jbuf *out, const char *body, size_t len, char *hash)
{
	size_t start = out->len;

	jbuf_add(out, body, len);
	jbuf_add(out, ",\"prev\":\"", 9);
	jbuf_add(out, hash, AUDIT_HASH_HEX);
	jbuf_add(out, "\"}", 2);
	if (out->failed)
		return ERR_NOMEM;
	audit_hash_hex(out->data + start, out->len - start, hash);
	jbuf_add(out, "\n", 1);
	return out->failed ? ERR_NOMEM : 0;
}

/* Each line of p[0..n) (newline-ended) to syslog. */
static void
syslog_lines(const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl != NULL ? (size_t)(nl - p) : n;
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)k, p);
		k += nl != NULL;
		p += k;
		n -= k;
	}
}

/*
 * Writes out (n whole lines, chained onto the head, the last one hashing to
 * hash) with one write(2): the head moves past them, or, if the write
 * failed, stays where it was and is read back from the file next time.
 */
static int
commit_lines(struct audit *a, const struct jbuf *out, int64_t n, const char *hash)
{
	int r;

	if ((r = write_once(a->fd, out->data, out->len, (off_t)a->head.size)) != 0) {
		a->head_checked = false;	/* read the tail back next time */
		return r;
	}
	memcpy(a->head.hash, hash, AUDIT_HASH_HEX + 1);
	a->head.seq += n;
	a->head.size += (int64_t)out->len;
	a->wrote = true;
	if (a->syslog)
		syslog_lines(out->data, out->len);
	return 0;
}

/* Appends body (a record without prev and "}") chained onto head, with one write(2). */
static int
append_line(struct audit *a, const char *body, size_t len)
{
	char hash[AUDIT_HASH_HEX + 1];
	int r;

	memcpy(hash, a->head.hash, sizeof(hash));
	jbuf_free(&a->line);
	jbuf_init(&a->line, AUDIT_RECORD_MAX);
	if ((r = chain_line(&a->line, body, len, hash)) != 0)
		return r;
	return commit_lines(a, &a->line, 1, hash);
}

/*
 * Appends the records from q on, as many as fit in AUDIT_WRITE_MAX bytes
 * (one at least), each chained onto the one before, with one write(2):
 * 20,000 records at a shutdown were 20,000 writes. *end is the first record
 * not written. On an error none of them is in the log (write_once cut it off).
 */
static int
append_run(struct audit *a, struct queued *q, struct queued **end)
{
	char hash[AUDIT_HASH_HEX + 1];
	int64_t n = 0;
	int r = 0;

	memcpy(hash, a->head.hash, sizeof(hash));
	jbuf_consume(&a->run, a->run.len);	/* the buffer stays: the next run reuses it */
	a->run.failed = false;
	for (; q != NULL && (n == 0 || a->run.len + q->len + PREV_SUFFIX_LEN <= AUDIT_WRITE_MAX);
	    q = q->next, n++)
		if ((r = chain_line(&a->run, q->body, q->len, hash)) != 0)
			break;
	*end = q;
	return r != 0 ? r : commit_lines(a, &a->run, n, hash);
}

/*
 * The log takes records again after some could not be appended: first an
 * "audit-gap" record saying how many are missing here (they went to the
 * daemon's own log), chained like any other.
 */
static int
append_gap(struct audit *a)
{
	struct jbuf g;
	char stamp[40];
	int r;

	now_stamp(stamp, sizeof(stamp));
	jbuf_init(&g, AUDIT_RECORD_MAX);
	jbuf_obj_begin(&g);
	jbuf_member_str(&g, "ts", stamp);
	jbuf_member_str(&g, "event", "audit-gap");
	jbuf_member_int(&g, "lost", (int64_t)a->lost);
	jbuf_member_str(&g, "since", a->lost_since);
	jbuf_member_str(&g, "reason", a->lost_why);
	r = g.failed ? ERR_NOMEM : append_line(a, g.data, g.len);
	if (r == 0) {
		log_warn("audit: audit.log takes records again; %lu since %s went to this log instead "
		    "(an audit-gap record says so)", a->lost, a->lost_since);
		a->lost = 0;
	}
	jbuf_free(&g);
	return r;
}

/*
 * A record that is not appended (a full disk, a read-only file system, the
 * queue past its hard limit): the action goes on, so the record goes to the
 * daemon's log in full instead, and the log gets an audit-gap record once it
 * can be written again.
 */
static void
record_lost(struct audit *a, const char *body, size_t len, const char *why)
{
	if (a->lost++ == 0) {
		const char *ts = memmem(body, len, "\"ts\":\"", 6);
		snprintf(a->lost_why, sizeof(a->lost_why), "%s", why);
		snprintf(a->lost_since, sizeof(a->lost_since), "%.24s", ts ? ts + 6 : "");
		log_error("audit: cannot append to audit.log: %s; until it can, each record goes to this "
		    "log (\"audit record not in audit.log\")", a->lost_why);
	}
	log_error("audit record not in audit.log: %.*s}", (int)len, body);
}

/*
 * Takes the lock, polling so that close can give up on a lock that is never
 * released (flock(2) cannot be interrupted otherwise). Returns 0 or ERR_IO.
 */
static int
lock_log(struct audit *a)
{
	int wait_ms = 1;

	for (;;) {
		if (flock(a->fd, a->threaded ? LOCK_EX | LOCK_NB : LOCK_EX) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return ERR_IO;
		pthread_mutex_lock(&a->mu);
		bool give_up = a->abandon;
		pthread_mutex_unlock(&a->mu);
		if (give_up) {
			errno = EWOULDBLOCK;
			return ERR_IO;
		}
		struct timespec ts = { 0, wait_ms * 1000000L };
		nanosleep(&ts, NULL);
		if (wait_ms < LOCK_POLL_MAX_MS)
			wait_ms *= 2;
	}
}

/*
 * Appends the records from q on under one hold of the lock, in runs; from
 * the first that fails on, each goes to the daemon's log.
 */
static void
write_batch(struct audit *a, struct queued *q)
{
	int r = lock_log(a);
	char why[80] = "";

	if (r == 0 && (r = sync_tail(a)) == 0 && a->lost > 0)
		r = append_gap(a);
	for (struct queued *end; r == 0 && q != NULL; q = end)
		if (append_run(a, q, &end) != 0) {
			/* cut off again (a full disk?): from its first record on, one
			 * at a time, so that as many as fit are written */
			r = sync_tail(a);
			break;
		}
	if (r != 0)
		snprintf(why, sizeof(why), "%s", r == ERR_IO ? strerror(errno) : err_str(r));
	for (; q != NULL; q = q->next) {
		if (r == 0 && (r = append_line(a, q->body, q->len)) != 0)
			snprintf(why, sizeof(why), "%s", r == ERR_IO ? strerror(errno) : err_str(r));
		if (r != 0)
			record_lost(a, q->body, q->len, why);
	}
	flock(a->fd, LOCK_UN);
}

/* ---- committing: directly, or through the writer thread ---- */

/* Publishes the head for audit_head_take. Called with mu held in threaded mode. */
static void
publish(struct audit *a)
{
	if (!a->wrote && !a->cut)
		return;
	a->published = a->head;
	a->published_new = true;
	a->published_reset |= a->cut;
	a->wrote = a->cut = false;
}

static void
free_list(struct queued *q)
{
	while (q != NULL) {
		struct queued *n = q->next;
		free(q);
		q = n;
	}
}

static void *
writer_main(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->first == NULL && !a->stop)
			pthread_cond_wait(&a->wake, &a->mu);
		if (a->first == NULL)
			break;
		struct queued *batch = a->first;
		size_t n = 0;
		a->first = NULL;
		a->last = &a->first;
		for (struct queued *q = batch; q != NULL; q = q->next)
			n++;
		/* records dropped past the hard limit join this writer's lost count */
		for (; a->overflow > 0; a->overflow--)
			if (a->lost++ == 0) {
				snprintf(a->lost_why, sizeof(a->lost_why), "the audit queue was full");
				snprintf(a->lost_since, sizeof(a->lost_since), "%s", a->overflow_since);
			}
		pthread_mutex_unlock(&a->mu);
		write_batch(a, batch);
		free_list(batch);
		pthread_mutex_lock(&a->mu);
		publish(a);
		a->depth -= n;
		a->stats.depth = a->depth;
		a->stats.written += n;
		pthread_cond_broadcast(&a->progress);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
audit_start_writer(struct audit *a, size_t max)
{
	sigset_t all, old;
	int r;

	if (a == NULL || a->threaded || a->trunk != NULL)
		return ERR_INVAL;
	a->max = max > 0 ? max : AUDIT_QUEUE_MAX;
	a->stats.max = a->max;
	if (pthread_mutex_init(&a->mu, NULL) != 0)
		return ERR_NOMEM;
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->progress, NULL);
	/* Signals stay with the loop's signalfd: the thread starts with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&a->wake);
		pthread_cond_destroy(&a->progress);
		pthread_mutex_destroy(&a->mu);
		return ERR_NOMEM;
	}
	a->threaded = true;
	return 0;
}

/* Threaded: hands the finished body to the writer thread. */
static int
enqueue(struct audit *a, const char *body, size_t len)
{
	struct queued *q = malloc(sizeof(*q) + len);

	pthread_mutex_lock(&a->mu);
	if (q == NULL || a->depth >= a->max * AUDIT_QUEUE_HARD_FACTOR) {
		/* Past the hard limit (or out of memory): never silently. */
		if (a->overflow++ == 0)
			now_stamp(a->overflow_since, sizeof(a->overflow_since));
		a->stats.overflowed++;
		pthread_mutex_unlock(&a->mu);
		free(q);
		log_error("audit record not in audit.log: %.*s}", (int)len, body);
		return ERR_IO;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->body, body, len);
	*a->last = q;
	a->last = &q->next;
	a->depth++;
	a->stats.depth = a->depth;
	if (a->depth > a->stats.peak)
		a->stats.peak = a->depth;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int
audit_commit(struct audit *a)
{
	int r;

	if (a == NULL)
		return ERR_INVAL;
	if (a->rec.failed) {
		log_error("audit: record too large or out of memory; dropped");
		return ERR_TOOLONG;
	}
	/* one choke point: no enrollment secret reaches the trail, whichever field holds it */
	if (token_redact(a->rec.data) > 0)
		a->rec.len = strlen(a->rec.data);
	if (a->trunk != NULL)
		return enqueue(a->trunk, a->rec.data, a->rec.len);
	if (a->threaded)
		return enqueue(a, a->rec.data, a->rec.len);
	/* Directly, as the CLI does: one record, one lock. */
	if ((r = lock_log(a)) == 0 && (r = sync_tail(a)) == 0 && a->lost > 0)
		r = append_gap(a);
	if (r == 0)
		r = append_line(a, a->rec.data, a->rec.len);
	flock(a->fd, LOCK_UN);
	if (r != 0)
		record_lost(a, a->rec.data, a->rec.len, r == ERR_IO ? strerror(errno) : err_str(r));
	publish(a);
	return r;
}

int
audit_admit(struct audit *a)
{
	int64_t now;

	if (a == NULL || !a->threaded)
		return 0;
	pthread_mutex_lock(&a->mu);
	if (a->depth < a->max) {
		if (a->refusing) {
			log_warn("audit: the audit queue drained (%zu waiting); new logins and connections "
			    "are accepted again (%llu refused in all)", a->depth,
			    (unsigned long long)a->stats.refused);
			a->refusing = false;
		}
		pthread_mutex_unlock(&a->mu);
		return 0;
	}
	a->stats.refused++;
	now = timefmt_mono_ms();
	if (a->refuse_warned_ms == 0 || now - a->refuse_warned_ms >= REFUSE_WARN_MS) {
		log_warn("audit: %zu records wait to be written to audit.log (AuditQueueMax %zu): "
		    "refusing new logins and connections until they are (%llu refused so far)",
		    a->depth, a->max, (unsigned long long)a->stats.refused);
		a->refuse_warned_ms = now;
	}
	a->refusing = true;
	pthread_mutex_unlock(&a->mu);
	return ERR_BUSY;
}

/* Waits up to ms for the writer to bring the queue under `below`; true if it did. */
static bool
wait_depth_below(struct audit *a, size_t below, int ms)
{
	struct timespec until;
	bool under;

	clock_gettime(CLOCK_REALTIME, &until);	/* progress is a CLOCK_REALTIME condition */
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->mu);
	while (a->depth >= below)
		if (pthread_cond_timedwait(&a->progress, &a->mu, &until) == ETIMEDOUT)
			break;
	under = a->depth < below;
	pthread_mutex_unlock(&a->mu);
	return under;
}

bool
audit_wait_room(struct audit *a, int ms)
{
	if (a == NULL || a->trunk != NULL || !a->threaded)
		return true;
	return wait_depth_below(a, a->max, ms);
}

void
audit_get_stats(struct audit *a, struct audit_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return;
	if (!a->threaded) {
		*out = a->stats;
		return;
	}
	pthread_mutex_lock(&a->mu);
	*out = a->stats;
	pthread_mutex_unlock(&a->mu);
}

bool
audit_head_take(struct audit *a, struct audit_head *h, bool *reset)
{
	bool changed;

	if (a == NULL)
		return false;
	if (a->threaded)
		pthread_mutex_lock(&a->mu);
	changed = a->published_new || a->published_reset;
	if (changed) {
		*h = a->published;
		*reset = a->published_reset;
		a->published_new = a->published_reset = false;
	}
	if (a->threaded)
		pthread_mutex_unlock(&a->mu);
	return changed;
}

/* Waits up to ms for the writer to empty the queue; true if it did. */
static bool
drain(struct audit *a, int ms)
{
	return wait_depth_below(a, 1, ms);
}

void
audit_stop_writer(struct audit *a)
{
	if (a == NULL || !a->threaded)
		return;
	if (!drain(a, AUDIT_DRAIN_MS)) {
		/* Given up: what is left goes to the daemon's log, never nowhere. */
		log_error("audit: audit.log took no records for %d s at shutdown; the records "
		    "still queued go to this log", AUDIT_DRAIN_MS / 1000);
		pthread_mutex_lock(&a->mu);
		a->abandon = true;
		pthread_mutex_unlock(&a->mu);
	}
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->progress);
	pthread_mutex_destroy(&a->mu);
	free_list(a->first);
	a->first = NULL;
	a->last = &a->first;
	a->threaded = false;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->trunk != NULL) {
		jbuf_free(&a->rec);
		free(a);
		return;
	}
	audit_stop_writer(a);
	close(a->fd);
	jbuf_free(&a->rec);
	jbuf_free(&a->line);
	jbuf_free(&a->run);
	free(a);
}
