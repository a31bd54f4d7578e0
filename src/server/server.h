/*
 * server.h: outpostd's internal objects shared by its modules: the server,
 * one conn per SSH connection, one chan per SSH channel we serve, and the
 * route that splices a technician's channel to a device's.
 *
 * Threading: one thread, one epoll loop. libssh callbacks only record facts
 * (bytes pending, eof, close, requests); all writes, opens and frees happen
 * in the main loop (LIBSSH-NOTES pitfall 4).
 */
#ifndef OUTPOST_SERVER_H
#define OUTPOST_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/jbuf.h"
#include "common/limits.h"
#include "server/config.h"
#include "store/store.h"

struct audit;
struct penalty;
struct wake;
struct registry;

enum watch_kind { WATCH_LISTEN, WATCH_SIGNAL, WATCH_CONN, WATCH_MQTT };

/* What an epoll entry points at. */
struct watch {
	enum watch_kind kind;
	int fd;
	struct conn *conn;		/* WATCH_CONN only */
};

/* A service a device registered with tcpip-forward. */
struct service {
	char *bind_addr;		/* as the device sent it; owned */
	uint32_t port;
};

struct conn {
	struct server *srv;
	struct conn *prev, *next;	/* all conns */
	struct watch watch;
	ssh_session s;
	ssh_event ev;			/* private event: polls only this session */
	uint64_t id;			/* serial for logs and `who` */
	char peer[64];			/* "ip:port" of the TCP peer */
	char ip[48];			/* the peer's address alone, for per-source limits */
	bool failed;			/* counts against its source (penalty) */
	int64_t started_ms;
	uint32_t ep_events;		/* current epoll interest */
	bool in_event;			/* added to ev */
	bool authed;
	bool dead;			/* reaped at the end of this loop turn */
	bool touched;			/* on the touched list this turn */
	char dead_reason[96];
	int auth_failures;
	char auth_user[LIM_PEER_STRING];	/* SSH user name the peer sent, printable */
	struct store_principal who;	/* after authentication */
	struct pubkey key;		/* the key it authenticated with, for re-checks */
	uint64_t bytes;			/* routed through this session */
	uint64_t bytes_saved;		/* as last written to the store */
	struct service services[LIM_SERVICES];
	int nservices;
	int nchans;
	int64_t ka_sent_ms;		/* last keepalive we sent, 0 = none outstanding */
	int64_t rx_ms;			/* last time epoll said it was readable */
	bool paused;			/* its principal's routes hold too much: not read */
	struct ssh_server_callbacks_struct scb;
	struct conn *touched_next;
};

enum chan_kind {
	CHAN_CLIENT,		/* technician's direct-tcpip */
	CHAN_DEVICE,		/* our forwarded-tcpip to the device */
	CHAN_EXEC,		/* session channel running one command */
	CHAN_REFUSE,		/* refused direct-tcpip: say why, then close */
	CHAN_WAIT		/* direct-tcpip to an on-demand device being woken */
};

/*
 * What a CHAN_WAIT channel waits for. The client's first bytes stay in
 * libssh's channel buffer (on_data consumes nothing), so the channel window
 * bounds them; they are delivered once the device registers.
 */
struct wake_wait {
	int64_t device_id;
	char device[LIM_TARGET + 1];	/* name.fleet */
	char name[LIM_LABEL + 1];
	char fleet[LIM_LABEL + 1];
	uint32_t port;
	char orig[64];			/* originator the client claimed */
	int orig_port;
	int64_t started_ms;
	int64_t resent_ms;		/* last `connect` sent again for it */
};

struct route;
struct acct;

struct chan {
	struct server *srv;
	struct chan *prev, *next;	/* all chans */
	struct conn *conn;
	ssh_channel ch;			/* NULL once libssh freed it with its session */
	enum chan_kind kind;
	struct ssh_channel_callbacks_struct cb;
	struct chan *peer;		/* route partner */
	struct route *route;		/* shared by both sides of a route */
	uint32_t pending;		/* bytes libssh holds for us to read */
	uint32_t since_grant;		/* bytes read since the last deep window grant */
	size_t counted;			/* what it holds of its user's bytes, as counted in route->acct */
	bool deep;			/* granted a deep window (counts in acct->ndeep) */
	int64_t granted_ms;		/* when, last */
	uint32_t win_left;		/* of that grant, what the sender has not used yet (at least) */
	bool eof_rcvd, close_rcvd, eof_sent;
	bool peer_gone;			/* partner died: close after draining */
	bool dead;
	bool opening;			/* CHAN_DEVICE: forwarded-tcpip open in progress */
	struct jbuf spill;		/* read from peer, not yet accepted by ch */
	struct jbuf out;		/* CHAN_EXEC / CHAN_REFUSE stdout */
	struct jbuf errout;		/* CHAN_EXEC stderr */
	struct jbuf in;			/* CHAN_EXEC stdin collected for `--key -` */
	char **argv;			/* CHAN_EXEC waiting for stdin EOF */
	int argc;
	int exit_status;
	bool output_ready;		/* out/errout complete: send, then exit-status + close */
	char *reason;			/* CHAN_REFUSE: the text */
	struct wake_wait *wait;		/* CHAN_WAIT: owned */
	int64_t deadline_ms;		/* CHAN_REFUSE / opening: give up then */
};

