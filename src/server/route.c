/*
 * route.c: routes. A technician's direct-tcpip (or `nc` command) to
 * name.fleet:port, or to localhost:PORT of a port table, is resolved and
 * becomes the client side of a route to a forwarded-tcpip channel opened on
 * that device's session; splice.c moves the bytes. Refusals are refuse.c's,
 * the wait for an on-demand device wake.c's, a channel's life chan.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/ncroute.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/metrics.h"
#include "server/peer.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/splice.h"
#include "server/wake.h"

#define OPEN_TIMEOUT_MS 20000		/* device must answer a forwarded-tcpip open */

void
route_unref(struct server *srv, struct route *rt)
{
	if (--rt->refs > 0)
		return;
	if (rt->opened) {
		struct jbuf *b = audit_begin(srv->audit, "disconnect");
		jbuf_member_str(b, "what", "channel");
		jbuf_member_str(b, "user", rt->user);
		jbuf_member_str(b, "key_fp", rt->user_fp);
		jbuf_member_str(b, "src", rt->src);
		jbuf_member_str(b, "device", rt->device);
		jbuf_member_int(b, "port", rt->port);
		if (rt->via[0] != '\0')
			jbuf_member_str(b, "via", rt->via);
		if (rt->for_user[0] != '\0')
			jbuf_member_str(b, "for", rt->for_user);
		char start[32];
		timefmt_iso(rt->started_wall, start, sizeof(start));
		jbuf_member_str(b, "start", start);
		jbuf_member_str(b, "result", "ok");
		jbuf_member_int(b, "bytes_up", (int64_t)rt->up);
		jbuf_member_int(b, "bytes_down", (int64_t)rt->down);
		jbuf_member_int(b, "bytes", (int64_t)(rt->up + rt->down));
		jbuf_member_int(b, "duration_ms", srv->now_ms - rt->started_ms);
		audit_commit(srv->audit);
		log_info("%s -> %s:%u closed: %llu bytes up, %llu down, %lld ms", rt->user,
		    rt->device, rt->port, (unsigned long long)rt->up,
		    (unsigned long long)rt->down, (long long)(srv->now_ms - rt->started_ms));
	}
	splice_acct_unref(srv, rt->acct);
	free(rt);
}

/* Writes a `connect` audit record for c's channel to dest:port. */
void
route_audit_connect(struct conn *c, const char *dest, int port, const char *result, const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, "connect");
	metrics_connect(result);
	jbuf_member_int(b, "session", (int64_t)c->id);
	if (c->who.kind == PRINCIPAL_DEVICE) {
		char self[LIM_TARGET + 1];
		snprintf(self, sizeof(self), "%s.%s", c->who.name, c->who.fleet);
		jbuf_member_str(b, "from_device", self);
	} else
		jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "device", dest);
	jbuf_member_int(b, "port", port);
	jbuf_member_str(b, "result", result);
	if (why != NULL)
		jbuf_member_str(b, "reason", why);
	audit_commit(c->srv->audit);
}

/* ---- direct-tcpip ---- */

/* True if dest is what `-J jump -p PORT user@localhost` sends: the jump itself. */
bool
route_is_port_table(const char *dest)
{
	static const char *const self[] = { "localhost", "127.0.0.1", "::1" };

	for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++)
		if (strcasecmp(dest, self[i]) == 0)
			return true;
	return false;
}

/*
 * Port-table routing (seed 000's `ssh -J jump -p 22050 user@localhost`):
 * the live device, among the fleets c may reach, that registered port.
 * Two such devices: refused as ambiguous, naming both.
 */
