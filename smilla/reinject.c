/*
 * reinject.c - the SMTP client of mixed_recipients = split: submits one
 * copy of a message to the MTA's listener without smilla.  The contract
 * is reinject.h.
 *
 *   mil_reinject(service, helo, timeout, msg, qid, qidlen, why, whylen)
 *
 * One connection per copy, one command at a time (no pipelining: a
 * copy has a handful of recipients and the listener is local).  Every
 * wait is a poll() against the deadline of its step; every write is a
 * send() with MSG_NOSIGNAL.  All state lives in one struct conn per
 * call, so concurrent calls share nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "reinject.h"
#include "util.h"

/* Bounds on what the listener sends and what we send it. */
#define REPLY_LINE_MAX	2048	/* octets of a reply line, CRLF included */
#define REPLY_LINES_MAX	100	/* lines of one reply */
#define REPLY_KEEP	512	/* octets of a reply's first line kept */
#define CMD_MAX		2048	/* a command line of ours, CRLF included */
#define QUIT_WAIT_MS	1000	/* how long QUIT's reply is waited for */

/* Reply codes (RFC 5321 4.2.2, 4.2.3). */
#define SMTP_READY		220	/* the greeting */
#define SMTP_OK			250
#define SMTP_START_INPUT	354	/* after DATA */
#define SMTP_CLOSING		421	/* the server closes the channel */
#define SMTP_CLASS(code)	((code) / 100)
#define SMTP_POSITIVE		2
#define SMTP_TRANSIENT		4
#define SMTP_PERMANENT		5
/* EHLO not understood (RFC 5321 4.1.4: then HELO). */
#define SMTP_IS_UNRECOGNISED(code) ((code) == 500 || (code) == 502)

/* The EHLO keywords we look at (RFC 5321 4.1.1.1). */
#define EXT_SIZE	0x01	/* RFC 1870 */
#define EXT_8BITMIME	0x02	/* RFC 6152 */
#define EXT_SMTPUTF8	0x04	/* RFC 6531 */
#define EXT_DSN		0x08	/* RFC 3461 */
#define EXT_PIPELINING	0x10	/* RFC 2920: noted, not used */

static const struct {
	const char *keyword;
	unsigned bit;
} extensions[] = {
	{ "SIZE", EXT_SIZE },
	{ "8BITMIME", EXT_8BITMIME },
	{ "SMTPUTF8", EXT_SMTPUTF8 },
	{ "DSN", EXT_DSN },
	{ "PIPELINING", EXT_PIPELINING },
};

/* Where a parameter goes. */
#define AT_MAIL	1
#define AT_RCPT	2

/* The parameters a copy keeps, and the extension each needs. */
static const struct {
	const char *keyword;
	int valued;		/* KEYWORD=VALUE, else KEYWORD alone */
	int at;			/* AT_MAIL or AT_RCPT */
	unsigned need;		/* EXT_* */
	const char *ext;	/* its EHLO keyword, for WHY */
} parameters[] = {
	{ "BODY", 1, AT_MAIL, EXT_8BITMIME, "8BITMIME" },	/* RFC 6152 */
	{ "SMTPUTF8", 0, AT_MAIL, EXT_SMTPUTF8, "SMTPUTF8" },	/* RFC 6531 */
	{ "RET", 1, AT_MAIL, EXT_DSN, "DSN" },		/* RFC 3461 4.3 */
	{ "ENVID", 1, AT_MAIL, EXT_DSN, "DSN" },		/* RFC 3461 4.4 */
	{ "NOTIFY", 1, AT_RCPT, EXT_DSN, "DSN" },		/* RFC 3461 4.1 */
	{ "ORCPT", 1, AT_RCPT, EXT_DSN, "DSN" },		/* RFC 3461 4.2 */
};

struct conn {
	int fd;
	int timeout_ms;		/* of each step */
	int gone;		/* 421, an I/O error: send nothing more */
	char in[2 * REPLY_LINE_MAX];
	size_t inpos, inlen;
	char out[8192];
	size_t outlen;
};

/* One reply: its code and its first line as received (without CRLF). */
struct reply {
	int code;
	char line[REPLY_KEEP];
};

