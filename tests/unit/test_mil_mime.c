/*
 * test_mil_mime.c - the pieces behind "already encrypted", one by one:
 * what a header claims (mil_label_*), strict base64, the OpenPGP
 * packet framing walk (sm_pgp_encrypted_packets) over hand-made packet
 * sequences in both header formats, and the PGP/MIME structure.
 * Whole messages with real S/MIME and gpg output: test_mil_session.c.
 */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "pgp.h"
#include "tap.h"

static void
test_claim(void)
{
	static const struct {
		const char *ct, *ct2, *cte;
		enum mil_format want;
	} cases[] = {
		{ "application/pkcs7-mime; smime-type=enveloped-data", NULL,
		  "base64", MIL_FMT_SMIME },
		{ "Application/X-PKCS7-MIME; smime-type=\"authEnveloped-data\"",
		  NULL, NULL, MIL_FMT_SMIME },
		{ "application/pkcs7-mime", NULL, NULL, MIL_FMT_SMIME },
		{ "application/pkcs7-mime; smime-type=signed-data", NULL, NULL,
		  MIL_FMT_NONE },
		{ "application/pkcs7-mime; smime-type=whatever", NULL, NULL,
		  MIL_FMT_NONE },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		  "boundary=\"AbC\"", NULL, NULL, MIL_FMT_PGP_MIME },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"",
		  NULL, NULL, MIL_FMT_NONE },	/* no boundary */
		{ "multipart/encrypted; boundary=x", NULL, NULL, MIL_FMT_NONE },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		  "boundary=\"12345678901234567890123456789012345678901234567890"
		  "123456789012345678901\"", NULL, NULL, MIL_FMT_NONE },
		{ "application/pgp-encrypted", NULL, NULL, MIL_FMT_NONE },
		{ "text/plain; charset=utf-8", NULL, NULL, MIL_FMT_PGP_INLINE },
		{ NULL, NULL, NULL, MIL_FMT_PGP_INLINE },
		{ "text/html", NULL, NULL, MIL_FMT_NONE },
		{ "text/plain", "application/pkcs7-mime; smime-type=enveloped-data",
		  NULL, MIL_FMT_NONE },
		{ "application/pkcs7-mime", "application/pkcs7-mime", NULL,
		  MIL_FMT_NONE },
		/* A parameter said twice, or in RFC 2231 form: ambiguous. */
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		  "boundary=\"A\"; boundary=\"B\"", NULL, NULL, MIL_FMT_NONE },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		  "boundary*0=\"A\"; boundary=\"B\"", NULL, NULL, MIL_FMT_NONE },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
		  "protocol=\"text/plain\"; boundary=\"B\"", NULL, NULL,
		  MIL_FMT_NONE },
		{ "application/pkcs7-mime; smime-type=enveloped-data; "
		  "smime-type=signed-data", NULL, NULL, MIL_FMT_NONE },
		{ "application/pkcs7-mime; smime-type*=''enveloped-data", NULL,
		  NULL, MIL_FMT_NONE },
	};
	struct mil_label l;
	struct mil_ctype ct;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mil_label_init(&l);
		if (cases[i].ct)
			mil_label_header(&l, "content-type", cases[i].ct);
		if (cases[i].ct2)
			mil_label_header(&l, "Content-Type", cases[i].ct2);
		if (cases[i].cte)
			mil_label_header(&l, "Content-Transfer-Encoding",
					 cases[i].cte);
		ok(mil_label_claim(&l) == cases[i].want, "claim of %s%s%s: %s",
		   cases[i].ct ? cases[i].ct : "(none)",
		   cases[i].ct2 ? " + " : "", cases[i].ct2 ? cases[i].ct2 : "",
		   mil_format_word(mil_label_claim(&l)));
	}
	mil_label_init(&l);
	mil_label_header(&l, "Content-Type", "application/pkcs7-mime");
	mil_label_header(&l, "Content-Transfer-Encoding", "base64");
	mil_label_header(&l, "Content-Transfer-Encoding", "base64");
	is_int(mil_label_claim(&l), MIL_FMT_NONE, "two CTE headers: no claim");
	mil_mime_ctype("multipart/encrypted; boundary=\"=-Mixed_Case\"", &ct);
	is_str(ct.boundary, "=-Mixed_Case", "the boundary keeps its case");
}

