/*
 * reputation.c - decisions and per-identity aggregates in sqlite; the
 * contract is reputation.h.
 *
 * Events are queued in memory and written in batches: one transaction
 * per flush keeps the daemons' hot path free of disk writes.  The
 * queue's lock is held only to add to it or to take it whole, never
 * while sqlite works or waits, so sm_rep_add never waits on the disk.
 * The file is opened through db.c (mode, a broken file moved aside);
 * the writer thread reopens it when it was deleted or replaced, and
 * reports failing flushes with backoff.
 *
 * Keys.  Every row says which kind of key it was about (key_type, a
 * word of sm_key_type_names; NULL when unknown).  rep_keys holds one
 * row per (identity, key_type, key_fp) an identity passed with, and
 * rep_last_keys the last fingerprint of each kind per identity.  A key
 * change is counted when a passing decision shows another fingerprint
 * than the last one of its own kind, so a recipient whose SMIMEA and
 * OPENPGPKEY rows alternate changes nothing, while a new certificate
 * replacing the old one does; rows of unknown kind ('' in the key
 * tables, which key on it) are a kind of their own.  keys_seen counts
 * distinct fingerprints.  The last keys have a table of their own
 * rather than a mark in rep_keys: "the last of this kind" there would
 * have to come from last_seen, which is kept to the second and cannot
 * order two keys seen in the same one, or from a flag cleared on one
 * row and set on another; here it is one upsert per identity and kind.
 * rep_identities.last_key_fp stays the latest key of any kind.
 *
 * Delivery rows (key type "delivery", reputation.h) are written as
 * any row but left out of the aggregates: they are no decisions.
 *
 * Stores made by older code are brought up to date when opened
 * (migrate): the columns added since (rows' count, a count per result
 * word, key_type, a delivery's action, format and direction) with
 * ALTER TABLE, and rep_keys, whose primary key gained key_type,
 * rebuilt.  The kind of the rows from before kinds is
 * derived, not left unknown, so key changes go on being counted across
 * the upgrade: rows of source "policyd" are "tlsa", of "milter"
 * "smimea" (the only kind it looked up then); keys and last keys, which
 * have no source, are "smimea" for identities with an '@' (the
 * milter's are addresses) and "tlsa" for the others (the policy
 * daemon's are host names or [address]).  It all happens in one
 * transaction taken with BEGIN IMMEDIATE, after which the schema is
 * looked at again: of processes opening an old store at once, one
 * migrates and the others find it done.  A store already up to date
 * is only looked at, without a lock.  Daemons of the older code still
 * running on a migrated file fail their flushes (their statements name
 * the old key of rep_keys) until restarted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db.h"
#include "reputation.h"
#include "util.h"
#include "words.h"

#define BUSY_TIMEOUT_MS 5000
#define QUEUE_MAX 100000	/* beyond this, events are dropped */
#define FIELD_MAX 255		/* octets kept of each text of an event */

/*
 * The statements that name the per-result count columns (n_pass ...
 * n_temperror, one per result word of words.h, in that order) are
 * built once, at the first open, from the word table; the others are
 * fixed.  The text built is the one written by hand before, so stores
 * keep their schema.  Columns added since the first stores come last,
 * where ALTER TABLE puts them in the stores that gain them.
 */
static const char schema_head[] =
	"CREATE TABLE IF NOT EXISTS rep_events ("
	" id INTEGER PRIMARY KEY, time INTEGER NOT NULL, source TEXT,"
	" client_address TEXT, helo TEXT, identity TEXT NOT NULL,"
	" result TEXT NOT NULL, usage INTEGER, selector INTEGER, mtype INTEGER,"
	" cert_fp TEXT, key_fp TEXT, tls_protocol TEXT, tls_cipher TEXT,"
	" count INTEGER NOT NULL DEFAULT 1, key_type TEXT, action TEXT,"
	" format TEXT, direction TEXT);"
	"CREATE INDEX IF NOT EXISTS rep_events_identity"
	" ON rep_events (identity, time);"
	"CREATE TABLE IF NOT EXISTS rep_identities ("
	" identity TEXT PRIMARY KEY, first_seen INTEGER, last_seen INTEGER,";

/* rep_keys, as created and as rebuilt from an older one. */
#define KEYS_COLUMNS \
	" identity TEXT, key_type TEXT NOT NULL DEFAULT '', key_fp TEXT," \
	" first_seen INTEGER, last_seen INTEGER, count INTEGER," \
	" PRIMARY KEY (identity, key_type, key_fp)"

static const char schema_tail[] =
	" last_key_fp TEXT,"
	" keys_seen INTEGER DEFAULT 0, key_changes INTEGER DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS rep_keys (" KEYS_COLUMNS ");"
	"CREATE TABLE IF NOT EXISTS rep_last_keys ("
	" identity TEXT, key_type TEXT NOT NULL DEFAULT '',"
	" key_fp TEXT NOT NULL, PRIMARY KEY (identity, key_type));";

enum { ST_EVENT, ST_IDENT, ST_KEY_GET, ST_KEY_NEW, ST_KEY_PUT, ST_KEY_SEEN,
       ST_KEY_LAST, ST_PRUNE, ST_LIST, ST_EVENTS, ST_ALL, ST_KEYS, ST_N };

/* Columns of ST_LIST after the counts. */
#define COL_KEYS_SEEN (3 + SM_NRESULTS)
#define COL_KEY_CHANGES (4 + SM_NRESULTS)
#define COL_LAST_KEY (5 + SM_NRESULTS)

