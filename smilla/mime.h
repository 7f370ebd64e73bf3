/*
 * mime.h - the little MIME the milter needs: which header lines belong
 * to the MIME entity (they move inside the encrypted part), the
 * Content-Type of the message, and whether the message really is
 * already encrypted (S/MIME, PGP/MIME or inline PGP).
 *
 * A label is not a fact: what the headers claim is only a reason to
 * keep the body and look, and the body decides.  Everything here is fed
 * by the network: parsers accept any octets and never read past the
 * lengths they are given.
 */
#ifndef MIL_MIME_H
#define MIL_MIME_H
#include <stddef.h>
#include <stdint.h>

/* mil_mime_is_content - 1 for a Content-* header name (any case). */
int mil_mime_is_content(const char *name);

/* RFC 2046 section 5.1.1: 1 to 70 characters. */
#define MIL_BOUNDARY_MAX 70

struct mil_ctype {
	char type[64];		/* lowercase, "" when unparseable */
	char subtype[64];
	char smime_type[64];	/* parameter smime-type, lowercase */
	char protocol[128];	/* parameter protocol, lowercase */
	char charset[64];	/* parameter charset, lowercase, "" if none */
	int hp;			/* an RFC 9788 parameter (hp,
				   hp-legacy-display) is there already */
	int semi_end;		/* the value ends in ';': a parameter
				   added after it needs none */
	char boundary[MIL_BOUNDARY_MAX + 1];	/* as given, "" if none */
	int boundary_bad;	/* a boundary parameter, not 1-70 chars */
	int ambiguous;		/* boundary, protocol or smime-type given
				   twice, or in RFC 2231 form: readers
				   may take another one than we do */
};

/* mil_mime_ctype - parse a Content-Type value (RFC 2045, tolerant). */
void mil_mime_ctype(const char *value, struct mil_ctype *ct);

/* The shapes of an already encrypted message. */
enum mil_format {
	MIL_FMT_NONE,
	MIL_FMT_SMIME,		/* application/pkcs7-mime, (Auth)EnvelopedData */
	MIL_FMT_PGP_MIME,	/* RFC 3156 multipart/encrypted */
	MIL_FMT_PGP_INLINE	/* text/plain whose body is one PGP MESSAGE */
};

/* mil_format_word - "smime", "pgp-mime", "pgp-inline" ("none"). */
const char *mil_format_word(enum mil_format format);

/*
 * What a message's own header says, header by header: the first
 * Content-Type and Content-Transfer-Encoding, and how many of each
 * there were (several are malformed: never "encrypted").
 */
struct mil_label {
	size_t nctype, ncte;
	struct mil_ctype ct;
	char cte[32];		/* lowercase token, "" when absent */
};

/* mil_label_init - no header seen yet. */
void mil_label_init(struct mil_label *l);
/* mil_label_header - one header line NAME: VALUE of the message. */
void mil_label_header(struct mil_label *l, const char *name,
		      const char *value);
/*
 * mil_label_claim - the shape the header claims: SMIME for exactly one
 * Content-Type application/(x-)pkcs7-mime with smime-type
 * enveloped-data, authenveloped-data or none; PGP_MIME for exactly one
 * multipart/encrypted; protocol="application/pgp-encrypted" with a
 * boundary; PGP_INLINE for a message that could be inline PGP (no
 * Content-Type, or one text/plain); NONE otherwise, and whenever there
 * are several Content-Type or Content-Transfer-Encoding headers.
 */
enum mil_format mil_label_claim(const struct mil_label *l);
/*
 * mil_label_verify - is BODY (LEN octets, the whole body as received,
 * borrowed) what L claims?  Returns the format, or MIL_FMT_NONE with
 * the reason in WHY.
 *   SMIME: Content-Transfer-Encoding base64 (any other is not
 *	checked: such a body is "not encrypted"), decoded strictly, is
 *	one CMS EnvelopedData or AuthEnvelopedData (sm_smime_enveloped).
 *   PGP_MIME: mil_mime_pgp_mime.
 *   PGP_INLINE: the whole body is one armored PGP MESSAGE holding an
 *	encrypted message, white space around it only (sm_pgp_encrypted).
 */
enum mil_format mil_label_verify(const struct mil_label *l,
				 const uint8_t *body, size_t len, char *why,
				 size_t whylen);

/*
 * mil_mime_pgp_mime - RFC 3156 section 4: BODY (LEN octets) split at
 * BOUNDARY holds exactly two parts, the first application/pgp-encrypted
 * holding "Version: 1", the second application/octet-stream holding
 * one armored encrypted PGP MESSAGE; preamble and epilogue hold white
 * space only (text there could be the secret itself).  1, or 0 with
 * WHY.
 */
int mil_mime_pgp_mime(const uint8_t *body, size_t len, const char *boundary,
		      char *why, size_t whylen);

/*
 * mil_mime_base64 - strict RFC 2045 base64 of IN (LEN octets): only the
 * alphabet, white space and line breaks, padding only at the end, whole
 * quanta, the bits padding leaves over zero.  *OUT is malloc'd (the caller frees it) with *OUTLEN octets.
 * 0, or -1 with WHY (then *OUT is NULL).
 */
int mil_mime_base64(const uint8_t *in, size_t len, uint8_t **out,
		    size_t *outlen, char *why, size_t whylen);

/*
 * Does a body start, after white space, with an armor line "-----BEGIN
 * PGP MESSAGE-----"?  Fed in pieces as the body comes; VERDICT is 0
 * while undecided, then 1 or -1 for good.
 */
struct mil_inline {
	size_t matched;		/* marker octets matched */
	int verdict;
};
void mil_inline_init(struct mil_inline *s);
int mil_inline_feed(struct mil_inline *s, const void *data, size_t len);
#endif
