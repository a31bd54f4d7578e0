/*
 * records.h: what the store's record files (fleets.c, users.c, keys.c,
 * devices.c, tokens.c) lend each other, inside src/store only. Each runs
 * inside the caller's transaction when there is one.
 */
#ifndef OUTPOST_STORE_RECORDS_H
#define OUTPOST_STORE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/limits.h"
#include "store/db.h"

/* Fleets user ?1 may reach at time ?2 (a subquery). */
#define GRANTED_FLEETS \
	"SELECT fleet_id FROM grants WHERE user_id = ?1 AND (expires = 0 OR expires > ?2)"

#define RECORDS_STR_(x)	#x
#define RECORDS_STR(x)	RECORDS_STR_(x)
/*
 * 1 if device row d is online as listings show it, else 0: its row says
 * online and its node is up (heartbeat within LIM_NODE_DOWN_S of now, the
 * parameter `now`, e.g. "?2"); a row of node "" (no nodes) needs no heartbeat.
 */
#define DEVICE_LIVE(now) \
	"(CASE WHEN d.online = 1 AND (d.node = '' OR EXISTS (SELECT 1 FROM nodes n " \
	"WHERE n.name = d.node AND n.heartbeat >= " now " - " RECORDS_STR(LIM_NODE_DOWN_S) ")) " \
	"THEN 1 ELSE 0 END)"

/* fleets.c: fleet id and device count (ndevices may be NULL) by name; ERR_NOTFOUND with a message. */
int fleet_lookup(struct store *st, const char *fleet, int64_t *id, int *ndevices);

/* users.c: a user's id by name; ERR_NOTFOUND with a message. */
int user_lookup(struct store *st, const char *user, int64_t *id);
/* users.c: a new user (no key yet), its id in *id. */
int user_insert(struct store *st, const char *user, bool admin, int64_t *id);
/* users.c: grants fleet fid to user uid until expires (0: never). */
int user_grant(struct store *st, int64_t uid, int64_t fid, int64_t expires);

/* keys.c: stores key as owned by a user or a device; ERR_EXISTS (naming the owner) if taken. */
enum key_owner { KEY_USER, KEY_DEVICE };
int key_insert(struct store *st, enum key_owner kind, int64_t owner, const struct pubkey *key);

/* devices.c: a new device name in fleet fid (named fleet, for the message), no key yet, its id in *id. */
int device_insert(struct store *st, const char *name, const char *fleet, int64_t fid, int64_t *id);

#endif