/*
 * The columns of an event, in the order store_event binds them (?1 to
 * ?18) and row_event reads them (0 to 17).
 */
#define EVENT_COLUMNS \
	"time, source, client_address, helo, identity, result, usage," \
	" selector, mtype, cert_fp, key_fp, tls_protocol, tls_cipher, count," \
	" key_type, action, format, direction"

/* ST_IDENT and ST_LIST are built by build_sql. */
static const char *sql[ST_N] = {
	"INSERT INTO rep_events (" EVENT_COLUMNS ")"
	" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
	"?18)",
	NULL,
	"SELECT key_fp FROM rep_last_keys WHERE identity = ?1 AND key_type = ?2",
	"INSERT INTO rep_keys (identity, key_type, key_fp, first_seen,"
	" last_seen, count) VALUES (?1, ?2, ?3, ?4, ?4, ?5)"
	" ON CONFLICT (identity, key_type, key_fp) DO UPDATE"
	" SET last_seen = ?4, count = count + ?5",
	"INSERT INTO rep_last_keys (identity, key_type, key_fp)"
	" VALUES (?1, ?2, ?3) ON CONFLICT (identity, key_type) DO UPDATE"
	" SET key_fp = ?3",
	/* A fingerprint seen as two kinds is still one key. */
	"UPDATE rep_identities SET keys_seen ="
	" (SELECT count(DISTINCT key_fp) FROM rep_keys WHERE identity = ?1)"
	" WHERE identity = ?1",
	"UPDATE rep_identities SET key_changes = key_changes + ?2,"
	" last_key_fp = ?3 WHERE identity = ?1",
	/* Rows come in time order: no time index to keep up per insert. */
	"DELETE FROM rep_events WHERE id < coalesce((SELECT id FROM rep_events"
	" WHERE time >= ?1 ORDER BY id LIMIT 1), 9223372036854775807)",
	NULL,
	"SELECT " EVENT_COLUMNS " FROM rep_events"
	" WHERE identity = ?1 AND time >= ?2"
	" ORDER BY time DESC, id DESC LIMIT ?3",
	/* In the order written, which is time order. */
	"SELECT " EVENT_COLUMNS " FROM rep_events WHERE time >= ?1 ORDER BY id",
	"SELECT identity, key_type, key_fp, first_seen, last_seen, count"
	" FROM rep_keys WHERE last_seen >= ?1"
	" ORDER BY identity, key_type, first_seen",
};

/* Room for every statement built, whatever the words (checked). */
static char schema[2048], ident_sql[2048], list_sql[1024];
static int sql_built;		/* all fitted */
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

struct text {
	char *p;
	size_t len, cap;
	int over;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->over = 1;
	else
		t->len += (size_t)n;
}

/*
 * For each result word, in order: BEFORE, then "n_WORD" (NAME) or
 * "?N", its parameter (PARAM), or "n_WORD = n_WORD + ?N" (UPDATE), then
 * AFTER.
 */
enum count_form { NAME, PARAM, UPDATE };

static void
put_counts(struct text *t, enum count_form form, const char *before,
	   const char *after)
{
	const char *w;
	int i;

	for (i = 0; i < SM_NRESULTS; i++) {
		w = sm_result_names[i].name;
		put(t, "%s", before);
		if (form == NAME)
			put(t, "n_%s", w);
		else if (form == PARAM)
			put(t, "?%d", 4 + i);
		else
			put(t, "n_%s = n_%s + ?%d", w, w, 4 + i);
		put(t, "%s", after);
	}
}

static void
build_sql(void)
{
	struct text s = { schema, 0, sizeof(schema), 0 };
	struct text in = { ident_sql, 0, sizeof(ident_sql), 0 };
	struct text ls = { list_sql, 0, sizeof(list_sql), 0 };

	put(&s, "%s", schema_head);
	put_counts(&s, NAME, " ", " INTEGER DEFAULT 0,");
	put(&s, "%s", schema_tail);

	put(&in, "INSERT INTO rep_identities (identity, first_seen, last_seen");
	put_counts(&in, NAME, ", ", "");
	put(&in, ") VALUES (?1, ?2, ?3");
	put_counts(&in, PARAM, ", ", "");
	put(&in, ") ON CONFLICT (identity) DO UPDATE SET"
	    " first_seen = min(first_seen, ?2),"
	    " last_seen = max(last_seen, ?3)");
	put_counts(&in, UPDATE, ", ", "");

	put(&ls, "SELECT identity, first_seen, last_seen");
	put_counts(&ls, NAME, ", ", "");
	put(&ls, ", keys_seen, key_changes, last_key_fp FROM rep_identities"
	    " WHERE last_seen >= ?1 ORDER BY last_seen DESC, identity");

	sql[ST_IDENT] = ident_sql;
	sql[ST_LIST] = list_sql;
	sql_built = !s.over && !in.over && !ls.over;
}

#define NFIELDS 13		/* texts of an event */

/* A queued row: the decisions merged into it are EV.count. */
struct queued {
	struct sm_rep_event ev;
	char *buf;		/* all texts of ev, packed */
	uint64_t hash;
	uint16_t len[NFIELDS];	/* of each packed text */
};

/*
 * The queue, shared with the writer thread under LOCK, and an index of
 * its rows by content (open addressing: row number + 1, 0 is free) to
 * merge decisions into.
 */
