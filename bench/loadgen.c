/*
 * loadgen.c: outpost-loadgen holds many device sessions to outpostd from one
 * process, each with its own key, as a real device does: connect, public-key
 * auth, tcpip-forward of its name, keepalives, forwarded-tcpip channels
 * answered (echo or discard), reconnect with the agent's jittered backoff.
 * libssh client API, non-blocking, one epoll loop; a bench tool, not a product.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "ssh/disconnect.h"
#include "common/err.h"
#include "common/pidcache.h"
#include "common/tcp.h"
#include "server/sockbuf.h"
#include "ssh/pkeycache.h"
#include "ssh/pubkey.h"
#include "store/store.h"
#include "lgopts.h"

#define HANDSHAKE_MS	30000	/* TCP connect to registered, else a failure */
#define DOPOLL_ROUNDS	16
#define CHUNK		32768
#define MAX_EVENTS	512
#define KEY_END		"-----END OPENSSH PRIVATE KEY-----"

enum dev_state { D_WAIT, D_TCP, D_KEX, D_AUTH, D_FWD, D_ONLINE };

struct dev;

/* A forwarded-tcpip channel the server opened on a device session. */
struct lgchan {
	struct lgchan *next;
	struct dev *d;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	uint32_t pending;	/* bytes libssh holds for us (echo mode) */
	bool eof_rcvd, close_rcvd, eof_sent, dead;
	char *spill;		/* echo bytes the window did not take yet */
	size_t spill_len, spill_off;
};

struct dev {
	unsigned idx;
	char name[64];
	char src[32];
	enum dev_state st;
	ssh_key key;
	ssh_session s;
	ssh_event ev;
	int fd;
	uint32_t ep;		/* epoll interest, 0 = not in the set */
	int64_t deadline_ms, next_ms, up_ms, last_rx_ms, ka_sent_ms;
	struct backoff bo;
	struct lgchan *chans;
	bool tried;		/* reconnects follow the backoff only, not the rate */
	long hpos;		/* place in lg.wait, -1 when not waiting there */
};

struct counters {
	long registered, attempts, failed, fail_tcp, fail_ssh, fail_auth, fail_fwd,
	    fail_timeout, busy, disconnects, told, channels;
	unsigned long long bytes;
};

static struct lg {
	struct lg_opts o;
	struct dev *devs;
	int epfd, sigfd;
	struct sockaddr_storage server;
	socklen_t serverlen;
	ssh_key pinned;
	struct lg_rate rate;
	struct counters n;
	int64_t now_ms, start_ms, next_tick_ms, next_start_ms;
	struct dev **wait;	/* the waiting devices, a min-heap on (next_ms, idx) */
	long nwait;
	bool stop;
} lg;

static char iobuf[CHUNK];

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the devices waiting to (re)connect: a binary min-heap ---- */

static bool
due_before(const struct dev *a, const struct dev *b)
{
	return a->next_ms < b->next_ms || (a->next_ms == b->next_ms && a->idx < b->idx);
}

static void
wait_place(struct dev *d, long i)
{
	lg.wait[i] = d;
	d->hpos = i;
}

static void
wait_sift(long i)
{
	struct dev *d = lg.wait[i];

	while (i > 0 && due_before(d, lg.wait[(i - 1) / 2])) {
		wait_place(lg.wait[(i - 1) / 2], i);
		i = (i - 1) / 2;
	}
	for (;;) {
		long c = 2 * i + 1;
		if (c >= lg.nwait)
			break;
		if (c + 1 < lg.nwait && due_before(lg.wait[c + 1], lg.wait[c]))
			c++;
		if (!due_before(lg.wait[c], d))
			break;
		wait_place(lg.wait[c], i);
		i = c;
	}
	wait_place(d, i);
}

/* d waits for its next_ms (it is in D_WAIT). */
static void
wait_push(struct dev *d)
{
	if (d->hpos >= 0) {	/* already waiting: its time changed */
		wait_sift(d->hpos);
		return;
	}
	wait_place(d, lg.nwait++);
	wait_sift(d->hpos);
}

static struct dev *
wait_pop(void)
{
	struct dev *d = lg.wait[0];

	d->hpos = -1;
	if (--lg.nwait > 0) {
		wait_place(lg.wait[lg.nwait], 0);
		wait_sift(0);
	}
	return d;
}

/* ---- keys and the store ---- */

