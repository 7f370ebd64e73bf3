/*
 * cert.h - X.509 certificates as smilla's modules see them: DER blobs.
 * No header names an OpenSSL type: they stay inside the four files that
 * include OpenSSL, cert.c and dane.c (X.509), smime.c (CMS) and util.c
 * (digests).
 */
#ifndef SM_CERT_H
#define SM_CERT_H

#include <stddef.h>

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

#endif
