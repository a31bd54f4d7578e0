/*
 * fuzz_cmd.c: what an authenticated peer reaches with an exec request:
 * cmd_split, then cmd_run against a real store and audit log, as a
 * technician, an admin, a device or an enrolling key (first input byte),
 * with the bytes after the first NUL as the channel's standard input.
 */
#include "fuzz.h"

#include <sys/stat.h>

#include "cli/cmd.h"
#include "common/audit.h"
#include "common/err.h"
#include "ssh/pubkey.h"
#include "store/store.h"

static const char *const key_lines[] = {
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPSokuGUax/lv9+YQKjsuG8c6bp2dy+ECNjeX9MTXdLV alice",
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP4DIGas3ar4xDnPeGpMLtnEQ9VGcKzP6MlUZZcbDmis bob",
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1cbBvVReO3XT6Qt46UhAEwxxvhAW4i91F2LKrTNWnP pi-hq",
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGYTuxsbXhSjdNVe7si/WFozU+Y5vq6wffaaNrK4MUQkMRnM273CApTrUtTgRD9/5KQpdXw47xPJzQcRyeb4ZJ8= newcomer",
};
#define HOST_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJOY//KMwh0FtGBpxLkN019GNmYx2Q1xuxIbdOPG44AA host\n"
#define NKEYS (sizeof(key_lines) / sizeof(key_lines[0]))

static struct store *st;
static struct audit *au;
static struct pubkey keys[NKEYS];
static char state[4096];
static unsigned long runs;

static void
setup(void)
{
	snprintf(state, sizeof(state), "%s/state", fuzz_dir());
	if (mkdir(state, 0700) != 0)
		abort();
	for (size_t i = 0; i < NKEYS; i++)
		if (pubkey_parse_line(key_lines[i], &keys[i]) != 0)
			abort();
	char path[4200];
	snprintf(path, sizeof(path), "%s/ssh_host_ed25519_key.pub", state);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(HOST_KEY, f) < 0)
		abort();
	fclose(f);
	if (store_open(state, &st) != 0 || audit_open(state, &au) != 0)
		abort();
	if (store_fleet_add(st, "acme") != 0 || store_fleet_add(st, "globex") != 0 ||
	    store_user_add(st, "alice", false, &keys[0]) != 0 ||
	    store_user_add(st, "bob", true, &keys[1]) != 0 ||
	    store_grant(st, "alice", "acme", 0) != 0 ||
	    store_device_add(st, "pi-hq", "acme", &keys[2]) != 0)
		abort();
}

/* The audit log only grows: start it again now and then so long runs stay small. */
static void
rotate(void)
{
	char path[4200];

	if (++runs % 2000 != 0)
		return;
	audit_close(au);
	snprintf(path, sizeof(path), "%s/%s", state, AUDIT_LOG_NAME);
	unlink(path);
	if (audit_open(state, &au) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv = NULL, *obuf = NULL, *ebuf = NULL, *incopy = NULL;
	size_t olen = 0, elen = 0;
	int argc = 0;

	if (st == NULL)
		setup();
	if (size < 1)
		return 0;
	unsigned who = data[0] % 4;
	data++, size--;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t linelen = nul ? (size_t)(nul - data) : size;
	if (cmd_split((const char *)data, linelen, &argv, &argc, NULL) != 0 || argc == 0) {
		cmd_argv_free(argv);
		return 0;
	}
	FILE *in = NULL;
	if (nul != NULL)
		in = fuzz_stream(nul + 1, size - linelen - 1, &incopy);
	FILE *out = open_memstream(&obuf, &olen), *err = open_memstream(&ebuf, &elen);
	if (out == NULL || err == NULL)
		abort();
	struct cmd_ctx ctx = {
		.st = st, .in = in, .out = out, .err = err, .remote = true,
		.audit = au, .state_dir = state, .server_addr = "jump.example.com:2222",
	};
	switch (who) {
	case 0: ctx.role = CMD_ROLE_USER; ctx.user_id = 1; ctx.user = "alice"; ctx.key = &keys[0]; break;
	case 1: ctx.role = CMD_ROLE_USER; ctx.admin = true; ctx.user_id = 2; ctx.user = "bob"; ctx.key = &keys[1]; break;
	case 2: ctx.role = CMD_ROLE_DEVICE; ctx.device_id = 1; ctx.user = "pi-hq.acme"; ctx.key = &keys[2]; break;
	default: ctx.role = CMD_ROLE_ENROLL; ctx.user = "enroll"; ctx.key = &keys[3]; break;
	}
	int r = cmd_run(&ctx, argc, argv);
	FUZZ_CHECK(r == CMD_OK || r == CMD_FAIL || r == CMD_USAGE);
	fclose(out);
	fclose(err);
	if (in != NULL)
		fclose(in);
	/* a failure always says why */
	if (r != CMD_OK)
		FUZZ_CHECK(elen > 0);
	free(obuf);
	free(ebuf);
	free(incopy);
	cmd_argv_free(argv);
	rotate();
	return 0;
}
