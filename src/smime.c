/*
 * smime.c - S/MIME encryption with OpenSSL CMS.  The contract is
 * smime.h; OpenSSL types stay in here.
 *
 *   sm_smime_cipher_parse(name) / sm_smime_cipher_name(cipher)
 *   sm_smime_type(cipher)
 *	the config words of the two ciphers, and the smime-type each
 *	gives the result.
 *
 *   sm_smime_usable(der, why, whylen)
 *	1 when mail can be encrypted to the certificate, 0 and a reason.
 *
 *   sm_smime_encrypt(in, certs, n, cipher, out, why, whylen)
 *	stream IN through CMS EnvelopedData (AES-256-CBC) or
 *	AuthEnvelopedData (AES-256-GCM) into base64 text on OUT.
 *
 *   sm_smime_enveloped(der, len, why, whylen)
 *	1 when DER is exactly one CMS (Auth)EnvelopedData ContentInfo:
 *	the milter's test for "already encrypted".
 *
 *   sm_smime_verify(sig, slen, content, clen, signer, why, whylen)
 *   sm_smime_signer_clear(s)
 *	a SignedData's signatures over the octets as received, and who
 *	made the first good one.
 *
 * OpenSSL picks the recipient info from the key: key transport
 * (RSAES-PKCS1-v1_5) for RSA, ECDH key agreement with AES key wrap for
 * EC.  Both are what RFC 8551 clients must read.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "smime.h"

int
sm_smime_cipher_parse(const char *name)
{
	if (strcmp(name, "aes256-cbc") == 0)
		return SM_SMIME_AES256_CBC;
	if (strcmp(name, "aes256-gcm") == 0)
		return SM_SMIME_AES256_GCM;
	return -1;
}

const char *
sm_smime_cipher_name(enum sm_smime_cipher cipher)
{
	return cipher == SM_SMIME_AES256_GCM ? "aes256-gcm" : "aes256-cbc";
}

const char *
sm_smime_type(enum sm_smime_cipher cipher)
{
	return cipher == SM_SMIME_AES256_GCM ? "authEnveloped-data" :
					       "enveloped-data";
}

static X509 *
decode(const struct sm_blob *der)
{
	const unsigned char *p = der->data;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);

	if (x != NULL && p != der->data + der->len) {
		X509_free(x);	/* trailing garbage: not one certificate */
		x = NULL;
	}
	return x;
}

/*
 * Decoding a certificate's public key costs OpenSSL 3 more than the
 * RSA operation it is used for, and the same few recipients come back
 * all the time: keep the last certificates decoded, by digest of their
 * DER.  Entries are reference-counted X509s, shared across threads.
 */
#define CERT_CACHE 64

static struct {
	uint8_t digest[32];
	X509 *x;
	unsigned long used;
} cert_cache[CERT_CACHE];
static unsigned long cert_clock;
static pthread_mutex_t cert_lock = PTHREAD_MUTEX_INITIALIZER;

/* The certificate in DER, owned by the caller (X509_free), or NULL. */
static X509 *
parse(const struct sm_blob *der)
{
	uint8_t d[SM_DIGEST_MAX];
	size_t i, victim = 0;
	X509 *x = NULL;

	if (sm_digest(SM_DIGEST_SHA256, der->data, der->len, d) == 0)
		return decode(der);
	pthread_mutex_lock(&cert_lock);
	for (i = 0; i < CERT_CACHE; i++) {
		if (cert_cache[i].x != NULL &&
		    memcmp(cert_cache[i].digest, d, 32) == 0) {
			x = cert_cache[i].x;
			cert_cache[i].used = ++cert_clock;
			X509_up_ref(x);
			break;
		}
		if (cert_cache[i].used < cert_cache[victim].used)
			victim = i;
	}
	pthread_mutex_unlock(&cert_lock);
	if (x != NULL || (x = decode(der)) == NULL)
		return x;
	/* Flags computed once, before the X509 is shared. */
	X509_check_purpose(x, -1, 0);
	pthread_mutex_lock(&cert_lock);
	X509_free(cert_cache[victim].x);
	memcpy(cert_cache[victim].digest, d, 32);
	cert_cache[victim].x = x;
	cert_cache[victim].used = ++cert_clock;
	X509_up_ref(x);
	pthread_mutex_unlock(&cert_lock);
	return x;
}

/* The OpenSSL error queue's last reason, or FALLBACK. */
static void
ssl_why(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		sm_why(why, whylen, "%s: %s", what, buf);
	} else {
		sm_why(why, whylen, "%s", what);
	}
	ERR_clear_error();
}

