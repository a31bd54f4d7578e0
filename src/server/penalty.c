/* penalty.c: per-source pre-authentication accounting: caps, early drop and growing blocks. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/penalty.h"

#define BUCKETS 1024
#define DECAY_MS 60000		/* failures older than this are forgotten */
#define FORGET_MS 3600000	/* an idle, unblocked source is dropped after this */

#define IP_MAX PENALTY_IP_MAX

struct source {
	struct source *next;
	char ip[IP_MAX + 1];
	int unauth;		/* unauthenticated connections now */
	int enroll;		/* of which logged in as `enroll` */
	int waiting;		/* accepted, waiting for their handshake to start (acceptq.c) */
	int fails;		/* failures within DECAY_MS of last_fail_ms */
	int strikes;		/* blocks so far: each doubles the next */
	int64_t last_fail_ms;
	int64_t blocked_until_ms;
	int64_t last_seen_ms;
};

struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

struct penalty {
	struct penalty_config cfg;
	struct source *buckets[BUCKETS];
	struct cidr exempt[16];
	int nexempt;
	int unauth_total;
	int freed;		/* unauthenticated slots freed since the last accept quota */
	int64_t trickle_ms;	/* when the last quota of one was granted while behind */
	uint64_t blocks;	/* sources blocked so far (penalty_stats) */
};

int
penalty_parse_startups(const char *s, struct penalty_config *pc)
{
	int a, b, c;
	char tail;

	if (s == NULL || sscanf(s, "%d:%d:%d%c", &a, &b, &c, &tail) != 3)
		return ERR_CONFIG;
	if (a < 1 || b < 1 || b > 100 || c < a || c > 100000)
		return ERR_CONFIG;
	pc->startups_begin = a;
	pc->startups_rate = b;
	pc->startups_full = c;
	return 0;
}

static int
parse_cidr(const char *s, size_t len, struct cidr *out)
{
	char buf[64];
	const char *slash;
	int maxbits;

	if (len == 0 || len >= sizeof(buf))
		return ERR_CONFIG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		buf[slash - buf] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		maxbits = 128;
	} else
		return ERR_CONFIG;
	out->bits = maxbits;
	if (slash != NULL) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > maxbits)
			return ERR_CONFIG;
		out->bits = (int)b;
	}
	return 0;
}

/* Parses the list into p (when non-NULL); 0 or ERR_CONFIG. */
static int
parse_exempt(const char *list, struct penalty *p)
{
	struct cidr c;
	int n = 0;

	while (list != NULL && *list != '\0') {
		size_t len = strcspn(list, ",");
		if (parse_cidr(list, len, &c) != 0 || n >= 16)
			return ERR_CONFIG;
		if (p != NULL)
			p->exempt[n] = c;
		n++;
		list += len + (list[len] == ',');
	}
	if (p != NULL)
		p->nexempt = n;
	return 0;
}

int
penalty_check_exempt(const char *list)
{
	return parse_exempt(list, NULL);
}

static bool
cidr_match(const struct cidr *c, const char *ip)
{
	unsigned char a[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (family != c->family || inet_pton(family, ip, a) != 1)
		return false;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(a, c->addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (c->addr[full] & mask);
}

static bool
exempt(const struct penalty *p, const char *ip)
{
	for (int i = 0; i < p->nexempt; i++)
		if (cidr_match(&p->exempt[i], ip))
			return true;
	return false;
}

struct penalty *
penalty_new(const struct penalty_config *pc)
{
	struct penalty *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->cfg = *pc;
	if (parse_exempt(pc->exempt, p) != 0)
		p->nexempt = 0;
	p->cfg.exempt = NULL;	/* parsed; the string is not kept */
	return p;
}

void
penalty_free(struct penalty *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < BUCKETS; i++) {
		struct source *s = p->buckets[i], *n;
		for (; s != NULL; s = n) {
			n = s->next;
			free(s);
		}
	}
	free(p);
}

static unsigned
bucket(const char *ip)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < IP_MAX && ip[i] != '\0'; i++)
		h = (h ^ (unsigned char)ip[i]) * 16777619u;
	return h % BUCKETS;
}

static struct source *
lookup(struct penalty *p, const char *ip, bool create)
{
	unsigned b = bucket(ip);

	for (struct source *s = p->buckets[b]; s != NULL; s = s->next)
		if (strncmp(s->ip, ip, IP_MAX) == 0)	/* as stored: truncated alike */
			return s;
	if (!create)
		return NULL;
	struct source *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->next = p->buckets[b];
	p->buckets[b] = s;
	return s;
}

/* The non-exempt source other than self with the most unauthenticated connections, or NULL. */
static struct source *
busiest(struct penalty *p, const struct source *self)
{
	struct source *best = NULL;

	for (int i = 0; i < BUCKETS; i++)
		for (struct source *s = p->buckets[i]; s != NULL; s = s->next)
			if (s != self && s->unauth > 0 && (best == NULL || s->unauth > best->unauth) &&
			    !exempt(p, s->ip))
				best = s;
	return best;
}

/*
 * A connection from ip arrives: its source (created if new, seen now), or
 * NULL with *why if the source is blocked or holds per_source connections
 * unauthenticated (and, with_waiting, waiting) and is not exempt.
 */
