/* names.h: device, fleet and user names (DNS labels) and name.fleet targets. */
#ifndef OUTPOST_NAMES_H
#define OUTPOST_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"

/* A parsed client destination: "name.fleet" or a bare "name". */
struct name_target {
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];	/* "" for a bare name */
};

/* True if s (len bytes, not necessarily terminated) is a valid lower-case label. */
bool names_label_valid(const char *s, size_t len);

/*
 * Lower-cases src into dst (dstlen >= LIM_LABEL + 1) and validates it as a
 * label. Returns 0 or ERR_NAME. Upper-case input is accepted (names are
 * case-insensitive).
 */
int names_label_normalize(const char *src, char *dst, size_t dstlen);

/*
 * Parses "name" or "name.fleet" (case-insensitive) into out.
 * Returns 0 or ERR_NAME; out is cleared on entry.
 */
int names_parse_target(const char *s, struct name_target *out);

/*
 * Turns an arbitrary host name into a valid label: lower-cases, keeps the
 * first DNS component, maps invalid characters to '-', trims '-' at the ends
 * and truncates. Returns 0, or ERR_NAME if nothing usable is left.
 */
int names_from_hostname(const char *host, char *dst, size_t dstlen);

/*
 * Turns a key comment (`outpost import sshd`) into a label: lower-cases,
 * maps every other character (dots, '@', spaces, any byte of UTF-8) to '-',
 * keeps one '-' of a run, trims '-' at the ends and truncates to LIM_LABEL.
 * Returns 0, or ERR_NAME if nothing usable is left (dst is then "").
 */
int names_from_comment(const char *comment, char *dst, size_t dstlen);

#endif
