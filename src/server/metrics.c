/* metrics.c: outpostd's counters, the snapshot the loop publishes to the HTTP thread, and the metric families. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/audit.h"
#include "server/auditsync.h"
#include "server/chan.h"
#include "server/cmdq.h"
#include "server/hostkey.h"
#include "server/acceptq.h"
#include "server/metrics.h"
#include "server/penalty.h"
#include "server/promtext.h"
#include "server/scrape.h"
#include "server/server.h"
#include "server/storeq.h"
#include "server/wake.h"

#define FLEETS_EVERY_MS 5000	/* the per-fleet device query: at most this often for scrapes */

/* ---- label values, in the order of the enums in metrics.h ---- */
static const char *const auth_results[MA_MAX] = {
	"success", "unknown_key", "bad_signature", "unusable_key", "store_error",
	"method_not_offered", "too_many_sessions", "store_unreachable", "other",
};
static const char *const refuse_reasons[MR_MAX] = {
	"blocked", "per_source", "startups", "shed", "waited", "gone", "busy", "other",
};
static const char *const kinds[MK_MAX] = { "user", "device", "enroll" };
static const char *const connect_results[MC_MAX] = { "ok", "refused", "failed" };
static const char *const chan_kinds[MCH_MAX] = { "client", "device", "exec", "refuse", "wait", "hostkey" };

