/* authkeys.h: one line of an OpenSSH authorized_keys file (sshd(8) AUTHORIZED_KEYS FILE FORMAT): options, key, comment. */
#ifndef OUTPOST_AUTHKEYS_H
#define OUTPOST_AUTHKEYS_H

#include <stddef.h>

#include "ssh/pubkey.h"

#define AUTHKEYS_MAX_OPTS	32	/* options on one line */

/* One option: `name` or `name="value"`; name lower-cased, value unescaped (\" -> "). */
struct authkeys_opt {
	char *name;		/* owned */
	char *value;		/* owned; NULL for a flag such as no-pty */
};

struct authkeys_line {
	struct authkeys_opt opts[AUTHKEYS_MAX_OPTS];
	int nopts;
	struct pubkey key;	/* key.comment: the rest of the line, "" if none */
};

/*
 * Parses one line of len bytes (without its '\n'; a trailing '\r' is
 * dropped). Options are comma-separated up to the first space or tab outside
 * double quotes; a line with none starts with the key type. Refuses NUL and
 * control bytes, lines over LIM_KEYLINE bytes, unterminated quotes, unquoted
 * values, more than AUTHKEYS_MAX_OPTS options, and keys that are not a valid
 * key of their named type (certificates included).
 * Returns 1 for a blank or '#' comment line (out empty), 0 for a key line
 * (the caller frees out with authkeys_line_clear), or ERR_TOOLONG, ERR_INVAL
 * (bad options, with why) or ERR_KEY (bad key, with why); why gets whylen
 * bytes and may be NULL.
 */
int authkeys_parse(const char *line, size_t len, struct authkeys_line *out, char *why,
    size_t whylen);

/* Frees what authkeys_parse filled; safe on a zeroed or cleared struct. */
void authkeys_line_clear(struct authkeys_line *l);

#endif
