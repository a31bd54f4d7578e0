/*
 * metrics.h: outpostd's Prometheus metrics. The event loop counts with
 * one-line calls (loop thread only, plain integers) and, once a tick,
 * publishes a snapshot under a mutex it only ever try-locks; the HTTP
 * thread (MetricsListen, scrape.c) and `ssh jump metrics` format a snapshot
 * with metrics_format. Labels are bounded: kinds, results and fleet names,
 * never device names or addresses. One server per process: the state is
 * this module's own.
 */
#ifndef OUTPOST_METRICS_H
#define OUTPOST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jbuf.h"
#include "common/limits.h"
#include "server/hostkey.h"
#include "server/peer.h"

struct server;

/* ---- counting, from the loop ---- */
void metrics_accepted(void);			/* a TCP connection got a session */
void metrics_refused(const char *why);		/* penalty_admit's reason, "shed", "waited", "gone" or "busy" */
void metrics_authenticated(const char *kind, int64_t handshake_ms);	/* user, device, enroll */
void metrics_auth_failed(const char *why);	/* auth_failed's reason text */
void metrics_takeover(void);
void metrics_node_takeover(void);
void metrics_connect(const char *result);	/* a direct-tcpip: ok, refused, failed */
void metrics_relayed(bool to_device, uint64_t bytes);
void metrics_woke(int64_t ms);			/* a standby device came for a waiting channel */
void metrics_wake_timeout(void);

/* ---- histograms ---- */
#define METRICS_BUCKETS_MAX 16
struct metrics_hist {
	uint64_t counts[METRICS_BUCKETS_MAX + 1];	/* non-cumulative; [n] is +Inf */
	double sum;					/* seconds */
};

enum metrics_hist_id { MH_HANDSHAKE, MH_WAKE, MH_STORE, MH_MAX };

/* Counters by label value; the arrays' order is metrics.c's label tables. */
enum { MA_SUCCESS, MA_UNKNOWN_KEY, MA_BAD_SIGNATURE, MA_UNUSABLE_KEY, MA_STORE_ERROR,
	MA_METHOD, MA_TOO_MANY_SESSIONS, MA_STORE_UNREACHABLE, MA_OTHER, MA_MAX };
enum { MR_BLOCKED, MR_PER_SOURCE, MR_STARTUPS, MR_SHED, MR_WAITED, MR_GONE, MR_BUSY, MR_OTHER, MR_MAX };
enum { MK_USER, MK_DEVICE, MK_ENROLL, MK_MAX };
enum { MC_OK, MC_REFUSED, MC_FAILED, MC_MAX };
enum { MCH_CLIENT, MCH_DEVICE, MCH_EXEC, MCH_REFUSE, MCH_WAIT, MCH_HOSTKEY, MCH_MAX };

struct metrics_fleet {
	char name[LIM_LABEL + 1];
	int online, standby, offline;
};

/* Everything one page shows. fleets is owned by whoever holds the snapshot. */
struct metrics_snapshot {
	int64_t start_time;		/* UNIX time outpostd started */
	uint64_t accepted;
	uint64_t refused[MR_MAX];
	uint64_t auth[MA_MAX];
	uint64_t opened[MK_MAX];	/* sessions authenticated, by kind */
	uint64_t takeovers;
	uint64_t node_takeovers;	/* device sessions dropped: another node registered the device later */
	uint64_t connects[MC_MAX];
	uint64_t bytes_to_device, bytes_from_device;
	uint64_t wake_timeouts;
	struct metrics_hist hist[MH_MAX];
	int sessions[MK_MAX];		/* live authenticated sessions */
	int handshakes;			/* connections not yet authenticated */
	uint64_t waiting;		/* accepted, their handshakes not begun (acceptq) */
	uint64_t waiting_limit;		/* how many the list takes now (size_waiting) */
	int channels[MCH_MAX];
	uint64_t hostkey_probes[HKP_MAX];	/* by outcome (hostkey.h) */
	int hostkey_running;		/* probes running now */
	struct peer_stats peers;	/* peer.h: connections to other nodes */
	int sources_blocked;
	uint64_t source_blocks;
	uint64_t store_errors;
	bool store_up;
	bool store_reachable;		/* false while the store thread cannot reach the store */
	uint64_t store_queue_depth, store_queue_max, store_queue_dropped;	/* storeq.h */
	uint64_t store_written, store_batches, store_reloads, store_notifies;
	uint64_t store_cutoff_drops, store_node_updates, store_lock_waits;
	int mqtt_up;			/* 1, 0, or -1 when MqttURL is unset */
	uint64_t http[3];		/* scrape.c: answered 200, 404, 405 */
	uint64_t audit_depth, audit_max, audit_refused, audit_overflowed;	/* audit.h's queue */
	uint64_t audit_behind;		/* auditsync_behind: records not in the store yet */
	uint64_t command_jobs, command_busy;	/* cmdq.h: remote commands queued or running, refused */
	struct metrics_fleet *fleets;
	size_t nfleets;
};

/*
 * Appends the exposition text of s to out (metric names, HELP and TYPE
 * lines, fleets' labels escaped by promtext). Returns 0, or the jbuf's
 * error (out->failed) if the text does not fit.
 */
int metrics_format(const struct metrics_snapshot *s, struct jbuf *out);

/* The upper bounds (seconds) of histogram id; *n gets their number. */
const double *metrics_bounds(enum metrics_hist_id id, size_t *n);

/* ---- the loop's side ---- */
/*
 * Starts counting for srv (store timer) and, with MetricsListen set, the
 * HTTP thread on that address; call before privileges are dropped. Fatal
 * if the address cannot be bound.
 */
void metrics_init(struct server *srv);
/* srv->st is a new store (the store thread's fresh mirror): time its queries. */
void metrics_store_attach(struct server *srv);
/* Once a tick: publishes a fresh snapshot for the HTTP thread, if it runs. */
void metrics_tick(struct server *srv);
/* Stops the HTTP thread and frees what the module holds; safe without init. */
void metrics_free(struct server *srv);
/*
 * The loop's current text (`ssh jump metrics`): collects a snapshot now,
 * store query included, and formats it into out. Returns 0 or an ERR_*.
 */
int metrics_text(struct server *srv, struct jbuf *out);

/* ---- the HTTP thread's side ---- */
/* Formats the last published snapshot into out; 0 or an ERR_*. Thread-safe. */
int metrics_published_text(struct jbuf *out);
/* Counts one HTTP answer: 0 = 200, 1 = 404, 2 = 405. Thread-safe. */
void metrics_http_answered(int which);

#endif
