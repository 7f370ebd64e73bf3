/*
 * milter-load.c - load generator for milters: the MTA side of the
 * Sendmail milter protocol (version 6), spoken directly on the socket.
 *
 *   milter-load (-u PATH | -t HOST:PORT) [-c CONNS] [-n MSGS | -d SECONDS]
 *               [-w WARMUP] [-b BODY_OCTETS | -m MESSAGE] [-r RCPT]...
 *               [-f SENDER] [-s MSGS_PER_SESSION] [-T TIMEOUT]
 *               [-H STATUS_HEADER] [-A METHOD] [-o PREFIX]
 *               [-P PROTOCOL_MASK] [-v]
 *
 *   -c  connections, one thread each (default 1)
 *   -n  timed messages per connection; -d instead: measured seconds
 *       (both: whichever ends first; neither: -n 1)
 *   -w  warm-up seconds (default 0): messages started in them are sent
 *       and checked but not timed
 *   -b  body size in octets (default 102400): CRLF lines of text
 *   -m  send the message in file MESSAGE instead (a signed one, say):
 *       its header fields as they are (folded lines joined with LF, as
 *       Postfix sends them), after milter-load's Received and, unless
 *       MESSAGE has one, a unique Message-ID; its body after the empty
 *       line, each line end made CRLF.  -b is then ignored
 *   -r  envelope recipient, repeatable (default bench@example.test);
 *       a comma-separated list counts as several
 *   -f  envelope sender (default sender@bench.smilla.test)
 *   -s  messages per milter session: after that many, QUIT, reconnect and
 *       negotiate again (default 0: one session per connection for the
 *       whole run)
 *   -T  seconds to wait for any one reply (default 120)
 *   -H  name of the milter's status header (default X-Smilla): added or
 *       changed header fields of that name are counted by the first word
 *       of their value (encrypted / plaintext / other)
 *   -A  method of the Authentication-Results the milter adds (smime,
 *       x-pgp, ...): an added, inserted or changed Authentication-Results
 *       field counts as auth_pass when its first result is METHOD=pass,
 *       as auth_other otherwise (without -A: any method's pass)
 *   -o  write the last message of connection 0 that got a replaced body
 *       (or, when none did, the last message): PREFIX.body (the
 *       replacement body, as sent by the milter; empty if none),
 *       PREFIX.entity (the original MIME entity: the Content-* header
 *       fields + CRLF + body, to compare with a decryption of the
 *       replacement) and PREFIX.mods (its header changes, one a line)
 *   -P  protocol flags offered to the milter, hex (default 0x1fffff,
 *       SMFI_CURR_PROT: everything Postfix offers)
 *   -v  report every bad or unexpected reply on stderr, not only the
 *       first few
 *
 * Protocol (libmilter's, checked against <libmilter/mfdef.h>): each
 * packet is a 4-octet big-endian length, the command octet, then data.
 * A session opens with SMFIC_OPTNEG (version 6, all actions
 * SMFI_CURR_ACTS, the -P protocol flags).  Whatever the milter answers
 * is honoured: a step it asked not to get (SMFIP_NO*) is not sent, a
 * step it will not answer (SMFIP_NR_*) is not waited for, a header value
 * gets a leading space with SMFIP_HDR_LEADSPC, SMFIR_SKIP ends the body
 * early.  milter-load itself skips nothing.  Then SMFIC_CONNECT (with
 * macros j, {daemon_name}, v, _) and SMFIC_HELO.  Each message, as
 * Postfix sends it:
 *   SMFIC_MACRO 'M' {i} {mail_addr}, SMFIC_MAIL "<sender>" SIZE=n;
 *   per recipient SMFIC_MACRO 'R' {rcpt_addr}, SMFIC_RCPT "<rcpt>";
 *   SMFIC_DATA; SMFIC_HEADER for Received, From, To, Subject, Date,
 *   Message-ID (unique), MIME-Version, Content-Type (text/plain), or
 *   with -m Received, Message-ID and MESSAGE's fields;
 *   SMFIC_EOH; SMFIC_BODY in chunks of 65535 octets (MILTER_CHUNK_SIZE);
 *   SMFIC_MACRO 'E' {i}, SMFIC_BODYEOB;
 * every reply is read: SMFIR_PROGRESS is skipped; at end of message the
 * modifications (SMFIR_ADDHEADER, SMFIR_INSHEADER, SMFIR_CHGHEADER,
 * SMFIR_REPLBODY chunks, SMFIR_ADDRCPT, ...) are read and counted up to
 * the final SMFIR_ACCEPT / CONTINUE / TEMPFAIL / REJECT / REPLYCODE /
 * DISCARD.  A recipient refused at RCPT is counted and left out; a
 * message refused earlier than the end ends there.  Then SMFIC_ABORT
 * (libmilter ignores it after end of message, and resets the
 * transaction when it ended early), and the next message follows on the
 * same session; SMFIC_QUIT at the end.
 *
 * The latency of a message is the time from just before its first
 * packet (the MAIL macros) to the read(2) that completes its final reply
 * (CLOCK_MONOTONIC).  The rate counts the timed messages over the time
 * from the end of the warm-up to the last timed completion.
 *
 * Output, one line on stdout:
 *   msgs=N seconds=S mps=R p50_us= p99_us= errors=E tempfail=T
 *   followed by p90_us max_us mean_us, total (every message, warm-up
 *   included), the final replies accept continue tempfail reject
 *   discard other (REPLYCODE 4xx counts as tempfail, 5xx as reject;
 *   replycode says how many came as REPLYCODE), early (messages that
 *   ended before end of message), rcpt_refused, the modifications
 *   replbody_msgs replbody_bytes hdr_add hdr_ins hdr_chg mod_other,
 *   status_encrypted status_plaintext status_other (the -H header),
 *   auth_pass auth_other (Authentication-Results, see -A), sessions,
 *   body (its octets) and rcpts, and the negotiated version, actions
 *   and protocol flags.
 * Exit status: 0 when errors=0 and tempfail=0, 1 otherwise, 2 on usage
 * or setup errors.  An error is a failed connect or write, a closed
 * connection, a reply not in within -T seconds, a malformed or
 * unexpected reply, or SMFIR_SHUTDOWN / SMFIR_CONN_FAIL.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <libmilter/mfdef.h>

#define BENCH_PROG "milter-load"
#include "benchutil.h"

/* SMFI_CURR_PROT etc. come from mfdef.h; these checks pin the values
 * this file was written against. */
