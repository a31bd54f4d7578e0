/* mqtt.c: libmosquitto driven from the caller's loop (mosquitto_socket, loop_read/write/misc; no threads). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "common/err.h"
#include "common/log.h"
#include "mqtt/mqtt.h"

#define SYSTEM_CAPATH "/etc/ssl/certs"
#define FLUSH_MS 1000		/* mqtt_disconnect: time to deliver the final state */

struct mqtt {
	struct mosquitto *mosq;
	struct mqtt_handlers h;
	struct mqtt_url url;
	int keepalive;
	bool connected;		/* CONNACK accepted */
	bool lost;		/* the library reported a disconnect */
	int refused;		/* CONNACK code, 0 if none */
};

void
mqtt_init(void)
{
	mosquitto_lib_init();
}

static void
on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;

	(void)mosq;
	if (rc != 0) {
		m->refused = rc;
		return;
	}
	m->connected = true;
	if (m->h.on_connect != NULL)
		m->h.on_connect(m->h.arg);
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;

	(void)mosq; (void)rc;
	m->connected = false;
	m->lost = true;
}

static void
on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct mqtt *m = obj;

	(void)mosq;
	if (m->h.on_message != NULL && msg->topic != NULL && msg->payloadlen >= 0)
		m->h.on_message(m->h.arg, msg->topic, msg->payload, (size_t)msg->payloadlen,
		    msg->retain);
}

/* libmosquitto's own lines (OpenSSL's reasons among them) go to our log. */
static void
on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	(void)mosq; (void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warn("mqtt: %s", str);
	else
		log_debug("mqtt: %s", str);
}

