/*
 * peer.c: this node's client connections to its peer nodes (peer.h,
 * PROTOCOL.md "Peering").
 *
 * One link per peer node, made on first need: a struct conn whose socket we
 * connected ourselves (c->link set), driven by the loop like every conn.
 * Until it has logged in, session_poll hands it to peer_step, which steps
 * the TCP connect, libssh's ssh_connect (key exchange; the peer's host key
 * must be our own client-facing one: every node serves the same) and the
 * public-key login as `node:ME` with this node's key, never blocking, and
 * sets the socket's epoll interest itself (update_interest takes over once
 * the conn has its private event). Then it is a session like the others:
 * its channels are splice sides (chan_splice_device with ch opened here by
 * peer_open_step as a direct-tcpip), keepalives and the login grace time
 * are session.c's.
 *
 * Bounds: LIM_PEERS links, LIM_CHANNELS channels on each (the session's
 * own bound), LIM_PEER_PENDING opens waiting on one link; a link without
 * channels for LIM_PEER_IDLE_S is closed; after a failure the node is not
 * tried again for peer_backoff_ms (a route asked for meanwhile is refused
 * with the failure's reason). All counted (peer_get_stats, metrics.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hostport.h"
#include "common/log.h"
#include "common/names.h"
#include "server/chan.h"
#include "server/listener.h"
#include "server/peer.h"
#include "server/server.h"
#include "server/splice.h"
#include "ssh/pubkey.h"

enum link_state { L_TCP, L_KEX, L_AUTH, L_UP };

struct peer_link {
	char name[LIM_LABEL + 1];
	struct conn *c;			/* NULL: no connection now */
	enum link_state state;
	int fails;			/* in a row */
	int64_t retry_ms;		/* after a failure: not before */
	int64_t idle_since_ms;		/* last time it had no channel (0 = has some) */
	char why[192];			/* the last failure */
};

static struct {
	struct peer_link links[LIM_PEERS];
	int n;
	ssh_key key;			/* this node's key; NULL: peering off */
	char user[LIM_LABEL + sizeof(PEER_USER_PREFIX)];	/* node:ME */
	struct peer_stats st;
} pr;

/* ---- pure helpers ---- */

const char *
peer_user_node(const char *user)
{
	size_t n = sizeof(PEER_USER_PREFIX) - 1;

	if (user == NULL || strncmp(user, PEER_USER_PREFIX, n) != 0 || !names_label_valid(user + n, strlen(user + n)))
		return NULL;
	return user + n;
}

int64_t
peer_backoff_ms(int fails)
{
	int64_t ms = 1000;

	for (int i = 1; i < fails && ms < LIM_PEER_BACKOFF_MAX_S * 1000LL; i++)
		ms *= 2;
	return ms < LIM_PEER_BACKOFF_MAX_S * 1000LL ? ms : LIM_PEER_BACKOFF_MAX_S * 1000LL;
}

/* ---- what the store says of nodes (the one place that asks it) ---- */

/* This node's name ("" when it has none: then it neither peers nor accepts nodes). */
static const char *
my_name(const struct server *srv)
{
	return srv->node_name;
}

static int
lookup_cb(void *arg, const struct store_node *n)
{
	struct peer_node *out = arg;

	snprintf(out->name, sizeof(out->name), "%s", n->name);
	snprintf(out->addr, sizeof(out->addr), "%s", n->peer_addr);
	snprintf(out->key, sizeof(out->key), "%s", n->node_key);
	out->up = n->up;
	return 0;
}

/* Node name as the store has it: 0, or ERR_NOTFOUND. */
static int
peer_lookup(struct server *srv, const char *name, struct peer_node *out)
{
	struct store_node n;

	memset(out, 0, sizeof(*out));
	if (store_node_get(srv->st, name, &n) != 0)
		return ERR_NOTFOUND;
	return lookup_cb(out, &n);
}

struct holder {
	char node[LIM_LABEL + 1];
	bool online;
};

static int
holder_cb(void *arg, const struct store_device *d)
{
	struct holder *h = arg;

	h->online = d->online;
	snprintf(h->node, sizeof(h->node), "%s", d->node);
	return 0;
}