/* Reads every key block of path into keys[0..max); returns how many (0 if no file). */
static int
keys_load(const char *path, ssh_key *keys, int max)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, *p, *end;
	size_t cap = 0, len = 0;
	int n = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		if (len + 65536 > cap && (buf = realloc(buf, cap = cap * 2 + 65536)) == NULL) {
			fclose(f);
			return -1;
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	buf[len] = '\0';
	for (p = buf; n < max && (end = strstr(p, KEY_END)) != NULL; p = end) {
		char *begin = strstr(p, "-----BEGIN");
		end += strlen(KEY_END);
		char save = *end;
		*end = '\0';
		if (begin == NULL || begin > end ||
		    ssh_pki_import_privkey_base64(begin, NULL, NULL, NULL, &keys[n]) != SSH_OK) {
			fprintf(stderr, "loadgen: %s: key %d is unreadable\n", path, n);
			free(buf);
			return -1;
		}
		*end = save;
		n++;
	}
	free(buf);
	return n;
}

/* Loads the keys file and appends freshly generated keys up to ndevices. */
static int
keys_prepare(void)
{
	int have, nd = lg.o.ndevices;
	ssh_key *keys = calloc((size_t)nd, sizeof(*keys));
	FILE *f = NULL;

	if (keys == NULL || (have = keys_load(lg.o.keys, keys, nd)) < 0) {
		fprintf(stderr, "loadgen: cannot read %s\n", lg.o.keys);
		return -1;
	}
	if (have < nd) {
		mode_t old = umask(077);
		f = fopen(lg.o.keys, "a");
		umask(old);
		if (f == NULL) {
			fprintf(stderr, "loadgen: %s: %s\n", lg.o.keys, strerror(errno));
			return -1;
		}
	}
	for (int i = have; i < nd; i++) {
		char *b64 = NULL;
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &keys[i]) != SSH_OK ||
		    ssh_pki_export_privkey_base64(keys[i], NULL, NULL, NULL, &b64) != SSH_OK) {
			fprintf(stderr, "loadgen: cannot generate key %d\n", i);
			fclose(f);
			return -1;
		}
		fprintf(f, "# %s\n%s%s", lg.devs[i].name, b64, b64[strlen(b64) - 1] == '\n' ? "" : "\n");
		ssh_string_free_char(b64);
	}
	if (f != NULL && fclose(f) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", lg.o.keys, strerror(errno));
		return -1;
	}
	for (int i = 0; i < nd; i++)
		lg.devs[i].key = keys[i];
	free(keys);
	if (!lg.o.quiet)
		printf("keys: %d loaded, %d generated\n", have < nd ? have : nd, have < nd ? nd - have : 0);
	return 0;
}

/* The store -D names, else outpost.db in -d; NULL after one line on stderr. */
static struct store *
provision_open(void)
{
	struct store *st = NULL;
	char why[512];

	if (store_open_spec(lg.o.store, lg.o.state_dir, &st, why, sizeof(why)) != 0) {
		fprintf(stderr, "loadgen: %s\n", why);
		return NULL;
	}
	int r = store_fleet_add(st, lg.o.fleet);
	if (r != 0 && r != ERR_EXISTS) {
		fprintf(stderr, "loadgen: fleet %s: %s\n", lg.o.fleet, store_errmsg(st));
		store_close(st);
		return NULL;
	}
	return st;
}

/*
 * All devices in one transaction (store_import, as `outpost import sshd`):
 * one commit instead of one per device, which is what makes 10,000 devices
 * take seconds on PostgreSQL. ERR_EXISTS if any is there already.
 */
static int
provision_all(struct store *st, struct pubkey *pks)
{
	struct store_import_item *items = calloc((unsigned)lg.o.ndevices, sizeof(*items));
	size_t failed;
	int r;

	if (items == NULL)
		return ERR_NOMEM;
	for (int i = 0; i < lg.o.ndevices; i++)
		items[i] = (struct store_import_item){ .name = lg.devs[i].name, .key = &pks[i] };
	r = store_import(st, lg.o.fleet, false, items, (size_t)lg.o.ndevices, &failed);
	free(items);
	return r;
}

/* One device at a time, keeping those already there; -1 after a line on stderr. */
static int
provision_each(struct store *st, struct pubkey *pks, int *added, int *present)
{
	for (int i = 0; i < lg.o.ndevices; i++) {
		int r = store_device_add(st, lg.devs[i].name, lg.o.fleet, &pks[i]);
		if (r == ERR_EXISTS)
			(*present)++;
		else if (r == 0)
			(*added)++;
		else {
			fprintf(stderr, "loadgen: device %s.%s: %s\n", lg.devs[i].name, lg.o.fleet,
			    store_errmsg(st));
			return -1;
		}
	}
	return 0;
}

