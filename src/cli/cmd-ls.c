/* cmd-ls.c: `ls`: the devices the caller may reach, one line each or as JSON,
 * with what each device's agent last reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd-int.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "store/store.h"

/*
 * What `ls` says a device is: online (a live session), standby (on demand:
 * only its MQTT session, woken by a connection), or offline.
 */
const char *
cmd_device_state(const struct store_device *d)
{
	if (d->online)
		return "online";
	if (d->ondemand != NULL && (strcmp(d->ondemand, "standby") == 0 ||
	    strcmp(d->ondemand, "disconnected") == 0 || strcmp(d->ondemand, "connected") == 0))
		return "standby";
	return "offline";
}

/* "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234" */
/* What one device's agent reported (strdup'd), in the store's fleet, name order. */
struct info {
	char *name, *fleet, *hostname, *os, *version, *host_keys;
	int64_t booted;		/* 0 = unknown */
};

/* The host keys outpostd learned from a plain device's sshd, per device, in the same order. */
struct learned {
	char name[LIM_LABEL + 1], fleet[LIM_LABEL + 1];
	int nkeys;
	bool changed;			/* a different key was seen: flagged until accept-hostkey */
};

struct listing {
	FILE *out;
	struct cmd_json *js;
	struct info *infos;
	size_t ninfos, cap, next;	/* next: merge cursor over infos */
	struct learned *learned;
	size_t nlearned, lcap, lnext;	/* lnext: merge cursor over learned */
};

static int
keep_learned(void *arg, const struct store_hostkey *k)
{
	struct listing *l = arg;
	struct learned *e = l->nlearned > 0 ? &l->learned[l->nlearned - 1] : NULL;

	if (e == NULL || strcmp(e->name, k->name) != 0 || strcmp(e->fleet, k->fleet) != 0) {
		if (cmd_grow((void **)&l->learned, &l->lcap, l->nlearned, sizeof(*l->learned)) != 0)
			return ERR_NOMEM;
		e = &l->learned[l->nlearned++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", k->name);
		snprintf(e->fleet, sizeof(e->fleet), "%s", k->fleet);
	}
	e->nkeys++;
	e->changed |= k->pending[0] != '\0';
	return 0;
}

/* d's learned host keys, if any: both lists are ordered by fleet, name. */
static const struct learned *
find_learned(struct listing *l, const struct store_device *d)
{
	while (l->lnext < l->nlearned) {
		const struct learned *e = &l->learned[l->lnext];
		int c = strcmp(e->fleet, d->fleet);
		if (c == 0)
			c = strcmp(e->name, d->name);
		if (c > 0)
			return NULL;
		l->lnext++;
		if (c == 0)
			return e;
	}
	return NULL;
}

static int
keep_info(void *arg, const struct store_device_info *d)
{
	struct listing *l = arg;

	if (d->version == NULL || d->version[0] == '\0')
		return 0;	/* never reported */
	if (l->ninfos == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct info *p = realloc(l->infos, cap * sizeof(*p));
		if (p == NULL)
			return ERR_NOMEM;
		l->infos = p;
		l->cap = cap;
	}
	struct info *i = &l->infos[l->ninfos];
	i->name = strdup(d->name);
	i->fleet = strdup(d->fleet);
	i->hostname = strdup(d->hostname ? d->hostname : "");
	i->os = strdup(d->os ? d->os : "");
	i->version = strdup(d->version);
	i->host_keys = strdup(d->host_keys ? d->host_keys : "");
	i->booted = d->booted;
	l->ninfos++;
	if (!i->name || !i->fleet || !i->hostname || !i->os || !i->version || !i->host_keys)
		return ERR_NOMEM;
	return 0;
}

static void
infos_free(struct listing *l)
{
	for (size_t k = 0; k < l->ninfos; k++) {
		struct info *i = &l->infos[k];
		free(i->name), free(i->fleet), free(i->hostname);
		free(i->os), free(i->version), free(i->host_keys);
	}
	free(l->infos);
	free(l->learned);
}

/* The report of d, if any: both lists are ordered by fleet, name, so a cursor suffices. */
static const struct info *
find_info(struct listing *l, const struct store_device *d)
{
	while (l->next < l->ninfos) {
		const struct info *i = &l->infos[l->next];
		int c = strcmp(i->fleet, d->fleet);
		if (c == 0)
			c = strcmp(i->name, d->name);
		if (c > 0)
			return NULL;
		l->next++;
		if (c == 0)
			return i;
	}
	return NULL;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s != '\0'; s++)
		if (s[1] == '\0' || s[1] == '\n')
			n++;
	return n;
}

/* "pi-hq.acme  online  2026-11-21T10:00:00Z  203.0.113.7:51234", then
 * "  port 22050" if a port-table port is bound to it, then, once
 * its agent reported: "  agent 0.1.0 on pi-hq (Debian GNU/Linux 12), up since
 * 2026-11-20T08:00:00Z, 3 host keys" (no "up since" if it sent no uptime) */
