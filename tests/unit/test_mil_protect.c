/*
 * test_mil_protect.c - header protection (RFC 9788) on its own: the
 * Cryptographic Payload protect.c makes of a message's header lines
 * and entity, octet for octet, for the shapes a main body part comes
 * in (text/plain in every transfer encoding, HTML, alternatives,
 * mixed, nested, digests, attachments), the ones it leaves alone and
 * why, header values that try to break the structure, and the changes
 * to the outer header.  Each case is fed as the session feeds it, the
 * body whole, in 7-octet pieces and octet by octet: the payload must
 * not depend on where the pieces end.  Encryption around it:
 * test_mil_session.c.
 */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "protect.h"
#include "spool.h"
#include "tap.h"

struct run {
	char *payload;
	size_t len;
	int legacy;
	const char *why;
	char changes[256];
	int applied;
};

/*
 * HDRS (name, value pairs, values as libmilter gives them without the
 * leading space) and BODY through protect.c, the body in pieces of
 * PIECE octets (0: whole); the entity spooled as session.c spools it.
 */
static void
run(const char *const *hdrs, const char *body, size_t blen, size_t piece,
    size_t mem, struct run *r)
{
	struct mil_protect *p = mil_protect_new("X-Smilla", mem);
	struct mil_spool *e = mil_spool_new(mem);
	const struct mil_hp_change *c;
	char why[256];
	size_t at, i, n, k;
	FILE *f;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	for (; *hdrs != NULL; hdrs += 2) {
		at = mil_spool_size(e);
		if (mil_mime_is_content(hdrs[0])) {
			mil_spool_write(e, hdrs[0], strlen(hdrs[0]), NULL, 0);
			mil_spool_write(e, ": ", 2, NULL, 0);
			mil_spool_write(e, hdrs[1], strlen(hdrs[1]), NULL, 0);
			mil_spool_write(e, "\r\n", 2, NULL, 0);
		}
		rc |= mil_protect_header(p, hdrs[0], hdrs[1], 0, at,
					 mil_spool_size(e), why, sizeof(why));
	}
	at = mil_spool_size(e);
	mil_spool_write(e, "\r\n", 2, NULL, 0);
	rc |= mil_protect_eoh(p, at, why, sizeof(why));
	for (i = 0; i < blen; i += k) {
		k = piece == 0 || blen - i < piece ? blen - i : piece;
		mil_spool_write(e, body + i, k, NULL, 0);
		rc |= mil_protect_body(p, body + i, k, why, sizeof(why));
	}
	if (rc == 0 && (f = mil_protect_reader(p, e, why, sizeof(why))) != NULL) {
		FILE *m = open_memstream(&r->payload, &r->len);
		char buf[1000];

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		if (ferror(f))
			r->len = (size_t)-1;
		fclose(f);
		fclose(m);
	}
	r->legacy = mil_protect_legacy(p, &r->why);
	r->why = strdup(r->why);
	r->applied = mil_protect_applied(p, NULL);
	c = mil_protect_changes(p, &n);
	for (i = 0; i < n; i++)
		snprintf(r->changes + strlen(r->changes),
			 sizeof(r->changes) - strlen(r->changes), "%s%s %d %s",
			 i ? "; " : "", c[i].name, c[i].index,
			 c[i].value ? c[i].value : "-");
	mil_protect_free(p);
	mil_spool_free(e);
}

static void
run_free(struct run *r)
{
	free(r->payload);
	free((char *)r->why);
}

#define CT(v) "Content-Type", v
#define CTE(v) "Content-Transfer-Encoding", v
#define BASE "From", "Alice <alice@example.net>", "To", \
	"Bob <bob@example.net>", "Subject", "Dinner plans"
#define BASE_OUT "From: Alice <alice@example.net>\r\n" \
	"To: Bob <bob@example.net>\r\nSubject: Dinner plans\r\n"
#define HP_OUT "HP-Outer: From: Alice <alice@example.net>\r\n" \
	"HP-Outer: To: Bob <bob@example.net>\r\n" \
	"HP-Outer: Subject: [...]\r\n"
