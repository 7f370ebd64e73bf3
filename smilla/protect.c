/*
 * protect.c - header protection (RFC 9788) for the milter: the copied
 * header fields, HP-Outer and the Legacy Display Element, spliced into
 * the entity while the encryptor reads it.  The contract is protect.h.
 *
 *   mil_protect_new(status_header, mem_max) / mil_protect_free(p)
 *   mil_protect_header(p, name, value, leadspc, at, end, why, whylen)
 *   mil_protect_eoh(p, at, why, whylen)
 *   mil_protect_body(p, data, len, why, whylen)
 *   mil_protect_reader(p, entity, why, whylen)	the payload, a stream
 *   mil_protect_applied(p, &why)		protected, or why not
 *   mil_protect_changes(p, &n)			the outer header's changes
 *   mil_protect_legacy(p, &why)		Legacy Display Elements
 *
 * What goes inside.  Every header field that is not structural
 * (MIME-Version and Content-*, which describe the entity and are in it
 * already) is copied as received, but for fields the message picked up
 * in transit (Received, Return-Path, DKIM and ARC signatures,
 * Authentication-Results, Delivered-To, ...), which say nothing the
 * sender wrote, for Bcc and Resent-Bcc (inside they would show every
 * recipient who was blind-copied), for our status header and for
 * HP-Outer (only the payload may say what the outside showed).
 *
 * The outside: hcp_baseline, the policy RFC 9788 has every composer
 * offer by default: Subject becomes "[...]", Keywords and Comments are
 * removed, all else stays.  Each copied field left outside gets its
 * HP-Outer line with the value the outside shows.
 *
 * Legacy Display (RFC 9788, for clients that decrypt but do not read
 * protected fields): what hcp_baseline hid from the user-facing fields,
 * that is the Subject, shown at the start of every main body part that
 * can take it, and the part marked hp-legacy-display="1".  Main body
 * parts: the root when it is text; in a multipart its first child, in
 * a multipart/alternative every child, recursively; never an
 * attachment.
 *   text/plain: "Subject: VALUE", an empty line, then the text; in the
 *	part's own Content-Transfer-Encoding (none, 7bit, 8bit, binary,
 *	quoted-printable, base64; for base64 empty lines are added so
 *	that the element ends on a whole base64 quantum).  VALUE is the
 *	Subject as a reader shows it (RFC 2047 words decoded), so it is
 *	written only when its octets are in the part's charset: ASCII
 *	into any charset that extends ASCII, other octets only into the
 *	same charset; when they are 8-bit and the part is 7bit, the
 *	part (and any multipart around it that says 7bit) is relabelled
 *	8bit, which the same octets are.
 *   text/html: a div of class header-protection-legacy-display right
 *	after the body start tag, found in the first 64 KB of the part
 *	as sent (none, 7bit, 8bit, binary, quoted-printable; not base64);
 *	characters outside ASCII as character references.
 * Anything else (another type, an encoding or charset we cannot write
 * in, a body whose structure is unclear, more than HP_LEGACY_MAX
 * parts) gets no element: RFC 9788 makes it optional, and the
 * protected fields are there either way.
 *
 * A message the sender signed (multipart/signed, S/MIME signed-data),
 * or whose Content-Type already has an RFC 9788 parameter, gets no
 * header protection: its Cryptographic Payload would be the signed
 * content, which we cannot change without breaking the signature.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "mime.h"
#include "protect.h"
#include "util.h"

#define HP_SUBJECT_MAX	4096	/* a longer Subject is not displayed */
#define HP_SHOWN_MAX	4	/* Subject lines shown (one is normal) */
#define HP_PART_HDR_MAX	16384	/* a part's header section, read whole */
#define HP_DEPTH_MAX	8	/* nested multiparts followed */
#define HP_HTML_SCAN	65536	/* octets searched for <body> */
#define HP_LEGACY_MAX	16	/* main body parts given an element */
#define HP_KEEP		96	/* a line's first octets: a delimiter is
				   "--" + 70 + "--" and white space */
#define HP_LINE_MAX	998	/* RFC 5322 section 2.1.1 */
#define HP_SPOOL_MEM	65536	/* in memory of the copied fields */

static const char legacy_class[] = "header-protection-legacy-display";

/* An insertion (or replacement) in the entity as it is read back. */
struct edit {
	size_t off;		/* entity offset it applies at */
	size_t del;		/* entity octets it replaces */
	size_t seq;		/* order among edits at one offset */
	char *text;		/* what goes there (ours), or */
	struct mil_spool *spool; /* a spool of ours, whole */
	size_t len;
};

/* What a part's header says, as far as the element needs it. */
struct part {
	struct mil_ctype ct;	/* the first Content-Type */
	size_t nct, ncte;
	char cte[32];		/* lowercase, "" for none (7bit) */
	int attachment;		/* Content-Disposition: attachment */
	int ct_semi;		/* that Content-Type ends in ';' */
	size_t ct_end;		/* entity offset: end of its value */
	size_t cte_at, cte_end;	/* the CTE line, line break included */
	size_t hdr_end;		/* its empty line: lines go before it */
	size_t content;		/* its first content octet */
	int root;		/* the entity itself */
};

struct frame {			/* a multipart being followed */
	struct part part;	/* its own header */
	int eight;		/* relabelled 8bit already */
	char boundary[MIL_BOUNDARY_MAX + 1];
	int alternative, digest;
	unsigned child;		/* delimiters seen */
};

enum walk {
	W_DONE,			/* nothing more to look for */
	W_SKIP,			/* in content: only delimiters matter */
	W_HEADERS,		/* reading a part's header */
	W_HTML			/* in an HTML part, looking for <body> */
};

/* The states of the search for the body start tag. */
enum html {
	H_TEXT, H_LT, H_NAME, H_TAG, H_DQ, H_SQ, H_BANG, H_COMMENT
};

/* A Subject as shown: decoded octets in one charset. */
struct shown {
	char *text;
	size_t len;
	char cs[64];		/* "" for ASCII */
};

/* What the outer Subject lines, Keywords and Comments are. */
struct outer_ref {
	char *name;
	int index;
	int remove;		/* else obscured */
};

/* A buffer that notes running out of memory instead of failing. */
struct buf {
	char *d;
	size_t n, cap;
	int oom;
};

