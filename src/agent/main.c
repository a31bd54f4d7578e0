/* main.c: outpost-agent's command line: global options, then enroll or run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "agent/agent.h"
#include "agent/agentconf.h"
#include "agent/enroll.h"
#include "agent/run.h"
#include "agent/service.h"
#include "common/err.h"
#include "common/log.h"

struct globals {
	const char *state_dir;
	int verbose;
	int use_syslog;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: outpost-agent [-v] [--syslog] [-d STATE_DIR] enroll TOKEN [--name NAME] [--server ADDR:PORT]...\n"
	    "       outpost-agent [-v] [--syslog] [-d STATE_DIR] run [-s PORT=HOST:PORT]...\n"
	    "           [--on-demand --mqtt URL [--idle DURATION] [--mqtt-topic PREFIX]\n"
	    "            [--mqtt-cafile FILE] [--mqtt-cert FILE --mqtt-key FILE] [--mqtt-client-id ID]]\n"
	    "       outpost-agent --version\n"
	    "  -d DIR   state directory (default $%s or %s)\n"
	    "  -v       debug logging\n"
	    "  --syslog copy log lines to syslog\n"
	    "  -s SPEC  offer a service: technicians' PORT goes to HOST:PORT here\n"
	    "           (adds to agent.conf's service lines; default %s)\n"
	    "  --on-demand  hold only an MQTT session; raise the tunnel on `connect`\n"
	    "  --mqtt URL   the broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]\n"
	    "  --idle DUR   drop the tunnel after DUR with no channel open (default 10m)\n"
	    "  --mqtt-topic PREFIX  topics PREFIX/control and PREFIX/state\n"
	    "               (default " MQTT_DEFAULT_TEMPLATE ")\n",
	    AGENT_STATE_ENV, AGENT_STATE_DEFAULT, SERVICE_DEFAULT);
}

static int
cmd_enroll(const struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "server", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct enroll_args a = { .state_dir = g->state_dir };
	int c;

	optind = 0;	/* GNU: re-initialize fully for the command's own options */
	while ((c = getopt_long(argc, argv, "n:S:", opts, NULL)) != -1) {
		if (c == 'n')
			a.name = optarg;
		else if (c == 'S') {
			if (a.nservers >= LIM_AGENT_SERVERS) {
				fprintf(stderr, "outpost-agent: too many --server (at most %d)\n", LIM_AGENT_SERVERS);
				return 2;
			}
			a.servers[a.nservers++] = optarg;
		}
		else
			return usage(stderr), 2;
	}
	if (argc - optind != 1)
		return usage(stderr), 2;
	a.token = argv[optind];
	return enroll_main(&a);
}

/* `run`'s long options; each sets the agent.conf keyword of the same name. */
static const struct option run_opts[] = {
	{ "on-demand", no_argument, NULL, 'M' },
	{ "mqtt", required_argument, NULL, 'M' },
	{ "mqtt-cafile", required_argument, NULL, 'M' },
	{ "mqtt-cert", required_argument, NULL, 'M' },
	{ "mqtt-key", required_argument, NULL, 'M' },
	{ "mqtt-topic", required_argument, NULL, 'M' },
	{ "mqtt-client-id", required_argument, NULL, 'M' },
	{ "idle", required_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 },
};

static int
set_long(struct agent_conf *conf, const char *name, const char *value)
{
	char shown[128];

	/* The command line overrides agent.conf: forget that the file set it. */
	if (agentconf_set(conf, name, value != NULL ? value : "yes") == 0)
		return 0;
	log_printable(shown, sizeof(shown), value ? value : "", strnlen(value ? value : "", 100));
	log_error("--%s %s: %s", name, shown,
	    strcmp(name, "mqtt") == 0 ? "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]" :
	    strcmp(name, "mqtt-topic") == 0 ? "expected a topic prefix without wildcards, "
	    "'{fleet}' and '{name}' as whole levels" :
	    strcmp(name, "idle") == 0 ? "expected a duration such as 90s, 10m or 1h" : "invalid value");
	return -1;
}

/* agent.conf, then -s services on top, then the default if there are none. */
static int
load_conf(const char *state_dir, int argc, char **argv, struct agent_conf *conf)
{
	char path[4096], err[300];
	struct service sv;
	int c, r, li = 0;

	snprintf(path, sizeof(path), "%s/%s", state_dir, AGENT_CONF_FILE);
	r = agentconf_read(path, conf, err, sizeof(err));
	if (r == ERR_NOTFOUND) {
		log_error("%s does not exist: not enrolled (enroll first: outpost-agent enroll TOKEN)", path);
		return 1;
	}
	if (r != 0 || agentconf_check(conf, err, sizeof(err)) != 0) {
		log_error("%s: %s", path, err);
		return 1;
	}
	optind = 0;	/* GNU: re-initialize fully for the command's own options */
	while ((c = getopt_long(argc, argv, "s:", run_opts, &li)) != -1) {
		if (c == 'M') {
			if (set_long(conf, run_opts[li].name, optarg) != 0)
				return 2;
			continue;
		}
		if (c != 's' || service_parse(optarg, &sv) != 0) {
			if (c == 's')
				log_error("-s %s: expected PORT=HOST:PORT", optarg);
			return usage(stderr), 2;
		}
		if (agentconf_add_service(conf, &sv) != 0) {
			log_error("-s %s: too many services (at most %d)", optarg, LIM_SERVICES);
			return 2;
		}
	}
	if (optind != argc)
		return usage(stderr), 2;
	if (agentconf_check_mqtt(conf, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 2;
	}
	if (conf->nservices == 0 && service_parse(SERVICE_DEFAULT, &sv) == 0)
		agentconf_add_service(conf, &sv);
	return 0;
}

static int
cmd_run(const struct globals *g, int argc, char **argv)
{
	static struct agent_conf conf;
	int r = load_conf(g->state_dir, argc, argv, &conf);

	if (r != 0)
		return r;
	return run_main(g->state_dir, &conf);
}

/* Parses options before the command; returns the index of the command word or -1. */
static int
parse_globals(int argc, char **argv, struct globals *g)
{
	static const struct option opts[] = {
		{ "syslog", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+d:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': g->state_dir = optarg; break;
		case 'v': g->verbose = 1; break;
		case 'L': g->use_syslog = 1; break;
		case 'V': printf("outpost-agent %s\n", OUTPOST_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return optind < argc ? optind : -1;
}

int
main(int argc, char **argv)
{
	struct globals g = { .state_dir = getenv(AGENT_STATE_ENV) };
	int i = parse_globals(argc, argv, &g), r;

	if (i < 0)
		return usage(stderr), 2;
	if (g.state_dir == NULL || g.state_dir[0] == '\0')
		g.state_dir = AGENT_STATE_DEFAULT;
	log_init("outpost-agent", g.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO, g.use_syslog);
	ssh_init();
	if (strcmp(argv[i], "enroll") == 0)
		r = cmd_enroll(&g, argc - i, argv + i);
	else if (strcmp(argv[i], "run") == 0)
		r = cmd_run(&g, argc - i, argv + i);
	else {
		usage(stderr);
		r = 2;
	}
	ssh_finalize();
	return r;
}
