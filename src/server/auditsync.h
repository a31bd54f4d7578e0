/*
 * auditsync.h: on a PostgreSQL store, a thread that copies this node's
 * audit.log into the store's audit_records (every node's chain, record by
 * record), so that `outpost audit` and `audit verify` see all nodes.
 */
#ifndef OUTPOST_AUDITSYNC_H
#define OUTPOST_AUDITSYNC_H

#include <stdbool.h>
#include <stdint.h>

struct server;

/*
 * Starts the copier of node's chain if the store is PostgreSQL and node is not "":
 * its own store connection (opened in the thread, never on the loop), the
 * records past the store's last one of this node's chain copied in batches
 * (store_audit_sync), at most AUDITSYNC_MS after they were written or at
 * once when poked. A store that cannot be reached delays the copy, never
 * drops a record: they wait in audit.log and are copied by seq when it
 * answers again. No-op otherwise. Call before storeq_start (srv->st is
 * then the real store).
 */
#define AUDITSYNC_MS	1000
void auditsync_start(struct server *srv, const char *node);
/* True while the copier runs: it, not the loop, moves the node's anchor. */
bool auditsync_running(void);
/* Records were written up to seq (the loop, when the head moved): copy them soon. */
void auditsync_poke(int64_t seq);
/*
 * Records of this node's audit.log not in the store yet: the last seq the
 * loop passed to auditsync_poke less the last one the copier copied (0 when
 * not running, or caught up; a cut log counts from its new head).
 */
int64_t auditsync_behind(void);
/* Copies what is left (waiting at most AUDITSYNC_STOP_MS for the store), then ends the thread. */
#define AUDITSYNC_STOP_MS	5000
void auditsync_stop(void);

#endif
