/*
 * hostkey.c: outpostd learns the host keys of plain-OpenSSH devices, which
 * have no agent to report them, through their own tunnel.
 *
 * When such a device registers a port its sshd answers on (22, or its
 * port-table port), a probe is queued. A probe runs one key exchange per
 * host key family (ed25519, ECDSA, RSA: an SSH server shows one key per
 * exchange): it opens a forwarded-tcpip channel on the device's session to
 * that port, as a technician's route would, and a libssh client session
 * talks to the device's sshd over a socketpair whose other end this file
 * splices to the channel. Everything runs in the main loop, non-blocking
 * (the client's ssh_connect is stepped like a pump; no thread, so libssh's
 * process-wide log hook and sockbuf.c's read-ahead see one thread only).
 * The client stops after the key exchange: it never authenticates, and the
 * device's sshd logs a pre-authentication disconnect.
 *
 * What it learned goes to the store (store_hostkey_seen): a new key is
 * recorded, a key that differs from the recorded one is kept aside and
 * flagged (`hostkey-changed` audit record, `outpost ls`), never recorded in
 * its place until an admin runs `outpost device accept-hostkey`.
 *
 * Costs, all bounded and counted (metrics): LIM_HOSTKEY_PROBES probes at
 * once server-wide, each holding one channel on its device's session and
 * two descriptors (the socketpair) for at most PROBE_MS; LIM_HOSTKEY_QUEUE
 * waiting; a device port is probed once per registration and not again
 * within RECENT_KNOWN_MS once its keys are known (RECENT_UNKNOWN_MS if not:
 * a device reconnecting in a loop costs one probe a minute).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "server/chan.h"
#include "server/hostkey.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/storeq.h"
#include "ssh/pubkey.h"

#define PROBE_MS		10000		/* one probe, all three key exchanges */
#define RECENT_KNOWN_MS		(3600 * 1000)	/* keys known: not probed again within the hour */
#define RECENT_UNKNOWN_MS	(60 * 1000)	/* keys unknown: once a minute at most */
#define PROBE_BUF		4096		/* each direction of the splice */
/* Cheap key exchanges only (no group exchange a hostile sshd could make costly). */
#define PROBE_KEX "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256"

/* One key exchange per family: the host key algorithms the client offers. */
static const char *const families[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521",
	"rsa-sha2-512,rsa-sha2-256",
};
#define NFAMILIES ((int)(sizeof(families) / sizeof(families[0])))

struct probe {
	struct probe *next;		/* the queue */
	int64_t device_id;
	uint64_t conn_id;		/* the session that registered the port */
	uint32_t port;
	char device[LIM_TARGET + 1];	/* name.fleet, for logs and audit */
	int family;			/* the key exchange in progress */
	bool opening;			/* its forwarded-tcpip open in progress */
	int64_t deadline_ms;
	int fd[2];			/* socketpair: [0] the libssh client's, [1] ours; -1 none */
	ssh_session cs;			/* the client, NULL between exchanges */
	char *in;			/* PROBE_BUF from the device, not yet taken by the client */
	size_t in_off, in_len;
	char *out;			/* PROBE_BUF from the client, not yet taken by the channel */
	size_t out_off, out_len;	/* (both only while an exchange runs: a queued probe is small) */
	struct pubkey keys[NFAMILIES];	/* learned; type "" = none */
};

/* One device port probed lately. */
struct recent {
	int64_t device_id;
	uint32_t port;
	int64_t at_ms;
	bool known;			/* keys were recorded for it */
};

static struct {
	struct probe *head, *tail;	/* waiting */
	int queued, running;
	struct recent recent[LIM_HOSTKEY_RECENT];
	int nrecent;
	uint64_t counts[HKP_MAX];
} hk;

static const char *const result_names[HKP_MAX] = {
	[HKP_LEARNED] = "learned", [HKP_SAME] = "same", [HKP_CHANGED] = "changed",
	[HKP_FAILED] = "failed", [HKP_SKIPPED] = "skipped", [HKP_DROPPED] = "dropped",
};

const char *
hostkey_result_name(int result)
{
	return result >= 0 && result < HKP_MAX ? result_names[result] : "?";
}

int
hostkey_running(void)
{
	return hk.running;
}

uint64_t
hostkey_count(int result)
{
	return result >= 0 && result < HKP_MAX ? hk.counts[result] : 0;
}

bool
hostkey_banner_is_agent(const char *banner)
{
	static const char agent[] = "SSH-2.0-libssh";	/* outpost-agent is a libssh client */

	return banner != NULL && strncmp(banner, agent, sizeof(agent) - 1) == 0;
}

