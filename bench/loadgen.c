/*
 * loadgen.c - load generator for Postfix SMTP access policy servers.
 *
 *   loadgen (-u PATH | -t HOST:PORT) [-c CONNS] [-d SECONDS | -n REQUESTS]
 *           [-w WARMUP] [-r TEMPLATE | -H HELO -F CERTFP -K KEYFP]
 *           [-P PREFIX] [-s STALL] [-f FLOOD [-i MS]] [-T STALL_HELO]
 *           [-I IDLE] [-h HALF] [-R TEXT [-G MS]] [-D SECONDS] [-v]
 *
 *   -c  persistent connections (default 8); 0 with -f, -I or -h: none
 *       measured, only the connections those open
 *   -d  measured seconds after the warm-up (default 5); -n instead: stop
 *       after that many requests
 *   -w  warm-up seconds (default 0): requests are sent, not timed
 *   -P  every answer must start with PREFIX (default "action=")
 *   -v  show every bad answer on stderr, not only the first few
 *   -D  drain: how long answers still outstanding at the end are
 *       waited for (default 5 s)
 *
 * One thread, one poll(2) loop.  Each of the CONNS persistent
 * connections does strict request/response, as Postfix does (it never
 * pipelines): send one request, read the whole answer (up to the empty
 * line), check it, send the next.  The latency of a request is the time
 * from just before its write(2) to the read(2) that completes its answer
 * (CLOCK_MONOTONIC).
 *
 * Requests come from a template file (-r: one request; "@N@" is
 * replaced by a counter unique to each request, so instance or
 * helo_name can vary) or are built here from -H/-F/-K: a full Postfix
 * RCPT request with instance=bench.@N@ (so a policy server that adds a
 * header once per message adds it every time).
 *
 * -s N opens N more connections first, each sending a single request
 * whose helo_name is -T with @N@ replaced by the connection's number
 * (default h@N@.slow.smilla.test), and never reads from them during the
 * run: against smilla-policyd and the test bed, N lookups hang while the
 * measured connections run.  At the end their sockets are checked
 * without blocking: stall_pending counts those still without an answer
 * (the lookup was in flight for the whole run), stall_answered those
 * answered, stall_closed those the server closed; stall_age_s is the
 * time since the first of them was sent (compare with the server's DNS
 * timeout).
 *
 * The slowloris options (bench/slowloris-bench.sh) add connections
 * that are not timed:
 *   -f N  flood: N connections that keep sending requests one after the
 *         other, each with a helo_name never used before (-T with @N@
 *         replaced by a counter that runs on from where -s left off)
 *         and the -F/-K fingerprints: against smilla-policyd every one
 *         is an uncached identity whose lookup hangs at the blackhole
 *         until dns_timeout.  -i MS: a flood connection waits MS after
 *         an answer before its next request (default 0).  A connection
 *         the server closes is opened again (flood_closed).
 *   -I N  idle: N connections that never send anything;
 *   -h N  half-sent: N connections that send the first half of a
 *         request (no empty line) and then nothing.
 * At the end idle and half-sent connections are looked at without
 * blocking: *_open still open, *_closed closed by the server (at its
 * connection cap or its idle timeout).  Flood requests still without an
 * answer after the drain are errors (flood_unanswered).
 *
 * -R TEXT: an answer containing TEXT is a refusal ("try again"): on a
 * measured connection the same request is sent again after -G MS
 * (default 100), and its latency runs from its first try to the answer
 * that decided it (retries counts the refusals); on a flood connection
 * it is counted in flood_refused.
 *
 * Requests are timed only after the warm-up (-w); the run lasts -d
 * seconds after it, or until -n requests were sent after it.  Answers
 * still outstanding at the end are drained for up to 5 s (their
 * latencies count, they do not count for rps); one not in by then is
 * an error.
 *
 * Output, one line on stdout:
 *   requests=N seconds=S rps=R p50_us=.. p99_us=.. errors=E
 *   followed by p90_us p999_us max_us mean_us, samples (timed
 *   requests, drained ones included), answered (every answer, warm-up
 *   included), the error kinds (err_closed err_short err_answer
 *   err_timeout err_connect), retries, with -s stall_pending
 *   stall_answered stall_closed stall_age_s, with -f flood_sent
 *   flood_answered flood_refused flood_closed flood_unanswered
 *   flood_max_ms, with -I idle_open idle_closed and with -h half_open
 *   half_closed.
 * Exit status: 0 when errors=0 (and, with -s, every stalled request is
 * still pending), 1 otherwise, 2 on usage or setup errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define BENCH_PROG "loadgen"
#include "benchutil.h"

#define RBUF 8192
#define DRAIN_S 5
#define RETRY_MS 100

/* PAUSED: waits until T_RESUME, to try again (-R) or for the flood's -i. */
enum { IDLE, SENDING, WAITING, PAUSED, DONE };

