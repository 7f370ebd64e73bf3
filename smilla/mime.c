/*
 * mime.c - header classification, Content-Type parsing, and the test
 * of whether a message really is already encrypted.  The contract is
 * mime.h.
 *
 *   mil_mime_is_content(name)
 *   mil_mime_ctype(value, ct)
 *   mil_mime_skip_cfws(p)
 *   mil_label_init(l) / mil_label_header(l, name, value)
 *   mil_label_claim(l)			what the header says
 *   mil_label_verify(l, body, len, why, whylen)	what the body is
 *   mil_mime_split(body, len, boundary, parts, max, sp, why, whylen)
 *   mil_mime_part_label(b, pos, end, l, cstart, why, whylen)
 *   mil_mime_pgp_mime(body, len, boundary, why, whylen)
 *   mil_mime_base64(in, len, out, outlen, why, whylen)
 *   mil_inline_init(s) / mil_inline_feed(s, data, len)
 *   mil_format_word(format)
 *
 * The MIME structure is parsed here; what is inside (CMS, OpenPGP
 * packets) is judged by the libraries behind smime.c and pgp.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "pgp.h"
#include "smime.h"

static const char pgp_marker[] = "-----BEGIN PGP MESSAGE-----";

int
mil_mime_is_content(const char *name)
{
	return strncasecmp(name, "Content-", 8) == 0;
}

const char *
mil_mime_skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* RFC 2045 token characters. */
static int
is_token(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Copy a token, lowercased, into OUT; returns the end of it. */
static const char *
token(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	for (; is_token((unsigned char)*p); p++)
		if (n + 1 < outlen)
			out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
	return p;
}

/* A parameter value: token or quoted string, lowercased unless KEEP. */
static const char *
param_value(const char *p, char *out, size_t outlen, int keep, size_t *full)
{
	size_t n = 0;

	*full = 0;
	if (*p != '"') {
		for (; is_token((unsigned char)*p); p++, (*full)++)
			if (n + 1 < outlen)
				out[n++] = keep ? *p :
					   (char)tolower((unsigned char)*p);
		out[n] = '\0';
		return p;
	}
	for (p++; *p != '\0' && *p != '"'; p++, (*full)++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (n + 1 < outlen)
			out[n++] = keep ? *p : (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : p;
}

/*
 * The parameters a claim rests on must be said once, plainly: a second
 * boundary=, or boundary*0= (RFC 2231), may be the one a mail reader
 * takes while we check another.
 */
static void
note_param(struct mil_ctype *ct, const char *name, unsigned *seen)
{
	static const char *const names[] = { "boundary", "protocol",
					     "smime-type" };
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		if (strncmp(name, names[i], n) != 0)
			continue;
		if (name[n] == '*' || (name[n] == '\0' && (*seen & 1u << i)))
			ct->ambiguous = 1;
		if (name[n] == '\0')
			*seen |= 1u << i;
	}
}

void
mil_mime_ctype(const char *value, struct mil_ctype *ct)
{
	const char *p;
	char name[64], val[128];
	size_t full;
	unsigned seen = 0;

	memset(ct, 0, sizeof(*ct));
	full = strlen(value);
	while (full > 0 && isspace((unsigned char)value[full - 1]))
		full--;
	ct->semi_end = full > 0 && value[full - 1] == ';';
	p = token(mil_mime_skip_cfws(value), ct->type, sizeof(ct->type));
	p = mil_mime_skip_cfws(p);
	if (*p != '/' || ct->type[0] == '\0') {
		ct->type[0] = '\0';
		return;
	}
	p = token(mil_mime_skip_cfws(p + 1), ct->subtype, sizeof(ct->subtype));
	if (ct->subtype[0] == '\0') {
		ct->type[0] = '\0';
		return;
	}
	for (;;) {
		p = mil_mime_skip_cfws(p);
		if (*p != ';')
			return;
		p = token(mil_mime_skip_cfws(p + 1), name, sizeof(name));
		p = mil_mime_skip_cfws(p);
		if (*p != '=')
			return;
		p = mil_mime_skip_cfws(p + 1);
		note_param(ct, name, &seen);
		if (strcmp(name, "boundary") == 0) {
			/* Case matters in a boundary (RFC 2046). */
			p = param_value(p, ct->boundary, sizeof(ct->boundary),
					1, &full);
			ct->boundary_bad = full == 0 || full > MIL_BOUNDARY_MAX;
			continue;
		}
		p = param_value(p, val, sizeof(val), 0, &full);
		if (strcmp(name, "smime-type") == 0)
			memcpy(ct->smime_type, val, sizeof(ct->smime_type) - 1);
		else if (strcmp(name, "protocol") == 0)
			memcpy(ct->protocol, val, sizeof(ct->protocol));
		else if (strcmp(name, "charset") == 0)
			memcpy(ct->charset, val, sizeof(ct->charset) - 1);
		if (strcmp(name, "hp") == 0 ||
		    strcmp(name, "hp-legacy-display") == 0)
			ct->hp = 1;
	}
}

const char *
mil_format_word(enum mil_format format)
{
	static const char *const w[] = {
		"none", "smime", "pgp-mime", "pgp-inline"
	};
	return w[format];
}

/* ------------------------------------------------------------ label */

void
mil_label_init(struct mil_label *l)
{
	memset(l, 0, sizeof(*l));
}

void
mil_label_header(struct mil_label *l, const char *name, const char *value)
{
	if (strcasecmp(name, "Content-Type") == 0) {
		if (l->nctype++ == 0)
			mil_mime_ctype(value, &l->ct);
	} else if (strcasecmp(name, "Content-Transfer-Encoding") == 0) {
		if (l->ncte++ == 0)
			token(mil_mime_skip_cfws(value), l->cte, sizeof(l->cte));
	}
}

/* The shape a Content-Type claims, NONE for anything else. */
static enum mil_format
ctype_claim(const struct mil_ctype *ct)
{
	if (strcmp(ct->type, "multipart") == 0 &&
	    strcmp(ct->subtype, "encrypted") == 0)
		return strcmp(ct->protocol, "application/pgp-encrypted") == 0 &&
		       ct->boundary[0] != '\0' && !ct->boundary_bad ?
			       MIL_FMT_PGP_MIME : MIL_FMT_NONE;
	if (strcmp(ct->type, "application") == 0 &&
	    (strcmp(ct->subtype, "pkcs7-mime") == 0 ||
	     strcmp(ct->subtype, "x-pkcs7-mime") == 0))
		/* No smime-type: old clients; the body will tell. */
		return ct->smime_type[0] == '\0' ||
		       strcmp(ct->smime_type, "enveloped-data") == 0 ||
		       strcmp(ct->smime_type, "authenveloped-data") == 0 ?
			       MIL_FMT_SMIME : MIL_FMT_NONE;
	if (strcmp(ct->type, "text") == 0 && strcmp(ct->subtype, "plain") == 0)
		return MIL_FMT_PGP_INLINE;
	return MIL_FMT_NONE;
}

enum mil_format
mil_label_claim(const struct mil_label *l)
{
	if (l->nctype > 1 || l->ncte > 1 || l->ct.ambiguous)
		return MIL_FMT_NONE;	/* malformed: plaintext */
	if (l->nctype == 0)
		return MIL_FMT_PGP_INLINE;	/* RFC 2045: text/plain */
	return ctype_claim(&l->ct);
}

/* ----------------------------------------------------------- base64 */

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
white(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
mil_mime_base64(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
		char *why, size_t whylen)
{
	uint8_t *o;
	size_t i, n = 0, q = 0, pad = 0;
	uint32_t acc = 0;
	int v;

	*out = NULL;
	*outlen = 0;
	if ((o = malloc(len / 4 * 3 + 3)) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (white(in[i]))
			continue;
		if (in[i] == '=') {
			/* "xx==" or "xxx=": nothing but padding after. */
			if (q + pad < 2 || q + pad > 3)
				goto bad;
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64_value(in[i])) < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			o[n++] = (uint8_t)(acc >> 16);
			o[n++] = (uint8_t)(acc >> 8);
			o[n++] = (uint8_t)acc;
			q = 0;
			acc = 0;
		}
	}
	if (pad > 0) {
		/* Whole quanta, and the bits padding leaves over are 0
		   (RFC 4648 section 3.5): one spelling per octet string. */
		if (q + pad != 4 || (acc & (q == 2 ? 0x0f : 0x03)) != 0)
			goto bad;
		acc <<= 6 * pad;
		o[n++] = (uint8_t)(acc >> 16);
		if (q == 3)
			o[n++] = (uint8_t)(acc >> 8);
	} else if (q != 0) {
		goto bad;
	}
	*out = o;
	*outlen = n;
	return 0;
bad:
	free(o);
	sm_why(why, whylen, "not strict base64 (octet %zu)", i);
	return -1;
}

/* -------------------------------------------------------- multipart */

/* The line at POS: [*start, *end) without CR LF, *next after the LF. */
static int
line(const uint8_t *b, size_t len, size_t pos, size_t *end, size_t *next)
{
	const uint8_t *nl;

	if (pos >= len)
		return 0;
	nl = memchr(b + pos, '\n', len - pos);
	*next = nl ? (size_t)(nl - b) + 1 : len;
	*end = nl ? (size_t)(nl - b) : len;
	if (*end > pos && b[*end - 1] == '\r')
		(*end)--;
	return 1;
}

static int
blank(const uint8_t *b, size_t from, size_t to)
{
	for (; from < to; from++)
		if (!white(b[from]))
			return 0;
	return 1;
}

/*
 * A line [pos, end) against "--BOUNDARY": 0 not a boundary line, 1 a
 * delimiter, 2 the close delimiter, -1 something else that starts with
 * it (malformed: RFC 2046 forbids the boundary inside the parts).
 */
static int
delimiter(const uint8_t *b, size_t pos, size_t end, const char *boundary)
{
	size_t bl = strlen(boundary);

	if (end - pos < bl + 2 || b[pos] != '-' || b[pos + 1] != '-' ||
	    memcmp(b + pos + 2, boundary, bl) != 0)
		return 0;
	pos += bl + 2;
	if (end - pos >= 2 && b[pos] == '-' && b[pos + 1] == '-')
		return blank(b, pos + 2, end) ? 2 : -1;
	return blank(b, pos, end) ? 1 : -1;
}

/* Hand the header line HDR (N octets, unfolded) to L. */
static int
flush(struct mil_label *l, char *hdr, size_t n)
{
	char *colon;

	if (n == 0)
		return 0;
	hdr[n] = '\0';
	if ((colon = memchr(hdr, ':', n)) == NULL)
		return -1;
	*colon = '\0';
	mil_label_header(l, hdr, colon + 1);
	return 0;
}

int
mil_mime_part_label(const uint8_t *b, size_t pos, size_t end,
		    struct mil_label *l, size_t *cstart, char *why,
		    size_t whylen)
{
	char hdr[1024];
	size_t e, next, n = 0;
	int body = 0;

	mil_label_init(l);
	while (!body && line(b, end, pos, &e, &next)) {
		if (e - pos >= sizeof(hdr) - n || memchr(b + pos, '\0', e - pos)) {
			sm_why(why, whylen, "header too long in a part");
			return 0;
		}
		if (e == pos) {
			body = 1;
		} else if (b[pos] == ' ' || b[pos] == '\t') {
			if (n == 0) {
				sm_why(why, whylen, "a part starts with a "
				       "continuation line");
				return 0;
			}
		} else if (flush(l, hdr, n) < 0) {
			goto not_header;
		} else {
			n = 0;
		}
		memcpy(hdr + n, b + pos, e - pos);
		n += e - pos;
		pos = next;
	}
	if (!body) {
		sm_why(why, whylen, "a part without an empty line");
		return 0;
	}
	if (flush(l, hdr, n) < 0)
		goto not_header;
	*cstart = pos;
	return 1;
not_header:
	sm_why(why, whylen, "not a header in a part");
	return 0;
}

/*
 * A body part [pos, end): one Content-Type of TYPE/SUBTYPE (any CTE but
 * 7bit/8bit is refused), its content in [*cstart, end).
 */
static int
part(const uint8_t *b, size_t pos, size_t end, const char *type,
     const char *subtype, size_t *cstart, char *why, size_t whylen)
{
	struct mil_label l;

	if (!mil_mime_part_label(b, pos, end, &l, cstart, why, whylen))
		return 0;
	if (l.nctype != 1 || l.ncte > 1 || strcmp(l.ct.type, type) != 0 ||
	    strcmp(l.ct.subtype, subtype) != 0) {
		sm_why(why, whylen, "a part is not one %s/%s", type, subtype);
		return 0;
	}
	if (l.cte[0] != '\0' && strcmp(l.cte, "7bit") != 0 &&
	    strcmp(l.cte, "8bit") != 0) {
		sm_why(why, whylen, "%s/%s part not in 7bit or 8bit", type,
		       subtype);
		return 0;
	}
	return 1;
}

int
mil_mime_split(const uint8_t *body, size_t len, const char *boundary,
	       struct mil_part *parts, size_t max, struct mil_split *sp,
	       char *why, size_t whylen)
{
	size_t pos = 0, e, next, z;
	int d, closed = 0;

	memset(sp, 0, sizeof(*sp));
	if (*boundary == '\0' || strlen(boundary) > MIL_BOUNDARY_MAX) {
		sm_why(why, whylen, "no usable boundary");
		return 0;
	}
	while (!closed && line(body, len, pos, &e, &next)) {
		if ((d = delimiter(body, pos, e, boundary)) < 0) {
			sm_why(why, whylen, "a line starts with the boundary");
			return 0;
		}
		if (d == 0) {
			pos = next;
			continue;
		}
		/* The line break before a delimiter belongs to it. */
		z = pos;
		if (z > 0 && body[z - 1] == '\n')
			z--;
		if (z > 0 && body[z - 1] == '\r')
			z--;
		/* An empty part: the line break was the delimiter's. */
		if (sp->n > 0)
			parts[sp->n - 1].end = z > parts[sp->n - 1].start ?
						       z :
						       parts[sp->n - 1].start;
		else
			sp->preamble_blank = blank(body, 0, pos);
		if (d == 2) {
			closed = 1;
		} else if (sp->n == max) {
			sm_why(why, whylen, "more than %zu parts", max);
			return 0;
		} else {
			parts[sp->n++].start = next;
		}
		pos = next;
	}
	if (!closed) {
		sm_why(why, whylen, "no close delimiter");
		return 0;
	}
	sp->epilogue_blank = blank(body, pos, len);
	return 1;
}

int
mil_mime_pgp_mime(const uint8_t *body, size_t len, const char *boundary,
		  char *why, size_t whylen)
{
	struct mil_part p[2];
	struct mil_split sp;
	size_t cs, a, z;

	if (!mil_mime_split(body, len, boundary, p, 2, &sp, why, whylen))
		return 0;
	if (!sp.preamble_blank) {
		sm_why(why, whylen, "text in the preamble");
		return 0;
	}
	if (!sp.epilogue_blank) {
		sm_why(why, whylen, "text in the epilogue");
		return 0;
	}
	if (sp.n != 2) {
		sm_why(why, whylen, "%zu parts, not two", sp.n);
		return 0;
	}
	if (!part(body, p[0].start, p[0].end, "application", "pgp-encrypted",
		  &cs, why, whylen))
		return 0;
	for (a = cs, z = p[0].end; a < z && white(body[a]); a++)
		;
	while (z > a && white(body[z - 1]))
		z--;
	if (z - a != 10 || memcmp(body + a, "Version: 1", 10) != 0) {
		sm_why(why, whylen, "the control part is not \"Version: 1\"");
		return 0;
	}
	if (!part(body, p[1].start, p[1].end, "application", "octet-stream",
		  &cs, why, whylen))
		return 0;
	return sm_pgp_encrypted(body + cs, p[1].end - cs, why, whylen);
}

/* ----------------------------------------------------------- verify */

enum mil_format
mil_label_verify(const struct mil_label *l, const uint8_t *body, size_t len,
		 char *why, size_t whylen)
{
	enum mil_format f = mil_label_claim(l);
	uint8_t *der;
	size_t dlen;
	int ok = 0;

	switch (f) {
	case MIL_FMT_NONE:
		sm_why(why, whylen, "no encrypted shape claimed");
		break;
	case MIL_FMT_SMIME:
		/* Over SMTP a CMS object travels in base64; binary would
		   need BINARYMIME, and is encrypted again rather than
		   guessed at. */
		if (strcmp(l->cte, "base64") != 0) {
			sm_why(why, whylen, "S/MIME body not in base64");
			break;
		}
		if (mil_mime_base64(body, len, &der, &dlen, why, whylen) < 0)
			break;
		ok = sm_smime_enveloped(der, dlen, why, whylen);
		free(der);
		break;
	case MIL_FMT_PGP_MIME:
		ok = mil_mime_pgp_mime(body, len, l->ct.boundary, why, whylen);
		break;
	case MIL_FMT_PGP_INLINE:
		if (l->cte[0] != '\0' && strcmp(l->cte, "7bit") != 0 &&
		    strcmp(l->cte, "8bit") != 0) {
			sm_why(why, whylen, "inline PGP not in 7bit or 8bit");
			break;
		}
		ok = sm_pgp_encrypted(body, len, why, whylen);
		break;
	}
	return ok ? f : MIL_FMT_NONE;
}

/* ----------------------------------------------------------- inline */

void
mil_inline_init(struct mil_inline *s)
{
	s->matched = 0;
	s->verdict = 0;
}

int
mil_inline_feed(struct mil_inline *s, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	const size_t mlen = sizeof(pgp_marker) - 1;

	for (; p < end && s->verdict == 0; p++) {
		if (s->matched == 0 && white(*p))
			continue;
		if (*p != (uint8_t)pgp_marker[s->matched])
			s->verdict = -1;
		else if (++s->matched == mlen)
			s->verdict = 1;
	}
	return s->verdict;
}
