/*
 * cert.h - X.509 certificates as smilla's modules see them: DER blobs.
 * No header names an OpenSSL type: they stay inside the four files that
 * include OpenSSL, cert.c and dane.c (X.509), smime.c (CMS) and util.c
 * (digests).
 */
#ifndef SM_CERT_H
#define SM_CERT_H

#include <stddef.h>
#include <time.h>

#include "util.h"

/*
 * sm_cert_load - read every certificate in PATH (PEM, one or more, or a
 * single DER certificate).  Returns 0 with an owned array in *CERTS
 * (free with sm_blobs_free) and its size in *N, or -1 and WHY.
 */
int sm_cert_load(const char *path, struct sm_blob **certs, size_t *n,
		 char *why, size_t whylen);

/*
 * sm_cert_select - the TLSA selector data of DER (selectors as in
 * rr.h): SM_TLSA_SELECTOR_CERT the whole certificate, _SPKI its
 * SubjectPublicKeyInfo.  Returns 0 with an owned blob in OUT, or -1
 * and WHY (not a certificate, unknown selector).
 */
int sm_cert_select(const struct sm_blob *der, int selector,
		   struct sm_blob *out, char *why, size_t whylen);

/*
 * sm_cert_subject - one-line subject of DER into BUF ("?" when it does
 * not parse), for messages.
 */
void sm_cert_subject(const struct sm_blob *der, char *buf, size_t buflen);

/*
 * sm_cert_not_after - the end of DER's validity into *WHEN.  Returns 0,
 * or -1 when DER does not parse.
 */
int sm_cert_not_after(const struct sm_blob *der, time_t *when);

/*
 * sm_cert_key_match - is the private key in KEY_PATH (PEM; the first
 * key in the file) the key of the certificate DER?  Returns 1, 0 with
 * the reason in WHY when it is another key, -1 with WHY when the file
 * holds no key or DER does not parse.
 */
int sm_cert_key_match(const struct sm_blob *der, const char *key_path,
		      char *why, size_t whylen);

/* A private key with its chain, as Postfix's *_tls_chain_files hold them. */
struct sm_cert_pair {
	struct sm_blob *certs;	/* [0] the key's certificate, then the chain */
	size_t n;
	int key_ok;		/* the key is certs[0]'s: 1, 0 */
};

/*
 * sm_cert_load_pairs - read the N PEM files PATHS as one sequence, as
 * Postfix reads smtp_tls_chain_files: each private key followed by its
 * certificate and chain.  Returns 0 with an owned array in *PAIRS
 * (sm_cert_pairs_free) of *N, or -1 and WHY (a file unreadable, a
 * certificate before any key, a key without a certificate, no key).
 */
int sm_cert_load_pairs(const char *const *paths, size_t npaths,
		       struct sm_cert_pair **pairs, size_t *n, char *why,
		       size_t whylen);

/* sm_cert_pairs_free - release N PAIRS (NULL allowed). */
void sm_cert_pairs_free(struct sm_cert_pair *pairs, size_t n);

#endif
