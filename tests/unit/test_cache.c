/*
 * test_cache - the sqlite DNS cache: what is kept and for how long,
 * that a stored answer comes back octet for octet, and that several
 * processes can share one file.
 *
 * Every call takes the time as an argument, so expiry is tested by
 * passing later times instead of sleeping.  The database lives in a
 * fresh directory under /tmp that is removed at the end.
 *
 * The file itself: a file that is not a database (garbage, text, a
 * truncated database) is moved aside and a new one created, by one
 * opener when several race; a new file gets db_mode under umask 022,
 * and so do its -wal and -shm; with the writer thread, a put never
 * waits for a lock another process holds (and a read under it is
 * served), a failed write is reported, with backoff when failures
 * repeat, and a deleted file is noticed and created anew.  The test
 * talks to sqlite directly only to play the other process: to hold a
 * lock, or to make writes fail (a trigger).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache.h"
#include "spoil.h"
#include "tap.h"
#include "util.h"

#define T0	((time_t)1700000000)	/* any fixed "now" */
#define NCHILD	4
#define NPUT	200

static const struct sm_cache_params params = { 60, 3600, 300, 30,
						      { 0, 0, 0 } };

struct life_case {
	const char *name;
	enum sm_dns_outcome outcome;
	enum sm_dns_sec sec;
	uint32_t ttl;
	long life;
};

static const struct life_case life_cases[] = {
	{ "data, ttl 10 raised to min", SM_DNS_DATA, SM_DNS_SECURE, 10, 60 },
	{ "data, ttl 0 raised to min", SM_DNS_DATA, SM_DNS_SECURE, 0, 60 },
	{ "data, ttl 100000 cut to max", SM_DNS_DATA, SM_DNS_SECURE, 100000,
	  3600 },
	{ "data, ttl 500 kept", SM_DNS_DATA, SM_DNS_SECURE, 500, 500 },
	{ "data, ttl at min", SM_DNS_DATA, SM_DNS_INSECURE, 60, 60 },
	{ "data, ttl at max", SM_DNS_DATA, SM_DNS_INSECURE, 3600, 3600 },
	{ "data, ttl 2^32-1", SM_DNS_DATA, SM_DNS_SECURE, 4294967295u, 3600 },
	{ "nxdomain", SM_DNS_NXDOMAIN, SM_DNS_SECURE, 5, 300 },
	{ "nodata", SM_DNS_NODATA, SM_DNS_INSECURE, 99999, 300 },
	{ "bogus data", SM_DNS_DATA, SM_DNS_BOGUS, 500, 30 },
	{ "bogus nxdomain", SM_DNS_NXDOMAIN, SM_DNS_BOGUS, 500, 30 },
	/* A failed validation often comes as SERVFAIL: still bogus. */
	{ "bogus servfail", SM_DNS_TEMPFAIL, SM_DNS_BOGUS, 0, 30 },
	{ "tempfail", SM_DNS_TEMPFAIL, SM_DNS_INSECURE, 500, 0 },
	{ "permfail", SM_DNS_PERMFAIL, SM_DNS_INSECURE, 500, 0 },
};

static char tmpdir[] = "/tmp/smilla-test-cache.XXXXXX";
static char why[512];

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, why);
	exit(255);
}

static struct sm_dns_result *
result(const char *name, int type, enum sm_dns_outcome outcome,
       enum sm_dns_sec sec, uint32_t ttl)
{
	struct sm_dns_result *res = sm_dns_result_new(name, type, outcome, sec);

	if (res == NULL)
		die("out of memory");
	res->ttl = ttl;
	return res;
}

static void
path_in_tmp(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", tmpdir, file);
}

static struct sm_cache *
open_or_die(const char *path)
{
	struct sm_cache *c = sm_cache_open(path, &params, why, sizeof(why));

	if (c == NULL)
		die("sm_cache_open");
	return c;
}

/* Put RES at NOW, expecting WANT (1 stored, 0 not cacheable). */
static void
put(struct sm_cache *c, const struct sm_dns_result *res, time_t now, int want,
    const char *name)
{
	int rc = sm_cache_put(c, res, now, why, sizeof(why));

	if (!is_int(rc, want, name) && rc < 0)
		printf("#   %s\n", why);
}

/* Get NAME/TYPE at NOW expecting WANT; returns the result (or NULL). */
static struct sm_dns_result *
get(struct sm_cache *c, const char *name, int type, time_t now, int want,
    const char *label)
{
	static struct sm_dns_result sentinel;
	struct sm_dns_result *res = &sentinel;
	int rc = sm_cache_get(c, name, type, now, &res, why, sizeof(why));

	if (!is_int(rc, want, label) && rc < 0)
		printf("#   %s\n", why);
	if (rc != 1)
		ok(res == NULL, "  *out is NULL");
	return res;
}

