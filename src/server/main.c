/* main.c: outpostd command line: options, configuration, start-up hints, then the event loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/config.h"
#include "server/listener.h"
#include "server/server.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: outpostd [-d STATE_DIR] [-l ADDR:PORT]... [-f CONFIG] [-v] [-T]\n"
	    "                [--mqtt URL [--mqtt-cafile FILE] [--mqtt-cert FILE --mqtt-key FILE]\n"
	    "                 [--mqtt-topic PREFIX]]\n"
	    "  -d DIR   state directory (default $OUTPOST_STATE or /var/lib/outpost)\n"
	    "  -l ADDR  listen address, repeatable (default 0.0.0.0:2222)\n"
	    "  -f FILE  configuration file (see outpostd.conf(5))\n"
	    "  -v       more logging (debug)\n"
	    "  -T       print the effective configuration and exit\n"
	    "  --mqtt URL  follow on-demand devices on this broker and wake them\n"
	    "              (mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; MqttURL)\n");
}

static int
count_users(void *arg, const struct store_user *u)
{
	(void)u;
	(*(int *)arg)++;
	return 0;
}

/* The outpost CLI next to this binary, for the hints; "outpost" if unknown. */
static void
cli_path(char *dst, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	snprintf(dst, len, "outpost");
	if (n <= 0)
		return;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	snprintf(dst, len, "%s/outpost", self);
	if (access(dst, X_OK) != 0)
		snprintf(dst, len, "outpost");
}

/* Tells a first-time operator what to do next. */
static void
print_hints(struct server *srv)
{
	char cli[4200], host[256] = "", port[8] = "2222";
	int users = 0;

	store_user_list(srv->st, count_users, &users);
	if (users > 0)
		return;
	cli_path(cli, sizeof(cli));
	listener_parse(srv->cfg->listen[0], host, sizeof(host), port, sizeof(port));
	const char *d = srv->cfg->state_dir;
	fprintf(stderr,
	    "\noutpostd is running on port %s, host key %s.\n"
	    "Next steps, in another terminal:\n"
	    "  %s -d %s fleet add acme\n"
	    "  %s -d %s user add alice --key ~/.ssh/id_ed25519.pub --fleet acme\n"
	    "  %s -d %s device add pi-hq --fleet acme --key pi-hq.pub\n"
	    "On the device (its key is pi-hq.pub):\n"
	    "  ssh -N -R pi-hq:22:localhost:22 -p %s <this-host>\n"
	    "On your laptop:\n"
	    "  ssh -J alice@<this-host>:%s root@pi-hq.acme\n\n",
	    port, srv->host_fp, cli, d, cli, d, cli, d, port, port);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct server srv;
	const char *config_file = NULL, *state = NULL;
	const char *listens[LIM_LISTEN];
	int nlisten = 0, opt, verbose = 0, dump = 0, nlong = 0;
	char why[512];
	static const struct option longs[] = {
		{ "mqtt", required_argument, NULL, 0 },
		{ "mqtt-cafile", required_argument, NULL, 0 },
		{ "mqtt-cert", required_argument, NULL, 0 },
		{ "mqtt-key", required_argument, NULL, 0 },
		{ "mqtt-topic", required_argument, NULL, 0 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const long_keyword[] = { "MqttURL", "MqttCAFile", "MqttCertFile",
		"MqttKeyFile", "MqttTopic" };
	const char *long_val[5] = { NULL };
	int li = 0;

	config_defaults(&cfg);
	while ((opt = getopt_long(argc, argv, "d:l:f:vTh", longs, &li)) != -1) {
		switch (opt) {
		case 0: long_val[li] = optarg; nlong++; break;
		case 'd': state = optarg; break;
		case 'f': config_file = optarg; break;
		case 'v': verbose = 1; break;
		case 'T': dump = 1; break;
		case 'l':
			if (nlisten >= LIM_LISTEN)
				fatal("too many -l addresses (at most %d)", LIM_LISTEN);
			listens[nlisten++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("outpostd", LOG_LVL_INFO, 0);
	if (config_file != NULL && config_load(&cfg, config_file, why, sizeof(why)) != 0)
		fatal("%s", why);
	if (state != NULL && config_set(&cfg, "StateDir", state, why, sizeof(why)) != 0)
		fatal("%s", why);
	for (int i = 0; nlong > 0 && i < 5; i++)
		if (long_val[i] != NULL &&
		    config_set(&cfg, long_keyword[i], long_val[i], why, sizeof(why)) != 0)
			fatal("--%s: %s", longs[i].name, why);
	for (int i = 0; i < nlisten; i++)
		if (config_add_listen(&cfg, listens[i], i == 0) != 0)
			fatal("bad -l %s", listens[i]);
	if (cfg.nlisten == 0)
		config_add_listen(&cfg, "0.0.0.0:2222", false);
	if (config_node_defaults(&cfg, why, sizeof(why)) != 0)
		fatal("%s", why);
	if (verbose)
		cfg.log_level = LOG_LVL_DEBUG;
	if (dump) {
		config_dump(&cfg, stdout);
		config_free(&cfg);
		return 0;
	}
	log_init("outpostd", (enum log_level)cfg.log_level, cfg.syslog);
	server_init(&srv, &cfg);
	print_hints(&srv);
	server_run(&srv);
	server_free(&srv);
	if (server_threads_left()) {
		/* a thread still runs: exit's handlers would free what it uses */
		fflush(NULL);
		_exit(0);
	}
	config_free(&cfg);
	return 0;
}
