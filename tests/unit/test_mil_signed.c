/*
 * test_mil_signed.c - finding the signed content and the signature of
 * signed mail in the body as received (smilla/signed.c): the octets a
 * verifier is handed are exactly the sender's, the CRLF before a
 * delimiter belongs to the delimiter (RFC 2046 5.1.1), and labels that
 * claim a signature over a broken structure are errors, not "unsigned".
 */
#include <stdio.h>
#include <string.h>

#include "mime.h"
#include "signed.h"
#include "tap.h"

/* Run mil_signed_find on BODY under the one Content-Type CT. */
static int
find(const char *ct, const char *body, struct mil_signed *s, char *why,
     size_t whylen)
{
	struct mil_label l;

	mil_label_init(&l);
	if (ct != NULL)
		mil_label_header(&l, "Content-Type", ct);
	*why = '\0';
	return mil_signed_find((const uint8_t *)body, strlen(body), &l, s, why,
			       whylen);
}

/* The octets [A, B) of BODY as a string, for comparisons. */
static const char *
span(const char *body, size_t a, size_t b)
{
	static char buf[4096];
	size_t n = b - a < sizeof(buf) - 1 ? b - a : sizeof(buf) - 1;

	memcpy(buf, body + a, n);
	buf[n] = '\0';
	return buf;
}

static const char smime_body[] =
	"This is an S/MIME signed message\r\n"
	"\r\n"
	"--XyZ\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"trailing blanks   \r\n"
	"last line\r\n"
	"--XyZ\r\n"
	"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"MIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n"
	"--XyZ--\r\n";

static void
test_detached(void)
{
	struct mil_signed s;
	char why[256];

	is_int(find("multipart/signed; protocol=\"application/pkcs7-signature\";"
		    " micalg=sha-256; boundary=\"XyZ\"", smime_body, &s, why,
		    sizeof(why)), 1, "S/MIME detached: found");
	is_int(s.format, MIL_SIG_SMIME, "  format smime");
	is_int((int)s.part, 0, "  the message itself");
	is_str(span(smime_body, s.content_start, s.content_end),
	       "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	       "trailing blanks   \r\nlast line",
	       "  the signed entity: header and body as received, trailing "
	       "blanks kept, the CRLF before the delimiter not");
	is_str(span(smime_body, s.sig_start, s.sig_end),
	       "MIAGCSqGSIb3DQEHAqCAMIACAQEx", "  the signature's content");
	is_str(s.sig_cte, "base64", "  its transfer encoding");
	is_int(find("multipart/signed; protocol=\"application/x-pkcs7-signature\";"
		    " boundary=XyZ", smime_body, &s, why, sizeof(why)), 1,
	       "x-pkcs7-signature protocol: S/MIME too");
}

static void
test_pgp(void)
{
	static const char body[] =
		"--b\n"
		"Content-Type: text/plain\n"
		"\n"
		"LF only\n"
		"--b\n"
		"Content-Type: application/pgp-signature\n"
		"\n"
		"-----BEGIN PGP SIGNATURE-----\n"
		"x\n"
		"-----END PGP SIGNATURE-----\n"
		"\n"
		"--b--";
	struct mil_signed s;
	char why[256];

	is_int(find("multipart/signed; micalg=pgp-sha256; "
		    "protocol=\"application/pgp-signature\"; boundary=b", body,
		    &s, why, sizeof(why)), 1, "PGP/MIME signed: found");
	is_int(s.format, MIL_SIG_PGP, "  format pgp-mime");
	is_str(span(body, s.content_start, s.content_end),
	       "Content-Type: text/plain\n\nLF only",
	       "  LF-only input: the LF before the delimiter is its own");
	is_str(span(body, s.sig_start, s.sig_end),
	       "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n",
	       "  the armored signature (a missing final line break is fine)");
	is_str(s.sig_cte, "", "  no transfer encoding given");
}

static void
test_opaque(void)
{
	static const char body[] = "MIAGCSqGSIb3DQEHAqCA\r\n";
	struct mil_signed s;
	char why[256];

	is_int(find("application/pkcs7-mime; smime-type=signed-data; "
		    "name=smime.p7m", body, &s, why, sizeof(why)), 1,
	       "S/MIME opaque signed-data: found");
	is_int(s.format, MIL_SIG_SMIME_OPAQUE, "  format smime-opaque");
	ok(s.sig_start == 0 && s.sig_end == strlen(body),
	   "  the whole body is the signature structure");
	is_int(find("application/pkcs7-mime; smime-type=enveloped-data", body, &s,
		    why, sizeof(why)), 0, "enveloped-data is not signed mail");
	is_int(find("application/pkcs7-mime", body, &s, why, sizeof(why)), 0,
	       "pkcs7-mime without smime-type: not claimed signed");
}

