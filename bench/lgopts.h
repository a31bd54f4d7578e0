/* lgopts.h: outpost-loadgen's options and the pure helpers the unit tests cover. */
#ifndef OUTPOST_LGOPTS_H
#define OUTPOST_LGOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_DEVICES_MAX	65536	/* one source address 127.2.X.Y each */
#define LG_RATE_MAX	100000	/* connection attempts per second */
#define LG_PREFIX_MAX	40	/* leaves room for "-NNNNN" in a 63-byte label */

enum lg_mode { LG_ECHO, LG_DISCARD };

struct lg_opts {
	char host[256];		/* the jump server */
	int port;
	int ndevices;
	char fleet[64];
	char prefix[LG_PREFIX_MAX + 1];
	const char *keys;	/* file of private keys, one per device; grown as needed */
	const char *state_dir;	/* if set: add missing devices to this store */
	const char *store;	/* if set: add them to this store instead (a spec, as `outpost --store`) */
	const char *status;	/* if set: status line rewritten here every second */
	const char *hostkey;	/* if set: the server's public key file to pin */
	const char *user;	/* SSH user name (default "dev") */
	const char *hostkey_algs;	/* host key algorithms offered (default "ssh-ed25519") */
	int rate;		/* first connections per second, at most (reconnects: backoff only) */
	int service_port;	/* registered with tcpip-forward */
	enum lg_mode mode;
	int seconds;		/* 0: run until SIGTERM/SIGINT */
	bool spread;		/* each device from its own 127.2.X.Y */
	bool provision_only;	/* -x: keys and store, then exit */
	bool quiet;
	bool verbose;		/* -v: each failed attempt's reason on stderr */
};

/*
 * Parses the command line into o (cleared first). Returns 0, 1 for -h (usage
 * wanted), or -1 with a message in why. o keeps pointers into argv.
 */
int lg_parse_args(int argc, char **argv, struct lg_opts *o, char *why, size_t whylen);

/* "PREFIX-NNNNN" for device i into dst; 0, or -1 if it does not fit a DNS label. */
int lg_device_name(const char *prefix, unsigned i, char *dst, size_t len);

/* Source address of device i: "127.2.X.Y" (i < LG_DEVICES_MAX); 0 or -1. */
int lg_source_addr(unsigned i, char *dst, size_t len);

/* Parses "HOST:PORT" or "[V6]:PORT"; 0 or -1. */
int lg_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Token bucket: at most rate events per second, bursts of at most rate/10 + 1. */
struct lg_rate {
	int rate;
	double tokens;
	int64_t last_ms;
};

void lg_rate_init(struct lg_rate *r, int rate, int64_t now_ms);
/* True (and one token spent) if an event may happen at now_ms. */
bool lg_rate_take(struct lg_rate *r, int64_t now_ms);

#endif
