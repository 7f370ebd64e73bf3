/*
 * test_dane - TLSA matching with a certificate chain and with
 * fingerprints only.
 *
 * The keys and certificates are made here with OpenSSL, fresh on every
 * run, and handed to the library as DER blobs, the only form its API
 * takes.  Records are built from those certificates, so every case
 * says which certificate a record points at and how it is damaged
 * rather than carrying hex that would go stale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dane.h"
#include "tap.h"

#define HOST	"client.example.test"
#define OTHER	"other.example.test"
#define DAY	(24L * 60 * 60)

/*
 * The certificates a case can present or a record can point at.  OLD
 * is LEAF's key in a certificate that expired yesterday; OTHER is a
 * leaf of the same CA with another key; OTHER_CA is an unrelated root.
 * GARBAGE is LEAF's DER cut short, so it does not parse.
 */
enum target { T_LEAF, T_OLD, T_CA, T_OTHER, T_OTHER_CA, T_GARBAGE, T_COUNT };

/* How a record's RDATA is spoiled. */
enum damage {
	D_GOOD,
	D_WRONG,	/* last data octet flipped: well-formed, no match */
	D_SHORT,	/* 4 octets of association data */
	D_TWO		/* 2 octets of RDATA in all */
};

/* Which PKIX trust store a case gets. */
enum store { S_NONE, S_CA, S_OTHER_CA };

struct rec_spec {
	uint8_t usage, selector, mtype;
	enum target tgt;
	enum damage dmg;
	enum sm_dane_verdict verdict;	/* expected */
	const char *why;		/* substring of its reason, or NULL */
};

#define MAXREC 3

struct cert_case {
	const char *name;
	size_t ncerts;
	enum target certs[3];	/* [0] end entity, then the chain */
	const char *host;
	enum store store;
	enum sm_dane_purpose purpose;
	enum sm_dane_result result;
	int matched;
	size_t nrec;
	struct rec_spec rec[MAXREC];
};

#define M	SM_DANE_REC_MATCH
#define NM	SM_DANE_REC_NOMATCH
#define UN	SM_DANE_REC_UNUSABLE
#define IG	SM_DANE_REC_IGNORED
#define TLS	SM_DANE_TLS_CLIENT

