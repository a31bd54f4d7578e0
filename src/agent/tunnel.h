/* tunnel.h: one live session with the server: register services, serve forwarded channels, keep alive. */
#ifndef OUTPOST_AGENT_TUNNEL_H
#define OUTPOST_AGENT_TUNNEL_H

#include <signal.h>
#include <stddef.h>

#include <libssh/libssh.h>

#include "agent/agentconf.h"

/*
 * On an authenticated blocking session: registers every service of conf
 * (tcpip-forward with bind address conf->name), signals readiness, sends the
 * report, then serves forwarded channels in one poll loop until the session
 * is lost or *stop becomes non-zero. Leaves s connected or not; the caller
 * disconnects and frees it. sigmask is the mask to poll with (signals that
 * set *stop are blocked outside poll).
 * Returns 0 if stopped, or ERR_DENIED (nothing registered) / ERR_IO (lost);
 * why says what happened in either case.
 */
int tunnel_serve(ssh_session s, const struct agent_conf *conf, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, char *why, size_t whylen);

#endif