static void
probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	if (p->cs != NULL) {
		ssh_free(p->cs);	/* closes fd[0]: it was handed over with SSH_OPTIONS_FD */
		p->fd[0] = -1;
	}
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	for (int i = 0; i < NFAMILIES; i++)
		pubkey_clear(&p->keys[i]);
	free(p->in);
	free(p->out);
	free(p);
}

/* ---- rate limits ---- */

static struct recent *
recent_find(int64_t device_id, uint32_t port)
{
	for (int i = 0; i < hk.nrecent; i++)
		if (hk.recent[i].device_id == device_id && hk.recent[i].port == port)
			return &hk.recent[i];
	return NULL;
}

/* The entry for device_id's port, new (the oldest one reused when full) if none. */
static struct recent *
recent_get(int64_t device_id, uint32_t port)
{
	struct recent *r = recent_find(device_id, port);

	if (r != NULL)
		return r;
	if (hk.nrecent < LIM_HOSTKEY_RECENT)
		r = &hk.recent[hk.nrecent++];
	else {
		r = &hk.recent[0];
		for (int i = 1; i < hk.nrecent; i++)
			if (hk.recent[i].at_ms < r->at_ms)
				r = &hk.recent[i];
	}
	*r = (struct recent){ .device_id = device_id, .port = port };
	return r;
}

static bool
queued(int64_t device_id, uint32_t port)
{
	for (struct probe *p = hk.head; p != NULL; p = p->next)
		if (p->device_id == device_id && p->port == port)
			return true;
	return false;
}

void
hostkey_registered(struct conn *c, uint32_t port)
{
	struct server *srv = c->srv;
	int n = 0;

	if (hostkey_banner_is_agent(ssh_get_clientbanner(c->s)) || queued(c->who.id, port))
		return;
	if (store_hostkey_count(srv->st, c->who.id, port, &n) != 0)
		n = 0;		/* probe: recording will fail the same way, and say so */
	struct recent *r = recent_find(c->who.id, port);
	if (r != NULL && srv->now_ms - r->at_ms < (n > 0 && r->known ? RECENT_KNOWN_MS : RECENT_UNKNOWN_MS)) {
		hk.counts[HKP_SKIPPED]++;
		return;
	}
	struct probe *p = hk.queued < LIM_HOSTKEY_QUEUE ? calloc(1, sizeof(*p)) : NULL;
	if (p == NULL) {
		hk.counts[HKP_DROPPED]++;
		session_log(c, LOG_LVL_WARN, "port %u: host key probe dropped: %d probes wait already",
		    port, hk.queued);
		return;
	}
	r = recent_get(c->who.id, port);
	r->at_ms = srv->now_ms;
	r->known = n > 0;
	p->device_id = c->who.id;
	p->conn_id = c->id;
	p->port = port;
	p->fd[0] = p->fd[1] = -1;
	snprintf(p->device, sizeof(p->device), "%s.%s", c->who.name, c->who.fleet);
	if (hk.tail != NULL)
		hk.tail->next = p;
	else
		hk.head = p;
	hk.tail = p;
	hk.queued++;
}

/* ---- recording what a probe learned ---- */

static void
audit_key(struct server *srv, const struct probe *p, const char *event, const struct pubkey *k,
    const char *old_fp)
{
	struct jbuf *b = audit_begin(srv->audit, event);

	jbuf_member_str(b, "device", p->device);
	jbuf_member_int(b, "port", p->port);
	jbuf_member_str(b, "type", k->type);
	if (old_fp != NULL) {
		jbuf_member_str(b, "recorded_fp", old_fp);
		jbuf_member_str(b, "seen_fp", k->fp);
	} else
		jbuf_member_str(b, "fp", k->fp);
	audit_commit(srv->audit);
}

/* The fingerprint of a recorded "type" + base64 blob, "?" if it does not parse. */
static void
blob_fp(const char *type, const char *blob, char *fp, size_t fplen)
{
	char line[LIM_KEYLINE + PUBKEY_TYPE_MAX + 2];
	struct pubkey k;

	snprintf(fp, fplen, "?");
	snprintf(line, sizeof(line), "%s %s", type, blob);
	if (pubkey_parse_line(line, &k) == 0)
		snprintf(fp, fplen, "%s", k.fp);
	pubkey_clear(&k);
}

/* Writes p's keys to the store, audits what is new or changed; returns the outcome. */
static int
record(struct server *srv, struct probe *p)
{
	int result = HKP_FAILED, nkeys = 0;