static const struct cert_case cert_cases[] = {
	/* DANE-EE: the leaf itself, every selector and matching type. */
	{ "3 1 1 of the leaf", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1,
	  { { 3, 1, 1, T_LEAF, D_GOOD, M, "public key matches" } } },
	{ "3 0 1 of the leaf", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1,
	  { { 3, 0, 1, T_LEAF, D_GOOD, M, "certificate matches" } } },
	{ "3 1 2 of the leaf", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 1, 2, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 0 0 of the leaf", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 0, 0, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 0 of the leaf", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 1, 0, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 1 of another key", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_FAIL, -1, 1,
	  { { 3, 1, 1, T_OTHER, D_GOOD, NM, "does not match" } } },
	{ "3 0 0 one octet off", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_FAIL, -1, 1, { { 3, 0, 0, T_LEAF, D_WRONG, NM, NULL } } },
	/* The EE certificate matches second: matched must say so. */
	{ "second record matches", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_OTHER, D_GOOD, NM, NULL },
	    { 3, 0, 1, T_LEAF, D_GOOD, M, NULL } } },

	/* Digest agility (RFC 7671 section 9). */
	{ "agility: 3 1 1 wrong, 3 1 2 right", 1, { T_LEAF }, HOST, S_NONE,
	  TLS, SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_LEAF, D_WRONG, IG, "agility" },
	    { 3, 1, 2, T_LEAF, D_GOOD, M, NULL } } },
	{ "agility: 3 1 1 right, 3 1 2 wrong", 1, { T_LEAF }, HOST, S_NONE,
	  TLS, SM_DANE_FAIL, -1, 2,
	  { { 3, 1, 1, T_LEAF, D_GOOD, IG, "SHA2-512" },
	    { 3, 1, 2, T_LEAF, D_WRONG, NM, NULL } } },
	/* Agility is per usage and selector: another selector is spared. */
	{ "agility: 3 0 1 right beside 3 1 2 wrong", 1, { T_LEAF }, HOST,
	  S_NONE, TLS, SM_DANE_PASS, 0, 2,
	  { { 3, 0, 1, T_LEAF, D_GOOD, M, NULL },
	    { 3, 1, 2, T_LEAF, D_WRONG, NM, NULL } } },
	/* ... and full records take no part. */
	{ "agility: 3 1 0 right beside 3 1 2 wrong", 1, { T_LEAF }, HOST,
	  S_NONE, TLS, SM_DANE_PASS, 0, 2,
	  { { 3, 1, 0, T_LEAF, D_GOOD, M, NULL },
	    { 3, 1, 2, T_LEAF, D_WRONG, NM, NULL } } },
	/* A malformed SHA2-512 record must not silence a good SHA2-256. */
	{ "agility: malformed 3 1 2 supersedes nothing", 1, { T_LEAF },
	  HOST, S_NONE, TLS, SM_DANE_PASS, 0, 2,
	  { { 3, 1, 1, T_LEAF, D_GOOD, M, NULL },
	    { 3, 1, 2, T_LEAF, D_SHORT, UN, "expected 64" } } },

	/* Malformed and unknown records. */
	{ "4-octet digest beside a good record", 1, { T_LEAF }, HOST, S_NONE,
	  TLS, SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_LEAF, D_SHORT, UN, "expected 32" },
	    { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },
	{ "2-octet RDATA beside a good record", 1, { T_LEAF }, HOST, S_NONE,
	  TLS, SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_LEAF, D_TWO, UN, "shorter than 3" },
	    { 3, 0, 1, T_LEAF, D_GOOD, M, NULL } } },
	{ "only malformed records", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_UNUSABLE, -1, 2,
	  { { 3, 1, 1, T_LEAF, D_SHORT, UN, NULL },
	    { 3, 1, 1, T_LEAF, D_TWO, UN, NULL } } },
	{ "no records", 1, { T_LEAF }, HOST, S_NONE, TLS, SM_DANE_NONE, -1,
	  0, { { 0 } } },
	{ "unknown usage 4", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_UNUSABLE, -1, 1,
	  { { 4, 1, 1, T_LEAF, D_GOOD, UN, "usage 4" } } },

	/* DANE-EE ignores dates (RFC 7671 section 5.1). */
	{ "expired leaf, 3 1 1", 1, { T_OLD }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 1, 1, T_OLD, D_GOOD, M, NULL } } },
	{ "expired leaf, 3 0 1", 1, { T_OLD }, HOST, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 0, 1, T_OLD, D_GOOD, M, NULL } } },
	/* ... and names. */
	{ "3 1 1 with another name", 1, { T_LEAF }, OTHER, S_NONE, TLS,
	  SM_DANE_PASS, 0, 1, { { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },

	/* DANE-TA: anchor from the chain or from a "2 0 0" record. */
	{ "2 0 1 of the CA, chain [leaf, ca]", 2, { T_LEAF, T_CA }, HOST,
	  S_NONE, TLS, SM_DANE_PASS, 0, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, M, "chain verifies" } } },
	{ "2 1 2 of the CA key, chain [leaf, ca]", 2, { T_LEAF, T_CA },
	  HOST, S_NONE, TLS, SM_DANE_PASS, 0, 1,
	  { { 2, 1, 2, T_CA, D_GOOD, M, NULL } } },
	{ "2 0 1 of the CA, no name check", 2, { T_LEAF, T_CA }, NULL,
	  S_NONE, TLS, SM_DANE_PASS, 0, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, M, NULL } } },
	{ "2 0 1 of the CA, chain [leaf]", 1, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_FAIL, -1, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, NM, "no certificate of the chain" } } },
	{ "2 0 0 full CA in the record, chain [leaf]", 1, { T_LEAF }, HOST,
	  S_NONE, TLS, SM_DANE_PASS, 0, 1,
	  { { 2, 0, 0, T_CA, D_GOOD, M, "chain verifies" } } },
	{ "2 0 1 of the CA, wrong name", 2, { T_LEAF, T_CA }, OTHER, S_NONE,
	  TLS, SM_DANE_FAIL, -1, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, NM, "hostname mismatch" } } },
	{ "2 0 1 of the CA, expired leaf", 2, { T_OLD, T_CA }, HOST, S_NONE,
	  TLS, SM_DANE_FAIL, -1, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, NM, "expired" } } },
	/* The anchor is there but did not sign the leaf. */
	{ "2 0 1 of an unrelated CA in the chain", 2, { T_LEAF, T_OTHER_CA },
	  HOST, S_NONE, TLS, SM_DANE_FAIL, -1, 1,
	  { { 2, 0, 1, T_OTHER_CA, D_GOOD, NM, "local issuer" } } },
	/* Unparsable chain certificates are skipped, not fatal. */
	{ "2 0 1, garbage in the chain", 3, { T_LEAF, T_GARBAGE, T_CA },
	  HOST, S_NONE, TLS, SM_DANE_PASS, 0, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, M, NULL } } },
	/* The leaf says clientAuth only: not an S/MIME certificate. */
	{ "2 0 1, S/MIME purpose, TLS client leaf", 2, { T_LEAF, T_CA },
	  NULL, S_NONE, SM_DANE_SMIME, SM_DANE_FAIL, -1, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, NM, "purpose" } } },

	/* PKIX: the trust store is a file of our own, never the system's. */
	{ "1 1 1 of the leaf, store CA", 2, { T_LEAF, T_CA }, HOST, S_CA,
	  TLS, SM_DANE_PASS, 0, 1,
	  { { 1, 1, 1, T_LEAF, D_GOOD, M, "PKIX-valid" } } },
	{ "1 1 1 of the leaf, chain [leaf], store CA", 1, { T_LEAF }, HOST,
	  S_CA, TLS, SM_DANE_PASS, 0, 1,
	  { { 1, 1, 1, T_LEAF, D_GOOD, M, NULL } } },
	{ "0 0 1 of the CA, store CA", 2, { T_LEAF, T_CA }, HOST, S_CA, TLS,
	  SM_DANE_PASS, 0, 1,
	  { { 0, 0, 1, T_CA, D_GOOD, M, "contains this CA" } } },
	{ "1 1 1 of the leaf, unrelated store", 2, { T_LEAF, T_CA }, HOST,
	  S_OTHER_CA, TLS, SM_DANE_FAIL, -1, 1,
	  { { 1, 1, 1, T_LEAF, D_GOOD, NM, "PKIX validation failed" } } },
	{ "0 0 1 of the CA, unrelated store", 2, { T_LEAF, T_CA }, HOST,
	  S_OTHER_CA, TLS, SM_DANE_FAIL, -1, 1,
	  { { 0, 0, 1, T_CA, D_GOOD, NM, "PKIX validation failed" } } },
	{ "1 1 1 of another key, store CA", 2, { T_LEAF, T_CA }, HOST, S_CA,
	  TLS, SM_DANE_FAIL, -1, 1,
	  { { 1, 1, 1, T_OTHER, D_GOOD, NM, "does not match" } } },
	/* PKIX-TA names a CA: the end entity itself does not count. */
	{ "0 0 1 of the leaf, store CA", 2, { T_LEAF, T_CA }, HOST, S_CA,
	  TLS, SM_DANE_FAIL, -1, 1,
	  { { 0, 0, 1, T_LEAF, D_GOOD, NM, "no CA of the chain" } } },
	{ "1 1 1, expired leaf, store CA", 2, { T_OLD, T_CA }, HOST, S_CA,
	  TLS, SM_DANE_FAIL, -1, 1,
	  { { 1, 1, 1, T_OLD, D_GOOD, NM, "expired" } } },
	{ "0 0 1 of the CA, wrong name, store CA", 2, { T_LEAF, T_CA }, OTHER,
	  S_CA, TLS, SM_DANE_FAIL, -1, 1,
	  { { 0, 0, 1, T_CA, D_GOOD, NM, "hostname mismatch" } } },
	/* A failed PKIX validation does not spoil a DANE-EE record. */
	{ "1 1 1 unrelated store, then 3 1 1", 2, { T_LEAF, T_CA }, HOST,
	  S_OTHER_CA, TLS, SM_DANE_PASS, 1, 2,
	  { { 1, 1, 1, T_LEAF, D_GOOD, NM, NULL },
	    { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },

	/* Nothing to match against: never a pass, never a crash. */
	{ "garbage end entity", 2, { T_GARBAGE, T_CA }, HOST, S_CA, TLS,
	  SM_DANE_FAIL, -1, 3,
	  { { 3, 1, 1, T_LEAF, D_GOOD, NM, "no usable certificate" },
	    { 2, 0, 1, T_CA, D_GOOD, NM, NULL },
	    { 1, 1, 1, T_LEAF, D_GOOD, NM, NULL } } },
	{ "no certificate at all", 0, { T_LEAF }, HOST, S_NONE, TLS,
	  SM_DANE_FAIL, -1, 1,
	  { { 3, 1, 1, T_LEAF, D_GOOD, NM, "no usable certificate" } } },
};

/* Fingerprint mode: the fingerprints are always those of LEAF. */
struct fp_case {
	const char *name;
	enum sm_digest alg;
	int cert_fp, spki_fp;	/* pass the fingerprint, or NULL */
	enum sm_dane_result result;
	int matched;
	size_t nrec;
	struct rec_spec rec[MAXREC];
};

#define S256	SM_DIGEST_SHA256
#define S512	SM_DIGEST_SHA512

static const struct fp_case fp_cases[] = {
	{ "3 1 1", S256, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 1, 1, T_LEAF, D_GOOD, M, "key fingerprint matches" } } },
	{ "3 0 1", S256, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 0, 1, T_LEAF, D_GOOD, M, "certificate fingerprint match" } } },
	/* Full records: the module hashes the data itself. */
	{ "3 0 0", S256, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 0, 0, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 0", S256, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 1, 0, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 0 with SHA-512 fingerprints", S512, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 1, 0, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 1 of another key", S256, 1, 1, SM_DANE_FAIL, -1, 1,
	  { { 3, 1, 1, T_OTHER, D_GOOD, NM, "does not match" } } },
	{ "3 0 0 one octet off", S256, 1, 1, SM_DANE_FAIL, -1, 1,
	  { { 3, 0, 0, T_LEAF, D_WRONG, NM, NULL } } },
	/* A digest other than the fingerprints' cannot be decided. */
	{ "3 1 2 with SHA-256 fingerprints", S256, 1, 1, SM_DANE_UNUSABLE, -1,
	  1, { { 3, 1, 2, T_LEAF, D_GOOD, UN, "cannot be checked" } } },
	{ "3 1 2 with SHA-512 fingerprints", S512, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 1, 2, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 0 2 with SHA-512 fingerprints", S512, 1, 1, SM_DANE_PASS, 0, 1,
	  { { 3, 0, 2, T_LEAF, D_GOOD, M, NULL } } },
	{ "3 1 1 with SHA-512 fingerprints", S512, 1, 1, SM_DANE_UNUSABLE, -1,
	  1, { { 3, 1, 1, T_LEAF, D_GOOD, UN, "sha512" } } },
	/* Usages 0-2 need the chain. */
	{ "2 0 1", S256, 1, 1, SM_DANE_UNUSABLE, -1, 1,
	  { { 2, 0, 1, T_CA, D_GOOD, UN, "chain" } } },
	{ "1 1 1", S256, 1, 1, SM_DANE_UNUSABLE, -1, 1,
	  { { 1, 1, 1, T_LEAF, D_GOOD, UN, "chain" } } },
	{ "0 0 1", S256, 1, 1, SM_DANE_UNUSABLE, -1, 1,
	  { { 0, 0, 1, T_CA, D_GOOD, UN, "chain" } } },
	{ "2 0 1 and 3 1 1 wrong", S256, 1, 1, SM_DANE_FAIL, -1, 2,
	  { { 2, 0, 1, T_CA, D_GOOD, UN, "chain" },
	    { 3, 1, 1, T_LEAF, D_WRONG, NM, NULL } } },
	{ "2 0 1 and 3 1 1 right", S256, 1, 1, SM_DANE_PASS, 1, 2,
	  { { 2, 0, 1, T_CA, D_GOOD, UN, NULL },
	    { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },
	/* Each selector needs its own fingerprint. */
	{ "3 1 1 without a SPKI fingerprint", S256, 1, 0, SM_DANE_UNUSABLE,
	  -1, 1,
	  { { 3, 1, 1, T_LEAF, D_GOOD, UN, "no public key fingerprint" } } },
	{ "3 0 1 without a certificate fingerprint", S256, 0, 1,
	  SM_DANE_UNUSABLE, -1, 1,
	  { { 3, 0, 1, T_LEAF, D_GOOD, UN, "no certificate fingerprint" } } },
	{ "3 1 1 without a certificate fingerprint", S256, 0, 1,
	  SM_DANE_PASS, 0, 1, { { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },
	/* Agility among the digests the fingerprints can check. */
	{ "SHA-512: 3 1 1 right, 3 1 2 wrong", S512, 1, 1, SM_DANE_FAIL, -1, 2,
	  { { 3, 1, 1, T_LEAF, D_GOOD, IG, "agility" },
	    { 3, 1, 2, T_LEAF, D_WRONG, NM, NULL } } },
	{ "SHA-512: 3 1 1 wrong, 3 1 2 right", S512, 1, 1, SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_LEAF, D_WRONG, IG, NULL },
	    { 3, 1, 2, T_LEAF, D_GOOD, M, NULL } } },
	/* SHA-256 fingerprints cannot check SHA2-512, so it cannot win. */
	{ "SHA-256: 3 1 1 right, 3 1 2 other", S256, 1, 1, SM_DANE_PASS, 0,
	  2, { { 3, 1, 1, T_LEAF, D_GOOD, M, NULL },
	       { 3, 1, 2, T_OTHER, D_GOOD, UN, NULL } } },
	{ "malformed beside a good record", S256, 1, 1, SM_DANE_PASS, 1, 2,
	  { { 3, 1, 1, T_LEAF, D_SHORT, UN, "expected 32" },
	    { 3, 1, 1, T_LEAF, D_GOOD, M, NULL } } },
	{ "no records", S256, 1, 1, SM_DANE_NONE, -1, 0, { { 0 } } },
};

/* Fixtures, made once in main(). */
static X509 *x509[T_COUNT];
static struct sm_blob der[T_COUNT], spki[T_COUNT];
static char tmpdir[] = "/tmp/smilla-test-dane.XXXXXX";
static char ca_pem[sizeof(tmpdir) + 16], other_pem[sizeof(tmpdir) + 16];

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(255);
}

