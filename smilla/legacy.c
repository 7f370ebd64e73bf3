/*
 * legacy.c - the Legacy Display Element of header protection (RFC
 * 9788): the Subject shown at the start of the main body parts of a
 * body followed as it is spooled.  The contract is legacy.h.
 *
 *   mil_legacy_new() / mil_legacy_free(l)
 *   mil_legacy_subject(l, value) / mil_legacy_content(l, name, value,
 *	at, end)				header phase
 *   mil_legacy_eoh(l, at) / mil_legacy_body(l, data, len)
 *   mil_legacy_splices(l, &n)			what to put in where
 *   mil_legacy_root(l) / mil_legacy_count(l, &why)
 *
 * The body is followed line by line, only as far as main body parts
 * can still come: the start of each line is kept to tell a delimiter,
 * a part's header section is read whole, an HTML part octet by octet
 * up to its body start tag.  A line that starts with a boundary and is
 * not a delimiter, or any other structure mail readers may read in
 * more than one way, ends the walk: an element is only put where every
 * reader sees the same part.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "legacy.h"
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

static const char legacy_class[] = "header-protection-legacy-display";

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

/* A buffer that notes running out of memory instead of failing. */
struct buf {
	char *d;
	size_t n, cap;
	int oom;
};

struct mil_legacy {
	struct part root;	/* the entity's own header */
	char *subject[HP_SHOWN_MAX];	/* values as received */
	int nsubject;
	int subject_bad;	/* too long, too many */
	struct shown shown[HP_SHOWN_MAX];
	size_t nshown;
	int shown_ok;		/* shown[] could be decoded */
	char *html;		/* the div, ASCII; NULL if it cannot be */
	int nlegacy, root_legacy;
	const char *why;
	struct mil_splice *splices;
	size_t nsplices, capsplices;
	/* following the body */
	enum walk state;
	struct frame frames[HP_DEPTH_MAX];
	size_t nframes;
	size_t body_at;		/* entity offset of the body */
	size_t pos;		/* body octets seen */
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
	int is_body;
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

/*
 * One encoded word at S ("=?charset?B|Q?text?="): its decoded octets
 * into OUT, its charset (without an RFC 2231 language) into CS, and its
 * length returned; 0 when S is no encoded word.
 */
static size_t
encoded_word(const char *s, struct buf *out, char *cs, size_t cslen)
{
	const char *q1, *q2, *end, *t;
	uint8_t *dec;
	size_t n, dlen;
	int enc;

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
		n = (size_t)(q2 - (s + 2));	/* RFC 2231 language */
	if (n == 0 || n >= cslen)
		return 0;
	memcpy(cs, s + 2, n);
	cs[n] = '\0';
	if (enc == 'B') {
		if (mil_mime_base64((const uint8_t *)q1 + 3,
				    (size_t)(end - (q1 + 3)), &dec, &dlen, NULL,
				    0) < 0)
			return 0;
		bput(out, dec, dlen);
		free(dec);
		return (size_t)(end + 2 - s);
	}
	for (t = q1 + 3; t < end; t++) {
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

/* Base64 of T (N octets) in lines of 76, CRLF; -1 out of memory. */
static int
b64_encode(struct buf *b, const char *t, size_t n)
{
	char *a = sm_base64_encode((const uint8_t *)t, n);
	size_t i, len, k;

	if (a == NULL)
		return -1;
	for (i = 0, len = strlen(a); i < len; i += k) {
		k = len - i < 76 ? len - i : 76;
		bput(b, a + i, k);
		bput(b, "\r\n", 2);
	}
	free(a);
	return 0;
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

/* -------------------------------------------------------- splices */

static int
splice(struct mil_legacy *l, size_t off, size_t del, const char *text,
       size_t len)
{
	struct mil_splice *s;

	if (l->nsplices == l->capsplices) {
		size_t cap = l->capsplices ? 2 * l->capsplices : 8;

		if ((s = realloc(l->splices, cap * sizeof(*s))) == NULL)
			return -1;
		l->splices = s;
		l->capsplices = cap;
	}
	s = &l->splices[l->nsplices];
	if ((s->text = malloc(len + 1)) == NULL)
		return -1;
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	s->off = off;
	s->del = del;
	l->nsplices++;
	return 0;
}

/* ------------------------------------------------------------ life */

struct mil_legacy *
mil_legacy_new(void)
{
	struct mil_legacy *l = calloc(1, sizeof(*l));

	if (l != NULL)
		l->why = "";
	return l;
}

void
mil_legacy_free(struct mil_legacy *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < HP_SHOWN_MAX; i++) {
		free(l->subject[i]);
		free(l->shown[i].text);
	}
	for (i = 0; i < l->nsplices; i++)
		free(l->splices[i].text);
	free(l->splices);
	free(l->html);
	free(l->hdr);
	free(l);
}

/* ---------------------------------------------------- header phase */

int
mil_legacy_subject(struct mil_legacy *l, const char *value)
{
	if (++l->nsubject > HP_SHOWN_MAX || strlen(value) > HP_SUBJECT_MAX) {
		l->subject_bad = 1;
		return 0;
	}
	return (l->subject[l->nsubject - 1] = strdup(value)) != NULL ? 0 : -1;
}

int
mil_legacy_content(struct mil_legacy *l, const char *name, const char *value,
		   size_t at, size_t end)
{
	struct part *r = &l->root;
	char tok[32];

	if (strcasecmp(name, "Content-Type") == 0) {
		if (r->nct++ == 0) {
			mil_mime_ctype(value, &r->ct);
			r->ct_end = end - 2;
			r->ct_semi = r->ct.semi_end;
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

/*
 * What the Legacy Display Element shows: each Subject hcp_baseline
 * hid, decoded, and the HTML form when it has one.
 */
static int
prepare_shown(struct mil_legacy *l)
{
	struct buf h = { 0 };
	size_t i;
	int rc, hidden = 0;

	l->shown_ok = 0;
	if (l->nsubject == 0)
		return 0;
	if (l->subject_bad) {
		l->why = "Subject too long or repeated";
		return 0;
	}
	for (i = 0; i < (size_t)l->nsubject; i++) {
		if ((rc = decode_value(l->subject[i], &l->shown[i])) == -2)
			return -1;
		l->nshown++;
		if (rc < 0) {
			l->why = "Subject not in one charset";
			return 0;
		}
		hidden |= strcmp(l->shown[i].text, MIL_HP_OBSCURED) != 0;
	}
	if (!hidden)
		return 0;	/* nothing hidden: nothing to show */
	l->shown_ok = 1;
	bputs(&h, "<div class=\"");
	bputs(&h, legacy_class);
	bputs(&h, "\">\r\n<pre>");
	for (i = 0; i < l->nshown; i++) {
		bputs(&h, i ? "\r\nSubject: " : "Subject: ");
		if (html_text(&h, &l->shown[i]) < 0) {
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
	l->html = h.d;
	return 0;
}

/* ------------------------------------------------------ the element */

static void
legacy_skip(struct mil_legacy *l, const char *why)
{
	if (*l->why == '\0')
		l->why = why;
}

/* The parameter that marks PT as holding an element. */
static int
mark_part(struct mil_legacy *l, const struct part *pt)
{
	static const char param[] = "hp-legacy-display=\"1\"";
	char text[96];

	if (pt->root) {
		l->root_legacy = 1;	/* with hp="cipher", at the end */
		return 0;
	}
	if (pt->nct == 0) {
		snprintf(text, sizeof(text),
			 "Content-Type: text/plain; charset=us-ascii; %s\r\n",
			 param);
		return splice(l, pt->hdr_end, 0, text, strlen(text));
	}
	snprintf(text, sizeof(text), "%s%s", pt->ct_semi ? " " : "; ", param);
	return splice(l, pt->ct_end, 0, text, strlen(text));
}

/* Relabel the header at PT from 7bit (said or not) to 8bit. */
static int
relabel(struct mil_legacy *l, const struct part *pt)
{
	static const char line[] = "Content-Transfer-Encoding: 8bit\r\n";

	if (pt->cte[0] != '\0' && strcmp(pt->cte, "7bit") != 0)
		return 0;
	if (pt->ncte > 0)
		return splice(l, pt->cte_at, pt->cte_end - pt->cte_at, line,
				sizeof(line) - 1);
	return splice(l, pt->hdr_end, 0, line, sizeof(line) - 1);
}

/* 8-bit octets go into PT: it and the multiparts around it say 8bit. */
static int
make_eight(struct mil_legacy *l, const struct part *pt)
{
	size_t i;

	if (relabel(l, pt) < 0)
		return -1;
	for (i = 0; i < l->nframes; i++)
		if (!l->frames[i].eight) {
			l->frames[i].eight = 1;
			if (relabel(l, &l->frames[i].part) < 0)
				return -1;
		}
	return 0;
}

/* The element at the start of the text/plain part PT, if it fits. */
static int
plain_element(struct mil_legacy *l, const struct part *pt)
{
	const char *cs = pt->ct.charset[0] ? pt->ct.charset : "us-ascii";
	const char *cte = pt->cte;
	struct buf t = { 0 }, e = { 0 };
	size_t i;
	int ascii = 1, rc = 0;

	for (i = 0; i < l->nshown; i++) {
		if (l->shown[i].cs[0] == '\0' ? !ascii_compatible(cs, 0) :
						!same_charset(l->shown[i].cs, cs)) {
			legacy_skip(l, "Subject not in the part's charset");
			return 0;
		}
		ascii &= l->shown[i].cs[0] == '\0';
	}
	for (i = 0; i < l->nshown; i++) {
		bputs(&t, "Subject: ");
		bput(&t, l->shown[i].text, l->shown[i].len);
		bput(&t, "\r\n", 2);
	}
	bput(&t, "\r\n", 2);
	if (t.oom)
		goto oom;
	if (*cte == '\0' || strcmp(cte, "7bit") == 0 ||
	    strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0) {
		if (!lines_fit(t.d, t.n)) {
			legacy_skip(l, "Subject line too long for the part");
			goto done;
		}
		if (!ascii && make_eight(l, pt) < 0)
			goto oom;
		bput(&e, t.d, t.n);
	} else if (strcmp(cte, "quoted-printable") == 0) {
		qp_encode(&e, t.d, t.n);
	} else if (strcmp(cte, "base64") == 0) {
		/* A whole number of quanta, so the part's own base64
		   follows on: each CRLF adds 2 octets, 2 is odd mod 3. */
		while (t.n % 3 != 0)
			bput(&t, "\r\n", 2);
		if (b64_encode(&e, t.d, t.n) < 0)
			goto oom;
	} else {
		legacy_skip(l, "the part's Content-Transfer-Encoding");
		goto done;
	}
	if (e.oom || t.oom ||
	    splice(l, pt->content, 0, e.d, e.n) < 0 ||
	    mark_part(l, pt) < 0)
		goto oom;
	l->nlegacy++;
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
html_element(struct mil_legacy *l, size_t off)
{
	const struct part *pt = &l->cur;
	struct buf e = { 0 };
	size_t n = strlen(l->html);
	int rc = 0;

	if (strcmp(pt->cte, "quoted-printable") == 0) {
		bput(&e, "=\r\n", 3);	/* the line goes on after it */
		qp_encode(&e, l->html, n);
	} else if (!lines_fit(l->html, n)) {
		legacy_skip(l, "Subject line too long for the part");
		return 0;
	} else {
		bput(&e, "\r\n", 2);
		bput(&e, l->html, n);
	}
	if (e.oom || splice(l, off, 0, e.d, e.n) < 0 ||
	    mark_part(l, pt) < 0)
		rc = -1;
	else
		l->nlegacy++;
	free(e.d);
	return rc;
}

/* --------------------------------------------------------- the walk */

/* Can a main body part still come? */
static int
more_possible(const struct mil_legacy *l)
{
	size_t i;

	if (l->nlegacy >= HP_LEGACY_MAX)
		return 0;
	for (i = 0; i < l->nframes; i++)
		if (l->frames[i].alternative || l->frames[i].child == 0)
			return 1;
	return 0;
}

static void
settle(struct mil_legacy *l)
{
	if (l->state == W_SKIP && !more_possible(l))
		l->state = W_DONE;
}

static void
stop(struct mil_legacy *l, const char *why)
{
	legacy_skip(l, why);
	l->state = W_DONE;
}

/* Follow the multipart PT into its parts. */
static void
push(struct mil_legacy *l, const struct part *pt)
{
	const char *b = pt->ct.boundary;
	struct frame *f;
	size_t i, bl = strlen(b);

	if (*b == '\0' || pt->ct.boundary_bad) {
		stop(l, "a multipart without a usable boundary");
		return;
	}
	if (l->nframes == HP_DEPTH_MAX) {
		stop(l, "multiparts nested too deep");
		return;
	}
	/* One boundary a prefix of another: lines would be ambiguous. */
	for (i = 0; i < l->nframes; i++) {
		size_t ol = strlen(l->frames[i].boundary);

		if (strncmp(l->frames[i].boundary, b, ol < bl ? ol : bl) == 0) {
			stop(l, "nested multiparts with like boundaries");
			return;
		}
	}
	f = &l->frames[l->nframes++];
	memset(f, 0, sizeof(*f));
	f->part = *pt;
	sm_strlcpy(f->boundary, b, sizeof(f->boundary));
	f->alternative = strcmp(pt->ct.subtype, "alternative") == 0;
	f->digest = strcmp(pt->ct.subtype, "digest") == 0;
	l->state = W_SKIP;
}

/* What to do with the part (or entity) PT whose header was read. */
static int
decide(struct mil_legacy *l, const struct part *pt)
{
	const struct frame *parent = l->nframes ? &l->frames[l->nframes - 1] :
						  NULL;
	const char *type = "text", *sub = "plain";

	l->state = W_SKIP;
	if (pt->nct > 1 || pt->ncte > 1 || pt->ct.ambiguous) {
		legacy_skip(l, "a part with an ambiguous header");
	} else if (pt->nct == 1 && pt->ct.type[0] == '\0') {
		legacy_skip(l, "a part with an unreadable Content-Type");
	} else {
		if (pt->nct == 1) {
			type = pt->ct.type;
			sub = pt->ct.subtype;
		} else if (parent != NULL && parent->digest) {
			type = "message";
			sub = "rfc822";
		}
		if (strcmp(type, "multipart") == 0) {
			push(l, pt);
		} else if (pt->attachment || strcmp(type, "text") != 0 ||
			   l->nshown == 0 || !l->shown_ok) {
			/* not a text to show it in */
		} else if (strcmp(sub, "plain") == 0) {
			if (plain_element(l, pt) < 0)
				return -1;
		} else if (strcmp(sub, "html") == 0) {
			const char *cs = pt->ct.charset[0] ? pt->ct.charset :
							     "us-ascii";

			if (l->html == NULL)
				legacy_skip(l, "Subject not in a charset "
					    "HTML can show");
			else if (!ascii_compatible(cs, 1))
				legacy_skip(l, "an HTML part's charset");
			else if (*pt->cte != '\0' &&
				 strcmp(pt->cte, "7bit") != 0 &&
				 strcmp(pt->cte, "8bit") != 0 &&
				 strcmp(pt->cte, "binary") != 0 &&
				 strcmp(pt->cte, "quoted-printable") != 0)
				legacy_skip(l, "an HTML part in base64");
			else {
				l->cur = *pt;
				l->hs = H_TEXT;
				l->scanned = 0;
				l->state = W_HTML;
			}
		}
	}
	if (l->state == W_SKIP && l->nframes == 0)
		l->state = W_DONE;
	settle(l);
	return 0;
}

/*
 * The part header in l->hdr, read into PT: -1 when it is not a header
 * (then the part is left alone).
 */
static int
parse_part(struct mil_legacy *l, struct part *pt)
{
	const char *h = l->hdr;
	size_t n = l->nhdr, pos = 0, start, e, ve, nl;
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
				pt->ct_end = l->hdr_at + ve;
				pt->ct_semi = pt->ct.semi_end;
			}
		} else if (nl == 25 && strncasecmp(h + start,
					"Content-Transfer-Encoding", 25) == 0) {
			if (pt->ncte++ == 0) {
				first_token(val, pt->cte, sizeof(pt->cte));
				pt->cte_at = l->hdr_at + start;
				pt->cte_end = l->hdr_at + e;
			}
		} else if (nl == 19 && strncasecmp(h + start,
					"Content-Disposition", 19) == 0) {
			first_token(val, tok, sizeof(tok));
			pt->attachment |= strcmp(tok, "attachment") == 0;
		}
		free(val);
		pos = e;
	}
	pt->hdr_end = l->hdr_at + pos;
	return 0;
}

/* The part header ended with the empty line that ends at OFF. */
static int
header_done(struct mil_legacy *l, size_t off)
{
	struct part pt;
	int rc;

	if (l->hdr_bad) {
		legacy_skip(l, "a part header too long");
		l->state = W_SKIP;
		settle(l);
		return 0;
	}
	if ((rc = parse_part(l, &pt)) == -2)
		return -1;
	if (rc < 0) {
		legacy_skip(l, "a part whose header cannot be read");
		l->state = W_SKIP;
		settle(l);
		return 0;
	}
	pt.content = off;
	return decide(l, &pt);
}

/*
 * Is the line just ended a delimiter?  0 no, 1 a delimiter, 2 a close
 * delimiter of frame *WHICH, -1 a line that starts with a boundary but
 * is not one (RFC 2046 forbids it: readers differ).
 */
static int
delimiter(const struct mil_legacy *l, size_t *which)
{
	const char *ln = l->keep;
	size_t n = l->nkeep, i, k, bl;
	int close;

	if (n < 3 || ln[0] != '-' || ln[1] != '-')
		return 0;
	for (k = l->nframes; k-- > 0;) {
		bl = strlen(l->frames[k].boundary);
		if (n < 2 + bl || memcmp(ln + 2, l->frames[k].boundary, bl) != 0)
			continue;
		i = 2 + bl;
		if ((close = n >= i + 2 && ln[i] == '-' && ln[i + 1] == '-'))
			i += 2;
		for (; i < n; i++)
			if (!blank((unsigned char)ln[i]))
				return -1;
		if (l->line_len > n && !l->tail_blank)
			return -1;
		*which = k;
		return close ? 2 : 1;
	}
	return 0;
}

/* A line ended; the next one starts at entity offset NEXT. */
static int
end_line(struct mil_legacy *l, size_t next)
{
	size_t k, n = l->nkeep;
	int d = delimiter(l, &k);
	struct frame *f;

	if (d < 0) {
		stop(l, "a line that starts with a boundary");
		return 0;
	}
	if (d == 0) {
		/* The empty line: "\r\n" or "\n" alone. */
		if (l->state == W_HEADERS && l->line_len == n &&
		    (n == 1 || (n == 2 && l->keep[0] == '\r')))
			return header_done(l, next);
		return 0;
	}
	if (l->state == W_HTML)
		legacy_skip(l, "no <body> in an HTML part");
	if (l->state == W_HEADERS)
		legacy_skip(l, "a part without content");
	if (k + 1 != l->nframes) {
		stop(l, "a part not closed before its parent");
		return 0;
	}
	f = &l->frames[k];
	if (d == 2) {
		l->nframes--;
		l->state = l->nframes ? W_SKIP : W_DONE;
		settle(l);
		return 0;
	}
	f->child++;
	if (f->alternative || f->child == 1) {
		l->state = W_HEADERS;
		l->nhdr = 0;
		l->hdr_bad = 0;
		l->hdr_at = next;
	} else {
		l->state = W_SKIP;
		settle(l);
	}
	return 0;
}

/* N octets of the current line (the state may want them all). */
static void
take(struct mil_legacy *l, const char *d, size_t n)
{
	size_t k = 0, i;

	if (l->nkeep < HP_KEEP) {
		k = n < HP_KEEP - l->nkeep ? n : HP_KEEP - l->nkeep;
		memcpy(l->keep + l->nkeep, d, k);
		l->nkeep += k;
	}
	if (k < n && l->tail_blank) {
		/* Only a line that may be a delimiter needs its tail. */
		if (l->keep[0] != '-' || l->keep[1] != '-')
			l->tail_blank = 0;
		for (i = k; i < n && l->tail_blank; i++)
			if (!blank((unsigned char)d[i]))
				l->tail_blank = 0;
	}
	l->line_len += n;
	if (l->state == W_HEADERS && !l->hdr_bad) {
		if (l->nhdr + n > HP_PART_HDR_MAX) {
			l->hdr_bad = 1;
			return;
		}
		memcpy(l->hdr + l->nhdr, d, n);
		l->nhdr += n;
	}
}

/* One octet of an HTML part at entity offset OFF. */
static int
html_octet(struct mil_legacy *l, int c, size_t off)
{
	if (++l->scanned > HP_HTML_SCAN) {
		legacy_skip(l, "no <body> in the first 64 KB of an HTML part");
		l->state = l->nframes ? W_SKIP : W_DONE;
		settle(l);
		return 0;
	}
	switch (l->hs) {
	case H_TEXT:
		if (c == '<')
			l->hs = H_LT;
		break;
	case H_LT:
		l->ntag = 0;
		if (c == '!') {
			l->hs = H_BANG;
		} else if (isalpha(c) || c == '/') {
			l->tag[l->ntag++] = (char)tolower(c);
			l->hs = H_NAME;
		} else {
			l->hs = c == '<' ? H_LT : H_TEXT;
		}
		break;
	case H_NAME:
		if (isalnum(c)) {
			if (l->ntag < sizeof(l->tag))
				l->tag[l->ntag] = (char)tolower(c);
			l->ntag++;
			break;
		}
		l->is_body = l->ntag == 4 && memcmp(l->tag, "body", 4) == 0 &&
			     (blank(c) || c == '/' || c == '>');
		l->hs = H_TAG;
		/* FALLTHROUGH */
	case H_TAG:
		if (c == '"')
			l->hs = H_DQ;
		else if (c == '\'')
			l->hs = H_SQ;
		else if (c == '>') {
			l->hs = H_TEXT;
			if (l->is_body) {
				l->is_body = 0;
				l->state = l->nframes ? W_SKIP : W_DONE;
				if (html_element(l, off + 1) < 0)
					return -1;
				settle(l);
			}
		}
		break;
	case H_DQ:
		if (c == '"')
			l->hs = H_TAG;
		break;
	case H_SQ:
		if (c == '\'')
			l->hs = H_TAG;
		break;
	case H_BANG:
		if (c == '-' && ++l->ntag == 2) {
			l->hs = H_COMMENT;
			l->ntag = 0;
		} else if (c != '-') {
			l->is_body = 0;
			l->hs = c == '>' ? H_TEXT : H_TAG;
		}
		break;
	case H_COMMENT:
		if (c == '-')
			l->ntag++;
		else {
			if (c == '>' && l->ntag >= 2)
				l->hs = H_TEXT;
			l->ntag = 0;
		}
		break;
	}
	return 0;
}

/* ----------------------------------------------------- the phases */

int
mil_legacy_eoh(struct mil_legacy *l, size_t at)
{
	struct part *r = &l->root;

	r->root = 1;
	r->hdr_end = at;
	r->content = at + 2;
	l->body_at = at + 2;
	l->tail_blank = 1;
	if ((l->hdr = malloc(HP_PART_HDR_MAX)) == NULL ||
	    prepare_shown(l) < 0)
		return -1;
	return decide(l, r);
}

int
mil_legacy_body(struct mil_legacy *l, const void *data, size_t len)
{
	const char *d = data, *nl;
	size_t n;

	while (len > 0) {
		if (l->state == W_DONE) {
			l->pos += len;
			return 0;
		}
		if (l->state == W_HTML) {
			/* One octet at a time, with where it is. */
			n = 1;
			if (html_octet(l, (unsigned char)*d,
				       l->body_at + l->pos) < 0)
				return -1;
		} else {
			nl = memchr(d, '\n', len);
			n = nl ? (size_t)(nl - d) + 1 : len;
		}
		take(l, d, n);
		l->pos += n;
		if (d[n - 1] == '\n') {
			if (end_line(l, l->body_at + l->pos) < 0)
				return -1;
			l->line_len = 0;
			l->nkeep = 0;
			l->tail_blank = 1;
		}
		d += n;
		len -= n;
	}
	return 0;
}

/* ---------------------------------------------------------- results */

const struct mil_splice *
mil_legacy_splices(struct mil_legacy *l, size_t *n)
{
	if (l->state == W_HTML)		/* the body ended first */
		legacy_skip(l, "no <body> in an HTML part");
	*n = l->nsplices;
	return l->splices;
}

int
mil_legacy_root(const struct mil_legacy *l)
{
	return l->root_legacy;
}

int
mil_legacy_count(const struct mil_legacy *l, const char **why)
{
	if (why != NULL)
		*why = l->why;
	return l->nlegacy;
}
