/*
 * test_metrics - the metrics writer: the exposition format byte for
 * byte (HELP, TYPE, one line per label value, families in the order
 * added), the escaping of help texts and label values, NULL families
 * and unknown codes ignored, exact counts from several threads at
 * once, and the file replaced atomically (a reader holding the old
 * file keeps it whole; a failed write leaves the old file and no
 * PATH.tmp).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "metrics.h"
#include "tap.h"

static const struct sm_name_code odd[] = {
	{ "plain", 0 },
	{ "say \"hi\"", 1 },
	{ "back\\slash", 2 },
	{ "two\nlines", 3 },
	{ NULL, -1 }
};

static char *
printed(const struct sm_metrics *m)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	memset(buf, 0, sizeof(buf));
	if (f == NULL || sm_metrics_print(m, f) < 0)
		return NULL;
	fclose(f);
	return buf;
}

static void
test_format(void)
{
	struct sm_metrics *m = sm_metrics_new();
	struct sm_metric *c, *g, *e;

	c = sm_metrics_add(m, SM_METRIC_COUNTER, "smilla_x_total",
			   "decisions, per result", "result", sm_result_names);
	g = sm_metrics_add(m, SM_METRIC_GAUGE, "smilla_inflight",
			   "lookups in flight", NULL, NULL);
	e = sm_metrics_add(m, SM_METRIC_COUNTER, "smilla_odd_total",
			   "help with \\ and\nnewline \"as is\"", "v", odd);
	ok(c && g && e, "families added");
	sm_metric_add(c, SM_RESULT_PASS, 3);
	sm_metric_add(c, SM_RESULT_TEMPERROR, 1);
	sm_metric_add(c, SM_RESULT_PASS, 2);
	sm_metric_add(g, 0, 5);
	sm_metric_add(g, 0, -2);
	sm_metric_add(e, 1, 7);
	sm_metric_set(e, 3, 9);
	/* Ignored: no such series, no family. */
	sm_metric_add(c, SM_NRESULTS, 1);
	sm_metric_add(c, -1, 1);
	sm_metric_add(g, 1, 1);
	sm_metric_add(NULL, 0, 1);
	sm_metric_set(NULL, 0, 1);
	is_int(sm_metric_get(c, SM_RESULT_PASS), 5, "get: pass 5");
	is_int(sm_metric_get(g, 0), 3, "gauge goes down too");
	is_int(sm_metric_get(NULL, 0), 0, "get of NULL: 0");
	is_str(printed(m),
	       "# HELP smilla_x_total decisions, per result\n"
	       "# TYPE smilla_x_total counter\n"
	       "smilla_x_total{result=\"pass\"} 5\n"
	       "smilla_x_total{result=\"fail\"} 0\n"
	       "smilla_x_total{result=\"none\"} 0\n"
	       "smilla_x_total{result=\"nocert\"} 0\n"
	       "smilla_x_total{result=\"unusable\"} 0\n"
	       "smilla_x_total{result=\"bogus\"} 0\n"
	       "smilla_x_total{result=\"temperror\"} 1\n"
	       "# HELP smilla_inflight lookups in flight\n"
	       "# TYPE smilla_inflight gauge\n"
	       "smilla_inflight 3\n"
	       "# HELP smilla_odd_total help with \\\\ and\\nnewline "
	       "\"as is\"\n"
	       "# TYPE smilla_odd_total counter\n"
	       "smilla_odd_total{v=\"plain\"} 0\n"
	       "smilla_odd_total{v=\"say \\\"hi\\\"\"} 7\n"
	       "smilla_odd_total{v=\"back\\\\slash\"} 0\n"
	       "smilla_odd_total{v=\"two\\nlines\"} 9\n",
	       "exposition format, escaped help and label values");
	ok(sm_metrics_add(NULL, SM_METRIC_GAUGE, "x", "x", NULL, NULL) == NULL,
	   "no registry: NULL family");
	{
		struct sm_metric *a = c, *b = c;
		const struct sm_metric_def defs[] = {
			{ &a, SM_METRIC_GAUGE, "a", "a", NULL, NULL },
			{ &b, SM_METRIC_GAUGE, "b", "b", NULL, NULL },
		};

		is_int(sm_metrics_add_all(NULL, defs, 2), -1,
		       "add_all without a registry: -1");
		ok(a == NULL && b == NULL, "  and every family NULL");
		is_int(sm_metrics_add_all(m, defs, 2), 0, "add_all: 0");
		ok(a != NULL && b != NULL && a != b, "  two families");
	}
	sm_metrics_free(m);
	sm_metrics_free(NULL);
}

