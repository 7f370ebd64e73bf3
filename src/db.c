/*
 * db.c - opening and creating the shared sqlite database (db_path);
 * the contract is db.h.
 *
 * struct sm_db *sm_db_open(path, params, schema, busy_ms, note, notelen,
 *                          why, whylen)
 *	open or create PATH: WAL, synchronous=NORMAL, SCHEMA; a broken
 *	file is moved aside when PARAMS->repair (NOTE says where).
 * void sm_db_close(db)
 * struct sqlite3 *sm_db_handle(db), const char *sm_db_path(db)
 * int sm_db_gone(db, now, every_s, why, whylen)
 *	the path was deleted or now names another file.
 * const char *sm_db_error(sqlite, buf, len)
 *	a failure's reason for the log ("no space left on device").
 * int sm_db_broken(rc)
 * int sm_db_set_aside(db, err, why, whylen)
 *	a file found broken while in use is moved aside, for a reopen.
 * int sm_db_thread(t, fn, arg)
 *	start a writer thread that takes no signals.
 * void sm_db_report(on_error, fmt, ...)
 *	a writer thread's message, handed to its ON_ERROR callback.
 * unsigned long sm_db_backoff_fail(b, now, n), sm_db_backoff_ok(b)
 *	when to repeat a warning about failing writes.
 *
 * Why the file is created here and not by sqlite: sqlite creates it
 * 0644 minus the umask, and the file holds client and recipient
 * addresses.  Creating it empty with open(2) and fchmod(2) gives the
 * mode asked for under any umask (an empty file is an empty database),
 * and sqlite gives the -wal and -shm files the main file's mode.
 *
 * Why the flock is on the directory: it needs no file of its own, works
 * in a directory the process may not write, and every opener of the
 * file (both daemons, smillactl) takes it, so only one of them looks at
 * a file and moves it aside at a time.  The rename is done only when
 * the path still names the inode found broken, so a good database that
 * another process created meanwhile is never moved aside.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "util.h"

struct sm_db {
	sqlite3 *db;
	char *path;
	dev_t dev;
	ino_t ino;
	time_t next_look;
	int repair;
};

int
sm_db_broken(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

const char *
sm_db_error(sqlite3 *db, char *why, size_t whylen)
{
	int rc = sqlite3_extended_errcode(db), err = sqlite3_system_errno(db);

	if ((rc & 0xff) == SQLITE_FULL || err == ENOSPC)
		snprintf(why, whylen, "no space left on device (%s)",
			 sqlite3_errmsg(db));
	else if ((rc & 0xff) == SQLITE_IOERR && err != 0)
		snprintf(why, whylen, "%s: %s", sqlite3_errmsg(db),
			 strerror(err));
	else
		snprintf(why, whylen, "%s", sqlite3_errmsg(db));
	return why;
}

/*
 * Switch to WAL.  When several processes create a new file at once the
 * PRAGMA can fail with SQLITE_BUSY at once instead of waiting for the
 * busy timeout, so retry it for that long ourselves.
 */
static int
set_wal(sqlite3 *db, long busy_ms)
{
	sqlite3_stmt *st;
	int rc;
	long waited;

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
		if (waited >= busy_ms)
			return rc;
		sqlite3_sleep(10);
	}
}

/* The first statements on a file: where a broken one shows. */
static int
setup(sqlite3 *db, const char *schema, long busy_ms)
{
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)busy_ms);
	if ((rc = set_wal(db, busy_ms)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL,
			       NULL)) != SQLITE_OK)
		return rc;
	return schema ? sqlite3_exec(db, schema, NULL, NULL, NULL) : SQLITE_OK;
}

