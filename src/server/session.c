/* session.c: one SSH connection: handshake, public-key authentication, requests, liveness. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/tcp.h"
#include "common/timefmt.h"
#include "common/token.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/listener.h"
#include "server/hostkey.h"
#include "server/metrics.h"
#include "server/peer.h"
#include "server/penalty.h"
#include "server/proxyhdr.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/sockbuf.h"
#include "server/storeq.h"
#include "ssh/disconnect.h"

#define ENROLL_USER "enroll"	/* the SSH user name of enrollment logins */

static const char *
kind_name(const struct conn *c)
{
	switch (c->who.kind) {
	case PRINCIPAL_USER: return "user";
	case PRINCIPAL_DEVICE: return "device";
	case PRINCIPAL_ENROLL: return "enroll";
	case PRINCIPAL_NODE: return "node";
	default: return "unknown";
	}
}

/* The principal's display name: user name or name.fleet. */
static void
principal_name(const struct conn *c, char *dst, size_t len)
{
	if (c->who.kind == PRINCIPAL_DEVICE)
		snprintf(dst, len, "%s.%s", c->who.name, c->who.fleet);
	else
		snprintf(dst, len, "%s", c->who.name);
}

static void
audit_principal(struct jbuf *b, const struct conn *c)
{
	char name[LIM_TARGET + 1];

	principal_name(c, name, sizeof(name));
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "kind", kind_name(c));
	jbuf_member_str(b, c->who.kind == PRINCIPAL_DEVICE ? "device" : "user", name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
}

static void
auth_failed(struct conn *c, const char *fp, const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, "auth");
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "result", "failure");
	jbuf_member_str(b, "reason", why);
	jbuf_member_str(b, "ssh_user", c->auth_user);
	jbuf_member_str(b, "key_fp", fp);
	jbuf_member_str(b, "src", c->peer);
	audit_commit(c->srv->audit);
	session_log(c, LOG_LVL_INFO, "authentication failed (%s, key %s)", why, fp[0] ? fp : "-");
	c->failed = true;
	metrics_auth_failed(why);
	if (++c->auth_failures >= c->srv->cfg->max_auth_tries)
		session_kill(c, "too many authentication failures");
}

/*
 * Before authentication, or logged in as `enroll`: a key that is nobody's.
 * Such a connection holds a MaxStartups and PerSourceMaxStartups slot,
 * lives at most LoginGraceTime, and counts against its source's penalty
 * unless it enrolled a key.
 */
bool
session_preauth(const struct conn *c)
{
	return !c->authed || c->who.kind == PRINCIPAL_ENROLL;
}

static int
gen_cb(void *arg, const struct store_device *d)
{
	*(int64_t *)arg = d->gen;
	return 0;
}

/*
 * A registration's generation: this node's wall clock in microseconds, past
 * every one handed out here before and past the device's last registration
 * as the store (or its mirror) has it (NODES-PLAN.md: a newer registration
 * on any node fences the older ones; nodes' clocks are synchronised, and a
 * clock stepped back does not leave a device fenced out).
 */
static int64_t
next_gen(struct server *srv, int64_t device_id)
{
	struct timespec ts;
	int64_t us, known = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (store_device_get(srv->st, device_id, gen_cb, &known) == 0 && known >= us)
		us = known + 1;
	srv->last_gen = us > srv->last_gen ? us : srv->last_gen + 1;
	return srv->last_gen;
}

/* A device authenticated: it becomes the one live session for its name. */
static void
device_online(struct conn *c)
{
	struct server *srv = c->srv;
	struct conn *old = registry_set(srv->reg, c->who.id, c);

	if (old == c) {
		session_kill(c, "out of memory registering device");
		return;
	}
	if (old != NULL) {
		struct jbuf *b = audit_begin(srv->audit, "takeover");
		audit_principal(b, c);
		jbuf_member_int(b, "replaced_session", (int64_t)old->id);
		jbuf_member_str(b, "replaced_src", old->peer);
		audit_commit(srv->audit);
		log_info("device %s.%s: session %llu from %s replaces session %llu from %s",
		    c->who.name, c->who.fleet, (unsigned long long)c->id, c->peer,
		    (unsigned long long)old->id, old->peer);
		session_kill(old, "replaced by a newer session with the same key");
		metrics_takeover();
	}
	c->gen = next_gen(srv, c->who.id);
	if (storeq_device_set_presence(srv, c->who.id, true, c->gen, timefmt_now(), c->peer) != 0)
		log_warn("store: cannot mark %s.%s online: %s", c->who.name, c->who.fleet,
		    store_errmsg(srv->st));
}

void
session_taken_over(struct conn *c, const char *node, int64_t gen)
{
	struct server *srv = c->srv;
	char why[96];

	if (c->dead)
		return;
	struct jbuf *b = audit_begin(srv->audit, "takeover");
	audit_principal(b, c);
	jbuf_member_str(b, "new_node", node);
	jbuf_member_int(b, "replaced_session", (int64_t)c->id);
	jbuf_member_str(b, "replaced_src", c->peer);
	audit_commit(srv->audit);
	log_info("device %s.%s: registered on node %s (generation %lld, ours %lld): session %llu from %s "
	    "ends", c->who.name, c->who.fleet, node, (long long)gen, (long long)c->gen,
	    (unsigned long long)c->id, c->peer);
	snprintf(why, sizeof(why), "replaced by a newer session on node %s", node);
	session_kill(c, why);
	metrics_node_takeover();
}

/* Live sessions of one user (MaxSessionsPerPrincipal). */
static int
user_sessions(const struct server *srv, int64_t user_id)
{
	int n = 0;

	for (const struct conn *c = srv->conns; c != NULL; c = c->next)
		if (c->authed && !c->dead && c->who.kind == PRINCIPAL_USER && c->who.id == user_id)
			n++;
	return n;
}

