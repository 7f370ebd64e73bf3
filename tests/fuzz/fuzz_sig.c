/*
 * fuzz_sig - libFuzzer target for signature parsing: CMS SignedData
 * (sm_smime_verify, src/smime.c) and OpenPGP signatures (sm_pgp_verify,
 * src/pgp.c, with no key and with a key made of the input's tail).  The
 * first octet picks: even, the rest is a SignedData, detached over a
 * fixed text or opaque; odd, the rest up to a NUL is a detached OpenPGP
 * signature (armored or binary) over the fixed text, and what follows
 * the NUL an OPENPGPKEY record.  What must hold: no crash or leak; every
 * failure says why; a signature that verifies names its signer (the
 * certificate for CMS, a fingerprint for OpenPGP) and an OpenPGP one
 * does so only by a key it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgp.h"
#include "smime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t text[] = "Content-Type: text/plain\r\n\r\nsigned\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sm_smime_signer who;
	struct sm_pgp_signer signer;
	struct sm_blob key;
	const uint8_t *nul;
	char why[512];
	size_t len;
	int rc;

	if (size < 1)
		return 0;
	why[0] = '\0';
	if ((data[0] & 1) == 0) {
		memset(&who, 0, sizeof(who));
		rc = sm_smime_verify(data + 1, size - 1,
				     (data[0] & 2) ? NULL : text,
				     (data[0] & 2) ? 0 : sizeof(text) - 1, &who,
				     why, sizeof(why));
		if (rc < -1 || rc > 1 || (rc <= 0 && why[0] == '\0') ||
		    (rc == 1 && who.cert.len == 0))
			abort();
		sm_smime_signer_clear(&who);
		return 0;
	}
	nul = memchr(data + 1, '\0', size - 1);
	len = nul ? (size_t)(nul - data - 1) : size - 1;
	key.data = (uint8_t *)(nul ? nul + 1 : data + size);
	key.len = nul ? size - len - 2 : 0;
	rc = sm_pgp_verify(text, sizeof(text) - 1, data + 1, len, &key,
			   key.len > 0, "a@example.org", &signer, why,
			   sizeof(why));
	if (rc < -1 || rc > 1 || (rc <= 0 && why[0] == '\0') ||
	    (rc == 1 && (key.len == 0 || signer.fpr[0] == '\0')))
		abort();
	return 0;
}
