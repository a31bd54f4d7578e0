/*
 * store.h: the state store (fleets, users and their keys and grants, devices),
 * the one boundary behind which all SQL lives. SQLite in WAL mode today.
 *
 * All names passed in must already be normalized labels (names.h); the store
 * validates them again and returns ERR_NAME otherwise. Every function returns
 * 0 or a negative code from common/err.h. Strings in the structs handed to
 * callbacks are valid only during the callback.
 */
#ifndef OUTPOST_STORE_H
#define OUTPOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/audit.h"
#include "common/limits.h"
#include "ssh/pubkey.h"

struct store;

/*
 * Opens (creating if needed, mode 0700) the state directory and outpost.db in
 * it, creates or migrates the schema. *out is NULL on failure. The caller
 * frees with store_close(). Opening a read-only directory gives ERR_READONLY.
 */
int store_open(const char *state_dir, struct store **out);
/*
 * Like store_open, and on failure writes one human-readable sentence (naming
 * the path and the cause) into why (whylen bytes; why may be NULL).
 */
int store_open_why(const char *state_dir, struct store **out, char *why, size_t whylen);
/*
 * Opens the store a spec names, creating or migrating its schema:
 *   NULL, "" or "sqlite"	outpost.db in state_dir (created 0700 if needed)
 *   "sqlite:PATH"		the SQLite database file PATH (a directory: its outpost.db)
 *   "sqlite::memory:"	a private SQLite database in memory, gone at store_close
 *				(a mirror, a test); each open is a new, empty one
 *   "postgresql://…"	a libpq URI ("postgres://" too); passwords come from a
 *				passfile or PGPASSFILE, TLS from sslmode
 * Anything else is ERR_CONFIG. On failure *out is NULL and why (whylen
 * bytes, may be NULL) gets one sentence naming the store (its password
 * masked) and the cause.
 */
int store_open_spec(const char *spec, const char *state_dir, struct store **out,
    char *why, size_t whylen);
/*
 * Copies spec into out (len bytes) with any password replaced by "***"
 * (a URI's user:password@ and a password= parameter), for logs and -T.
 */
void store_spec_redact(const char *spec, char *out, size_t len);
/*
 * Checks a spec's form without opening anything (outpostd.conf's Store,
 * `outpost --store`, OUTPOST_STORE): one of the forms store_open_spec takes,
 * at most LIM_STORE_SPEC bytes, no control characters. 0, or ERR_CONFIG with
 * one sentence in why (whylen bytes) that shows the spec only redacted.
 */
int store_spec_check(const char *spec, char *why, size_t whylen);
/* True if spec carries a password store_spec_redact would mask. */
bool store_spec_has_password(const char *spec);
/*
 * What a spec opens, for logs: "sqlite STATE_DIR/outpost.db", "sqlite PATH",
 * or the URI redacted ("postgresql://ann:***@db/outpost"). Into out (len bytes).
 */
void store_spec_describe(const char *spec, const char *state_dir, char *out, size_t len);
/*
 * The one-line failure both outpostd and outpost print when store_open_spec
 * fails with why: "cannot open the store DESCRIPTION: CAUSE". Into out.
 */
void store_spec_failure(const char *spec, const char *state_dir, const char *why, char *out,
    size_t len);
/* The engine a store runs on: "sqlite" or "postgresql". */
const char *store_engine(const struct store *st);
void store_close(struct store *st);		/* NULL is a no-op */

/*
 * Why the last call failed, as one sentence ("fleet acme already exists",
 * or SQLite's own text). Storage inside st, valid until the next call.
 */
const char *store_errmsg(struct store *st);

/* ---- fleets ---- */
int store_fleet_add(struct store *st, const char *fleet);
/* ERR_INUSE if devices still belong to the fleet; grants are removed. */
int store_fleet_rm(struct store *st, const char *fleet);
/*
 * List functions call cb once per row; a non-zero return from cb stops the
 * walk and is returned. Callbacks may call other store functions.
 */
