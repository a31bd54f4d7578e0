/*
 * test_metrics.c: the Prometheus text outpostd serves: promtext's names,
 * escaping, HELP/TYPE lines and histograms with hostile inputs first, then
 * a whole metrics_format page checked line by line by a parser of our own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "server/metrics.h"
#include "server/promtext.h"

#define BIG (1u << 20)

/* ---- a strict reader of the text format, independent of promtext.c ---- */

static bool
is_name(const char *p, size_t n, bool colon)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		    (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Parses one sample line: name{k="v",...} value. Fills the metric name and,
 * if le is non-NULL, the le label's raw value ("" if none). Returns the
 * value, or NAN if the line is malformed.
 */
static double
parse_sample(const char *line, char *name, size_t namelen, char *le, size_t lelen)
{
	const char *p = line, *start = line;

	while (*p != '\0' && *p != '{' && *p != ' ')
		p++;
	if (!is_name(start, (size_t)(p - start), true) || (size_t)(p - start) >= namelen)
		return NAN;
	snprintf(name, namelen, "%.*s", (int)(p - start), start);
	if (le != NULL)
		le[0] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			const char *k = p;
			while (*p != '\0' && *p != '=')
				p++;
			if (*p != '=' || !is_name(k, (size_t)(p - k), false) || p[1] != '"')
				return NAN;
			bool is_le = (p - k) == 2 && strncmp(k, "le", 2) == 0;
			p += 2;
			const char *v = p;
			while (*p != '"') {
				unsigned char c = (unsigned char)*p;
				if (c == '\0' || c == '\n' || c < 0x20 || c > 0x7e)
					return NAN;
				if (c == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return NAN;
					p++;
				}
				p++;
			}
			if (is_le && le != NULL)
				snprintf(le, lelen, "%.*s", (int)(p - v), v);
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return NAN;
		}
		p++;
	}
	if (*p != ' ')
		return NAN;
	p++;
	if (strcmp(p, "+Inf") == 0)
		return INFINITY;
	char *end;
	double v = strtod(p, &end);
	if (end == p || *end != '\0')
		return NAN;
	return v;
}

/* The family a sample belongs to: name without _bucket/_sum/_count for histograms. */
static void
family_of(const char *name, const char *const *hists, size_t nh, char *fam, size_t len)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };

	snprintf(fam, len, "%s", name);
	for (size_t i = 0; i < nh; i++)
		for (size_t j = 0; j < 3; j++) {
			size_t hl = strlen(hists[i]);
			if (strncmp(name, hists[i], hl) == 0 && strcmp(name + hl, sfx[j]) == 0)
				snprintf(fam, len, "%s", hists[i]);
		}
}

/*
 * Checks a whole page: every line a comment or a sample; each family's HELP
 * then TYPE before its samples and once only; histogram buckets with
 * increasing le, non-decreasing counts, +Inf last and equal to _count.
 * Returns the number of sample lines.
 */
static int
check_page(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line;
	char typed[64][80], helped[80] = "", hists[16][80], cur[80] = "";
	const char *hp[16];
	size_t ntyped = 0, nh = 0;
	double last_le = -INFINITY, last_count = 0;
	int samples = 0;

	assert_non_null(copy);
	assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[128], le[64], fam[128];
		if (strncmp(line, "# HELP ", 7) == 0) {
			snprintf(helped, sizeof(helped), "%.*s", (int)strcspn(line + 7, " "), line + 7);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char t[80], ty[32];
			assert_int_equal(sscanf(line + 7, "%79s %31s", t, ty), 2);
			assert_string_equal(t, helped);		/* HELP right before TYPE */
			for (size_t i = 0; i < ntyped; i++)
				assert_string_not_equal(typed[i], t);	/* once per page */
			assert_true(ntyped < 64);
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", t);
			if (strcmp(ty, "histogram") == 0) {
				snprintf(hists[nh], sizeof(hists[0]), "%s", t);
				hp[nh] = hists[nh];
				nh++;
			}
			snprintf(cur, sizeof(cur), "%s", t);
			last_le = -INFINITY;
			last_count = 0;
			continue;
		}
		assert_true(line[0] != '#');
		double v = parse_sample(line, name, sizeof(name), le, sizeof(le));
		assert_false(isnan(v));
		family_of(name, hp, nh, fam, sizeof(fam));
		assert_string_equal(fam, cur);	/* samples follow their family's TYPE */
		samples++;
		size_t fl = strlen(fam);
		if (strcmp(name + fl, "_bucket") == 0) {
			double b = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
			assert_true(b > last_le);
			assert_true(v >= last_count);
			last_le = b;
			last_count = v;
		} else if (strcmp(name + fl, "_count") == 0) {
			assert_true(isinf(last_le));	/* +Inf came, last */
			assert_true(v == last_count);
		}
	}
	free(copy);
	return samples;
}