/* Adds the devices missing from the store (through the store module, like `outpost device add`). */
static int
provision(void)
{
	struct store *st;
	struct pubkey *pks = calloc((unsigned)lg.o.ndevices, sizeof(*pks));
	int added = 0, present = 0, n = 0, r = -1;

	if (pks == NULL || (st = provision_open()) == NULL) {
		free(pks);
		return -1;
	}
	for (; n < lg.o.ndevices; n++)
		if (pubkey_from_ssh_key(lg.devs[n].key, &pks[n]) != 0)
			goto out;
	r = provision_all(st, pks);
	if (r == 0)
		added = n;
	else if (r == ERR_EXISTS)
		r = provision_each(st, pks, &added, &present);
	else
		fprintf(stderr, "loadgen: importing %d devices: %s\n", n, store_errmsg(st));
	if (r == 0 && !lg.o.quiet)
		printf("store: %d devices added, %d present\n", added, present);
out:
	for (int i = 0; i < n; i++)
		pubkey_clear(&pks[i]);
	free(pks);
	store_close(st);
	return r == 0 ? 0 : -1;
}

/* ---- epoll ---- */

/*
 * libssh closes its socket itself on the server's SSH_MSG_DISCONNECT or a
 * socket error, in whichever call read it (ssh_send_keepalive's included),
 * and the number goes to the next socket(2), another device's: d's fd is
 * touched only while libssh still holds it (docs/LIBSSH.md).
 */
static bool
libssh_closed(const struct dev *d)
{
	return d->s != NULL && ssh_get_fd(d->s) != d->fd;
}

static void
interest(struct dev *d, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.ptr = d };

	if (want == d->ep)
		return;
	if (libssh_closed(d)) {
		d->ep = 0;	/* epoll forgot it at that close; the number may be another device's now */
		return;
	}
	if (want == 0)
		epoll_ctl(lg.epfd, EPOLL_CTL_DEL, d->fd, NULL);
	else
		epoll_ctl(lg.epfd, d->ep == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, d->fd, &ev);
	d->ep = want;
}

/* EPOLLIN, and EPOLLOUT while libssh holds unsent bytes (its buffer, not
 * its poll flags: libssh leaves POLLOUT asked after every send). */
static void
ssh_interest(struct dev *d)
{
	uint32_t want = EPOLLIN;

	if (d->s != NULL && (ssh_get_status(d->s) & SSH_WRITE_PENDING))
		want |= EPOLLOUT;
	interest(d, want);
}

/* ---- channels ---- */

static int
on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *ud)
{
	struct lgchan *h = ud;

	(void)s; (void)ch; (void)data; (void)is_stderr;
	if (lg.o.mode == LG_DISCARD) {
		lg.n.bytes += len;
		return (int)len;
	}
	h->pending = len;	/* read in chan_pump, outside libssh */
	return 0;
}

static void
on_eof(ssh_session s, ssh_channel ch, void *ud)
{
	(void)s; (void)ch;
	((struct lgchan *)ud)->eof_rcvd = true;
}

static void
on_close(ssh_session s, ssh_channel ch, void *ud)
{
	(void)s; (void)ch;
	((struct lgchan *)ud)->close_rcvd = true;
}

/* Writes what the window takes from buf; the rest goes to the spill. */
static bool
echo_write(struct lgchan *h, const char *buf, size_t len)
{
	int w = ssh_channel_write(h->ch, buf, (uint32_t)len);

	if (w < 0)
		return false;
	lg.n.bytes += (unsigned long long)w;
	if ((size_t)w < len) {
		if (h->spill == NULL && (h->spill = malloc(CHUNK)) == NULL)
			return false;
		memcpy(h->spill, buf + w, len - (size_t)w);
		h->spill_len = len - (size_t)w;
		h->spill_off = 0;
	}
	return true;
}

