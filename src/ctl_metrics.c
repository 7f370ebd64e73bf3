/*
 * ctl_metrics.c - "smillactl metrics"; the contract is ctl_metrics.h.
 *
 *   smilla_store_identities              identities ever recorded
 *   smilla_store_decisions{result}       their totals, kept for good
 *   smilla_store_events{result}          decisions within
 *                                        reputation_retention
 *   smilla_store_deliveries{action}      messages to recipients within
 *                                        it, by what the milter did
 *   smilla_store_keys_seen               distinct keys, all identities
 *   smilla_store_key_changes             key changes, all identities
 *   smilla_store_cache_entries{type}     fresh cache entries per type
 *
 * Gauges all: each is the store's state when the command runs.  The
 * events are read in one pass after the list of identities, so no two
 * queries overlap.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cache.h"
#include "ctl_metrics.h"
#include "metrics.h"
#include "reputation.h"
#include "rr.h"
#include "util.h"
#include "words.h"

static const struct sm_name_code rr_names[] = {
	{ "tlsa", SM_RR_TLSA },
	{ "smimea", SM_RR_SMIMEA },
	{ "openpgpkey", SM_RR_OPENPGPKEY },
	{ NULL, -1 }
};

struct gauges {
	struct sm_metric *identities, *decisions, *events, *deliveries, *keys,
			 *changes, *entries;
};

static void
one_identity(void *arg, const struct sm_rep_identity *id)
{
	struct gauges *g = arg;
	int r;

	sm_metric_add(g->identities, 0, 1);
	for (r = 0; r < SM_NRESULTS; r++)
		sm_metric_add(g->decisions, r, id->count[r]);
	sm_metric_add(g->keys, 0, id->keys_seen);
	sm_metric_add(g->changes, 0, id->key_changes);
}

static void
one_event(void *arg, const struct sm_rep_event *ev)
{
	struct gauges *g = arg;

	if (sm_name_code(sm_key_type_names, ev->key_type) ==
	    SM_KEY_TYPE_DELIVERY)
		sm_metric_add(g->deliveries,
			      sm_name_code(sm_mil_action_names, ev->action),
			      ev->count);
	else
		sm_metric_add(g->events, sm_rep_result_index(ev->result),
			      ev->count);
}

static void
one_entry(void *arg, const struct sm_dns_result *res, time_t expires)
{
	struct gauges *g = arg;

	(void)expires;
	sm_metric_add(g->entries, res->qtype, 1);
}

static int
from_store(const struct sm_config *cfg, struct gauges *g, char *why,
	   size_t whylen)
{
	long retention = sm_config_int(cfg, SM_K_REPUTATION_RETENTION);
	struct sm_db_params dbp;
	struct sm_cache_params cp;
	struct sm_rep *rep;
	struct sm_cache *cache;
	int rc = 0;

	sm_config_db(cfg, &dbp);
	if ((rep = sm_rep_open(sm_config_str(cfg, SM_K_DB_PATH), &dbp,
			       retention, why, whylen)) == NULL)
		return -1;
	if (sm_rep_identities(rep, 0, one_identity, g, why, whylen) < 0 ||
	    sm_rep_each(rep, time(NULL) - retention, one_event, g, why,
			whylen) < 0)
		rc = -1;
	sm_rep_close(rep);
	if (rc < 0)
		return -1;
	sm_config_cache(cfg, &cp);
	if ((cache = sm_cache_open(sm_config_str(cfg, SM_K_DB_PATH), &cp, why,
				   whylen)) == NULL)
		return -1;
	if (sm_cache_each(cache, time(NULL), one_entry, g, why, whylen) < 0)
		rc = -1;
	sm_cache_close(cache);
	return rc;
}

int
ctl_metrics_print(const struct sm_config *cfg, FILE *out, char *why,
		  size_t whylen)
{
	struct sm_metrics *m = sm_metrics_new();
	struct gauges g = { 0 };
	int rc = -1;
	const struct sm_metric_def defs[] = {
		{ &g.identities, SM_METRIC_GAUGE, "smilla_store_identities",
		  "identities ever recorded", NULL, NULL },
		{ &g.decisions, SM_METRIC_GAUGE, "smilla_store_decisions",
		  "decisions per result since each identity was first seen",
		  "result", sm_result_names },
		{ &g.events, SM_METRIC_GAUGE, "smilla_store_events",
		  "decisions per result within reputation_retention",
		  "result", sm_result_names },
		{ &g.deliveries, SM_METRIC_GAUGE, "smilla_store_deliveries",
		  "messages to recipients within reputation_retention, by"
		  " what the milter did", "action", sm_mil_action_names },
		{ &g.keys, SM_METRIC_GAUGE, "smilla_store_keys_seen",
		  "distinct keys seen, all identities", NULL, NULL },
		{ &g.changes, SM_METRIC_GAUGE, "smilla_store_key_changes",
		  "key changes (within a key type), all identities", NULL,
		  NULL },
		{ &g.entries, SM_METRIC_GAUGE, "smilla_store_cache_entries",
		  "fresh cache entries, per type", "type", rr_names },
	};

	if (sm_metrics_add_all(m, defs, sizeof(defs) / sizeof(defs[0])) < 0)
		sm_why(why, whylen, "out of memory");
	else if (from_store(cfg, &g, why, whylen) == 0 &&
		 (rc = sm_metrics_print(m, out)) < 0)
		sm_why(why, whylen, "cannot write the metrics");
	sm_metrics_free(m);
	return rc;
}

int
ctl_metrics(const struct sm_config *cfg)
{
	char why[1024] = "";

	if (ctl_metrics_print(cfg, stdout, why, sizeof(why)) < 0 ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "smillactl: metrics: %s\n",
			*why ? why : "cannot write");
		return EX_IOERR;
	}
	return 0;
}
