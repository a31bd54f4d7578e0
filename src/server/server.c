/* server.c: outpostd's event loop: epoll over listeners, signals and one private libssh event per connection. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset, const char *state) { (void)unset; (void)state; return 0; }
#endif

#include "common/err.h"
#include "common/log.h"
#include "common/pidcache.h"
#include "ssh/pkeycache.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/auditsync.h"
#include "server/chan.h"
#include "server/listener.h"
#include "server/hostkey.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/peer.h"
#include "server/acceptq.h"
#include "server/penalty.h"
#include "server/privs.h"
#include "server/proxyhdr.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/sockbuf.h"
#include "server/storeq.h"
#include "server/wake.h"
#include "ssh/disconnect.h"

#define MAX_EVENTS 256
#define ACCEPTS_PER_TURN 64
#define TICK_MS 1000
#define BYTES_SAVE_MS 5000
#define PENALTY_EXPIRE_MS 10000	/* the table has one entry per recent source: sweep it rarely */
#define PREAUTH_BUDGET_NS 2000000	/* loop time per turn for handshakes, after the rest */

static int
watch_add(struct server *srv, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

/* CPU time of the whole process (every thread), in ms: the start and stop log lines. */
static int64_t
cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

void
server_touch(struct conn *c)
{
	if (c->touched || c->dead)
		return;
	c->touched = true;
	c->touched_next = c->srv->touched;
	c->srv->touched = c;
}

/*
 * libssh 0.10 closes a session's socket itself when the peer's
 * SSH_MSG_DISCONNECT or a socket error reaches it, in whichever call read or
 * wrote, and epoll forgets the descriptor with the close. The number is then
 * free for the next accept(2), possibly in the same loop turn, before this
 * conn is reaped: an EPOLL_CTL_DEL, MOD or socket option on it would be done
 * to another connection (docs/LIBSSH.md, "libssh closes the socket").
 */
int
server_conn_fd(const struct conn *c)
{
	return c->s != NULL && ssh_get_fd(c->s) == c->watch.fd ? c->watch.fd : -1;
}

void
server_unwatch(struct conn *c)
{
	if (c->ep_events != 0 && server_conn_fd(c) >= 0)
		epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->watch.fd, NULL);
	c->ep_events = 0;
}

/* Sets each touched conn's epoll interest from what libssh wants. */
static void
update_interest(struct server *srv)
{
	struct conn *c = srv->touched;

	srv->touched = NULL;
	for (; c != NULL; c = c->touched_next) {
		c->touched = false;
		if (c->dead || !c->in_event)
			continue;
		session_flush(c);
		if (c->dead)
			continue;
		if (server_conn_fd(c) < 0) {
			c->ep_events = 0;	/* epoll forgot it at libssh's close */
			session_kill(c, "connection closed");
			continue;
		}
		/* Bytes still buffered, not libssh's poll flags: it asks POLLOUT
		 * after every send, even one that emptied its buffer. */
		uint32_t want = c->paused ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP;	/* splice.c: acct_check */
		if (ssh_get_status(c->s) & SSH_WRITE_PENDING)
			want |= EPOLLOUT;
		if (want == c->ep_events)
			continue;
		struct epoll_event ev = { .events = want, .data.ptr = &c->watch };
		int op = c->ep_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(srv->epfd, op, c->watch.fd, &ev) != 0) {
			session_kill(c, "epoll failed");
			continue;
		}
		c->ep_events = want;
	}
}

/* Generates an ed25519 key at path (mode 0600) and its .pub beside it; what names it in messages. */
void
server_generate_key(const char *path, const char *what)
{
	char pub[4112];
	ssh_key key = NULL;

	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		fatal("cannot generate the %s", what);
	mode_t old = umask(077);
	int r = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
	snprintf(pub, sizeof(pub), "%s.pub", path);
	if (r == SSH_OK)
		r = ssh_pki_export_pubkey_file(key, pub);
	umask(old);
	ssh_key_free(key);
	if (r != SSH_OK)
		fatal("cannot write the %s %s", what, path);
	log_info("generated %s %s", what, path);
}

/*
 * Preference of a host key type among several: what stock clients that know
 * none of them pick (OpenSSH and libssh both offer ed25519, then ECDSA, then
 * RSA), so the primary key is the one outpost-agent and a fresh ssh see.
 * 0 = not served.
 */
static int
host_key_rank(enum ssh_keytypes_e t)
{
	switch (t) {
	case SSH_KEYTYPE_ED25519: return 3;
	case SSH_KEYTYPE_ECDSA: case SSH_KEYTYPE_ECDSA_P256: case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521: return 2;
	case SSH_KEYTYPE_RSA: return 1;
	default: return 0;
	}
}

