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

/* Get candidate I of C's request a result, now or later. */
void
pol_flight_need(struct pol_conn *c, int i)
{
	struct pol_server *srv = c->srv;
	const char *name = c->d.cand[i].owner;
	const struct pol_mc *hit;
	struct sm_dns_result *res = NULL;
	struct pol_vmemo *m = &c->vmemo[i];
	struct pol_flight *f;
	struct pol_waiter *w;
	time_t now = time(NULL);
	char why[256];

	/* Same names and keys as the last request, same cache entry. */
	if (c->d.memo_hit && m->gen == srv->mc_gen && m->expires > now) {
		pol_verdict_set(&c->d, i, &m->v);
		return;
	}
	m->gen = 0;
	if ((hit = pol_mc_get(srv, name, now)) != NULL) {
		pol_found(&srv->pc, &c->d, i, hit->res);
		m->gen = srv->mc_gen;
		m->expires = hit->expires;
		pol_verdict_get(&c->d, i, &m->v);
		return;
	}
	if (srv->cache != NULL &&
	    sm_cache_get(srv->cache, name, SM_RR_TLSA, now, &res, why,
			 sizeof(why)) < 0)
		sm_log(SM_LOG_WARNING, "%s", why);
	if (res != NULL) {
		pol_found(&srv->pc, &c->d, i, res);
		pol_mc_put(srv, res, (long)res->ttl, now);
		return;
	}
	c->used_dns = 1;
	for (f = srv->flights; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL) {
		if ((long)srv->nflights >= srv->max_inflight) {
			pol_fail_lookup(&c->d, i, "too many lookups in flight");
			return;
		}
		if ((f = calloc(1, sizeof(*f))) == NULL ||
		    (f->name = strdup(name)) == NULL) {
			free(f);
			pol_fail_lookup(&c->d, i, "out of memory");
			return;
		}
		f->srv = srv;
		if (sm_dns_submit(srv->dns, name, SM_RR_TLSA, answered, f) < 0) {
			free(f->name);
			free(f);
			pol_fail_lookup(&c->d, i, "cannot start lookup");
			return;
		}
		f->next = srv->flights;
		srv->flights = f;
		srv->nflights++;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		/* The flight goes on; this request just cannot wait for it. */
		pol_fail_lookup(&c->d, i, "out of memory");
		return;
	}
	w->c = c;
	w->cand = i;
	w->next = f->waiters;
	f->waiters = w;
	c->waiting++;
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
