/* cmd-device.c: `device add|ls|rm|accept-hostkey`: enrolling a device's key under a name in a
 * fleet, listing, removing, accepting a changed host key of its sshd. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "store/store.h"

/* Parses "name.fleet" into t; a bare name is a usage error here. */
static int
qualified(struct cmd_call *c, const char *arg, struct name_target *t)
{
	char b[80];

	log_printable(b, sizeof(b), arg, strnlen(arg, sizeof(b)));
	if (names_parse_target(arg, t) != 0)
		return cmd_usage(c, "invalid device name '%s': expected NAME.FLEET, each "
		    "lower-case letters, digits and '-', 1-63 characters", b);
	if (t->fleet[0] == '\0')
		return cmd_usage(c, "say which fleet: %s.FLEET", t->name);
	return 0;
}

/* Takes the name from NAME --fleet F, or from NAME.FLEET. */
static int
add_target(struct cmd_call *c, const struct cmd_opts *o, struct name_target *t)
{
	char fleet[LIM_LABEL + 1];
	int r;

	memset(t, 0, sizeof(*t));
	if (o->nfleets > 1)
		return cmd_usage(c, "a device belongs to one fleet: give --fleet once");
	if (strchr(o->pos[0], '.') != NULL) {
		if ((r = qualified(c, o->pos[0], t)) != 0)
			return r;
		if (o->nfleets == 1 && ((r = cmd_label(c, "fleet", o->fleets[0], fleet)) != 0 ||
		    strcmp(fleet, t->fleet) != 0))
			return r != 0 ? r : cmd_usage(c, "--fleet %s contradicts %s.%s",
			    fleet, t->name, t->fleet);
		return 0;
	}
	if (o->nfleets == 0)
		return cmd_usage(c, "missing --fleet");
	if ((r = cmd_label(c, "device", o->pos[0], t->name)) != 0)
		return r;
	return cmd_label(c, "fleet", o->fleets[0], t->fleet);
}

/* Starts the admin record naming the device (and its key when adding). */
static void
audit_device(struct cmd_call *c, const struct name_target *t, const char *key_fp)
{
	char target[LIM_TARGET + 1];
	struct jbuf *b = cmd_audit_begin(c);

	snprintf(target, sizeof(target), "%s.%s", t->name, t->fleet);
	jbuf_member_str(b, "device", target);
	jbuf_member_str(b, "fleet", t->fleet);
	if (key_fp != NULL)
		jbuf_member_str(b, "key_fp", key_fp);
}

static int
device_add(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct name_target t;
	struct pubkey key = { 0 };
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_FLEET | OPT_KEY, 1, 1, &o)) != 0 ||
	    (r = add_target(c, &o, &t)) != 0)
		return r;
	if (o.key == NULL)
		return cmd_usage(c, "missing --key");
	if ((r = cmd_read_key(c, o.key, &key)) != 0)
		goto out;
	r = store_device_add(c->ctx->st, t.name, t.fleet, &key);
	audit_device(c, &t, key.fp);
	if (r != 0) {
		r = cmd_audit_failed(c, r);
		goto out;
	}
	if ((r = cmd_audit_ok(c)) != 0)
		goto out;
	fprintf(c->ctx->out, "device %s.%s added: key %s\n", t.name, t.fleet, key.fp);
out:
	pubkey_clear(&key);
	return r;
}

static int
device_rm(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct name_target t;
	int r;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 ||
	    (r = qualified(c, o.pos[0], &t)) != 0)
		return r;
	r = store_device_rm(c->ctx->st, t.name, t.fleet);
	audit_device(c, &t, NULL);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	fprintf(c->ctx->out, "device %s.%s removed\n", t.name, t.fleet);
	return CMD_OK;
}

/*
 * Makes the host keys last seen on a plain device's sshd, where they differ
 * from the recorded ones (`ls`: HOST KEY CHANGED), the recorded ones:
 * `known-hosts` prints them from now on.
 */
static int
device_accept_hostkey(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	struct name_target t;
	char fleet[LIM_LABEL + 1];
	int64_t id = 0;
	int r, n = 0;

	if ((r = cmd_parse(c, argc, argv, 0, 1, 1, &o)) != 0 ||
	    (r = qualified(c, o.pos[0], &t)) != 0)
		return r;
	r = store_device_resolve(c->ctx->st, 0, t.name, t.fleet, &id, fleet);
	if (r == 0)
		r = store_hostkey_accept(c->ctx->st, id, &n);
	audit_device(c, &t, NULL);
	jbuf_member_int(c->rec, "host_keys", n);
	if (r != 0)
		return cmd_audit_failed(c, r);
	if ((r = cmd_audit_ok(c)) != 0)
		return r;
	if (n == 0)
		fprintf(c->ctx->out, "device %s.%s: no changed host key to accept\n", t.name, t.fleet);
	else
		fprintf(c->ctx->out, "device %s.%s: %d host key%s accepted\n", t.name, t.fleet, n,
		    n == 1 ? "" : "s");
	return CMD_OK;
}

static int
device_ls(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	return cmd_ls_devices(c, o.json);
}

static const struct cmd_entry device_subs[] = {
	{ .name = "add", .usage = "NAME --fleet F --key FILE", .exec = device_add,
	    .changes = true },
	{ .name = "ls", .usage = "[--json]", .exec = device_ls },
	{ .name = "rm", .usage = "NAME.FLEET", .exec = device_rm, .changes = true },
	{ .name = "accept-hostkey", .usage = "NAME.FLEET", .exec = device_accept_hostkey,
	    .changes = true },
	{ .name = NULL },
};

const struct cmd_entry cmd_device_entry = { .name = "device", .subs = device_subs };
