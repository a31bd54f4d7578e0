/*
 * hostkey.h: outpostd learning the host keys of plain-OpenSSH devices (no
 * agent to report them) through their own tunnel; see hostkey.c.
 */
#ifndef OUTPOST_HOSTKEY_H
#define OUTPOST_HOSTKEY_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct server;

/* Probe outcomes counted in metrics (outpost_hostkey_probes_total{result}). */
enum { HKP_LEARNED, HKP_SAME, HKP_CHANGED, HKP_FAILED, HKP_SKIPPED, HKP_DROPPED, HKP_MAX };

/*
 * Device conn c registered port, on which its own sshd answers (22, or its
 * port-table port). Inside a libssh callback: only queues a probe, unless c
 * runs outpost-agent (which reports its keys), the port's keys are known
 * and were probed within the hour (a minute if unknown), or the queue is full.
 */
void hostkey_registered(struct conn *c, uint32_t port);
/* Main loop, once a tick: starts queued probes, at most LIM_HOSTKEY_PROBES at once. */
void hostkey_tick(struct server *srv);
/* Frees the queue (server_free; running probes end with their channels). */
void hostkey_free(void);
/* Probes running now, and the count of each outcome since start (metrics). */
int hostkey_running(void);
uint64_t hostkey_count(int result);
/* The metrics label of an outcome. */
const char *hostkey_result_name(int result);

/* True if a client identification string is outpost-agent's (libssh): it reports its own keys. */
bool hostkey_banner_is_agent(const char *banner);

#endif