static int
on_auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key,
    char state, void *arg)
{
	struct conn *c = arg;
	struct pubkey pk;
	struct store_principal who;
	int r;

	(void)s;
	log_printable(c->auth_user, sizeof(c->auth_user), user, user ? strnlen(user, LIM_PEER_STRING) : 0);
	token_redact(c->auth_user);	/* a token pasted as a user name is not logged or audited */
	if (c->dead || c->authed)
		return SSH_AUTH_DENIED;
	if (pubkey_from_ssh_key(key, &pk) != 0) {
		auth_failed(c, "", "unusable key");
		return SSH_AUTH_DENIED;
	}
	if (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID) {
		auth_failed(c, pk.fp, "bad signature");
		r = SSH_AUTH_DENIED;
		goto out;
	}
	if (user != NULL && strcmp(user, ENROLL_USER) == 0) {
		/* Any key may log in as `enroll`; all it can do is run `enroll TOKEN NAME`. */
		memset(&who, 0, sizeof(who));
		who.kind = PRINCIPAL_ENROLL;
		snprintf(who.name, sizeof(who.name), "%s", ENROLL_USER);
		snprintf(who.key_type, sizeof(who.key_type), "%s", pk.type);
		snprintf(who.key_fp, sizeof(who.key_fp), "%s", pk.fp);
		r = 0;
	} else if (peer_user_node(user) != NULL) {
		/* Another node (peer.c): its name and its node key as the nodes table has them. */
		const char *node = peer_user_node(user);
		memset(&who, 0, sizeof(who));
		who.kind = PRINCIPAL_NODE;
		who.id = -1;	/* no user's id: its routes' byte account is its own */
		snprintf(who.name, sizeof(who.name), "%s", node);
		snprintf(who.key_type, sizeof(who.key_type), "%s", pk.type);
		snprintf(who.key_fp, sizeof(who.key_fp), "%s", pk.fp);
		r = strcmp(node, peer_my_name(c->srv)) != 0 && peer_key_is_node(c->srv, node, &pk) ? 0 : ERR_NOTFOUND;
	} else
		r = store_principal_by_key(c->srv->st, &pk, &who);
	if (r != 0) {
		auth_failed(c, pk.fp, r == ERR_NOTFOUND ? "unknown key" : "store error");
		r = SSH_AUTH_DENIED;
		goto out;
	}
	r = SSH_AUTH_SUCCESS;
	if (state == SSH_PUBLICKEY_STATE_NONE)
		goto out;	/* probe: "this key would do"; the signed attempt follows */
	if (audit_admit(c->srv->audit) != 0) {
		/*
		 * Fail closed: no new login while audit records wait to be written.
		 * The key is good, so libssh may call it a success: a failure would
		 * reach the client first and it would give up without the reason.
		 * The session is not authed here and dies at the end of this turn
		 * with the reason as its disconnect message ("Received disconnect
		 * from …: the audit log is not keeping up: …").
		 */
		log_info("session %llu from %s: login refused: audit records wait to be written",
		    (unsigned long long)c->id, c->peer);
		ssh_session_set_disconnect_message(c->s, AUDIT_BUSY_REASON);
		session_kill(c, AUDIT_BUSY_REASON);
		goto out;
	}
	if (storeq_unreachable(c->srv)) {
		/* Fail closed: the copy the loop reads may miss a revocation. Told like the audit refusal above. */
		storeq_refused_login(c->srv);
		metrics_auth_failed("store unreachable");
		ssh_session_set_disconnect_message(c->s, STORE_DOWN_REASON);
		session_kill(c, STORE_DOWN_REASON);
		goto out;
	}
	if (who.kind == PRINCIPAL_USER && user_sessions(c->srv, who.id) >= c->srv->cfg->max_sessions_per_principal) {
		session_log(c, LOG_LVL_WARN, "user %s has too many sessions", who.name);
		metrics_auth_failed("too many sessions");
		r = SSH_AUTH_DENIED;
		goto out;
	}
	if (who.kind == PRINCIPAL_ENROLL && !penalty_enroll_admit(c->srv->pen, c->ip)) {
		auth_failed(c, pk.fp, "too many enroll sessions from this address");
		r = SSH_AUTH_DENIED;
		goto out;
	}
	c->who = who;
	c->authed = true;
	c->srv->logins++;
	metrics_authenticated(kind_name(c), c->srv->now_ms - c->started_ms);
	if (who.kind != PRINCIPAL_ENROLL)	/* enroll stays unauthenticated for the limits */
		penalty_authenticated(c->srv->pen, c->ip);
	c->key = pk;
	memset(&pk, 0, sizeof(pk));	/* owned by c now */
	char pname[LIM_TARGET + 1];
	principal_name(c, pname, sizeof(pname));
	if (who.kind != PRINCIPAL_NODE && storeq_session_add(c->srv, (int64_t)c->id, kind_name(c), pname, c->key.fp,
	    c->peer, timefmt_now()) != 0)
		log_warn("store: cannot record session %llu: %s", (unsigned long long)c->id,
		    store_errmsg(c->srv->st));
	struct jbuf *b = audit_begin(c->srv->audit, "auth");
	audit_principal(b, c);
	jbuf_member_str(b, "result", "success");
	jbuf_member_str(b, "ssh_user", c->auth_user);
	audit_commit(c->srv->audit);
	session_log(c, LOG_LVL_INFO, "authenticated (%s)", c->key.fp);
	/* A device goes online at once unless another session holds its name:
	 * then it takes over only when it registers a service, so a stray
	 * login with the device's key cannot knock the working tunnel out. */
	if (who.kind == PRINCIPAL_DEVICE && registry_get(c->srv->reg, who.id) == NULL)
		device_online(c);
out:
	pubkey_clear(&pk);
	return r;
}

const struct service *
session_find_service(const struct conn *c, uint32_t port)
{
	for (int i = 0; i < c->nservices; i++)
		if (c->services[i].port == port)
			return &c->services[i];
	return NULL;
}

/* True if a tcpip-forward bind address is one of those meaning "myself" without a name. */
static bool
bind_addr_anonymous(const char *addr)
{
	static const char *const self[] = { "", "localhost", "*", "0.0.0.0", "::", "127.0.0.1", "::1" };

	for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++)
		if (strcasecmp(addr, self[i]) == 0)
			return true;
	return false;
}

