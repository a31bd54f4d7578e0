/*
 * storeops.h: outpostd's own writes to the state store (presence, live
 * sessions, on-demand states, device reports, port binds, the audit anchor)
 * as records on a bounded queue, coalesced per device or session, written
 * in order by the store thread (storeq.h).
 *
 * One table of kinds (storeops.c) says how each kind is applied to a store
 * and how a newer record of the same device or session folds into a queued
 * one. A whole-table write (every device offline, every session cleared,
 * every on-demand state forgotten) is a barrier: nothing queued before it
 * folds with anything after it, so the order of the two stays.
 *
 * Not thread-safe: storeq.c holds its lock around every storeops_* call.
 */
#ifndef OUTPOST_STOREOPS_H
#define OUTPOST_STOREOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/audit.h"
#include "store/store.h"

enum storeop_kind {
	SOP_ONLINE, SOP_ALL_OFFLINE, SOP_SESSION, SOP_SESSION_CLEAR, SOP_ONDEMAND,
	SOP_ONDEMAND_CLEAR, SOP_PORT, SOP_INFO, SOP_ANCHOR, SOP_HOSTKEY, SOP_HEARTBEAT, SOP_NODE_STOP,
	SOP_MAX
};

/* One queued write; strings are owned (storeop_free). */
struct storeop {
	enum storeop_kind kind;
	int64_t id;			/* device, session or (HEARTBEAT, NODE_STOP) node id; 0 for whole-table kinds */
	struct storeop *next;		/* queue order */
	struct storeop *hnext;		/* same hash bucket */
	int64_t when;			/* ONLINE, ONDEMAND, ALL_OFFLINE, HOSTKEY: UNIX time; NODE_STOP: its start */
	bool online;			/* ONLINE */
	char *addr;			/* ONLINE: NULL keeps the stored one */
	char *node;			/* ONLINE: the node writing it (fenced), NULL = unfenced;
					 * ALL_OFFLINE: only that node's devices (and node ""'s) */
	int64_t node_id;		/* SESSION_CLEAR: only that node's sessions (and pre-nodes ids); 0 = all */
	int64_t gen;			/* ONLINE: its registration generation, 0 = unfenced */
	bool reg;			/* ONLINE: that registration itself is still to be written */
	bool add, del, has_bytes;	/* SESSION: applied in this order */
	char *skind, *principal, *key_fp, *src;	/* SESSION add */
	int64_t since, bytes;		/* SESSION */
	char *state;			/* ONDEMAND */
	uint32_t port;			/* PORT, HOSTKEY */
	char *hk_type, *hk_key;		/* HOSTKEY: the key a plain device's sshd showed */
	char *hostname, *os, *version, *host_keys;	/* INFO */
	int64_t booted;			/* INFO */
	struct audit_head head;		/* ANCHOR */
	bool reset;			/* ANCHOR */
	char anchor_node[LIM_LABEL + 1];	/* ANCHOR: whose chain */
};

/* Constructors: a new record, or NULL when out of memory. Free with storeop_free. */
/* Unfenced presence (store_device_set_online). */
struct storeop *storeop_online(int64_t device_id, bool online, int64_t when, const char *addr);
/*
 * Presence fenced by registration generation gen of node
 * (store_device_set_presence). An offline record folded into its own
 * registration's online record still writes the registration first, so the
 * store sees it begin and end.
 */
struct storeop *storeop_presence(int64_t device_id, bool online, const char *node, int64_t gen,
    int64_t when, const char *addr);
struct storeop *storeop_all_offline(int64_t when);
/* node's devices offline (store_device_node_offline); node_id's sessions cleared (store_session_clear_node). */
struct storeop *storeop_node_offline(const char *node, int64_t when);
struct storeop *storeop_session_clear_node(int64_t node_id);
/* Node node_id is alive at now (store_node_heartbeat); the newest folds in. */
struct storeop *storeop_heartbeat(int64_t node_id, int64_t now);
/* Node node_id (of its start at started) stopped cleanly (store_node_stop); a barrier. */
struct storeop *storeop_node_stop(int64_t node_id, int64_t started);
struct storeop *storeop_session_add(int64_t id, const char *kind, const char *principal,
    const char *key_fp, const char *src, int64_t since);
struct storeop *storeop_session_bytes(int64_t id, int64_t bytes);
struct storeop *storeop_session_del(int64_t id);
struct storeop *storeop_session_clear(void);
struct storeop *storeop_ondemand(int64_t device_id, const char *state, int64_t when);
struct storeop *storeop_ondemand_clear(void);
struct storeop *storeop_port(int64_t device_id, uint32_t port);
struct storeop *storeop_info(int64_t device_id, const char *hostname, const char *os,
    const char *version, const char *host_keys, int64_t booted);
struct storeop *storeop_anchor(const char *node, const struct audit_head *h, bool reset);
struct storeop *storeop_hostkey(int64_t device_id, uint32_t port, const char *type, const char *key,
    int64_t when);
void storeop_free(struct storeop *op);		/* NULL is a no-op */
void storeop_free_list(struct storeop *list);	/* follows next */

/* The kind's name for logs ("presence", "session", ...). */
const char *storeop_name(const struct storeop *op);
/*
 * Writes op to st with the store's own functions: 0 or its error (the
 * store's errmsg says why). A session added and ended while queued
 * writes nothing.
 */
int storeop_apply(struct store *st, const struct storeop *op);

#define STOREOPS_BUCKETS 4096

struct storeops {
	struct storeop *head, **tail;
	struct storeop *bucket[STOREOPS_BUCKETS];	/* records since the last barrier */
	size_t len;			/* records queued */
	size_t max;			/* bound: storeops_put refuses past it */
	uint64_t dropped;		/* records refused because the queue was full */
};

void storeops_init(struct storeops *q, size_t max);
void storeops_free(struct storeops *q);		/* frees what is queued */
/*
 * Queues op (taken: queued, folded into a queued record of the same kind
 * and id and freed, or freed on refusal). 0, or ERR_BUSY when max records
 * are queued and op folds into none (counted in q->dropped).
 */
int storeops_put(struct storeops *q, struct storeop *op);
/* Takes every queued record (a list in order, caller frees), leaving q empty. */
struct storeop *storeops_take(struct storeops *q);
/*
 * Puts back a list storeops_take gave that could not be written, ahead of
 * what was queued since (the bound does not apply: they were counted once).
 */
void storeops_unget(struct storeops *q, struct storeop *list);

#endif