/* The text of errno E, thread-safe. */
static const char *
errtext(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

/* Milliseconds left until DEADLINE (sm_now_ms), at least 0. */
static int
left(int64_t deadline)
{
	int64_t ms = deadline - sm_now_ms();

	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * Wait until FD is ready for EVENTS or DEADLINE passes.  1 ready
 * (hang-ups and errors count: the next call says what they are), 0 timed
 * out, -1 poll failed (errno).
 */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&p, 1, left(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* ---------------------------------------------------------------- connect */

/* Connect a new non-blocking socket of AF to ADDR within DEADLINE. */
static int
connect_one(int af, const struct sockaddr *addr, socklen_t addrlen,
	    int64_t deadline, char *why, size_t whylen)
{
	char eb[128];
	int fd, err = 0, r;
	socklen_t errlen = sizeof(err);

	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sm_why(why, whylen, "socket: %s", errtext(errno, eb, sizeof(eb)));
		return -1;
	}
	if (connect(fd, addr, addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		/* EAGAIN for a unix socket: its backlog is full */
		sm_why(why, whylen, "%s", errtext(errno, eb, sizeof(eb)));
		close(fd);
		return -1;
	}
	r = wait_fd(fd, POLLOUT, deadline);
	if (r <= 0) {
		sm_why(why, whylen, "%s", r == 0 ? "timed out" :
		       errtext(errno, eb, sizeof(eb)));
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		err = errno;
	if (err != 0) {
		sm_why(why, whylen, "%s", errtext(err, eb, sizeof(eb)));
		close(fd);
		return -1;
	}
	return fd;
}

/* Connect to S within TIMEOUT_MS: the socket, or -1 with WHY. */
static int
open_conn(const struct sm_sock *s, int timeout_ms, char *why, size_t whylen)
{
	int64_t deadline = sm_now_ms() + timeout_ms;
	struct addrinfo hints, *res, *ai;
	struct sockaddr_un un;
	char port[8], inner[256];
	int fd = -1, r;

	if (s->family == SM_SOCK_UNIX) {
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		if (sm_strlcpy(un.sun_path, s->path, sizeof(un.sun_path)) >=
		    sizeof(un.sun_path)) {
			sm_why(why, whylen, "connect %s: path too long",
			       s->spec);
			return -1;
		}
		fd = connect_one(AF_UNIX, (struct sockaddr *)&un, sizeof(un),
				 deadline, inner, sizeof(inner));
		if (fd < 0)
			sm_why(why, whylen, "connect %s: %s", s->spec, inner);
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", s->port);
	/* A host name is the local resolver's: not bounded by TIMEOUT. */
	if ((r = getaddrinfo(s->host, port, &hints, &res)) != 0) {
		sm_why(why, whylen, "connect %s: %s", s->spec,
		       gai_strerror(r));
		return -1;
	}
	sm_strlcpy(inner, "no address", sizeof(inner));
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
				 deadline, inner, sizeof(inner));
	freeaddrinfo(res);
	if (fd < 0)
		sm_why(why, whylen, "connect %s: %s", s->spec, inner);
	return fd;
}

/* ------------------------------------------------------------ writing */

/* Send what C->out holds within DEADLINE.  0, or -1 with WHY. */
static int
flush_out(struct conn *c, int64_t deadline, char *why, size_t whylen)
{
	char eb[128];
	size_t done = 0;
	ssize_t n;
	int r;

	while (done < c->outlen) {
		n = send(c->fd, c->out + done, c->outlen - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = wait_fd(c->fd, POLLOUT, deadline)) > 0)
				continue;
			sm_why(why, whylen, "%s", r == 0 ? "timed out" :
			       errtext(errno, eb, sizeof(eb)));
		} else
			sm_why(why, whylen, "%s", errtext(errno, eb,
							  sizeof(eb)));
		c->gone = 1;
		return -1;
	}
	c->outlen = 0;
	return 0;
}

/* Append LEN octets to C->out, sending when it is full. */
static int
put(struct conn *c, const char *data, size_t len, int64_t deadline,
    char *why, size_t whylen)
{
	size_t n;

	while (len > 0) {
		if (c->outlen == sizeof(c->out) &&
		    flush_out(c, deadline, why, whylen) < 0)
			return -1;
		n = sizeof(c->out) - c->outlen;
		if (n > len)
			n = len;
		memcpy(c->out + c->outlen, data, n);
		c->outlen += n;
		data += n;
		len -= n;
	}
	return 0;
}

/* ------------------------------------------------------------ replies */

/*
 * One line from the listener into LINE (REPLY_LINE_MAX), its CRLF (or
 * a lone LF) removed, NUL-terminated.  Its length, or -1 with WHY: timed
 * out, closed, longer than REPLY_LINE_MAX with its line end, or holding
 * a NUL.
 */
static long
read_line(struct conn *c, char *line, int64_t deadline, char *why,
	  size_t whylen)
{
	char eb[128], *nl;
	size_t len;
	ssize_t n;
	int r;

	for (;;) {
		nl = memchr(c->in + c->inpos, '\n', c->inlen - c->inpos);
		if (nl != NULL) {
			len = (size_t)(nl - (c->in + c->inpos));
			if (len + 1 > REPLY_LINE_MAX)
				break;
			memcpy(line, c->in + c->inpos, len);
			c->inpos += len + 1;
			if (len > 0 && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			if (memchr(line, '\0', len) != NULL) {
				sm_why(why, whylen, "malformed reply (NUL)");
				return -1;
			}
			return (long)len;
		}
		if (c->inlen - c->inpos >= REPLY_LINE_MAX)
			break;
		memmove(c->in, c->in + c->inpos, c->inlen - c->inpos);
		c->inlen -= c->inpos;
		c->inpos = 0;
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0) {
			sm_why(why, whylen, "connection closed");
			c->gone = 1;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = wait_fd(c->fd, POLLIN, deadline)) > 0)
				continue;
			sm_why(why, whylen, "%s", r == 0 ?
			       "timed out waiting for the reply" :
			       errtext(errno, eb, sizeof(eb)));
		} else
			sm_why(why, whylen, "%s", errtext(errno, eb,
							  sizeof(eb)));
		c->gone = 1;
		return -1;
	}
	sm_why(why, whylen, "malformed reply (a line over %d octets)",
	       REPLY_LINE_MAX);
	c->gone = 1;
	return -1;
}

