/* fuzz_mqttspec.c: on-demand mode's parsers of broker input and user options: URLs, topic templates, received topics, state and control payloads. */
#include "fuzz.h"

#include "common/mqttspec.h"

/* The first byte picks the template a received topic is matched against. */
static const char *const templates[] = {
	MQTT_DEFAULT_TEMPLATE, "{fleet}/{name}", "iot/{name}/x/{fleet}", "t/{name}",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *raw = fuzz_exact(data, size);
	struct mqtt_url u, u2;
	char buf[MQTT_HOST_MAX + 32], topic[MQTT_TOPIC_MAX * 2];
	char fleet[LIM_LABEL + 1], name[LIM_LABEL + 1];

	if (mqttspec_url_parse(s, &u) == 0) {
		FUZZ_CHECK(u.port >= 1 && u.port <= 65535 && u.host[0] != '\0');
		mqttspec_url_format(&u, buf, sizeof(buf));
		FUZZ_CHECK(mqttspec_url_parse(buf, &u2) == 0);
		FUZZ_CHECK(strcmp(u.host, u2.host) == 0 && u.port == u2.port && u.tls == u2.tls);
	}
	/* A template that checks builds topics that match it back. */
	if (mqttspec_template_check(s, true) == 0 &&
	    mqttspec_topic(s, "acme", "pi-hq", "state", topic, sizeof(topic)) == 0) {
		FUZZ_CHECK(mqttspec_topic_match(s, "state", topic, strlen(topic), fleet, name) == 0);
		FUZZ_CHECK(strcmp(fleet, "acme") == 0 && strcmp(name, "pi-hq") == 0);
	}
	mqttspec_template_check(s, false);
	if (size > 0) {
		const char *t = templates[data[0] % (sizeof(templates) / sizeof(templates[0]))];
		if (mqttspec_topic_match(t, "state", raw + 1, size - 1, fleet, name) == 0)
			FUZZ_CHECK(strlen(fleet) <= LIM_LABEL && strlen(name) <= LIM_LABEL);
	}
	enum mqtt_state st = mqttspec_state_parse(raw, size);
	if (st != MQTT_STATE_NONE)
		FUZZ_CHECK(mqttspec_state_from_name(mqttspec_state_name(st)) == st);
	mqttspec_command_parse(raw, size);
	free(s);
	free(raw);
	return 0;
}
