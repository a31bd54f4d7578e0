/*
 * pseqwin.h: which presence orders (pseq) the store thread has already
 * handed to the loop, among the last PSEQWIN_SIZE below the newest seen.
 * The thread reads presence changes from PRESENCE_OVERLAP before the newest
 * it saw, because a write may commit after a later pseq (storeq.c); without
 * this, every read handed the loop those rows again, and in a reconnect
 * storm the loop spent most of its store time re-applying them
 * (docs/BENCHMARKS.md, "Presence rows applied once").
 * pseq values are unique (a PostgreSQL sequence), so a row version is its pseq.
 */
#ifndef OUTPOST_PSEQWIN_H
#define OUTPOST_PSEQWIN_H

#include <stdbool.h>
#include <stdint.h>

#define PSEQWIN_SIZE	512	/* orders remembered below the newest; a multiple of 64 */

struct pseqwin {
	int64_t top;		/* the newest pseq seen; 0: none */
	uint64_t bits[PSEQWIN_SIZE / 64];	/* bit i: top - i was seen */
};

/* Forgets everything (a zeroed struct pseqwin is the same). */
void pseqwin_reset(struct pseqwin *w);
/*
 * True if pseq was seen: at most top and marked. Orders above top are new;
 * orders PSEQWIN_SIZE or more below top were never read (the thread reads
 * from top - PRESENCE_OVERLAP), and count as new. Non-positive orders: new.
 */
bool pseqwin_seen(const struct pseqwin *w, int64_t pseq);
/* Marks pseq seen; an order above top moves the window up to it. */
void pseqwin_add(struct pseqwin *w, int64_t pseq);

#endif