static void
test_lifetime(void)
{
	static const struct sm_cache_params nobogus = { 60, 3600, 300, 0,
							       { 0, 0, 0 } };
	struct sm_dns_result *res;
	size_t i;

	for (i = 0; i < sizeof(life_cases) / sizeof(life_cases[0]); i++) {
		const struct life_case *lc = &life_cases[i];

		res = result("x.example", SM_RR_TLSA, lc->outcome, lc->sec,
			     lc->ttl);
		is_int(sm_cache_lifetime(&params, res), lc->life, lc->name);
		sm_dns_result_free(res);
	}
	res = result("x.example", SM_RR_TLSA, SM_DNS_DATA, SM_DNS_BOGUS, 500);
	is_int(sm_cache_lifetime(&nobogus, res), 0, "bogus_ttl 0: not kept");
	sm_dns_result_free(res);
}

/* Three RDATA, one empty and one far past 255 octets (2-octet lengths). */
static void
test_round_trip(struct sm_cache *c)
{
	uint8_t small[35], big[1000];
	struct sm_dns_result *res, *got;
	size_t i;
	int same;

	for (i = 0; i < sizeof(small); i++)
		small[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	res = result("_25._tcp.rt.example", SM_RR_TLSA, SM_DNS_DATA,
		     SM_DNS_SECURE, 500);
	res->rcode = 0;
	if (sm_dns_result_add(res, small, sizeof(small)) < 0 ||
	    sm_dns_result_add(res, small, 0) < 0 ||
	    sm_dns_result_add(res, big, sizeof(big)) < 0 ||
	    sm_dns_result_set_why(res, "a reason \"quoted\" \xc3\xa9") < 0)
		die("out of memory");
	put(c, res, T0, 1, "put DATA with 3 RDATA");
	got = get(c, res->qname, SM_RR_TLSA, T0 + 100, 1, "get it back");
	if (got != NULL) {
		is_str(got->qname, res->qname, "  qname");
		is_int(got->qtype, SM_RR_TLSA, "  qtype");
		is_int(got->outcome, SM_DNS_DATA, "  outcome");
		is_int(got->sec, SM_DNS_SECURE, "  sec");
		is_int(got->rcode, 0, "  rcode");
		is_str(got->why, res->why, "  why");
		is_int(got->ttl, 400, "  ttl is the time left");
		if (is_int((long)got->count, 3, "  count"))
			for (i = 0; i < 3; i++) {
				same = got->rr[i].len == res->rr[i].len &&
				       memcmp(got->rr[i].data, res->rr[i].data,
					      res->rr[i].len) == 0;
				ok(same, "  RDATA %zu: %zu octets, same", i,
				   res->rr[i].len);
			}
	}
	sm_dns_result_free(got);

	/* Another type at the same name is another entry. */
	got = get(c, res->qname, SM_RR_SMIMEA, T0 + 100, 0, "other type: none");
	sm_dns_result_free(got);
	got = get(c, "_26._tcp.rt.example", SM_RR_TLSA, T0 + 100, 0,
		  "other name: none");
	sm_dns_result_free(got);

	/* Storing again replaces. */
	sm_dns_result_free(res);
	res = result("_25._tcp.rt.example", SM_RR_TLSA, SM_DNS_NODATA,
		     SM_DNS_SECURE, 1);
	res->rcode = 0;
	put(c, res, T0 + 10, 1, "replace with NODATA");
	got = get(c, res->qname, SM_RR_TLSA, T0 + 10, 1, "get the new one");
	if (got != NULL) {
		is_int(got->outcome, SM_DNS_NODATA, "  outcome nodata");
		is_int((long)got->count, 0, "  no RDATA");
		ok(got->why == NULL, "  no reason");
		is_int(got->ttl, 300, "  negative ttl");
	}
	sm_dns_result_free(got);
	sm_dns_result_free(res);

	/* Bogus is kept as bogus, never turned into "not found". */
	res = result("bogus.example", SM_RR_TLSA, SM_DNS_TEMPFAIL,
		     SM_DNS_BOGUS, 0);
	res->rcode = 2;
	if (sm_dns_result_set_why(res, "signature expired") < 0)
		die("out of memory");
	put(c, res, T0, 1, "put bogus SERVFAIL");
	got = get(c, res->qname, SM_RR_TLSA, T0 + 29, 1, "bogus kept 30 s");
	if (got != NULL) {
		is_int(got->sec, SM_DNS_BOGUS, "  still bogus");
		is_int(got->outcome, SM_DNS_TEMPFAIL, "  outcome kept");
		is_int(got->rcode, 2, "  rcode kept");
		is_str(got->why, "signature expired", "  why_bogus kept");
		is_str(sm_dns_status(got), "bogus", "  status word");
	}
	sm_dns_result_free(got);
	got = get(c, res->qname, SM_RR_TLSA, T0 + 30, 0, "bogus gone at 30 s");
	sm_dns_result_free(got);
	sm_dns_result_free(res);

	/* Failures are not cached: the next request must ask again. */
	res = result("fail.example", SM_RR_TLSA, SM_DNS_TEMPFAIL,
		     SM_DNS_INSECURE, 500);
	put(c, res, T0, 0, "TEMPFAIL not stored");
	got = get(c, res->qname, SM_RR_TLSA, T0, 0, "  and not found");
	sm_dns_result_free(got);
	res->outcome = SM_DNS_PERMFAIL;
	put(c, res, T0, 0, "PERMFAIL not stored");
	got = get(c, res->qname, SM_RR_TLSA, T0, 0, "  and not found");
	sm_dns_result_free(got);
	sm_dns_result_free(res);
}

static void
test_expiry(struct sm_cache *c)
{
	struct sm_dns_result *res, *got;
	long life;

	res = result("exp.example", SM_RR_OPENPGPKEY, SM_DNS_DATA,
		     SM_DNS_SECURE, 700);
	if (sm_dns_result_add(res, (const uint8_t *)"\x99\x01", 2) < 0)
		die("out of memory");
	life = sm_cache_lifetime(&params, res);
	put(c, res, T0, 1, "put for expiry");
	got = get(c, res->qname, res->qtype, T0 + life - 1, 1,
		  "found one second before expiry");
	if (got != NULL)
		is_int(got->ttl, 1, "  ttl 1");
	sm_dns_result_free(got);
	got = get(c, res->qname, res->qtype, T0 + life, 0, "gone at expiry");
	sm_dns_result_free(got);
	sm_dns_result_free(res);
}

struct seen {
	int n;
	char names[8][64];
	int types[8];
	time_t expires[8];
};

static void
collect(void *arg, const struct sm_dns_result *res, time_t expires)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", res->qname);
		s->types[s->n] = res->qtype;
		s->expires[s->n] = expires;
	}
	s->n++;
}

