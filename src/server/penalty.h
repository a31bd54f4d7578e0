/*
 * penalty.h: pre-authentication limits per source address, in the spirit of
 * OpenSSH's MaxStartups, PerSourceMaxStartups and PerSourcePenalties:
 * a cap on unauthenticated connections with random early drop, a cap per
 * source, and a growing block for sources that keep failing.
 */
#ifndef OUTPOST_PENALTY_H
#define OUTPOST_PENALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct penalty;

struct penalty_config {
	int startups_begin;	/* MaxStartups start: random early drop from here */
	int startups_rate;	/* ... with this percentage ... */
	int startups_full;	/* ... rising to refusing everything here */
	int per_source;		/* unauthenticated connections per source address */
	int fail_limit;		/* failures (bad key, grace time, protocol error) before a block */
	int block_min_s;	/* first block; doubles per repeat */
	int block_max_s;
	const char *exempt;	/* comma-separated CIDRs never penalised, or NULL */
};

/* Parses "10:30:100" into the three startups fields; 0 or ERR_CONFIG. */
int penalty_parse_startups(const char *s, struct penalty_config *pc);
/* Checks a comma-separated CIDR list ("127.0.0.0/8,::1/128"); 0 or ERR_CONFIG. */
int penalty_check_exempt(const char *list);

/* Returns a new table (NULL on allocation failure); free with penalty_free. */
struct penalty *penalty_new(const struct penalty_config *pc);
void penalty_free(struct penalty *p);		/* NULL is a no-op */

#define PENALTY_IP_MAX LIM_PEER_IP	/* longer addresses are keyed by this prefix */

/*
 * A connection from ip arrived at now_ms: true if it may proceed (and is
 * counted as unauthenticated), false if refused; why gets a short reason.
 * random_pct is a number in [0, 100) used for early drop.
 *
 * A source with no unauthenticated connection in flight is never dropped
 * early, and when the table is full it still gets in: evict (at least
 * PENALTY_IP_MAX + 1 bytes) then names the non-exempt source holding the
 * most unauthenticated connections, whose oldest one the caller must close
 * (penalty_unauth_closed with failed = true: hogging counts against it).
 * Otherwise evict is "". A flood therefore cannot keep a new client out.
 */
bool penalty_admit(struct penalty *p, const char *ip, int64_t now_ms, int random_pct,
    const char **why, char *evict);
/*
 * A connection from ip would wait for its handshake to start (acceptq.h):
 * true if it may (counted as waiting until penalty_wait_done), false if
 * the source is blocked or already holds per_source connections waiting
 * or unauthenticated (exempt sources have no such cap); why gets a short
 * reason. So one source cannot hold the waiting list's places while the
 * others' handshakes are behind: it would be refused at its turn anyway.
 */
bool penalty_wait(struct penalty *p, const char *ip, int64_t now_ms, const char **why);
/* A connection penalty_wait counted left the waiting list (started or refused). */
void penalty_wait_done(struct penalty *p, const char *ip);
/* The connection authenticated: no longer counted as unauthenticated. */
void penalty_authenticated(struct penalty *p, const char *ip);
/* An unauthenticated connection ended; failed says whether it counts against the source. */
void penalty_unauth_closed(struct penalty *p, const char *ip, bool failed, int64_t now_ms);
/*
 * An unauthenticated connection from ip (admitted, not yet closed) logs in
 * as `enroll`: true if the source holds fewer than per_source enroll
 * sessions, exempt or not, and counts this one; false refuses it. The
 * connection stays unauthenticated: penalty_unauth_closed still ends it.
 */
bool penalty_enroll_admit(struct penalty *p, const char *ip);
/* An enroll session that penalty_enroll_admit counted ended. */
void penalty_enroll_closed(struct penalty *p, const char *ip);
/* Drops idle entries; call every few seconds. */
void penalty_expire(struct penalty *p, int64_t now_ms);
/* Unauthenticated connections in flight, all sources. */
int penalty_unauth_total(const struct penalty *p);
#define PENALTY_TRICKLE_MS 100	/* a stuck window: one accept this often */

/*
 * How many connections to admit from a listener this loop turn, at most max
 * (below 1 counts as 1). While handshakes are behind (the last turn's
 * handshake budget left some ready) or MaxStartups' begin are in flight: as
 * many as unauthenticated connections ended since the last call
 * (authenticated, closed or evicted), so the set in flight does not grow
 * while its handshakes go on; when none ended and none of them was ready
 * for idle_ms >= PENALTY_TRICKLE_MS (a set that is stuck, such as a flood
 * that sends nothing: at full a newcomer evicts its busiest source), one
 * per PENALTY_TRICKLE_MS; else 0. Otherwise up to begin less those in
 * flight. The rest wait in the kernel's accept queue instead of being
 * accepted only to be refused, dropped early or evicted at MaxStartups.
 */
int penalty_accept_quota(struct penalty *p, bool behind, int64_t idle_ms, int max, int64_t now_ms);
/* Sources blocked at now_ms, and blocks imposed since penalty_new (for metrics). */
void penalty_stats(const struct penalty *p, int64_t now_ms, int *blocked_now, uint64_t *blocks_total);

#endif
