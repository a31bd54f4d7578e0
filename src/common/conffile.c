/* conffile.c: reads the "Keyword value" lines of outpostd.conf for outpostd and the outpost CLI alike. */
#include <stdio.h>
#include <string.h>

#include "common/conffile.h"
#include "common/err.h"
#include "common/limits.h"

/* Splits "Keyword value" (value may contain spaces); modifies line. 1 = blank or comment. */
static int
split_line(char *line, char **key, char **value)
{
	char *s = line + strspn(line, " \t");
	s[strcspn(s, "\r\n")] = '\0';
	if (*s == '\0' || *s == '#')
		return 1;
	*key = s;
	s += strcspn(s, " \t=");
	if (*s == '\0')
		return ERR_CONFIG;
	*s++ = '\0';
	s += strspn(s, " \t=");
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (*s == '\0')
		return ERR_CONFIG;
	*value = s;
	return 0;
}

int
conffile_read(const char *path, conffile_set_fn set, void *arg, char *why, size_t whylen)
{
	char line[LIM_CONFIG_LINE + 2];
	char msg[256];
	FILE *f = fopen(path, "r");
	int lineno = 0, r = 0;

	if (f == NULL) {
		snprintf(why, whylen, "%s: cannot open: %m", path);
		return ERR_CONFIG;
	}
	for (;;) {
		char *key, *value;
		/* fgets's NUL follows the last byte read: another NUL after
		 * strlen() means the line held one */
		memset(line, 'x', sizeof(line));
		if (r != 0 || fgets(line, sizeof(line), f) == NULL)
			break;
		size_t len = strlen(line);
		lineno++;
		if (len > LIM_CONFIG_LINE || memchr(line + len + 1, '\0', sizeof(line) - len - 1) != NULL) {
			snprintf(why, whylen, "%s:%d: line too long or holds a NUL byte", path, lineno);
			r = ERR_CONFIG;
			break;
		}
		int s = split_line(line, &key, &value);
		if (s == 1)
			continue;
		if (s != 0) {
			snprintf(why, whylen, "%s:%d: expected 'Keyword value'", path, lineno);
			r = ERR_CONFIG;
			break;
		}
		msg[0] = '\0';
		if ((r = set(arg, key, value, msg, sizeof(msg))) != 0) {
			snprintf(why, whylen, "%s:%d: %s", path, lineno, msg[0] ? msg : "bad line");
			r = ERR_CONFIG;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(why, whylen, "%s: cannot read: %m", path);
		r = ERR_CONFIG;
	}
	fclose(f);
	return r;
}