struct conn {
	int fd;
	int state;
	int flood;		/* a flood connection (-f): never timed */
	int timed;		/* this request counts (sent after warm-up) */
	int retry;		/* PAUSED to send its request again (-R) */
	char *wbuf;
	size_t wlen, woff, wcap;
	char rbuf[RBUF];
	size_t rlen;
	int64_t t_send, t_first, t_resume;
};

/* A request template split at "@N@". */
struct tpl {
	char **part;
	size_t n;
};

static const char *opt_unix, *opt_tcp, *opt_prefix = "action=";
static const char *opt_stall_helo = "h@N@.slow.smilla.test";
static const char *opt_refuse;
static int opt_verbose;

static struct tpl req_tpl, flood_tpl;

static struct lats lat;		/* latencies of the timed requests */

static unsigned long err_closed, err_short, err_answer, err_timeout,
	err_connect, retries;
static unsigned long long flood_sent, flood_answered, flood_refused,
	flood_closed, flood_unanswered;
static int64_t flood_max_us;
static int shown_bad;

static void
usage(void)
{
	fputs("usage: loadgen (-u PATH | -t HOST:PORT) [-c CONNS] "
	      "[-d SECONDS | -n REQUESTS] [-w WARMUP]\n"
	      "               [-r TEMPLATE | -H HELO -F CERTFP -K KEYFP] "
	      "[-P PREFIX] [-s STALL] [-f FLOOD [-i MS]] [-T HELO]\n"
	      "               [-I IDLE] [-h HALF] [-R TEXT [-G MS]] "
	      "[-D SECONDS] [-v]\n", stderr);
	exit(2);
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* S with every "@N@" replaced by REPL, newly allocated. */
static char *
subst(const char *s, const char *repl)
{
	size_t n = 0, rl = strlen(repl);
	const char *p, *q;
	char *out, *o;

	for (p = s; (q = strstr(p, "@N@")) != NULL; p = q + 3)
		n++;
	out = o = xmalloc(strlen(s) + n * rl + 1);
	for (p = s; (q = strstr(p, "@N@")) != NULL; p = q + 3) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, repl, rl);
		o += rl;
	}
	strcpy(o, p);
	return out;
}

/* The request built from -H/-F/-K; "@N@" stays in it. */
static char *
builtin_request(const char *helo, const char *cfp, const char *kfp)
{
	const char *fmt =
		"request=smtpd_access_policy\n"
		"protocol_state=RCPT\n"
		"protocol_name=ESMTP\n"
		"helo_name=%s\n"
		"queue_id=\n"
		"sender=bench@client.smilla.test\n"
		"recipient=user@mx.smilla.test\n"
		"recipient_count=0\n"
		"client_address=127.0.0.1\n"
		"client_name=unknown\n"
		"reverse_client_name=unknown\n"
		"instance=bench.@N@\n"
		"sasl_method=\n"
		"sasl_username=\n"
		"sasl_sender=\n"
		"size=0\n"
		"ccert_subject=\n"
		"ccert_issuer=\n"
		"ccert_fingerprint=%s\n"
		"ccert_pubkey_fingerprint=%s\n"
		"encryption_protocol=TLSv1.3\n"
		"encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		"encryption_keysize=256\n"
		"etrn_domain=\n"
		"stress=\n"
		"\n";
	size_t len = strlen(fmt) + strlen(helo) + strlen(cfp) + strlen(kfp);
	char *buf = xmalloc(len);

	snprintf(buf, len, fmt, helo, cfp, kfp);
	return buf;
}