static int
resolve_port(struct conn *c, uint32_t port, struct conn **dcp, int64_t *dev_id,
    char *qualified, size_t qlen, char *why, size_t whylen)
{
	struct server *srv = c->srv;
	struct conn *found = NULL;
	/* Reach is per fleet: one store query per fleet, not per device holding the port. */
	struct fleet_reach { const char *fleet; bool ok; } seen[16];
	size_t nseen = 0;

	for (struct conn *d = srv->conns; d != NULL; d = d->next) {
		if (d->dead || !d->authed || d->who.kind != PRINCIPAL_DEVICE ||
		    registry_get(srv->reg, d->who.id) != d || session_find_service(d, port) == NULL)
			continue;
		if (!c->who.admin) {
			size_t i;
			for (i = 0; i < nseen && strcmp(seen[i].fleet, d->who.fleet) != 0; i++)
				;
			bool ok = i < nseen ? seen[i].ok :
			    store_user_may_reach(srv->st, c->who.id, d->who.id) == 0;
			if (i == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = (struct fleet_reach){ d->who.fleet, ok };
			if (!ok)
				continue;
		}
		if (found != NULL) {
			snprintf(why, whylen, "port %u is ambiguous: devices %s.%s and %s.%s both hold it;"
			    " say NAME.FLEET:%u", port, found->who.name, found->who.fleet,
			    d->who.name, d->who.fleet, port);
			return ERR_AMBIGUOUS;
		}
		found = d;
	}
	if (found == NULL) {
		/* None online: the device the store binds the port to is offline
		 * (and may be woken), unless two fleets bind it. */
		char names[2 * LIM_TARGET + 8];
		int r = store_device_by_port(srv->st, c->who.admin ? 0 : c->who.id, port, dev_id,
		    names, sizeof(names));
		if (r == 0) {
			snprintf(qualified, qlen, "%s", names);
			struct conn *d = registry_get(srv->reg, *dev_id);
			if (d != NULL && !d->dead) {
				snprintf(why, whylen, "device %s has no service on port %u", names, port);
				return ERR_NOTFOUND;
			}
			snprintf(why, whylen, "device %s is offline", names);
			return ERR_OFFLINE;
		}
		*dev_id = 0;
		if (r == ERR_AMBIGUOUS)
			snprintf(why, whylen, "port %u is ambiguous: devices %s both hold it; say NAME.FLEET:%u",
			    port, names, port);
		else
			snprintf(why, whylen, "no device holds port %u", port);
		return r == ERR_AMBIGUOUS ? r : ERR_NOTFOUND;
	}
	*dcp = found;
	*dev_id = found->who.id;
	snprintf(qualified, qlen, "%s.%s", found->who.name, found->who.fleet);
	return 0;
}

/* Resolves dest for the technician; on failure writes the reason. */
int
route_resolve(struct conn *c, const char *dest, uint32_t port, struct conn **dcp,
    int64_t *dev_id, char *qualified, size_t qlen, char *why, size_t whylen)
{
	struct server *srv = c->srv;
	struct name_target t;
	char fleet[LIM_LABEL + 1];
	char shown[128];

	*dcp = NULL;
	*dev_id = 0;
	if (route_is_port_table(dest))
		return resolve_port(c, port, dcp, dev_id, qualified, qlen, why, whylen);
	log_printable(shown, sizeof(shown), dest, strnlen(dest, LIM_PEER_STRING));
	if (names_parse_target(dest, &t) != 0) {
		snprintf(why, whylen, "no device named %s", shown);
		return ERR_NOTFOUND;
	}
	int r = store_device_resolve(srv->st, c->who.admin ? 0 : c->who.id, t.name, t.fleet,
	    dev_id, fleet);
	if (r == ERR_AMBIGUOUS) {
		snprintf(why, whylen, "device name %s is ambiguous: say %s.<fleet>", t.name, t.name);
		return r;
	}
	if (r != 0) {
		snprintf(why, whylen, r == ERR_NOTFOUND ? "no device named %s" :
		    "cannot look up %s: internal error", shown);
		return r;
	}
	snprintf(qualified, qlen, "%s.%s", t.name, fleet);
	*dcp = registry_get(srv->reg, *dev_id);
	if (*dcp != NULL && (*dcp)->dead)
		*dcp = NULL;
	if (*dcp == NULL) {
		snprintf(why, whylen, "device %s is offline", qualified);
		return ERR_OFFLINE;
	}
	if (session_find_service(*dcp, port) == NULL) {
		snprintf(why, whylen, "device %s has no service on port %u", qualified, port);
		return ERR_NOTFOUND;
	}
	return 0;
}

/*
 * Adds "(last seen ...)" to an offline reason; a device whose row says a
 * node holds it while that node is down (its heartbeat stopped) is said to
 * be there instead.
 */
static int
last_seen_cb(void *arg, const struct store_device *d)
{
	char *why = arg, when[32];

	if (d->held && !d->online && d->node[0] != '\0') {
		snprintf(why, 256, "device %s.%s is on node %s, which is down", d->name, d->fleet, d->node);
		return 0;
	}
	timefmt_iso(d->last_seen, when, sizeof(when));
	size_t l = strlen(why);
	snprintf(why + l, 256 - l, " (last seen %s)", when);
	return 0;
}

static struct route *
route_new(struct conn *c, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct route *rt = calloc(1, sizeof(*rt));
	const struct service *svc = dc->link != NULL ? NULL : session_find_service(dc, port);

	if (rt == NULL || (svc == NULL && dc->link == NULL))
		goto fail;
	snprintf(rt->device, sizeof(rt->device), "%s", qualified);
	snprintf(rt->device_bind, sizeof(rt->device_bind), "%s", svc != NULL ? svc->bind_addr : "");
	rt->device_id = dev_id;
	rt->user_id = c->who.id;
	rt->port = port;
	snprintf(rt->user, sizeof(rt->user), "%s", c->who.name);
	snprintf(rt->user_fp, sizeof(rt->user_fp), "%s", c->who.key_fp);
	snprintf(rt->src, sizeof(rt->src), "%s", c->peer);
	log_printable(rt->orig, sizeof(rt->orig), orig, strnlen(orig, 64));
	if (rt->orig[0] == '\0')
		snprintf(rt->orig, sizeof(rt->orig), "127.0.0.1");
	rt->orig_port = orig_port > 0 && orig_port < 65536 ? orig_port : 0;
	rt->started_ms = c->srv->now_ms;
	return rt;
fail:
	free(rt);
	return NULL;
}

/*
 * Makes the accepted channel cl (of any kind) the client side of a route to
 * device conn dc, with a forwarded-tcpip channel on dc's session (opened
 * step by step in the pump), or, when dc is a peer node's link (peer.c), a
 * direct-tcpip on it. On failure cl becomes a refusal.
 */
void
route_link(struct chan *cl, struct conn *dc, const char *qualified, int64_t dev_id,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = cl->srv;
	struct route *rt = route_new(cl->conn, dc, qualified, dev_id, port, orig, orig_port);
	struct splice *csp = rt ? splice_new() : NULL, *dsp = csp ? splice_new() : NULL;
	ssh_channel dch = dsp && dc->link == NULL ? ssh_channel_new(dc->s) : NULL;	/* a link's: peer_open_step */
	struct chan *dv = dch || (dsp && dc->link) ? chan_new(dc, dch, &chan_splice_device, dsp) : NULL;

	if (dv == NULL) {
		if (dch != NULL)
			ssh_channel_free(dch);
		splice_free(dsp);
		splice_free(csp);
		free(rt);
		refuse_chan(cl, "out of memory");
		return;
	}
	chan_become(cl, &chan_splice_client, csp);
	csp->peer = dv;
	dsp->peer = cl;
	csp->route = dsp->route = rt;
	rt->refs = 2;
	rt->acct = splice_acct_get(srv, rt->user_id, rt->user);
	dsp->opening = true;
	dsp->deadline_ms = srv->now_ms + OPEN_TIMEOUT_MS;
	srv->work = true;
}

/* Writes a `route` audit record: node c asked for dest:port for user. */
static void
audit_route(struct conn *c, const char *dest, uint32_t port, const char *user, const char *result,
    const char *why)
{
	struct jbuf *b = audit_begin(c->srv->audit, "route");
	metrics_connect(result);
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "via", c->who.name);
	jbuf_member_str(b, "for", user);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "device", dest);
	jbuf_member_int(b, "port", (int64_t)port);
	jbuf_member_str(b, "result", result);
	if (why != NULL)
		jbuf_member_str(b, "reason", why);
	audit_commit(c->srv->audit);
}

