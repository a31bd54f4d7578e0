/*
 * storeops.c: outpostd's own store writes as queued records: one row per
 * kind says how it is written and how a newer record folds into a queued
 * one; the queue is a list in order with a hash of the records since the
 * last barrier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/storeops.h"

struct storeop_type {
	const char *name;
	int (*apply)(struct store *st, const struct storeop *op);
	/* Folds newer into op (same kind and id); NULL: the kind is a barrier. */
	void (*fold)(struct storeop *op, struct storeop *newer);
};

/* Moves *from into *to (owned strings), freeing what *to held. */
static void
take_str(char **to, char **from)
{
	free(*to);
	*to = *from;
	*from = NULL;
}

static int
apply_online(struct store *st, const struct storeop *op)
{
	int r;

	if (op->gen == 0)
		return store_device_set_online(st, op->id, op->online, op->when, op->addr);
	if (!op->online && op->reg &&
	    (r = store_device_set_presence(st, op->id, true, op->node, op->gen, op->when, op->addr)) != 0 &&
	    r != ERR_DENIED)
		return r;
	return store_device_set_presence(st, op->id, op->online, op->node, op->gen, op->when, op->addr);
}

static void
fold_online(struct storeop *op, struct storeop *newer)
{
	/* an offline of the registration still to be written keeps it to write */
	op->reg = newer->online || (op->reg && op->gen == newer->gen && newer->gen != 0);
	op->online = newer->online;
	op->when = newer->when;
	op->gen = newer->gen;
	if (newer->node != NULL || newer->gen == 0)
		take_str(&op->node, &newer->node);
	if (newer->addr != NULL)
		take_str(&op->addr, &newer->addr);
}

static int
apply_all_offline(struct store *st, const struct storeop *op)
{
	if (op->node != NULL)
		return store_device_node_offline(st, op->node, op->when);
	return store_device_all_offline(st, op->when);
}

static int
apply_heartbeat(struct store *st, const struct storeop *op)
{
	return store_node_heartbeat(st, op->id, op->when);
}

static void
fold_heartbeat(struct storeop *op, struct storeop *newer)
{
	if (newer->when > op->when)
		op->when = newer->when;
}

static int
apply_node_stop(struct store *st, const struct storeop *op)
{
	return store_node_stop(st, op->id, op->when);
}

static int
apply_session(struct store *st, const struct storeop *op)
{
	int r = 0;

	if (op->add && op->del)
		return 0;	/* began and ended while queued */
	if (op->add && (r = store_session_add(st, op->id, op->skind, op->principal, op->key_fp,
	    op->src, op->since)) != 0)
		return r;
	if (op->has_bytes && (r = store_session_set_bytes(st, op->id, op->bytes)) != 0)
		return r;
	if (op->del)
		r = store_session_del(st, op->id);
	return r;
}

static void
fold_session(struct storeop *op, struct storeop *newer)
{
	if (newer->add) {
		op->add = true;
		take_str(&op->skind, &newer->skind);
		take_str(&op->principal, &newer->principal);
		take_str(&op->key_fp, &newer->key_fp);
		take_str(&op->src, &newer->src);
		op->since = newer->since;
	}
	if (newer->has_bytes) {
		op->has_bytes = true;
		op->bytes = newer->bytes;
	}
	op->del = op->del || newer->del;
}

static int
apply_session_clear(struct store *st, const struct storeop *op)
{
	if (op->node_id > 0)
		return store_session_clear_node(st, op->node_id);
	return store_session_clear(st);
}

static int
apply_ondemand(struct store *st, const struct storeop *op)
{
	return store_device_set_ondemand(st, op->id, op->state, op->when);
}

static void
fold_ondemand(struct storeop *op, struct storeop *newer)
{
	take_str(&op->state, &newer->state);
	op->when = newer->when;
}

static int
apply_ondemand_clear(struct store *st, const struct storeop *op)
{
	(void)op;
	return store_device_clear_ondemand(st);
}

