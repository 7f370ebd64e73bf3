/*
 * db.h - the sqlite database file the cache and the reputation store
 * share (db_path): how it is opened and created, what happens to a file
 * that is not a database, how a writer notices that the file it writes
 * was deleted or replaced, and how write failures are reported without
 * flooding the log.
 *
 * Only db.c, cache.c and reputation.c include sqlite3.h; the handle
 * below is theirs and never leaves them.
 */
#ifndef SM_DB_H
#define SM_DB_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#define SM_DB_MODE 0640		/* default permissions of a new file */

struct sqlite3;

struct sm_db_params {
	unsigned mode;	/* permissions of a file created here; 0: SM_DB_MODE */
	int repair;	/* move a file that is not a database aside */
	long check_s;	/* writers look whether the path still names their
			   file at most this often (0: before each write) */
};

#define SM_DB_CHECK_S 5		/* check_s of the daemons */

/* An open database and the file it was opened as. */
struct sm_db;

/*
 * sm_db_open - open the database at PATH in WAL mode, creating it
 * (empty, with P->mode whatever the umask; an existing file keeps its
 * mode) when it does not exist, with BUSY_MS as the busy timeout, and
 * run SCHEMA (CREATE ... IF NOT EXISTS statements).
 *
 * With P->repair, a file that turns out not to be a database, or to be
 * corrupt, while it is opened (SQLITE_NOTADB, SQLITE_CORRUPT) is
 * renamed to PATH.broken-YYYYmmddTHHMMSS (its -wal and -shm files
 * alongside) and a fresh database is created; NOTE then says so
 * (empty otherwise), for the caller to log as a warning.  Processes
 * opening the same file at once agree: the whole open runs under an
 * flock on the file's directory, and a file is renamed only while PATH
 * still names the very file found broken.
 *
 * P may be NULL (defaults, no repair).  Returns NULL with the reason in
 * WHY.
 */
struct sm_db *sm_db_open(const char *path, const struct sm_db_params *p,
			 const char *schema, long busy_ms, char *note,
			 size_t notelen, char *why, size_t whylen);

/* sm_db_close - close DB (NULL allowed). */
void sm_db_close(struct sm_db *db);

/* sm_db_handle - the sqlite handle of DB (borrowed). */
struct sqlite3 *sm_db_handle(const struct sm_db *db);

/* sm_db_path - the path DB was opened at (borrowed). */
const char *sm_db_path(const struct sm_db *db);

/*
 * sm_db_gone - whether the path no longer names the file DB has open
 * (deleted, or replaced by another file): 1 with WHY saying which, 0
 * when it still does.  Cheap enough for a writer to call before each
 * write: the path is looked at when EVERY_S seconds have passed since
 * the last look (0: always), at time NOW.
 */
int sm_db_gone(struct sm_db *db, time_t now, long every_s, char *why,
	       size_t whylen);

/*
 * sm_db_error - the reason of DB's last failure for a log line: its
 * sqlite message, except that a full disk (SQLITE_FULL, or ENOSPC under
 * any I/O error) says "no space left on device", and other I/O errors
 * carry the system error too, into WHY.  Returns WHY.
 */
const char *sm_db_error(struct sqlite3 *db, char *why, size_t whylen);

/*
 * sm_db_broken - whether sqlite result code RC (primary or extended)
 * means the file is not a database or is corrupt.
 */
int sm_db_broken(int rc);

/*
 * sm_db_set_aside - DB, opened with repair, was found broken while in
 * use (a write failed with sm_db_broken's codes, ERR its reason): rename
 * the file as sm_db_open does (PATH.broken-..., its -wal and -shm
 * alongside), under the same directory lock and only while the path
 * still names DB's file.  1 when it was moved (WHY says where: the
 * caller opens PATH again, as for a deleted file), 0 when there is
 * nothing to do (no repair, or the path names another file already:
 * sm_db_gone tells), -1 when it cannot be moved (WHY says why).
 */
int sm_db_set_aside(struct sm_db *db, const char *err, char *why,
		    size_t whylen);

/*
 * sm_db_thread - start FN(ARG) as a writer thread in *T, with every
 * signal blocked in it, so the daemon's signals reach the thread that
 * waits for them (an event loop in epoll_wait) and not a writer.
 * 0, or -1 with WHY (pthread_create's error).
 */
int sm_db_thread(pthread_t *t, void *(*fn)(void *), void *arg, char *why,
		 size_t whylen);

/*
 * sm_db_report - format a message and hand it to a writer's ON_ERROR
 * callback (nothing when it is NULL): writers run off the daemons'
 * threads and do not log themselves.
 */
void sm_db_report(void (*on_error)(const char *why), const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Warnings with backoff.  A writer that fails again and again (read-only
 * or full disk) reports the first failure at once, then at intervals
 * doubling from SM_DB_BACKOFF_MIN up to SM_DB_BACKOFF_MAX seconds, each
 * time with the number of failures since the last report; the first
 * success after failures is reported once.
 */
#define SM_DB_BACKOFF_MIN 10
#define SM_DB_BACKOFF_MAX 3600

struct sm_db_backoff {
	time_t next;		/* no report before this */
	long interval;		/* seconds, 0 before the first failure */
	unsigned long failed;	/* failures since the last report */
	unsigned long total;	/* failures since the last success */
};

/*
 * sm_db_backoff_fail - count N failures at NOW.  Returns the number of
 * failures to report now (those since the last report), 0 to stay
 * quiet.
 */
unsigned long sm_db_backoff_fail(struct sm_db_backoff *b, time_t now,
				 unsigned long n);

/*
 * sm_db_backoff_ok - a success: returns the number of failures since the
 * last success (0 when none: nothing to report) and starts afresh.
 */
unsigned long sm_db_backoff_ok(struct sm_db_backoff *b);

#endif
