/*
 * chan.h: one SSH channel outpostd serves, and the table of operations each
 * kind of channel supplies. chan.c owns a channel's life (new, kill, reap)
 * and libssh's callbacks; a kind's file owns what the channel does and its
 * own data:
 *
 *   chan_splice_client  splice.c  a technician's direct-tcpip, spliced to ...
 *   chan_splice_device  splice.c  ... our forwarded-tcpip on the device's session
 *   chan_exec           exec.c    a session channel running one outpost command
 *   chan_refusal        refuse.c  a refused direct-tcpip: say why, then close
 *   chan_wake_wait      wake.c    a direct-tcpip held while an on-demand device wakes
 *   chan_hostkey_probe  hostkey.c our forwarded-tcpip to a plain device's sshd, to learn its host keys
 *
 * libssh callbacks only record facts (bytes pending, eof, close); pumps run
 * in the main loop, and kinds change there (a wait becomes a splice or a
 * refusal) with chan_become.
 */
#ifndef OUTPOST_CHAN_H
#define OUTPOST_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

struct chan;
struct conn;

struct chan_ops {
	const char *name;		/* for logs and tests */
	/* Main loop: makes progress; true if anything moved or changed. */
	bool (*pump)(struct chan *h);
	/*
	 * Channel data arrived (inside a libssh callback: record facts, or
	 * copy the bytes into the kind's own queue, nothing that polls; it
	 * may run inside a write or a read of the same session). len is all
	 * libssh holds, old bytes first. Returns how many bytes it consumed
	 * from the front. NULL: consume none; the bytes
	 * stay in libssh's buffer, counted in h->pending, and the channel
	 * window bounds them.
	 */
	int (*data)(struct chan *h, const void *p, uint32_t len);
	/* A channel request (exec, shell, pty...): MSG_HANDLED or MSG_DEFAULT. NULL: MSG_DEFAULT. */
	int (*request)(struct chan *h, ssh_message m);
	/* Frees h->data and unlinks h from any partner; called once per data. */
	void (*reap)(struct chan *h);
};

struct chan {
	struct server *srv;
	struct chan *prev, *next;	/* all chans */
	struct conn *conn;		/* NULL once its session was reaped */
	ssh_channel ch;			/* NULL once libssh freed it with its session */
	const struct chan_ops *ops;
	void *data;			/* the kind's own state; owned, freed by ops->reap */
	struct ssh_channel_callbacks_struct cb;
	uint32_t pending;		/* bytes libssh holds for us to read */
	bool eof_rcvd, close_rcvd, eof_sent;
	bool dead;			/* reaped at the end of this loop turn */
};

extern const struct chan_ops chan_splice_client, chan_splice_device, chan_exec,
    chan_refusal, chan_wake_wait, chan_hostkey_probe;

/*
 * A channel of kind ops on c, owning data (which may be NULL if ops->reap
 * accepts that). ch may be NULL (not yet opened, or in tests). Returns NULL
 * on allocation failure; data then stays the caller's.
 */
struct chan *chan_new(struct conn *c, ssh_channel ch, const struct chan_ops *ops, void *data);
/* Makes h a channel of another kind: the old kind's reap frees its data, h takes data. */
void chan_become(struct chan *h, const struct chan_ops *ops, void *data);
/* Marks h dead; chan_reap frees it at the end of the loop turn. Idempotent. */
void chan_kill(struct chan *h);
/* Frees a dead h: its kind's data, the libssh channel (sending CLOSE if owed). */
void chan_reap(struct chan *h);
/* Runs h's kind's pump; true if anything happened. */
bool chan_pump(struct chan *h);
/* A libssh channel request on c: to its channel's kind. MSG_HANDLED or MSG_DEFAULT. */
int chan_request(struct conn *c, ssh_message m);
/* c's session is being freed with its channels: detach and kill c's chans. */
void chan_session_gone(struct conn *c);

#endif