/* ---- hostile inputs ---- */

static void
test_bad_names(void **state)
{
	static const char *const bad[] = { "", "1abc", "a-b", "a b", "a\nb", "a{b", "é", "a\"" };
	struct jbuf b;

	(void)state;
	jbuf_init(&b, BIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(promtext_name_ok(bad[i]));
		assert_int_equal(promtext_family(&b, bad[i], "counter", "x"), ERR_INVAL);
		assert_int_equal(promtext_sample(&b, bad[i], NULL, 0, 1), ERR_INVAL);
	}
	assert_false(promtext_name_ok(NULL));
	assert_int_equal(promtext_family(&b, NULL, "counter", "x"), ERR_INVAL);
	assert_int_equal(promtext_family(&b, "ok_total", "summary", "x"), ERR_INVAL);
	assert_int_equal(promtext_family(&b, "ok_total", NULL, "x"), ERR_INVAL);
	assert_int_equal(promtext_family(&b, "ok_total", "counter\n# TYPE x", "x"), ERR_INVAL);
	assert_int_equal(b.len, 0);	/* nothing appended by any refusal */
	assert_true(promtext_name_ok("outpost:ratio_5m"));
	assert_false(promtext_label_name_ok("a:b"));
	jbuf_free(&b);
}

static void
test_bad_labels(void **state)
{
	struct promtext_label dunder = { "__name__", "x" }, dash = { "a-b", "x" }, le = { "le", "1" };
	struct promtext_label many[PROMTEXT_LABELS_MAX + 1];
	struct jbuf b;

	(void)state;
	for (int i = 0; i <= PROMTEXT_LABELS_MAX; i++)
		many[i] = (struct promtext_label){ "k", "v" };
	jbuf_init(&b, BIG);
	assert_int_equal(promtext_sample(&b, "m", &dunder, 1, 1), ERR_INVAL);
	assert_int_equal(promtext_sample(&b, "m", &dash, 1, 1), ERR_INVAL);
	assert_int_equal(promtext_sample(&b, "m", &le, 1, 1), ERR_INVAL);	/* reserved for histograms */
	assert_int_equal(promtext_sample(&b, "m", many, PROMTEXT_LABELS_MAX + 1, 1), ERR_INVAL);
	assert_int_equal(promtext_sample(&b, "m", NULL, 1, 1), ERR_INVAL);
	assert_int_equal(b.len, 0);
	jbuf_free(&b);
}

static void
test_label_value_escaping(void **state)
{
	struct promtext_label l = { "fleet", "a\"b\\c\nd\re\x01" "f\x7f\xff}g" };
	struct jbuf b;
	char name[32];

	(void)state;
	jbuf_init(&b, BIG);
	assert_int_equal(promtext_sample(&b, "m", &l, 1, 7), 0);
	assert_string_equal(b.data, "m{fleet=\"a\\\"b\\\\c\\nd?e?f??}g\"} 7\n");
	*strchr(b.data, '\n') = '\0';
	assert_true(parse_sample(b.data, name, sizeof(name), NULL, 0) == 7);
	jbuf_free(&b);

	/* NULL and empty values; a long value is cut, still one valid line */
	char lng[1000];
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	struct promtext_label ls[3] = { { "a", NULL }, { "b", "" }, { "c", lng } };
	jbuf_init(&b, BIG);
	assert_int_equal(promtext_sample(&b, "m", ls, 3, 1), 0);
	assert_int_equal(b.len, strlen("m{a=\"\",b=\"\",c=\"\"} 1\n") + PROMTEXT_VALUE_MAX);
	jbuf_free(&b);
}