typedef int (*store_fleet_cb)(void *arg, const char *fleet, int ndevices);
int store_fleet_list(struct store *st, store_fleet_cb cb, void *arg);
/* Device counts per fleet as the store has them: online, standby (on demand, woken by a connection), offline. */
typedef int (*store_fleet_state_cb)(void *arg, const char *fleet, int online, int standby,
    int offline);
int store_fleet_states(struct store *st, store_fleet_state_cb cb, void *arg);
/* 0 if the fleet exists (its device count in *ndevices, may be NULL), else ERR_NOTFOUND. */
int store_fleet_get(struct store *st, const char *fleet, int *ndevices);

/* ---- users ---- */
struct store_user {
	int64_t id;
	const char *name;
	bool admin;
	const char *fleets;	/* comma-separated fleets granted now (unexpired), "" if none */
	const char *key_fps;	/* comma-separated key fingerprints */
};
/* Adds a user with one key. ERR_EXISTS if the name or the key is taken
 * (a key belongs to exactly one user or device). */
int store_user_add(struct store *st, const char *user, bool admin,
    const struct pubkey *key);
/* Adds another key to an existing user. */
int store_user_add_key(struct store *st, const char *user, const struct pubkey *key);
/* Removes one of a user's keys, named by fingerprint; ERR_NOTFOUND if not theirs. */
int store_user_rm_key(struct store *st, const char *user, const char *fp);
int store_user_rm(struct store *st, const char *user);
/* Grants a fleet to a user; expires is a UNIX time or 0 for never.
 * Granting again replaces the expiry. ERR_NOTFOUND if user or fleet is unknown. */
int store_grant(struct store *st, const char *user, const char *fleet, int64_t expires);
int store_revoke(struct store *st, const char *user, const char *fleet);
typedef int (*store_user_cb)(void *arg, const struct store_user *u);
int store_user_list(struct store *st, store_user_cb cb, void *arg);
/* One user by id; cb is called once, or ERR_NOTFOUND. */
int store_user_get(struct store *st, int64_t user_id, store_user_cb cb, void *arg);

/* ---- devices ---- */
struct store_device {
	int64_t id;
	const char *name;
	const char *fleet;
	const char *key_fp;
	bool online;		/* its row says online AND its node is up (heartbeat within
				 * LIM_NODE_DOWN_S; node "" needs none) */
	int64_t last_seen;	/* UNIX time, 0 = never */
	const char *last_addr;	/* "ip:port" or "" */
	const char *ondemand;	/* last MQTT state of an on-demand device, "" if none */
	int64_t ondemand_since;	/* UNIX time of that state, 0 if none */
	uint32_t port;		/* its port-table port (`-J jump -p PORT user@localhost`), 0 = none */
	char node[LIM_LABEL + 1];	/* the node that holds (or last held) it, "" = none or pre-nodes */
	int64_t gen;		/* that registration's generation (microseconds), 0 = none */
	bool held;		/* its row says online (node holds it), whether or not node is up */
};
/* ERR_NOTFOUND if the fleet does not exist, ERR_EXISTS if name.fleet or the key is taken. */
int store_device_add(struct store *st, const char *name, const char *fleet,
    const struct pubkey *key);
int store_device_rm(struct store *st, const char *name, const char *fleet);
/*
 * `outpost import sshd`: adds every item, as a device of fleet (users false)
 * or as a non-admin user granted fleet forever (users true), in one
 * transaction: all of them or none. A device's port (its port-table port)
 * is bound to it there, as store_device_bind_port would; an item marked
 * existing is a device already in the fleet under that name and key, and
 * only its port is bound (when it has none yet). On failure *failed is the
 * index of the item that failed (store_errmsg says why: a name or key
 * already taken, or a port another device of the fleet holds, naming both),
 * or n when no single item did (fleet missing, storage error).
 */
struct store_import_item {
	const char *name;		/* normalized label */
	const struct pubkey *key;
	uint32_t port;			/* devices: port-table port, 0 = none */
	bool existing;			/* devices: already imported; only port is bound */
};
int store_import(struct store *st, const char *fleet, bool users,
    const struct store_import_item *items, size_t n, size_t *failed);
