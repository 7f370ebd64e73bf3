/*
 * util.c - hex/base64 coding, digests, bounded copies, clocks; the
 * contract is util.h.
 *
 * sm_digest() wraps OpenSSL's EVP one-shot digest so that callers never
 * see an OpenSSL type.  The hex decoder accepts the colon-separated form
 * Postfix uses for ccert_fingerprint (AB:CD:...) when asked to.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include <openssl/evp.h>

#include "util.h"

void
sm_blobs_free(struct sm_blob *blobs, size_t n)
{
	size_t i;

	if (blobs == NULL)
		return;
	for (i = 0; i < n; i++)
		free(blobs[i].data);
	free(blobs);
}

/*
 * OpenSSL 3 looks a digest up in its providers at every EVP_Digest
 * given EVP_sha256(): more work than hashing an address.  Fetched once
 * here, the methods are reused (they are safe to share across threads,
 * and live until exit).
 */
static EVP_MD *fetched[2];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void
fetch(void)
{
	fetched[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
	fetched[1] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

static const EVP_MD *
md_of(enum sm_digest alg)
{
	pthread_once(&fetch_once, fetch);
	switch (alg) {
	case SM_DIGEST_SHA256:
		return fetched[0] ? fetched[0] : EVP_sha256();
	case SM_DIGEST_SHA512:
		return fetched[1] ? fetched[1] : EVP_sha512();
	}
	return NULL;
}

size_t
sm_digest(enum sm_digest alg, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = md_of(alg);
	unsigned int n = 0;

	if (md == NULL || EVP_Digest(data, len, out, &n, md, NULL) != 1)
		return 0;
	return n;
}

size_t
sm_digest_len(enum sm_digest alg)
{
	switch (alg) {
	case SM_DIGEST_SHA256:
		return 32;
	case SM_DIGEST_SHA512:
		return 64;
	}
	return 0;
}

const char *
sm_digest_name(enum sm_digest alg)
{
	switch (alg) {
	case SM_DIGEST_SHA256:
		return "sha256";
	case SM_DIGEST_SHA512:
		return "sha512";
	}
	return "unknown";
}

int
sm_digest_parse(const char *name)
{
	if (strcmp(name, "sha256") == 0)
		return SM_DIGEST_SHA256;
	if (strcmp(name, "sha512") == 0)
		return SM_DIGEST_SHA512;
	return -1;
}

void
sm_random_token(char *out, size_t outlen, const char *prefix)
{
	static unsigned long counter;
	uint8_t r[16];
	char hex[33];
	size_t pl;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		unsigned long c = __atomic_add_fetch(&counter, 1,
						     __ATOMIC_RELAXED);
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)c << 32);

		memset(r, 0, sizeof(r));
		memcpy(r, &t, sizeof(t));
	}
	sm_hex_encode(r, sizeof(r), hex, 0);
	pl = sm_strlcpy(out, prefix, outlen);
	if (pl < outlen)
		sm_strlcpy(out + pl, hex, outlen - pl);
}

void
sm_hex_encode(const uint8_t *data, size_t len, char *out, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Value of each octet as a hex digit, -1 when it is none. */
static const signed char nibble[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Two digits at a time: this decodes every fingerprint Postfix sends. */
long
sm_hex_decode(const char *in, uint8_t *out, size_t max, int colons)
{
	size_t n = 0;
	int hi, lo;

	while (*in) {
		hi = nibble[(unsigned char)in[0]];
		lo = nibble[(unsigned char)in[1]];	/* -1 for the NUL */
		if ((hi | lo) < 0 || n >= max) {
			if (colons && *in == ':') {
				in++;
				continue;
			}
			return -1;
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		in += 2;
		if (colons && *in == ':')
			in++;
	}
	return (long)n;
}

char *
sm_base64_encode(const uint8_t *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *p;
	size_t i;

	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (p = out, i = 0; i + 2 < len; i += 3) {
		*p++ = tab[data[i] >> 2];
		*p++ = tab[(data[i] & 3) << 4 | data[i + 1] >> 4];
		*p++ = tab[(data[i + 1] & 15) << 2 | data[i + 2] >> 6];
		*p++ = tab[data[i + 2] & 63];
	}
	if (i < len) {
		*p++ = tab[data[i] >> 2];
		if (i + 1 < len) {
			*p++ = tab[(data[i] & 3) << 4 | data[i + 1] >> 4];
			*p++ = tab[(data[i + 1] & 15) << 2];
		} else {
			*p++ = tab[(data[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int
needs_escape(unsigned char c, int quoted)
{
	return c < ' ' || c >= 0x7f || c == '"' || c == '\\' ||
	       (!quoted && (c == ' ' || c == ','));
}

/* Escaped S into OUT, whole escapes only; the whole length, as snprintf. */
static size_t
escape_into(const char *s, char *out, size_t outlen, int quoted)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t n = 0, w, room = outlen ? outlen - 1 : 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++, n += w) {
		w = needs_escape(*p, quoted) ? 4 : 1;
		if (n + w > room) {
			room = n < room ? n : room;	/* nothing more fits */
			continue;
		}
		if (w == 1) {
			out[n] = (char)*p;
		} else {
			out[n] = '\\';
			out[n + 1] = 'x';
			out[n + 2] = hex[*p >> 4];
			out[n + 3] = hex[*p & 15];
		}
	}
	if (outlen > 0)
		out[n < room ? n : room] = '\0';
	return n;
}

size_t
sm_escape_into(const char *s, char *out, size_t outlen)
{
	return escape_into(s, out, outlen, 0);
}

static const char *
escape(const char *s, char *buf, size_t buflen, int quoted)
{
	const unsigned char *p;
	size_t n;

	if (s == NULL)
		return "";
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (needs_escape(*p, quoted))
			break;
	if (*p == '\0')
		return s;
	if ((n = escape_into(s, buf, buflen, quoted)) >= buflen) {
		n = strlen(buf);
		memcpy(buf + (n + 4 > buflen ? buflen - 4 : n), "...", 4);
	}
	return buf;
}

const char *
sm_escape(const char *s, char *buf, size_t buflen)
{
	return escape(s, buf, buflen, 0);
}

const char *
sm_escape_quoted(const char *s, char *buf, size_t buflen)
{
	return escape(s, buf, buflen, 1);
}

size_t
sm_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void
sm_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int
sm_split(const char *s, char ***words, size_t *n)
{
	char **v = NULL, **grown;
	size_t len;

	*n = 0;
	for (;;) {
		s += strspn(s, ", \t\r\n");
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t\r\n");
		if ((grown = realloc(v, (*n + 1) * sizeof(*v))) == NULL ||
		    (grown[*n] = strndup(s, len)) == NULL) {
			sm_split_free(grown ? grown : v, *n);
			*words = NULL;
			*n = 0;
			return -1;
		}
		v = grown;
		(*n)++;
		s += len;
	}
	*words = v;
	return 0;
}

void
sm_split_free(char **words, size_t n)
{
	size_t i;

	if (words == NULL)
		return;
	for (i = 0; i < n; i++)
		free(words[i]);
	free(words);
}

int64_t
sm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint8_t *
sm_read_file(const char *path, size_t max, size_t *len, char *why,
	     size_t whylen)
{
	FILE *fp;
	uint8_t *buf;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		sm_why(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(fp);
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		sm_why(why, whylen, "%s: %s", path,
		       n > max ? "file too large" : strerror(errno));
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}