static void
test_base64(void)
{
	static const struct {
		const char *in, *out;	/* out NULL: refused */
	} cases[] = {
		{ "TWFu", "Man" },
		{ "TW\r\nFu\r\n", "Man" },
		{ " T W F u \t", "Man" },
		{ "TWE=", "Ma" },
		{ "TQ==", "M" },
		{ "TQ==\r\n", "M" },
		{ "", "" },
		{ "TWF", NULL },		/* not a whole quantum */
		{ "TQ=", NULL },
		{ "TQ===", NULL },
		{ "T===", NULL },
		{ "TWE=TWFu", NULL },		/* padding in the middle */
		{ "TR==", NULL },		/* left-over bits not zero */
		{ "TWF=", NULL },
		{ "TWFu*", NULL },
		{ "TWFu-", NULL },		/* base64url is not base64 */
		{ "TWFu\0", NULL },
	};
	uint8_t *out;
	size_t i, n;
	char why[128];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in) + (i + 1 ==
						    sizeof(cases) / sizeof(cases[0]));
		int rc = mil_mime_base64((const uint8_t *)cases[i].in, len, &out,
					 &n, why, sizeof(why));

		if (cases[i].out == NULL)
			ok(rc < 0 && out == NULL, "base64 case %zu refused (%s)",
			   i, why);
		else
			ok(rc == 0 && n == strlen(cases[i].out) &&
				   memcmp(out, cases[i].out, n) == 0,
			   "base64 case %zu decodes to \"%s\"", i, cases[i].out);
		free(out);
	}
}

/* Packet sequences: LEN octets each. */
static void
test_packets(void)
{
	/* New format: SKESK (tag 3) len 4, SEIPD (tag 18) len 3. */
	static const uint8_t skesk_seipd[] = { 0xc3, 4, 4, 3, 0, 0,
					       0xd2, 3, 1, 2, 3 };
	/* Old format: PKESK (tag 1, 1-octet length) then SED (tag 9)
	   with an indeterminate length. */
	static const uint8_t old_pkesk_sed[] = { 0x84, 2, 3, 0, 0xa7, 9, 9, 9 };
	/* Two-octet new length: 192 + 8 = 200 octets of PKESK. */
	uint8_t two[3 + 200 + 2 + 1], part[1 + 6 + 1 + 512 + 1 + 5];
	char why[128];
	size_t n;

	ok(sm_pgp_encrypted_packets(skesk_seipd, sizeof(skesk_seipd), why,
				    sizeof(why)), "SKESK, SEIPD: encrypted");
	ok(sm_pgp_encrypted_packets(old_pkesk_sed, sizeof(old_pkesk_sed), why,
				    sizeof(why)),
	   "old format PKESK, SED to the end: encrypted");
	memset(two, 0, sizeof(two));
	two[0] = 0xc1;
	two[1] = 192;
	two[2] = 8;
	two[203] = 0xd4;	/* AEAD (tag 20), 1 octet */
	two[204] = 1;
	ok(sm_pgp_encrypted_packets(two, sizeof(two), why, sizeof(why)),
	   "two-octet length PKESK, AEAD: encrypted");
	/* SKESK, then a partial-length SEIPD: 512, then 5 more. */
	memset(part, 0, sizeof(part));
	memcpy(part, (const uint8_t[]){ 0xc3, 4, 4, 3, 0, 0 }, 6);
	n = 6;
	part[n++] = 0xd2;
	part[n++] = 0xe9;	/* 1 << 9 */
	n += 512;
	part[n++] = 5;
	n += 5;
	ok(sm_pgp_encrypted_packets(part, n, why, sizeof(why)),
	   "partial lengths on the data packet: encrypted");
	ok(!sm_pgp_encrypted_packets(part, n - 1, why, sizeof(why)),
	   "last chunk one octet short: not (%s)", why);
	part[0] = 0xc3;
	part[1] = 0xe1;		/* partial on SKESK */
	ok(!sm_pgp_encrypted_packets(part, n, why, sizeof(why)),
	   "partial length on a session key packet: not (%s)", why);
	ok(!sm_pgp_encrypted_packets(skesk_seipd + 6, 5, why, sizeof(why)),
	   "SEIPD without a session key packet: not (%s)", why);
	ok(!sm_pgp_encrypted_packets(skesk_seipd, 6, why, sizeof(why)),
	   "session key without data: not (%s)", why);
	{
		uint8_t trail[sizeof(skesk_seipd) + 3];

		memcpy(trail, skesk_seipd, sizeof(skesk_seipd));
		memcpy(trail + sizeof(skesk_seipd),
		       (const uint8_t[]){ 0xcb, 1, 'x' }, 3);
		ok(!sm_pgp_encrypted_packets(trail, sizeof(trail), why,
					     sizeof(why)),
		   "a literal packet after the data: not (%s)", why);
		memcpy(trail + sizeof(skesk_seipd),
		       (const uint8_t[]){ 0xd2, 1, 1 }, 3);
		ok(!sm_pgp_encrypted_packets(trail, sizeof(trail), why,
					     sizeof(why)),
		   "two data packets: not (%s)", why);
	}
	ok(!sm_pgp_encrypted_packets((const uint8_t *)"\xcb\x02hi", 4, why,
				     sizeof(why)),
	   "a literal data packet: not (%s)", why);
	ok(!sm_pgp_encrypted_packets((const uint8_t *)"\xc3\x09\x04", 3, why,
				     sizeof(why)),
	   "length past the end: not (%s)", why);
	ok(!sm_pgp_encrypted_packets((const uint8_t *)"\xc3\xff\x00", 3, why,
				     sizeof(why)),
	   "five-octet length cut short: not (%s)", why);
	ok(!sm_pgp_encrypted_packets((const uint8_t *)"hello", 5, why,
				     sizeof(why)),
	   "text: not (%s)", why);
	ok(!sm_pgp_encrypted_packets(NULL, 0, why, sizeof(why)),
	   "nothing: not (%s)", why);
	ok(!sm_pgp_encrypted_packets((const uint8_t *)"\x87\x01\x02", 3, why,
				     sizeof(why)),
	   "indeterminate length on PKESK: not (%s)", why);
}

