/*
 * mcache.c - smilla-policyd's memory cache of TLSA answers; the
 * contract is srv.h.
 *
 * The sqlite cache is shared with the milter and smillactl, and one
 * read costs a query: answers seen by this process are also kept in a
 * hash table of owner names, for what the sqlite cache would give
 * (the TTL) or, for DNS answers, for what sm_cache_lifetime() says.
 * The table is bounded by MC_MAX entries; at the bound it is emptied
 * at once rather than aged entry by entry, as a refill costs only
 * cache reads.  Every entry in or out changes mc_gen, so the verdict
 * memos of the connections (flight.c) know when an entry they were
 * taken from may be gone.
 *
 *   pol_mc_get(srv, name, now)           a live entry, or NULL (an
 *                                        expired one is dropped)
 *   pol_mc_put(srv, res, life, now)      keep RES (owned) LIFE seconds
 *   pol_mc_purge(srv)                    forget everything (reload, exit)
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv.h"

#define MC_MAX 100000		/* memory cache entries before a purge */

static unsigned
hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 ^ (unsigned char)*s++;
	return h % MC_BUCKETS;
}

void
pol_mc_purge(struct pol_server *srv)
{
	size_t i;

	for (i = 0; i < MC_BUCKETS; i++)
		while (srv->mc[i] != NULL) {
			struct pol_mc *e = srv->mc[i];

			srv->mc[i] = e->next;
			sm_dns_result_free(e->res);
			free(e->name);
			free(e);
		}
	srv->nmc = 0;
	srv->mc_gen++;
}

const struct pol_mc *
pol_mc_get(struct pol_server *srv, const char *name, time_t now)
{
	struct pol_mc **pp = &srv->mc[hash(name)], *e;

	while ((e = *pp) != NULL) {
		if (strcmp(e->name, name) == 0) {
			if (e->expires > now)
				return e;
			*pp = e->next;
			sm_dns_result_free(e->res);
			free(e->name);
			free(e);
			srv->nmc--;
			srv->mc_gen++;
			return NULL;
		}
		pp = &e->next;
	}
	return NULL;
}

/* Keep RES (owned) for LIFE seconds; frees it when it is not kept. */
void
pol_mc_put(struct pol_server *srv, struct sm_dns_result *res, long life,
       time_t now)
{
	struct pol_mc *e;
	unsigned h;

	if (life <= 0 || res == NULL) {
		sm_dns_result_free(res);
		return;
	}
	if (pol_mc_get(srv, res->qname, now) != NULL) {
		/* A second answer for a name already cached: keep the first. */
		sm_dns_result_free(res);
		return;
	}
	if (srv->nmc >= MC_MAX)
		pol_mc_purge(srv);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(res->qname)) == NULL) {
		free(e);
		sm_dns_result_free(res);
		return;
	}
	h = hash(e->name);
	e->res = res;
	e->expires = now + life;
	e->next = srv->mc[h];
	srv->mc[h] = e;
	srv->nmc++;
	srv->mc_gen++;
}
