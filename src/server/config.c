/* config.c: outpostd's configuration keywords, defaults and file parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/conffile.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "server/config.h"
#include "common/mqttspec.h"
#include "server/listener.h"
#include "server/penalty.h"
#include "server/proxyhdr.h"
#include "store/store.h"

static int
set_str(char **dst, const char *v)
{
	char *p = strdup(v);
	if (p == NULL)
		return ERR_NOMEM;
	free(*dst);
	*dst = p;
	return 0;
}

static int
parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < lo || n > hi)
		return ERR_CONFIG;
	*out = (int)n;
	return 0;
}

static int
parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return ERR_CONFIG;
	return 0;
}

/*
 * Key exchange: curve25519 only by default. Every client we serve speaks it
 * (OpenSSH >= 6.5, PuTTY >= 0.68, dropbear >= 2013.62, paramiko >= 2.7,
 * asyncssh), it costs the server well under a millisecond, and ssh-audit
 * flags nothing in it. The DH groups cost up to 137 ms of the event loop
 * per handshake (group18) for a peer that sends a random value and does no
 * work, and the NIST curves are flagged by ssh-audit: an admin may list
 * them (KEX_KNOWN), never by default. libssh 0.10 has no sntrup761.
 */
#define DEFAULT_KEX "curve25519-sha256,curve25519-sha256@libssh.org"
static const char *const KEX_KNOWN[] = {
	"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
	"ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
	"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
};
#define DEFAULT_CIPHERS "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com," \
	"aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
#define DEFAULT_MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"
#define DEFAULT_PUBKEY_ALGS "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256," \
	"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com," \
	"rsa-sha2-512,rsa-sha2-256"
#define DEFAULT_HOSTKEY_ALGS "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," \
	"ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"

void
config_defaults(struct config *c)
{
	const char *env = getenv("OUTPOST_STATE");

	memset(c, 0, sizeof(*c));
	c->state_dir = strdup(env != NULL && *env != '\0' ? env : "/var/lib/outpost");
	c->keepalive_interval = 30;
	c->keepalive_count_max = 2;
	c->login_grace_time = 30;
	c->max_auth_tries = 6;
	c->refuse_wait = 10;
	c->log_level = LOG_LVL_INFO;
	c->max_startups = strdup("100:30:1000");
	c->per_source_max_startups = 50;
	c->penalty_failures = 30;
	c->penalty_min = 30;
	c->penalty_max = 600;
	c->penalty_exempt = strdup("127.0.0.0/8,::1/128");
	c->max_sessions_per_principal = 64;
	c->wake_timeout = 20;
	c->audit_queue_max = AUDIT_QUEUE_MAX;
	c->mqtt_topic = strdup(MQTT_DEFAULT_TEMPLATE);
	c->user = strdup("outpost");
	c->kex = strdup(DEFAULT_KEX);
	c->ciphers = strdup(DEFAULT_CIPHERS);
	c->macs = strdup(DEFAULT_MACS);
	c->pubkey_algorithms = strdup(DEFAULT_PUBKEY_ALGS);
	c->hostkey_algorithms = strdup(DEFAULT_HOSTKEY_ALGS);
	if (!c->user || !c->kex || !c->ciphers || !c->macs || !c->pubkey_algorithms || !c->hostkey_algorithms)
		fatal("out of memory");
	if (c->state_dir == NULL || c->max_startups == NULL || c->penalty_exempt == NULL ||
	    c->mqtt_topic == NULL)
		fatal("out of memory");
}

int
config_add_listen(struct config *c, const char *addr, bool replace)
{
	if (replace) {
		for (int i = 0; i < c->nlisten; i++)
			free(c->listen[i]);
		c->nlisten = 0;
	}
	if (c->nlisten >= LIM_LISTEN)
		return ERR_TOOLONG;
	if ((c->listen[c->nlisten] = strdup(addr)) == NULL)
		return ERR_NOMEM;
	c->nlisten++;
	return 0;
}

/* One entry per keyword: the config file's dispatch table. */
struct keyword {
	const char *name;
	int (*set)(struct config *c, const char *v);
};

