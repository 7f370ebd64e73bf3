/*
 * cache.c - the DNS cache on sqlite3; the contract is cache.h.  Only
 * this file, db.c and reputation.c include sqlite3.h.
 *
 * struct sm_cache *sm_cache_open(path, params, why, whylen)
 * int sm_cache_writer_start(cache, on_error)
 * int sm_cache_get(cache, name, type, now, &res, why, whylen)
 * int sm_cache_put(cache, res, now, why, whylen)
 * long sm_cache_flush(...), sm_cache_each(...)	(smillactl)
 * void sm_cache_sync(cache), sm_cache_close(cache)
 * long sm_cache_lifetime(params, res)	the TTL policy, testable alone
 *
 * Several daemons share the file: WAL lets readers run beside one
 * writer.  RDATA is stored as one blob of (2-octet length, data) pairs.
 *
 * Two connections, because one waits and the other must not.  Reads
 * (sm_cache_get) run on the daemons' lookup paths, on a connection with
 * no busy timeout: a WAL reader does not wait for writers, and when the
 * file is busy anyway the read is a miss, never a stall (in a daemon a
 * failing read is a miss too, warned about with backoff: it reads on
 * every request).  Writes run on
 * a connection with a busy timeout, and in the daemons only on the
 * writer thread: sm_cache_put copies the entry onto a bounded queue and
 * returns.  A thread rather than non-blocking write attempts, because
 * an attempt that finds the file locked can only drop the entry, while
 * the thread rides out a short lock (another daemon's write) and drops
 * only what a long one (an admin's open transaction) keeps from it; and
 * one transaction per batch is cheaper than one per entry.  smillactl
 * starts no writer, so its calls write at once and may wait.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cache.h"
#include "db.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 5000
#define QUEUE_MAX 10000		/* entries waiting for the writer */

enum { ST_PUT, ST_EACH, ST_WCOUNT };

static const char sql_get[] =
	"SELECT outcome, sec, rcode, why, rdata, expires FROM dns_cache"
	" WHERE qname = ?1 AND qtype = ?2 AND expires > ?3";

