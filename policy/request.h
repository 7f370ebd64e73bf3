/*
 * request.h - the Postfix SMTP access policy delegation protocol, read
 * side: "name=value" lines ended by an empty line.
 *
 * The parser works in place on a connection's input buffer and is
 * bounded: a line longer than POL_LINE_MAX, more than POL_ATTR_MAX
 * attributes, a line without '=', an empty name or a NUL byte make the
 * request malformed, and the caller closes the connection unanswered.
 *
 * The attributes the daemon reads are indexed while parsing (one pass
 * over the request), so reading them costs no search.
 */
#ifndef POL_REQUEST_H
#define POL_REQUEST_H

#include <stddef.h>

#define POL_LINE_MAX 4096
#define POL_ATTR_MAX 128

/* Attributes the daemon reads, indexed by pol_request_parse. */
enum pol_attr_id {
	POL_A_HELO_NAME, POL_A_CLIENT_NAME, POL_A_CLIENT_ADDRESS,
	POL_A_INSTANCE, POL_A_PROTOCOL_STATE, POL_A_CCERT_FINGERPRINT,
	POL_A_CCERT_PUBKEY_FINGERPRINT, POL_A_CCERT_SUBJECT,
	POL_A_ENCRYPTION_PROTOCOL, POL_A_ENCRYPTION_CIPHER, POL_A_N
};

struct pol_attr {
	const char *name, *value;
};

struct pol_request {
	struct pol_attr attr[POL_ATTR_MAX];
	size_t n;
	const char *known[POL_A_N];	/* first value of each; NULL: absent */
};

/*
 * pol_request_parse - look for one complete request at the start of BUF
 * (LEN octets).  Returns 1 and fills REQ (pointing into BUF, which is
 * modified) with *USED set to the octets it took; 0 when more input is
 * needed (BUF is left as it was); -1 when malformed, with the reason in
 * WHY.
 */
int pol_request_parse(char *buf, size_t len, struct pol_request *req,
		      size_t *used, char *why, size_t whylen);

/* pol_request_get - value of attribute NAME, or "" when absent. */
const char *pol_request_get(const struct pol_request *req, const char *name);

/* pol_request_value - value of a known attribute, or "" when absent. */
static inline const char *
pol_request_value(const struct pol_request *req, enum pol_attr_id id)
{
	return req->known[id] ? req->known[id] : "";
}

#endif
