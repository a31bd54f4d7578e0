/* agent.h: outpost-agent's constants: defaults, timers and caps on what peers and files may hand it. */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include "common/limits.h"

#define AGENT_STATE_DEFAULT	"/var/lib/outpost-agent"
#define AGENT_STATE_ENV		"OUTPOST_AGENT_STATE"
#define AGENT_KEY_FILE		"id_ed25519"
#define AGENT_CONF_FILE		"agent.conf"
#define AGENT_USER_ENROLL	"enroll"
#define AGENT_USER_RUN		"agent"

#define AGENT_TCP_CONNECT_MS	10000	/* one TCP connect to the server */
#define AGENT_SSH_TIMEOUT_S	20	/* blocking SSH steps: handshake, auth, register */
/* Silence before a keepalive: well above outpostd's default KeepaliveInterval
 * (15 s; its probes arrive every 15-20 s), so while the server probes us we
 * only answer, and an idle link costs one probe and one reply per interval
 * instead of two of each. */
#define AGENT_KEEPALIVE_MS	30000
#define AGENT_SILENCE_MAX_MS	45000	/* silence before dropping the connection */
#define AGENT_TCP_USER_TIMEOUT_MS 45000
#define AGENT_STABLE_MS		60000	/* a session this old resets the backoff */
#define AGENT_BACKOFF_BASE_MS	1000
#define AGENT_BACKOFF_CAP_MS	60000
#define AGENT_WATCHDOG_MS	10000	/* WATCHDOG=1 at most this often */

#define AGENT_SERVER_REPLY_MAX	LIM_AGENT_SERVER_REPLY
#define AGENT_SPLICE_BUF	LIM_AGENT_SPLICE_BUF
#define AGENT_SPLICE_TURN	(512 * 1024)	/* bytes per direction per loop turn */
#define AGENT_DEEP_WINDOW	(4u << 20)	/* channel window while the service keeps up */
#define AGENT_CHANNELS_MAX	LIM_AGENT_CHANNELS

#endif
