/*
 * wake.c: outpostd's MQTT client for on-demand devices: states in,
 * `connect` out, from the epoll loop; and the chan_wake_wait channel kind,
 * a technician's channel held until the woken device registers its port.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mqttspec.h"
#include "common/timefmt.h"
#include "mqtt/mqtt.h"
#include "common/audit.h"
#include "server/chan.h"
#include "server/metrics.h"
#include "server/peer.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/storeq.h"
#include "server/wake.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000

struct wake {
	struct server *srv;
	struct mqtt *m;
	struct watch watch;		/* WATCH_MQTT */
	int ep_fd;			/* the fd epoll has, -1 if none */
	uint32_t ep_events;
	bool up;			/* a connection is in progress or established */
	unsigned attempt;		/* failures since the last accepted connection */
	int64_t next_ms;		/* next attempt while down */
	uint64_t rng;
	char filter[MQTT_TOPIC_MAX];
	char url[MQTT_HOST_MAX + 24];
};

/*
 * A chan_wake_wait channel's data: a technician's direct-tcpip held while
 * an on-demand device is told to raise its tunnel. The client's first bytes
 * stay in libssh's channel buffer (the kind consumes nothing), so the
 * channel window bounds them; they are delivered once the device registers.
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
	int64_t deadline_ms;		/* give up then */
	int64_t elsewhere_ms;		/* first seen online on another node (0 = not yet) */
	int64_t looked_ms;		/* last look at the store for that */
};

/* After the store shows the device online on another node, time for it to register its ports there. */
#define ELSEWHERE_SETTLE_MS 1000
/* The store is looked at this often for a device woken onto another node. */
#define ELSEWHERE_LOOK_MS 200

bool
wake_enabled(const struct server *srv)
{
	return srv->wake != NULL;
}

bool
wake_broker_up(const struct server *srv)
{
	return srv->wake != NULL && mqtt_connected(srv->wake->m);
}

int
wake_send(struct server *srv, const char *fleet, const char *name, const char *cmd)
{
	char topic[MQTT_TOPIC_MAX];

	if (srv->wake == NULL)
		return ERR_IO;
	if (mqttspec_topic(srv->cfg->mqtt_topic, fleet, name, "control", topic, sizeof(topic)) != 0)
		return ERR_TOOLONG;
	int r = mqtt_publish(srv->wake->m, topic, cmd, false);
	if (r == 0)
		log_info("mqtt: %s -> %s", cmd, topic);
	return r;
}

/* Sends `connect` again for every channel waiting for device_id (0: for all). */
static void
resend(struct server *srv, int64_t device_id)
{
	for (struct chan *h = srv->chans; h != NULL; h = h->next) {
		struct wake_wait *w = h->data;
		if (h->dead || h->ops != &chan_wake_wait || w == NULL)
			continue;
		if (device_id != 0 && w->device_id != device_id)
			continue;
		if (w->resent_ms == srv->now_ms)
			continue;	/* several channels wait for one device */
		w->resent_ms = srv->now_ms;
		wake_send(srv, w->fleet, w->name, "connect");
	}
}

static void
on_connect(void *arg)
{
	struct wake *w = arg;

	w->attempt = 0;
	log_info("mqtt: connected to %s; following %s", w->url, w->filter);
	if (mqtt_subscribe(w->m, w->filter) != 0)
		log_warn("mqtt: cannot subscribe to %s", w->filter);
	resend(w->srv, 0);
}

static int
state_cb(void *arg, const struct store_device *d)
{
	snprintf(arg, 16, "%s", d->ondemand != NULL ? d->ondemand : "");
	return 0;
}

