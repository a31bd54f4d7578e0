/*
 * ondemand.c: on-demand mode. One loop serves the MQTT socket; while a tunnel
 * is up the same socket joins the tunnel's poll loop through its hook, so the
 * agent stays one thread and reacts to `disconnect` at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/conn.h"
#include "agent/notify.h"
#include "agent/ondemand.h"
#include "agent/run.h"
#include "agent/tunnel.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "mqtt/mqtt.h"
#include "ssh/disconnect.h"

struct ondemand {
	const struct agent_conf *conf;
	ssh_key key;
	volatile sig_atomic_t *stop;
	sigset_t mask;
	struct mqtt *m;
	bool broker_up;			/* a connection is in progress or established */
	int64_t broker_next_ms;		/* next connection attempt while down */
	int64_t broker_since_ms;
	struct backoff broker_b, tunnel_b;
	bool want;			/* `connect` received, no `disconnect` since */
	bool tunnel_up;
	int64_t tunnel_next_ms;
	int64_t idle_since_ms;		/* no channel open since; 0 while one is */
	int64_t idle_ms;
	char state[HOSTPORT_STR_MAX + 32];	/* last state payload we published */
	char topic_control[MQTT_TOPIC_MAX], topic_state[MQTT_TOPIC_MAX];
};

static void
publish_state(struct ondemand *od, const char *payload)
{
	if (payload != od->state)
		snprintf(od->state, sizeof(od->state), "%s", payload);
	if (mqtt_publish(od->m, od->topic_state, payload, true) == 0)
		log_info("state %s", payload);	/* else sent again on the next connection */
	notify_status("on demand: %s", payload);
}

static void
on_broker(void *arg)
{
	struct ondemand *od = arg;

	log_info("connected to the broker; control topic %s", od->topic_control);
	if (mqtt_subscribe(od->m, od->topic_control) != 0)
		log_warn("cannot subscribe to %s", od->topic_control);
	publish_state(od, od->state);
}

static void
on_command(void *arg, const char *topic, const void *payload, size_t len, bool retained)
{
	struct ondemand *od = arg;
	enum mqtt_command cmd;

	if (strcmp(topic, od->topic_control) != 0)
		return;
	cmd = mqttspec_command_parse(payload, len);
	if (cmd == MQTT_CMD_NONE) {
		char shown[80];
		log_printable(shown, sizeof(shown), payload, len < 64 ? len : 64);
		log_warn("ignored an unknown command '%s' on %s", shown, topic);
		return;
	}
	if (retained) {
		/* A retained command would replay on every reconnection. */
		log_warn("ignored a retained '%s' on %s: commands must not be retained",
		    cmd == MQTT_CMD_CONNECT ? "connect" : "disconnect", topic);
		return;
	}
	log_info("command %s", cmd == MQTT_CMD_CONNECT ? "connect" : "disconnect");
	if (cmd == MQTT_CMD_CONNECT) {
		if (!od->want)
			od->tunnel_next_ms = 0;	/* now, not after an old backoff */
		od->want = true;
		if (od->tunnel_up)
			publish_state(od, od->state);	/* answer: still connected */
	} else {
		od->want = false;
		if (!od->tunnel_up)
			publish_state(od, "disconnected");
	}
}

static void
broker_down(struct ondemand *od, const char *why)
{
	int64_t up = od->broker_since_ms > 0 ? timefmt_mono_ms() - od->broker_since_ms : 0;

	od->broker_up = false;
	backoff_session_ended(&od->broker_b, up);
	unsigned attempt = od->broker_b.attempt;
	int64_t d = backoff_next_ms(&od->broker_b);
	od->broker_next_ms = timefmt_mono_ms() + d;
	log_warn("%s; reconnecting to the broker in %.1f s (attempt %u)", why, (double)d / 1000,
	    attempt + 1);
}

/* Starts a broker connection when one is due. */
static void
broker_maybe_connect(struct ondemand *od)
{
	char why[300];

	if (od->broker_up || timefmt_mono_ms() < od->broker_next_ms)
		return;
	od->broker_since_ms = 0;
	if (mqtt_connect(od->m, why, sizeof(why)) != 0) {
		broker_down(od, why);
		return;
	}
	od->broker_up = true;
	od->broker_since_ms = timefmt_mono_ms();
}