#define LEGACY "hp-legacy-display=\"1\""
#define DIV "<div class=\"header-protection-legacy-display\">\r\n" \
	"<pre>Subject: Dinner plans</pre>\r\n</div>"

static const struct hp_case {
	const char *what;
	const char *const hdrs[32];
	const char *body;
	const char *want;	/* the payload */
	int legacy;		/* elements */
	const char *why;	/* start of the reason, "" none */
	const char *changes;
} cases[] = {
	/* Expect: RFC 9788 Appendix E.1's shape. */
	{ "text/plain, 7bit",
	  { BASE, "Date", "Fri, 21 Jan 2022 20:40:48 -0500",
	    CT("text/plain; charset=\"us-ascii\""), NULL },
	  "Let's meet at 8pm.\r\n",
	  BASE_OUT "Date: Fri, 21 Jan 2022 20:40:48 -0500\r\n"
	  "Content-Type: text/plain; charset=\"us-ascii\"; hp=\"cipher\"; "
	  LEGACY "\r\n" HP_OUT
	  "HP-Outer: Date: Fri, 21 Jan 2022 20:40:48 -0500\r\n\r\n"
	  "Subject: Dinner plans\r\n\r\nLet's meet at 8pm.\r\n",
	  1, "", "Subject 1 [...]" },
	/* Expect: trace, transit and blind fields stay out; structural
	   ones are the entity's; Keywords and Comments go from the
	   outside (hcp_baseline) and get no HP-Outer. */
	{ "what is copied",
	  { "Received", "from a by b", "Return-Path", "<a@b>",
	    "DKIM-Signature", "v=1", "Authentication-Results", "mx; none",
	    "X-Smilla", "forged", "Bcc", "secret@example.net",
	    "HP-Outer", "Subject: forged", "MIME-Version", "1.0",
	    "Subject", "s", "Keywords", "k", "Comments", "c",
	    "Reply-To", "r@x", "In-Reply-To", "<i@x>", NULL },
	  "x\r\n",
	  "Subject: s\r\nKeywords: k\r\nComments: c\r\nReply-To: r@x\r\n"
	  "In-Reply-To: <i@x>\r\n"
	  "Content-Type: text/plain; charset=us-ascii; " LEGACY
	  "; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\nHP-Outer: Reply-To: r@x\r\n"
	  "HP-Outer: In-Reply-To: <i@x>\r\n\r\nSubject: s\r\n\r\nx\r\n",
	  1, "", "Subject 1 [...]; Comments 1 -; Keywords 1 -" },
	/* Expect: no Subject, nothing to show; still protected. */
	{ "no Subject",
	  { "From", "a@x", CT("text/plain"), NULL },
	  "x\r\n",
	  "From: a@x\r\nContent-Type: text/plain; hp=\"cipher\"\r\n"
	  "HP-Outer: From: a@x\r\n\r\nx\r\n", 0, "", "" },
	{ "Subject already [...]",
	  { "Subject", "[...]", CT("text/plain"), NULL },
	  "x\r\n",
	  "Subject: [...]\r\nContent-Type: text/plain; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\nx\r\n", 0, "", "Subject 1 [...]" },
	{ "quoted-printable text",
	  { "Subject", "caf=?utf-8?q?=C3=A9?= = good",
	    CT("text/plain; charset=utf-8;"), CTE("quoted-printable"), NULL },
	  "caf=C3=A9\r\n",
	  "Subject: caf=?utf-8?q?=C3=A9?= = good\r\n"
	  "Content-Type: text/plain; charset=utf-8; hp=\"cipher\"; " LEGACY
	  "\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "Subject: caf=C3=A9 =3D good\r\n\r\ncaf=C3=A9\r\n",
	  1, "", "Subject 1 [...]" },
	/* Expect: "Subject: Dinner plans\r\n\r\n" is 25 octets: one more
	   CRLF makes 27, nine quanta. */
	{ "base64 text",
	  { BASE, CT("text/plain; charset=UTF-8"), CTE("base64"), NULL },
	  "SGk=\r\n",
	  BASE_OUT "Content-Type: text/plain; charset=UTF-8; hp=\"cipher\"; "
	  LEGACY "\r\nContent-Transfer-Encoding: base64\r\n" HP_OUT "\r\n"
	  "U3ViamVjdDogRGlubmVyIHBsYW5zDQoNCg0K\r\n"
	  "SGk=\r\n", 1, "", "Subject 1 [...]" },
	/* Expect: 8-bit into a 7bit part: the part says 8bit. */
	{ "8-bit Subject, 7bit text",
	  { "Subject", "Gr\xc3\xbc\xc3\x9f" "e",
	    CT("text/plain; charset=utf-8; format=flowed"), CTE("7bit"),
	    NULL },
	  "Hallo\r\n",
	  "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"
	  "Content-Type: text/plain; charset=utf-8; format=flowed; "
	  "hp=\"cipher\"; " LEGACY "\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nHallo\r\n",
	  1, "", "Subject 1 [...]" },
	{ "encoded words decoded, folding and white space between them",
	  { "Subject", "=?UTF-8?B?R3LDvA==?=\n =?utf-8?Q?=C3=9Fe?=  aus\n\tBerlin",
	    CT("text/plain; charset=utf-8"), CTE("8bit"), NULL },
	  "x\r\n",
	  "Subject: =?UTF-8?B?R3LDvA==?=\r\n =?utf-8?Q?=C3=9Fe?=  aus\r\n"
	  "\tBerlin\r\nContent-Type: text/plain; charset=utf-8; hp=\"cipher\"; "
	  LEGACY "\r\nContent-Transfer-Encoding: 8bit\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "Subject: Gr\xc3\xbc\xc3\x9f" "e  aus Berlin\r\n\r\nx\r\n",
	  1, "", "Subject 1 [...]" },
	/* Expect: Latin-1 into a Latin-1 part; not into UTF-8 or
	   us-ascii. */
	{ "Latin-1 Subject, Latin-1 text",
	  { "Subject", "=?ISO-8859-1?Q?Gr=FC=DFe?=",
	    CT("text/plain; charset=latin1"), CTE("8bit"), NULL },
	  "x\r\n",
	  "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n"
	  "Content-Type: text/plain; charset=latin1; hp=\"cipher\"; " LEGACY
	  "\r\nContent-Transfer-Encoding: 8bit\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\nSubject: Gr\xfc\xdf" "e\r\n\r\nx\r\n",
	  1, "", "Subject 1 [...]" },
	{ "Latin-1 Subject, UTF-8 text: left out",
	  { "Subject", "=?ISO-8859-1?Q?Gr=FC=DFe?=",
	    CT("text/plain; charset=utf-8"), NULL },
	  "x\r\n",
	  "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n"
	  "Content-Type: text/plain; charset=utf-8; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\nx\r\n",
	  0, "Subject not in the part's charset", "Subject 1 [...]" },
	{ "UTF-16 text: left out",
	  { "Subject", "s", CT("text/plain; charset=utf-16"), CTE("base64"),
	    NULL },
	  "//4=\r\n",
	  "Subject: s\r\nContent-Type: text/plain; charset=utf-16; "
	  "hp=\"cipher\"\r\nContent-Transfer-Encoding: base64\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n//4=\r\n",
	  0, "Subject not in the part's charset", "Subject 1 [...]" },
	/* Expect: RFC 9788 Appendix E.2's shape. */
	{ "HTML",
	  { BASE, CT("text/html; charset=\"us-ascii\""), NULL },
	  "<html><head><title></title></head><body>\r\n<p>\r\n8pm\r\n</p>\r\n"
	  "</body>\r\n</html>\r\n",
	  BASE_OUT "Content-Type: text/html; charset=\"us-ascii\"; "
	  "hp=\"cipher\"; " LEGACY "\r\n" HP_OUT "\r\n"
	  "<html><head><title></title></head><body>\r\n" DIV "\r\n<p>\r\n"
	  "8pm\r\n</p>\r\n</body>\r\n</html>\r\n",
	  1, "", "Subject 1 [...]" },
	/* Expect: the tag found past comments, quotes and look-alikes;
	   the rest of its line goes on after the element; non-ASCII as
	   references. */
	{ "HTML: the body tag among others",
	  { "Subject", "=?utf-8?q?a<=E2=82=AC>&?=",
	    CT("text/html; charset=utf-8"), NULL },
	  "<!DOCTYPE html><!-- <body> --><html><bodyx><meta content=\"<body>\">"
	  "<BODY class='a>b'><p>x</p>\r\n",
	  "Subject: =?utf-8?q?a<=E2=82=AC>&?=\r\n"
	  "Content-Type: text/html; charset=utf-8; hp=\"cipher\"; " LEGACY
	  "\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "<!DOCTYPE html><!-- <body> --><html><bodyx><meta content=\"<body>\">"
	  "<BODY class='a>b'>\r\n<div class=\"header-protection-legacy-display\">"
	  "\r\n<pre>Subject: a&lt;&#8364;&gt;&amp;</pre>\r\n</div><p>x</p>\r\n",
	  1, "", "Subject 1 [...]" },
	{ "HTML in quoted-printable",
	  { "Subject", "Dinner plans", CT("text/html"),
	    CTE("quoted-printable"), NULL },
	  "<html><body style=3D\"x\">Hi=\r\n there</body></html>\r\n",
	  "Subject: Dinner plans\r\nContent-Type: text/html; hp=\"cipher\"; "
	  LEGACY "\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "<html><body style=3D\"x\">=\r\n"
	  "<div class=3D\"header-protection-legacy-display\">\r\n"
	  "<pre>Subject: Dinner plans</pre>\r\n</div>Hi=\r\n there</body>"
	  "</html>\r\n", 1, "", "Subject 1 [...]" },
	{ "HTML in base64: left out",
	  { "Subject", "s", CT("text/html"), CTE("base64"), NULL },
	  "PGh0bWw+\r\n",
	  "Subject: s\r\nContent-Type: text/html; hp=\"cipher\"\r\n"
	  "Content-Transfer-Encoding: base64\r\nHP-Outer: Subject: [...]\r\n"
	  "\r\nPGh0bWw+\r\n", 0, "an HTML part in base64", "Subject 1 [...]" },
	{ "HTML without a body tag: left out",
	  { "Subject", "s", CT("text/html"), NULL },
	  "<p>a fragment</p>\r\n",
	  "Subject: s\r\nContent-Type: text/html; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n<p>a fragment</p>\r\n",
	  0, "no <body> in an HTML part", "Subject 1 [...]" },
	/* Expect: every alternative, in its own encoding; the 8-bit
	   element relabels the text part and the multipart around it. */
	{ "multipart/alternative",
	  { "Subject", "\xc3\xa9t\xc3\xa9",
	    CT("multipart/alternative; boundary=\"=_b\""), CTE("7bit"),
	    NULL },
	  "preamble\r\n--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	  "text\r\n--=_b\r\nContent-Type: text/html; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "<html><body>html</body></html>\r\n--=_b--\r\nepilogue\r\n",
	  "Subject: \xc3\xa9t\xc3\xa9\r\n"
	  "Content-Type: multipart/alternative; boundary=\"=_b\"; "
	  "hp=\"cipher\"\r\nContent-Transfer-Encoding: 8bit\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "preamble\r\n--=_b\r\nContent-Type: text/plain; charset=utf-8; "
	  LEGACY "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	  "Subject: \xc3\xa9t\xc3\xa9\r\n\r\ntext\r\n--=_b\r\n"
	  "Content-Type: text/html; charset=utf-8; " LEGACY "\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "<html><body>=\r\n<div class=3D\"header-protection-legacy-display\">"
	  "\r\n<pre>Subject: &#233;t&#233;</pre>\r\n</div>html</body></html>"
	  "\r\n--=_b--\r\nepilogue\r\n",
	  2, "", "Subject 1 [...]" },
	/* Expect: the first part of a mixed one (here an alternative),
	   not the attachment after it, nor a part without a
	   Content-Type that is not first. */
	{ "multipart/mixed around an alternative",
	  { "Subject", "Dinner plans", CT("multipart/mixed; boundary=out"),
	    NULL },
	  "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
	  "--in\r\n\r\nplain, no header\r\n--in\r\n"
	  "Content-Type: text/html\r\n\r\n<body>h</body>\r\n--in--\r\n"
	  "--out\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--out--\r\n",
	  "Subject: Dinner plans\r\n"
	  "Content-Type: multipart/mixed; boundary=out; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\n"
	  "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
	  "--in\r\nContent-Type: text/plain; charset=us-ascii; " LEGACY
	  "\r\n\r\nSubject: Dinner plans\r\n\r\nplain, no header\r\n--in\r\n"
	  "Content-Type: text/html; " LEGACY "\r\n\r\n<body>\r\n" DIV
	  "h</body>\r\n--in--\r\n"
	  "--out\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--out--\r\n",
	  2, "", "Subject 1 [...]" },
	{ "an attachment first: not a main body part",
	  { "Subject", "s", CT("multipart/mixed; boundary=b"), NULL },
	  "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment;"
	  " filename=a.txt\r\n\r\nfile\r\n--b\r\nContent-Type: text/plain\r\n"
	  "\r\nnot first\r\n--b--\r\n",
	  "Subject: s\r\nContent-Type: multipart/mixed; boundary=b; "
	  "hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment;"
	  " filename=a.txt\r\n\r\nfile\r\n--b\r\nContent-Type: text/plain\r\n"
	  "\r\nnot first\r\n--b--\r\n", 0, "", "Subject 1 [...]" },
	{ "a digest's parts are messages",
	  { "Subject", "s", CT("multipart/digest; boundary=d"), NULL },
	  "--d\r\n\r\nSubject: inner\r\n\r\nx\r\n--d--\r\n",
	  "Subject: s\r\nContent-Type: multipart/digest; boundary=d; "
	  "hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "--d\r\n\r\nSubject: inner\r\n\r\nx\r\n--d--\r\n",
	  0, "", "Subject 1 [...]" },
	{ "LF line ends in the body",
	  { "Subject", "s", CT("multipart/mixed; boundary=b"), NULL },
	  "--b\nContent-Type: text/plain\n\nx\n--b--\n",
	  "Subject: s\r\nContent-Type: multipart/mixed; boundary=b; "
	  "hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "--b\nContent-Type: text/plain; " LEGACY "\n\nSubject: s\r\n\r\n"
	  "x\n--b--\n", 1, "", "Subject 1 [...]" },
	/* Expect: a line that starts with the boundary but is not a
	   delimiter: readers differ, so nothing is put in. */
	{ "a boundary look-alike stops the walk",
	  { "Subject", "s", CT("multipart/mixed; boundary=b"), NULL },
	  "--bogus\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
	  "Subject: s\r\nContent-Type: multipart/mixed; boundary=b; "
	  "hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "--bogus\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
	  0, "a line that starts with a boundary", "Subject 1 [...]" },
	{ "nested boundaries alike",
	  { "Subject", "s", CT("multipart/mixed; boundary=b"), NULL },
	  "--b\r\nContent-Type: multipart/alternative; boundary=bb\r\n\r\n"
	  "--bb\r\n\r\nx\r\n--bb--\r\n--b--\r\n",
	  "Subject: s\r\nContent-Type: multipart/mixed; boundary=b; "
	  "hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "--b\r\nContent-Type: multipart/alternative; boundary=bb\r\n\r\n"
	  "--bb\r\n\r\nx\r\n--bb--\r\n--b--\r\n",
	  0, "nested multiparts with like boundaries", "Subject 1 [...]" },
	{ "two Content-Type lines",
	  { "Subject", "s", CT("text/plain"), CT("text/html"), NULL },
	  "x\r\n",
	  "Subject: s\r\nContent-Type: text/plain; hp=\"cipher\"\r\n"
	  "Content-Type: text/html; hp=\"cipher\"\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\nx\r\n",
	  0, "a part with an ambiguous header", "Subject 1 [...]" },
	{ "no Content-Type at all",
	  { "Subject", "s", NULL },
	  "x\r\n",
	  "Subject: s\r\nContent-Type: text/plain; charset=us-ascii; " LEGACY
	  "; hp=\"cipher\"\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "Subject: s\r\n\r\nx\r\n", 1, "", "Subject 1 [...]" },
	{ "an attachment as the whole message",
	  { "Subject", "s", CT("text/plain"), "Content-Disposition",
	    "attachment; filename=x.txt", NULL },
	  "x\r\n",
	  "Subject: s\r\nContent-Type: text/plain; hp=\"cipher\"\r\n"
	  "Content-Disposition: attachment; filename=x.txt\r\n"
	  "HP-Outer: Subject: [...]\r\n\r\nx\r\n", 0, "", "Subject 1 [...]" },
	/* Expect: header values cannot end the header section or start
	   a field of their own; 8-bit octets stay. */
	{ "header values that try to break out",
	  { "Subject", "a\nContent-Type: text/html\r\n\r\nbody?",
	    "X-A", "lone\rCR\n\n\t\n  \n tail\n", "X-B", "\xff\xfe raw",
	    "Bad Name", "x", CT("text/plain"), NULL },
	  "x\r\n",
	  "Subject: a\r\n Content-Type: text/html\r\n body?\r\n"
	  "X-A: lone\r\n CR\r\n tail\r\nX-B: \xff\xfe raw\r\n"
	  "Content-Type: text/plain; hp=\"cipher\"; " LEGACY "\r\n"
	  "HP-Outer: Subject: [...]\r\nHP-Outer: X-A: lone\r\n CR\r\n tail\r\n"
	  "HP-Outer: X-B: \xff\xfe raw\r\n\r\n"
	  "Subject: a Content-Type: text/html body?\r\n\r\nx\r\n",
	  1, "", "Subject 1 [...]" },
	/* Expect: the sender signed it: left as it is. */
	{ "multipart/signed",
	  { "Subject", "s", CT("multipart/signed; protocol=\"application/"
			       "pkcs7-signature\"; boundary=s"), NULL },
	  "--s\r\nContent-Type: text/plain\r\n\r\nx\r\n--s--\r\n",
	  "Content-Type: multipart/signed; protocol=\"application/"
	  "pkcs7-signature\"; boundary=s\r\n\r\n"
	  "--s\r\nContent-Type: text/plain\r\n\r\nx\r\n--s--\r\n",
	  0, "", "" },
	{ "hp already there",
	  { "Subject", "s", CT("text/plain; hp=\"clear\""), NULL },
	  "x\r\n",
	  "Content-Type: text/plain; hp=\"clear\"\r\n\r\nx\r\n", 0, "", "" },
	{ "two Subjects",
	  { "Subject", "one", "Subject", "two", CT("text/plain"), NULL },
	  "x\r\n",
	  "Subject: one\r\nSubject: two\r\n"
	  "Content-Type: text/plain; hp=\"cipher\"; " LEGACY "\r\n"
	  "HP-Outer: Subject: [...]\r\nHP-Outer: Subject: [...]\r\n\r\n"
	  "Subject: one\r\nSubject: two\r\n\r\nx\r\n",
	  1, "", "Subject 1 [...]; Subject 2 [...]" },
};

static void
test_cases(void)
{
	static const size_t pieces[] = { 0, 7, 1 };
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hp_case *c = &cases[i];
		struct run r, again;
		int same = 1;

		run(c->hdrs, c->body, strlen(c->body), 0, 1 << 20, &r);
		ok(r.payload != NULL && r.len == strlen(c->want) &&
			   memcmp(r.payload, c->want, r.len) == 0,
		   "%s: the payload", c->what);
		if (r.payload == NULL || r.len != strlen(c->want) ||
		    memcmp(r.payload, c->want, r.len) != 0)
			printf("#   got:\n%.*s\n#   want:\n%s\n",
			       r.payload ? (int)r.len : 0,
			       r.payload ? r.payload : "", c->want);
		is_int(r.legacy, c->legacy, "  Legacy Display Elements");
		ok(*c->why == '\0' ? *r.why == '\0' :
				      strncmp(r.why, c->why, strlen(c->why)) == 0,
		   "  why: \"%s\"", r.why);
		is_str(r.changes, c->changes, "  the outer header's changes");
		for (j = 1; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
			run(c->hdrs, c->body, strlen(c->body), pieces[j],
			    j == 2 ? 0 : 1 << 20, &again);
			same &= again.payload != NULL && again.len == r.len &&
				memcmp(again.payload, r.payload, r.len) == 0;
			run_free(&again);
		}
		ok(same, "  the same fed in 7-octet pieces and octet by octet "
		   "(spools on disk)");
		run_free(&r);
	}
}

