/*
 * cmd.h: the command layer shared by the local `outpost` program and by
 * outpostd's exec requests (`ssh -p 2222 jump <command>`): one parser, one
 * dispatch table, two transports.
 */
#ifndef OUTPOST_CMD_H
#define OUTPOST_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct store;
struct pubkey;

/* Who is running a command, which decides what it may run. */
enum cmd_role {
	CMD_ROLE_LOCAL = 0,	/* the `outpost` program on the state directory */
	CMD_ROLE_USER,		/* a technician or admin over SSH */
	CMD_ROLE_DEVICE,	/* a device's session: only `report` */
	CMD_ROLE_ENROLL		/* `enroll@jump` with a key not yet bound: only `enroll` */
};
struct audit;

struct cmd_ctx {
	struct store *st;
	FILE *in;		/* standard input (`--key -`); may be NULL = empty */
	FILE *out;		/* results */
	FILE *err;		/* error messages, one line each, prefixed "outpost: " */
	bool remote;		/* invoked over SSH: never touch server-side files */
	bool admin;		/* may run administrative commands */
	int64_t user_id;	/* remote caller's user id; 0 for the local operator */
	const char *user;	/* remote caller's user name; NULL locally */
	const char *server_addr;	/* jump "host:port" for ssh-config and tokens, may be NULL */
	enum cmd_role role;
	const struct pubkey *key;	/* remote caller's key (enroll binds it); not owned */
	int64_t device_id;		/* CMD_ROLE_DEVICE: the reporting device */
	/*
	 * Where administrative changes are recorded (one "admin" record each,
	 * written before success is printed). Not owned. NULL: every
	 * administrative change is refused with "audit log unavailable".
	 */
	struct audit *audit;
	/* The state directory, for `audit` and `audit verify` (they read
	 * <state_dir>/audit.log). Not owned; NULL makes them fail. */
	const char *state_dir;
	/*
	 * The node whose audit chain that audit.log is (NodeName): its anchor in
	 * the store, and on PostgreSQL its records there. Not owned; NULL: no
	 * anchor, and `audit` reads only the file.
	 */
	const char *node;
	/*
	 * `tunnel connect|disconnect`: publishes cmd on name.fleet's control
	 * topic through outpostd's broker connection; 0 or non-zero with why.
	 * NULL (the local program) makes them fail with a hint.
	 */
	int (*tunnel_send)(void *arg, const char *fleet, const char *name, const char *cmd,
	    char *why, size_t whylen);
	void *tunnel_arg;
	/*
	 * `metrics`: writes outpostd's live metrics text to out; 0 or an ERR_*.
	 * NULL (the local program, which has no live counters) makes it fail
	 * with a hint.
	 */
	int (*metrics)(void *arg, FILE *out);
	void *metrics_arg;
};

/*
 * The local program's audit chain and the store, around one command: before
 * it, ctx->node claims the pre-nodes anchor if it has none, and the writer
 * (ctx->audit) starts from the node's anchor; after it, the new head goes to
 * the store: on SQLite as the anchor, on PostgreSQL as the log's records not
 * yet there, with the anchor. 0, or -1 with why.
 */
void cmd_audit_prepare(struct cmd_ctx *ctx);
int cmd_audit_save(struct cmd_ctx *ctx, char *why, size_t whylen);

/* Exit statuses, as `outpost` returns them and exec requests report them. */
enum { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

/*
 * Runs one command; argv[0] is the command word ("fleet", "user", "device",
 * "ls", "help", ...). Writes results to ctx->out and errors to ctx->err.
 * Remote callers that are not admins may run only the commands marked for
 * users. Returns CMD_OK, CMD_FAIL or CMD_USAGE.
 */
int cmd_run(struct cmd_ctx *ctx, int argc, char **argv);

/*
 * Splits an exec request's command line (len bytes, untrusted) into words.
 * Rules (documented in outpost(1)): words are separated by spaces or tabs;
 * single quotes keep everything literally up to the next single quote;
 * double quotes likewise, with \" and \\ as the only escapes; no variables,
 * globbing, redirection or command separators: ; | & $ ` < > ( ) and \ are
 * refused outside quotes, as are NUL and control bytes (other than tab)
 * anywhere. Adjacent quoted and unquoted parts join into one word; '' is an
 * empty word. At most
 * LIM_EXEC_CMD bytes and LIM_EXEC_ARGS words.
 * On success *argv_out is a NULL-terminated array the caller frees with
 * cmd_argv_free(); returns 0, ERR_INVAL (with a reason in why, if non-NULL)
 * or ERR_TOOLONG.
 */
int cmd_split(const char *line, size_t len, char ***argv_out, int *argc_out,
    const char **why);
void cmd_argv_free(char **argv);	/* NULL is a no-op */

/* True if argv asks to read standard input (`--key -`, `--authorized-keys -`, `--users -`, `--ports -`). */
bool cmd_wants_stdin(int argc, char **argv);

#endif
