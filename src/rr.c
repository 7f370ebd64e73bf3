/*
 * rr.c - parse and print TLSA, SMIMEA and OPENPGPKEY RDATA; the
 * contract, and the names of the TLSA fields' values, are in rr.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rr.h"
#include "util.h"

/* Matching types double as digest algorithms (see rr.h). */
_Static_assert(SM_TLSA_MTYPE_SHA256 == SM_DIGEST_SHA256 &&
	       SM_TLSA_MTYPE_SHA512 == SM_DIGEST_SHA512,
	       "TLSA matching types and enum sm_digest disagree");

int
sm_rr_tlsa_parse(const uint8_t *rd, size_t len, struct sm_tlsa *t, char *why,
		 size_t whylen)
{
	memset(t, 0, sizeof(*t));
	if (len < 3) {
		sm_why(why, whylen, "RDATA of %zu octets, shorter than 3", len);
		return -1;
	}
	t->usage = rd[0];
	t->selector = rd[1];
	t->mtype = rd[2];
	t->data = rd + 3;
	t->len = len - 3;
	if (t->usage > SM_TLSA_USAGE_MAX) {
		sm_why(why, whylen, "unknown certificate usage %u", t->usage);
		return -1;
	}
	if (t->selector > SM_TLSA_SELECTOR_MAX) {
		sm_why(why, whylen, "unknown selector %u", t->selector);
		return -1;
	}
	if (t->mtype > SM_TLSA_MTYPE_MAX) {
		sm_why(why, whylen, "unknown matching type %u", t->mtype);
		return -1;
	}
	if (t->len == 0) {
		sm_why(why, whylen, "no certificate association data");
		return -1;
	}
	if (t->mtype != SM_TLSA_MTYPE_FULL &&
	    t->len != sm_digest_len(t->mtype)) {
		sm_why(why, whylen, "%s digest of %zu octets, expected %zu",
		       t->mtype == SM_TLSA_MTYPE_SHA256 ? "SHA2-256" :
							  "SHA2-512", t->len,
		       sm_digest_len(t->mtype));
		return -1;
	}
	return 0;
}

int
sm_rr_openpgpkey_check(const uint8_t *rd, size_t len, char *why,
		       size_t whylen)
{
	if (len == 0) {
		sm_why(why, whylen, "empty OPENPGPKEY RDATA");
		return -1;
	}
	if (!(rd[0] & 0x80)) {
		sm_why(why, whylen, "RDATA does not start with an OpenPGP packet");
		return -1;
	}
	return 0;
}

static char *
generic(const uint8_t *rd, size_t len)
{
	char *out = malloc(2 * len + 32);

	if (out == NULL)
		return NULL;
	snprintf(out, 32, "\\# %zu%s", len, len ? " " : "");
	sm_hex_encode(rd, len, out + strlen(out), 1);
	return out;
}

char *
sm_rr_format(int type, const uint8_t *rd, size_t len)
{
	char *out;

	switch (type) {
	case SM_RR_TLSA:
	case SM_RR_SMIMEA:
		/* Unknown usages print fine; only broken lengths go generic. */
		if (len < 4 ||
		    (rd[2] != SM_TLSA_MTYPE_FULL &&
		     rd[2] <= SM_TLSA_MTYPE_MAX &&
		     len - 3 != sm_digest_len(rd[2])))
			return generic(rd, len);
		if ((out = malloc(2 * len + 16)) == NULL)
			return NULL;
		snprintf(out, 16, "%u %u %u ", rd[0], rd[1], rd[2]);
		sm_hex_encode(rd + 3, len - 3, out + strlen(out), 1);
		return out;
	case SM_RR_OPENPGPKEY:
		if (len == 0)
			return generic(rd, len);
		return sm_base64_encode(rd, len);
	}
	return generic(rd, len);
}

const char *
sm_rr_type_name(int type)
{
	static char buf[16];

	switch (type) {
	case SM_RR_TLSA:
		return "TLSA";
	case SM_RR_SMIMEA:
		return "SMIMEA";
	case SM_RR_OPENPGPKEY:
		return "OPENPGPKEY";
	}
	snprintf(buf, sizeof(buf), "TYPE%d", type);
	return buf;
}

int
sm_rr_type_parse(const char *name)
{
	if (strcasecmp(name, "TLSA") == 0)
		return SM_RR_TLSA;
	if (strcasecmp(name, "SMIMEA") == 0)
		return SM_RR_SMIMEA;
	if (strcasecmp(name, "OPENPGPKEY") == 0)
		return SM_RR_OPENPGPKEY;
	return -1;
}