/* Writes <state>/ssh_host_key.pub, the primary key's public half, for `token create`. */
static void
publish_primary(struct server *srv, ssh_key key)
{
	char path[4096], tmp[4112];

	snprintf(path, sizeof(path), "%s/ssh_host_key.pub", srv->cfg->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	mode_t old = umask(022);
	int r = ssh_pki_export_pubkey_file(key, tmp);
	umask(old);
	if (r != SSH_OK || rename(tmp, path) != 0) {
		unlink(tmp);
		log_warn("cannot write %s: tokens made now may pin an older host key", path);
	}
}

/* Loads one HostKey into the bind; returns its rank, *out gets the key (caller frees). */
static int
load_one_key(struct server *srv, const char *path, ssh_key *out, const char **seen)
{
	ssh_key key = NULL;

	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK)
		fatal("cannot read host key %s (an OpenSSH or PEM private key without a passphrase)",
		    path);
	int rank = host_key_rank(ssh_key_type(key));
	if (rank == 0)
		fatal("host key %s: %s keys are not served (ed25519, ECDSA or RSA only)", path,
		    ssh_key_type_to_char(ssh_key_type(key)));
	if (seen[rank] != NULL)
		fatal("host keys %s and %s are of the same kind: one ed25519, one ECDSA and one RSA "
		    "key at most", seen[rank], path);
	seen[rank] = path;
	if (ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_HOSTKEY, path) != SSH_OK)
		fatal("host key %s: %s", path, ssh_get_error(srv->bind));
	log_info("host key %s (%s)", path, ssh_key_type_to_char(ssh_key_type(key)));
	*out = key;
	return rank;
}

/*
 * Every HostKey, one per type; none configured: <state>/ssh_host_ed25519_key,
 * generated if missing (as is a single configured HostKey that is missing).
 * The best-ranked key is the primary: its fingerprint is logged and pinned
 * by tokens.
 */
static int
load_host_key(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	const char *seen[4] = { 0 };
	char def[4096];
	const char *paths[CONFIG_MAX_HOSTKEYS] = { def };
	int n = cfg->nhost_keys, best = 0;
	ssh_key primary = NULL;
	struct pubkey pk;

	snprintf(def, sizeof(def), "%s/ssh_host_ed25519_key", cfg->state_dir);
	for (int i = 0; i < n; i++)
		paths[i] = cfg->host_keys[i];
	if (n == 0)
		n = 1;
	if (n == 1 && access(paths[0], F_OK) != 0)
		server_generate_key(paths[0], "host key");
	for (int i = 0; i < n; i++) {
		ssh_key key = NULL;
		int rank = load_one_key(srv, paths[i], &key, seen);
		if (rank > best) {
			ssh_key_free(primary);
			primary = key;
			best = rank;
		} else
			ssh_key_free(key);
	}
	if (pubkey_from_ssh_key(primary, &pk) != 0)
		fatal("host key %s is not usable", seen[best]);
	snprintf(srv->host_fp, sizeof(srv->host_fp), "%s", pk.fp);
	snprintf(srv->host_type, sizeof(srv->host_type), "%s", pk.type);
	pubkey_clear(&pk);
	publish_primary(srv, primary);
	ssh_key_free(primary);
	return 0;
}

/* The crypto policy and no global libssh server configuration file. */
static void
set_policy(struct server *srv)
{
	const struct config *c = srv->cfg;
	bool no = false;
	struct { enum ssh_bind_options_e opt; const char *v, *name; } set[] = {
		{ SSH_BIND_OPTIONS_KEY_EXCHANGE, c->kex, "KexAlgorithms" },
		{ SSH_BIND_OPTIONS_CIPHERS_C_S, c->ciphers, "Ciphers" },
		{ SSH_BIND_OPTIONS_CIPHERS_S_C, c->ciphers, "Ciphers" },
		{ SSH_BIND_OPTIONS_HMAC_C_S, c->macs, "MACs" },
		{ SSH_BIND_OPTIONS_HMAC_S_C, c->macs, "MACs" },
		{ SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, c->pubkey_algorithms, "PubkeyAcceptedAlgorithms" },
		{ SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, c->hostkey_algorithms, "HostKeyAlgorithms" },
	};

	ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (ssh_bind_options_set(srv->bind, set[i].opt, set[i].v) != SSH_OK)
			fatal("%s %s: %s", set[i].name, set[i].v, ssh_get_error(srv->bind));
}

/*
 * Listening sockets passed by systemd (socket activation, outpostd.socket):
 * they outlive this process, so a restart queues new connections in the
 * kernel instead of refusing them, and a fleet of devices reconnecting does
 * not back off. They replace the Listen lines. Returns how many; none
 * without systemd's LISTEN_FDS.
 */
static int
passed_listeners(struct server *srv)
{
	int n = 0;
#ifdef HAVE_LIBSYSTEMD
	n = sd_listen_fds(1);
	if (n < 0)
		fatal("the sockets systemd passed: %s", strerror(-n));
	if (n > LIM_LISTEN)
		fatal("systemd passed %d sockets; at most %d are served", n, LIM_LISTEN);
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char where[80];
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			fatal("systemd passed descriptor %d, which is not a listening TCP socket "
			    "(ListenStream= in outpostd.socket)", fd);
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
			fatal("descriptor %d from systemd: %s", fd, strerror(errno));
		srv->listeners[i].kind = WATCH_LISTEN;
		srv->listeners[i].fd = fd;
		if (watch_add(srv, &srv->listeners[i], EPOLLIN | EPOLLET) != 0)
			fatal("epoll: %s", strerror(errno));
		srv->nlisteners++;
		listener_name(&ss, where, sizeof(where));
		log_info("listening on %s (a socket from systemd: it stays open across restarts)", where);
	}
	if (n > 0)
		log_info("the %d socket%s from systemd replace Listen", n, n == 1 ? "" : "s");
