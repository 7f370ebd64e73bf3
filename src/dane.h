/*
 * dane.h - match a certificate against a TLSA or SMIMEA RRset
 * (RFC 6698, RFC 7671), either with the certificate itself (and its
 * chain), or with only the two fingerprints Postfix hands a policy
 * server.
 *
 * Every record gets a verdict with a reason, so callers can log which
 * record matched or why none did.  The caller decides whether the RRset
 * was DNSSEC-secure: this module only matches.
 *
 * Rules applied:
 *  - DANE-EE(3): the end-entity certificate or key matches; names and
 *    dates are ignored (RFC 7671 section 5.1).
 *  - DANE-TA(2): a certificate of the chain (or the full certificate in
 *    a "2 0 0" record) is the trust anchor; the chain from it must
 *    verify, with dates and, when a name is given, the name.
 *  - PKIX-TA(0)/PKIX-EE(1): the chain must verify against the PKIX
 *    trust store and the named certificate must match.
 *  - Digest agility (RFC 7671 section 9): per usage and selector only
 *    records with the strongest supported digest count; "full" (0)
 *    records are not affected.
 *  - With fingerprints only: DANE-EE records whose digest is the
 *    fingerprints' digest, or full records (hashed here), are decided;
 *    every other record is reported as undecidable (unusable).
 */
#ifndef SM_DANE_H
#define SM_DANE_H

#include <stddef.h>

#include "rr.h"
#include "util.h"

enum sm_dane_verdict {
	SM_DANE_REC_MATCH,	/* this record authenticates the certificate */
	SM_DANE_REC_NOMATCH,	/* usable record, does not match */
	SM_DANE_REC_UNUSABLE,	/* malformed, unknown or undecidable */
	SM_DANE_REC_IGNORED	/* a stronger digest exists (agility) */
};

enum sm_dane_result {
	SM_DANE_PASS,		/* a record matched */
	SM_DANE_FAIL,		/* usable records, none matched */
	SM_DANE_UNUSABLE,	/* records present, none usable */
	SM_DANE_NONE		/* empty RRset */
};

enum sm_dane_purpose {
	SM_DANE_TLS_CLIENT,	/* a TLS client certificate (client TLSA) */
	SM_DANE_SMIME		/* an S/MIME certificate (SMIMEA) */
};

struct sm_dane_rec {
	struct sm_tlsa tlsa;	/* DATA points into the caller's RRset */
	enum sm_dane_verdict verdict;
	char why[256];
};

struct sm_dane_report {
	enum sm_dane_result result;
	int matched;		/* index of the deciding record, -1 if none */
	size_t count;
	struct sm_dane_rec *recs;
};

struct sm_dane_cert_input {
	const struct sm_blob *certs;	/* [0] end entity, then its chain */
	size_t ncerts;
	enum sm_dane_purpose purpose;
	const char *name;	/* host (TLS) or address (S/MIME) for usages
				   0-2; NULL skips the name check */
	const char *ca_file;	/* PKIX trust store; NULL: system default */
};

/*
 * sm_dane_match_cert - match a certificate and chain against the N
 * RDATA in RRS.  Returns an owned report (sm_dane_report_free), NULL
 * when out of memory.
 */
struct sm_dane_report *sm_dane_match_cert(const struct sm_rdata *rrs,
					  size_t n,
					  const struct sm_dane_cert_input *in);

/*
 * sm_dane_match_fp - match fingerprints made with ALG: CERT_FP over the
 * DER certificate, SPKI_FP over its SubjectPublicKeyInfo (either may be
 * NULL when unknown).  Returns an owned report, NULL when out of memory.
 */
struct sm_dane_report *sm_dane_match_fp(const struct sm_rdata *rrs, size_t n,
					const uint8_t *cert_fp,
					const uint8_t *spki_fp,
					enum sm_digest alg);

/* sm_dane_report_free - release REP (NULL allowed). */
void sm_dane_report_free(struct sm_dane_report *rep);

/* sm_dane_result_word - "pass", "fail", "unusable" or "none". */
const char *sm_dane_result_word(enum sm_dane_result result);

/* sm_dane_verdict_word - "match", "nomatch", "unusable" or "ignored". */
const char *sm_dane_verdict_word(enum sm_dane_verdict verdict);

#endif
