/*
 * counters.c - smilla-policyd's metrics: the families it keeps, and
 * metrics_file written every metrics_interval from the event loop and
 * once more when the server is freed; the contract is srv.h.
 *
 * The counts are bumped where the loop already does the work they
 * count (cycle.c: a decision with its log line; flight.c: lookups,
 * cache hits, DNS answers; conn.c and accept.c: what closes a
 * connection without an answer), so the decision counts match the
 * info lines of the log.  Gauges (lookups in flight, connections) are
 * read off the server just before each write.
 *
 *   pol_counters_open(srv, cfg)   the families, when metrics_file is set
 *   pol_counters_due(srv, now)    milliseconds to the next write (or
 *                                 INT_MAX), writing first when it is due
 *   pol_counters_close(srv)       the last write; free the families
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "srv.h"

const struct sm_name_code pol_error_names[] = {
#define POL_ERROR_NAME_(code, word) { word, POL_ERR_##code },
	POL_ERRORS(POL_ERROR_NAME_)
	{ NULL, -1 }
};

static const struct sm_name_code cache_names[] = {
	{ "verdict", POL_HIT_VERDICT },
	{ "memory", POL_HIT_MEMORY },
	{ "sqlite", POL_HIT_SQLITE },
	{ NULL, -1 }
};

void
pol_counters_open(struct pol_server *srv, const struct sm_config *cfg)
{
	struct pol_counters *k = &srv->ct;
	const char *path = sm_config_str(cfg, SM_K_METRICS_FILE);
	const struct sm_metric_def defs[] = {
		{ &k->decisions, SM_METRIC_COUNTER,
		  "smilla_policyd_decisions_total",
		  "decisions answered, per result (one info line each)",
		  "result", sm_result_names },
		{ &k->lookups, SM_METRIC_COUNTER,
		  "smilla_policyd_lookups_total",
		  "TLSA RRsets the requests needed (cache or DNS)",
		  NULL, NULL },
		{ &k->hits, SM_METRIC_COUNTER,
		  "smilla_policyd_cache_hits_total",
		  "TLSA RRsets found without DNS, per cache", "cache",
		  cache_names },
		{ &k->queries, SM_METRIC_COUNTER,
		  "smilla_policyd_dns_queries_total",
		  "DNS lookups started (one per owner name in flight)",
		  NULL, NULL },
		{ &k->timeouts, SM_METRIC_COUNTER,
		  "smilla_policyd_dns_timeouts_total",
		  "DNS lookups that reached dns_timeout", NULL, NULL },
		{ &k->errors, SM_METRIC_COUNTER,
		  "smilla_policyd_errors_total",
		  "requests and connections ended without a decision, "
		  "per kind", "kind", pol_error_names },
		{ &k->inflight, SM_METRIC_GAUGE,
		  "smilla_policyd_dns_inflight", "DNS lookups in flight",
		  NULL, NULL },
		{ &k->conns, SM_METRIC_GAUGE, "smilla_policyd_connections",
		  "client connections open", NULL, NULL },
	};

	if (*path == '\0')
		return;
	if ((k->path = strdup(path)) == NULL ||
	    (k->reg = sm_metrics_new()) == NULL) {
		sm_log(SM_LOG_ERR, "metrics: out of memory; none written");
		free(k->path);
		k->path = NULL;
		return;
	}
	k->interval_ms = (int64_t)sm_config_int(cfg, SM_K_METRICS_INTERVAL) *
			 1000;
	k->next_ms = sm_now_ms() + k->interval_ms;
	if (sm_metrics_add_all(k->reg, defs, sizeof(defs) / sizeof(defs[0])) <
	    0) {
		sm_log(SM_LOG_ERR, "metrics: out of memory; none written");
		sm_metrics_free(k->reg);
		free(k->path);
		memset(k, 0, sizeof(*k));
	}
}

static void
write_now(struct pol_server *srv)
{
	struct pol_counters *k = &srv->ct;
	char why[1024];

	sm_metric_set(k->inflight, 0, (long)srv->nflights);
	sm_metric_set(k->conns, 0, (long)srv->nconns);
	if (sm_metrics_write(k->reg, k->path, why, sizeof(why)) < 0) {
		/* Said once per failing stretch, not every interval. */
		if (!k->failing)
			sm_log(SM_LOG_WARNING, "metrics: %s", why);
		k->failing = 1;
	} else {
		if (k->failing)
			sm_log(SM_LOG_NOTICE, "metrics: %s written again",
			       k->path);
		k->failing = 0;
	}
}

int
pol_counters_due(struct pol_server *srv, int64_t now)
{
	struct pol_counters *k = &srv->ct;

	if (k->reg == NULL)
		return INT_MAX;
	if (now >= k->next_ms) {
		write_now(srv);
		/* Late rounds do not pile up writes. */
		k->next_ms = now + k->interval_ms;
	}
	return (int)(k->next_ms - now);
}

void
pol_counters_close(struct pol_server *srv)
{
	struct pol_counters *k = &srv->ct;

	if (k->reg != NULL)
		write_now(srv);
	sm_metrics_free(k->reg);
	free(k->path);
	memset(k, 0, sizeof(*k));
}