static int kw_listen(struct config *c, const char *v) { return config_add_listen(c, v, false); }
static int kw_state(struct config *c, const char *v) { return set_str(&c->state_dir, v); }
static int kw_public(struct config *c, const char *v) { return set_str(&c->public_addr, v); }
static int kw_ka_int(struct config *c, const char *v) { return parse_int(v, 1, 3600, &c->keepalive_interval); }
static int kw_ka_max(struct config *c, const char *v) { return parse_int(v, 1, 100, &c->keepalive_count_max); }
static int kw_grace(struct config *c, const char *v) { return parse_int(v, 1, 600, &c->login_grace_time); }
static int kw_tries(struct config *c, const char *v) { return parse_int(v, 1, 100, &c->max_auth_tries); }
static int kw_syslog(struct config *c, const char *v) { return parse_bool(v, &c->syslog); }
static int kw_asyslog(struct config *c, const char *v) { return parse_bool(v, &c->audit_syslog); }
static int kw_aqueue(struct config *c, const char *v) { return parse_int(v, 1, 1000000, &c->audit_queue_max); }
static int kw_psrc(struct config *c, const char *v) { return parse_int(v, 1, 100000, &c->per_source_max_startups); }
static int kw_pfail(struct config *c, const char *v) { return parse_int(v, 1, 100000, &c->penalty_failures); }
static int kw_pmin(struct config *c, const char *v) { return parse_int(v, 1, 86400, &c->penalty_min); }
static int kw_pmax(struct config *c, const char *v) { return parse_int(v, 1, 86400 * 7, &c->penalty_max); }
static int kw_psess(struct config *c, const char *v) { return parse_int(v, 1, 100000, &c->max_sessions_per_principal); }

/* An algorithm list: names of [a-z0-9@.-] separated by commas. */
static int
set_algs(char **dst, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 1000 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789@.-,") != n ||
	    v[0] == ',' || v[n - 1] == ',' || strstr(v, ",,") != NULL)
		return ERR_CONFIG;
	return set_str(dst, v);
}

static int kw_user(struct config *c, const char *v) { return set_str(&c->user, v); }
static int kw_allowroot(struct config *c, const char *v) { return parse_bool(v, &c->allow_root); }

/* Why the last keyword setter refused its value, when it can say more than "bad value". */
static char set_why[200];

/* KexAlgorithms: each name must be one outpostd offers (KEX_KNOWN). */
static int
kw_kex(struct config *c, const char *v)
{
	const char *p = v;

	while (*p != '\0') {
		size_t n = strcspn(p, ","), i;
		for (i = 0; i < sizeof(KEX_KNOWN) / sizeof(KEX_KNOWN[0]); i++)
			if (strlen(KEX_KNOWN[i]) == n && strncmp(p, KEX_KNOWN[i], n) == 0)
				break;
		if (i == sizeof(KEX_KNOWN) / sizeof(KEX_KNOWN[0])) {
			snprintf(set_why, sizeof(set_why), "'%.*s' is not a key exchange outpostd "
			    "offers: curve25519-sha256[@libssh.org], ecdh-sha2-nistp256/384/521, "
			    "diffie-hellman-group14-sha256/16-sha512/18-sha512", (int)(n > 40 ? 40 : n), p);
			return ERR_CONFIG;
		}
		p += n + (p[n] == ',');
	}
	return set_algs(&c->kex, v);
}
static int kw_ciphers(struct config *c, const char *v) { return set_algs(&c->ciphers, v); }
static int kw_macs(struct config *c, const char *v) { return set_algs(&c->macs, v); }
static int kw_pkalgs(struct config *c, const char *v) { return set_algs(&c->pubkey_algorithms, v); }
static int kw_hkalgs(struct config *c, const char *v) { return set_algs(&c->hostkey_algorithms, v); }

static int
kw_mqtt(struct config *c, const char *v)
{
	struct mqtt_url u;

	if (strcasecmp(v, "none") == 0) {
		free(c->mqtt_url);
		c->mqtt_url = NULL;
		return 0;
	}
	return mqttspec_url_parse(v, &u) == 0 ? set_str(&c->mqtt_url, v) : ERR_CONFIG;
}

/* A file name: no control bytes (it is printed by -T and logged). */
static int
set_path(char **dst, const char *v)
{
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			return ERR_CONFIG;
	return set_str(dst, v);
}

/* HostKey accumulates, as in sshd_config: one line per key file, each path once. */
static int
kw_hostkey(struct config *c, const char *v)
{
	for (int i = 0; i < c->nhost_keys; i++)
		if (strcmp(c->host_keys[i], v) == 0)
			return ERR_CONFIG;
	if (c->nhost_keys >= CONFIG_MAX_HOSTKEYS)
		return ERR_CONFIG;
	c->host_keys[c->nhost_keys] = NULL;
	int r = set_path(&c->host_keys[c->nhost_keys], v);
	if (r == 0)
		c->nhost_keys++;
	return r;
}

