/*
 * trace.h - the trace header on the copies smilla submits itself in
 * split mode (mixed_recipients = split), so that a copy that comes back
 * through a listener running smilla is let through as it is, and one
 * forged on incoming mail is removed and changes nothing.
 *
 *   X-Smilla-Split: v=1; t=UNIXTIME; mac=HEX
 *
 * MAC is HMAC-SHA256 under a local secret (the split key file) over
 * "v=1; t=UNIXTIME", the copy's recipients and the digest of its body
 * (mil_body_hash): a trace header holds only for the message and the
 * recipients it was made for, for MIL_TRACE_MAX_AGE seconds.  Anyone
 * can copy a header; nobody can make one hold for other recipients or
 * another body without the key, so it can never switch encryption off
 * for mail it was not made for.
 */
#ifndef MIL_TRACE_H
#define MIL_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MIL_TRACE_HEADER "X-Smilla-Split"
#define MIL_TRACE_KEY 32		/* octets of the secret */
#define MIL_TRACE_MAX_AGE 86400		/* seconds a trace header holds */
#define MIL_TRACE_SIZE 128		/* a header value with its NUL */

/*
 * The digest of a body as SMTP carries it: every line ended by CRLF
 * (a bare LF counts as CRLF, a last line without one gets it), so the
 * body smilla writes and the one an MTA hands back hash alike.
 */
struct mil_body_hash;

/* mil_body_hash_new - a fresh digest; NULL when out of memory. */
struct mil_body_hash *mil_body_hash_new(void);
/* mil_body_hash_add - LEN more octets of the body. */
void mil_body_hash_add(struct mil_body_hash *h, const void *data, size_t len);
/* mil_body_hash_end - the SHA-256 into OUT (32 octets), H freed. */
void mil_body_hash_end(struct mil_body_hash *h, uint8_t out[32]);

/*
 * mil_trace_key - the secret from PATH, made there (32 random octets,
 * mode 0600) when the file does not exist.  0, or -1 with WHY (a file
 * of another size, unreadable, or not creatable).
 */
int mil_trace_key(const char *path, uint8_t key[MIL_TRACE_KEY], char *why,
		  size_t whylen);

/*
 * mil_trace_make - the header value for a copy to the N recipients
 * RCPTS (addresses as given in RCPT TO, without <>) whose body has
 * digest BODY, at NOW, into OUT (MIL_TRACE_SIZE).
 */
void mil_trace_make(const uint8_t key[MIL_TRACE_KEY], time_t now,
		    const char *const *rcpts, size_t n, const uint8_t body[32],
		    char *out);

/*
 * mil_trace_holds - is VALUE (a header a message came with) one of ours
 * for these N recipients and this BODY, made at most
 * MIL_TRACE_MAX_AGE seconds before NOW (and not in the future)?  1 or
 * 0; the order of the recipients does not matter, the case of their
 * domains neither.
 */
int mil_trace_holds(const uint8_t key[MIL_TRACE_KEY], time_t now,
		    const char *value, const char *const *rcpts, size_t n,
		    const uint8_t body[32]);

#endif