/*
 * Binds port-table port to a device that has none; a device keeps the first
 * port bound to it. 0 if port is (now) the device's or the device already
 * has another; ERR_EXISTS if another device of its fleet holds port (its
 * name in holder, hlen >= LIM_LABEL + 1); ERR_INVAL out of 1-65535.
 */
int store_device_bind_port(struct store *st, int64_t device_id, uint32_t port, char *holder, size_t hlen);
/*
 * The device whose bound port-table port is port, among the fleets user_id
 * may reach now (0: all): *device_id and "name.fleet" in qualified
 * (qlen >= 2 * LIM_TARGET + 8). ERR_NOTFOUND if none; ERR_AMBIGUOUS if
 * several fleets have one (qualified then names two: "a.f and b.g").
 */
int store_device_by_port(struct store *st, int64_t user_id, uint32_t port, int64_t *device_id,
    char *qualified, size_t qlen);
typedef int (*store_device_cb)(void *arg, const struct store_device *d);
/* All devices ordered by fleet, name. */
int store_device_list(struct store *st, store_device_cb cb, void *arg);
/* Devices a user may reach now (unexpired grants), ordered by fleet, name. */
int store_device_list_for_user(struct store *st, int64_t user_id,
    store_device_cb cb, void *arg);
/*
 * Resolves what a user asked for: "name.fleet" (fleet non-empty) or a bare
 * name (fleet ""), among the fleets user_id may reach now; user_id 0 means
 * all fleets. Fills *device_id, and fleet_out (LIM_LABEL + 1 bytes).
 * ERR_NOTFOUND if no reachable device has that name (a device outside the
 * user's grants is reported exactly like a missing one), ERR_AMBIGUOUS if a
 * bare name matches in several reachable fleets.
 */
int store_device_resolve(struct store *st, int64_t user_id, const char *name,
    const char *fleet, int64_t *device_id, char *fleet_out);
/* One device by id; cb is called once, or ERR_NOTFOUND. */
int store_device_get(struct store *st, int64_t device_id, store_device_cb cb, void *arg);

/*
 * Liveness without fencing (tests, tools): addr may be NULL to keep the old
 * one. The node and generation stay as they are; the presence order moves.
 */
int store_device_set_online(struct store *st, int64_t device_id, bool online,
    int64_t when, const char *addr);
/*
 * Liveness as outpostd writes it, fenced by registration generation gen
 * (the registering node's wall clock in microseconds): online claims the
 * device for node (a label, or "" on a store without nodes) only if the
 * stored gen is older (ERR_DENIED otherwise: another registration is
 * newer, store_errmsg names its node); offline takes back only node's own
 * registration gen (a newer holder's row is left alone and 0 is returned).
 * Each write moves the device's presence order (pseq). addr may be NULL to
 * keep the old one. ERR_NOTFOUND for an unknown device, ERR_NAME for a bad
 * node name, ERR_TOOLONG for an address past LIM_PEER_STRING, ERR_INVAL for
 * gen <= 0.
 */
int store_device_set_presence(struct store *st, int64_t device_id, bool online, const char *node,
    int64_t gen, int64_t when, const char *addr);
/* Marks every device offline (at start-up, after a crash). */
int store_device_all_offline(struct store *st, int64_t when);
/* Marks offline the devices node holds, and those held by "" (the pre-nodes rows): a node's start and stop. */
int store_device_node_offline(struct store *st, const char *node, int64_t when);

/*
 * Presence changes in order (pseq), for a node's mirror to catch up: every
 * device whose presence order is past after_pseq, in that order. Rows as
 * stored (online as written, whatever its node's heartbeat). skip_node
 * (NULL: none) leaves out the rows that node holds: a node's own writes are
 * in its mirror already.
 */
struct store_presence {
	int64_t device_id, gen, pseq, last_seen;
	bool online;
	char node[LIM_LABEL + 1];
};
typedef int (*store_presence_cb)(void *arg, const struct store_presence *p);
int store_presence_since(struct store *st, int64_t after_pseq, const char *skip_node,
    store_presence_cb cb, void *arg);