/* ---- histogram bounds, seconds ---- */
static const double handshake_le[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const double wake_le[] = { 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 };
static const double store_le[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 1 };

const double *
metrics_bounds(enum metrics_hist_id id, size_t *n)
{
	switch (id) {
	case MH_HANDSHAKE: *n = sizeof(handshake_le) / sizeof(double); return handshake_le;
	case MH_WAKE: *n = sizeof(wake_le) / sizeof(double); return wake_le;
	default: *n = sizeof(store_le) / sizeof(double); return store_le;
	}
}

/* ---- the loop's state ---- */
static struct metrics_snapshot live;		/* counters; gauges are filled by collect() */
static struct metrics_fleet *fleets;		/* last per-fleet query, loop-owned */
static size_t nfleets;
static int64_t fleets_ms;			/* when it ran (monotonic ms), 0 = never */
static bool store_ok;
static int64_t store_failures_seen;
static struct scrape *http;			/* NULL without MetricsListen */

/* ---- what the HTTP thread reads ---- */
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_snapshot pub;		/* fleets owned; guarded by pub_mu */
static bool pub_ready;
static atomic_ullong http_answers[3];

static void
observe(enum metrics_hist_id id, double seconds)
{
	size_t n, i;
	const double *le = metrics_bounds(id, &n);

	for (i = 0; i < n && seconds > le[i]; i++)
		;
	live.hist[id].counts[i]++;
	live.hist[id].sum += seconds;
}

void metrics_accepted(void) { live.accepted++; }
void metrics_takeover(void) { live.takeovers++; }
void metrics_node_takeover(void) { live.node_takeovers++; }
void metrics_wake_timeout(void) { live.wake_timeouts++; }
void metrics_woke(int64_t ms) { observe(MH_WAKE, (double)ms / 1000.0); }

void
metrics_refused(const char *why)
{
	int r = MR_OTHER;

	if (why == NULL)
		r = MR_OTHER;
	else if (strcmp(why, "shed") == 0)
		r = MR_SHED;
	else if (strcmp(why, "waited") == 0)
		r = MR_WAITED;
	else if (strcmp(why, "gone") == 0)
		r = MR_GONE;
	else if (strcmp(why, "busy") == 0)
		r = MR_BUSY;
	else if (strstr(why, "blocked") != NULL)
		r = MR_BLOCKED;
	else if (strstr(why, "from this source") != NULL)
		r = MR_PER_SOURCE;
	else if (strstr(why, "too many unauthenticated") != NULL)
		r = MR_STARTUPS;
	live.refused[r]++;
}

static int
kind_index(const char *kind)
{
	for (int i = 0; i < MK_MAX; i++)
		if (kind != NULL && strcmp(kind, kinds[i]) == 0)
			return i;
	return -1;
}

void
metrics_authenticated(const char *kind, int64_t handshake_ms)
{
	int k = kind_index(kind);

	live.auth[MA_SUCCESS]++;
	if (k >= 0)
		live.opened[k]++;
	observe(MH_HANDSHAKE, (double)handshake_ms / 1000.0);
}

void
metrics_auth_failed(const char *why)
{
	static const struct { const char *text; int r; } map[] = {
		{ "unknown key", MA_UNKNOWN_KEY }, { "bad signature", MA_BAD_SIGNATURE },
		{ "unusable key", MA_UNUSABLE_KEY }, { "store error", MA_STORE_ERROR },
		{ "is not offered", MA_METHOD }, { "too many sessions", MA_TOO_MANY_SESSIONS },
		{ "store unreachable", MA_STORE_UNREACHABLE },
	};
	int r = MA_OTHER;

	for (size_t i = 0; why != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(why, map[i].text) != NULL) {
			r = map[i].r;
			break;
		}
	live.auth[r]++;
}

void
metrics_connect(const char *result)
{
	for (int i = 0; i < MC_MAX; i++)
		if (result != NULL && strcmp(result, connect_results[i]) == 0)
			live.connects[i]++;
}

void
metrics_relayed(bool to_device, uint64_t bytes)
{
	if (to_device)
		live.bytes_to_device += bytes;
	else
		live.bytes_from_device += bytes;
}

static void
store_timed(void *arg, int64_t ns)
{
	(void)arg;
	observe(MH_STORE, (double)ns / 1e9);
}

void
metrics_http_answered(int which)
{
	if (which >= 0 && which < 3)
		atomic_fetch_add(&http_answers[which], 1);
}

/* ---- formatting ---- */

static void
family(struct jbuf *b, const char *name, const char *type, const char *help)
{
	promtext_family(b, name, type, help);
}

/* A family with one unlabelled sample. */
static void
single(struct jbuf *b, const char *name, const char *type, uint64_t v, const char *help)
{
	family(b, name, type, help);
	promtext_sample(b, name, NULL, 0, v);
}

/* One sample per label value of a counter array. */
static void
by_label(struct jbuf *b, const char *name, const char *label, const char *const *values,
    const uint64_t *counts, int n)
{
	for (int i = 0; i < n; i++) {
		struct promtext_label l = { label, values[i] };
		promtext_sample(b, name, &l, 1, counts[i]);
	}
}

static void
by_label_int(struct jbuf *b, const char *name, const char *label, const char *const *values,
    const int *counts, int n)
{
	for (int i = 0; i < n; i++) {
		struct promtext_label l = { label, values[i] };
		promtext_sample(b, name, &l, 1, counts[i] > 0 ? (uint64_t)counts[i] : 0);
	}
}

static void
histogram(struct jbuf *b, const struct metrics_snapshot *s, enum metrics_hist_id id,
    const char *name, const char *help)
{
	struct promtext_hist h;

	h.le = metrics_bounds(id, &h.n);
	h.counts = s->hist[id].counts;
	h.sum = s->hist[id].sum;
	family(b, name, "histogram", help);
	promtext_histogram(b, name, NULL, 0, &h);
}

static void
format_fleets(struct jbuf *b, const struct metrics_snapshot *s)
{
	family(b, "outpost_devices", "gauge",
	    "Devices per fleet and state (online, standby: on demand and woken by a connection, offline).");
	for (size_t i = 0; i < s->nfleets; i++) {
		const struct metrics_fleet *f = &s->fleets[i];
		const char *states[3] = { "online", "standby", "offline" };
		int n[3] = { f->online, f->standby, f->offline };
		for (int j = 0; j < 3; j++) {
			struct promtext_label l[2] = { { "fleet", f->name }, { "state", states[j] } };
			promtext_sample(b, "outpost_devices", l, 2, n[j] > 0 ? (uint64_t)n[j] : 0);
		}
	}
}

static void
format_sessions(struct jbuf *b, const struct metrics_snapshot *s)
{
	family(b, "outpost_sessions", "gauge", "Authenticated SSH sessions now, by kind.");
	by_label_int(b, "outpost_sessions", "kind", kinds, s->sessions, MK_MAX);
	family(b, "outpost_sessions_opened_total", "counter", "SSH sessions authenticated, by kind.");
	by_label(b, "outpost_sessions_opened_total", "kind", kinds, s->opened, MK_MAX);
	family(b, "outpost_handshakes_in_flight", "gauge",
	    "Connections accepted and not yet authenticated.");
	promtext_sample(b, "outpost_handshakes_in_flight", NULL, 0,
	    s->handshakes > 0 ? (uint64_t)s->handshakes : 0);
	single(b, "outpost_connections_waiting", "gauge", s->waiting,
	    "Connections accepted while handshakes are behind, waiting for theirs to begin.");
	single(b, "outpost_connections_waiting_limit", "gauge", s->waiting_limit,
	    "How many may wait now: 5 s of logins at the recent rate, 256 to 4096.");
	histogram(b, s, MH_HANDSHAKE, "outpost_handshake_duration_seconds",
	    "Time from accepting a connection to its successful authentication.");
	family(b, "outpost_channels", "gauge", "Open SSH channels now, by kind.");
	by_label_int(b, "outpost_channels", "kind", chan_kinds, s->channels, MCH_MAX);
}

static void
format_traffic(struct jbuf *b, const struct metrics_snapshot *s)
{
	single(b, "outpost_connections_accepted_total", "counter", s->accepted,
	    "TCP connections given an SSH session.");
	family(b, "outpost_connections_refused_total", "counter",
	    "TCP connections closed at once: source blocked, per-source or MaxStartups limit, out of descriptors.");
	by_label(b, "outpost_connections_refused_total", "reason", refuse_reasons, s->refused, MR_MAX);
	family(b, "outpost_authentications_total", "counter", "Authentication attempts by result.");
	by_label(b, "outpost_authentications_total", "result", auth_results, s->auth, MA_MAX);
	single(b, "outpost_device_takeovers_total", "counter", s->takeovers,
	    "Device sessions replaced by a newer session with the same key.");
	single(b, "outpost_device_node_takeovers_total", "counter", s->node_takeovers,
	    "Device sessions dropped because the device registered on another node since.");
	family(b, "outpost_connects_total", "counter",
	    "Technician connections to a device (direct-tcpip) by result: ok, refused, failed.");
	by_label(b, "outpost_connects_total", "result", connect_results, s->connects, MC_MAX);
	family(b, "outpost_relayed_bytes_total", "counter", "Bytes relayed between technicians and devices.");
	const char *dirs[2] = { "to_device", "from_device" };
	uint64_t bytes[2] = { s->bytes_to_device, s->bytes_from_device };
	by_label(b, "outpost_relayed_bytes_total", "direction", dirs, bytes, 2);
	family(b, "outpost_sources_blocked", "gauge",
	    "Source addresses blocked now after repeated failures (PerSourcePenalty*).");
	promtext_sample(b, "outpost_sources_blocked", NULL, 0,
	    s->sources_blocked > 0 ? (uint64_t)s->sources_blocked : 0);
	single(b, "outpost_source_blocks_total", "counter", s->source_blocks,
	    "Blocks imposed on source addresses.");
}

static void
format_wake_store(struct jbuf *b, const struct metrics_snapshot *s)
{
	histogram(b, s, MH_WAKE, "outpost_wake_duration_seconds",
	    "Time from a technician's connection to a standby device until the device registered.");
	single(b, "outpost_wake_timeouts_total", "counter", s->wake_timeouts,
	    "Waits for a woken device that ended in a refusal after WakeTimeout.");
	family(b, "outpost_hostkey_probes_total", "counter",
	    "Plain devices' sshds probed for their host keys, by outcome (skipped: probed lately; dropped: queue full).");
	const char *hk_results[HKP_MAX];
	for (int i = 0; i < HKP_MAX; i++)
		hk_results[i] = hostkey_result_name(i);
	by_label(b, "outpost_hostkey_probes_total", "result", hk_results, s->hostkey_probes, HKP_MAX);
	single(b, "outpost_hostkey_probes_running", "gauge", (uint64_t)s->hostkey_running,
	    "Host key probes running now (at most 4, two descriptors and one channel each).");
	single(b, "outpost_peer_connections", "gauge", (uint64_t)s->peers.links,
	    "Connections to peer nodes now, logging in or up (at most 64).");
	single(b, "outpost_peer_connections_up", "gauge", (uint64_t)s->peers.links_up,
	    "Connections to peer nodes logged in now.");
	single(b, "outpost_peer_connects_total", "counter", s->peers.connects,
	    "Connections to peer nodes started.");
	single(b, "outpost_peer_connect_failures_total", "counter", s->peers.connect_failures,
	    "Connections to peer nodes that failed before logging in.");
	single(b, "outpost_peer_routes_total", "counter", s->peers.opens,
	    "Routes sent through a peer node.");
	single(b, "outpost_peer_route_failures_total", "counter", s->peers.open_failures,
	    "Routes a peer node refused to open.");
	single(b, "outpost_peer_routes_refused_busy_total", "counter", s->peers.refused_busy,
	    "Routes refused here: too many peer nodes, channels or opens waiting on one connection.");
	if (s->mqtt_up >= 0) {
		family(b, "outpost_mqtt_broker_up", "gauge", "1 while the MQTT broker connection is up.");
		promtext_sample(b, "outpost_mqtt_broker_up", NULL, 0, (uint64_t)s->mqtt_up);
	}
	histogram(b, s, MH_STORE, "outpost_store_query_duration_seconds",
	    "Run time of each state store statement outpostd executes.");
	single(b, "outpost_store_errors_total", "counter", s->store_errors,
	    "State store calls that failed in the store itself (I/O, read-only, busy).");
	single(b, "outpost_store_up", "gauge", s->store_up ? 1 : 0,
	    "1 if the last store query succeeded and no store call failed since the one before.");
	single(b, "outpost_store_reachable", "gauge", s->store_reachable ? 1 : 0,
	    "0 while the store thread cannot reach the state store: new logins are refused.");
	single(b, "outpost_store_queue_records", "gauge", s->store_queue_depth,
	    "outpostd's own writes queued for the store thread now (coalesced per device and session).");
	single(b, "outpost_store_queue_limit", "gauge", s->store_queue_max,
	    "The write queue's bound; 0 when outpostd writes the store directly.");
	single(b, "outpost_store_queue_dropped_total", "counter", s->store_queue_dropped,
	    "Writes dropped because the write queue was full.");
	single(b, "outpost_store_queue_written_total", "counter", s->store_written,
	    "Queued writes the store thread wrote to the state store.");
	single(b, "outpost_store_queue_batches_total", "counter", s->store_batches,
	    "Transactions the store thread wrote them in.");
	single(b, "outpost_store_reloads_total", "counter", s->store_reloads,
	    "Fresh copies of the state store the loop took after it changed.");
	single(b, "outpost_store_node_updates_total", "counter", s->store_node_updates,
	    "Changes of the nodes' rows (a node up, down, registered) the loop's copy took without a full copy.");
	single(b, "outpost_store_lock_waits_total", "counter", s->store_lock_waits,
	    "Times queued writes waited out another writer's lock on the state store and stayed queued.");
	single(b, "outpost_store_notifications_total", "counter", s->store_notifies,
	    "PostgreSQL notifications (LISTEN/NOTIFY) the store thread acted on.");
	single(b, "outpost_store_cutoff_drops_total", "counter", s->store_cutoff_drops,
	    "Device sessions dropped because the state store did not answer for the node-down bound.");
	single(b, "outpost_audit_queue_records", "gauge", s->audit_depth,
	    "Audit records queued for the writer thread now.");
	single(b, "outpost_audit_store_behind_records", "gauge", s->audit_behind,
	    "Audit records this node wrote that its copier has not copied into the store yet (PostgreSQL).");
	single(b, "outpost_audit_queue_limit", "gauge", s->audit_max,
	    "AuditQueueMax: past it new logins and connections are refused.");
	single(b, "outpost_audit_refused_total", "counter", s->audit_refused,
	    "Logins and connections refused while the audit queue was full.");
	single(b, "outpost_audit_overflowed_total", "counter", s->audit_overflowed,
	    "Audit records past twice AuditQueueMax, written to outpostd's own log only.");
	single(b, "outpost_command_jobs", "gauge", s->command_jobs,
	    "Remote commands (ssh jump COMMAND) queued for or running on the command workers.");
	single(b, "outpost_command_busy_total", "counter", s->command_busy,
	    "Remote commands refused because too many were waiting (\"outpost: busy\").");
	family(b, "outpost_metrics_http_answers_total", "counter",
	    "Answers of the MetricsListen HTTP server by status code.");
	const char *codes[3] = { "200", "404", "405" };
	by_label(b, "outpost_metrics_http_answers_total", "code", codes, s->http, 3);
}

int
metrics_format(const struct metrics_snapshot *s, struct jbuf *out)
{
	struct promtext_label v = { "version", OUTPOST_VERSION };

	family(out, "outpost_build_info", "gauge", "Always 1; the version of outpostd.");
	promtext_sample(out, "outpost_build_info", &v, 1, 1);
	family(out, "outpost_start_time_seconds", "gauge", "UNIX time outpostd started.");
	promtext_sample(out, "outpost_start_time_seconds", NULL, 0,
	    s->start_time > 0 ? (uint64_t)s->start_time : 0);
	format_fleets(out, s);
	format_sessions(out, s);
	format_traffic(out, s);
	format_wake_store(out, s);
	return out->failed ? ERR_TOOLONG : 0;
}

/* ---- collecting on the loop ---- */

static int
fleet_cb(void *arg, const char *fleet, int online, int standby, int offline)
{
	struct jbuf *acc = arg;
	struct metrics_fleet f;

	if (acc->len / sizeof(f) >= LIM_METRICS_FLEETS)
		return 0;	/* more fleets than a page shows: the rest are left out */
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "%s", fleet ? fleet : "");
	f.online = online;
	f.standby = standby;
	f.offline = offline;
	return jbuf_add(acc, &f, sizeof(f));
}

