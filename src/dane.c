/*
 * dane.c - RFC 6698/7671 matching, with a certificate chain or with
 * fingerprints only.  See dane.h for the rules.
 *
 * The report starts with one entry per record: malformed ones are
 * marked unusable at once, digest agility marks the superseded ones,
 * and each remaining record is then tried on its own, so the log can
 * say exactly which record decided.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "dane.h"

static const char *const mtype_names[SM_TLSA_MTYPE_MAX + 1] = {
	[SM_TLSA_MTYPE_FULL] = "full",
	[SM_TLSA_MTYPE_SHA256] = "SHA2-256",
	[SM_TLSA_MTYPE_SHA512] = "SHA2-512"
};

const char *
sm_dane_result_word(enum sm_dane_result result)
{
	switch (result) {
	case SM_DANE_PASS:
		return "pass";
	case SM_DANE_FAIL:
		return "fail";
	case SM_DANE_UNUSABLE:
		return "unusable";
	case SM_DANE_NONE:
		break;
	}
	return "none";
}

const char *
sm_dane_verdict_word(enum sm_dane_verdict verdict)
{
	switch (verdict) {
	case SM_DANE_REC_MATCH:
		return "match";
	case SM_DANE_REC_NOMATCH:
		return "nomatch";
	case SM_DANE_REC_UNUSABLE:
		return "unusable";
	case SM_DANE_REC_IGNORED:
		break;
	}
	return "ignored";
}

void
sm_dane_report_free(struct sm_dane_report *rep)
{
	free(rep);	/* the records are in the same block */
}

/* One block for the report and its records: this runs per decision. */
static struct sm_dane_report *
report_new(const struct sm_rdata *rrs, size_t n)
{
	struct sm_dane_report *rep;
	size_t i;

	if (n > (SIZE_MAX - sizeof(*rep)) / sizeof(*rep->recs) ||
	    (rep = malloc(sizeof(*rep) + n * sizeof(*rep->recs))) == NULL)
		return NULL;
	rep->result = SM_DANE_NONE;
	rep->recs = (struct sm_dane_rec *)(rep + 1);
	rep->count = n;
	rep->matched = -1;
	for (i = 0; i < n; i++) {
		struct sm_dane_rec *r = &rep->recs[i];

		memset(&r->tlsa, 0, sizeof(r->tlsa));
		r->why[0] = '\0';
		r->verdict = SM_DANE_REC_NOMATCH;
		if (sm_rr_tlsa_parse(rrs[i].data, rrs[i].len, &r->tlsa, r->why,
				     sizeof(r->why)) < 0)
			r->verdict = SM_DANE_REC_UNUSABLE;
	}
	return rep;
}

/*
 * Digest agility: for each usage/selector, drop records whose digest is
 * weaker than the strongest one present among SUPPORTED (a bit mask of
 * matching types).  Matching type 0 takes no part.
 */
static void
agility(struct sm_dane_report *rep, unsigned supported)
{
	uint8_t best[SM_TLSA_USAGE_MAX + 1][SM_TLSA_SELECTOR_MAX + 1];
	size_t i;

	memset(best, 0, sizeof(best));
	for (i = 0; i < rep->count; i++) {
		struct sm_dane_rec *r = &rep->recs[i];

		if (r->verdict == SM_DANE_REC_UNUSABLE ||
		    r->tlsa.mtype == SM_TLSA_MTYPE_FULL ||
		    !(supported & 1u << r->tlsa.mtype))
			continue;
		if (r->tlsa.mtype > best[r->tlsa.usage][r->tlsa.selector])
			best[r->tlsa.usage][r->tlsa.selector] = r->tlsa.mtype;
	}
	for (i = 0; i < rep->count; i++) {
		struct sm_dane_rec *r = &rep->recs[i];
		uint8_t b;

		if (r->verdict == SM_DANE_REC_UNUSABLE ||
		    r->tlsa.mtype == SM_TLSA_MTYPE_FULL)
			continue;
		b = best[r->tlsa.usage][r->tlsa.selector];
		if (r->tlsa.mtype < b) {
			r->verdict = SM_DANE_REC_IGNORED;
			snprintf(r->why, sizeof(r->why),
				 "superseded by a %s record (digest agility)",
				 mtype_names[b]);
		}
	}
}

