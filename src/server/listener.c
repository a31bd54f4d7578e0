/* listener.c: TCP listening sockets (IPv4/IPv6) and socket options for peers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tcp.h"
#include "common/err.h"
#include "server/listener.h"

#define LISTENER_KEEPIDLE_S 60	/* TCP keepalive after a minute of silence */

int
listener_parse(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = spec;
	size_t hl;

	host[0] = port[0] = '\0';
	if (spec == NULL || *spec == '\0')
		return ERR_INVAL;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL || close[1] != ':')
			return ERR_INVAL;
		h = spec + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else if ((colon = strrchr(spec, ':')) == NULL) {
		hl = 0;
		colon = spec - 1;	/* bare port */
	} else {
		if (memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			return ERR_INVAL;	/* unbracketed IPv6 */
		hl = (size_t)(colon - spec);
	}
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (pl == 0 || pl >= portlen || hl >= hostlen || strspn(p, "0123456789") != pl)
		return ERR_INVAL;
	long n = strtol(p, NULL, 10);
	if (n < 1 || n > 65535)
		return ERR_INVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}

int
listener_open(const char *spec, char *why, size_t whylen)
{
	char host[256], port[8];
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, r;

	if (listener_parse(spec, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(why, whylen, "bad listen address '%s' (want ADDR:PORT)", spec);
		return ERR_INVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "listen address '%s': %s", spec, gai_strerror(r));
		return ERR_INVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	snprintf(why, whylen, "cannot listen on %s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return ERR_IO;
}

void
listener_name(const struct sockaddr_storage *ss, char *peer, size_t peerlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
		snprintf(peer, peerlen, "%s:%d", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		snprintf(peer, peerlen, "[%s]:%d", ip, port);
	} else
		snprintf(peer, peerlen, "unknown");
}

void
listener_tune(int fd, int user_timeout_ms)
{
	tcp_tune(fd, LISTENER_KEEPIDLE_S, 6, (unsigned int)user_timeout_ms);
}

int
listener_accept(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	do
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	listener_name(&ss, peer, peerlen);
	return fd;
}

bool
listener_tuned(int fd, int user_timeout_ms)
{
	int nodelay = 0, keepalive = 0, idle = 0;
	unsigned int ut = 0;
	socklen_t l1 = sizeof(nodelay), l2 = sizeof(keepalive), l3 = sizeof(idle), l4 = sizeof(ut);

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &l1) == 0 && nodelay &&
	    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &l2) == 0 && keepalive &&
	    getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &l3) == 0 && idle == LISTENER_KEEPIDLE_S &&
	    getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, &l4) == 0 && ut == (unsigned int)user_timeout_ms;
}

void
listener_peer_ip(const char *peer, char *ip, size_t len)
{
	const char *end;

	if (peer[0] == '[' && (end = strchr(peer, ']')) != NULL)
		snprintf(ip, len, "%.*s", (int)(end - peer - 1), peer + 1);
	else if ((end = strrchr(peer, ':')) != NULL)
		snprintf(ip, len, "%.*s", (int)(end - peer), peer);
	else
		snprintf(ip, len, "%s", peer);
}