/* Echo: moves what the window allows back to the server; EOF and close after the bytes. */
static void
chan_pump(struct lgchan *h)
{
	while (!h->dead && h->ch != NULL) {
		uint32_t win = ssh_channel_window_size(h->ch);
		if (h->spill_off < h->spill_len) {
			size_t n = h->spill_len - h->spill_off;
			if (n > win)
				n = win;
			if (n == 0)
				break;
			int w = ssh_channel_write(h->ch, h->spill + h->spill_off, (uint32_t)n);
			if (w <= 0)
				break;
			h->spill_off += (size_t)w;
			lg.n.bytes += (unsigned long long)w;
			continue;
		}
		if (h->pending == 0 || win == 0)
			break;
		uint32_t want = h->pending < win ? h->pending : win;
		if (want > CHUNK)
			want = CHUNK;
		int r = ssh_channel_read_nonblocking(h->ch, iobuf, want, 0);
		if (r <= 0) {
			h->pending = 0;
			break;
		}
		h->pending -= (uint32_t)r < h->pending ? (uint32_t)r : h->pending;
		if (!echo_write(h, iobuf, (size_t)r)) {
			h->dead = true;
			break;
		}
	}
	bool drained = h->pending == 0 && h->spill_off >= h->spill_len;
	/* EOF answered by EOF and CLOSE, as a service that closes its socket:
	 * `ssh -W` waits for the CLOSE. libssh frees the channel once the
	 * server's CLOSE arrives. */
	if (h->eof_rcvd && drained && !h->eof_sent && h->ch != NULL) {
		ssh_channel_send_eof(h->ch);
		h->eof_sent = true;
	}
	if (h->eof_sent || (h->close_rcvd && (drained || lg.o.mode == LG_DISCARD)) || h->dead) {
		if (h->ch != NULL) {
			ssh_remove_channel_callbacks(h->ch, &h->cb);
			ssh_channel_close(h->ch);
			ssh_channel_free(h->ch);
			h->ch = NULL;
		}
		h->dead = true;
	}
}

static void
pump_all(struct dev *d)
{
	for (struct lgchan **pp = &d->chans; *pp != NULL;) {
		struct lgchan *h = *pp;
		chan_pump(h);
		if (h->dead) {
			*pp = h->next;
			free(h->spill);
			free(h);
		} else
			pp = &h->next;
	}
}

/* Forwarded-tcpip opens become channels; everything else is refused. */
static int
on_message(ssh_session s, ssh_message m, void *arg)
{
	struct dev *d = arg;

	(void)s;
	if (ssh_message_type(m) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(m) != SSH_CHANNEL_FORWARDED_TCPIP ||
	    ssh_message_channel_request_open_destination_port(m) != lg.o.service_port)
		return 1;
	struct lgchan *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return 1;
	h->ch = ssh_message_channel_request_open_reply_accept(m);
	if (h->ch == NULL) {
		free(h);
		return 0;
	}
	h->d = d;
	ssh_callbacks_init(&h->cb);
	h->cb.userdata = h;
	h->cb.channel_data_function = on_data;
	h->cb.channel_eof_function = on_eof;
	h->cb.channel_close_function = on_close;
	ssh_set_channel_callbacks(h->ch, &h->cb);
	h->next = d->chans;
	d->chans = h;
	lg.n.channels++;
	return 0;
}

/* ---- one device's life ---- */

/* Ends the session or attempt; schedules the next one after the agent's backoff. */
static void
dev_down(struct dev *d, long *fail_counter)
{
	int busy_s = 0;

	/* told "try again in N s" (PROTOCOL.md): not a failure, and no backoff */
	if (d->st != D_ONLINE && fail_counter != NULL && d->s != NULL &&
	    disconnect_busy_parse(ssh_get_error(d->s), &busy_s)) {
		lg.n.busy++;
		fail_counter = NULL;
	}
	if (d->st == D_ONLINE) {
		lg.n.registered--;
		lg.n.disconnects++;
		backoff_session_ended(&d->bo, lg.now_ms - d->up_ms);
		/* a shutting-down server says when to come back, as the agent reads it */
		if (d->s != NULL && disconnect_busy_parse(ssh_get_error(d->s), &busy_s))
			lg.n.told++;
		if (lg.o.verbose && !lg.stop)
			fprintf(stderr, "loadgen: %s: session ended at %.1f s after %.1f s, %.1f s silent: %s\n", d->name,
			    (double)(lg.now_ms - lg.start_ms) / 1000.0, (double)(lg.now_ms - d->up_ms) / 1000.0,
			    (double)(lg.now_ms - d->last_rx_ms) / 1000.0,
			    d->s != NULL ? ssh_get_error(d->s) : "-");
	} else if (fail_counter != NULL) {
		lg.n.failed++;
		(*fail_counter)++;
		if (lg.o.verbose)
			fprintf(stderr, "loadgen: %s: attempt failed in state %d: %s\n", d->name, (int)d->st,
			    d->s != NULL ? ssh_get_error(d->s) : strerror(errno));
	}
	while (d->chans != NULL) {
		struct lgchan *h = d->chans;
		d->chans = h->next;
		free(h->spill);
		free(h);	/* libssh frees the channel with its session */
	}
	interest(d, 0);
	if (d->ev != NULL) {
		ssh_event_remove_session(d->ev, d->s);
		ssh_event_free(d->ev);
		d->ev = NULL;
	}
	if (d->s != NULL) {
		if (lg.stop && d->st == D_ONLINE)
			ssh_disconnect(d->s);
		ssh_free(d->s);		/* closes the fd it was given */
		d->s = NULL;
	} else if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->st = D_WAIT;
	d->next_ms = lg.now_ms + (busy_s > 0 ? backoff_busy_ms(&d->bo, busy_s) : backoff_next_ms(&d->bo));
	wait_push(d);
	if (d->next_ms < lg.next_start_ms)
		lg.next_start_ms = d->next_ms;
}

