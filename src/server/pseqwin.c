/*
 * pseqwin.c: the presence orders already handed to the loop (pseqwin.h).
 */
#include <string.h>

#include "server/pseqwin.h"

#define WORDS	(PSEQWIN_SIZE / 64)

void
pseqwin_reset(struct pseqwin *w)
{
	memset(w, 0, sizeof(*w));
}

bool
pseqwin_seen(const struct pseqwin *w, int64_t pseq)
{
	if (pseq <= 0 || pseq > w->top || w->top - pseq >= PSEQWIN_SIZE)
		return false;
	uint64_t i = (uint64_t)(w->top - pseq);
	return (w->bits[i / 64] >> (i % 64)) & 1;
}

/* Moves every mark n places further from the top (marks past the end go). */
static void
shift(struct pseqwin *w, uint64_t n)
{
	if (n >= PSEQWIN_SIZE) {
		memset(w->bits, 0, sizeof(w->bits));
		return;
	}
	unsigned words = (unsigned)(n / 64), bits = (unsigned)(n % 64);
	for (int k = WORDS - 1; k >= 0; k--) {
		int from = k - (int)words;
		uint64_t v = from >= 0 ? w->bits[from] << bits : 0;
		if (bits > 0 && from - 1 >= 0)
			v |= w->bits[from - 1] >> (64 - bits);
		w->bits[k] = v;
	}
}

void
pseqwin_add(struct pseqwin *w, int64_t pseq)
{
	if (pseq <= 0)
		return;
	if (pseq > w->top) {
		/* the gap may exceed any shift: cap it before the subtraction's use */
		uint64_t up = w->top <= 0 || pseq - w->top >= PSEQWIN_SIZE ? PSEQWIN_SIZE : (uint64_t)(pseq - w->top);
		shift(w, up);
		w->top = pseq;
	}
	if (w->top - pseq >= PSEQWIN_SIZE)
		return;
	uint64_t i = (uint64_t)(w->top - pseq);
	w->bits[i / 64] |= (uint64_t)1 << (i % 64);
}
