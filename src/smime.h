/*
 * smime.h - S/MIME (RFC 8551) encryption of a MIME entity to a set of
 * certificates, with OpenSSL's CMS, streaming: memory use does not grow
 * with the message.
 *
 * The entity is encrypted as it is given (CMS_BINARY: no line-ending
 * translation), so whoever decrypts gets back exactly those octets.
 * Output is the base64 text of the DER ContentInfo in lines of 64
 * characters ended by "\n"; a caller putting it into a message converts
 * line ends as its transport needs.
 */
#ifndef SM_SMIME_H
#define SM_SMIME_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "util.h"

enum sm_smime_cipher {
	SM_SMIME_AES256_CBC,	/* EnvelopedData: what every client opens */
	SM_SMIME_AES256_GCM	/* AuthEnvelopedData (RFC 5083, RFC 8551) */
};

/* sm_smime_cipher_parse - "aes256-cbc"/"aes256-gcm", -1 when unknown. */
int sm_smime_cipher_parse(const char *name);
/* sm_smime_cipher_name - the config word of CIPHER. */
const char *sm_smime_cipher_name(enum sm_smime_cipher cipher);
/*
 * sm_smime_type - the smime-type parameter of the result:
 * "enveloped-data" or "authEnveloped-data".
 */
const char *sm_smime_type(enum sm_smime_cipher cipher);

/*
 * sm_smime_usable - can mail be encrypted to the certificate DER?  Its
 * key must be RSA (key transport; keyEncipherment when keyUsage is
 * present) or EC (key agreement; keyAgreement when keyUsage is
 * present), and an extendedKeyUsage, if present, must allow
 * emailProtection.  Returns 1, or 0 with the reason in WHY.  Names and
 * dates are not checked here: that is the caller's DANE decision.
 */
int sm_smime_usable(const struct sm_blob *der, char *why, size_t whylen);

/*
 * sm_smime_encrypt - read the entity from IN up to EOF and write the
 * base64 CMS message encrypted to the N certificates CERTS (DER) to
 * OUT.  Returns 0, or -1 with the reason in WHY (OUT then holds
 * garbage: discard it).
 */
int sm_smime_encrypt(FILE *in, const struct sm_blob *certs, size_t n,
		     enum sm_smime_cipher cipher, FILE *out, char *why,
		     size_t whylen);

/*
 * sm_smime_enveloped - is DER (LEN octets, borrowed) one CMS
 * ContentInfo of type EnvelopedData or AuthEnvelopedData, with nothing
 * after it?  Returns 1, or 0 with the reason in WHY.  Nothing is
 * decrypted: this tells a real S/MIME encrypted message from a label
 * over something else.  OpenSSL holds the parsed structure, about LEN
 * octets, while it looks.
 */
int sm_smime_enveloped(const uint8_t *der, size_t len, char *why,
		       size_t whylen);

/* Who signed an S/MIME message, as the message says. */
struct sm_smime_signer {
	struct sm_blob cert;	/* the signer's certificate, DER, owned */
	struct sm_blob *chain;	/* the other certificates the message
				   carries, DER, owned */
	size_t nchain;
	char serial[80];	/* the signer's serial number, hex */
	char issuer[256];	/* its issuer, RFC 2253, escaped as the log
				   needs nothing more */
};

/* sm_smime_signer_clear - free what S holds and zero it; NULL allowed. */
void sm_smime_signer_clear(struct sm_smime_signer *s);

/*
 * sm_smime_verify - check the CMS SignedData SIG (DER, SLEN octets,
 * borrowed): over CONTENT (CLEN octets) when it is detached, over the
 * content it holds when CONTENT is NULL (opaque signed-data).  The
 * octets are taken as they are (binary: no line-end translation).  Only
 * the signature is checked, not the signer's certificate chain: whom
 * to trust is the caller's DANE decision.  Returns 1 with the first
 * signer whose signature verifies in *SIGNER (cleared first), 0 when no
 * signature verifies over the content (tampered, or signed by a key
 * the message does not carry), -1 when SIG is no SignedData (malformed,
 * truncated, no signer) or memory ran out; WHY says which.
 */
int sm_smime_verify(const uint8_t *sig, size_t slen, const uint8_t *content,
		    size_t clen, struct sm_smime_signer *signer, char *why,
		    size_t whylen);

#endif