static void
on_message(void *arg, const char *topic, const void *payload, size_t len, bool retained)
{
	struct wake *w = arg;
	struct server *srv = w->srv;
	char fleet[LIM_LABEL + 1], name[LIM_LABEL + 1], shown[80], fq[LIM_TARGET + 1];
	int64_t id = 0;

	(void)retained;
	if (mqttspec_topic_match(srv->cfg->mqtt_topic, "state", topic, strlen(topic), fleet,
	    name) != 0) {
		log_printable(shown, sizeof(shown), topic, strnlen(topic, 64));
		log_debug("mqtt: ignored topic %s", shown);
		return;
	}
	enum mqtt_state st = mqttspec_state_parse(payload, len);
	if (len == 0)
		st = MQTT_STATE_NONE;	/* retained state cleared: no longer on demand */
	else if (st == MQTT_STATE_NONE) {
		log_printable(shown, sizeof(shown), payload, len < 64 ? len : 64);
		log_warn("mqtt: %s: unknown state '%s'", topic, shown);
		return;
	}
	if (store_device_resolve(srv->st, 0, name, fleet, &id, fq) != 0) {
		log_debug("mqtt: state for unknown device %s.%s", name, fleet);
		return;
	}
	char was[16] = "";
	store_device_get(srv->st, id, state_cb, was);
	if (strcmp(was, mqttspec_state_name(st)) != 0) {	/* a reconnection re-sends it */
		if (storeq_device_set_ondemand(srv, id, mqttspec_state_name(st), timefmt_now()) != 0)
			log_warn("store: cannot record the state of %s.%s: %s", name, fleet,
			    store_errmsg(srv->st));
		log_info("mqtt: %s.%s is %s", name, fleet,
		    st ? mqttspec_state_name(st) : "not on demand");
	}
	if (st == MQTT_STATE_STANDBY || st == MQTT_STATE_DISCONNECTED)
		resend(srv, id);	/* back on the broker while someone waits */
}

static void
down(struct wake *w, const char *why)
{
	struct server *srv = w->srv;
	int64_t ceil = BACKOFF_CAP_MS;

	if (w->attempt < 16 && ((int64_t)BACKOFF_BASE_MS << w->attempt) < ceil)
		ceil = (int64_t)BACKOFF_BASE_MS << w->attempt;
	w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	int64_t d = (int64_t)((w->rng >> 33) % (uint64_t)(ceil + 1));
	w->attempt++;
	w->up = false;
	w->next_ms = srv->now_ms + d;
	w->ep_fd = -1;		/* closed with its connection: epoll forgot it */
	w->ep_events = 0;
	log_warn("mqtt: %s; reconnecting in %.1f s", why, (double)d / 1000);
}

static void
try_connect(struct wake *w)
{
	char why[300];

	if (w->up || w->srv->now_ms < w->next_ms)
		return;
	if (mqtt_connect(w->m, why, sizeof(why)) != 0) {
		down(w, why);
		return;
	}
	w->up = true;
}

static void
service(struct wake *w, bool rd, bool wr)
{
	char why[300];

	if (!w->up)
		return;
	if (mqtt_service(w->m, rd, wr, why, sizeof(why)) != 0) {
		if (w->ep_fd >= 0)
			epoll_ctl(w->srv->epfd, EPOLL_CTL_DEL, w->ep_fd, NULL);
		down(w, why);
	}
}

void
wake_ready(struct server *srv, uint32_t events)
{
	struct wake *w = srv->wake;

	if (w != NULL)
		service(w, events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP), events & EPOLLOUT);
}

void
wake_tick(struct server *srv)
{
	struct wake *w = srv->wake;

	if (w == NULL)
		return;
	if (w->up)
		service(w, false, false);
	else
		try_connect(w);
}

void
wake_interest(struct server *srv)
{
	struct wake *w = srv->wake;

	if (w == NULL || !w->up)
		return;
	int fd = mqtt_fd(w->m);
	uint32_t want = EPOLLIN | (mqtt_want_write(w->m) ? EPOLLOUT : 0);
	if (fd == w->ep_fd && want == w->ep_events)
		return;
	if (w->ep_fd >= 0 && fd != w->ep_fd)
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, w->ep_fd, NULL);
	if (fd < 0) {
		w->ep_fd = -1;
		return;
	}
	struct epoll_event ev = { .events = want, .data.ptr = &w->watch };
	w->watch.fd = fd;
	int op = fd == w->ep_fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(srv->epfd, op, fd, &ev) != 0 &&
	    (errno != EEXIST || epoll_ctl(srv->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)) {
		log_warn("mqtt: epoll: %s", strerror(errno));
		return;
	}
	w->ep_fd = fd;
	w->ep_events = want;
}