static void
count_only(void *arg, const struct sm_dns_result *res, time_t expires)
{
	(void)res;
	(void)expires;
	(*(long *)arg)++;
}

/* Entries in the order sm_cache_each must give them, and their life. */
static const struct {
	const char *name;
	int type;
	uint32_t ttl;
} each_want[] = {
	{ "a.example", SM_RR_TLSA, 100 },
	{ "a.example", SM_RR_SMIMEA, 200 },
	{ "a.example", SM_RR_OPENPGPKEY, 300 },
	{ "b.example", SM_RR_TLSA, 400 },
};

static void
test_each_flush(struct sm_cache *c, struct sm_cache *c2)
{
	struct sm_dns_result *res;
	struct seen s;
	long n;
	size_t i;

	ok(sm_cache_flush(c, NULL, 0, T0, why, sizeof(why)) >= 0,
	   "flush all to start afresh");
	/* Stored backwards, and one that will have expired. */
	for (i = sizeof(each_want) / sizeof(each_want[0]); i-- > 0;) {
		res = result(each_want[i].name, each_want[i].type, SM_DNS_DATA,
			     SM_DNS_SECURE, each_want[i].ttl);
		put(c, res, T0, 1, "put for each");
		sm_dns_result_free(res);
	}
	res = result("0.example", SM_RR_TLSA, SM_DNS_DATA, SM_DNS_SECURE, 60);
	put(c, res, T0 - 1000, 1, "put one already expired");
	sm_dns_result_free(res);

	memset(&s, 0, sizeof(s));
	n = sm_cache_each(c, T0, collect, &s, why, sizeof(why));
	is_int(n, 4, "each: 4 fresh entries");
	is_int(s.n, 4, "  callback ran 4 times");
	for (i = 0; i < 4 && (int)i < s.n; i++) {
		ok(strcmp(s.names[i], each_want[i].name) == 0 &&
		   s.types[i] == each_want[i].type &&
		   s.expires[i] == T0 + (time_t)each_want[i].ttl,
		   "  %zu: %s/%d expires T0+%u", i, each_want[i].name,
		   each_want[i].type, each_want[i].ttl);
	}
	n = 0;
	is_int(sm_cache_each(c2, T0 + 250, count_only, &n, why, sizeof(why)),
	       2, "each on the second handle, later: 2 left");
	is_int(n, 2, "  callback ran 2 times");

	is_int(sm_cache_flush(c, NULL, 1, T0, why, sizeof(why)), 1,
	       "flush expired only: the stale one");
	is_int(sm_cache_flush(c, NULL, 1, T0, why, sizeof(why)), 0,
	       "  again: nothing");
	is_int(sm_cache_flush(c, "b.example", 1, T0 + 399, why, sizeof(why)),
	       0, "flush b expired only, still fresh: nothing");
	is_int(sm_cache_flush(c, "a.example", 1, T0 + 200, why, sizeof(why)),
	       2, "flush a expired only at T0+200: 2 types");
	is_int(sm_cache_flush(c, "a.example", 0, T0, why, sizeof(why)), 1,
	       "flush a: the last one");
	is_int(sm_cache_flush(c, "nothing.example", 0, T0, why, sizeof(why)),
	       0, "flush an absent name: nothing");
	n = 0;
	is_int(sm_cache_each(c, T0, count_only, &n, why, sizeof(why)), 1,
	       "each: only b left");
	res = get(c, "b.example", SM_RR_TLSA, T0, 1, "  b still there");
	sm_dns_result_free(res);
	is_int(sm_cache_flush(c, NULL, 0, T0, why, sizeof(why)), 1,
	       "flush all");
	n = 0;
	is_int(sm_cache_each(c2, T0 - 100000, count_only, &n, why,
			     sizeof(why)), 0, "each, second handle: none");
}

