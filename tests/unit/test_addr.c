/*
 * test_addr - RCPT paths into canonical addresses (RFC 5321 4.1.2):
 * quoting, quoted pairs, source routes, address literals, the one
 * domain-less mailbox, bounds, and what is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

struct parse_case {
	const char *in;
	enum sm_addr_status want;
	const char *addr;	/* canonical form */
	const char *local;	/* unquoted local part */
};

static const struct parse_case cases[] = {
	/* Expect: the plain form; domain normalised, case of local kept. */
	{ "<carol@x.test>", SM_ADDR_OK, "carol@x.test", "carol" },
	{ "  <CAROL@X.Test>  ", SM_ADDR_OK, "CAROL@x.test", "CAROL" },
	{ "carol@x.test", SM_ADDR_OK, "carol@x.test", "carol" },
	/* Expect: quotes that change nothing are dropped. */
	{ "<\"carol\"@x.test>", SM_ADDR_OK, "carol@x.test", "carol" },
	{ "<\"Must\"@x.test>", SM_ADDR_OK, "Must@x.test", "Must" },
	{ "<\"first.last\"@x.test>", SM_ADDR_OK, "first.last@x.test",
	  "first.last" },
	/* Expect: quoted pairs resolved. */
	{ "<\"ca\\rol\"@x.test>", SM_ADDR_OK, "carol@x.test", "carol" },
	{ "<\"\\c\\a\\r\\o\\l\"@x.test>", SM_ADDR_OK, "carol@x.test", "carol" },
	/* Expect: one canonical quoted form when quoting is needed. */
	{ "<\"a b\"@x.test>", SM_ADDR_OK, "\"a b\"@x.test", "a b" },
	{ "<\"a\\ b\"@x.test>", SM_ADDR_OK, "\"a b\"@x.test", "a b" },
	{ "<\"a\\\"b\"@x.test>", SM_ADDR_OK, "\"a\\\"b\"@x.test", "a\"b" },
	{ "<\"a\\\\b\"@x.test>", SM_ADDR_OK, "\"a\\\\b\"@x.test", "a\\b" },
	{ "<\"a@b\"@x.test>", SM_ADDR_OK, "\"a@b\"@x.test", "a@b" },
	{ "<\"a..b\"@x.test>", SM_ADDR_OK, "\"a..b\"@x.test", "a..b" },
	{ "<\"\"@x.test>", SM_ADDR_OK, "\"\"@x.test", "" },
	/* Expect: source route dropped. */
	{ "<@relay.test:carol@x.test>", SM_ADDR_OK, "carol@x.test", "carol" },
	{ "<@r1.test,@r2.test:\"carol\"@x.test>", SM_ADDR_OK, "carol@x.test",
	  "carol" },
	/* Expect: atext and UTF-8 local parts. */
	{ "<a+b!#$%&'*/=?^_`{|}~-c@x.test>", SM_ADDR_OK,
	  "a+b!#$%&'*/=?^_`{|}~-c@x.test", "a+b!#$%&'*/=?^_`{|}~-c" },
	{ "<j\xc3\xb6rg@x.test>", SM_ADDR_OK, "j\xc3\xb6rg@x.test",
	  "j\xc3\xb6rg" },
	/* Expect: address literals, lowercased. */
	{ "<user@[127.0.0.1]>", SM_ADDR_OK, "user@[127.0.0.1]", "user" },
	{ "<user@[IPv6:2001:DB8::1]>", SM_ADDR_OK, "user@[ipv6:2001:db8::1]",
	  "user" },
	/* Expect: the domain-less postmaster of section 4.1.1.3. */
	{ "<Postmaster>", SM_ADDR_OK, "postmaster", "Postmaster" },
	/* Expect: refused. */
	{ "<>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "", SM_ADDR_SYNTAX, NULL, NULL },
	{ "no-domain", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@x.test", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<.carol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol.@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<ca..rol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<ca rol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<ca(rol)@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<\"carol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<\"carol\"x@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<\"ca\x01rol\"@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<\"carol\\\x01\"@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<\"carol\\\"@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<ca\x1b[31mrol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@x.test@y.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@-bad-.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@[300.1.1.1]>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@[IPv6:zz::1]>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<@relay.test carol@x.test>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<@relay.test:>", SM_ADDR_SYNTAX, NULL, NULL },
	{ "<carol@x.test> junk", SM_ADDR_SYNTAX, NULL, NULL },
};

static void
test_bounds(void)
{
	char *arg = malloc(SM_ADDR_MAX + 64), why[256];
	struct sm_addr a;
	size_t n;

	/* Just at the bound: held (the local part is long, not wrong). */
	n = SM_ADDR_MAX - strlen("@x.test");
	arg[0] = '<';
	memset(arg + 1, 'a', n);
	strcpy(arg + 1 + n, "@x.test>");
	is_int(sm_addr_parse(arg, &a, why, sizeof(why)), SM_ADDR_OK,
	       "a path of exactly SM_ADDR_MAX octets is held");
	ok(a.addr != NULL && strlen(a.addr) == SM_ADDR_MAX &&
	   a.domain_at == n + 1, "  all of it");
	sm_addr_clear(&a);
	/* One more: refused, whatever the domain. */
	memset(arg + 1, 'a', n + 1);
	strcpy(arg + 2 + n, "@x.test>");
	is_int(sm_addr_parse(arg, &a, why, sizeof(why)), SM_ADDR_TOO_LONG,
	       "one octet more is too long");
	ok(strstr(why, "1024") != NULL && a.addr == NULL && a.local == NULL,
	   "  says the bound, holds nothing: %s", why);
	/* 1100 octets of local part: too long. */
	free(arg);
	arg = malloc(1200);
	arg[0] = '<';
	memset(arg + 1, 'b', 1100);
	strcpy(arg + 1101, "@x.test>");
	is_int(sm_addr_parse(arg, &a, why, sizeof(why)), SM_ADDR_TOO_LONG,
	       "an 1100-octet local part is too long");
	/* A general address literal longer than a name (found by
	   fuzz_addr: it was cut, and its canonical form did not parse). */
	strcpy(arg, "<u@[x:");
	memset(arg + 6, 'y', 300);
	strcpy(arg + 306, "]>");
	is_int(sm_addr_parse(arg, &a, why, sizeof(why)), SM_ADDR_SYNTAX,
	       "a 300-octet address literal is refused");
	free(arg);
}

static void
test_fold(void)
{
	char s[] = "CaRoL\xc3\x96@x.test";

	ok(sm_addr_has_upper(s) && !sm_addr_has_upper("carol@x.test"),
	   "has_upper");
	sm_addr_fold(s);
	is_str(s, "carol\xc3\x96@x.test", "fold: ASCII only");
	ok(sm_addr_same("CAROL@x.test", "carol@x.test", 1) &&
	   !sm_addr_same("CAROL@x.test", "carol@x.test", 0) &&
	   !sm_addr_same("carol@x.test", "carol@x.tes", 1) &&
	   !sm_addr_same("carol@x.tes", "carol@x.test", 1) &&
	   sm_addr_same("carol@x.test", "carol@x.test", 0),
	   "same: folded or exact");
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_addr_clear(NULL);
	ok(1, "sm_addr_clear(NULL) is a no-op");
}

/* From fields: how many mailboxes, and the first one canonical. */
static void
test_from(void)
{
	static const struct {
		const char *value, *addr;	/* addr NULL: none parsed */
		int n;
	} from_cases[] = {
		{ "alice@smilla.test", "alice@smilla.test", 1 },
		{ " Alice <alice@Smilla.TEST>", "alice@smilla.test", 1 },
		{ "\"Doe, Jane\" <jane@x.test>", "jane@x.test", 1 },
		{ "=?utf-8?q?J=C3=B6rg?= <joerg@x.test>", "joerg@x.test", 1 },
		{ "jane@x.test (Jane, at home)", "jane@x.test", 1 },
		{ "Jane (the <real> one) <jane@x.test>", "jane@x.test", 1 },
		{ "Jane\r\n <jane@x.test>", "jane@x.test", 1 },
		{ "\"a b\"@x.test", "\"a b\"@x.test", 1 },
		{ "a@x.test, b@y.test", "a@x.test", 2 },
		{ "A <a@x.test>, \"B, C\" <b@y.test>, c@z.test", "a@x.test", 3 },
		{ "", NULL, 0 },
		{ "  (nobody)  ", NULL, 0 },
		{ "Jane <jane@x.test", NULL, -1 },
		{ "\"unclosed <a@x.test>", NULL, -1 },
		{ "Jane (unclosed <a@x.test>", NULL, -1 },
		{ "not an address", NULL, -1 },
		{ "a@b c@d", NULL, -1 },
	};
	struct sm_addr a;
	char why[256];
	size_t i;
	int n;

	for (i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		why[0] = '\0';
		n = sm_addr_from(from_cases[i].value, &a, why, sizeof(why));
		if (from_cases[i].n < 0) {
			ok(n == -1 && a.addr == NULL && *why != '\0',
			   "From: %s: malformed (%s)", from_cases[i].value, why);
			continue;
		}
		is_int(n, from_cases[i].n, from_cases[i].value);
		if (from_cases[i].addr != NULL)
			is_str(a.addr, from_cases[i].addr, "  the first mailbox");
		else
			ok(a.addr == NULL, "  none");
		sm_addr_clear(&a);
	}
}

int
main(void)
{
	struct sm_addr a;
	char why[256];
	size_t i;

	free_null();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		enum sm_addr_status st;

		why[0] = '\0';
		st = sm_addr_parse(c->in, &a, why, sizeof(why));
		if (c->want != SM_ADDR_OK) {
			ok(st == c->want && a.addr == NULL && *why != '\0',
			   "%.40s: refused (%s)", c->in, why);
			continue;
		}
		if (!ok(st == SM_ADDR_OK, "%s: parses %s", c->in, why))
			continue;
		is_str(a.addr, c->addr, "  canonical");
		is_str(a.local, c->local, "  local part");
		ok(a.postmaster || strcmp(a.addr + a.domain_at,
					  strrchr(c->addr, '@') + 1) == 0,
		   "  domain offset");
		sm_addr_clear(&a);
	}
	test_bounds();
	test_fold();
	test_from();
	return done_testing();
}
