/*
 * request.c - bounded, in-place parser for policy requests.
 *
 * The first pass only looks: it finds the empty line that ends the
 * request and enforces the bounds, without touching the buffer, so an
 * incomplete request can be parsed again when more input arrives.  The
 * second pass splits the complete request in place.
 */
#include <string.h>

#include "request.h"
#include "util.h"

/* Bytes up to and including the terminating empty line; 0: need more. */
static long
scan(const char *buf, size_t len, char *why, size_t whylen)
{
	size_t pos = 0, lines = 0;

	for (;;) {
		const char *line = buf + pos, *nl;
		size_t left = len - pos, llen;

		nl = memchr(line, '\n', left);
		llen = nl ? (size_t)(nl - line) : left;
		if (memchr(line, '\0', llen)) {
			sm_why(why, whylen, "NUL byte in request");
			return -1;
		}
		if (llen > 0 && line[llen - 1] == '\r' && nl != NULL)
			llen--;
		if (llen > POL_LINE_MAX) {
			sm_why(why, whylen, "line longer than %d octets",
			       POL_LINE_MAX);
			return -1;
		}
		if (nl == NULL)
			return 0;
		pos += (size_t)(nl - line) + 1;
		if (llen == 0) {
			if (lines == 0) {
				sm_why(why, whylen, "empty request");
				return -1;
			}
			return (long)pos;
		}
		if (memchr(line, '=', llen) == NULL || line[0] == '=') {
			sm_why(why, whylen, "line without name=value");
			return -1;
		}
		if (++lines > POL_ATTR_MAX) {
			sm_why(why, whylen, "more than %d attributes",
			       POL_ATTR_MAX);
			return -1;
		}
	}
}

int
pol_request_parse(char *buf, size_t len, struct pol_request *req,
		  size_t *used, char *why, size_t whylen)
{
	long end = scan(buf, len, why, whylen);
	char *line = buf;

	req->n = 0;
	if (end <= 0)
		return (int)end;
	while (line < buf + end) {
		char *nl = memchr(line, '\n', (size_t)(buf + end - line));
		char *eq;

		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*line == '\0')
			break;
		eq = strchr(line, '=');
		*eq = '\0';
		req->attr[req->n].name = line;
		req->attr[req->n].value = eq + 1;
		req->n++;
		line = nl + 1;
	}
	*used = (size_t)end;
	return 1;
}

const char *
pol_request_get(const struct pol_request *req, const char *name)
{
	size_t i;

	/* The first octet settles most comparisons: this runs per field. */
	for (i = 0; i < req->n; i++)
		if (req->attr[i].name[0] == name[0] &&
		    strcmp(req->attr[i].name, name) == 0)
			return req->attr[i].value;
	return "";
}
