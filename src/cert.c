/*
 * cert.c - load certificates and extract TLSA selector data; the
 * contract is cert.h.  Callers see DER blobs, never an OpenSSL type.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert.h"
#include "rr.h"

#define CERT_FILE_MAX (1024 * 1024)

static int
push(struct sm_blob **certs, size_t *n, X509 *x)
{
	struct sm_blob *grown;
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0)
		return -1;
	if ((grown = realloc(*certs, (*n + 1) * sizeof(**certs))) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	*certs = grown;
	/* Copy so callers free with free(), not OPENSSL_free(). */
	if ((grown[*n].data = malloc((size_t)len)) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(grown[*n].data, der, (size_t)len);
	grown[*n].len = (size_t)len;
	(*n)++;
	OPENSSL_free(der);
	return 0;
}

int
sm_cert_load(const char *path, struct sm_blob **certs, size_t *n, char *why,
	     size_t whylen)
{
	uint8_t *buf;
	size_t len;
	BIO *bio;
	X509 *x;
	int rc = 0;

	*certs = NULL;
	*n = 0;
	if ((buf = sm_read_file(path, CERT_FILE_MAX, &len, why, whylen)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		free(buf);
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		rc = push(certs, n, x);
		X509_free(x);
		if (rc < 0)
			break;
	}
	ERR_clear_error();
	if (rc == 0 && *n == 0) {
		const unsigned char *p = buf;

		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
			rc = push(certs, n, x);
			X509_free(x);
		}
		ERR_clear_error();
	}
	BIO_free(bio);
	free(buf);
	if (rc < 0 || *n == 0) {
		sm_why(why, whylen, "%s: %s", path,
		       rc < 0 ? "out of memory" : "no certificate found");
		sm_blobs_free(*certs, *n);
		*certs = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int
sm_cert_select(const struct sm_blob *der, int selector, struct sm_blob *out,
	       char *why, size_t whylen)
{
	const unsigned char *p = der->data;
	unsigned char *spki = NULL;
	X509 *x;
	int len;

	out->data = NULL;
	out->len = 0;
	if ((x = d2i_X509(NULL, &p, (long)der->len)) == NULL) {
		ERR_clear_error();
		sm_why(why, whylen, "not a DER certificate");
		return -1;
	}
	if (selector == SM_TLSA_SELECTOR_CERT) {
		X509_free(x);
		if ((out->data = malloc(der->len)) == NULL) {
			sm_why(why, whylen, "out of memory");
			return -1;
		}
		memcpy(out->data, der->data, der->len);
		out->len = der->len;
		return 0;
	}
	if (selector != SM_TLSA_SELECTOR_SPKI) {
		X509_free(x);
		sm_why(why, whylen, "unknown selector %d", selector);
		return -1;
	}
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	X509_free(x);
	if (len <= 0 || (out->data = malloc((size_t)len)) == NULL) {
		OPENSSL_free(spki);
		sm_why(why, whylen, "cannot encode the public key");
		return -1;
	}
	memcpy(out->data, spki, (size_t)len);
	out->len = (size_t)len;
	OPENSSL_free(spki);
	return 0;
}

void
sm_cert_subject(const struct sm_blob *der, char *buf, size_t buflen)
{
	const unsigned char *p = der->data;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);

	if (x == NULL || buflen == 0) {
		ERR_clear_error();
		sm_strlcpy(buf, "?", buflen);
		X509_free(x);
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)buflen);
	X509_free(x);
}
