/*
 * fuzz_signed - libFuzzer target for the signed-mail splitter
 * (smilla/signed.c over mime.c's multipart parser).  The input is a
 * Content-Type value (up to the first NUL) and a body.  What must hold:
 * nothing reads outside the input (ASan), and what mil_signed_find
 * reports lies inside the body in order: the signed entity before the
 * signature, a part number only for a nested part, NONE when it says
 * the message is not signed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "signed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t blen = size - clen - (nul != NULL);
	struct mil_label l;
	struct mil_signed s;
	char *ct, why[256];
	int rc;

	if ((ct = malloc(clen + 1)) == NULL)
		return 0;
	memcpy(ct, data, clen);
	ct[clen] = '\0';
	mil_label_init(&l);
	mil_label_header(&l, "Content-Type", ct);
	rc = mil_signed_find(body, blen, &l, &s, why, sizeof(why));
	if (rc == 0 && s.format != MIL_SIG_NONE)
		abort();
	if (rc == 1 &&
	    (s.format == MIL_SIG_NONE || s.content_start > s.content_end ||
	     s.sig_start > s.sig_end || s.sig_end > blen ||
	     (s.format != MIL_SIG_SMIME_OPAQUE &&
	      s.content_end > s.sig_start) ||
	     memchr(s.sig_cte, '\0', sizeof(s.sig_cte)) == NULL))
		abort();
	if (rc < 0 && memchr(why, '\0', sizeof(why)) == NULL)
		abort();
	free(ct);
	return 0;
}