static void
dev_online(struct dev *d)
{
	d->ev = ssh_event_new();
	if (d->ev == NULL || ssh_event_add_session(d->ev, d->s) != SSH_OK) {
		dev_down(d, &lg.n.fail_ssh);
		return;
	}
	d->st = D_ONLINE;
	d->up_ms = d->last_rx_ms = lg.now_ms;
	d->ka_sent_ms = 0;
	lg.n.registered++;
}

static bool
hostkey_ok(struct dev *d)
{
	ssh_key k = NULL;
	bool ok;

	if (lg.pinned == NULL)
		return true;
	if (ssh_get_server_publickey(d->s, &k) != SSH_OK)
		return false;
	ok = ssh_key_cmp(k, lg.pinned, SSH_KEY_CMP_PUBLIC) == 0;
	ssh_key_free(k);
	return ok;
}

/* Advances the handshake as far as the bytes received allow. */
static void
dev_step(struct dev *d)
{
	int rc;

	switch (d->st) {
	case D_KEX:
		rc = ssh_connect(d->s);
		if (rc == SSH_AGAIN)
			break;
		if (rc != SSH_OK || !hostkey_ok(d)) {
			dev_down(d, &lg.n.fail_ssh);
			return;
		}
		d->st = D_AUTH;
		/* fall through */
	case D_AUTH:
		rc = ssh_userauth_publickey(d->s, NULL, d->key);
		if (rc == SSH_AUTH_AGAIN)
			break;
		if (rc != SSH_AUTH_SUCCESS) {
			dev_down(d, rc == SSH_AUTH_ERROR ? &lg.n.fail_ssh : &lg.n.fail_auth);
			return;
		}
		d->st = D_FWD;
		/* fall through */
	case D_FWD:
		rc = ssh_channel_listen_forward(d->s, d->name, lg.o.service_port, NULL);
		if (rc == SSH_AGAIN)
			break;
		if (rc != SSH_OK) {
			dev_down(d, &lg.n.fail_fwd);
			return;
		}
		dev_online(d);
		break;
	default:
		return;
	}
}

/*
 * Sends what libssh holds for d now. With sockbuf.c's read-ahead (as in
 * outpostd) libssh's replies wait in its buffer while the bytes received
 * are processed, and leave here in one send(2); no poll(2) before it.
 */
static void
dev_flush(struct dev *d)
{
	if (d->s == NULL || d->st == D_WAIT || !(ssh_get_status(d->s) & SSH_WRITE_PENDING))
		return;
	if (!sockbuf_begin_flush(d->fd))
		return;
	int rc = ssh_blocking_flush(d->s, 0);
	sockbuf_end();
	if (rc == SSH_ERROR || libssh_closed(d))
		dev_down(d, d->st == D_ONLINE ? NULL : &lg.n.fail_ssh);
}

/* A handshake step on the kernel's polls (no read-ahead), then the send. */
static void
dev_step_plain(struct dev *d)
{
	dev_step(d);
	dev_flush(d);
	if (d->st != D_WAIT)
		ssh_interest(d);
}