static void
conclude(struct sm_dane_report *rep)
{
	size_t i;
	int nomatch = 0;

	for (i = 0; i < rep->count; i++) {
		if (rep->recs[i].verdict == SM_DANE_REC_MATCH) {
			rep->result = SM_DANE_PASS;
			rep->matched = (int)i;
			return;
		}
		if (rep->recs[i].verdict == SM_DANE_REC_NOMATCH)
			nomatch = 1;
	}
	rep->result = nomatch ? SM_DANE_FAIL :
		      rep->count > 0 ? SM_DANE_UNUSABLE : SM_DANE_NONE;
}

/* What T's selector picks out of a certificate, for the log. */
static const char *
selected(const struct sm_tlsa *t)
{
	return t->selector == SM_TLSA_SELECTOR_SPKI ? "public key" :
						      "certificate";
}

/* Does record T match selector data SEL (hashing it as T asks)? */
static int
matches(const struct sm_tlsa *t, const uint8_t *sel, size_t len)
{
	uint8_t md[SM_DIGEST_MAX];
	size_t n;

	if (t->mtype == SM_TLSA_MTYPE_FULL)
		return t->len == len && memcmp(t->data, sel, len) == 0;
	n = sm_digest(t->mtype, sel, len, md);
	return n != 0 && n == t->len && memcmp(t->data, md, n) == 0;
}

/* Does T match certificate X (with T's selector)? */
static int
matches_x509(const struct sm_tlsa *t, X509 *x)
{
	unsigned char *der = NULL;
	int len, ok;

	if (t->selector == SM_TLSA_SELECTOR_CERT)
		len = i2d_X509(x, &der);
	else
		len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len <= 0) {
		ERR_clear_error();
		return 0;
	}
	ok = matches(t, der, (size_t)len);
	OPENSSL_free(der);
	return ok;
}

static X509 *
parse_der(const uint8_t *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x == NULL || p != data + len) {
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	return x;
}

/*
 * Verify EE with the UNTRUSTED chain against STORE; FLAGS adds verify
 * flags.  On success *CHAIN (if asked for) gets the verified chain.
 */
static int
verify(X509 *ee, STACK_OF(X509) *untrusted, X509_STORE *store,
       const struct sm_dane_cert_input *in, unsigned long flags,
       STACK_OF(X509) **chain, char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int ok = 0;

	if (ctx == NULL || !X509_STORE_CTX_init(ctx, store, ee, untrusted)) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_STORE_CTX_set_purpose(ctx, in->purpose == SM_DANE_SMIME ?
					X509_PURPOSE_SMIME_ENCRYPT :
					X509_PURPOSE_SSL_CLIENT);
	if (in->name != NULL) {
		if (in->purpose == SM_DANE_SMIME)
			X509_VERIFY_PARAM_set1_email(param, in->name, 0);
		else
			X509_VERIFY_PARAM_set1_host(param, in->name, 0);
	}
	if (X509_verify_cert(ctx) == 1) {
		ok = 1;
		if (chain != NULL)
			*chain = X509_STORE_CTX_get1_chain(ctx);
	} else {
		sm_why(why, whylen, "%s", X509_verify_cert_error_string(
					X509_STORE_CTX_get_error(ctx)));
	}
done:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* DANE-TA(2): find the anchor, then verify the chain up to it. */
static void
try_dane_ta(struct sm_dane_rec *r, X509 *ee, STACK_OF(X509) *chain,
	    const struct sm_dane_cert_input *in)
{
	X509 *ta = NULL, *own = NULL;
	X509_STORE *store;
	char why[112], subj[64];
	int i;

	for (i = 0; i < sk_X509_num(chain) && ta == NULL; i++)
		if (matches_x509(&r->tlsa, sk_X509_value(chain, i)))
			ta = sk_X509_value(chain, i);
	/* A full certificate in the record may serve as the anchor. */
	if (ta == NULL && r->tlsa.selector == SM_TLSA_SELECTOR_CERT &&
	    r->tlsa.mtype == SM_TLSA_MTYPE_FULL)
		ta = own = parse_der(r->tlsa.data, r->tlsa.len);
	if (ta == NULL) {
		snprintf(r->why, sizeof(r->why),
			 "no certificate of the chain is this trust anchor");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(ta), subj, sizeof(subj));
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, ta)) {
		snprintf(r->why, sizeof(r->why), "out of memory");
	} else if (verify(ee, chain, store, in, X509_V_FLAG_PARTIAL_CHAIN,
			  NULL, why, sizeof(why))) {
		r->verdict = SM_DANE_REC_MATCH;
		snprintf(r->why, sizeof(r->why),
			 "chain verifies to trust anchor %s", subj);
	} else {
		snprintf(r->why, sizeof(r->why),
			 "trust anchor %s found, chain does not verify: %s",
			 subj, why);
	}
	X509_STORE_free(store);
	X509_free(own);
}