#if SMFI_PROT_VERSION != 6 || MILTER_CHUNK_SIZE != 65535 || \
    SMFI_CURR_ACTS != 0x000001FFL || SMFI_CURR_PROT != 0x001FFFFFL
#error "unexpected libmilter protocol constants"
#endif

#define MAX_PACKET (64u * 1024 * 1024)	/* sanity limit on a reply */
#define WFLUSH (256u * 1024)		/* flush the write buffer above */
#define SHOW_MAX 5			/* bad replies shown without -v */

enum {
	F_ACCEPT, F_CONTINUE, F_TEMPFAIL, F_REJECT, F_DISCARD, F_OTHER,
	F_N
};
static const char *const fname[F_N] = {
	"accept", "continue", "tempfail", "reject", "discard", "other"
};

struct counts {
	unsigned long long total, final[F_N], replycode, early, rcpt_refused;
	unsigned long long replbody_msgs, replbody_bytes;
	unsigned long long hdr_add, hdr_ins, hdr_chg, mod_other;
	unsigned long long st_enc, st_plain, st_other;
	unsigned long long auth_pass, auth_other;
	unsigned long long errors, sessions;
};

/* -o: what the milter sent back for one message. */
struct saved {
	unsigned char *body;		/* the replacement body */
	size_t len, cap;
	char *mods;			/* the header changes, one a line */
	size_t mlen, mcap;
	int replaced;			/* the body was replaced */
};

/* A header field of the message: VALUE NULL is the unique Message-ID. */
struct field {
	char *name, *value;
};

struct worker {
	int id;
	pthread_t th;
	int fd;
	unsigned long prot;		/* the milter's protocol flags */
	int in_session;
	unsigned long sess_msgs;
	unsigned long long seq;
	/* buffers */
	unsigned char *rbuf;
	size_t rpos, rlen, rcap;
	unsigned char *wbuf;
	size_t wlen, wcap;
	/* results */
	struct counts n;
	struct lats lat;		/* of the timed messages */
	int64_t last_done;		/* last timed completion */
	/* -o, connection 0 only: the message under way, the one kept */
	struct saved cur, kept;
	int have_kept;
};

/* options */
static const char *opt_unix, *opt_tcp;
static const char *opt_from = "sender@bench.smilla.test";
static const char *opt_status = "X-Smilla";
static const char *opt_auth;
static const char *opt_out, *opt_msg;
static int opt_conns = 1, opt_verbose;
static unsigned long opt_msgs, opt_per_session;
static double opt_secs, opt_warm;
static size_t opt_body = 102400;
static int opt_timeout = 120;
static unsigned long opt_prot = SMFI_CURR_PROT;
static char **rcpts;
static size_t nrcpts;

/* shared */
static struct peer peer;
static char *body;			/* the message body, opt_body octets */
static struct field *fields;		/* its header after Received */
static size_t nfields;
static char date_hdr[64];
static char *to_hdr;
static int64_t t_timed, t_end;		/* monotonic microseconds */
static pthread_barrier_t barrier;
static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;
static int shown;
static unsigned long neg_version, neg_actions, neg_prot;

/* A bad or unexpected reply: shown on stderr (the first few). */
static void
show(const struct worker *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&show_lock);
	if (opt_verbose || shown < SHOW_MAX) {
		fprintf(stderr, "milter-load: conn %d: ", w->id);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	} else if (shown == SHOW_MAX) {
		fputs("milter-load: (more not shown; -v shows all)\n", stderr);
	}
	shown++;
	pthread_mutex_unlock(&show_lock);
}

static void
usage(void)
{
	fputs("usage: milter-load (-u PATH | -t HOST:PORT) [-c CONNS] "
	      "[-n MSGS | -d SECONDS] [-w WARMUP]\n"
	      "           [-b BODY_OCTETS | -m MESSAGE] [-r RCPT]... "
	      "[-f SENDER] [-s MSGS_PER_SESSION]\n"
	      "           [-T TIMEOUT] [-H STATUS_HEADER] [-A METHOD] "
	      "[-o PREFIX] [-P PROTOCOL_MASK] [-v]\n", stderr);
	exit(2);
}

