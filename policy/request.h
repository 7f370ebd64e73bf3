/*
 * request.h - the Postfix SMTP access policy delegation protocol, read
 * side: "name=value" lines ended by an empty line.
 *
 * The parser works in place on a connection's input buffer and is
 * bounded: a line longer than POL_LINE_MAX, more than POL_ATTR_MAX
 * attributes, a line without '=', an empty name or a NUL byte make the
 * request malformed, and the caller closes the connection unanswered.
 */
#ifndef POL_REQUEST_H
#define POL_REQUEST_H

#include <stddef.h>

#define POL_LINE_MAX 4096
#define POL_ATTR_MAX 128

struct pol_attr {
	const char *name, *value;
};

struct pol_request {
	struct pol_attr attr[POL_ATTR_MAX];
	size_t n;
};

/*
 * pol_request_parse - look for one complete request at the start of BUF
 * (LEN octets).  Returns 1 and fills REQ (pointing into BUF, which is
 * modified) with *USED set to the octets it took; 0 when more input is
 * needed; -1 when malformed, with the reason in WHY.
 */
int pol_request_parse(char *buf, size_t len, struct pol_request *req,
		      size_t *used, char *why, size_t whylen);

/* pol_request_get - value of attribute NAME, or "" when absent. */
const char *pol_request_get(const struct pol_request *req, const char *name);

#endif