/* Failed store calls: the loop's store and, in mirror mode, the store thread's. */
static int64_t
all_failures(struct server *srv)
{
	struct storeq_stats qs;

	storeq_get_stats(srv, &qs);
	return store_failures(srv->st) + (int64_t)qs.failures;
}

/* Runs the per-fleet query; store_up follows it and the store's failure count. */
static void
refresh_fleets(struct server *srv)
{
	struct jbuf acc;

	jbuf_init(&acc, (size_t)LIM_METRICS_FLEETS * sizeof(struct metrics_fleet) + 1);
	int r = store_fleet_states(srv->st, fleet_cb, &acc);
	int64_t failures = all_failures(srv);
	store_ok = r == 0 && failures == store_failures_seen;
	store_failures_seen = failures;
	fleets_ms = srv->now_ms > 0 ? srv->now_ms : 1;
	if (r != 0) {
		jbuf_free(&acc);
		return;	/* keep the last counts; store_up says they are stale */
	}
	free(fleets);
	fleets = (struct metrics_fleet *)acc.data;
	nfleets = acc.len / sizeof(struct metrics_fleet);
}

static int
chan_index(const struct chan_ops *ops)
{
	if (ops == &chan_splice_client)
		return MCH_CLIENT;
	if (ops == &chan_splice_device)
		return MCH_DEVICE;
	if (ops == &chan_exec)
		return MCH_EXEC;
	if (ops == &chan_refusal)
		return MCH_REFUSE;
	if (ops == &chan_hostkey_probe)
		return MCH_HOSTKEY;
	return MCH_WAIT;
}