/* True if a tcpip-forward bind address names the device itself. */
static bool
bind_addr_is_self(const struct conn *c, const char *addr)
{
	struct name_target t;

	if (bind_addr_anonymous(addr))
		return true;
	if (names_parse_target(addr, &t) != 0 || strcmp(t.name, c->who.name) != 0)
		return false;
	return t.fleet[0] == '\0' || strcmp(t.fleet, c->who.fleet) == 0;
}

static void
audit_register(struct conn *c, const char *event, const char *addr, int port,
    const char *result, const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, event);
	audit_principal(b, c);
	jbuf_member_str(b, "bind_address", addr);
	jbuf_member_int(b, "port", port);
	jbuf_member_str(b, "result", result);
	if (why != NULL)
		jbuf_member_str(b, "reason", why);
	audit_commit(c->srv->audit);
}

void
session_refused(struct conn *c, const char *what, const char *request, const char *why)
{
	char req[LIM_PEER_STRING];

	log_printable(req, sizeof(req), request ? request : "", request ? strnlen(request, LIM_PEER_STRING) : 0);
	if (++c->refusals > LIM_REFUSAL_AUDITS) {
		if (c->refusals == LIM_REFUSAL_AUDITS + 1)
			session_log(c, LOG_LVL_WARN, "more than %d refusals: counting the rest, not logging them",
			    LIM_REFUSAL_AUDITS);
		return;
	}
	session_log(c, LOG_LVL_INFO, "%s %s refused: %s", what, req, why);
	struct jbuf *b = audit_begin(c->srv->audit, "refused");
	if (c->authed)
		audit_principal(b, c);
	else {
		jbuf_member_int(b, "session", (int64_t)c->id);
		jbuf_member_str(b, "src", c->peer);
	}
	jbuf_member_str(b, "what", what);
	jbuf_member_str(b, "request", req);
	jbuf_member_str(b, "reason", why);
	audit_commit(c->srv->audit);
}

/* ---- what libssh refuses by itself (docs/LIBSSH.md, "Requests libssh refuses without asking") ---- */

static struct conn *libssh_polling;	/* the session inside ssh_event_dopoll, for the log hook */

/* Global requests libssh answers with failure without calling us, and why outpost has none. */
static const struct {
	const char *name;
	const char *why;		/* NULL: harmless, debug log only */
} libssh_refused[] = {
	{ "streamlocal-forward@openssh.com",
	  "UNIX-socket forwards cannot be served: libssh 0.10 refuses them before outpostd sees the "
	  "path; register the device's port instead (-R NAME:22:localhost:22, or outpost-agent)" },
	{ "cancel-streamlocal-forward@openssh.com", "UNIX-socket forwards cannot be served" },
	{ "no-more-sessions@openssh.com", NULL },	/* ssh -W's "refuse my later sessions" */
};

/*
 * libssh's log: one line per call, "function: message". An unknown global
 * request is answered REQUEST_FAILURE inside libssh and only logged
 * ("UNKNOWN SSH_MSG_GLOBAL_REQUEST NAME, want_reply = N"): this is where
 * outpostd learns of it, attributed to the session being polled.
 */
static void
on_libssh_log(int prio, const char *function, const char *buffer, void *userdata)
{
	static const char tag[] = "UNKNOWN SSH_MSG_GLOBAL_REQUEST ";
	const char *p = buffer ? strstr(buffer, tag) : NULL;
	struct conn *c = libssh_polling;

	(void)function; (void)userdata;
	if (p == NULL) {
		if (prio <= SSH_LOG_WARNING && buffer != NULL && strstr(buffer, "Invalid SSH_MSG_GLOBAL_REQUEST") == NULL)
			log_debug("libssh: %s", buffer);
		return;
	}
	p += sizeof(tag) - 1;
	size_t n = strcspn(p, ", ");
	char name[LIM_PEER_STRING];
	log_printable(name, sizeof(name), p, n < sizeof(name) - 1 ? n : sizeof(name) - 1);
	const char *why = "global request not served by outpost";
	for (size_t i = 0; i < sizeof(libssh_refused) / sizeof(libssh_refused[0]); i++)
		if (strcmp(name, libssh_refused[i].name) == 0) {
			why = libssh_refused[i].why;
			if (why == NULL) {
				log_debug("global request %s refused (harmless)", name);
				return;
			}
		}
	if (c == NULL || c->dead || !c->authed) {	/* no audit cost before authentication */
		log_debug("global request %s refused: %s", name, why);
		return;
	}
	session_refused(c, "global-request", name, why);
}

void
session_libssh_log_init(void)
{
	ssh_set_log_callback(on_libssh_log);
	/* PROTOCOL: the level of the UNKNOWN SSH_MSG_GLOBAL_REQUEST line; the
	 * per-packet lines are one level up (PACKET) and stay unformatted. */
	ssh_set_log_level(SSH_LOG_PROTOCOL);
}

static int
refuse_forward(struct conn *c, const char *addr, int port, const char *why)
{
	session_log(c, LOG_LVL_INFO, "tcpip-forward %s:%d refused: %s", addr, port, why);
	audit_register(c, "register", addr, port, "refused", why);
	return MSG_DEFAULT;	/* libssh sends REQUEST_FAILURE */
}

/* Another live device of c's fleet that registered port, or NULL. */
static const struct conn *
port_holder(const struct conn *c, uint32_t port)
{
	for (const struct conn *d = c->srv->conns; d != NULL; d = d->next)
		if (d != c && !d->dead && d->authed && d->who.kind == PRINCIPAL_DEVICE &&
		    d->who.id != c->who.id && strcmp(d->who.fleet, c->who.fleet) == 0 &&
		    session_find_service(d, port) != NULL)
			return d;
	return NULL;
}

