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
 * One round of blocking connections over conf's servers, in order (each
 * address of a name in turn, see conn_open), pinning the host key and
 * logging each attempt ("WHAT: connecting to ADDR") and failure (error
 * level for a key mismatch or a refusal: those need a person). The first
 * that succeeds ends the round: returns 0 with *out to free with
 * ssh_disconnect + ssh_free and *which its index in conf->servers.
 * When all failed, returns the last ERR_* code with its reason in why
 * (the caller backs off once for the whole round); ERR_BUSY instead when
 * a server answered busy and none failed worse, with *busy_s the soonest
 * wait a server asked for (the caller waits that, not its backoff).
 */
int run_connect(const struct agent_conf *conf, ssh_key key, const char *what, ssh_session *out,
    size_t *which, int *busy_s, char *why, size_t whylen);

#endif