static void
test_nested(void)
{
	static const char body[] =
		"--outer\r\n"
		"Content-Type: multipart/signed; boundary=\"in\";\r\n"
		"\tprotocol=\"application/pgp-signature\"\r\n"
		"\r\n"
		"--in\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"signed text\r\n"
		"--in\r\n"
		"Content-Type: application/pgp-signature\r\n"
		"\r\n"
		"SIG\r\n"
		"--in--\r\n"
		"\r\n"
		"--outer\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"-- \r\nlist footer\r\n"
		"--outer--\r\n";
	static const char second[] =
		"--outer\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"a note first\r\n"
		"--outer\r\n"
		"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"MIAG\r\n"
		"--outer--\r\n";
	struct mil_signed s;
	char why[256];

	is_int(find("multipart/mixed; boundary=outer", body, &s, why,
		    sizeof(why)), 1, "signed part inside multipart/mixed: found");
	is_int((int)s.part, 1, "  part 1");
	is_int(s.format, MIL_SIG_PGP, "  pgp-mime");
	is_str(span(body, s.content_start, s.content_end),
	       "Content-Type: text/plain\r\n\r\nsigned text",
	       "  the inner signed entity, offsets into the whole body");
	is_str(span(body, s.sig_start, s.sig_end), "SIG", "  the signature");
	is_int(find("multipart/mixed; boundary=outer", second, &s, why,
		    sizeof(why)), 1, "opaque signed data as part 2: found");
	ok(s.part == 2 && s.format == MIL_SIG_SMIME_OPAQUE &&
		   strcmp(span(second, s.sig_start, s.sig_end), "MIAG") == 0 &&
		   strcmp(s.sig_cte, "base64") == 0,
	   "  part 2, its body and CTE");
	is_int(find("multipart/mixed; boundary=in", body, &s, why, sizeof(why)),
	       0, "a mixed body that does not split: not signed");
}

static void
test_broken(void)
{
	static const char three[] =
		"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		"--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nS\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nextra\r\n--b--\r\n";
	static const char wrongsig[] =
		"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nS\r\n--b--\r\n";
	static const char open[] =
		"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		"--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nS\r\n";
	static const char inner[] =
		"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--bogus\r\n"
		"--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nS\r\n"
		"--b--\r\n";
	static const char *const ct =
		"multipart/signed; protocol=\"application/pkcs7-signature\"; "
		"boundary=b";
	struct mil_signed s;
	struct mil_label l;
	char why[256];

	is_int(find(ct, "preamble\r\n--bx not ours\r\n--b\r\nContent-Type: "
		    "text/plain\r\n\r\nx\r\n--b\r\nContent-Type: "
		    "application/pkcs7-signature\r\n\r\nS\r\n--b--\r\n", &s,
		    why, sizeof(why)), -1,
	       "a preamble line that starts with the boundary: broken");
	is_int(find(ct, "--b\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		    "--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n"
		    "S\r\n--b--\r\n", &s, why, sizeof(why)), -1,
	       "an empty part before the signed one: not two parts");
	is_int(find(ct, "--b\r\n--b\r\nContent-Type: application/pkcs7-signature"
		    "\r\n\r\nS\r\n--b--\r\n", &s, why, sizeof(why)), 1,
	       "an empty signed part: found");
	ok(s.content_start == s.content_end,
	   "  and empty, not of negative length (%zu, %zu)", s.content_start,
	   s.content_end);
	is_int(find(ct, three, &s, why, sizeof(why)), -1, "three parts: broken");
	ok(strstr(why, "more than 2 parts") != NULL, "  says so (%s)", why);
	is_int(find(ct, wrongsig, &s, why, sizeof(why)), -1,
	       "a text/plain signature part: broken");
	is_int(find(ct, open, &s, why, sizeof(why)), -1,
	       "no close delimiter: broken");
	is_int(find(ct, inner, &s, why, sizeof(why)), -1,
	       "the boundary inside a part: broken");
	is_int(find("multipart/signed; protocol=\"application/pkcs7-signature\"",
		    three, &s, why, sizeof(why)), -1, "no boundary: broken");
	is_int(find("multipart/signed; protocol=\"application/pkcs7-signature\"; "
		    "boundary=b; boundary=c", smime_body, &s, why, sizeof(why)),
	       -1, "two boundary parameters: broken (readers may differ)");
	mil_label_init(&l);
	mil_label_header(&l, "Content-Type", ct);
	mil_label_header(&l, "Content-Type", "text/plain");
	is_int(mil_signed_find((const uint8_t *)three, strlen(three), &l, &s,
			       why, sizeof(why)), -1,
	       "two Content-Type headers, one signed: broken");
	is_int(find("multipart/signed; protocol=\"application/x-other\"; "
		    "boundary=b", three, &s, why, sizeof(why)), 0,
	       "another protocol: not what we verify");
	is_int(find("text/plain", "hello\r\n", &s, why, sizeof(why)), 0,
	       "plain text: not signed");
	is_int(find(NULL, "hello\r\n", &s, why, sizeof(why)), 0,
	       "no Content-Type: not signed");
	is_str(mil_sig_format_word(MIL_SIG_SMIME_OPAQUE), "smime-opaque",
	       "format words");
}

int
main(void)
{
	test_detached();
	test_pgp();
	test_opaque();
	test_nested();
	test_broken();
	return done_testing();
}