static const char *const sql[ST_WCOUNT] = {
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

/* An entry as it goes into the table. */
struct row {
	struct row *next;
	char *qname, *why;
	int qtype, outcome, sec, rcode;
	uint8_t *blob;
	size_t len;
	time_t stored, expires;
};

struct sm_cache {
	struct sm_cache_params params;
	char *path;
	/* writes, under WLOCK: the writer thread, or smillactl */
	pthread_mutex_t wlock;
	struct sm_db *wr;
	sqlite3_stmt *st[ST_WCOUNT];
	/* reads, under RLOCK: never wait */
	pthread_mutex_t rlock;
	sqlite3 *rd;
	sqlite3_stmt *get;
	/* the queue and the writer thread, under QLOCK */
	pthread_mutex_t qlock;
	pthread_cond_t wake, idle;
	struct row *head, **tail;
	size_t nq;
	unsigned long dropped;	/* queue full, since the writer last looked */
	int running, stop, writing;
	pthread_t writer;
	void (*on_error)(const char *why);
	struct sm_db_backoff backoff;	/* writer thread only */
	struct sm_db_backoff rback;	/* reads, under RLOCK */
	char rd_broken[300];	/* a read found the file broken, why; RLOCK */
};

static int
dberr(sqlite3 *db, const char *what, char *why, size_t whylen)
{
	char err[300];

	sm_why(why, whylen, "cache %s: %s", what,
	       sm_db_error(db, err, sizeof(err)));
	return -1;
}

static void
close_writes(struct sm_db *wr, sqlite3_stmt *st[ST_WCOUNT])
{
	int i;

	for (i = 0; i < ST_WCOUNT; i++)
		sqlite3_finalize(st[i]);
	sm_db_close(wr);
}

/*
 * The write side on the cache's path: 0, or -1 with WHY (nothing left
 * open); NOTE as sm_db_open's.
 */
static int
open_writes(struct sm_cache *cache, struct sm_db **wr,
	    sqlite3_stmt *st[ST_WCOUNT], char *note, size_t notelen,
	    char *why, size_t whylen)
{
	char err[512];
	int i;

	memset(st, 0, ST_WCOUNT * sizeof(*st));
	if ((*wr = sm_db_open(cache->path, &cache->params.db, schema,
			      BUSY_TIMEOUT_MS, note, notelen, err,
			      sizeof(err))) == NULL) {
		sm_why(why, whylen, "cache %s", err);
		return -1;
	}
	for (i = 0; i < ST_WCOUNT; i++)
		if (sqlite3_prepare_v3(sm_db_handle(*wr), sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st[i],
				       NULL) != SQLITE_OK) {
			dberr(sm_db_handle(*wr), cache->path, why, whylen);
			close_writes(*wr, st);
			*wr = NULL;
			return -1;
		}
	return 0;
}

/* The read side, on the file the write side just opened. */
static int
open_reads(const char *path, sqlite3 **rd, sqlite3_stmt **get, char *why,
	   size_t whylen)
{
	*get = NULL;
	if (sqlite3_open_v2(path, rd,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(*rd, sql_get, -1, SQLITE_PREPARE_PERSISTENT, get,
			       NULL) != SQLITE_OK) {
		if (*rd != NULL)
			dberr(*rd, path, why, whylen);
		else
			sm_why(why, whylen, "cache %s: out of memory", path);
		sqlite3_close(*rd);
		*rd = NULL;
		return -1;
	}
	sqlite3_extended_result_codes(*rd, 1);
	sqlite3_busy_timeout(*rd, 0);
	return 0;
}

struct sm_cache *
sm_cache_open(const char *path, const struct sm_cache_params *params,
	      char *why, size_t whylen)
{
	struct sm_cache *cache;
	char note[600] = "";

	if ((cache = calloc(1, sizeof(*cache))) == NULL ||
	    (cache->path = strdup(path)) == NULL) {
		free(cache);
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	cache->params = *params;
	cache->tail = &cache->head;
	pthread_mutex_init(&cache->wlock, NULL);
	pthread_mutex_init(&cache->rlock, NULL);
	pthread_mutex_init(&cache->qlock, NULL);
	pthread_cond_init(&cache->wake, NULL);
	pthread_cond_init(&cache->idle, NULL);
	if (open_writes(cache, &cache->wr, cache->st, note, sizeof(note), why,
			whylen) < 0)
		goto fail;
	if (open_reads(path, &cache->rd, &cache->get, why, whylen) < 0)
		goto fail;
	sm_why(why, whylen, "%s%s", *note ? "cache " : "", note);
	return cache;
fail:
	sm_cache_close(cache);
	return NULL;
}

static void
row_free(struct row *r)
{
	if (r == NULL)
		return;
	free(r->qname);
	free(r->why);
	free(r->blob);
	free(r);
}

void
sm_cache_close(struct sm_cache *cache)
{
	struct row *r;

	if (cache == NULL)
		return;
	if (cache->running) {
		pthread_mutex_lock(&cache->qlock);
		cache->stop = 1;
		pthread_cond_signal(&cache->wake);
		pthread_mutex_unlock(&cache->qlock);
		pthread_join(cache->writer, NULL);	/* it writes the rest */
	}
	while ((r = cache->head) != NULL) {
		cache->head = r->next;
		row_free(r);
	}
	sqlite3_finalize(cache->get);
	sqlite3_close(cache->rd);
	close_writes(cache->wr, cache->st);
	pthread_mutex_destroy(&cache->wlock);
	pthread_mutex_destroy(&cache->rlock);
	pthread_mutex_destroy(&cache->qlock);
	pthread_cond_destroy(&cache->wake);
	pthread_cond_destroy(&cache->idle);
	free(cache->path);
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

/*
 * A read failed in a daemon, which reads on every request: a miss, and
 * a warning with backoff rather than a log line per request.
 */
static void
read_failed(struct sm_cache *cache, time_t now)
{
	char err[300];
	unsigned long due;

	if ((due = sm_db_backoff_fail(&cache->rback, now, 1)) > 0)
		sm_db_report(cache->on_error,
			     "cache read failed: %s (%lu read%s failed since"
			     " the last warning)",
			     sm_db_error(cache->rd, err, sizeof(err)), due,
			     due == 1 ? "" : "s");
}

int
sm_cache_get(struct sm_cache *cache, const char *name, int type, time_t now,
	     struct sm_dns_result **out, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	unsigned long due;
	int rc, ret = 1;

	*out = NULL;
	pthread_mutex_lock(&cache->rlock);
	st = cache->get;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, type);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((*out = unpack(st, 0, name, type, now)) == NULL) {
			sm_why(why, whylen, "out of memory");
			ret = -1;
		}
	} else if (rc == SQLITE_DONE || (rc & 0xff) == SQLITE_BUSY ||
		   (rc & 0xff) == SQLITE_LOCKED) {
		ret = 0;	/* a busy file is a miss, never a wait */
	} else if (cache->running) {
		read_failed(cache, now);
		/* The writer moves it aside (reads never wait on a rename). */
		if (sm_db_broken(rc))
			sm_db_error(cache->rd, cache->rd_broken,
				    sizeof(cache->rd_broken));
		ret = 0;
	} else {
		dberr(cache->rd, "read", why, whylen);
		ret = -1;
	}
	if ((rc == SQLITE_ROW || rc == SQLITE_DONE) && cache->rback.total > 0 &&
	    (due = sm_db_backoff_ok(&cache->rback)) > 0)
		sm_db_report(cache->on_error,
			     "cache reads work again (%lu failed)", due);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&cache->rlock);
	return ret;
}

/* RES as a row to store at NOW for LIFE seconds; NULL when out of memory. */
static struct row *
row_new(const struct sm_dns_result *res, time_t now, long life)
{
	struct row *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->qtype = res->qtype;
	r->outcome = res->outcome;
	r->sec = res->sec;
	r->rcode = res->rcode;
	r->stored = now;
	r->expires = now + life;
	if ((r->qname = strdup(res->qname)) == NULL ||
	    (res->why != NULL && (r->why = strdup(res->why)) == NULL) ||
	    (r->blob = pack(res, &r->len)) == NULL) {
		row_free(r);
		return NULL;
	}
	return r;
}

/* Store R with the write side's statement; the sqlite result code. */
static int
store(struct sm_cache *cache, const struct row *r)
{
	sqlite3_stmt *st = cache->st[ST_PUT];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, r->qname, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, r->qtype);
	sqlite3_bind_int(st, 3, r->outcome);
	sqlite3_bind_int(st, 4, r->sec);
	sqlite3_bind_int(st, 5, r->rcode);
	if (r->why != NULL)
		sqlite3_bind_text(st, 6, r->why, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_blob(st, 7, r->blob, (int)r->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->stored);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)r->expires);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int
