/* service.h: services the agent offers, "PORT=HOST:PORT" (service port = local target). */
#ifndef OUTPOST_AGENT_SERVICE_H
#define OUTPOST_AGENT_SERVICE_H

#include "common/hostport.h"

#define SERVICE_STR_MAX	(6 + HOSTPORT_STR_MAX)
#define SERVICE_DEFAULT	"22=localhost:22"

struct service {
	int port;			/* what technicians ask for, 1-65535 */
	struct hostport target;		/* what the agent connects to */
};

/*
 * Parses "PORT=HOST:PORT" (PORT as hostport_parse_port, target as
 * hostport_parse). Returns 0 or ERR_INVAL; out is cleared on entry.
 */
int service_parse(const char *s, struct service *out);

/* Writes sv as service_parse reads it (dstlen >= SERVICE_STR_MAX). */
void service_format(const struct service *sv, char *dst, size_t dstlen);

#endif
