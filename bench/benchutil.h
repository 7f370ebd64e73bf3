/*
 * benchutil.h - helpers shared by bench/loadgen.c, bench/milter-load.c
 * and bench/null-milter.c.
 *
 * Header only: each bench program is built from its one .c file (the
 * Makefile and the bench scripts compile bench/NAME.c alone), so every
 * function here is static inline and costs nothing where it is unused.
 * Define BENCH_PROG, the program's name for messages, before including
 * it.
 *
 *   die            message on stderr, "BENCH_PROG: ..." and exit 2
 *   xmalloc, xrealloc   allocation or die
 *   read_file      a whole file, NUL-terminated, or die
 *   now_us         CLOCK_MONOTONIC in microseconds
 *   struct lats    a growing array of latencies (microseconds):
 *                  lats_add, lats_sort (ascending), lats_mean, lats_max
 *                  (after lats_sort); the percentiles stay with each
 *                  program, which defines them differently
 *   struct peer    where to connect: peer_resolve (from -u PATH or
 *                  -t HOST:PORT), peer_socket (a stream socket for it)
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#ifndef BENCH_PROG
#error "define BENCH_PROG before including benchutil.h"
#endif

static inline void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static inline void
die(const char *fmt, ...)
{
	va_list ap;

	fputs(BENCH_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static inline void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static inline void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		die("out of memory");
	return p;
}

/* The whole of file PATH (with a NUL after it), its length in *LEN. */
static inline char *
read_file(const char *path, size_t *len)
{
	FILE *fp;
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if ((fp = fopen(path, "rb")) == NULL)
		die("%s: %s", path, strerror(errno));
	do {
		if (cap - n < 65536)
			buf = xrealloc(buf, (cap = 2 * cap + 65536) + 1);
		n += got = fread(buf + n, 1, cap - n, fp);
	} while (got > 0);
	if (ferror(fp))
		die("%s: read error", path);
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static inline int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- latencies */

struct lats {
	uint32_t *v;		/* microseconds */
	size_t n, cap;
};

/* Add US (clamped to UINT32_MAX); room for FIRST at the first call,
 * twice as much each time it is full. */
static inline void
lats_add(struct lats *l, int64_t us, size_t first)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : first;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static inline int
lats_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static inline void
lats_sort(struct lats *l)
{
	qsort(l->v, l->n, sizeof(*l->v), lats_cmp);
}

/* The mean, 0 without samples. */
static inline double
lats_mean(const struct lats *l)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		sum += l->v[i];
	return l->n ? (double)sum / (double)l->n : 0.0;
}

/* The largest, 0 without samples; L sorted. */
static inline uint32_t
lats_max(const struct lats *l)
{
	return l->n ? l->v[l->n - 1] : 0;
}

/* ---------------------------------------------------------------- sockets */

struct peer {
	struct sockaddr_storage sa;
	socklen_t len;
};

/* P from a unix socket path (UNIX_PATH not NULL) or from TCP,
 * "HOST:PORT" with a numeric port ("[v6]:PORT" too); dies on errors. */
static inline void
peer_resolve(struct peer *p, const char *unix_path, const char *tcp)
{
	if (unix_path != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&p->sa;

		if (strlen(unix_path) >= sizeof(sun->sun_path))
			die("%s: socket path too long", unix_path);
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, unix_path);
		p->len = sizeof(*sun);
	} else {
		const char *colon = strrchr(tcp, ':');
		struct addrinfo hints, *ai;
		char host[256];
		int rc;

		if (colon == NULL || colon == tcp ||
		    (size_t)(colon - tcp) >= sizeof(host))
			die("-t wants HOST:PORT");
		snprintf(host, sizeof(host), "%.*s", (int)(colon - tcp), tcp);
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
			die("%s: %s", tcp, gai_strerror(rc));
		memcpy(&p->sa, ai->ai_addr, ai->ai_addrlen);
		p->len = ai->ai_addrlen;
		freeaddrinfo(ai);
	}
}

/* A stream socket (close-on-exec) of P's family, TCP_NODELAY on TCP;
 * -1 with errno set. */
static inline int
peer_socket(const struct peer *p)
{
	int fd, one = 1;

	fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && p->sa.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

#endif /* BENCHUTIL_H */