int
sm_smime_usable(const struct sm_blob *der, char *why, size_t whylen)
{
	X509 *x = parse(der);
	EVP_PKEY *pk;
	uint32_t flags, ku, need = 0;
	int ok = 0;

	if (x == NULL) {
		sm_why(why, whylen, "not an X.509 certificate");
		ERR_clear_error();
		return 0;
	}
	flags = X509_get_extension_flags(x);
	if ((flags & EXFLAG_INVALID) != 0) {
		sm_why(why, whylen, "certificate has invalid extensions");
		goto done;
	}
	if ((pk = X509_get0_pubkey(x)) == NULL) {
		sm_why(why, whylen, "unreadable public key");
		goto done;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		need = KU_KEY_ENCIPHERMENT;
		break;
	case EVP_PKEY_EC:
		need = KU_KEY_AGREEMENT;
		break;
	default:
		sm_why(why, whylen, "%s key cannot receive encrypted mail",
		       OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		goto done;
	}
	ku = X509_get_key_usage(x);	/* all bits when absent */
	if ((ku & need) == 0) {
		sm_why(why, whylen, "keyUsage lacks %s",
		       need == KU_KEY_ENCIPHERMENT ? "keyEncipherment" :
						     "keyAgreement");
		goto done;
	}
	if ((flags & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(x) & XKU_SMIME) == 0) {
		sm_why(why, whylen, "extendedKeyUsage lacks emailProtection");
		goto done;
	}
	ok = 1;
done:
	X509_free(x);
	ERR_clear_error();
	return ok;
}

int
sm_smime_encrypt(FILE *in, const struct sm_blob *certs, size_t n,
		 enum sm_smime_cipher cipher, FILE *out, char *why,
		 size_t whylen)
{
	const int flags = CMS_BINARY | CMS_STREAM;
	STACK_OF(X509) *rcpts = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *bin = NULL, *bout = NULL, *b64 = NULL;
	X509 *x;
	size_t i;
	int rc = -1;

	if (n == 0) {
		sm_why(why, whylen, "no recipient certificate");
		return -1;
	}
	if ((rcpts = sk_X509_new_null()) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if ((x = parse(&certs[i])) == NULL) {
			sm_why(why, whylen, "certificate %zu does not parse", i);
			goto done;
		}
		if (!sk_X509_push(rcpts, x)) {
			X509_free(x);
			goto oom;
		}
	}
	if ((bin = BIO_new_fp(in, BIO_NOCLOSE)) == NULL ||
	    (bout = BIO_new_fp(out, BIO_NOCLOSE)) == NULL ||
	    (b64 = BIO_new(BIO_f_base64())) == NULL)
		goto oom;
	bout = BIO_push(b64, bout);
	b64 = NULL;
	cms = CMS_encrypt(rcpts, bin,
			  cipher == SM_SMIME_AES256_GCM ? EVP_aes_256_gcm() :
							  EVP_aes_256_cbc(),
			  flags);
	if (cms == NULL) {
		ssl_why(why, whylen, "cannot set up encryption");
		goto done;
	}
	if (!i2d_CMS_bio_stream(bout, cms, bin, flags) ||
	    BIO_flush(bout) != 1) {
		ssl_why(why, whylen, "encryption failed");
		goto done;
	}
	if (ferror(in) || fflush(out) != 0 || ferror(out)) {
		sm_why(why, whylen, "I/O error");
		goto done;
	}
	rc = 0;
	goto done;
oom:
	sm_why(why, whylen, "out of memory");
done:
	CMS_ContentInfo_free(cms);
	BIO_free_all(bout);
	BIO_free(b64);
	BIO_free(bin);
	sk_X509_pop_free(rcpts, X509_free);
	ERR_clear_error();
	return rc;
}

int
sm_smime_enveloped(const uint8_t *der, size_t len, char *why, size_t whylen)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	int nid, ok = 0;

	if (len == 0 || len > LONG_MAX) {
		sm_why(why, whylen, "no CMS data");
		return 0;
	}
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		ssl_why(why, whylen, "not a CMS ContentInfo");
		return 0;
	}
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (p != der + len)
		sm_why(why, whylen, "%zu octets after the CMS ContentInfo",
		       len - (size_t)(p - der));
	else if (nid != NID_pkcs7_enveloped &&
		 nid != NID_id_smime_ct_authEnvelopedData)
		sm_why(why, whylen, "CMS %s, not EnvelopedData",
		       nid == NID_undef ? "content" : OBJ_nid2sn(nid));
	else
		ok = 1;
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

void
sm_smime_signer_clear(struct sm_smime_signer *s)
{
	if (s == NULL)
		return;
	free(s->cert.data);
	sm_blobs_free(s->chain, s->nchain);
	memset(s, 0, sizeof(*s));
}

/* X's DER into B: 0, or -1 out of memory. */
static int
der_of(X509 *x, struct sm_blob *b)
{
	unsigned char *p = NULL;
	int len = i2d_X509(x, &p);

	if (len <= 0)
		return -1;
	if ((b->data = malloc((size_t)len)) == NULL) {
		OPENSSL_free(p);
		return -1;
	}
	memcpy(b->data, p, (size_t)len);
	b->len = (size_t)len;
	OPENSSL_free(p);
	return 0;
}