#else
	(void)srv;
#endif
	return n;
}

static void
open_configured(struct server *srv, char *why, size_t whylen)
{
	for (int i = 0; i < srv->cfg->nlisten; i++) {
		int fd = listener_open(srv->cfg->listen[i], why, whylen);
		if (fd < 0)
			fatal("%s", why);
		srv->listeners[i].kind = WATCH_LISTEN;
		srv->listeners[i].fd = fd;
		/* edge-triggered: what the accept quota leaves queued is
		 * retried each turn (listen_more), not spun on */
		if (watch_add(srv, &srv->listeners[i], EPOLLIN | EPOLLET) != 0)
			fatal("epoll: %s", strerror(errno));
		srv->nlisteners++;
		log_info("listening on %s", srv->cfg->listen[i]);
	}
}

static void
open_listeners(struct server *srv)
{
	char why[256];

	if (passed_listeners(srv) == 0)
		open_configured(srv, why, sizeof(why));
	/* Linux copies these to every accepted socket (session_accept checks
	 * the first): six setsockopt(2) per connection saved */
	for (int i = 0; i < srv->nlisteners; i++)
		listener_tune(srv->listeners[i].fd, session_user_timeout_ms(srv->cfg));
}

/* What tokens and ssh-config tell clients to dial. */
static void
set_public_addr(struct server *srv)
{
	char host[200] = "localhost", lhost[256], port[8] = "2222";

	if (srv->cfg->public_addr != NULL) {
		snprintf(srv->public_addr, sizeof(srv->public_addr), "%s", srv->cfg->public_addr);
		return;
	}
	listener_parse(srv->cfg->listen[0], lhost, sizeof(lhost), port, sizeof(port));
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(srv->public_addr, sizeof(srv->public_addr), "%s:%s", host, port);
}

static void
open_signals(struct server *srv)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv->sigwatch.kind = WATCH_SIGNAL;
	srv->sigwatch.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv->sigwatch.fd < 0 || watch_add(srv, &srv->sigwatch, EPOLLIN) != 0)
		fatal("signalfd: %s", strerror(errno));
}

/* Thousands of devices need thousands of descriptors: take the hard limit. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open files limit: %s", strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("open files limit %llu", (unsigned long long)rl.rlim_cur);
}

/*
 * The chain's head starts from this node's anchor in the (real) store, so a
 * log cut while outpostd was down is noticed at the first record. A node
 * without one claims the chain from before nodes ('' in audit_anchors) if
 * its log holds that chain: a single-node install keeps its anchor across
 * the upgrade, and a new node never takes it.
 */
static char audit_node[LIM_LABEL + 1];	/* whose chain audit.log is: "" = none */

static void
load_audit_anchor(struct server *srv)
{
	struct audit_head h;
	char path[PATH_MAX];
	bool claimed = false;
	int r = ERR_NOTFOUND;

	snprintf(audit_node, sizeof(audit_node), "%s", srv->node_name);	/* node_start: NodeName */
	if (audit_node[0] == '\0')
		log_warn("audit: no node name (NodeName): the audit chain is not anchored in the store");
	snprintf(path, sizeof(path), "%s/" AUDIT_LOG_NAME, srv->cfg->state_dir);
	if (audit_node[0] != '\0')
		r = store_audit_anchor_load(srv->st, audit_node, path, &h, &claimed);
	if (claimed)
		log_info("audit: node %s takes over the audit anchor from before nodes", audit_node);
	if (r != 0 && r != ERR_NOTFOUND)
		log_warn("store: cannot read the audit anchor: %s", store_errmsg(srv->st));
	audit_set_head(srv->audit, r == 0 ? &h : NULL);
}

/* The audit log is written by its own thread from here on (audit.h): the loop only queues records. */
static void
start_audit_writer(struct server *srv)
{
	audit_set_syslog(srv->audit, srv->cfg->audit_syslog);
	if (audit_start_writer(srv->audit, (size_t)srv->cfg->audit_queue_max) != 0)
		fatal("cannot start the audit writer thread");
}

/*
 * The audit chain's head moves to this node's anchor from the loop's own
 * connection, at most once a tick (docs/ARCHITECTURE.md, "The audit log").
 * On PostgreSQL the copier thread moves it with the records it copies
 * (auditsync.h); only a cut log's audit-cut record re-anchors from here.
 */