struct mil_protect {
	const char *status;	/* the status header's name */
	size_t mem_max;
	int off;		/* no header protection (OFF_WHY) */
	const char *off_why;
	struct mil_spool *inner;	/* the copied fields */
	struct mil_spool *outer;	/* HP-Outer lines */
	struct edit *edits;
	size_t nedits, capedits, seq;
	int finished;		/* reader made: edits final */
	/* the outer header */
	struct outer_ref *refs;
	size_t nrefs;
	struct mil_hp_change *chg;
	size_t nchg;
	int nsubject, nkeywords, ncomments;
	char *subject[HP_SHOWN_MAX];	/* values as received */
	int subject_bad;		/* too long, too many */
	/* the entity's own header */
	struct part root;
	struct { size_t end; int semi; } *cts;	/* its Content-Type lines */
	size_t ncts;
	int root_legacy;
	/* the Legacy Display Element */
	struct shown shown[HP_SHOWN_MAX];
	size_t nshown;
	int shown_ok;		/* shown[] could be decoded */
	char *html;		/* the div, ASCII; NULL if it cannot be */
	int nlegacy;
	const char *legacy_why;
	/* following the body */
	enum walk state;
	struct frame frames[HP_DEPTH_MAX];
	size_t nframes;
	size_t body_at;		/* entity offset of the body */
	size_t pos;		/* body octets seen */
	size_t line_at;		/* entity offset of this line */
	size_t line_len;
	char keep[HP_KEEP];
	size_t nkeep;
	int tail_blank;		/* the octets after KEEP are white space */
	char *hdr;		/* a part's header section */
	size_t nhdr;
	size_t hdr_at;		/* its entity offset */
	int hdr_bad;
	struct part cur;	/* the HTML part searched */
	enum html hs;
	char tag[8];
	size_t ntag, scanned;
	int hquote_ret, is_body;
};

/* ----------------------------------------------------------- helpers */

static void
bput(struct buf *b, const void *s, size_t n)
{
	char *nd;
	size_t cap;

	if (b->oom || n == 0)
		return;
	if (b->n + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		if ((nd = realloc(b->d, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->d = nd;
		b->cap = cap;
	}
	memcpy(b->d + b->n, s, n);
	b->n += n;
	b->d[b->n] = '\0';
}

static void
bputs(struct buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

static int
wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The first token of VALUE, lowercased (CTE, disposition type). */
static void
first_token(const char *value, char *out, size_t outlen)
{
	size_t n = 0;

	while (isspace((unsigned char)*value))
		value++;
	for (; *value != '\0' && *value != ';' && *value != '(' &&
	       !isspace((unsigned char)*value); value++)
		if (n + 1 < outlen)
			out[n++] = (char)tolower((unsigned char)*value);
	out[n] = '\0';
}

/* Does VALUE end in ';' (then a parameter needs no other)? */
static int
ends_semi(const char *value)
{
	size_t n = strlen(value);

	while (n > 0 && blank((unsigned char)value[n - 1]))
		n--;
	return n > 0 && value[n - 1] == ';';
}

/* ---------------------------------------------------------- charsets */

/* One spelling per charset for the few that have several. */
static const char *
cs_norm(const char *cs)
{
	static const char *const alias[][2] = {
		{ "utf8", "utf-8" }, { "ascii", "us-ascii" },
		{ "latin1", "iso-8859-1" }, { "iso8859-1", "iso-8859-1" },
		{ "iso_8859-1", "iso-8859-1" }, { "l1", "iso-8859-1" },
	};
	size_t i;

	for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcasecmp(cs, alias[i][0]) == 0)
			return alias[i][1];
	return cs;
}

static int
same_charset(const char *a, const char *b)
{
	return strcasecmp(cs_norm(a), cs_norm(b)) == 0;
}

/*
 * Charsets in which ASCII octets mean ASCII characters wherever they
 * stand, so that an ASCII element can go in front of the text.  Not
 * UTF-16/32, UTF-7, EBCDIC; the ISO-2022 ones (which start in ASCII)
 * only at the start of a text, not in the middle of HTML.
 */
static int
ascii_compatible(const char *cs, int mid_text)
{
	static const char *const prefix[] = {
		"us-ascii", "ascii", "utf-8", "utf8", "iso-8859-", "iso8859-",
		"iso_8859-", "latin", "windows-", "cp125", "koi8-", "gb",
		"big5", "euc-", "shift_jis", "ks_c_5601", "tis-620",
		"macintosh",
	};
	size_t i;

	if (strncasecmp(cs, "iso-2022-", 9) == 0)
		return !mid_text;
	for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncasecmp(cs, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

/* ----------------------------------------------------------- RFC 2047 */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * One encoded word at S ("=?charset?B|Q?text?="): its decoded octets
 * into OUT, its charset (without an RFC 2231 language) into CS, and its
 * length returned; 0 when S is no encoded word.
 */
static size_t
encoded_word(const char *s, struct buf *out, char *cs, size_t cslen)
{
	const char *q1, *q2, *end, *t;
	size_t n;
	int enc, v, bits = 0;
	unsigned acc = 0;

	if (s[0] != '=' || s[1] != '?' || (q1 = strchr(s + 2, '?')) == NULL ||
	    q1 == s + 2 || (enc = toupper((unsigned char)q1[1])) == 0 ||
	    (enc != 'B' && enc != 'Q') || q1[2] != '?' ||
	    (end = strstr(q1 + 3, "?=")) == NULL)
		return 0;
	for (t = s + 2; t < end; t++)
		if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 127)
			return 0;	/* no white space in a word */
	n = (size_t)(q1 - (s + 2));
	if ((q2 = memchr(s + 2, '*', n)) != NULL)
		n = (size_t)(q2 - (s + 2));
	if (n == 0 || n >= cslen)
		return 0;
	memcpy(cs, s + 2, n);
	cs[n] = '\0';
	for (t = q1 + 3; t < end; t++) {
		if (enc == 'Q') {
			if (*t == '_') {
				bput(out, " ", 1);
			} else if (*t == '=' && end - t >= 3 &&
				   hexval((unsigned char)t[1]) >= 0 &&
				   hexval((unsigned char)t[2]) >= 0) {
				char c = (char)(hexval((unsigned char)t[1]) * 16 +
						hexval((unsigned char)t[2]));

				bput(out, &c, 1);
				t += 2;
			} else {
				bput(out, t, 1);
			}
		} else if (*t != '=') {
			if ((v = b64val((unsigned char)*t)) < 0)
				return 0;
			acc = (acc << 6 | (unsigned)v) & 0xffff;
			if ((bits += 6) >= 8) {
				char c = (char)(acc >> (bits - 8) & 0xff);

				bits -= 8;
				bput(out, &c, 1);
			}
		}
	}
	return (size_t)(end + 2 - s);
}

/* Note that octets of charset CS are in the text: -1 on a conflict. */
static int
note_cs(char *have, size_t havelen, const char *cs)
{
	if (*have == '\0') {
		sm_strlcpy(have, cs, havelen);
		return 0;
	}
	return same_charset(have, cs) ? 0 : -1;
}

static int
is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * The Subject VALUE as a reader shows it: unfolded, encoded words
 * decoded (white space between two of them dropped), control
 * characters as spaces, trimmed.  Into SH; 0, or -1 when its octets
 * are not in one charset (raw 8-bit counts as UTF-8, RFC 6532).
 */
static int
decode_value(const char *value, struct shown *sh)
{
	struct buf out = { 0 }, w = { 0 }, ws = { 0 };
	char cs[64];
	size_t n, i, a;
	int prev_word = 0, rc = 0;

	sh->cs[0] = '\0';
	for (i = 0; value[i] != '\0';) {
		unsigned char c = (unsigned char)value[i];

		w.n = 0;
		if (c == '=' && (n = encoded_word(value + i, &w, cs,
						  sizeof(cs))) > 0) {
			out.oom |= w.oom;
			if (!prev_word)
				bput(&out, ws.d, ws.n);
			ws.n = 0;
			if (!is_ascii(w.d, w.n) &&
			    note_cs(sh->cs, sizeof(sh->cs), cs) < 0)
				rc = -1;
			bput(&out, w.d, w.n);
			prev_word = 1;
			i += n;
			continue;
		}
		if (c == '\r' || c == '\n') {
			/* Unfolding; a break without white space after
			   it is written with one (put_value). */
			i += strspn(value + i, "\r\n");
			if (value[i] != '\0' && !wsp((unsigned char)value[i]))
				bput(&ws, " ", 1);
			continue;
		}
		if (wsp(c)) {
			bput(&ws, " ", 1);
			i++;
			continue;
		}
		bput(&out, ws.d, ws.n);
		ws.n = 0;
		prev_word = 0;
		if (c >= 0x80 && note_cs(sh->cs, sizeof(sh->cs), "utf-8") < 0)
			rc = -1;
		bput(&out, &value[i], 1);
		i++;
	}
	free(w.d);
	free(ws.d);
	if (out.oom) {
		free(out.d);
		return -2;
	}
	for (i = 0; i < out.n; i++)
		if ((unsigned char)out.d[i] < 0x20 || out.d[i] == 0x7f)
			out.d[i] = ' ';
	for (a = 0; a < out.n && out.d[a] == ' '; a++)
		;
	n = out.n;
	while (n > a && out.d[n - 1] == ' ')
		n--;
	if ((sh->text = malloc(n - a + 1)) == NULL) {
		free(out.d);
		return -2;
	}
	if (n > a)
		memcpy(sh->text, out.d + a, n - a);
	sh->text[n - a] = '\0';
	sh->len = n - a;
	if (is_ascii(sh->text, sh->len))
		sh->cs[0] = '\0';
	free(out.d);
	return rc;
}

/* Append code point CP to B as HTML text (references beyond ASCII). */
static void
html_char(struct buf *b, unsigned long cp)
{
	char ref[32];

	if (cp == '&')
		bputs(b, "&amp;");
	else if (cp == '<')
		bputs(b, "&lt;");
	else if (cp == '>')
		bputs(b, "&gt;");
	else if (cp < 0x80) {
		char c = (char)cp;

		bput(b, &c, 1);
	} else {
		snprintf(ref, sizeof(ref), "&#%lu;", cp);
		bputs(b, ref);
	}
}

/* SH as HTML text into B: 0, or -1 when its charset is not one we read. */
static int
html_text(struct buf *b, const struct shown *sh)
{
	const unsigned char *s = (const unsigned char *)sh->text;
	size_t i, n, k;
	unsigned long cp;

	if (sh->cs[0] == '\0' || same_charset(sh->cs, "iso-8859-1")) {
		for (i = 0; i < sh->len; i++)
			html_char(b, s[i]);
		return 0;
	}
	if (!same_charset(sh->cs, "utf-8"))
		return -1;
	for (i = 0; i < sh->len; i += n) {	/* strict UTF-8 */
		if (s[i] < 0x80) {
			n = 1;
			cp = s[i];
		} else if (s[i] >= 0xc2 && s[i] < 0xe0) {
			n = 2;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] < 0xf0) {
			n = 3;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] < 0xf5) {
			n = 4;
			cp = s[i] & 0x07;
		} else {
			return -1;
		}
		if (i + n > sh->len)
			return -1;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		html_char(b, cp);
	}
	return 0;
}

/* ------------------------------------------------------ transfer codes */

/* Quoted-printable (RFC 2045 section 6.7) of T, lines ending CRLF. */
static void
qp_encode(struct buf *b, const char *t, size_t n)
{
	size_t col = 0, i, el;
	char enc[4];

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		int last = i + 1 == n || t[i + 1] == '\r';

		if (c == '\r' && i + 1 < n && t[i + 1] == '\n') {
			bput(b, "\r\n", 2);
			i++;
			col = 0;
			continue;
		}
		/* A line that starts "--" could pass for a delimiter. */
		if (((c >= 33 && c <= 126 && c != '=') || (wsp(c) && !last)) &&
		    !(c == '-' && col == 0)) {
			enc[0] = (char)c;
			el = 1;
		} else {
			snprintf(enc, sizeof(enc), "=%02X", c);
			el = 3;
		}
		if (col + el > 75) {
			bput(b, "=\r\n", 3);
			col = 0;
			if (c == '-') {
				snprintf(enc, sizeof(enc), "=%02X", c);
				el = 3;
			}
		}
		bput(b, enc, el);
		col += el;
	}
}

/* Base64 of T (N octets, a multiple of 3) in lines of 76, CRLF. */
static void
b64_encode(struct buf *b, const char *t, size_t n)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)t;
	size_t i, col = 0;
	char q[4];

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = a[s[i] >> 2];
		q[1] = a[(s[i] & 3) << 4 | s[i + 1] >> 4];
		q[2] = a[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		q[3] = a[s[i + 2] & 63];
		bput(b, q, 4);
		if ((col += 4) == 76) {
			bput(b, "\r\n", 2);
			col = 0;
		}
	}
	if (col > 0)
		bput(b, "\r\n", 2);
}