/* A template file: one request; ends with exactly one empty line. */
static char *
read_template(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t len = 0, cap = 4096, n;
	char *buf = xmalloc(cap);

	if (fp == NULL)
		die("%s: %s", path, strerror(errno));
	for (;;) {
		if (cap - len < 4) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		if ((n = fread(buf + len, 1, cap - len - 3, fp)) == 0)
			break;
		len += n;
	}
	if (ferror(fp))
		die("%s: read error", path);
	fclose(fp);
	if (memchr(buf, '\0', len) != NULL)
		die("%s: NUL byte in template", path);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0)
		die("%s: empty template", path);
	buf[len] = '\0';
	if (strstr(buf, "\n\n") != NULL)
		die("%s: more than one request (empty line inside)", path);
	strcpy(buf + len, "\n\n");
	return buf;
}

/* T, split at "@N@", into TP; T itself is not kept. */
static void
split_template(struct tpl *tp, const char *t)
{
	const char *p, *q;
	size_t n = 1;

	for (p = t; (q = strstr(p, "@N@")) != NULL; p = q + 3)
		n++;
	tp->part = xmalloc(n * sizeof(*tp->part));
	tp->n = 0;
	for (p = t; (q = strstr(p, "@N@")) != NULL; p = q + 3)
		tp->part[tp->n++] = xstrndup(p, (size_t)(q - p));
	tp->part[tp->n++] = xstrndup(p, strlen(p));
}

static void
free_template(struct tpl *tp)
{
	for (size_t i = 0; i < tp->n; i++)
		free(tp->part[i]);
	free(tp->part);
	tp->part = NULL;
	tp->n = 0;
}

/* Request number SEQ of template TP into C's write buffer. */
static void
build(struct conn *c, const struct tpl *tp, unsigned long long seq)
{
	char num[32];
	size_t i, need, nl;

	nl = (size_t)snprintf(num, sizeof(num), "%llu", seq);
	need = 1;
	for (i = 0; i < tp->n; i++)
		need += strlen(tp->part[i]) + nl;
	if (need > c->wcap) {
		free(c->wbuf);
		c->wbuf = xmalloc(need);
		c->wcap = need;
	}
	c->wlen = 0;
	for (i = 0; i < tp->n; i++) {
		size_t pl = strlen(tp->part[i]);

		memcpy(c->wbuf + c->wlen, tp->part[i], pl);
		c->wlen += pl;
		if (i + 1 < tp->n) {
			memcpy(c->wbuf + c->wlen, num, nl);
			c->wlen += nl;
		}
	}
	c->woff = 0;
}

/* ---------------------------------------------------------------- sockets */

static struct peer peer;

/* A connected, non-blocking socket, or -1. */
static int
dial(void)
{
	int fd, fl;

	if ((fd = peer_socket(&peer)) < 0)
		return -1;
	/* Blocking connect: a full listen backlog waits, not fails. */
	while (connect(fd, (struct sockaddr *)&peer.sa, peer.len) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* C's connection broke: a new one (IDLE), or none (DONE, counted in
 * err_connect). */
static void
redial(struct conn *c)
{
	close(c->fd);
	c->rlen = 0;
	c->fd = dial();
	if (c->fd < 0) {
		err_connect++;
		c->state = DONE;
	} else {
		c->state = IDLE;
	}
}

/* Write what is left of C's request; -1 when the connection broke. */
static int
flush_out(struct conn *c)
{
	ssize_t n;

	while (c->woff < c->wlen) {
		n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->state = SENDING;
			return 0;
		}
		if (n <= 0)
			return -1;
		c->woff += (size_t)n;
	}
	c->state = WAITING;
	return 0;
}

static void
show_bad(const char *what, const char *buf, size_t len)
{
	if (shown_bad++ >= 3 && !opt_verbose)
		return;
	fprintf(stderr, "loadgen: %s: \"", what);
	for (size_t i = 0; i < len && i < 300; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\n')
			fputs("\\n", stderr);
		else if (ch < 32 || ch > 126)
			fprintf(stderr, "\\x%02x", ch);
		else
			fputc(ch, stderr);
	}
	fputs("\"\n", stderr);
}

/* Percentile P of the sorted latencies: nearest rank, the smallest
 * value with at least P of the samples at or below it. */
static uint32_t
pct(double p)
{
	size_t i;

	if (lat.n == 0)
		return 0;
	i = (size_t)(p * (double)lat.n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > lat.n)
		i = lat.n;
	return lat.v[i - 1];
}

static unsigned long
parse_num(const char *s, const char *what, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || v > max)
		die("bad %s: %s", what, s);
	return v;
}

static double
parse_secs(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v < 0 || v > 86400)
		die("bad %s: %s", what, s);
	return v;
}