static int kw_mqtt_ca(struct config *c, const char *v) { return set_path(&c->mqtt_cafile, v); }
static int kw_mqtt_cert(struct config *c, const char *v) { return set_path(&c->mqtt_cert, v); }
static int kw_mqtt_key(struct config *c, const char *v) { return set_path(&c->mqtt_key, v); }
static int kw_wake(struct config *c, const char *v) { return parse_int(v, 1, 600, &c->wake_timeout); }

static int
kw_mqtt_topic(struct config *c, const char *v)
{
	return mqttspec_template_check(v, true) == 0 ? set_str(&c->mqtt_topic, v) : ERR_CONFIG;
}

static int
kw_mqtt_id(struct config *c, const char *v)
{
	if (!mqttspec_client_id_ok(v))
		return ERR_CONFIG;
	return set_str(&c->mqtt_client_id, v);
}

/* MetricsListen ADDR:PORT (a port is required), or none. */
static int
kw_metrics(struct config *c, const char *v)
{
	char host[256], port[8];

	if (strcasecmp(v, "none") == 0) {
		free(c->metrics_listen);
		c->metrics_listen = NULL;
		return 0;
	}
	if (listener_parse(v, host, sizeof(host), port, sizeof(port)) != 0 || port[0] == '\0')
		return ERR_CONFIG;
	return set_path(&c->metrics_listen, v);
}

static int
kw_startups(struct config *c, const char *v)
{
	struct penalty_config pc;
	return penalty_parse_startups(v, &pc) == 0 ? set_str(&c->max_startups, v) : ERR_CONFIG;
}

static int
kw_exempt(struct config *c, const char *v)
{
	if (strcasecmp(v, "none") == 0)
		v = "";
	return penalty_check_exempt(v) == 0 ? set_str(&c->penalty_exempt, v) : ERR_CONFIG;
}

static int
kw_proxy(struct config *c, const char *v)
{
	char why[160];

	if (strcasecmp(v, "none") == 0) {
		free(c->proxy_protocol);
		c->proxy_protocol = NULL;
		return 0;
	}
	if (proxy_allow_parse(v, NULL, why, sizeof(why)) != 0) {
		snprintf(set_why, sizeof(set_why), "%s", why + strlen("ProxyProtocol: "));
		return ERR_CONFIG;
	}
	return set_str(&c->proxy_protocol, v);
}

/* NodeName: a label (names.h), case-insensitive. */
static int
kw_nodename(struct config *c, const char *v)
{
	char label[LIM_LABEL + 1];

	if (names_label_normalize(v, label, sizeof(label)) != 0) {
		snprintf(set_why, sizeof(set_why), "'%.*s' is not a node name (a label: a-z, 0-9, '-', "
		    "at most %d characters)", 80, v, LIM_LABEL);
		return ERR_CONFIG;
	}
	return set_str(&c->node_name, label);
}

/* PeerAddress HOST:PORT (a port is required), or none. */
static int
kw_peeraddr(struct config *c, const char *v)
{
	char host[256], port[8];

	if (strcasecmp(v, "none") == 0)
		return set_str(&c->peer_address, "");
	if (strlen(v) >= LIM_HOSTPORT || listener_parse(v, host, sizeof(host), port, sizeof(port)) != 0 ||
	    port[0] == '\0' || host[0] == '\0') {
		snprintf(set_why, sizeof(set_why), "not HOST:PORT or none");
		return ERR_CONFIG;
	}
	return set_path(&c->peer_address, v);
}

static int kw_nodekey(struct config *c, const char *v) { return set_path(&c->node_key, v); }

/* Store sqlite | sqlite:PATH | postgresql://URI: the form is checked here, the store itself at start. */
static int
kw_store(struct config *c, const char *v)
{
	if (store_spec_check(v, set_why, sizeof(set_why)) != 0)
		return ERR_CONFIG;
	return set_str(&c->store, v);
}

static int
kw_loglevel(struct config *c, const char *v)
{
	char low[16];
	size_t i;

	for (i = 0; v[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] - 'A' + 'a' : v[i]);
	low[i] = '\0';
	int l = log_level_parse(low);
	if (l < 0)
		return ERR_CONFIG;
	c->log_level = l;
	return 0;
}