/* Is every line of T (lines ending CRLF) at most HP_LINE_MAX long? */
static int
lines_fit(const char *t, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (t[i] == '\n')
			col = 0;
		else if (t[i] != '\r' && ++col > HP_LINE_MAX)
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------- edits */

static int
add_edit(struct mil_protect *p, size_t off, size_t del, const char *text,
	 size_t len, struct mil_spool *spool)
{
	struct edit *e;

	if (p->nedits == p->capedits) {
		size_t cap = p->capedits ? 2 * p->capedits : 8;

		if ((e = realloc(p->edits, cap * sizeof(*e))) == NULL)
			return -1;
		p->edits = e;
		p->capedits = cap;
	}
	e = &p->edits[p->nedits];
	memset(e, 0, sizeof(*e));
	e->off = off;
	e->del = del;
	e->seq = p->seq++;
	e->spool = spool;
	if (text != NULL) {
		if ((e->text = malloc(len + 1)) == NULL)
			return -1;
		memcpy(e->text, text, len);
		e->text[len] = '\0';
		e->len = len;
	}
	p->nedits++;
	return 0;
}

static int
edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ------------------------------------------------------ public: life */

struct mil_protect *
mil_protect_new(const char *status_header, size_t mem_max)
{
	struct mil_protect *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->status = status_header;
	p->mem_max = mem_max < HP_SPOOL_MEM ? mem_max : HP_SPOOL_MEM;
	p->legacy_why = "";
	p->off_why = "";
	if ((p->inner = mil_spool_new(p->mem_max)) == NULL ||
	    (p->outer = mil_spool_new(p->mem_max)) == NULL) {
		mil_protect_free(p);
		return NULL;
	}
	return p;
}

void
mil_protect_free(struct mil_protect *p)
{
	size_t i;

	if (p == NULL)
		return;
	mil_spool_free(p->inner);
	mil_spool_free(p->outer);
	for (i = 0; i < p->nedits; i++)
		free(p->edits[i].text);
	free(p->edits);
	for (i = 0; i < p->nrefs; i++)
		free(p->refs[i].name);
	free(p->refs);
	free(p->chg);
	for (i = 0; i < HP_SHOWN_MAX; i++) {
		free(p->subject[i]);
		free(p->shown[i].text);
	}
	free(p->cts);
	free(p->html);
	free(p->hdr);
	free(p);
}

/* ---------------------------------------------------- the header phase */

/*
 * Not copied: fields added on the way (RFC 5321 section 4.4 trace
 * fields, RFC 7208, RFC 6376, RFC 8617, RFC 8601, Postfix's own, our
 * policy daemon's result), blind copies, and HP-Outer.
 */
static int
not_copied(const struct mil_protect *p, const char *name)
{
	static const char *const names[] = {
		"Received", "Return-Path", "Received-SPF", "Delivered-To",
		"X-Original-To", "DKIM-Signature", "ARC-Seal",
		"ARC-Message-Signature", "ARC-Authentication-Results",
		"Authentication-Results", "DANE-Client-Auth", "Bcc",
		"Resent-Bcc", "HP-Outer",
	};
	size_t i;

	if (strcasecmp(name, p->status) == 0)
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* A field name we can write again: printable ASCII, no colon. */
static int
good_name(const char *name)
{
	const char *s;

	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 ||
		    *s == ':')
			return 0;
	return s != name;
}

/*
 * VALUE into B as a header value: every line break (CRLF, LF or CR
 * alone, several in a row) written as one CRLF followed by white
 * space, so that it stays a continuation; lines of white space only,
 * and a break at the end, dropped.  Returns the length of its first
 * line.
 */
static size_t
put_value(struct buf *b, const char *value)
{
	const char *s = value, *t;
	size_t first = strcspn(value, "\r\n"), n;

	for (;;) {
		n = strcspn(s, "\r\n");
		bput(b, s, n);
		s += n;
		if (*s == '\0')
			return first;
		for (;;) {
			s += strspn(s, "\r\n");
			t = s + strspn(s, " \t");
			if (*t != '\r' && *t != '\n')
				break;
			s = t;
		}
		if (*t == '\0')
			return first;
		bput(b, "\r\n", 2);
		if (!wsp((unsigned char)*s))
			bput(b, " ", 1);
	}
}

/* The outside's lines hcp_baseline changes: note NAME's occurrence. */
static int
note_outer(struct mil_protect *p, const char *name, int index, int remove)
{
	struct outer_ref *r;

	if ((r = realloc(p->refs, (p->nrefs + 1) * sizeof(*r))) == NULL)
		return -1;
	p->refs = r;
	if ((r[p->nrefs].name = strdup(name)) == NULL)
		return -1;
	r[p->nrefs].index = index;
	r[p->nrefs].remove = remove;
	p->nrefs++;
	return 0;
}

/* A Content-* line of the entity, at [AT, END). */
static int
root_header(struct mil_protect *p, const char *name, const char *value,
	    size_t at, size_t end)
{
	struct part *r = &p->root;
	char tok[32];

	if (strcasecmp(name, "Content-Type") == 0) {
		void *v = realloc(p->cts, (p->ncts + 1) * sizeof(*p->cts));

		if (v == NULL)
			return -1;
		p->cts = v;
		p->cts[p->ncts].end = end - 2;
		p->cts[p->ncts].semi = ends_semi(value);
		p->ncts++;
		if (r->nct++ == 0) {
			mil_mime_ctype(value, &r->ct);
			r->ct_end = end - 2;
			r->ct_semi = ends_semi(value);
		} else {
			struct mil_ctype more;

			mil_mime_ctype(value, &more);
			r->ct.hp |= more.hp;
		}
	} else if (strcasecmp(name, "Content-Transfer-Encoding") == 0) {
		if (r->ncte++ == 0) {
			first_token(value, r->cte, sizeof(r->cte));
			r->cte_at = at;
			r->cte_end = end;
		}
	} else if (strcasecmp(name, "Content-Disposition") == 0) {
		first_token(value, tok, sizeof(tok));
		r->attachment |= strcmp(tok, "attachment") == 0;
	}
	return 0;
}

int
mil_protect_header(struct mil_protect *p, const char *name,
		   const char *value, int leadspc, size_t at, size_t end,
		   char *why, size_t whylen)
{
	struct buf in = { 0 }, out = { 0 };
	size_t first;
	int rc = 0, subject = 0, removed = 0;

	if (mil_mime_is_content(name)) {
		if (root_header(p, name, value, at, end) < 0)
			goto oom;
		return 0;
	}
	if (strcasecmp(name, "MIME-Version") == 0 || !good_name(name) ||
	    not_copied(p, name))
		return 0;
	/* Inside: as received. */
	bputs(&in, name);
	bputs(&in, leadspc ? ":" : ": ");
	put_value(&in, value);
	bput(&in, "\r\n", 2);
	/* Outside, after hcp_baseline. */
	if (strcasecmp(name, "Subject") == 0) {
		subject = 1;
		if (note_outer(p, name, ++p->nsubject, 0) < 0)
			goto oom;
		if (p->nsubject > HP_SHOWN_MAX || strlen(value) > HP_SUBJECT_MAX)
			p->subject_bad = 1;
		else if ((p->subject[p->nsubject - 1] = strdup(value)) == NULL)
			goto oom;
	} else if (strcasecmp(name, "Keywords") == 0) {
		removed = 1;
		if (note_outer(p, name, ++p->nkeywords, 1) < 0)
			goto oom;
	} else if (strcasecmp(name, "Comments") == 0) {
		removed = 1;
		if (note_outer(p, name, ++p->ncomments, 1) < 0)
			goto oom;
	}
	if (subject) {
		bputs(&out, "HP-Outer: ");
		bputs(&out, name);
		bputs(&out, ": " MIL_HP_OBSCURED "\r\n");
	} else if (!removed) {
		struct buf v = { 0 };

		first = put_value(&v, value);
		bputs(&out, "HP-Outer: ");
		bputs(&out, name);
		bputs(&out, ":");
		/* "HP-Outer: " must not push the line past the limit. */
		if (10 + strlen(name) + 2 + first > HP_LINE_MAX)
			bputs(&out, "\r\n");
		if (!leadspc || !wsp((unsigned char)*value))
			bputs(&out, " ");
		bput(&out, v.d, v.n);
		bput(&out, "\r\n", 2);
		out.oom |= v.oom;
		free(v.d);
	}
	if (in.oom || out.oom)
		goto oom;
	if (mil_spool_write(p->inner, in.d, in.n, why, whylen) < 0 ||
	    (out.n > 0 &&
	     mil_spool_write(p->outer, out.d, out.n, why, whylen) < 0))
		rc = -1;
	free(in.d);
	free(out.d);
	return rc;
oom:
	free(in.d);
	free(out.d);
	sm_strlcpy(why, "out of memory", whylen);
	return -1;
}

/* hcp_baseline's changes to the outside, deletions last first. */
static int
make_changes(struct mil_protect *p)
{
	size_t i;

	if (p->nrefs == 0)
		return 0;
	if ((p->chg = calloc(p->nrefs, sizeof(*p->chg))) == NULL)
		return -1;
	for (i = 0; i < p->nrefs; i++)
		if (!p->refs[i].remove) {
			p->chg[p->nchg].name = p->refs[i].name;
			p->chg[p->nchg].index = p->refs[i].index;
			p->chg[p->nchg++].value = MIL_HP_OBSCURED;
		}
	for (i = p->nrefs; i-- > 0;)
		if (p->refs[i].remove) {
			p->chg[p->nchg].name = p->refs[i].name;
			p->chg[p->nchg].index = p->refs[i].index;
			p->chg[p->nchg++].value = NULL;
		}
	return 0;
}

/*
 * What the Legacy Display Element shows: each Subject hcp_baseline
 * hid, decoded, and the HTML form when it has one.
 */
static int
prepare_shown(struct mil_protect *p)
{
	struct buf h = { 0 };
	size_t i;
	int rc, hidden = 0;

	p->shown_ok = 0;
	if (p->nsubject == 0)
		return 0;
	if (p->subject_bad) {
		p->legacy_why = "Subject too long or repeated";
		return 0;
	}
	for (i = 0; i < (size_t)p->nsubject; i++) {
		if ((rc = decode_value(p->subject[i], &p->shown[i])) == -2)
			return -1;
		p->nshown++;
		if (rc < 0) {
			p->legacy_why = "Subject not in one charset";
			return 0;
		}
		hidden |= strcmp(p->shown[i].text, MIL_HP_OBSCURED) != 0;
	}
	if (!hidden)
		return 0;	/* nothing hidden: nothing to show */
	p->shown_ok = 1;
	bputs(&h, "<div class=\"");
	bputs(&h, legacy_class);
	bputs(&h, "\">\r\n<pre>");
	for (i = 0; i < p->nshown; i++) {
		bputs(&h, i ? "\r\nSubject: " : "Subject: ");
		if (html_text(&h, &p->shown[i]) < 0) {
			free(h.d);
			return 0;
		}
	}
	/* No line break after it: the line it is put in goes on there,
	   never at the start of a line of its own. */
	bputs(&h, "</pre>\r\n</div>");
	if (h.oom) {
		free(h.d);
		return -1;
	}
	p->html = h.d;
	return 0;
}

/* ------------------------------------------------------ the element */

static void
legacy_skip(struct mil_protect *p, const char *why)
{
	if (*p->legacy_why == '\0')
		p->legacy_why = why;
}

/* The parameter that marks PT as holding an element. */
static int
mark_part(struct mil_protect *p, const struct part *pt)
{
	static const char param[] = "hp-legacy-display=\"1\"";
	char text[96];

	if (pt->root) {
		p->root_legacy = 1;	/* with hp="cipher", at the end */
		return 0;
	}
	if (pt->nct == 0) {
		snprintf(text, sizeof(text),
			 "Content-Type: text/plain; charset=us-ascii; %s\r\n",
			 param);
		return add_edit(p, pt->hdr_end, 0, text, strlen(text), NULL);
	}
	snprintf(text, sizeof(text), "%s%s", pt->ct_semi ? " " : "; ", param);
	return add_edit(p, pt->ct_end, 0, text, strlen(text), NULL);
}

/* Relabel the header at PT from 7bit (said or not) to 8bit. */
static int
relabel(struct mil_protect *p, const struct part *pt)
{
	static const char line[] = "Content-Transfer-Encoding: 8bit\r\n";

	if (pt->cte[0] != '\0' && strcmp(pt->cte, "7bit") != 0)
		return 0;
	if (pt->ncte > 0)
		return add_edit(p, pt->cte_at, pt->cte_end - pt->cte_at, line,
				sizeof(line) - 1, NULL);
	return add_edit(p, pt->hdr_end, 0, line, sizeof(line) - 1, NULL);
}

/* 8-bit octets go into PT: it and the multiparts around it say 8bit. */
static int
make_eight(struct mil_protect *p, const struct part *pt)
{
	size_t i;

	if (relabel(p, pt) < 0)
		return -1;
	for (i = 0; i < p->nframes; i++)
		if (!p->frames[i].eight) {
			p->frames[i].eight = 1;
			if (relabel(p, &p->frames[i].part) < 0)
				return -1;
		}
	return 0;
}

/* The element at the start of the text/plain part PT, if it fits. */
static int
plain_element(struct mil_protect *p, const struct part *pt)
{
	const char *cs = pt->ct.charset[0] ? pt->ct.charset : "us-ascii";
	const char *cte = pt->cte;
	struct buf t = { 0 }, e = { 0 };
	size_t i;
	int ascii = 1, rc = 0;

	for (i = 0; i < p->nshown; i++) {
		if (p->shown[i].cs[0] == '\0' ? !ascii_compatible(cs, 0) :
						!same_charset(p->shown[i].cs, cs)) {
			legacy_skip(p, "Subject not in the part's charset");
			return 0;
		}
		ascii &= p->shown[i].cs[0] == '\0';
	}
	for (i = 0; i < p->nshown; i++) {
		bputs(&t, "Subject: ");
		bput(&t, p->shown[i].text, p->shown[i].len);
		bput(&t, "\r\n", 2);
	}
	bput(&t, "\r\n", 2);
	if (t.oom)
		goto oom;
	if (*cte == '\0' || strcmp(cte, "7bit") == 0 ||
	    strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0) {
		if (!lines_fit(t.d, t.n)) {
			legacy_skip(p, "Subject line too long for the part");
			goto done;
		}
		if (!ascii && make_eight(p, pt) < 0)
			goto oom;
		bput(&e, t.d, t.n);
	} else if (strcmp(cte, "quoted-printable") == 0) {
		qp_encode(&e, t.d, t.n);
	} else if (strcmp(cte, "base64") == 0) {
		/* A whole number of quanta, so the part's own base64
		   follows on: each CRLF adds 2 octets, 2 is odd mod 3. */
		while (t.n % 3 != 0)
			bput(&t, "\r\n", 2);
		b64_encode(&e, t.d, t.n);
	} else {
		legacy_skip(p, "the part's Content-Transfer-Encoding");
		goto done;
	}
	if (e.oom || t.oom ||
	    add_edit(p, pt->content, 0, e.d, e.n, NULL) < 0 ||
	    mark_part(p, pt) < 0)
		goto oom;
	p->nlegacy++;
	goto done;
oom:
	rc = -1;
done:
	free(t.d);
	free(e.d);
	return rc;
}

/*
 * The element after the body start tag, which ends before OFF: on a
 * line of its own, the rest of the tag's line after it (which is no
 * longer than the tag: the line stays as short as it was).
 */
static int
html_element(struct mil_protect *p, size_t off)
{
	const struct part *pt = &p->cur;
	struct buf e = { 0 };
	size_t n = strlen(p->html);
	int rc = 0;

	if (strcmp(pt->cte, "quoted-printable") == 0) {
		bput(&e, "=\r\n", 3);	/* the line goes on after it */
		qp_encode(&e, p->html, n);
	} else if (!lines_fit(p->html, n)) {
		legacy_skip(p, "Subject line too long for the part");
		return 0;
	} else {
		bput(&e, "\r\n", 2);
		bput(&e, p->html, n);
	}
	if (e.oom || add_edit(p, off, 0, e.d, e.n, NULL) < 0 ||
	    mark_part(p, pt) < 0)
		rc = -1;
	else
		p->nlegacy++;
	free(e.d);
	return rc;
}

/* --------------------------------------------------------- the walk */

/* Can a main body part still come? */
static int
more_possible(const struct mil_protect *p)
{
	size_t i;

	if (p->nlegacy >= HP_LEGACY_MAX)
		return 0;
	for (i = 0; i < p->nframes; i++)
		if (p->frames[i].alternative || p->frames[i].child == 0)
			return 1;
	return 0;
}

static void
settle(struct mil_protect *p)
{
	if (p->state == W_SKIP && !more_possible(p))
		p->state = W_DONE;
}

static void
stop(struct mil_protect *p, const char *why)
{
	legacy_skip(p, why);
	p->state = W_DONE;
}

/* Follow the multipart PT into its parts. */
static void
push(struct mil_protect *p, const struct part *pt)
{
	const char *b = pt->ct.boundary;
	struct frame *f;
	size_t i, bl = strlen(b);

	if (*b == '\0' || pt->ct.boundary_bad) {
		stop(p, "a multipart without a usable boundary");
		return;
	}
	if (p->nframes == HP_DEPTH_MAX) {
		stop(p, "multiparts nested too deep");
		return;
	}
	/* One boundary a prefix of another: lines would be ambiguous. */
	for (i = 0; i < p->nframes; i++) {
		size_t ol = strlen(p->frames[i].boundary);

		if (strncmp(p->frames[i].boundary, b, ol < bl ? ol : bl) == 0) {
			stop(p, "nested multiparts with like boundaries");
			return;
		}
	}
	f = &p->frames[p->nframes++];
	memset(f, 0, sizeof(*f));
	f->part = *pt;
	sm_strlcpy(f->boundary, b, sizeof(f->boundary));
	f->alternative = strcmp(pt->ct.subtype, "alternative") == 0;
	f->digest = strcmp(pt->ct.subtype, "digest") == 0;
	p->state = W_SKIP;
}

/* What to do with the part (or entity) PT whose header was read. */
static int
decide(struct mil_protect *p, const struct part *pt)
{
	const struct frame *parent = p->nframes ? &p->frames[p->nframes - 1] :
						  NULL;
	const char *type = "text", *sub = "plain";

	p->state = W_SKIP;
	if (pt->nct > 1 || pt->ncte > 1 || pt->ct.ambiguous) {
		legacy_skip(p, "a part with an ambiguous header");
	} else if (pt->nct == 1 && pt->ct.type[0] == '\0') {
		legacy_skip(p, "a part with an unreadable Content-Type");
	} else {
		if (pt->nct == 1) {
			type = pt->ct.type;
			sub = pt->ct.subtype;
		} else if (parent != NULL && parent->digest) {
			type = "message";
			sub = "rfc822";
		}
		if (strcmp(type, "multipart") == 0) {
			push(p, pt);
		} else if (pt->attachment || strcmp(type, "text") != 0 ||
			   p->nshown == 0 || !p->shown_ok) {
			/* not a text to show it in */
		} else if (strcmp(sub, "plain") == 0) {
			if (plain_element(p, pt) < 0)
				return -1;
		} else if (strcmp(sub, "html") == 0) {
			const char *cs = pt->ct.charset[0] ? pt->ct.charset :
							     "us-ascii";

			if (p->html == NULL)
				legacy_skip(p, "Subject not in a charset "
					    "HTML can show");
			else if (!ascii_compatible(cs, 1))
				legacy_skip(p, "an HTML part's charset");
			else if (*pt->cte != '\0' &&
				 strcmp(pt->cte, "7bit") != 0 &&
				 strcmp(pt->cte, "8bit") != 0 &&
				 strcmp(pt->cte, "binary") != 0 &&
				 strcmp(pt->cte, "quoted-printable") != 0)
				legacy_skip(p, "an HTML part in base64");
			else {
				p->cur = *pt;
				p->hs = H_TEXT;
				p->scanned = 0;
				p->state = W_HTML;
			}
		}
	}
	if (p->state == W_SKIP && p->nframes == 0)
		p->state = W_DONE;
	settle(p);
	return 0;
}

/*
 * The part header in p->hdr, read into PT: -1 when it is not a header
 * (then the part is left alone).
 */
static int
parse_part(struct mil_protect *p, struct part *pt)
{
	const char *h = p->hdr;
	size_t n = p->nhdr, pos = 0, start, e, ve, nl;
	char *val, tok[32];

	memset(pt, 0, sizeof(*pt));
	if (memchr(h, '\0', n) != NULL)
		return -1;
	while (pos < n) {
		start = pos;
		if (h[pos] == '\r' || h[pos] == '\n')
			break;			/* the empty line */
		if (wsp((unsigned char)h[pos]))
			return -1;		/* a continuation first */
		/* The field's lines: until one that does not start with
		   white space. */
		for (e = pos;;) {
			const char *lf = memchr(h + e, '\n', n - e);

			e = lf ? (size_t)(lf - h) + 1 : n;
			if (e >= n || !wsp((unsigned char)h[e]))
				break;
		}
		ve = e;
		if (ve > start && h[ve - 1] == '\n')
			ve--;
		if (ve > start && h[ve - 1] == '\r')
			ve--;
		nl = strcspn(h + start, ":\n");
		if (start + nl >= ve || h[start + nl] != ':')
			return -1;
		if ((val = malloc(ve - start - nl)) == NULL)
			return -2;
		memcpy(val, h + start + nl + 1, ve - start - nl - 1);
		val[ve - start - nl - 1] = '\0';
		if (nl == 12 && strncasecmp(h + start, "Content-Type", 12) == 0) {
			if (pt->nct++ == 0) {
				mil_mime_ctype(val, &pt->ct);
				pt->ct_end = p->hdr_at + ve;
				pt->ct_semi = ends_semi(val);
			}
		} else if (nl == 25 && strncasecmp(h + start,
					"Content-Transfer-Encoding", 25) == 0) {
			if (pt->ncte++ == 0) {
				first_token(val, pt->cte, sizeof(pt->cte));
				pt->cte_at = p->hdr_at + start;
				pt->cte_end = p->hdr_at + e;
			}
		} else if (nl == 19 && strncasecmp(h + start,
					"Content-Disposition", 19) == 0) {
			first_token(val, tok, sizeof(tok));
			pt->attachment |= strcmp(tok, "attachment") == 0;
		}
		free(val);
		pos = e;
	}
	pt->hdr_end = p->hdr_at + pos;
	return 0;
}

/* The part header ended with the empty line that ends at OFF. */
static int
header_done(struct mil_protect *p, size_t off)
{
	struct part pt;
	int rc;

	if (p->hdr_bad) {
		legacy_skip(p, "a part header too long");
		p->state = W_SKIP;
		settle(p);
		return 0;
	}
	if ((rc = parse_part(p, &pt)) == -2)
		return -1;
	if (rc < 0) {
		legacy_skip(p, "a part whose header cannot be read");
		p->state = W_SKIP;
		settle(p);
		return 0;
	}
	pt.content = off;
	return decide(p, &pt);
}

/*
 * Is the line just ended a delimiter?  0 no, 1 a delimiter, 2 a close
 * delimiter of frame *WHICH, -1 a line that starts with a boundary but
 * is not one (RFC 2046 forbids it: readers differ).
 */
static int
delimiter(const struct mil_protect *p, size_t *which)
{
	const char *l = p->keep;
	size_t n = p->nkeep, i, k, bl;
	int close;

	if (n < 3 || l[0] != '-' || l[1] != '-')
		return 0;
	for (k = p->nframes; k-- > 0;) {
		bl = strlen(p->frames[k].boundary);
		if (n < 2 + bl || memcmp(l + 2, p->frames[k].boundary, bl) != 0)
			continue;
		i = 2 + bl;
		if ((close = n >= i + 2 && l[i] == '-' && l[i + 1] == '-'))
			i += 2;
		for (; i < n; i++)
			if (!blank((unsigned char)l[i]))
				return -1;
		if (p->line_len > n && !p->tail_blank)
			return -1;
		*which = k;
		return close ? 2 : 1;
	}
	return 0;
}

/* A line ended; the next one starts at entity offset NEXT. */
static int
end_line(struct mil_protect *p, size_t next)
{
	size_t k, n = p->nkeep;
	int d = delimiter(p, &k);
	struct frame *f;

	if (d < 0) {
		stop(p, "a line that starts with a boundary");
		return 0;
	}
	if (d == 0) {
		/* The empty line: "\r\n" or "\n" alone. */
		if (p->state == W_HEADERS && p->line_len == n &&
		    (n == 1 || (n == 2 && p->keep[0] == '\r')))
			return header_done(p, next);
		return 0;
	}
	if (p->state == W_HTML)
		legacy_skip(p, "no <body> in an HTML part");
	if (p->state == W_HEADERS)
		legacy_skip(p, "a part without content");
	if (k + 1 != p->nframes) {
		stop(p, "a part not closed before its parent");
		return 0;
	}
	f = &p->frames[k];
	if (d == 2) {
		p->nframes--;
		p->state = p->nframes ? W_SKIP : W_DONE;
		settle(p);
		return 0;
	}
	f->child++;
	if (f->alternative || f->child == 1) {
		p->state = W_HEADERS;
		p->nhdr = 0;
		p->hdr_bad = 0;
		p->hdr_at = next;
	} else {
		p->state = W_SKIP;
		settle(p);
	}
	return 0;
}

/* N octets of the current line (the state may want them all). */
static void
take(struct mil_protect *p, const char *d, size_t n)
{
	size_t k = 0, i;

	if (p->nkeep < HP_KEEP) {
		k = n < HP_KEEP - p->nkeep ? n : HP_KEEP - p->nkeep;
		memcpy(p->keep + p->nkeep, d, k);
		p->nkeep += k;
	}
	if (k < n && p->tail_blank) {
		/* Only a line that may be a delimiter needs its tail. */
		if (p->keep[0] != '-' || p->keep[1] != '-')
			p->tail_blank = 0;
		for (i = k; i < n && p->tail_blank; i++)
			if (!blank((unsigned char)d[i]))
				p->tail_blank = 0;
	}
	p->line_len += n;
	if (p->state == W_HEADERS && !p->hdr_bad) {
		if (p->nhdr + n > HP_PART_HDR_MAX) {
			p->hdr_bad = 1;
			return;
		}
		memcpy(p->hdr + p->nhdr, d, n);
		p->nhdr += n;
	}
}

/* One octet of an HTML part at entity offset OFF. */
static int
html_octet(struct mil_protect *p, int c, size_t off)
{
	if (++p->scanned > HP_HTML_SCAN) {
		legacy_skip(p, "no <body> in the first 64 KB of an HTML part");
		p->state = p->nframes ? W_SKIP : W_DONE;
		settle(p);
		return 0;
	}
	switch (p->hs) {
	case H_TEXT:
		if (c == '<')
			p->hs = H_LT;
		break;
	case H_LT:
		p->ntag = 0;
		if (c == '!') {
			p->hs = H_BANG;
		} else if (isalpha(c) || c == '/') {
			p->tag[p->ntag++] = (char)tolower(c);
			p->hs = H_NAME;
		} else {
			p->hs = c == '<' ? H_LT : H_TEXT;
		}
		break;
	case H_NAME:
		if (isalnum(c)) {
			if (p->ntag < sizeof(p->tag))
				p->tag[p->ntag] = (char)tolower(c);
			p->ntag++;
			break;
		}
		p->is_body = p->ntag == 4 && memcmp(p->tag, "body", 4) == 0 &&
			     (blank(c) || c == '/' || c == '>');
		p->hs = H_TAG;
		/* FALLTHROUGH */
	case H_TAG:
		if (c == '"')
			p->hs = H_DQ;
		else if (c == '\'')
			p->hs = H_SQ;
		else if (c == '>') {
			p->hs = H_TEXT;
			if (p->is_body) {
				p->is_body = 0;
				p->state = p->nframes ? W_SKIP : W_DONE;
				if (html_element(p, off + 1) < 0)
					return -1;
				settle(p);
			}
		}
		break;
	case H_DQ:
		if (c == '"')
			p->hs = H_TAG;
		break;
	case H_SQ:
		if (c == '\'')
			p->hs = H_TAG;
		break;
	case H_BANG:
		if (c == '-' && ++p->ntag == 2) {
			p->hs = H_COMMENT;
			p->ntag = 0;
		} else if (c != '-') {
			p->is_body = 0;
			p->hs = c == '>' ? H_TEXT : H_TAG;
		}
		break;
	case H_COMMENT:
		if (c == '-')
			p->ntag++;
		else {
			if (c == '>' && p->ntag >= 2)
				p->hs = H_TEXT;
			p->ntag = 0;
		}
		break;
	}
	return 0;
}

/* ----------------------------------------------- public: the phases */

int
mil_protect_eoh(struct mil_protect *p, size_t at, char *why, size_t whylen)
{
	struct part *r = &p->root;

	r->root = 1;
	r->hdr_end = at;
	r->content = at + 2;
	p->body_at = at + 2;
	p->line_at = p->body_at;
	p->tail_blank = 1;
	/* Signed by the sender: its payload is the signed content. */
	if (r->ct.hp) {
		p->off = 1;
		p->off_why = "the Content-Type has RFC 9788 parameters already";
	} else if (strcmp(r->ct.type, "multipart") == 0 &&
		   strcmp(r->ct.subtype, "signed") == 0) {
		p->off = 1;
		p->off_why = "signed (multipart/signed)";
	} else if (strcmp(r->ct.type, "application") == 0 &&
		   (strcmp(r->ct.subtype, "pkcs7-mime") == 0 ||
		    strcmp(r->ct.subtype, "x-pkcs7-mime") == 0)) {
		p->off = 1;
		p->off_why = "signed (S/MIME)";
	}
	if (p->off) {
		p->state = W_DONE;
		return 0;
	}
	if ((p->hdr = malloc(HP_PART_HDR_MAX)) == NULL ||
	    make_changes(p) < 0 || prepare_shown(p) < 0 ||
	    (mil_spool_size(p->inner) > 0 &&
	     add_edit(p, 0, 0, NULL, 0, p->inner) < 0) ||
	    decide(p, r) < 0) {
		sm_strlcpy(why, "out of memory", whylen);
		return -1;
	}
	return 0;
}

int
mil_protect_body(struct mil_protect *p, const void *data, size_t len,
		 char *why, size_t whylen)
{
	const char *d = data;
	size_t n;
	const char *nl;

	while (len > 0) {
		if (p->state == W_DONE) {
			p->pos += len;
			return 0;
		}
		if (p->state == W_HTML) {
			/* One octet at a time, with where it is. */
			n = 1;
			if (html_octet(p, (unsigned char)*d,
				       p->body_at + p->pos) < 0)
				goto oom;
		} else {
			nl = memchr(d, '\n', len);
			n = nl ? (size_t)(nl - d) + 1 : len;
		}
		take(p, d, n);
		p->pos += n;
		if (d[n - 1] == '\n') {
			size_t next = p->body_at + p->pos;

			if (end_line(p, next) < 0)
				goto oom;
			p->line_at = next;
			p->line_len = 0;
			p->nkeep = 0;
			p->tail_blank = 1;
		}
		d += n;
		len -= n;
	}
	return 0;
oom:
	sm_strlcpy(why, "out of memory", whylen);
	return -1;
}

/* ----------------------------------------------------- the reader */

struct reader {
	struct mil_protect *p;
	FILE *src;		/* the entity */
	size_t pos;		/* entity octets read */
	size_t e;		/* the next edit */
	size_t given;		/* octets of it given */
	int emitted;		/* all of it given */
	FILE *sub;		/* its spool */
};

/* Up to N octets of edit ED into BUF: 0 when it is all given. */
static ssize_t
emit(struct reader *r, const struct edit *ed, char *buf, size_t n)
{
	size_t got;

	if (ed->spool == NULL) {
		got = ed->len - r->given < n ? ed->len - r->given : n;
		memcpy(buf, ed->text + r->given, got);
		r->given += got;
		return (ssize_t)got;
	}
	if (r->sub == NULL &&
	    (r->sub = mil_spool_reader(ed->spool, NULL, 0)) == NULL)
		return -1;
	got = fread(buf, 1, n, r->sub);
	if (got == 0) {
		int bad = ferror(r->sub);

		fclose(r->sub);
		r->sub = NULL;
		return bad ? -1 : 0;
	}
	return (ssize_t)got;
}

static ssize_t
reader_read(void *cookie, char *buf, size_t size)
{
	struct reader *r = cookie;
	struct mil_protect *p = r->p;
	char skip[4096];
	size_t got = 0, want, n;
	ssize_t k;

	while (got < size) {
		struct edit *ed = r->e < p->nedits ? &p->edits[r->e] : NULL;

		if (ed != NULL && ed->off <= r->pos) {
			if (!r->emitted) {
				if ((k = emit(r, ed, buf + got, size - got)) < 0)
					return -1;
				if (k > 0) {
					got += (size_t)k;
					continue;
				}
				r->emitted = 1;
			}
			/* Then the octets it replaces are passed over. */
			for (want = ed->del; want > 0; want -= n) {
				n = fread(skip, 1, want < sizeof(skip) ?
					  want : sizeof(skip), r->src);
				if (n == 0)
					return -1;
				r->pos += n;
			}
			r->e++;
			r->given = 0;
			r->emitted = 0;
			continue;
		}
		want = size - got;
		if (ed != NULL && ed->off - r->pos < want)
			want = ed->off - r->pos;
		if ((n = fread(buf + got, 1, want, r->src)) == 0) {
			if (ferror(r->src) || ed != NULL)
				return -1;	/* an edit past the end */
			break;
		}
		got += n;
		r->pos += n;
	}
	return (ssize_t)got;
}

static int
reader_close(void *cookie)
{
	struct reader *r = cookie;

	if (r->sub != NULL)
		fclose(r->sub);
	fclose(r->src);
	free(r);
	return 0;
}

/* The entity's Content-Type lines get hp="cipher" (and the marker). */
static int
finish_root(struct mil_protect *p)
{
	char text[128];
	const char *legacy = p->root_legacy ? "; hp-legacy-display=\"1\"" : "";
	size_t i;

	if (p->ncts == 0) {
		snprintf(text, sizeof(text), "Content-Type: text/plain; "
			 "charset=us-ascii%s; hp=\"cipher\"\r\n", legacy);
		return add_edit(p, p->root.hdr_end, 0, text, strlen(text),
				NULL);
	}
	for (i = 0; i < p->ncts; i++) {
		snprintf(text, sizeof(text), "%shp=\"cipher\"%s",
			 p->cts[i].semi ? " " : "; ", i == 0 ? legacy : "");
		if (add_edit(p, p->cts[i].end, 0, text, strlen(text), NULL) < 0)
			return -1;
	}
	return 0;
}

FILE *
mil_protect_reader(struct mil_protect *p, struct mil_spool *entity,
		   char *why, size_t whylen)
{
	cookie_io_functions_t io = { reader_read, NULL, NULL, reader_close };
	struct reader *r;
	FILE *f;

	if (p->off)
		return mil_spool_reader(entity, why, whylen);
	if (!p->finished) {
		if (p->state == W_HTML)	/* the body ended first */
			legacy_skip(p, "no <body> in an HTML part");
		/* HP-Outer last, after every Content-* line. */
		if (finish_root(p) < 0 ||
		    (mil_spool_size(p->outer) > 0 &&
		     add_edit(p, p->root.hdr_end, 0, NULL, 0, p->outer) < 0)) {
			sm_strlcpy(why, "out of memory", whylen);
			return NULL;
		}
		qsort(p->edits, p->nedits, sizeof(*p->edits), edit_cmp);
		p->finished = 1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		sm_strlcpy(why, "out of memory", whylen);
		return NULL;
	}
	r->p = p;
	if ((r->src = mil_spool_reader(entity, why, whylen)) == NULL) {
		free(r);
		return NULL;
	}
	if ((f = fopencookie(r, "r", io)) == NULL) {
		sm_strlcpy(why, "out of memory", whylen);
		reader_close(r);
	}
	return f;
}

/* ---------------------------------------------------- public: results */

int
mil_protect_applied(const struct mil_protect *p, const char **why)
{
	if (why != NULL)
		*why = p->off_why;
	return !p->off;
}

const struct mil_hp_change *
mil_protect_changes(const struct mil_protect *p, size_t *n)
{
	*n = p->off ? 0 : p->nchg;
	return *n ? p->chg : NULL;
}

int
mil_protect_legacy(const struct mil_protect *p, const char **why)
{
	if (why != NULL)
		*why = p->off ? "" : p->legacy_why;
	return p->nlegacy;
}
