/* listener.h: listening sockets and per-connection TCP options. */
#ifndef OUTPOST_LISTENER_H
#define OUTPOST_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Parses "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT"/"PORT" (all addresses)
 * into host (hostlen bytes, "" for any) and port. Returns 0 or ERR_INVAL.
 */
int listener_parse(const char *spec, char *host, size_t hostlen, char *port, size_t portlen);
/* Opens a non-blocking listening socket for spec; returns the fd or a negative ERR_*; why gets text. */
int listener_open(const char *spec, char *why, size_t whylen);
/* Accepts one connection (non-blocking, close-on-exec, TCP options set); -1 when none. */
int listener_accept(int lfd, char *peer, size_t peerlen);
/* Sets TCP_NODELAY, keepalive and TCP_USER_TIMEOUT (ms) on a connected
 * socket, or on a listening one: Linux copies them to each accepted socket. */
void listener_tune(int fd, int user_timeout_ms);
/* True if fd carries what listener_tune(.., user_timeout_ms) sets: a socket
 * accepted from a tuned listener needs no setsockopt(2) of its own. */
bool listener_tuned(int fd, int user_timeout_ms);
/* "IP:PORT" or "[IPv6]:PORT" of an address ("unknown" for another family). */
void listener_name(const struct sockaddr_storage *ss, char *peer, size_t peerlen);
/* The address part of listener_name's "ip:port" or "[ip6]:port" into ip. */
void listener_peer_ip(const char *peer, char *ip, size_t len);

#endif
