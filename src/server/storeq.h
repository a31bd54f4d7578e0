/*
 * storeq.h: outpostd never waits on its database. In mirror mode (always on
 * PostgreSQL; on SQLite with OUTPOST_STORE_MIRROR=1) a store thread owns
 * the real store's connection, and the loop reads an in-memory SQLite
 * mirror with the same schema: srv->st is the mirror, so the rest of
 * outpostd reads it with the ordinary store_* calls, never waiting on a
 * network. The thread fills a fresh mirror when the real store had an access
 * change and hands it to the loop through an eventfd; the loop swaps
 * srv->st. Other nodes' presence rows and the nodes' own rows (up, down,
 * registered, stopped) reach the mirror by themselves, without a copy.
 *
 * outpostd's own writes go through the storeq_* calls below: each is
 * applied to the mirror at once (its result returned, store_errmsg(srv->st)
 * saying why it failed) and queued for the thread (storeops.h), which
 * writes what is queued to the real store in one transaction per drain.
 *
 * When the real store cannot be reached, storeq_unreachable() is true: new
 * logins are refused, established sessions go on, writes wait on the
 * bounded queue, and the thread reconnects with backoff (1 s doubling to
 * 30 s), then writes the queue and reloads the mirror.
 *
 * In direct mode (SQLite by default) srv->st is the real store and every
 * storeq_* call is the store_* call it names.
 */
#ifndef OUTPOST_STOREQ_H
#define OUTPOST_STOREQ_H

#include <stdbool.h>
#include <stdint.h>

#include "common/audit.h"
#include "store/store.h"

struct server;

/* What a login refused for a lost store is told (and its auth metric's reason). */
#define STORE_DOWN_REASON "the state store is unreachable; try again later"

/*
 * Takes the opened store srv->st: direct mode (it stays), or mirror mode
 * (the thread owns it; srv->st becomes a filled mirror; the thread's
 * eventfd joins srv->epfd). A lost connection is re-established by the
 * backend itself at the next statement (pg.c), so the thread only probes.
 * Fatal if mirror mode cannot start.
 */
void storeq_start(struct server *srv);
/*
 * Writes what is queued (waiting for a lost store at most a few seconds),
 * stops the thread and closes both stores; srv->st is NULL after. Direct
 * mode: closes srv->st.
 */
/*
 * The loop is shutting down: from now on the thread only writes (no fresh
 * mirror, no presence read: the loop would not take them, and a copy of a
 * large store took seconds of the shutdown).
 */
void storeq_stopping(struct server *srv);
void storeq_stop(struct server *srv);
/* The loop's epoll said the eventfd is readable: takes a fresh mirror. */
void storeq_ready(struct server *srv);
/* The real store may have changed (a remote admin command): look now. */
void storeq_poke(struct server *srv);
/*
 * True while the real store cannot be reached (mirror mode only), or has
 * not answered the thread for LIM_NODE_DOWN_S (a connection gone silent).
 */
bool storeq_unreachable(const struct server *srv);
/*
 * Each tick: past LIM_NODE_DOWN_S without an answer from the real store
 * (the bound past which other nodes take this one for down), drops every
 * device session (this node can no longer vouch for them), logged once.
 */
void storeq_tick(struct server *srv);
/* Mirror mode: true. For logs and metrics. */
bool storeq_mirrored(const struct server *srv);

struct storeq_stats {
	uint64_t depth;		/* records queued now */
	uint64_t max;		/* the queue's bound */
	uint64_t dropped;	/* records refused because the queue was full */
	uint64_t written;	/* records written to the real store */
	uint64_t batches;	/* transactions that wrote them */
	uint64_t reloads;	/* mirrors taken (full copies) */
	uint64_t node_updates;	/* nodes' rows written into the mirror without a full copy */
	uint64_t lock_waits;	/* drains that found another writer's lock held through the store's wait */
	uint64_t notifies;	/* notifications (LISTEN/NOTIFY) the thread acted on */
	uint64_t cutoff_drops;	/* device sessions dropped after LIM_NODE_DOWN_S without the store */
	uint64_t refused;	/* logins refused while the store was unreachable */
	uint64_t failures;	/* store_failures of the real store (the thread's calls) */
};
void storeq_get_stats(const struct server *srv, struct storeq_stats *out);
/* A login was refused for the lost store (counted). */
void storeq_refused_login(struct server *srv);

/* outpostd's own writes: the store_* call of the same name on srv->st, queued in mirror mode. */
int storeq_device_set_online(struct server *srv, int64_t device_id, bool online, int64_t when,
    const char *addr);
/* Fenced presence of this node (srv->node_name) under registration gen (store_device_set_presence). */
int storeq_device_set_presence(struct server *srv, int64_t device_id, bool online, int64_t gen,
    int64_t when, const char *addr);
int storeq_device_all_offline(struct server *srv, int64_t when);
/* This node's devices offline and its sessions cleared (a node's start and stop); all of them without a node. */
int storeq_node_offline(struct server *srv, int64_t when);
/* This node's heartbeat (srv->node_id). */
int storeq_node_heartbeat(struct server *srv, int64_t now);
/* A clean stop: this node's row (of its start at started) down at once (store_node_stop). */
int storeq_node_stop(struct server *srv, int64_t started);
int storeq_session_add(struct server *srv, int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since);
int storeq_session_set_bytes(struct server *srv, int64_t id, int64_t bytes);
int storeq_session_del(struct server *srv, int64_t id);
int storeq_session_clear(struct server *srv);
int storeq_device_set_ondemand(struct server *srv, int64_t device_id, const char *state,
    int64_t when);
/*
 * Forgets every on-demand state (start-up: the broker's retained states come
 * back), unless another node is up: it follows the same broker and keeps
 * them current, and this node's retained states equal to them are not
 * written again.
 */
int storeq_device_clear_ondemand(struct server *srv);
/*
 * Binds port to the device in the loop's store; in mirror mode queues the
 * write only when that changed the row (a device binding its own port again
 * at each reconnect writes nothing: on PostgreSQL the write would notify a
 * change and every node would copy the whole store again).
 */
int storeq_device_bind_port(struct server *srv, int64_t device_id, uint32_t port, char *holder,
    size_t hlen);
int storeq_device_set_info(struct server *srv, int64_t device_id, const char *hostname,
    const char *os, const char *version, const char *host_keys, int64_t booted);
int storeq_audit_anchor_set(struct server *srv, const char *node, const struct audit_head *h,
    bool reset);
/* store_hostkey_seen on the loop's store (its answer in *seen, old), queued for the real one. */
int storeq_hostkey_seen(struct server *srv, int64_t device_id, uint32_t port, const char *type,
    const char *key, int64_t now, int *seen, char *old, size_t oldlen);

#endif
