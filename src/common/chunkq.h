/*
 * chunkq.h: a byte queue in fixed-size chunks that go back as the queue
 * drains, so a queue that once held much keeps nothing once empty (a
 * growable buffer keeps the size it grew to). Chunks come from a pool that
 * caches a few free ones for the next queue. Not thread-safe: one pool and
 * its queues belong to one thread.
 */
#ifndef OUTPOST_CHUNKQ_H
#define OUTPOST_CHUNKQ_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKQ_DATA	32768	/* bytes per chunk: one SSH channel packet */

struct chunk;

/* Free chunks kept for reuse, at most max; the rest go back to malloc. */
struct chunkpool {
	struct chunk *free;
	size_t nfree, max;
};

struct chunkq {
	struct chunkpool *pool;
	struct chunk *head, *tail;
	size_t len;		/* bytes queued */
	size_t nchunks;		/* chunks held */
};

/* An empty queue taking its chunks from pool (which must outlive it). */
void chunkq_init(struct chunkq *q, struct chunkpool *pool);
/* Appends up to n bytes of p; returns how many (fewer only when out of memory). */
size_t chunkq_add(struct chunkq *q, const void *p, size_t n);
/*
 * The first contiguous bytes queued and their count in *n (NULL and 0 when
 * empty). The pointer stays valid across chunkq_add until chunkq_consume.
 */
const char *chunkq_peek(const struct chunkq *q, size_t *n);
/* Drops the first n bytes (all if n > len); an emptied chunk goes back to the pool. */
void chunkq_consume(struct chunkq *q, size_t n);
/* The memory q holds now: its chunks, whole. */
size_t chunkq_footprint(const struct chunkq *q);
/* Empties q, its chunks back to the pool; q may be used again. NULL is a no-op. */
void chunkq_clear(struct chunkq *q);
/* Frees the pool's cached chunks (its queues must be empty or cleared first). */
void chunkpool_drain(struct chunkpool *pool);

#endif