static void
test_armor(void)
{
	/* The SKESK + SEIPD above, armored (no checksum line: optional). */
	static const char armor[] = "-----BEGIN PGP MESSAGE-----\r\n\r\n"
				    "wwQEAwAA0gMBAgM=\r\n"
				    "-----END PGP MESSAGE-----\r\n";
	char buf[512], why[128] = "";

	ok(sm_pgp_encrypted((const uint8_t *)armor, strlen(armor), why,
			    sizeof(why)), "armored SKESK, SEIPD: encrypted (%s)",
	   why);
	snprintf(buf, sizeof(buf), "\r\n \t%s\r\n\r\n", armor);
	ok(sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "white space around it: encrypted");
	snprintf(buf, sizeof(buf), "x%s", armor);
	ok(!sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "text before: not (%s)", why);
	snprintf(buf, sizeof(buf), "%sx", armor);
	ok(!sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "text after: not (%s)", why);
	snprintf(buf, sizeof(buf), "%s%s", armor, armor);
	ok(!sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "two blocks: not (%s)", why);
	strcpy(buf, armor);
	memcpy(strstr(buf, "END PGP MESSAGE"), "END PGP SIGNATURE", 17);
	ok(!sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "END line of another kind: not (%s)", why);
	snprintf(buf, sizeof(buf), "-----BEGIN PGP MESSAGE-----\r\n\r\n"
		 "yxFiAAAAAABoZWxsbyB3b3JsZA==\r\n-----END PGP MESSAGE-----\r\n");
	ok(!sm_pgp_encrypted((const uint8_t *)buf, strlen(buf), why, sizeof(why)),
	   "an armored literal (unencrypted) message: not (%s)", why);
}

static void
test_pgp_mime(void)
{
	static const char armor[] = "-----BEGIN PGP MESSAGE-----\r\n\r\n"
				    "wwQEAwAA0gMBAgM=\r\n"
				    "-----END PGP MESSAGE-----\r\n";
	static const struct {
		const char *fmt, *what;
		int want;
	} cases[] = {
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b--\r\n", "two parts", 1 },
		{ "--b\nContent-Type: application/pgp-encrypted\n"
		  "Content-Description: PGP/MIME version\n\nVersion: 1\n\n"
		  "--b  \nContent-Type:\n application/octet-stream;\n"
		  "\tname=\"encrypted.asc\"\n\n%s\n--b--", "LF, folding, padding",
		  1 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 2\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b--\r\n", "Version: 2", 0 },
		{ "--b\r\nContent-Type: text/plain\r\n\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b--\r\n", "first part text/plain", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\nContent-Type: text/plain\r\n\r\n%s--b--\r\n",
		  "two Content-Types in a part", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n",
		  "armor in base64", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b\r\n", "no close delimiter", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--bx\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b--\r\n", "a line starting with the boundary", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b\r\n\r\n%s--b--\r\n", "second part untyped",
		  0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
		  "Version: 1\r\n--b--\r\n%s", "one part", 0 },
		{ "secret\r\n--b\r\nContent-Type: application/pgp-encrypted"
		  "\r\n\r\nVersion: 1\r\n--b\r\nContent-Type: "
		  "application/octet-stream\r\n\r\n%s--b--\r\n", "preamble", 0 },
		{ "--b\r\nContent-Type: application/pgp-encrypted\r\n"
		  "Version: 1\r\n--b\r\nContent-Type: application/octet-stream"
		  "\r\n\r\n%s--b--\r\n", "no empty line in the first part", 0 },
	};
	char body[2048], why[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), cases[i].fmt, armor);
		why[0] = '\0';
		ok(mil_mime_pgp_mime((const uint8_t *)body, strlen(body), "b",
				     why, sizeof(why)) == cases[i].want,
		   "PGP/MIME, %s: %s", cases[i].what,
		   cases[i].want ? "verified" : why);
	}
}

int
main(void)
{
	test_claim();
	test_base64();
	test_packets();
	test_armor();
	test_pgp_mime();
	return done_testing();
}