bool
peer_holder(struct server *srv, int64_t dev_id, char *node, size_t nodelen)
{
	struct holder h = { .online = false };
	struct peer_node pn;

	if (pr.key == NULL || dev_id <= 0 || store_device_get(srv->st, dev_id, holder_cb, &h) != 0 ||
	    !h.online || h.node[0] == '\0' || strcmp(h.node, my_name(srv)) == 0)
		return false;
	if (peer_lookup(srv, h.node, &pn) != 0 || !pn.up)
		return false;
	snprintf(node, nodelen, "%s", h.node);
	return true;
}

bool
peer_key_is_node(struct server *srv, const char *node, const struct pubkey *key)
{
	struct peer_node pn;
	struct pubkey nk;
	bool ok;

	if (node == NULL || peer_lookup(srv, node, &pn) != 0 || pn.key[0] == '\0' ||
	    pubkey_parse_line(pn.key, &nk) != 0)
		return false;
	ok = strcmp(nk.type, key->type) == 0 && nk.blob != NULL && key->blob != NULL &&
	    strcmp(nk.blob, key->blob) == 0;
	pubkey_clear(&nk);
	return ok;
}

const char *
peer_my_name(const struct server *srv)
{
	return my_name(srv);
}

/* ---- life of a link ---- */

void
peer_init(struct server *srv)
{
	/* node.c loaded the key (and owns it); no name, no key: no peering */
	if (srv->node_key == NULL || my_name(srv)[0] == '\0')
		return;
	pr.key = srv->node_key;
	snprintf(pr.user, sizeof(pr.user), "%s%s", PEER_USER_PREFIX, my_name(srv));
}

void
peer_free(struct server *srv)
{
	(void)srv;
	pr.key = NULL;
	pr.n = 0;
}

void
peer_get_stats(struct peer_stats *out)
{
	*out = pr.st;
	out->links = out->links_up = 0;
	for (int i = 0; i < pr.n; i++)
		if (pr.links[i].c != NULL) {
			out->links++;
			out->links_up += pr.links[i].state == L_UP;
		}
}

static struct peer_link *
link_get(const char *name)
{
	struct peer_link *freeslot = NULL;

	for (int i = 0; i < pr.n; i++) {
		if (strcmp(pr.links[i].name, name) == 0)
			return &pr.links[i];
		if (pr.links[i].c == NULL && pr.links[i].fails == 0 && freeslot == NULL)
			freeslot = &pr.links[i];
	}
	if (freeslot == NULL && pr.n < LIM_PEERS)
		freeslot = &pr.links[pr.n++];
	if (freeslot == NULL)
		return NULL;
	memset(freeslot, 0, sizeof(*freeslot));
	snprintf(freeslot->name, sizeof(freeslot->name), "%s", name);
	return freeslot;
}

/* Sets c's epoll interest while peer_step drives it (no private event yet). */
static void
link_interest(struct conn *c, uint32_t want)
{
	if (want == c->ep_events)
		return;
	if (c->link != NULL && c->link->state != L_TCP && server_conn_fd(c) < 0) {	/* libssh closed it */
		c->ep_events = 0;
		session_kill(c, "connection closed");
		return;
	}
	struct epoll_event ev = { .events = want, .data.ptr = &c->watch };
	if (epoll_ctl(c->srv->epfd, c->ep_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->watch.fd, &ev) != 0) {
		session_kill(c, "epoll failed");
		return;
	}
	c->ep_events = want;
}

/* c's link failed: remembered for the backoff; c dies at the end of this turn. */
static void
link_fail(struct conn *c, const char *why)
{
	struct peer_link *l = c->link;

	if (l != NULL) {
		l->fails++;
		l->retry_ms = c->srv->now_ms + peer_backoff_ms(l->fails);
		snprintf(l->why, sizeof(l->why), "%s", why);
		if (l->state != L_UP)
			pr.st.connect_failures++;
		log_warn("peer node %s (%s): %s; next try in %lld s", l->name, c->peer, why,
		    (long long)(peer_backoff_ms(l->fails) / 1000));
	}
	session_kill(c, why);
}