	for (int i = 0; i < NFAMILIES; i++) {
		const struct pubkey *k = &p->keys[i];
		char old[LIM_KEYLINE], old_fp[PUBKEY_FP_MAX];
		int seen = HOSTKEY_SAME;
		if (k->blob == NULL)
			continue;
		int r = storeq_hostkey_seen(srv, p->device_id, p->port, k->type, k->blob,
		    timefmt_now(), &seen, old, sizeof(old));
		if (r != 0) {
			log_warn("device %s port %u: cannot record its %s host key: %s", p->device,
			    p->port, k->type, store_errmsg(srv->st));
			continue;
		}
		nkeys++;
		if (seen == HOSTKEY_LEARNED) {
			audit_key(srv, p, "hostkey-learned", k, NULL);
			log_info("device %s port %u: host key learned: %s %s", p->device, p->port,
			    k->type, k->fp);
			if (result != HKP_CHANGED)
				result = HKP_LEARNED;
		} else if (seen == HOSTKEY_CHANGED) {
			blob_fp(k->type, old, old_fp, sizeof(old_fp));
			audit_key(srv, p, "hostkey-changed", k, old_fp);
			log_warn("device %s port %u: HOST KEY CHANGED: %s %s, recorded %s; kept the "
			    "recorded one until `outpost device accept-hostkey`", p->device, p->port,
			    k->type, k->fp, old_fp);
			result = HKP_CHANGED;
		} else if (result == HKP_FAILED)
			result = HKP_SAME;
	}
	struct recent *r = recent_find(p->device_id, p->port);
	if (r != NULL && nkeys > 0)
		r->known = true;
	return result;
}

/* ---- the probe channel ---- */

static void
end_exchange(struct probe *p)
{
	if (p->cs != NULL) {
		ssh_free(p->cs);
		p->fd[0] = -1;
		p->cs = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0) {
			close(p->fd[i]);
			p->fd[i] = -1;
		}
	p->in_off = p->in_len = p->out_off = p->out_len = 0;
	free(p->in);
	free(p->out);
	p->in = p->out = NULL;
}

/* p is over: records it, counts it, frees it. */
static void
finish(struct server *srv, struct probe *p, const char *why)
{
	int result = record(srv, p);

	hk.counts[result]++;
	hk.running--;
	if (result == HKP_FAILED)
		log_info("device %s port %u: no host key learned: %s", p->device, p->port, why);
	probe_free(p);
}

/* Opens the channel of p's next key exchange on c; false (p finished) if there is none. */
static bool
open_exchange(struct conn *c, struct probe *p)
{
	if (p->family >= NFAMILIES) {
		finish(c->srv, p, "done");
		return false;
	}
	ssh_channel ch = c->nchans < LIM_CHANNELS ? ssh_channel_new(c->s) : NULL;
	struct chan *h = ch != NULL ? chan_new(c, ch, &chan_hostkey_probe, p) : NULL;
	if (h == NULL) {
		if (ch != NULL)
			ssh_channel_free(ch);
		finish(c->srv, p, "no channel");
		return false;
	}
	p->opening = true;
	c->srv->work = true;
	return true;
}

/* h's exchange is over: the next one gets a channel of its own. */
static void
next_exchange(struct chan *h)
{
	struct probe *p = h->data;

	end_exchange(p);
	h->data = NULL;
	chan_kill(h);
	p->family++;
	if (h->conn != NULL && !h->conn->dead)
		open_exchange(h->conn, p);
	else
		finish(h->srv, p, "device session gone");
}

/* The libssh client for p's exchange, on fd[0] of a new socketpair. */
static int
start_client(struct probe *p)
{
	int no = 0;

	if ((p->in = malloc(PROBE_BUF)) == NULL || (p->out = malloc(PROBE_BUF)) == NULL)
		return ERR_NOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fd) != 0) {
		p->fd[0] = p->fd[1] = -1;
		return ERR_IO;
	}
	p->cs = ssh_new();
	if (p->cs == NULL ||
	    ssh_options_set(p->cs, SSH_OPTIONS_PROCESS_CONFIG, &no) != 0 ||
	    ssh_options_set(p->cs, SSH_OPTIONS_HOST, p->device) != 0 ||
	    ssh_options_set(p->cs, SSH_OPTIONS_HOSTKEYS, families[p->family]) != 0 ||
	    ssh_options_set(p->cs, SSH_OPTIONS_KEY_EXCHANGE, PROBE_KEX) != 0 ||
	    ssh_options_set(p->cs, SSH_OPTIONS_FD, &p->fd[0]) != 0)
		return ERR_NOMEM;
	ssh_set_blocking(p->cs, 0);
	return 0;
}

/* The key the device's sshd showed in the finished exchange. */
static void
take_key(struct probe *p)
{
	ssh_key key = NULL;

	if (ssh_get_server_publickey(p->cs, &key) != SSH_OK)
		return;
	struct pubkey *k = &p->keys[p->family];
	pubkey_clear(k);
	if (pubkey_from_ssh_key(key, k) != 0)
		pubkey_clear(k);
	ssh_key_free(key);
}