/* Lazily computed PKIX validation shared by PKIX-TA and PKIX-EE. */
struct pkix {
	int done, ok;
	STACK_OF(X509) *chain;
	char why[128];
};

static void
try_pkix(struct sm_dane_rec *r, struct pkix *pk, X509 *ee,
	 STACK_OF(X509) *untrusted, const struct sm_dane_cert_input *in)
{
	int i;

	if (!pk->done) {
		X509_STORE *store = X509_STORE_new();

		pk->done = 1;
		if (store != NULL &&
		    (in->ca_file ? X509_STORE_load_file(store, in->ca_file) :
				   X509_STORE_set_default_paths(store)) == 1)
			pk->ok = verify(ee, untrusted, store, in, 0, &pk->chain,
					pk->why, sizeof(pk->why));
		else
			snprintf(pk->why, sizeof(pk->why),
				 "cannot load the PKIX trust store");
		X509_STORE_free(store);
		ERR_clear_error();
	}
	if (!pk->ok) {
		snprintf(r->why, sizeof(r->why), "PKIX validation failed: %s",
			 pk->why);
		return;
	}
	if (r->tlsa.usage == SM_TLSA_USAGE_PKIX_EE) {
		if (matches_x509(&r->tlsa, ee)) {
			r->verdict = SM_DANE_REC_MATCH;
			snprintf(r->why, sizeof(r->why),
				 "PKIX-valid end-entity certificate matches");
		} else {
			snprintf(r->why, sizeof(r->why),
				 "PKIX-valid, but the end-entity certificate does not match");
		}
		return;
	}
	for (i = 1; i < sk_X509_num(pk->chain); i++)
		if (matches_x509(&r->tlsa, sk_X509_value(pk->chain, i))) {
			r->verdict = SM_DANE_REC_MATCH;
			snprintf(r->why, sizeof(r->why),
				 "PKIX-valid chain contains this CA");
			return;
		}
	snprintf(r->why, sizeof(r->why),
		 "PKIX-valid, but no CA of the chain matches");
}

