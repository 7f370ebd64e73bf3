/*
 * signed.h - where a message's signature is: the MIME structure of
 * signed mail (RFC 8551 for S/MIME, RFC 3156 section 5 for PGP/MIME),
 * found in the body as received, so that the signature is checked over
 * the very octets the sender signed and never over a copy we made.
 *
 * A signed message is one of:
 *   multipart/signed; protocol="application/pkcs7-signature"
 *	(or x-pkcs7-signature): S/MIME, detached;
 *   application/pkcs7-mime (or x-pkcs7-mime); smime-type=signed-data:
 *	S/MIME, opaque: the content is inside the CMS structure;
 *   multipart/signed; protocol="application/pgp-signature": PGP/MIME;
 * either as the message itself or as one part of a top-level
 * multipart/mixed (mailing lists add a footer that way), one level
 * deep, the first signed part found.
 *
 * Everything here is fed by the network: any octets are accepted,
 * nothing is read past the lengths given, nothing is decoded (the
 * signature part is located, not parsed).
 */
#ifndef MIL_SIGNED_H
#define MIL_SIGNED_H

#include <stddef.h>
#include <stdint.h>

#include "mime.h"

enum mil_sig_format {
	MIL_SIG_NONE,
	MIL_SIG_SMIME,		/* multipart/signed, pkcs7-signature */
	MIL_SIG_SMIME_OPAQUE,	/* pkcs7-mime, smime-type=signed-data */
	MIL_SIG_PGP		/* multipart/signed, pgp-signature */
};

/* mil_sig_format_word - "none", "smime", "smime-opaque", "pgp-mime". */
const char *mil_sig_format_word(enum mil_sig_format format);

/* Where the parts are, as offsets into the body given. */
struct mil_signed {
	enum mil_sig_format format;
	unsigned part;		/* 0: the message itself; N: the Nth part
				   of its multipart/mixed body */
	size_t content_start;	/* detached: the signed entity, header
	 			   and body, exactly as received */
	size_t content_end;
	size_t sig_start;	/* the signature part's content; opaque:
				   the whole body of the signed entity */
	size_t sig_end;
	char sig_cte[32];	/* its Content-Transfer-Encoding,
				   lowercase, "" when none was given */
};

/*
 * mil_signed_claimed - does the header that gave L claim a signed
 * format itself (one of the three above)?  mil_signed_maybe - that, or
 * a multipart/mixed that may hold a signed part: is the body worth
 * keeping for mil_signed_find?
 */
int mil_signed_claimed(const struct mil_label *l);
int mil_signed_maybe(const struct mil_label *l);

/*
 * mil_signed_find - is the message whose header gave TOP and whose body
 * is BODY (LEN octets, borrowed) signed, and where?  Returns 1 with *S
 * filled, 0 when it is not signed mail (S->format NONE), -1 when it
 * claims to be signed but its structure is broken (two Content-Type
 * headers, no boundary, not exactly two parts, a signature part of
 * another type, ...: a permanent error), with WHY.
 */
int mil_signed_find(const uint8_t *body, size_t len,
		    const struct mil_label *top, struct mil_signed *s,
		    char *why, size_t whylen);

#endif
