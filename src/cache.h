/*
 * cache.h - sqlite-backed cache of DNS lookups, shared by every smilla
 * process on the host through one database file (WAL mode).
 *
 * Entries are keyed by (qname, qtype) and expire at the answer's TTL,
 * clamped to [min_ttl, max_ttl].  NXDOMAIN and no-data answers are kept
 * for negative_ttl; bogus answers for bogus_ttl (0: not at all);
 * temporary and permanent failures are never cached, so the next
 * request tries again.
 */
#ifndef SM_CACHE_H
#define SM_CACHE_H

#include <stddef.h>
#include <time.h>

#include "dns.h"

struct sm_cache_params {
	long min_ttl, max_ttl, negative_ttl, bogus_ttl;	/* seconds */
};

struct sm_cache;

/*
 * sm_cache_open - open (creating if needed) the database at PATH.
 * Returns NULL with the reason in WHY.
 */
struct sm_cache *sm_cache_open(const char *path,
			       const struct sm_cache_params *params,
			       char *why, size_t whylen);

/* sm_cache_close - close CACHE (NULL allowed). */
void sm_cache_close(struct sm_cache *cache);

/*
 * sm_cache_get - fresh entry for NAME/TYPE at time NOW.  Returns 1 and
 * an owned result in *OUT (its ttl is the time left), 0 when there is
 * none, -1 on a database error (reason in WHY).
 */
int sm_cache_get(struct sm_cache *cache, const char *name, int type,
		 time_t now, struct sm_dns_result **out, char *why,
		 size_t whylen);

/*
 * sm_cache_put - store RES as of NOW, if its kind is cached at all.
 * Returns 1 when stored, 0 when not cacheable, -1 on error (WHY).
 */
int sm_cache_put(struct sm_cache *cache, const struct sm_dns_result *res,
		 time_t now, char *why, size_t whylen);

/*
 * sm_cache_lifetime - seconds RES would be cached under PARAMS (0: not
 * cached).  Exposed so the policy is testable on its own.
 */
long sm_cache_lifetime(const struct sm_cache_params *params,
		       const struct sm_dns_result *res);

/*
 * sm_cache_flush - remove entries: all of them when NAME is NULL, else
 * those for NAME; with EXPIRED_ONLY, only those expired at NOW.
 * Returns the number removed, -1 on error (WHY).
 */
long sm_cache_flush(struct sm_cache *cache, const char *name,
		    int expired_only, time_t now, char *why, size_t whylen);

/*
 * sm_cache_each - call FN for every entry still fresh at NOW, ordered by
 * name and type; FN gets a borrowed result and its expiry time.
 * Returns the number of entries, -1 on error (WHY).
 */
typedef void sm_cache_each_fn(void *arg, const struct sm_dns_result *res,
			      time_t expires);
long sm_cache_each(struct sm_cache *cache, time_t now, sm_cache_each_fn *fn,
		   void *arg, char *why, size_t whylen);

#endif