struct sm_dane_report *
sm_dane_match_cert(const struct sm_rdata *rrs, size_t n,
		   const struct sm_dane_cert_input *in)
{
	struct sm_dane_report *rep = report_new(rrs, n);
	STACK_OF(X509) *chain = NULL;
	struct pkix pk = { 0, 0, NULL, "" };
	X509 *ee = NULL, *x;
	size_t i;

	if (rep == NULL)
		return NULL;
	agility(rep, 1u << SM_TLSA_MTYPE_SHA256 | 1u << SM_TLSA_MTYPE_SHA512);
	if (in->ncerts == 0 ||
	    (ee = parse_der(in->certs[0].data, in->certs[0].len)) == NULL) {
		for (i = 0; i < rep->count; i++)
			if (rep->recs[i].verdict == SM_DANE_REC_NOMATCH)
				snprintf(rep->recs[i].why, sizeof(rep->recs[i].why),
					 "no usable certificate to match");
		conclude(rep);
		return rep;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		goto oom;
	for (i = 1; i < in->ncerts; i++)
		if ((x = parse_der(in->certs[i].data, in->certs[i].len)) != NULL &&
		    !sk_X509_push(chain, x)) {
			X509_free(x);
			goto oom;
		}
	for (i = 0; i < rep->count; i++) {
		struct sm_dane_rec *r = &rep->recs[i];

		if (r->verdict != SM_DANE_REC_NOMATCH)
			continue;
		switch (r->tlsa.usage) {
		case SM_TLSA_USAGE_DANE_EE:
			if (matches_x509(&r->tlsa, ee)) {
				r->verdict = SM_DANE_REC_MATCH;
				snprintf(r->why, sizeof(r->why),
					 "end-entity %s matches",
					 selected(&r->tlsa));
			} else {
				snprintf(r->why, sizeof(r->why),
					 "end-entity %s does not match",
					 selected(&r->tlsa));
			}
			break;
		case SM_TLSA_USAGE_DANE_TA:
			try_dane_ta(r, ee, chain, in);
			break;
		default:	/* PKIX-TA, PKIX-EE */
			try_pkix(r, &pk, ee, chain, in);
			break;
		}
	}
	conclude(rep);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(pk.chain, X509_free);
	X509_free(ee);
	return rep;
oom:
	sk_X509_pop_free(chain, X509_free);
	X509_free(ee);
	sm_dane_report_free(rep);
	return NULL;
}

struct sm_dane_report *
sm_dane_match_fp(const struct sm_rdata *rrs, size_t n, const uint8_t *cert_fp,
		 const uint8_t *spki_fp, enum sm_digest alg)
{
	struct sm_dane_report *rep = report_new(rrs, n);
	size_t i, fplen = sm_digest_len(alg);

	if (rep == NULL)
		return NULL;
	agility(rep, 1u << alg);
	for (i = 0; i < rep->count; i++) {
		struct sm_dane_rec *r = &rep->recs[i];
		int spki = r->tlsa.selector == SM_TLSA_SELECTOR_SPKI;
		const uint8_t *fp = spki ? spki_fp : cert_fp;
		const char *what = selected(&r->tlsa);
		uint8_t md[SM_DIGEST_MAX];
		int ok;

		if (r->verdict != SM_DANE_REC_NOMATCH)
			continue;
		r->verdict = SM_DANE_REC_UNUSABLE;
		if (r->tlsa.usage != SM_TLSA_USAGE_DANE_EE) {
			snprintf(r->why, sizeof(r->why),
				 "usage %u needs the certificate chain, "
				 "fingerprints cannot decide it", r->tlsa.usage);
			continue;
		}
		if (fp == NULL || fplen == 0) {
			snprintf(r->why, sizeof(r->why), "no %s fingerprint",
				 what);
			continue;
		}
		if (r->tlsa.mtype == SM_TLSA_MTYPE_FULL) {
			ok = sm_digest(alg, r->tlsa.data, r->tlsa.len, md) == fplen &&
			     memcmp(md, fp, fplen) == 0;
		} else if (r->tlsa.mtype == (uint8_t)alg) {
			ok = memcmp(r->tlsa.data, fp, fplen) == 0;
		} else {
			snprintf(r->why, sizeof(r->why),
				 "%s record cannot be checked against %s fingerprints",
				 mtype_names[r->tlsa.mtype], sm_digest_name(alg));
			continue;
		}
		r->verdict = ok ? SM_DANE_REC_MATCH : SM_DANE_REC_NOMATCH;
		/* No formatting here: this runs for every policy decision. */
		sm_strlcpy(r->why, spki ?
			   (ok ? "public key fingerprint matches" :
				 "public key fingerprint does not match") :
			   (ok ? "certificate fingerprint matches" :
				 "certificate fingerprint does not match"),
			   sizeof(r->why));
	}
	conclude(rep);
	return rep;
}