sm_cache_put(struct sm_cache *cache, const struct sm_dns_result *res,
	     time_t now, char *why, size_t whylen)
{
	long life = sm_cache_lifetime(&cache->params, res);
	struct row *r;
	int rc;

	if (life <= 0)
		return 0;
	if ((r = row_new(res, now, life)) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	if (cache->running) {
		pthread_mutex_lock(&cache->qlock);
		if (cache->nq >= QUEUE_MAX) {
			cache->dropped++;
			pthread_mutex_unlock(&cache->qlock);
			row_free(r);
			sm_why(why, whylen, "cache writer behind: entry dropped");
			return -1;
		}
		*cache->tail = r;
		cache->tail = &r->next;
		cache->nq++;
		pthread_cond_signal(&cache->wake);
		pthread_mutex_unlock(&cache->qlock);
		return 1;
	}
	pthread_mutex_lock(&cache->wlock);
	rc = store(cache, r);
	if (rc != SQLITE_DONE)
		dberr(sm_db_handle(cache->wr), "write", why, whylen);
	pthread_mutex_unlock(&cache->wlock);
	row_free(r);
	return rc == SQLITE_DONE ? 1 : -1;
}

/*
 * The path names another file now (or none): open it (creating it),
 * and switch both sides over.  On failure the old handles stay, and the
 * next look tries again.
 */
static void
reopen(struct sm_cache *cache, const char *gone)
{
	struct sm_db *wr;
	sqlite3_stmt *st[ST_WCOUNT], *get, *old_get;
	sqlite3 *rd, *old_rd;
	char note[600], why[600];

	if (open_writes(cache, &wr, st, note, sizeof(note), why,
			sizeof(why)) < 0) {
		sm_db_report(cache->on_error,
			     "cache: %s, and it cannot be opened again (%s)",
			     gone, why);
		return;
	}
	if (open_reads(cache->path, &rd, &get, why, sizeof(why)) < 0) {
		close_writes(wr, st);
		sm_db_report(cache->on_error,
			     "cache: %s, and it cannot be opened again (%s)",
			     gone, why);
		return;
	}
	close_writes(cache->wr, cache->st);
	cache->wr = wr;
	memcpy(cache->st, st, sizeof(st));
	pthread_mutex_lock(&cache->rlock);
	old_rd = cache->rd;
	old_get = cache->get;
	cache->rd = rd;
	cache->get = get;
	pthread_mutex_unlock(&cache->rlock);
	sqlite3_finalize(old_get);
	sqlite3_close(old_rd);
	sm_db_report(cache->on_error,
		     "cache: %s: opened it again%s%s", gone,
		     *note ? "; " : "", note);
}

/*
 * Write LIST (freeing it) in one transaction, and report, counting
 * DROPPED entries the queue had no room for; the writer thread's.
 */
static void
writes(struct sm_cache *cache, struct row *list, unsigned long dropped)
{
	struct row *r;
	sqlite3 *db;
	unsigned long n = 0, due;
	time_t now = time(NULL);
	char gone[900], err[300];
	int rc, broken;

	for (r = list; r != NULL; r = r->next)
		n++;
	pthread_mutex_lock(&cache->wlock);
	pthread_mutex_lock(&cache->rlock);
	snprintf(err, sizeof(err), "%s", cache->rd_broken);
	*cache->rd_broken = '\0';
	pthread_mutex_unlock(&cache->rlock);
	if (sm_db_gone(cache->wr, now, cache->params.db.check_s, gone,
		       sizeof(gone)) ||
	    (*err && sm_db_set_aside(cache->wr, err, gone, sizeof(gone)) > 0))
		reopen(cache, gone);
	db = sm_db_handle(cache->wr);
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (r = list; rc == SQLITE_OK && r != NULL; r = r->next)
		if ((rc = store(cache, r)) == SQLITE_DONE)
			rc = SQLITE_OK;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		broken = sm_db_broken(sqlite3_extended_errcode(db)) ||
			 sm_db_broken(rc);
		sm_db_error(db, err, sizeof(err));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		/* A file gone bad under us: as a deleted one, a new one. */
		if (broken && sm_db_set_aside(cache->wr, err, gone,
					      sizeof(gone)) > 0)
			reopen(cache, gone);
	}
	pthread_mutex_unlock(&cache->wlock);
	while ((r = list) != NULL) {
		list = r->next;
		row_free(r);
	}
	/* A cache loses nothing but time by dropping what it cannot write. */
	if (rc != SQLITE_OK) {
		if ((due = sm_db_backoff_fail(&cache->backoff, now,
					      n + dropped)) > 0)
			sm_db_report(cache->on_error,
				     "cache write failed: %s (%lu entr%s not"
				     " stored since the last warning)", err, due,
				     due == 1 ? "y" : "ies");
	} else if (dropped > 0) {
		if ((due = sm_db_backoff_fail(&cache->backoff, now,
					      dropped)) > 0)
			sm_db_report(cache->on_error,
				     "cache writer behind: %lu entr%s dropped"
				     " since the last warning", due,
				     due == 1 ? "y" : "ies");
	} else if ((due = sm_db_backoff_ok(&cache->backoff)) > 0) {
		sm_db_report(cache->on_error,
			     "cache writes work again (%lu entr%s were not"
			     " stored)", due, due == 1 ? "y" : "ies");
	}
}

