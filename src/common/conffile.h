/* conffile.h: the "Keyword value" file format outpostd.conf is written in, read once for outpostd and the outpost CLI. */
#ifndef OUTPOST_CONFFILE_H
#define OUTPOST_CONFFILE_H

#include <stddef.h>

/*
 * Called once per "Keyword value" line, in file order. Returns 0, or
 * ERR_CONFIG with one phrase in why (whylen bytes) that the reader prefixes
 * with "path:line: ". key and value are valid only during the call.
 */
typedef int (*conffile_set_fn)(void *arg, const char *key, const char *value, char *why,
    size_t whylen);

/*
 * Reads path: one "Keyword value" per line (or "Keyword=value"), '#'
 * comments, blank lines; lines over LIM_CONFIG_LINE or holding a NUL byte
 * are refused. Stops at the first error: ERR_CONFIG with "path:line: reason"
 * (or "path: cannot open: ...") in why. Returns 0 when every line was taken.
 */
int conffile_read(const char *path, conffile_set_fn set, void *arg, char *why, size_t whylen);

#endif