/* The rounds of an online session on what was received; false if it ended. */
static bool
dev_rounds(struct dev *d)
{
	for (int i = 0; i < DOPOLL_ROUNDS || sockbuf_pending(); i++) {
		int rc = ssh_event_dopoll(d->ev, 0);
		if (rc == SSH_ERROR || !ssh_is_connected(d->s) ||
		    (ssh_get_status(d->s) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
			dev_down(d, NULL);
			return false;
		}
		if (rc == SSH_AGAIN && !sockbuf_pending())
			break;
	}
	return true;
}

/*
 * d's socket is ready (readable says epoll saw bytes): the handshake's next
 * steps, or an online session's rounds, on 64 KiB read ahead; then one send.
 */
static void
dev_io(struct dev *d, bool readable)
{
	sockbuf_begin(d->fd, readable);
	if (d->st != D_ONLINE) {
		dev_step(d);
		/* the rest of what was read: more of the handshake, or the first
		 * packets of the online session (a read-ahead is never dropped) */
		for (int i = 0; i < 64 && sockbuf_pending() && d->st != D_WAIT && d->st != D_ONLINE; i++)
			dev_step(d);
	}
	if (d->st == D_ONLINE && !dev_rounds(d)) {
		sockbuf_end();
		return;
	}
	sockbuf_end();
	dev_flush(d);
	if (d->st == D_WAIT)
		return;
	if (d->st == D_ONLINE)
		pump_all(d);
	ssh_interest(d);
}

static void
set_options(struct dev *d)
{
	int verbosity = SSH_LOG_NOLOG;
	bool no = false;

	ssh_options_set(d->s, SSH_OPTIONS_FD, &d->fd);
	ssh_options_set(d->s, SSH_OPTIONS_HOST, lg.o.host);
	ssh_options_set(d->s, SSH_OPTIONS_PORT, &lg.o.port);
	ssh_options_set(d->s, SSH_OPTIONS_USER, lg.o.user);
	ssh_options_set(d->s, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(d->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_options_set(d->s, SSH_OPTIONS_HOSTKEYS, lg.o.hostkey_algs);
	/* as the agent (conn.c): the key is pinned, so libssh must not read
	 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts at every key exchange */
	ssh_options_set(d->s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(d->s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	/* and no home directory lookup (getpwuid_r, /etc/passwd: 3.6 % of the
	 * loadgen's CPU at 1,000 connections a second), which a device makes
	 * once on its own CPU: nothing is read from the SSH directory */
	ssh_options_set(d->s, SSH_OPTIONS_SSH_DIR, "/nonexistent");
}

/* The TCP connect finished (or failed): start SSH. */
static void
dev_tcp_done(struct dev *d)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		dev_down(d, &lg.n.fail_tcp);
		return;
	}
	if ((d->s = ssh_new()) == NULL) {
		dev_down(d, &lg.n.fail_ssh);
		return;
	}
	set_options(d);
	ssh_set_blocking(d->s, 0);
	ssh_set_message_callback(d->s, on_message, d);
	d->st = D_KEX;
	/* on the kernel's polls: libssh's socket leaves its "connecting" state
	 * only on a real POLLOUT, which sockbuf.c's answers never give */
	dev_step_plain(d);
	/* ...and makes the socket blocking as it does; dev_flush sends without
	 * asking poll(2), so a full socket must say EAGAIN (sockbuf.c's send
	 * makes that 0 bytes, kept by libssh), not block every device */
	if (d->st != D_WAIT)
		fcntl(d->fd, F_SETFL, O_NONBLOCK);
}

static void
dev_start(struct dev *d)
{
	int one = 1;

	lg.n.attempts++;
	d->deadline_ms = lg.now_ms + HANDSHAKE_MS;
	d->fd = socket(lg.server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		dev_down(d, &lg.n.fail_tcp);
		return;
	}
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (lg.o.spread && lg.server.ss_family == AF_INET) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		inet_pton(AF_INET, d->src, &sa.sin_addr);
		if (bind(d->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			dev_down(d, &lg.n.fail_tcp);
			return;
		}
	}
	d->st = D_TCP;
	if (connect(d->fd, (struct sockaddr *)&lg.server, lg.serverlen) == 0) {
		dev_tcp_done(d);
		return;
	}
	if (errno != EINPROGRESS) {
		dev_down(d, &lg.n.fail_tcp);
		return;
	}
	interest(d, EPOLLOUT);
}

static void
dev_ready(struct dev *d, uint32_t events)
{
	switch (d->st) {
	case D_TCP:
		dev_tcp_done(d);
		return;
	case D_KEX: case D_AUTH: case D_FWD:
		break;
	case D_ONLINE:
		if (events & EPOLLIN)
			d->last_rx_ms = lg.now_ms;
		break;
	default:
		return;
	}
	dev_io(d, (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0);
}

/* ---- the loop ---- */

/*
 * Starts the devices whose time has come, as fast as the rate allows, and
 * sets next_start_ms to the next waiting device's time (dev_down lowers it).
 * The waiting devices are a heap on their time: a walk of every device at
 * each start was 7 % of a 20,000-device loadgen's CPU in a restart's storm,
 * and with every device online nothing is walked at all (a real fleet's
 * devices do not wake its jump host's CPU 100 times a second, so the load
 * generator must not).
 */
static void
start_due(void)
{
	if (lg.now_ms < lg.next_start_ms)
		return;
	/* bounded: a device that fails at once waits again, after its backoff */
	for (long n = lg.nwait; n > 0 && lg.nwait > 0 && lg.wait[0]->next_ms <= lg.now_ms; n--) {
		struct dev *d = lg.wait[0];
		if (!d->tried && !lg_rate_take(&lg.rate, lg.now_ms)) {
			lg.next_start_ms = lg.now_ms + 10;	/* the rate's granularity */
			return;
		}
		wait_pop();
		d->tried = true;
		dev_start(d);
	}
	lg.next_start_ms = lg.nwait > 0 ? lg.wait[0]->next_ms : INT64_MAX;
}

static void
status(bool final)
{
	struct counters *n = &lg.n;
	long wait = 0, hs = 0;
	char line[512];

	for (int i = 0; i < lg.o.ndevices; i++) {
		if (lg.devs[i].st == D_WAIT)
			wait++;
		else if (lg.devs[i].st != D_ONLINE)
			hs++;
	}
	snprintf(line, sizeof(line), "t=%.1f devices=%d registered=%ld connecting=%ld waiting=%ld "
	    "attempts=%ld failed=%ld fail_tcp=%ld fail_ssh=%ld fail_auth=%ld fail_fwd=%ld "
	    "fail_timeout=%ld busy=%ld disconnects=%ld told=%ld channels=%ld bytes=%llu%s\n",
	    (double)(lg.now_ms - lg.start_ms) / 1000, lg.o.ndevices, n->registered, hs, wait,
	    n->attempts, n->failed, n->fail_tcp, n->fail_ssh, n->fail_auth, n->fail_fwd,
	    n->fail_timeout, n->busy, n->disconnects, n->told, n->channels, n->bytes, final ? " final=1" : "");
	if (!lg.o.quiet || final) {
		fputs(line, stdout);
		fflush(stdout);
	}
	if (lg.o.status != NULL) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", lg.o.status);
		FILE *f = fopen(tmp, "w");
		if (f != NULL) {
			fputs(line, f);
			if (fclose(f) == 0)
				rename(tmp, lg.o.status);
		}
	}
}

/* Once a second: handshake deadlines, stalled handshakes, keepalives, silence. */
static void
tick(void)
{
	for (int i = 0; i < lg.o.ndevices; i++) {
		struct dev *d = &lg.devs[i];
		if (d->st == D_WAIT)
			continue;
		if (d->st != D_ONLINE) {
			if (lg.now_ms > d->deadline_ms)
				dev_down(d, &lg.n.fail_timeout);
			else if (d->st != D_TCP)
				dev_step_plain(d);
			continue;
		}
		int64_t idle = lg.now_ms - d->last_rx_ms;
		if (idle >= AGENT_SILENCE_MAX_MS) {
			/* libssh reads behind epoll's back too: ssh_send_keepalive
			 * polls and may take the server's reply itself, and no
			 * EPOLLIN follows. The kernel's count decides, as the
			 * agent's does (a device dropped for nothing otherwise) */
			long k = tcp_idle_ms(d->fd);
			if (k >= 0 && k < idle) {
				d->last_rx_ms = lg.now_ms - k;
				idle = k;
			}
		}
		if (idle >= AGENT_SILENCE_MAX_MS) {
			dev_down(d, NULL);
			continue;
		}
		if (idle >= AGENT_KEEPALIVE_MS && lg.now_ms - d->ka_sent_ms >= AGENT_KEEPALIVE_MS) {
			/* As the agent: the first call collects the previous reply, the second sends. */
			ssh_send_keepalive(d->s);
			ssh_send_keepalive(d->s);
			d->ka_sent_ms = lg.now_ms;
			if (libssh_closed(d)) {	/* it read the server's disconnect */
				dev_down(d, NULL);
				continue;
			}
			dev_flush(d);
			if (d->st == D_ONLINE)
				ssh_interest(d);
		}
	}
	status(false);
	lg.next_tick_ms = lg.now_ms + 1000;
}

static void
on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(lg.sigfd, &si, sizeof(si)) == sizeof(si))
		lg.stop = true;
}

static void
run(void)
{
	struct epoll_event evs[MAX_EVENTS];

	lg.start_ms = lg.now_ms = mono_ms();
	lg.next_tick_ms = lg.now_ms + 1000;
	lg_rate_init(&lg.rate, lg.o.rate, lg.now_ms);
	while (!lg.stop) {
		int64_t wait = lg.next_tick_ms - lg.now_ms;
		if (lg.next_start_ms - lg.now_ms < wait)
			wait = lg.next_start_ms - lg.now_ms;
		int n = epoll_wait(lg.epfd, evs, MAX_EVENTS, wait < 0 ? 0 : (int)wait);
		lg.now_ms = mono_ms();
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_signal();
			else
				dev_ready(evs[i].data.ptr, evs[i].events);
		}
		start_due();
		if (lg.now_ms >= lg.next_tick_ms)
			tick();
		if (lg.o.seconds > 0 && lg.now_ms - lg.start_ms >= lg.o.seconds * 1000L)
			lg.stop = true;
	}
	for (int i = 0; i < lg.o.ndevices; i++)
		if (lg.devs[i].st != D_WAIT)
			dev_down(&lg.devs[i], NULL);
	status(true);
}

