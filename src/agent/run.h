/* run.h: `outpost-agent run`: connect, serve, and on any loss reconnect forever with backoff. */
#ifndef OUTPOST_AGENT_RUN_H
#define OUTPOST_AGENT_RUN_H

#include <signal.h>

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

#endif
