/*
 * soak-client.c - the SMTP client of the soak test (tests/soak/soak.sh):
 * many messages over a few persistent sessions, each with STARTTLS and
 * a client certificate of its own, every reply code recorded and
 * compared with the one the plan expects.
 *
 *   soak-client -t HOST:PORT -p PLAN -o RESULTS [-c SESSIONS] [-C DIR]
 *
 *   -t  the SMTP server
 *   -p  the plan (below)
 *   -o  the results, one line per message, written as they come
 *   -c  parallel sessions (default 10): threads, each taking the next
 *       connection of the plan when it is done with one
 *   -C  where the certificates are: a connection's CERT is DIR/CERT.pem
 *       (the chain) and DIR/CERT.key
 *
 * The plan, one item a line; a connection is its C line and the M lines
 * after it:
 *   C HELO CERT             connect, EHLO HELO, STARTTLS presenting CERT
 *                           ("-": no certificate), EHLO HELO again
 *   M ID FILE DATA RCPT CODE [RCPT CODE]...
 *                           MAIL FROM:<sender@client.test>, RCPT TO each
 *                           RCPT, which must be answered CODE; then, when
 *                           a recipient was accepted, DATA with FILE (a
 *                           message with CRLF line ends; "@ID@" replaced
 *                           by ID, dot-stuffed here), whose end must be
 *                           answered DATA ("-" when no recipient is to be
 *                           accepted: RSET instead)
 * Each connection ends with QUIT.  Replies are read whole (multi-line)
 * with a 300 s timeout; only the three-digit code is compared.
 *
 * A results line: "ID ok|bad MAIL RCPTCODES DATA", the codes as
 * answered (RCPTCODES comma-separated; "-" for what was not sent).  A
 * connection that fails (connect, TLS, a reply that does not come)
 * makes every message of it not yet done "ID error WHY".  The last line
 * on stdout:
 *   messages=N ok=N bad=N errors=N accepted_rcpts=N refused_rcpts=N
 *   seconds=S mps=R
 * Exit status: 0 when every message is "ok", 1 otherwise, 2 on usage
 * or setup errors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BENCH_PROG "soak-client"
#include "benchutil.h"

#define REPLY_TIMEOUT_S 300
#define MAX_RCPTS 32
#define LINE_MAX_PLAN 4096

struct rcpt {
	char *addr;
	int want;
};

struct msg {
	char *id;
	const char *body;	/* the template, shared */
	int want_data;		/* 0: "-" */
	struct rcpt rcpt[MAX_RCPTS];
	int nrcpt;
};

struct conn {
	char *helo;
	SSL_CTX *ctx;		/* NULL: no certificate (the shared one) */
	struct msg *msg;
	size_t nmsg, cap;
};

/* The files and certificates the plan names, loaded once. */
struct named {
	char *name;
	void *what;
};

static struct conn *conns;
static size_t nconns, capconns, next_conn;
static struct named *files, *ctxs;
static size_t nfiles, nctxs;
static const char *cert_dir = ".";
static struct peer server;
static FILE *results;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long n_ok, n_bad, n_err, n_acc, n_ref;

static char *
xstrdup(const char *s)
{
	char *p = xmalloc(strlen(s) + 1);

	strcpy(p, s);
	return p;
}

static void *
find(struct named **tab, size_t *n, const char *name, void *(*load)(const char *))
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*tab)[i].name, name) == 0)
			return (*tab)[i].what;
	*tab = xrealloc(*tab, (*n + 1) * sizeof(**tab));
	(*tab)[*n].name = xstrdup(name);
	(*tab)[*n].what = load(name);
	return (*tab)[(*n)++].what;
}