static int
set_tls(struct mqtt *m, const struct mqtt_params *p, char *why, size_t whylen)
{
	const char *ca = p->cafile, *capath = ca == NULL ? SYSTEM_CAPATH : NULL;
	int rc;

	if ((p->certfile == NULL) != (p->keyfile == NULL)) {
		snprintf(why, whylen, "a client certificate needs its key and the key its certificate");
		return ERR_CONFIG;
	}
	rc = mosquitto_tls_set(m->mosq, ca, capath, p->certfile, p->keyfile, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(m->mosq, 1, NULL, NULL);	/* verify the broker */
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(why, whylen, "TLS set-up (CA %s, certificate %s, key %s): %s",
		    ca ? ca : SYSTEM_CAPATH, p->certfile ? p->certfile : "none",
		    p->keyfile ? p->keyfile : "none",
		    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return ERR_CONFIG;
	}
	return 0;
}

int
mqtt_new(const struct mqtt_params *p, const struct mqtt_handlers *h, struct mqtt **out,
    char *why, size_t whylen)
{
	struct mqtt *m = calloc(1, sizeof(*m));
	int r = 0;

	*out = NULL;
	if (m == NULL || (m->mosq = mosquitto_new(p->client_id, true, m)) == NULL) {
		free(m);
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	m->h = *h;
	m->url = p->url;
	m->keepalive = p->keepalive_s > 0 ? p->keepalive_s : 60;
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_log_callback_set(m->mosq, on_log);
	if (p->will_topic != NULL &&
	    mosquitto_will_set(m->mosq, p->will_topic, (int)strlen(p->will_payload),
	    p->will_payload, 1, true) != MOSQ_ERR_SUCCESS) {
		snprintf(why, whylen, "bad last-will topic %s", p->will_topic);
		r = ERR_CONFIG;
	}
	if (r == 0 && p->url.tls)
		r = set_tls(m, p, why, whylen);
	else if (r == 0 && (p->cafile || p->certfile || p->keyfile)) {
		snprintf(why, whylen, "TLS files given for a plain mqtt:// URL (use mqtts://)");
		r = ERR_CONFIG;
	}
	if (r != 0) {
		mqtt_free(m);
		return r;
	}
	*out = m;
	return 0;
}

void
mqtt_free(struct mqtt *m)
{
	if (m == NULL)
		return;
	mosquitto_destroy(m->mosq);
	free(m);
}

int
mqtt_connect(struct mqtt *m, char *why, size_t whylen)
{
	int rc;

	m->connected = m->lost = false;
	m->refused = 0;
	rc = mosquitto_connect_async(m->mosq, m->url.host, m->url.port, m->keepalive);
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	snprintf(why, whylen, "cannot connect to the broker at %s:%d: %s", m->url.host,
	    m->url.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	return ERR_IO;
}

int
mqtt_fd(const struct mqtt *m)
{
	return mosquitto_socket(m->mosq);
}

bool
mqtt_want_write(const struct mqtt *m)
{
	return mosquitto_want_write(m->mosq);
}

bool
mqtt_connected(const struct mqtt *m)
{
	return m->connected;
}

static void
describe(int rc, int err, char *why, size_t whylen)
{
	if (rc == MOSQ_ERR_ERRNO)
		snprintf(why, whylen, "broker connection: %s", strerror(err));
	else if (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NO_CONN)
		snprintf(why, whylen, "the broker closed the connection");
	else
		snprintf(why, whylen, "broker connection: %s", mosquitto_strerror(rc));
}

int
mqtt_service(struct mqtt *m, bool readable, bool writable, char *why, size_t whylen)
{
	int rc = MOSQ_ERR_SUCCESS, err = 0;

	if (mosquitto_socket(m->mosq) < 0)
		rc = MOSQ_ERR_NO_CONN;
	if (rc == MOSQ_ERR_SUCCESS && readable)
		rc = mosquitto_loop_read(m->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (writable || mosquitto_want_write(m->mosq)))
		rc = mosquitto_loop_write(m->mosq, 1);
	err = errno;
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(m->mosq);
	if (m->refused != 0) {
		snprintf(why, whylen, "the broker refused us: %s", mosquitto_connack_string(m->refused));
		rc = MOSQ_ERR_CONN_REFUSED;
	} else if (rc != MOSQ_ERR_SUCCESS)
		describe(rc, err, why, whylen);
	else if (m->lost) {
		snprintf(why, whylen, "the broker closed the connection");
		rc = MOSQ_ERR_CONN_LOST;
	}
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	m->connected = false;
	mosquitto_disconnect(m->mosq);		/* closes the socket if still open */
	return ERR_IO;
}

int
mqtt_subscribe(struct mqtt *m, const char *filter)
{
	if (!m->connected)
		return ERR_IO;
	return mosquitto_subscribe(m->mosq, NULL, filter, 1) == MOSQ_ERR_SUCCESS ? 0 : ERR_IO;
}

int
mqtt_publish(struct mqtt *m, const char *topic, const char *payload, bool retain)
{
	if (!m->connected)
		return ERR_IO;
	return mosquitto_publish(m->mosq, NULL, topic, (int)strlen(payload), payload, 1,
	    retain) == MOSQ_ERR_SUCCESS ? 0 : ERR_IO;
}

void
mqtt_disconnect(struct mqtt *m, const char *final_topic, const char *final_payload)
{
	if (!m->connected)
		return;
	if (final_topic != NULL)
		mqtt_publish(m, final_topic, final_payload, true);
	/* Deliver it (QoS 1: until the broker's PUBACK, bounded) before DISCONNECT. */
	for (int waited = 0; waited < FLUSH_MS && mosquitto_want_write(m->mosq); waited += 50) {
		struct pollfd pfd = { .fd = mosquitto_socket(m->mosq), .events = POLLOUT };
		if (pfd.fd < 0 || poll(&pfd, 1, 50) < 0 ||
		    mosquitto_loop_write(m->mosq, 1) != MOSQ_ERR_SUCCESS)
			break;
	}
	mosquitto_disconnect(m->mosq);
	m->connected = false;
}
