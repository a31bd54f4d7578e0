/*
 * server.h: outpostd's internal objects shared by its modules: the server
 * and one conn per SSH connection. Channels are in chan.h.
 *
 * Threading: one thread, one epoll loop. libssh callbacks only record facts
 * (bytes pending, eof, close, requests); all writes, opens and frees happen
 * in the main loop (docs/LIBSSH.md, "Callbacks run inside other sessions' polls").
 * Remote commands run on worker threads (cmdq.h) that never touch these objects.
 */
#ifndef OUTPOST_SERVER_H
#define OUTPOST_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/jbuf.h"
#include "common/log.h"
#include "common/limits.h"
#include "server/config.h"
#include "store/store.h"

struct audit;
struct penalty;
struct wake;
struct registry;
struct proxy_allow;
struct proxywait;
struct busyconn;
struct storeq;
struct peer_link;

enum watch_kind { WATCH_LISTEN, WATCH_SIGNAL, WATCH_CONN, WATCH_MQTT, WATCH_PROXY, WATCH_EXEC, WATCH_STORE, WATCH_BUSY };

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
	int64_t return_ms;		/* at shutdown: when this device was told to come back (monotonic), or 0 */
	bool banner_checked;		/* first bytes looked at: not a PROXY header */
	int auth_failures;
	char auth_user[LIM_PEER_STRING];	/* SSH user name the peer sent, printable */
	struct store_principal who;	/* after authentication */
	int64_t gen;			/* a device's registration generation (wall clock, us) */
	struct pubkey key;		/* the key it authenticated with, for re-checks */
	uint64_t bytes;			/* routed through this session */
	uint64_t bytes_saved;		/* as last written to the store */
	struct service *services;	/* grown on demand up to LIM_SERVICES (an idle device has one or two) */
	int nservices, services_cap;
	int nchans;
	int enroll_chans;		/* enroll login: 0 no channel yet, 1 its one channel, 2 more refused */
	bool enrolled;			/* an enroll login bound its key: not a failure */
	unsigned refusals;		/* refused requests, channels, commands (LIM_REFUSAL_AUDITS) */
	int64_t ka_sent_ms;		/* last keepalive we sent, 0 = none outstanding */
	int64_t rx_ms;			/* last time epoll said it was readable */
	bool paused;			/* its principal's routes hold too much: not read (splice.c) */
	struct ssh_server_callbacks_struct scb;
	struct ssh_callbacks_struct cb;	/* connect_status only: how far the key exchange got */
	bool kexed;			/* key exchange methods agreed: the peer asked us to work */
	struct conn *touched_next;
	struct peer_link *link;		/* peer.c: our client connection to another node; NULL if accepted */
};

struct chan;			/* server/chan.h */

/*
 * What a libssh message callback returns: MSG_HANDLED when we sent the
 * reply ourselves, MSG_DEFAULT to let libssh send its default reply (a
 * refusal: REQUEST_FAILURE, OPEN_FAILURE or CHANNEL_FAILURE).
 */
enum { MSG_HANDLED = 0, MSG_DEFAULT = 1 };