/*
 * Each child opens the file on its own, as separate daemons do, and
 * exits 0 only when every put stored its entry.
 */
static int
child(const char *path, int id)
{
	struct sm_cache *c;
	struct sm_dns_result *res;
	char name[64], cwhy[256];
	uint8_t rd[35];
	int i, bad = 0;

	if ((c = sm_cache_open(path, &params, cwhy, sizeof(cwhy))) == NULL) {
		fprintf(stderr, "child %d: %s\n", id, cwhy);
		return 2;
	}
	for (i = 0; i < NPUT; i++) {
		snprintf(name, sizeof(name), "n%03d.c%d.example", i, id);
		memset(rd, id * NPUT + i, sizeof(rd));
		rd[0] = 3;
		if ((res = sm_dns_result_new(name, SM_RR_TLSA, SM_DNS_DATA,
					     SM_DNS_SECURE)) == NULL ||
		    sm_dns_result_add(res, rd, sizeof(rd)) < 0) {
			bad = 1;
		} else {
			res->ttl = 600;
			if (sm_cache_put(c, res, T0, cwhy, sizeof(cwhy)) != 1) {
				fprintf(stderr, "child %d: put %d: %s\n", id, i,
					cwhy);
				bad = 1;
			}
		}
		sm_dns_result_free(res);
	}
	sm_cache_close(c);
	return bad;
}

static void
test_processes(const char *path)
{
	struct sm_cache *c;
	struct sm_dns_result *res;
	pid_t pids[NCHILD];
	long n = 0;
	int i, status;

	/*
	 * The children create the file together: the race to switch a new
	 * file to WAL is part of what is tested.
	 */
	fflush(stdout);
	for (i = 0; i < NCHILD; i++) {
		if ((pids[i] = fork()) < 0)
			die("fork");
		if (pids[i] == 0)
			_exit(child(path, i));
	}
	for (i = 0; i < NCHILD; i++) {
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "child %d stored all %d entries", i, NPUT);
		if (!WIFEXITED(status))
			printf("#   status %#x\n", status);
		else if (WEXITSTATUS(status) != 0)
			printf("#   exit %d\n", WEXITSTATUS(status));
	}
	c = open_or_die(path);
	is_int(sm_cache_each(c, T0, count_only, &n, why, sizeof(why)),
	       NCHILD * NPUT, "parent sees every child's entries");
	is_int(n, NCHILD * NPUT, "  callback count");
	res = get(c, "n199.c3.example", SM_RR_TLSA, T0, 1, "  last one");
	if (res != NULL)
		ok(res->count == 1 && res->rr[0].len == 35 &&
		   res->rr[0].data[0] == 3 &&
		   res->rr[0].data[34] == (uint8_t)(3 * NPUT + 199),
		   "  its RDATA intact");
	sm_dns_result_free(res);
	sm_cache_close(c);
}

/* Remove the database and whatever sqlite left beside it. */
static void
remove_db(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm",
					      "-journal" };
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]);
		unlink(buf);
	}
}


/* ------------------------------------------------------------ the file */

static const struct sm_cache_params repair = { 60, 3600, 300, 30,
					       { 0, 1, 0 } };

/* Messages of the writer thread, as a daemon would log them. */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static char msgs[64][1024];
static int nmsg;

static void
on_msg(const char *msg)
{
	pthread_mutex_lock(&msg_lock);
	if (nmsg < 64)
		sm_strlcpy(msgs[nmsg], msg, sizeof(msgs[0]));
	nmsg++;
	pthread_mutex_unlock(&msg_lock);
}

static void
msgs_clear(void)
{
	pthread_mutex_lock(&msg_lock);
	nmsg = 0;
	pthread_mutex_unlock(&msg_lock);
}

/* Messages so far that contain WORD. */
static int
msgs_with(const char *word)
{
	int i, n = 0;

	pthread_mutex_lock(&msg_lock);
	for (i = 0; i < nmsg && i < 64; i++)
		if (strstr(msgs[i], word) != NULL) {
			printf("#   message: %s\n", msgs[i]);
			n++;
		}
	pthread_mutex_unlock(&msg_lock);
	return n;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		die("write_file");
	close(fd);
}

