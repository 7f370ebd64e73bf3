/*
 * fuzz_openpgpkey - libFuzzer target for OPENPGPKEY RDATA as DNS hands
 * it over: librnp's import and our key checks (sm_pgp_usable), and for
 * a usable key the encryption the milter would do.  The input is an
 * address length octet L, L octets of recipient address, then the
 * RDATA.  What must hold: no crash, no leak; the answer is usable or
 * unusable with one of the five reasons (never "out of memory" here);
 * a fingerprint, when given, is 40 or 64 uppercase hex digits; and a
 * key found usable is one mail can be encrypted to: sm_pgp_encrypt
 * succeeds and sm_pgp_encrypted takes its output for an encrypted
 * message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fingerprint_ok(const char *fpr)
{
	size_t n = strlen(fpr), i;

	if (n == 0)
		return 1;
	if (n != 40 && n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((fpr[i] >= '0' && fpr[i] <= '9') ||
		      (fpr[i] >= 'A' && fpr[i] <= 'F')))
			return 0;
	return 1;
}

/* Encrypt a few octets to KEY: 0 when all went as promised. */
static int
encrypts(const struct sm_blob *key)
{
	static const char entity[] = "Content-Type: text/plain\r\n\r\nhi\r\n";
	char why[256], *out = NULL;
	size_t len = 0;
	FILE *in = fmemopen((void *)entity, sizeof(entity) - 1, "r");
	FILE *w = open_memstream(&out, &len);
	int rc;

	if (in == NULL || w == NULL)
		abort();
	rc = sm_pgp_encrypt(in, key, 1, w, why, sizeof(why));
	fclose(in);
	fclose(w);
	if (rc == 0 && !sm_pgp_encrypted((const uint8_t *)out, len, why,
					 sizeof(why)))
		rc = -1;
	free(out);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sm_pgp_check c;
	struct sm_blob key;
	char addr[256], why[256];
	size_t alen;
	int rc;

	if (size < 1)
		return 0;
	alen = data[0];
	if (alen > size - 1)
		alen = size - 1;
	memcpy(addr, data + 1, alen);
	addr[alen] = '\0';
	key.data = (uint8_t *)data + 1 + alen;
	key.len = size - 1 - alen;

	rc = sm_pgp_usable(&key, addr, &c, why, sizeof(why));
	if (rc < 0 || rc > 1 || !fingerprint_ok(c.fpr))
		abort();
	if (rc == 0 && (c.reason >= SM_PGP_NUNUSABLE ||
			strcmp(sm_pgp_unusable_word(c.reason), "?") == 0))
		abort();
	if (rc == 1 && (c.fpr[0] == '\0' || encrypts(&key) != 0))
		abort();
	return 0;
}