/* Copy OpenSSL-allocated DER into a blob the library can free(). */
static struct sm_blob
blob_of(unsigned char *der_, int len)
{
	struct sm_blob b;

	if (len <= 0 || (b.data = malloc((size_t)len)) == NULL)
		die("DER encoding");
	memcpy(b.data, der_, (size_t)len);
	b.len = (size_t)len;
	OPENSSL_free(der_);
	return b;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    !X509_add_ext(x, ext, -1))
		die("certificate extension");
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for KEY named CN, valid from FROM to UNTIL days from
 * now, signed by ISSUER/IKEY, or self-signed when ISSUER is NULL.  A
 * CA gets CA:TRUE; a leaf gets the name and clientAuth usage a TLS
 * client certificate carries.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial, long from, long until,
	  int ca, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	if (x == NULL || name == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), from * DAY) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), until * DAY) == NULL ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) :
					      name))
		die("certificate fields");
	X509_NAME_free(name);
	if (issuer == NULL) {
		issuer = x;
		ikey = key;
	}
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage,
			"critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer, NID_ext_key_usage, "clientAuth");
		add_ext(x, issuer, NID_subject_alt_name, "DNS:" HOST);
		add_ext(x, issuer, NID_authority_key_identifier,
			"keyid:always");
	}
	if (X509_sign(x, ikey, EVP_sha256()) <= 0)
		die("signing");
	return x;
}

