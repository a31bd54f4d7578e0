/* err.h: the one table of error codes used across outpost, and their text. */
#ifndef OUTPOST_ERR_H
#define OUTPOST_ERR_H

/* Functions return 0 on success or one of these negative codes. */
enum {
	ERR_OK = 0,
	ERR_NOMEM = -1,		/* out of memory */
	ERR_INVAL = -2,		/* invalid argument */
	ERR_NAME = -3,		/* not a valid name */
	ERR_NOTFOUND = -4,	/* no such object */
	ERR_EXISTS = -5,	/* already exists */
	ERR_STORE = -6,		/* state store failure */
	ERR_IO = -7,		/* system call failed, see errno */
	ERR_KEY = -8,		/* not a usable public key */
	ERR_TOOLONG = -9,	/* input over its limit */
	ERR_SSH = -10,		/* libssh failure */
	ERR_DENIED = -11,	/* not permitted */
	ERR_AMBIGUOUS = -12,	/* bare name matches several fleets */
	ERR_INUSE = -13,	/* still referenced (e.g. fleet with devices) */
	ERR_CONFIG = -14,	/* bad configuration */
	ERR_READONLY = -15,	/* state directory is read-only */
	ERR_OFFLINE = -16,	/* known device, no session now */
	ERR_BUSY = -17,		/* refused for now: a backlog must drain first */
	ERR_UNREACHABLE = -18,	/* the state store's database cannot be reached now */
	ERR_LOCKED = -19,	/* another writer holds the state store's lock */
	ERR_MAX = -20
};

/* Returns a static, human-readable text for an error code. */
const char *err_str(int code);

#endif
