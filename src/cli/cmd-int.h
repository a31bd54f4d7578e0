/* cmd-int.h: what the command families share: the dispatch entry, option parsing and output helpers. */
#ifndef OUTPOST_CMD_INT_H
#define OUTPOST_CMD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cmd.h"
#include "common/jbuf.h"
#include "common/limits.h"
#include "ssh/pubkey.h"

/* One command being run: its context and the words that name it, for messages. */
struct cmd_call {
	struct cmd_ctx *ctx;
	char what[32];		/* "fleet add" */
	const char *usage;	/* "NAME": the arguments after what */
	int argc;		/* the whole command, for the audit record */
	char **argv;
	struct jbuf *rec;	/* the admin record being built (cmd_audit_begin), or NULL */
};

/*
 * One dispatch table row (tmux cmd_entry), written with designated
 * initializers: fields left out are NULL, false or 0. A family ("fleet") has
 * subs, a table ending in a row with name NULL; a leaf has exec. user_ok
 * marks what remote users who are not admins may run.
 */
struct cmd_entry {
	const char *name;
	const char *usage;
	int (*exec)(struct cmd_call *c, int argc, char **argv);
	bool user_ok;
	const struct cmd_entry *subs;	/* a family; if exec is set too, the family word alone runs exec */
	bool changes;		/* an administrative change: audited, refused without ctx->audit */
	unsigned roles;		/* CMD_FOR_* : roles besides users/admins that may run it */
};
#define CMD_FOR_DEVICE	(1u << 0)
#define CMD_FOR_ENROLL	(1u << 1)

/*
 * Makes room in *v (an array of *cap items of size bytes, n of them used)
 * for one more, doubling from 64. Returns 0, or ERR_NOMEM with *v unchanged
 * (still the caller's to free).
 */
int cmd_grow(void **v, size_t *cap, size_t n, size_t size);

extern const struct cmd_entry cmd_fleet_entry;
extern const struct cmd_entry cmd_user_entry;
extern const struct cmd_entry cmd_user_grant_entry;
extern const struct cmd_entry cmd_user_revoke_entry;
extern const struct cmd_entry cmd_user_whoami_entry;
extern const struct cmd_entry cmd_device_entry;
extern const struct cmd_entry cmd_ls_entry;
extern const struct cmd_entry cmd_audit_entry;
extern const struct cmd_entry cmd_who_entry;
extern const struct cmd_entry cmd_kick_entry;
extern const struct cmd_entry cmd_nodes_entry;
extern const struct cmd_entry cmd_token_entry;
extern const struct cmd_entry cmd_enroll_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_known_hosts_entry;
extern const struct cmd_entry cmd_ssh_config_entry;
extern const struct cmd_entry cmd_tunnel_entry;
extern const struct cmd_entry cmd_metrics_entry;
extern const struct cmd_entry cmd_import_entry;
extern const struct cmd_entry cmd_store_entry;

/* Options a command accepts, as a bit set for cmd_parse. */
enum {
	OPT_KEY = 1 << 0,	/* --key FILE */
	OPT_FLEET = 1 << 1,	/* --fleet F, repeatable */
	OPT_ADMIN = 1 << 2,	/* --admin */
	OPT_FOR = 1 << 3,	/* --for DURATION */
	OPT_JSON = 1 << 4,	/* --json */
	OPT_SINCE = 1 << 5,	/* --since T */
	OPT_USER = 1 << 6,	/* --user U */
	OPT_DEVICE = 1 << 7,	/* --device D */
	OPT_USES = 1 << 8,	/* --uses N */
	OPT_TTL = 1 << 9,	/* --ttl DURATION */
	OPT_SERVER = 1 << 10,	/* --server ADDR:PORT */
	OPT_AUTHKEYS = 1 << 11,	/* --authorized-keys FILE */
	OPT_USERS = 1 << 12,	/* --users FILE */
	OPT_PORTS = 1 << 13,	/* --ports FILE */
	OPT_NAMES = 1 << 14,	/* --names comment|port-table */
	OPT_DRYRUN = 1 << 15,	/* --dry-run */
	OPT_PORT_TABLE = 1 << 16,	/* --port-table */
};