struct server {
	struct config *cfg;
	struct store *st;		/* what the loop reads: the store, or its mirror (storeq.h) */
	struct storeq *sq;		/* the store thread; NULL in direct mode */
	struct audit *audit;
	struct registry *reg;
	struct penalty *pen;
	struct acceptq *waiting;	/* accepted, handshake not started (acceptq.h) */
	struct wake *wake;		/* MQTT client, NULL without MqttURL */
	ssh_bind bind;
	int epfd;
	struct watch listeners[LIM_LISTEN];
	int nlisteners;
	int accept_inherits;	/* accepted sockets carry the listeners' TCP options: 1 yes, -1 no, 0 not known yet */
	struct watch sigwatch;
	struct conn *conns;
	struct chan *chans;
	struct conn *touched;		/* conns whose epoll interest may change */
	uint64_t next_conn_id;
	int64_t node_id;		/* this node's row in the store's nodes, 0 = none */
	char node_name[LIM_LABEL + 1];	/* NodeName, "" = none */
	int64_t last_gen;		/* the last registration generation handed out */
	int64_t next_beat_ms;		/* next heartbeat (node.c) */
	ssh_key node_key;		/* this node's key (peering), node.c */
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
	bool preauth_behind;		/* the last turn's handshake budget left some ready */
	int64_t preauth_rx_ms;		/* when a connection before authentication was last ready */
	bool listen_more;		/* a listener may hold connections not yet accepted */
	int64_t listen_wake_ms;		/* the quota admitted none while some wait: look again then (its trickle), else 0 */
	uint64_t logins;		/* handshakes that ended in a login, since start */
	uint64_t logins_seen;		/* ... at the last size_waiting */
	int64_t logins_seen_ms;
	double login_rate;		/* logins a second, smoothed (size_waiting) */
	uint64_t queued_logins;		/* logins in the ticks that found the waiting list holding some */
	int64_t queued_ms;		/* ... and those ticks' time: the pace this node can take logins */
	int64_t ready_ms;		/* how long server_init took: the next start's too, about */
	double busy_slot_ms;		/* the last return a busy answer promised (busy_answer) */
	uint64_t busy_count;		/* busy answers since busy_logged_ms */
	int64_t busy_logged_ms, busy_last_s;
	struct busyq { struct busyconn *head, *tail; }
	    busy_asked,			/* busy connections awaiting the client's KEXINIT, oldest first */
	    busy_told;			/* ... told, until the client hangs up, oldest first */
	struct busyconn *busy_dead;	/* closed, freed by busy_reap: an event of this turn may name one */
	int nbusy;
	int spare_fd;			/* kept open to shed connections when out of fds */
	unsigned long shed;		/* connections shed since the last warning */
	int64_t shed_warned_ms;
	char host_fp[PUBKEY_FP_MAX];
	char host_type[PUBKEY_TYPE_MAX];	/* the primary host key's type (peer.c asks peers for it) */
	char public_addr[300];		/* "host:port" users and devices dial */
	struct proxy_allow *proxy_allow;	/* ProxyProtocol; NULL = off */
	struct proxywait *proxying;	/* connections whose PROXY header is awaited */
	int nproxying;
};

/* server.c */
int server_init(struct server *srv, struct config *cfg);
int server_run(struct server *srv);
void server_free(struct server *srv);
/*
 * A thread that did not end in time at shutdown (the store thread, the
 * audit copier) and still runs: the process must then leave with _exit,
 * since exit's handlers (OpenSSL's, libpq's) would free what that thread
 * is using (a node crashed that way once in five runs of bench/nodes.sh).
 */
void server_thread_left(void);
bool server_threads_left(void);
void server_generate_key(const char *path, const char *what);	/* ed25519, mode 0600, .pub beside it */
void server_touch(struct conn *c);	/* re-check c's epoll interest this turn */
/* The audit writer's new head to the store's copier (or anchor) now, not at the next tick. */
void server_audit_poke(struct server *srv);
void server_unwatch(struct conn *c);	/* remove c's fd from epoll */
int server_conn_fd(const struct conn *c);	/* c's socket, or -1 once libssh has closed it */

/* proxywait.c: a listed balancer's connection until its PROXY v2 header is read */
int proxywait_init(struct server *srv);	/* 0, or ERR_CONFIG (logged) */
/* From a listed address: takes fd to wait for its header (true); false: not listed. */
bool proxywait_take(struct server *srv, int fd, const char *peer);
void proxywait_ready(struct server *srv, struct watch *w);
void proxywait_tick(struct server *srv);
void proxywait_free(struct server *srv);

/* busy.c: "try again in N s" to a connection the full waiting list cannot take */
bool busy_mode(const struct server *srv);	/* logins complete: answer busy, not the kernel's queue */
void busy_answer(struct server *srv, int fd, const char *peer);	/* takes fd */
int busy_return_s(const struct server *srv, size_t k, size_t n);	/* at shutdown: when device k of n comes back, or 0 */
void busy_ready(struct server *srv, struct watch *w);
void busy_tick(struct server *srv);
void busy_reap(struct server *srv);	/* frees those closed since: between epoll_waits only */
void busy_free(struct server *srv);