static const struct keyword keywords[] = {
	{ "Listen", kw_listen },
	{ "StateDir", kw_state },
	{ "Store", kw_store },
	{ "HostKey", kw_hostkey },
	{ "PublicAddress", kw_public },
	{ "KeepaliveInterval", kw_ka_int },
	{ "KeepaliveCountMax", kw_ka_max },
	{ "LoginGraceTime", kw_grace },
	{ "MaxAuthTries", kw_tries },
	{ "LogLevel", kw_loglevel },
	{ "Syslog", kw_syslog },
	{ "AuditSyslog", kw_asyslog },
	{ "AuditQueueMax", kw_aqueue },
	{ "MaxStartups", kw_startups },
	{ "PerSourceMaxStartups", kw_psrc },
	{ "PerSourcePenaltyFailures", kw_pfail },
	{ "PerSourcePenaltyMin", kw_pmin },
	{ "PerSourcePenaltyMax", kw_pmax },
	{ "PerSourcePenaltyExempt", kw_exempt },
	{ "MaxSessionsPerPrincipal", kw_psess },
	{ "User", kw_user },
	{ "AllowRoot", kw_allowroot },
	{ "KexAlgorithms", kw_kex },
	{ "Ciphers", kw_ciphers },
	{ "MACs", kw_macs },
	{ "PubkeyAcceptedAlgorithms", kw_pkalgs },
	{ "HostKeyAlgorithms", kw_hkalgs },
	{ "MqttURL", kw_mqtt },
	{ "MqttCAFile", kw_mqtt_ca },
	{ "MqttCertFile", kw_mqtt_cert },
	{ "MqttKeyFile", kw_mqtt_key },
	{ "MqttTopic", kw_mqtt_topic },
	{ "MqttClientID", kw_mqtt_id },
	{ "WakeTimeout", kw_wake },
	{ "MetricsListen", kw_metrics },
	{ "ProxyProtocol", kw_proxy },
	{ "NodeName", kw_nodename },
	{ "PeerAddress", kw_peeraddr },
	{ "NodeKey", kw_nodekey },
};

int
config_set(struct config *c, const char *key, const char *value, char *why, size_t whylen)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strcasecmp(key, keywords[i].name) != 0)
			continue;
		set_why[0] = '\0';
		int r = keywords[i].set(c, value);
		if (r != 0 && set_why[0] != '\0')
			snprintf(why, whylen, "bad value for %s: %s", keywords[i].name, set_why);
		else if (r != 0)
			snprintf(why, whylen, "bad value '%s' for %s", value, keywords[i].name);
		return r == 0 ? 0 : ERR_CONFIG;
	}
	snprintf(why, whylen, "unknown keyword '%s'", key);
	return ERR_CONFIG;
}

/* conffile_read's callback: one line to config_set. */
static int
set_line(void *arg, const char *key, const char *value, char *why, size_t whylen)
{
	return config_set(arg, key, value, why, whylen);
}

int
config_load(struct config *c, const char *path, char *why, size_t whylen)
{
	return conffile_read(path, set_line, c, why, whylen);
}

int
config_node_defaults(struct config *c, char *why, size_t whylen)
{
	char host[256] = "", label[LIM_LABEL + 1], lhost[256] = "", port[8] = "2222", addr[LIM_HOSTPORT + 8];

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (c->node_name == NULL) {
		if (names_from_hostname(host, label, sizeof(label)) != 0) {
			snprintf(why, whylen, "the host name '%.80s' makes no node name: set NodeName", host);
			return ERR_CONFIG;
		}
		if (set_str(&c->node_name, label) != 0)
			fatal("out of memory");
	}
	if (c->peer_address == NULL) {
		if (c->nlisten > 0)
			listener_parse(c->listen[0], lhost, sizeof(lhost), port, sizeof(port));
		bool wild = lhost[0] == '\0' || strcmp(lhost, "0.0.0.0") == 0 || strcmp(lhost, "::") == 0;
		if (wild)
			snprintf(addr, sizeof(addr), "%s:%s", host[0] ? host : "localhost", port);
		else
			snprintf(addr, sizeof(addr), strchr(lhost, ':') ? "[%s]:%s" : "%s:%s", lhost, port);
		if (set_str(&c->peer_address, strlen(addr) < LIM_HOSTPORT ? addr : "") != 0)
			fatal("out of memory");
	}
	if (c->node_key == NULL) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/node_key", c->state_dir);
		if (set_str(&c->node_key, path) != 0)
			fatal("out of memory");
	}
	return 0;
}