static nfds_t
broker_fill(struct ondemand *od, struct pollfd *pfd)
{
	int fd = od->broker_up ? mqtt_fd(od->m) : -1;

	if (fd < 0)
		return 0;
	pfd->fd = fd;
	pfd->events = POLLIN | (mqtt_want_write(od->m) ? POLLOUT : 0);
	pfd->revents = 0;
	return 1;
}

/* Services the broker socket after a poll (pfd NULL: not polled this turn). */
static void
broker_step(struct ondemand *od, const struct pollfd *pfd)
{
	char why[300];
	short rev = pfd != NULL ? pfd->revents : 0;

	if (!od->broker_up) {
		broker_maybe_connect(od);
		return;
	}
	if (mqtt_service(od->m, rev & (POLLIN | POLLHUP | POLLERR), rev & POLLOUT, why,
	    sizeof(why)) != 0)
		broker_down(od, why);
}

/* ---- the hook that runs inside the tunnel's loop ---- */

static nfds_t
hook_fill(void *arg, struct pollfd *pfds)
{
	return broker_fill(arg, pfds);
}

static int
hook_step(void *arg, const struct pollfd *pfds, nfds_t n, size_t nchannels, char *why,
    size_t whylen)
{
	struct ondemand *od = arg;
	int64_t now = timefmt_mono_ms();

	broker_step(od, n > 0 ? pfds : NULL);
	if (!od->want) {
		snprintf(why, whylen, "disconnect command");
		return 1;
	}
	if (nchannels > 0)
		od->idle_since_ms = 0;
	else if (od->idle_since_ms == 0)
		od->idle_since_ms = now;
	else if (now - od->idle_since_ms >= od->idle_ms) {
		snprintf(why, whylen, "idle for %lld s with no channel open",
		    (long long)(od->idle_ms / 1000));
		od->want = false;
		return 1;
	}
	return 0;
}

/* Brings the tunnel up (blocking connect, as `run` does) and serves it until it ends. */
static void
tunnel_once(struct ondemand *od)
{
	const struct agent_conf *c = od->conf;
	struct tunnel_hook hook = { hook_fill, hook_step, od };
	char why[512], addr[HOSTPORT_STR_MAX], st[HOSTPORT_STR_MAX + 32];
	ssh_session s;
	size_t which = 0;
	int r;

	int busy_s = 0;
	r = run_connect(c, od->key, "bringing the tunnel up", &s, &which, &busy_s, why, sizeof(why));
	hostport_format(&c->servers[which], addr, sizeof(addr));
	if (r != 0) {
		backoff_session_ended(&od->tunnel_b, 0);
		int64_t d = busy_s > 0 ? backoff_busy_ms(&od->tunnel_b, busy_s) : backoff_next_ms(&od->tunnel_b);
		od->tunnel_next_ms = timefmt_mono_ms() + d;
		log_info("trying the jump server again in %.1f s", (double)d / 1000);
		publish_state(od, "disconnected|reason=unreachable");
		return;
	}
	od->tunnel_up = true;
	od->idle_since_ms = timefmt_mono_ms();
	snprintf(st, sizeof(st), "connected|server=%s", addr);
	publish_state(od, st);
	int64_t start = timefmt_mono_ms();
	r = tunnel_serve(s, c, od->stop, &od->mask, &hook, why, sizeof(why));
	int64_t up = timefmt_mono_ms() - start;
	od->tunnel_up = false;
	ssh_disconnect(s);
	ssh_free(s);
	backoff_session_ended(&od->tunnel_b, up);
	if (*od->stop)
		return;
	if (r != 0 && od->want) {
		/* a shutting-down server says when to come back (PROTOCOL.md) */
		int64_t d = disconnect_busy_parse(why, &busy_s) ? backoff_busy_ms(&od->tunnel_b, busy_s) :
		    backoff_next_ms(&od->tunnel_b);
		od->tunnel_next_ms = timefmt_mono_ms() + d;
		log_warn("tunnel lost after %lld s: %s; again in %.1f s", (long long)(up / 1000), why,
		    (double)d / 1000);
		publish_state(od, "disconnected|reason=lost");
		return;
	}
	log_info("tunnel down after %lld s: %s", (long long)(up / 1000), why);
	od->want = false;
	publish_state(od, strncmp(why, "idle", 4) == 0 ? "disconnected|reason=idle" :
	    "disconnected");
}

