/* service.c: "PORT=HOST:PORT" service specifications. */
#include <stdio.h>
#include <string.h>

#include "agent/service.h"
#include "common/err.h"

int
service_parse(const char *s, struct service *out)
{
	const char *eq;
	int port;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strnlen(s, SERVICE_STR_MAX + 1) > SERVICE_STR_MAX)
		return ERR_INVAL;
	eq = strchr(s, '=');
	if (eq == NULL)
		return ERR_INVAL;
	port = hostport_parse_port(s, (size_t)(eq - s));
	if (port < 0 || hostport_parse(eq + 1, &out->target) != 0) {
		memset(out, 0, sizeof(*out));
		return ERR_INVAL;
	}
	out->port = port;
	return 0;
}

void
service_format(const struct service *sv, char *dst, size_t dstlen)
{
	char t[HOSTPORT_STR_MAX];

	hostport_format(&sv->target, t, sizeof(t));
	snprintf(dst, dstlen, "%d=%s", sv->port, t);
}
