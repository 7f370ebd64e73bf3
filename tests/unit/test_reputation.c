/*
 * test_reputation - the reputation store: events, per-identity counts,
 * keys seen and key changes across flushes and per key type, retention,
 * the writer thread, and reading it back; the file: a broken one moved
 * aside, a deleted one noticed by the writer and created anew, failing
 * flushes reported with backoff, a store made by the code before key
 * types migrated, also by several processes at once (sqlite is used
 * directly to make writes fail, with a trigger, and to make and look
 * into old stores).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "reputation.h"
#include "spoil.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/smilla-test-rep-XXXXXX";

struct seen {
	int n;
	char ids[8][64];
	long pass[8], fail[8], keys[8], changes[8];
};

static void
collect(void *arg, const struct sm_rep_identity *id)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return;
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id->identity);
	s->pass[s->n] = id->count[0];
	s->fail[s->n] = id->count[1];
	s->keys[s->n] = id->keys_seen;
	s->changes[s->n] = id->key_changes;
	s->n++;
}

/* The last count of each result seen (one identity). */
static void
counts_of(void *arg, const struct sm_rep_identity *id)
{
	memcpy(arg, id->count, sizeof(id->count));
}

static void
count_events(void *arg, const struct sm_rep_event *ev)
{
	(void)ev;
	(*(int *)arg)++;
}

static void
sum_events(void *arg, const struct sm_rep_event *ev)
{
	*(long *)arg += ev->count;
}

static const char *client = "192.0.2.1";

/* One decision about ID with the key KEY of kind TYPE (NULL: unknown). */
static void
add_kind(struct sm_rep *rep, time_t t, const char *id, const char *result,
	 const char *type, const char *key)
{
	struct sm_rep_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.time = t;
	ev.source = "test";
	ev.client_address = client;
	ev.helo = id;
	ev.identity = id;
	ev.result = result;
	ev.usage = strcmp(result, "pass") == 0 ? 3 : -1;
	ev.selector = 1;
	ev.mtype = 1;
	ev.key_fp = key;
	ev.key_type = type;
	sm_rep_add(rep, &ev);
}

static void
add(struct sm_rep *rep, time_t t, const char *id, const char *result,
    const char *key)
{
	add_kind(rep, t, id, result, NULL, key);
}

/* The totals of one identity, WANT. */
struct totals {
	const char *want;
	int found;
	long pass, keys, changes;
	char last_key[64];
};

static void
totals_of(void *arg, const struct sm_rep_identity *id)
{
	struct totals *t = arg;

	if (strcmp(id->identity, t->want) != 0)
		return;
	t->found++;
	t->pass = id->count[SM_RESULT_PASS];
	t->keys = id->keys_seen;
	t->changes = id->key_changes;
	snprintf(t->last_key, sizeof(t->last_key), "%s", id->last_key_fp);
}

static struct totals
totals(struct sm_rep *rep, const char *want)
{
	struct totals t;
	char why[512];

	memset(&t, 0, sizeof(t));
	t.want = want;
	if (sm_rep_identities(rep, 0, totals_of, &t, why, sizeof(why)) < 0)
		printf("#   %s\n", why);
	return t;
}

/* Events as read back: "source key_type key_fp" per row, newest first. */
struct rows {
	int n;
	char row[8][128];
};

static void
row_of(void *arg, const struct sm_rep_event *ev)
{
	struct rows *r = arg;

	if (r->n < 8)
		snprintf(r->row[r->n], sizeof(r->row[0]), "%s %s %s",
			 ev->source, *ev->key_type ? ev->key_type : "-",
			 *ev->key_fp ? ev->key_fp : "-");
	r->n++;
}

/* Add the rows of identity ID to R. */
static void
rows_of(struct sm_rep *rep, const char *id, struct rows *r)
{
	char why[512];

	if (sm_rep_events(rep, id, 0, 100, row_of, r, why, sizeof(why)) < 0)
		printf("#   %s\n", why);
}



/* Messages of the writer thread, as a daemon would log them. */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static char msgs[32][1024];
static int nmsg;

static void
on_msg(const char *msg)
{
	pthread_mutex_lock(&msg_lock);
	if (nmsg < 32)
		sm_strlcpy(msgs[nmsg], msg, sizeof(msgs[0]));
	nmsg++;
	pthread_mutex_unlock(&msg_lock);
}

static int
msgs_with(const char *word)
{
	int i, n = 0;

	pthread_mutex_lock(&msg_lock);
	for (i = 0; i < nmsg && i < 32; i++)
		if (strstr(msgs[i], word) != NULL) {
			printf("#   message: %s\n", msgs[i]);
			n++;
		}
	pthread_mutex_unlock(&msg_lock);
	return n;
}

