/*
 * fuzz_trace - libFuzzer target for the split copies' trace header
 * (smilla/trace.c): the input is a header value (up to the first NUL),
 * then recipients and a body.  What must hold: no value made without
 * the key holds, except by a 2^-256 chance (the key here is fixed and
 * the fuzzer does not know it: a hold is a bug); the value made for the
 * input's own recipients and body holds for them, and for no body
 * that differs; and the body digest never depends on how the body is
 * cut into chunks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[MIL_TRACE_KEY] = "smilla fuzz key, not a secret!!";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size, rest, cut;
	const uint8_t *body = nul ? nul + 1 : data + size;
	char *value = malloc(len + 1), made[MIL_TRACE_SIZE];
	const char *rcpts[2] = { "a@example.org", value };
	struct mil_body_hash *h;
	uint8_t d[32], d2[32];
	time_t now = 1700000000;

	if (value == NULL)
		abort();
	memcpy(value, data, len);
	value[len] = '\0';
	rest = (size_t)(data + size - body);
	if ((h = mil_body_hash_new()) == NULL)
		abort();
	mil_body_hash_add(h, body, rest);
	mil_body_hash_end(h, d);
	cut = rest ? body[0] % (rest + 1) : 0;
	if ((h = mil_body_hash_new()) == NULL)
		abort();
	mil_body_hash_add(h, body, cut);
	mil_body_hash_add(h, body + cut, rest - cut);
	mil_body_hash_end(h, d2);
	if (memcmp(d, d2, 32) != 0)
		abort();
	if (mil_trace_holds(key, now, value, rcpts, 2, d))
		abort();
	mil_trace_make(key, now, rcpts, 2, d, made);
	if (!mil_trace_holds(key, now, made, rcpts, 2, d))
		abort();
	d2[0] ^= 1;
	if (mil_trace_holds(key, now, made, rcpts, 2, d2))
		abort();
	free(value);
	return 0;
}