static void
write_pem(const char *path, X509 *x)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || !PEM_write_X509(fp, x) || fclose(fp) != 0)
		die("writing a PEM file");
}

static void
setup(void)
{
	EVP_PKEY *ca_key, *leaf_key, *other_key, *oca_key;
	unsigned char *p;
	int i;

	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	oca_key = EVP_EC_gen("P-256");
	if (!ca_key || !leaf_key || !other_key || !oca_key)
		die("key generation");
	x509[T_CA] = make_cert(ca_key, "smilla test CA", 1, -1, 30, 1, NULL,
			       NULL);
	x509[T_LEAF] = make_cert(leaf_key, HOST, 2, -1, 30, 0, x509[T_CA],
				 ca_key);
	x509[T_OLD] = make_cert(leaf_key, HOST, 3, -30, -1, 0, x509[T_CA],
				ca_key);
	x509[T_OTHER] = make_cert(other_key, HOST, 4, -1, 30, 0, x509[T_CA],
				  ca_key);
	x509[T_OTHER_CA] = make_cert(oca_key, "unrelated CA", 5, -1, 30, 1,
				     NULL, NULL);
	for (i = 0; i < T_COUNT; i++) {
		if (x509[i] == NULL)
			continue;
		p = NULL;
		der[i] = blob_of(p, i2d_X509(x509[i], &p));
		p = NULL;
		spki[i] = blob_of(p, i2d_X509_PUBKEY(
					X509_get_X509_PUBKEY(x509[i]), &p));
	}
	/* Cut inside the TBSCertificate: the outer length lies. */
	if ((der[T_GARBAGE].data = malloc(60)) == NULL)
		die("malloc");
	memcpy(der[T_GARBAGE].data, der[T_LEAF].data, 60);
	der[T_GARBAGE].len = 60;

	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp");
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmpdir);
	snprintf(other_pem, sizeof(other_pem), "%s/other.pem", tmpdir);
	write_pem(ca_pem, x509[T_CA]);
	write_pem(other_pem, x509[T_OTHER_CA]);

	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(oca_key);
}

