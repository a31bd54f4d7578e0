/*
 * acceptq.h: connections accepted from the kernel but not yet started (no
 * libssh session, no key exchange), oldest first, each with the time it
 * was accepted. outpostd drains its listeners into this queue while the
 * accept quota lets no handshake start, so that a reconnect storm larger
 * than the kernel's accept queue does not overflow it (docs/ARCHITECTURE.md,
 * "Accepting no faster than handshakes end").
 */
#ifndef OUTPOST_ACCEPTQ_H
#define OUTPOST_ACCEPTQ_H

#include <stdbool.h>
#include <stdint.h>

#define ACCEPTQ_PEER_MAX 64

struct acceptq;

struct acceptq_item {
	int fd;
	int64_t accepted_ms;
	bool counted;			/* by penalty_wait: penalty_wait_done when it leaves */
	char peer[ACCEPTQ_PEER_MAX];	/* listener_name's form */
};

/* A queue of at most cap (below 1 counts as 1); NULL on allocation failure. */
struct acceptq *acceptq_new(int cap);
/* Closes every descriptor still queued and frees q; NULL is a no-op. */
void acceptq_free(struct acceptq *q);
int acceptq_len(const struct acceptq *q);
/*
 * How many acceptq_full allows, from 1 to the cap (clamped): lowering it
 * below the length drops nothing, it only stops pushes until pops make room.
 */
void acceptq_set_limit(struct acceptq *q, int limit);
int acceptq_limit(const struct acceptq *q);
bool acceptq_full(const struct acceptq *q);
/* Queues fd (q owns it from here) and returns true; false if full (the caller keeps fd). */
bool acceptq_push(struct acceptq *q, int fd, const char *peer, bool counted, int64_t now_ms);
/* The oldest into *out (the caller owns out->fd from here); false if empty. */
bool acceptq_pop(struct acceptq *q, struct acceptq_item *out);
/* The oldest's accept time, or -1 if empty. */
int64_t acceptq_oldest_ms(const struct acceptq *q);

#endif
