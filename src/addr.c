/*
 * addr.c - RFC 5321 paths into one canonical address (contract:
 * addr.h).
 *
 *   sm_addr_parse(arg, a, why, whylen)	"<path>" -> a->addr, a->local
 *   sm_addr_clear(a)
 *   sm_addr_fold(s) / sm_addr_has_upper(s) / sm_addr_same(a, b, fold)
 *   sm_addr_from(value, a, why, whylen)	From: mailboxes, the first
 *
 * Grammar (RFC 5321 section 4.1.2, with RFC 6531's UTF-8 in local
 * parts):
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 * Anything else, or a path over SM_ADDR_MAX octets, is refused: an
 * address smilla cannot read is one it cannot judge, and a recipient it
 * cannot judge must not be waved through.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "names.h"
#include "util.h"

/* atext (RFC 5322 section 3.2.3), plus UTF-8 octets (RFC 6531). */
static int
atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* qtextSMTP and the octet of a quoted-pairSMTP (section 4.1.2). */
static int
qtext(unsigned char c)
{
	return (c >= 32 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
}

/* Is S[0..LEN) a Dot-string: atoms joined by single dots? */
static int
dot_string(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Read the local part at *P into OUT (room for strlen(*P) + 1): the
 * Quoted-string's content or the Dot-string.  Moves *P past it; -1 on
 * bad syntax.
 */
static int
local_part(const char **p, char *out, size_t *outlen)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\') {
				s++;
				if ((unsigned char)*s < 32 || *s == 127)
					return -1;	/* also the end */
			} else if (!qtext((unsigned char)*s)) {
				return -1;
			}
			out[n++] = *s;
		}
		s++;
	} else {
		while (*s != '\0' && *s != '@')
			out[n++] = *s++;
		if (!dot_string(out, n))
			return -1;
	}
	out[n] = '\0';
	*outlen = n;
	*p = s;
	return 0;
}

/* "[...]": IPv4, "IPv6:" + IPv6, or a Standardized-tag ":" dcontent. */
static int
literal_ok(const char *s, size_t len)
{
	char buf[SM_NAME_BUF];
	unsigned char a[16];
	const char *colon;
	size_t i;

	/* The whole literal must fit a name buffer: that is what holds it. */
	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len >= sizeof(buf))
		return 0;
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return 1;
	if ((colon = strchr(buf, ':')) == NULL || colon == buf)
		return 0;
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, a) == 1;
	for (i = 0; buf + i < colon; i++)
		if (!isalnum((unsigned char)buf[i]) && buf[i] != '-')
			return 0;
	if (colon[1] == '\0')
		return 0;
	for (colon++; *colon != '\0'; colon++)
		if ((unsigned char)*colon < 33 || (unsigned char)*colon > 126 ||
		    *colon == '[' || *colon == '\\' || *colon == ']')
			return 0;
	return 1;
}

/* Skip an A-d-l ("@one,@two:"), which RFC 5321 says to ignore. */
static int
source_route(const char **p)
{
	const char *s = *p;

	while (*s == '@') {
		s++;
		if (!isalnum((unsigned char)*s))
			return -1;
		while (isalnum((unsigned char)*s) || *s == '-' || *s == '.')
			s++;
		if (*s == ',')
			s++;
		else if (*s == ':')
			break;
		else
			return -1;
	}
	if (*s != ':')
		return -1;
	*p = s + 1;
	return 0;
}

static enum sm_addr_status
bad(struct sm_addr *a, enum sm_addr_status st, char *why, size_t whylen,
    const char *reason)
{
	sm_addr_clear(a);
	sm_why(why, whylen, "%s", reason);
	return st;
}

enum sm_addr_status
sm_addr_parse(const char *arg, struct sm_addr *a, char *why, size_t whylen)
{
	char dom[SM_NAME_BUF], r[256], *path = NULL, *o;
	const char *s, *e;
	size_t len, llen, i;
	int plain;

	memset(a, 0, sizeof(*a));
	while (*arg == ' ' || *arg == '\t')
		arg++;
	e = arg + strlen(arg);
	while (e > arg && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e > arg && *arg == '<') {
		if (e[-1] != '>' || e - arg < 2)
			return bad(a, SM_ADDR_SYNTAX, why, whylen, "no closing '>'");
		arg++;
		e--;
	}
	len = (size_t)(e - arg);
	if (len > SM_ADDR_MAX)
		return bad(a, SM_ADDR_TOO_LONG, why, whylen,
			   "address longer than 1024 octets");
	if (len == 0)
		return bad(a, SM_ADDR_SYNTAX, why, whylen, "empty address");
	if ((path = malloc(len + 1)) == NULL ||
	    (a->local = malloc(len + 1)) == NULL) {
		free(path);
		return bad(a, SM_ADDR_NOMEM, why, whylen, "out of memory");
	}
	memcpy(path, arg, len);
	path[len] = '\0';
	s = path;
	if (*s == '@' && source_route(&s) < 0) {
		free(path);
		return bad(a, SM_ADDR_SYNTAX, why, whylen, "bad source route");
	}
	if (local_part(&s, a->local, &llen) < 0) {
		free(path);
		return bad(a, SM_ADDR_SYNTAX, why, whylen, "bad local part");
	}
	plain = dot_string(a->local, llen);
	if (*s == '\0' && plain && strcasecmp(a->local, "postmaster") == 0) {
		/* The one mailbox without a domain (section 4.1.1.3). */
		free(path);
		free(a->addr);
		if ((a->addr = strdup("postmaster")) == NULL)
			return bad(a, SM_ADDR_NOMEM, why, whylen, "out of memory");
		a->domain_at = strlen(a->addr);
		a->postmaster = 1;
		return SM_ADDR_OK;
	}
	if (*s != '@') {
		plain = *s == '\0';
		free(path);
		return bad(a, SM_ADDR_SYNTAX, why, whylen,
			   plain ? "no domain" : "junk after the local part");
	}
	s++;
	if (*s == '[') {
		if (!literal_ok(s, strlen(s))) {
			free(path);
			return bad(a, SM_ADDR_SYNTAX, why, whylen,
				   "bad address literal");
		}
		sm_strlcpy(dom, s, sizeof(dom));
		sm_addr_fold(dom);
		a->literal = 1;
	} else if (sm_names_host(s, dom, sizeof(dom), r, sizeof(r)) < 0) {
		free(path);
		sm_addr_clear(a);
		sm_why(why, whylen, "bad domain: %s", r);
		return SM_ADDR_SYNTAX;
	}
	free(path);
	/* Quoted: 2 quotes and at most one backslash per octet. */
	if ((a->addr = malloc(2 * llen + 3 + 1 + strlen(dom) + 1)) == NULL)
		return bad(a, SM_ADDR_NOMEM, why, whylen, "out of memory");
	o = a->addr;
	if (plain) {
		memcpy(o, a->local, llen);
		o += llen;
	} else {
		*o++ = '"';
		for (i = 0; i < llen; i++) {
			if (a->local[i] == '"' || a->local[i] == '\\')
				*o++ = '\\';
			*o++ = a->local[i];
		}
		*o++ = '"';
	}
	a->domain_at = (size_t)(o - a->addr) + 1;
	*o++ = '@';
	strcpy(o, dom);
	return SM_ADDR_OK;
}

