/*
 * sockbuf.h: read-ahead for the socket of the session outpostd is polling,
 * so libssh's 4 KiB reads cost one recv(2) per 64 KiB instead of a poll(2)
 * and a recv(2) each. See docs/ARCHITECTURE.md, "Reading in 64 KiB".
 *
 * libssh 0.10.6 reads a session's socket with recv(fd, buf, 4096, 0) after
 * poll(2) said POLLIN (MAX_BUF_SIZE is compile-time). outpostd defines
 * recv(), poll() and send() itself; the dynamic linker binds libssh's
 * calls to them. For every descriptor but the one named by sockbuf_begin
 * or sockbuf_begin_flush they are plain pass-throughs to recvfrom(2),
 * ppoll(2) and sendto(2).
 */
#ifndef OUTPOST_SOCKBUF_H
#define OUTPOST_SOCKBUF_H

#include <stdbool.h>
#include <stddef.h>

#define SOCKBUF_SIZE 65536	/* bytes read ahead at most */
#define SOCKBUF_LIBSSH "0.10."	/* the libssh series this was measured with */

/*
 * Call once at start with ssh_version(0). On a libssh other than
 * SOCKBUF_LIBSSH the overrides become plain pass-throughs (stock libssh
 * behaviour: slower, never wrong) and one warning is logged. Returns true
 * if read-ahead and flush mode are in force.
 */
bool sockbuf_init(const char *libssh_version);

/*
 * From here until sockbuf_end, reads of fd are served from a read-ahead
 * buffer, and poll(fd, POLLIN, 0) answers without a system call when the
 * answer is known: yes while the buffer holds bytes or when readable (epoll
 * said so) and nothing was read yet; no when epoll said it was not, or
 * after a read that emptied the socket, since epoll (level-triggered)
 * reports later bytes on its next turn. In that last case the answer is no
 * even when POLLOUT is asked with POLLIN: libssh keeps what it writes during
 * the rounds, and session_poll's closing session_flush sends it in one
 * send(2). Only one descriptor at a time; a second begin ends the first
 * (discarding what it had read ahead).
 */
void sockbuf_begin(int fd, bool readable);
/*
 * Until sockbuf_end, fd is only written: poll(fd) answers POLLOUT (if asked)
 * without a system call and never POLLIN, and a send(fd) that finds the
 * socket full returns 0 instead of failing with EAGAIN. session_flush uses
 * it to send what libssh has buffered in the same loop turn. Refused
 * (false, nothing changes) while another begin is in force.
 */
bool sockbuf_begin_flush(int fd);
/* True while bytes read ahead for the current descriptor are unread. */
bool sockbuf_pending(void);
/*
 * True if a read of the current descriptor found the peer's end of stream
 * since sockbuf_begin: the peer hung up, as opposed to a protocol error.
 */
bool sockbuf_peer_closed(void);
/* Ends read-ahead; returns how many read-ahead bytes were still unread and
 * are now dropped (0 unless the caller stopped before the session did). */
size_t sockbuf_end(void);

#endif