/* ---- set-up ---- */

static int
resolve(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];

	snprintf(port, sizeof(port), "%d", lg.o.port);
	int g = getaddrinfo(lg.o.host, port, &hints, &ai);
	if (g != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", lg.o.host, gai_strerror(g));
		return -1;
	}
	memcpy(&lg.server, ai->ai_addr, ai->ai_addrlen);
	lg.serverlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int
setup_loop(void)
{
	struct rlimit rl;
	sigset_t set;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)lg.o.ndevices + 32)
		fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE %llu is below %d devices\n",
		    (unsigned long long)rl.rlim_cur, lg.o.ndevices);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	lg.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	lg.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (lg.sigfd < 0 || lg.epfd < 0 || epoll_ctl(lg.epfd, EPOLL_CTL_ADD, lg.sigfd, &ev) != 0) {
		fprintf(stderr, "loadgen: epoll: %s\n", strerror(errno));
		return -1;
	}
	if (lg.o.hostkey != NULL && ssh_pki_import_pubkey_file(lg.o.hostkey, &lg.pinned) != SSH_OK) {
		fprintf(stderr, "loadgen: cannot read host key %s\n", lg.o.hostkey);
		return -1;
	}
	return resolve();
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: outpost-loadgen -k KEYFILE [-s HOST:PORT] [-n DEVICES] [-f FLEET] [-p PREFIX]\n"
	    "         [-d STATE_DIR] [-D STORE] [-x] [-r CONNECTS_PER_S] [-P SERVICE_PORT] [-m echo|discard]\n"
	    "         [-t SECONDS] [-o STATUS_FILE] [-H SERVER_KEY.pub] [-a HOSTKEY_ALGS] [-u USER] [-S] [-q] [-v]\n");
}

