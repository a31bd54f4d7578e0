/* node.c: this outpostd's node key, its row in the store's nodes, its heartbeat (node.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "common/err.h"
#include "common/hostport.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "server/node.h"
#include "server/server.h"
#include "server/storeq.h"
#include "store/store.h"

#define NODE_KEY_PATH_MAX	4096

static int64_t started;		/* this node's start in its row (store_node_stop names it) */

/* Loads (generating at first start) the node key; its public half as "TYPE BASE64" into pub. */
static void
load_node_key(struct server *srv, char *pub, size_t len)
{
	const char *path = srv->cfg->node_key;
	char *b64 = NULL;
	struct stat sb;

	if (strlen(path) >= NODE_KEY_PATH_MAX)
		fatal("NodeKey %s: path too long", path);
	if (lstat(path, &sb) != 0) {
		if (errno != ENOENT)
			fatal("NodeKey %s: %s", path, strerror(errno));
		server_generate_key(path, "node key");
	} else if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0)
		fatal("refusing to start: the node key %s must be a regular file of mode 0600 (not readable "
		    "by group or others)", path);
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &srv->node_key) != SSH_OK)
		fatal("cannot read the node key %s", path);
	if (ssh_pki_export_pubkey_base64(srv->node_key, &b64) != SSH_OK ||
	    (size_t)snprintf(pub, len, "%s %s", ssh_key_type_to_char(ssh_key_type(srv->node_key)), b64) >= len)
		fatal("the node key %s is not usable", path);
	ssh_string_free_char(b64);
}

/*
 * The peer address other nodes dial, as an IP: they dial it from the loop,
 * which resolves no names, so a name (PeerAddress host:port, or the host
 * name a wildcard Listen defaults to) is resolved here, once, at start.
 * One that does not resolve, or resolves to loopback although the node
 * listens on every address (Debian maps its host name to 127.0.1.1), is
 * registered as it is, with a warning: peers on other machines could not
 * reach it.
 */
static void
peer_addr_resolve(const char *addr, char *out, size_t len)
{
	struct hostport hp;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res = NULL;
	unsigned char bin[sizeof(struct in6_addr)];
	char ip[INET6_ADDRSTRLEN];

	snprintf(out, len, "%s", addr);
	if (addr[0] == '\0' || hostport_parse(addr, &hp) != 0 ||
	    inet_pton(AF_INET, hp.host, bin) == 1 || inet_pton(AF_INET6, hp.host, bin) == 1)
		return;
	int r = getaddrinfo(hp.host, NULL, &hints, &res);
	if (r != 0 || res == NULL) {
		log_warn("PeerAddress %s: %s does not resolve (%s): other nodes cannot route to this "
		    "node's devices; set PeerAddress to an address they reach", addr, hp.host,
		    r != 0 ? gai_strerror(r) : "no address");
		return;
	}
	const void *a = res->ai_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
	if (inet_ntop(res->ai_family, a, ip, sizeof(ip)) != NULL) {
		struct hostport n = { .port = hp.port, .v6 = res->ai_family == AF_INET6 };
		snprintf(n.host, sizeof(n.host), "%s", ip);
		hostport_format(&n, out, len);
		bool loop = res->ai_family == AF_INET6 ? strcmp(ip, "::1") == 0 : strncmp(ip, "127.", 4) == 0;
		if (loop)
			log_warn("PeerAddress %s resolves to %s, a loopback address: only nodes on this "
			    "machine can reach it; set PeerAddress to an address the others reach", addr, out);
	}
	freeaddrinfo(res);
}

void
node_start(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct store_node n;
	int64_t id = 0;
	int r;

	memset(&n, 0, sizeof(n));
	load_node_key(srv, n.node_key, sizeof(n.node_key));
	if (snprintf(n.name, sizeof(n.name), "%s", cfg->node_name) >= (int)sizeof(n.name) ||
	    strlen(cfg->peer_address) >= sizeof(n.peer_addr))
		fatal("NodeName or PeerAddress too long");
	peer_addr_resolve(cfg->peer_address, n.peer_addr, sizeof(n.peer_addr));
	snprintf(n.version, sizeof(n.version), "%s", OUTPOST_VERSION);
	n.started = n.heartbeat = timefmt_now();
	if ((r = store_node_register(srv->st, &n, &id)) != 0)
		fatal("refusing to start: %s", store_errmsg(srv->st));
	srv->node_id = id;
	started = n.started;
	snprintf(srv->node_name, sizeof(srv->node_name), "%s", n.name);
	srv->next_conn_id = (uint64_t)id << STORE_NODE_SHIFT;
	srv->next_beat_ms = srv->now_ms + LIM_NODE_HEARTBEAT_S * 1000;
	log_info("node %s (id %lld), peers reach it at %s", n.name, (long long)id,
	    n.peer_addr[0] ? n.peer_addr : "no address (PeerAddress none)");
}

void
node_tick(struct server *srv)
{
	if (srv->node_id <= 0 || srv->now_ms < srv->next_beat_ms)
		return;
	srv->next_beat_ms = srv->now_ms + LIM_NODE_HEARTBEAT_S * 1000;
	if (storeq_node_heartbeat(srv, timefmt_now()) != 0)
		log_debug("store: heartbeat of node %s: %s", srv->node_name, store_errmsg(srv->st));
}

void
node_free(struct server *srv)
{
	/* a clean stop: down for the other nodes now, not LIM_NODE_DOWN_S after the last beat */
	if (srv->node_id > 0 && storeq_node_stop(srv, started) != 0)
		log_warn("store: cannot mark node %s stopped: %s", srv->node_name, store_errmsg(srv->st));
	ssh_key_free(srv->node_key);
	srv->node_key = NULL;
}
