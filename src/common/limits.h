/* limits.h: every cap on untrusted input in one table of named limits. */
#ifndef OUTPOST_LIMITS_H
#define OUTPOST_LIMITS_H

#define LIM_LABEL		63	/* one DNS label: device or fleet name */
#define LIM_TARGET		(LIM_LABEL * 2 + 1)	/* name.fleet */
#define LIM_USERNAME		63	/* user names follow label rules */
#define LIM_KEYLINE		16384	/* one OpenSSH public key line */
#define LIM_EXEC_CMD		4096	/* an exec request's command line */
#define LIM_EXEC_ARGS		64	/* words in an exec command line */
#define LIM_EXEC_OUTPUT		(16u << 20)	/* output of one remote command */
#define LIM_CONFIG_LINE		1024	/* one line of the config file */
#define LIM_SERVICES		32	/* forwarded ports per device session */
#define LIM_CHANNELS		256	/* open channels per session */
#define LIM_PEER_STRING		256	/* longest peer string we keep or log */
#define LIM_LISTEN		16	/* -l addresses */
#define LIM_DEEP_WINDOW		(4u << 20)	/* relay channel window while its reader keeps up */
#define LIM_DEEP_WINDOWS	4	/* relay channels per principal granted one */
#define LIM_PRINCIPAL_HELD	(16u << 20)	/* bytes buffered for one principal's routes;
						 * above it their sessions are not read */

#endif
