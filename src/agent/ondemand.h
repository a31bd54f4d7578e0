/* ondemand.h: `outpost-agent run --on-demand`: an MQTT session always, the tunnel only when asked. */
#ifndef OUTPOST_AGENT_ONDEMAND_H
#define OUTPOST_AGENT_ONDEMAND_H

#include <libssh/libssh.h>

#include "agent/agentconf.h"

/*
 * Holds an MQTT session with conf->mqtt's broker (reconnecting with jittered
 * backoff), reports its state retained on <prefix>/state ("offline" as the
 * last will), and on `connect` at <prefix>/control brings the tunnel up with
 * key (the same code as `run`), until `disconnect`, conf->mqtt.idle_s with no
 * open channel, or SIGTERM/SIGINT. Returns the exit status (0 when stopped,
 * 1 on a configuration error).
 */
int ondemand_main(const struct agent_conf *conf, ssh_key key);

#endif
