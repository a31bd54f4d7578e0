/* rotation.h: which server to try next: one round over agent.conf's servers, in order, then back off. */
#ifndef OUTPOST_AGENT_ROTATION_H
#define OUTPOST_AGENT_ROTATION_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A round starts at the first server every time: nothing is remembered
 * between rounds, so a server that failed once is not skipped later and
 * a dead one cannot pin the agent.
 */
struct rotation {
	size_t n;	/* servers (>= 1) */
	size_t i;	/* the one to try now */
};

/* Starts a round at the first of n servers. */
void rotation_start(struct rotation *r, size_t n);

/*
 * The attempt on server r->i failed: true with r->i on the next server of
 * this round (try it at once), false when the round is over (every server
 * failed: back off once, then rotation_start again).
 */
bool rotation_failed(struct rotation *r);

#endif
