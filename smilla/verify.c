/*
 * verify.c - signed mail against the From address's published keys.
 * The contract (and the meaning of each result) is verify.h.
 *
 *   mil_verify(body, len, top, from, nfrom, lk, ca_file, r)
 *   mil_auth_header(r, authserv, buf, buflen)
 *   mil_auth_is_ours(value, authserv)
 *   mil_auth_word(result) / mil_auth_rep_result(result)
 *
 * Order: the structure (signed.c), the From field, the signature over
 * the octets as received (smime.c, pgp.c), then the records.  An S/MIME
 * signature is checked before DNS is asked, so a broken one fails
 * whatever DNS says; an OpenPGP one needs the published keys first.
 *
 * Line ends: the octets are tried as received; when that does not
 * verify and the signed part has LF line ends without CR (a message
 * stored or relayed in Unix form), they are tried again as CRLF, which
 * is what the signer signed (RFC 8551 section 3.1.1, RFC 3156 section
 * 5: canonical CRLF text).  8-bit octets are taken as they are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "dane.h"
#include "dns.h"
#include "pgp.h"
#include "rr.h"
#include "smime.h"
#include "util.h"
#include "verify.h"

const char *
mil_auth_word(enum mil_auth result)
{
	switch (result) {
	case MIL_AUTH_PASS: return "pass";
	case MIL_AUTH_FAIL: return "fail";
	case MIL_AUTH_NEUTRAL: return "neutral";
	case MIL_AUTH_TEMPERROR: return "temperror";
	case MIL_AUTH_PERMERROR: return "permerror";
	case MIL_AUTH_NONE: break;
	}
	return "none";
}

const char *
mil_auth_rep_result(enum mil_auth result)
{
	switch (result) {
	case MIL_AUTH_PASS: return "pass";
	case MIL_AUTH_FAIL: return "fail";
	case MIL_AUTH_NEUTRAL: return "none";
	case MIL_AUTH_TEMPERROR: return "temperror";
	case MIL_AUTH_PERMERROR: return "unusable";
	case MIL_AUTH_NONE: break;
	}
	return NULL;
}

__attribute__((format(printf, 3, 4))) static void
set(struct mil_auth_result *r, enum mil_auth result, const char *fmt, ...)
{
	va_list ap;

	r->result = result;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* Does [P, P+LEN) hold an LF without a CR before it? */
static int
bare_lf(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 1;
	return 0;
}

/* A copy of [P, P+LEN) with every bare LF made CRLF; NULL on OOM. */
static uint8_t *
crlf(const uint8_t *p, size_t len, size_t *outlen)
{
	uint8_t *o = malloc(2 * len + 1);
	size_t i, n = 0;

	if (o == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			o[n++] = '\r';
		o[n++] = p[i];
	}
	*outlen = n;
	return o;
}