static int
on_tcpip_forward(struct conn *c, ssh_message m)
{
	char addr[LIM_PEER_STRING];
	const char *raw = ssh_message_global_request_address(m);
	int port = ssh_message_global_request_port(m);

	log_printable(addr, sizeof(addr), raw, raw ? strnlen(raw, LIM_PEER_STRING) : 0);
	if (c->who.kind != PRINCIPAL_DEVICE)
		return refuse_forward(c, addr, port, "not permitted: only devices register services");
	if (!bind_addr_is_self(c, addr))
		return refuse_forward(c, addr, port, "a device may register only its own name");
	if (port <= 0 || port > 65535)
		return refuse_forward(c, addr, port, "port must be the service port (1-65535)");
	/* A port-table port (seed 000's -R 22050:localhost:22): bound to the
	 * device in the store at its first registration, refused to the others. */
	bool sshd_port = port == 22;	/* where a plain device's own sshd answers */
	if (port != 22 && bind_addr_anonymous(addr)) {
		char holder[LIM_LABEL + 1], why[LIM_TARGET + 64];
		int b = storeq_device_bind_port(c->srv, c->who.id, (uint32_t)port, holder, sizeof(holder));
		sshd_port = b == 0;
		if (b == ERR_EXISTS) {
			snprintf(why, sizeof(why), "port %d is bound to device %s.%s", port, holder, c->who.fleet);
			return refuse_forward(c, addr, port, why);
		}
		if (b != 0)
			session_log(c, LOG_LVL_WARN, "port %d: cannot bind it in the store: %s", port,
			    store_errmsg(c->srv->st));
	}
	struct service *svc = (struct service *)session_find_service(c, (uint32_t)port);
	if (svc == NULL) {
		if (c->nservices >= LIM_SERVICES)
			return refuse_forward(c, addr, port, "too many services");
		if (c->nservices == c->services_cap) {
			int cap = c->services_cap > 0 ? c->services_cap * 2 : 2;
			struct service *v = realloc(c->services, (size_t)(cap < LIM_SERVICES ? cap : LIM_SERVICES) *
			    sizeof(*v));
			if (v == NULL)
				return refuse_forward(c, addr, port, "out of memory");
			c->services = v;
			c->services_cap = cap < LIM_SERVICES ? cap : LIM_SERVICES;
		}
		svc = &c->services[c->nservices];
		svc->bind_addr = NULL;
	}
	char *copy = strdup(raw ? raw : "");
	if (copy == NULL)
		return refuse_forward(c, addr, port, "out of memory");
	if (registry_get(c->srv->reg, c->who.id) != c)
		device_online(c);	/* takeover */
	if (svc == &c->services[c->nservices])
		c->nservices++;
	free(svc->bind_addr);
	svc->bind_addr = copy;
	svc->port = (uint32_t)port;
	/* Port 22 is every device's own sshd, shared by design and reached by
	 * name: not looked for in the fleet (a walk of every connection) nor
	 * flagged (a warning at every registration of every device of a fleet
	 * of two or more). Another port held twice in a fleet breaks the port
	 * table (`-J jump -p PORT user@localhost`): flagged, not refused. */
	const struct conn *other = port == 22 ? NULL : port_holder(c, (uint32_t)port);
	if (other != NULL) {
		char why[LIM_TARGET + 64];
		snprintf(why, sizeof(why), "port also held by %s.%s", other->who.name, other->who.fleet);
		audit_register(c, "register", addr, port, "ok", why);
		session_log(c, LOG_LVL_WARN, "service port %d registered: %s: "
		    "localhost:%d is ambiguous in fleet %s", port, why, port, c->who.fleet);
	} else
		audit_register(c, "register", addr, port, "ok", NULL);
	log_info("device %s.%s: service port %d registered", c->who.name, c->who.fleet, port);
	ssh_message_global_request_reply_success(m, (uint16_t)port);
	if (sshd_port)
		hostkey_registered(c, (uint32_t)port);	/* a plain device's sshd: learn its keys */
	return MSG_HANDLED;
}

static int
on_cancel_forward(struct conn *c, ssh_message m)
{
	int port = ssh_message_global_request_port(m);

	if (c->who.kind != PRINCIPAL_DEVICE) {
		session_refused(c, "global-request", "cancel-tcpip-forward", "not permitted: only devices register services");
		return MSG_DEFAULT;
	}
	for (int i = 0; i < c->nservices; i++) {
		if (c->services[i].port != (uint32_t)port)
			continue;
		free(c->services[i].bind_addr);
		c->services[i] = c->services[--c->nservices];
		audit_register(c, "unregister", "", port, "ok", NULL);
		ssh_message_global_request_reply_success(m, 0);
		return MSG_HANDLED;
	}
	session_refused(c, "global-request", "cancel-tcpip-forward", "no service registered on that port");
	return MSG_DEFAULT;
}

/*
 * A password, keyboard-interactive or host-based attempt: never offered, but
 * bots send them anyway. Each counts like a bad key (MaxAuthTries, the
 * source's penalty); libssh then answers with the usual failure.
 */
static void
other_auth_attempt(struct conn *c, ssh_message m, int method)
{
	const char *user = ssh_message_auth_user(m);
	const char *name = method == SSH_AUTH_METHOD_PASSWORD ? "password" :
	    method == SSH_AUTH_METHOD_INTERACTIVE ? "keyboard-interactive" :
	    method == SSH_AUTH_METHOD_HOSTBASED ? "hostbased" : "unsupported";
	char why[64];

	if (c->dead || c->authed)
		return;
	log_printable(c->auth_user, sizeof(c->auth_user), user, user ? strnlen(user, LIM_PEER_STRING) : 0);
	token_redact(c->auth_user);	/* a token pasted as a user name is not logged or audited */
	snprintf(why, sizeof(why), "%s authentication is not offered", name);
	auth_failed(c, "", why);
}

/*
 * What an `enroll` login may ask: one session channel in its life, and
 * channel requests on it (exec.c allows one command). Global requests and
 * other channels are refused without an audit record.
 */
static int
enroll_message(struct conn *c, ssh_message m, int type, int sub)
{
	if (type == SSH_REQUEST_CHANNEL)
		return chan_request(c, m);
	if (type != SSH_REQUEST_CHANNEL_OPEN)
		return MSG_DEFAULT;
	if (sub == SSH_CHANNEL_SESSION && c->enroll_chans == 0) {
		c->enroll_chans = 1;
		return exec_session_open(c, m);
	}
	if (c->enroll_chans < 2)	/* the first refusal is logged, not a flood of them */
		session_log(c, LOG_LVL_INFO, "channel refused: an enroll login has one session channel");
	c->enroll_chans = 2;
	return MSG_DEFAULT;
}

