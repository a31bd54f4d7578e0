/* acceptq.c: a ring of accepted connections waiting for their handshake to start. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/acceptq.h"

struct acceptq {
	int cap, limit, head, len;
	struct acceptq_item items[];
};

struct acceptq *
acceptq_new(int cap)
{
	struct acceptq *q;

	if (cap < 1)
		cap = 1;
	q = calloc(1, sizeof(*q) + (size_t)cap * sizeof(q->items[0]));
	if (q != NULL)
		q->cap = q->limit = cap;
	return q;
}

void
acceptq_set_limit(struct acceptq *q, int limit)
{
	q->limit = limit < 1 ? 1 : limit > q->cap ? q->cap : limit;
}

void
acceptq_free(struct acceptq *q)
{
	struct acceptq_item it;

	if (q == NULL)
		return;
	while (acceptq_pop(q, &it))
		close(it.fd);
	free(q);
}

int
acceptq_limit(const struct acceptq *q)
{
	return q->limit;
}

int
acceptq_len(const struct acceptq *q)
{
	return q->len;
}

bool
acceptq_full(const struct acceptq *q)
{
	return q->len >= q->limit;
}

bool
acceptq_push(struct acceptq *q, int fd, const char *peer, bool counted, int64_t now_ms)
{
	struct acceptq_item *it;

	if (acceptq_full(q))
		return false;
	it = &q->items[(q->head + q->len) % q->cap];
	it->fd = fd;
	it->accepted_ms = now_ms;
	it->counted = counted;
	snprintf(it->peer, sizeof(it->peer), "%s", peer != NULL ? peer : "");
	q->len++;
	return true;
}

bool
acceptq_pop(struct acceptq *q, struct acceptq_item *out)
{
	if (q->len == 0)
		return false;
	*out = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return true;
}

int64_t
acceptq_oldest_ms(const struct acceptq *q)
{
	return q->len > 0 ? q->items[q->head].accepted_ms : -1;
}