/* The whole of PATH, malloc'd; *LEN its size. */
static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Files in the test directory whose name starts with PREFIX. */
static int
count_files(const char *prefix, char *first, size_t firstlen)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			if (n++ == 0 && first != NULL)
				snprintf(first, firstlen, "%s/%s", tmpdir,
					 e->d_name);
		}
	closedir(d);
	return n;
}

static void
remove_prefix(const char *prefix)
{
	char path[512];

	while (count_files(prefix, path, sizeof(path)) > 0)
		if (unlink(path) < 0)
			die("unlink");
}

/* Put one entry NAME and read it back through C. */
static int
works(struct sm_cache *c, const char *name)
{
	struct sm_dns_result *res = result(name, SM_RR_TLSA, SM_DNS_NXDOMAIN,
					   SM_DNS_SECURE, 0), *got = NULL;
	int rc;

	rc = sm_cache_put(c, res, T0, why, sizeof(why)) == 1;
	sm_cache_sync(c);
	rc = rc && sm_cache_get(c, name, SM_RR_TLSA, T0, &got, why,
				sizeof(why)) == 1;
	sm_dns_result_free(got);
	sm_dns_result_free(res);
	return rc;
}

/*
 * A file at db_path that is not a database: CONTENT of LEN octets.
 * Opened for a daemon, it is moved aside (kept as it was) and a new
 * database takes its place; opened for smillactl, it is an error and
 * the file is left alone.
 */
static void
test_broken(const char *label, const void *content, size_t len)
{
	char path[256], aside[512], prefix[64];
	struct sm_cache *c;
	char *kept;
	size_t klen = 0;

	path_in_tmp(path, sizeof(path), "broken.db");
	snprintf(prefix, sizeof(prefix), "broken.db.broken-");
	write_file(path, content, len);
	c = sm_cache_open(path, &params, why, sizeof(why));
	ok(c == NULL, "%s, no repair (smillactl): open fails", label);
	ok(strstr(why, path) != NULL, "  saying why: %s", why);
	is_int(count_files(prefix, NULL, 0), 0, "  nothing moved");
	sm_cache_close(c);

	c = sm_cache_open(path, &repair, why, sizeof(why));
	if (!ok(c != NULL, "%s, repair (daemons): opens", label)) {
		printf("#   %s\n", why);
		return;
	}
	ok(strstr(why, "moved aside to") != NULL && strstr(why, path) != NULL,
	   "  says so: %s", why);
	is_int(count_files(prefix, aside, sizeof(aside)), 1,
	       "  one file moved aside");
	ok(strstr(why, aside) != NULL, "  under the name it gives (%s)", aside);
	kept = read_file(aside, &klen);
	ok(kept != NULL && klen == len && memcmp(kept, content, len) == 0,
	   "  kept octet for octet (%zu octets)", klen);
	free(kept);
	ok(works(c, "after-repair.example"), "  the new database works");
	sm_cache_close(c);
	c = sm_cache_open(path, &repair, why, sizeof(why));
	ok(c != NULL && why[0] == '\0', "  opened again: no repair, no note");
	is_int(count_files(prefix, NULL, 0), 1, "  still one moved aside");
	sm_cache_close(c);
	remove_prefix(prefix);
	remove_db(path);
}

/* A real database cut short: what a full disk or a crash leaves. */
static void
test_truncated(void)
{
	char path[256];
	struct sm_cache *c;
	struct sm_dns_result *res;
	uint8_t big[1000];
	char name[64], *data;
	size_t len = 0;
	int i;

	path_in_tmp(path, sizeof(path), "cut.db");
	c = open_or_die(path);
	memset(big, 0x5a, sizeof(big));
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d.cut.example", i);
		res = result(name, SM_RR_TLSA, SM_DNS_DATA, SM_DNS_SECURE, 600);
		if (sm_dns_result_add(res, big, sizeof(big)) < 0)
			die("out of memory");
		sm_cache_put(c, res, T0, why, sizeof(why));
		sm_dns_result_free(res);
	}
	sm_cache_close(c);	/* the last close checkpoints into the file */
	data = read_file(path, &len);
	if (data == NULL || len < 100000)
		die("truncated: the database is too small");
	remove_db(path);
	test_broken("a database cut to half its size", data, len / 2);
	free(data);
}