/*
 * Another node's direct-tcpip (PROTOCOL.md, "Peering"): to NAME.FLEET that
 * this node holds itself, never onward and never by port table; the
 * originator host is the user who asked on the other node. Refusals go
 * back as a technician's would (refuse.c), with the reason.
 */
static void
node_direct_tcpip(struct conn *c, ssh_channel ch, const char *dest, uint32_t port, const char *orig)
{
	struct server *srv = c->srv;
	char user[LIM_LABEL + 1], shown[128], why[256], qualified[LIM_TARGET + 1], fleet[LIM_LABEL + 1];
	struct name_target t;
	int64_t dev_id = 0;
	struct conn *dc = NULL;

	log_printable(user, sizeof(user), orig, strnlen(orig, LIM_LABEL));
	log_printable(shown, sizeof(shown), dest, strnlen(dest, LIM_PEER_STRING));
	if (route_is_port_table(dest) || names_parse_target(dest, &t) != 0 || t.fleet[0] == '\0') {
		snprintf(why, sizeof(why), "a node routes only to NAME.FLEET, not %s", shown);
		goto refuse;
	}
	if (store_device_resolve(srv->st, 0, t.name, t.fleet, &dev_id, fleet) != 0) {
		snprintf(why, sizeof(why), "no device named %s", shown);
		goto refuse;
	}
	snprintf(qualified, sizeof(qualified), "%s.%s", t.name, fleet);
	dc = registry_get(srv->reg, dev_id);
	if (dc == NULL || dc->dead) {
		/* never onward: only a device this node holds itself */
		snprintf(why, sizeof(why), "device %s is offline (not on node %s)", qualified,
		    peer_my_name(srv));
		goto refuse;
	}
	if (session_find_service(dc, port) == NULL) {
		snprintf(why, sizeof(why), "device %s has no service on port %u", qualified, port);
		goto refuse;
	}
	struct chan *cl = chan_new(c, ch, &chan_splice_client, NULL);
	if (cl == NULL) {
		ssh_channel_free(ch);
		return;
	}
	audit_route(c, qualified, port, user, "ok", NULL);
	session_log(c, LOG_LVL_INFO, "route to %s:%u for %s", qualified, port, user);
	route_link(cl, dc, qualified, dev_id, port, "127.0.0.1", 0);
	if (!cl->dead && cl->ops == &chan_splice_client && cl->data != NULL) {
		struct route *rt = SP(cl)->route;
		snprintf(rt->via, sizeof(rt->via), "%s", c->who.name);
		snprintf(rt->for_user, sizeof(rt->for_user), "%s", user);
	}
	return;
refuse:
	audit_route(c, shown, port, user, "refused", why);
	session_log(c, LOG_LVL_INFO, "route to %s:%u for %s refused: %s", shown, port, user, why);
	refuse_open(c, ch, "%s", why);
}

