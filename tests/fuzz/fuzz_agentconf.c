/* fuzz_agentconf.c: the agent's agent.conf parser; what parses must write back (agentconf_emit) to a file that parses to the same settings. */
#include "fuzz.h"

#include "agent/agentconf.h"
#include "common/err.h"

static void
same(const struct agent_conf *a, const struct agent_conf *b)
{
	FUZZ_CHECK(a->nservers == b->nservers);
	for (size_t i = 0; i < a->nservers; i++) {
		FUZZ_CHECK(strcmp(a->servers[i].host, b->servers[i].host) == 0);
		FUZZ_CHECK(a->servers[i].port == b->servers[i].port);
	}
	FUZZ_CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->fleet, b->fleet) == 0);
	FUZZ_CHECK(a->nservices == b->nservices);
	for (size_t i = 0; i < a->nservices; i++) {
		FUZZ_CHECK(a->services[i].port == b->services[i].port);
		FUZZ_CHECK(a->services[i].target.port == b->services[i].target.port);
		FUZZ_CHECK(strcmp(a->services[i].target.host, b->services[i].target.host) == 0);
	}
	if (a->seen & (CONF_HOSTKEY | CONF_HOSTKEY_HEX))
		FUZZ_CHECK(memcmp(a->hostkey, b->hostkey, sizeof(a->hostkey)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_conf c, c2;
	char err[256], *copy = NULL, *buf = NULL;
	size_t len = 0;

	FILE *f = fuzz_stream(data, size, &copy);
	if (f == NULL)
		abort();
	memset(&c, 0xa5, sizeof(c));
	err[0] = '\0';
	int r = agentconf_parse(f, &c, err, sizeof(err));
	fclose(f);
	free(copy);
	if (r != 0) {
		FUZZ_CHECK(r == ERR_CONFIG && err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(c.nservices <= LIM_SERVICES);
	/* only a complete configuration is ever written (agentconf_write after agentconf_check) */
	if (agentconf_check(&c, err, sizeof(err)) != 0)
		return 0;
	FILE *out = open_memstream(&buf, &len);
	if (out == NULL)
		abort();
	FUZZ_CHECK(agentconf_emit(out, &c) == 0);
	fclose(out);
	f = fuzz_stream((const uint8_t *)buf, len, &copy);
	r = agentconf_parse(f, &c2, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "emitted:\n%s\nreparse: %s\n", buf, err);
	FUZZ_CHECK(r == 0);
	same(&c, &c2);
	fclose(f);
	free(copy);
	free(buf);
	return 0;
}