/* Wait up to 3 s for the writer to empty the queue and say WORD. */
static int
wait_for(struct sm_rep *rep, const char *word)
{
	int i, found = 0;

	for (i = 0; i < 300; i++) {
		pthread_mutex_lock(&msg_lock);
		for (found = 0; word != NULL && found < nmsg && found < 32;
		     found++)
			if (strstr(msgs[found], word) != NULL)
				break;
		found = word == NULL || (found < nmsg && found < 32);
		pthread_mutex_unlock(&msg_lock);
		if (found && sm_rep_queued(rep) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void
remove_db(const char *path)
{
	char buf[300];

	unlink(path);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	unlink(buf);
}

/* Remove the files PATH was moved aside to (PATH.broken-*). */
static void
remove_aside(const char *path)
{
	char glob_[300], f[600];
	const char *base = strrchr(path, '/') + 1;
	struct dirent *e;
	DIR *d;

	snprintf(glob_, sizeof(glob_), "%s.broken-", base);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, glob_, strlen(glob_)) == 0) {
			snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
			unlink(f);
		}
	closedir(d);
}

static void
test_file(void)
{
	struct sm_db_params p = { 0, 1, 0 };
	char path[128], why[1024], aside[1100];
	struct sm_rep *rep;
	struct stat st;
	sqlite3 *db;
	time_t now = time(NULL);
	long sum = 0;
	int fd, n, i;

	/* Not a database: moved aside, a new store in its place. */
	snprintf(path, sizeof(path), "%s/broken.db", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    write(fd, "this is not a database\n", 23) != 23)
		return;
	close(fd);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	ok(rep == NULL, "not a database, no repair (smillactl): fails: %s",
	   why);
	sm_rep_close(rep);
	rep = sm_rep_open(path, &p, 86400, why, sizeof(why));
	ok(rep != NULL, "not a database, repair (daemons): opens");
	ok(strstr(why, "reputation store") != NULL &&
	   strstr(why, "moved aside to") != NULL, "  says so: %s", why);
	{
		const char *to = strstr(why, "moved aside to ");

		snprintf(aside, sizeof(aside), "%s", to ? to + 15 : "");
		if (strchr(aside, ','))
			*strchr(aside, ',') = '\0';
	}
	ok(stat(aside, &st) == 0 && st.st_size == 23,
	   "  the old file is kept there (%s)", aside);
	add(rep, now, "r.example", "pass", "K");
	is_int(sm_rep_flush(rep, now, why, sizeof(why)), 1,
	       "  the new store takes events");
	sm_rep_close(rep);
	unlink(aside);

	/* Deleted under the writer: noticed, created anew, written to. */
	p.check_s = 0;
	rep = sm_rep_open(path, &p, 86400, why, sizeof(why));
	if (rep == NULL || sm_rep_writer_start(rep, 20, on_msg, NULL, 0) < 0)
		return;
	add(rep, now, "d1.example", "pass", "K");
	ok(wait_for(rep, NULL), "writer: an event is written");
	remove_db(path);
	add(rep, now, "d2.example", "pass", "K");
	ok(wait_for(rep, "was deleted"), "deleted store: the writer notices");
	ok(msgs_with("was deleted: opened it again") == 1, "  and says so");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == SM_DB_MODE,
	   "  the file exists again, mode 0640");
	sm_rep_close(rep);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	n = 0;
	if (rep != NULL)
		sm_rep_events(rep, "d2.example", 0, 100, count_events, &n, why,
			      sizeof(why));
	is_int(n, 1, "  the event after the deletion is in the new file");
	sm_rep_close(rep);

	/*
	 * Turned to garbage under the writer: the flush that finds it out
	 * fails, the file is moved aside, and the decisions it held back
	 * are written to a new one: none is lost.
	 */
	rep = sm_rep_open(path, &p, 86400, why, sizeof(why));
	if (rep == NULL || sm_rep_writer_start(rep, 500, on_msg, NULL, 0) < 0)
		return;
	add(rep, now, "c1.example", "pass", "K");
	ok(wait_for(rep, NULL), "writer: an event is written");
	/*
	 * The writer has just taken the batch; its transaction is over
	 * well within 100 ms, and the next is 400 ms away: spoil the files
	 * between two, never under one.
	 */
	usleep(100000);
	spoil(path);
	nmsg = 0;
	add(rep, now, "c2.example", "pass", "K");
	ok(wait_for(rep, "moved aside to"), "corrupted store: moved aside");
	ok(msgs_with(": opened it again") == 1, "  a new one opened, and said so");
	ok(wait_for(rep, NULL), "  the held-back event is written");
	sm_rep_close(rep);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	n = 0;
	if (rep != NULL)
		sm_rep_events(rep, "c2.example", 0, 100, count_events, &n, why,
			      sizeof(why));
	is_int(n, 1, "  it is in the new file");
	sm_rep_close(rep);
	remove_aside(path);

	/* A flush of nothing that fails has nothing to put back. */
	rep = sm_rep_open(path, &p, 86400, why, sizeof(why));
	if (rep == NULL)
		return;
	spoil(path);
	ok(sm_rep_flush(rep, now, why, sizeof(why)) < 0 &&
	   sm_rep_queued(rep) == 0,
	   "an empty flush on a broken file: fails, nothing queued (%s)", why);
	sm_rep_close(rep);
	remove_db(path);

	/* Flushes that fail every time: one warning, not one a flush. */
	rep = sm_rep_open(path, &p, 86400, why, sizeof(why));
	if (rep == NULL || sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON"
			 " rep_events BEGIN SELECT RAISE(ABORT, 'refused');"
			 " END", NULL, NULL, NULL) != SQLITE_OK)
		return;
	nmsg = 0;
	if (sm_rep_writer_start(rep, 10, on_msg, NULL, 0) < 0)
		return;
	for (i = 0; i < 50; i++) {	/* about 50 failed flushes */
		add(rep, now, "f.example", "pass", "K");
		usleep(20000);
	}
	is_int(msgs_with("refused"), 1,
	       "50 failing flushes in a second: 1 warning");
	sqlite3_exec(db, "DROP TRIGGER refuse", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(wait_for(rep, "writes work again"), "cause removed: flushes work");
	ok(msgs_with("writes work again after") == 1, "  and that is said once");
	sm_rep_close(rep);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (rep != NULL)
		sm_rep_events(rep, "f.example", 0, 100, sum_events, &sum, why,
			      sizeof(why));
	is_int(sum, 50, "  the decisions queued meanwhile are all written");
	sm_rep_close(rep);
}