void
wake_init(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct wake *w;
	char id[160], host[128] = "outpostd", why[300];

	if (cfg->mqtt_url == NULL)
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("out of memory");
	struct mqtt_params p = {
		.cafile = cfg->mqtt_cafile, .certfile = cfg->mqtt_cert, .keyfile = cfg->mqtt_key,
		.client_id = id, .keepalive_s = 60,
	};
	if (mqttspec_url_parse(cfg->mqtt_url, &p.url) != 0)
		fatal("MqttURL %s: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", cfg->mqtt_url);
	if (mqttspec_topic(cfg->mqtt_topic, "+", "+", "state", w->filter, sizeof(w->filter)) != 0)
		fatal("MqttTopic %s: too long", cfg->mqtt_topic);
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (cfg->mqtt_client_id != NULL)
		snprintf(id, sizeof(id), "%s", cfg->mqtt_client_id);
	else
		snprintf(id, sizeof(id), "outpostd-%s-%ld", host, (long)getpid());
	struct mqtt_handlers h = { on_connect, on_message, w };
	mqtt_init();
	if (mqtt_new(&p, &h, &w->m, why, sizeof(why)) != 0)
		fatal("MQTT: %s", why);
	mqttspec_url_format(&p.url, w->url, sizeof(w->url));
	w->srv = srv;
	w->watch.kind = WATCH_MQTT;
	w->watch.fd = -1;
	w->ep_fd = -1;
	w->rng = (uint64_t)getpid() ^ (uint64_t)timefmt_mono_ms() << 20;
	srv->wake = w;
	storeq_device_clear_ondemand(srv);	/* the retained states come back */
	try_connect(w);
}

void
wake_free(struct server *srv)
{
	struct wake *w = srv->wake;

	if (w == NULL)
		return;
	if (w->ep_fd >= 0)
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, w->ep_fd, NULL);
	mqtt_disconnect(w->m, NULL, NULL);
	mqtt_free(w->m);
	free(w);
	srv->wake = NULL;
}

/* ---- the wait of a technician's channel for an on-demand device ---- */

/* Has the device an on-demand state (from MQTT) that `connect` may change? */
static int
ondemand_cb(void *arg, const struct store_device *d)
{
	snprintf(arg, 16, "%s", d->ondemand != NULL ? d->ondemand : "");
	return 0;
}

bool
wake_wanted(struct server *srv, int64_t dev_id)
{
	char state[16] = "";

	if (!wake_enabled(srv) || store_device_get(srv->st, dev_id, ondemand_cb, state) != 0)
		return false;
	return state[0] != '\0';
}

static void
audit_wake(struct conn *c, const struct wake_wait *w, const char *result, const char *state)
{
	struct jbuf *b = audit_begin(c->srv->audit, "wake");
	jbuf_member_int(b, "session", (int64_t)c->id);
	jbuf_member_str(b, "user", c->who.name);
	jbuf_member_str(b, "key_fp", c->who.key_fp);
	jbuf_member_str(b, "src", c->peer);
	jbuf_member_str(b, "device", w->device);
	jbuf_member_int(b, "port", w->port);
	jbuf_member_str(b, "state", state);
	jbuf_member_str(b, "result", result);
	audit_commit(c->srv->audit);
}

