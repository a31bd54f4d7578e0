/* tcp.c: the TCP options every long-lived SSH connection of ours gets. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/tcp.h"

void
tcp_tune(int fd, int keepidle_s, int keepcnt, unsigned int user_timeout_ms)
{
	int one = 1, intvl = 10;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepidle_s, sizeof(keepidle_s));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &keepcnt, sizeof(keepcnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}