struct sm_rep {
	struct sm_db *file;
	sqlite3 *db;		/* file's handle */
	sqlite3_stmt *st[ST_N];
	struct sm_db_params params;
	long retention;
	pthread_mutex_t lock;
	struct queued *q;
	size_t nq, capq, decisions;
	uint32_t *slot;
	size_t nslot;		/* a power of two, or 0 */
	/* writer thread */
	pthread_t writer;
	pthread_cond_t wake;
	int running, stop;
	long interval_ms;
	void (*on_error)(const char *why);
	struct sm_db_backoff backoff;	/* writer thread only */
	unsigned long lost;	/* decisions dropped by requeue, under LOCK */
	int broken;		/* the last flush found the file broken, */
	char broken_err[300];	/* for this reason (writer thread only) */
};

int
sm_rep_result_index(const char *result)
{
	return sm_name_code(sm_result_names, result);
}

/* has_column - whether TABLE has the column NAME: 1, 0, or -1. */
static int
has_column(sqlite3 *db, const char *table, const char *name)
{
	sqlite3_stmt *st;
	char q[256];
	int found = 0, rc;

	snprintf(q, sizeof(q), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		found |= strcmp((const char *)sqlite3_column_text(st, 1),
				name) == 0;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? found : -1;
}

/*
 * Run Q with the words of the kinds older stores held: ?1 the
 * policy daemon's ("tlsa"), ?2 the milter's ("smimea").  0 or -1.
 */
static int
run_kinds(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, sm_key_type_names[SM_KEY_TYPE_TLSA].name, -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sm_key_type_names[SM_KEY_TYPE_SMIMEA].name,
			  -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The rows from before kinds: their kind from their source. */
static int
kind_events(sqlite3 *db)
{
	return run_kinds(db, "UPDATE rep_events SET key_type = CASE source"
			 " WHEN 'policyd' THEN ?1 WHEN 'milter' THEN ?2 END");
}

/*
 * rep_keys keyed by kind too: rebuilt (a primary key cannot be
 * altered), its keys and the identities' last keys given the kind of
 * the daemon that records such identities.
 */
static int
kind_keys(sqlite3 *db)
{
	if (sqlite3_exec(db, "CREATE TABLE rep_keys_new (" KEYS_COLUMNS ")",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    run_kinds(db, "INSERT INTO rep_keys_new (identity, key_type,"
		      " key_fp, first_seen, last_seen, count)"
		      " SELECT identity, CASE WHEN instr(identity, '@') > 0"
		      " THEN ?2 ELSE ?1 END, key_fp, first_seen, last_seen,"
		      " count FROM rep_keys") < 0 ||
	    sqlite3_exec(db, "DROP TABLE rep_keys; ALTER TABLE rep_keys_new"
			 " RENAME TO rep_keys", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return run_kinds(db, "INSERT OR IGNORE INTO rep_last_keys (identity,"
			 " key_type, key_fp) SELECT identity,"
			 " CASE WHEN instr(identity, '@') > 0 THEN ?2 ELSE ?1"
			 " END, last_key_fp FROM rep_identities"
			 " WHERE last_key_fp <> ''");
}

/*
 * What stores made by older code may lack, oldest first: a column,
 * added as DECL when there is one, then FIX run (which may do it all).
 */
static const struct upgrade {
	const char *table, *column, *decl;
	int (*fix)(sqlite3 *db);
} upgrades[] = {
	{ "rep_events", "count", "INTEGER NOT NULL DEFAULT 1", NULL },
	{ "rep_events", "key_type", "TEXT", kind_events },
	{ "rep_events", "action", "TEXT", NULL },
	{ "rep_events", "format", "TEXT", NULL },
	{ "rep_events", "direction", "TEXT", NULL },
	{ "rep_keys", "key_type", NULL, kind_keys },
};

/* Bring TABLE up to COLUMN when it lacks it (APPLY); 1 lacking, 0, -1. */
static int
upgrade(sqlite3 *db, int apply, const char *table, const char *column,
	const char *decl, int (*fix)(sqlite3 *db))
{
	char q[256];
	int rc;

	if ((rc = has_column(db, table, column)) != 0)
		return rc < 0 ? -1 : 0;
	if (!apply)
		return 1;
	if (decl != NULL) {
		if ((size_t)snprintf(q, sizeof(q), "ALTER TABLE %s ADD COLUMN"
				     " %s %s", table, column, decl) >=
		    sizeof(q) ||
		    sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	}
	return fix != NULL && fix(db) < 0 ? -1 : 1;
}

/*
 * Each upgrade, and a count column per result word (n_temperror was
 * added after the first stores; so will be any new word): with APPLY,
 * made; without, only counted.  The number lacking, or -1.
 */
static int
upgrades_of(sqlite3 *db, int apply)
{
	const struct upgrade *u;
	char name[64];
	int i, rc, n = 0;

	for (u = upgrades; u < upgrades + sizeof(upgrades) / sizeof(*u);
	     u++) {
		if ((rc = upgrade(db, apply, u->table, u->column, u->decl,
				  u->fix)) < 0)
			return -1;
		n += rc;
	}
	for (i = 0; i < SM_NRESULTS; i++) {
		snprintf(name, sizeof(name), "n_%s", sm_result_names[i].name);
		if ((rc = upgrade(db, apply, "rep_identities", name,
				  "INTEGER DEFAULT 0", NULL)) < 0)
			return -1;
		n += rc;
	}
	return n;
}

/*
 * migrate - bring a store made by older code up to date, in one
 * transaction; nothing to do costs no lock.  0, or -1 with ERR.
 */
static int
migrate(sqlite3 *db, char *err, size_t errlen)
{
	int rc;

	if ((rc = upgrades_of(db, 0)) == 0)
		return 0;
	if (rc > 0 &&
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
		/*
		 * Under the write lock now: another opener may have migrated
		 * meanwhile, so look again.  PRAGMA table_info checks the
		 * schema cookie and sees the other's columns.
		 */
		if (upgrades_of(db, 1) >= 0 &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
			return 0;
		sm_db_error(db, err, errlen);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	sm_db_error(db, err, errlen);
	return -1;
}

static void close_file(struct sm_db *file, sqlite3_stmt *st[ST_N]);

/* Open the file at PATH and prepare; 0, or -1 with WHY (nothing open). */
static int
open_file(struct sm_rep *rep, const char *path, struct sm_db **file,
	  sqlite3_stmt *st[ST_N], char *note, size_t notelen, char *why,
	  size_t whylen)
{
	char err[300];
	int i;

	memset(st, 0, ST_N * sizeof(*st));
	pthread_once(&sql_once, build_sql);
	if (!sql_built) {
		sm_why(why, whylen, "reputation store: statements too long");
		return -1;
	}
	if ((*file = sm_db_open(path, &rep->params, schema, BUSY_TIMEOUT_MS,
				note, notelen, err, sizeof(err))) == NULL) {
		sm_why(why, whylen, "reputation store %s", err);
		return -1;
	}
	if (migrate(sm_db_handle(*file), err, sizeof(err)) < 0)
		goto fail;
	for (i = 0; i < ST_N; i++)
		if (sql[i] != NULL &&
		    sqlite3_prepare_v3(sm_db_handle(*file), sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st[i],
				       NULL) != SQLITE_OK) {
			sm_db_error(sm_db_handle(*file), err, sizeof(err));
			goto fail;
		}
	return 0;
fail:
	sm_why(why, whylen, "reputation store %s: %s", path, err);
	close_file(*file, st);
	*file = NULL;
	return -1;
}

static void
close_file(struct sm_db *file, sqlite3_stmt *st[ST_N])
{
	int i;

	/* NULLed: a failed open_file closes, then sm_rep_close again. */
	for (i = 0; i < ST_N; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
	sm_db_close(file);
}

struct sm_rep *
sm_rep_open(const char *path, const struct sm_db_params *params,
	    long retention, char *why, size_t whylen)
{
	struct sm_rep *rep;
	char note[600] = "";

	if ((rep = calloc(1, sizeof(*rep))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	if (params != NULL)
		rep->params = *params;
	rep->retention = retention;
	pthread_mutex_init(&rep->lock, NULL);
	pthread_cond_init(&rep->wake, NULL);
	if (open_file(rep, path, &rep->file, rep->st, note, sizeof(note), why,
		      whylen) < 0) {
		sm_rep_close(rep);
		return NULL;
	}
	rep->db = sm_db_handle(rep->file);
	sm_why(why, whylen, "%s%s", *note ? "reputation store " : "", note);
	return rep;
}

static void
drop(struct queued *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(q[i].buf);
}

/*
 * The path names another file now (or none): open it (creating it)
 * and write there.  On failure the old handle stays, and the next look
 * tries again.
 */
static void
reopen(struct sm_rep *rep, const char *gone)
{
	struct sm_db *file;
	sqlite3_stmt *st[ST_N];
	char note[600], why[700];

	if (open_file(rep, sm_db_path(rep->file), &file, st, note,
		      sizeof(note), why, sizeof(why)) < 0) {
		sm_db_report(rep->on_error,
			     "reputation store: %s, and it cannot be opened"
			     " again: %s", gone, why);
		return;
	}
	close_file(rep->file, rep->st);
	rep->file = file;
	rep->db = sm_db_handle(file);
	memcpy(rep->st, st, sizeof(st));
	sm_db_report(rep->on_error,
		     "reputation store: %s: opened it again%s%s", gone,
		     *note ? "; " : "", note);
}

/* One round of the writer thread at NOW: look at the file, flush, report. */
static void
writes(struct sm_rep *rep, time_t now)
{
	char why[600], gone[900];
	unsigned long due, lost;

	if (sm_db_gone(rep->file, now, rep->params.check_s, gone,
		       sizeof(gone)))
		reopen(rep, gone);
	if (sm_rep_flush(rep, now, why, sizeof(why)) >= 0) {
		if ((due = sm_db_backoff_ok(&rep->backoff)) > 0)
			sm_db_report(rep->on_error,
				     "reputation store: writes work again"
				     " after %lu failed flush%s", due,
				     due == 1 ? "" : "es");
		return;
	}
	/*
	 * A file gone bad under us: moved aside and a new one opened, as
	 * for a deleted file; the batch was put back, so the next flush
	 * writes it there.
	 */
	if (rep->broken && sm_db_set_aside(rep->file, rep->broken_err, gone,
					   sizeof(gone)) > 0)
		reopen(rep, gone);
	if ((due = sm_db_backoff_fail(&rep->backoff, now, 1)) == 0)
		return;
	pthread_mutex_lock(&rep->lock);
	lost = rep->lost;
	rep->lost = 0;
	pthread_mutex_unlock(&rep->lock);
	sm_db_report(rep->on_error,
		     "%s (%lu failed flush%s since the last warning;"
		     " %zu decisions waiting, %lu dropped)", why, due,
		     due == 1 ? "" : "es", sm_rep_queued(rep), lost);
}

static void *
writer_main(void *arg)
{
	struct sm_rep *rep = arg;
	int stop = 0;

	while (!stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += rep->interval_ms / 1000;
		ts.tv_nsec += (rep->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&rep->lock);
		while (!rep->stop &&
		       pthread_cond_timedwait(&rep->wake, &rep->lock, &ts) !=
			       ETIMEDOUT)
			;
		stop = rep->stop;
		pthread_mutex_unlock(&rep->lock);
		writes(rep, time(NULL));
	}
	return NULL;
}

int
sm_rep_writer_start(struct sm_rep *rep, long interval_ms,
		    void (*on_error)(const char *why), char *why, size_t whylen)
{
	/* A second thread would lose the first one's handle and race it. */
	if (rep->running) {
		sm_why(why, whylen, "the reputation writer is already running");
		return -1;
	}
	rep->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	rep->on_error = on_error;
	if (sm_db_thread(&rep->writer, writer_main, rep, why, whylen) < 0)
		return -1;
	rep->running = 1;
	return 0;
}

void
sm_rep_close(struct sm_rep *rep)
{
	if (rep == NULL)
		return;
	if (rep->running) {
		pthread_mutex_lock(&rep->lock);
		rep->stop = 1;
		pthread_cond_signal(&rep->wake);
		pthread_mutex_unlock(&rep->lock);
		pthread_join(rep->writer, NULL);	/* it flushes once more */
	}
	close_file(rep->file, rep->st);
	drop(rep->q, rep->nq);
	free(rep->q);
	free(rep->slot);
	pthread_mutex_destroy(&rep->lock);
	pthread_cond_destroy(&rep->wake);
	free(rep);
}

/* The texts of EV, in packing order. */
static void
fields(struct sm_rep_event *ev, const char **f[NFIELDS])
{
	f[0] = &ev->source;
	f[1] = &ev->client_address;
	f[2] = &ev->helo;
	f[3] = &ev->identity;
	f[4] = &ev->result;
	f[5] = &ev->cert_fp;
	f[6] = &ev->key_fp;
	f[7] = &ev->tls_protocol;
	f[8] = &ev->tls_cipher;
	f[9] = &ev->key_type;
	f[10] = &ev->action;
	f[11] = &ev->format;
	f[12] = &ev->direction;
}

/*
 * Mix LEN and up to sixteen octets of S (its first and last eight) into
 * H: this runs for every decision, and the index only has to spread
 * rows; same() decides.
 */
static uint64_t
mix(uint64_t h, const char *s, size_t len)
{
	uint64_t a = 0, b = 0;
	size_t i;

	if (len >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + len - 8, 8);
	} else {
		for (i = 0; i < len; i++)
			a = a << 8 | (unsigned char)s[i];
	}
	h = (h ^ a ^ (uint64_t)len << 56) * 0x9e3779b97f4a7c15ULL;
	h = (h ^ b ^ h >> 29) * 0xbf58476d1ce4e5b9ULL;
	return h ^ h >> 32;
}

static int
same(const struct queued *q, const struct sm_rep_event *ev,
     const char *const *text, const uint16_t *len)
{
	const char **f[NFIELDS];
	struct sm_rep_event *qe = (struct sm_rep_event *)&q->ev;
	int i;

	if (q->ev.time != ev->time || q->ev.usage != ev->usage ||
	    q->ev.selector != ev->selector || q->ev.mtype != ev->mtype)
		return 0;
	fields(qe, f);
	for (i = 0; i < NFIELDS; i++)
		if (q->len[i] != len[i] || memcmp(*f[i], text[i], len[i]) != 0)
			return 0;
	return 1;
}

/*
 * Index row I (its hash H) unless the probe runs long: then the row is
 * simply not a merge target (a flood of colliding texts costs rows,
 * never time).
 */
#define PROBE_MAX 32

static void
index_row(struct sm_rep *rep, size_t i, uint64_t h)
{
	size_t mask = rep->nslot - 1, k, j = (size_t)h & mask;

	for (k = 0; k < PROBE_MAX; k++, j = (j + 1) & mask)
		if (rep->slot[j] == 0) {
			rep->slot[j] = (uint32_t)(i + 1);
			return;
		}
}

/* Index for at least N rows at half load; 0, or -1 (index unchanged). */
static int
reindex(struct sm_rep *rep, size_t n)
{
	size_t want = 64, i;
	uint32_t *slot;

	while (want < 2 * n)
		want *= 2;
	if (want <= rep->nslot && rep->slot != NULL)
		return 0;
	if ((slot = calloc(want, sizeof(*slot))) == NULL)
		return -1;
	free(rep->slot);
	rep->slot = slot;
	rep->nslot = want;
	for (i = 0; i < rep->nq; i++)
		index_row(rep, i, rep->q[i].hash);
	return 0;
}

int
sm_rep_add(struct sm_rep *rep, const struct sm_rep_event *ev)
{
	struct sm_rep_event copy = *ev;
	const char **f[NFIELDS], *text[NFIELDS];
	uint16_t len[NFIELDS];
	struct queued *q;
	uint64_t h;
	size_t i, j, k, mask, total = 0;
	char *p;
	int64_t nums[4];

	/* What identifies the row, outside the lock. */
	fields(&copy, f);
	nums[0] = (int64_t)ev->time;
	nums[1] = ev->usage;
	nums[2] = ev->selector;
	nums[3] = ev->mtype;
	h = mix(mix(0, (const char *)nums, 16), (const char *)nums + 16, 16);
	for (i = 0; i < NFIELDS; i++) {
		text[i] = *f[i] ? *f[i] : "";
		len[i] = (uint16_t)strnlen(text[i], FIELD_MAX);
		total += len[i] + 1u;
		h = mix(h, text[i], len[i]);
	}
	pthread_mutex_lock(&rep->lock);
	if (rep->nslot > 0) {
		mask = rep->nslot - 1;
		for (k = 0, j = (size_t)h & mask;
		     k < PROBE_MAX && rep->slot[j] != 0;
		     k++, j = (j + 1) & mask) {
			q = &rep->q[rep->slot[j] - 1];
			if (q->hash == h && same(q, ev, text, len)) {
				q->ev.count++;
				rep->decisions++;
				pthread_mutex_unlock(&rep->lock);
				return 0;
			}
		}
	}
	if (rep->nq >= QUEUE_MAX ||
	    (2 * (rep->nq + 1) > rep->nslot && reindex(rep, rep->nq + 1) < 0))
		goto full;
	if (rep->nq == rep->capq) {
		size_t cap = rep->capq ? 2 * rep->capq : 64;
		struct queued *grown = realloc(rep->q, cap * sizeof(*grown));

		if (grown == NULL)
			goto full;
		rep->q = grown;
		rep->capq = cap;
	}
	q = &rep->q[rep->nq];
	if ((q->buf = p = malloc(total)) == NULL)
		goto full;
	q->ev = copy;
	q->ev.count = 1;
	q->hash = h;
	fields(&q->ev, f);
	for (i = 0; i < NFIELDS; i++) {
		memcpy(p, text[i], len[i]);
		p[len[i]] = '\0';
		*f[i] = p;
		q->len[i] = len[i];
		p += len[i] + 1;
	}
	index_row(rep, rep->nq++, h);
	rep->decisions++;
	pthread_mutex_unlock(&rep->lock);
	return 0;
full:
	pthread_mutex_unlock(&rep->lock);
	return -1;
}

size_t
sm_rep_queued(const struct sm_rep *rep)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&rep->lock);
	n = rep->decisions;
	pthread_mutex_unlock((pthread_mutex_t *)&rep->lock);
	return n;
}

size_t
sm_rep_queued_rows(const struct sm_rep *rep)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&rep->lock);
	n = rep->nq;
	pthread_mutex_unlock((pthread_mutex_t *)&rep->lock);
	return n;
}

static int
step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void
bind_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (*s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int
store_event(struct sm_rep *rep, const struct sm_rep_event *ev)
{
	sqlite3_stmt *st = rep->st[ST_EVENT];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->time);
	sqlite3_bind_text(st, 2, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ev->client_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ev->helo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, ev->identity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, ev->result, -1, SQLITE_STATIC);
	if (ev->usage >= 0) {
		sqlite3_bind_int(st, 7, ev->usage);
		sqlite3_bind_int(st, 8, ev->selector);
		sqlite3_bind_int(st, 9, ev->mtype);
	} else {
		sqlite3_bind_null(st, 7);
		sqlite3_bind_null(st, 8);
		sqlite3_bind_null(st, 9);
	}
	sqlite3_bind_text(st, 10, ev->cert_fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, ev->key_fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, ev->tls_protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, ev->tls_cipher, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, ev->count);
	/* Empty: unknown (as in older rows), or not a delivery. */
	bind_or_null(st, 15, ev->key_type);
	bind_or_null(st, 16, ev->action);
	bind_or_null(st, 17, ev->format);
	bind_or_null(st, 18, ev->direction);
	return step(st);
}

/* Batch order for aggregation: by identity, key type, then as queued. */
static int
by_identity(const void *a, const void *b)
{
	const struct queued *x = *(const struct queued *const *)a;
	const struct queued *y = *(const struct queued *const *)b;
	int c = strcmp(x->ev.identity, y->ev.identity);

	if (c == 0)
		c = strcmp(x->ev.key_type, y->ev.key_type);
	return c ? c : (x < y ? -1 : x > y);
}

/*
 * Only keys that authenticated the identity count: anybody can claim a
 * name with a key of their own.
 */
static int
keyed(const struct queued *q)
{
	return q->ev.key_fp[0] != '\0' &&
	       sm_rep_result_index(q->ev.result) == SM_RESULT_PASS;
}

static int
store_key_run(struct sm_rep *rep, const struct sm_rep_event *ev,
	      const char *key, time_t last, long count)
{
	sqlite3_stmt *st = rep->st[ST_KEY_NEW];

	sqlite3_bind_text(st, 1, ev->identity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ev->key_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)last);
	sqlite3_bind_int64(st, 5, count);
	return step(st);
}

/*
 * The keys of G[0..N), events of one identity and one key type in
 * queue order: per run of the same key one statement for rep_keys, and
 * the last key of the type kept.  A change is a key other than the
 * type's last one, on record or earlier in the batch; they are added
 * to *CHANGES, and *LATEST becomes the latest event with a key, of
 * whatever type.
 */
static int
store_keys(struct sm_rep *rep, struct queued **g, size_t n, long *changes,
	   const struct queued **latest)
{
	const struct sm_rep_event *ev = &g[0]->ev;
	sqlite3_stmt *st = rep->st[ST_KEY_GET];
	const char *prev, *run = NULL, *key;
	long runlen = 0;
	time_t runlast = 0;
	char *before = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && !keyed(g[i]); i++)
		;
	if (i == n)
		return 0;
	sqlite3_bind_text(st, 1, ev->identity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ev->key_type, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	    (before = strdup((const char *)sqlite3_column_text(st, 0))) ==
	    NULL)
		rc = -1;
	sqlite3_reset(st);
	prev = before;
	for (; i < n && rc == 0; i++) {
		if (!keyed(g[i]))
			continue;
		key = g[i]->ev.key_fp;
		if (prev != NULL && *prev && strcmp(prev, key) != 0)
			(*changes)++;
		prev = key;
		if (*latest == NULL || g[i] > *latest)
			*latest = g[i];
		if (run != NULL && strcmp(run, key) == 0) {
			runlen += g[i]->ev.count;
			runlast = g[i]->ev.time;
			continue;
		}
		if (run != NULL)
			rc = store_key_run(rep, ev, run, runlast, runlen);
		run = key;
		runlen = g[i]->ev.count;
		runlast = g[i]->ev.time;
	}
	if (rc == 0)
		rc = store_key_run(rep, ev, run, runlast, runlen);
	if (rc == 0) {
		st = rep->st[ST_KEY_PUT];
		sqlite3_bind_text(st, 1, ev->identity, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ev->key_type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, prev, -1, SQLITE_STATIC);
		rc = step(st);
	}
	free(before);
	return rc;
}

/*
 * The aggregates of one identity's events G[0..N), sorted by key type:
 * one statement for the counters, the keys of each type (store_keys),
 * then the identity's keys seen, changes and latest key, so a busy
 * identity costs a handful of statements per flush, not per event.
 */
static int
store_group(struct sm_rep *rep, struct queued **g, size_t n)
{
	const char *id = g[0]->ev.identity;
	const struct queued *latest = NULL;
	sqlite3_stmt *st = rep->st[ST_IDENT];
	long count[SM_NRESULTS] = { 0 }, changes = 0;
	time_t first = g[0]->ev.time, last = g[0]->ev.time;
	size_t i, j;
	int k, rc = 0;

	for (i = 0; i < n; i++) {
		if ((k = sm_rep_result_index(g[i]->ev.result)) >= 0)
			count[k] += g[i]->ev.count;
		if (g[i]->ev.time < first)
			first = g[i]->ev.time;
		if (g[i]->ev.time > last)
			last = g[i]->ev.time;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
	for (k = 0; k < SM_NRESULTS; k++)
		sqlite3_bind_int64(st, 4 + k, count[k]);
	if (step(st) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && strcmp(g[j]->ev.key_type,
						g[i]->ev.key_type) == 0; j++)
			;
		rc = store_keys(rep, g + i, j - i, &changes, &latest);
	}
	if (rc == 0 && latest != NULL) {
		st = rep->st[ST_KEY_SEEN];
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = step(st);
	}
	if (rc == 0 && latest != NULL) {
		st = rep->st[ST_KEY_LAST];
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, changes);
		sqlite3_bind_text(st, 3, latest->ev.key_fp, -1, SQLITE_STATIC);
		rc = step(st);
	}
	return rc;
}

static int
store(struct sm_rep *rep, struct queued *batch, size_t n)
{
	struct queued **order;
	size_t i, j, m = 0;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (store_event(rep, &batch[i].ev) < 0)
			return -1;
	if (n == 0)
		return 0;
	if ((order = malloc(n * sizeof(*order))) == NULL)
		return -1;
	/* Deliveries are no decisions about a key: no aggregates. */
	for (i = 0; i < n; i++)
		if (sm_name_code(sm_key_type_names, batch[i].ev.key_type) !=
		    SM_KEY_TYPE_DELIVERY)
			order[m++] = &batch[i];
	n = m;
	qsort(order, n, sizeof(*order), by_identity);
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && strcmp(order[j]->ev.identity,
						order[i]->ev.identity) == 0; j++)
			;
		rc = store_group(rep, order + i, j - i);
	}
	free(order);
	return rc;
}

static size_t
decisions(const struct queued *batch, size_t n)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++)
		d += (size_t)batch[i].ev.count;
	return d;
}