/* Serial and issuer of X, and the other certificates of CERTS. */
static int
describe_signer(X509 *x, STACK_OF(X509) *certs, struct sm_smime_signer *s)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	BIO *mem = BIO_new(BIO_s_mem());
	int i, n = certs != NULL ? sk_X509_num(certs) : 0, rc = -1;
	char *text;
	long tlen;

	if (hex == NULL || mem == NULL || der_of(x, &s->cert) < 0)
		goto done;
	/* No leading zeros, one digit at least. */
	for (text = hex; text[0] == '0' && text[1] != '\0'; text++)
		;
	sm_strlcpy(s->serial, text, sizeof(s->serial));
	if (X509_NAME_print_ex(mem, X509_get_issuer_name(x), 0,
			       XN_FLAG_RFC2253) < 0)
		goto done;
	tlen = BIO_get_mem_data(mem, &text);
	snprintf(s->issuer, sizeof(s->issuer), "%.*s",
		 (int)(tlen < (long)sizeof(s->issuer) ? tlen :
			(long)sizeof(s->issuer) - 1), text);
	if (n > 0 && (s->chain = calloc((size_t)n, sizeof(*s->chain))) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		X509 *c = sk_X509_value(certs, i);

		if (X509_cmp(c, x) == 0)
			continue;
		if (der_of(c, &s->chain[s->nchain]) < 0)
			goto done;
		s->nchain++;
	}
	rc = 0;
done:
	OPENSSL_free(hex);
	BN_free(bn);
	BIO_free(mem);
	return rc;
}

int
sm_smime_verify(const uint8_t *sig, size_t slen, const uint8_t *content,
		size_t clen, struct sm_smime_signer *signer, char *why,
		size_t whylen)
{
	const unsigned char *p = sig;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *certs = NULL;
	BIO *data = NULL, *mem = NULL, *sink = NULL;
	X509 *x = NULL;
	int i, n, rc = -1;
	/* The octets as they are; the chain is the DANE decision's. */
	const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY;

	memset(signer, 0, sizeof(*signer));
	if (slen == 0 || slen > LONG_MAX ||
	    (content != NULL && clen > INT_MAX)) {
		sm_why(why, whylen, "no signature data");
		return -1;
	}
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)slen)) == NULL) {
		ssl_why(why, whylen, "not a CMS ContentInfo");
		goto done;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		sm_why(why, whylen, "CMS %s, not SignedData",
		       OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))));
		goto done;
	}
	if (content == NULL && CMS_is_detached(cms)) {
		sm_why(why, whylen, "a detached signature where the content "
		       "should be inside");
		goto done;
	}
	if (content != NULL && !CMS_is_detached(cms)) {
		sm_why(why, whylen, "a signature part that holds content of "
		       "its own");
		goto done;
	}
	if ((sis = CMS_get0_SignerInfos(cms)) == NULL ||
	    (n = sk_CMS_SignerInfo_num(sis)) == 0) {
		sm_why(why, whylen, "a SignedData without signers");
		goto done;
	}
	/*
	 * The content goes in behind a buffer BIO: given a memory BIO,
	 * OpenSSL 3.0's CMS_verify copies it into one of its own, which it
	 * leaks when the SignedData then cannot be read (fuzz_sig found
	 * it).
	 */
	if ((sink = BIO_new(BIO_s_null())) == NULL ||
	    (content != NULL &&
	     ((mem = BIO_new_mem_buf(content, (int)clen)) == NULL ||
	      (data = BIO_new(BIO_f_buffer())) == NULL))) {
		BIO_free(mem);
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	if (data != NULL)
		data = BIO_push(data, mem);
	/* Every signer must verify for CMS_verify; the first one is ours. */
	if (CMS_verify(cms, NULL, NULL, data, sink, flags) != 1) {
		ssl_why(why, whylen, "the signature does not verify");
		rc = 0;
		goto done;
	}
	certs = CMS_get0_signers(cms);
	for (i = 0; certs != NULL && i < sk_X509_num(certs) && x == NULL; i++)
		x = sk_X509_value(certs, i);
	if (x == NULL) {
		sm_why(why, whylen, "the signer's certificate is not in the message");
		rc = 0;
		goto done;
	}
	{
		STACK_OF(X509) *all = CMS_get1_certs(cms);

		rc = describe_signer(x, all, signer) < 0 ? -1 : 1;
		sk_X509_pop_free(all, X509_free);
	}
	if (rc < 0) {
		sm_smime_signer_clear(signer);
		sm_why(why, whylen, "out of memory");
	}
done:
	sk_X509_free(certs);
	BIO_free_all(data);
	BIO_free(sink);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}
