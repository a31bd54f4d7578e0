/* config.h: outpostd's settings: embedded defaults, then the config file, then the command line. */
#ifndef OUTPOST_CONFIG_H
#define OUTPOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/limits.h"

/* HostKey lines: libssh serves one key per type (ed25519, ECDSA, RSA). */
#define CONFIG_MAX_HOSTKEYS	3

struct config {
	char *state_dir;			/* owned */
	char *store;				/* owned Store spec (store_open_spec); NULL = sqlite in state_dir */
	char *host_keys[CONFIG_MAX_HOSTKEYS];	/* owned paths, in file order; none = <state>/ssh_host_ed25519_key */
	int nhost_keys;
	char *public_addr;			/* owned; NULL = <hostname>:<first listen port> */
	char *listen[LIM_LISTEN];		/* owned "ADDR:PORT" strings */
	int nlisten;
	int keepalive_interval;			/* seconds of silence before a keepalive */
	int keepalive_count_max;		/* unanswered intervals before dropping */
	int login_grace_time;			/* seconds to authenticate */
	int max_auth_tries;			/* failed key attempts per connection */
	int refuse_wait;			/* seconds to wait for a refused client's first bytes */
	char *max_startups;			/* "begin:rate:full" */
	int per_source_max_startups;
	int penalty_failures;			/* failures within a minute before a block */
	int penalty_min, penalty_max;		/* block seconds: first, cap */
	char *penalty_exempt;			/* CIDR list, "" for none */
	int max_sessions_per_principal;
	char *kex, *ciphers, *macs;		/* crypto policy, comma-separated */
	char *pubkey_algorithms, *hostkey_algorithms;
	char *user;				/* drop root for this user */
	bool allow_root;			/* keep root if that user is missing */
	/* On-demand devices (MQTT); mqtt_url NULL = off. All owned. */
	char *mqtt_url;				/* mqtt://HOST[:PORT] or mqtts://... */
	char *mqtt_cafile, *mqtt_cert, *mqtt_key;	/* TLS files, NULL = none */
	char *mqtt_topic;			/* prefix template with {fleet} and {name} */
	char *mqtt_client_id;			/* NULL = outpostd-<hostname> */
	int wake_timeout;			/* seconds a woken device has to register */
	char *metrics_listen;			/* owned "ADDR:PORT" of /metrics; NULL = off */
	char *proxy_protocol;			/* owned ProxyProtocol address list; NULL = off */
	char *node_name;			/* NodeName, a label; NULL until config_node_defaults */
	char *peer_address;			/* PeerAddress "host:port", "" = none (peers cannot reach it) */
	char *node_key;				/* NodeKey path; NULL = <state>/node_key */
	int log_level;				/* enum log_level */
	bool syslog;
	bool audit_syslog;			/* each audit record to syslog too */
	int audit_queue_max;			/* records waiting before logins are refused */
};

/* Fills in the embedded defaults (state dir from $OUTPOST_STATE or /var/lib/outpost). */
void config_defaults(struct config *c);
/*
 * Reads "Keyword value" lines from path ('#' comments, case-insensitive
 * keywords). On error returns ERR_CONFIG and writes "path:line: reason" to
 * why (whylen bytes). Settings present in the file replace defaults.
 */
int config_load(struct config *c, const char *path, char *why, size_t whylen);
/* Sets one keyword (also used for the file); returns 0 or ERR_CONFIG with why. */
int config_set(struct config *c, const char *key, const char *value, char *why, size_t whylen);
/* Replaces the listen list with a single address (first -l), or appends. */
int config_add_listen(struct config *c, const char *addr, bool replace);
/* Prints the effective configuration, one "keyword value" per line. */
/*
 * After the file and the command line: NodeName from the host name (its
 * first DNS component, made a label), PeerAddress from the first Listen (a
 * wildcard address becomes the host name), NodeKey <state>/node_key.
 * ERR_CONFIG (why says so) if the host name makes no label.
 */
int config_node_defaults(struct config *c, char *why, size_t whylen);
void config_dump(const struct config *c, FILE *f);
void config_free(struct config *c);

#endif
