/*
 * smimea.c - can mail be encrypted to the certificate of an SMIMEA
 * record?  The contract is smimea.h.  The milter (smilla/recipient.c)
 * decides with it which keys to encrypt to, smillactl selfcheck whether
 * an address's publication works.
 *
 *   sm_smimea_usable(rd, addr, ca_file, t, why, whylen)
 *	1 when usable, 0 and the reason.
 */
#include <string.h>

#include "dane.h"
#include "smime.h"
#include "smimea.h"

int
sm_smimea_usable(const struct sm_rdata *rd, const char *addr,
		 const char *ca_file, struct sm_tlsa *t, char *why,
		 size_t whylen)
{
	struct sm_dane_cert_input in;
	struct sm_dane_report *rep;
	struct sm_blob cert;
	int ok;

	if (sm_rr_tlsa_parse(rd->data, rd->len, t, why, whylen) < 0)
		return 0;
	if (t->selector != SM_TLSA_SELECTOR_CERT ||
	    t->mtype != SM_TLSA_MTYPE_FULL) {
		sm_why(why, whylen, "%u %u %u: no whole certificate to encrypt to",
		       t->usage, t->selector, t->mtype);
		return 0;
	}
	if (t->usage == SM_TLSA_USAGE_PKIX_TA ||
	    t->usage == SM_TLSA_USAGE_DANE_TA) {
		sm_why(why, whylen, "usage %u needs a chain the record lacks",
		       t->usage);
		return 0;
	}
	cert.data = (uint8_t *)t->data;
	cert.len = t->len;
	if (t->usage == SM_TLSA_USAGE_PKIX_EE) {
		memset(&in, 0, sizeof(in));
		in.certs = &cert;
		in.ncerts = 1;
		in.purpose = SM_DANE_SMIME;
		in.name = addr;
		in.ca_file = ca_file;
		if ((rep = sm_dane_match_cert(rd, 1, &in)) == NULL) {
			sm_why(why, whylen, "out of memory");
			return 0;
		}
		ok = rep->result == SM_DANE_PASS;
		if (!ok)
			sm_why(why, whylen, "1 0 0: %s", rep->recs[0].why);
		sm_dane_report_free(rep);
		if (!ok)
			return 0;
	}
	return sm_smime_usable(&cert, why, whylen);
}
