/*
 * splice.h: a route and its two splice sides, shared by route.c (resolving
 * names, making and ending routes) and splice.c (the splice channel kinds:
 * moving bytes as windows allow, and what each technician's routes hold).
 */
#ifndef OUTPOST_SPLICE_H
#define OUTPOST_SPLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/chunkq.h"
#include "common/jbuf.h"
#include "server/server.h"

/* A route: what both sides of one splice share, and what is audited at its end. */
struct route {
	int64_t started_ms;
	int64_t started_wall;		/* UNIX time the route opened */
	uint64_t up, down;		/* bytes client->device, device->client */
	int64_t device_id;
	int64_t user_id;
	char device[LIM_TARGET + 1];	/* name.fleet */
	uint32_t port;
	char user[LIM_LABEL + 1];
	char user_fp[PUBKEY_FP_MAX];
	char src[64];			/* technician's TCP peer */
	char orig[64];			/* originator the client claimed */
	int orig_port;
	char device_bind[LIM_PEER_STRING];	/* bind address the device registered */
	char via[LIM_LABEL + 1];	/* the peer node the route goes through (this node's side), or "" */
	char for_user[LIM_LABEL + 1];	/* a node's route (the device's node side): the user it asked for */
	bool opened;
	int refs;
	struct acct *acct;		/* the user's bytes held, shared by their routes */
};

/* One side of a splice (chan_splice_client or chan_splice_device): its data. */
struct splice {
	struct chan *peer;		/* the other side; NULL once it was reaped */
	struct route *route;		/* shared by both sides */
	bool opening;			/* device side: forwarded-tcpip open in progress */
	int64_t deadline_ms;		/* opening: give up then */
	struct jbuf spill;		/* client side: read from the device, not yet accepted by ch */
	struct chunkq q;		/* client side: the technician's bytes, taken from libssh on arrival */
	bool granting;			/* inside a deep window grant: take every byte that arrives */
	bool parked;			/* client side: left bytes in libssh past the queue's bound */
	uint32_t parked_max;		/* parked: the most libssh held for it since, what its buffer keeps */
	size_t pinned;			/* parked: what it keeps and holds no more, as counted in acct->pinned */
	uint32_t since_grant;		/* bytes read since the last deep window grant */
	size_t counted;			/* what it holds of its user's bytes, as counted in route->acct */
	bool deep;			/* granted a deep window (counts in acct->ndeep) */
	int64_t granted_ms;		/* when, last */
	uint32_t win_left;		/* of that grant, what the sender has not used yet (at least) */
};

#define SP(h) ((struct splice *)(h)->data)

struct acct;

/* splice.c */
/* A side's data with an empty spill and queue; NULL if out of memory. splice_free frees. */
struct splice *splice_new(void);
/* NULL is a no-op. */
void splice_free(struct splice *sp);
/* The account of user_id's routes, one more reference; NULL if out of memory. */
struct acct *splice_acct_get(struct server *srv, int64_t user_id, const char *user);
/* Drops a reference; NULL is a no-op. */
void splice_acct_unref(struct server *srv, struct acct *a);

/* route.c */
/* Drops a reference to rt; the last writes its `disconnect` record and frees it. */
void route_unref(struct server *srv, struct route *rt);

#endif
