/*
 * test_util - the helpers every module leans on: hex coding (including
 * Postfix's colon form of fingerprints) and bounded copies.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "util.h"

struct hcase {
	const char *in;
	int colons;
	long want;		/* octets, or -1 */
	const char *octets;	/* expected, as lowercase hex */
};

static const struct hcase hcases[] = {
	{ "", 1, 0, "" },
	{ "AB", 0, 1, "ab" },
	{ "ab:CD:0f", 1, 3, "abcd0f" },
	{ "abcd0f", 1, 3, "abcd0f" },		/* colons are optional */
	{ ":ab::cd:", 1, 2, "abcd" },		/* at octet boundaries only */
	{ "ab:CD:0f", 0, -1, NULL },		/* no colons allowed */
	{ "a:b", 1, -1, NULL },			/* inside an octet */
	{ "abc", 1, -1, NULL },			/* odd count */
	{ "ab:c", 1, -1, NULL },
	{ "ag", 0, -1, NULL },			/* not a digit */
	{ "-1", 0, -1, NULL },
	{ "0123456789abcdefABCDEF", 0, 11, "0123456789abcdefabcdef" },
};

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_blobs_free(NULL, 0);
	ok(1, "sm_blobs_free(NULL, 0) is a no-op");
	sm_split_free(NULL, 0);
	ok(1, "sm_split_free(NULL, 0) is a no-op");
}

int
main(void)
{
	uint8_t out[64];
	char hex[129], buf[8];
	size_t i;
	long n;

	free_null();
	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		const struct hcase *c = &hcases[i];

		n = sm_hex_decode(c->in, out, sizeof(out), c->colons);
		if (n >= 0)
			sm_hex_encode(out, (size_t)n, hex, 0);
		ok(n == c->want && (n < 0 || strcmp(hex, c->octets) == 0),
		   "hex \"%s\" (colons %d) -> %ld", c->in, c->colons, n);
	}
	/* A SHA-256 fingerprint as Postfix sends it, and one octet over. */
	{
		char fp[200] = "";
		uint8_t want[32];

		for (i = 0; i < 32; i++) {
			want[i] = (uint8_t)(i * 37 + 5);
			snprintf(fp + strlen(fp), sizeof(fp) - strlen(fp),
				 "%s%02X", i ? ":" : "", want[i]);
		}
		n = sm_hex_decode(fp, out, 32, 1);
		ok(n == 32 && memcmp(out, want, 32) == 0,
		   "Postfix fingerprint decodes to its 32 octets");
		is_int(sm_hex_decode(fp, out, 31, 1), -1, "  into 31 octets: overflow");
	}
	sm_hex_encode((const uint8_t *)"\x01\xab", 2, hex, 1);
	is_str(hex, "01AB", "hex encode, upper case");
	is_int((long)sm_strlcpy(buf, "abcdefghij", sizeof(buf)), 10,
	       "strlcpy returns the source length");
	is_str(buf, "abcdefg", "  and cuts, terminated");
	/* Client text in log lines and reports: no raw controls, no forged
	   fields, clean text passed through as it is. */
	{
		char eb[64];
		const char *clean = "mx.example.test";

		ok(sm_escape(clean, eb, sizeof(eb)) == clean,
		   "escape: clean text is returned as it is");
		is_str(sm_escape("a\x1b[2J\r\nb", eb, sizeof(eb)),
		       "a\\x1b[2J\\x0d\\x0ab", "escape: ESC, CR, LF");
		is_str(sm_escape("x result=pass", eb, sizeof(eb)),
		       "x\\x20result=pass", "escape: a space cannot start a field");
		is_str(sm_escape("q\"\\\x7f\xc3\xa9", eb, sizeof(eb)),
		       "q\\x22\\x5c\\x7f\\xc3\\xa9",
		       "escape: quote, backslash, DEL, 8-bit");
		is_str(sm_escape(NULL, eb, sizeof(eb)), "", "escape: NULL");
		is_str(sm_escape_quoted("DNS timeout \"x\"\r", eb, sizeof(eb)),
		       "DNS timeout \\x22x\\x22\\x0d",
		       "escape quoted: spaces kept, quotes and CR escaped");
		is_str(sm_escape("\x01\x01\x01\x01", eb, 12), "\\x01\\x01...",
		       "escape: cut to fit, marked");
		is_int((long)strlen(sm_escape("\x01\x01\x01\x01", eb, 12)), 11,
		       "  within the buffer");
		/* Addresses in a list: a quoted local part cannot add an
		   entry; the length is known before writing. */
		is_int((long)sm_escape_into("\"a b,c\\\\\"@x\xc3\xb6\x1b", eb,
					    sizeof(eb)),
		       (long)strlen("\\x22a\\x20b\\x2cc\\x5c\\x5c\\x22@x\\xc3\\xb6\\x1b"),
		       "escape into: the whole length");
		is_str(eb, "\\x22a\\x20b\\x2cc\\x5c\\x5c\\x22@x\\xc3\\xb6\\x1b",
		       "escape into: quote, space, comma, backslash, 8-bit, ESC");
		is_int((long)sm_escape_into("ab cd", eb, 5), 8,
		       "escape into: length past OUT");
		is_str(eb, "ab", "escape into: cut before an escape, never inside");
		is_int((long)sm_escape_into("abc", NULL, 0), 3,
		       "escape into: count only");
		is_str(sm_escape_quoted("a, b", eb, sizeof(eb)), "a, b",
		       "escape quoted: comma and space kept");
	}
	return done_testing();
}