struct route {
	int64_t started_ms;
	int64_t started_wall;		/* UNIX time the route opened */
	uint64_t up, down;		/* bytes client->device, device->client */
	int64_t device_id;
	int64_t user_id;
	char device[LIM_TARGET + 1];	/* name.fleet */
	uint32_t port;
	char user[LIM_LABEL + 1];
	char user_fp[PUBKEY_FP_MAX];
	char src[64];			/* technician's TCP peer */
	char orig[64];			/* originator the client claimed */
	int orig_port;
	char device_bind[LIM_PEER_STRING];	/* bind address the device registered */
	bool opened;
	int refs;
	struct acct *acct;		/* the user's bytes held, shared by their routes */
};

struct server {
	struct config *cfg;
	struct store *st;
	struct audit *audit;
	struct registry *reg;
	struct penalty *pen;
	struct wake *wake;		/* MQTT client, NULL without MqttURL */
	ssh_bind bind;
	int epfd;
	struct watch listeners[LIM_LISTEN];
	int nlisteners;
	struct watch sigwatch;
	struct conn *conns;
	struct chan *chans;
	struct conn *touched;		/* conns whose epoll interest may change */
	uint64_t next_conn_id;
	size_t nconns;
	size_t ndead;			/* conns killed, not yet reaped */
	int64_t now_ms;
	int64_t next_tick_ms;
	int64_t next_bytes_ms;		/* next write of session byte counts */
	int64_t next_expire_ms;		/* next sweep of the per-source penalty table */
	int64_t store_seen;		/* store_change_counter at the last re-check */
	bool recheck_now;		/* a remote admin command may have changed access */
	bool stopping;
	bool shutdown;			/* server_free: sessions go offline in one store write */
	bool work;			/* something progressed: poll again at once */
	int spare_fd;			/* kept open to shed connections when out of fds */
	unsigned long shed;		/* connections shed since the last warning */
	int64_t shed_warned_ms;
	char host_fp[PUBKEY_FP_MAX];
	char public_addr[300];		/* "host:port" users and devices dial */
};

/* server.c */
int server_init(struct server *srv, struct config *cfg);
int server_run(struct server *srv);
void server_free(struct server *srv);
void server_touch(struct conn *c);	/* re-check c's epoll interest this turn */
void server_unwatch(struct conn *c);	/* remove c's fd from epoll */

/* session.c: one SSH connection */
void session_accept(struct server *srv, int fd, const char *peer);
/* Runs libssh on c; readable: epoll reported input (or hang-up) on its socket. */
void session_poll(struct conn *c, bool readable);
/* Sends what libssh has buffered for c without waiting for EPOLLOUT. */
void session_flush(struct conn *c);
/* ssh_channel_write(_stderr) on one of c's channels, outside session_poll. */
int session_write(struct conn *c, ssh_channel ch, const void *p, uint32_t n, bool is_stderr);
void session_kill(struct conn *c, const char *why);
void session_reap(struct conn *c);
void session_tick(struct conn *c);
void session_recheck(struct conn *c);
void session_kick_marked(struct server *srv);
const struct service *session_find_service(const struct conn *c, uint32_t port);

/* chan.c-ish helpers live in route.c */
struct chan *chan_new(struct conn *c, ssh_channel ch, enum chan_kind kind);
void chan_kill(struct chan *h);
void chan_reap(struct chan *h);
bool chan_pump(struct chan *h);

/* route.c */
void route_direct_tcpip(struct conn *c, ssh_message m);
void route_recheck(struct chan *cl);
/* After routes ended: returns freed memory to the kernel (at most once a call). */
void route_trim(void);
void route_refuse(struct conn *c, ssh_channel ch, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends to out the identification line and an unencrypted SSH_MSG_DISCONNECT carrying reason. */
void route_refusal_bytes(struct jbuf *out, const char *reason);

/* exec.c */
int exec_session_open(struct conn *c, ssh_message m);
int exec_channel_request(struct conn *c, ssh_message m);
bool exec_pump(struct chan *h);

#endif
