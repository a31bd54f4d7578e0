/*
 * mqtt-standby.c: N simulated on-demand devices in one process, for
 * bench/ondemand.sh: each holds its own MQTT session (libmosquitto, one
 * poll loop, no threads) with outpost-agent's settings (keepalive 60 s,
 * retained "offline" will), publishes a retained "standby" and subscribes
 * to its control topic. Prints "READY n" once all are up, then serves until
 * SIGTERM. Usage: mqtt-standby HOST PORT FLEET N [NAME_PREFIX]
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

static volatile sig_atomic_t stop;
static int ready;

static void on_term(int sig) { (void)sig; stop = 1; }

struct dev {
	struct mosquitto *m;
	char state[160], control[160];
	int up;
};

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct dev *d = obj;

	if (rc != 0)
		return;
	mosquitto_subscribe(m, NULL, d->control, 1);
	mosquitto_publish(m, NULL, d->state, 7, "standby", 1, true);
	if (!d->up)
		ready++;
	d->up = 1;
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: mqtt-standby HOST PORT FLEET N [PREFIX]\n");
		return 2;
	}
	const char *host = argv[1], *fleet = argv[3], *prefix = argc > 5 ? argv[5] : "dev";
	int port = atoi(argv[2]), n = atoi(argv[4]);
	struct dev *devs = calloc((size_t)n, sizeof(*devs));
	struct pollfd *pfds = calloc((size_t)n, sizeof(*pfds));

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	mosquitto_lib_init();
	for (int i = 0; i < n; i++) {
		char id[64];
		struct dev *d = &devs[i];
		snprintf(id, sizeof(id), "bench-%s%d.%s", prefix, i, fleet);
		snprintf(d->state, sizeof(d->state), "outpost/%s/%s%d/tunnel/state", fleet, prefix, i);
		snprintf(d->control, sizeof(d->control), "outpost/%s/%s%d/tunnel/control", fleet, prefix, i);
		d->m = mosquitto_new(id, true, d);
		mosquitto_will_set(d->m, d->state, 7, "offline", 1, true);
		mosquitto_connect_callback_set(d->m, on_connect);
		if (mosquitto_connect(d->m, host, port, 60) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "client %d: cannot connect\n", i);
			return 1;
		}
	}
	int said = 0;
	while (!stop) {
		for (int i = 0; i < n; i++) {
			pfds[i].fd = mosquitto_socket(devs[i].m);
			pfds[i].events = POLLIN | (mosquitto_want_write(devs[i].m) ? POLLOUT : 0);
			pfds[i].revents = 0;
		}
		poll(pfds, (nfds_t)n, 1000);
		for (int i = 0; i < n; i++) {
			struct mosquitto *m = devs[i].m;
			if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
				mosquitto_loop_read(m, 1);
			if (mosquitto_want_write(m))
				mosquitto_loop_write(m, 1);
			if (mosquitto_loop_misc(m) == MOSQ_ERR_NO_CONN)
				mosquitto_reconnect(m);
		}
		if (!said && ready == n) {
			printf("READY %d\n", n);
			fflush(stdout);
			said = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		mosquitto_disconnect(devs[i].m);
		mosquitto_destroy(devs[i].m);
	}
	mosquitto_lib_cleanup();
	return 0;
}
