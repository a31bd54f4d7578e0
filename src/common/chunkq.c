/* chunkq.c: a byte queue in fixed-size chunks that go back as it drains (chunkq.h). */
#include <stdlib.h>
#include <string.h>

#include "common/chunkq.h"

struct chunk {
	struct chunk *next;
	uint32_t start, end;	/* queued bytes are data[start..end) */
	char data[CHUNKQ_DATA];
};

static struct chunk *
chunk_get(struct chunkpool *pool)
{
	struct chunk *c = pool->free;

	if (c != NULL) {
		pool->free = c->next;
		pool->nfree--;
	} else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->next = NULL;
	c->start = c->end = 0;
	return c;
}

static void
chunk_put(struct chunkpool *pool, struct chunk *c)
{
	if (pool->nfree >= pool->max) {
		free(c);
		return;
	}
	c->next = pool->free;
	pool->free = c;
	pool->nfree++;
}

void
chunkq_init(struct chunkq *q, struct chunkpool *pool)
{
	memset(q, 0, sizeof(*q));
	q->pool = pool;
}

size_t
chunkq_add(struct chunkq *q, const void *p, size_t n)
{
	const char *s = p;
	size_t done = 0;

	while (done < n) {
		if (q->tail == NULL || q->tail->end == CHUNKQ_DATA) {
			struct chunk *c = chunk_get(q->pool);
			if (c == NULL)
				break;
			if (q->tail != NULL)
				q->tail->next = c;
			else
				q->head = c;
			q->tail = c;
			q->nchunks++;
		}
		size_t room = CHUNKQ_DATA - q->tail->end, k = n - done < room ? n - done : room;
		memcpy(q->tail->data + q->tail->end, s + done, k);
		q->tail->end += (uint32_t)k;
		q->len += k;
		done += k;
	}
	return done;
}

const char *
chunkq_peek(const struct chunkq *q, size_t *n)
{
	if (q->len == 0) {
		*n = 0;
		return NULL;
	}
	*n = q->head->end - q->head->start;
	return q->head->data + q->head->start;
}

/* Drops the head chunk. */
static void
pop(struct chunkq *q)
{
	struct chunk *c = q->head;

	q->head = c->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->nchunks--;
	chunk_put(q->pool, c);
}

void
chunkq_consume(struct chunkq *q, size_t n)
{
	while (n > 0 && q->head != NULL) {
		size_t have = q->head->end - q->head->start, k = n < have ? n : have;
		q->head->start += (uint32_t)k;
		q->len -= k;
		n -= k;
		if (q->head->start == q->head->end)
			pop(q);
	}
}

size_t
chunkq_footprint(const struct chunkq *q)
{
	return q->nchunks * sizeof(struct chunk);
}

void
chunkq_clear(struct chunkq *q)
{
	if (q == NULL)
		return;
	while (q->head != NULL)
		pop(q);
	q->len = 0;
}

void
chunkpool_drain(struct chunkpool *pool)
{
	while (pool->free != NULL) {
		struct chunk *c = pool->free;
		pool->free = c->next;
		free(c);
	}
	pool->nfree = 0;
}
