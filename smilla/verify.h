/*
 * verify.h - is signed mail signed by its From address?  The signature
 * is checked over the octets as received (signed.h finds them), then
 * the signer is matched against what the From address publishes in
 * DNSSEC-signed DNS: SMIMEA for S/MIME (RFC 8162, any usage, selector
 * and matching type: the message carries the certificate and its
 * chain), OPENPGPKEY for PGP/MIME (RFC 7929).  The result is what an
 * Authentication-Results header (RFC 8601; method smime, RFC 7281, and
 * the extension method x-pgp) says.
 *
 *   pass       the signature verifies and the signer matches a secure
 *              record of the From address
 *   fail       the signature does not verify, or its signer matches
 *              none of the From address's secure records
 *   neutral    the From address publishes nothing secure (no record,
 *              or an unsigned zone): the signature (when it could be
 *              checked at all: an OpenPGP signature needs the key)
 *              proves nothing about the sender
 *   temperror  the lookup timed out or failed; also DNSSEC-bogus
 *              answers: records that cannot be used prove nothing,
 *              and, like a failing server, may be right later (an
 *              on-path attacker or a broken zone makes them); never
 *              pass, and not fail, which would say the mail is forged
 *   permerror  the signed structure or the signature is malformed, or
 *              From does not hold exactly one address
 */
#ifndef MIL_VERIFY_H
#define MIL_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "mime.h"
#include "recipient.h"
#include "signed.h"

enum mil_auth {
	MIL_AUTH_NONE,		/* not signed mail: no header */
	MIL_AUTH_PASS,
	MIL_AUTH_FAIL,
	MIL_AUTH_NEUTRAL,
	MIL_AUTH_TEMPERROR,
	MIL_AUTH_PERMERROR
};

/* mil_auth_word - "none", "pass", "fail", ... as RFC 8601 spells them. */
const char *mil_auth_word(enum mil_auth result);

/*
 * mil_auth_rep_result - the reputation store's result word for RESULT
 * ("pass", "fail", "none", "temperror", "unusable"), NULL for none.
 */
const char *mil_auth_rep_result(enum mil_auth result);

struct mil_auth_result {
	enum mil_auth result;
	enum mil_sig_format format;
	unsigned part;		/* 0: the message; N: part N of its
				   multipart/mixed */
	enum mil_kind kind;	/* the kind of key the signer needs */
	char from[256];		/* the From address, canonical ("" when
				   there was not exactly one) */
	char fp[65];		/* the signer: SHA-256 of its certificate,
				   or its OpenPGP fingerprint; "" unknown */
	char serial[80];	/* S/MIME: the signer's serial (hex) */
	char issuer[256];	/* S/MIME: its issuer (RFC 2253) */
	int bogus;		/* temperror from a DNSSEC-bogus answer */
	char why[256];		/* for the log and reason= */
};

/*
 * mil_verify - check the message whose header gave TOP and FROM (the
 * value of its From field; NFROM how many From fields it had) and whose
 * body is BODY (LEN octets, borrowed, as received), looking the
 * signer's records up through LK (CA_FILE: the PKIX store for SMIMEA
 * usages 0 and 1, NULL for the system's).  Fills R; R->result is NONE
 * for mail that is not signed.
 */
void mil_verify(const uint8_t *body, size_t len, const struct mil_label *top,
		const char *from, size_t nfrom, struct mil_lookup *lk,
		const char *ca_file, struct mil_auth_result *r);

/*
 * mil_auth_header - the Authentication-Results value for R (not NONE)
 * under AUTHSERV into BUF: "AUTHSERV; smime=pass
 * body.smime-identifier=ADDR body.smime-serial=... body.smime-issuer=..."
 * (RFC 7281), or "AUTHSERV; x-pgp=pass header.from=ADDR
 * body.x-pgp-fingerprint=FPR"; body.smime-part / body.x-pgp-part for a
 * nested part; reason="..." when it is not a pass.  Nothing the sender
 * wrote goes in unquoted.  0, or -1 when BUF is too small.
 */
int mil_auth_header(const struct mil_auth_result *r, const char *authserv,
		    char *buf, size_t buflen);

/*
 * mil_auth_is_ours - does the Authentication-Results value VALUE carry
 * AUTHSERV as its authserv-id (compared without regard to case, RFC
 * 8601 section 2.5)?  Such a header on incoming mail is forged or
 * stale: it is deleted before ours is added (section 5).
 */
int mil_auth_is_ours(const char *value, const char *authserv);

#endif
