/*
 * test_cert - what smillactl selfcheck reads of our own identity
 * (cert.h): the key-and-chain pairs of Postfix's smtp_tls_chain_files,
 * whether a key file holds a certificate's key, and a certificate's
 * end.  Uses the bed's certificates (tests/bed/bed.sh, BED_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "tap.h"

static const char *bed;

/* sm_cert_load_pairs over the bed's files NAMES (NULL-ended). */
static int
pairs(const char *const *names, struct sm_cert_pair **p, size_t *n,
      char *why, size_t whylen)
{
	char paths[8][512];
	const char *v[8];
	size_t i;

	for (i = 0; names[i] != NULL && i < 8; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/certs/%s", bed,
			 names[i]);
		v[i] = paths[i];
	}
	return sm_cert_load_pairs(v, i, p, n, why, whylen);
}

static void
test_pairs(void)
{
	static const char *const split[] = { "good.key", "good-fullchain.pem",
					     NULL };
	static const char *const two[] = { "good.key", "good.pem", "other.key",
					   "other.pem", NULL };
	static const char *const wrong[] = { "other.key", "good.pem", NULL };
	static const char *const nokey[] = { "good.pem", NULL };
	static const char *const nocert[] = { "good.key", NULL };
	struct sm_cert_pair *p;
	char why[512], subj[256];
	size_t n;

	ok(pairs(split, &p, &n, why, sizeof(why)) == 0 && n == 1 &&
	   p[0].n == 2 && p[0].key_ok == 1,
	   "key and chain in two files: one pair, its certificate and the CA");
	if (n == 1) {
		sm_cert_subject(&p[0].certs[0], subj, sizeof(subj));
		is_str(subj, "/CN=good.smilla.test", "  the key's certificate first");
	}
	sm_cert_pairs_free(p, n);
	ok(pairs(two, &p, &n, why, sizeof(why)) == 0 && n == 2 &&
	   p[0].key_ok == 1 && p[1].key_ok == 1 && p[1].n == 1,
	   "two keys, each with its certificate: two pairs");
	sm_cert_pairs_free(p, n);
	ok(pairs(wrong, &p, &n, why, sizeof(why)) == 0 && n == 1 &&
	   p[0].key_ok == 0, "another certificate after the key: key_ok 0");
	sm_cert_pairs_free(p, n);
	ok(pairs(nokey, &p, &n, why, sizeof(why)) == -1 && p == NULL &&
	   strstr(why, "a certificate before any private key") != NULL,
	   "a certificate first: %s", why);
	ok(pairs(nocert, &p, &n, why, sizeof(why)) == -1 &&
	   strstr(why, "private key 1 without a certificate") != NULL,
	   "a key alone: %s", why);
}

static void
test_key_and_date(void)
{
	struct sm_blob *certs;
	char path[512], why[512];
	size_t n;
	time_t end = 0, now = time(NULL);

	snprintf(path, sizeof(path), "%s/certs/good.pem", bed);
	if (sm_cert_load(path, &certs, &n, why, sizeof(why)) < 0) {
		ok(0, "load good.pem: %s", why);
		return;
	}
	snprintf(path, sizeof(path), "%s/certs/good.key", bed);
	is_int(sm_cert_key_match(&certs[0], path, why, sizeof(why)), 1,
	       "good.key is good.pem's key");
	snprintf(path, sizeof(path), "%s/certs/other.key", bed);
	is_int(sm_cert_key_match(&certs[0], path, why, sizeof(why)), 0,
	       "other.key is not");
	snprintf(path, sizeof(path), "%s/certs/good.pem", bed);
	ok(sm_cert_key_match(&certs[0], path, why, sizeof(why)) == -1 &&
	   strstr(why, "no private key found") != NULL,
	   "a file without a key: %s", why);
	ok(sm_cert_not_after(&certs[0], &end) == 0 &&
	   end > now + 364 * 86400 && end <= now + 365 * 86400,
	   "good.pem (365 days) ends in a year");
	sm_blobs_free(certs, n);
}

int
main(void)
{
	if ((bed = getenv("BED_DIR")) == NULL) {
		ok(0, "BED_DIR is set (run through tests/check.sh)");
		return done_testing();
	}
	test_pairs();
	test_key_and_date();
	return done_testing();
}