static int
apply_port(struct store *st, const struct storeop *op)
{
	return store_device_bind_port(st, op->id, op->port, NULL, 0);
}

/* A device keeps the first port bound to it: a later bind changes nothing. */
static void
fold_port(struct storeop *op, struct storeop *newer)
{
	(void)op;
	(void)newer;
}

static int
apply_info(struct store *st, const struct storeop *op)
{
	return store_device_set_info(st, op->id, op->hostname, op->os, op->version,
	    op->host_keys, op->booted);
}

/* What the mirror decided (learned, same, changed) the real store decides again the same way. */
static int
apply_hostkey(struct store *st, const struct storeop *op)
{
	int seen;

	return store_hostkey_seen(st, op->id, op->port, op->hk_type, op->hk_key, op->when, &seen, NULL, 0);
}

static void
fold_info(struct storeop *op, struct storeop *newer)
{
	take_str(&op->hostname, &newer->hostname);
	take_str(&op->os, &newer->os);
	take_str(&op->version, &newer->version);
	take_str(&op->host_keys, &newer->host_keys);
	op->booted = newer->booted;
}

static int
apply_anchor(struct store *st, const struct storeop *op)
{
	return store_audit_anchor_set(st, op->anchor_node, &op->head, op->reset);
}

/* The newest head wins; a reset anywhere in between still resets. */
static void
fold_anchor(struct storeop *op, struct storeop *newer)
{
	op->head = newer->head;
	op->reset = op->reset || newer->reset;
}

static const struct storeop_type types[SOP_MAX] = {
	[SOP_ONLINE] = { .name = "presence", .apply = apply_online, .fold = fold_online },
	[SOP_ALL_OFFLINE] = { .name = "all offline", .apply = apply_all_offline },
	[SOP_SESSION] = { .name = "session", .apply = apply_session, .fold = fold_session },
	[SOP_SESSION_CLEAR] = { .name = "sessions cleared", .apply = apply_session_clear },
	[SOP_ONDEMAND] = { .name = "on-demand state", .apply = apply_ondemand, .fold = fold_ondemand },
	[SOP_ONDEMAND_CLEAR] = { .name = "on-demand states cleared", .apply = apply_ondemand_clear },
	[SOP_PORT] = { .name = "port bind", .apply = apply_port, .fold = fold_port },
	[SOP_INFO] = { .name = "device report", .apply = apply_info, .fold = fold_info },
	[SOP_ANCHOR] = { .name = "audit anchor", .apply = apply_anchor, .fold = fold_anchor },
	/* no fold: one record per port and key type, and rare (a probe per registration) */
	[SOP_HOSTKEY] = { .name = "host key", .apply = apply_hostkey },
	[SOP_HEARTBEAT] = { .name = "node heartbeat", .apply = apply_heartbeat, .fold = fold_heartbeat },
	[SOP_NODE_STOP] = { .name = "node stopped", .apply = apply_node_stop },
};

/* ---- records ---- */

static struct storeop *
op_new(enum storeop_kind kind, int64_t id)
{
	struct storeop *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->kind = kind;
		op->id = id;
	}
	return op;
}

/* Copies s (NULL stays NULL) into *out; false when out of memory. */
static bool
dup_into(char **out, const char *s)
{
	*out = NULL;
	return s == NULL || (*out = strdup(s)) != NULL;
}

/* op, or NULL (op freed) if a copy failed. */
static struct storeop *
op_or_free(struct storeop *op, bool ok)
{
	if (!ok) {
		storeop_free(op);
		return NULL;
	}
	return op;
}

struct storeop *
storeop_online(int64_t device_id, bool online, int64_t when, const char *addr)
{
	struct storeop *op = op_new(SOP_ONLINE, device_id);

	if (op == NULL)
		return NULL;
	op->online = online;
	op->when = when;
	return op_or_free(op, dup_into(&op->addr, addr));
}