/* Several daemons start at once on a broken file: one moves it aside. */
static void
test_broken_race(void)
{
	char path[256];
	pid_t pids[NCHILD];
	int i, status, good = 0;
	long n = 0;
	struct sm_cache *c;

	path_in_tmp(path, sizeof(path), "race.db");
	write_file(path, "not a database\n", 15);
	fflush(stdout);
	for (i = 0; i < NCHILD; i++) {
		if ((pids[i] = fork()) < 0)
			die("fork");
		if (pids[i] == 0) {
			char cwhy[512], name[64];
			int rc;

			c = sm_cache_open(path, &repair, cwhy, sizeof(cwhy));
			snprintf(name, sizeof(name), "race%d.example", i);
			if (c == NULL)
				fprintf(stderr, "child %d: %s\n", i, cwhy);
			rc = c != NULL && works(c, name) ? 0 : 1;
			if (rc != 0 && c != NULL)
				fprintf(stderr, "child %d: %s\n", i, why);
			sm_cache_close(c);
			_exit(rc);
		}
	}
	for (i = 0; i < NCHILD; i++) {
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		good += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	is_int(good, NCHILD, "broken file, 4 processes open it at once: all work");
	is_int(count_files("race.db.broken-", NULL, 0), 1,
	       "  exactly one moved it aside");
	c = open_or_die(path);
	is_int(sm_cache_each(c, T0, count_only, &n, why, sizeof(why)), NCHILD,
	       "  and all of them wrote to the same new database");
	sm_cache_close(c);
	remove_prefix("race.db.broken-");
	remove_db(path);
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 01000;
}

/* Under umask 022, new files get db_mode, -wal and -shm too. */
static void
test_mode(void)
{
	struct sm_cache_params p = params;
	char path[256], wal[300], shm[300];
	struct sm_cache *c, *c2;
	mode_t old = umask(022);

	path_in_tmp(path, sizeof(path), "mode.db");
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	c = open_or_die(path);
	c2 = open_or_die(path);	/* the -wal and -shm stay while it is open */
	ok(works(c, "mode.example"), "umask 022, default db_mode: works");
	is_int(mode_of(path), 0640, "  database 0640, not world-readable");
	is_int(mode_of(wal), 0640, "  -wal 0640");
	is_int(mode_of(shm), 0640, "  -shm 0640");
	sm_cache_close(c);
	sm_cache_close(c2);
	remove_db(path);

	p.db.mode = 0600;
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL)
		die("open 0600");
	c2 = open_or_die(path);
	ok(works(c, "mode.example"), "db_mode 0600: works");
	is_int(mode_of(path), 0600, "  database 0600");
	is_int(mode_of(wal), 0600, "  -wal 0600");
	sm_cache_close(c);
	sm_cache_close(c2);
	remove_db(path);

	p.db.mode = 0660;
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL)
		die("open 0660");
	is_int(mode_of(path), 0660, "db_mode 0660 (two daemons, one group)");
	sm_cache_close(c);
	if (chmod(path, 0644) < 0)
		die("chmod");
	c = open_or_die(path);
	is_int(mode_of(path), 0644, "an existing file keeps its mode");
	sm_cache_close(c);
	remove_db(path);
	umask(old);
}

/* Another process's open write transaction, as an admin's shell holds. */
static sqlite3 *
hold_lock(const char *path)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
		die("BEGIN EXCLUSIVE");
	return db;
}

static void
release_lock(sqlite3 *db)
{
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
}

/*
 * With the writer (the daemons): under a held lock, a put returns at
 * once and a read of a cached entry is served; the write fails after
 * the busy timeout and is reported; once the lock is gone writes work
 * and that is reported too.
 */
