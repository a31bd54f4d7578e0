/* notify.h: systemd readiness, watchdog and status (no-ops without libsystemd or NOTIFY_SOCKET). */
#ifndef OUTPOST_AGENT_NOTIFY_H
#define OUTPOST_AGENT_NOTIFY_H

/* READY=1, once per process. */
void notify_ready(void);
/* WATCHDOG=1, at most every AGENT_WATCHDOG_MS however often it is called. */
void notify_watchdog(void);
/* STATUS=<text> shown by systemctl status. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