/*
 * Limits: a long Subject line is not shown raw; an HP-Outer line that
 * would pass 998 octets is folded; the body tag is looked for in the
 * first 64 KB only; a 40 MB body in pieces is followed without
 * holding it.
 */
static void
test_limits(void)
{
	char *subject = malloc(1200), *text = malloc(80000), *big;
	const char *hdrs[8];
	size_t n = 40u << 20, i;
	struct run r;

	memset(subject, 'a', 1000);
	subject[1000] = '\0';
	hdrs[0] = "Subject";
	hdrs[1] = subject;
	hdrs[2] = "Content-Type";
	hdrs[3] = "text/plain";
	hdrs[4] = NULL;
	run(hdrs, "x\r\n", 3, 0, 1 << 20, &r);
	is_int(r.legacy, 0, "a 1000-octet Subject: no element in 7bit text");
	is_str(r.why, "Subject line too long for the part", "  why");
	run_free(&r);
	hdrs[3] = "text/plain; charset=us-ascii";
	hdrs[4] = "Content-Transfer-Encoding";
	hdrs[5] = "quoted-printable";
	hdrs[6] = NULL;
	run(hdrs, "x\r\n", 3, 0, 1 << 20, &r);
	ok(r.legacy == 1 && r.payload != NULL &&
		   strstr(r.payload, "\r\n\r\nSubject: aaaa") != NULL,
	   "  in quoted-printable it is wrapped: shown");
	run_free(&r);

	hdrs[0] = "X-Long";
	run(hdrs, "x\r\n", 3, 0, 1 << 20, &r);
	ok(r.payload != NULL && strstr(r.payload, "HP-Outer: X-Long:\r\n aaa") !=
					NULL,
	   "an HP-Outer line past 998 octets is folded after the name");
	run_free(&r);

	memset(text, ' ', 70000);
	memcpy(text + 70000, "<body>x\r\n", 10);
	hdrs[0] = "Subject";
	hdrs[1] = "s";
	hdrs[3] = "text/html";
	hdrs[4] = NULL;
	run(hdrs, text, strlen(text), 4096, 1 << 20, &r);
	ok(r.legacy == 0 && strncmp(r.why, "no <body> in the first 64 KB",
				    28) == 0,
	   "<body> after 64 KB: not looked for (%s)", r.why);
	run_free(&r);

	/* A text part, then a big attachment: the walk stops after the
	   text, the payload still has every octet. */
	big = malloc(n + 200);
	i = (size_t)sprintf(big, "--b\r\nContent-Type: text/plain\r\n\r\nt\r\n"
				 "--b\r\nContent-Type: application/zip\r\n\r\n");
	memset(big + i, 'z', n - i - 12);
	memcpy(big + n - 12, "\r\n--b--\r\n", 10);
	hdrs[3] = "multipart/mixed; boundary=b";
	run(hdrs, big, n - 2, 65536, 1 << 16, &r);
	/* 45 octets of entity header; 88 put in: "Subject: s" and
	   HP-Outer lines, hp="cipher", the marker, the element. */
	ok(r.legacy == 1 && r.len == 45 + (n - 2) + 88,
	   "40 MB mixed, spooled: the text part gets it, nothing lost "
	   "(%zu octets)", r.len);
	run_free(&r);
	free(big);
	free(text);
	free(subject);
}

/* Every free takes NULL. */
static void
test_null(void)
{
	mil_protect_free(NULL);
	ok(1, "mil_protect_free(NULL) is a no-op");
}

int
main(void)
{
	test_cases();
	test_limits();
	test_null();
	return done_testing();
}
