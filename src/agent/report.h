/* report.h: what the agent tells the server about its device after registering. */
#ifndef OUTPOST_AGENT_REPORT_H
#define OUTPOST_AGENT_REPORT_H

#include <stddef.h>

#include <libssh/libssh.h>

#define REPORT_HOST_KEYS_MAX	8

struct report_info {
	char hostname[256];
	char os[256];
	char version[32];
	long long uptime;			/* seconds since boot */
	char *host_keys[REPORT_HOST_KEYS_MAX];	/* "TYPE BASE64", owned */
	size_t nkeys;
};

/* Gathers host name, OS (os-release PRETTY_NAME), uptime and sshd host keys from the given glob. */
void report_gather(struct report_info *ri, const char *host_key_glob);
void report_clear(struct report_info *ri);

/*
 * Builds "report --hostname H --os O --version V --uptime S [--host-key "T B"]..."
 * with every value double-quoted for outpost's command splitter (control
 * bytes dropped, '"' and '\' escaped). Host keys that would not fit in
 * dstlen are left out. Returns 0 or ERR_TOOLONG.
 */
int report_command(const struct report_info *ri, char *dst, size_t dstlen);

/* Sends the report on a blocking session, host keys from host_key_glob (NULL:
 * /etc/ssh/ssh_host_*_key.pub); failures are logged at debug only. */
void report_send(ssh_session s, const char *host_key_glob);

#endif