/* Fills s from the counters and the loop's objects; s->fleets is a copy the caller frees. */
static int
collect(struct server *srv, struct metrics_snapshot *s)
{
	*s = live;
	s->fleets = NULL;
	s->nfleets = 0;
	for (const struct conn *c = srv->conns; c != NULL; c = c->next) {
		if (c->dead)
			continue;
		if (!c->authed)
			s->handshakes++;
		else if (c->who.kind == PRINCIPAL_USER || c->who.kind == PRINCIPAL_DEVICE ||
		    c->who.kind == PRINCIPAL_ENROLL)
			s->sessions[c->who.kind == PRINCIPAL_USER ? MK_USER :
			    c->who.kind == PRINCIPAL_DEVICE ? MK_DEVICE : MK_ENROLL]++;
	}
	for (const struct chan *h = srv->chans; h != NULL; h = h->next)
		if (!h->dead)
			s->channels[chan_index(h->ops)]++;
	s->waiting = srv->waiting != NULL ? acceptq_len(srv->waiting) : 0;
	s->waiting_limit = srv->waiting != NULL ? acceptq_limit(srv->waiting) : 0;
	penalty_stats(srv->pen, srv->now_ms, &s->sources_blocked, &s->source_blocks);
	for (int i = 0; i < HKP_MAX; i++)
		s->hostkey_probes[i] = hostkey_count(i);
	s->hostkey_running = hostkey_running();
	peer_get_stats(&s->peers);
	s->store_errors = (uint64_t)all_failures(srv);
	s->store_up = store_ok && !storeq_unreachable(srv);
	s->store_reachable = !storeq_unreachable(srv);
	struct storeq_stats qs;
	storeq_get_stats(srv, &qs);
	s->store_queue_depth = qs.depth;
	s->store_queue_max = qs.max;
	s->store_queue_dropped = qs.dropped;
	s->store_written = qs.written;
	s->store_batches = qs.batches;
	s->store_reloads = qs.reloads;
	s->store_notifies = qs.notifies;
	s->store_cutoff_drops = qs.cutoff_drops;
	s->store_node_updates = qs.node_updates;
	s->store_lock_waits = qs.lock_waits;
	s->mqtt_up = wake_enabled(srv) ? wake_broker_up(srv) : -1;
	struct audit_stats as;
	audit_get_stats(srv->audit, &as);
	s->audit_depth = as.depth;
	s->audit_max = as.max;
	s->audit_behind = (uint64_t)auditsync_behind();
	s->audit_refused = as.refused;
	s->audit_overflowed = as.overflowed;
	struct cmdq_stats cs;
	exec_stats(&cs);
	s->command_jobs = cs.jobs;
	s->command_busy = cs.busy;
	for (int i = 0; i < 3; i++)
		s->http[i] = atomic_load(&http_answers[i]);
	if (nfleets > 0) {
		if ((s->fleets = malloc(nfleets * sizeof(*fleets))) == NULL)
			return ERR_NOMEM;
		memcpy(s->fleets, fleets, nfleets * sizeof(*fleets));
		s->nfleets = nfleets;
	}
	return 0;
}