/* One turn without a tunnel: poll the broker for up to a second. */
static void
idle_turn(struct ondemand *od)
{
	struct pollfd pfd;
	nfds_t n = broker_fill(od, &pfd);
	int64_t wait = 1000;

	if (od->want && od->tunnel_next_ms > timefmt_mono_ms())
		wait = od->tunnel_next_ms - timefmt_mono_ms();
	if (wait > 1000)
		wait = 1000;
	struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
	if (ppoll(n ? &pfd : NULL, n, &ts, &od->mask) < 0 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
	broker_step(od, n ? &pfd : NULL);
	notify_watchdog();
}

static int
topics(struct ondemand *od)
{
	const struct agent_conf *c = od->conf;
	const char *tmpl = c->mqtt.topic[0] ? c->mqtt.topic : MQTT_DEFAULT_TEMPLATE;

	if (mqttspec_topic(tmpl, c->fleet, c->name, "control", od->topic_control,
	    sizeof(od->topic_control)) != 0 ||
	    mqttspec_topic(tmpl, c->fleet, c->name, "state", od->topic_state,
	    sizeof(od->topic_state)) != 0) {
		log_error("mqtt-topic %s: the topics would be too long", tmpl);
		return ERR_TOOLONG;
	}
	return 0;
}

static int
client_new(struct ondemand *od)
{
	const struct agent_mqtt *mc = &od->conf->mqtt;
	char id[MQTT_TOPIC_MAX], why[300];
	struct mqtt_params p = {
		.url = mc->url,
		.cafile = mc->cafile[0] ? mc->cafile : NULL,
		.certfile = mc->cert[0] ? mc->cert : NULL,
		.keyfile = mc->key[0] ? mc->key : NULL,
		.client_id = id,
		.will_topic = od->topic_state,
		.will_payload = "offline",
		.keepalive_s = 60,
	};
	struct mqtt_handlers h = { on_broker, on_command, od };

	if (mc->client_id[0])
		snprintf(id, sizeof(id), "%s", mc->client_id);
	else
		snprintf(id, sizeof(id), "outpost-%s.%s", od->conf->name, od->conf->fleet);
	if (mqtt_new(&p, &h, &od->m, why, sizeof(why)) != 0) {
		log_error("%s", why);
		return ERR_CONFIG;
	}
	return 0;
}

int
ondemand_main(const struct agent_conf *conf, ssh_key key)
{
	static struct ondemand od;
	char url[MQTT_HOST_MAX + 24];

	memset(&od, 0, sizeof(od));
	od.conf = conf;
	od.key = key;
	od.idle_ms = (conf->mqtt.idle_s > 0 ? conf->mqtt.idle_s : AGENTCONF_IDLE_DEFAULT) * 1000;
	snprintf(od.state, sizeof(od.state), "standby");
	mqtt_init();
	if (topics(&od) != 0 || client_new(&od) != 0)
		return 1;
	od.stop = run_signals(&od.mask);
	backoff_init(&od.broker_b, backoff_seed());
	backoff_init(&od.tunnel_b, backoff_seed());
	mqttspec_url_format(&conf->mqtt.url, url, sizeof(url));
	log_info("on demand as %s.%s: broker %s, state %s, idle %lld s", conf->name, conf->fleet,
	    url, od.topic_state, (long long)(od.idle_ms / 1000));
	notify_ready();
	broker_maybe_connect(&od);
	while (!*od.stop) {
		if (od.want && !od.tunnel_up && timefmt_mono_ms() >= od.tunnel_next_ms)
			tunnel_once(&od);
		else
			idle_turn(&od);
	}
	log_info("stopping");
	mqtt_disconnect(od.m, od.topic_state, "offline");
	mqtt_free(od.m);
	return 0;
}
