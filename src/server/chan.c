/*
 * chan.c: the life of every channel outpostd serves: new, kill, reap, and
 * libssh's channel callbacks, which record facts and hand data to the kind
 * (chan.h lists the kinds and the file of each).
 */
#include <stdlib.h>

#include "server/chan.h"
#include "server/server.h"

/* ---- channel callbacks: record facts only ---- */

static int
on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	if (is_stderr || h->dead)
		return (int)len;	/* nothing we serve reads stderr */
	if (h->ops->data != NULL)
		return h->ops->data(h, data, len);
	h->pending = len;
	h->srv->work = true;
	return 0;	/* stays in libssh's buffer until the peer can take it */
}

static void
on_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	h->eof_rcvd = true;
	h->srv->work = true;
}

static void
on_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct chan *h = arg;

	(void)s; (void)ch;
	h->close_rcvd = true;
	h->eof_rcvd = true;
	h->srv->work = true;
}

struct chan *
chan_new(struct conn *c, ssh_channel ch, const struct chan_ops *ops, void *data)
{
	struct chan *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->srv = c->srv;
	h->conn = c;
	h->ch = ch;
	h->ops = ops;
	h->data = data;
	ssh_callbacks_init(&h->cb);
	h->cb.userdata = h;
	h->cb.channel_data_function = on_data;
	h->cb.channel_eof_function = on_eof;
	h->cb.channel_close_function = on_close;
	if (ch != NULL)
		ssh_set_channel_callbacks(ch, &h->cb);
	h->next = c->srv->chans;
	if (h->next)
		h->next->prev = h;
	c->srv->chans = h;
	c->nchans++;
	return h;
}

void
chan_become(struct chan *h, const struct chan_ops *ops, void *data)
{
	if (h->ops->reap != NULL)
		h->ops->reap(h);
	h->ops = ops;
	h->data = data;
	h->srv->work = true;
}

void
chan_kill(struct chan *h)
{
	if (h->dead)
		return;
	h->dead = true;
	h->srv->work = true;
}

void
chan_reap(struct chan *h)
{
	struct server *srv = h->srv;

	if (h->ch != NULL && h->conn != NULL) {
		ssh_remove_channel_callbacks(h->ch, &h->cb);
		ssh_channel_free(h->ch);	/* sends CLOSE if still owed */
		server_touch(h->conn);
	}
	if (h->ops->reap != NULL)
		h->ops->reap(h);
	if (h->prev)
		h->prev->next = h->next;
	else
		srv->chans = h->next;
	if (h->next)
		h->next->prev = h->prev;
	if (h->conn != NULL)
		h->conn->nchans--;
	free(h);
}

bool
chan_pump(struct chan *h)
{
	if (h->dead || h->ops->pump == NULL)
		return false;
	return h->ops->pump(h);
}

static struct chan *
find_chan(struct conn *c, ssh_channel ch)
{
	for (struct chan *h = c->srv->chans; h != NULL; h = h->next)
		if (h->ch == ch && h->conn == c && !h->dead)
			return h;
	return NULL;
}

int
chan_request(struct conn *c, ssh_message m)
{
	struct chan *h = find_chan(c, ssh_message_channel_request_channel(m));

	if (h == NULL || h->ops->request == NULL)
		return MSG_DEFAULT;
	return h->ops->request(h, m);
}

void
chan_session_gone(struct conn *c)
{
	for (struct chan *h = c->srv->chans; h != NULL; h = h->next) {
		if (h->conn != c)
			continue;
		if (h->ch != NULL)
			ssh_remove_channel_callbacks(h->ch, &h->cb);
		h->ch = NULL;
		chan_kill(h);
		h->conn = NULL;
		c->nchans--;
	}
}
