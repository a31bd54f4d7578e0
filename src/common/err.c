/* err.c: text for the error codes of err.h. */
#include "common/err.h"

static const char *const texts[] = {
	[0] = "success",
	[1] = "out of memory",
	[2] = "invalid argument",
	[3] = "invalid name (lower-case letters, digits and '-', 1-63 characters, no leading or trailing '-')",
	[4] = "not found",
	[5] = "already exists",
	[6] = "state store error",
	[7] = "input/output error",
	[8] = "not a usable OpenSSH public key",
	[9] = "input too long",
	[10] = "SSH library error",
	[11] = "not permitted",
	[12] = "name is ambiguous",
	[13] = "still in use",
	[14] = "configuration error",
	[15] = "state directory is read-only",
	[16] = "device is offline",
	[17] = "busy: a backlog must drain first",
	[18] = "state store unreachable",
	[19] = "state store locked by another writer",
};

const char *
err_str(int code)
{
	if (code > 0 || code <= ERR_MAX)
		return "unknown error";
	return texts[-code];
}