void
config_dump(const struct config *c, FILE *f)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };

	char store[LIM_STORE_SPEC + 1];

	fprintf(f, "StateDir %s\n", c->state_dir);
	store_spec_redact(c->store != NULL ? c->store : "sqlite", store, sizeof(store));
	fprintf(f, "Store %s\n", store);
	for (int i = 0; i < c->nhost_keys; i++)
		fprintf(f, "HostKey %s\n", c->host_keys[i]);
	if (c->nhost_keys == 0)
		fprintf(f, "HostKey %s/ssh_host_ed25519_key\n", c->state_dir);
	for (int i = 0; i < c->nlisten; i++)
		fprintf(f, "Listen %s\n", c->listen[i]);
	if (c->public_addr != NULL)
		fprintf(f, "PublicAddress %s\n", c->public_addr);
	fprintf(f, "KeepaliveInterval %d\n", c->keepalive_interval);
	fprintf(f, "KeepaliveCountMax %d\n", c->keepalive_count_max);
	fprintf(f, "LoginGraceTime %d\n", c->login_grace_time);
	fprintf(f, "MaxAuthTries %d\n", c->max_auth_tries);
	fprintf(f, "MaxStartups %s\n", c->max_startups);
	fprintf(f, "PerSourceMaxStartups %d\n", c->per_source_max_startups);
	fprintf(f, "PerSourcePenaltyFailures %d\n", c->penalty_failures);
	fprintf(f, "PerSourcePenaltyMin %d\n", c->penalty_min);
	fprintf(f, "PerSourcePenaltyMax %d\n", c->penalty_max);
	fprintf(f, "PerSourcePenaltyExempt %s\n", c->penalty_exempt[0] ? c->penalty_exempt : "none");
	fprintf(f, "ProxyProtocol %s\n", c->proxy_protocol ? c->proxy_protocol : "none");
	fprintf(f, "MaxSessionsPerPrincipal %d\n", c->max_sessions_per_principal);
	fprintf(f, "User %s\n", c->user);
	fprintf(f, "AllowRoot %s\n", c->allow_root ? "yes" : "no");
	fprintf(f, "KexAlgorithms %s\n", c->kex);
	fprintf(f, "Ciphers %s\n", c->ciphers);
	fprintf(f, "MACs %s\n", c->macs);
	fprintf(f, "PubkeyAcceptedAlgorithms %s\n", c->pubkey_algorithms);
	fprintf(f, "HostKeyAlgorithms %s\n", c->hostkey_algorithms);
	fprintf(f, "MqttURL %s\n", c->mqtt_url ? c->mqtt_url : "none");
	if (c->mqtt_cafile != NULL)
		fprintf(f, "MqttCAFile %s\n", c->mqtt_cafile);
	if (c->mqtt_cert != NULL)
		fprintf(f, "MqttCertFile %s\n", c->mqtt_cert);
	if (c->mqtt_key != NULL)
		fprintf(f, "MqttKeyFile %s\n", c->mqtt_key);
	fprintf(f, "MqttTopic %s\n", c->mqtt_topic);
	if (c->mqtt_client_id != NULL)
		fprintf(f, "MqttClientID %s\n", c->mqtt_client_id);
	fprintf(f, "WakeTimeout %d\n", c->wake_timeout);
	if (c->metrics_listen != NULL)
		fprintf(f, "MetricsListen %s\n", c->metrics_listen);
	fprintf(f, "LogLevel %s\n", levels[c->log_level]);
	fprintf(f, "Syslog %s\n", c->syslog ? "yes" : "no");
	fprintf(f, "AuditSyslog %s\n", c->audit_syslog ? "yes" : "no");
	fprintf(f, "AuditQueueMax %d\n", c->audit_queue_max);
	if (c->node_name != NULL)
		fprintf(f, "NodeName %s\n", c->node_name);
	if (c->peer_address != NULL)
		fprintf(f, "PeerAddress %s\n", c->peer_address[0] ? c->peer_address : "none");
	if (c->node_key != NULL)
		fprintf(f, "NodeKey %s\n", c->node_key);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->state_dir);
	free(c->store);
	for (int i = 0; i < c->nhost_keys; i++)
		free(c->host_keys[i]);
	free(c->public_addr);
	free(c->max_startups);
	free(c->user);
	free(c->kex);
	free(c->ciphers);
	free(c->macs);
	free(c->pubkey_algorithms);
	free(c->hostkey_algorithms);
	free(c->penalty_exempt);
	free(c->mqtt_url);
	free(c->mqtt_cafile);
	free(c->mqtt_cert);
	free(c->mqtt_key);
	free(c->mqtt_topic);
	free(c->mqtt_client_id);
	free(c->metrics_listen);
	free(c->proxy_protocol);
	free(c->node_name);
	free(c->peer_address);
	free(c->node_key);
	for (int i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	memset(c, 0, sizeof(*c));
}
