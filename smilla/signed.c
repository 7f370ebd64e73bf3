/*
 * signed.c - locate the signed content and the signature of signed mail
 * in the body as received.  The contract is signed.h.
 *
 *   mil_signed_find(body, len, top, s, why, whylen)
 *   mil_signed_claimed(l) / mil_signed_maybe(l)
 *   mil_sig_format_word(format)
 *
 * The splitting is mime.c's (mil_mime_split, mil_mime_part_label), the
 * one multipart parser of the milter; here is only what RFC 8551 and
 * RFC 3156 say a signed message looks like.  A label that claims a
 * signature but does not hold one is an error, not "unsigned": the
 * sender said it signed.
 */
#include <string.h>

#include "signed.h"
#include "util.h"

/* Parts of a multipart/mixed looked at for a signed one. */
#define MIXED_MAX 64

const char *
mil_sig_format_word(enum mil_sig_format format)
{
	switch (format) {
	case MIL_SIG_SMIME: return "smime";
	case MIL_SIG_SMIME_OPAQUE: return "smime-opaque";
	case MIL_SIG_PGP: return "pgp-mime";
	case MIL_SIG_NONE: break;
	}
	return "none";
}

static int
is(const struct mil_ctype *ct, const char *type, const char *subtype)
{
	return strcmp(ct->type, type) == 0 && strcmp(ct->subtype, subtype) == 0;
}

/* application/pkcs7-WHAT or application/x-pkcs7-WHAT */
static int
pkcs7(const struct mil_ctype *ct, const char *what)
{
	const char *st = ct->subtype;

	if (strcmp(ct->type, "application") != 0)
		return 0;
	if (strncmp(st, "x-", 2) == 0)
		st += 2;
	return strncmp(st, "pkcs7-", 6) == 0 && strcmp(st + 6, what) == 0;
}

static int
protocol_is(const char *protocol, const char *what)
{
	return strcmp(protocol, what) == 0;
}

/* What a Content-Type claims: a signed format, or NONE. */
static enum mil_sig_format
claim(const struct mil_ctype *ct)
{
	if (is(ct, "multipart", "signed")) {
		if (protocol_is(ct->protocol, "application/pkcs7-signature") ||
		    protocol_is(ct->protocol, "application/x-pkcs7-signature"))
			return MIL_SIG_SMIME;
		if (protocol_is(ct->protocol, "application/pgp-signature"))
			return MIL_SIG_PGP;
		return MIL_SIG_NONE;	/* a protocol we do not verify */
	}
	if (pkcs7(ct, "mime") && strcmp(ct->smime_type, "signed-data") == 0)
		return MIL_SIG_SMIME_OPAQUE;
	return MIL_SIG_NONE;
}

int
mil_signed_claimed(const struct mil_label *l)
{
	return l->nctype >= 1 && claim(&l->ct) != MIL_SIG_NONE;
}

int
mil_signed_maybe(const struct mil_label *l)
{
	return mil_signed_claimed(l) ||
	       (l->nctype == 1 && is(&l->ct, "multipart", "mixed"));
}

/*
 * The entity whose label is L and whose content is [CS, END) of B:
 * fill S when it is signed.  1, 0 not signed, -1 broken with WHY.
 */
static int
entity(const uint8_t *b, size_t cs, size_t end, const struct mil_label *l,
       struct mil_signed *s, char *why, size_t whylen)
{
	enum mil_sig_format f = l->nctype >= 1 ? claim(&l->ct) : MIL_SIG_NONE;
	struct mil_label sl;
	struct mil_part p[2];
	struct mil_split sp;
	size_t sigcs;

	if (f == MIL_SIG_NONE)
		return 0;
	if (l->nctype > 1 || l->ncte > 1 || l->ct.ambiguous) {
		sm_why(why, whylen, "%s: the Content-Type is ambiguous",
		       mil_sig_format_word(f));
		return -1;
	}
	s->format = f;
	strcpy(s->sig_cte, l->cte);
	if (f == MIL_SIG_SMIME_OPAQUE) {
		s->content_start = s->content_end = cs;
		s->sig_start = cs;
		s->sig_end = end;
		return 1;
	}
	if (l->ct.boundary[0] == '\0' || l->ct.boundary_bad) {
		sm_why(why, whylen, "multipart/signed without a usable boundary");
		return -1;
	}
	if (!mil_mime_split(b + cs, end - cs, l->ct.boundary, p, 2, &sp, why,
			    whylen))
		return -1;
	if (sp.n != 2) {
		sm_why(why, whylen, "multipart/signed with %zu part%s, not two",
		       sp.n, sp.n == 1 ? "" : "s");
		return -1;
	}
	if (!mil_mime_part_label(b + cs, p[1].start, p[1].end, &sl, &sigcs,
				 why, whylen))
		return -1;
	if (sl.nctype != 1 || sl.ncte > 1 ||
	    (f == MIL_SIG_PGP ? !is(&sl.ct, "application", "pgp-signature") :
				!pkcs7(&sl.ct, "signature"))) {
		sm_why(why, whylen, "the signature part is not one %s",
		       f == MIL_SIG_PGP ? "application/pgp-signature" :
					  "application/pkcs7-signature");
		return -1;
	}
	s->content_start = cs + p[0].start;
	s->content_end = cs + p[0].end;
	s->sig_start = cs + sigcs;
	s->sig_end = cs + p[1].end;
	strcpy(s->sig_cte, sl.cte);
	return 1;
}

int
mil_signed_find(const uint8_t *body, size_t len, const struct mil_label *top,
		struct mil_signed *s, char *why, size_t whylen)
{
	struct mil_part p[MIXED_MAX];
	struct mil_split sp;
	struct mil_label pl;
	size_t i, cs;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = entity(body, 0, len, top, s, why, whylen)) != 0)
		return rc;
	if (top->nctype != 1 || !is(&top->ct, "multipart", "mixed") ||
	    top->ct.boundary[0] == '\0' || top->ct.boundary_bad)
		return 0;
	/* A broken multipart/mixed is no claim of a signature. */
	if (!mil_mime_split(body, len, top->ct.boundary, p, MIXED_MAX, &sp,
			    why, whylen))
		return 0;
	for (i = 0; i < sp.n; i++) {
		if (!mil_mime_part_label(body, p[i].start, p[i].end, &pl, &cs,
					 why, whylen))
			continue;
		if ((rc = entity(body, cs, p[i].end, &pl, s, why, whylen)) != 0) {
			s->part = (unsigned)(i + 1);
			return rc;
		}
	}
	memset(s, 0, sizeof(*s));
	return 0;
}
