/*
 * smimea.h - the usability of one SMIMEA record (RFC 8162) for
 * encryption, over dane.c (PKIX-EE) and smime.c (the key).
 */
#ifndef SM_SMIMEA_H
#define SM_SMIMEA_H

#include <stddef.h>

#include "rr.h"

/*
 * sm_smimea_usable - can mail to ADDR be encrypted to the certificate
 * in the SMIMEA RDATA RD?  (The RRset's DNSSEC state is the caller's.)
 * The record must carry the whole certificate (selector 0, matching
 * type 0) with usage DANE-EE (3, taken as is, RFC 7671 section 5.1) or
 * PKIX-EE (1: the certificate must verify for ADDR against CA_FILE,
 * NULL the system store); DANE-TA and PKIX-TA records need a chain the
 * record lacks; and the key must pass sm_smime_usable.  Names and dates
 * are not checked for DANE-EE.  Returns 1 with the parsed record in *T
 * (its data points into RD), or 0 with the reason in WHY.
 */
int sm_smimea_usable(const struct sm_rdata *rd, const char *addr,
		     const char *ca_file, struct sm_tlsa *t, char *why,
		     size_t whylen);

#endif