/*
 * Writes a presence row as another store had it (a mirror catching up): no
 * fencing, pseq kept. ERR_NOTFOUND for an unknown device, ERR_NAME for a bad node.
 */
int store_presence_apply(struct store *st, const struct store_presence *p);
/*
 * On-demand state as outpostd read it from MQTT: a lower-case word
 * ("standby", "connected", "disconnected", "offline"; "" = not on demand).
 * ERR_INVAL for anything else, ERR_NOTFOUND for an unknown device.
 */
int store_device_set_ondemand(struct store *st, int64_t device_id, const char *state,
    int64_t when);
/* Forgets every on-demand state (outpostd at start-up; retained states come back). */
int store_device_clear_ondemand(struct store *st);

/* ---- nodes: the outpostd processes sharing one store ----
 * Each registers at start (store_node_register) and beats every
 * LIM_NODE_HEARTBEAT_S; one whose heartbeat is older than LIM_NODE_DOWN_S
 * is down, and the devices it holds are offline for everyone. */
struct store_node {
	int64_t id;
	char name[LIM_LABEL + 1];		/* NodeName, a label */
	char peer_addr[LIM_HOSTPORT];		/* "host:port", "" = peers cannot reach it */
	char node_key[LIM_PUBKEY_TEXT];		/* the node key's public half, "ssh-ed25519 AAAA..." */
	int64_t started, heartbeat;		/* UNIX times */
	char version[LIM_NODE_VERSION];
	int devices;				/* list, get: devices it holds online (0 while down) */
	int stranded;				/* list, get, down only: rows still online at it (shown offline) */
	bool up;				/* list, get, scan: heartbeat within LIM_NODE_DOWN_S of now */
};
/*
 * Upserts the row of n->name: peer address, node key, version, started and
 * heartbeat (both n->started; heartbeat n->heartbeat if later). Refused with
 * ERR_INUSE ("node NAME is already running at ADDR") if a row of that name
 * beats within LIM_NODE_DOWN_S of n->started AND has another node key.
 * *id gets the row's id (1 or more; below 2^23, so session ids
 * (id << 40 | serial) stay positive). ERR_NAME for a bad name; ERR_TOOLONG
 * for a field not NUL-terminated in its array; ERR_INVAL for control
 * characters in a field or started <= 0.
 */
int store_node_register(struct store *st, const struct store_node *n, int64_t *id);
/* The node's heartbeat is now (never moved back). ERR_NOTFOUND if its row is gone. */
int store_node_heartbeat(struct store *st, int64_t id, int64_t now);
/*
 * A clean stop: heartbeat 0, so the node is down for everyone at once
 * (PostgreSQL notifies the others). Only the row of that start (started):
 * none if the name started again elsewhere meanwhile.
 */
int store_node_stop(struct store *st, int64_t id, int64_t started);
typedef int (*store_node_cb)(void *arg, const struct store_node *n);
/* Every node, by name; up computed against the wall clock now. */
int store_node_list(struct store *st, store_node_cb cb, void *arg);
/* One node by name; ERR_NOTFOUND if none. */
int store_node_get(struct store *st, const char *name, struct store_node *out);
/* Every node's row and up at now, by name, without the device counts (a read of a few rows). */
int store_node_scan(struct store *st, int64_t now, store_node_cb cb, void *arg);
/*
 * A mirror (outpostd's in-memory copy of a PostgreSQL store) does not see
 * the other nodes' heartbeats: the store thread freezes each node's up/down
 * state in it when it fills it (store_node_freeze: heartbeat
 * STORE_NODE_FROZEN_UP if up at now, 0 if down), and when a node's row or
 * up/down state changes on the real store (store_node_scan every second and
 * on notifications) it replaces the mirror's rows with the new ones
 * (store_node_mirror: v's rows, each frozen by its up; not an access
 * change). Neither touches any other table.
 */