static void
teardown(void)
{
	int i;

	for (i = 0; i < T_COUNT; i++) {
		X509_free(x509[i]);
		free(der[i].data);
		free(spki[i].data);
	}
	unlink(ca_pem);
	unlink(other_pem);
	rmdir(tmpdir);
}

/* The RDATA S describes, in malloc'd memory as if off the wire. */
static struct sm_rdata
make_rdata(const struct rec_spec *s)
{
	const struct sm_blob *sel = s->selector == SM_TLSA_SELECTOR_SPKI ?
				    &spki[s->tgt] : &der[s->tgt];
	struct sm_rdata rd;
	uint8_t md[SM_DIGEST_MAX];
	const uint8_t *data = md;
	size_t len;

	if (s->mtype == SM_TLSA_MTYPE_FULL) {
		data = sel->data;
		len = sel->len;
	} else if ((len = sm_digest(s->mtype, sel->data, sel->len, md)) == 0) {
		die("digest");
	}
	if (s->dmg == D_SHORT)
		len = 4;
	if ((rd.data = malloc(3 + len)) == NULL)
		die("malloc");
	rd.data[0] = s->usage;
	rd.data[1] = s->selector;
	rd.data[2] = s->mtype;
	memcpy(rd.data + 3, data, len);
	rd.len = 3 + len;
	if (s->dmg == D_WRONG)
		rd.data[rd.len - 1] ^= 1;
	if (s->dmg == D_TWO)
		rd.len = 2;
	return rd;
}

