/*
 * mqtt.h: a non-threaded MQTT client for a caller's own poll or epoll loop:
 * the only files that include mosquitto.h. The caller polls mqtt_fd() for
 * reading (and writing while mqtt_want_write()), then calls mqtt_service();
 * handlers run inside mqtt_service() only.
 */
#ifndef OUTPOST_MQTT_H
#define OUTPOST_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mqttspec.h"

struct mqtt;

struct mqtt_params {
	struct mqtt_url url;
	const char *cafile;		/* TLS trust anchors; NULL: the system's */
	const char *certfile;		/* TLS client certificate, or NULL */
	const char *keyfile;		/* its private key, or NULL */
	const char *client_id;		/* NULL: the library makes one up */
	const char *will_topic;		/* retained last will, or NULL */
	const char *will_payload;
	int keepalive_s;		/* MQTT keepalive; 0 means 60 */
};

struct mqtt_handlers {
	void (*on_connect)(void *arg);		/* the broker accepted us */
	/* A message; topic and payload are untrusted and valid during the call. */
	void (*on_message)(void *arg, const char *topic, const void *payload, size_t len,
	    bool retained);
	void *arg;
};

/* Once per process, before mqtt_new. */
void mqtt_init(void);

/*
 * A client for p (strings copied); nothing is connected yet. Returns 0 or
 * ERR_CONFIG / ERR_NOMEM with why. The caller frees with mqtt_free().
 */
int mqtt_new(const struct mqtt_params *p, const struct mqtt_handlers *h, struct mqtt **out,
    char *why, size_t whylen);
void mqtt_free(struct mqtt *m);			/* NULL is a no-op; sends no DISCONNECT */

/*
 * Starts a connection (TCP connect; name resolution may block). The broker's
 * answer arrives through mqtt_service() and on_connect. Returns 0 or ERR_IO
 * with why; call again later (the caller's backoff) after a failure.
 */
int mqtt_connect(struct mqtt *m, char *why, size_t whylen);

/* The socket to poll, or -1 while there is no connection. */
int mqtt_fd(const struct mqtt *m);
/* True while bytes wait to be written (poll for writing too). */
bool mqtt_want_write(const struct mqtt *m);
/* True between on_connect and the loss of the connection. */
bool mqtt_connected(const struct mqtt *m);

/*
 * Reads (if readable), writes (if writable or pending) and runs keepalives.
 * Call after each poll and at least once a second. Returns 0, or ERR_IO
 * when the connection is lost or refused (why says how): the socket is
 * closed, and the caller reconnects with mqtt_connect after its backoff.
 */
int mqtt_service(struct mqtt *m, bool readable, bool writable, char *why, size_t whylen);

/* Subscribes at QoS 1. ERR_IO if not connected. */
int mqtt_subscribe(struct mqtt *m, const char *filter);
/* Publishes a text payload at QoS 1. ERR_IO if not connected. */
int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, bool retain);
/* Publishes the last will's payload ourselves and says DISCONNECT (a clean stop). */
void mqtt_disconnect(struct mqtt *m, const char *final_topic, const char *final_payload);

#endif