#define STORE_NODE_FROZEN_UP	(INT64_C(1) << 62)
int store_node_freeze(struct store *st, int64_t now);
int store_node_mirror(struct store *st, const struct store_node *v, size_t n);
/* Session ids of node id: (id << STORE_NODE_SHIFT) | serial. */
#define STORE_NODE_SHIFT	40
/* Removes the live sessions of node id (their ids' range) and those with ids below 2^40 (pre-nodes). */
int store_session_clear_node(struct store *st, int64_t node_id);

/* ---- authentication ---- */
enum store_principal_kind {
	PRINCIPAL_NONE, PRINCIPAL_USER, PRINCIPAL_DEVICE,
	PRINCIPAL_ENROLL,	/* outpostd only: a key logging in as `enroll` to bind itself */
	PRINCIPAL_NODE		/* outpostd only: another node, logged in as node:NAME with its node key */
};
struct store_principal {
	enum store_principal_kind kind;
	int64_t id;				/* user id or device id */
	char name[LIM_LABEL + 1];		/* user name or device name */
	char fleet[LIM_LABEL + 1];		/* device's fleet, "" for users */
	bool admin;
	char key_type[PUBKEY_TYPE_MAX];
	char key_fp[PUBKEY_FP_MAX];
};
/*
 * Finds who owns a key. Matches on fingerprint AND the full base64 blob.
 * ERR_NOTFOUND if nobody does; *out is zeroed on entry.
 */
int store_principal_by_key(struct store *st, const struct pubkey *key,
    struct store_principal *out);

/* ---- live sessions (`outpost who`, `outpost kick`) ----
 * outpostd records each authenticated connection here so that the local CLI
 * and remote admins see the same live view; a kick is a flag outpostd acts on
 * within a second. Rows are cleared when outpostd starts. */
struct store_session {
	int64_t id;			/* outpostd's connection serial */
	const char *kind;		/* "user" or "device" */
	const char *principal;		/* user name or name.fleet */
	const char *key_fp;
	const char *src;		/* "ip:port" */
	int64_t since;			/* UNIX time */
	int64_t bytes;			/* routed so far (updated every few seconds) */
	bool kicked;
};
int store_session_add(struct store *st, int64_t id, const char *kind,
    const char *principal, const char *key_fp, const char *src, int64_t since);
int store_session_set_bytes(struct store *st, int64_t id, int64_t bytes);
int store_session_del(struct store *st, int64_t id);
int store_session_clear(struct store *st);
typedef int (*store_session_cb)(void *arg, const struct store_session *s);
/* Ordered by id. */
int store_session_list(struct store *st, store_session_cb cb, void *arg);
/*
 * Marks sessions kicked: target is a session id ("42") or a principal (user
 * name or name.fleet). *count gets how many were marked; ERR_NOTFOUND if none.
 */
int store_session_kick(struct store *st, const char *target, int *count);
/* Sessions with kicked set (outpostd ends them). */
int store_session_list_kicked(struct store *st, store_session_cb cb, void *arg);

/*
 * Re-checks, for live sessions, that a user may still reach a device now:
 * the user exists, and is an admin or holds an unexpired grant on the
 * device's fleet, and the device still exists. 0 if so, else ERR_NOTFOUND.
 */
int store_user_may_reach(struct store *st, int64_t user_id, int64_t device_id);

/* ---- enrollment tokens (`outpost enroll`, outpost-agent's first start) ----
 * A token's secret never reaches the store: callers pass the lower-case hex
 * SHA-256 of it. `id` is the first 12 hex digits of that hash. */
struct store_token {
	const char *id;
	const char *fleet;
	int uses_left;		/* -1 = unlimited */
	int used;
	int64_t expires;	/* 0 = never */
	bool revoked;
	int64_t created;
};
/* uses <= 0 means unlimited; expires 0 means never. */
int store_token_add(struct store *st, const char *hash, const char *fleet, int uses,
    int64_t expires);
