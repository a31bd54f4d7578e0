/* run.c: the reconnect loop around tunnel_serve: backoff with full jitter, signals, status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/conn.h"
#include "agent/identity.h"
#include "agent/notify.h"
#include "agent/ondemand.h"
#include "agent/rotation.h"
#include "agent/run.h"
#include "agent/tunnel.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "ssh/disconnect.h"

static volatile sig_atomic_t stop_flag;
static void setup_signals(sigset_t *pollmask);

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile sig_atomic_t *
run_signals(sigset_t *pollmask)
{
	setup_signals(pollmask);
	return &stop_flag;
}

/* Blocks SIGTERM and SIGINT except inside ppoll (mask returned in pollmask). */
static void
setup_signals(sigset_t *pollmask)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, pollmask);
	sigdelset(pollmask, SIGTERM);
	sigdelset(pollmask, SIGINT);
}

/* Sleeps ms or until a signal stops us, feeding the watchdog meanwhile. */
static void
nap(int64_t ms, const sigset_t *mask)
{
	int64_t end = timefmt_mono_ms() + ms;

	while (!stop_flag) {
		int64_t left = end - timefmt_mono_ms();
		if (left <= 0)
			break;
		if (left > 1000)
			left = 1000;
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
		ppoll(NULL, 0, &ts, mask);
		notify_watchdog();
	}
}

int
run_connect(const struct agent_conf *conf, ssh_key key, const char *what, ssh_session *out,
    size_t *which, int *busy_s, char *why, size_t whylen)
{
	struct busy_pick bp = { 0 };
	struct conn_params p = { .pin = conf->hostkey, .pin_source = "agent.conf",
		.key = key, .user = AGENT_USER_RUN };
	struct rotation rot;
	char addr[HOSTPORT_STR_MAX];
	char prefix[HOSTPORT_STR_MAX + 2];
	int r;

	rotation_start(&rot, conf->nservers);
	do {
		p.server = &conf->servers[rot.i];
		hostport_format(p.server, addr, sizeof(addr));
		log_info("%s: connecting to %s", what, addr);
		r = conn_open(&p, out, why, whylen);
		if (r == 0) {
			*which = rot.i;
			return 0;
		}
		if (r == ERR_DENIED || r == ERR_KEY)
			log_error("%s: %s", addr, why);	/* loud: needs a person, but we keep trying */
		else
			log_warn("%s: %s", addr, why);
		snprintf(prefix, sizeof(prefix), "%s: ", addr);
		busy_pick_note(&bp, r, p.busy_s, prefix, why);
	} while (!stop_flag && rotation_failed(&rot));
	r = busy_pick_result(&bp, r, why, whylen);
	*busy_s = r == ERR_BUSY ? bp.secs : 0;
	return r;
}

/*
 * One connection: connect, serve until lost. Returns how long it was up
 * (ms, 0 if never); *busy_s is a busy server's wait when it never was, or
 * the wait a shutting-down server told the session at its end.
 */
static int64_t
session_once(const struct agent_conf *conf, ssh_key key, const sigset_t *mask, int *busy_s)
{
	char why[512], addr[HOSTPORT_STR_MAX];
	ssh_session s;
	size_t which;
	int r;

	if (run_connect(conf, key, "session", &s, &which, busy_s, why, sizeof(why)) != 0) {
		notify_status("cannot connect: %s", why);
		return 0;
	}
	hostport_format(&conf->servers[which], addr, sizeof(addr));
	log_info("connected to %s as %s.%s", addr, conf->name, conf->fleet);
	int64_t start = timefmt_mono_ms();
	r = tunnel_serve(s, conf, &stop_flag, mask, NULL, why, sizeof(why));
	int64_t up = timefmt_mono_ms() - start;
	if (r != 0) {
		log_warn("session lost after %lld s: %s", (long long)(up / 1000), why);
		(void)disconnect_busy_parse(why, busy_s);	/* "server shutting down: try again in N s" */
	} else
		log_info("session closed: %s", why);
	ssh_disconnect(s);
	ssh_free(s);
	return up;
}

int
run_main(const char *state_dir, const struct agent_conf *conf)
{
	struct backoff b;
	sigset_t mask;
	ssh_key key = NULL;
	int created;

	if (identity_load(state_dir, 0, &key, &created) != 0) {
		log_error("cannot read %s/%s: enroll first", state_dir, AGENT_KEY_FILE);
		return 1;
	}
	if (conf->mqtt.on_demand) {
		int r = ondemand_main(conf, key);
		ssh_key_free(key);
		return r;
	}
	setup_signals(&mask);
	backoff_init(&b, backoff_seed());
	while (!stop_flag) {
		int busy_s = 0;
		backoff_session_ended(&b, session_once(conf, key, &mask, &busy_s));
		if (stop_flag)
			break;
		if (busy_s > 0) {
			int64_t d = backoff_busy_ms(&b, busy_s);
			log_info("reconnecting in %.1f s, when the server asked", (double)d / 1000);
			notify_status("reconnecting in %.1f s, when the server asked", (double)d / 1000);
			nap(d, &mask);
			continue;
		}
		unsigned attempt = b.attempt;
		int64_t d = backoff_next_ms(&b);
		log_info("reconnecting in %.1f s (attempt %u, at most %lld s)", (double)d / 1000,
		    attempt + 1, (long long)backoff_ceiling_ms(attempt) / 1000);
		notify_status("reconnecting in %.1f s", (double)d / 1000);
		nap(d, &mask);
	}
	log_info("stopped");
	ssh_key_free(key);
	return 0;
}
