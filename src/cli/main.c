/* main.c: the local `outpost` program: global options, then one command run against the state directory. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/conffile.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/names.h"
#include "store/store.h"

#define DEFAULT_STATE_DIR "/var/lib/outpost"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: outpost [-d STATE_DIR] [-f CONFIG] [--store STORE] <command> [args...]\n"
	    "       outpost -h | --help | --version\n"
	    "  -d DIR   state directory (default $OUTPOST_STATE or " DEFAULT_STATE_DIR ")\n"
	    "  -f FILE  outpostd.conf to take StateDir and Store from\n"
	    "           (default: the state directory's outpostd.conf, if any)\n"
	    "  --store STORE  sqlite, sqlite:PATH or a postgresql:// URI\n"
	    "           (default $OUTPOST_STORE, else Store in outpostd.conf, else sqlite)\n"
	    "Run 'outpost help' for the list of commands.\n");
}

/* The global options; NULL when not given. */
struct global {
	const char *state_dir;		/* -d */
	const char *config;		/* -f */
	const char *store;		/* --store */
};

/* Parses global options; returns the index of the command word, or -1 to exit with *status. */
static int
parse_global(int argc, char **argv, struct global *g, int *status)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'f' },
		{ "store", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*status = CMD_OK;
	while ((ch = getopt_long(argc, argv, "+d:f:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			g->state_dir = optarg;
			break;
		case 'f':
			g->config = optarg;
			break;
		case 's':
			g->store = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("outpost %s\n", OUTPOST_VERSION);
			return -1;
		default:
			usage(stderr);
			*status = CMD_USAGE;
			return -1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		*status = CMD_USAGE;
		return -1;
	}
	return optind;
}

/* What the CLI takes from outpostd.conf: where outpostd keeps its state and its store. */
struct from_conf {
	char *state_dir;	/* owned, NULL if the file has no StateDir */
	char *store;		/* owned, NULL if the file has no Store */
	char *node;		/* owned, NULL if the file has no NodeName */
};

/* conffile_read's callback: StateDir and Store as outpostd takes them; other keywords are outpostd's alone. */
static int
conf_set(void *arg, const char *key, const char *value, char *why, size_t whylen)
{
	struct from_conf *fc = arg;
	char msg[256];
	char **dst;

	if (strcasecmp(key, "StateDir") == 0)
		dst = &fc->state_dir;
	else if (strcasecmp(key, "Store") == 0)
		dst = &fc->store;
	else if (strcasecmp(key, "NodeName") == 0)
		dst = &fc->node;
	else
		return 0;
	if (dst == &fc->store && store_spec_check(value, msg, sizeof(msg)) != 0) {
		snprintf(why, whylen, "bad value for Store: %s", msg);
		return ERR_CONFIG;
	}
	free(*dst);
	if ((*dst = strdup(value)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	return 0;
}

/*
 * Reads StateDir and Store as outpostd does: from -f CONFIG, else from the
 * state directory's outpostd.conf if there is one; -d beats its StateDir.
 * 0, or -1 after one line on stderr.
 */
static int
read_conf(const struct global *g, const char **state_dir, struct from_conf *fc)
{
	char path[4096], why[LIM_CONFIG_LINE + 512];
	const char *conf = g->config;
	struct stat sb;

	if (g->state_dir != NULL)
		*state_dir = g->state_dir;
	if (conf == NULL) {
		snprintf(path, sizeof(path), "%s/outpostd.conf", *state_dir);
		if (stat(path, &sb) == 0 || errno != ENOENT)
			conf = path;
	}
	if (conf != NULL && conffile_read(conf, conf_set, fc, why, sizeof(why)) != 0) {
		fprintf(stderr, "outpost: %s\n", why);
		return -1;
	}
	if (fc->state_dir != NULL && g->state_dir == NULL)
		*state_dir = fc->state_dir;
	return 0;
}

/*
 * The store: --store, else OUTPOST_STORE, else the file's Store (*store NULL:
 * SQLite in the state directory). CMD_OK, or CMD_USAGE (a bad --store) or
 * CMD_FAIL (a bad OUTPOST_STORE) after one line on stderr.
 */
static int
pick_store(const struct global *g, const struct from_conf *fc, const char **store)
{
	const char *env = getenv("OUTPOST_STORE");
	char why[LIM_STORE_SPEC + 256];

	*store = fc->store;
	if (g->store != NULL) {
		*store = g->store;
		if (store_spec_check(g->store, why, sizeof(why)) != 0) {
			fprintf(stderr, "outpost: --store: %s\n", why);
			return CMD_USAGE;
		}
		if (store_spec_has_password(g->store)) {
			fprintf(stderr, "outpost: --store: a password on the command line is visible to "
			    "every user (ps); put it in a passfile (PGPASSFILE or passfile=)\n");
			return CMD_USAGE;
		}
	} else if (env != NULL && env[0] != '\0') {
		*store = env;
		if (store_spec_check(env, why, sizeof(why)) != 0) {
			fprintf(stderr, "outpost: OUTPOST_STORE: %s\n", why);
			return CMD_FAIL;
		}
	}
	return CMD_OK;
}

/*
 * The node whose audit chain the state directory's audit.log is, as outpostd
 * names itself (config_node_defaults): NodeName, else one made of the host
 * name. NULL (with a warning) if that is no label.
 */
static const char *
node_name(const struct from_conf *fc, char *buf, size_t len)
{
	char host[256] = "";
	const char *src = fc->node;

	if (src == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			host[0] = '\0';
		if (names_from_hostname(host, buf, len) == 0)
			return buf;
		src = host;
	} else if (names_label_normalize(src, buf, len) == 0)
		return buf;
	fprintf(stderr, "outpost: warning: node name '%.64s' is not a valid name (NodeName): "
	    "the audit chain is not anchored in the store\n", src);
	return NULL;
}

/* Opens the store; the state directory (audit.log) is created as outpostd would. */
static int
open_store(const char *store, const char *state_dir, struct store **st)
{
	char why[LIM_STORE_SPEC + 512], line[2 * LIM_STORE_SPEC + 1024];

	if (store != NULL && mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "outpost: cannot create %s: %s\n", state_dir, strerror(errno));
		return -1;
	}
	if (store_open_spec(store, state_dir, st, why, sizeof(why)) != 0) {
		store_spec_failure(store, state_dir, why, line, sizeof(line));
		fprintf(stderr, "outpost: %s\n", line);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *state_dir = getenv("OUTPOST_STATE"), *store = NULL;
	struct global g = { 0 };
	struct from_conf fc = { 0 };
	struct store *st = NULL;
	struct audit *audit = NULL;
	int status, first, r;

	if (state_dir == NULL || state_dir[0] == '\0')
		state_dir = DEFAULT_STATE_DIR;
	if ((first = parse_global(argc, argv, &g, &status)) < 0)
		return status;
	/* help needs no state, so it works before set-up and without permissions. */
	if (strcmp(argv[first], "help") != 0) {
		if (read_conf(&g, &state_dir, &fc) != 0)
			status = CMD_FAIL;
		else if ((status = pick_store(&g, &fc, &store)) == CMD_OK && open_store(store, state_dir, &st) != 0)
			status = CMD_FAIL;
		if (status != CMD_OK) {
			free(fc.state_dir);
			free(fc.store);
			free(fc.node);
			return status;
		}
	}
	/* Administrative changes are recorded here; without it they are refused. */
	if (st != NULL && (r = audit_open(state_dir, &audit)) != 0)
		fprintf(stderr, "outpost: warning: cannot open %s/" AUDIT_LOG_NAME ": %s; "
		    "administrative changes are refused\n", state_dir, err_str(r));
	char node[LIM_LABEL + 1], why[512];
	struct cmd_ctx ctx = {
		.st = st, .in = stdin, .out = stdout, .err = stderr,
		.remote = false, .admin = true, .user_id = 0, .user = NULL,
		.audit = audit, .state_dir = state_dir,
		.node = st != NULL ? node_name(&fc, node, sizeof(node)) : NULL,
	};
	cmd_audit_prepare(&ctx);
	status = cmd_run(&ctx, argc - first, argv + first);
	if (cmd_audit_save(&ctx, why, sizeof(why)) != 0)
		fprintf(stderr, "outpost: warning: %s\n", why);
	audit_close(audit);
	store_close(st);
	free(fc.state_dir);
	free(fc.store);
	free(fc.node);
	if (fflush(stdout) != 0 && status == CMD_OK)
		status = CMD_FAIL;
	return status;
}