void
metrics_store_attach(struct server *srv)
{
	store_set_timer(srv->st, store_timed, NULL);
	store_failures_seen = all_failures(srv);
}

void
metrics_init(struct server *srv)
{
	char why[256];

	live.start_time = timefmt_now();
	store_set_timer(srv->st, store_timed, NULL);
	store_failures_seen = store_failures(srv->st);
	if (srv->cfg->metrics_listen == NULL)
		return;
	if (scrape_start(srv->cfg->metrics_listen, &http, why, sizeof(why)) != 0)
		fatal("MetricsListen %s: %s", srv->cfg->metrics_listen, why);
	log_info("metrics on http://%s/metrics", srv->cfg->metrics_listen);
	metrics_tick(srv);	/* a first snapshot: a scrape never finds nothing */
}

void
metrics_tick(struct server *srv)
{
	struct metrics_snapshot s;

	if (http == NULL)
		return;
	if (fleets_ms == 0 || srv->now_ms - fleets_ms >= FLEETS_EVERY_MS)
		refresh_fleets(srv);
	if (collect(srv, &s) != 0)
		return;
	/* Never wait for the HTTP thread: if it holds the lock, publish next tick. */
	if (pthread_mutex_trylock(&pub_mu) != 0) {
		free(s.fleets);
		return;
	}
	struct metrics_fleet *old = pub.fleets;
	pub = s;
	pub_ready = true;
	pthread_mutex_unlock(&pub_mu);
	free(old);
}

