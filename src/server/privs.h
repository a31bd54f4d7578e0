/* privs.h: giving up root after the listening sockets are bound. */
#ifndef OUTPOST_PRIVS_H
#define OUTPOST_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * If running as root: keeps root when allow_root is set (told to); else
 * hands the state directory's files to `user` and switches to it for good,
 * or exits with a clear error if there is no such user (start-up only).
 */
void privs_drop(const char *user, bool allow_root, const char *state_dir);

/*
 * Like sshd's StrictModes, at start: 0 if the state directory (followed if a
 * link) has no group or other permission bits and the host key (host_key,
 * NULL = <state_dir>/ssh_host_ed25519_key; checked where a link points; a
 * missing one is generated 0600 later) is readable and writable only by its
 * owner. Else ERR_DENIED with one sentence naming the path, its mode and the
 * fix (`chmod 700 DIR`, `chmod 600 KEY`) in why; ERR_IO if the directory
 * cannot be examined.
 */
int privs_check_modes(const char *state_dir, const char *host_key, char *why, size_t whylen);

#endif
