/* tunnel.h: one live session with the server: register services, serve forwarded channels, keep alive. */
#ifndef OUTPOST_AGENT_TUNNEL_H
#define OUTPOST_AGENT_TUNNEL_H

#include <signal.h>
#include <stddef.h>

#include <libssh/libssh.h>

#include "agent/agentconf.h"

#include <poll.h>

#define TUNNEL_HOOK_FDS 4	/* at most this many extra fds a hook polls */

/*
 * Lets another client share the tunnel's poll loop (on-demand mode: the MQTT
 * socket) and end the tunnel. fill adds up to TUNNEL_HOOK_FDS pollfds and
 * returns how many; step runs after every poll with them and the number of
 * open channels, and returns 0 to go on or 1 to end the tunnel now (why set).
 */
struct tunnel_hook {
	nfds_t (*fill)(void *arg, struct pollfd *pfds);
	int (*step)(void *arg, const struct pollfd *pfds, nfds_t n, size_t nchannels,
	    char *why, size_t whylen);
	void *arg;
};

/*
 * On an authenticated blocking session: registers every service of conf
 * (tcpip-forward with bind address conf->name), signals readiness, sends the
 * report, then serves forwarded channels in one poll loop until the session
 * is lost or *stop becomes non-zero. Leaves s connected or not; the caller
 * disconnects and frees it. sigmask is the mask to poll with (signals that
 * set *stop are blocked outside poll).
 * hook (may be NULL) shares the loop, see above.
 * Returns 0 if stopped or ended by the hook, or ERR_DENIED (nothing registered) / ERR_IO (lost);
 * why says what happened in either case.
 */
int tunnel_serve(ssh_session s, const struct agent_conf *conf, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, const struct tunnel_hook *hook, char *why, size_t whylen);

#endif