static struct source *
arriving(struct penalty *p, const char *ip, int64_t now_ms, bool with_waiting, const char **why)
{
	struct source *s = lookup(p, ip, true);

	*why = NULL;
	if (s == NULL) {
		*why = "out of memory";
		return NULL;
	}
	s->last_seen_ms = now_ms;
	if (s->blocked_until_ms > now_ms) {
		*why = "source blocked after repeated failures";
		return NULL;
	}
	if (s->unauth + (with_waiting ? s->waiting : 0) >= p->cfg.per_source && !exempt(p, ip)) {
		*why = "too many unauthenticated connections from this source";
		return NULL;
	}
	return s;
}

bool
penalty_admit(struct penalty *p, const char *ip, int64_t now_ms, int random_pct, const char **why,
    char *evict)
{
	struct source *s = arriving(p, ip, now_ms, false, why);
	const struct penalty_config *c = &p->cfg;

	evict[0] = '\0';
	if (s == NULL)
		return false;
	if (p->unauth_total >= c->startups_full) {
		struct source *hog = s->unauth == 0 ? busiest(p, s) : NULL;
		if (hog == NULL) {
			*why = "too many unauthenticated connections";
			return false;
		}
		/* a newcomer takes the slot of the biggest hog */
		snprintf(evict, IP_MAX + 1, "%s", hog->ip);
	} else if (p->unauth_total >= c->startups_begin && s->unauth > 0) {
		int span = c->startups_full - c->startups_begin;
		int pct = c->startups_rate + (span > 0 ? (100 - c->startups_rate) *
		    (p->unauth_total - c->startups_begin) / span : 0);
		if (random_pct < pct) {
			*why = "early drop: many unauthenticated connections";
			return false;
		}
	}
	s->unauth++;
	p->unauth_total++;
	return true;
}

bool
penalty_wait(struct penalty *p, const char *ip, int64_t now_ms, const char **why)
{
	struct source *s = arriving(p, ip, now_ms, true, why);

	if (s == NULL)
		return false;
	s->waiting++;
	return true;
}

void
penalty_wait_done(struct penalty *p, const char *ip)
{
	struct source *s = lookup(p, ip, false);

	if (s != NULL && s->waiting > 0)
		s->waiting--;
}

static void
unauth_done(struct penalty *p, struct source *s)
{
	if (s->unauth > 0) {
		s->unauth--;
		p->unauth_total--;
		p->freed++;
	}
}

void
penalty_authenticated(struct penalty *p, const char *ip)
{
	struct source *s = lookup(p, ip, false);

	if (s != NULL)
		unauth_done(p, s);
}

void
penalty_unauth_closed(struct penalty *p, const char *ip, bool failed, int64_t now_ms)
{
	struct source *s = lookup(p, ip, false);

	if (s == NULL)
		return;
	unauth_done(p, s);
	if (!failed || exempt(p, ip))
		return;
	if (now_ms - s->last_fail_ms > DECAY_MS)
		s->fails = 0;
	s->last_fail_ms = now_ms;
	if (++s->fails < p->cfg.fail_limit)
		return;
	int64_t block = (int64_t)p->cfg.block_min_s * 1000;
	for (int i = 0; i < s->strikes && block < (int64_t)p->cfg.block_max_s * 1000; i++)
		block *= 2;
	if (block > (int64_t)p->cfg.block_max_s * 1000)
		block = (int64_t)p->cfg.block_max_s * 1000;
	s->blocked_until_ms = now_ms + block;
	p->blocks++;
	s->strikes++;
	s->fails = 0;
}

void
penalty_expire(struct penalty *p, int64_t now_ms)
{
	for (int i = 0; i < BUCKETS; i++) {
		struct source **pp = &p->buckets[i];
		while (*pp != NULL) {
			struct source *s = *pp;
			if (s->unauth == 0 && s->enroll == 0 && s->waiting == 0 && s->blocked_until_ms <= now_ms &&
			    now_ms - s->last_seen_ms > FORGET_MS) {
				*pp = s->next;
				free(s);
			} else
				pp = &s->next;
		}
	}
}

bool
penalty_enroll_admit(struct penalty *p, const char *ip)
{
	struct source *s = lookup(p, ip, false);

	if (s == NULL || s->enroll >= p->cfg.per_source)
		return false;
	s->enroll++;
	return true;
}

void
penalty_enroll_closed(struct penalty *p, const char *ip)
{
	struct source *s = lookup(p, ip, false);

	if (s != NULL && s->enroll > 0)
		s->enroll--;
}

int
penalty_unauth_total(const struct penalty *p)
{
	return p->unauth_total;
}

int
penalty_accept_quota(struct penalty *p, bool behind, int64_t idle_ms, int max, int64_t now_ms)
{
	int room = p->cfg.startups_begin - p->unauth_total, freed = p->freed;

	p->freed = 0;
	if (max < 1)
		max = 1;
	if (behind || room < 1) {
		if (freed > 0)
			return freed < max ? freed : max;
		if (idle_ms < PENALTY_TRICKLE_MS ||
		    (now_ms - p->trickle_ms < PENALTY_TRICKLE_MS && now_ms >= p->trickle_ms))
			return 0;
		p->trickle_ms = now_ms;
		return 1;
	}
	return room < max ? room : max;
}

void
penalty_stats(const struct penalty *p, int64_t now_ms, int *blocked_now, uint64_t *blocks_total)
{
	int n = 0;

	for (int i = 0; i < BUCKETS; i++)
		for (const struct source *s = p->buckets[i]; s != NULL; s = s->next)
			n += s->blocked_until_ms > now_ms;
	*blocked_now = n;
	*blocks_total = p->blocks;
}