/*
 * A store from before a result word (here temperror) was added to
 * words.h: its rep_identities lacks the count column, which opening
 * adds; old counts stay and the new word is counted.
 */
static void
test_new_word(time_t t0)
{
	long count[SM_NRESULTS];
	struct sm_rep *rep;
	char path[128], why[512];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/word.db", dir);
	ok(sqlite3_open(path, &db) == SQLITE_OK &&
	   sqlite3_exec(db, "CREATE TABLE rep_identities ("
			" identity TEXT PRIMARY KEY, first_seen INTEGER,"
			" last_seen INTEGER, n_pass INTEGER DEFAULT 0,"
			" n_fail INTEGER DEFAULT 0, n_none INTEGER DEFAULT 0,"
			" n_nocert INTEGER DEFAULT 0,"
			" n_unusable INTEGER DEFAULT 0,"
			" n_bogus INTEGER DEFAULT 0, last_key_fp TEXT,"
			" keys_seen INTEGER DEFAULT 0,"
			" key_changes INTEGER DEFAULT 0);"
			"INSERT INTO rep_identities (identity, first_seen,"
			" last_seen, n_pass) VALUES ('w.example', 1, 1, 5)",
			NULL, NULL, NULL) == SQLITE_OK,
	   "store without n_temperror made");
	sqlite3_close(db);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (!ok(rep != NULL, "it opens %s", rep ? "" : why))
		return;
	add(rep, t0, "w.example", "temperror", "");
	add(rep, t0 + 1, "w.example", "temperror", "");
	is_int(sm_rep_flush(rep, t0 + 1, why, sizeof(why)), 2,
	       "temperror decisions written");
	memset(count, 0, sizeof(count));
	is_int(sm_rep_identities(rep, 0, counts_of, count, why, sizeof(why)),
	       1, "one identity");
	is_int(count[SM_RESULT_TEMPERROR], 2, "the new word is counted");
	is_int(count[SM_RESULT_PASS], 5, "the old counts stay");
	sm_rep_close(rep);

	/* A table the statements cannot use: an error, not a crash. */
	snprintf(path, sizeof(path), "%s/odd.db", dir);
	ok(sqlite3_open(path, &db) == SQLITE_OK &&
	   sqlite3_exec(db, "CREATE TABLE rep_keys (a, b)", NULL, NULL,
			NULL) == SQLITE_OK, "store with an odd rep_keys made");
	sqlite3_close(db);
	why[0] = '\0';
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	ok(rep == NULL && strstr(why, "odd.db") != NULL,
	   "it does not open, and says why: %s", why);
	sm_rep_close(rep);
}

/* The first column of the first row of Q on the store at PATH, as text. */
static const char *
query(const char *path, const char *q)
{
	static char buf[256];
	sqlite3_stmt *st;
	sqlite3 *db;

	snprintf(buf, sizeof(buf), "(error)");
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(buf, sizeof(buf), "%s",
				 sqlite3_column_text(st, 0) ?
				 (const char *)sqlite3_column_text(st, 0) :
				 "(null)");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return buf;
}

/*
 * Key changes are counted within a key type: a recipient's S/MIME
 * certificate and OpenPGP key taking turns change nothing, in one flush
 * or across flushes; a new key of the same type does.
 */
