/* enroll.h: `outpost-agent enroll`: key, pinned connection, enroll command, agent.conf. */
#ifndef OUTPOST_AGENT_ENROLL_H
#define OUTPOST_AGENT_ENROLL_H

#include <stddef.h>

#include "common/limits.h"

struct enroll_args {
	const char *state_dir;
	const char *token;
	const char *name;	/* NULL: from the host name */
	const char *servers[LIM_AGENT_SERVERS];	/* --server, in order; none: the token's */
	size_t nservers;
};

/* Enrolls this device; prints progress and errors for a person. Returns the exit status (0 or 1). */
int enroll_main(const struct enroll_args *a);

#endif