static void *
load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0)
		die("%s: %s", path, strerror(errno));
	buf = xmalloc((size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		die("%s: short read", path);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void *
load_ctx(const char *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char pem[1024], key[1024];

	if (ctx == NULL)
		die("SSL_CTX_new failed");
	if (strcmp(cert, "-") == 0)
		return ctx;
	snprintf(pem, sizeof(pem), "%s/%s.pem", cert_dir, cert);
	snprintf(key, sizeof(key), "%s/%s.key", cert_dir, cert);
	if (SSL_CTX_use_certificate_chain_file(ctx, pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("%s: cannot load the certificate or its key", pem);
	return ctx;
}

static void
read_plan(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_PLAN], *w[2 + 2 * MAX_RCPTS + 3], *save;
	int n, i, lineno = 0;
	struct conn *c = NULL;
	struct msg *m;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		for (n = 0, w[0] = strtok_r(line, " \t\r\n", &save);
		     w[n] != NULL && n < (int)(sizeof(w) / sizeof(w[0])) - 1;
		     w[++n] = strtok_r(NULL, " \t\r\n", &save))
			;
		if (n == 0 || w[0][0] == '#')
			continue;
		if (strcmp(w[0], "C") == 0 && n == 3) {
			if (nconns == capconns) {
				capconns = capconns ? 2 * capconns : 256;
				conns = xrealloc(conns, capconns * sizeof(*conns));
			}
			c = &conns[nconns++];
			memset(c, 0, sizeof(*c));
			c->helo = xstrdup(w[1]);
			c->ctx = find(&ctxs, &nctxs, w[2], load_ctx);
		} else if (strcmp(w[0], "M") == 0 && c != NULL && n >= 6 &&
			   n % 2 == 0 && (n - 4) / 2 <= MAX_RCPTS) {
			if (c->nmsg == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 16;
				c->msg = xrealloc(c->msg, c->cap * sizeof(*c->msg));
			}
			m = &c->msg[c->nmsg++];
			memset(m, 0, sizeof(*m));
			m->id = xstrdup(w[1]);
			m->body = find(&files, &nfiles, w[2], load_file);
			m->want_data = strcmp(w[3], "-") == 0 ? 0 : atoi(w[3]);
			for (i = 4; i < n; i += 2) {
				m->rcpt[m->nrcpt].addr = xstrdup(w[i]);
				m->rcpt[m->nrcpt++].want = atoi(w[i + 1]);
			}
		} else {
			die("%s:%d: not a plan line", path, lineno);
		}
	}
	fclose(f);
}

/* ---------------------------------------------------------------- SMTP */

struct io {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t off, len;
	char why[256];
};

static int
io_write(struct io *io, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k;

		if (io->ssl != NULL) {
			int r = SSL_write(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

			k = r > 0 ? r : -1;
		} else {
			k = write(io->fd, p, n);
		}
		if (k <= 0) {
			snprintf(io->why, sizeof(io->why), "write failed");
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
io_getc(struct io *io)
{
	if (io->off == io->len) {
		ssize_t k;

		if (io->ssl != NULL) {
			int r = SSL_read(io->ssl, io->buf, sizeof(io->buf));

			k = r > 0 ? r : -1;
		} else {
			k = read(io->fd, io->buf, sizeof(io->buf));
		}
		if (k <= 0)
			return -1;
		io->off = 0;
		io->len = (size_t)k;
	}
	return (unsigned char)io->buf[io->off++];
}

/* The code of the next (multi-line) reply; -1 when it does not come. */
static int
reply(struct io *io)
{
	char line[1024];
	size_t n;
	int ch;

	for (;;) {
		n = 0;
		while ((ch = io_getc(io)) >= 0 && ch != '\n')
			if (n < sizeof(line) - 1)
				line[n++] = (char)ch;
		if (ch < 0) {
			snprintf(io->why, sizeof(io->why), "no reply (closed or timed out)");
			return -1;
		}
		line[n] = '\0';
		if (n < 4 || line[0] < '2' || line[0] > '5') {
			snprintf(io->why, sizeof(io->why), "bad reply line");
			return -1;
		}
		if (line[3] != '-')
			return atoi(line);
	}
}

static int
cmd(struct io *io, const char *fmt, const char *arg)
{
	char line[1200];

	snprintf(line, sizeof(line), fmt, arg);
	if (io_write(io, line, strlen(line)) < 0)
		return -1;
	return reply(io);
}

/* FILE's text with ID put in and dot-stuffed, then the end of data. */
static int
send_data(struct io *io, const char *body, const char *id)
{
	size_t idlen = strlen(id), cap = strlen(body) * 2 + idlen * 8 + 16, n = 0;
	char *out = xmalloc(cap);
	const char *p;
	int bol = 1, rc;

	for (p = body; *p != '\0'; p++) {
		if (n + idlen + 8 > cap)
			out = xrealloc(out, cap *= 2);
		if (bol && *p == '.')
			out[n++] = '.';
		if (strncmp(p, "@ID@", 4) == 0) {
			memcpy(out + n, id, idlen);
			n += idlen;
			p += 3;
			bol = 0;
			continue;
		}
		out[n++] = *p;
		bol = *p == '\n';
	}
	if (n < 2 || out[n - 2] != '\r' || out[n - 1] != '\n') {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	n += 3;
	rc = io_write(io, out, n);
	free(out);
	return rc < 0 ? -1 : reply(io);
}

static void
result(const char *id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
result(const char *id, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lock);
	fprintf(results, "%s ", id);
	va_start(ap, fmt);
	vfprintf(results, fmt, ap);
	va_end(ap);
	fputc('\n', results);
	fflush(results);
	pthread_mutex_unlock(&lock);
}

/* One message on an open session; -1 when the session broke. */
static int
one(struct io *io, const struct msg *m)
{
	char codes[MAX_RCPTS * 12 + 1] = "", data[16] = "-";
	int mail, code, i, acc = 0, ref = 0, good;

	if ((mail = cmd(io, "MAIL FROM:<%s>\r\n", "sender@client.test")) < 0)
		return -1;
	good = mail == 250;
	for (i = 0; i < m->nrcpt && mail == 250; i++) {
		if ((code = cmd(io, "RCPT TO:<%s>\r\n", m->rcpt[i].addr)) < 0)
			return -1;
		snprintf(codes + strlen(codes), sizeof(codes) - strlen(codes),
			 "%s%d", i ? "," : "", code);
		good &= code == m->rcpt[i].want;
		if (code == 250)
			acc++;
		else
			ref++;
	}
	if (acc > 0) {
		if ((code = cmd(io, "DATA\r\n%s", "")) < 0)
			return -1;
		if (code == 354 && (code = send_data(io, m->body, m->id)) < 0)
			return -1;
		snprintf(data, sizeof(data), "%d", code);
		good &= code == m->want_data;
	} else {
		good &= m->want_data == 0;
		if (cmd(io, "RSET\r\n%s", "") != 250)
			return -1;
	}
	result(m->id, "%s %d %s %s", good ? "ok" : "bad", mail,
	       codes[0] ? codes : "-", data);
	pthread_mutex_lock(&lock);
	if (good)
		n_ok++;
	else
		n_bad++;
	n_acc += acc;
	n_ref += ref;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Connection C from the greeting to QUIT; the messages not done are
 * errors when it breaks. */
static void
session(const struct conn *c)
{
	struct io io = { .fd = -1 };
	struct timeval tv = { REPLY_TIMEOUT_S, 0 };
	size_t i = 0;

	if ((io.fd = peer_socket(&server)) < 0 ||
	    connect(io.fd, (const struct sockaddr *)&server.sa, server.len) < 0) {
		snprintf(io.why, sizeof(io.why), "connect: %s", strerror(errno));
		goto broken;
	}
	setsockopt(io.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(io.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (reply(&io) != 220 || cmd(&io, "EHLO %s\r\n", c->helo) != 250 ||
	    cmd(&io, "STARTTLS\r\n%s", "") != 220)
		goto broken;
	if ((io.ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(io.ssl, io.fd) != 1 ||
	    SSL_connect(io.ssl) != 1) {
		snprintf(io.why, sizeof(io.why), "TLS handshake failed");
		goto broken;
	}
	io.off = io.len = 0;
	if (cmd(&io, "EHLO %s\r\n", c->helo) != 250)
		goto broken;
	for (; i < c->nmsg; i++)
		if (one(&io, &c->msg[i]) < 0)
			goto broken;
	cmd(&io, "QUIT\r\n%s", "");
	goto done;
broken:
	for (; i < c->nmsg; i++) {
		result(c->msg[i].id, "error %s", io.why[0] ? io.why : "unexpected reply");
		pthread_mutex_lock(&lock);
		n_err++;
		pthread_mutex_unlock(&lock);
	}
done:
	if (io.ssl != NULL) {
		SSL_shutdown(io.ssl);
		SSL_free(io.ssl);
	}
	if (io.fd >= 0)
		close(io.fd);
}

static void *
worker(void *arg)
{
	size_t k;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		k = next_conn++;
		pthread_mutex_unlock(&lock);
		if (k >= nconns)
			return NULL;
		session(&conns[k]);
	}
}

int
main(int argc, char **argv)
{
	const char *tcp = NULL, *plan = NULL, *out = NULL;
	int opt, nthreads = 10, i;
	pthread_t *t;
	int64_t t0, t1;
	double secs;

	while ((opt = getopt(argc, argv, "t:p:o:c:C:")) != -1) {
		switch (opt) {
		case 't': tcp = optarg; break;
		case 'p': plan = optarg; break;
		case 'o': out = optarg; break;
		case 'c': nthreads = atoi(optarg); break;
		case 'C': cert_dir = optarg; break;
		default: die("usage: soak-client -t HOST:PORT -p PLAN -o RESULTS [-c N] [-C DIR]");
		}
	}
	if (tcp == NULL || plan == NULL || out == NULL || nthreads < 1)
		die("usage: soak-client -t HOST:PORT -p PLAN -o RESULTS [-c N] [-C DIR]");
	peer_resolve(&server, NULL, tcp);
	read_plan(plan);
	if ((results = fopen(out, "w")) == NULL)
		die("%s: %s", out, strerror(errno));
	t = xmalloc((size_t)nthreads * sizeof(*t));
	t0 = now_us();
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			die("pthread_create failed");
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	t1 = now_us();
	fclose(results);
	secs = (double)(t1 - t0) / 1e6;
	printf("messages=%ld ok=%ld bad=%ld errors=%ld accepted_rcpts=%ld"
	       " refused_rcpts=%ld seconds=%.1f mps=%.1f\n",
	       n_ok + n_bad + n_err, n_ok, n_bad, n_err, n_acc, n_ref, secs,
	       secs > 0 ? (double)(n_ok + n_bad) / secs : 0.0);
	return n_bad == 0 && n_err == 0 ? 0 : 1;
}