static void
free_rdata(struct sm_rdata *rrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(rrs[i].data);
}

/* Compare REP with what the case expects; on failure show every record. */
static void
check(const char *name, const struct sm_dane_report *rep,
      enum sm_dane_result result, int matched, const struct rec_spec *rec,
      size_t nrec)
{
	size_t i;
	int good;

	if (!ok(rep != NULL && rep->count == nrec, "%s: report of %zu",
		name, nrec))
		return;
	good = ok(rep->result == result, "%s: %s", name,
		  sm_dane_result_word(result));
	if (!good)
		printf("#   got %s\n", sm_dane_result_word(rep->result));
	good &= ok(rep->matched == matched, "  matched record %d", matched);
	if (rep->matched != matched)
		printf("#   got %d\n", rep->matched);
	for (i = 0; i < nrec; i++) {
		const struct sm_dane_rec *r = &rep->recs[i];

		good &= ok(r->verdict == rec[i].verdict, "  record %zu %s", i,
			   sm_dane_verdict_word(rec[i].verdict));
		if (rec[i].why != NULL)
			good &= ok(strstr(r->why, rec[i].why) != NULL,
				   "  record %zu says \"%s\"", i, rec[i].why);
	}
	if (!good)
		for (i = 0; i < nrec; i++)
			printf("#   record %zu: %s: %s\n", i,
			       sm_dane_verdict_word(rep->recs[i].verdict),
			       rep->recs[i].why);
}

