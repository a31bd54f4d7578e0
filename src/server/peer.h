/*
 * peer.h: peering between outpostd nodes (PROTOCOL.md, "Peering").
 *
 * The technician's node (A) reaches a device held by another node (B) over
 * one long-lived libssh CLIENT connection per peer node, a conn like any
 * other (c->link set) stepped from the epoll loop: TCP connect, key
 * exchange, B's host key checked against A's own client-facing one,
 * public-key login as `node:A` with A's node key. Channels on it are
 * direct-tcpip opens to NAME.FLEET:PORT, originator = the user who asked;
 * splice.c splices them to the technician's channel. The link is opened on
 * first need, closed after LIM_PEER_IDLE_S without channels, and after a
 * failure not tried again before a backoff.
 *
 * B's side: a login as `node:NAME` whose key is that node's node_key is
 * principal kind NODE (session.c), which may only open direct-tcpip to
 * devices B holds itself (route.c).
 */
#ifndef OUTPOST_PEER_H
#define OUTPOST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct server;
struct conn;
struct chan;
struct route;
struct pubkey;

#define PEER_USER_PREFIX "node:"	/* the SSH user name of a node's login: node:NAME */

/* One peer node as the store describes it (peer_lookup's answer). */
struct peer_node {
	char name[LIM_LABEL + 1];
	char addr[LIM_HOSTPORT];	/* its PeerAddress "ip:port"; "" = not reachable */
	char key[LIM_PUBKEY_TEXT];	/* its node key "type base64" */
	bool up;			/* heartbeat fresh */
};

/* Counters for metrics.c. */
struct peer_stats {
	int links;			/* peer connections now (any state) */
	int links_up;			/* of them, logged in */
	uint64_t connects, connect_failures;
	uint64_t opens, open_failures, refused_busy;
};

/* Pure helpers (unit-tested) */
/* "node:NAME" -> NAME (a label); NULL if user is not a node's login name. */
const char *peer_user_node(const char *user);
/* Milliseconds to wait before retry number fails (1-based): 1 s doubling, at most LIM_PEER_BACKOFF_MAX_S. */
int64_t peer_backoff_ms(int fails);

/* This node's name ("" when it has none). */
const char *peer_my_name(const struct server *srv);
/* Takes this node's key from node.c (after node_start); no name or key: peering off. */
void peer_init(struct server *srv);
void peer_free(struct server *srv);
/* Once a tick: idle links closed. */
void peer_tick(struct server *srv);
void peer_get_stats(struct peer_stats *out);

/*
 * The node other than this one that holds device dev_id online and is up:
 * true and its name in node (LIM_LABEL + 1), else false.
 */
bool peer_holder(struct server *srv, int64_t dev_id, char *node, size_t nodelen);
/*
 * Makes the technician's accepted channel cl the client side of a route to
 * qualified:port through node. On failure cl becomes a refusal with the reason.
 */
void peer_route(struct chan *cl, const char *node, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port);
/* B's side: true if key is node's node key (user "node:NAME"). */
bool peer_key_is_node(struct server *srv, const char *node, const struct pubkey *key);

/* The link conn c (c->link != NULL) before it logged in: one handshake step. */
void peer_step(struct conn *c);
/* c (a link) is being reaped. */
void peer_conn_gone(struct conn *c);
/*
 * Splice device side dv on a link, route rt: steps the direct-tcpip open.
 * 1 open, 0 in progress, -1 failed (why set).
 */
int peer_open_step(struct chan *dv, const struct route *rt, char *why, size_t whylen);

#endif
