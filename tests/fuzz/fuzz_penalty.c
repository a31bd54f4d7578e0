/*
 * fuzz_penalty.c: the pre-authentication accounting: MaxStartups and
 * PenaltyExempt values as the config gives them, then a sequence of
 * connection events from a few sources (some named by the input); the
 * unauthenticated count must match a shadow count at every step.
 */
#include "fuzz.h"

#include "server/penalty.h"

#define NSRC 8
#define MAXCONN 4096

static const char *const fixed_ips[] = {
	"127.0.0.1", "127.0.0.2", "10.1.2.3", "::1", "2001:db8::1", "fe80::1%eth0",
};

static size_t
take_line(const uint8_t **data, size_t *size, char *dst, size_t dstlen)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	size_t k = n < dstlen - 1 ? n : dstlen - 1;

	memcpy(dst, *data, k);
	dst[k] = '\0';
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char startups[64], exempt[256], ip6[2][128];
	struct penalty_config pc = { 10, 30, 100, 10, 5, 1, 64, NULL };
	const char *ips[NSRC];
	int open[NSRC] = { 0 };
	int total = 0;
	int64_t now = 1000000;

	take_line(&data, &size, startups, sizeof(startups));
	take_line(&data, &size, exempt, sizeof(exempt));
	take_line(&data, &size, ip6[0], sizeof(ip6[0]));
	take_line(&data, &size, ip6[1], sizeof(ip6[1]));
	(void)penalty_parse_startups(startups, &pc);
	FUZZ_CHECK(pc.startups_begin >= 1 && pc.startups_full >= pc.startups_begin);
	if (penalty_check_exempt(exempt) == 0)
		pc.exempt = exempt;
	for (int i = 0; i < 6; i++)
		ips[i] = fixed_ips[i];
	ips[6] = ip6[0];
	ips[7] = ip6[1];
	struct penalty *p = penalty_new(&pc);
	if (p == NULL)
		abort();
	for (size_t i = 0; i + 3 <= size; i += 3) {
		int src = data[i + 1] % NSRC, op = data[i] % 4;
		const char *why = NULL;
		char evict[PENALTY_IP_MAX + 1];
		now += data[i + 2] * 997;
		switch (op) {
		case 0:
			if (total < MAXCONN && penalty_admit(p, ips[src], now, data[i + 2] % 100, &why, evict)) {
				open[src]++;
				total++;
				if (evict[0] != '\0') {
					/* the caller closes one connection of the named source */
					int v = -1;
					for (int k = 0; k < NSRC; k++)
						if (open[k] > 0 && k != src && strncmp(ips[k], evict, PENALTY_IP_MAX) == 0)
							v = k;
					FUZZ_CHECK(v >= 0);
					penalty_unauth_closed(p, ips[v], true, now);
					open[v]--;
					total--;
				}
			} else if (total < MAXCONN)
				FUZZ_CHECK(why != NULL);
			break;
		case 1:
			if (open[src] > 0) {
				penalty_authenticated(p, ips[src]);
				open[src]--;
				total--;
			}
			break;
		case 2:
			if (open[src] > 0) {
				penalty_unauth_closed(p, ips[src], data[i + 2] & 1, now);
				open[src]--;
				total--;
			}
			break;
		default:
			penalty_expire(p, now);
			break;
		}
		FUZZ_CHECK(penalty_unauth_total(p) == total);
	}
	penalty_free(p);
	return 0;
}
