/*
 * request.c - bounded, in-place parser for policy requests; the
 * contract is request.h.
 *
 * The first pass only looks: it finds the empty line that ends the
 * request and enforces the bounds, without touching the buffer, so an
 * incomplete request can be parsed again when more input arrives.  It
 * notes where each line and its '=' are, so the second pass, over a
 * complete request, only terminates the strings in place and indexes
 * the attributes the daemon reads.
 */
#include <stdint.h>
#include <string.h>

#include "request.h"
#include "util.h"

static const char *const known[POL_A_N] = {
	[POL_A_HELO_NAME] = "helo_name",
	[POL_A_CLIENT_NAME] = "client_name",
	[POL_A_CLIENT_ADDRESS] = "client_address",
	[POL_A_INSTANCE] = "instance",
	[POL_A_PROTOCOL_STATE] = "protocol_state",
	[POL_A_CCERT_FINGERPRINT] = "ccert_fingerprint",
	[POL_A_CCERT_PUBKEY_FINGERPRINT] = "ccert_pubkey_fingerprint",
	[POL_A_CCERT_SUBJECT] = "ccert_subject",
	[POL_A_ENCRYPTION_PROTOCOL] = "encryption_protocol",
	[POL_A_ENCRYPTION_CIPHER] = "encryption_cipher",
};

/* Where a line's text ends ('\r' or '\n'), its '=', the next line. */
struct line {
	char *end, *eq, *next;
};

/*
 * Octets up to and including the terminating empty line, with the
 * attribute lines in LINES[0..*N); 0: need more; -1: malformed.
 */
static long
scan(const char *buf, size_t len, struct line *lines, size_t *n, char *why,
     size_t whylen)
{
	const char *p = buf, *end = buf + len, *nl, *eq;
	size_t llen;

	*n = 0;
	for (;;) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (size_t)((nl ? nl : end) - p);
		if (nl != NULL && llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (llen > POL_LINE_MAX) {
			sm_why(why, whylen, "line longer than %d octets",
			       POL_LINE_MAX);
			return -1;
		}
		if (nl == NULL)
			break;
		if (llen == 0) {
			if (*n == 0) {
				sm_why(why, whylen, "empty request");
				return -1;
			}
			break;
		}
		if ((eq = memchr(p, '=', llen)) == NULL || eq == p) {
			sm_why(why, whylen, "line without name=value");
			return -1;
		}
		if (*n == POL_ATTR_MAX) {
			sm_why(why, whylen, "more than %d attributes",
			       POL_ATTR_MAX);
			return -1;
		}
		lines[*n].end = (char *)p + llen;
		lines[*n].eq = (char *)eq;
		lines[(*n)++].next = (char *)nl + 1;
		p = nl + 1;
	}
	/* One look for NUL octets over everything scanned. */
	if (memchr(buf, '\0', nl ? (size_t)(nl - buf) : len) != NULL) {
		sm_why(why, whylen, "NUL byte in request");
		return -1;
	}
	return nl ? (long)(nl + 1 - buf) : 0;
}

#define L(s) (sizeof(s) - 1)

static uint64_t
load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * Are the LEN octets at A and B the same, for 8 <= LEN <= 24 (every
 * known name)?  Three overlapping words cover them, without a call.
 */
static int
same(const char *a, const char *b, size_t len)
{
	return load8(a) == load8(b) &&
	       load8(a + len - 8) == load8(b + len - 8) &&
	       (len <= 16 || load8(a + 8) == load8(b + 8));
}

/*
 * The known attribute NAME (LEN octets) is, or -1.  Selecting by length
 * first leaves at most two names to compare: this runs for every line
 * of every request.  (Two names of one length must share a case, or
 * this does not compile; all are 8 to 24 octets long, as same() needs.)
 */
static int
known_id(const char *name, size_t len)
{
	int a, b = -1;

	switch (len) {
	case L("instance"):
		a = POL_A_INSTANCE;
		break;
	case L("helo_name"):
		a = POL_A_HELO_NAME;
		break;
	case L("client_name"):
		a = POL_A_CLIENT_NAME;
		break;
	case L("ccert_subject"):
		a = POL_A_CCERT_SUBJECT;
		break;
	case L("client_address"): /* and protocol_state */
		a = POL_A_CLIENT_ADDRESS;
		b = POL_A_PROTOCOL_STATE;
		break;
	case L("ccert_fingerprint"): /* and encryption_cipher */
		a = POL_A_CCERT_FINGERPRINT;
		b = POL_A_ENCRYPTION_CIPHER;
		break;
	case L("encryption_protocol"):
		a = POL_A_ENCRYPTION_PROTOCOL;
		break;
	case L("ccert_pubkey_fingerprint"):
		a = POL_A_CCERT_PUBKEY_FINGERPRINT;
		break;
	default:
		return -1;
	}
	if (same(name, known[a], len))
		return a;
	return b >= 0 && same(name, known[b], len) ? b : -1;
}

int
pol_request_parse(char *buf, size_t len, struct pol_request *req,
		  size_t *used, char *why, size_t whylen)
{
	struct line lines[POL_ATTR_MAX];
	size_t i, n;
	char *line = buf;
	long end = scan(buf, len, lines, &n, why, whylen);
	int k;

	req->n = 0;
	memset(req->known, 0, sizeof(req->known));
	if (end <= 0)
		return (int)end;
	for (i = 0; i < n; i++) {
		*lines[i].end = '\0';
		*lines[i].eq = '\0';
		req->attr[i].name = line;
		req->attr[i].value = lines[i].eq + 1;
		k = known_id(line, (size_t)(lines[i].eq - line));
		if (k >= 0 && req->known[k] == NULL)
			req->known[k] = req->attr[i].value;
		line = lines[i].next;
	}
	req->n = n;
	*used = (size_t)end;
	return 1;
}

const char *
pol_request_get(const struct pol_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n; i++)
		if (strcmp(req->attr[i].name, name) == 0)
			return req->attr[i].value;
	return "";
}