static void
grow(void *pp, size_t *cap, size_t need)
{
	void **p = pp;
	size_t c = *cap ? *cap : 4096;

	if (need <= *cap)
		return;
	while (c < need)
		c *= 2;
	*p = xrealloc(*p, c);
	*cap = c;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* ---------------------------------------------------------------- setup */

static void
add_rcpts(const char *arg)
{
	const char *p = arg, *q;

	for (;;) {
		q = strchr(p, ',');
		size_t l = q ? (size_t)(q - p) : strlen(p);

		while (l > 0 && isspace((unsigned char)*p)) {
			p++;
			l--;
		}
		while (l > 0 && isspace((unsigned char)p[l - 1]))
			l--;
		if (l > 0) {
			char *r = xmalloc(l + 1);

			memcpy(r, p, l);
			r[l] = '\0';
			rcpts = xrealloc(rcpts, (nrcpts + 1) * sizeof(*rcpts));
			rcpts[nrcpts++] = r;
		}
		if (q == NULL)
			break;
		p = q + 1;
	}
}

/* CRLF lines of printable text, exactly opt_body octets. */
static void
make_body(void)
{
	static const char words[] =
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, "
		"sed do eiusmod tempor incididunt ut labore et dolore magna "
		"aliqua. Ut enim ad minim veniam, quis nostrud exercitation ";
	size_t i = 0, line = 0, wl = sizeof(words) - 1, k = 0;

	body = xmalloc(opt_body + 1);
	while (i < opt_body) {
		size_t left = opt_body - i, col;
		char num[16];
		int nl = snprintf(num, sizeof(num), "%06zu ", line++ % 1000000);

		if (left <= 2) {
			memcpy(body + i, "\r\n", left);
			i += left;
			break;
		}
		/* 72 text octets + CRLF, or what is left */
		for (col = 0; col < 72 && col + 2 < left; col++) {
			if (col < (size_t)nl)
				body[i + col] = num[col];
			else
				body[i + col] = words[k++ % wl];
		}
		body[i + col] = '\r';
		body[i + col + 1] = '\n';
		i += col + 2;
	}
	body[opt_body] = '\0';
}

static void
make_headers(void)
{
	time_t t = time(NULL);
	struct tm tm;
	size_t i, len = 1;

	gmtime_r(&t, &tm);
	strftime(date_hdr, sizeof(date_hdr), "%a, %d %b %Y %H:%M:%S +0000",
		 &tm);
	for (i = 0; i < nrcpts; i++)
		len += strlen(rcpts[i]) + 4;
	to_hdr = xmalloc(len);
	to_hdr[0] = '\0';
	for (i = 0; i < nrcpts; i++) {
		if (i > 0)
			strcat(to_hdr, ", ");
		strcat(to_hdr, "<");
		strcat(to_hdr, rcpts[i]);
		strcat(to_hdr, ">");
	}
}

static void
add_field(const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct field *f;

	fields = xrealloc(fields, (nfields + 1) * sizeof(*fields));
	f = &fields[nfields++];
	f->name = xmalloc(nlen + 1);
	memcpy(f->name, name, nlen);
	f->name[nlen] = '\0';
	f->value = NULL;
	if (value != NULL) {
		f->value = xmalloc(vlen + 1);
		memcpy(f->value, value, vlen);
		f->value[vlen] = '\0';
	}
}

static void
add_fixed(const char *name, const char *value)
{
	add_field(name, strlen(name), value, value ? strlen(value) : 0);
}

/* The text/plain message's header fields (after Received). */
static void
make_fields(void)
{
	add_fixed("From", "Bench Sender <sender@bench.smilla.test>");
	add_fixed("To", to_hdr);
	add_fixed("Subject", "milter benchmark message");
	add_fixed("Date", date_hdr);
	add_fixed("Message-ID", NULL);
	add_fixed("MIME-Version", "1.0");
	add_fixed("Content-Type", "text/plain; charset=us-ascii");
}

/*
 * -m PATH: the header fields and the body of the message in PATH.  A
 * field's value starts after the colon and the blanks after it; its
 * continuation lines are joined with LF (CR dropped), as Postfix sends
 * them.  The body is taken with every line end made CRLF.
 */
static void
read_message(const char *path)
{
	char *m, *p, *end, *name = NULL, *val = NULL;
	size_t len, nlen = 0, vlen = 0, i;
	int have_mid = 0;
	char *v;

	m = read_file(path, &len);
	end = m + len;
	/* Message-ID first: its place in the field list. */
	add_fixed("Message-ID", NULL);
	for (p = m; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > 0 && (*p == ' ' || *p == '\t')) {
			/* a continuation: name and val grow in place */
			if (name == NULL)
				die("%s: a continuation line before any field",
				    path);
			val[vlen] = '\n';
			memmove(val + vlen + 1, p, ll);
			vlen += 1 + ll;
		} else {
			if (name != NULL) {
				add_field(name, nlen, val, vlen);
				name = NULL;
			}
			if (ll == 0) {
				p = nl ? nl + 1 : end;
				break;
			}
			if ((v = memchr(p, ':', ll)) == NULL || v == p)
				die("%s: not a header field: %.*s", path,
				    (int)ll, p);
			name = p;
			nlen = (size_t)(v - p);
			for (v++; v < p + ll && (*v == ' ' || *v == '\t'); v++)
				;
			/* The value is rebuilt over this line's octets,
			   which only shrink: LF for CRLF. */
			val = v;
			vlen = (size_t)(p + ll - v);
			if (nlen == 10 && strncasecmp(name, "Message-ID", 10) == 0)
				have_mid = 1;
		}
		p = nl ? nl + 1 : end;
	}
	if (name != NULL)
		die("%s: no empty line after the header", path);
	if (have_mid) {
		/* MESSAGE's own: no unique one */
		free(fields[0].name);
		memmove(fields, fields + 1, --nfields * sizeof(*fields));
	}
	/* The body, CRLF line ends. */
	body = xmalloc(2 * (size_t)(end - p) + 1);
	for (i = 0; p < end; p++) {
		if (*p == '\n' && (i == 0 || body[i - 1] != '\r'))
			body[i++] = '\r';
		body[i++] = *p;
	}
	body[i] = '\0';
	opt_body = i;
	free(m);
}

/* ---------------------------------------------------------------- I/O */