/*
 * read_reply - one reply (RFC 5321 4.2.1) within WAIT_MS: lines
 * "CODE-text" ending with "CODE text" or "CODE", CODE three digits
 * [2-5][0-5][0-9], the same on every line; at most REPLY_LINES_MAX
 * lines of at most REPLY_LINE_MAX octets each.  Fills R (the code and
 * the first line, cut to fit); calls EACH, when not NULL, with the text
 * after "CODE-" or "CODE " of every line (the EHLO keywords).  Returns
 * 0, or -1 with WHY for a timeout, a closed connection or a malformed
 * reply (the connection is then unusable: C->gone).
 */
static int
read_reply(struct conn *c, int wait_ms, struct reply *r,
	   void (*each)(void *arg, const char *text), void *arg, char *why,
	   size_t whylen)
{
	int64_t deadline = sm_now_ms() + wait_ms;
	char line[REPLY_LINE_MAX], shown[96];
	long len;
	int i, code;

	for (i = 0; i < REPLY_LINES_MAX; i++) {
		if ((len = read_line(c, line, deadline, why, whylen)) < 0)
			return -1;
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '5' || line[2] < '0' ||
		    line[2] > '9' ||
		    (len > 3 && line[3] != '-' && line[3] != ' '))
			goto malformed;
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		       (line[2] - '0');
		if (i == 0) {
			r->code = code;
			sm_strlcpy(r->line, line, sizeof(r->line));
		} else if (code != r->code)
			goto malformed;
		if (each != NULL)
			each(arg, len > 3 ? line + 4 : "");
		if (len == 3 || line[3] == ' ')
			return 0;
	}
	sm_why(why, whylen, "malformed reply (over %d lines)",
	       REPLY_LINES_MAX);
	c->gone = 1;
	return -1;
malformed:
	sm_why(why, whylen, "malformed reply \"%s\"",
	       sm_escape_quoted(line, shown, sizeof(shown)));
	c->gone = 1;
	return -1;
}

/* ----------------------------------------------------------- commands */

/*
 * Send the command FMT... and read its reply into R.  0, or -1 with
 * WHY naming STEP (timeout, closed, malformed).
 */
