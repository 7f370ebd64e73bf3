/*
 * cert.c - load certificates and extract TLSA selector data; the
 * contract is cert.h.  Callers see DER blobs, never an OpenSSL type.
 * For smillactl selfcheck also: a certificate's end of validity,
 * whether a key file holds its key, and the key-and-chain pairs of
 * Postfix's smtp_tls_chain_files.  Key material read is wiped.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

int
sm_cert_not_after(const struct sm_blob *der, time_t *when)
{
	const unsigned char *p = der->data;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);
	struct tm tm;
	int ok;

	if (x == NULL) {
		ERR_clear_error();
		return -1;
	}
	ok = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	X509_free(x);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	*when = timegm(&tm);
	return 0;
}

int
sm_cert_key_match(const struct sm_blob *der, const char *key_path, char *why,
		  size_t whylen)
{
	const unsigned char *p = der->data;
	EVP_PKEY *key = NULL;
	uint8_t *buf;
	size_t len;
	BIO *bio;
	X509 *x;
	int rc;

	if ((buf = sm_read_file(key_path, CERT_FILE_MAX, &len, why,
				whylen)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	ERR_clear_error();
	if (key == NULL) {
		sm_why(why, whylen, "%s: no private key found", key_path);
		return -1;
	}
	if ((x = d2i_X509(NULL, &p, (long)der->len)) == NULL) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		sm_why(why, whylen, "not a DER certificate");
		return -1;
	}
	rc = X509_check_private_key(x, key) == 1;
	if (!rc)
		sm_why(why, whylen, "%s: the private key is not the "
		       "certificate's", key_path);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* A new pair at the end of *PAIRS; -1 when out of memory. */
static int
pair_add(struct sm_cert_pair **pairs, size_t *n)
{
	struct sm_cert_pair *p;

	if ((p = realloc(*pairs, (*n + 1) * sizeof(*p))) == NULL)
		return -1;
	*pairs = p;
	memset(&p[*n], 0, sizeof(p[*n]));
	(*n)++;
	return 0;
}

/*
 * One PEM object NAME (DATA, LEN octets) of PATH into the pairs: a key
 * starts a pair (*KEY the last pair's, until its certificate is seen),
 * a certificate joins the last.  0, or -1 with WHY.
 */
static int
pair_object(const char *path, const char *name, const unsigned char *data,
	    long len, struct sm_cert_pair **pairs, size_t *n, EVP_PKEY **key,
	    char *why, size_t whylen)
{
	struct sm_cert_pair *cur;
	X509 *x;
	int rc = 0;

	if (strstr(name, "PRIVATE KEY") != NULL) {
		EVP_PKEY_free(*key);
		if ((*key = d2i_AutoPrivateKey(NULL, &data, len)) == NULL) {
			sm_why(why, whylen, "%s: unreadable %s (encrypted?)",
			       path, name);
			return -1;
		}
		if (pair_add(pairs, n) < 0) {
			sm_why(why, whylen, "out of memory");
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "CERTIFICATE") != 0)
		return 0;
	if (*n == 0) {
		sm_why(why, whylen, "%s: a certificate before any private key",
		       path);
		return -1;
	}
	if ((x = d2i_X509(NULL, &data, len)) == NULL) {
		sm_why(why, whylen, "%s: unreadable certificate", path);
		return -1;
	}
	cur = &(*pairs)[*n - 1];
	if (push(&cur->certs, &cur->n, x) < 0) {
		sm_why(why, whylen, "out of memory");
		rc = -1;
	} else if (cur->n == 1) {
		cur->key_ok = X509_check_private_key(x, *key) == 1;
	}
	X509_free(x);
	return rc;
}

int
sm_cert_load_pairs(const char *const *paths, size_t npaths,
		   struct sm_cert_pair **pairs, size_t *n, char *why,
		   size_t whylen)
{
	EVP_PKEY *key = NULL;
	size_t i, k;
	int rc = 0;

	*pairs = NULL;
	*n = 0;
	for (i = 0; i < npaths && rc == 0; i++) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		uint8_t *buf;
		size_t len;
		BIO *bio;

		if ((buf = sm_read_file(paths[i], CERT_FILE_MAX, &len, why,
					whylen)) == NULL) {
			rc = -1;
			break;
		}
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			sm_why(why, whylen, "out of memory");
			rc = -1;
		}
		while (rc == 0 &&
		       PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
			rc = pair_object(paths[i], name, data, dlen, pairs, n,
					 &key, why, whylen);
			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_clear_free(data, (size_t)dlen);
		}
		ERR_clear_error();
		BIO_free(bio);
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	EVP_PKEY_free(key);
	ERR_clear_error();
	if (rc == 0 && *n == 0) {
		sm_why(why, whylen, "no private key found");
		rc = -1;
	}
	for (k = 0; rc == 0 && k < *n; k++)
		if ((*pairs)[k].n == 0) {
			sm_why(why, whylen, "private key %zu without a "
			       "certificate", k + 1);
			rc = -1;
		}
	if (rc < 0) {
		sm_cert_pairs_free(*pairs, *n);
		*pairs = NULL;
		*n = 0;
	}
	return rc;
}

void
sm_cert_pairs_free(struct sm_cert_pair *pairs, size_t n)
{
	size_t i;

	for (i = 0; pairs != NULL && i < n; i++)
		sm_blobs_free(pairs[i].certs, pairs[i].n);
	free(pairs);
}
