/*
 * fuzz_mime - libFuzzer target for the milter's MIME sniffing: the
 * input is a Content-Type value (up to the first NUL) and a body.
 * What must hold: the parsed type and parameters are terminated,
 * lowercase where promised, and the inline-PGP scan finds the same
 * whether the body comes whole, octet by octet, or in pieces the input
 * chooses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t vlen = nul ? (size_t)(nul - data) : size, i, step;
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t blen = (size_t)(data + size - body);
	struct mil_pgpscan whole, octets, pieces;
	struct mil_ctype ct;
	char *value = malloc(vlen + 1);

	if (value == NULL)
		abort();
	memcpy(value, data, vlen);
	value[vlen] = '\0';
	mil_mime_ctype(value, &ct);
	if (!lower(ct.type, sizeof(ct.type)) ||
	    !lower(ct.subtype, sizeof(ct.subtype)) ||
	    !lower(ct.smime_type, sizeof(ct.smime_type)) ||
	    !lower(ct.protocol, sizeof(ct.protocol)))
		abort();
	(void)mil_mime_encrypted_type(&ct);
	(void)mil_mime_is_content(value);
	free(value);

	mil_pgpscan_init(&whole);
	mil_pgpscan_feed(&whole, body, blen);
	mil_pgpscan_init(&octets);
	for (i = 0; i < blen; i++)
		mil_pgpscan_feed(&octets, body + i, 1);
	mil_pgpscan_init(&pieces);
	for (i = 0; i < blen; i += step) {
		step = 1 + body[i] % 17;
		if (step > blen - i)
			step = blen - i;
		mil_pgpscan_feed(&pieces, body + i, step);
	}
	if (whole.found != octets.found || whole.found != pieces.found)
		abort();
	return 0;
}