/* ---------------------------------------------------------------- main */
/* ---------------------------------------------------------------- setup */

/*
 * A connection that gets the first LEN octets of request SEQ of TP at
 * once and is then left alone (-s, -h); dies when it cannot be had.
 */
static int
park(const struct tpl *tp, unsigned long long seq, size_t len,
     const char *what, size_t i)
{
	struct conn tmp;

	memset(&tmp, 0, sizeof(tmp));
	build(&tmp, tp, seq);
	if (len < tmp.wlen)
		tmp.wlen = len;
	if ((tmp.fd = dial()) < 0)
		die("%s connection %zu: %s", what, i, strerror(errno));
	while (tmp.woff < tmp.wlen) {
		struct pollfd w = { .fd = tmp.fd, .events = POLLOUT };

		if (flush_out(&tmp) < 0)
			die("%s connection %zu: write: %s", what, i,
			    strerror(errno));
		if (tmp.state == SENDING)
			poll(&w, 1, 1000);
	}
	free(tmp.wbuf);
	return tmp.fd;
}

/*
 * What FD holds, looked at without blocking: the octets waiting (into
 * BUF, not consumed), 0 when nothing came yet, -1 when the peer closed.
 */
static ssize_t
look(int fd, char *buf, size_t len)
{
	ssize_t r = recv(fd, buf, len, MSG_DONTWAIT | MSG_PEEK);

	if (r > 0)
		return r;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return -1;
}

/* Of the N connections FD, how many are still open; closes them all. */
static unsigned long
still_open(int *fd, size_t n)
{
	unsigned long open = 0;
	char b;

	for (size_t i = 0; i < n; i++) {
		if (look(fd[i], &b, 1) >= 0)
			open++;
		close(fd[i]);
	}
	return open;
}

/* ---------------------------------------------------------------- loop */

/* Send request SEQ on C (a new one, or its try again: FIRST unset). */
static int
start(struct conn *c, const struct tpl *tp, unsigned long long seq,
      int first)
{
	build(c, tp, seq);
	c->rlen = 0;
	c->retry = 0;
	c->t_send = now_us();
	if (first)
		c->t_first = c->t_send;
	return flush_out(c);
}

