/*
 * mime.c - header classification and Content-Type parsing.
 *
 *   mil_mime_is_content(name)
 *   mil_mime_ctype(value, ct) / mil_mime_encrypted_type(ct)
 *   mil_pgpscan_init(scan) / mil_pgpscan_feed(scan, data, len)
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

static const char pgp_marker[] = "-----BEGIN PGP MESSAGE-----";

int
mil_mime_is_content(const char *name)
{
	return strncasecmp(name, "Content-", 8) == 0;
}

/* Skip white space and RFC 5322 comments (nested, with quoted pairs). */
static const char *
skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* RFC 2045 token characters. */
static int
is_token(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Copy a token, lowercased, into OUT; returns the end of it. */
static const char *
token(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	for (; is_token((unsigned char)*p); p++)
		if (n + 1 < outlen)
			out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
	return p;
}

/* A parameter value: token or quoted string, lowercased. */
static const char *
param_value(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	if (*p != '"')
		return token(p, out, outlen);
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (n + 1 < outlen)
			out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : p;
}

void
mil_mime_ctype(const char *value, struct mil_ctype *ct)
{
	const char *p;
	char name[64], val[128];

	memset(ct, 0, sizeof(*ct));
	p = token(skip_cfws(value), ct->type, sizeof(ct->type));
	p = skip_cfws(p);
	if (*p != '/' || ct->type[0] == '\0') {
		ct->type[0] = '\0';
		return;
	}
	p = token(skip_cfws(p + 1), ct->subtype, sizeof(ct->subtype));
	if (ct->subtype[0] == '\0') {
		ct->type[0] = '\0';
		return;
	}
	for (;;) {
		p = skip_cfws(p);
		if (*p != ';')
			return;
		p = token(skip_cfws(p + 1), name, sizeof(name));
		p = skip_cfws(p);
		if (*p != '=')
			return;
		p = param_value(skip_cfws(p + 1), val, sizeof(val));
		if (strcmp(name, "smime-type") == 0)
			memcpy(ct->smime_type, val, sizeof(ct->smime_type) - 1);
		else if (strcmp(name, "protocol") == 0)
			memcpy(ct->protocol, val, sizeof(ct->protocol));
	}
}

int
mil_mime_encrypted_type(const struct mil_ctype *ct)
{
	if (strcmp(ct->type, "multipart") == 0)
		return strcmp(ct->subtype, "encrypted") == 0;
	if (strcmp(ct->type, "application") != 0)
		return 0;
	if (strcmp(ct->subtype, "pgp-encrypted") == 0)
		return 1;
	if (strcmp(ct->subtype, "pkcs7-mime") != 0 &&
	    strcmp(ct->subtype, "x-pkcs7-mime") != 0)
		return 0;
	/* No smime-type: old clients; assume the worst, leave it alone. */
	return strcmp(ct->smime_type, "signed-data") != 0 &&
	       strcmp(ct->smime_type, "certs-only") != 0 &&
	       strcmp(ct->smime_type, "compressed-data") != 0;
}

void
mil_pgpscan_init(struct mil_pgpscan *scan)
{
	scan->bol = 1;
	scan->matched = 0;
	scan->found = 0;
}

void
mil_pgpscan_feed(struct mil_pgpscan *scan, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	const size_t mlen = sizeof(pgp_marker) - 1;

	for (; p < end && !scan->found; p++) {
		if (*p == '\n') {
			scan->bol = 1;
			scan->matched = 0;
		} else if (scan->bol) {
			if (*p == (unsigned char)pgp_marker[scan->matched]) {
				if (++scan->matched == mlen)
					scan->found = 1;
			} else {
				scan->bol = 0;
			}
		}
	}
}