static void *
writer_main(void *arg)
{
	struct sm_cache *cache = arg;
	struct row *list;
	unsigned long dropped;
	int stop;

	for (;;) {
		pthread_mutex_lock(&cache->qlock);
		while (!cache->stop && cache->head == NULL) {
			cache->writing = 0;
			pthread_cond_broadcast(&cache->idle);
			pthread_cond_wait(&cache->wake, &cache->qlock);
		}
		stop = cache->stop;
		list = cache->head;
		cache->head = NULL;
		cache->tail = &cache->head;
		cache->nq = 0;
		dropped = cache->dropped;
		cache->dropped = 0;
		cache->writing = list != NULL;
		pthread_mutex_unlock(&cache->qlock);
		if (list != NULL || dropped > 0)
			writes(cache, list, dropped);
		if (stop)
			break;
	}
	pthread_mutex_lock(&cache->qlock);
	cache->writing = 0;
	pthread_cond_broadcast(&cache->idle);
	pthread_mutex_unlock(&cache->qlock);
	return NULL;
}

int
sm_cache_writer_start(struct sm_cache *cache, void (*on_error)(const char *),
		      char *why, size_t whylen)
{
	/* A second thread would lose the first one's handle and race it. */
	if (cache->running) {
		sm_why(why, whylen, "the cache writer is already running");
		return -1;
	}
	cache->on_error = on_error;
	if (sm_db_thread(&cache->writer, writer_main, cache, why, whylen) < 0)
		return -1;
	cache->running = 1;
	return 0;
}