/* C's answer in RBUF is complete at time T: count and check it. */
static void
answer(struct conn *c, int64_t t, int64_t t_end, int timed_window,
       unsigned long long *answered, unsigned long long *done_in_window,
       int64_t *t_last, size_t plen, double gap_ms, double flood_gap_ms)
{
	size_t len = c->rlen;
	int refused = opt_refuse != NULL &&
		      memmem(c->rbuf, len, opt_refuse,
			     strlen(opt_refuse)) != NULL;

	c->rlen = 0;
	c->state = IDLE;
	if (c->flood) {
		flood_answered++;
		flood_refused += refused;
		if (t - c->t_send > flood_max_us)
			flood_max_us = t - c->t_send;
		if (len < 7 || memcmp(c->rbuf, "action=", 7) != 0) {
			err_answer++;
			show_bad("unexpected flood answer", c->rbuf, len);
		}
		if (flood_gap_ms > 0) {
			c->state = PAUSED;
			c->t_resume = t + (int64_t)(flood_gap_ms * 1000);
		}
		return;
	}
	(*answered)++;
	if (refused) {
		retries++;
		c->state = PAUSED;
		c->retry = 1;
		c->t_resume = t + (int64_t)(gap_ms * 1000);
	} else if (len < plen || memcmp(c->rbuf, opt_prefix, plen) != 0) {
		err_answer++;
		show_bad("unexpected answer", c->rbuf, len);
	} else if (c->timed) {
		lats_add(&lat, t - c->t_first, 65536);
		if (!timed_window || t <= t_end)
			(*done_in_window)++;
		*t_last = t;
	}
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	const char *tfile = NULL, *helo = NULL, *cfp = "", *kfp = "";
	unsigned long nconns = 8, nreq = 0, nstall = 0, nflood = 0, nidle = 0,
		      nhalf = 0;
	double dur = -1, warm = 0, drain = DRAIN_S, gap = RETRY_MS,
	       flood_gap = 0;
	unsigned long long seq = 0, fseq, sent_timed = 0, done_in_window = 0,
			   answered = 0;
	unsigned long stall_pending = 0, stall_answered = 0, stall_closed = 0,
		      idle_open = 0, half_open = 0;
	struct conn *conns;
	struct pollfd *pfd;
	int *stall_fd = NULL, *idle_fd = NULL, *half_fd = NULL;
	int64_t t_start, t_warm, t_end = 0, t_stall = 0, t_last = 0, t_stop;
	int stopping = 0, opt;
	size_t i, plen, nall;
	struct rlimit rl;
	char *req;

	while ((opt = getopt(argc, argv,
			     "u:t:c:d:n:w:r:H:F:K:P:s:T:f:i:I:h:R:G:D:v")) != -1) {
		switch (opt) {
		case 'u': opt_unix = optarg; break;
		case 't': opt_tcp = optarg; break;
		case 'c': nconns = parse_num(optarg, "-c", 10000); break;
		case 'd': dur = parse_secs(optarg, "-d"); break;
		case 'n': nreq = parse_num(optarg, "-n", ULONG_MAX); break;
		case 'w': warm = parse_secs(optarg, "-w"); break;
		case 'r': tfile = optarg; break;
		case 'H': helo = optarg; break;
		case 'F': cfp = optarg; break;
		case 'K': kfp = optarg; break;
		case 'P': opt_prefix = optarg; break;
		case 's': nstall = parse_num(optarg, "-s", 100000); break;
		case 'T': opt_stall_helo = optarg; break;
		case 'f': nflood = parse_num(optarg, "-f", 100000); break;
		case 'i': flood_gap = parse_secs(optarg, "-i"); break;
		case 'I': nidle = parse_num(optarg, "-I", 1000000); break;
		case 'h': nhalf = parse_num(optarg, "-h", 1000000); break;
		case 'R': opt_refuse = optarg; break;
		case 'G': gap = parse_secs(optarg, "-G"); break;
		case 'D': drain = parse_secs(optarg, "-D"); break;
		case 'v': opt_verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || (opt_unix == NULL) == (opt_tcp == NULL) ||
	    (nconns == 0 && nflood + nidle + nhalf == 0))
		usage();
	if (dur < 0 && nreq == 0)
		dur = 5;
	if (dur >= 0 && nreq != 0)
		die("-d and -n exclude each other");
	if (nconns == 0 && nreq != 0)
		die("-n needs measured connections (-c)");
	if (tfile != NULL && helo != NULL)
		die("-r and -H exclude each other");
	if (tfile == NULL && helo == NULL)
		die("need a request: -r TEMPLATE or -H HELO [-F CERTFP] [-K KEYFP]");
	if (nstall + nflood > 0 && *cfp == '\0' && *kfp == '\0')
		die("-s and -f need a fingerprint (-F or -K) to make the "
		    "lookups happen");
	if (opt_refuse != NULL && *opt_refuse == '\0')
		die("-R needs a text");
	plen = strlen(opt_prefix);

	signal(SIGPIPE, SIG_IGN);
	/* Room for every stalled, idle and half-sent connection. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	peer_resolve(&peer, opt_unix, opt_tcp);

	req = tfile ? read_template(tfile) : builtin_request(helo, cfp, kfp);
	split_template(&req_tpl, req);
	free(req);

	/* Stalled connections: one request each, never read during the run. */
	if (nstall > 0) {
		stall_fd = xmalloc(nstall * sizeof(*stall_fd));
		for (i = 0; i < nstall; i++) {
			char *h, *tpl, num[32];
			struct tpl one;

			snprintf(num, sizeof(num), "%zu", i);
			h = subst(opt_stall_helo, num);
			tpl = builtin_request(h, cfp, kfp);
			split_template(&one, tpl);
			free(tpl);
			free(h);
			if (i == 0)
				t_stall = now_us();	/* the oldest lookup */
			stall_fd[i] = park(&one, 1000000000ULL + i, SIZE_MAX,
					   "stall", i);
			free_template(&one);
		}
	}
	/* Idle connections say nothing; half-sent ones half a request. */
	if (nidle > 0) {
		idle_fd = xmalloc(nidle * sizeof(*idle_fd));
		for (i = 0; i < nidle; i++)
			if ((idle_fd[i] = dial()) < 0)
				die("idle connection %zu: %s", i,
				    strerror(errno));
	}
	if (nhalf > 0) {
		struct conn tmp;

		memset(&tmp, 0, sizeof(tmp));
		build(&tmp, &req_tpl, 2000000000ULL);
		half_fd = xmalloc(nhalf * sizeof(*half_fd));
		for (i = 0; i < nhalf; i++)
			half_fd[i] = park(&req_tpl, 2000000000ULL + i,
					  tmp.wlen / 2, "half-sent", i);
		free(tmp.wbuf);
	}
	/* Flood names go on from the stalled ones': every one is new. */
	fseq = nstall;
	if (nflood > 0) {
		req = builtin_request(opt_stall_helo, cfp, kfp);
		split_template(&flood_tpl, req);
		free(req);
	}

	nall = nconns + nflood;
	conns = calloc(nall, sizeof(*conns));
	pfd = calloc(nall, sizeof(*pfd));
	if (conns == NULL || pfd == NULL)
		die("out of memory");
	for (i = 0; i < nall; i++) {
		conns[i].flood = i >= nconns;
		if ((conns[i].fd = dial()) < 0)
			die("connect %s: %s", opt_unix ? opt_unix : opt_tcp,
			    strerror(errno));
	}

	t_start = now_us();
	t_warm = t_start + (int64_t)(warm * 1e6);
	if (dur >= 0)
		t_end = t_warm + (int64_t)(dur * 1e6);
	t_stop = 0;

	for (;;) {
		int64_t now = now_us(), left, wake = INT64_MAX;
		int active = 0;
		nfds_t n = 0;

		if (!stopping) {
			if (dur >= 0 && now >= t_end)
				stopping = 1;
			else if (dur < 0 && sent_timed >= nreq)
				stopping = 1;
			if (stopping)
				t_stop = now;
		}
		if (stopping && now - t_stop > (int64_t)(drain * 1e6))
			break;
		/* Start requests on idle connections, again on refused ones. */
		for (i = 0; i < nall; i++) {
			struct conn *c = &conns[i];
			int rc;

			if (c->state == PAUSED && !c->retry && stopping)
				c->state = DONE;
			if (c->state == PAUSED && now_us() >= c->t_resume)
				c->state = c->retry ? SENDING : IDLE;
			if (c->state == PAUSED && c->t_resume < wake)
				wake = c->t_resume;
			if (c->state == IDLE && !stopping && dur < 0 &&
			    now_us() >= t_warm && sent_timed >= nreq)
				stopping = 1, t_stop = now_us();
			if (c->state == IDLE && stopping)
				c->state = DONE;
			rc = 0;
			if (c->state == SENDING && c->retry) {
				rc = start(c, &req_tpl, seq++, 0);
			} else if (c->state == IDLE && c->flood) {
				rc = start(c, &flood_tpl, fseq++, 1);
				flood_sent++;
			} else if (c->state == IDLE) {
				rc = start(c, &req_tpl, seq++, 1);
				c->timed = c->t_send >= t_warm;
				if (c->timed)
					sent_timed++;
			}
			if (rc < 0) {
				if (c->flood)
					flood_closed++;
				else
					err_closed++;
				redial(c);
				continue;
			}
			if (c->state == SENDING || c->state == WAITING ||
			    c->state == PAUSED)
				active++;
		}
		/* -n: the last request is out, the drain starts now. */
		if (!stopping && dur < 0 && sent_timed >= nreq) {
			stopping = 1;
			t_stop = now_us();
		}
		if (stopping && active == 0)
			break;
		for (i = 0; i < nall; i++) {
			struct conn *c = &conns[i];

			pfd[n].fd = c->state == SENDING || c->state == WAITING ?
					    c->fd : -1;
			pfd[n].events = c->state == SENDING ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		now = now_us();
		if (stopping)
			left = (int64_t)(drain * 1000) - (now - t_stop) / 1000 + 1;
		else if (dur >= 0)
			left = (t_end - now) / 1000 + 1;
		else
			left = 1000;
		if (wake != INT64_MAX && (wake - now) / 1000 + 1 < left)
			left = (wake - now) / 1000 + 1;
		if (left < 0)
			left = 0;
		if (left > 1000)
			left = 1000;
		if (poll(pfd, n, (int)left) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; i < nall; i++) {
			struct conn *c = &conns[i];
			ssize_t r;
			char *end;
			int64_t t;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (c->state == SENDING) {
				if (flush_out(c) == 0)
					continue;
				if (c->flood)
					flood_closed++;
				else
					err_closed++;
				goto reconnect;
			}
			r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			t = now_us();
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				if (c->flood) {
					flood_closed++;
				} else if (c->rlen > 0) {
					err_short++;
					show_bad("connection closed inside an answer",
						 c->rbuf, c->rlen);
				} else {
					err_closed++;
				}
				goto reconnect;
			}
			c->rlen += (size_t)r;
			end = memmem(c->rbuf, c->rlen, "\n\n", 2);
			if (end == NULL) {
				if (c->rlen == RBUF) {
					err_answer++;
					show_bad("answer too long", c->rbuf,
						 c->rlen);
					goto reconnect;
				}
				continue;
			}
			if ((size_t)(end + 2 - c->rbuf) != c->rlen) {
				err_answer++;
				show_bad("data after the answer", c->rbuf,
					 c->rlen);
				goto reconnect;
			}
			answer(c, t, t_end, dur >= 0, &answered,
			       &done_in_window, &t_last, plen, gap, flood_gap);
			continue;
reconnect:
			redial(c);
		}
	}

	/* Whatever is still outstanding after the drain is a timeout. */
	for (i = 0; i < nall; i++) {
		int out = conns[i].state == SENDING ||
			  conns[i].state == WAITING ||
			  (conns[i].state == PAUSED && conns[i].retry);

		if (out && conns[i].flood)
			flood_unanswered++;
		else if (out)
			err_timeout++;
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		free(conns[i].wbuf);
	}

	/* Did the stalled requests stay unanswered for the whole run? */
	for (i = 0; i < nstall; i++) {
		char buf[512];
		ssize_t r = look(stall_fd[i], buf, sizeof(buf));

		if (r > 0) {
			if (stall_answered++ == 0 || opt_verbose)
				show_bad("stalled request answered during the run",
					 buf, (size_t)r);
		} else if (r < 0) {
			stall_closed++;
		} else {
			stall_pending++;
		}
	}
	idle_open = still_open(idle_fd, nidle);
	half_open = still_open(half_fd, nhalf);

	{
		double secs;
		unsigned long errors = err_closed + err_short + err_answer +
				       err_timeout + err_connect +
				       flood_unanswered;
		int64_t t_fin = now_us();

		if (dur >= 0)
			secs = (double)(t_end - t_warm) / 1e6;
		else
			secs = t_last > t_warm ? (double)(t_last - t_warm) / 1e6 : 0;
		lats_sort(&lat);
		printf("requests=%llu seconds=%.3f rps=%.0f p50_us=%u p99_us=%u "
		       "errors=%lu p90_us=%u p999_us=%u max_us=%u mean_us=%.0f "
		       "samples=%zu answered=%llu err_closed=%lu err_short=%lu "
		       "err_answer=%lu err_timeout=%lu err_connect=%lu "
		       "retries=%lu",
		       done_in_window, secs,
		       secs > 0 ? (double)done_in_window / secs : 0.0,
		       pct(0.50), pct(0.99), errors, pct(0.90), pct(0.999),
		       lats_max(&lat), lats_mean(&lat), lat.n, answered,
		       err_closed, err_short, err_answer, err_timeout,
		       err_connect, retries);
		if (nstall > 0)
			printf(" stall=%lu stall_pending=%lu stall_answered=%lu "
			       "stall_closed=%lu stall_age_s=%.1f",
			       nstall, stall_pending, stall_answered,
			       stall_closed, (double)(t_fin - t_stall) / 1e6);
		if (nflood > 0)
			printf(" flood=%lu flood_sent=%llu flood_answered=%llu "
			       "flood_refused=%llu flood_closed=%llu "
			       "flood_unanswered=%llu flood_max_ms=%lld",
			       nflood, flood_sent, flood_answered,
			       flood_refused, flood_closed, flood_unanswered,
			       (long long)(flood_max_us / 1000));
		if (nidle > 0)
			printf(" idle_open=%lu idle_closed=%lu", idle_open,
			       nidle - idle_open);
		if (nhalf > 0)
			printf(" half_open=%lu half_closed=%lu", half_open,
			       nhalf - half_open);
		putchar('\n');
		fflush(stdout);
		for (i = 0; i < nstall; i++)
			close(stall_fd[i]);
		free(stall_fd);
		free(idle_fd);
		free(half_fd);
		free(lat.v);
		free(conns);
		free(pfd);
		free_template(&req_tpl);
		free_template(&flood_tpl);
		if (errors > 0 || stall_pending != nstall)
			return 1;
	}
	return 0;
}