typedef int (*store_token_cb)(void *arg, const struct store_token *t);
int store_token_list(struct store *st, store_token_cb cb, void *arg);
/* Revokes the token(s) whose hash starts with id (6-64 hex digits). */
int store_token_revoke(struct store *st, const char *id);
/*
 * Binds key to name in the token's fleet and uses the token once, in one
 * transaction. Enrolling again with the same key succeeds without using the
 * token again. ERR_DENIED (unknown, revoked, expired or used-up token: see
 * store_errmsg), ERR_EXISTS (name bound to another key, or key bound to
 * something else). fleet_out (LIM_LABEL + 1 bytes) gets the fleet.
 */
int store_enroll(struct store *st, const char *hash, const char *name,
    const struct pubkey *key, char *fleet_out);

/* ---- what devices report (agent `report`) ---- */
/* booted: UNIX time the device booted (report time - its uptime), 0 = unknown. */
int store_device_set_info(struct store *st, int64_t device_id, const char *hostname,
    const char *os, const char *version, const char *host_keys, int64_t booted);
struct store_device_info {
	const char *name, *fleet, *hostname, *os, *version;
	const char *host_keys;	/* "TYPE BASE64" lines, '\n'-separated, "" if none */
	int64_t booted;		/* 0 = unknown */
};
typedef int (*store_info_cb)(void *arg, const struct store_device_info *d);
/* Devices user_id may reach (0 = all), ordered by fleet, name. */
int store_device_info_list(struct store *st, int64_t user_id, store_info_cb cb, void *arg);

/* ---- the audit chains' anchors, one per node (anchor.c; audit.h: struct audit_head) ----
 * The head of a node's audit.log as its writers last saw it, so that `audit
 * verify` can tell a log (or the store's copy of it) cut at its end, emptied
 * or with a rewritten tail. Node '' is the chain from before nodes (schema
 * 10), until a node claims it. */
/* ERR_NOTFOUND if node's chain was never anchored. node: a label, or '' (the pre-nodes chain). */
int store_audit_anchor_get(struct store *st, const char *node, struct audit_head *out);
/*
 * The pre-nodes chain's anchor becomes node's, if there is one and node has
 * none yet (a node starting claims it: single-node installs keep their
 * chain). 0 if claimed, ERR_NOTFOUND if there was nothing to claim.
 */
int store_audit_anchor_claim(struct store *st, const char *node);
/*
 * What a writer starts from: node's anchor; if it has none, the pre-nodes
 * anchor, claimed, but only if the log at log_path holds the record it
 * names (the log that ran before nodes; a new node's log does not, and
 * leaves it to that one). *claimed says if it was. 0, ERR_NOTFOUND, or
 * the store's error.
 */
int store_audit_anchor_load(struct store *st, const char *node, const char *log_path,
    struct audit_head *out, bool *claimed);
/*
 * Moves node's anchor to h if h->seq is past it (writers race; the anchor
 * only goes forward), or in any case when reset (an audit-cut record
 * re-anchors a cut log). ERR_INVAL for a head that is not one, ERR_NAME.
 */
int store_audit_anchor_set(struct store *st, const char *node, const struct audit_head *h, bool reset);
/* Every chain the store knows, by node name: anchor NULL if it has records but no anchor. */
typedef int (*store_audit_chain_cb)(void *arg, const char *node, const struct audit_head *anchor);
int store_audit_chains(struct store *st, store_audit_chain_cb cb, void *arg);
/* 64 lower-case hex digits. */
bool store_audit_hash_valid(const char *h);

/* ---- every node's audit chain, record by record (auditrec.c; PostgreSQL installs) ---- */
struct store_audit_record {
	const char *node;
	int64_t seq;		/* 1-based, its line number in the node's audit.log */
	int64_t ts;		/* unix ms, from its "ts" (0 if it has none) */
	const char *hash;	/* hex SHA-256 of the line as audit.log holds it */
	const char *record;	/* the line, without its newline */
};
typedef int (*store_audit_record_cb)(void *arg, const struct store_audit_record *r);
/*
 * Adds recs[0..n) to node's chain (a seq already there is left as it is: two
 * copiers of one log insert the same records) and, if head is not NULL,
 * moves node's anchor forward to it, in one transaction.
 */
int store_audit_records_append(struct store *st, const char *node,
    const struct store_audit_record *recs, int n, const struct audit_head *head);
