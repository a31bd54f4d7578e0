/*
 * node.h: this outpostd as one node of several sharing one store
 * (README "Several nodes", NODES-PLAN): its node key, its row in the
 * store's nodes table, its heartbeat, and its session ids.
 */
#ifndef OUTPOST_NODE_H
#define OUTPOST_NODE_H

#include <stdint.h>

struct server;

/*
 * At start, before the loop and the store thread (it may block): loads the
 * node key (cfg->node_key; an ed25519 key generated there, mode 0600, at
 * first start) and registers the node (store_node_register on srv->st),
 * setting srv->node_id, srv->node_name and the first session id
 * (node_id << STORE_NODE_SHIFT). Fatal if a live node of that name runs
 * with another key ("node NAME is already running at ADDR").
 */
void node_start(struct server *srv);
/* The loop's tick: a heartbeat every LIM_NODE_HEARTBEAT_S through the write-behind queue. */
void node_tick(struct server *srv);
/*
 * A clean stop (outpostd's shutdown, while the store thread still runs):
 * marks the node stopped in its row (heartbeat 0, store_node_stop), so the
 * other nodes and `outpost nodes` see it down at once; frees the node key.
 */
void node_free(struct server *srv);

#endif
