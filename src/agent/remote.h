/* remote.h: running one outpost command on the server over an exec channel (enroll, report). */
#ifndef OUTPOST_AGENT_REMOTE_H
#define OUTPOST_AGENT_REMOTE_H

#include <libssh/libssh.h>

#include "agent/agent.h"

struct remote_result {
	int status;				/* exit status; -1 if none came */
	char out[AGENT_SERVER_REPLY_MAX + 1];	/* stdout, truncated, NUL-terminated */
	char err[AGENT_SERVER_REPLY_MAX + 1];	/* stderr, likewise */
};

/*
 * Runs cmd in an exec channel on a blocking session and collects its
 * output (each stream capped at AGENT_SERVER_REPLY_MAX bytes, the rest
 * read and dropped) until the channel closes or timeout_ms passes.
 * Returns 0 (see out->status), or ERR_SSH if the channel or request failed
 * (why set).
 */
int remote_exec(ssh_session s, const char *cmd, int timeout_ms, struct remote_result *out,
    char *why, size_t whylen);

#endif