#define THREADS 4
#define ADDS 100000

static void *
adder(void *arg)
{
	int i;

	for (i = 0; i < ADDS; i++)
		sm_metric_add(arg, i % 2, 1);
	return NULL;
}

static void
test_threads(void)
{
	struct sm_metrics *m = sm_metrics_new();
	struct sm_metric *c = sm_metrics_add(m, SM_METRIC_COUNTER, "t_total",
					     "t", "f", sm_format_names);
	pthread_t t[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, adder, c);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	is_int(sm_metric_get(c, 0) + sm_metric_get(c, 1), THREADS * ADDS,
	       "no addition lost between threads");
	sm_metrics_free(m);
}

static char *
slurp(FILE *f)
{
	static char buf[4096];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void
test_file(void)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[256], tmp[300];
	char why[512] = "", first[4096];
	struct sm_metrics *m = sm_metrics_new();
	struct sm_metric *g = sm_metrics_add(m, SM_METRIC_GAUGE, "g", "g",
					     NULL, NULL);
	struct stat st1, st2;
	FILE *old, *now;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/smilla.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	sm_metric_set(g, 0, 1);
	umask(077);
	is_int(sm_metrics_write(m, path, why, sizeof(why)), 0, "first write");
	old = fopen(path, "r");
	ok(old != NULL && stat(path, &st1) == 0, "file there");
	snprintf(first, sizeof(first), "%s", old ? slurp(old) : "");
	is_str(first, "# HELP g g\n# TYPE g gauge\ng 1\n", "its content");
	sm_metric_set(g, 0, 2);
	is_int(sm_metrics_write(m, path, why, sizeof(why)), 0, "second write");
	ok(stat(path, &st2) == 0 && st1.st_ino != st2.st_ino,
	   "replaced by another file (rename), not rewritten in place");
	is_str(old ? slurp(old) : "", first,
	       "a reader of the old file still reads it whole");
	now = fopen(path, "r");
	is_str(now ? slurp(now) : "", "# HELP g g\n# TYPE g gauge\ng 2\n",
	       "the new content under the name");
	ok(access(tmp, F_OK) < 0, "no PATH.tmp left");
	ok(stat(path, &st2) == 0 && (st2.st_mode & 07777) == 0644,
	   "mode 0644 under umask 077");
	/* A link planted at PATH.tmp is replaced, not written through. */
	symlink("victim", tmp);
	is_int(sm_metrics_write(m, path, why, sizeof(why)), 0,
	       "write with a link at PATH.tmp");
	snprintf(first, sizeof(first), "%s/victim", dir);
	ok(access(first, F_OK) < 0, "the link's target was not made");
	if (old)
		fclose(old);
	if (now)
		fclose(now);
	/* A directory where the file should be: the rename fails. */
	unlink(path);
	mkdir(path, 0700);
	is_int(sm_metrics_write(m, path, why, sizeof(why)), -1,
	       "rename over a directory fails");
	ok(strstr(why, "smilla.prom.tmp") != NULL, "WHY names the file: %s",
	   why);
	ok(access(tmp, F_OK) < 0, "PATH.tmp removed after the failure");
	rmdir(path);
	snprintf(path, sizeof(path), "%s/no/such/dir", dir);
	is_int(sm_metrics_write(m, path, why, sizeof(why)), -1,
	       "missing directory: -1");
	rmdir(dir);
	sm_metrics_free(m);
}

int
main(void)
{
	test_format();
	test_threads();
	test_file();
	return done_testing();
}