__attribute__((format(printf, 6, 7))) static int
command(struct conn *c, struct reply *r, char *why, size_t whylen,
	const char *step, const char *fmt, ...)
{
	char cmd[CMD_MAX], inner[256];
	int64_t deadline = sm_now_ms() + c->timeout_ms;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 2) {
		sm_why(why, whylen, "%s: command over %d octets", step,
		       CMD_MAX);
		return -1;
	}
	memcpy(cmd + n, "\r\n", 2);
	if (put(c, cmd, (size_t)n + 2, deadline, inner, sizeof(inner)) < 0 ||
	    flush_out(c, deadline, inner, sizeof(inner)) < 0 ||
	    read_reply(c, c->timeout_ms, r, NULL, NULL, inner,
		       sizeof(inner)) < 0) {
		sm_why(why, whylen, "%s: %s", step, inner);
		return -1;
	}
	return 0;
}

/*
 * R was not the reply STEP wanted: WHY quotes it; 1 for 4xx, 2 for 5xx,
 * -1 for anything else (a 2xx or 3xx out of place).
 */
static int
refused(struct conn *c, const struct reply *r, const char *step, char *why,
	size_t whylen)
{
	char shown[REPLY_KEEP * 4];

	if (r->code == SMTP_CLOSING)
		c->gone = 1;
	sm_why(why, whylen, "%s: %s\"%s\"", step,
	       SMTP_CLASS(r->code) == SMTP_TRANSIENT ||
	       SMTP_CLASS(r->code) == SMTP_PERMANENT ? "" : "unexpected reply ",
	       sm_escape_quoted(r->line, shown, sizeof(shown)));
	return SMTP_CLASS(r->code) == SMTP_TRANSIENT ? 1 :
	       SMTP_CLASS(r->code) == SMTP_PERMANENT ? 2 : -1;
}

/* End the session: QUIT unless the listener is gone, then close. */
static void
quit(struct conn *c)
{
	struct reply r;
	char why[64];
	int64_t deadline;
	int wait = c->timeout_ms < QUIT_WAIT_MS ? c->timeout_ms : QUIT_WAIT_MS;

	deadline = sm_now_ms() + wait;
	if (!c->gone && put(c, "QUIT\r\n", 6, deadline, why, sizeof(why)) == 0 &&
	    flush_out(c, deadline, why, sizeof(why)) == 0)
		(void)read_reply(c, wait, &r, NULL, NULL, why, sizeof(why));
	close(c->fd);
}

/* Abandon a transaction: RSET, its reply ignored. */
static void
rset(struct conn *c)
{
	struct reply r;
	char why[64];

	if (!c->gone)
		(void)command(c, &r, why, sizeof(why), "RSET", "RSET");
}

/* ---------------------------------------------------------- arguments */

/* 1 when S holds no control character (CR, LF, NUL...) and no DEL. */
static int
clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* 1 when S is a path in <>: no control characters. */
static int
path_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 2 && s[0] == '<' && s[len - 1] == '>' && clean(s);
}

/*
 * Check the parameters PARAMS (space-separated, may be NULL) of AT
 * against the listener's extensions EXT, and write them into OUT (size
 * OUTLEN) each after one space.  0, or -1 with WHY naming WHERE.
 */
static int
check_params(const char *params, int at, unsigned ext, const char *where,
	     char *out, size_t outlen, char *why, size_t whylen)
{
	char word[CMD_MAX], shown[256];
	const char *p = params != NULL ? params : "", *eq;
	size_t len, klen, used = 0, i;

	*out = '\0';
	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		len = strcspn(p, " \t");
		if (len >= sizeof(word)) {
			sm_why(why, whylen, "%s: parameter too long", where);
			return -1;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		p += len;
		eq = strchr(word, '=');
		klen = eq != NULL ? (size_t)(eq - word) : len;
		for (i = 0; i < sizeof(parameters) / sizeof(parameters[0]); i++)
			if (strlen(parameters[i].keyword) == klen &&
			    strncasecmp(word, parameters[i].keyword, klen) == 0)
				break;
		if (i == sizeof(parameters) / sizeof(parameters[0]) ||
		    parameters[i].at != at ||
		    (eq != NULL) != parameters[i].valued ||
		    (eq != NULL && eq[1] == '\0')) {
			sm_why(why, whylen, "%s: parameter \"%s\" is not one a "
			       "copy keeps", where, sm_escape_quoted(word, shown,
								sizeof(shown)));
			return -1;
		}
		if ((ext & parameters[i].need) == 0) {
			sm_why(why, whylen, "%s: parameter \"%s\" needs %s, "
			       "which the listener does not announce", where,
			       sm_escape_quoted(word, shown, sizeof(shown)),
			       parameters[i].ext);
			return -1;
		}
		if (used + 1 + len >= outlen) {
			sm_why(why, whylen, "%s: parameters too long", where);
			return -1;
		}
		out[used++] = ' ';
		memcpy(out + used, word, len + 1);
		used += len;
	}
	return 0;
}

