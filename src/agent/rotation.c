/* rotation.c: moving through the servers without delay; the backoff is per round, in the caller. */
#include "agent/rotation.h"

void
rotation_start(struct rotation *r, size_t n)
{
	r->n = n;
	r->i = 0;
}

bool
rotation_failed(struct rotation *r)
{
	if (r->i + 1 >= r->n)
		return false;
	r->i++;
	return true;
}
