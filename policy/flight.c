/*
 * flight.c - the TLSA lookups of smilla-policyd's requests: from a
 * connection's verdict memo, the memory cache, the sqlite cache, or
 * DNS; the contract is srv.h.
 *
 * A candidate that needs a TLSA RRset asks, in this order: the memo
 * of its connection (the same names and keys as the previous request
 * of the session, and the memory cache entry it came from still in
 * place: the verdict as it was, no matching), the memory cache
 * (mcache.c), the sqlite cache, and last DNS.  Lookups for the same
 * owner name are shared: a "flight" is one lookup in libunbound with
 * the waiters (connection, candidate) it answers; at most
 * max_inflight flights are up at once, each one a libunbound socket.
 * When the answer comes, it goes to the sqlite cache's writer and the
 * memory cache, every waiter gets its verdict, and a request whose last
 * lookup that was is finished (cycle.c).
 *
 *   pol_flight_need(c, i)     get candidate I of C's request a
 *                             verdict, now or when its flight lands
 *                             (C->waiting counts what is outstanding)
 *   pol_flights_free(srv)     drop the flights (after sm_dns_free(),
 *                             which cancels them without callbacks),
 *                             freeing the connections only they held
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "srv.h"

static void
answered(void *arg, struct sm_dns_result *res)
{
	struct pol_flight *f = arg, **pp;
	struct pol_server *srv = f->srv;
	struct pol_waiter *w;
	time_t now = time(NULL);
	char why[256];

	if (res != NULL && res->timed_out)
		sm_metric_add(srv->ct.timeouts, 0, 1);
	/* Only queued: the cache's writer reports what it cannot store. */
	if (res != NULL && srv->cache != NULL)
		sm_cache_put(srv->cache, res, now, why, sizeof(why));
	while ((w = f->waiters) != NULL) {
		struct pol_conn *c = w->c;

		f->waiters = w->next;
		if (!c->dead)
			pol_found(&srv->pc, &c->d, w->cand, res);
		free(w);
		if (--c->waiting == 0) {
			if (c->dead)
				pol_conn_free(c);
			else
				pol_cycle_finish(c);
		}
	}
	for (pp = &srv->flights; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	srv->nflights--;
	if (res != NULL)
		pol_mc_put(srv, res, sm_cache_lifetime(&srv->cp, res), now);
	free(f->name);
	free(f);
}

/*
 * The verdict of the previous request of the session, when it asked for
 * the same names and keys and the memory cache entry it came from is
 * still there.  1 when candidate I has its verdict.
 */
static int
from_memo(struct pol_conn *c, int i, time_t now)
{
	struct pol_vmemo *m = &c->vmemo[i];

	if (c->d.memo_hit && m->gen == c->srv->mc_gen && m->expires > now) {
		pol_verdict_set(&c->d, i, &m->v);
		sm_metric_add(c->srv->ct.hits, POL_HIT_VERDICT, 1);
		return 1;
	}
	m->gen = 0;
	return 0;
}

/* From the memory cache, remembered in the memo for the next request. */
static int
from_mcache(struct pol_conn *c, int i, time_t now)
{
	struct pol_server *srv = c->srv;
	struct pol_vmemo *m = &c->vmemo[i];
	const struct pol_mc *hit;

	if ((hit = pol_mc_get(srv, c->d.cand[i].owner, now)) == NULL)
		return 0;
	pol_found(&srv->pc, &c->d, i, hit->res);
	sm_metric_add(srv->ct.hits, POL_HIT_MEMORY, 1);
	m->gen = srv->mc_gen;
	m->expires = hit->expires;
	pol_verdict_get(&c->d, i, &m->v);
	return 1;
}

/*
 * From the sqlite cache, kept in the memory cache too.  A cache that
 * cannot be read is logged and counts as a miss: DNS answers.
 */
static int
from_cache(struct pol_conn *c, int i, time_t now)
{
	struct pol_server *srv = c->srv;
	struct sm_dns_result *res = NULL;
	char why[256];

	if (srv->cache != NULL &&
	    sm_cache_get(srv->cache, c->d.cand[i].owner, SM_RR_TLSA, now, &res,
			 why, sizeof(why)) < 0)
		sm_log(SM_LOG_WARNING, "%s", why);
	if (res == NULL)
		return 0;
	pol_found(&srv->pc, &c->d, i, res);
	sm_metric_add(srv->ct.hits, POL_HIT_SQLITE, 1);
	pol_mc_put(srv, res, (long)res->ttl, now);
	return 1;
}

/*
 * The flight for NAME: the one in the air, or a new one (at most
 * max_inflight).  NULL when none can be had, with candidate I failed
 * for the reason.
 */
static struct pol_flight *
flight_for(struct pol_conn *c, int i, const char *name)
{
	struct pol_server *srv = c->srv;
	struct pol_flight *f;

	for (f = srv->flights; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	if ((long)srv->nflights >= srv->max_inflight) {
		pol_fail_lookup(&c->d, i, "too many lookups in flight");
		sm_metric_add(srv->ct.errors, POL_ERR_LOOKUP, 1);
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->name = strdup(name)) == NULL) {
		free(f);
		pol_fail_lookup(&c->d, i, "out of memory");
		sm_metric_add(srv->ct.errors, POL_ERR_LOOKUP, 1);
		return NULL;
	}
	f->srv = srv;
	if (sm_dns_submit(srv->dns, name, SM_RR_TLSA, answered, f) < 0) {
		free(f->name);
		free(f);
		pol_fail_lookup(&c->d, i, "cannot start lookup");
		sm_metric_add(srv->ct.errors, POL_ERR_LOOKUP, 1);
		return NULL;
	}
	f->next = srv->flights;
	srv->flights = f;
	srv->nflights++;
	sm_metric_add(srv->ct.queries, 0, 1);
	return f;
}

/* Candidate I of C waits for F; C->waiting counts it. */
static void
wait_for(struct pol_conn *c, int i, struct pol_flight *f)
{
	struct pol_waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		/* The flight goes on; this request just cannot wait for it. */
		pol_fail_lookup(&c->d, i, "out of memory");
		sm_metric_add(c->srv->ct.errors, POL_ERR_LOOKUP, 1);
		return;
	}
	w->c = c;
	w->cand = i;
	w->next = f->waiters;
	f->waiters = w;
	c->waiting++;
}

/* Get candidate I of C's request a result, now or later. */
void
pol_flight_need(struct pol_conn *c, int i)
{
	struct pol_flight *f;
	time_t now = time(NULL);

	sm_metric_add(c->srv->ct.lookups, 0, 1);
	if (from_memo(c, i, now) || from_mcache(c, i, now) ||
	    from_cache(c, i, now))
		return;
	c->used_dns = 1;
	if ((f = flight_for(c, i, c->d.cand[i].owner)) != NULL)
		wait_for(c, i, f);
}

void
pol_flights_free(struct pol_server *srv)
{
	while (srv->flights != NULL) {
		struct pol_flight *f = srv->flights;

		srv->flights = f->next;
		while (f->waiters != NULL) {
			struct pol_waiter *w = f->waiters;

			f->waiters = w->next;
			if (--w->c->waiting == 0)
				pol_conn_free(w->c);
			free(w);
		}
		free(f->name);
		free(f);
	}
}
