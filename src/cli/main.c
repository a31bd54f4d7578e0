/* main.c: the local `outpost` program: global options, then one command run against the state directory. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/err.h"
#include "store/store.h"

#define DEFAULT_STATE_DIR "/var/lib/outpost"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: outpost [-d STATE_DIR] <command> [args...]\n"
	    "       outpost -h | --help | --version\n"
	    "  -d DIR   state directory (default $OUTPOST_STATE or " DEFAULT_STATE_DIR ")\n"
	    "Run 'outpost help' for the list of commands.\n");
}

/* Parses global options; returns the index of the command word, or -1 to exit with *status. */
static int
parse_global(int argc, char **argv, const char **state_dir, int *status)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*status = CMD_OK;
	while ((ch = getopt_long(argc, argv, "+d:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			*state_dir = optarg;
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

int
main(int argc, char **argv)
{
	const char *state_dir = getenv("OUTPOST_STATE");
	struct store *st = NULL;
	struct audit *audit = NULL;
	char why[512];
	int status, first, r;

	if (state_dir == NULL || state_dir[0] == '\0')
		state_dir = DEFAULT_STATE_DIR;
	if ((first = parse_global(argc, argv, &state_dir, &status)) < 0)
		return status;
	/* help needs no state, so it works before set-up and without permissions. */
	if (strcmp(argv[first], "help") != 0 &&
	    (r = store_open_why(state_dir, &st, why, sizeof(why))) != 0) {
		fprintf(stderr, "outpost: cannot open state: %s\n", why[0] ? why : err_str(r));
		return CMD_FAIL;
	}
	/* Administrative changes are recorded here; without it they are refused. */
	if (st != NULL && (r = audit_open(state_dir, &audit)) != 0)
		fprintf(stderr, "outpost: warning: cannot open %s/" AUDIT_LOG_NAME ": %s; "
		    "administrative changes are refused\n", state_dir, err_str(r));
	struct audit_head head;
	if (audit != NULL)
		audit_set_head(audit, store_audit_anchor_get(st, &head) == 0 ? &head : NULL);
	struct cmd_ctx ctx = {
		.st = st, .in = stdin, .out = stdout, .err = stderr,
		.remote = false, .admin = true, .user_id = 0, .user = NULL,
		.audit = audit, .state_dir = state_dir,
	};
	status = cmd_run(&ctx, argc - first, argv + first);
	bool reset;
	if (audit_head_take(audit, &head, &reset) && store_audit_anchor_set(st, &head, reset) != 0)
		fprintf(stderr, "outpost: warning: cannot save the audit anchor: %s\n", store_errmsg(st));
	audit_close(audit);
	store_close(st);
	if (fflush(stdout) != 0 && status == CMD_OK)
		status = CMD_FAIL;
	return status;
}
