/* names.c: validation and parsing of labels and name.fleet targets. */
#include <string.h>

#include "common/err.h"
#include "common/names.h"

static bool
label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool
names_label_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > LIM_LABEL)
		return false;
	if (s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!label_char(s[i]))
			return false;
	return true;
}

static int
copy_label(const char *src, size_t len, char *dst, size_t dstlen)
{
	if (len == 0 || len > LIM_LABEL || len >= dstlen)
		return ERR_NAME;
	for (size_t i = 0; i < len; i++)
		dst[i] = lower(src[i]);
	dst[len] = '\0';
	return names_label_valid(dst, len) ? 0 : ERR_NAME;
}

int
names_label_normalize(const char *src, char *dst, size_t dstlen)
{
	if (dstlen > 0)
		dst[0] = '\0';
	if (src == NULL)
		return ERR_NAME;
	size_t len = strnlen(src, LIM_LABEL + 1);
	int r = copy_label(src, len, dst, dstlen);
	if (r != 0 && dstlen > 0)
		dst[0] = '\0';
	return r;
}

int
names_parse_target(const char *s, struct name_target *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return ERR_NAME;
	size_t len = strnlen(s, LIM_TARGET + 1);
	if (len > LIM_TARGET)
		return ERR_NAME;
	const char *dot = memchr(s, '.', len);
	int r;
	if (dot == NULL)
		r = copy_label(s, len, out->name, sizeof(out->name));
	else {
		size_t nlen = (size_t)(dot - s);
		r = copy_label(s, nlen, out->name, sizeof(out->name));
		if (r == 0)
			r = copy_label(dot + 1, len - nlen - 1, out->fleet,
			    sizeof(out->fleet));
	}
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* Maps src to a label: lower-case, others to '-', runs of '-' as one, trimmed, at most LIM_LABEL. */
static int
make_label(const char *src, bool stop_at_dot, char *dst, size_t dstlen)
{
	size_t o = 0;

	if (dstlen > 0)
		dst[0] = '\0';
	if (src == NULL || dstlen < 2)
		return ERR_NAME;
	for (size_t i = 0; src[i] != '\0' && !(stop_at_dot && src[i] == '.'); i++) {
		char c = lower(src[i]);
		if (!label_char(c))
			c = '-';
		if (c == '-' && (o == 0 || dst[o - 1] == '-'))
			continue;
		if (o >= LIM_LABEL || o + 1 >= dstlen)
			break;
		dst[o++] = c;
	}
	while (o > 0 && dst[o - 1] == '-')
		o--;
	dst[o] = '\0';
	return o == 0 ? ERR_NAME : 0;
}

int
names_from_hostname(const char *host, char *dst, size_t dstlen)
{
	return make_label(host, true, dst, dstlen);
}

int
names_from_comment(const char *comment, char *dst, size_t dstlen)
{
	return make_label(comment, false, dst, dstlen);
}