static int
device_line(void *arg, const struct store_device *d)
{
	struct listing *l = arg;
	const struct info *i = find_info(l, d);
	char when[32];

	timefmt_iso(d->last_seen, when, sizeof(when));
	fprintf(l->out, "%s.%s  %s  %s  %s", d->name, d->fleet, cmd_device_state(d),
	    when, (d->last_addr != NULL && d->last_addr[0] != '\0') ? d->last_addr : "-");
	if (d->port != 0)
		fprintf(l->out, "  port %u", d->port);
	if (i != NULL) {
		int n = count_lines(i->host_keys);
		fprintf(l->out, "  agent %s on %s (%s)", i->version,
		    i->hostname[0] ? i->hostname : "?", i->os[0] ? i->os : "?");
		if (i->booted > 0) {
			char boot[32];
			timefmt_iso(i->booted, boot, sizeof(boot));
			fprintf(l->out, ", up since %s", boot);
		}
		fprintf(l->out, ", %d host key%s", n, n == 1 ? "" : "s");
	}
	/* Learned keys stay out of the line (--json counts them); a changed one is flagged. */
	const struct learned *e = find_learned(l, d);
	if (e != NULL && e->changed)
		fprintf(l->out, "  HOST KEY CHANGED (kept the recorded one: "
		    "outpost device accept-hostkey %s.%s)", d->name, d->fleet);
	fputc('\n', l->out);
	return 0;
}

static int
device_json(void *arg, const struct store_device *d)
{
	struct listing *l = arg;
	struct cmd_json *js = l->js;
	const struct info *i = find_info(l, d);
	char when[32], target[LIM_TARGET + 1];

	timefmt_iso(d->last_seen, when, sizeof(when));
	snprintf(target, sizeof(target), "%s.%s", d->name, d->fleet);
	cmd_json_item(js);
	jbuf_member_str(&js->j, "device", target);
	jbuf_member_str(&js->j, "name", d->name);
	jbuf_member_str(&js->j, "fleet", d->fleet);
	jbuf_member_bool(&js->j, "online", d->online);
	/* the node holding it (several outpostd on one store); null when offline or on a store without nodes */
	jbuf_member_str(&js->j, "node", d->online && d->node[0] != '\0' ? d->node : NULL);
	jbuf_member_str(&js->j, "last_seen", d->last_seen > 0 ? when : NULL);
	jbuf_member_str(&js->j, "address",
	    (d->last_addr != NULL && d->last_addr[0] != '\0') ? d->last_addr : NULL);
	jbuf_member_str(&js->j, "key", d->key_fp);
	jbuf_member_str(&js->j, "state", cmd_device_state(d));
	jbuf_member_str(&js->j, "ondemand",
	    (d->ondemand != NULL && d->ondemand[0] != '\0') ? d->ondemand : NULL);
	if (d->port != 0)
		jbuf_member_int(&js->j, "port", (int64_t)d->port);
	else
		jbuf_member_str(&js->j, "port", NULL);
	if (i != NULL) {	/* only once its agent reported */
		jbuf_member_str(&js->j, "hostname", i->hostname);
		jbuf_member_str(&js->j, "os", i->os);
		jbuf_member_str(&js->j, "agent_version", i->version);
		jbuf_member_str(&js->j, "host_keys", i->host_keys);
		char boot[32];
		timefmt_iso(i->booted, boot, sizeof(boot));
		jbuf_member_str(&js->j, "booted", i->booted > 0 ? boot : NULL);
	}
	const struct learned *e = find_learned(l, d);
	if (e != NULL) {
		jbuf_member_int(&js->j, "host_keys_learned", e->nkeys);
		jbuf_member_bool(&js->j, "host_key_changed", e->changed);
	}
	jbuf_obj_end(&js->j);
	return 0;
}

/* Walks all devices for the operator and admins, else those granted to the user. */
static int
walk(struct cmd_ctx *ctx, store_device_cb cb, void *arg)
{
	if (ctx->admin)
		return store_device_list(ctx->st, cb, arg);
	return store_device_list_for_user(ctx->st, ctx->user_id, cb, arg);
}

int
cmd_ls_devices(struct cmd_call *c, bool json)
{
	struct cmd_json js;
	struct listing l = { .out = c->ctx->out, .js = &js };
	int r;

	r = store_device_info_list(c->ctx->st, c->ctx->admin ? 0 : c->ctx->user_id, keep_info, &l);
	if (r == 0)
		r = store_hostkey_list(c->ctx->st, c->ctx->admin ? 0 : c->ctx->user_id, keep_learned, &l);
	if (r != 0) {
		infos_free(&l);
		return r == ERR_NOMEM ? cmd_fail(c, "out of memory") : cmd_store_fail(c, r);
	}
	if (!json) {
		r = walk(c->ctx, device_line, &l);
		infos_free(&l);
		return r == 0 ? CMD_OK : cmd_store_fail(c, r);
	}
	cmd_json_begin(&js);
	r = walk(c->ctx, device_json, &l);
	infos_free(&l);
	return cmd_listed(c, &js, r);
}

static int
ls_exec(struct cmd_call *c, int argc, char **argv)
{
	struct cmd_opts o;
	int r;

	if ((r = cmd_parse(c, argc, argv, OPT_JSON, 0, 0, &o)) != 0)
		return r;
	return cmd_ls_devices(c, o.json);
}

const struct cmd_entry cmd_ls_entry = {
	.name = "ls",
	.usage = "[--json]",
	.exec = ls_exec,
	.user_ok = true,
};
