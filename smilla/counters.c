/*
 * counters.c - the milter's metrics and the thread that writes them;
 * the contract is counters.h.
 *
 * The counts are made where the milter already logs or decides: the
 * per-message line of on_eom and tempfail() (main.c: messages per
 * action, encryption per format, verification per result, recipients
 * per key state, local errors), mil_lookup_names (recipient.c: names
 * looked up, cache hits) and the resolver thread (resolver.c: DNS
 * timeouts), so the message counts match the log lines.  The writer
 * thread sleeps on a condition variable (CLOCK_MONOTONIC) so that
 * mil_counters_stop wakes it at once for the last write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "log.h"
#include "verify.h"

struct mil_counters mil_ct;

static struct {
	struct sm_metrics *reg;
	char *path;
	long interval_s;
	int running, stop, failing;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * The verification results of signed messages, words as in
 * Authentication-Results ("none", not signed, is not counted).
 */
static struct sm_name_code auth_names[MIL_AUTH_PERMERROR + 1];

static void
write_now(void)
{
	char why[1024];

	if (sm_metrics_write(w.reg, w.path, why, sizeof(why)) < 0) {
		/* Said once per failing stretch, not every interval. */
		if (!w.failing)
			sm_log(SM_LOG_WARNING, "metrics: %s", why);
		w.failing = 1;
	} else {
		if (w.failing)
			sm_log(SM_LOG_NOTICE, "metrics: %s written again",
			       w.path);
		w.failing = 0;
	}
}

static void *
run(void *arg)
{
	struct timespec at;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &at);
	pthread_mutex_lock(&w.lock);
	while (!w.stop) {
		at.tv_sec += w.interval_s;
		while (!w.stop &&
		       pthread_cond_timedwait(&w.wake, &w.lock, &at) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&w.lock);
		write_now();	/* the last one too, when stopped */
		pthread_mutex_lock(&w.lock);
	}
	pthread_mutex_unlock(&w.lock);
	return NULL;
}

static int
families(void)
{
	struct mil_counters *k = &mil_ct;
	const struct sm_metric_def defs[] = {
		{ &k->messages, SM_METRIC_COUNTER, "smilla_messages_total",
		  "messages, per action (one log line each)", "action",
		  sm_mil_action_names },
		{ &k->encrypted, SM_METRIC_COUNTER, "smilla_encrypted_total",
		  "messages encrypted, per format", "format",
		  sm_format_names },
		{ &k->verified, SM_METRIC_COUNTER, "smilla_verified_total",
		  "signed messages checked, per result", "result",
		  auth_names },
		{ &k->recipients, SM_METRIC_COUNTER,
		  "smilla_recipients_total",
		  "recipients of messages ended, per key state", "state",
		  sm_key_state_names },
		{ &k->lookups, SM_METRIC_COUNTER, "smilla_lookups_total",
		  "SMIMEA/OPENPGPKEY/TLSA RRsets looked up (cache or DNS)",
		  NULL, NULL },
		{ &k->hits, SM_METRIC_COUNTER, "smilla_cache_hits_total",
		  "RRsets found in the cache", NULL, NULL },
		{ &k->timeouts, SM_METRIC_COUNTER,
		  "smilla_dns_timeouts_total",
		  "DNS lookups that reached dns_timeout", NULL, NULL },
		{ &k->errors, SM_METRIC_COUNTER, "smilla_errors_total",
		  "local errors that kept a message queued (tempfail)",
		  NULL, NULL },
	};
	int i;

	for (i = MIL_AUTH_PASS; i <= MIL_AUTH_PERMERROR; i++)
		auth_names[i - 1] = (struct sm_name_code){ mil_auth_word(i),
							    i };
	auth_names[i - 1] = (struct sm_name_code){ NULL, -1 };
	return sm_metrics_add_all(w.reg, defs, sizeof(defs) / sizeof(defs[0]));
}

int
mil_counters_start(const struct sm_config *cfg, char *why, size_t whylen)
{
	const char *path = sm_config_str(cfg, SM_K_METRICS_FILE);
	pthread_condattr_t ca;

	if (*path == '\0')
		return 0;
	if ((w.reg = sm_metrics_new()) == NULL ||
	    (w.path = strdup(path)) == NULL) {
		sm_why(why, whylen, "metrics: out of memory");
		goto fail;
	}
	w.interval_s = sm_config_int(cfg, SM_K_METRICS_INTERVAL);
	if (families() < 0) {
		sm_why(why, whylen, "metrics: out of memory");
		goto fail;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w.thread, NULL, run, NULL) != 0) {
		sm_why(why, whylen, "metrics: cannot start the writer thread");
		pthread_cond_destroy(&w.wake);
		goto fail;
	}
	w.running = 1;
	return 0;
fail:
	memset(&mil_ct, 0, sizeof(mil_ct));
	sm_metrics_free(w.reg);
	free(w.path);
	w.reg = NULL;
	w.path = NULL;
	return -1;
}

void
mil_counters_stop(void)
{
	if (!w.running)
		return;
	pthread_mutex_lock(&w.lock);
	w.stop = 1;
	pthread_cond_signal(&w.wake);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	w.running = 0;
	/*
	 * Connection threads may still count (libmilter leaves them to
	 * the exit): the families stay, freed with the process.
	 */
}
