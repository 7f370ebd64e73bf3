/*
 * protect.c - header protection (RFC 9788) for the milter: the copied
 * header fields, HP-Outer and the changes to the outer header, and the
 * payload spliced together while the encryptor reads it.  The
 * contract is protect.h; the Legacy Display Element is legacy.c's.
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
 * A message the sender signed (multipart/signed, S/MIME signed-data),
 * or whose Content-Type already has an RFC 9788 parameter, gets no
 * header protection: its Cryptographic Payload would be the signed
 * content, which we cannot change without breaking the signature.
 *
 * The payload is the entity spool read through a list of edits
 * (insertions and a few replacements at entity offsets, sorted): the
 * copied fields (a spool) at offset 0, hp="cipher" at the end of each
 * Content-Type line, HP-Outer (a spool) before the empty line, and
 * legacy.c's splices in the body.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "legacy.h"
#include "mime.h"
#include "protect.h"
#include "util.h"

#define HP_LINE_MAX	998	/* RFC 5322 section 2.1.1 */
#define HP_SPOOL_MEM	65536	/* in memory of the copied fields */

/* An insertion (or replacement) in the entity as it is read back. */
struct edit {
	size_t off;		/* entity offset it applies at */
	size_t del;		/* entity octets it replaces */
	size_t seq;		/* order among edits at one offset */
	char *text;		/* what goes there (ours), or */
	struct mil_spool *spool; /* a spool of ours, whole */
	size_t len;
};

/* An outer Subject, Keywords or Comments line. */
struct outer_ref {
	char *name;
	int index;
	int remove;		/* else obscured */
};

struct mil_protect {
	const char *status;	/* the status header's name */
	int off;		/* no header protection (OFF_WHY) */
	const char *off_why;
	struct mil_spool *inner;	/* the copied fields */
	struct mil_spool *outer;	/* HP-Outer lines */
	struct mil_legacy *legacy;
	struct edit *edits;
	size_t nedits, capedits, seq;
	int finished;		/* reader made: edits final */
	size_t hdr_end;		/* the entity's empty line */
	/* the entity's Content-Type lines: where each ends */
	struct { size_t end; int semi; } *cts;
	size_t ncts;
	struct mil_ctype ct;	/* the first of them */
	int any_hp;		/* one has an RFC 9788 parameter */
	/* the outer header */
	struct outer_ref *refs;
	size_t nrefs;
	struct mil_hp_change *chg;
	size_t nchg;
	int nsubject, nkeywords, ncomments;
};

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

/* ------------------------------------------------------------- life */

