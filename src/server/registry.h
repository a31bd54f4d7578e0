/* registry.h: which connection serves each online device, by device id (> 0). */
#ifndef OUTPOST_REGISTRY_H
#define OUTPOST_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct registry;

/* Returns a new empty registry or NULL; free with registry_free(). */
struct registry *registry_new(void);
void registry_free(struct registry *r);		/* NULL is a no-op */
/* The conn serving device_id, or NULL. */
struct conn *registry_get(struct registry *r, int64_t device_id);
/*
 * Makes c the conn for device_id; returns the conn it replaced (the caller
 * ends it: a takeover) or NULL. Returns c itself on allocation failure or
 * a device_id <= 0 (nothing changed).
 */
struct conn *registry_set(struct registry *r, int64_t device_id, struct conn *c);
/* Removes device_id only if it still maps to c. */
void registry_del(struct registry *r, int64_t device_id, struct conn *c);
size_t registry_count(const struct registry *r);

#endif
