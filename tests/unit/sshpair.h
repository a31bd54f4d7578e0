/*
 * sshpair.h: a real libssh server session and client session joined by a
 * socket pair in one thread, driven in turns until the client has
 * authenticated (method "none", accepted). For tests that need what libssh
 * only gives an authenticated session (channels) or that watch libssh's
 * socket calls. Header-only; the server side is non-blocking like outpostd's.
 */
#ifndef OUTPOST_SSHPAIR_H
#define OUTPOST_SSHPAIR_H

#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

struct sshpair {
	ssh_bind bind;
	ssh_key hostkey;
	ssh_session server, client;
	ssh_event ev;			/* the server session's */
	struct ssh_server_callbacks_struct scb;
	int sfd, cfd;
	bool authed;
};

static inline int
sshpair_auth_none(ssh_session s, const char *user, void *arg)
{
	(void)s; (void)user;
	((struct sshpair *)arg)->authed = true;
	return SSH_AUTH_SUCCESS;
}

/* Runs the server side once without waiting. */
static inline void
sshpair_serve(struct sshpair *p)
{
	ssh_event_dopoll(p->ev, 0);
}

/* Returns 0 with both sides authenticated, -1 on failure. */
static inline int
sshpair_open(struct sshpair *p)
{
	int sv[2], rc = SSH_AGAIN, turns;
	long verbosity = 0;

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	p->sfd = sv[0];
	p->cfd = sv[1];
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &p->hostkey) != SSH_OK)
		return -1;
	p->bind = ssh_bind_new();
	p->server = ssh_new();
	p->client = ssh_new();
	if (p->bind == NULL || p->server == NULL || p->client == NULL)
		return -1;
	ssh_bind_options_set(p->bind, SSH_BIND_OPTIONS_IMPORT_KEY, p->hostkey);
	ssh_bind_options_set(p->bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity);
	if (ssh_bind_accept_fd(p->bind, p->server, p->sfd) != SSH_OK)
		return -1;
	ssh_callbacks_init(&p->scb);
	p->scb.userdata = p;
	p->scb.auth_none_function = sshpair_auth_none;
	ssh_set_server_callbacks(p->server, &p->scb);
	ssh_set_auth_methods(p->server, SSH_AUTH_METHOD_NONE);
	ssh_set_blocking(p->server, 0);
	ssh_options_set(p->client, SSH_OPTIONS_FD, &p->cfd);
	ssh_options_set(p->client, SSH_OPTIONS_HOST, "sshpair");
	ssh_options_set(p->client, SSH_OPTIONS_USER, "tester");
	ssh_options_set(p->client, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_set_blocking(p->client, 0);
	for (turns = 0; turns < 1000 && rc == SSH_AGAIN; turns++) {
		rc = ssh_connect(p->client);
		int k = ssh_handle_key_exchange(p->server);
		if (k == SSH_ERROR)
			return -1;
		if (k == SSH_OK && p->ev == NULL) {
			p->ev = ssh_event_new();
			ssh_event_add_session(p->ev, p->server);
		}
		usleep(rc == SSH_AGAIN ? 1000 : 0);
	}
	if (rc != SSH_OK)
		return -1;
	for (rc = SSH_AUTH_AGAIN; turns < 2000 && rc == SSH_AUTH_AGAIN; turns++) {
		rc = ssh_userauth_none(p->client, NULL);
		if (p->ev == NULL && ssh_handle_key_exchange(p->server) == SSH_OK) {
			p->ev = ssh_event_new();
			ssh_event_add_session(p->ev, p->server);
		}
		if (p->ev != NULL)
			sshpair_serve(p);
		usleep(1000);
	}
	return rc == SSH_AUTH_SUCCESS && p->authed ? 0 : -1;
}

/* Frees both sessions (and their channels) and the bind with its host key. */
static inline void
sshpair_close(struct sshpair *p)
{
	if (p->ev != NULL) {
		ssh_event_remove_session(p->ev, p->server);
		ssh_event_free(p->ev);
	}
	if (p->server != NULL) {
		ssh_disconnect(p->server);
		ssh_free(p->server);
	}
	if (p->client != NULL) {
		ssh_disconnect(p->client);
		ssh_free(p->client);
	}
	ssh_bind_free(p->bind);
	/* the bind owned the host key */
	memset(p, 0, sizeof(*p));
}

#endif
