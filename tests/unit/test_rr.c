/*
 * test_rr - TLSA/SMIMEA/OPENPGPKEY RDATA: what is usable, what is not
 * and why, and how each prints.  Malformed input must never crash.
 */
#include <stdlib.h>
#include <string.h>

#include "rr.h"
#include "tap.h"

struct rr_case {
	const char *name;
	uint8_t rd[80];
	size_t len;
	int usable;
	const char *why;	/* substring of the reason when unusable */
	const char *text;	/* expected presentation (prefix) */
};

static const struct rr_case cases[] = {
	{ "3 1 1 with 32 octets", { 3, 1, 1, 0xab }, 35, 1, NULL,
	  "3 1 1 AB000000" },
	{ "3 1 2 with 64 octets", { 3, 1, 2 }, 67, 1, NULL, "3 1 2 0000" },
	{ "3 0 0 full data", { 3, 0, 0, 0x30, 0x82 }, 5, 1, NULL,
	  "3 0 0 3082" },
	{ "2 0 1", { 2, 0, 1 }, 35, 1, NULL, "2 0 1 " },
	{ "empty RDATA", { 0 }, 0, 0, "shorter than 3", "\\# 0" },
	{ "2 octets", { 3, 1 }, 2, 0, "shorter than 3", "\\# 2 0301" },
	{ "no association data", { 3, 1, 1 }, 3, 0, "no certificate",
	  "\\# 3 030101" },
	{ "SHA2-256 of 4 octets", { 3, 1, 1, 1, 2, 3, 4 }, 7, 0,
	  "expected 32", "\\# 7 03010101020304" },
	{ "SHA2-512 of 32 octets", { 3, 1, 2 }, 35, 0, "expected 64", "\\# 35" },
	{ "unknown usage 4", { 4, 1, 1 }, 35, 0, "usage 4", "4 1 1 " },
	{ "unknown selector 2", { 3, 2, 1 }, 35, 0, "selector 2", "3 2 1 " },
	{ "unknown matching type 3", { 3, 1, 3, 9 }, 4, 0, "matching type 3",
	  "3 1 3 09" },
	{ "private usage 255", { 255, 255, 255, 1 }, 4, 0, "usage 255",
	  "255 255 255 01" },
};

int
main(void)
{
	struct sm_tlsa t;
	char why[256];
	size_t i;
	char *text;
	static const uint8_t key[] = { 0x99, 0x01, 0x0d, 0x04, 0xff };

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rr_case *c = &cases[i];
		int rc;

		why[0] = '\0';
		rc = sm_rr_tlsa_parse(c->rd, c->len, &t, why, sizeof(why));
		ok((rc == 0) == c->usable, "%s: %s", c->name,
		   c->usable ? "usable" : "unusable");
		if (!c->usable)
			ok(strstr(why, c->why) != NULL, "  reason \"%s\"", why);
		else
			ok(t.usage == c->rd[0] && t.selector == c->rd[1] &&
			   t.mtype == c->rd[2] && t.len == c->len - 3 &&
			   t.data == c->rd + 3, "  fields split");
		text = sm_rr_format(SM_RR_TLSA, c->rd, c->len);
		ok(text != NULL && strncmp(text, c->text, strlen(c->text)) == 0,
		   "  prints as \"%s\"", text ? text : "(null)");
		free(text);
	}

	/* SMIMEA shares the TLSA wire format. */
	text = sm_rr_format(SM_RR_SMIMEA, cases[0].rd, cases[0].len);
	ok(text != NULL && strncmp(text, "3 1 1 AB", 8) == 0, "SMIMEA prints");
	free(text);

	ok(sm_rr_openpgpkey_check(key, sizeof(key), why, sizeof(why)) == 0,
	   "OPENPGPKEY packet accepted");
	ok(sm_rr_openpgpkey_check(key, 0, why, sizeof(why)) < 0 &&
	   strstr(why, "empty") != NULL, "empty OPENPGPKEY rejected");
	ok(sm_rr_openpgpkey_check((const uint8_t *)"abc", 3, why,
				  sizeof(why)) < 0, "non-packet rejected (%s)",
	   why);
	text = sm_rr_format(SM_RR_OPENPGPKEY, key, sizeof(key));
	is_str(text, "mQENBP8=", "OPENPGPKEY prints as base64");
	free(text);
	text = sm_rr_format(SM_RR_OPENPGPKEY, (const uint8_t *)"a", 1);
	is_str(text, "YQ==", "base64 padding, 1 octet");
	free(text);
	text = sm_rr_format(SM_RR_OPENPGPKEY, (const uint8_t *)"ab", 2);
	is_str(text, "YWI=", "base64 padding, 2 octets");
	free(text);

	is_str(sm_rr_type_name(52), "TLSA", "type name TLSA");
	is_str(sm_rr_type_name(61), "OPENPGPKEY", "type name OPENPGPKEY");
	is_int(sm_rr_type_parse("smimea"), 53, "parse smimea");
	is_int(sm_rr_type_parse("AAAA"), -1, "unknown type refused");

	/* Every length from 0 to 80 on random-ish input: no crash. */
	for (i = 0; i <= 80; i++) {
		uint8_t rd[80];
		size_t j;

		for (j = 0; j < i; j++)
			rd[j] = (uint8_t)(j * 37 + i);
		sm_rr_tlsa_parse(rd, i, &t, why, sizeof(why));
		free(sm_rr_format(SM_RR_TLSA, rd, i));
	}
	ok(1, "all lengths 0..80 parsed without fault");
	return done_testing();
}
