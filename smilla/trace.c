/*
 * trace.c - the split copies' trace header; the contract is trace.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "trace.h"
#include "util.h"

struct mil_body_hash {
	EVP_MD_CTX *md;
	int cr;			/* the last octet added was a CR */
	int open;		/* a line is started and not ended */
};

struct mil_body_hash *
mil_body_hash_new(void)
{
	struct mil_body_hash *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	if ((h->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->md);
		free(h);
		return NULL;
	}
	return h;
}

void
mil_body_hash_add(struct mil_body_hash *h, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;

	while (p < end) {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		size_t span = (size_t)((lf ? lf : end) - p);

		if (span > 0) {
			EVP_DigestUpdate(h->md, p, span);
			h->cr = p[span - 1] == '\r';
			h->open = 1;
		}
		if (lf == NULL)
			break;
		/* A bare LF is a CRLF; a CRLF stays one. */
		EVP_DigestUpdate(h->md, h->cr ? "\n" : "\r\n", h->cr ? 1 : 2);
		h->cr = h->open = 0;
		p = lf + 1;
	}
}

void
mil_body_hash_end(struct mil_body_hash *h, uint8_t out[32])
{
	unsigned len = 0;

	if (h->open)
		EVP_DigestUpdate(h->md, h->cr ? "\n" : "\r\n", h->cr ? 1 : 2);
	EVP_DigestFinal_ex(h->md, out, &len);
	EVP_MD_CTX_free(h->md);
	free(h);
}

int
mil_trace_key(const char *path, uint8_t key[MIL_TRACE_KEY], char *why,
	      size_t whylen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size != MIL_TRACE_KEY ||
		    read(fd, key, MIL_TRACE_KEY) != MIL_TRACE_KEY) {
			close(fd);
			sm_why(why, whylen, "%s: not a split key (%d octets "
			       "in a regular file)", path, MIL_TRACE_KEY);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno != ENOENT) {
		sm_why(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (getrandom(key, MIL_TRACE_KEY, 0) != MIL_TRACE_KEY) {
		sm_why(why, whylen, "no random octets for %s", path);
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC, 0600)) < 0) {
		sm_why(why, whylen, "cannot create %s: %s", path,
		       strerror(errno));
		return -1;
	}
	n = write(fd, key, MIL_TRACE_KEY);
	if (n != MIL_TRACE_KEY || fsync(fd) < 0) {
		sm_why(why, whylen, "cannot write %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The MAC of version 1 at time T over RCPTS and BODY into MAC: the
 * recipients lowercased in their domains, sorted, one a line.  0, or -1
 * out of memory.
 */
static int
mac_of(const uint8_t key[MIL_TRACE_KEY], long long t,
       const char *const *rcpts, size_t n, const uint8_t body[32],
       uint8_t mac[32])
{
	char head[48], **v, *buf = NULL;
	unsigned len = 0;
	size_t i, size, at;
	int rc = -1;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return -1;
	size = (size_t)snprintf(head, sizeof(head), "v=1; t=%lld\n", t) + 32;
	for (i = 0; i < n; i++) {
		char *p;

		if ((v[i] = strdup(rcpts[i])) == NULL)
			goto done;
		for (p = strrchr(v[i], '@'); p != NULL && *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		size += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), by_text);
	if ((buf = malloc(size)) == NULL)
		goto done;
	at = strlen(head);
	memcpy(buf, head, at);
	for (i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		memcpy(buf + at, v[i], l);
		at += l;
		buf[at++] = '\n';
	}
	memcpy(buf + at, body, 32);
	at += 32;
	if (HMAC(EVP_sha256(), key, MIL_TRACE_KEY, (const uint8_t *)buf, at,
		 mac, &len) != NULL && len == 32)
		rc = 0;
done:
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	free(buf);
	return rc;
}

void
mil_trace_make(const uint8_t key[MIL_TRACE_KEY], time_t now,
	       const char *const *rcpts, size_t n, const uint8_t body[32],
	       char *out)
{
	uint8_t mac[32];
	char hex[65];

	if (mac_of(key, (long long)now, rcpts, n, body, mac) < 0) {
		/* A header that holds for nothing: the copy is still sent,
		   and a loop through smilla is split again, not lost. */
		snprintf(out, MIL_TRACE_SIZE, "v=1; t=0; mac=0");
		return;
	}
	sm_hex_encode(mac, sizeof(mac), hex, 0);
	snprintf(out, MIL_TRACE_SIZE, "v=1; t=%lld; mac=%s", (long long)now,
		 hex);
}

int
mil_trace_holds(const uint8_t key[MIL_TRACE_KEY], time_t now,
		const char *value, const char *const *rcpts, size_t n,
		const uint8_t body[32])
{
	uint8_t want[32], got[32];
	long long t;
	char hex[65];
	int used = 0;

	while (*value == ' ' || *value == '\t')
		value++;
	if (sscanf(value, "v=1; t=%lld; mac=%64[0-9a-f]%n", &t, hex, &used) !=
		    2 ||
	    value[used] != '\0' || strlen(hex) != 64 ||
	    sm_hex_decode(hex, got, sizeof(got), 0) != 32)
		return 0;
	if (t > (long long)now || (long long)now - t > MIL_TRACE_MAX_AGE)
		return 0;
	if (mac_of(key, t, rcpts, n, body, want) < 0)
		return 0;
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}
