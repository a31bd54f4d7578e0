/* timefmt.h: durations ("90s", "24h", "7d") and timestamps as users read them. */
#ifndef OUTPOST_TIMEFMT_H
#define OUTPOST_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a duration: a positive integer with an optional unit s, m, h, d or
 * w (default seconds), or several such terms each with its unit ("1h30m";
 * "1h30" is refused as ambiguous). Stores seconds in
 * *out. Returns 0 or ERR_INVAL (also on overflow and on zero).
 */
int timefmt_parse_duration(const char *s, int64_t *out);

/* Formats a UNIX time as "2026-11-21T10:00:00Z", or "never" for 0. */
void timefmt_iso(int64_t t, char *dst, size_t dstlen);

/* Wall-clock seconds since the epoch. */
int64_t timefmt_now(void);

/* Monotonic milliseconds, for timers. */
int64_t timefmt_mono_ms(void);
/* Monotonic nanoseconds, for measuring. */
int64_t timefmt_mono_ns(void);

#endif
