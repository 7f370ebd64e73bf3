/*
 * counters.h - the milter's metrics: the families, one registry for
 * the whole process (libmilter's connection threads and the resolver
 * thread count into it at once, without a lock: metrics.h), and the
 * thread that writes metrics_file every metrics_interval.
 *
 * Without metrics_file every family is NULL and counting into it does
 * nothing, so the code that counts needs no test of its own.
 */
#ifndef MIL_COUNTERS_H
#define MIL_COUNTERS_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"

struct mil_counters {
	struct sm_metric *messages;	/* per action (words.h) */
	struct sm_metric *encrypted;	/* per format */
	struct sm_metric *verified;	/* signed messages, per result */
	struct sm_metric *recipients;	/* per key state */
	struct sm_metric *lookups;	/* owner names looked up */
	struct sm_metric *hits;		/* of which from the cache */
	struct sm_metric *timeouts;	/* DNS lookups at dns_timeout */
	struct sm_metric *errors;	/* local errors: tempfail() */
};

extern struct mil_counters mil_ct;

/*
 * mil_counters_start - when CFG has a metrics_file: the families, and
 * the thread writing them (the first time one interval from now).  0
 * (also when there is no file), or -1 with WHY (no metrics then).
 */
int mil_counters_start(const struct sm_config *cfg, char *why,
		       size_t whylen);

/* mil_counters_stop - stop the thread after a last write (no-op when
 * not started). */
void mil_counters_stop(void);

#endif