/* libssh names only the channel types it parses; others (direct-streamlocal@openssh.com...) are "unknown". */
static const char *
channel_type_name(int sub)
{
	switch (sub) {
	case SSH_CHANNEL_FORWARDED_TCPIP: return "forwarded-tcpip";
	case SSH_CHANNEL_X11: return "x11";
	case SSH_CHANNEL_AUTH_AGENT: return "auth-agent@openssh.com";
	default: return "unknown (libssh 0.10 does not say which, e.g. direct-streamlocal@openssh.com)";
	}
}

/*
 * What another node's login may ask (PROTOCOL.md, "Peering"): direct-tcpip
 * to this node's own devices (route.c), nothing else: no shell, no
 * command, no forwarding.
 */
static int
node_message(struct conn *c, ssh_message m, int type, int sub)
{
	if (c->link != NULL)	/* our own client connection: the peer opens nothing on it */
		return MSG_DEFAULT;
	if (type == SSH_REQUEST_CHANNEL_OPEN && sub == SSH_CHANNEL_DIRECT_TCPIP) {
		route_direct_tcpip(c, m);
		return MSG_HANDLED;
	}
	if (type == SSH_REQUEST_GLOBAL && sub == SSH_GLOBAL_REQUEST_KEEPALIVE)
		return MSG_DEFAULT;
	if (type == SSH_REQUEST_CHANNEL_OPEN)
		session_refused(c, "channel", sub == SSH_CHANNEL_SESSION ? "session" : channel_type_name(sub),
		    "not permitted: a node login only opens routes to this node's devices");
	else if (type == SSH_REQUEST_GLOBAL)
		session_refused(c, "global-request", "tcpip-forward", "not permitted: a node login only "
		    "opens routes to this node's devices");
	return MSG_DEFAULT;
}

static int
on_message(ssh_session s, ssh_message m, void *arg)
{
	struct conn *c = arg;
	int type = ssh_message_type(m), sub = ssh_message_subtype(m);

	(void)s;
	if (type == SSH_REQUEST_AUTH && sub != SSH_AUTH_METHOD_NONE && sub != SSH_AUTH_METHOD_PUBLICKEY)
		other_auth_attempt(c, m, sub);
	if (c->dead || !c->authed)
		return MSG_DEFAULT;
	server_touch(c);
	if (c->who.kind == PRINCIPAL_ENROLL)
		return enroll_message(c, m, type, sub);
	if (c->who.kind == PRINCIPAL_NODE)
		return node_message(c, m, type, sub);
	switch (type) {
	case SSH_REQUEST_GLOBAL:
		if (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD)
			return on_tcpip_forward(c, m);
		if (sub == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)
			return on_cancel_forward(c, m);
		if (sub != SSH_GLOBAL_REQUEST_KEEPALIVE)
			session_refused(c, "global-request", "unknown", "global request not served by outpost");
		return MSG_DEFAULT;
	case SSH_REQUEST_CHANNEL_OPEN:
		if (sub == SSH_CHANNEL_DIRECT_TCPIP) {
			route_direct_tcpip(c, m);
			return MSG_HANDLED;
		}
		if (sub == SSH_CHANNEL_SESSION)
			return exec_session_open(c, m);
		session_refused(c, "channel", channel_type_name(sub), "channel type not served by outpost");
		return MSG_DEFAULT;
	case SSH_REQUEST_CHANNEL:
		return chan_request(c, m);
	default:
		return MSG_DEFAULT;
	}
}

/* The table of unauthenticated connections is full: the oldest one from ip makes room. */
static void
evict_oldest(struct server *srv, const char *ip)
{
	struct conn *victim = NULL;

	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (session_preauth(c) && !c->dead && strncmp(c->ip, ip, PENALTY_IP_MAX) == 0 &&
		    (victim == NULL || c->started_ms < victim->started_ms))
			victim = c;
	if (victim == NULL)
		return;
	victim->failed = true;
	session_kill(victim, "evicted: too many unauthenticated connections, this source holds the most");
}

/*
 * libssh's progress report on the server side: 0.8 once the peer's KEXINIT
 * is in and the methods are agreed; the peer's key-exchange init, which
 * costs us the key agreement and a host-key signature, comes next. From
 * here a peer that leaves without a login has had our work for nothing.
 */
static void
on_status(void *arg, float status)
{
	struct conn *c = arg;

	if (status >= 0.8f)
		c->kexed = true;
}

/*
 * From an address not listed in ProxyProtocol, a PROXY header is a protocol
 * error: said so plainly (libssh would only call it a bad banner) and counted.
 */
static bool
proxy_header_unlisted(struct conn *c)
{
	uint8_t b[PROXYHDR_SIG_LEN];

	int fd = server_conn_fd(c);
	ssize_t n = fd < 0 ? 0 : recvfrom(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT, NULL, NULL);
	if (n <= 0)
		return false;
	c->banner_checked = true;	/* an SSH banner's first byte is 'S': one byte decides */
	if (!proxyhdr_looks_like(b, (size_t)n))
		return false;
	c->failed = true;
	session_log(c, LOG_LVL_WARN, "protocol error: a PROXY protocol header, and this address is "
	    "not listed in ProxyProtocol; closed");
	metrics_refused("proxy header");
	session_kill(c, "PROXY protocol header from an address not listed in ProxyProtocol");
	return true;
}

int
session_user_timeout_ms(const struct config *cfg)
{
	return cfg->keepalive_interval * cfg->keepalive_count_max * 1000;
}

/*
 * Accepted sockets carry their listener's TCP options (open_listeners set
 * them, and Linux copies them): the first one is checked, and only if it
 * lacks them does every connection get its own six setsockopt(2).
 */
