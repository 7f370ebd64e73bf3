/*
 * ctl_metrics.h - "smillactl metrics": what the store knows, as gauges
 * in the Prometheus text format (metrics.h), for the node exporter's
 * textfile collector or a look by hand.
 */
#ifndef SM_CTL_METRICS_H
#define SM_CTL_METRICS_H

#include <stdio.h>

#include "config.h"

/*
 * ctl_metrics_print - the gauges of the reputation store and the cache
 * of CFG's db_path to OUT.  0, or -1 with WHY (nothing written then).
 */
int ctl_metrics_print(const struct sm_config *cfg, FILE *out, char *why,
		      size_t whylen);

/*
 * ctl_metrics - the command: the gauges to stdout; 0, or EX_IOERR
 * after saying why on stderr.
 */
int ctl_metrics(const struct sm_config *cfg);

#endif
