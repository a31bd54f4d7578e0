/* notify.c: sd_notify wrappers; compiled to no-ops when libsystemd is absent. */
#include <stdarg.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/notify.h"
#include "common/timefmt.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#define NOTIFY(s) sd_notify(0, (s))
#else
#define NOTIFY(s) ((void)(s))
#endif

void
notify_ready(void)
{
	static int done;

	if (!done)
		NOTIFY("READY=1");
	done = 1;
}

void
notify_watchdog(void)
{
	static int64_t last;
	int64_t now = timefmt_mono_ms();

	if (last != 0 && now - last < AGENT_WATCHDOG_MS)
		return;
	last = now;
	NOTIFY("WATCHDOG=1");
}

void
notify_status(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "STATUS=");

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	NOTIFY(line);
}