static int
flush_out(struct worker *w)
{
	size_t off = 0;

	while (off < w->wlen) {
		ssize_t n = write(w->fd, w->wbuf + off, w->wlen - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			show(w, "write: %s", errno == EAGAIN ?
			     "timed out" : strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	w->wlen = 0;
	return 0;
}

/* Queue one packet: CMD and LEN octets of DATA (DATA2/LEN2 appended). */
static int
put_cmd2(struct worker *w, char cmd, const void *data, size_t len,
	 const void *data2, size_t len2)
{
	size_t tot = 1 + len + len2;

	grow(&w->wbuf, &w->wcap, w->wlen + 4 + tot);
	put32(w->wbuf + w->wlen, (uint32_t)tot);
	w->wbuf[w->wlen + 4] = (unsigned char)cmd;
	if (len)
		memcpy(w->wbuf + w->wlen + 5, data, len);
	if (len2)
		memcpy(w->wbuf + w->wlen + 5 + len, data2, len2);
	w->wlen += 4 + tot;
	return w->wlen >= WFLUSH ? flush_out(w) : 0;
}

static int
put_cmd(struct worker *w, char cmd, const void *data, size_t len)
{
	return put_cmd2(w, cmd, data, len, NULL, 0);
}

/* Build NUL-terminated strings into a small buffer: strs(buf, cap, &len,
 * s1, s2, ..., NULL). */
static size_t
strs(char *buf, size_t cap, ...)
{
	va_list ap;
	const char *s;
	size_t len = 0;

	va_start(ap, cap);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t l = strlen(s) + 1;

		if (len + l > cap)
			die("internal: packet too long");
		memcpy(buf + len, s, l);
		len += l;
	}
	va_end(ap);
	return len;
}

/* Make N octets available in the read buffer (from rpos). */
static int
fill(struct worker *w, size_t n)
{
	if (w->rlen - w->rpos >= n)
		return 0;
	if (w->rpos > 0) {
		memmove(w->rbuf, w->rbuf + w->rpos, w->rlen - w->rpos);
		w->rlen -= w->rpos;
		w->rpos = 0;
	}
	grow(&w->rbuf, &w->rcap, n < 65536 ? 65536 : n);
	while (w->rlen < n) {
		ssize_t r = read(w->fd, w->rbuf + w->rlen, w->rcap - w->rlen);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			show(w, "read: %s", errno == EAGAIN ?
			     "no reply within -T seconds" : strerror(errno));
			return -1;
		}
		if (r == 0) {
			show(w, "connection closed by the milter");
			return -1;
		}
		w->rlen += (size_t)r;
	}
	return 0;
}

/* Read one packet; *data points into the read buffer until the next
 * call.  Flushes pending output first. */
static int
get_reply(struct worker *w, char *cmd, unsigned char **data, size_t *len)
{
	uint32_t l;

	if (w->wlen > 0 && flush_out(w) < 0)
		return -1;
	if (fill(w, 4) < 0)
		return -1;
	l = get32(w->rbuf + w->rpos);
	if (l < 1 || l > MAX_PACKET) {
		show(w, "bad packet length %u", l);
		return -1;
	}
	if (fill(w, 4 + (size_t)l) < 0)
		return -1;
	*cmd = (char)w->rbuf[w->rpos + 4];
	*data = w->rbuf + w->rpos + 5;
	*len = l - 1;
	w->rpos += 4 + (size_t)l;
	return 0;
}

/* ---------------------------------------------------------------- replies */

static int
printable_cmd(char c)
{
	return isprint((unsigned char)c) ? c : '?';
}

/* A final reply (accept, continue, tempfail, reject, replycode,
 * discard) into *f; 0 if CMD is one, -1 if not. */
static int
classify(struct worker *w, char cmd, const unsigned char *d, size_t len,
	 int *f)
{
	switch (cmd) {
	case SMFIR_ACCEPT:
		*f = F_ACCEPT;
		return 0;
	case SMFIR_CONTINUE:
		*f = F_CONTINUE;
		return 0;
	case SMFIR_TEMPFAIL:
		*f = F_TEMPFAIL;
		return 0;
	case SMFIR_REJECT:
		*f = F_REJECT;
		return 0;
	case SMFIR_DISCARD:
		*f = F_DISCARD;
		return 0;
	case SMFIR_REPLYCODE:
		w->n.replycode++;
		if (len > 0 && d[0] == '4')
			*f = F_TEMPFAIL;
		else if (len > 0 && d[0] == '5')
			*f = F_REJECT;
		else
			*f = F_OTHER;
		return 0;
	default:
		return -1;
	}
}

static void
show_final(struct worker *w, const char *stage, char cmd,
	   const unsigned char *d, size_t len)
{
	if (cmd == SMFIR_REPLYCODE)
		show(w, "%s: replycode \"%.*s\"", stage,
		     (int)(len > 0 && d[len - 1] == '\0' ? len - 1 : len), d);
	else
		show(w, "%s: reply '%c'", stage, printable_cmd(cmd));
}

/* The reply to one step before end of message: 0 continue, 1 final
 * (*f set), -1 error. */
static int
step_reply(struct worker *w, const char *stage, int *f)
{
	char cmd;
	unsigned char *d;
	size_t len;

	for (;;) {
		if (get_reply(w, &cmd, &d, &len) < 0)
			return -1;
		if (cmd == SMFIR_PROGRESS)
			continue;
		if (cmd == SMFIR_CONTINUE)
			return 0;
		if (classify(w, cmd, d, len, f) == 0) {
			if (*f == F_TEMPFAIL || *f == F_REJECT ||
			    *f == F_OTHER)
				show_final(w, stage, cmd, d, len);
			return 1;
		}
		show(w, "%s: unexpected reply '%c' (%zu octets)", stage,
		     printable_cmd(cmd), len);
		return -1;
	}
}

static void
save_mod(struct worker *w, const char *what, const char *name,
	 const char *value)
{
	size_t need;

	if (opt_out == NULL || w->id != 0)
		return;
	need = strlen(what) + strlen(name) + strlen(value) + 5;
	grow(&w->cur.mods, &w->cur.mcap, w->cur.mlen + need);
	w->cur.mlen += (size_t)snprintf(w->cur.mods + w->cur.mlen, need,
					"%s %s: %s\n", what, name, value);
}

/*
 * Is the first result of Authentication-Results VALUE a pass, of
 * METHOD (any method when NULL)?  "authserv-id [version]; method=result
 * ...": the comments of RFC 8601 are not looked for (the milters this
 * is for write none before the first result).
 */
static int
auth_pass(const char *value, const char *method)
{
	const char *p = strchr(value, ';'), *eq;
	size_t ml;

	if (p == NULL)
		return 0;
	for (p++; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	if ((eq = strchr(p, '=')) == NULL)
		return 0;
	ml = (size_t)(eq - p);
	if (method != NULL &&
	    (ml != strlen(method) || strncasecmp(p, method, ml) != 0))
		return 0;
	/* strchr finds the NUL too: the value may end after "pass" */
	return strncasecmp(eq + 1, "pass", 4) == 0 &&
	       strchr(" \t\r\n;", eq[5]) != NULL;
}

/* A header modification: DATA is [index] name NUL value NUL. */
static int
header_mod(struct worker *w, char cmd, const unsigned char *d, size_t len)
{
	const char *name, *value, *what;
	size_t off = 0, nl;

	if (cmd != SMFIR_ADDHEADER) {
		if (len < 4)
			goto bad;
		off = 4;
	}
	name = (const char *)d + off;
	nl = strnlen(name, len - off);
	if (off + nl + 1 >= len || d[len - 1] != '\0')
		goto bad;
	value = name + nl + 1;
	switch (cmd) {
	case SMFIR_ADDHEADER:
		w->n.hdr_add++;
		what = "add";
		break;
	case SMFIR_INSHEADER:
		w->n.hdr_ins++;
		what = "ins";
		break;
	default:
		w->n.hdr_chg++;
		what = *value ? "chg" : "del";
		break;
	}
	save_mod(w, what, name, value);
	if (strcasecmp(name, opt_status) == 0 && *value != '\0') {
		const char *v = value;

		while (*v == ' ' || *v == '\t')
			v++;
		if (strncmp(v, "encrypted", 9) == 0)
			w->n.st_enc++;
		else if (strncmp(v, "plaintext", 9) == 0)
			w->n.st_plain++;
		else
			w->n.st_other++;
	}
	if (strcasecmp(name, "Authentication-Results") == 0 && *value != '\0') {
		if (auth_pass(value, opt_auth))
			w->n.auth_pass++;
		else
			w->n.auth_other++;
	}
	return 0;
bad:
	show(w, "malformed header modification '%c'", printable_cmd(cmd));
	return -1;
}

/* -o: the message just done is kept when it got a new body, or when
 * no message kept so far did. */
static void
keep(struct worker *w, int replaced)
{
	struct saved t;

	if (w->have_kept && w->kept.replaced && !replaced)
		return;
	t = w->kept;
	w->kept = w->cur;
	w->cur = t;
	w->kept.replaced = replaced;
	w->have_kept = 1;
}

/* Replies to SMFIC_BODYEOB up to the final one: 0 (*f set) or -1. */
static int
eom_replies(struct worker *w, int *f)
{
	char cmd;
	unsigned char *d;
	size_t len;
	int replaced = 0;

	if (opt_out != NULL && w->id == 0) {
		w->cur.len = 0;
		w->cur.mlen = 0;
	}
	for (;;) {
		if (get_reply(w, &cmd, &d, &len) < 0)
			return -1;
		switch (cmd) {
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_ADDHEADER:
		case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER:
			if (header_mod(w, cmd, d, len) < 0)
				return -1;
			continue;
		case SMFIR_REPLBODY:
			if (!replaced) {
				replaced = 1;
				w->n.replbody_msgs++;
			}
			w->n.replbody_bytes += len;
			if (opt_out != NULL && w->id == 0) {
				grow(&w->cur.body, &w->cur.cap,
				     w->cur.len + len);
				memcpy(w->cur.body + w->cur.len, d, len);
				w->cur.len += len;
			}
			continue;
		case SMFIR_ADDRCPT:
		case SMFIR_DELRCPT:
		case SMFIR_ADDRCPT_PAR:
		case SMFIR_CHGFROM:
		case SMFIR_QUARANTINE:
			w->n.mod_other++;
			save_mod(w, "other", "reply", (char[]){cmd, 0});
			continue;
		default:
			break;
		}
		if (classify(w, cmd, d, len, f) == 0) {
			if (*f == F_TEMPFAIL || *f == F_REJECT ||
			    *f == F_OTHER)
				show_final(w, "end of message", cmd, d, len);
			if (opt_out != NULL && w->id == 0)
				keep(w, replaced);
			return 0;
		}
		show(w, "end of message: unexpected reply '%c' (%zu octets)",
		     printable_cmd(cmd), len);
		return -1;
	}
}

/* ---------------------------------------------------------------- session */

static void
sess_close(struct worker *w, int quit)
{
	if (w->fd < 0)
		return;
	if (quit) {
		w->wlen = 0;
		if (put_cmd(w, SMFIC_QUIT, NULL, 0) == 0)
			(void)flush_out(w);
	}
	close(w->fd);
	w->fd = -1;
	w->in_session = 0;
	w->wlen = 0;
	w->rpos = w->rlen = 0;
}

/* Connect, negotiate, CONNECT and HELO.  0 or -1 (counted as error). */
static int
sess_open(struct worker *w)
{
	struct timeval tv = { .tv_sec = opt_timeout, .tv_usec = 0 };
	unsigned char neg[12];
	char buf[512], cmd;
	unsigned char *d;
	size_t len;
	unsigned long ver, acts, prot;
	int f;

	w->rpos = w->rlen = w->wlen = 0;
	if ((w->fd = peer_socket(&peer)) < 0) {
		show(w, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(w->fd, (struct sockaddr *)&peer.sa, peer.len) < 0) {
		show(w, "connect: %s", strerror(errno));
		goto fail;
	}
	w->n.sessions++;

	put32(neg, SMFI_PROT_VERSION);
	put32(neg + 4, SMFI_CURR_ACTS);
	put32(neg + 8, (uint32_t)opt_prot);
	if (put_cmd(w, SMFIC_OPTNEG, neg, sizeof(neg)) < 0 ||
	    get_reply(w, &cmd, &d, &len) < 0)
		goto fail;
	if (cmd != SMFIC_OPTNEG || len < 12) {
		show(w, "negotiation: reply '%c' (%zu octets)",
		     printable_cmd(cmd), len);
		goto fail;
	}
	/* Any macro lists after the 12 octets are ignored: we send ours. */
	ver = get32(d);
	acts = get32(d + 4);
	prot = get32(d + 8);
	if (ver < 2 || ver > SMFI_PROT_VERSION ||
	    (acts & ~(unsigned long)SMFI_CURR_ACTS) != 0 ||
	    (prot & ~opt_prot) != 0) {
		show(w, "negotiation: version %lu, actions 0x%lx, protocol "
		     "0x%lx: not what we offered", ver, acts, prot);
		goto fail;
	}
	w->prot = prot;
	if (w->id == 0) {
		neg_version = ver;
		neg_actions = acts;
		neg_prot = prot;
	}

	if (!(prot & SMFIP_NOCONNECT)) {
		static const char host[] = "client.bench.smilla.test";
		static const char addr[] = "127.0.0.1";
		unsigned char c[128];
		size_t l = 0;

		len = strs(buf, sizeof(buf), "j", "mx.bench.smilla.test",
			   "{daemon_name}", "smtpd", "v", "Postfix 3.7",
			   "_", "client.bench.smilla.test [127.0.0.1]",
			   "{client_addr}", addr, NULL);
		if (put_cmd2(w, SMFIC_MACRO, "C", 1, buf, len) < 0)
			goto fail;
		memcpy(c, host, sizeof(host));
		l = sizeof(host);
		c[l++] = SMFIA_INET;
		c[l++] = 0x30;		/* port 12345, network order */
		c[l++] = 0x39;
		memcpy(c + l, addr, sizeof(addr));
		l += sizeof(addr);
		if (put_cmd(w, SMFIC_CONNECT, c, l) < 0)
			goto fail;
		if (!(prot & SMFIP_NR_CONN)) {
			int r = step_reply(w, "connect", &f);

			if (r != 0) {
				if (r > 0)
					show(w, "connect refused (%s)",
					     fname[f]);
				goto fail;
			}
		}
	}
	if (!(prot & SMFIP_NOHELO)) {
		len = strs(buf, sizeof(buf), "client.bench.smilla.test", NULL);
		if (put_cmd(w, SMFIC_HELO, buf, len) < 0)
			goto fail;
		if (!(prot & SMFIP_NR_HELO)) {
			int r = step_reply(w, "helo", &f);

			if (r != 0) {
				if (r > 0)
					show(w, "helo refused (%s)", fname[f]);
				goto fail;
			}
		}
	}
	w->in_session = 1;
	w->sess_msgs = 0;
	return 0;
fail:
	w->n.errors++;
	sess_close(w, 0);
	return -1;
}

/* One header field, honouring SMFIP_NOHDRS / NR_HDR / HDR_LEADSPC:
 * 0, 1 final (*f), -1 error. */
static int
send_header(struct worker *w, const char *name, const char *value, int *f)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	int lead = (w->prot & SMFIP_HDR_LEADSPC) != 0;
	char *buf;
	int rc;

	if (w->prot & SMFIP_NOHDRS)
		return 0;
	buf = xmalloc(nl + vl + 1);
	memcpy(buf, name, nl);
	if (lead)
		buf[nl] = ' ';
	memcpy(buf + nl + lead, value, vl);
	rc = put_cmd(w, SMFIC_HEADER, buf, nl + vl + (size_t)lead);
	free(buf);
	if (rc < 0)
		return -1;
	if (w->prot & SMFIP_NR_HDR)
		return 0;
	return step_reply(w, "header", f);
}

/* One message on an open session: 0 done (*f = final reply), -1 error
 * (the session is closed). */
static int
message(struct worker *w, int *f)
{
	char buf[1024], qid[32], mid[96], size[32], addr[600];
	size_t len, i, off;
	unsigned long accepted = 0;
	int r = 0;

	w->seq++;
	snprintf(qid, sizeof(qid), "B%02X%010llX", w->id & 0xff,
		 (unsigned long long)w->seq);
	snprintf(mid, sizeof(mid), "<%s.%d.%llu@bench.smilla.test>", qid,
		 w->id, (unsigned long long)w->seq);
	snprintf(size, sizeof(size), "SIZE=%zu", opt_body + 512);

	/* MAIL */
	if (!(w->prot & SMFIP_NOMAIL)) {
		len = strs(buf, sizeof(buf), "i", qid, "{mail_addr}", opt_from,
			   NULL);
		if (put_cmd2(w, SMFIC_MACRO, "M", 1, buf, len) < 0)
			goto err;
		snprintf(addr, sizeof(addr), "<%s>", opt_from);
		len = strs(buf, sizeof(buf), addr, size, NULL);
		if (put_cmd(w, SMFIC_MAIL, buf, len) < 0)
			goto err;
		if (!(w->prot & SMFIP_NR_MAIL) &&
		    (r = step_reply(w, "mail", f)) != 0)
			goto early;
	}

	/* RCPT, each */
	for (i = 0; i < nrcpts; i++) {
		if (w->prot & SMFIP_NORCPT) {
			accepted = nrcpts;
			break;
		}
		len = strs(buf, sizeof(buf), "{rcpt_addr}", rcpts[i], NULL);
		if (put_cmd2(w, SMFIC_MACRO, "R", 1, buf, len) < 0)
			goto err;
		snprintf(addr, sizeof(addr), "<%s>", rcpts[i]);
		len = strs(buf, sizeof(buf), addr, NULL);
		if (put_cmd(w, SMFIC_RCPT, buf, len) < 0)
			goto err;
		if (w->prot & SMFIP_NR_RCPT) {
			accepted++;
			continue;
		}
		r = step_reply(w, "rcpt", f);
		if (r < 0)
			goto err;
		if (r == 0) {
			accepted++;
		} else if (*f == F_ACCEPT || *f == F_DISCARD) {
			goto early;	/* the whole message */
		} else {
			w->n.rcpt_refused++;
		}
	}
	if (accepted == 0) {
		r = 1;		/* *f: the last recipient's refusal */
		goto early;
	}

	/* DATA */
	if (!(w->prot & SMFIP_NODATA)) {
		if (put_cmd(w, SMFIC_DATA, NULL, 0) < 0)
			goto err;
		if (!(w->prot & SMFIP_NR_DATA) &&
		    (r = step_reply(w, "data", f)) != 0)
			goto early;
	}

	/* headers */
	{
		char recv[256];

		snprintf(recv, sizeof(recv),
			 "from client.bench.smilla.test (client.bench."
			 "smilla.test [127.0.0.1])\n\tby mx.bench.smilla.test "
			 "(Postfix) with ESMTP id %s; %s", qid, date_hdr);
		if ((r = send_header(w, "Received", recv, f)) != 0)
			goto early;
		for (i = 0; i < nfields; i++)
			if ((r = send_header(w, fields[i].name,
					     fields[i].value ? fields[i].value :
							       mid, f)) != 0)
				goto early;
	}
	if (!(w->prot & SMFIP_NOEOH)) {
		if (put_cmd(w, SMFIC_EOH, NULL, 0) < 0)
			goto err;
		if (!(w->prot & SMFIP_NR_EOH) &&
		    (r = step_reply(w, "eoh", f)) != 0)
			goto early;
	}

	/* body */
	for (off = 0; !(w->prot & SMFIP_NOBODY) && off < opt_body;) {
		size_t n = opt_body - off;
		char cmd;
		unsigned char *d;

		if (n > MILTER_CHUNK_SIZE)
			n = MILTER_CHUNK_SIZE;
		if (put_cmd(w, SMFIC_BODY, body + off, n) < 0)
			goto err;
		off += n;
		if (w->prot & SMFIP_NR_BODY)
			continue;
		/* step_reply, plus SMFIR_SKIP: no more body wanted */
		for (;;) {
			if (get_reply(w, &cmd, &d, &len) < 0)
				goto err;
			if (cmd != SMFIR_PROGRESS)
				break;
		}
		if (cmd == SMFIR_CONTINUE)
			continue;
		if (cmd == SMFIR_SKIP && (w->prot & SMFIP_SKIP))
			break;
		if (classify(w, cmd, d, len, f) == 0) {
			if (*f != F_ACCEPT)
				show_final(w, "body", cmd, d, len);
			r = 1;
			goto early;
		}
		show(w, "body: unexpected reply '%c'", printable_cmd(cmd));
		goto err;
	}

	/* end of message */
	len = strs(buf, sizeof(buf), "i", qid, NULL);
	if (put_cmd2(w, SMFIC_MACRO, "E", 1, buf, len) < 0 ||
	    put_cmd(w, SMFIC_BODYEOB, NULL, 0) < 0 ||
	    eom_replies(w, f) < 0)
		goto err;
	/* Reset for the next message (ignored by libmilter after eom). */
	if (put_cmd(w, SMFIC_ABORT, NULL, 0) < 0)
		goto err;
	w->sess_msgs++;
	return 0;

early:
	if (r < 0)
		goto err;
	w->n.early++;
	if (put_cmd(w, SMFIC_ABORT, NULL, 0) < 0)
		goto err;
	w->sess_msgs++;
	return 0;
err:
	w->n.errors++;
	sess_close(w, 0);
	return -1;
}

/* ---------------------------------------------------------------- threads */

static void *
run(void *arg)
{
	struct worker *w = arg;
	unsigned long long timed = 0;
	int opened = sess_open(w) == 0;

	pthread_barrier_wait(&barrier);
	if (!opened)
		return NULL;
	for (;;) {
		int64_t t0 = now_us(), t1;
		int is_timed = t0 >= t_timed, f = F_OTHER;

		if (opt_secs > 0 && t0 >= t_end)
			break;
		if (opt_msgs > 0 && timed >= opt_msgs)
			break;
		if (w->in_session && opt_per_session > 0 &&
		    w->sess_msgs >= opt_per_session)
			sess_close(w, 1);
		if (!w->in_session && sess_open(w) < 0)
			break;
		t0 = now_us();
		if (message(w, &f) < 0) {
			/* the session is gone; a new one next time round */
			if (is_timed)
				timed++;
			continue;
		}
		t1 = now_us();
		w->n.total++;
		w->n.final[f]++;
		if (is_timed) {
			timed++;
			lats_add(&w->lat, t1 - t0, 1024);
			w->last_done = t1;
		}
	}
	sess_close(w, 1);
	return NULL;
}

/* Percentile P of the sorted latencies L: the value at P of the way
 * from the smallest to the largest, rounded to the nearest index. */
static uint32_t
pct(const struct lats *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(p * (double)(l->n - 1) + 0.5);
	return l->v[i < l->n ? i : l->n - 1];
}

static void
write_file(const char *prefix, const char *suffix, const void *data,
	   size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s%s", prefix, suffix);
	if ((fp = fopen(path, "wb")) == NULL ||
	    (len > 0 && fwrite(data, 1, len, fp) != len) || fclose(fp) != 0)
		die("%s: %s", path, strerror(errno));
}

/* -o: the original MIME entity (the Content-* fields, their line
 * ends CRLF, an empty line, the body) and what the milter made of the
 * message kept. */
static void
save_outputs(const struct worker *w)
{
	char *e = NULL;
	size_t len = 0, cap = 0, i;
	const char *v;

	for (i = 0; i < nfields; i++) {
		if (strncasecmp(fields[i].name, "Content-", 8) != 0 ||
		    fields[i].value == NULL)
			continue;
		grow(&e, &cap, len + strlen(fields[i].name) +
				       2 * strlen(fields[i].value) + 5);
		len += (size_t)sprintf(e + len, "%s: ", fields[i].name);
		for (v = fields[i].value; *v; v++) {
			if (*v == '\n')
				e[len++] = '\r';
			e[len++] = *v;
		}
		e[len++] = '\r';
		e[len++] = '\n';
	}
	grow(&e, &cap, len + 2 + opt_body);
	memcpy(e + len, "\r\n", 2);
	memcpy(e + len + 2, body, opt_body);
	write_file(opt_out, ".entity", e, len + 2 + opt_body);
	free(e);
	write_file(opt_out, ".body", w->kept.body,
		   w->have_kept && w->kept.replaced ? w->kept.len : 0);
	write_file(opt_out, ".mods", w->kept.mods,
		   w->have_kept ? w->kept.mlen : 0);
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct counts sum;
	struct lats all;
	size_t nall = 0, i;
	int64_t t_start, last = 0;
	double secs;
	char *end;
	int c, k;

	while ((c = getopt(argc, argv, "u:t:c:n:d:w:b:m:r:f:s:T:H:A:o:P:v")) !=
	       -1) {
		switch (c) {
		case 'u':
			opt_unix = optarg;
			break;
		case 't':
			opt_tcp = optarg;
			break;
		case 'c':
			opt_conns = atoi(optarg);
			if (opt_conns < 1 || opt_conns > 1000)
				usage();
			break;
		case 'n':
			opt_msgs = strtoul(optarg, &end, 10);
			if (*end || opt_msgs == 0)
				usage();
			break;
		case 'd':
			opt_secs = strtod(optarg, &end);
			if (*end || opt_secs <= 0)
				usage();
			break;
		case 'w':
			opt_warm = strtod(optarg, &end);
			if (*end || opt_warm < 0)
				usage();
			break;
		case 'b':
			opt_body = strtoul(optarg, &end, 10);
			if (*end == 'k' || *end == 'K')
				opt_body *= 1024, end++;
			else if (*end == 'm' || *end == 'M')
				opt_body *= 1024 * 1024, end++;
			if (*end)
				usage();
			break;
		case 'm':
			opt_msg = optarg;
			break;
		case 'r':
			add_rcpts(optarg);
			break;
		case 'f':
			opt_from = optarg;
			break;
		case 's':
			opt_per_session = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'T':
			opt_timeout = atoi(optarg);
			if (opt_timeout < 1)
				usage();
			break;
		case 'H':
			opt_status = optarg;
			break;
		case 'A':
			opt_auth = optarg;
			break;
		case 'o':
			opt_out = optarg;
			break;
		case 'P':
			opt_prot = strtoul(optarg, &end, 16);
			if (*end)
				usage();
			break;
		case 'v':
			opt_verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (opt_unix == NULL) == (opt_tcp == NULL))
		usage();
	if (opt_msgs == 0 && opt_secs == 0)
		opt_msgs = 1;
	if (nrcpts == 0)
		add_rcpts("bench@example.test");
	for (i = 0; i < nrcpts; i++)
		if (strlen(rcpts[i]) > 500 || strpbrk(rcpts[i], "<>") != NULL)
			die("bad recipient %s", rcpts[i]);
	if (strlen(opt_from) > 500)
		die("sender too long");
	signal(SIGPIPE, SIG_IGN);
	peer_resolve(&peer, opt_unix, opt_tcp);
	make_headers();
	if (opt_msg != NULL) {
		read_message(opt_msg);
	} else {
		make_body();
		make_fields();
	}

	ws = calloc((size_t)opt_conns, sizeof(*ws));
	if (ws == NULL)
		die("out of memory");
	pthread_barrier_init(&barrier, NULL, (unsigned)opt_conns + 1);
	for (k = 0; k < opt_conns; k++) {
		ws[k].id = k;
		ws[k].fd = -1;
		if (pthread_create(&ws[k].th, NULL, run, &ws[k]) != 0)
			die("pthread_create failed");
	}
	/* Every thread has its session open (or failed) before the clock
	 * starts; they begin once we pass the barrier too. */
	t_start = now_us();
	t_timed = t_start + (int64_t)(opt_warm * 1e6);
	t_end = t_timed + (int64_t)(opt_secs * 1e6);
	pthread_barrier_wait(&barrier);
	for (k = 0; k < opt_conns; k++)
		pthread_join(ws[k].th, NULL);

	memset(&sum, 0, sizeof(sum));
	memset(&all, 0, sizeof(all));
	for (k = 0; k < opt_conns; k++) {
		const struct counts *n = &ws[k].n;

		sum.total += n->total;
		for (i = 0; i < F_N; i++)
			sum.final[i] += n->final[i];
		sum.replycode += n->replycode;
		sum.early += n->early;
		sum.rcpt_refused += n->rcpt_refused;
		sum.replbody_msgs += n->replbody_msgs;
		sum.replbody_bytes += n->replbody_bytes;
		sum.hdr_add += n->hdr_add;
		sum.hdr_ins += n->hdr_ins;
		sum.hdr_chg += n->hdr_chg;
		sum.mod_other += n->mod_other;
		sum.st_enc += n->st_enc;
		sum.st_plain += n->st_plain;
		sum.st_other += n->st_other;
		sum.auth_pass += n->auth_pass;
		sum.auth_other += n->auth_other;
		sum.errors += n->errors;
		sum.sessions += n->sessions;
		nall += ws[k].lat.n;
		if (ws[k].last_done > last)
			last = ws[k].last_done;
	}
	all.v = xmalloc(nall * sizeof(*all.v));
	all.cap = nall;
	for (k = 0; k < opt_conns; k++) {
		memcpy(all.v + all.n, ws[k].lat.v, ws[k].lat.n * sizeof(*all.v));
		all.n += ws[k].lat.n;
	}
	lats_sort(&all);
	secs = all.n > 0 && last > t_timed ?
		(double)(last - t_timed) / 1e6 : 0;
	if (opt_out != NULL)
		save_outputs(&ws[0]);

	printf("msgs=%zu seconds=%.3f mps=%.2f p50_us=%u p99_us=%u "
	       "errors=%llu tempfail=%llu p90_us=%u max_us=%u mean_us=%.0f "
	       "total=%llu",
	       all.n, secs, secs > 0 ? (double)all.n / secs : 0.0,
	       pct(&all, 0.50), pct(&all, 0.99), sum.errors,
	       sum.final[F_TEMPFAIL], pct(&all, 0.90), lats_max(&all),
	       lats_mean(&all), sum.total);
	for (i = 0; i < F_N; i++)
		printf(" %s=%llu", fname[i], sum.final[i]);
	printf(" replycode=%llu early=%llu rcpt_refused=%llu "
	       "replbody_msgs=%llu replbody_bytes=%llu hdr_add=%llu "
	       "hdr_ins=%llu hdr_chg=%llu mod_other=%llu "
	       "status_encrypted=%llu status_plaintext=%llu status_other=%llu "
	       "auth_pass=%llu auth_other=%llu sessions=%llu body=%zu rcpts=%zu version=%lu actions=0x%lx "
	       "protocol=0x%lx\n",
	       sum.replycode, sum.early, sum.rcpt_refused, sum.replbody_msgs,
	       sum.replbody_bytes, sum.hdr_add, sum.hdr_ins, sum.hdr_chg,
	       sum.mod_other, sum.st_enc, sum.st_plain, sum.st_other,
	       sum.auth_pass, sum.auth_other,
	       sum.sessions, opt_body, nrcpts, neg_version, neg_actions,
	       neg_prot);
	fflush(stdout);
	return sum.errors == 0 && sum.final[F_TEMPFAIL] == 0 ? 0 : 1;
}