static void
tune_accepted(struct server *srv, int fd)
{
	int ut = session_user_timeout_ms(srv->cfg);

	if (srv->accept_inherits == 0) {
		srv->accept_inherits = listener_tuned(fd, ut) ? 1 : -1;
		if (srv->accept_inherits < 0)
			log_info("accepted sockets lack their listener's TCP options: setting them on each");
	}
	if (srv->accept_inherits < 0)
		listener_tune(fd, ut);
}

void
session_accept(struct server *srv, int fd, const char *peer)
{
	char ip[48], evict[PENALTY_IP_MAX + 1];
	const char *why;

	listener_peer_ip(peer, ip, sizeof(ip));
	if (!penalty_admit(srv->pen, ip, srv->now_ms, (int)(random() % 100), &why, evict)) {
		log_debug("connection from %s refused: %s", peer, why);
		metrics_refused(why);
		close(fd);
		return;
	}
	if (evict[0] != '\0')
		evict_oldest(srv, evict);
	struct conn *c = calloc(1, sizeof(*c));
	if (c != NULL)
		snprintf(c->ip, sizeof(c->ip), "%s", ip);

	if (c == NULL || (c->s = ssh_new()) == NULL) {
		log_error("accept %s: out of memory", peer);
		free(c);
		close(fd);
		penalty_unauth_closed(srv->pen, ip, false, srv->now_ms);
		return;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->started_ms = c->rx_ms = srv->now_ms;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->watch.kind = WATCH_CONN;
	c->watch.fd = fd;
	c->watch.conn = c;
	tune_accepted(srv, fd);
	if (ssh_bind_accept_fd(srv->bind, c->s, fd) != SSH_OK) {
		log_warn("accept %s: %s", peer, ssh_get_error(srv->bind));
		bool owned = ssh_get_fd(c->s) == fd;	/* then ssh_free closes it: no second close */
		ssh_free(c->s);
		free(c);
		if (!owned)
			close(fd);
		penalty_unauth_closed(srv->pen, ip, false, srv->now_ms);
		return;
	}
	ssh_callbacks_init(&c->scb);
	c->scb.userdata = c;
	c->scb.auth_pubkey_function = on_auth_pubkey;
	ssh_set_server_callbacks(c->s, &c->scb);
	ssh_callbacks_init(&c->cb);
	c->cb.userdata = c;
	c->cb.connect_status_function = on_status;
	ssh_set_callbacks(c->s, &c->cb);
	ssh_set_auth_methods(c->s, SSH_AUTH_METHOD_PUBLICKEY);
	ssh_set_message_callback(c->s, on_message, c);
	ssh_set_blocking(c->s, 0);
	/* Links first: from here on session_kill/reap own the cleanup. */
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	metrics_accepted();
	if (proxy_header_unlisted(c))	/* before libssh reads what is already there */
		return;
	if (ssh_handle_key_exchange(c->s) == SSH_ERROR) {
		session_kill(c, ssh_get_error(c->s));
		return;
	}
	if ((c->ev = ssh_event_new()) == NULL || ssh_event_add_session(c->ev, c->s) != SSH_OK) {
		session_kill(c, "cannot create event");
		return;
	}
	c->in_event = true;
	server_touch(c);
	session_log(c, LOG_LVL_DEBUG, "connected");
}

void
session_poll(struct conn *c, bool readable)
{
	if (c->link != NULL && !c->authed) {	/* our connection to a peer node, logging in */
		peer_step(c);
		return;
	}
	if (!c->banner_checked && readable && !c->kexed && proxy_header_unlisted(c)) {
		server_touch(c);
		return;
	}
	/* Up to 16 rounds for fairness, then on until the read-ahead is drained:
	 * epoll cannot see bytes that are already in user space. */
	sockbuf_begin(c->watch.fd, readable);	/* libssh's recv/poll/send: sockbuf.c's overrides */
	for (int i = 0; (i < 16 || sockbuf_pending()) && !c->dead; i++) {
		libssh_polling = c;
		int rc = ssh_event_dopoll(c->ev, 0);
		libssh_polling = NULL;
		if (rc == SSH_ERROR) {
			/* A protocol error before authentication counts against the source;
			 * a peer that just hangs up (a scanner, ssh-keyscan) does not. */
			if (!c->authed && !sockbuf_peer_closed())
				c->failed = true;
			session_kill(c, ssh_get_error(c->s));
			break;
		}
		if (ssh_get_status(c->s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) {
			session_kill(c, "connection closed by peer");
			break;
		}
		if (rc == SSH_AGAIN)
			break;
	}
	size_t dropped = sockbuf_end();
	if (dropped > 0 && !c->dead)
		session_log(c, LOG_LVL_WARN, "%zu read-ahead bytes left unread", dropped);
	/* What the rounds wrote (sockbuf.c answers no POLLOUT while reading)
	 * leaves now, in one send, as soon as it did when the rounds' last poll
	 * went to the kernel; a session that died here gets it from
	 * flush_for_disconnect at its reap. */
	session_flush(c);
	server_touch(c);
}

/*
 * Sends what libssh holds for c now, in this loop turn, instead of after
 * epoll reports the socket writable (EPOLLOUT on and off, an epoll_wait and
 * a poll per burst). What the socket does not take stays in libssh's
 * buffer, and update_interest asks epoll for EPOLLOUT.
 */
void
session_flush(struct conn *c)
{
	if (c->dead || !(ssh_get_status(c->s) & SSH_WRITE_PENDING))
		return;
	bool mine = sockbuf_begin_flush(server_conn_fd(c));	/* libssh's poll/send: sockbuf.c's overrides */
	int rc = ssh_event_dopoll(c->ev, 0);
	if (mine)
		sockbuf_end();
	if (rc == SSH_ERROR || (ssh_get_status(c->s) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
		session_kill(c, rc == SSH_ERROR ? ssh_get_error(c->s) : "connection closed by peer");
}

/*
 * ssh_channel_write on a channel of c, outside session_poll. libssh sends
 * each packet at once, after a poll(2) of the socket for POLLOUT: in flush
 * mode that poll is answered without the kernel, and a full socket leaves
 * the bytes in libssh's buffer (session_flush or EPOLLOUT sends them).
 */
int
session_write(struct conn *c, ssh_channel ch, const void *p, uint32_t n, bool is_stderr)
{
	bool mine = sockbuf_begin_flush(server_conn_fd(c));	/* libssh's poll/send: sockbuf.c's overrides */
	int w = is_stderr ? ssh_channel_write_stderr(ch, p, n) : ssh_channel_write(ch, p, n);
	if (mine)
		sockbuf_end();
	return w < 0 ? ERR_SSH : w;
}

void
session_kill(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	c->srv->ndead++;
	snprintf(c->dead_reason, sizeof(c->dead_reason), "%s", why && *why ? why : "closed");
	c->srv->work = true;
}

void
session_log(const struct conn *c, enum log_level level, const char *fmt, ...)
{
	char msg[1024], who[LIM_TARGET + 16] = "";
	va_list ap;

	if (!log_wants(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->authed) {
		char name[LIM_TARGET + 1];
		principal_name(c, name, sizeof(name));
		snprintf(who, sizeof(who), " (%s %s)", kind_name(c), name);
	}
	log_msg(level, "session %llu%s from %s: %s", (unsigned long long)c->id, who, c->peer, msg);
}

static void
session_offline(struct conn *c)
{
	struct server *srv = c->srv;
	int64_t dur = srv->now_ms - c->started_ms;

	if (c->link != NULL) {		/* our connection to a peer node: not a login here */
		session_log(c, LOG_LVL_INFO, "peer connection ended after %lld s: %s", (long long)(dur / 1000),
		    c->dead_reason);
		return;
	}
	if (session_preauth(c)) {
		/* A peer that made us compute a key exchange and left without
		 * a login (or an enrolled key) cost us work: a failure. */
		bool failed = c->failed || (!c->enrolled && c->kexed);
		penalty_unauth_closed(srv->pen, c->ip, failed, srv->now_ms);
		if (!c->authed) {
			session_log(c, LOG_LVL_DEBUG, "closed before authentication%s: %s",
			    failed ? " (a failure)" : "", c->dead_reason);
			return;
		}
		penalty_enroll_closed(srv->pen, c->ip);
	}
	/* At shutdown the loop queues a record per session faster than the
	 * writer appends them: it waits for room rather than let the queue
	 * reach its hard limit (records past it go to the daemon's log only).
	 * Bounded: a log that takes nothing for a second is not waited for again. */
	static bool log_stuck;
	if (srv->shutdown && !log_stuck && !audit_wait_room(srv->audit, 1000))
		log_stuck = true;
	struct jbuf *b = audit_begin(srv->audit, "disconnect");
	jbuf_member_str(b, "what", "session");
	audit_principal(b, c);
	jbuf_member_int(b, "duration_ms", dur);
	jbuf_member_str(b, "reason", c->dead_reason);
	jbuf_member_int(b, "bytes", (int64_t)c->bytes);
	if (c->refusals > LIM_REFUSAL_AUDITS)
		jbuf_member_int(b, "refusals_not_audited", (int64_t)(c->refusals - LIM_REFUSAL_AUDITS));
	audit_commit(srv->audit);
	if (!srv->shutdown && c->who.kind != PRINCIPAL_NODE)	/* server_free clears the store in one statement */
		storeq_session_del(srv, (int64_t)c->id);
	/* At shutdown one line says how many ended (server_free): 20,000 lines
	 * of the same would flood the journal, and each has its record in the
	 * audit log anyway. */
	session_log(c, srv->shutdown ? LOG_LVL_DEBUG : LOG_LVL_INFO, "ended after %lld s: %s",
	    (long long)(dur / 1000), c->dead_reason);
	if (c->who.kind == PRINCIPAL_DEVICE && registry_get(srv->reg, c->who.id) == c) {
		registry_del(srv->reg, c->who.id, c);
		if (!srv->shutdown && storeq_device_set_presence(srv, c->who.id, false, c->gen, timefmt_now(),
		    NULL) != 0)
			log_warn("store: cannot mark %s.%s offline: %s", c->who.name, c->who.fleet,
			    store_errmsg(srv->st));
	}
}

/* Takes c off the server's list of connections, and off this turn's touched
 * list, where it may still be (touched, then killed). */
static void
unlink_conn(struct server *srv, struct conn *c)
{
	for (struct conn **t = &srv->touched; *t != NULL; t = &(*t)->touched_next)
		if (*t == c) {
			*t = c->touched_next;
			break;
		}
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
}

/*
 * The sessions a shutdown ended, kept whole: the process is about to exit
 * and the kernel takes their memory back at once, where freeing 20,000
 * libssh sessions piece by piece (glibc consolidating each one's hundreds
 * of chunks) was the largest part of a shutdown's CPU. Reachable from here,
 * so neither LeakSanitizer nor valgrind counts them as leaks.
 */
static struct conn *kept_at_exit;

/*
 * Before ssh_disconnect, which queues its message and closes the socket:
 * libssh sends at once only while it holds the socket writable, and only a
 * poll answering POLLOUT makes it so. In flush mode (no kernel) the first
 * round sends what libssh still holds (the reply to a login refused in its
 * callback, say), which clears the mark; the second sets it again with
 * nothing held, so the disconnect and its reason leave at once instead of
 * closing with the socket. (Before session_poll's writes waited for its
 * closing session_flush, the rounds' last poll went to the kernel and left
 * the mark set.) Not after failed logins: the poll would also answer what the peer
 * sent meanwhile (one guess past MaxAuthTries).
 */
static void
flush_for_disconnect(struct conn *c)
{
	if (!c->in_event || !(c->authed || c->auth_failures == 0) || !sockbuf_begin_flush(server_conn_fd(c)))
		return;
	for (int i = 0; i < 2; i++)
		ssh_event_dopoll(c->ev, 0);
	sockbuf_end();
}

/*
 * Reads and drops what the peer sent and nobody read (a keepalive, the
 * rest of a burst), at most DRAIN_MAX bytes: a close with unread bytes is
 * a reset, and the kernel throws away what we queued with it, the
 * disconnect and its reason included (10,000 of 100,000 devices read
 * "Connection reset by peer" instead of "server shutting down" at a
 * restart, stop 22). Not sockbuf's recv: the bytes are nobody's.
 */
#define DRAIN_MAX (64 * 1024)
static void
drain_unread(struct conn *c)
{
	char sink[4096];
	int fd = server_conn_fd(c);

	for (size_t got = 0; fd >= 0 && got < DRAIN_MAX;) {
		ssize_t r = recvfrom(fd, sink, sizeof(sink), MSG_DONTWAIT, NULL, NULL);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
}

/* At shutdown: the disconnect message and the close, nothing freed (see kept_at_exit). */
static void
reap_at_exit(struct conn *c)
{
	struct server *srv = c->srv;

	flush_for_disconnect(c);
	drain_unread(c);
	/* epoll forgets the descriptor when it closes: no EPOLL_CTL_DEL each */
	c->ep_events = 0;
	if (c->in_event)
		ssh_event_remove_session(c->ev, c->s);
	/* the wait told counts from when the words leave, not from the
	 * shutdown's start: the last of 20,000 closes seconds later */
	if (c->return_ms > 0)
		disconnect_stop_reason(c->dead_reason, sizeof(c->dead_reason),
		    (int)((c->return_ms - timefmt_mono_ms() + 999) / 1000));
	if (c->authed)
		ssh_session_set_disconnect_message(c->s, c->dead_reason);
	/* corked, the disconnect and the FIN leave in one segment at the close */
	if (server_conn_fd(c) >= 0)
		setsockopt(c->watch.fd, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int));
	ssh_disconnect(c->s);	/* sends it and closes the socket */
	unlink_conn(srv, c);
	c->prev = NULL;
	c->next = kept_at_exit;
	kept_at_exit = c;
	/* every so often the copier thread hears of the new records, and copies
	 * them to the store meanwhile instead of all at the end (PostgreSQL) */
	static unsigned reaped;
	if (++reaped % 1024 == 0)
		server_audit_poke(srv);
}

void
session_reap(struct conn *c)
{
	struct server *srv = c->srv;

	peer_conn_gone(c);	/* a peer link: its routes not yet open are told why */
	chan_session_gone(c);	/* channels first: libssh frees them with the session */
	session_offline(c);
	if (srv->shutdown && c->link == NULL) {
		reap_at_exit(c);
		return;
	}
	for (int i = 0; i < c->nservices; i++)
		free(c->services[i].bind_addr);
	free(c->services);
	pubkey_clear(&c->key);
	if (c->in_event) {
		flush_for_disconnect(c);
		server_unwatch(c);
		ssh_event_remove_session(c->ev, c->s);
	}
	drain_unread(c);
	if (c->ev != NULL)
		ssh_event_free(c->ev);
	if (c->authed)
		ssh_session_set_disconnect_message(c->s, c->dead_reason);
	ssh_disconnect(c->s);
	ssh_free(c->s);
	unlink_conn(srv, c);
	free(c);
}

void
session_tick(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	int64_t now = c->srv->now_ms;
	long interval = cfg->keepalive_interval * 1000L;

	if (session_preauth(c)) {
		if (now - c->started_ms > cfg->login_grace_time * 1000L) {
			c->failed = true;
			session_kill(c, c->authed ? "enroll session: login grace time exceeded" :
			    "login grace time exceeded");
		}
		return;
	}
	/* Readable within the last interval and a sixteenth: not silent, so
	 * skip the TCP_INFO call (10,000 of them a second cost more than the
	 * rest of an idle server). The sixteenth (1.9 s of the default 30) keeps
	 * a device whose own keepalives come every interval, as the agent's do
	 * every 30-31 s, from costing a call or two per keepalive; ours follows
	 * that much later, still well before interval x KeepaliveCountMax. */
	if (now - c->rx_ms < interval + interval / 16)
		return;
	long idle = server_conn_fd(c) < 0 ? -1 : tcp_idle_ms(c->watch.fd);
	if (idle < 0)
		return;
	if (idle >= interval * cfg->keepalive_count_max) {
		char why[96];
		snprintf(why, sizeof(why), "no answer to keepalives for %ld s", idle / 1000);
		session_kill(c, why);
		return;
	}
	if (idle >= interval && now - c->ka_sent_ms >= interval) {
		/* First call collects the previous reply, second sends anew. */
		ssh_send_keepalive(c->s);
		ssh_send_keepalive(c->s);
		c->ka_sent_ms = now;
		server_touch(c);
	}
}

/*
 * After the store changed: is this session's key still bound to the same
 * principal? A removed user, key or device ends its sessions at once.
 */
void
session_recheck(struct conn *c)
{
	struct store_principal now;

	if (!c->authed || c->dead || c->who.kind == PRINCIPAL_ENROLL || c->link != NULL)
		return;
	if (c->who.kind == PRINCIPAL_NODE) {
		if (!peer_key_is_node(c->srv, c->who.name, &c->key)) {
			session_log(c, LOG_LVL_INFO, "no longer a node key: ending it");
			session_kill(c, "access removed");
		}
		return;
	}
	int r = store_principal_by_key(c->srv->st, &c->key, &now);
	if (r == ERR_NOTFOUND || (r == 0 && (now.kind != c->who.kind || now.id != c->who.id))) {
		session_log(c, LOG_LVL_INFO, "key no longer bound: ending it");
		session_kill(c, "access removed");
		return;
	}
	if (r == 0)
		c->who.admin = now.admin;
}

static int
kick_cb(void *arg, const struct store_session *ss)
{
	struct server *srv = arg;

	for (struct conn *c = srv->conns; c != NULL; c = c->next) {
		if ((int64_t)c->id != ss->id || c->dead)
			continue;
		session_log(c, LOG_LVL_INFO, "kicked by an admin");
		session_kill(c, "ended by an administrator");
	}
	return 0;
}

/* Ends the sessions an admin kicked (`outpost kick`). */
void
session_kick_marked(struct server *srv)
{
	store_session_list_kicked(srv->st, kick_cb, srv);
}
