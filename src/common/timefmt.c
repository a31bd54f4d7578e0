/* timefmt.c: duration parsing and timestamp formatting. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "common/err.h"
#include "common/timefmt.h"

static int64_t
unit_seconds(char u)
{
	switch (u) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return 7 * 86400;
	default: return 0;
	}
}

int
timefmt_parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;
	bool first = true;

	*out = 0;
	if (s == NULL || *s == '\0')
		return ERR_INVAL;
	while (*s != '\0') {
		int64_t v = 0;
		if (*s < '0' || *s > '9')
			return ERR_INVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (INT64_MAX - 9) / 10)
				return ERR_INVAL;
			v = v * 10 + (*s - '0');
		}
		int64_t mul = 1;
		/* "1h30" is ambiguous: a bare number is allowed only on its own. */
		if (*s == '\0' && first == false)
			return ERR_INVAL;
		first = false;
		if (*s != '\0') {
			mul = unit_seconds(*s);
			if (mul == 0)
				return ERR_INVAL;
			s++;
		}
		if (v > (INT64_MAX - total) / mul)
			return ERR_INVAL;
		total += v * mul;
	}
	if (total <= 0)
		return ERR_INVAL;
	*out = total;
	return 0;
}

void
timefmt_iso(int64_t t, char *dst, size_t dstlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (dstlen == 0)
		return;
	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(dst, dstlen, "never");
		return;
	}
	/* strftime leaves dst undefined when it does not fit. */
	if (strftime(dst, dstlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		dst[0] = '\0';
}

int64_t
timefmt_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
timefmt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
timefmt_mono_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}