static void
test_kinds(time_t t0)
{
	static const char *turns[4][2] = {
		{ "smimea", "A" }, { "openpgpkey", "B" },
		{ "smimea", "A" }, { "openpgpkey", "B" },
	};
	struct sm_rep *rep;
	struct totals t;
	struct rows r;
	char path[128], why[512];
	int i;

	snprintf(path, sizeof(path), "%s/kinds.db", dir);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (!ok(rep != NULL, "kinds: store opens %s", rep ? "" : why))
		return;
	for (i = 0; i < 4; i++)
		add_kind(rep, t0 + i, "bob@one.example", "pass", turns[i][0],
			 turns[i][1]);
	is_int(sm_rep_flush(rep, t0 + 4, why, sizeof(why)), 4,
	       "smimea A, openpgpkey B, smimea A, openpgpkey B: one flush");
	t = totals(rep, "bob@one.example");
	is_int(t.changes, 0, "  no key change");
	is_int(t.keys, 2, "  two keys seen");
	is_str(t.last_key, "B", "  the latest key, of either type");
	for (i = 0; i < 4; i++) {
		add_kind(rep, t0 + i, "bob@two.example", "pass", turns[i][0],
			 turns[i][1]);
		sm_rep_flush(rep, t0 + i, why, sizeof(why));
	}
	t = totals(rep, "bob@two.example");
	is_int(t.changes, 0, "the same in four flushes: no key change");
	is_int(t.keys, 2, "  two keys seen");

	add_kind(rep, t0 + 10, "bob@one.example", "pass", "smimea", "C");
	add_kind(rep, t0 + 10, "bob@two.example", "openpgpkey", "fail", "X");
	sm_rep_flush(rep, t0 + 10, why, sizeof(why));
	t = totals(rep, "bob@one.example");
	is_int(t.changes, 1, "then smimea C (on record: A): one change");
	is_int(t.keys, 3, "  three keys seen");
	is_str(t.last_key, "C", "  C the latest");
	add_kind(rep, t0, "carol@one.example", "pass", "smimea", "A");
	add_kind(rep, t0 + 1, "carol@one.example", "pass", "smimea", "C");
	sm_rep_flush(rep, t0 + 1, why, sizeof(why));
	is_int(totals(rep, "carol@one.example").changes, 1,
	       "smimea A then smimea C in one flush: one change");
	add_kind(rep, t0, "dave@one.example", "pass", "smimea", "A");
	add_kind(rep, t0 + 1, "dave@one.example", "pass", "openpgpkey", "B");
	add_kind(rep, t0 + 2, "dave@one.example", "pass", "smimea", "C");
	add_kind(rep, t0 + 3, "dave@one.example", "pass", "openpgpkey", "D");
	sm_rep_flush(rep, t0 + 3, why, sizeof(why));
	t = totals(rep, "dave@one.example");
	is_int(t.changes, 2, "both types replaced, interleaved: two changes");
	is_str(t.last_key, "D", "  the latest key is the last one queued");

	/* No type (older callers) is a type of its own. */
	add(rep, t0, "h.example", "pass", "K");
	add_kind(rep, t0 + 1, "h.example", "pass", "tlsa", "L");
	add(rep, t0 + 2, "h.example", "pass", "K");
	add_kind(rep, t0 + 3, "h.example", "pass", "tlsa", "L");
	add_kind(rep, t0 + 4, "h.example", "pass", "", "M");
	sm_rep_flush(rep, t0 + 4, why, sizeof(why));
	is_int(totals(rep, "h.example").changes, 1,
	       "unknown K, tlsa L, unknown K, tlsa L, unknown M: one change");

	/* The type is part of the row. */
	add_kind(rep, t0 + 20, "eve@one.example", "pass", "smimea", "E");
	add_kind(rep, t0 + 20, "eve@one.example", "pass", "openpgpkey", "E");
	add_kind(rep, t0 + 20, "eve@one.example", "pass", NULL, "E");
	add_kind(rep, t0 + 20, "eve@one.example", "pass", "smimea", "E");
	is_int((long)sm_rep_queued_rows(rep), 3,
	       "decisions that differ in the key type only: rows of their own");
	sm_rep_flush(rep, t0 + 20, why, sizeof(why));
	memset(&r, 0, sizeof(r));
	rows_of(rep, "eve@one.example", &r);
	is_int(r.n, 3, "  three rows read back");
	is_str(r.row[2], "test smimea E", "  with their types");
	is_str(r.row[1], "test openpgpkey E", "  ...");
	is_str(r.row[0], "test - E", "  unknown: empty");
	t = totals(rep, "eve@one.example");
	is_int(t.keys, 1, "  one fingerprint under three types is one key");
	is_int(t.changes, 0, "  and no change");
	sm_rep_close(rep);
	is_str(query(path, "SELECT count(*) FROM rep_events WHERE identity ="
		     " 'eve@one.example' AND key_type IS NULL"), "1",
	       "  unknown is stored as NULL");
}

/*
 * The schema of the code before key types, as its statements created
 * it: the fixture of the migration tests.  With rows as that code wrote
 * them: a policy daemon's identity with two keys and one change, a
 * milter's recipient with one certificate, and a row of another source.
 */
