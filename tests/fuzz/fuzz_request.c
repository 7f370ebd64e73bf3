/*
 * fuzz_request - libFuzzer target for the policy request parser: every
 * request in the input is parsed in turn, as a connection's buffer is.
 * What must hold: an incomplete request leaves the buffer untouched, a
 * complete one consumes a sane amount, every attribute and indexed
 * value lies inside the request, and the first value of a name is the
 * one indexed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pol_request req;
	char *buf = malloc(size + 1), *orig = malloc(size + 1), why[128];
	size_t used = 0, off = 0, i;
	int rc, k;

	if (buf == NULL || orig == NULL)
		abort();
	memcpy(buf, data, size);
	memcpy(orig, data, size);
	while (off < size) {
		rc = pol_request_parse(buf + off, size - off, &req, &used, why,
				       sizeof(why));
		if (rc == 0) {
			if (memcmp(buf + off, orig + off, size - off) != 0)
				abort();	/* touched an incomplete request */
			break;
		}
		if (rc < 0)
			break;
		if (rc != 1 || used == 0 || used > size - off || req.n == 0 ||
		    req.n > POL_ATTR_MAX)
			abort();
		for (i = 0; i < req.n; i++)
			if (req.attr[i].name < buf + off ||
			    req.attr[i].value >= buf + off + used ||
			    req.attr[i].name[0] == '\0' ||
			    strlen(req.attr[i].value) > POL_LINE_MAX)
				abort();
		for (k = 0; k < POL_A_N; k++)
			if (req.known[k] != NULL &&
			    (req.known[k] < buf + off ||
			     req.known[k] >= buf + off + used))
				abort();
		for (i = 0; i < req.n; i++)
			for (k = 0; k < POL_A_N; k++)
				if (req.known[k] == req.attr[i].value &&
				    strcmp(pol_request_get(&req,
							   req.attr[i].name),
					   req.known[k]) != 0)
					abort();	/* not the first one */
		off += used;
	}
	free(buf);
	free(orig);
	return 0;
}