/* The highest seq of node's chain and its hash (AUDIT_HASH_HEX + 1 bytes); 0 and zeros if none. */
int store_audit_records_last(struct store *st, const char *node, int64_t *seq, char *hash);
/* All nodes' records with ts >= since_ms, merged by time (ts, node, seq). */
int store_audit_records_list(struct store *st, int64_t since_ms, store_audit_record_cb cb, void *arg);
/* Node's records by seq. */
int store_audit_records_chain(struct store *st, const char *node, store_audit_record_cb cb, void *arg);
/*
 * Checks node's chain in the store as audit_verify checks a log: seq 1, 2,
 * ... without a gap, each record's text hashing to its hash column, each
 * prev the hash of the record before, no audit-cut, and the anchor (NULL:
 * none) still held. 0, ERR_INVAL with res->why ("record 3: ..."), or the
 * store's error.
 */
int store_audit_chain_verify(struct store *st, const char *node, const struct audit_head *anchor,
    struct audit_verify_result *res);

/*
 * Copying a node's audit.log (path) into its chain in the store, by seq:
 * every complete line past the store's last record of the chain, in
 * batches of max (0: STORE_AUDIT_BATCH) records, each batch in one
 * transaction with the anchor moved to its last record. cur remembers
 * where the file's copied part ends (zero it before the first call); a new
 * cursor starts where the node's anchor says the store's last record ends
 * (the next line must then be a record chained onto it), and one that no
 * longer matches the store is found again by counting the file's lines. Returns 0 when the file is copied to its end (*copied
 * says how many records went in), ERR_INVAL if the log no longer holds
 * the store's last record (cut or rewritten: nothing more is copied; the
 * store's copy stays as evidence), or the store's or the file's error
 * (then try again later: nothing is lost, the log keeps the records).
 */
#define STORE_AUDIT_BATCH	256
struct store_audit_cursor {
	bool valid;
	int64_t seq;			/* the last record copied */
	int64_t start, size;		/* its line's offset in the file, and the offset past its newline */
	char hash[AUDIT_HASH_HEX + 1];
};
int store_audit_sync(struct store *st, const char *node, const char *path,
    struct store_audit_cursor *cur, int max, int *copied);

/* ---- host keys outpostd learned from a plain device's sshd (hostkeys.c) ----
 * One recorded key per device, port and key type. A different key of a
 * recorded type is kept aside as `pending` and flagged, never recorded in
 * its place until an admin accepts it (store_hostkey_accept). */
enum store_hostkey_seen { HOSTKEY_SAME, HOSTKEY_LEARNED, HOSTKEY_CHANGED };
/*
 * Records that device_id's sshd on port showed key (type, base64 blob) at
 * now. *seen says what that was; on HOSTKEY_CHANGED the recorded blob is
 * copied to old (oldlen bytes, may be truncated). ERR_KEY for a type or blob
 * that is not a plain OpenSSH host key, ERR_INVAL for a bad port,
 * ERR_NOTFOUND for an unknown device.
 */
int store_hostkey_seen(struct store *st, int64_t device_id, uint32_t port, const char *type,
    const char *key, int64_t now, int *seen, char *old, size_t oldlen);
