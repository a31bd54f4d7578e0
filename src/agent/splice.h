/* splice.h: one forwarded channel spliced to a local TCP service, moved a bounded step at a time. */
#ifndef OUTPOST_AGENT_SPLICE_H
#define OUTPOST_AGENT_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "agent/agent.h"
#include "common/hostport.h"

struct splice {
	struct splice *next;
	ssh_channel ch;			/* owned */
	int fd;				/* owned: the local service */
	int pfd;			/* index in this turn's pollfd array, -1: none */
	int port;			/* service port, for logs */
	char peer[64];			/* originator as the server gave it, printable */
	bool connecting;		/* non-blocking connect in progress */
	bool local_eof, sent_eof;	/* service -> channel finished */
	bool shut_wr;			/* channel -> service finished */
	bool dead;
	char why[128];			/* why it ended */
	uint64_t bytes_up, bytes_down;	/* service -> server, server -> service */
	uint32_t since_grant;		/* bytes read since the last deep window grant */
	int64_t start_ms;
	size_t down_off, down_len;	/* channel -> service bytes held */
	size_t up_off, up_len;		/* service -> channel bytes held */
	char down[AGENT_SPLICE_BUF];
	char up[AGENT_SPLICE_BUF];
};

/*
 * Starts a non-blocking connect to target. Returns the socket (and sets
 * *in_progress) or -1 with why set when it failed at once (refused,
 * unresolvable).
 */
int splice_connect(const struct hostport *target, bool *in_progress, char *why, size_t whylen);

/* Takes ownership of ch and fd. Returns NULL on allocation failure (both are then still the caller's). */
struct splice *splice_new(ssh_channel ch, int fd, bool connecting, int port, const char *peer);

/* The poll events the local socket needs now. */
short splice_events(const struct splice *sp);

/*
 * Moves what can move without blocking, at most AGENT_SPLICE_TURN bytes
 * per direction; revents are the local socket's poll results (0 if not
 * polled). Returns true if the turn limit was hit (call again soon).
 * Sets sp->dead when both directions are done or on an error.
 */
bool splice_pump(struct splice *sp, short revents);

/* Closes the channel and the socket and frees sp; NULL is a no-op. */
void splice_free(struct splice *sp);

#endif