static void
test_help_escaping(void **state)
{
	struct jbuf b;

	(void)state;
	jbuf_init(&b, BIG);
	assert_int_equal(promtext_family(&b, "m_total", "counter", "a\\b\nc \"q\""), 0);
	assert_string_equal(b.data, "# HELP m_total a\\\\b\\nc \"q\"\n# TYPE m_total counter\n");
	jbuf_free(&b);
}

/* Floating-point values: NaN and infinities spelled as the format wants, the rest round-trips. */
static void
test_float_values(void **state)
{
	struct jbuf b;
	char name[16];

	(void)state;
	jbuf_init(&b, BIG);
	assert_int_equal(promtext_sample_f(&b, "a", NULL, 0, NAN), 0);
	assert_int_equal(promtext_sample_f(&b, "b", NULL, 0, INFINITY), 0);
	assert_int_equal(promtext_sample_f(&b, "c", NULL, 0, -INFINITY), 0);
	assert_int_equal(promtext_sample_f(&b, "d", NULL, 0, 0.1), 0);
	assert_int_equal(promtext_sample_f(&b, "e", NULL, 0, -1e-300), 0);
	assert_int_equal(promtext_sample_f(&b, "bad name", NULL, 0, 1), ERR_INVAL);
	assert_non_null(strstr(b.data, "a NaN\nb +Inf\nc -Inf\n"));
	char *d = strstr(b.data, "d ");
	assert_non_null(d);
	*strchr(d, '\n') = '\0';
	assert_true(parse_sample(d, name, sizeof(name), NULL, 0) == 0.1);
	jbuf_free(&b);
}

static void
test_histogram_refuses_bad_bounds(void **state)
{
	static const double down[] = { 1, 0.5 }, dup[] = { 1, 1 }, nan_le[] = { 0.1, NAN },
	    inf_le[] = { 0.1, INFINITY };
	static const uint64_t counts[3] = { 1, 2, 3 };
	const double *sets[] = { down, dup, nan_le, inf_le };
	struct jbuf b;

	(void)state;
	jbuf_init(&b, BIG);
	for (size_t i = 0; i < 4; i++) {
		struct promtext_hist h = { sets[i], 2, counts, 1.0 };
		assert_int_equal(promtext_histogram(&b, "h", NULL, 0, &h), ERR_INVAL);
	}
	struct promtext_hist none = { down, 0, counts, 0 };
	assert_int_equal(promtext_histogram(&b, "h", NULL, 0, &none), ERR_INVAL);
	assert_int_equal(promtext_histogram(&b, "h", NULL, 0, NULL), ERR_INVAL);
	struct promtext_hist nocounts = { down, 2, NULL, 0 };
	assert_int_equal(promtext_histogram(&b, "h", NULL, 0, &nocounts), ERR_INVAL);
	assert_int_equal(b.len, 0);
	jbuf_free(&b);
}

static void
test_full_buffer_fails(void **state)
{
	struct metrics_snapshot s;
	struct jbuf b;

	(void)state;
	memset(&s, 0, sizeof(s));
	jbuf_init(&b, 100);
	assert_int_not_equal(metrics_format(&s, &b), 0);
	assert_true(b.failed);
	jbuf_free(&b);
}

/* ---- what a page holds ---- */

