/* promtext.c: writes the Prometheus text exposition format (HELP, TYPE, samples, histograms). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/promtext.h"

static bool
name_char(char ch, bool first, bool colon)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return true;
	if (ch == ':')
		return colon;
	return !first && ch >= '0' && ch <= '9';
}

static bool
ident_ok(const char *s, bool colon)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 200)
		return false;
	for (size_t i = 0; s[i] != '\0'; i++)
		if (!name_char(s[i], i == 0, colon))
			return false;
	return true;
}

bool
promtext_name_ok(const char *s)
{
	return ident_ok(s, true);
}

bool
promtext_label_name_ok(const char *s)
{
	return ident_ok(s, false) && strncmp(s, "__", 2) != 0;
}

int
promtext_family(struct jbuf *b, const char *name, const char *type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram", "untyped" };
	bool known = false;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known |= type != NULL && strcmp(type, types[i]) == 0;
	if (!known || !promtext_name_ok(name))
		return ERR_INVAL;
	jbuf_addf(b, "# HELP %s ", name);
	for (const char *p = help ? help : ""; *p != '\0'; p++) {
		if (*p == '\\')
			jbuf_add(b, "\\\\", 2);
		else if (*p == '\n')
			jbuf_add(b, "\\n", 2);
		else
			jbuf_add(b, p, 1);
	}
	jbuf_addf(b, "\n# TYPE %s %s\n", name, type);
	return b->failed ? ERR_NOMEM : 0;
}

/* Escapes one label value: \\, \", \n; anything else unprintable or non-ASCII becomes '?'. */
static void
add_value(struct jbuf *b, const char *v)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p != '\0' &&
	    n < PROMTEXT_VALUE_MAX; p++, n++) {
		if (*p == '\\')
			jbuf_add(b, "\\\\", 2);
		else if (*p == '"')
			jbuf_add(b, "\\\"", 2);
		else if (*p == '\n')
			jbuf_add(b, "\\n", 2);
		else if (*p < 0x20 || *p > 0x7e)
			jbuf_add(b, "?", 1);
		else
			jbuf_add(b, p, 1);
	}
}

static int
check_labels(const struct promtext_label *labels, size_t nlabels)
{
	if (nlabels > PROMTEXT_LABELS_MAX || (nlabels > 0 && labels == NULL))
		return ERR_INVAL;
	for (size_t i = 0; i < nlabels; i++)
		if (!promtext_label_name_ok(labels[i].name) || strcmp(labels[i].name, "le") == 0)
			return ERR_INVAL;
	return 0;
}

/* name{labels[,le="extra"]} without the value. */
static void
add_series(struct jbuf *b, const char *name, const char *suffix,
    const struct promtext_label *labels, size_t nlabels, const char *le)
{
	jbuf_addf(b, "%s%s", name, suffix);
	if (nlabels == 0 && le == NULL)
		return;
	jbuf_add(b, "{", 1);
	for (size_t i = 0; i < nlabels; i++) {
		jbuf_addf(b, "%s%s=\"", i ? "," : "", labels[i].name);
		add_value(b, labels[i].value);
		jbuf_add(b, "\"", 1);
	}
	if (le != NULL)
		jbuf_addf(b, "%sle=\"%s\"", nlabels ? "," : "", le);
	jbuf_add(b, "}", 1);
}

/* The shortest %g spelling that reads back as v, so distinct bounds stay distinct. */
static void
format_bound(double v, char *dst, size_t len)
{
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(dst, len, "%.*g", prec, v);
		if (strtod(dst, NULL) == v)
			return;
	}
}

static void
format_double(double v, char *dst, size_t len)
{
	if (isnan(v))
		snprintf(dst, len, "NaN");
	else if (isinf(v))
		snprintf(dst, len, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(dst, len, "%.17g", v);
}

int
promtext_sample(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, uint64_t value)
{
	if (!promtext_name_ok(name) || check_labels(labels, nlabels) != 0)
		return ERR_INVAL;
	add_series(b, name, "", labels, nlabels, NULL);
	jbuf_addf(b, " %llu\n", (unsigned long long)value);
	return b->failed ? ERR_NOMEM : 0;
}

int
promtext_sample_f(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, double value)
{
	char v[40];

	if (!promtext_name_ok(name) || check_labels(labels, nlabels) != 0)
		return ERR_INVAL;
	format_double(value, v, sizeof(v));
	add_series(b, name, "", labels, nlabels, NULL);
	jbuf_addf(b, " %s\n", v);
	return b->failed ? ERR_NOMEM : 0;
}

static bool
bounds_ok(const struct promtext_hist *h)
{
	if (h == NULL || h->n == 0 || h->le == NULL || h->counts == NULL)
		return false;
	for (size_t i = 0; i < h->n; i++)
		if (!isfinite(h->le[i]) || (i > 0 && !(h->le[i] > h->le[i - 1])))
			return false;
	return true;
}

int
promtext_histogram(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, const struct promtext_hist *h)
{
	char le[40], sum[40];
	uint64_t cum = 0;

	if (!promtext_name_ok(name) || check_labels(labels, nlabels) != 0 || !bounds_ok(h))
		return ERR_INVAL;
	for (size_t i = 0; i <= h->n; i++) {
		cum += h->counts[i];
		if (i < h->n)
			format_bound(h->le[i], le, sizeof(le));
		add_series(b, name, "_bucket", labels, nlabels, i < h->n ? le : "+Inf");
		jbuf_addf(b, " %llu\n", (unsigned long long)cum);
	}
	format_double(h->sum, sum, sizeof(sum));
	add_series(b, name, "_sum", labels, nlabels, NULL);
	jbuf_addf(b, " %s\n", sum);
	add_series(b, name, "_count", labels, nlabels, NULL);
	jbuf_addf(b, " %llu\n", (unsigned long long)cum);
	return b->failed ? ERR_NOMEM : 0;
}
