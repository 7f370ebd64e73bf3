/*
 * cache.c - the DNS cache on sqlite3.  Only this file and reputation.c
 * include sqlite3.h.
 *
 * Several daemons share the file: WAL lets readers run beside one
 * writer, and a busy timeout rides out the short write locks.  RDATA is
 * stored as one blob of (2-octet length, data) pairs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cache.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 5000

enum { ST_GET, ST_PUT, ST_EACH, ST_COUNT };

static const char *const sql[ST_COUNT] = {
	"SELECT outcome, sec, rcode, why, rdata, expires FROM dns_cache"
	" WHERE qname = ?1 AND qtype = ?2 AND expires > ?3",
	"INSERT OR REPLACE INTO dns_cache"
	" (qname, qtype, outcome, sec, rcode, why, rdata, stored, expires)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	"SELECT qname, qtype, outcome, sec, rcode, why, rdata, expires"
	" FROM dns_cache WHERE expires > ?1 ORDER BY qname, qtype",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS dns_cache ("
	" qname TEXT NOT NULL, qtype INTEGER NOT NULL,"
	" outcome INTEGER NOT NULL, sec INTEGER NOT NULL,"
	" rcode INTEGER NOT NULL, why TEXT, rdata BLOB,"
	" stored INTEGER NOT NULL, expires INTEGER NOT NULL,"
	" PRIMARY KEY (qname, qtype));";

struct sm_cache {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct sm_cache_params params;
};

static int
dberr(struct sm_cache *cache, const char *what, char *why, size_t whylen)
{
	sm_why(why, whylen, "cache %s: %s", what, sqlite3_errmsg(cache->db));
	return -1;
}

/*
 * Switch to WAL.  When several processes create a new file at once the
 * PRAGMA can fail with SQLITE_BUSY at once instead of waiting for the
 * busy timeout, so retry it for that long ourselves.
 */
static int
set_wal(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc, waited;

	for (waited = 0;; waited += 10) {
		if ((rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1,
					     &st, NULL)) != SQLITE_OK)
			return rc;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);

			rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK :
								SQLITE_ERROR;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return rc;
		if (waited >= BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(10);
	}
}

