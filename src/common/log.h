/* log.h: leveled logging to stderr and optionally syslog. */
#ifndef OUTPOST_LOG_H
#define OUTPOST_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the program name, threshold and whether to copy lines to syslog. */
void log_init(const char *prog, enum log_level level, int use_syslog);
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

/* True if a message of this level is logged: lets a caller skip formatting it. */
bool log_wants(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Prints and exits with status 1: for start-up errors and broken invariants. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copies at most dstlen-1 bytes of untrusted src (srclen bytes, may hold NULs)
 * into dst, escaping every non-printable byte as \xNN. Always terminates dst.
 */
void log_printable(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