struct storeop *
storeop_presence(int64_t device_id, bool online, const char *node, int64_t gen, int64_t when,
    const char *addr)
{
	struct storeop *op;

	if (node == NULL || gen <= 0 || (op = op_new(SOP_ONLINE, device_id)) == NULL)
		return NULL;
	op->online = online;
	op->reg = online;
	op->gen = gen;
	op->when = when;
	return op_or_free(op, dup_into(&op->addr, addr) && dup_into(&op->node, node));
}

struct storeop *
storeop_all_offline(int64_t when)
{
	struct storeop *op = op_new(SOP_ALL_OFFLINE, 0);

	if (op != NULL)
		op->when = when;
	return op;
}

struct storeop *
storeop_node_offline(const char *node, int64_t when)
{
	struct storeop *op = op_new(SOP_ALL_OFFLINE, 0);

	if (op == NULL)
		return NULL;
	op->when = when;
	return op_or_free(op, node != NULL && dup_into(&op->node, node));
}

struct storeop *
storeop_session_clear_node(int64_t node_id)
{
	struct storeop *op = op_new(SOP_SESSION_CLEAR, 0);

	if (op != NULL)
		op->node_id = node_id;
	return op;
}

struct storeop *
storeop_heartbeat(int64_t node_id, int64_t now)
{
	struct storeop *op = op_new(SOP_HEARTBEAT, node_id);

	if (op != NULL)
		op->when = now;
	return op;
}

struct storeop *
storeop_node_stop(int64_t node_id, int64_t started)
{
	struct storeop *op = op_new(SOP_NODE_STOP, node_id);

	if (op != NULL)
		op->when = started;
	return op;
}

struct storeop *
storeop_session_add(int64_t id, const char *kind, const char *principal, const char *key_fp,
    const char *src, int64_t since)
{
	struct storeop *op = op_new(SOP_SESSION, id);

	if (op == NULL)
		return NULL;
	op->add = true;
	op->since = since;
	return op_or_free(op, dup_into(&op->skind, kind) && dup_into(&op->principal, principal) &&
	    dup_into(&op->key_fp, key_fp) && dup_into(&op->src, src));
}

struct storeop *
storeop_session_bytes(int64_t id, int64_t bytes)
{
	struct storeop *op = op_new(SOP_SESSION, id);

	if (op != NULL) {
		op->has_bytes = true;
		op->bytes = bytes;
	}
	return op;
}

struct storeop *
storeop_session_del(int64_t id)
{
	struct storeop *op = op_new(SOP_SESSION, id);

	if (op != NULL)
		op->del = true;
	return op;
}

struct storeop *
storeop_session_clear(void)
{
	return op_new(SOP_SESSION_CLEAR, 0);
}

struct storeop *
storeop_ondemand(int64_t device_id, const char *state, int64_t when)
{
	struct storeop *op = op_new(SOP_ONDEMAND, device_id);

	if (op == NULL)
		return NULL;
	op->when = when;
	return op_or_free(op, dup_into(&op->state, state));
}

struct storeop *
storeop_ondemand_clear(void)
{
	return op_new(SOP_ONDEMAND_CLEAR, 0);
}

struct storeop *
storeop_port(int64_t device_id, uint32_t port)
{
	struct storeop *op = op_new(SOP_PORT, device_id);

	if (op != NULL)
		op->port = port;
	return op;
}

struct storeop *
storeop_info(int64_t device_id, const char *hostname, const char *os, const char *version,
    const char *host_keys, int64_t booted)
{
	struct storeop *op = op_new(SOP_INFO, device_id);

	if (op == NULL)
		return NULL;
	op->booted = booted;
	return op_or_free(op, dup_into(&op->hostname, hostname) && dup_into(&op->os, os) &&
	    dup_into(&op->version, version) && dup_into(&op->host_keys, host_keys));
}

struct storeop *
storeop_anchor(const char *node, const struct audit_head *h, bool reset)
{
	struct storeop *op = op_new(SOP_ANCHOR, 0);

	if (op != NULL) {
		snprintf(op->anchor_node, sizeof(op->anchor_node), "%s", node);
		op->head = *h;
		op->reset = reset;
	}
	return op;
}

