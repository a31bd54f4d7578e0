/*
 * fuzz_report.c: the agent quotes what it reads from its device (host name,
 * os-release, host key files) into a `report` command line for cmd_split on
 * the server; any bytes must come out of cmd_split as the same words, less
 * control bytes.
 */
#include "fuzz.h"

#include "agent/report.h"
#include "cli/cmd.h"
#include "common/limits.h"

static void
clean(const char *s, char *dst)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			*dst++ = *s;
	*dst = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_info ri;
	char *parts[3 + REPORT_HOST_KEYS_MAX];
	size_t np = 0;

	if (size < 3)
		return 0;
	size_t dstlen = (size_t)data[0] << 5 | data[1];
	memset(&ri, 0, sizeof(ri));
	ri.uptime = (long long)data[2] * 1000003 - 7;
	data += 3, size -= 3;
	for (size_t i = 0; np < 3 + REPORT_HOST_KEYS_MAX && i <= size;) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t n = nul ? (size_t)(nul - (data + i)) : size - i;
		parts[np++] = fuzz_cstr(data + i, n);
		i += n + 1;
	}
	snprintf(ri.hostname, sizeof(ri.hostname), "%s", np > 0 ? parts[0] : "");
	snprintf(ri.os, sizeof(ri.os), "%s", np > 1 ? parts[1] : "");
	snprintf(ri.version, sizeof(ri.version), "%s", np > 2 ? parts[2] : "");
	for (size_t i = 3; i < np; i++)
		ri.host_keys[ri.nkeys++] = parts[i];
	char *dst = malloc(dstlen ? dstlen : 1);
	if (report_command(&ri, dst, dstlen) == 0) {
		char **argv = NULL, want[512];
		int argc = 0;
		const char *why = NULL;
		size_t len = strlen(dst);
		FUZZ_CHECK(len < dstlen);
		int r = cmd_split(dst, len, &argv, &argc, &why);
		if (len <= LIM_EXEC_CMD) {
			if (r != 0)
				fprintf(stderr, "line %s: %s\n", dst, why ? why : "?");
			FUZZ_CHECK(r == 0);
			FUZZ_CHECK(argc >= 9 && strcmp(argv[0], "report") == 0);
			FUZZ_CHECK(strcmp(argv[1], "--hostname") == 0);
			clean(ri.hostname, want);
			FUZZ_CHECK(strcmp(argv[2], want) == 0);
			clean(ri.os, want);
			FUZZ_CHECK(strcmp(argv[4], want) == 0);
			clean(ri.version, want);
			FUZZ_CHECK(strcmp(argv[6], want) == 0);
		}
		cmd_argv_free(argv);
	}
	free(dst);
	for (size_t i = 0; i < np; i++)
		free(parts[i]);
	return 0;
}
