/*
 * promtext.h: the Prometheus text exposition format (version 0.0.4), written
 * in this one module: HELP and TYPE lines, samples with escaped label values,
 * histograms with cumulative buckets. Everything is appended to a jbuf.
 */
#ifndef OUTPOST_PROMTEXT_H
#define OUTPOST_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jbuf.h"

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROMTEXT_VALUE_MAX 128	/* a label value is cut to this many bytes */
#define PROMTEXT_LABELS_MAX 4	/* label pairs per sample */

/* One label: name (ours, checked) and value (may come from a peer or the store). */
struct promtext_label {
	const char *name;
	const char *value;
};

/*
 * A histogram's state: n upper bounds le[] in seconds, strictly increasing
 * and finite; counts[] holds n + 1 non-cumulative counts, the last for
 * observations above le[n - 1] (the +Inf bucket); sum in seconds.
 */
struct promtext_hist {
	const double *le;
	size_t n;
	const uint64_t *counts;
	double sum;
};

/* True if s is a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool promtext_name_ok(const char *s);
/* True if s is a label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". */
bool promtext_label_name_ok(const char *s);

/*
 * Appends "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram, untyped); help has \ and newline escaped. Returns 0, ERR_INVAL
 * for a bad name or type (nothing appended), or the jbuf's error.
 */
int promtext_family(struct jbuf *b, const char *name, const char *type, const char *help);

/*
 * Appends one sample: name{l1="v1",...} value. Label values are escaped
 * (\\, \", \n); other control bytes and bytes above 0x7e become '?', and a
 * value is cut at PROMTEXT_VALUE_MAX bytes, so whatever a fleet or peer
 * string holds, the line stays one valid line. Returns 0, ERR_INVAL (bad
 * name, label name, or more than PROMTEXT_LABELS_MAX labels: nothing
 * appended) or the jbuf's error.
 */
int promtext_sample(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, uint64_t value);
/* The same with a floating-point value (printed with %.17g; NaN and infinities spelled out). */
int promtext_sample_f(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, double value);

/*
 * Appends name_bucket{...,le="..."} lines (cumulative, ending with +Inf),
 * name_sum and name_count for h. ERR_INVAL, with nothing appended, if the
 * bounds are not finite and strictly increasing or n is 0.
 */
int promtext_histogram(struct jbuf *b, const char *name, const struct promtext_label *labels,
    size_t nlabels, const struct promtext_hist *h);

#endif