/* A socket connecting to addr ("ip:port", numeric: the loop does not resolve names). */
static int
dial(const char *addr, char *why, size_t whylen)
{
	struct hostport hp;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (hostport_parse(addr, &hp) != 0) {
		snprintf(why, whylen, "bad peer address %.64s", addr);
		return -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, hp.host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)hp.port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, hp.host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)hp.port);
		sl = sizeof(*s6);
	} else {
		snprintf(why, whylen, "peer address %.64s is not an IP address", addr);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "connect %.64s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The host key algorithms that show our own primary host key. */
static const char *
hostkey_algos(const char *type)
{
	if (strcmp(type, "ssh-rsa") == 0)
		return "rsa-sha2-512,rsa-sha2-256";
	return type;
}

/* Starts l's connection to addr; 0, or -1 with why. */
static int
link_open(struct server *srv, struct peer_link *l, const char *addr, char *why, size_t whylen)
{
	int no = 0;
	int fd = dial(addr, why, whylen);

	if (fd < 0)
		return -1;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->s = ssh_new()) == NULL) {
		free(c);
		close(fd);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->started_ms = c->rx_ms = srv->now_ms;
	snprintf(c->peer, sizeof(c->peer), "%.63s", addr);
	snprintf(c->ip, sizeof(c->ip), "%.47s", addr);
	c->watch.kind = WATCH_CONN;
	c->watch.fd = fd;
	c->watch.conn = c;
	c->banner_checked = true;	/* we dialled it: no PROXY header to look for */
	c->link = l;
	c->who.kind = PRINCIPAL_NODE;
	c->who.id = -1;
	snprintf(c->who.name, sizeof(c->who.name), "%s", l->name);
	snprintf(c->auth_user, sizeof(c->auth_user), "%s", pr.user);
	listener_tune(fd, session_user_timeout_ms(srv->cfg));
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	l->c = c;
	l->state = L_TCP;
	l->idle_since_ms = 0;
	pr.st.connects++;
	if (ssh_options_set(c->s, SSH_OPTIONS_PROCESS_CONFIG, &no) != 0 ||
	    ssh_options_set(c->s, SSH_OPTIONS_HOST, l->name) != 0 ||
	    ssh_options_set(c->s, SSH_OPTIONS_USER, pr.user) != 0 ||
	    ssh_options_set(c->s, SSH_OPTIONS_HOSTKEYS, hostkey_algos(srv->host_type)) != 0) {
		link_fail(c, "cannot set up the SSH client");
		return 0;	/* c holds fd; the route sees it die and is told why */
	}
	ssh_set_blocking(c->s, 0);
	link_interest(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	log_info("peer node %s: connecting to %s", l->name, addr);
	return 0;
}

/* The key exchange is done: the peer must show our own host key. */
static bool
hostkey_ok(struct conn *c, char *why, size_t whylen)
{
	ssh_key key = NULL;
	struct pubkey pk;
	bool ok = false;

	memset(&pk, 0, sizeof(pk));
	if (ssh_get_server_publickey(c->s, &key) == SSH_OK && pubkey_from_ssh_key(key, &pk) == 0)
		ok = strcmp(pk.fp, c->srv->host_fp) == 0;
	if (!ok)
		snprintf(why, whylen, "its host key %s is not this node's (%s): every node must serve the "
		    "same HostKey", pk.fp[0] ? pk.fp : "?", c->srv->host_fp);
	pubkey_clear(&pk);
	ssh_key_free(key);
	return ok;
}

/* Interest while libssh is mid-handshake: input, and output while it holds bytes. */
static void
handshake_interest(struct conn *c)
{
	link_interest(c, EPOLLIN | EPOLLRDHUP | (ssh_get_status(c->s) & SSH_WRITE_PENDING ? EPOLLOUT : 0));
}

void
peer_step(struct conn *c)
{
	struct peer_link *l = c->link;
	char why[256];
	int rc;

	if (c->dead || l == NULL)
		return;
	if (l->state == L_TCP) {
		int err = 0;
		socklen_t el = sizeof(err);
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockopt(c->watch.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			snprintf(why, sizeof(why), "connect %s: %s", c->peer, strerror(err ? err : errno));
			link_fail(c, why);
			return;
		}
		if (getpeername(c->watch.fd, (struct sockaddr *)&ss, &sl) != 0)
			return;		/* still connecting: epoll says when */
		/* From here libssh owns the socket (ssh_connect takes it), and closes it in ssh_free. */
		int fd = c->watch.fd;
		if (ssh_options_set(c->s, SSH_OPTIONS_FD, &fd) != 0) {
			link_fail(c, "cannot set up the SSH client");
			return;
		}
		l->state = L_KEX;
	}
	if (l->state == L_KEX) {
		rc = ssh_connect(c->s);
		/* libssh made the socket blocking as it left "connecting"; outpostd
		 * sends in flush mode without asking poll(2) (sockbuf.c), so a full
		 * socket must say EAGAIN (kept by libssh), never block the loop */
		int fl = fcntl(c->watch.fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(c->watch.fd, F_SETFL, fl | O_NONBLOCK);
		if (rc == SSH_AGAIN) {
			handshake_interest(c);
			return;
		}
		if (rc != SSH_OK) {
			snprintf(why, sizeof(why), "key exchange: %s", ssh_get_error(c->s));
			link_fail(c, why);
			return;
		}
		if (!hostkey_ok(c, why, sizeof(why))) {
			link_fail(c, why);
			return;
		}
		l->state = L_AUTH;
	}
	if (l->state == L_AUTH) {
		rc = ssh_userauth_publickey(c->s, NULL, pr.key);
		if (rc == SSH_AUTH_AGAIN) {
			handshake_interest(c);
			return;
		}
		if (rc != SSH_AUTH_SUCCESS) {
			snprintf(why, sizeof(why), "it refused our node key as %s (%s)", pr.user,
			    rc == SSH_AUTH_ERROR ? ssh_get_error(c->s) : "not a node key it knows");
			link_fail(c, why);
			return;
		}
		if ((c->ev = ssh_event_new()) == NULL || ssh_event_add_session(c->ev, c->s) != SSH_OK) {
			link_fail(c, "cannot create event");
			return;
		}
		c->in_event = true;
		c->authed = true;
		l->state = L_UP;
		l->fails = 0;
		l->why[0] = '\0';
		session_log(c, LOG_LVL_INFO, "peer node %s: logged in as %s", l->name, pr.user);
		server_touch(c);
		c->srv->work = true;	/* routes waiting for it open now */
	}
}

void
peer_conn_gone(struct conn *c)
{
	struct peer_link *l = c->link;	/* c keeps it: session_offline knows c was a link */
	char why[320];

	if (l == NULL)
		return;
	if (l->c == c) {
		l->c = NULL;
		l->idle_since_ms = 0;
	}
	if (l->state == L_TCP && c->watch.fd >= 0) {
		/* still connecting: libssh was never given the socket, and would not close it */
		server_unwatch(c);
		close(c->watch.fd);
		c->watch.fd = -1;
	}
	snprintf(why, sizeof(why), "node %s is unreachable: %s", l->name,
	    l->why[0] ? l->why : c->dead_reason);
	/* Routes not yet open get the reason; open ones just close. */
	for (struct chan *h = c->srv->chans; h != NULL; h = h->next) {
		if (h->conn != c || h->dead || h->ops != &chan_splice_device || h->data == NULL)
			continue;
		struct chan *cl = SP(h)->peer;
		if (cl != NULL && !cl->dead && SP(h)->route != NULL && !SP(h)->route->opened)
			refuse_chan(cl, why);
	}
}

/* Routes on link c waiting for their open. */
static int
pending_opens(const struct conn *c)
{
	int n = 0;

	for (const struct chan *h = c->srv->chans; h != NULL; h = h->next)
		if (h->conn == c && !h->dead && h->ops == &chan_splice_device && h->data != NULL &&
		    SP(h)->opening)
			n++;
	return n;
}

void
peer_route(struct chan *cl, const char *node, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = cl->srv;
	struct peer_node pn;
	char why[512];

	(void)orig; (void)orig_port;
	bool known = peer_lookup(srv, node, &pn) == 0 && pn.up;
	if (!known || pn.addr[0] == '\0') {
		snprintf(why, sizeof(why), "device %s is on node %s, which is %s", qualified, node,
		    !known ? "down" : "not reachable by peers (PeerAddress none)");
		goto refuse;
	}
	struct peer_link *l = link_get(node);
	if (l == NULL) {
		pr.st.refused_busy++;
		snprintf(why, sizeof(why), "device %s is on node %s: too many peer nodes (%d)",
		    qualified, node, LIM_PEERS);
		goto refuse;
	}
	if (l->c == NULL) {
		if (l->fails > 0 && srv->now_ms < l->retry_ms) {
			snprintf(why, sizeof(why), "device %s is on node %s, unreachable: %s (next try in %lld s)",
			    qualified, node, l->why, (long long)((l->retry_ms - srv->now_ms + 999) / 1000));
			goto refuse;
		}
		char e[192];
		if (link_open(srv, l, pn.addr, e, sizeof(e)) != 0) {
			l->fails++;
			l->retry_ms = srv->now_ms + peer_backoff_ms(l->fails);
			snprintf(l->why, sizeof(l->why), "%s", e);
			pr.st.connect_failures++;
			snprintf(why, sizeof(why), "device %s is on node %s, unreachable: %s", qualified, node, e);
			goto refuse;
		}
	}
	if (l->c->nchans >= LIM_CHANNELS || pending_opens(l->c) >= LIM_PEER_PENDING) {
		pr.st.refused_busy++;
		snprintf(why, sizeof(why), "device %s is on node %s: too many routes to it at once", qualified, node);
		goto refuse;
	}
	l->idle_since_ms = 0;
	pr.st.opens++;
	/* originator: the user who asked, and this node's session id (low bits) */
	route_link(cl, l->c, qualified, dev_id, port, cl->conn->who.name,
	    (int)(cl->conn->id & 0xffff) ? (int)(cl->conn->id & 0xffff) : 1);
	if (!cl->dead && cl->ops == &chan_splice_client && cl->data != NULL)
		snprintf(SP(cl)->route->via, sizeof(SP(cl)->route->via), "%s", node);
	return;
refuse:
	route_audit_connect(cl->conn, qualified, (int)port, "refused", why);
	refuse_chan(cl, why);
}

int
peer_open_step(struct chan *dv, const struct route *rt, char *why, size_t whylen)
{
	struct conn *c = dv->conn;

	if (c == NULL || c->dead) {
		const struct peer_link *l = c != NULL ? c->link : NULL;
		snprintf(why, whylen, "node %s is unreachable: %s", rt->via,
		    l != NULL && l->why[0] ? l->why : c != NULL ? c->dead_reason : "connection lost");
		return -1;
	}
	if (!c->authed)
		return 0;
	if (dv->ch == NULL) {
		ssh_channel ch = ssh_channel_new(c->s);
		if (ch == NULL) {
			snprintf(why, whylen, "node %s: out of memory", rt->via);
			return -1;
		}
		dv->ch = ch;
		ssh_set_channel_callbacks(ch, &dv->cb);
	}
	int rc = ssh_channel_open_forward(dv->ch, rt->device, (int)rt->port, rt->orig, rt->orig_port);
	server_touch(c);
	if (rc == SSH_AGAIN)
		return 0;
	if (rc != SSH_OK) {
		pr.st.open_failures++;
		snprintf(why, whylen, "node %s refused the route: %s", c->who.name, ssh_get_error(c->s));
		return -1;
	}
	return 1;
}

void
peer_tick(struct server *srv)
{
	for (int i = 0; i < pr.n; i++) {
		struct peer_link *l = &pr.links[i];
		if (l->c == NULL || l->c->dead || l->state != L_UP)
			continue;
		if (l->c->nchans > 0) {
			l->idle_since_ms = 0;
			continue;
		}
		if (l->idle_since_ms == 0)
			l->idle_since_ms = srv->now_ms;
		else if (srv->now_ms - l->idle_since_ms >= LIM_PEER_IDLE_S * 1000LL) {
			session_log(l->c, LOG_LVL_INFO, "peer node %s: no route for %d s: closing", l->name,
			    LIM_PEER_IDLE_S);
			session_kill(l->c, "idle");
		}
	}
}