/*
 * Put a batch that could not be written back in front of the queue.
 * Its rows are indexed again; a decision queued since may have got a
 * row of its own, and both rows are written.
 */
static void
requeue(struct sm_rep *rep, struct queued *batch, size_t n)
{
	struct queued *merged;

	if (n == 0) {	/* a failed flush of nothing: nothing to put back */
		free(batch);
		return;
	}
	pthread_mutex_lock(&rep->lock);
	if (rep->nq + n > QUEUE_MAX ||
	    (merged = malloc((rep->nq + n) * sizeof(*merged))) == NULL) {
		rep->lost += decisions(batch, n);
		pthread_mutex_unlock(&rep->lock);
		drop(batch, n);	/* bounded: losing events beats losing memory */
		free(batch);
		return;
	}
	memcpy(merged, batch, n * sizeof(*merged));
	if (rep->nq)
		memcpy(merged + n, rep->q, rep->nq * sizeof(*merged));
	free(rep->q);
	rep->q = merged;
	rep->nq += n;
	rep->capq = rep->nq;
	rep->decisions += decisions(batch, n);
	free(rep->slot);
	rep->slot = NULL;
	rep->nslot = 0;
	reindex(rep, rep->nq);	/* without an index, rows just do not merge */
	pthread_mutex_unlock(&rep->lock);
	free(batch);
}

