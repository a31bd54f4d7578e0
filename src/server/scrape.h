/*
 * scrape.h: the MetricsListen HTTP server: libmicrohttpd on its own thread,
 * answering GET /metrics with the snapshot the loop last published
 * (metrics_published_text) and nothing else.
 */
#ifndef OUTPOST_SCRAPE_H
#define OUTPOST_SCRAPE_H

#include <stddef.h>

struct scrape;

/*
 * Binds spec ("ADDR:PORT", as Listen) and starts the HTTP thread. Returns 0
 * with *out set (free with scrape_stop), or an ERR_* with a sentence in why.
 */
int scrape_start(const char *spec, struct scrape **out, char *why, size_t whylen);
/* Stops the thread, closes the socket, frees; NULL is a no-op. */
void scrape_stop(struct scrape *sc);

#endif
