/*
 * mqttspec.h: what on-demand mode reads from users and from the broker:
 * broker URLs, topic prefix templates, and the control and state payloads
 * (PROTOCOL.md, "On-demand tunnels over MQTT"). Pure parsing, no I/O.
 */
#ifndef OUTPOST_MQTTSPEC_H
#define OUTPOST_MQTTSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"

#define MQTT_HOST_MAX		LIM_MQTT_HOST
#define MQTT_TOPIC_MAX		LIM_MQTT_TOPIC
#define MQTT_PAYLOAD_MAX	LIM_MQTT_PAYLOAD
#define MQTT_DEFAULT_TEMPLATE	"outpost/{fleet}/{name}/tunnel"
#define MQTT_PORT_PLAIN		1883
#define MQTT_PORT_TLS		8883

struct mqtt_url {
	char host[MQTT_HOST_MAX + 1];	/* without brackets */
	int port;			/* 1-65535 */
	bool tls;			/* mqtts:// */
};

/*
 * Parses "mqtt://HOST[:PORT]" or "mqtts://HOST[:PORT]" (HOST a DNS name,
 * IPv4 address or [IPv6] literal; default ports 1883 and 8883; an optional
 * single trailing '/'). No user info, path, query or fragment. Returns 0
 * or ERR_INVAL; out is cleared on entry.
 */
int mqttspec_url_parse(const char *s, struct mqtt_url *out);

/* Writes u back as a URL (dstlen >= MQTT_HOST_MAX + 20). */
void mqttspec_url_format(const struct mqtt_url *u, char *dst, size_t dstlen);

/*
 * Checks a topic prefix template: 1..MQTT_TOPIC_MAX - 9 bytes of printable
 * ASCII, no '+', '#', NUL, leading or trailing '/', empty level or "$" at
 * the start; "{fleet}" and "{name}" may each appear at most once and only as
 * a whole level. need_both requires both placeholders (outpostd must learn
 * which device a state topic belongs to). Returns 0 or ERR_INVAL.
 */
int mqttspec_template_check(const char *tmpl, bool need_both);

/*
 * Builds "<prefix>/<leaf>" from a checked template, replacing {fleet} and
 * {name}; leaf "" gives the prefix alone, "+" placeholders give the wildcard
 * subscription when fleet and name are "+". Returns 0 or ERR_TOOLONG.
 */
int mqttspec_topic(const char *tmpl, const char *fleet, const char *name, const char *leaf,
    char *dst, size_t dstlen);

/*
 * Matches a received topic (len bytes, untrusted, not terminated) against
 * "<template>/<leaf>": every literal level equal, placeholders filled by
 * valid labels (names.h; upper case refused). Fills fleet and name
 * (LIM_LABEL + 1 bytes each; "" if the template lacks one). Returns 0 or
 * ERR_INVAL.
 */
int mqttspec_topic_match(const char *tmpl, const char *leaf, const char *topic, size_t len,
    char *fleet, char *name);

/* An MQTT client identifier we accept from a user: 1-128 bytes of printable
 * ASCII without spaces (what every broker takes). */
bool mqttspec_client_id_ok(const char *id);

enum mqtt_state { MQTT_STATE_NONE = 0, MQTT_STATE_STANDBY, MQTT_STATE_CONNECTED,
	MQTT_STATE_DISCONNECTED, MQTT_STATE_OFFLINE };
enum mqtt_command { MQTT_CMD_NONE = 0, MQTT_CMD_CONNECT, MQTT_CMD_DISCONNECT };

/*
 * Parses a state or control payload (len bytes, untrusted): the word, then
 * optionally "|" and parameters we ignore (seed 003 sends
 * "connected|port=63943"); one trailing newline is tolerated. Words are
 * lower case; anything else, NULs and payloads over MQTT_PAYLOAD_MAX give
 * MQTT_STATE_NONE / MQTT_CMD_NONE.
 */
enum mqtt_state mqttspec_state_parse(const void *payload, size_t len);
enum mqtt_command mqttspec_command_parse(const void *payload, size_t len);

/* "standby", "connected", "disconnected", "offline", "" for NONE. */
const char *mqttspec_state_name(enum mqtt_state s);
/* The state a word names (as mqttspec_state_name writes it), or NONE. */
enum mqtt_state mqttspec_state_from_name(const char *name);

#endif