/* Create PATH empty with MODE unless it exists; 0, or -1 (errno). */
static int
create(const char *path, unsigned mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		      (mode_t)mode);

	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	/* The umask took bits away; the admin asked for these. */
	if (fchmod(fd, (mode_t)mode) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* The directory of PATH, locked; -1 when it cannot be (carry on). */
static int
lock_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		sm_strlcpy(dir, ".", sizeof(dir));
	else if (slash == path)
		sm_strlcpy(dir, "/", sizeof(dir));
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* Rename FROM+SUFFIX to TO+SUFFIX if it exists; 0, or -1 (errno). */
static int
move_file(const char *from, const char *to, const char *suffix)
{
	char a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s%s", from, suffix);
	snprintf(b, sizeof(b), "%s%s", to, suffix);
	if (rename(a, b) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Move the broken PATH (and its -wal, -shm) to a name of its own;
 * 0 with the new name in TO, or -1 (errno).
 */
static int
move_aside(const char *path, char *to, size_t tolen)
{
	char stamp[32];
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	int i;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(to, tolen, "%s.broken-%s", path, stamp);
		else
			snprintf(to, tolen, "%s.broken-%s-%d", path, stamp, i);
		if (lstat(to, &st) < 0 && errno == ENOENT)
			break;
	}
	if (i == 100) {
		errno = EEXIST;
		return -1;
	}
	if (rename(path, to) < 0)
		return -1;
	/* The broken file's journals go with it, never to the new one. */
	if (move_file(path, to, "-wal") < 0 || move_file(path, to, "-shm") < 0)
		return -1;
	return 0;
}

struct sm_db *
sm_db_open(const char *path, const struct sm_db_params *p, const char *schema,
	   long busy_ms, char *note, size_t notelen, char *why, size_t whylen)
{
	unsigned mode = p != NULL && p->mode != 0 ? p->mode : SM_DB_MODE;
	int repair = p != NULL && p->repair, lockfd, rc, attempt;
	struct sm_db *db;
	struct stat st, again;
	char to[PATH_MAX], err[300];

	if (note != NULL && notelen > 0)
		*note = '\0';
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->path = strdup(path)) == NULL) {
		free(db);
		sm_why(why, whylen, "%s: out of memory", path);
		return NULL;
	}
	lockfd = lock_dir(path);
	for (attempt = 0;; attempt++) {
		if (create(path, mode) < 0 || stat(path, &st) < 0) {
			sm_why(why, whylen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (sqlite3_open_v2(path, &db->db,
				    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
				    NULL) != SQLITE_OK) {
			sm_why(why, whylen, "%s: %s", path, db->db ?
			       sm_db_error(db->db, err, sizeof(err)) :
			       "out of memory");
			goto fail;
		}
		if ((rc = setup(db->db, schema, busy_ms)) == SQLITE_OK)
			break;
		sm_why(why, whylen, "%s: %s", path,
		       sm_db_error(db->db, err, sizeof(err)));
		sqlite3_close(db->db);
		db->db = NULL;
		if (!repair || !sm_db_broken(rc) || attempt > 0)
			goto fail;
		/* Another opener may have replaced it: look again. */
		if (stat(path, &again) == 0 && (again.st_dev != st.st_dev ||
						again.st_ino != st.st_ino))
			continue;
		if (move_aside(path, to, sizeof(to)) < 0) {
			sm_why(why, whylen, "%s: %s, and it cannot be moved"
			       " aside: %s", path, err, strerror(errno));
			goto fail;
		}
		sm_why(note, notelen, "%s: %s: moved aside to %s, starting a"
		       " new database", path, err, to);
	}
	db->dev = st.st_dev;
	db->ino = st.st_ino;
	db->repair = repair;
	if (lockfd >= 0)
		close(lockfd);
	return db;
fail:
	if (lockfd >= 0)
		close(lockfd);
	sm_db_close(db);
	return NULL;
}

void
sm_db_close(struct sm_db *db)
{
	if (db == NULL)
		return;
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

struct sqlite3 *
sm_db_handle(const struct sm_db *db)
{
	return db->db;
}

const char *
sm_db_path(const struct sm_db *db)
{
	return db->path;
}

int
sm_db_gone(struct sm_db *db, time_t now, long every_s, char *why,
	   size_t whylen)
{
	struct stat st;

	if (every_s > 0 && now < db->next_look)
		return 0;
	db->next_look = now + every_s;
	if (stat(db->path, &st) < 0) {
		if (errno != ENOENT)
			return 0;	/* cannot tell: keep writing */
		sm_why(why, whylen, "%s was deleted", db->path);
		return 1;
	}
	if (st.st_dev != db->dev || st.st_ino != db->ino) {
		sm_why(why, whylen, "%s was replaced by another file",
		       db->path);
		return 1;
	}
	return 0;
}

int
sm_db_set_aside(struct sm_db *db, const char *err, char *why, size_t whylen)
{
	struct stat st;
	char to[PATH_MAX];
	int lockfd, rc = 0;

	if (!db->repair)
		return 0;
	lockfd = lock_dir(db->path);
	/* Only the very file found broken: not one another opener made. */
	if (stat(db->path, &st) == 0 && st.st_dev == db->dev &&
	    st.st_ino == db->ino) {
		if (move_aside(db->path, to, sizeof(to)) == 0) {
			sm_why(why, whylen, "%s: %s: moved aside to %s",
			       db->path, err, to);
			rc = 1;
		} else {
			sm_why(why, whylen, "%s: %s, and it cannot be moved"
			       " aside: %s", db->path, err, strerror(errno));
			rc = -1;
		}
	}
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

int
sm_db_thread(pthread_t *t, void *(*fn)(void *), void *arg, char *why,
	     size_t whylen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		sm_why(why, whylen, "cannot start a thread: %s", strerror(rc));
		return -1;
	}
	return 0;
}

void
sm_db_report(void (*on_error)(const char *why), const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	if (on_error == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	on_error(why);
}

unsigned long
sm_db_backoff_fail(struct sm_db_backoff *b, time_t now, unsigned long n)
{
	unsigned long due;

	b->failed += n;
	b->total += n;
	if (b->interval > 0 && now < b->next)
		return 0;
	b->interval = b->interval == 0 ? SM_DB_BACKOFF_MIN :
		      b->interval * 2 > SM_DB_BACKOFF_MAX ? SM_DB_BACKOFF_MAX :
							    b->interval * 2;
	b->next = now + b->interval;
	due = b->failed;
	b->failed = 0;
	return due;
}

unsigned long
sm_db_backoff_ok(struct sm_db_backoff *b)
{
	unsigned long total = b->total;

	memset(b, 0, sizeof(*b));
	return total;
}