static void
save_audit_head(struct server *srv)
{
	static bool failing;
	struct audit_head h;
	bool reset;

	if (!audit_head_take(srv->audit, &h, &reset) || audit_node[0] == '\0')
		return;
	auditsync_poke(h.seq);
	if (auditsync_running() && !reset)
		return;
	if (storeq_audit_anchor_set(srv, audit_node, &h, reset) == 0) {
		failing = false;
		return;
	}
	if (!failing)
		log_warn("store: cannot save the audit anchor (record %lld): %s", (long long)h.seq,
		    store_errmsg(srv->st));
	failing = true;
}

void
server_audit_poke(struct server *srv)
{
	save_audit_head(srv);
}

/* Opens the Store outpostd.conf names (default: outpost.db in the state directory), once, at start. */
static void
open_store(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char why[PATH_MAX + 256], line[LIM_STORE_SPEC + PATH_MAX + 256];

	if (store_spec_has_password(cfg->store))
		log_warn("store: the Store URI holds a password; it belongs in a passfile "
		    "(PGPASSFILE or passfile=), not in outpostd.conf");
	/* the state directory keeps the host key and audit.log whatever the store */
	if (cfg->store != NULL && mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s: %s", cfg->state_dir, strerror(errno));
	if (store_open_spec(cfg->store, cfg->state_dir, &srv->st, why, sizeof(why)) != 0) {
		store_spec_failure(cfg->store, cfg->state_dir, why, line, sizeof(line));
		fatal("%s", line);
	}
	store_spec_describe(cfg->store, cfg->state_dir, line, sizeof(line));
	log_info("store: %s", line);
}

int
server_init(struct server *srv, struct config *cfg)
{
	int r;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->now_ms = timefmt_mono_ms();
	raise_nofile();
	sockbuf_init(ssh_version(0));	/* libssh's recv/poll/send go through sockbuf.c */
	pidcache_init();		/* OpenSSL's getpid() at every random draw: pidcache.c */
	pkeycache_init();		/* libssh's rebuilt OpenSSL keys: ssh/pkeycache.c */
	if ((srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		fatal("/dev/null: %s", strerror(errno));
	open_store(srv);
	char why[PATH_MAX + 256];
	for (int i = 0; i == 0 || i < cfg->nhost_keys; i++)
		if (privs_check_modes(cfg->state_dir, cfg->nhost_keys > 0 ? cfg->host_keys[i] : NULL,
		    why, sizeof(why)) != 0)
			fatal("refusing to start: %s", why);
	if ((r = audit_open(cfg->state_dir, &srv->audit)) != 0)
		fatal("cannot open audit log in %s: %s%s", cfg->state_dir, err_str(r),
		    r == ERR_DENIED ? " (audit.log is a symbolic link: outpostd does not follow it)" : "");
	session_libssh_log_init();
	if ((srv->reg = registry_new()) == NULL || (srv->bind = ssh_bind_new()) == NULL)
		fatal("out of memory");
	load_host_key(srv);
	node_start(srv);	/* may block: before the loop and the store thread */
	set_policy(srv);
	struct penalty_config pc = {
		.per_source = cfg->per_source_max_startups,
		.fail_limit = cfg->penalty_failures,
		.block_min_s = cfg->penalty_min,
		.block_max_s = cfg->penalty_max,
		.exempt = cfg->penalty_exempt,
	};
	if (penalty_parse_startups(cfg->max_startups, &pc) != 0)
		fatal("bad MaxStartups %s", cfg->max_startups);
	if ((srv->pen = penalty_new(&pc)) == NULL || (srv->waiting = acceptq_new(LIM_ACCEPT_WAITING)) == NULL)
		fatal("out of memory");
	if (proxywait_init(srv) != 0)
		fatal("bad ProxyProtocol %s", cfg->proxy_protocol);
	if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll: %s", strerror(errno));
	open_listeners(srv);
	set_public_addr(srv);
	open_signals(srv);
	metrics_init(srv);
	privs_drop(cfg->user, cfg->allow_root, cfg->state_dir);
	load_audit_anchor(srv);
	auditsync_start(srv, audit_node);
	storeq_start(srv);	/* on PostgreSQL, a store thread takes srv->st; the loop reads a copy */
	start_audit_writer(srv);
	exec_init(srv);
	wake_init(srv);
	peer_init(srv);
	storeq_node_offline(srv, timefmt_now());	/* this node's rows only */
	srv->store_seen = store_change_counter(srv->st);
	srv->ready_ms = timefmt_mono_ms() - srv->now_ms;
	log_info("outpostd %s ready; host key %s; state %s (started in %lld ms, %lld ms of CPU)",
	    OUTPOST_VERSION, srv->host_fp, cfg->state_dir, (long long)(timefmt_mono_ms() - srv->now_ms),
	    (long long)cpu_ms());
	return 0;
}

/*
 * Out of file descriptors: the listener stays readable, and epoll would wake
 * us for it forever. Give up the spare descriptor to accept and close what
 * is waiting, then take the spare back; warn at most every 10 s.
 */
static void
shed(struct server *srv, int lfd, int err)
{
	char peer[64];

	if (srv->spare_fd >= 0) {
		close(srv->spare_fd);
		for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
			int fd = listener_accept(lfd, peer, sizeof(peer));
			if (fd < 0)
				break;
			close(fd);
			srv->shed++;
			metrics_refused("shed");
		}
		srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (srv->now_ms - srv->shed_warned_ms >= 10000 || srv->shed_warned_ms == 0) {
		log_warn("accept: %s: %lu connections closed unserved (raise the open files limit, "
		    "LimitNOFILE)", strerror(err), srv->shed);
		srv->shed = 0;
		srv->shed_warned_ms = srv->now_ms;
	}
}

/*
 * Starts the handshake of an accepted connection; 1 if it was admitted
 * (counted as unauthenticated, or a balancer's connection gone to read its
 * PROXY header: its handshake starts when the header is in).
 */
static int
start_one(struct server *srv, int fd, const char *peer)
{
	int before = penalty_unauth_total(srv->pen);

	if (proxywait_take(srv, fd, peer))
		return 1;
	session_accept(srv, fd, peer);
	return penalty_unauth_total(srv->pen) > before;
}

/* it left the waiting list: its source's count of waiting connections drops. */
static void
left_waiting(struct server *srv, const struct acceptq_item *it)
{
	char ip[ACCEPTQ_PEER_MAX];

	if (!it->counted)
		return;
	listener_peer_ip(it->peer, ip, sizeof(ip));
	penalty_wait_done(srv->pen, ip);
}

/* The oldest waiting connection is refused unserved (not counted against its source). */
static void
refuse_oldest(struct server *srv)
{
	struct acceptq_item it;

	if (!acceptq_pop(srv->waiting, &it))
		return;
	left_waiting(srv, &it);
	log_debug("connection from %s refused: waited %lld ms for its handshake to start",
	    it.peer, (long long)(srv->now_ms - it.accepted_ms));
	metrics_refused("waited");
	close(it.fd);
}

/* The client closed its end (or reset it) while it waited: its own time-out passed. */
static bool
client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/*
 * The waiting connections start as the quota allows, oldest first; one
 * whose client left meanwhile (its own time-out) is closed without a
 * handshake. Those that waited LoginGraceTime are refused unserved, not
 * counted against their sources (a set that does not move, such as a
 * flood that sends nothing, keeps newcomers waiting at most that long).
 * Returns how many were admitted.
 */
static int
start_waiting(struct server *srv, int quota)
{
	int64_t max_wait = (int64_t)srv->cfg->login_grace_time * 1000;
	struct acceptq_item it;
	int admitted = 0;

	for (int i = 0; i < ACCEPTS_PER_TURN && acceptq_len(srv->waiting) > 0; i++) {
		if (srv->now_ms - acceptq_oldest_ms(srv->waiting) > max_wait) {
			refuse_oldest(srv);
			continue;
		}
		if (admitted >= quota)
			break;
		acceptq_pop(srv->waiting, &it);
		left_waiting(srv, &it);
		if (client_gone(it.fd)) {
			log_debug("connection from %s closed by the client after %lld ms waiting for its "
			    "handshake to start", it.peer, (long long)(srv->now_ms - it.accepted_ms));
			metrics_refused("gone");
			close(it.fd);
			continue;	/* costs no handshake, so no quota */
		}
		admitted += start_one(srv, it.fd, it.peer);
	}
	return admitted;
}

/*
 * fd joins the waiting list, unless its source is blocked or already holds
 * PerSourceMaxStartups connections waiting or unauthenticated: it would be
 * refused at its turn, and meanwhile it held a place the others need. A
 * balancer listed in ProxyProtocol is not capped: the clients behind it
 * are told apart by their headers, read once they leave the list.
 */
static void
wait_one(struct server *srv, int fd, const char *peer)
{
	char ip[ACCEPTQ_PEER_MAX];
	const char *why = NULL;

	listener_peer_ip(peer, ip, sizeof(ip));
	bool balancer = srv->proxy_allow != NULL && proxy_allow_match(srv->proxy_allow, ip);
	if (!balancer && !penalty_wait(srv->pen, ip, srv->now_ms, &why)) {
		log_debug("connection from %s refused: %s", peer, why);
		metrics_refused(why);
		close(fd);
		return;
	}
	acceptq_push(srv->waiting, fd, peer, !balancer, srv->now_ms);
}

/*
 * Accepts what the quota admits, and while it admits no more (handshakes
 * are behind), drains the kernel's accept queue into srv->waiting: a
 * storm larger than the kernel's queue would otherwise overflow it, and
 * past it Linux drops the clients' packets, which retry on doubling timers
 * (1, 3, 7, 15 s...): outpostd sat idle between the retries while clients
 * reached their own time-outs (docs/ARCHITECTURE.md).
 */
static void
on_listener(struct server *srv, struct watch *w)
{
	char peer[ACCEPTQ_PEER_MAX];
	/* Refused connections cost no slot: only admitted ones count. */
	int quota = penalty_accept_quota(srv->pen, srv->preauth_behind, srv->now_ms - srv->preauth_rx_ms,
	    ACCEPTS_PER_TURN, srv->now_ms);
	/* Behind a balancer (ProxyProtocol) a connection reading its header
	 * is a handshake about to start: it counts against MaxStartups like
	 * one. Before, it cost no quota, so a storm through HAProxy bypassed
	 * the waiting list and the busy answers and met MaxStartups' random
	 * early drop instead. */
	quota = quota > srv->nproxying ? quota - srv->nproxying : 0;
	int admitted = start_waiting(srv, quota);

	for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
		bool start = admitted < quota && acceptq_len(srv->waiting) == 0;
		bool busy = !start && acceptq_full(srv->waiting);
		if (busy && !busy_mode(srv))
			break;
		int fd = listener_accept(w->fd, peer, sizeof(peer));
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				shed(srv, w->fd, errno);
				srv->listen_more = true;	/* at the next wake-up, not at once: no spinning */
				return;
			}
			if (acceptq_len(srv->waiting) == 0)
				return;		/* all taken: the next edge brings more */
			break;
		}
		if (start)
			admitted += start_one(srv, fd, peer);
		else if (busy)
			busy_answer(srv, fd, peer);
		else
			wait_one(srv, fd, peer);
	}
	srv->listen_more = true;	/* stopped by the quota, or some wait: retried next turn */
	if (quota > 0)
		srv->work = true;	/* and may be taken at once */
	else if (acceptq_len(srv->waiting) > 0)
		srv->listen_wake_ms = srv->now_ms + PENALTY_TRICKLE_MS;	/* not at the next tick */
}