static void
test_histogram_cumulative(void **state)
{
	static const double le[] = { 0.001, 0.01, 0.1, 1 };
	static const uint64_t counts[5] = { 3, 0, 5, 1, 2 };
	struct promtext_hist h = { le, 4, counts, 12.5 };
	struct promtext_label l = { "kind", "x" };
	struct jbuf b;

	(void)state;
	jbuf_init(&b, BIG);
	promtext_family(&b, "h_seconds", "histogram", "h");
	assert_int_equal(promtext_histogram(&b, "h_seconds", &l, 1, &h), 0);
	assert_non_null(strstr(b.data, "h_seconds_bucket{kind=\"x\",le=\"0.001\"} 3\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{kind=\"x\",le=\"0.01\"} 3\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{kind=\"x\",le=\"0.1\"} 8\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{kind=\"x\",le=\"1\"} 9\n"));
	assert_non_null(strstr(b.data, "h_seconds_bucket{kind=\"x\",le=\"+Inf\"} 11\n"));
	assert_non_null(strstr(b.data, "h_seconds_sum{kind=\"x\"} 12.5\n"));
	assert_non_null(strstr(b.data, "h_seconds_count{kind=\"x\"} 11\n"));
	assert_int_equal(check_page(b.data), 7);
	jbuf_free(&b);
}

/* Every histogram's bounds are strictly increasing. */
static void
test_bounds_increase(void **state)
{
	(void)state;
	for (int id = 0; id < MH_MAX; id++) {
		size_t n;
		const double *le = metrics_bounds((enum metrics_hist_id)id, &n);
		assert_true(n > 0 && n <= METRICS_BUCKETS_MAX);
		for (size_t i = 1; i < n; i++)
			assert_true(le[i] > le[i - 1]);
	}
}

/* A whole page with hostile fleet names and large counts parses line by line. */
static void
test_page(void **state)
{
	struct metrics_fleet f[4];
	struct metrics_snapshot s;
	struct jbuf b;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(f, 0, sizeof(f));
	snprintf(f[0].name, sizeof(f[0].name), "acme");
	snprintf(f[1].name, sizeof(f[1].name), "ev\"il\\\n} 1\n# TYPE x counter");
	f[2].name[0] = (char)0xff;
	f[2].name[1] = '\r';
	f[3].name[0] = '\0';
	f[0].online = 3;
	f[0].offline = 2;
	f[1].standby = -5;	/* never negative on the page */
	s.fleets = f;
	s.nfleets = 4;
	s.accepted = UINT64_MAX;
	s.hist[MH_STORE].counts[0] = 10;
	s.hist[MH_STORE].counts[METRICS_BUCKETS_MAX] = 0;
	s.hist[MH_WAKE].counts[3] = 2;
	s.hist[MH_WAKE].sum = 4.5;
	s.mqtt_up = -1;
	jbuf_init(&b, BIG);
	assert_int_equal(metrics_format(&s, &b), 0);
	int n = check_page(b.data);
	assert_true(n > 40);
	assert_non_null(strstr(b.data, "outpost_devices{fleet=\"acme\",state=\"online\"} 3\n"));
	assert_non_null(strstr(b.data, "outpost_devices{fleet=\"acme\",state=\"offline\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "outpost_devices{fleet=\"ev\\\"il\\\\\\n} 1\\n# TYPE x counter\",state=\"standby\"} 0\n"));
	assert_non_null(strstr(b.data, "outpost_devices{fleet=\"??\",state=\"online\"} 0\n"));
	assert_non_null(strstr(b.data, "outpost_connections_accepted_total 18446744073709551615\n"));
	assert_non_null(strstr(b.data, "outpost_build_info{version=\"" OUTPOST_VERSION "\"} 1\n"));
	assert_non_null(strstr(b.data, "outpost_wake_duration_seconds_count 2\n"));
	assert_null(strstr(b.data, "outpost_mqtt_broker_up"));	/* no MqttURL: not shown */
	s.mqtt_up = 0;
	jbuf_free(&b);
	jbuf_init(&b, BIG);
	assert_int_equal(metrics_format(&s, &b), 0);
	check_page(b.data);
	assert_non_null(strstr(b.data, "outpost_mqtt_broker_up 0\n"));
	jbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_bad_labels),
		cmocka_unit_test(test_label_value_escaping),
		cmocka_unit_test(test_help_escaping),
		cmocka_unit_test(test_float_values),
		cmocka_unit_test(test_histogram_refuses_bad_bounds),
		cmocka_unit_test(test_full_buffer_fails),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_bounds_increase),
		cmocka_unit_test(test_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