int
main(int argc, char **argv)
{
	char why[256];
	int r = lg_parse_args(argc, argv, &lg.o, why, sizeof(why));

	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "outpost-loadgen: %s\n", why);
		usage(r < 0 ? stderr : stdout);
		return r < 0 ? 2 : 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* No fastbins: when a restart drops 20,000 sessions at once, each
	 * ssh_free of a large buffer made glibc consolidate every fastbin
	 * (malloc_consolidate, unlink_chunk), CPU that 20,000 real devices
	 * would each spend on their own (docs/BENCHMARKS.md, "Presence rows
	 * applied once, a shutdown that does not spin"); tcache still serves
	 * the small ones. */
	mallopt(M_MXFAST, 0);
	ssh_init();
	pidcache_init();	/* OpenSSL's getpid() at every random draw */
	sockbuf_init(ssh_version(0));	/* libssh's recv/poll/send: outpostd's read-ahead */
	pkeycache_init();	/* libssh's rebuilt X25519 keys (and host keys) */
	if ((lg.devs = calloc((size_t)lg.o.ndevices, sizeof(*lg.devs))) == NULL ||
	    (lg.wait = calloc((size_t)lg.o.ndevices, sizeof(*lg.wait))) == NULL)
		return 1;
	uint64_t seed = backoff_seed();
	for (int i = 0; i < lg.o.ndevices; i++) {
		struct dev *d = &lg.devs[i];
		d->idx = (unsigned)i;
		d->fd = -1;
		lg_device_name(lg.o.prefix, (unsigned)i, d->name, sizeof(d->name));
		lg_source_addr((unsigned)i, d->src, sizeof(d->src));
		backoff_init(&d->bo, seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL);
		wait_place(d, lg.nwait++);	/* all due at 0, in order: already a heap */
	}
	if (keys_prepare() != 0 || ((lg.o.state_dir != NULL || lg.o.store != NULL) && provision() != 0))
		return 1;
	if (lg.o.provision_only)
		return 0;
	if (setup_loop() != 0)
		return 1;
	run();
	for (int i = 0; i < lg.o.ndevices; i++)
		ssh_key_free(lg.devs[i].key);
	free(lg.devs);
	free(lg.wait);
	ssh_key_free(lg.pinned);
	ssh_finalize();
	return 0;
}