/* ---------------------------------------------------------------- EHLO */

struct ehlo {
	int lines;
	unsigned ext;		/* EXT_* */
};

/* One line of the EHLO reply: after the first, a keyword and its args. */
static void
ehlo_line(void *arg, const char *text)
{
	struct ehlo *e = arg;
	size_t len = strcspn(text, " "), i;

	if (e->lines++ == 0)
		return;		/* the server's name and greeting */
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (strlen(extensions[i].keyword) == len &&
		    strncasecmp(text, extensions[i].keyword, len) == 0)
			e->ext |= extensions[i].bit;
}

/*
 * EHLO (HELO when the listener does not know EHLO): the extensions into
 * *EXT.  0, or the status (1, 2, -1) with WHY.
 */
static int
hello(struct conn *c, const char *helo, unsigned *ext, char *why,
      size_t whylen)
{
	int64_t deadline = sm_now_ms() + c->timeout_ms;
	struct ehlo e = { 0, 0 };
	struct reply r;
	char cmd[CMD_MAX], inner[256];
	int n;

	*ext = 0;
	n = snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", helo);
	if (n < 0 || (size_t)n >= sizeof(cmd)) {
		sm_why(why, whylen, "EHLO: name too long");
		return -1;
	}
	if (put(c, cmd, (size_t)n, deadline, inner, sizeof(inner)) < 0 ||
	    flush_out(c, deadline, inner, sizeof(inner)) < 0 ||
	    read_reply(c, c->timeout_ms, &r, ehlo_line, &e, inner,
		       sizeof(inner)) < 0) {
		sm_why(why, whylen, "EHLO: %s", inner);
		return -1;
	}
	if (r.code == SMTP_OK) {
		*ext = e.ext;
		return 0;
	}
	if (!SMTP_IS_UNRECOGNISED(r.code))
		return refused(c, &r, "EHLO", why, whylen);
	if (command(c, &r, why, whylen, "HELO", "HELO %s", helo) < 0)
		return -1;
	return r.code == SMTP_OK ? 0 : refused(c, &r, "HELO", why, whylen);
}

/* ---------------------------------------------------------------- DATA */

/*
 * The octets DATA has left, when it is a regular file (for SIZE=); 0
 * when that is not known.
 */
static unsigned long long
data_size(FILE *data)
{
	struct stat st;
	off_t at;
	int fd = fileno(data);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (at = ftello(data)) < 0 || at > st.st_size)
		return 0;
	return (unsigned long long)(st.st_size - at);
}

/*
 * Send DATA's octets as SMTP data (RFC 5321 4.5.2): bare LF made CRLF,
 * a '.' starting a line doubled, CRLF added at the end when missing,
 * then ".", all within TIMEOUT.  0, or -1 with WHY (the connection is
 * then unusable: the final "." must not follow a short copy).
 */
