/* ncroute.c: `nc -U PATH`, `nc HOST PORT` and UNIX-socket paths read as routing requests. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"
#include "common/ncroute.h"

#define ONLY_FORMS "only 'nc -U PATH' and 'nc HOST PORT' route through outpost: no shell, no other program or option"

bool
ncroute_is_nc(int argc, char *const argv[])
{
	return argc >= 1 && argv != NULL && argv[0] != NULL && strcmp(argv[0], "nc") == 0;
}

int
ncroute_socket_name(const char *path, char *name, size_t len)
{
	struct name_target t;
	const char *base;
	size_t n;

	if (name != NULL && len > 0)
		name[0] = '\0';
	if (path == NULL || name == NULL || len < LIM_TARGET + 1)
		return ERR_NAME;
	n = strnlen(path, LIM_PEER_STRING + 1);
	if (n == 0 || n > LIM_PEER_STRING)
		return ERR_NAME;
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".sock") == 0)
		n -= 5;
	if (n == 0 || n > LIM_TARGET)
		return ERR_NAME;
	char tmp[LIM_TARGET + 1];
	memcpy(tmp, base, n);
	tmp[n] = '\0';
	if (names_parse_target(tmp, &t) != 0)
		return ERR_NAME;
	if (t.fleet[0] != '\0')
		snprintf(name, len, "%s.%s", t.name, t.fleet);
	else
		snprintf(name, len, "%s", t.name);
	return 0;
}

/* A decimal port 1-65535, digits only. */
static int
parse_port(const char *s, uint32_t *port)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return ERR_INVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (i == 0 || v == 0 || v > 65535)
		return ERR_INVAL;
	*port = v;
	return 0;
}

int
ncroute_parse(int argc, char *const argv[], struct nc_route *out, const char **why)
{
	static const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || !ncroute_is_nc(argc, argv) || argc != 3 || argv[1] == NULL || argv[2] == NULL) {
		*why = ONLY_FORMS;
		return ERR_INVAL;
	}
	if (strcmp(argv[1], "-U") == 0) {
		if (ncroute_socket_name(argv[2], out->host, sizeof(out->host)) != 0) {
			*why = "nc -U PATH: the last part of PATH (less .sock) must be a device name";
			return ERR_INVAL;
		}
		out->port = NCROUTE_UNIX_PORT;
		out->unix_path = true;
		return 0;
	}
	if (argv[1][0] == '-' || argv[1][0] == '\0') {
		*why = ONLY_FORMS;
		return ERR_INVAL;
	}
	if (strlen(argv[1]) > LIM_TARGET) {
		*why = "nc HOST PORT: host name too long";
		return ERR_INVAL;
	}
	if (parse_port(argv[2], &out->port) != 0) {
		*why = "nc HOST PORT: PORT must be a number from 1 to 65535";
		memset(out, 0, sizeof(*out));
		return ERR_INVAL;
	}
	snprintf(out->host, sizeof(out->host), "%s", argv[1]);
	return 0;
}