static void
run_cert_case(const struct cert_case *c)
{
	struct sm_rdata rrs[MAXREC];
	struct sm_blob certs[3];
	struct sm_dane_cert_input in;
	struct sm_dane_report *rep;
	size_t i;

	for (i = 0; i < c->nrec; i++)
		rrs[i] = make_rdata(&c->rec[i]);
	for (i = 0; i < c->ncerts; i++)
		certs[i] = der[c->certs[i]];
	in.certs = certs;
	in.ncerts = c->ncerts;
	in.purpose = c->purpose;
	in.name = c->host;
	/*
	 * Without PKIX records the store is never read; NULL would mean
	 * the system store, which a test must not depend on.
	 */
	in.ca_file = c->store == S_OTHER_CA ? other_pem : ca_pem;
	rep = sm_dane_match_cert(rrs, c->nrec, &in);
	check(c->name, rep, c->result, c->matched, c->rec, c->nrec);
	sm_dane_report_free(rep);
	free_rdata(rrs, c->nrec);
}

static void
run_fp_case(const struct fp_case *c)
{
	struct sm_rdata rrs[MAXREC];
	struct sm_dane_report *rep;
	uint8_t cert_fp[SM_DIGEST_MAX], spki_fp[SM_DIGEST_MAX];
	size_t i;

	if (sm_digest(c->alg, der[T_LEAF].data, der[T_LEAF].len,
		      cert_fp) == 0 ||
	    sm_digest(c->alg, spki[T_LEAF].data, spki[T_LEAF].len,
		      spki_fp) == 0)
		die("digest");
	for (i = 0; i < c->nrec; i++)
		rrs[i] = make_rdata(&c->rec[i]);
	rep = sm_dane_match_fp(rrs, c->nrec, c->cert_fp ? cert_fp : NULL,
			       c->spki_fp ? spki_fp : NULL, c->alg);
	check(c->name, rep, c->result, c->matched, c->rec, c->nrec);
	sm_dane_report_free(rep);
	free_rdata(rrs, c->nrec);
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_dane_report_free(NULL);
	ok(1, "sm_dane_report_free(NULL) is a no-op");
}

int
main(void)
{
	static const struct {
		enum sm_dane_result r;
		const char *word;
	} results[] = {
		{ SM_DANE_PASS, "pass" },
		{ SM_DANE_FAIL, "fail" },
		{ SM_DANE_UNUSABLE, "unusable" },
		{ SM_DANE_NONE, "none" },
	};
	static const struct {
		enum sm_dane_verdict v;
		const char *word;
	} verdicts[] = {
		{ SM_DANE_REC_MATCH, "match" },
		{ SM_DANE_REC_NOMATCH, "nomatch" },
		{ SM_DANE_REC_UNUSABLE, "unusable" },
		{ SM_DANE_REC_IGNORED, "ignored" },
	};
	size_t i;

	free_null();
	setup();
	printf("# certificate mode\n");
	for (i = 0; i < sizeof(cert_cases) / sizeof(cert_cases[0]); i++)
		run_cert_case(&cert_cases[i]);
	printf("# fingerprint mode\n");
	for (i = 0; i < sizeof(fp_cases) / sizeof(fp_cases[0]); i++)
		run_fp_case(&fp_cases[i]);

	for (i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		is_str(sm_dane_result_word(results[i].r), results[i].word,
		       "result word");
	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		is_str(sm_dane_verdict_word(verdicts[i].v), verdicts[i].word,
		       "verdict word");
	sm_dane_report_free(NULL);
	teardown();
	return done_testing();
}