static int
send_data(struct conn *c, FILE *data, char *why, size_t whylen)
{
	int64_t deadline = sm_now_ms() + c->timeout_ms;
	char buf[4096], eb[128], inner[256];
	int bol = 1, cr = 0;	/* at a line's start; after a CR */
	size_t n, i, start;

	while ((n = fread(buf, 1, sizeof(buf), data)) > 0) {
		/* Runs of octets that need nothing go out as they are. */
		for (i = start = 0; i < n; i++) {
			const char *insert = NULL;

			if (buf[i] == '\n' && !cr)
				insert = "\r";
			else if (buf[i] == '.' && bol)
				insert = ".";
			bol = buf[i] == '\n';
			cr = buf[i] == '\r';
			if (insert == NULL)
				continue;
			if (put(c, buf + start, i - start, deadline, inner,
				sizeof(inner)) < 0 ||
			    put(c, insert, 1, deadline, inner,
				sizeof(inner)) < 0)
				goto failed;
			start = i;
		}
		if (put(c, buf + start, n - start, deadline, inner,
			sizeof(inner)) < 0)
			goto failed;
	}
	if (ferror(data)) {
		sm_why(why, whylen, "DATA: reading the message: %s",
		       errtext(errno, eb, sizeof(eb)));
		c->gone = 1;
		return -1;
	}
	/* A last line without its end: CRLF (a lone CR gets its LF). */
	if (!bol && put(c, cr ? "\n" : "\r\n", cr ? 1 : 2, deadline, inner,
			sizeof(inner)) < 0)
		goto failed;
	if (put(c, ".\r\n", 3, deadline, inner, sizeof(inner)) < 0 ||
	    flush_out(c, deadline, inner, sizeof(inner)) < 0)
		goto failed;
	return 0;
failed:
	sm_why(why, whylen, "DATA: sending the message: %s", inner);
	c->gone = 1;
	return -1;
}

/*
 * The queue id in the final 250 reply R into QID (QIDLEN): the word
 * after "queued as " (Postfix: "2.0.0 Ok: queued as ID"), the word
 * before " Message accepted for delivery" (Sendmail: "2.0.0 ID Message
 * accepted for delivery"), else the text after the code, escaped.
 */
static void
queue_id(const struct reply *r, char *qid, size_t qidlen)
{
	static const char mark[] = "queued as ";
	static const char sm_mark[] = " Message accepted for delivery";
	char id[REPLY_KEEP], shown[REPLY_KEEP * 4];
	const char *text = strlen(r->line) > 4 ? r->line + 4 : "", *p, *w;
	size_t len;

	for (p = text; *p != '\0'; p++)
		if (strncasecmp(p, mark, sizeof(mark) - 1) == 0)
			break;
	if (*p != '\0' && (len = strcspn(p + sizeof(mark) - 1, " \t")) > 0) {
		memcpy(id, p + sizeof(mark) - 1, len);
		id[len] = '\0';
		text = id;
	} else if ((p = strstr(text, sm_mark)) != NULL && p > text &&
		   p[-1] != ' ') {
		for (w = p; w > text && w[-1] != ' '; w--)
			;
		memcpy(id, w, (size_t)(p - w));
		id[p - w] = '\0';
		text = id;
	}
	sm_strlcpy(qid, sm_escape_quoted(text, shown, sizeof(shown)), qidlen);
}

/* ------------------------------------------------------------- session */

