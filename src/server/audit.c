/* audit.c: append-only JSON-lines audit log written before actions are acknowledged. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/audit.h"

#define AUDIT_RECORD_MAX 8192

struct audit {
	int fd;
	struct jbuf rec;
	unsigned long failures;
};

int
audit_open(const char *state_dir, struct audit **out)
{
	char path[4096];
	struct audit *a;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/audit.log", state_dir);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERR_NOMEM;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		free(a);
		return errno == EROFS || errno == EACCES ? ERR_READONLY : ERR_IO;
	}
	jbuf_init(&a->rec, AUDIT_RECORD_MAX);
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

struct jbuf *
audit_begin(struct audit *a, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ldZ",
	    ts.tv_nsec / 1000000);
	jbuf_free(&a->rec);
	jbuf_init(&a->rec, AUDIT_RECORD_MAX);
	jbuf_obj_begin(&a->rec);
	jbuf_member_str(&a->rec, "ts", stamp);
	jbuf_member_str(&a->rec, "event", event);
	return &a->rec;
}

int
audit_commit(struct audit *a)
{
	jbuf_obj_end(&a->rec);
	jbuf_add(&a->rec, "\n", 1);
	if (a->rec.failed) {
		log_error("audit: record too large or out of memory; dropped");
		return ERR_TOOLONG;
	}
	ssize_t n = write(a->fd, a->rec.data, a->rec.len);
	if (n != (ssize_t)a->rec.len) {
		if (a->failures++ % 100 == 0)
			log_error("audit: write failed: %s", n < 0 ? strerror(errno) : "short write");
		return ERR_IO;
	}
	return 0;
}
