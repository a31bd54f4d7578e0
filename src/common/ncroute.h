/*
 * ncroute.h: the `nc` command lines and UNIX-socket paths an old sshd jump
 * host served, read as routing requests (seed 001's `ProxyCommand ssh
 * SERVER nc -U /home/host/%h`, `ssh SERVER nc HOST PORT`,
 * `-R /home/host/NAME.sock:localhost:22`). Nothing is ever run: the words
 * only say where to route.
 */
#ifndef OUTPOST_NCROUTE_H
#define OUTPOST_NCROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define NCROUTE_UNIX_PORT 22	/* a socket path routes to its device's sshd */

/* Where an `nc` line asks to go. */
struct nc_route {
	char host[LIM_TARGET + 1];	/* name, name.fleet, or a port-table host */
	uint32_t port;
	bool unix_path;			/* from `nc -U PATH` */
};

/* True if argv[0] is `nc`: the line is a routing request, not a command. */
bool ncroute_is_nc(int argc, char *const argv[]);

/*
 * Reads `nc -U PATH` (device NAME from PATH, port 22) or `nc HOST PORT`
 * into out. Any other option, word count or program is refused.
 * Returns 0, or ERR_INVAL with *why a static reason; out is cleared on entry.
 */
int ncroute_parse(int argc, char *const argv[], struct nc_route *out, const char **why);

/*
 * The device a socket path names: its last component, less a trailing
 * ".sock", which must be a name or name.fleet (`/home/host/pi-hq.sock`,
 * `/any/dir/pi-hq.acme`). Writes it to name (len >= LIM_TARGET + 1).
 * Returns 0 or ERR_NAME (name cleared).
 */
int ncroute_socket_name(const char *path, char *name, size_t len);

#endif