static const char old_store[] =
	"CREATE TABLE IF NOT EXISTS rep_events ("
	" id INTEGER PRIMARY KEY, time INTEGER NOT NULL, source TEXT,"
	" client_address TEXT, helo TEXT, identity TEXT NOT NULL,"
	" result TEXT NOT NULL, usage INTEGER, selector INTEGER, mtype INTEGER,"
	" cert_fp TEXT, key_fp TEXT, tls_protocol TEXT, tls_cipher TEXT,"
	" count INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX IF NOT EXISTS rep_events_identity"
	" ON rep_events (identity, time);"
	"CREATE TABLE IF NOT EXISTS rep_identities ("
	" identity TEXT PRIMARY KEY, first_seen INTEGER, last_seen INTEGER,"
	" n_pass INTEGER DEFAULT 0, n_fail INTEGER DEFAULT 0,"
	" n_none INTEGER DEFAULT 0, n_nocert INTEGER DEFAULT 0,"
	" n_unusable INTEGER DEFAULT 0, n_bogus INTEGER DEFAULT 0,"
	" n_temperror INTEGER DEFAULT 0, last_key_fp TEXT,"
	" keys_seen INTEGER DEFAULT 0, key_changes INTEGER DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS rep_keys ("
	" identity TEXT, key_fp TEXT, first_seen INTEGER, last_seen INTEGER,"
	" count INTEGER, PRIMARY KEY (identity, key_fp));"
	"INSERT INTO rep_events (time, source, client_address, helo, identity,"
	" result, usage, selector, mtype, cert_fp, key_fp, tls_protocol,"
	" tls_cipher, count) VALUES"
	" (1700000000, 'policyd', '192.0.2.9', 'mx.old.example',"
	"  'mx.old.example', 'pass', 3, 1, 1, 'CERT', 'K1', 'TLSv1.3', 'X', 1),"
	" (1700000000, 'milter', '192.0.2.9', 'mx.old.example',"
	"  'bob@old.example', 'pass', 3, 0, 0, 'A', 'A', '', '', 2),"
	" (1700000000, 'other', '192.0.2.9', '', 'x.old.example', 'none',"
	"  NULL, NULL, NULL, '', '', '', '', 1);"
	"INSERT INTO rep_identities (identity, first_seen, last_seen, n_pass,"
	" last_key_fp, keys_seen, key_changes) VALUES"
	" ('mx.old.example', 1699999900, 1700000000, 5, 'K1', 2, 1),"
	" ('bob@old.example', 1699999900, 1700000000, 7, 'A', 1, 0);"
	"INSERT INTO rep_identities (identity, first_seen, last_seen, n_none)"
	" VALUES ('x.old.example', 1700000000, 1700000000, 1);"
	"INSERT INTO rep_keys VALUES"
	" ('mx.old.example', 'K0', 1699999900, 1699999950, 2),"
	" ('mx.old.example', 'K1', 1699999950, 1700000000, 3),"
	" ('bob@old.example', 'A', 1699999900, 1700000000, 7);";

#define OLD_T 1700000000	/* the time of the old rows */

static int
make_old(const char *path)
{
	sqlite3 *db;
	char *err = NULL;
	int rc;

	remove_db(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_exec(db, old_store, NULL, NULL, &err)) != SQLITE_OK)
		printf("#   old store: %s\n", err);
	sqlite3_free(err);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static long
sum_of(struct sm_rep *rep, const char *id)
{
	char why[512];
	long sum = 0;

	sm_rep_events(rep, id, 0, 100, sum_events, &sum, why, sizeof(why));
	return sum;
}

/*
 * A store made by the code before key types: opening it adds key_type
 * (old rows get the type of their source: policyd tlsa, milter smimea,
 * others none) and rebuilds rep_keys; counts, keys and the last keys
 * carry on, per type; opening it again changes nothing.
 */
static void
test_migrate(time_t t0)
{
	struct sm_rep *rep;
	struct totals t;
	struct rows r;
	char path[128], why[512];

	snprintf(path, sizeof(path), "%s/before-types.db", dir);
	if (!ok(make_old(path) == 0, "store of the code before key types made"))
		return;
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (!ok(rep != NULL, "it opens %s", rep ? "" : why))
		return;
	memset(&r, 0, sizeof(r));
	rows_of(rep, "mx.old.example", &r);
	rows_of(rep, "bob@old.example", &r);
	rows_of(rep, "x.old.example", &r);
	is_int(r.n, 3, "its rows are read");
	is_str(r.row[0], "policyd tlsa K1", "  a policyd row: tlsa");
	is_str(r.row[1], "milter smimea A", "  a milter row: smimea");
	is_str(r.row[2], "other - -", "  another source: unknown");
	is_str(query(path, "SELECT group_concat(key_type || ' ' || key_fp"
		     " || ' ' || count, ', ') FROM (SELECT * FROM rep_keys"
		     " ORDER BY identity, key_fp)"),
	       "smimea A 7, tlsa K0 2, tlsa K1 3",
	       "  rep_keys kept, typed by the identity's daemon");
	is_str(query(path, "SELECT group_concat(identity || ' ' || key_type"
		     " || ' ' || key_fp, ', ') FROM (SELECT * FROM"
		     " rep_last_keys ORDER BY identity)"),
	       "bob@old.example smimea A, mx.old.example tlsa K1",
	       "  the last keys, by type");
	t = totals(rep, "bob@old.example");
	ok(t.found == 1 && t.pass == 7 && t.keys == 1 && t.changes == 0,
	   "  the old totals stay");

	add_kind(rep, t0 + 1, "bob@old.example", "pass", "openpgpkey", "B");
	add_kind(rep, t0 + 2, "bob@old.example", "pass", "smimea", "A");
	add_kind(rep, t0 + 3, "mx.old.example", "pass", "tlsa", "K1");
	is_int(sm_rep_flush(rep, t0 + 3, why, sizeof(why)), 3,
	       "new rows go in");
	t = totals(rep, "bob@old.example");
	ok(t.pass == 9 && t.keys == 2 && t.changes == 0,
	   "  bob: openpgpkey B, smimea A (A on record): no change, 2 keys");
	t = totals(rep, "mx.old.example");
	ok(t.pass == 6 && t.keys == 2 && t.changes == 1,
	   "  mx: tlsa K1 (K1 on record): still one change, 2 keys");
	add_kind(rep, t0 + 4, "bob@old.example", "pass", "smimea", "C");
	add_kind(rep, t0 + 4, "mx.old.example", "pass", "tlsa", "K2");
	sm_rep_flush(rep, t0 + 4, why, sizeof(why));
	t = totals(rep, "bob@old.example");
	ok(t.keys == 3 && t.changes == 1, "  bob: smimea C: a change");
	t = totals(rep, "mx.old.example");
	ok(t.keys == 3 && t.changes == 2, "  mx: tlsa K2: a change");
	sm_rep_close(rep);

	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	ok(rep != NULL, "it opens again %s", rep ? "" : why);
	is_str(query(path, "SELECT count(*) FROM pragma_table_info("
		     "'rep_events') WHERE name = 'key_type'"), "1",
	       "  one key_type column");
	is_int(sum_of(rep, "bob@old.example"), 5, "  bob's rows: 2 old, 3 new");
	t = totals(rep, "bob@old.example");
	ok(t.keys == 3 && t.changes == 1, "  totals as they were");
	sm_rep_close(rep);
}