static void
test_locked(void)
{
	char path[256];
	struct sm_cache *c;
	struct sm_dns_result *res, *got = NULL;
	sqlite3 *lock;
	long t, slowest_put = 0, slowest_get = 0;
	int i, hits = 0;

	path_in_tmp(path, sizeof(path), "locked.db");
	if ((c = sm_cache_open(path, &repair, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	why[0] = '\0';
	ok(sm_cache_writer_start(c, on_msg, why, sizeof(why)) < 0 &&
	   strstr(why, "already running") != NULL,
	   "writer: a second one is refused, saying why (%s)", why);
	ok(works(c, "warm.example"), "writer: an entry is stored and found");
	msgs_clear();
	lock = hold_lock(path);
	res = result("new.example", SM_RR_TLSA, SM_DNS_NXDOMAIN, SM_DNS_SECURE,
		     0);
	for (i = 0; i < 20; i++) {
		t = sm_now_ms();
		sm_cache_put(c, res, T0, why, sizeof(why));
		if (sm_now_ms() - t > slowest_put)
			slowest_put = sm_now_ms() - t;
		t = sm_now_ms();
		hits += sm_cache_get(c, "warm.example", SM_RR_TLSA, T0, &got,
				     why, sizeof(why)) == 1;
		if (sm_now_ms() - t > slowest_get)
			slowest_get = sm_now_ms() - t;
		sm_dns_result_free(got);
		got = NULL;
	}
	sm_dns_result_free(res);
	ok(slowest_put < 1000, "lock held elsewhere: 20 puts, none waits "
	   "(slowest %ld ms, the busy timeout is 5000)", slowest_put);
	ok(slowest_get < 1000, "  20 reads, none waits (slowest %ld ms)",
	   slowest_get);
	is_int(hits, 20, "  the cached entry is served under the lock");
	sm_cache_sync(c);	/* the busy timeout passes */
	release_lock(lock);
	ok(msgs_with("cache write failed") == 1, "  the failed write is "
	   "reported once");
	ok(msgs_with("locked") == 1, "  saying the database is locked");
	ok(works(c, "after.example"), "lock released: writes work");
	ok(msgs_with("work again") == 1, "  and that is reported");
	sm_cache_close(c);
	remove_db(path);
}

/* Writes that fail every time: far fewer warnings than failures. */
static void
test_backoff(void)
{
	char path[256];
	struct sm_cache *c;
	struct sm_dns_result *res;
	sqlite3 *db;
	int i;

	path_in_tmp(path, sizeof(path), "fail.db");
	if ((c = sm_cache_open(path, &repair, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON dns_cache"
			 " BEGIN SELECT RAISE(ABORT, 'refused'); END", NULL,
			 NULL, NULL) != SQLITE_OK)
		die("trigger");
	msgs_clear();
	res = result("fail.example", SM_RR_TLSA, SM_DNS_NXDOMAIN,
		     SM_DNS_SECURE, 0);
	for (i = 0; i < 200; i++) {
		sm_cache_put(c, res, T0, why, sizeof(why));
		sm_cache_sync(c);	/* one failed write each */
	}
	sm_dns_result_free(res);
	is_int(msgs_with("cache write failed"), 1,
	       "200 failed writes in a row: 1 warning");
	ok(msgs_with("refused") == 1, "  with the reason");
	sqlite3_exec(db, "DROP TRIGGER refuse", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(works(c, "fixed.example"), "cause removed: writes work");
	ok(msgs_with("work again (200 entries were not stored)") == 1,
	   "  reported with the count of failures");
	sm_cache_close(c);
	remove_db(path);
}

/*
 * Reads that fail (the table dropped behind the daemon's back): with
 * the writer, misses and one warning, not an error per request.
 */
static void
test_read_errors(void)
{
	char path[256];
	struct sm_cache *c;
	struct sm_dns_result *got = NULL;
	sqlite3 *db;
	int i, misses = 0;

	path_in_tmp(path, sizeof(path), "rd.db");
	if ((c = sm_cache_open(path, &repair, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	ok(works(c, "rd.example"), "reads: an entry is stored and found");
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "DROP TABLE dns_cache", NULL, NULL, NULL) !=
		    SQLITE_OK)
		die("drop table");
	msgs_clear();
	for (i = 0; i < 100; i++) {
		misses += sm_cache_get(c, "rd.example", SM_RR_TLSA, T0, &got,
				       why, sizeof(why)) == 0;
		sm_dns_result_free(got);
		got = NULL;
	}
	is_int(misses, 100, "table dropped: 100 reads fail as misses");
	is_int(msgs_with("cache read failed"), 1, "  1 warning");
	sqlite3_exec(db, "CREATE TABLE dns_cache (qname TEXT NOT NULL,"
		     " qtype INTEGER NOT NULL, outcome INTEGER NOT NULL,"
		     " sec INTEGER NOT NULL, rcode INTEGER NOT NULL, why TEXT,"
		     " rdata BLOB, stored INTEGER NOT NULL,"
		     " expires INTEGER NOT NULL, PRIMARY KEY (qname, qtype))",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	is_int(sm_cache_get(c, "rd.example", SM_RR_TLSA, T0, &got, why,
			    sizeof(why)), 0, "table back: a plain miss");
	ok(msgs_with("cache reads work again (100 failed)") == 1,
	   "  and reads working again is reported");
	sm_cache_close(c);
	remove_db(path);
}

/*
 * The file turned to garbage under a running writer: the write that
 * finds it out fails, the file is moved aside (kept) and a new one
 * takes its place, and the next write is stored there.
 */
static void
test_corrupted(void)
{
	struct sm_cache_params p = repair;
	char path[256], aside[300];
	struct sm_cache *c;
	size_t n;
	DIR *d;
	struct dirent *e;

	path_in_tmp(path, sizeof(path), "spoilt.db");
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	ok(works(c, "one.example"), "corrupted file: before, writes work");
	msgs_clear();
	spoil(path);
	/* The read finds it out; the writer moves it aside at its next round. */
	ok(!works(c, "two.example"), "  a read from it fails (a miss)");
	ok(works(c, "three.example"), "  the next write is stored, in a new file");
	ok(msgs_with("moved aside to") == 1, "  the broken file is reported moved aside");
	ok(msgs_with("opened it again") == 1, "  and the new one opened");
	sm_cache_close(c);
	snprintf(aside, sizeof(aside), "%s.broken-", strrchr(path, '/') + 1);
	n = 0;
	*strrchr(path, '/') = '\0';
	if ((d = opendir(path)) == NULL)
		die("opendir");
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, aside, strlen(aside)) == 0) {
			char f[600];

			if (strstr(e->d_name, "-wal") == NULL &&
			    strstr(e->d_name, "-shm") == NULL)
				n++;
			snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
			unlink(f);
		}
	closedir(d);
	ok(n == 1, "  the broken file is kept beside the new one");
	path_in_tmp(path, sizeof(path), "spoilt.db");
	remove_db(path);
}

/* The file deleted under a running writer: noticed, created anew. */
static void
test_deleted(void)
{
	struct sm_cache_params p = repair;
	char path[256];
	struct sm_cache *c;
	struct stat st;

	p.db.check_s = 0;	/* the daemons look every few seconds */
	path_in_tmp(path, sizeof(path), "gone.db");
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	ok(works(c, "one.example"), "deleted file: before, writes work");
	msgs_clear();
	remove_db(path);
	ok(works(c, "two.example"), "  after deletion, a write is stored");
	ok(msgs_with("was deleted") == 1, "  the deletion is reported");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == SM_DB_MODE,
	   "  the file exists again, mode 0640");
	sm_cache_close(c);
	c = open_or_die(path);
	{
		struct sm_dns_result *got = NULL;

		is_int(sm_cache_get(c, "two.example", SM_RR_TLSA, T0, &got,
				    why, sizeof(why)), 1,
		       "  what was written after is in the new file");
		sm_dns_result_free(got);
	}
	sm_cache_close(c);

	/* Replaced by another file (a restored backup, say). */
	if ((c = sm_cache_open(path, &p, why, sizeof(why))) == NULL ||
	    sm_cache_writer_start(c, on_msg, NULL, 0) < 0)
		die("open with writer");
	msgs_clear();
	{
		char other[300];
		struct sm_cache *o;

		snprintf(other, sizeof(other), "%s.new", path);
		o = open_or_die(other);
		sm_cache_close(o);
		if (rename(other, path) < 0)
			die("rename");
	}
	ok(works(c, "three.example"), "replaced file: a write is stored");
	ok(msgs_with("replaced by another file") == 1, "  reported");
	sm_cache_close(c);
	remove_db(path);
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_cache_close(NULL);
	ok(1, "sm_cache_close(NULL) is a no-op");
}

int
main(void)
{
	struct sm_cache *c, *c2;
	struct sm_dns_result *res;
	char db[128], conc[128], missing[128];

	free_null();
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp");
	path_in_tmp(db, sizeof(db), "cache.db");
	path_in_tmp(conc, sizeof(conc), "shared.db");
	path_in_tmp(missing, sizeof(missing), "no/such/dir/cache.db");

	test_lifetime();

	c = open_or_die(db);
	ok(1, "open %s", db);
	c2 = open_or_die(db);
	ok(1, "open it twice");
	test_round_trip(c);
	test_expiry(c);

	/* The second handle sees the first one's writes. */
	res = result("shared.example", SM_RR_TLSA, SM_DNS_NXDOMAIN,
		     SM_DNS_SECURE, 0);
	put(c, res, T0, 1, "put on the first handle");
	sm_dns_result_free(res);
	res = get(c2, "shared.example", SM_RR_TLSA, T0, 1,
		  "get on the second handle");
	if (res != NULL)
		is_int(res->outcome, SM_DNS_NXDOMAIN, "  nxdomain");
	sm_dns_result_free(res);

	test_each_flush(c, c2);
	sm_cache_close(c);
	sm_cache_close(c2);
	sm_cache_close(NULL);

	/* Reopened, the data is still there (it is a file, after all). */
	c = open_or_die(db);
	res = result("persist.example", SM_RR_TLSA, SM_DNS_NODATA,
		     SM_DNS_INSECURE, 0);
	put(c, res, T0, 1, "put before close");
	sm_dns_result_free(res);
	sm_cache_close(c);
	c = open_or_die(db);
	res = get(c, "persist.example", SM_RR_TLSA, T0, 1,
		  "found after close and reopen");
	sm_dns_result_free(res);
	sm_cache_close(c);

	why[0] = '\0';
	c = sm_cache_open(missing, &params, why, sizeof(why));
	ok(c == NULL, "open in a missing directory fails");
	ok(strstr(why, missing) != NULL, "  reason names the path: %s", why);
	sm_cache_close(c);

	/* No handle is open across fork(): sqlite forbids it. */
	test_processes(conc);

	{
		char junk[4096];
		size_t i;

		for (i = 0; i < sizeof(junk); i++)	/* any octets, fixed */
			junk[i] = (char)(i * 131 + 7);
		test_broken("4 KB of garbage", junk, sizeof(junk));
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = "db_path = /var/lib/smilla/smilla.db\n"[i % 36];
		test_broken("4 KB of text", junk, sizeof(junk));
	}
	test_truncated();
	test_broken_race();
	test_mode();
	test_locked();
	test_backoff();
	test_read_errors();
	test_deleted();
	test_corrupted();

	remove_db(db);
	remove_db(conc);
	ok(rmdir(tmpdir) == 0, "temporary directory removed");
	return done_testing();
}
