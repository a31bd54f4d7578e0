/* audit.c: appending hash-chained JSON-lines records to audit.log, written before actions are acknowledged. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "common/err.h"
#include "common/log.h"

/* `,"prev":"<64 hex>"}` and the newline, reserved at the end of every record. */
#define PREV_SUFFIX_LEN		(sizeof(",\"prev\":\"\"}\n") - 1 + AUDIT_HASH_HEX)
#define TAIL_CHUNK		8192

struct audit {
	int fd;
	struct jbuf rec;
	char prev[AUDIT_HASH_HEX + 1];	/* hash of the last line we know of */
	off_t known_size;		/* file size after our last write; -1 = unknown */
	bool syslog;
	unsigned long lost;		/* records not appended since the log last took one */
	char lost_since[40];		/* ts of the first of them */
	char lost_why[80];
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
	/* O_RDWR: the last line is read back to chain onto another writer's record. */
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		e = errno;
		free(a);
		return e == EROFS || e == EACCES ? ERR_READONLY : ERR_IO;
	}
	a->known_size = -1;
	jbuf_init(&a->rec, AUDIT_RECORD_MAX - PREV_SUFFIX_LEN);
	*out = a;
	return 0;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	jbuf_free(&a->rec);
	free(a);
}

void
audit_set_syslog(struct audit *a, bool on)
{
	if (a != NULL)
		a->syslog = on;
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
	/* Room for the prev member is kept back until audit_commit. */
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
	return r;
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

/*
 * With the lock held: learns the hash of the log's last line if another
 * process wrote since we did, ending a torn tail with a newline first.
 * *size gets the file size the new record will start at.
 */
static int
sync_tail(struct audit *a, off_t *size)
{
	struct stat sb;
	off_t start;
	char last;
	int r;

	if (fstat(a->fd, &sb) != 0)
		return ERR_IO;
	*size = sb.st_size;
	if (sb.st_size == a->known_size)
		return 0;
	if (sb.st_size == 0) {
		memset(a->prev, '0', AUDIT_HASH_HEX);
		a->prev[AUDIT_HASH_HEX] = '\0';
		return 0;
	}
	if ((r = read_at(a->fd, &last, 1, sb.st_size - 1)) != 0)
		return r;
	if (last != '\n') {
		if ((r = write_once(a->fd, "\n", 1, sb.st_size)) != 0)
			return r;
		log_warn("audit: log did not end in a newline (torn record); ended it");
		*size = ++sb.st_size;
	}
	if ((r = line_start(a->fd, sb.st_size, &start)) != 0 ||
	    (r = hash_range(a->fd, start, sb.st_size - 1, a->prev)) != 0)
		return r;
	a->prev[AUDIT_HASH_HEX] = '\0';
	return 0;
}

/*
 * The log takes records again after some could not be appended: first an
 * "audit-gap" record saying how many are missing here (they went to the
 * daemon's own log), chained like any other.
 */
static int
append_gap(struct audit *a, off_t *size)
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
	jbuf_member_str(&g, "prev", a->prev);
	jbuf_obj_end(&g);
	size_t linelen = g.len;
	jbuf_add(&g, "\n", 1);
	r = g.failed ? ERR_NOMEM : write_once(a->fd, g.data, g.len, *size);
	if (r == 0) {
		audit_hash_hex(g.data, linelen, a->prev);
		*size += (off_t)g.len;
		a->known_size = *size;
		log_warn("audit: audit.log takes records again; %lu since %s went to this log instead "
		    "(an audit-gap record says so)", a->lost, a->lost_since);
		a->lost = 0;
	} else
		a->known_size = -1;
	jbuf_free(&g);
	return r;
}

/* Appends the finished record under the lock and remembers its hash. */
static int
append_locked(struct audit *a)
{
	off_t size;
	int r;

	if ((r = sync_tail(a, &size)) != 0)
		return r;
	if (a->lost > 0 && (r = append_gap(a, &size)) != 0)
		return r;
	a->rec.limit = AUDIT_RECORD_MAX;
	jbuf_member_str(&a->rec, "prev", a->prev);
	jbuf_obj_end(&a->rec);
	if (a->rec.failed)
		return ERR_NOMEM;
	size_t linelen = a->rec.len;
	jbuf_add(&a->rec, "\n", 1);
	if (a->rec.failed)
		return ERR_NOMEM;
	if ((r = write_once(a->fd, a->rec.data, a->rec.len, size)) != 0) {
		a->known_size = -1;	/* read the tail back next time */
		return r;
	}
	audit_hash_hex(a->rec.data, linelen, a->prev);
	a->known_size = size + (off_t)a->rec.len;
	if (a->syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)linelen, a->rec.data);
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
	size_t body = a->rec.len;	/* the record without "prev" and "}" */
	while (flock(a->fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			r = ERR_IO;
			goto fail;
		}
	r = append_locked(a);
	flock(a->fd, LOCK_UN);
	if (r == 0)
		return 0;
fail:
	/*
	 * Not appended (a full disk, a read-only file system): the action goes
	 * on, so the record goes to the daemon's log in full instead, and the
	 * log gets an audit-gap record once it can be written again.
	 */
	if (a->lost++ == 0) {
		const char *ts = NULL;
		snprintf(a->lost_why, sizeof(a->lost_why), "%s", r == ERR_IO ? strerror(errno) : err_str(r));
		ts = strstr(a->rec.data, "\"ts\":\"");
		snprintf(a->lost_since, sizeof(a->lost_since), "%.24s", ts ? ts + 6 : "");
		log_error("audit: cannot append to audit.log: %s; until it can, each record goes to this "
		    "log (\"audit record not in audit.log\")", a->lost_why);
	}
	log_error("audit record not in audit.log: %.*s}", (int)(body < a->rec.len ? body : a->rec.len),
	    a->rec.data);
	return r;
}