/* A flush failed: the reason into WHY, and whether the file is broken. */
static void
failed(struct sm_rep *rep, char *why, size_t whylen)
{
	rep->broken = sm_db_broken(sqlite3_extended_errcode(rep->db));
	sm_db_error(rep->db, rep->broken_err, sizeof(rep->broken_err));
	sm_why(why, whylen, "reputation store: %s", rep->broken_err);
}

long
sm_rep_flush(struct sm_rep *rep, time_t now, char *why, size_t whylen)
{
	struct queued *batch;
	size_t n, d;

	pthread_mutex_lock(&rep->lock);
	batch = rep->q;
	n = rep->nq;
	d = rep->decisions;
	rep->q = NULL;
	rep->nq = rep->capq = rep->decisions = 0;
	/* Empty, and sized for about as many rows as this batch. */
	if (rep->slot != NULL)
		memset(rep->slot, 0, rep->nslot * sizeof(*rep->slot));
	pthread_mutex_unlock(&rep->lock);
	if (sqlite3_exec(rep->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (store(rep, batch, n) < 0)
		goto rollback;
	sqlite3_bind_int64(rep->st[ST_PRUNE], 1,
			   (sqlite3_int64)(now - rep->retention));
	if (step(rep->st[ST_PRUNE]) < 0)
		goto rollback;
	if (sqlite3_exec(rep->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	drop(batch, n);
	free(batch);
	return (long)d;
rollback:
	failed(rep, why, whylen);
	sqlite3_exec(rep->db, "ROLLBACK", NULL, NULL, NULL);
	requeue(rep, batch, n);
	return -1;
fail:
	failed(rep, why, whylen);
	requeue(rep, batch, n);
	return -1;
}

static const char *
col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/* End a read: N rows, or -1 when the last step was not the end. */
static long
done_reading(struct sm_rep *rep, sqlite3_stmt *st, int rc, long n, char *why,
	     size_t whylen)
{
	if (rc != SQLITE_DONE)
		sm_why(why, whylen, "reputation store: %s",
		       sqlite3_errmsg(rep->db));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : -1;
}

long
sm_rep_identities(struct sm_rep *rep, time_t since, sm_rep_identity_fn *fn,
		  void *arg, char *why, size_t whylen)
{
	sqlite3_stmt *st = rep->st[ST_LIST];
	struct sm_rep_identity id;
	long n = 0;
	int rc, i;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id.identity = col(st, 0);
		id.first_seen = (time_t)sqlite3_column_int64(st, 1);
		id.last_seen = (time_t)sqlite3_column_int64(st, 2);
		for (i = 0; i < SM_NRESULTS; i++)
			id.count[i] = (long)sqlite3_column_int64(st, 3 + i);
		id.keys_seen = (long)sqlite3_column_int64(st, COL_KEYS_SEEN);
		id.key_changes = (long)sqlite3_column_int64(st,
							    COL_KEY_CHANGES);
		id.last_key_fp = col(st, COL_LAST_KEY);
		fn(arg, &id);
		n++;
	}
	return done_reading(rep, st, rc, n, why, whylen);
}

/* The event of a row of ST_EVENTS or ST_ALL. */
static void
row_event(sqlite3_stmt *st, struct sm_rep_event *ev)
{
	ev->time = (time_t)sqlite3_column_int64(st, 0);
	ev->source = col(st, 1);
	ev->client_address = col(st, 2);
	ev->helo = col(st, 3);
	ev->identity = col(st, 4);
	ev->result = col(st, 5);
	ev->usage = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(st, 6);
	ev->selector = sqlite3_column_int(st, 7);
	ev->mtype = sqlite3_column_int(st, 8);
	ev->cert_fp = col(st, 9);
	ev->key_fp = col(st, 10);
	ev->tls_protocol = col(st, 11);
	ev->tls_cipher = col(st, 12);
	ev->count = (long)sqlite3_column_int64(st, 13);
	ev->key_type = col(st, 14);
	ev->action = col(st, 15);
	ev->format = col(st, 16);
	ev->direction = col(st, 17);
}

/* FN for each row of ST (bound), then the end of the read. */
static long
read_events(struct sm_rep *rep, sqlite3_stmt *st, sm_rep_event_fn *fn,
	    void *arg, char *why, size_t whylen)
{
	struct sm_rep_event ev;
	long n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_event(st, &ev);
		fn(arg, &ev);
		n++;
	}
	return done_reading(rep, st, rc, n, why, whylen);
}

long
sm_rep_events(struct sm_rep *rep, const char *identity, time_t since,
	      long limit, sm_rep_event_fn *fn, void *arg, char *why,
	      size_t whylen)
{
	sqlite3_stmt *st = rep->st[ST_EVENTS];

	sqlite3_bind_text(st, 1, identity, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(st, 3, limit);
	return read_events(rep, st, fn, arg, why, whylen);
}

long
sm_rep_each(struct sm_rep *rep, time_t since, sm_rep_event_fn *fn, void *arg,
	    char *why, size_t whylen)
{
	sqlite3_stmt *st = rep->st[ST_ALL];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	return read_events(rep, st, fn, arg, why, whylen);
}

long
sm_rep_keys(struct sm_rep *rep, time_t since, sm_rep_key_fn *fn, void *arg,
	    char *why, size_t whylen)
{
	sqlite3_stmt *st = rep->st[ST_KEYS];
	struct sm_rep_key k;
	long n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		k.identity = col(st, 0);
		k.key_type = col(st, 1);
		k.key_fp = col(st, 2);
		k.first_seen = (time_t)sqlite3_column_int64(st, 3);
		k.last_seen = (time_t)sqlite3_column_int64(st, 4);
		k.count = (long)sqlite3_column_int64(st, 5);
		fn(arg, &k);
		n++;
	}
	return done_reading(rep, st, rc, n, why, whylen);
}