struct sm_cache *
sm_cache_open(const char *path, const struct sm_cache_params *params,
	      char *why, size_t whylen)
{
	struct sm_cache *cache;
	int i;

	if ((cache = calloc(1, sizeof(*cache))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	cache->params = *params;
	if (sqlite3_open_v2(path, &cache->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		sm_why(why, whylen, "cache %s: %s", path,
		       cache->db ? sqlite3_errmsg(cache->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(cache->db, BUSY_TIMEOUT_MS);
	if (set_wal(cache->db) != SQLITE_OK ||
	    sqlite3_exec(cache->db, "PRAGMA synchronous=NORMAL;", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_exec(cache->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		sm_why(why, whylen, "cache %s: %s", path,
		       sqlite3_errmsg(cache->db));
		goto fail;
	}
	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(cache->db, sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &cache->st[i],
				       NULL) != SQLITE_OK) {
			sm_why(why, whylen, "cache %s: %s", path,
			       sqlite3_errmsg(cache->db));
			goto fail;
		}
	return cache;
fail:
	sm_cache_close(cache);
	return NULL;
}

void
sm_cache_close(struct sm_cache *cache)
{
	int i;

	if (cache == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(cache->st[i]);
	sqlite3_close(cache->db);
	free(cache);
}

long
sm_cache_lifetime(const struct sm_cache_params *p,
		  const struct sm_dns_result *res)
{
	long ttl;

	if (res->sec == SM_DNS_BOGUS)
		return p->bogus_ttl;
	switch (res->outcome) {
	case SM_DNS_DATA:
		ttl = (long)res->ttl;
		if (ttl < p->min_ttl)
			ttl = p->min_ttl;
		if (ttl > p->max_ttl)
			ttl = p->max_ttl;
		return ttl;
	case SM_DNS_NXDOMAIN:
	case SM_DNS_NODATA:
		return p->negative_ttl;
	case SM_DNS_TEMPFAIL:
	case SM_DNS_PERMFAIL:
		break;
	}
	return 0;
}

static uint8_t *
pack(const struct sm_dns_result *res, size_t *len)
{
	size_t i, n = 0;
	uint8_t *blob, *p;

	for (i = 0; i < res->count; i++)
		n += 2 + res->rr[i].len;
	if ((blob = malloc(n ? n : 1)) == NULL)
		return NULL;
	for (p = blob, i = 0; i < res->count; i++) {
		*p++ = (uint8_t)(res->rr[i].len >> 8);
		*p++ = (uint8_t)res->rr[i].len;
		memcpy(p, res->rr[i].data, res->rr[i].len);
		p += res->rr[i].len;
	}
	*len = n;
	return blob;
}

/* Rebuild a result from columns starting at COL (outcome, sec, ...). */
static struct sm_dns_result *
unpack(sqlite3_stmt *st, int col, const char *name, int type, time_t now)
{
	struct sm_dns_result *res;
	const uint8_t *blob = sqlite3_column_blob(st, col + 4);
	size_t n = (size_t)sqlite3_column_bytes(st, col + 4), off = 0;
	const char *why = (const char *)sqlite3_column_text(st, col + 3);
	sqlite3_int64 expires = sqlite3_column_int64(st, col + 5);

	res = sm_dns_result_new(name, type, sqlite3_column_int(st, col),
				sqlite3_column_int(st, col + 1));
	if (res == NULL)
		return NULL;
	res->rcode = sqlite3_column_int(st, col + 2);
	res->ttl = expires > now ? (uint32_t)(expires - now) : 0;
	if (why != NULL && sm_dns_result_set_why(res, why) < 0)
		goto fail;
	while (off + 2 <= n) {
		size_t len = (size_t)blob[off] << 8 | blob[off + 1];

		if (off + 2 + len > n)
			break;	/* a damaged row yields what it can */
		if (sm_dns_result_add(res, blob + off + 2, len) < 0)
			goto fail;
		off += 2 + len;
	}
	return res;
fail:
	sm_dns_result_free(res);
	return NULL;
}

int
sm_cache_get(struct sm_cache *cache, const char *name, int type, time_t now,
	     struct sm_dns_result **out, char *why, size_t whylen)
{
	sqlite3_stmt *st = cache->st[ST_GET];
	int rc;

	*out = NULL;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, type);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		dberr(cache, "read", why, whylen);
		sqlite3_reset(st);
		return -1;
	}
	*out = unpack(st, 0, name, type, now);
	sqlite3_reset(st);
	if (*out == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	return 1;
}

int
sm_cache_put(struct sm_cache *cache, const struct sm_dns_result *res,
	     time_t now, char *why, size_t whylen)
{
	sqlite3_stmt *st = cache->st[ST_PUT];
	long life = sm_cache_lifetime(&cache->params, res);
	uint8_t *blob;
	size_t len;
	int rc;

	if (life <= 0)
		return 0;
	if ((blob = pack(res, &len)) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, res->qname, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, res->qtype);
	sqlite3_bind_int(st, 3, res->outcome);
	sqlite3_bind_int(st, 4, res->sec);
	sqlite3_bind_int(st, 5, res->rcode);
	if (res->why != NULL)
		sqlite3_bind_text(st, 6, res->why, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_blob(st, 7, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)now + life);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(blob);
	if (rc != SQLITE_DONE)
		return dberr(cache, "write", why, whylen);
	return 1;
}

long
sm_cache_flush(struct sm_cache *cache, const char *name, int expired_only,
	       time_t now, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(cache->db,
			       "DELETE FROM dns_cache WHERE (?1 IS NULL OR qname = ?1)"
			       " AND (?2 = 0 OR expires <= ?3)",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(cache, "flush", why, whylen);
	if (name != NULL)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, expired_only);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(cache, "flush", why, whylen);
	return sqlite3_changes(cache->db);
}

long
sm_cache_each(struct sm_cache *cache, time_t now, sm_cache_each_fn *fn,
	      void *arg, char *why, size_t whylen)
{
	sqlite3_stmt *st = cache->st[ST_EACH];
	struct sm_dns_result *res;
	long n = 0;
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		res = unpack(st, 2, (const char *)sqlite3_column_text(st, 0),
			     sqlite3_column_int(st, 1), now);
		if (res == NULL) {
			sqlite3_reset(st);
			sm_why(why, whylen, "out of memory");
			return -1;
		}
		fn(arg, res, (time_t)sqlite3_column_int64(st, 7));
		sm_dns_result_free(res);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(cache, "read", why, whylen);
	return n;
}
