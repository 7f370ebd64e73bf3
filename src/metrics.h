/*
 * metrics.h - counters and gauges a daemon keeps as it works, written
 * in the Prometheus text exposition format (version 0.0.4) for the
 * node exporter's textfile collector: "# HELP", "# TYPE", then one
 * "name{label="value"} N" line per series.
 *
 * A registry holds metric families, each a counter or a gauge with at
 * most one label; the label's values are a word table (words.h, in
 * code order), so a series is picked by its code and updating it is
 * one atomic addition: any thread may update any series at any time,
 * with no lock.  Families are added before the threads that update
 * them start, and the registry is freed after they stop.
 *
 * Names follow the Prometheus conventions: smilla_policyd_* for the
 * policy daemon, smilla_* for the milter; counters end in _total.
 */
#ifndef SM_METRICS_H
#define SM_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "words.h"

enum sm_metric_type { SM_METRIC_COUNTER, SM_METRIC_GAUGE };

struct sm_metrics;
struct sm_metric;

/* sm_metrics_new - an empty registry; NULL on OOM. */
struct sm_metrics *sm_metrics_new(void);

/* sm_metrics_free - release M and its families (NULL allowed). */
void sm_metrics_free(struct sm_metrics *m);

/*
 * sm_metrics_add - a family NAME of TYPE, documented by HELP (one
 * line), written in the order added.  LABEL NULL: one series without
 * labels (code 0); else one series per word of VALUES (borrowed, must
 * outlive M), LABEL="word", picked by the word's code.  The strings
 * are borrowed.  NULL on OOM (or M NULL): updates to a NULL family do
 * nothing, so a daemon without metrics needs no tests around them.
 */
struct sm_metric *sm_metrics_add(struct sm_metrics *m,
				 enum sm_metric_type type, const char *name,
				 const char *help, const char *label,
				 const struct sm_name_code *values);

/*
 * A family to add, for sm_metrics_add_all: the arguments of
 * sm_metrics_add, and where to put the family.
 */
struct sm_metric_def {
	struct sm_metric **out;
	enum sm_metric_type type;
	const char *name, *help, *label;
	const struct sm_name_code *values;
};

/*
 * sm_metrics_add_all - sm_metrics_add for each of the N DEFS, in
 * order, into *DEFS[i].out.  0, or -1 on OOM (then every *out is NULL:
 * nothing is counted).
 */
int sm_metrics_add_all(struct sm_metrics *m, const struct sm_metric_def *defs,
		       size_t n);

/*
 * sm_metric_add - add N (may be negative, for gauges) to the series of
 * CODE; sm_metric_set - set it to V.  A NULL family or a code without
 * a series is ignored.  Thread-safe.
 */
void sm_metric_add(struct sm_metric *x, int code, long n);
void sm_metric_set(struct sm_metric *x, int code, long v);

/* sm_metric_get - the value of CODE's series (0 when there is none). */
long sm_metric_get(const struct sm_metric *x, int code);

/* sm_metrics_print - M in the exposition format to F; 0, or -1. */
int sm_metrics_print(const struct sm_metrics *m, FILE *f);

/*
 * sm_metrics_write - M to PATH atomically: written to PATH.tmp in the
 * same directory (a new file, mode 0644 whatever the umask, never
 * through a link left at that name), then renamed over PATH, so a
 * reader sees the old file or the new one, never half of one.  0, or
 * -1 with WHY (PATH.tmp removed).
 */
int sm_metrics_write(const struct sm_metrics *m, const char *path,
		     char *why, size_t whylen);

#endif
