/*
 * test_table - require/lookup table files: exact names, ".domain"
 * wildcards, addresses, comments, and errors with file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"
#include "tap.h"

static char path[] = "/tmp/smilla-test-table-XXXXXX";

struct match_case {
	const char *name;
	int want;
};

static struct sm_table *
load_flags(const char *text, int flags, char *why, size_t whylen)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	return sm_table_load_flags(path, flags, why, whylen);
}

static struct sm_table *
load(const char *text, char *why, size_t whylen)
{
	return load_flags(text, 0, why, whylen);
}

/* A canonical address with a LEN-octet local part at DOMAIN. */
static char *
long_addr(size_t len, const char *domain)
{
	char *s = malloc(len + strlen(domain) + 2);

	memset(s, 'a', len);
	sprintf(s + len, "@%s", domain);
	return s;
}

/* Address entries: quoted forms, local-part case, any length. */
static void
test_addresses(void)
{
	static const struct match_case folded[] = {
		{ "carol@corp.test", 1 },
		{ "CAROL@corp.test", 1 },	/* folded name */
		{ "must@corp.test", 1 },	/* entry written "Must" */
		{ "MUST@CORP.TEST", 1 },
		{ "\"a@b\"@corp.test", 1 },	/* canonical quoted entry */
		{ "\"A@B\"@corp.test", 1 },
		{ "dave@corp.test", 0 },
	};
	static const struct match_case exact[] = {
		{ "carol@corp.test", 1 },	/* entry written "carol" */
		{ "CAROL@corp.test", 0 },
		{ "Must@corp.test", 1 },
		{ "must@corp.test", 0 },
		{ "\"a@b\"@corp.test", 1 },
		{ "\"A@B\"@corp.test", 0 },
	};
	const char *text = "\"carol\"@corp.test\nMust@Corp.test\n"
			   "\"a\\@b\"@corp.test\n";
	struct sm_table *t;
	char why[512], *name;
	size_t i;

	t = load_flags(text, SM_TABLE_FOLD_LOCAL, why, sizeof(why));
	if (!ok(t != NULL, "folding table loads %s", t ? "" : why))
		return;
	for (i = 0; i < sizeof(folded) / sizeof(folded[0]); i++)
		is_int(sm_table_match(t, folded[i].name), folded[i].want,
		       folded[i].name);
	sm_table_free(t);
	t = load(text, why, sizeof(why));
	if (!ok(t != NULL, "exact table loads %s", t ? "" : why))
		return;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		is_int(sm_table_match(t, exact[i].name), exact[i].want,
		       exact[i].name);
	sm_table_free(t);

	/* A long address still matches through its domain. */
	t = load("corp.test\n.partner.test\n", why, sizeof(why));
	name = long_addr(1000, "CORP.test");
	is_int(sm_table_match(t, name), 1,
	       "a 1000-octet local part at a listed domain matches");
	free(name);
	name = long_addr(1000, "a.partner.test");
	is_int(sm_table_match(t, name), 1, "  and below a listed .domain");
	free(name);
	name = long_addr(1000, "other.test");
	is_int(sm_table_match(t, name), 0, "  not at another domain");
	free(name);
	sm_table_free(t);
	t = load("\"bad\"x@corp.test\n", why, sizeof(why));
	ok(t == NULL && strstr(why, ":1:") != NULL, "bad address entry: %s",
	   why);
	t = load("user@[127.0.0.1]\n", why, sizeof(why));
	ok(t == NULL && strstr(why, ":1:") != NULL, "address literal entry: %s",
	   why);
}

static const struct match_case cases[] = {
	{ "mx.example.test", 1 },	/* exact */
	{ "MX.Example.Test", 1 },	/* case folded */
	{ "a.mx.example.test", 0 },	/* exact entry covers no subdomains */
	{ "example.test", 0 },
	{ "a.partner.test", 1 },	/* .partner.test */
	{ "a.b.partner.test", 1 },
	{ "partner.test", 0 },		/* wildcard not the domain itself */
	{ "xpartner.test", 0 },
	{ "xn--bcher-kva.example", 1 },	/* entry written as a U-label */
	{ "boss@corp.test", 1 },	/* address entry */
	{ "Boss@corp.test", 0 },	/* local part case matters */
	{ "boss@CORP.test", 1 },	/* domain does not */
	{ "anyone@a.partner.test", 1 },	/* address through its domain */
	{ "corp.test", 0 },
	{ "", 0 },
};

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_table_free(NULL);
	ok(1, "sm_table_free(NULL) is a no-op");
}

int
main(void)
{
	struct sm_table *t;
	char why[512];
	size_t i;
	int fd = mkstemp(path);

	free_null();
	if (fd < 0)
		return 1;
	close(fd);
	t = load("# clients that must authenticate\n"
		 "mx.example.test\n"
		 "\n"
		 "   .partner.test   \n"
		 "b\xc3\xbc" "cher.example\n"
		 "boss@corp.test\n", why, sizeof(why));
	if (!ok(t != NULL, "table loads %s", t ? "" : why))
		return done_testing();
	is_int((long)sm_table_count(t), 4, "four entries");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(sm_table_match(t, cases[i].name), cases[i].want,
		       cases[i].name[0] ? cases[i].name : "(empty)");
	ok(sm_table_match(NULL, "mx.example.test") == 0, "NULL table matches nothing");
	sm_table_free(t);
	test_addresses();

	t = load("ok.example.test\nbad_name.example\n", why, sizeof(why));
	ok(t == NULL && strstr(why, ":2: bad_name.example:") != NULL,
	   "bad entry: %s", why);
	t = load("two names.example\n", why, sizeof(why));
	ok(t == NULL && strstr(why, ":1: one entry per line") != NULL,
	   "two entries on a line: %s", why);
	t = load("@example.test\n", why, sizeof(why));
	ok(t == NULL && strstr(why, ":1:") != NULL, "empty local part: %s", why);
	t = load("", why, sizeof(why));
	ok(t != NULL && sm_table_count(t) == 0 &&
	   sm_table_match(t, "a.test") == 0, "empty table");
	sm_table_free(t);
	unlink(path);
	ok(sm_table_load(path, why, sizeof(why)) == NULL &&
	   strstr(why, "No such file") != NULL, "missing file: %s", why);
	return done_testing();
}
