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

/*
 * Milliseconds since the peer last sent data on fd, as the kernel counts it
 * (TCP_INFO's tcpi_last_data_recv): bytes that a library read behind the
 * caller's back count too. -1 for a descriptor that is not a TCP socket, or
 * when the kernel (or an emulator: qemu-user answers 4 bytes) does not say.
 */
long tcp_idle_ms(int fd);

#endif
