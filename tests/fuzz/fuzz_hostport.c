/* fuzz_hostport.c: HOST:PORT (agent --server, tokens), service specs PORT=HOST:PORT, and outpostd's listen addresses; what parses must format back to itself. */
#include "fuzz.h"

#include "common/hostport.h"
#include "agent/service.h"
#include "server/listener.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *raw = fuzz_exact(data, size);
	struct hostport hp, hp2;
	struct service sv, sv2;
	char buf[SERVICE_STR_MAX + 16], host[256], port[8];

	int p = hostport_parse_port(raw, size);
	if (p >= 0)
		FUZZ_CHECK(p >= 1 && p <= 65535);
	if (hostport_parse(s, &hp) == 0) {
		FUZZ_CHECK(hp.port >= 1 && hp.port <= 65535 && hp.host[0] != '\0');
		hostport_format(&hp, buf, HOSTPORT_STR_MAX);
		FUZZ_CHECK(hostport_parse(buf, &hp2) == 0);
		FUZZ_CHECK(strcmp(hp.host, hp2.host) == 0 && hp.port == hp2.port && hp.v6 == hp2.v6);
	}
	if (service_parse(s, &sv) == 0) {
		service_format(&sv, buf, SERVICE_STR_MAX);
		FUZZ_CHECK(service_parse(buf, &sv2) == 0);
		FUZZ_CHECK(sv.port == sv2.port && sv.target.port == sv2.target.port);
		FUZZ_CHECK(strcmp(sv.target.host, sv2.target.host) == 0);
	}
	if (listener_parse(s, host, sizeof(host), port, sizeof(port)) == 0) {
		FUZZ_CHECK(strlen(host) < sizeof(host) && strlen(port) < sizeof(port));
		long n = strtol(port, NULL, 10);
		FUZZ_CHECK(n >= 1 && n <= 65535);
	}
	free(s);
	free(raw);
	return 0;
}