void
route_direct_tcpip(struct conn *c, ssh_message m)
{
	struct server *srv = c->srv;
	const char *dest = ssh_message_channel_request_open_destination(m);
	const char *orig = ssh_message_channel_request_open_originator(m);
	uint32_t port = (uint32_t)ssh_message_channel_request_open_destination_port(m);
	int orig_port = ssh_message_channel_request_open_originator_port(m);
	char why[256] = "", qualified[LIM_TARGET + 1];
	struct conn *dc = NULL;
	int64_t dev_id = 0;

	if (dest == NULL || orig == NULL) {
		ssh_message_reply_default(m);
		session_refused(c, "channel", "direct-tcpip", "malformed open");
		return;
	}
	if (c->nchans >= LIM_CHANNELS) {
		ssh_message_reply_default(m);
		session_refused(c, "channel", "direct-tcpip", "too many channels on this session");
		return;
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	if (ch == NULL)
		return;
	if (audit_admit(srv->audit) != 0) {	/* fail closed (audit.h) */
		refuse_open(c, ch, "%s", AUDIT_BUSY_REASON);
		return;
	}
	if (c->who.kind == PRINCIPAL_NODE) {
		node_direct_tcpip(c, ch, dest, port, orig);
		return;
	}
	if (c->who.kind != PRINCIPAL_USER) {
		route_audit_connect(c, dest, (int)port, "refused", "not permitted");
		refuse_open(c, ch, "not permitted: devices cannot open connections through outpost");
		return;
	}
	int r = route_resolve(c, dest, port, &dc, &dev_id, qualified, sizeof(qualified), why, sizeof(why));
	char node[LIM_LABEL + 1];
	if (r == ERR_OFFLINE && peer_holder(srv, dev_id, node, sizeof(node))) {
		struct chan *cl = chan_new(c, ch, &chan_splice_client, NULL);
		if (cl == NULL) {
			ssh_channel_free(ch);
			return;
		}
		peer_route(cl, node, qualified, dev_id, port, orig, orig_port);
		return;
	}
	if (r == ERR_OFFLINE && wake_wanted(srv, dev_id)) {
		wake_wait_open(c, ch, dev_id, qualified, port, orig, orig_port);
		return;
	}
	/* An on-demand device that has logged in but not yet asked for any of
	 * its forwards (a wake in progress: its requests follow within a
	 * round trip) is waited for as a woken one, not refused "no service":
	 * a second technician arriving in that millisecond was refused
	 * (t-ondemand-wake, "a second wake"). */
	if (r == ERR_NOTFOUND && dc != NULL && !dc->dead && dc->nservices == 0 && wake_wanted(srv, dev_id)) {
		wake_wait_open(c, ch, dev_id, qualified, port, orig, orig_port);
		return;
	}
	if (r != 0) {
		if (r == ERR_OFFLINE)
			store_device_get(srv->st, dev_id, last_seen_cb, why);
		route_audit_connect(c, dest, (int)port, "refused", why);
		refuse_open(c, ch, "%s", why);
		return;
	}
	struct chan *cl = chan_new(c, ch, &chan_splice_client, NULL);
	if (cl == NULL) {
		ssh_channel_free(ch);
		return;
	}
	route_link(cl, dc, qualified, dev_id, port, orig, orig_port);
}

/*
 * An exec channel's `nc` line (seed 001's `ProxyCommand ssh SERVER nc -U
 * /home/host/%h`, or `ssh SERVER nc HOST PORT`), routed by the rules of a
 * direct-tcpip: h becomes the client side of a splice to the device.
 * Nothing is run. An on-demand device is not woken for it (refused offline).
 */
int
route_exec_nc(struct chan *h, int argc, char *const argv[], char *why, size_t whylen)
{
	struct conn *c = h->conn, *dc = NULL;
	struct nc_route nr;
	const char *perr = NULL;
	char qualified[LIM_TARGET + 1], shown[LIM_TARGET + 1];
	int64_t dev_id = 0;
	int r;

	r = ncroute_parse(argc, argv, &nr, &perr);
	if (r != 0)
		snprintf(why, whylen, "%s", perr);
	else if (c->who.kind != PRINCIPAL_USER) {
		snprintf(why, whylen, "not permitted: devices cannot open connections through outpost");
		r = ERR_DENIED;
	} else
		r = route_resolve(c, nr.host, nr.port, &dc, &dev_id, qualified, sizeof(qualified),
		    why, whylen);
	char node[LIM_LABEL + 1];
	if (r == ERR_OFFLINE && peer_holder(c->srv, dev_id, node, sizeof(node))) {
		session_log(c, LOG_LVL_DEBUG, "nc %s %s: routing to %s:%u through node %s", argv[1], argv[2],
		    qualified, nr.port, node);
		peer_route(h, node, qualified, dev_id, nr.port, "127.0.0.1", 0);
		return 0;
	}
	if (r == ERR_OFFLINE && whylen >= 256)
		store_device_get(c->srv->st, dev_id, last_seen_cb, why);
	if (r != 0) {
		log_printable(shown, sizeof(shown), argc > 1 ? argv[1] : "", argc > 1 ?
		    strnlen(argv[1], LIM_TARGET) : 0);
		route_audit_connect(c, nr.host[0] ? nr.host : shown, (int)nr.port, "refused", why);
		session_log(c, LOG_LVL_INFO, "nc refused: %s", why);
		return r;
	}
	session_log(c, LOG_LVL_DEBUG, "nc %s %s: routing to %s:%u", argv[1], argv[2], qualified, nr.port);
	route_link(h, dc, qualified, dev_id, nr.port, "127.0.0.1", 0);
	return 0;
}

/* Ends an open route whose user may no longer reach its device (revoked, expired, removed). */
void
route_recheck(struct chan *cl)
{
	struct route *rt;

	if (cl->dead || cl->ops != &chan_splice_client || cl->data == NULL)
		return;
	rt = SP(cl)->route;
	if (rt->for_user[0] != '\0')
		return;		/* a node's route: the asking node checks its user, this one the node's key */
	if (store_user_may_reach(cl->srv->st, rt->user_id, rt->device_id) != ERR_NOTFOUND)
		return;
	log_info("%s -> %s:%u: access revoked: closing", rt->user, rt->device, rt->port);
	chan_kill(cl);
	if (SP(cl)->peer != NULL)
		chan_kill(SP(cl)->peer);
}
