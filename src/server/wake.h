/*
 * wake.h: outpostd as an MQTT client (MqttURL): follows on-demand devices'
 * retained states into the store, publishes `connect`/`disconnect` on their
 * control topics, and re-sends `connect` for channels still waiting when the
 * broker or the device comes back. libmosquitto's socket sits in the epoll
 * set (WATCH_MQTT); nothing here blocks except name resolution on connect.
 */
#ifndef OUTPOST_WAKE_H
#define OUTPOST_WAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>

struct server;

/* Starts the client if MqttURL is set (fatal on a configuration error). */
void wake_init(struct server *srv);
/* Says DISCONNECT and frees; NULL-safe. */
void wake_free(struct server *srv);
/* The broker socket is ready (epoll events). */
void wake_ready(struct server *srv, uint32_t events);
/* Once a second: keepalives, reconnection with backoff. */
void wake_tick(struct server *srv);
/* End of a loop turn: epoll interest for the broker socket. */
void wake_interest(struct server *srv);

/* True if outpostd follows on-demand devices (MqttURL set). */
bool wake_enabled(const struct server *srv);
/*
 * Publishes cmd ("connect" or "disconnect") on the control topic of
 * name.fleet. Returns 0 if handed to the broker, ERR_IO if the broker is not
 * connected now (waiting channels are woken again on reconnection).
 */
int wake_send(struct server *srv, const char *fleet, const char *name, const char *cmd);
/* True while the broker connection is up. */
bool wake_broker_up(const struct server *srv);

struct conn;
/* True if device dev_id is on-demand (has an MQTT state) and outpostd follows a broker. */
bool wake_wanted(struct server *srv, int64_t dev_id);
/*
 * Holds the accepted direct-tcpip channel ch (taken) as a chan_wake_wait
 * while name.fleet (qualified) is told to connect; it becomes a route once
 * the device registers port, or a refusal after WakeTimeout.
 */
void wake_wait_open(struct conn *c, ssh_channel ch, int64_t dev_id, const char *qualified,
    uint32_t port, const char *orig, int orig_port);

#endif
