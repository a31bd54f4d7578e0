/* authkeys.c: parsing authorized_keys lines: the option list by hand, the key through pubkey.c (libssh). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "common/err.h"
#include "common/limits.h"
#include "ssh/authkeys.h"

void
authkeys_line_clear(struct authkeys_line *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->nopts; i++) {
		free(l->opts[i].name);
		free(l->opts[i].value);
	}
	pubkey_clear(&l->key);
	memset(l, 0, sizeof(*l));
}

static int
fail(char *why, size_t whylen, int r, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return r;
}

/* True if the word at p names a key type rather than starting options (sshd tries the key first too). */
static bool
starts_with_key_type(const char *p)
{
	static const char *const prefixes[] = { "ssh-", "ecdsa-", "sk-", "rsa-" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(p, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

/* Reads a double-quoted value at *p (on the quote) into a new string; *p ends after it. */
static int
quoted_value(const char **p, char **out, char *why, size_t whylen)
{
	const char *s = *p + 1;
	size_t n = 0;
	char *v = malloc(strlen(s) + 1);

	if (v == NULL)
		return ERR_NOMEM;
	for (; *s != '\0' && *s != '"'; s++) {
		if (*s == '\\' && s[1] == '"')
			s++;
		v[n++] = *s;
	}
	if (*s != '"') {
		free(v);
		return fail(why, whylen, ERR_INVAL, "unterminated double quote in the options");
	}
	v[n] = '\0';
	*out = v;
	*p = s + 1;
	return 0;
}

/* Parses one option at *p; *p ends on the ',' or blank after it. */
static int
one_option(const char **p, struct authkeys_line *out, char *why, size_t whylen)
{
	const char *s = *p;
	size_t n = 0;
	int r;

	while (name_char(s[n]))
		n++;
	if (n == 0)
		return fail(why, whylen, ERR_INVAL, "bad options: expected an option name");
	if (out->nopts >= AUTHKEYS_MAX_OPTS)
		return fail(why, whylen, ERR_INVAL, "too many options");
	struct authkeys_opt *o = &out->opts[out->nopts];
	if ((o->name = strndup(s, n)) == NULL)
		return ERR_NOMEM;
	out->nopts++;
	for (size_t i = 0; i < n; i++)
		if (o->name[i] >= 'A' && o->name[i] <= 'Z')
			o->name[i] = (char)(o->name[i] - 'A' + 'a');
	s += n;
	if (*s == '=') {
		s++;
		if (*s != '"')
			return fail(why, whylen, ERR_INVAL, "bad options: a value must be in double quotes");
		if ((r = quoted_value(&s, &o->value, why, whylen)) != 0)
			return r;
	}
	if (*s != ',' && *s != ' ' && *s != '\t')
		return fail(why, whylen, ERR_INVAL, *s == '\0' ? "options but no key" :
		    "bad options: expected ',' or a blank after an option");
	*p = s;
	return 0;
}

static int
parse_options(const char **p, struct authkeys_line *out, char *why, size_t whylen)
{
	int r;

	for (;;) {
		if ((r = one_option(p, out, why, whylen)) != 0)
			return r;
		if (**p != ',')
			return 0;
		(*p)++;
	}
}

/* Why a key did not parse, naming its type. */
static int
key_error(const char *p, int r, char *why, size_t whylen)
{
	char type[PUBKEY_TYPE_MAX], msg[PUBKEY_TYPE_MAX + 80];
	size_t n = strcspn(p, " \t");

	if (r == ERR_NOMEM)
		return r;
	snprintf(type, sizeof(type), "%.*s", (int)(n < sizeof(type) - 1 ? n : sizeof(type) - 1), p);
	for (char *c = type; *c != '\0'; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			*c = '?';
	if (strstr(type, "-cert-") != NULL)
		snprintf(msg, sizeof(msg), "certificates (%s) are not supported", type);
	else if (ssh_key_type_from_name(type) == SSH_KEYTYPE_UNKNOWN)
		snprintf(msg, sizeof(msg), "unknown key type '%s'", type);
	else
		snprintf(msg, sizeof(msg), "not a valid %s key", type);
	return fail(why, whylen, ERR_KEY, msg);
}

/* The line as a string without its trailing "\r"; NUL and control bytes refused. */
static int
copy_line(const char *line, size_t len, char **out, char *why, size_t whylen)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\0')
			return fail(why, whylen, ERR_INVAL, "NUL byte in the line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(why, whylen, ERR_INVAL, "control character in the line");
	}
	if ((*out = strndup(line, len)) == NULL)
		return ERR_NOMEM;
	return 0;
}

int
authkeys_parse(const char *line, size_t len, struct authkeys_line *out, char *why, size_t whylen)
{
	char *buf = NULL;
	const char *p;
	int r;

	memset(out, 0, sizeof(*out));
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (line == NULL)
		return 1;
	if (len > LIM_KEYLINE)
		return fail(why, whylen, ERR_TOOLONG, "line longer than 16384 bytes");
	if ((r = copy_line(line, len, &buf, why, whylen)) != 0)
		return r;
	p = buf + strspn(buf, " \t");
	if (*p == '\0' || *p == '#') {
		free(buf);
		return 1;
	}
	if (!starts_with_key_type(p) && (r = parse_options(&p, out, why, whylen)) != 0)
		goto out;
	p += strspn(p, " \t");
	if ((r = pubkey_parse_line(p, &out->key)) != 0)
		r = key_error(p, r, why, whylen);
out:
	free(buf);
	if (r != 0)
		authkeys_line_clear(out);
	return r;
}
