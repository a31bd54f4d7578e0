/* tunnel.c: the agent's event loop: one poll over the SSH socket and every
 * local socket; libssh non-blocking; channel windows as backpressure. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/server.h>

#include "agent/agent.h"
#include "agent/conn.h"
#include "agent/notify.h"
#include "agent/report.h"
#include "agent/splice.h"
#include "agent/tunnel.h"
#include "common/err.h"
#include "common/log.h"
#include "common/tcp.h"
#include "common/timefmt.h"

#define DOPOLL_ROUNDS 8	/* libssh reads 4 KiB per round; a busy socket gets several */

struct tunnel {
	ssh_session s;
	ssh_event ev;
	int fd;
	const struct agent_conf *conf;
	struct splice *splices;
	size_t nsplices;
	int64_t ka_sent_ms;
	int64_t next_tick_ms;
	const struct tunnel_hook *hook;
	nfds_t hook_at, hook_n;		/* the hook's pollfds this turn */
};

static const struct service *
find_service(const struct agent_conf *c, int port)
{
	for (size_t i = 0; i < c->nservices; i++)
		if (c->services[i].port == port)
			return &c->services[i];
	return NULL;
}

/* A forwarded-tcpip open: connect to the service first, so a refusal reaches the technician. */
static int
open_forward(struct tunnel *t, ssh_message m)
{
	int port = ssh_message_channel_request_open_destination_port(m);
	const char *orig = ssh_message_channel_request_open_originator(m);
	const struct service *sv = find_service(t->conf, port);
	char why[256], tgt[HOSTPORT_STR_MAX];
	bool in_progress = false;

	if (sv == NULL) {
		log_warn("refused a channel to port %d: no such service here", port);
		return 1;
	}
	hostport_format(&sv->target, tgt, sizeof(tgt));
	if (t->nsplices >= AGENT_CHANNELS_MAX) {
		log_warn("refused a channel to port %d: %d channels open", port, AGENT_CHANNELS_MAX);
		return 1;
	}
	int fd = splice_connect(&sv->target, &in_progress, why, sizeof(why));
	if (fd < 0) {
		log_warn("refused a channel to port %d: cannot connect to %s: %s", port, tgt, why);
		return 1;
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(m);
	struct splice *sp = ch ? splice_new(ch, fd, in_progress, port, orig) : NULL;
	if (sp == NULL) {
		log_warn("channel to port %d: could not accept it", port);
		if (ch != NULL)
			ssh_channel_free(ch);
		close(fd);
		return 0;
	}
	sp->next = t->splices;
	t->splices = sp;
	t->nsplices++;
	log_info("channel from %s to port %d -> %s opened", sp->peer, port, tgt);
	return 0;
}

/* libssh message callback: returns 1 to let libssh refuse, 0 if handled. */
static int
on_message(ssh_session s, ssh_message m, void *arg)
{
	if (ssh_message_type(m) == SSH_REQUEST_CHANNEL_OPEN &&
	    ssh_message_subtype(m) == SSH_CHANNEL_FORWARDED_TCPIP)
		return open_forward(arg, m);
	log_debug("refused a server request (type %d, subtype %d)",
	    ssh_message_type(m), ssh_message_subtype(m));
	return 1;
}

static size_t
register_services(struct tunnel *t)
{
	size_t ok = 0;
	char tgt[HOSTPORT_STR_MAX];

	for (size_t i = 0; i < t->conf->nservices; i++) {
		const struct service *sv = &t->conf->services[i];
		hostport_format(&sv->target, tgt, sizeof(tgt));
		int rc = ssh_channel_listen_forward(t->s, t->conf->name, sv->port, NULL);
		if (rc == SSH_OK) {
			log_info("registered %s.%s port %d -> %s", t->conf->name, t->conf->fleet, sv->port, tgt);
			ok++;
		} else
			log_error("the server refused service port %d for %s.%s: %s", sv->port,
			    t->conf->name, t->conf->fleet, ssh_get_error(t->s));
	}
	return ok;
}

/* Fills pfds (room for 1 + nsplices); returns the count. */
static nfds_t
build_pollfds(struct tunnel *t, struct pollfd *pfds)
{
	nfds_t n = 1;

	pfds[0].fd = t->fd;
	pfds[0].events = POLLIN;
	if (ssh_get_poll_flags(t->s) & SSH_WRITE_PENDING)
		pfds[0].events |= POLLOUT;
	pfds[0].revents = 0;
	for (struct splice *sp = t->splices; sp != NULL; sp = sp->next) {
		sp->pfd = (int)n;
		pfds[n].fd = sp->fd;
		pfds[n].events = splice_events(sp);
		pfds[n].revents = 0;
		n++;
	}
	t->hook_at = n;
	t->hook_n = t->hook != NULL ? t->hook->fill(t->hook->arg, pfds + n) : 0;
	return n + t->hook_n;
}

static void
log_splice_end(const struct splice *sp)
{
	log_info("channel from %s to port %d closed: %s (%llu bytes up, %llu down, %lld ms)",
	    sp->peer, sp->port, sp->why, (unsigned long long)sp->bytes_up,
	    (unsigned long long)sp->bytes_down, (long long)(timefmt_mono_ms() - sp->start_ms));
}

/* Pumps every channel and frees finished ones; returns true if more work is waiting. */
static bool
pump_all(struct tunnel *t, const struct pollfd *pfds)
{
	struct splice **pp = &t->splices;
	bool more = false;

	while (*pp != NULL) {
		struct splice *sp = *pp;
		more |= splice_pump(sp, sp->pfd >= 0 ? pfds[sp->pfd].revents : 0);
		if (sp->dead) {
			log_splice_end(sp);
			*pp = sp->next;
			t->nsplices--;
			splice_free(sp);
		} else
			pp = &sp->next;
	}
	return more;
}

/* 0 while the session is alive, else ERR_IO with why. */
static int
session_alive(struct tunnel *t, char *why, size_t whylen)
{
	static const char discon[] = "Received SSH_MSG_DISCONNECT: ";
	int st = ssh_get_status(t->s);

	if (ssh_is_connected(t->s) && !(st & (SSH_CLOSED | SSH_CLOSED_ERROR)))
		return 0;
	/* Read the error first: ssh_get_disconnect_message() would overwrite it
	 * with "Connection not closed yet". libssh reports a server's
	 * SSH_MSG_DISCONNECT as "Received SSH_MSG_DISCONNECT: CODE:REASON". */
	const char *err = ssh_get_error(t->s);
	if (ssh_get_error_code(t->s) == SSH_NO_ERROR)
		snprintf(why, whylen, "the server closed the connection");
	else if (strncmp(err, discon, sizeof(discon) - 1) == 0) {
		const char *reason = strchr(err + sizeof(discon) - 1, ':');
		char msg[256];
		reason = reason ? reason + 1 : err + sizeof(discon) - 1;
		log_printable(msg, sizeof(msg), reason, strlen(reason));
		snprintf(why, whylen, "the server disconnected: %s", msg);
	} else
		snprintf(why, whylen, "connection lost: %s", err);
	return ERR_IO;
}

/* Once a second: keepalives, silence timeout, watchdog. */
static int
tick(struct tunnel *t, char *why, size_t whylen)
{
	int64_t now = timefmt_mono_ms();
	long idle;

	if (now < t->next_tick_ms)
		return 0;
	t->next_tick_ms = now + 1000;
	notify_watchdog();
	idle = tcp_idle_ms(t->fd);
	if (idle >= AGENT_SILENCE_MAX_MS) {
		snprintf(why, whylen, "no answer from the server for %ld s", idle / 1000);
		return ERR_IO;
	}
	/* Idle time unknown (-1): keepalives on the timer alone; TCP_USER_TIMEOUT
	 * and TCP keepalives still end a dead link. */
	if ((idle < 0 || idle >= AGENT_KEEPALIVE_MS) && now - t->ka_sent_ms >= AGENT_KEEPALIVE_MS) {
		/* The first call collects the previous reply, the second sends anew. */
		ssh_send_keepalive(t->s);
		ssh_send_keepalive(t->s);
		t->ka_sent_ms = now;
		/* it may have read the server's disconnect, and libssh then
		 * closed the socket: said now, before its number is reused */
		return session_alive(t, why, whylen);
	}
	return 0;
}

static int
loop_once(struct tunnel *t, struct pollfd *pfds, bool *more, const sigset_t *mask,
    char *why, size_t whylen)
{
	nfds_t n = build_pollfds(t, pfds);
	int64_t wait = *more ? 0 : t->next_tick_ms - timefmt_mono_ms();
	struct timespec ts = { .tv_sec = wait > 0 ? wait / 1000 : 0,
		.tv_nsec = wait > 0 ? (wait % 1000) * 1000000 : 0 };

	if (ppoll(pfds, n, &ts, mask) < 0 && errno != EINTR) {
		snprintf(why, whylen, "poll: %s", strerror(errno));
		return ERR_IO;
	}
	for (int i = 0; i < DOPOLL_ROUNDS; i++)
		if (ssh_event_dopoll(t->ev, 0) == SSH_ERROR || !(pfds[0].revents & POLLIN))
			break;
	int r = session_alive(t, why, whylen);
	if (r != 0)
		return r;
	*more = pump_all(t, pfds);
	r = tick(t, why, whylen);
	if (r == 0 && t->hook != NULL)
		r = t->hook->step(t->hook->arg, pfds + t->hook_at, t->hook_n, t->nsplices, why, whylen);
	return r;
}

static int
serve(struct tunnel *t, volatile sig_atomic_t *stop, const sigset_t *mask, char *why, size_t whylen)
{
	struct pollfd *pfds = calloc(1 + AGENT_CHANNELS_MAX + TUNNEL_HOOK_FDS, sizeof(*pfds));
	bool more = false;
	int r = 0;

	if (pfds == NULL) {
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	ssh_set_blocking(t->s, 0);
	t->ev = ssh_event_new();
	if (t->ev == NULL || ssh_event_add_session(t->ev, t->s) != SSH_OK) {
		snprintf(why, whylen, "cannot poll the session");
		r = ERR_SSH;
	}
	while (r == 0 && !*stop)
		r = loop_once(t, pfds, &more, mask, why, whylen);
	if (r == 1)
		r = 0;		/* the hook ended the tunnel and said why */
	else if (r == 0)
		snprintf(why, whylen, "stopping");
	free(pfds);
	return r;
}

static void
cleanup(struct tunnel *t)
{
	while (t->splices != NULL) {
		struct splice *sp = t->splices;
		t->splices = sp->next;
		if (!sp->dead)
			snprintf(sp->why, sizeof(sp->why), "session ended");
		log_splice_end(sp);
		splice_free(sp);
	}
	if (t->ev != NULL) {
		ssh_event_remove_session(t->ev, t->s);
		ssh_event_free(t->ev);
	}
	ssh_set_message_callback(t->s, NULL, NULL);
}

int
tunnel_serve(ssh_session s, const struct agent_conf *conf, volatile sig_atomic_t *stop,
    const sigset_t *sigmask, const struct tunnel_hook *hook, char *why, size_t whylen)
{
	struct tunnel t = { .s = s, .fd = ssh_get_fd(s), .conf = conf, .hook = hook };
	int r;

	ssh_set_message_callback(s, on_message, &t);
	if (register_services(&t) == 0) {
		snprintf(why, whylen, "the server refused every service");
		cleanup(&t);
		return ERR_DENIED;
	}
	notify_ready();
	notify_status("registered as %s.%s", conf->name, conf->fleet);
	report_send(s, conf->sshd_host_keys[0] ? conf->sshd_host_keys : NULL);
	r = serve(&t, stop, sigmask, why, whylen);
	cleanup(&t);
	return r;
}