/* MAIL, RCPT, DATA and the data on a greeted connection. */
static int
transaction(struct conn *c, const char *helo, const struct mil_reinject_msg *m,
	    char *qid, size_t qidlen, char *why, size_t whylen)
{
	char mail[CMD_MAX], (*rcpt)[CMD_MAX] = NULL, step[CMD_MAX + 16];
	char shown[512];
	unsigned ext;
	unsigned long long size;
	struct reply r;
	size_t i;
	int rc;

	if ((rc = hello(c, helo, &ext, why, whylen)) != 0)
		return rc;
	if (check_params(m->mail_params, AT_MAIL, ext, "MAIL FROM", mail,
			 sizeof(mail), why, whylen) < 0)
		return -1;
	if ((ext & EXT_SIZE) && (size = data_size(m->data)) > 0) {
		size_t used = strlen(mail);

		snprintf(mail + used, sizeof(mail) - used, " SIZE=%llu", size);
	}
	/* Every recipient's parameters, checked before anything is sent. */
	if ((rcpt = calloc(m->nrcpt, sizeof(*rcpt))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++) {
		snprintf(step, sizeof(step), "RCPT TO %s",
			 sm_escape(m->rcpt[i].addr, shown, sizeof(shown)));
		if (check_params(m->rcpt[i].params, AT_RCPT, ext, step,
				 rcpt[i], sizeof(rcpt[i]), why, whylen) < 0) {
			rc = -1;
			goto done;
		}
	}
	snprintf(step, sizeof(step), "MAIL FROM %s",
		 sm_escape(m->sender, shown, sizeof(shown)));
	if ((rc = command(c, &r, why, whylen, step, "MAIL FROM:%s%s",
			  m->sender, mail)) < 0)
		goto done;
	if (SMTP_CLASS(r.code) != SMTP_POSITIVE) {
		rc = refused(c, &r, step, why, whylen);
		goto done;
	}
	for (i = 0; i < m->nrcpt; i++) {
		snprintf(step, sizeof(step), "RCPT TO %s",
			 sm_escape(m->rcpt[i].addr, shown, sizeof(shown)));
		if ((rc = command(c, &r, why, whylen, step, "RCPT TO:%s%s",
				  m->rcpt[i].addr, rcpt[i])) < 0)
			goto done;
		if (SMTP_CLASS(r.code) != SMTP_POSITIVE) {
			rc = refused(c, &r, step, why, whylen);
			rset(c);
			goto done;
		}
	}
	if ((rc = command(c, &r, why, whylen, "DATA", "DATA")) < 0)
		goto done;
	if (r.code != SMTP_START_INPUT) {
		rc = refused(c, &r, "DATA", why, whylen);
		rset(c);
		goto done;
	}
	if ((rc = send_data(c, m->data, why, whylen)) < 0)
		goto done;
	if (read_reply(c, c->timeout_ms, &r, NULL, NULL, shown,
		       sizeof(shown)) < 0) {
		sm_why(why, whylen, "end of DATA: %s", shown);
		rc = -1;
		goto done;
	}
	if (SMTP_CLASS(r.code) != SMTP_POSITIVE) {
		rc = refused(c, &r, "end of DATA", why, whylen);
		goto done;
	}
	queue_id(&r, qid, qidlen);
	rc = 0;
done:
	free(rcpt);
	return rc;
}

int
mil_reinject(const char *service, const char *helo, int timeout,
	     const struct mil_reinject_msg *m, char *qid, size_t qidlen,
	     char *why, size_t whylen)
{
	struct sm_sock *sock = NULL;
	struct conn *c = NULL;
	struct reply r;
	char inner[256];
	size_t n, i;
	int rc = -1;

	if (qidlen > 0)
		*qid = '\0';
	sm_why(why, whylen, "%s", "");
	if (timeout <= 0 || timeout > INT32_MAX / 1000 || helo == NULL ||
	    *helo == '\0' || strchr(helo, ' ') != NULL || !clean(helo) ||
	    m == NULL || m->sender == NULL || !path_ok(m->sender) ||
	    m->nrcpt == 0 || m->rcpt == NULL || m->data == NULL ||
	    (m->mail_params != NULL && !clean(m->mail_params))) {
		sm_why(why, whylen, "bad arguments (timeout, HELO name, "
		       "sender, parameters, no recipient or no data)");
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].addr == NULL || !path_ok(m->rcpt[i].addr) ||
		    (m->rcpt[i].params != NULL && !clean(m->rcpt[i].params))) {
			sm_why(why, whylen, "bad recipient %zu (a path in <>, "
			       "no control characters)", i + 1);
			return -1;
		}
	if (service == NULL ||
	    sm_config_parse_sockets(service, SM_SOCKS_POLICY, &sock, &n, inner,
				    sizeof(inner)) < 0 || n != 1) {
		sm_why(why, whylen, "reinject service: %s", sock == NULL ?
		       inner : "one socket, not several");
		goto done;
	}
	/* On the heap: a milter thread's stack is not ours to size. */
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	c->timeout_ms = timeout * 1000;
	if ((c->fd = open_conn(sock, c->timeout_ms, why, whylen)) < 0)
		goto done;
	if (read_reply(c, c->timeout_ms, &r, NULL, NULL, inner,
		       sizeof(inner)) < 0) {
		sm_why(why, whylen, "greeting: %s", inner);
		rc = -1;
	} else if (r.code != SMTP_READY)
		rc = refused(c, &r, "greeting", why, whylen);
	else
		rc = transaction(c, helo, m, qid, qidlen, why, whylen);
	quit(c);
done:
	if (rc != 0 && qidlen > 0)
		*qid = '\0';
	free(c);
	free(sock);
	return rc;
}