void
wake_wait_open(struct conn *c, ssh_channel ch, int64_t dev_id, const char *qualified,
    uint32_t port, const char *orig, int orig_port)
{
	struct server *srv = c->srv;
	struct wake_wait *w = calloc(1, sizeof(*w));
	struct chan *h = w ? chan_new(c, ch, &chan_wake_wait, w) : NULL;
	char state[16] = "";

	if (h == NULL) {
		free(w);
		refuse_open(c, ch, "out of memory");
		return;
	}
	w->device_id = dev_id;
	snprintf(w->device, sizeof(w->device), "%s", qualified);
	const char *dot = strchr(qualified, '.');
	snprintf(w->name, sizeof(w->name), "%.*s", (int)(dot - qualified), qualified);
	snprintf(w->fleet, sizeof(w->fleet), "%s", dot + 1);
	w->port = port;
	log_printable(w->orig, sizeof(w->orig), orig, strnlen(orig, 64));
	w->orig_port = orig_port;
	w->started_ms = srv->now_ms;
	w->resent_ms = srv->now_ms;
	w->deadline_ms = srv->now_ms + srv->cfg->wake_timeout * 1000L;
	store_device_get(srv->st, dev_id, ondemand_cb, state);
	int r = wake_send(srv, w->fleet, w->name, "connect");
	audit_wake(c, w, r == 0 ? "sent" : "queued", state);
	session_log(c, LOG_LVL_INFO, "waking %s (%s) for port %u%s", w->device, state, port,
	    r == 0 ? "" : ": broker down, sending when it is back");
}

/* A waiting channel (chan_wake_wait): route it once the device has registered the port, or give up. */
static bool
wait_pump(struct chan *h)
{
	struct server *srv = h->srv;
	struct wake_wait *w = h->data;
	struct conn *dc = registry_get(srv->reg, w->device_id);
	char why[256];

	if (h->close_rcvd || h->eof_rcvd) {
		log_info("%s -> %s:%u: the client left while the device was waking",
		    h->conn->who.name, w->device, w->port);
		route_audit_connect(h->conn, w->device, (int)w->port, "failed", "client left while waking");
		chan_kill(h);
		return true;
	}
	if (dc != NULL && !dc->dead && session_find_service(dc, w->port) != NULL) {
		log_info("%s -> %s:%u: device woke after %lld ms", h->conn->who.name, w->device,
		    w->port, (long long)(srv->now_ms - w->started_ms));
		metrics_woke(srv->now_ms - w->started_ms);
		/* becoming the client side of a route frees w */
		route_link(h, dc, w->device, w->device_id, w->port, w->orig, w->orig_port);
		return true;
	}
	/* It may register on any node (PROTOCOL.md, "Peering"): then the route goes through that one. */
	char node[LIM_LABEL + 1];
	if ((dc == NULL || dc->dead) && srv->now_ms - w->looked_ms >= ELSEWHERE_LOOK_MS) {
		w->looked_ms = srv->now_ms;
		if (!peer_holder(srv, w->device_id, node, sizeof(node)))
			w->elsewhere_ms = 0;
		else if (w->elsewhere_ms == 0)
			w->elsewhere_ms = srv->now_ms;
		else if (srv->now_ms - w->elsewhere_ms >= ELSEWHERE_SETTLE_MS) {
			log_info("%s -> %s:%u: device woke on node %s after %lld ms", h->conn->who.name,
			    w->device, w->port, node, (long long)(srv->now_ms - w->started_ms));
			metrics_woke(srv->now_ms - w->started_ms);
			/* becoming the client side of a route (or a refusal) frees w */
			peer_route(h, node, w->device, w->device_id, w->port, w->orig, w->orig_port);
			return true;
		}
	}
	if (srv->now_ms < w->deadline_ms)
		return false;
	if (dc != NULL && !dc->dead)
		snprintf(why, sizeof(why), "device %s woke up but has no service on port %u",
		    w->device, w->port);
	else {
		char state[16] = "";
		store_device_get(srv->st, w->device_id, ondemand_cb, state);
		snprintf(why, sizeof(why), "device %s did not come online within %d s of a wake-up "
		    "(%s%s)", w->device, srv->cfg->wake_timeout,
		    wake_broker_up(srv) ? "its MQTT state: " : "the MQTT broker is unreachable",
		    wake_broker_up(srv) ? (state[0] ? state : "none") : "");
	}
	log_info("%s -> %s:%u: %s", h->conn->who.name, w->device, w->port, why);
	route_audit_connect(h->conn, w->device, (int)w->port, "failed", why);
	metrics_wake_timeout();
	refuse_chan(h, why);
	return true;
}

static void
wait_reap(struct chan *h)
{
	free(h->data);
	h->data = NULL;
}

const struct chan_ops chan_wake_wait = {
	.name = "wake-wait",
	.pump = wait_pump,
	.reap = wait_reap,
};