/* How many keys are recorded for device_id's port (0: none, an unknown sshd). */
int store_hostkey_count(struct store *st, int64_t device_id, uint32_t port, int *n);
/* Makes every pending key of device_id its recorded one; *n: how many (0: none pending). */
int store_hostkey_accept(struct store *st, int64_t device_id, int *n);
struct store_hostkey {
	const char *name, *fleet;
	uint32_t port;			/* the device's port its sshd answered on */
	uint32_t table_port;		/* the device's port-table port, 0 = none */
	const char *type, *key;		/* the recorded key */
	const char *pending;		/* a different key seen since, "" = none */
	int64_t learned, changed;	/* UNIX times; changed 0 = nothing pending */
};
typedef int (*store_hostkey_cb)(void *arg, const struct store_hostkey *k);
/* Keys of the devices user_id may reach (0 = all), ordered by fleet, name, port, type. */
int store_hostkey_list(struct store *st, int64_t user_id, store_hostkey_cb cb, void *arg);
/* ---- copying a store (`outpost store copy`, outpostd's mirror) ---- */
#define STORE_COPY_FORCE	(1u << 0)	/* replace the rows of a target that has some */
#define STORE_COPY_SESSIONS	(1u << 1)	/* the kicked live sessions too (a mirror's) */
/*
 * Copies every record of from (fleets, users, devices with their reported
 * info, port, on-demand state and presence (node, gen, pseq), keys, grants,
 * tokens, the audit anchors, the nodes (not audit_records: every node's
 * audit records stay where they are);
 * with STORE_COPY_SESSIONS the live sessions an admin kicked, all a mirror
 * reads of them, not the others: 142 bytes a row, every node's) into to, ids kept, in one
 * transaction on to (all or nothing) while holding from's write lock (a
 * consistent snapshot; from's writers wait for the copy). PostgreSQL's id
 * sequences are set past the copied ids. A target that holds any record is
 * refused with ERR_EXISTS unless STORE_COPY_FORCE, which replaces its rows
 * (the target's sessions stay unless they are copied too: then they are
 * replaced by the kicked ones). *rows (may be
 * NULL) gets the rows copied; on failure why (whylen bytes, may be NULL)
 * gets one sentence. from and to may be on either engine, not the same store.
 */
int store_copy_flags(struct store *from, struct store *to, unsigned flags, int64_t *rows,
    char *why, size_t whylen);
/* store_copy_flags without sessions; force is STORE_COPY_FORCE. */
int store_copy(struct store *from, struct store *to, bool force, char *why, size_t whylen);

/*
 * A cheap counter that changes whenever any connection commits a write
 * (PRAGMA data_version plus our own writes), so outpostd can notice CLI
 * changes without re-reading everything.
 */
int64_t store_change_counter(struct store *st);

/*
 * Notifications (PostgreSQL's LISTEN/NOTIFY; docs/ARCHITECTURE.md): after
 * store_listen, any connection's commit that moves store_change_counter
 * notifies STORE_NOTIFY_CHANGE, and one that changes a device's presence
 * (online, node, gen) STORE_NOTIFY_PRESENCE, unless that commit was this
 * connection's own (what it wrote, it knows). A connection lost and
 * re-established listens again and reports both once, since what was
 * notified meanwhile is lost. An engine without notifications (SQLite)
 * refuses store_listen with ERR_INVAL: poll store_change_counter instead.
 */
#define STORE_NOTIFY_CHANGE	1u
#define STORE_NOTIFY_PRESENCE	2u
#define STORE_NOTIFY_WAKE	4u	/* wake_fd became readable (the caller reads it) */
int store_listen(struct store *st);
/*
 * Waits at most timeout_ms for a notification or for wake_fd (-1: none)
 * to become readable; *which gets the STORE_NOTIFY_* bits (0: the time ran
 * out). Returns 0, or ERR_UNREACHABLE when the connection was lost (the
 * next statement reconnects), with store_errmsg set. Never inside a
 * transaction; only on a store that store_listen accepted.
 */
int store_wait_notify(struct store *st, int wake_fd, int timeout_ms, unsigned *which);

/*
 * One transaction around a batch of outpostd's own writes (storeq.c: the
 * store thread's drain). Commit does not move store_change_counter, so the
 * store thread does not take its own writes for someone else's. On a failed
 * commit the transaction is rolled back; rollback keeps store_errmsg.
 */
int store_batch_begin(struct store *st);
int store_batch_commit(struct store *st);
void store_batch_rollback(struct store *st);

/*
 * Calls that failed in the store itself (I/O, read-only, busy, out of
 * memory; not a name taken or a missing row) since store_open.
 */
int64_t store_failures(const struct store *st);
/*
 * Calls fn with each statement's run time in nanoseconds (SQLite's
 * profile) on the calling thread, until called again with fn NULL.
 */
void store_set_timer(struct store *st, void (*fn)(void *arg, int64_t ns), void *arg);

#endif
