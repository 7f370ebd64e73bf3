/*
 * fuzz_protect - libFuzzer target for header protection (protect.c):
 * arbitrary header fields and a body made into a Cryptographic
 * Payload.  The input is a piece-size octet, header fields up to the
 * first NUL ("name:value", separated by \001; values may hold CR and
 * LF), and the body.  What must hold:
 *   - the payload's header section is header fields and continuation
 *     lines only, every line ended CRLF: no value ends it early or
 *     starts a field of its own;
 *   - its body has the lines that start with "--" the entity's body
 *     has, as many and in order (each the same, or cut where an
 *     element was put in after a tag): nothing put in makes or hides a
 *     delimiter;
 *   - the payload is the same whether the body comes whole or in
 *     pieces;
 *   - nothing reads outside its buffers, nothing leaks (ASan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "protect.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names libmilter hands over: printable, no colon. */
static int
milter_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 ||
		    *s == ':')
			return 0;
	return 1;
}

/* The payload of HDR (NUL-separated pairs, N of them) and BODY. */
static char *
payload(char **hdr, size_t n, const uint8_t *body, size_t blen, size_t piece,
	size_t *len, struct mil_spool **entity)
{
	struct mil_protect *p = mil_protect_new("X-Smilla", 256);
	struct mil_spool *e = mil_spool_new(256);
	char why[256], *out = NULL, buf[512];
	size_t i, at, k, got;
	FILE *f, *m;

	if (p == NULL || e == NULL)
		abort();
	for (i = 0; i < n; i++) {
		const char *name = hdr[2 * i], *value = hdr[2 * i + 1];

		at = mil_spool_size(e);
		if (mil_mime_is_content(name)) {
			if (!milter_name(name))
				continue;
			mil_spool_write(e, name, strlen(name), NULL, 0);
			mil_spool_write(e, ": ", 2, NULL, 0);
			mil_spool_write(e, value, strlen(value), NULL, 0);
			mil_spool_write(e, "\r\n", 2, NULL, 0);
		}
		if (mil_protect_header(p, name, value, 0, at, mil_spool_size(e),
				       why, sizeof(why)) < 0)
			abort();
	}
	at = mil_spool_size(e);
	mil_spool_write(e, "\r\n", 2, NULL, 0);
	if (mil_protect_eoh(p, at, why, sizeof(why)) < 0)
		abort();
	for (i = 0; i < blen; i += k) {
		k = blen - i < piece ? blen - i : piece;
		mil_spool_write(e, body + i, k, NULL, 0);
		if (mil_protect_body(p, body + i, k, why, sizeof(why)) < 0)
			abort();
	}
	if ((f = mil_protect_reader(p, e, why, sizeof(why))) == NULL ||
	    (m = open_memstream(&out, len)) == NULL)
		abort();
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, got, m);
	if (ferror(f))
		abort();
	fclose(f);
	fclose(m);
	mil_protect_free(p);
	if (entity != NULL)
		*entity = e;
	else
		mil_spool_free(e);
	return out;
}

/* The header section (up to its empty line) is fields and folding. */
static size_t
check_header(const char *s, size_t len)
{
	size_t pos = 0, e, i;
	int first = 1;

	for (;;) {
		const char *lf = memchr(s + pos, '\n', len - pos);

		if (lf == NULL)
			abort();	/* the section must end */
		e = (size_t)(lf - s);
		if (e == pos || s[e - 1] != '\r')
			abort();	/* a bare LF */
		if (e - 1 == pos)
			return e + 1;	/* the empty line */
		for (i = pos; i < e - 1; i++)
			if (s[i] == '\r')
				abort();	/* a bare CR */
		if (s[pos] == ' ' || s[pos] == '\t') {
			if (first)
				abort();
		} else {
			for (i = pos; i < e - 1 && s[i] != ':'; i++)
				if ((unsigned char)s[i] <= ' ' ||
				    (unsigned char)s[i] >= 127)
					abort();
			if (i == pos || i == e - 1)
				abort();	/* no name, or no colon */
		}
		for (i = pos; i < e - 1; i++)	/* not a blank line */
			if (s[i] != ' ' && s[i] != '\t')
				break;
		if (i == e - 1)
			abort();
		first = 0;
		pos = e + 1;
	}
}

/* The next line of S from *POS starting "--": its start and length. */
static int
next_dash(const char *s, size_t len, size_t *pos, const char **line,
	  size_t *llen)
{
	while (*pos < len) {
		const char *lf = memchr(s + *pos, '\n', len - *pos);
		size_t e = lf ? (size_t)(lf - s) : len, start = *pos;

		*pos = lf ? e + 1 : len;
		if (e > start && s[e - 1] == '\r')
			e--;
		if (e - start >= 2 && s[start] == '-' && s[start + 1] == '-') {
			*line = s + start;
			*llen = e - start;
			return 1;
		}
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul, *body;
	size_t hlen, blen, n = 0, i, len1, len2, elen, a = 0, b = 0, l1, l2;
	char *h, *s, *field, **hdr = NULL, *p1, *p2, *ent;
	const char *d1, *d2;
	struct mil_spool *e;
	size_t piece;
	FILE *f;

	if (size == 0)
		return 0;
	piece = 1 + data[0] % 64;
	data++;
	size--;
	nul = memchr(data, '\0', size);
	hlen = nul ? (size_t)(nul - data) : size;
	body = nul ? nul + 1 : data + size;
	blen = (size_t)(data + size - body);
	if ((h = malloc(hlen + 1)) == NULL)
		abort();
	memcpy(h, data, hlen);
	h[hlen] = '\0';
	for (s = h; (field = strsep(&s, "\001")) != NULL;) {
		char *colon = strchr(field, ':');

		if ((hdr = realloc(hdr, (n + 1) * 2 * sizeof(*hdr))) == NULL)
			abort();
		if (colon != NULL)
			*colon = '\0';
		hdr[2 * n] = field;
		hdr[2 * n + 1] = colon ? colon + 1 : field + strlen(field);
		/* Postfix hands Content-* values over well formed: the
		   entity's own lines are not what is tested here. */
		if (mil_mime_is_content(field))
			for (i = 0; hdr[2 * n + 1][i] != '\0'; i++)
				if (hdr[2 * n + 1][i] == '\r' ||
				    hdr[2 * n + 1][i] == '\n')
					hdr[2 * n + 1][i] = ' ';
		n++;
	}
	p1 = payload(hdr, n, body, blen, blen ? blen : 1, &len1, &e);
	p2 = payload(hdr, n, body, blen, piece, &len2, NULL);
	if (len1 != len2 || memcmp(p1, p2, len1) != 0)
		abort();
	/* The entity as spooled, to compare the "--" lines with. */
	elen = mil_spool_size(e);
	if ((ent = malloc(elen + 1)) == NULL ||
	    (f = mil_spool_reader(e, NULL, 0)) == NULL ||
	    fread(ent, 1, elen, f) != elen)
		abort();
	fclose(f);
	i = check_header(p1, len1);
	a = i;
	b = elen - blen;
	for (;;) {
		int m1 = next_dash(p1, len1, &a, &d1, &l1);
		int m2 = next_dash(ent, elen, &b, &d2, &l2);

		if (m1 != m2)
			abort();
		if (!m1)
			break;
		if (l1 > l2 || memcmp(d1, d2, l1) != 0)
			abort();
	}
	free(ent);
	mil_spool_free(e);
	free(p1);
	free(p2);
	free(hdr);
	free(h);
	return 0;
}
