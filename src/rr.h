/*
 * rr.h - the RDATA smilla reads: TLSA (RFC 6698), SMIMEA (RFC 8162,
 * same wire format as TLSA) and OPENPGPKEY (RFC 7929).
 *
 * RDATA comes from the network: the parsers check every length and
 * report records they cannot use with a reason instead of failing.
 */
#ifndef SM_RR_H
#define SM_RR_H

#include <stddef.h>
#include <stdint.h>

enum sm_rr_type {
	SM_RR_TLSA = 52,
	SM_RR_SMIMEA = 53,
	SM_RR_OPENPGPKEY = 61
};

/* One RDATA blob as it came off the wire; owned by whoever holds it. */
struct sm_rdata {
	uint8_t *data;
	size_t len;
};

/*
 * The three numbers that open a TLSA/SMIMEA record, as the IANA
 * registries of RFC 6698 number them (mnemonics from RFC 7218).  The
 * _MAX values are the highest this implementation knows; the parser
 * refuses records above them.
 */
/* Certificate usages, RFC 6698 section 7.2. */
#define SM_TLSA_USAGE_PKIX_TA	0	/* CA constraint */
#define SM_TLSA_USAGE_PKIX_EE	1	/* service certificate constraint */
#define SM_TLSA_USAGE_DANE_TA	2	/* trust anchor assertion */
#define SM_TLSA_USAGE_DANE_EE	3	/* domain-issued certificate */
#define SM_TLSA_USAGE_MAX	SM_TLSA_USAGE_DANE_EE

/* Selectors, RFC 6698 section 7.3. */
#define SM_TLSA_SELECTOR_CERT	0	/* the full certificate (DER) */
#define SM_TLSA_SELECTOR_SPKI	1	/* its SubjectPublicKeyInfo */
#define SM_TLSA_SELECTOR_MAX	SM_TLSA_SELECTOR_SPKI

/*
 * Matching types, RFC 6698 section 7.4.  The digest ones equal
 * enum sm_digest in util.h (rr.c checks that at compile time).
 */
#define SM_TLSA_MTYPE_FULL	0	/* the selected data itself */
#define SM_TLSA_MTYPE_SHA256	1	/* SHA2-256 of it */
#define SM_TLSA_MTYPE_SHA512	2	/* SHA2-512 of it */
#define SM_TLSA_MTYPE_MAX	SM_TLSA_MTYPE_SHA512

/* A parsed TLSA/SMIMEA record; DATA points into the parsed RDATA. */
struct sm_tlsa {
	uint8_t usage;		/* SM_TLSA_USAGE_* */
	uint8_t selector;	/* SM_TLSA_SELECTOR_* */
	uint8_t mtype;		/* SM_TLSA_MTYPE_* */
	const uint8_t *data;
	size_t len;
};

/*
 * sm_rr_tlsa_parse - split RD (LEN octets) into T.  Returns 0 for a
 * usable record, -1 for one that is malformed or uses values this
 * implementation does not know (T holds whatever could be read); the
 * reason is in WHY.
 */
int sm_rr_tlsa_parse(const uint8_t *rd, size_t len, struct sm_tlsa *t,
		     char *why, size_t whylen);

/*
 * sm_rr_openpgpkey_check - 0 when RD can hold an OpenPGP transferable
 * public key (non-empty, starts with a packet header), else -1 and WHY.
 * Whether the key itself is usable is for the OpenPGP library to say.
 */
int sm_rr_openpgpkey_check(const uint8_t *rd, size_t len, char *why,
			   size_t whylen);

/*
 * sm_rr_format - the zone-file presentation of one RDATA of TYPE, e.g.
 * "3 1 1 0C72..." or base64 for OPENPGPKEY; malformed RDATA is printed
 * in the RFC 3597 generic form "\# LEN HEX".  Returns malloc'd text,
 * NULL when out of memory.
 */
char *sm_rr_format(int type, const uint8_t *rd, size_t len);

/* sm_rr_type_name - "TLSA", "SMIMEA", "OPENPGPKEY" or "TYPEnn". */
const char *sm_rr_type_name(int type);

/* sm_rr_type_parse - the reverse, case-insensitive; -1 when unknown. */
int sm_rr_type_parse(const char *name);

#endif
