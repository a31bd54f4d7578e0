/* report.c: host name, OS, version, uptime and sshd host keys, sent as one `report` command. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/remote.h"
#include "agent/report.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "ssh/pubkey.h"

#define HOST_KEY_GLOB "/etc/ssh/ssh_host_*_key.pub"

/* Reads PRETTY_NAME from os-release, unquoted; "Linux" if there is none. */
static void
read_os(char *dst, size_t dstlen)
{
	FILE *f = fopen("/etc/os-release", "re");
	char line[512];

	snprintf(dst, dstlen, "Linux");
	if (f == NULL)
		f = fopen("/usr/lib/os-release", "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "PRETTY_NAME=", 12) != 0)
			continue;
		char *v = line + 12;
		v[strcspn(v, "\n")] = '\0';
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		/* PRETTY_NAME longer than dst is cut: it is informational. */
		size_t len = strlen(v) < dstlen ? strlen(v) : dstlen - 1;
		memcpy(dst, v, len);
		dst[len] = '\0';
		break;
	}
	fclose(f);
}

static long long
read_uptime(void)
{
	FILE *f = fopen("/proc/uptime", "re");
	double up = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	return (long long)up;
}

static void
read_host_keys(struct report_info *ri, const char *pattern)
{
	glob_t g;

	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc && ri->nkeys < REPORT_HOST_KEYS_MAX; i++) {
		struct pubkey k;
		if (pubkey_read_file(g.gl_pathv[i], &k) != 0)
			continue;
		if (asprintf(&ri->host_keys[ri->nkeys], "%s %s", k.type, k.blob) >= 0)
			ri->nkeys++;
		pubkey_clear(&k);
	}
	globfree(&g);
}

void
report_gather(struct report_info *ri, const char *host_key_glob)
{
	memset(ri, 0, sizeof(*ri));
	if (gethostname(ri->hostname, sizeof(ri->hostname) - 1) != 0)
		snprintf(ri->hostname, sizeof(ri->hostname), "unknown");
	read_os(ri->os, sizeof(ri->os));
	snprintf(ri->version, sizeof(ri->version), "%s", OUTPOST_VERSION);
	ri->uptime = read_uptime();
	read_host_keys(ri, host_key_glob ? host_key_glob : HOST_KEY_GLOB);
}

void
report_clear(struct report_info *ri)
{
	for (size_t i = 0; i < ri->nkeys; i++)
		free(ri->host_keys[i]);
	memset(ri, 0, sizeof(*ri));
}

/* Appends " OPT "value"" to dst; returns 0 or ERR_TOOLONG (dst unchanged). */
static int
add_quoted(char *dst, size_t dstlen, const char *opt, const char *val)
{
	size_t len = strlen(dst), o = len;
	int n = snprintf(dst + o, dstlen - o, " %s \"", opt);

	if (n < 0 || (size_t)n >= dstlen - o)
		goto toolong;
	o += (size_t)n;
	for (const char *p = val; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (o + 3 >= dstlen)
			goto toolong;
		if (c == '"' || c == '\\')
			dst[o++] = '\\';
		dst[o++] = (char)c;
	}
	if (o + 2 > dstlen)
		goto toolong;
	dst[o++] = '"';
	dst[o] = '\0';
	return 0;
toolong:
	dst[len] = '\0';
	return ERR_TOOLONG;
}

int
report_command(const struct report_info *ri, char *dst, size_t dstlen)
{
	char up[32];

	if (dstlen == 0)
		return ERR_TOOLONG;
	snprintf(up, sizeof(up), "%lld", ri->uptime);
	snprintf(dst, dstlen, "report");
	if (add_quoted(dst, dstlen, "--hostname", ri->hostname) != 0 ||
	    add_quoted(dst, dstlen, "--os", ri->os) != 0 ||
	    add_quoted(dst, dstlen, "--version", ri->version) != 0 ||
	    add_quoted(dst, dstlen, "--uptime", up) != 0)
		return ERR_TOOLONG;
	for (size_t i = 0; i < ri->nkeys; i++)
		add_quoted(dst, dstlen, "--host-key", ri->host_keys[i]);	/* skip what does not fit */
	return 0;
}

void
report_send(ssh_session s, const char *host_key_glob)
{
	struct report_info ri;
	struct remote_result *res = calloc(1, sizeof(*res));
	char cmd[LIM_EXEC_CMD + 1], why[256];

	if (res == NULL)
		return;
	report_gather(&ri, host_key_glob);
	if (report_command(&ri, cmd, sizeof(cmd)) != 0)
		log_debug("report: too long, not sent");
	else if (remote_exec(s, cmd, 10000, res, why, sizeof(why)) != 0)
		log_debug("report: %s", why);
	else if (res->status != 0)
		log_debug("report: refused (status %d)", res->status);
	else
		log_debug("report: sent (%zu sshd host keys)", ri.nkeys);
	report_clear(&ri);
	free(res);
}
