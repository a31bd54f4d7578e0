/* registry.c: open-addressing hash map from device id to its live connection. */
#include <stdlib.h>

#include "server/registry.h"

struct slot {
	int64_t id;		/* 0 = empty, -1 = deleted */
	struct conn *c;
};

struct registry {
	struct slot *slots;
	size_t cap;		/* power of two */
	size_t used;		/* live entries */
	size_t filled;		/* live + deleted */
};

static size_t
hash(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 17) & (cap - 1);
}

struct registry *
registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cap = 64;
	r->slots = calloc(r->cap, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

static struct slot *
find(const struct registry *r, int64_t id)
{
	for (size_t i = hash(id, r->cap), n = 0; n < r->cap; i = (i + 1) & (r->cap - 1), n++) {
		if (r->slots[i].id == 0)
			return NULL;
		if (r->slots[i].id == id)
			return &r->slots[i];
	}
	return NULL;
}

static int
grow(struct registry *r)
{
	size_t ncap = r->used * 4 > r->cap ? r->cap * 2 : r->cap;
	struct slot *ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -1;
	for (size_t i = 0; i < r->cap; i++) {
		if (r->slots[i].id <= 0)
			continue;
		size_t j = hash(r->slots[i].id, ncap);
		while (ns[j].id != 0)
			j = (j + 1) & (ncap - 1);
		ns[j] = r->slots[i];
	}
	free(r->slots);
	r->slots = ns;
	r->cap = ncap;
	r->filled = r->used;
	return 0;
}

struct conn *
registry_get(struct registry *r, int64_t device_id)
{
	if (device_id <= 0)
		return NULL;
	struct slot *s = find(r, device_id);
	return s ? s->c : NULL;
}

struct conn *
registry_set(struct registry *r, int64_t device_id, struct conn *c)
{
	if (device_id <= 0)
		return c;	/* ids are positive (store rowids); refuse, change nothing */
	struct slot *s = find(r, device_id);
	if (s != NULL) {
		struct conn *old = s->c;
		s->c = c;
		return old == c ? NULL : old;
	}
	if ((r->filled + 1) * 4 > r->cap * 3 && grow(r) != 0)
		return c;
	size_t i = hash(device_id, r->cap);
	while (r->slots[i].id > 0)
		i = (i + 1) & (r->cap - 1);
	if (r->slots[i].id == 0)
		r->filled++;
	r->slots[i].id = device_id;
	r->slots[i].c = c;
	r->used++;
	return NULL;
}

void
registry_del(struct registry *r, int64_t device_id, struct conn *c)
{
	struct slot *s = device_id > 0 ? find(r, device_id) : NULL;
	if (s == NULL || s->c != c)
		return;
	s->id = -1;
	s->c = NULL;
	r->used--;
}

size_t
registry_count(const struct registry *r)
{
	return r->used;
}
