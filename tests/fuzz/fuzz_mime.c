/*
 * fuzz_mime - libFuzzer target for the milter's MIME code and the
 * "already encrypted" verifiers behind it.  The input is a mode octet,
 * a Content-Type value (up to the first NUL) and a body.  What must
 * hold in every mode: the parsed type and parameters are terminated and
 * lowercase where promised, and nothing reads outside the input
 * (ASan).  Per mode (first octet % 4):
 *   0  the whole message check (mil_label_verify) under the value as
 *      its only Content-Type, and the inline-PGP start detector finds
 *      the same whether the body comes whole or in pieces;
 *   1  strict base64: what decodes re-encodes to the input's non-white
 *      octets; the decoded octets (and the raw body) through the CMS
 *      EnvelopedData check;
 *   2  the PGP/MIME structure with the value's boundary (or "b");
 *   3  the armored and the binary OpenPGP packet checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mime.h"
#include "pgp.h"
#include "smime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
lower(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i]; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return 0;
	return i < cap;		/* terminated inside its buffer */
}

static int
inline_verdict(const uint8_t *body, size_t blen, int pieces)
{
	struct mil_inline s;
	size_t i, step;

	mil_inline_init(&s);
	if (!pieces)
		return mil_inline_feed(&s, body, blen);
	for (i = 0; i < blen; i += step) {
		step = 1 + body[i] % 17;
		if (step > blen - i)
			step = blen - i;
		mil_inline_feed(&s, body + i, step);
	}
	return s.verdict;
}

/* Decoded base64 must re-encode to IN without its white space. */
static void
check_base64(const uint8_t *in, size_t len)
{
	uint8_t *out, *enc, *bare;
	size_t n, i, k = 0;
	char why[256];

	if (mil_mime_base64(in, len, &out, &n, why, sizeof(why)) < 0) {
		if (out != NULL || why[0] == '\0')
			abort();
		return;
	}
	if ((enc = malloc(n / 3 * 4 + 8)) == NULL ||
	    (bare = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		if (!strchr(" \t\r\n", in[i]))
			bare[k++] = in[i];
	if ((size_t)EVP_EncodeBlock(enc, out, (int)n) != k ||
	    memcmp(enc, bare, k) != 0)
		abort();
	(void)sm_smime_enveloped(out, n, why, sizeof(why));
	free(enc);
	free(bare);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul, *body;
	size_t vlen, blen;
	struct mil_label label;
	struct mil_ctype ct;
	char *value, why[256];
	int mode;

	if (size == 0)
		return 0;
	mode = data[0] % 4;
	data++;
	size--;
	nul = memchr(data, '\0', size);
	vlen = nul ? (size_t)(nul - data) : size;
	body = nul ? nul + 1 : data + size;
	blen = (size_t)(data + size - body);
	if ((value = malloc(vlen + 1)) == NULL)
		abort();
	memcpy(value, data, vlen);
	value[vlen] = '\0';
	mil_mime_ctype(value, &ct);
	if (!lower(ct.type, sizeof(ct.type)) ||
	    !lower(ct.subtype, sizeof(ct.subtype)) ||
	    !lower(ct.smime_type, sizeof(ct.smime_type)) ||
	    !lower(ct.protocol, sizeof(ct.protocol)) ||
	    memchr(ct.boundary, '\0', sizeof(ct.boundary)) == NULL)
		abort();
	(void)mil_mime_is_content(value);

	switch (mode) {
	case 0:
		mil_label_init(&label);
		mil_label_header(&label, "Content-Type", value);
		mil_label_header(&label, "Content-Transfer-Encoding", "base64");
		(void)mil_label_verify(&label, body, blen, why, sizeof(why));
		if (inline_verdict(body, blen, 0) != inline_verdict(body, blen, 1))
			abort();
		break;
	case 1:
		check_base64(body, blen);
		(void)sm_smime_enveloped(body, blen, why, sizeof(why));
		break;
	case 2:
		(void)mil_mime_pgp_mime(body, blen,
					ct.boundary[0] ? ct.boundary : "b", why,
					sizeof(why));
		break;
	case 3:
		(void)sm_pgp_encrypted(body, blen, why, sizeof(why));
		(void)sm_pgp_encrypted_packets(body, blen, why, sizeof(why));
		break;
	}
	free(value);
	return 0;
}
