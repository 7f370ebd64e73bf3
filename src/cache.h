/*
 * cache.h - sqlite-backed cache of DNS lookups, shared by every smilla
 * process on the host through one database file (WAL mode).
 *
 * Entries are keyed by (qname, qtype) and expire at the answer's TTL,
 * clamped to [min_ttl, max_ttl].  NXDOMAIN and no-data answers are kept
 * for negative_ttl; bogus answers for bogus_ttl (0: not at all);
 * temporary and permanent failures are never cached, so the next
 * request tries again.
 *
 * The daemons' lookup paths (the policy daemon's event loop, the
 * milter's threads) never wait on sqlite: reads never wait for a lock
 * (a locked or busy file is a cache miss), and once a writer thread is
 * started, sm_cache_put only queues a copy for it.  smillactl uses the
 * same calls without a writer: its puts, flushes and listings are
 * synchronous and may wait for the busy timeout.
 */
#ifndef SM_CACHE_H
#define SM_CACHE_H

#include <stddef.h>
#include <time.h>

#include "db.h"
#include "dns.h"

struct sm_cache_params {
	long min_ttl, max_ttl, negative_ttl, bogus_ttl;	/* seconds */
	struct sm_db_params db;	/* file mode, repair, deletion checks */
};

struct sm_cache;

/*
 * sm_cache_open - open (creating if needed) the database at PATH, as
 * sm_db_open does (PARAMS->db: mode, moving a broken file aside).
 * Returns NULL with the reason in WHY; on success WHY is empty, or
 * says that a broken file was moved aside (for the caller to log as a
 * warning).
 */
struct sm_cache *sm_cache_open(const char *path,
			       const struct sm_cache_params *params,
			       char *why, size_t whylen);

/*
 * sm_cache_writer_start - write from a thread of its own from now on:
 * sm_cache_put queues a copy (at most a bounded number; beyond it the
 * entry is dropped and counted) and returns at once.  The thread writes
 * with the busy timeout, reopens the file when PARAMS->db.check_s finds
 * it deleted or replaced, and calls ON_ERROR (may be NULL) with what to
 * log: failed writes and drops with backoff (sm_db_backoff), the first
 * success after them, a file found gone.  0, or -1 with WHY (no
 * thread, or one is already running).
 */
int sm_cache_writer_start(struct sm_cache *cache,
			  void (*on_error)(const char *why), char *why,
			  size_t whylen);

/*
 * sm_cache_sync - wait until the writer has written (or failed to
 * write) every entry queued so far; no-op without a writer.
 */
void sm_cache_sync(struct sm_cache *cache);

/*
 * sm_cache_close - write what is queued, stop the writer, close CACHE
 * (NULL allowed).
 */
void sm_cache_close(struct sm_cache *cache);

/*
 * sm_cache_get - fresh entry for NAME/TYPE at time NOW.  Returns 1 and
 * an owned result in *OUT (its ttl is the time left), 0 when there is
 * none or the file is locked or busy (never waits), -1 on a database
 * error (reason in WHY).  With a writer started (the daemons, which
 * look up on every request) a database error is a miss too, reported
 * through the writer's ON_ERROR with backoff, from the calling thread.
 */
int sm_cache_get(struct sm_cache *cache, const char *name, int type,
		 time_t now, struct sm_dns_result **out, char *why,
		 size_t whylen);

/*
 * sm_cache_put - store RES as of NOW, if its kind is cached at all.
 * Returns 1 when stored (with a writer: queued), 0 when not cacheable,
 * -1 on error (WHY; with a writer: out of memory or the queue full).
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