static void
on_signal(struct server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->sigwatch.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: nothing to reload yet");
			continue;
		}
		log_info("signal %u: shutting down", si.ssi_signo);
		srv->stopping = true;
	}
}

/* Moves bytes on every channel; frees what died. */
static void
pump_and_reap(struct server *srv)
{
	struct chan *h, *next;

	for (h = srv->chans; h != NULL; h = h->next)
		if (chan_pump(h))
			srv->work = true;
	/* Walk the conns only when one died: with 10,000 idle devices a walk
	 * per turn was the largest cost of an idle server. */
	for (struct conn *c = srv->ndead > 0 ? srv->conns : NULL, *cn; c != NULL; c = cn) {
		cn = c->next;
		if (c->dead) {
			session_reap(c);
			srv->ndead--;
		}
	}
	for (h = srv->chans; h != NULL; h = next) {
		next = h->next;
		if (h->dead)
			chan_reap(h);
	}
}

/* Writes changed byte counts of live sessions to the store, every few seconds. */
static void
save_bytes(struct server *srv)
{
	if (srv->now_ms < srv->next_bytes_ms)
		return;
	srv->next_bytes_ms = srv->now_ms + BYTES_SAVE_MS;
	for (struct conn *c = srv->conns; c != NULL; c = c->next) {
		if (!c->authed || c->dead || c->bytes == c->bytes_saved)
			continue;
		storeq_session_set_bytes(srv, (int64_t)c->id, (int64_t)c->bytes);
		c->bytes_saved = c->bytes;
	}
}

