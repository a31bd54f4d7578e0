/* conn.c: connecting to the jump server and proving both identities: its host key against our pin, then our key. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agentconf.h"
#include "agent/conn.h"
#include "ssh/disconnect.h"
#include "common/tcp.h"
#include "common/err.h"
#include "common/log.h"

static void
tune(int fd)
{
	tcp_tune(fd, 30, 3, AGENT_TCP_USER_TIMEOUT_MS);
}

/* One non-blocking connect with a deadline; returns 0 or an errno value. */
static int
connect_one(int fd, const struct addrinfo *a)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	int n = poll(&pfd, 1, AGENT_TCP_CONNECT_MS);
	if (n == 0)
		return ETIMEDOUT;
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

/* A connected fd to one address, or -1 (why set). */
static int
tcp_connect(const struct addrinfo *a, char *why, size_t whylen)
{
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	int fd, err;

	getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "cannot connect to %s port %s: %s", host, serv, strerror(errno));
		return -1;
	}
	tune(fd);
	err = connect_one(fd, a);
	if (err != 0) {
		close(fd);
		snprintf(why, whylen, "cannot connect to %s port %s: %s", host, serv, strerror(err));
		return -1;
	}
	return fd;
}

static void
set_options(ssh_session s, const struct conn_params *p, int fd)
{
	unsigned int port = (unsigned int)p->server->port;
	long timeout = AGENT_SSH_TIMEOUT_S;
	bool no = false;

	ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);	/* no ~/.ssh/config */
	ssh_options_set(s, SSH_OPTIONS_HOST, p->server->host);
	ssh_options_set(s, SSH_OPTIONS_PORT, &port);
	ssh_options_set(s, SSH_OPTIONS_USER, p->user);
	ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");	/* we pin instead */
	ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
	ssh_options_set(s, SSH_OPTIONS_FD, &fd);
}

/* 0 if the host key's SHA-256 is the pin, else ERR_DENIED with the loud message. */
static int
check_pin(ssh_session s, const struct conn_params *p, char *why, size_t whylen)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char got[AGENTCONF_FP_MAX] = "(unknown)", want[AGENTCONF_FP_MAX], addr[HOSTPORT_STR_MAX];
	int ok;

	if (ssh_get_server_publickey(s, &key) == SSH_OK &&
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0 &&
	    hlen == TOKEN_HOSTKEY_LEN)
		agentconf_fingerprint(hash, got, sizeof(got));
	ok = hash != NULL && hlen == TOKEN_HOSTKEY_LEN && memcmp(hash, p->pin, hlen) == 0;
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	if (ok)
		return 0;
	agentconf_fingerprint(p->pin, want, sizeof(want));
	hostport_format(p->server, addr, sizeof(addr));
	snprintf(why, whylen, "the server at %s presents host key %s, but %s pins %s: "
	    "refusing to connect (wrong server or a man in the middle)",
	    addr, got, p->pin_source, want);
	return ERR_DENIED;
}

static int
authenticate(ssh_session s, const struct conn_params *p, char *why, size_t whylen)
{
	int rc = ssh_userauth_publickey(s, NULL, p->key);

	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR) {
		snprintf(why, whylen, "authentication failed: %s", ssh_get_error(s));
		return ERR_SSH;
	}
	snprintf(why, whylen, "the server refused this device's key (user %s): "
	    "not enrolled, or removed", p->user);
	return ERR_KEY;
}

/* Connect, handshake, pin, authenticate on one address; 0 or the ERR_* code. */
static int
open_addr(struct conn_params *p, const struct addrinfo *a, ssh_session *out,
    char *why, size_t whylen)
{
	ssh_session s;
	int fd, r;

	fd = tcp_connect(a, why, whylen);
	if (fd < 0)
		return ERR_IO;
	s = ssh_new();
	if (s == NULL) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	set_options(s, p, fd);		/* from here on libssh owns fd */
	if (ssh_connect(s) != SSH_OK) {
		snprintf(why, whylen, "SSH handshake failed: %s", ssh_get_error(s));
		r = disconnect_busy_parse(ssh_get_error(s), &p->busy_s) ? ERR_BUSY : ERR_SSH;
	} else {
		r = check_pin(s, p, why, whylen);
		if (r == 0)
			r = authenticate(s, p, why, whylen);
	}
	if (r != 0) {
		ssh_disconnect(s);
		ssh_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void
busy_pick_note(struct busy_pick *bp, int r, int secs, const char *prefix, const char *why)
{
	if (r != ERR_BUSY || (bp->secs != 0 && secs >= bp->secs))
		return;
	bp->secs = secs;
	snprintf(bp->why, sizeof(bp->why), "%s%s", prefix, why);
}

int
busy_pick_result(const struct busy_pick *bp, int r, char *why, size_t whylen)
{
	/* a busy answer said when to come back: that beats a failure that did
	 * not, but not a refusal that needs a person (ERR_DENIED, ERR_KEY) */
	if (r == 0 || bp->secs == 0 || (r != ERR_IO && r != ERR_SSH && r != ERR_BUSY))
		return r;
	snprintf(why, whylen, "%s", bp->why);
	return ERR_BUSY;
}

int
conn_open(struct conn_params *p, ssh_session *out, char *why, size_t whylen)
{
	struct busy_pick bp = { 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int r = ERR_IO;

	*out = NULL;
	snprintf(port, sizeof(port), "%d", p->server->port);
	int g = getaddrinfo(p->server->host, port, &hints, &ai);
	if (g != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", p->server->host, gai_strerror(g));
		return ERR_IO;
	}
	/* Every address of the name in turn: a failed connect, handshake or
	 * authentication on one moves to the next at once. */
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		r = open_addr(p, a, out, why, whylen);
		if (r == 0)
			break;
		busy_pick_note(&bp, r, p->busy_s, "", why);
		if (a->ai_next != NULL)
			log_debug("%s; trying the next address", why);
	}
	freeaddrinfo(ai);
	if ((r = busy_pick_result(&bp, r, why, whylen)) == ERR_BUSY)
		p->busy_s = bp.secs;
	return r;
}