struct mil_protect *
mil_protect_new(const char *status_header, size_t mem_max)
{
	struct mil_protect *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->status = status_header;
	p->off_why = "";
	if (mem_max > HP_SPOOL_MEM)
		mem_max = HP_SPOOL_MEM;
	if ((p->inner = mil_spool_new(mem_max)) == NULL ||
	    (p->outer = mil_spool_new(mem_max)) == NULL ||
	    (p->legacy = mil_legacy_new()) == NULL) {
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
	mil_legacy_free(p->legacy);
	for (i = 0; i < p->nedits; i++)
		free(p->edits[i].text);
	free(p->edits);
	for (i = 0; i < p->nrefs; i++)
		free(p->refs[i].name);
	free(p->refs);
	free(p->chg);
	free(p->cts);
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
 * VALUE to F as a header value: every line break (CRLF, LF or CR
 * alone, several in a row) written as one CRLF followed by white
 * space, so that it stays a continuation; lines of white space only,
 * and a break at the end, dropped.  Returns the length of its first
 * line.
 */
static size_t
put_value(FILE *f, const char *value)
{
	const char *s = value, *t;
	size_t first = strcspn(value, "\r\n"), n;

	for (;;) {
		n = strcspn(s, "\r\n");
		fwrite(s, 1, n, f);
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
		fputs(*s == ' ' || *s == '\t' ? "\r\n" : "\r\n ", f);
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

/* A Content-* line of the entity, spooled at [AT, END). */
static int
content_line(struct mil_protect *p, const char *name, const char *value,
	     size_t at, size_t end)
{
	struct mil_ctype ct;
	void *v;

	if (strcasecmp(name, "Content-Type") == 0) {
		if ((v = realloc(p->cts, (p->ncts + 1) * sizeof(*p->cts))) ==
		    NULL)
			return -1;
		p->cts = v;
		mil_mime_ctype(value, &ct);
		p->cts[p->ncts].end = end - 2;	/* before its CRLF */
		p->cts[p->ncts].semi = ct.semi_end;
		if (p->ncts++ == 0)
			p->ct = ct;
		p->any_hp |= ct.hp;
	}
	return mil_legacy_content(p->legacy, name, value, at, end);
}

/*
 * The field inside as received, and outside after hcp_baseline: its
 * HP-Outer line, or its change.
 */
static int
copy_field(struct mil_protect *p, const char *name, const char *value,
	   int leadspc, FILE *in, FILE *out)
{
	size_t first;

	fputs(name, in);
	fputs(leadspc ? ":" : ": ", in);
	put_value(in, value);
	fputs("\r\n", in);
	if (strcasecmp(name, "Subject") == 0) {
		fprintf(out, "HP-Outer: %s: " MIL_HP_OBSCURED "\r\n", name);
		return note_outer(p, name, ++p->nsubject, 0) < 0 ||
		       mil_legacy_subject(p->legacy, value) < 0 ? -1 : 0;
	}
	if (strcasecmp(name, "Keywords") == 0)
		return note_outer(p, name, ++p->nkeywords, 1);
	if (strcasecmp(name, "Comments") == 0)
		return note_outer(p, name, ++p->ncomments, 1);
	fprintf(out, "HP-Outer: %s:", name);
	first = strcspn(value, "\r\n");
	/* "HP-Outer: " must not push the line past the limit. */
	if (10 + strlen(name) + 1 + first > HP_LINE_MAX)
		fputs("\r\n", out);
	if (!leadspc || (*value != ' ' && *value != '\t'))
		fputs(" ", out);
	put_value(out, value);
	fputs("\r\n", out);
	return 0;
}

int
mil_protect_header(struct mil_protect *p, const char *name,
		   const char *value, int leadspc, size_t at, size_t end,
		   char *why, size_t whylen)
{
	char *in = NULL, *out = NULL;
	size_t nin = 0, nout = 0;
	FILE *fin, *fout = NULL;
	int rc = -1;

	if (mil_mime_is_content(name)) {
		if (content_line(p, name, value, at, end) < 0)
			goto oom;
		return 0;
	}
	if (strcasecmp(name, "MIME-Version") == 0 || !good_name(name) ||
	    not_copied(p, name))
		return 0;
	if ((fin = open_memstream(&in, &nin)) == NULL ||
	    (fout = open_memstream(&out, &nout)) == NULL) {
		if (fin != NULL)
			fclose(fin);
		goto oom;
	}
	rc = copy_field(p, name, value, leadspc, fin, fout);
	if (fclose(fin) != 0 || fclose(fout) != 0 || rc < 0) {
		free(in);
		free(out);
		goto oom;
	}
	rc = mil_spool_write(p->inner, in, nin, why, whylen) < 0 ||
	     mil_spool_write(p->outer, out, nout, why, whylen) < 0 ? -1 : 0;
	free(in);
	free(out);
	return rc;
oom:
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

/* ------------------------------------------------- body and the end */

int
mil_protect_eoh(struct mil_protect *p, size_t at, char *why, size_t whylen)
{
	const struct mil_ctype *ct = &p->ct;

	p->hdr_end = at;
	/* Signed by the sender: its payload is the signed content. */
	if (p->any_hp) {
		p->off = 1;
		p->off_why = "the Content-Type has RFC 9788 parameters already";
	} else if (strcmp(ct->type, "multipart") == 0 &&
		   strcmp(ct->subtype, "signed") == 0) {
		p->off = 1;
		p->off_why = "signed (multipart/signed)";
	} else if (strcmp(ct->type, "application") == 0 &&
		   (strcmp(ct->subtype, "pkcs7-mime") == 0 ||
		    strcmp(ct->subtype, "x-pkcs7-mime") == 0)) {
		p->off = 1;
		p->off_why = "signed (S/MIME)";
	}
	if (p->off)
		return 0;
	if (make_changes(p) < 0 ||
	    (mil_spool_size(p->inner) > 0 &&
	     add_edit(p, 0, 0, NULL, 0, p->inner) < 0) ||
	    mil_legacy_eoh(p->legacy, at) < 0) {
		sm_strlcpy(why, "out of memory", whylen);
		return -1;
	}
	return 0;
}

int
mil_protect_body(struct mil_protect *p, const void *data, size_t len,
		 char *why, size_t whylen)
{
	if (p->off || mil_legacy_body(p->legacy, data, len) == 0)
		return 0;
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
				if ((k = emit(r, ed, buf + got, size - got)) < 0) {
					errno = EIO;
					return -1;
				}
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
				if (n == 0) {
					errno = EIO;
					return -1;
				}
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
			if (ferror(r->src) || ed != NULL) {
				errno = EIO;	/* or an edit past the end */
				return -1;
			}
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

/*
 * The edits made final: legacy.c's splices, hp="cipher" on the
 * entity's Content-Type lines (and the marker on the first when the
 * entity got an element), HP-Outer last, after every Content-* line;
 * sorted.
 */
static int
finish(struct mil_protect *p)
{
	const char *legacy = mil_legacy_root(p->legacy) ?
				     "; hp-legacy-display=\"1\"" : "";
	const struct mil_splice *s;
	char text[128];
	size_t i, n;

	s = mil_legacy_splices(p->legacy, &n);
	for (i = 0; i < n; i++)
		if (add_edit(p, s[i].off, s[i].del, s[i].text, s[i].len,
			     NULL) < 0)
			return -1;
	if (p->ncts == 0) {
		snprintf(text, sizeof(text), "Content-Type: text/plain; "
			 "charset=us-ascii%s; hp=\"cipher\"\r\n", legacy);
		if (add_edit(p, p->hdr_end, 0, text, strlen(text), NULL) < 0)
			return -1;
	}
	for (i = 0; i < p->ncts; i++) {
		snprintf(text, sizeof(text), "%shp=\"cipher\"%s",
			 p->cts[i].semi ? " " : "; ", i == 0 ? legacy : "");
		if (add_edit(p, p->cts[i].end, 0, text, strlen(text), NULL) < 0)
			return -1;
	}
	if (mil_spool_size(p->outer) > 0 &&
	    add_edit(p, p->hdr_end, 0, NULL, 0, p->outer) < 0)
		return -1;
	qsort(p->edits, p->nedits, sizeof(*p->edits), edit_cmp);
	p->finished = 1;
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
	if ((!p->finished && finish(p) < 0) ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
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

/* ---------------------------------------------------------- results */

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
	if (p->off) {
		if (why != NULL)
			*why = "";
		return 0;
	}
	return mil_legacy_count(p->legacy, why);
}