struct storeop *
storeop_hostkey(int64_t device_id, uint32_t port, const char *type, const char *key, int64_t when)
{
	struct storeop *op = op_new(SOP_HOSTKEY, device_id);

	if (op == NULL)
		return NULL;
	op->port = port;
	op->when = when;
	return op_or_free(op, dup_into(&op->hk_type, type) && dup_into(&op->hk_key, key));
}

void
storeop_free(struct storeop *op)
{
	if (op == NULL)
		return;
	free(op->addr);
	free(op->node);
	free(op->skind);
	free(op->principal);
	free(op->key_fp);
	free(op->src);
	free(op->state);
	free(op->hostname);
	free(op->os);
	free(op->version);
	free(op->host_keys);
	free(op->hk_type);
	free(op->hk_key);
	free(op);
}

void
storeop_free_list(struct storeop *list)
{
	while (list != NULL) {
		struct storeop *next = list->next;
		storeop_free(list);
		list = next;
	}
}

const char *
storeop_name(const struct storeop *op)
{
	return op != NULL && op->kind < SOP_MAX ? types[op->kind].name : "?";
}

int
storeop_apply(struct store *st, const struct storeop *op)
{
	if (op == NULL || op->kind >= SOP_MAX)
		return ERR_INVAL;
	return types[op->kind].apply(st, op);
}

/* ---- the queue ---- */

static size_t
bucket_of(enum storeop_kind kind, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL + (uint64_t)kind * 0xbf58476d1ce4e5b9ULL;

	return (size_t)(h >> 32) % STOREOPS_BUCKETS;
}

static struct storeop *
find(struct storeops *q, enum storeop_kind kind, int64_t id)
{
	for (struct storeop *op = q->bucket[bucket_of(kind, id)]; op != NULL; op = op->hnext)
		if (op->kind == kind && op->id == id)
			return op;
	return NULL;
}

/* Appends op; a barrier forgets the hash, so nothing before it folds with what follows. */
static void
append(struct storeops *q, struct storeop *op)
{
	op->next = NULL;
	*q->tail = op;
	q->tail = &op->next;
	q->len++;
	if (types[op->kind].fold == NULL) {
		memset(q->bucket, 0, sizeof(q->bucket));
		op->hnext = NULL;
		return;
	}
	size_t b = bucket_of(op->kind, op->id);
	op->hnext = q->bucket[b];
	q->bucket[b] = op;
}

void
storeops_init(struct storeops *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->tail = &q->head;
	q->max = max;
}

void
storeops_free(struct storeops *q)
{
	storeop_free_list(storeops_take(q));
}

int
storeops_put(struct storeops *q, struct storeop *op)
{
	if (op == NULL || op->kind >= SOP_MAX)
		return ERR_INVAL;
	struct storeop *queued = types[op->kind].fold != NULL ? find(q, op->kind, op->id) : NULL;
	if (queued != NULL) {
		types[op->kind].fold(queued, op);
		storeop_free(op);
		return 0;
	}
	if (q->len >= q->max) {
		q->dropped++;
		storeop_free(op);
		return ERR_BUSY;
	}
	append(q, op);
	return 0;
}

struct storeop *
storeops_take(struct storeops *q)
{
	struct storeop *list = q->head;

	if (list == NULL)
		return NULL;	/* nothing appended since the last take: the buckets are clear */
	q->head = NULL;
	q->tail = &q->head;
	q->len = 0;
	memset(q->bucket, 0, sizeof(q->bucket));
	return list;
}

void
storeops_unget(struct storeops *q, struct storeop *list)
{
	struct storeop *later = storeops_take(q);

	while (list != NULL) {
		struct storeop *next = list->next;
		append(q, list);
		list = next;
	}
	while (later != NULL) {
		struct storeop *next = later->next;
		append(q, later);
		later = next;
	}
}