#define CMD_MAX_POS	8
#define CMD_MAX_FLEETS	LIM_EXEC_ARGS

/* Parsed options and positional words; strings point into argv. */
struct cmd_opts {
	const char *key;
	const char *fleets[CMD_MAX_FLEETS];
	int nfleets;
	const char *dur;
	const char *since;
	const char *user;
	const char *device;
	const char *uses;
	const char *ttl;
	const char *server;
	const char *authkeys, *users, *ports, *names;
	bool dry_run;
	bool admin;
	bool json;
	bool port_table;
	const char *pos[CMD_MAX_POS];
	int npos;
};

/*
 * Parses argv (argv[0] is the command word) against the allowed options and
 * a number of positional words in [minpos, maxpos]. Returns 0, or prints a
 * usage error and returns CMD_USAGE.
 */
int cmd_parse(struct cmd_call *c, int argc, char **argv, unsigned allowed, int minpos,
    int maxpos, struct cmd_opts *o);

/* Print "outpost: <what>: <message>" to ctx->err; return CMD_FAIL / CMD_USAGE. */
int cmd_fail(struct cmd_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmd_usage(struct cmd_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed store call (store_errmsg, else the code's text); returns CMD_FAIL. */
int cmd_store_fail(struct cmd_call *c, int r);

/*
 * Normalizes a name given on the command line into dst (LIM_LABEL + 1 bytes).
 * kind ("fleet", "user", "device") names it in the error. Returns 0 or CMD_USAGE.
 */
int cmd_label(struct cmd_call *c, const char *kind, const char *arg, char *dst);

/*
 * Reads the public key named by --key: a file path locally, "-" for ctx->in.
 * Refuses paths for remote callers. Returns 0 (caller frees k with
 * pubkey_clear) or CMD_FAIL / CMD_USAGE after printing why.
 */
int cmd_read_key(struct cmd_call *c, const char *arg, struct pubkey *k);

/* A JSON array being built for --json output, written to ctx->out at the end. */
struct cmd_json {
	struct jbuf j;
	int n;
};
void cmd_json_begin(struct cmd_json *js);
/* Starts the next object in the array (adds the comma). */
void cmd_json_item(struct cmd_json *js);
/* Ends the array, writes it with a newline, frees it. Returns CMD_OK or CMD_FAIL. */
int cmd_json_end(struct cmd_call *c, struct cmd_json *js);
/*
 * Ends a listing whose store call returned r: with js (--json), the array
 * (cmd_json_end) or, on failure, frees it; without, the text already written.
 * Returns CMD_OK or the store failure's code.
 */
int cmd_listed(struct cmd_call *c, struct cmd_json *js, int r);
/* Appends a member whose value is a comma-separated list, as a JSON array of strings. */
void cmd_json_csv(struct jbuf *j, const char *key, const char *csv);

/*
 * Administrative changes: cmd_audit_begin starts the "admin" record (actor,
 * command) and returns it for the object's names; cmd_audit_ok finishes it
 * with "result":"ok" and writes it, returning 0, or CMD_FAIL after saying
 * that the change was made but could not be recorded; cmd_audit_failed
 * records "result":"failed" with the store's reason for r, prints that
 * reason like cmd_store_fail, and returns CMD_FAIL.
 */
struct jbuf *cmd_audit_begin(struct cmd_call *c);
int cmd_audit_ok(struct cmd_call *c);
int cmd_audit_failed(struct cmd_call *c, int r);
/* The actor of an admin record: the remote user, or "local:<unix user>". */
void cmd_actor(const struct cmd_ctx *ctx, char *dst, size_t len);

struct store_device;
/* "online", "standby" (on demand, woken by a connection) or "offline". */
const char *cmd_device_state(const struct store_device *d);

/* Prints the devices the caller may reach, as `ls` and `device ls` do. */
int cmd_ls_devices(struct cmd_call *c, bool json);

#endif
