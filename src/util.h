/*
 * util.h - small helpers shared by every smilla module: hex and base64
 * coding, message digests, bounded string copies, monotonic time.
 * Nothing here knows about DNS or mail.
 */
#ifndef SM_UTIL_H
#define SM_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* An owned run of octets (a DER certificate, a key, ...). */
struct sm_blob {
	uint8_t *data;
	size_t len;
};

/* sm_blobs_free - free N blobs and the array (NULL allowed). */
void sm_blobs_free(struct sm_blob *blobs, size_t n);

/* Digest algorithms, numbered as TLSA matching types (RFC 6698 7.4). */
enum sm_digest {
	SM_DIGEST_SHA256 = 1,
	SM_DIGEST_SHA512 = 2
};

#define SM_DIGEST_MAX 64

/*
 * sm_digest - hash LEN octets at DATA with ALG into OUT (at least
 * SM_DIGEST_MAX octets).  Returns the digest length, or 0 for an
 * unknown algorithm or a crypto library failure.
 */
size_t sm_digest(enum sm_digest alg, const void *data, size_t len,
		 uint8_t *out);

/* sm_digest_len - output length of ALG, 0 when unknown. */
size_t sm_digest_len(enum sm_digest alg);

/* sm_digest_name - "sha256"/"sha512"; sm_digest_parse the reverse (-1). */
const char *sm_digest_name(enum sm_digest alg);
int sm_digest_parse(const char *name);

/*
 * sm_hex_encode - write 2*LEN hex digits and a NUL to OUT (size
 * 2*LEN+1), UPPER selects the case.
 */
void sm_hex_encode(const uint8_t *data, size_t len, char *out, int upper);

/*
 * sm_random_token - PREFIX and random hex digits (at least 128 bits'
 * worth when OUTLEN leaves room for 32) into OUT, for MIME boundaries
 * nobody can guess or put in a message ahead.  Never fails: the
 * kernel's random source, or the time and a counter if that fails.
 */
void sm_random_token(char *out, size_t outlen, const char *prefix);

/*
 * sm_hex_decode - decode hex digits from IN into OUT (capacity MAX),
 * skipping ':' separators when COLONS is set (the form Postfix uses for
 * fingerprints).  Returns the number of octets, or -1 on an odd count,
 * a bad character or overflow.
 */
long sm_hex_decode(const char *in, uint8_t *out, size_t max, int colons);

/*
 * sm_base64_encode - return a malloc'd NUL-terminated base64 text of
 * DATA (no line breaks), NULL when out of memory.
 */
char *sm_base64_encode(const uint8_t *data, size_t len);

/*
 * sm_strlcpy - copy SRC into DST of size SIZE, always terminating.
 * Returns strlen(SRC) so truncation can be detected (>= SIZE).
 */
size_t sm_strlcpy(char *dst, const char *src, size_t size);

/*
 * sm_escape - S as it may appear in a log line or a report: every
 * octet outside printable ASCII (controls, DEL, 8-bit), space, ',',
 * '"' and '\\' become "\\xHH", so a client's text can neither end a
 * field or a list entry, forge a "key=value", nor reach a terminal raw.
 * Returns S itself when nothing needs escaping, else BUF (BUFLEN at
 * least 4), cut to fit with "..." at the end.  S may be NULL ("").
 * sm_escape_quoted - the same for text between double quotes, where a
 * space or a comma ends nothing and is kept.
 * sm_escape_into - sm_escape's form written into OUT (OUTLEN with the
 * NUL; OUT may be NULL when OUTLEN is 0), whole escapes only; returns
 * the length of the whole escaped text, as snprintf does.
 */
const char *sm_escape(const char *s, char *buf, size_t buflen);
const char *sm_escape_quoted(const char *s, char *buf, size_t buflen);
size_t sm_escape_into(const char *s, char *out, size_t outlen);

/*
 * Reasons.  Every smilla function that can fail says why in a caller's
 * buffer, the parameters WHY and WHYLEN (a struct that keeps a reason
 * has a field "why"), and returns in one of these shapes:
 *   actions   0 done, -1 failed (WHY);
 *   lookups   1 found, 0 not found, -1 error (WHY), as OpenSMTPD's
 *             table API; questions ("is this encrypted?") are lookups
 *             that cannot fail: 1 yes, 0 no (WHY says why not);
 *   makers    the new object, NULL on failure (WHY);
 *   counts    the number, -1 on error (WHY).
 * A function whose failures differ in kind returns a status instead
 * (sm_addr_parse, sm_priv_drop), each header saying which.
 *
 * sm_why - printf into a caller's reason buffer (WHY may be NULL).
 */
void sm_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * sm_split - split S at commas and white space into an owned array of
 * words (free with sm_split_free).  Returns 0, or -1 when out of memory.
 */
int sm_split(const char *s, char ***words, size_t *n);
/* sm_split_free - free N words and the array (NULL allowed). */
void sm_split_free(char **words, size_t n);

/* sm_now_ms - monotonic clock in milliseconds. */
int64_t sm_now_ms(void);

/*
 * sm_read_file - read a whole file (at most MAX octets) into a malloc'd
 * buffer with a NUL appended (not counted in *LEN).  NULL on error, with
 * the reason in WHY.
 */
uint8_t *sm_read_file(const char *path, size_t max, size_t *len,
		      char *why, size_t whylen);

#endif
