/* identity.h: the agent's own ed25519 key in STATE_DIR/id_ed25519 (+ .pub). */
#ifndef OUTPOST_AGENT_IDENTITY_H
#define OUTPOST_AGENT_IDENTITY_H

#include <libssh/libssh.h>

/*
 * Loads STATE_DIR/id_ed25519, creating it (mode 0600, OpenSSH format) and
 * id_ed25519.pub (0644) first if it does not exist; *created says which.
 * The caller frees *out with ssh_key_free. Returns 0, ERR_IO or ERR_KEY.
 */
int identity_load(const char *state_dir, int create, ssh_key *out, int *created);

#endif
