/* privs.h: giving up root after the listening sockets are bound. */
#ifndef OUTPOST_PRIVS_H
#define OUTPOST_PRIVS_H

#include <stdbool.h>

/*
 * If running as root: keeps root when allow_root is set (told to); else
 * hands the state directory's files to `user` and switches to it for good,
 * or exits with a clear error if there is no such user (start-up only).
 */
void privs_drop(const char *user, bool allow_root, const char *state_dir);

#endif