int
metrics_text(struct server *srv, struct jbuf *out)
{
	struct metrics_snapshot s;
	int r;

	refresh_fleets(srv);
	if ((r = collect(srv, &s)) != 0)
		return r;
	r = metrics_format(&s, out);
	free(s.fleets);
	return r;
}

int
metrics_published_text(struct jbuf *out)
{
	struct metrics_snapshot s;
	int r = 0;

	pthread_mutex_lock(&pub_mu);
	s = pub;
	s.fleets = NULL;
	if (pub.nfleets > 0 && (s.fleets = malloc(pub.nfleets * sizeof(*s.fleets))) != NULL)
		memcpy(s.fleets, pub.fleets, pub.nfleets * sizeof(*s.fleets));
	else
		s.nfleets = 0;
	bool ready = pub_ready;
	pthread_mutex_unlock(&pub_mu);
	if (!ready)
		r = ERR_NOTFOUND;	/* before the first tick: nothing yet */
	else
		r = metrics_format(&s, out);
	free(s.fleets);
	return r;
}

void
metrics_free(struct server *srv)
{
	(void)srv;
	scrape_stop(http);
	http = NULL;
	pthread_mutex_lock(&pub_mu);
	free(pub.fleets);
	memset(&pub, 0, sizeof(pub));
	pub_ready = false;
	pthread_mutex_unlock(&pub_mu);
	free(fleets);
	fleets = NULL;
	nfleets = 0;
	fleets_ms = 0;
}