void
sm_addr_clear(struct sm_addr *a)
{
	if (a == NULL)
		return;
	free(a->addr);
	free(a->local);
	memset(a, 0, sizeof(*a));
}

void
sm_addr_fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
sm_addr_has_upper(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
sm_addr_same(const char *a, const char *b, int fold)
{
	if (!fold)
		return strcmp(a, b) == 0;
	for (; *a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b);
	     a++, b++)
		;
	return *a == '\0' && *b == '\0';
}

/*
 * One mailbox of a From field, [P, END): the addr-spec inside "<>" if
 * there is one, else the whole with comments and blanks left out, into
 * OUT (room for END-P+1).  0, or -1 with WHY.
 */
static int
mailbox_spec(const char *p, const char *end, char *out, char *why,
	     size_t whylen)
{
	const char *lt = NULL, *gt = NULL, *q;
	size_t n = 0;
	int quoted = 0, depth = 0;

	for (q = p; q < end; q++) {
		if (*q == '\\' && q + 1 < end && (quoted || depth)) {
			q++;
		} else if (depth > 0) {
			depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
		} else if (*q == '"') {
			quoted = !quoted;
		} else if (!quoted && *q == '(') {
			depth = 1;
		} else if (!quoted && *q == '<' && lt == NULL) {
			lt = q;
		} else if (!quoted && *q == '>' && lt != NULL && gt == NULL) {
			gt = q;
		}
	}
	if (quoted || depth > 0 || (lt != NULL) != (gt != NULL)) {
		sm_why(why, whylen, "an unclosed %s in the From field",
		       quoted ? "quoted string" : depth ? "comment" :
		       "angle bracket");
		return -1;
	}
	if (lt != NULL) {
		p = lt + 1;
		end = gt;
	}
	/* The addr-spec with comments and folding white space removed. */
	for (q = p, quoted = 0, depth = 0; q < end; q++) {
		if (depth > 0) {
			if (*q == '\\' && q + 1 < end)
				q++;
			else
				depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
			continue;
		}
		if (*q == '"')
			quoted = !quoted;
		if (!quoted && *q == '(') {
			depth = 1;
			continue;
		}
		if (!quoted && (*q == ' ' || *q == '\t' || *q == '\r' ||
				*q == '\n'))
			continue;
		if (*q == '\\' && q + 1 < end && quoted)
			out[n++] = *q++;
		out[n++] = *q;
	}
	out[n] = '\0';
	return 0;
}

int
sm_addr_from(const char *value, struct sm_addr *a, char *why, size_t whylen)
{
	const char *p = value, *start = value;
	size_t vlen = strlen(value);
	char *spec, *arg;
	int quoted = 0, depth = 0, angle = 0, count = 0;
	enum sm_addr_status st;

	memset(a, 0, sizeof(*a));
	if ((spec = malloc(vlen + 1)) == NULL || (arg = malloc(vlen + 3)) ==
						   NULL) {
		free(spec);
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (;; p++) {
		if (*p != '\0' && *p == '\\' && p[1] != '\0' &&
		    (quoted || depth)) {
			p++;
			continue;
		}
		if (*p != '\0' && depth > 0) {
			depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '(')
			depth = 1;
		else if (!quoted && *p == '<')
			angle++;
		else if (!quoted && *p == '>' && angle > 0)
			angle--;
		if (*p != '\0' && (quoted || angle || *p != ','))
			continue;
		/* One mailbox ends here (or at the end of VALUE). */
		if (mailbox_spec(start, p, spec, why, whylen) < 0) {
			count = -1;
			break;
		}
		if (spec[0] != '\0') {
			if (++count == 1) {
				sprintf(arg, "<%s>", spec);
				if ((st = sm_addr_parse(arg, a, why, whylen)) !=
				    SM_ADDR_OK) {
					if (st == SM_ADDR_NOMEM)
						sm_why(why, whylen, "out of memory");
					count = -1;
					break;
				}
			}
		}
		if (*p == '\0')
			break;
		start = p + 1;
	}
	if (count < 0)
		sm_addr_clear(a);
	free(spec);
	free(arg);
	return count;
}
