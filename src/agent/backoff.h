/* backoff.h: reconnect delays, exponential with full jitter, reset by a stable session. */
#ifndef OUTPOST_AGENT_BACKOFF_H
#define OUTPOST_AGENT_BACKOFF_H

#include <stdint.h>

struct backoff {
	unsigned attempt;	/* failures since the last stable session */
	uint64_t rng;		/* splitmix64 state */
};

/* Starts at attempt 0 with the given random seed. */
void backoff_init(struct backoff *b, uint64_t seed);

/* The largest delay for an attempt: min(cap, base * 2^attempt), in ms. */
int64_t backoff_ceiling_ms(unsigned attempt);

/*
 * The delay before the next connection attempt: uniform in
 * [0, backoff_ceiling_ms(attempt)] ("full jitter"); then counts the attempt.
 */
int64_t backoff_next_ms(struct backoff *b);

/* A session ended after up_ms: one that lasted AGENT_STABLE_MS resets to 0. */
void backoff_session_ended(struct backoff *b, int64_t up_ms);

/*
 * The delay after a server answered busy with "try again in secs s"
 * (PROTOCOL.md): secs plus up to a second of jitter, so that those told the
 * same second do not return in the same millisecond. The attempt count is
 * left as it was: the server was reached, and it said when to come back.
 */
int64_t backoff_busy_ms(struct backoff *b, int secs);

/* A seed from the kernel's random source (time and pid if that fails). */
uint64_t backoff_seed(void);

#endif