/*
 * Processes opening an old store at the same moment (the policy daemon
 * and the milter starting together): every one opens and writes, the
 * store is migrated once.
 */
#define RACERS 8

static void
test_migrate_race(time_t t0)
{
	struct sm_rep *rep;
	struct totals t;
	char path[128], why[512], c;
	int gate[2], i, status, good = 0;
	pid_t pid[RACERS];

	snprintf(path, sizeof(path), "%s/race.db", dir);
	if (make_old(path) < 0 || pipe(gate) < 0)
		return;
	for (i = 0; i < RACERS; i++) {
		if ((pid[i] = fork()) < 0)
			return;
		if (pid[i] > 0)
			continue;
		close(gate[1]);
		if (read(gate[0], &c, 1) < 0)	/* EOF: all go */
			_exit(3);
		if ((rep = sm_rep_open(path, NULL, 86400, why,
				       sizeof(why))) == NULL) {
			printf("#   racer %d: %s\n", i, why);
			_exit(1);
		}
		add_kind(rep, t0 + 1, "bob@old.example", "pass", "smimea",
			 "A");
		if (sm_rep_flush(rep, t0 + 1, why, sizeof(why)) != 1) {
			printf("#   racer %d: %s\n", i, why);
			_exit(2);
		}
		sm_rep_close(rep);
		_exit(0);
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < RACERS; i++)
		if (waitpid(pid[i], &status, 0) == pid[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			good++;
	is_int(good, RACERS, "old store opened by 8 processes at once: all"
	       " open and write");
	is_str(query(path, "SELECT count(*) FROM pragma_table_info("
		     "'rep_events') WHERE name = 'key_type'"), "1",
	       "  one key_type column");
	is_str(query(path, "SELECT group_concat(key_type || ' ' || key_fp"
		     " || ' ' || count, ', ') FROM (SELECT * FROM rep_keys"
		     " WHERE identity = 'bob@old.example')"),
	       "smimea A 15", "  rep_keys rebuilt once: 7 old and 8 new");
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (rep == NULL)
		return;
	is_int(sum_of(rep, "bob@old.example"), 10,
	       "  bob's rows: 2 old decisions, 8 new");
	t = totals(rep, "bob@old.example");
	ok(t.pass == 15 && t.keys == 1 && t.changes == 0,
	   "  bob: 15 passes, one key, no change");
	sm_rep_close(rep);
}

/* Every free and clear takes NULL (a crash here fails the test). */
/* "identity action format direction count" of each delivery row read. */
static void
delivery_of(void *arg, const struct sm_rep_event *ev)
{
	struct rows *r = arg;

	if (strcmp(ev->key_type, "delivery") != 0)
		return;
	if (r->n < 8)
		snprintf(r->row[r->n], sizeof(r->row[0]), "%s %s %s %s %ld",
			 ev->identity, ev->action, *ev->format ? ev->format :
			 "-", ev->direction, ev->count);
	r->n++;
}

static void
add_delivery(struct sm_rep *rep, time_t t, const char *id, const char *result,
	     const char *action, const char *format, const char *direction)
{
	struct sm_rep_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.time = t;
	ev.source = "milter";
	ev.identity = id;
	ev.result = result;
	ev.key_type = "delivery";
	ev.usage = ev.selector = ev.mtype = -1;
	ev.action = action;
	ev.format = format;
	ev.direction = direction;
	sm_rep_add(rep, &ev);
}

/*
 * Delivery rows keep their action, format and direction, merge like
 * any row, and are no decisions: no identity's counts or keys move.
 */
static void
test_deliveries(time_t t0)
{
	struct sm_rep *rep;
	struct totals t;
	struct rows r;
	char path[128], why[512];

	snprintf(path, sizeof(path), "%s/deliveries.db", dir);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (!ok(rep != NULL, "deliveries: store opens %s", rep ? "" : why))
		return;
	add_kind(rep, t0, "dora@d.example", "pass", "smimea", "K1");
	add_delivery(rep, t0, "dora@d.example", "pass", "encrypted", "smime",
		     "outbound");
	add_delivery(rep, t0, "dora@d.example", "pass", "encrypted", "smime",
		     "outbound");
	add_delivery(rep, t0, "dora@d.example", "pass", "plaintext", NULL,
		     "outbound");
	add_delivery(rep, t0 + 1, "only@d.example", "none", "rejected", "",
		     "inbound");
	is_int((long)sm_rep_queued_rows(rep), 4,
	       "a lookup and four deliveries: four rows (two merged)");
	is_int(sm_rep_flush(rep, t0 + 2, why, sizeof(why)), 5,
	       "  flushed: five");
	memset(&r, 0, sizeof(r));
	sm_rep_each(rep, 0, delivery_of, &r, why, sizeof(why));
	is_int(r.n, 3, "  three delivery rows read back");
	is_str(r.row[0], "dora@d.example encrypted smime outbound 2",
	       "  action, format, direction and count kept");
	is_str(r.row[1], "dora@d.example plaintext - outbound 1",
	       "  a plain one, without a format");
	is_str(r.row[2], "only@d.example rejected - inbound 1",
	       "  a refused inbound one");
	t = totals(rep, "dora@d.example");
	is_int(t.pass, 1, "  dora: one pass, her lookup's; deliveries no decision");
	is_int(t.keys, 1, "  one key seen");
	t = totals(rep, "only@d.example");
	is_int(t.found, 0, "  an address with only deliveries is no identity");
	sm_rep_close(rep);
}

static void
free_null(void)
{
	sm_rep_close(NULL);
	ok(1, "sm_rep_close(NULL) is a no-op");
}

int
main(void)
{
	struct sm_rep *rep;
	struct seen s;
	char path[128], why[512];
	int n = 0;
	time_t t0 = 1700000000;

	free_null();
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/rep.db", dir);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	if (!ok(rep != NULL, "store opens %s", rep ? "" : why))
		return done_testing();

	add(rep, t0, "a.example", "pass", "AA");
	add(rep, t0 + 1, "b.example", "fail", "BB");
	add(rep, t0 + 2, "a.example", "pass", "AA");
	add(rep, t0 + 3, "a.example", "fail", "EE");	/* not authenticated: no key */
	add(rep, t0 + 4, "a.example", "pass", "CC");	/* key change 1 */
	is_int((long)sm_rep_queued(rep), 5, "five events queued");
	is_int(sm_rep_flush(rep, t0 + 10, why, sizeof(why)), 5, "flushed 5");
	is_int((long)sm_rep_queued(rep), 0, "queue empty");
	add(rep, t0 + 20, "a.example", "pass", "AA");	/* change 2, vs CC on disk */
	add(rep, t0 + 21, "a.example", "nocert", "");	/* no key: no change */
	is_int(sm_rep_flush(rep, t0 + 30, why, sizeof(why)), 2, "flushed 2");

	memset(&s, 0, sizeof(s));
	is_int(sm_rep_identities(rep, 0, collect, &s, why, sizeof(why)), 2,
	       "two identities");
	is_str(s.ids[0], "a.example", "most recent first");
	is_int(s.pass[0], 4, "a: 4 passes");
	is_int(s.fail[0], 1, "a: 1 fail");
	is_int(s.keys[0], 2, "a: 2 keys seen (not the failing one)");
	is_int(s.changes[0], 2, "a: 2 key changes, also across flushes");
	is_int(s.keys[1], 0, "b: a failing key is not counted");
	is_int(s.changes[1], 0, "b: no change");
	memset(&s, 0, sizeof(s));
	sm_rep_identities(rep, t0 + 15, collect, &s, why, sizeof(why));
	is_int(s.n, 1, "since: only identities seen since then");
	is_int(sm_rep_events(rep, "a.example", 0, 100, count_events, &n, why,
			     sizeof(why)), 6, "six events of a.example");
	n = 0;
	is_int(sm_rep_events(rep, "a.example", 0, 2, count_events, &n, why,
			     sizeof(why)), 2, "limit honoured");

	/* Retention: a flush long after drops old events, keeps counts. */
	is_int(sm_rep_flush(rep, t0 + 86400 + 15, why, sizeof(why)), 0,
	       "empty flush");
	n = 0;
	sm_rep_events(rep, "a.example", 0, 100, count_events, &n, why,
		      sizeof(why));
	is_int(n, 2, "events older than the retention dropped");

	/* The writer thread flushes by itself (at the real time, so the
	   events must be recent), and once more on close. */
	t0 = time(NULL) - 86400 - 10;
	ok(sm_rep_writer_start(rep, 50, NULL, NULL, 0) == 0, "writer started");
	why[0] = '\0';
	ok(sm_rep_writer_start(rep, 50, NULL, why, sizeof(why)) < 0 &&
	   strstr(why, "already running") != NULL,
	   "a second writer is refused, saying why (%s)", why);
	add(rep, t0 + 86400 + 16, "c.example", "pass", "DD");
	usleep(300000);
	is_int((long)sm_rep_queued(rep), 0, "writer flushed within 300 ms");
	add(rep, t0 + 86400 + 17, "c.example", "pass", "DD");
	sm_rep_close(rep);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	n = 0;
	sm_rep_events(rep, "c.example", 0, 100, count_events, &n, why,
		      sizeof(why));
	is_int(n, 2, "close flushed the last event");
	is_int(sm_rep_result_index("temperror"), 6, "result index");
	sm_rep_close(rep);

	/* Decisions alike in every field, in the same second: one row. */
	snprintf(path, sizeof(path), "%s/merge.db", dir);
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	t0 = time(NULL);
	add(rep, t0, "m.example", "pass", "K1");
	add(rep, t0, "m.example", "pass", "K1");
	add(rep, t0, "m.example", "fail", "K1");	/* another result */
	add(rep, t0 + 1, "m.example", "pass", "K1");	/* another second */
	client = "192.0.2.2";
	add(rep, t0, "m.example", "pass", "K1");	/* another client */
	add(rep, t0, "m.example", "pass", "K1");
	client = "192.0.2.1";
	add(rep, t0, "m.example", "pass", "K1");
	is_int((long)sm_rep_queued(rep), 7, "seven decisions queued");
	is_int((long)sm_rep_queued_rows(rep), 4, "in four rows");
	is_int(sm_rep_flush(rep, t0, why, sizeof(why)), 7, "flush: 7 decisions");
	n = 0;
	sm_rep_events(rep, "m.example", 0, 100, count_events, &n, why,
		      sizeof(why));
	is_int(n, 4, "four rows written");
	{
		long sum = 0;

		sm_rep_events(rep, "m.example", 0, 100, sum_events, &sum, why,
			      sizeof(why));
		is_int(sum, 7, "their counts add up to the decisions");
	}
	memset(&s, 0, sizeof(s));
	sm_rep_identities(rep, 0, collect, &s, why, sizeof(why));
	ok(s.n == 1 && s.pass[0] == 6 && s.fail[0] == 1 && s.keys[0] == 1 &&
	   s.changes[0] == 0, "counts per result from merged rows (6 pass, 1 fail)");

	/* Many rows: the index grows and still finds each of them. */
	{
		char id[32];
		int i, rows;

		for (i = 0; i < 5000; i++) {
			snprintf(id, sizeof(id), "h%d.example", i);
			add(rep, t0, id, "pass", "K2");
		}
		for (i = 0; i < 5000; i++) {
			snprintf(id, sizeof(id), "h%d.example", i);
			add(rep, t0, id, "pass", "K2");
		}
		rows = (int)sm_rep_queued_rows(rep);
		is_int(rows, 5000, "5000 identities twice: 5000 rows");
		is_int(sm_rep_flush(rep, t0, why, sizeof(why)), 10000,
		       "10000 decisions written");
	}
	sm_rep_close(rep);

	/* A store from before rows had a count: each row is one decision. */
	snprintf(path, sizeof(path), "%s/old.db", dir);
	snprintf(why, sizeof(why),
		 "sqlite3 %s \"CREATE TABLE rep_events (id INTEGER PRIMARY KEY,"
		 " time INTEGER NOT NULL, source TEXT, client_address TEXT,"
		 " helo TEXT, identity TEXT NOT NULL, result TEXT NOT NULL,"
		 " usage INTEGER, selector INTEGER, mtype INTEGER, cert_fp TEXT,"
		 " key_fp TEXT, tls_protocol TEXT, tls_cipher TEXT);"
		 " INSERT INTO rep_events (time, identity, result) VALUES"
		 " (%ld, 'o.example', 'pass')\"", path, (long)t0);
	ok(system(why) == 0, "old store made");
	rep = sm_rep_open(path, NULL, 86400, why, sizeof(why));
	ok(rep != NULL, "old store opens %s", rep ? "" : why);
	{
		long sum = 0;

		sm_rep_events(rep, "o.example", 0, 100, sum_events, &sum, why,
			      sizeof(why));
		is_int(sum, 1, "its row counts one decision");
	}
	add(rep, t0, "o.example", "pass", "K3");
	add(rep, t0, "o.example", "pass", "K3");
	is_int(sm_rep_flush(rep, t0, why, sizeof(why)), 2, "and new rows go in");
	is_int(sm_rep_result_index("maybe"), -1, "unknown result");
	sm_rep_close(rep);
	test_new_word(t0);
	test_kinds(t0);
	test_deliveries(t0);
	test_migrate(OLD_T);
	test_migrate_race(OLD_T);
	test_file();
	snprintf(why, sizeof(why), "rm -rf %s", dir);
	ok(system(why) == 0, "cleanup");
	return done_testing();
}