/* Channel -> client: what libssh holds for the channel, through in[]. */
static bool
to_client(struct chan *h, struct probe *p)
{
	bool moved = false;

	if (p->in_off == p->in_len && h->pending > 0) {
		uint32_t n = h->pending < PROBE_BUF ? h->pending : PROBE_BUF;
		int r = ssh_channel_read_nonblocking(h->ch, p->in, n, 0);
		if (r < 0)
			return false;
		h->pending = (uint32_t)r >= h->pending ? 0 : h->pending - (uint32_t)r;
		p->in_off = 0;
		p->in_len = (size_t)r;
		moved = r > 0;
	}
	if (p->in_off < p->in_len) {
		ssize_t w = write(p->fd[1], p->in + p->in_off, p->in_len - p->in_off);
		if (w > 0) {
			p->in_off += (size_t)w;
			moved = true;
		}
	}
	if (h->eof_rcvd && h->pending == 0 && p->in_off == p->in_len)
		shutdown(p->fd[1], SHUT_WR);	/* the client sees the sshd hang up */
	return moved;
}

/* Client -> channel, as the channel's window allows, through out[]. */
static bool
to_channel(struct chan *h, struct probe *p)
{
	bool moved = false;

	if (p->out_off == p->out_len) {
		ssize_t r = read(p->fd[1], p->out, PROBE_BUF);
		if (r <= 0)
			return false;
		p->out_off = 0;
		p->out_len = (size_t)r;
	}
	uint32_t win = ssh_get_status(h->conn->s) & SSH_WRITE_PENDING ? 0 : ssh_channel_window_size(h->ch);
	size_t n = p->out_len - p->out_off;
	if (n > win)
		n = win;
	if (n > 0) {
		int w = session_write(h->conn, h->ch, p->out + p->out_off, (uint32_t)n, false);
		if (w > 0) {
			p->out_off += (size_t)w;
			moved = true;
			server_touch(h->conn);
		}
	}
	return moved;
}

static bool
probe_pump(struct chan *h)
{
	struct probe *p = h->data;

	if (p == NULL) {
		chan_kill(h);
		return true;
	}
	if (h->srv->now_ms >= p->deadline_ms) {
		h->data = NULL;
		chan_kill(h);
		finish(h->srv, p, "timed out");
		return true;
	}
	if (p->opening) {
		const struct service *svc = session_find_service(h->conn, p->port);
		int rc = svc == NULL ? SSH_ERROR :
		    ssh_channel_open_reverse_forward(h->ch, svc->bind_addr, (int)p->port, "127.0.0.1", 0);
		server_touch(h->conn);
		if (rc == SSH_AGAIN)
			return false;
		p->opening = false;
		if (rc != SSH_OK || start_client(p) != 0) {
			h->data = NULL;
			chan_kill(h);
			finish(h->srv, p, svc == NULL ? "the port was unregistered" :
			    rc != SSH_OK ? "the device could not connect to its sshd" : "out of resources");
			return true;
		}
	}
	bool moved = to_client(h, p);
	int rc = ssh_connect(p->cs);
	moved |= to_channel(h, p);
	if (rc == SSH_AGAIN)
		return moved;
	if (rc == SSH_OK)
		take_key(p);
	else
		log_debug("device %s port %u: no %s host key: %s", p->device, p->port,
		    families[p->family], ssh_get_error(p->cs));
	next_exchange(h);
	return true;
}

/* The channel went with its session (or the server): the probe ends with what it learned. */
static void
probe_reap(struct chan *h)
{
	struct probe *p = h->data;

	if (p == NULL)
		return;
	h->data = NULL;
	finish(h->srv, p, "device session gone");
}

const struct chan_ops chan_hostkey_probe = {
	.name = "hostkey-probe",
	.pump = probe_pump,
	.reap = probe_reap,
};

/* ---- starting probes ---- */

void
hostkey_tick(struct server *srv)
{
	while (hk.head != NULL && hk.running < LIM_HOSTKEY_PROBES) {
		struct probe *p = hk.head;
		hk.head = p->next;
		if (hk.head == NULL)
			hk.tail = NULL;
		hk.queued--;
		p->next = NULL;
		struct conn *c = registry_get(srv->reg, p->device_id);
		if (c == NULL || c->dead || c->id != p->conn_id || session_find_service(c, p->port) == NULL) {
			hk.counts[HKP_SKIPPED]++;	/* gone before its turn: probed at its next registration */
			probe_free(p);
			continue;
		}
		hk.running++;
		p->deadline_ms = srv->now_ms + PROBE_MS;
		open_exchange(c, p);
	}
}

void
hostkey_free(void)
{
	while (hk.head != NULL) {
		struct probe *p = hk.head;
		hk.head = p->next;
		probe_free(p);
	}
	hk.tail = NULL;
	hk.queued = 0;
}
