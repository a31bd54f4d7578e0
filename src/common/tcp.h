/* tcp.h: the TCP options every long-lived SSH connection of ours gets (outpostd's and the agent's). */
#ifndef OUTPOST_TCP_H
#define OUTPOST_TCP_H

/*
 * No Nagle (docs/LIBSSH.md), keepalive probes after keepidle_s of silence
 * (every 10 s, keepcnt of them) and TCP_USER_TIMEOUT user_timeout_ms, so a
 * half-open link ends on its own. Best effort: a socket that refuses an
 * option keeps working without it.
 */
void tcp_tune(int fd, int keepidle_s, int keepcnt, unsigned int user_timeout_ms);

#endif