/*
 * Access control for live sessions: when the store changed (CLI or remote
 * admin), re-check every session's key and act on kicks; every tick, re-check
 * open routes, since grants expire without any write.
 */
static void
recheck(struct server *srv)
{
	int64_t seen = store_change_counter(srv->st);

	if (seen != srv->store_seen || srv->recheck_now) {
		srv->store_seen = seen;
		srv->recheck_now = false;
		for (struct conn *c = srv->conns; c != NULL; c = c->next)
			session_recheck(c);
		session_kick_marked(srv);
	}
	for (struct chan *h = srv->chans; h != NULL; h = h->next)
		route_recheck(h);
}

#define TRIM_QUIET_MS	2000	/* no login or logout this long: give free heap pages back */
#define TRIM_EVERY_MS	30000	/* and at most this long apart while they go on */

/*
 * Gives glibc's free heap pages back to the kernel once logins and logouts
 * have settled: key exchanges free their scratch memory between long-lived
 * sessions and glibc keeps those holes (1.1 KiB per idle device on a node
 * after a ramp, docs/BENCHMARKS.md, "Where a node's memory goes").
 * malloc_trim walks the free chunks: a few ms, at most every TRIM_EVERY_MS.
 */
static void
trim_settled(struct server *srv)
{
	static uint64_t seen_id;
	static size_t seen_n;
	static int64_t changed_ms, trimmed_ms;
	static bool due;

	if (srv->next_conn_id != seen_id || srv->nconns != seen_n) {
		seen_id = srv->next_conn_id;
		seen_n = srv->nconns;
		changed_ms = srv->now_ms;
		due = true;
	}
	if (!due || (srv->now_ms - changed_ms < TRIM_QUIET_MS && srv->now_ms - trimmed_ms < TRIM_EVERY_MS))
		return;
	due = false;
	trimmed_ms = srv->now_ms;
	malloc_trim(0);
}

