/*
 * test_db - what db.c decides on its own: when a warning about failing
 * writes is repeated (sm_db_backoff: at once, then at doubling
 * intervals up to an hour, each with the count since the last), and
 * that a full disk is logged as "no space left on device", not as an
 * I/O error: with a real full file system (a 256 KB tmpfs, when this
 * process may mount one; skipped otherwise).
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "db.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/smilla-test-db.XXXXXX";

/* A writer failing once a second for two days. */
static void
test_backoff(void)
{
	struct sm_db_backoff b;
	unsigned long due, reported = 0;
	long t, last = -1, longest = 0, warnings = 0;
	int ok_gaps = 1;

	memset(&b, 0, sizeof(b));
	for (t = 0; t < 2 * 86400; t++) {
		if ((due = sm_db_backoff_fail(&b, (time_t)t, 1)) == 0)
			continue;
		if (warnings == 0)
			is_int(t, 0, "the first failure is reported at once");
		if (last >= 0) {
			if (t - last > longest)
				longest = t - last;
			/* each gap at least doubles, up to the cap */
			ok_gaps &= t - last >= SM_DB_BACKOFF_MIN;
		}
		is_int((long)due, last < 0 ? 1 : t - last,
		       "  a report counts the failures since the last one");
		reported += due;
		last = t;
		warnings++;
	}
	ok(warnings < 60, "172800 failures, %ld warnings", warnings);
	ok(ok_gaps, "  never two within %d s", SM_DB_BACKOFF_MIN);
	is_int(longest, SM_DB_BACKOFF_MAX, "  at the end once an hour");
	is_int((long)(reported + b.failed), 2 * 86400,
	       "  every failure counted once");
	is_int((long)sm_db_backoff_ok(&b), 2 * 86400,
	       "a success reports the failures since the last success");
	is_int((long)sm_db_backoff_ok(&b), 0, "  once");
	is_int((long)sm_db_backoff_fail(&b, 200000, 3), 3,
	       "after a success, the next failure is reported at once");
}

static char msg[1024];
static int nmsg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void
on_msg(const char *m)
{
	pthread_mutex_lock(&lock);
	if (nmsg++ == 0)
		sm_strlcpy(msg, m, sizeof(msg));
	pthread_mutex_unlock(&lock);
}

/* Fill a 256 KB file system through the cache's writer. */
static void
test_full(void)
{
	struct sm_cache_params p = { 60, 3600, 300, 30, { 0, 1, 0 } };
	char mnt[128], path[160], why[512], name[64];
	struct sm_cache *c;
	struct sm_dns_result *res;
	uint8_t rd[4000];
	int i;

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	if (mkdir(mnt, 0700) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=256k") < 0) {
		printf("ok %d # SKIP cannot mount a tmpfs here: %s\n",
		       ++tap_run, strerror(errno));
		rmdir(mnt);
		return;
	}
	snprintf(path, sizeof(path), "%s/full.db", mnt);
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0) {
		ok(0, "cache opens on the small tmpfs: %s", why);
		goto out;
	}
	memset(rd, 0x33, sizeof(rd));
	for (i = 0; i < 200 && nmsg == 0; i++) {
		snprintf(name, sizeof(name), "n%d.full.example", i);
		res = sm_dns_result_new(name, 52, SM_DNS_DATA, SM_DNS_SECURE);
		if (res == NULL || sm_dns_result_add(res, rd, sizeof(rd)) < 0)
			break;
		res->ttl = 600;
		sm_cache_put(c, res, 1700000000, why, sizeof(why));
		sm_dns_result_free(res);
		sm_cache_sync(c);
	}
	ok(nmsg >= 1, "a full file system: the write fails and is reported");
	ok(strstr(msg, "no space left on device") != NULL, "  as: %s", msg);
	ok(strstr(msg, "disk I/O error") == NULL, "  not as a disk I/O error");
	sm_cache_close(c);
out:
	umount(mnt);
	rmdir(mnt);
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_db_close(NULL);
	ok(1, "sm_db_close(NULL) is a no-op");
}

int
main(void)
{
	free_null();
	if (mkdtemp(dir) == NULL)
		return 1;
	test_backoff();
	test_full();
	ok(rmdir(dir) == 0, "temporary directory removed");
	return done_testing();
}
