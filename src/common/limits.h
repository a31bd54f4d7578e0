/*
 * limits.h: every cap on untrusted input in one table of named limits.
 * Module headers may give a limit a local name (MQTT_PAYLOAD_MAX) defined
 * as one of these; the number lives here.
 */
#ifndef OUTPOST_LIMITS_H
#define OUTPOST_LIMITS_H

#define LIM_LABEL		63	/* one DNS label: device or fleet name */
#define LIM_TARGET		(LIM_LABEL * 2 + 1)	/* name.fleet */
#define LIM_USERNAME		63	/* user names follow label rules */
#define LIM_KEYLINE		16384	/* one OpenSSH public key line */
#define LIM_ACCEPT_WAITING	4096	/* connections accepted while no handshake may start */
#define LIM_ACCEPT_WAITING_MIN	256	/* ... at least, whatever the login rate */
#define LIM_ACCEPT_WAIT_S	5	/* ... at most this many seconds of logins at the recent rate */
#define LIM_BUSY_RATE_MIN	10	/* logins a second before a full list answers "busy" (server.c) */
#define LIM_BUSY_DRAIN_MAX	16384	/* a client answered busy: at most this many bytes read (and dropped) */
#define LIM_EXEC_CMD		4096	/* an exec request's command line */
#define LIM_EXEC_ARGS		64	/* words in an exec command line */
#define LIM_EXEC_OUTPUT		(16u << 20)	/* output of one remote command */
#define LIM_CONFIG_LINE		1024	/* one line of the config file */
#define LIM_STORE_SPEC		1024	/* a Store spec: sqlite:PATH or a postgresql:// URI */
#define LIM_SERVICES		32	/* forwarded ports per device session */
#define LIM_CHANNELS		256	/* open channels per session */
#define LIM_ENROLL_STDIN	4096	/* stdin an enroll login may send; more ends it */
#define LIM_PEER_STRING		256	/* longest peer string we keep or log */
#define LIM_TOKEN		512	/* a whole enrollment token */
#define LIM_LISTEN		16	/* -l addresses */
#define LIM_EXEC_STDIN		(LIM_KEYLINE * 2)	/* stdin of a command that reads it (`--key -`) */
#define LIM_EXEC_QUEUE		1024	/* remote commands queued or running (a device's `report` storm) */
#define LIM_EXEC_PER_SESSION	8	/* of them, one session's */
#define LIM_PEER_IP		47	/* a source address kept for per-source limits */
#define LIM_REFUSAL_AUDITS	16	/* refusals logged and audited per session; more are only counted */
#define LIM_HOSTKEY_PROBES	4	/* plain devices' sshds probed for host keys at once, server-wide */
#define LIM_HOSTKEY_QUEUE	4096	/* probes waiting their turn (~600 bytes each); more are dropped (counted) */
#define LIM_HOSTKEY_RECENT	4096	/* device ports remembered as recently probed */
#define LIM_PEERS		64	/* peer nodes this node holds a connection to */
#define LIM_PEER_PENDING	64	/* routes waiting for their open on one peer connection */
#define LIM_PEER_IDLE_S		60	/* a peer connection without channels is closed after this */
#define LIM_PEER_BACKOFF_MAX_S	30	/* longest wait before a failed peer node is tried again */
#define LIM_STORE_QUEUE		65536	/* outpostd's writes waiting for the store thread (coalesced per device, session) */

/* Several nodes (outpostd processes on one PostgreSQL store) */
#define LIM_HOSTPORT		264	/* a node's PeerAddress "host:port" ("[v6]:port"), with its NUL */
#define LIM_PUBKEY_TEXT		1024	/* a node key's public half "TYPE BASE64", with its NUL */
#define LIM_NODE_VERSION	32	/* a node's outpost version string, with its NUL */
#define LIM_NODE_HEARTBEAT_S	5	/* seconds between a node's heartbeats */
#define LIM_NODE_DOWN_S		20	/* a node whose heartbeat is older is down; its devices offline */

/* MQTT: what the broker sends us, and what we build from it */
#define LIM_MQTT_HOST		253	/* a broker host name */
#define LIM_MQTT_TOPIC		256	/* a topic or a prefix template we build or accept */
#define LIM_MQTT_PAYLOAD	256	/* a control or state payload we act on */

/* outpost-agent: what the server may send or open */
#define LIM_AGENT_SERVER_REPLY	4096	/* stdout or stderr of enroll/report */
#define LIM_AGENT_SPLICE_BUF	32768	/* each direction of one forwarded channel */
#define LIM_AGENT_CHANNELS	256	/* forwarded channels served at once */
#define LIM_AGENT_SERVERS	16	/* server lines in agent.conf (--server at enroll) */
#define LIM_METRICS_FLEETS	4096	/* fleets shown on the metrics page */
#define LIM_METRICS_TEXT	(4u << 20)	/* one metrics page */
#define LIM_METRICS_HTTP_CONNS	8	/* MetricsListen: connections at once (2 per address) */
#define LIM_METRICS_HTTP_REQUEST 8192	/* MetricsListen: bytes of one request's line and headers */
#define LIM_IMPORT_LINES	10000	/* keys or port table rows in one `import sshd` */
#define LIM_DEEP_WINDOW		(4u << 20)	/* relay channel window while its reader keeps up */
#define LIM_DEEP_WINDOWS	4	/* relay channels per principal granted one */
#define LIM_PRINCIPAL_HELD	(16u << 20)	/* bytes buffered for one principal's routes;
						 * above it their sessions are not read */
#define LIM_RELAY_QUEUE		(256u << 10)	/* a technician's bytes queued for one channel; more
						 * wait in libssh, and its window stops the sender */
#define LIM_PRINCIPAL_PINNED	(8u << 20)	/* memory libssh's channel buffers keep for one
						 * principal after the bytes left; above it their
						 * channels no longer leave bytes in libssh */

#endif