/*
 * The waiting list holds at most LIM_ACCEPT_WAIT_S seconds of logins at the
 * recent rate (smoothed over the ticks), from LIM_ACCEPT_WAITING_MIN to
 * LIM_ACCEPT_WAITING. Past it connections stay in the kernel's queue, and
 * past that clients' SYNs are retried by their kernels: a delay, where a
 * connection accepted but never served in time costs the client a failure
 * and its backoff (docs/ARCHITECTURE.md, "How long the list may be").
 */
static void
size_waiting(struct server *srv)
{
	int64_t ms = srv->now_ms - srv->logins_seen_ms;

	if (ms <= 0 || srv->waiting == NULL)
		return;
	double now = (double)(srv->logins - srv->logins_seen) * 1000.0 / (double)ms;
	/* more wanted in than got: the node's own pace (not at the first
	 * tick, whose ms counts from the clock's origin) */
	if (srv->logins_seen_ms != 0 && acceptq_len(srv->waiting) > 0) {
		srv->queued_logins += srv->logins - srv->logins_seen;
		srv->queued_ms += ms;
	}
	srv->login_rate = srv->logins_seen_ms == 0 ? now : (srv->login_rate + now) / 2;
	srv->logins_seen = srv->logins;
	srv->logins_seen_ms = srv->now_ms;
	double lim = srv->login_rate * LIM_ACCEPT_WAIT_S;
	acceptq_set_limit(srv->waiting, lim < LIM_ACCEPT_WAITING_MIN ? LIM_ACCEPT_WAITING_MIN :
	    lim > LIM_ACCEPT_WAITING ? LIM_ACCEPT_WAITING : (int)lim);
}

static void
tick(struct server *srv)
{
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (!c->dead)
			session_tick(c);
	recheck(srv);
	storeq_tick(srv);
	splice_trim();
	trim_settled(srv);
	save_bytes(srv);
	save_audit_head(srv);
	if (srv->now_ms >= srv->next_expire_ms) {
		penalty_expire(srv->pen, srv->now_ms);
		srv->next_expire_ms = srv->now_ms + PENALTY_EXPIRE_MS;
	}
	wake_tick(srv);
	hostkey_tick(srv);
	peer_tick(srv);
	proxywait_tick(srv);
	busy_tick(srv);
	size_waiting(srv);
	metrics_tick(srv);
	node_tick(srv);
	sd_notify(0, "WATCHDOG=1");
	srv->next_tick_ms = srv->now_ms + TICK_MS;
}

static void
poll_conn(struct server *srv, struct conn *c, uint32_t events)
{
	bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);

	if (readable)
		c->rx_ms = srv->now_ms;
	session_poll(c, readable);
}

/*
 * Handshakes run after everything else in a turn, and only for
 * PREAUTH_BUDGET_NS: a key exchange costs ~0.4 ms of the loop, and a flood
 * of them must not delay the sessions already routing. What is left stays
 * ready in epoll (level-triggered) for the next turn, which comes at once.
 */
static void
poll_preauth(struct server *srv, struct epoll_event *evs, int n)
{
	int64_t start = timefmt_mono_ns();

	srv->preauth_behind = false;
	if (n > 0)
		srv->preauth_rx_ms = srv->now_ms;
	for (int i = 0; i < n; i++) {
		struct conn *c = ((struct watch *)evs[i].data.ptr)->conn;
		if (c->dead)
			continue;
		if (timefmt_mono_ns() - start >= PREAUTH_BUDGET_NS) {
			srv->work = true;
			srv->preauth_behind = true;
			return;
		}
		poll_conn(srv, c, evs[i].events);
	}
}

