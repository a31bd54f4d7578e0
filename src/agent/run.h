/* run.h: `outpost-agent run`: connect, serve, and on any loss reconnect forever with backoff. */
#ifndef OUTPOST_AGENT_RUN_H
#define OUTPOST_AGENT_RUN_H

#include <signal.h>
#include <stddef.h>

#include <libssh/libssh.h>

#include "agent/agentconf.h"

/*
 * Serves conf (its services final) from state_dir's key until SIGTERM or
 * SIGINT. Returns the exit status: 0 when stopped, 1 on a start-up error
 * (no key). Never returns on a network failure or host key mismatch.
 */
int run_main(const char *state_dir, const struct agent_conf *conf);

/*
 * Installs the SIGTERM/SIGINT handlers and blocks both outside ppoll (the
 * mask to poll with goes to pollmask); returns the flag they set.
 */
volatile sig_atomic_t *run_signals(sigset_t *pollmask);

/*
 * One blocking connection to conf's server with key, pinning its host key
 * and logging the attempt ("WHAT: connecting to ADDR") and any failure
 * (error level for a key mismatch or a refusal: those need a person).
 * Returns 0 with *out to free with ssh_disconnect + ssh_free, or an ERR_*
 * code with the reason in why.
 */
int run_connect(const struct agent_conf *conf, ssh_key key, const char *what, ssh_session *out,
    char *why, size_t whylen);

#endif
