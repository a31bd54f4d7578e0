/*
 * scrape.c: GET /metrics over HTTP with libmicrohttpd, on its own thread.
 * What a peer can cost is bounded: LIM_METRICS_HTTP_CONNS connections (two
 * per address), LIM_METRICS_HTTP_REQUEST bytes of request line and headers
 * (libmicrohttpd answers longer ones with an error), IDLE_S seconds of
 * silence; any other path is 404, any other method 405. The thread reads
 * only the published snapshot, never the loop's objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/limits.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/promtext.h"
#include "server/scrape.h"

#define IDLE_S 5		/* a connection silent this long is closed */

struct scrape {
	struct MHD_Daemon *d;
};

static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned code, const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ok = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result
answer_metrics(struct MHD_Connection *conn)
{
	struct jbuf b;

	jbuf_init(&b, LIM_METRICS_TEXT);
	if (metrics_published_text(&b) != 0 || b.data == NULL) {
		jbuf_free(&b);
		return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics unavailable\n", NULL);
	}
	/* MUST_FREE: libmicrohttpd free()s b.data with the response. */
	struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		jbuf_free(&b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PROMTEXT_CONTENT_TYPE);
	enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	metrics_http_answered(0);
	return ok;
}

/* Answers at once, on the first call: a request body (none is expected) is never read. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	(void)cls; (void)version; (void)upload; (void)upload_size; (void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		metrics_http_answered(2);
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", "GET, HEAD");
	}
	if (url == NULL || strcmp(url, "/metrics") != 0) {
		metrics_http_answered(1);
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
	}
	return answer_metrics(conn);
}

int
scrape_start(const char *spec, struct scrape **out, char *why, size_t whylen)
{
	struct scrape *sc;
	int fd;

	*out = NULL;
	if ((fd = listener_open(spec, why, whylen)) < 0)
		return fd;
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	/* epoll, not select(): outpostd's descriptors run far past FD_SETSIZE. */
	sc->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIM_METRICS_HTTP_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(LIM_METRICS_HTTP_CONNS / 4),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIM_METRICS_HTTP_REQUEST,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1,
	    MHD_OPTION_END);
	if (sc->d == NULL) {
		close(fd);
		free(sc);
		snprintf(why, whylen, "cannot start the HTTP server (libmicrohttpd)");
		return ERR_IO;
	}
	*out = sc;
	return 0;
}

void
scrape_stop(struct scrape *sc)
{
	if (sc == NULL)
		return;
	MHD_stop_daemon(sc->d);	/* joins the thread, closes the listening socket */
	free(sc);
}