int
server_run(struct server *srv)
{
	struct epoll_event evs[MAX_EVENTS], pre[MAX_EVENTS];

	srv->next_tick_ms = srv->now_ms + TICK_MS;
	sd_notify(0, "READY=1");
	while (!srv->stopping) {
		int64_t until = srv->next_tick_ms;
		if (srv->listen_wake_ms > 0 && srv->listen_wake_ms < until)
			until = srv->listen_wake_ms;
		int timeout = (int)(until - srv->now_ms);
		if (srv->work || timeout < 0)
			timeout = 0;
		srv->work = false;
		busy_reap(srv);	/* closed last turn: no event of this turn's can point at them */
		int n = epoll_wait(srv->epfd, evs, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait: %s", strerror(errno));
		srv->now_ms = timefmt_mono_ms();
		int npre = 0;
		/* connections the accept quota left in the queue: no new edge comes for them */
		srv->listen_wake_ms = 0;
		if (srv->listen_more) {
			srv->listen_more = false;
			for (int i = 0; i < srv->nlisteners; i++)
				on_listener(srv, &srv->listeners[i]);
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			if (w->kind == WATCH_LISTEN)
				on_listener(srv, w);
			else if (w->kind == WATCH_SIGNAL)
				on_signal(srv);
			else if (w->kind == WATCH_MQTT)
				wake_ready(srv, evs[i].events);
			else if (w->kind == WATCH_PROXY)
				proxywait_ready(srv, w);
			else if (w->kind == WATCH_BUSY)
				busy_ready(srv, w);
			else if (w->kind == WATCH_EXEC)
				exec_ready(srv);
			else if (w->kind == WATCH_STORE)
				storeq_ready(srv);
			else if (w->conn->dead)
				continue;
			else if (session_preauth(w->conn))
				pre[npre++] = evs[i];
			else
				poll_conn(srv, w->conn, evs[i].events);
		}
		poll_preauth(srv, pre, npre);	/* before reaping: pre holds pointers */
		pump_and_reap(srv);
		if (srv->now_ms >= srv->next_tick_ms)
			tick(srv);
		else if (srv->recheck_now)
			recheck(srv);	/* a fresh mirror or an admin command: revokes act now, not at the tick */
		update_interest(srv);
		wake_interest(srv);
	}
	return 0;
}

static atomic_bool threads_left;

void
server_thread_left(void)
{
	atomic_store(&threads_left, true);
}

bool
server_threads_left(void)
{
	return atomic_load(&threads_left);
}

void
server_free(struct server *srv)
{
	int64_t t0 = timefmt_mono_ms(), cpu0 = cpu_ms();
	size_t nconns = srv->nconns;

	sd_notify(0, "STOPPING=1");
	/* Listeners first: devices reconnecting while 10,000 sessions are torn
	 * down get "connection refused" and back off, instead of waiting in
	 * a backlog nobody accepts. */
	for (int i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	acceptq_free(srv->waiting);	/* connections never started: closed with the listeners */
	srv->waiting = NULL;
	/* 10,000 devices going offline one transaction each took seconds, and
	 * devices that reconnect meanwhile back off further: one write for all. */
	srv->shutdown = true;
	storeq_stopping(srv);
	/* Queued first, so that the store thread writes it (a statement over
	 * every device of this node) while the loop closes the sessions, on the
	 * other core; a device that meanwhile registers on another node is not
	 * touched by it (its row names that node). */
	storeq_node_offline(srv, timefmt_now());
	size_t logins = 0, ndev = 0, k = 0;
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		ndev += c->authed && c->link == NULL && c->who.kind == PRINCIPAL_DEVICE;
	int told_s, max_s = 0;
	int64_t t_told = timefmt_mono_ms();
	for (struct conn *c = srv->conns; c != NULL; c = c->next) {
		char why[96] = "server shutting down";
		logins += c->authed && c->link == NULL;
		/* devices are told when to come back, spread at the pace this
		 * node measured: not 20,000 at once at the next start */
		if (c->authed && c->link == NULL && c->who.kind == PRINCIPAL_DEVICE &&
		    (told_s = busy_return_s(srv, k++, ndev)) > 0) {
			disconnect_stop_reason(why, sizeof(why), told_s);
			c->return_ms = t_told + (int64_t)told_s * 1000;
			max_s = told_s > max_s ? told_s : max_s;
		}
		session_kill(c, why);
	}
	pump_and_reap(srv);
	int64_t t_sessions = timefmt_mono_ms();
	/* one line for them all (each has its "disconnect" record in the audit log) */
	log_info("shutdown: %zu sessions ended, each with its \"disconnect\" record in the audit log "
	    "(a line each at LogLevel debug)", logins);
	if (max_s > 0)
		log_info("shutdown: %zu devices told to come back within %d s, at %.0f logins a second (the "
		    "pace this node took them with a queue)", ndev, max_s,
		    (double)srv->queued_logins * 1000.0 / (double)srv->queued_ms);
	exec_free(srv);		/* before the audit writer: workers' records join its queue */
	proxywait_free(srv);
	busy_free(srv);
	wake_free(srv);
	hostkey_free();
	peer_free(srv);
	metrics_free(srv);
	node_free(srv);
	if (srv->sigwatch.fd > 0)
		close(srv->sigwatch.fd);
	if (srv->epfd > 0)
		close(srv->epfd);
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	ssh_bind_free(srv->bind);
	registry_free(srv->reg);
	penalty_free(srv->pen);
	int64_t t_rest = timefmt_mono_ms();
	audit_stop_writer(srv->audit);	/* the queue drains: the last records, then the anchor */
	save_audit_head(srv);
	int64_t t_audit = timefmt_mono_ms();
	auditsync_stop();	/* the last records to the store's audit_records (PostgreSQL) */
	audit_close(srv->audit);
	int64_t t_copy = timefmt_mono_ms();
	storeq_stop(srv);	/* the queued writes reach the store, then both close */
	int64_t t1 = timefmt_mono_ms();
	log_info("stopped: %zu connections closed in %lld ms, %lld ms of CPU (sessions %lld ms, "
	    "the rest of the loop's %lld, audit log %lld, audit copy %lld, store %lld)", nconns,
	    (long long)(t1 - t0), (long long)(cpu_ms() - cpu0), (long long)(t_sessions - t0),
	    (long long)(t_rest - t_sessions), (long long)(t_audit - t_rest), (long long)(t_copy - t_audit),
	    (long long)(t1 - t_copy));
}