/* session.c: one SSH connection */
void session_accept(struct server *srv, int fd, const char *peer);
/* TCP_USER_TIMEOUT for clients' sockets: keepalives unanswered, in ms. */
int session_user_timeout_ms(const struct config *cfg);
/* Runs libssh on c; readable: epoll reported input (or hang-up) on its socket. */
void session_poll(struct conn *c, bool readable);
/* Sends what libssh has buffered for c without waiting for EPOLLOUT. */
void session_flush(struct conn *c);
/* ssh_channel_write(_stderr) on one of c's channels, outside session_poll: bytes taken, or ERR_SSH. */
int session_write(struct conn *c, ssh_channel ch, const void *p, uint32_t n, bool is_stderr);
void session_kill(struct conn *c, const char *why);
/*
 * Device session c lost its device to a newer registration on another node
 * (storeq.c, from the store's presence): audited `takeover` naming that
 * node, counted, and killed. Its offline write is fenced: it leaves the
 * newer holder's row alone.
 */
void session_taken_over(struct conn *c, const char *node, int64_t gen);
/* Logs fmt at level, stamped with c: "session N (kind name) from ip:port: ...". */
void session_log(const struct conn *c, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void session_reap(struct conn *c);
/*
 * A global request, channel or command of c's that outpostd refused: logged
 * and audited (`refused` record: what, request, reason), the first
 * LIM_REFUSAL_AUDITS of each session; the rest are counted in the
 * session's `disconnect` record.
 */
void session_refused(struct conn *c, const char *what, const char *request, const char *why);
/* Routes libssh's own log to ours and traces what libssh refuses without asking us. */
void session_libssh_log_init(void);
void session_tick(struct conn *c);
void session_recheck(struct conn *c);
void session_kick_marked(struct server *srv);
/* Not authenticated, or logged in as `enroll`: counted by the start-up limits. */
bool session_preauth(const struct conn *c);
const struct service *session_find_service(const struct conn *c, uint32_t port);

/* splice.c: after routes ended, returns freed memory to the kernel (at most once a call). */
void splice_trim(void);

/* route.c: resolving a technician's direct-tcpip and splicing it to a device */
void route_direct_tcpip(struct conn *c, ssh_message m);
/* Makes cl (any kind) the client side of a route to device conn dc; on failure, a refusal. */
void route_link(struct chan *cl, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port);
/* True if dest means the jump itself (localhost, 127.0.0.1, ::1): routed by port table. */
bool route_is_port_table(const char *dest);
/*
 * Resolves a technician's dest:port (name.fleet, bare name, or the port
 * table) to a live device conn. 0, or an ERR_* with the reason in why
 * (ERR_OFFLINE: *dev_id is set, the device may be woken).
 */
int route_resolve(struct conn *c, const char *dest, uint32_t port, struct conn **dcp,
    int64_t *dev_id, char *qualified, size_t qlen, char *why, size_t whylen);
/*
 * An exec channel's `nc -U PATH` / `nc HOST PORT` line: 0 when h became a
 * route (or a refusal, out of memory); else an ERR_* with the reason in why
 * (whylen >= 256), audited and logged, h unchanged.
 */
int route_exec_nc(struct chan *h, int argc, char *const argv[], char *why, size_t whylen);
/* Ends cl's route if its user may no longer reach the device. */
void route_recheck(struct chan *cl);
void route_audit_connect(struct conn *c, const char *dest, int port, const char *result,
    const char *why);

/* refuse.c: a refused direct-tcpip tells the client why, then closes */
/* Takes the accepted channel ch; the reason is printf-formatted. */
void refuse_open(struct conn *c, ssh_channel ch, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Turns h (any kind) into a refusal carrying reason. */
void refuse_chan(struct chan *h, const char *reason);

/* exec.c */
/* A session channel open: MSG_HANDLED (accepted) or MSG_DEFAULT (refused). */
int exec_session_open(struct conn *c, ssh_message m);
/* A chan_exec on c for the accepted ch (ch stays the caller's on NULL). */
struct chan *exec_chan_new(struct conn *c, ssh_channel ch);
/* Starts the command workers (after the audit writer and privs_drop); fatal on failure. */
void exec_init(struct server *srv);
void exec_ready(struct server *srv);	/* WATCH_EXEC readable: finished commands */
struct cmdq_stats;
void exec_stats(struct cmdq_stats *out);	/* zeros before exec_init */
/* Waits for the commands running now (call after every channel was reaped). */
void exec_free(struct server *srv);

#endif