void
sm_cache_sync(struct sm_cache *cache)
{
	if (!cache->running)
		return;
	pthread_mutex_lock(&cache->qlock);
	while (cache->head != NULL || cache->writing)
		pthread_cond_wait(&cache->idle, &cache->qlock);
	pthread_mutex_unlock(&cache->qlock);
}

long
sm_cache_flush(struct sm_cache *cache, const char *name, int expired_only,
	       time_t now, char *why, size_t whylen)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long n = -1;
	int rc;

	pthread_mutex_lock(&cache->wlock);
	db = sm_db_handle(cache->wr);
	if (sqlite3_prepare_v2(db,
			       "DELETE FROM dns_cache WHERE (?1 IS NULL OR qname = ?1)"
			       " AND (?2 = 0 OR expires <= ?3)",
			       -1, &st, NULL) != SQLITE_OK) {
		dberr(db, "flush", why, whylen);
		goto done;
	}
	if (name != NULL)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, expired_only);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		dberr(db, "flush", why, whylen);
	else
		n = sqlite3_changes(db);
done:
	pthread_mutex_unlock(&cache->wlock);
	return n;
}

long
sm_cache_each(struct sm_cache *cache, time_t now, sm_cache_each_fn *fn,
	      void *arg, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	struct sm_dns_result *res;
	long n = 0;
	int rc;

	pthread_mutex_lock(&cache->wlock);
	st = cache->st[ST_EACH];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		res = unpack(st, 2, (const char *)sqlite3_column_text(st, 0),
			     sqlite3_column_int(st, 1), now);
		if (res == NULL) {
			sqlite3_reset(st);
			pthread_mutex_unlock(&cache->wlock);
			sm_why(why, whylen, "out of memory");
			return -1;
		}
		fn(arg, res, (time_t)sqlite3_column_int64(st, 7));
		sm_dns_result_free(res);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		dberr(sm_db_handle(cache->wr), "read", why, whylen);
		n = -1;
	}
	pthread_mutex_unlock(&cache->wlock);
	return n;
}
