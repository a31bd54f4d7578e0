/* audit.h: the audit trail, one JSON object per line in <state>/audit.log. */
#ifndef OUTPOST_AUDIT_H
#define OUTPOST_AUDIT_H

#include "common/jbuf.h"

struct audit;

/* Opens (creating, mode 0600, append-only) <state_dir>/audit.log. */
int audit_open(const char *state_dir, struct audit **out);
void audit_close(struct audit *a);	/* NULL is a no-op */

/*
 * Starts a record: returns a buffer holding `{"ts":...,"event":"<event>"`
 * to which the caller adds members with jbuf_member_*, then calls
 * audit_commit(), which closes the object and writes the line with one
 * write(2) before returning. A failed write is logged, never fatal.
 */
struct jbuf *audit_begin(struct audit *a, const char *event);
int audit_commit(struct audit *a);

#endif