/* The DER of an S/MIME signature part or opaque body into *DER. */
static int
signature_der(const uint8_t *body, const struct mil_signed *s, uint8_t **der,
	      size_t *dlen, char *why, size_t whylen)
{
	const uint8_t *p = body + s->sig_start;
	size_t len = s->sig_end - s->sig_start;

	if (strcmp(s->sig_cte, "base64") == 0)
		return mil_mime_base64(p, len, der, dlen, why, whylen);
	if (s->sig_cte[0] != '\0' && strcmp(s->sig_cte, "binary") != 0) {
		sm_why(why, whylen, "the signature in %s, not base64",
		       s->sig_cte);
		return -1;
	}
	if ((*der = malloc(len + 1)) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	memcpy(*der, p, len);
	*dlen = len;
	return 0;
}

/*
 * The records of R->from for R->kind into *RES: 1 secure data, or 0
 * with R's result set (neutral, temperror); *RES owned either way.
 */
static int
records(struct mil_lookup *lk, struct mil_auth_result *r,
	struct sm_dns_result **res)
{
	struct sm_dns_result *all[MIL_NKINDS];
	char why[MIL_NKINDS][256];
	int hit[MIL_NKINDS];
	/* As DNS names the type, and as the recipients' reasons do. */
	const char *rec = sm_rr_type_name(r->kind == MIL_OPENPGP ?
					  SM_RR_OPENPGPKEY : SM_RR_SMIMEA);

	if (!(mil_lookup_answers(lk, r->from, MIL_KIND_BIT(r->kind), all, hit,
				 why) & MIL_KIND_BIT(r->kind))) {
		set(r, MIL_AUTH_PERMERROR, "From: %s", why[r->kind]);
		*res = NULL;
		return 0;
	}
	*res = all[r->kind];
	if (*res == NULL) {
		set(r, MIL_AUTH_TEMPERROR, "out of memory");
		return 0;
	}
	if ((*res)->sec == SM_DNS_BOGUS) {
		r->bogus = 1;
		set(r, MIL_AUTH_TEMPERROR, "%s DNSSEC-bogus: %s", rec,
		    (*res)->why ? (*res)->why : "validation failed");
		return 0;
	}
	switch ((*res)->outcome) {
	case SM_DNS_DATA:
		break;
	case SM_DNS_NXDOMAIN:
	case SM_DNS_NODATA:
		set(r, MIL_AUTH_NEUTRAL, "no %s record for the From address",
		    rec);
		return 0;
	default:
		set(r, MIL_AUTH_TEMPERROR, "%s lookup: %s", rec,
		    sm_dns_status(*res));
		return 0;
	}
	if ((*res)->sec != SM_DNS_SECURE) {
		set(r, MIL_AUTH_NEUTRAL, "%s not DNSSEC-signed", rec);
		return 0;
	}
	return 1;
}

/* An S/MIME signed message: signature, then SMIMEA. */
static void
smime(const uint8_t *body, const struct mil_signed *s, struct mil_lookup *lk,
      const char *ca_file, struct mil_auth_result *r)
{
	const uint8_t *content = body + s->content_start;
	size_t clen = s->content_end - s->content_start, dlen = 0, flen;
	struct sm_smime_signer who;
	struct sm_dane_cert_input in;
	struct sm_dane_report *rep;
	struct sm_dns_result *res = NULL;
	struct sm_blob *certs = NULL;
	uint8_t *der = NULL, *fixed = NULL, d[SM_DIGEST_MAX];
	char why[256];
	int rc;
	size_t i;

	memset(&who, 0, sizeof(who));
	if (signature_der(body, s, &der, &dlen, why, sizeof(why)) < 0) {
		set(r, MIL_AUTH_PERMERROR, "%s", why);
		return;
	}
	if (s->format == MIL_SIG_SMIME_OPAQUE) {
		content = NULL;
		clen = 0;
	}
	rc = sm_smime_verify(der, dlen, content, clen, &who, why, sizeof(why));
	if (rc == 0 && content != NULL && bare_lf(content, clen) &&
	    (fixed = crlf(content, clen, &flen)) != NULL)
		rc = sm_smime_verify(der, dlen, fixed, flen, &who, why,
				     sizeof(why));
	if (rc <= 0) {
		set(r, rc < 0 ? MIL_AUTH_PERMERROR : MIL_AUTH_FAIL, "%s", why);
		goto done;
	}
	sm_strlcpy(r->serial, who.serial, sizeof(r->serial));
	sm_strlcpy(r->issuer, who.issuer, sizeof(r->issuer));
	if (sm_digest(SM_DIGEST_SHA256, who.cert.data, who.cert.len, d))
		sm_hex_encode(d, 32, r->fp, 0);
	if (!records(lk, r, &res))
		goto done;
	/* The signer first, then the certificates it came with. */
	if ((certs = calloc(who.nchain + 1, sizeof(*certs))) == NULL) {
		set(r, MIL_AUTH_TEMPERROR, "out of memory");
		goto done;
	}
	certs[0] = who.cert;
	for (i = 0; i < who.nchain; i++)
		certs[i + 1] = who.chain[i];
	memset(&in, 0, sizeof(in));
	in.certs = certs;
	in.ncerts = who.nchain + 1;
	in.purpose = SM_DANE_SMIME;
	in.name = r->from;
	in.ca_file = ca_file;
	if ((rep = sm_dane_match_cert(res->rr, res->count, &in)) == NULL) {
		set(r, MIL_AUTH_TEMPERROR, "out of memory");
		goto done;
	}
	if (rep->result == SM_DANE_PASS)
		set(r, MIL_AUTH_PASS, "SMIMEA %u %u %u matches the signer",
		    rep->recs[rep->matched].tlsa.usage,
		    rep->recs[rep->matched].tlsa.selector,
		    rep->recs[rep->matched].tlsa.mtype);
	else
		set(r, MIL_AUTH_FAIL, "the signer matches none of %zu SMIMEA "
		    "record%s%s%s", rep->count, rep->count == 1 ? "" : "s",
		    rep->count ? ": " : "", rep->count ? rep->recs[0].why : "");
	sm_dane_report_free(rep);
done:
	free(certs);
	sm_smime_signer_clear(&who);
	sm_dns_result_free(res);
	free(der);
	free(fixed);
}

/* A PGP/MIME signed message: OPENPGPKEY, then the signature. */
static void
pgp(const uint8_t *body, const struct mil_signed *s, struct mil_lookup *lk,
    struct mil_auth_result *r)
{
	const uint8_t *content = body + s->content_start;
	size_t clen = s->content_end - s->content_start, flen, i;
	struct sm_pgp_signer who;
	struct sm_dns_result *res = NULL;
	struct sm_blob *keys = NULL;
	uint8_t *fixed = NULL;
	char why[256];
	int rc;

	if (!records(lk, r, &res))
		goto done;
	if ((keys = calloc(res->count + 1, sizeof(*keys))) == NULL) {
		set(r, MIL_AUTH_TEMPERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < res->count; i++) {
		keys[i].data = (uint8_t *)res->rr[i].data;
		keys[i].len = res->rr[i].len;
	}
	rc = sm_pgp_verify(content, clen, body + s->sig_start,
			   s->sig_end - s->sig_start, keys, res->count, r->from,
			   &who, why, sizeof(why));
	if (rc == 0 && bare_lf(content, clen) &&
	    strncmp(why, "bad signature", 13) == 0 &&
	    (fixed = crlf(content, clen, &flen)) != NULL)
		rc = sm_pgp_verify(fixed, flen, body + s->sig_start,
				   s->sig_end - s->sig_start, keys, res->count,
				   r->from, &who, why, sizeof(why));
	/* A failed signature's key too: the reputation row shows it. */
	sm_strlcpy(r->fp, who.fpr, sizeof(r->fp));
	if (rc <= 0) {
		set(r, rc < 0 ? MIL_AUTH_PERMERROR : MIL_AUTH_FAIL, "%s", why);
		goto done;
	}
	set(r, MIL_AUTH_PASS, "OPENPGPKEY %s made the signature", who.fpr);
done:
	free(keys);
	free(fixed);
	sm_dns_result_free(res);
}

void
mil_verify(const uint8_t *body, size_t len, const struct mil_label *top,
	   const char *from, size_t nfrom, struct mil_lookup *lk,
	   const char *ca_file, struct mil_auth_result *r)
{
	struct mil_signed s;
	struct sm_addr a;
	char why[256];
	int n;

	memset(r, 0, sizeof(*r));
	if ((n = mil_signed_find(body, len, top, &s, why, sizeof(why))) == 0)
		return;
	r->format = s.format;
	r->part = s.part;
	r->kind = s.format == MIL_SIG_PGP ? MIL_OPENPGP : MIL_SMIME;
	if (n < 0) {
		set(r, MIL_AUTH_PERMERROR, "%s", why);
		return;
	}
	if (nfrom != 1) {
		set(r, MIL_AUTH_PERMERROR, "%zu From fields", nfrom);
		return;
	}
	if ((n = sm_addr_from(from, &a, why, sizeof(why))) != 1) {
		if (n < 0)
			set(r, MIL_AUTH_PERMERROR, "From: %s", why);
		else
			set(r, MIL_AUTH_PERMERROR, "%d addresses in From", n);
		if (n > 0)
			sm_addr_clear(&a);
		return;
	}
	if (sm_strlcpy(r->from, a.addr, sizeof(r->from)) >= sizeof(r->from)) {
		sm_addr_clear(&a);
		r->from[0] = '\0';
		set(r, MIL_AUTH_PERMERROR, "the From address is too long");
		return;
	}
	sm_addr_clear(&a);
	if (s.format == MIL_SIG_PGP)
		pgp(body, &s, lk, r);
	else
		smime(body, &s, lk, ca_file, r);
}

/* Append " NAME=VALUE" to B, VALUE quoted (RFC 8601 pvalue) if needed. */
static int
prop(char *buf, size_t buflen, size_t *used, const char *name,
     const char *value)
{
	const char *p;
	int plain = *value != '\0';
	size_t n = *used;

	for (p = value; *p != '\0' && plain; p++)
		plain = (*p > 32 && *p < 127 && strchr("()<>,;:\\\"/[]?=", *p) ==
						  NULL) || *p == '@' ||
			*p == '.';
	n += (size_t)snprintf(buf + n, n < buflen ? buflen - n : 0, " %s=%s",
			      name, plain ? "" : "\"");
	for (p = value; *p != '\0' && !plain; p++) {
		if (*p == '"' || *p == '\\') {
			if (n + 1 < buflen)
				buf[n] = '\\';
			n++;
		}
		if (n + 1 < buflen)
			buf[n] = (*p >= 32 && *p < 127) ? *p : '?';
		n++;
	}
	if (plain)
		n += (size_t)snprintf(buf + n, n < buflen ? buflen - n : 0, "%s",
				      value);
	else
		n += (size_t)snprintf(buf + n, n < buflen ? buflen - n : 0,
				      "\"");
	*used = n;
	return n < buflen ? 0 : -1;
}

int
mil_auth_header(const struct mil_auth_result *r, const char *authserv,
		char *buf, size_t buflen)
{
	const int is_pgp = r->format == MIL_SIG_PGP;
	char part[16];
	size_t n;
	int bad = 0;

	n = (size_t)snprintf(buf, buflen, "%s; %s=%s", authserv,
			     is_pgp ? "x-pgp" : "smime",
			     mil_auth_word(r->result));
	if (n >= buflen)
		return -1;
	/* reason= comes right after the result (RFC 8601 section 2.2). */
	if (r->result != MIL_AUTH_PASS && r->why[0] != '\0')
		bad |= prop(buf, buflen, &n, "reason", r->why);
	if (r->from[0] != '\0')
		bad |= prop(buf, buflen, &n, is_pgp ? "header.from" :
					 "body.smime-identifier", r->from);
	if (r->part > 0) {
		snprintf(part, sizeof(part), "%u", r->part);
		bad |= prop(buf, buflen, &n, is_pgp ? "body.x-pgp-part" :
					 "body.smime-part", part);
	}
	if (is_pgp && r->fp[0] != '\0')
		bad |= prop(buf, buflen, &n, "body.x-pgp-fingerprint", r->fp);
	/* RFC 7281: serial and issuer together. */
	if (!is_pgp && r->serial[0] != '\0' && r->issuer[0] != '\0') {
		bad |= prop(buf, buflen, &n, "body.smime-serial", r->serial);
		bad |= prop(buf, buflen, &n, "body.smime-issuer", r->issuer);
	}
	return bad ? -1 : 0;
}

int
mil_auth_is_ours(const char *value, const char *authserv)
{
	const char *p = value, *start;
	size_t alen = strlen(authserv);

	/* CFWS, then the authserv-id: a token or a quoted string. */
	p = mil_mime_skip_cfws(p);
	if (*p == '"') {
		start = ++p;
		while (*p != '\0' && *p != '"')
			p++;
		return (size_t)(p - start) == alen &&
		       strncasecmp(start, authserv, alen) == 0 && *p == '"';
	}
	start = p;
	while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t' &&
	       *p != '\r' && *p != '\n' && *p != '(')
		p++;
	return (size_t)(p - start) == alen &&
	       strncasecmp(start, authserv, alen) == 0;
}
