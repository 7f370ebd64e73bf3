/*
 * table.c - domain/host/address lists.  Entries are kept sorted so a
 * match costs one binary search per label of the name.  The contract
 * is table.h.
 *
 *   sm_table_load(path, why, whylen) / sm_table_load_flags(path, flags, ...)
 *   sm_table_match(t, name) / sm_table_count(t) / sm_table_free(t)
 *
 * Address entries are parsed like a RCPT argument (sm_addr_parse), so
 * the table and the milter agree on what one mailbox is; with
 * SM_TABLE_FOLD_LOCAL they are stored in lowercase and names are folded
 * before the search.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "names.h"
#include "table.h"
#include "util.h"

struct sm_table {
	char **v;	/* "name" exact, ".name" subdomains, "a@b" address */
	size_t n, cap;
	int flags;	/* SM_TABLE_* */
};

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
add(struct sm_table *t, const char *entry)
{
	char **grown;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;

		if ((grown = realloc(t->v, cap * sizeof(*grown))) == NULL)
			return -1;
		t->v = grown;
		t->cap = cap;
	}
	if ((t->v[t->n] = strdup(entry)) == NULL)
		return -1;
	t->n++;
	return 0;
}

/* Normalise one entry into OUT; -1 with WHY for a bad one. */
static int
normalise(const char *in, int flags, char *out, size_t outlen, char *why,
	  size_t whylen)
{
	char host[SM_NAME_BUF];
	struct sm_addr a;
	int sub = in[0] == '.';

	if (strchr(in, '@') != NULL) {
		if (sub || sm_addr_parse(in, &a, why, whylen) != SM_ADDR_OK)
			return sub ? (sm_why(why, whylen, "bad address \"%s\"",
					     in), -1) : -1;
		if (a.literal || a.postmaster) {
			sm_addr_clear(&a);
			return sm_why(why, whylen, "not a mail domain"), -1;
		}
		if (sm_strlcpy(out, a.addr, outlen) >= outlen) {
			sm_addr_clear(&a);
			return sm_why(why, whylen, "entry too long"), -1;
		}
		sm_addr_clear(&a);
		if (flags & SM_TABLE_FOLD_LOCAL)
			sm_addr_fold(out);
		return 0;
	}
	if (sm_names_host(in + sub, host, sizeof(host), why, whylen) < 0)
		return -1;
	snprintf(out, outlen, "%s%s", sub ? "." : "", host);
	return 0;
}

struct sm_table *
sm_table_load(const char *path, char *why, size_t whylen)
{
	return sm_table_load_flags(path, 0, why, whylen);
}

struct sm_table *
sm_table_load_flags(const char *path, int flags, char *why, size_t whylen)
{
	struct sm_table *t;
	FILE *fp;
	char line[1024], entry[SM_NAME_BUF + 300], inner[256];
	unsigned lineno = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		sm_why(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		fclose(fp);
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	t->flags = flags;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line, *e;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			sm_why(why, whylen, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (strpbrk(p, " \t") != NULL) {
			sm_why(why, whylen, "%s:%u: one entry per line", path,
			       lineno);
			goto fail;
		}
		if (normalise(p, flags, entry, sizeof(entry), inner, sizeof(inner)) < 0) {
			sm_why(why, whylen, "%s:%u: %s: %s", path, lineno, p,
			       inner);
			goto fail;
		}
		if (add(t, entry) < 0) {
			sm_why(why, whylen, "out of memory");
			goto fail;
		}
	}
	fclose(fp);
	if (t->n > 0)
		qsort(t->v, t->n, sizeof(*t->v), cmp);
	return t;
fail:
	fclose(fp);
	sm_table_free(t);
	return NULL;
}

void
sm_table_free(struct sm_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t);
}

static int
has(const struct sm_table *t, const char *key)
{
	return t->n > 0 &&
	       bsearch(&key, t->v, t->n, sizeof(*t->v), cmp) != NULL;
}

int
sm_table_match(const struct sm_table *t, const char *name)
{
	/* No entry is longer than what load() holds: a longer address
	   can only match through its domain. */
	char buf[SM_NAME_BUF + 300];
	const char *at, *p;
	size_t len, i;

	if (t == NULL || name == NULL || *name == '\0')
		return 0;
	at = strrchr(name, '@');
	if ((len = strlen(name)) < sizeof(buf)) {
		memcpy(buf, name, len + 1);
		/* Domains compare in lowercase; local parts by the flag. */
		for (i = at && !(t->flags & SM_TABLE_FOLD_LOCAL) ?
				 (size_t)(at - name) : 0; i < len; i++)
			buf[i] = (char)tolower((unsigned char)buf[i]);
		if (has(t, buf))
			return 1;
		if (at == NULL)
			p = buf;
		else
			p = buf + (at - name) + 1;
	} else {
		if (at == NULL || strlen(at + 1) >= sizeof(buf))
			return 0;
		for (i = 0, p = at + 1; p[i] != '\0'; i++)
			buf[i] = (char)tolower((unsigned char)p[i]);
		buf[i] = '\0';
		p = buf;
	}
	/* An address also matches through its domain. */
	if (at != NULL && has(t, p))
		return 1;
	for (; (p = strchr(p, '.')) != NULL; p++)
		if (has(t, p))
			return 1;
	return 0;
}

size_t
sm_table_count(const struct sm_table *t)
{
	return t ? t->n : 0;
}
