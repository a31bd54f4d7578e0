/* backoff.c: exponential backoff with full jitter, so that thousands of
 * agents cut off by one server restart do not all come back at once. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/backoff.h"

#define ATTEMPT_MAX 30	/* 2^30 s is far past the cap; stops the shift overflowing */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
backoff_init(struct backoff *b, uint64_t seed)
{
	b->attempt = 0;
	b->rng = seed;
}

int64_t
backoff_ceiling_ms(unsigned attempt)
{
	int64_t c;

	if (attempt > ATTEMPT_MAX)
		attempt = ATTEMPT_MAX;
	c = (int64_t)AGENT_BACKOFF_BASE_MS << attempt;
	return c < AGENT_BACKOFF_CAP_MS ? c : AGENT_BACKOFF_CAP_MS;
}

int64_t
backoff_next_ms(struct backoff *b)
{
	uint64_t ceil = (uint64_t)backoff_ceiling_ms(b->attempt);

	if (b->attempt < ATTEMPT_MAX)
		b->attempt++;
	return (int64_t)(splitmix64(&b->rng) % (ceil + 1));
}

int64_t
backoff_busy_ms(struct backoff *b, int secs)
{
	if (secs < 0)
		secs = 0;
	return (int64_t)secs * 1000 + (int64_t)(splitmix64(&b->rng) % 1000);
}

void
backoff_session_ended(struct backoff *b, int64_t up_ms)
{
	if (up_ms >= AGENT_STABLE_MS)
		b->attempt = 0;
}

uint64_t
backoff_seed(void)
{
	uint64_t s;
	struct timespec ts;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
}
