/*
 * metrics.c - counters and gauges in the Prometheus text format; the
 * contract is metrics.h.
 *
 *   sm_metrics_new() / sm_metrics_free(m)     the registry
 *   sm_metrics_add(m, type, name, help, label, values)
 *   sm_metrics_add_all(m, defs, n)            families, from a table
 *   sm_metric_add(x, code, n) / sm_metric_set(x, code, v) /
 *   sm_metric_get(x, code)                    one series, any thread
 *   sm_metrics_print(m, f)                    the exposition format
 *   sm_metrics_write(m, path, why, whylen)    to PATH, atomically
 *
 * Each family owns an array of atomic longs, one per label value; the
 * registry is a list in the order families were added.  Relaxed
 * atomics suffice: a value is only ever read whole, and a file
 * written while other threads count is a snapshot of some moment per
 * series, which is what a scrape is anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "metrics.h"
#include "util.h"

struct sm_metric {
	enum sm_metric_type type;
	const char *name, *help, *label;
	const struct sm_name_code *values;
	size_t n;
	_Atomic long *v;
	struct sm_metric *next;
};

struct sm_metrics {
	struct sm_metric *head, **tail;
};

struct sm_metrics *
sm_metrics_new(void)
{
	struct sm_metrics *m = calloc(1, sizeof(*m));

	if (m != NULL)
		m->tail = &m->head;
	return m;
}

void
sm_metrics_free(struct sm_metrics *m)
{
	struct sm_metric *x, *next;

	if (m == NULL)
		return;
	for (x = m->head; x != NULL; x = next) {
		next = x->next;
		free(x->v);
		free(x);
	}
	free(m);
}

struct sm_metric *
sm_metrics_add(struct sm_metrics *m, enum sm_metric_type type,
	       const char *name, const char *help, const char *label,
	       const struct sm_name_code *values)
{
	struct sm_metric *x;
	size_t n = 1, i;

	if (m == NULL)
		return NULL;
	if (label != NULL)
		for (n = 0; values[n].name != NULL; n++)
			;
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->v = calloc(n ? n : 1, sizeof(*x->v))) == NULL) {
		free(x);
		return NULL;
	}
	x->type = type;
	x->name = name;
	x->help = help;
	x->label = label;
	x->values = label != NULL ? values : NULL;
	x->n = n;
	for (i = 0; i < n; i++)
		atomic_init(&x->v[i], 0);
	*m->tail = x;
	m->tail = &x->next;
	return x;
}

int
sm_metrics_add_all(struct sm_metrics *m, const struct sm_metric_def *defs,
		   size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((*defs[i].out = sm_metrics_add(m, defs[i].type,
						   defs[i].name, defs[i].help,
						   defs[i].label,
						   defs[i].values)) == NULL)
			break;
	if (i == n)
		return 0;
	for (i = 0; i < n; i++)
		*defs[i].out = NULL;
	return -1;
}

/* The slot of CODE in X, NULL when there is none. */
static _Atomic long *
slot(const struct sm_metric *x, int code)
{
	size_t i;

	if (x == NULL || code < 0)
		return NULL;
	if (x->values == NULL)
		return code == 0 ? &x->v[0] : NULL;
	/* The tables are in code order; look when one is not. */
	if ((size_t)code < x->n && x->values[code].code == code)
		return &x->v[code];
	for (i = 0; i < x->n; i++)
		if (x->values[i].code == code)
			return &x->v[i];
	return NULL;
}

void
sm_metric_add(struct sm_metric *x, int code, long n)
{
	_Atomic long *p = slot(x, code);

	if (p != NULL)
		atomic_fetch_add_explicit(p, n, memory_order_relaxed);
}

void
sm_metric_set(struct sm_metric *x, int code, long v)
{
	_Atomic long *p = slot(x, code);

	if (p != NULL)
		atomic_store_explicit(p, v, memory_order_relaxed);
}

long
sm_metric_get(const struct sm_metric *x, int code)
{
	_Atomic long *p = slot(x, code);

	return p != NULL ? atomic_load_explicit(p, memory_order_relaxed) : 0;
}

/*
 * TEXT as the format wants it: in HELP, backslash and newline escaped;
 * in a label value (QUOTE), the double quote too.
 */
static void
put_escaped(FILE *f, const char *text, int quote)
{
	for (; *text != '\0'; text++)
		if (*text == '\\')
			fputs("\\\\", f);
		else if (*text == '\n')
			fputs("\\n", f);
		else if (quote && *text == '"')
			fputs("\\\"", f);
		else
			putc(*text, f);
}

int
sm_metrics_print(const struct sm_metrics *m, FILE *f)
{
	const struct sm_metric *x;
	size_t i;

	for (x = m->head; x != NULL; x = x->next) {
		fprintf(f, "# HELP %s ", x->name);
		put_escaped(f, x->help, 0);
		fprintf(f, "\n# TYPE %s %s\n", x->name,
			x->type == SM_METRIC_COUNTER ? "counter" : "gauge");
		for (i = 0; i < x->n; i++) {
			fputs(x->name, f);
			if (x->values != NULL) {
				fprintf(f, "{%s=\"", x->label);
				put_escaped(f, x->values[i].name, 1);
				fputs("\"}", f);
			}
			fprintf(f, " %ld\n",
				atomic_load_explicit(&x->v[i],
						     memory_order_relaxed));
		}
	}
	return ferror(f) ? -1 : 0;
}

int
sm_metrics_write(const struct sm_metrics *m, const char *path, char *why,
		 size_t whylen)
{
	char tmp[4096];
	FILE *f;
	int fd, rc, e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		sm_why(why, whylen, "%s: name too long", path);
		return -1;
	}
	/*
	 * A new file each time, never written through a link left at
	 * the name; 0644 whatever the umask: the exporter reads it.
	 */
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0644)) < 0 ||
	    fchmod(fd, 0644) < 0 || (f = fdopen(fd, "w")) == NULL) {
		sm_why(why, whylen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	rc = sm_metrics_print(m, f);
	e = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -1;
		e = errno;
	}
	if (rc < 0) {
		sm_why(why, whylen, "%s: %s", tmp, strerror(e));
		unlink(tmp);
	}
	return rc;
}
