/* enroll.c: joining a fleet with one token: the token pins the server, the server binds our key to NAME.FLEET. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agentconf.h"
#include "agent/conn.h"
#include "agent/enroll.h"
#include "agent/identity.h"
#include "agent/remote.h"
#include "agent/rotation.h"
#include "common/err.h"
#include "common/log.h"
#include "common/names.h"
#include "common/token.h"

/* Prints one message to stderr (the journal, under systemd), never a token's secret. */
static int
say(const char *fmt, const char *arg)
{
	char msg[4096 + 256];	/* a path and a sentence */

	snprintf(msg, sizeof(msg), fmt, arg);
	token_redact(msg);
	fprintf(stderr, "outpost-agent: %s\n", msg);
	return 1;
}

static int
pick_name(const char *given, char *dst, size_t dstlen)
{
	char host[256] = "";

	if (given != NULL)
		return names_label_normalize(given, dst, dstlen);
	if (gethostname(host, sizeof(host) - 1) != 0)
		return ERR_NAME;
	return names_from_hostname(host, dst, dstlen);
}

/* Finds "enrolled NAME.FLEET" in the server's stdout. */
static int
parse_reply(const char *out, struct name_target *t)
{
	char line[LIM_TARGET + 16];
	const char *p = strstr(out, "enrolled ");

	if (p == NULL || (p != out && p[-1] != '\n'))
		return ERR_INVAL;
	p += strlen("enrolled ");
	size_t n = strcspn(p, "\r\n");
	if (n >= sizeof(line))
		return ERR_INVAL;
	memcpy(line, p, n);
	line[n] = '\0';
	if (names_parse_target(line, t) != 0 || t->fleet[0] == '\0')
		return ERR_INVAL;
	return 0;
}

/* Prints what the server said on failure, made printable. */
static int
report_refusal(const struct remote_result *res)
{
	char msg[AGENT_SERVER_REPLY_MAX * 4 + 1];
	const char *src = res->err[0] ? res->err : res->out;
	size_t n = strlen(src);

	while (n > 0 && (src[n - 1] == '\n' || src[n - 1] == '\r'))
		n--;
	log_printable(msg, sizeof(msg), src, n);
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "enrollment refused (exit status %d)", res->status);
	token_redact(msg);
	fprintf(stderr, "outpost-agent: the server says: %s\n", msg);
	return 1;
}

static int
save_conf(const char *state_dir, const struct agent_conf *servers, const uint8_t *pin,
    const struct name_target *t)
{
	char path[4096], err[256];
	static struct agent_conf c;

	snprintf(path, sizeof(path), "%s/%s", state_dir, AGENT_CONF_FILE);
	if (agentconf_read(path, &c, err, sizeof(err)) != 0)
		memset(&c, 0, sizeof(c));	/* keep the services of a valid old file only */
	memcpy(c.servers, servers->servers, sizeof(c.servers));
	c.nservers = servers->nservers;
	memcpy(c.hostkey, pin, TOKEN_HOSTKEY_LEN);
	snprintf(c.name, sizeof(c.name), "%s", t->name);
	snprintf(c.fleet, sizeof(c.fleet), "%s", t->fleet);
	c.seen |= CONF_SERVER | CONF_HOSTKEY | CONF_HOSTKEY_HEX | CONF_NAME | CONF_FLEET;
	if (agentconf_write(path, &c) != 0)
		return say("cannot write %s", path);
	return 0;
}

/* One round over the servers, in order: the first that pins and takes our key. */
static int
enroll_connect(const struct token *tok, const struct agent_conf *sv, ssh_key key,
    ssh_session *s, char *why, size_t whylen)
{
	struct conn_params p = { .pin = tok->hostkey, .pin_source = "the token",
		.key = key, .user = AGENT_USER_ENROLL };
	struct rotation rot;
	int r;

	rotation_start(&rot, sv->nservers);
	do {
		p.server = &sv->servers[rot.i];
		r = conn_open(&p, s, why, whylen);
		if (r == 0)
			return 0;
		if (sv->nservers > 1)
			say("%s", why);
	} while (rotation_failed(&rot));
	return r;
}

static int
run_enroll(const struct enroll_args *a, const struct token *tok,
    const struct agent_conf *sv, const char *name, ssh_key key)
{
	static struct remote_result res;
	struct name_target t;
	char why[512], cmd[LIM_TOKEN + LIM_LABEL + 16];
	ssh_session s;

	if (enroll_connect(tok, sv, key, &s, why, sizeof(why)) != 0)
		return say("%s", sv->nservers > 1 ? "no server could be reached" : why);
	snprintf(cmd, sizeof(cmd), "enroll %s %s", a->token, name);
	int r = remote_exec(s, cmd, AGENT_SSH_TIMEOUT_S * 1000, &res, why, sizeof(why));
	ssh_disconnect(s);
	ssh_free(s);
	if (r != 0)
		return say("%s", why);
	if (res.status != 0)
		return report_refusal(&res);
	if (parse_reply(res.out, &t) != 0)
		return say("%s", "the server did not confirm the enrollment");
	if (save_conf(a->state_dir, sv, tok->hostkey, &t) != 0)
		return 1;
	printf("enrolled %s.%s\n", t.name, t.fleet);
	return 0;
}

int
enroll_main(const struct enroll_args *a)
{
	struct token tok;
	static struct agent_conf servers;	/* only its server list */
	char name[LIM_LABEL + 1];
	ssh_key key = NULL;
	int created, r;

	if (token_parse(a->token, &tok) != 0)
		return say("%s", "not a valid enrollment token (expected op1:..., as `outpost token create` prints it)");
	memset(&servers, 0, sizeof(servers));
	if (a->nservers == 0)
		agentconf_add_server(&servers, &tok.server);
	for (size_t i = 0; i < a->nservers; i++) {
		struct hostport hp;
		if (hostport_parse(a->servers[i], &hp) != 0)
			return say("--server %s: expected HOST:PORT or [IPv6]:PORT", a->servers[i]);
		if (agentconf_add_server(&servers, &hp) != 0)
			return say("--server %s: given twice", a->servers[i]);
	}
	if (pick_name(a->name, name, sizeof(name)) != 0)
		return say("%s", "no valid device name: give one with --name (a-z, 0-9, '-', up to 63)");
	if (mkdir(a->state_dir, 0700) != 0 && errno != EEXIST)
		return say("cannot create the state directory %s", a->state_dir);
	if (identity_load(a->state_dir, 1, &key, &created) != 0)
		return say("cannot create or read the key in %s", a->state_dir);
	if (created)
		fprintf(stderr, "outpost-agent: created %s/%s\n", a->state_dir, AGENT_KEY_FILE);
	r = run_enroll(a, &tok, &servers, name, key);
	token_clear(&tok);
	ssh_key_free(key);
	return r;
}
