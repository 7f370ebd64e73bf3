/*
 * test_mil_reinject.c - the SMTP client of mixed_recipients = split
 * (smilla/reinject.c) against real servers, never a mock:
 *   - Postfix's smtp-sink on a free loopback port and on a unix socket,
 *     one per case, started here and stopped by pid.  Its dump file
 *     (-d) shows the envelope it got (X-Mail-Args, X-Rcpt-Args: the
 *     parameters as sent) and the data, dot-unstuffed, every CR
 *     removed and each line ended with LF; its -r/-f/-Q/-q options
 *     answer 4xx/5xx/421 or hang up at a chosen command, -N and -8
 *     hide DSN and 8BITMIME.  It never announces SIZE or SMTPUTF8, and
 *     its 250 after the data is "2.0.0 Ok" without a queue id.
 *   - a throwaway Postfix (tests/e2e/postfix.sh, root only) for what
 *     smtp-sink cannot do: one recipient of three deferred by an
 *     access table, and "250 2.0.0 Ok: queued as ID".
 *   - a port nobody listens on, and a listening socket never accepted
 *     on (the connection sits in its backlog: no greeting ever comes).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reinject.h"
#include "tap.h"
#include "util.h"

#define HELO "reinject.smilla.test"
#define TIMEOUT 5

static char top_tmp[] = "/tmp/smilla-reinject.XXXXXX";
static const char *sink_prog;
static int nsinks;

/* A running smtp-sink. */
struct sink {
	pid_t pid;
	char dir[256];		/* its dump files */
	char service[320];	/* for mil_reinject */
};

static void
skip(const char *why)
{
	tap_run++;
	printf("ok %d # skip %s\n", tap_run, why);
}

/* A TCP port on 127.0.0.1 free a moment ago. */
static unsigned
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("free_port");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* 1 when something accepts connections at ADDR (a port, or a path). */
static int
reachable(const char *addr, int unix_sock)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd, r;

	if (unix_sock) {
		sm_strlcpy(un.sun_path, addr, sizeof(un.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&un, sizeof(un));
	} else {
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in.sin_port = htons((uint16_t)atoi(addr));
		fd = socket(AF_INET, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&in, sizeof(in));
	}
	close(fd);
	return r == 0;
}

/*
 * Start smtp-sink with the options OPTS (NULL-terminated, may be NULL)
 * on a loopback port or, with UNIX_SOCK, a socket file; 0 or -1.
 */
static int
sink_start(struct sink *s, const char *const *opts, int unix_sock)
{
	const char *argv[32];
	char addr[300], listen_at[320], dump[300], log[300];
	int n = 0, i, status;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/sink%d", top_tmp, ++nsinks);
	if (mkdir(s->dir, 0777) < 0 || chmod(s->dir, 0777) < 0)
		return -1;
	if (unix_sock) {
		snprintf(addr, sizeof(addr), "%s/sink%d.sock", top_tmp, nsinks);
		snprintf(listen_at, sizeof(listen_at), "unix:%s", addr);
		snprintf(s->service, sizeof(s->service), "unix:%s", addr);
	} else {
		unsigned port = free_port();

		snprintf(addr, sizeof(addr), "%u", port);
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u", port);
		snprintf(s->service, sizeof(s->service), "inet:127.0.0.1:%u",
			 port);
	}
	snprintf(dump, sizeof(dump), "%s/msg.", s->dir);
	snprintf(log, sizeof(log), "%s.log", s->dir);
	argv[n++] = sink_prog;
	if (geteuid() == 0) {
		argv[n++] = "-u";
		argv[n++] = "root";
	}
	argv[n++] = "-d";
	argv[n++] = dump;
	for (i = 0; opts != NULL && opts[i] != NULL && n < 28; i++)
		argv[n++] = opts[i];
	argv[n++] = listen_at;
	argv[n++] = "10";
	argv[n] = NULL;
	fflush(stdout);
	if ((s->pid = fork()) < 0)
		return -1;
	if (s->pid == 0) {
		if (freopen(log, "w", stdout) == NULL ||
		    dup2(fileno(stdout), 2) < 0)
			_exit(127);
		execv(sink_prog, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (reachable(addr, unix_sock))
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			printf("# smtp-sink exited (%d), see %s\n", status, log);
			s->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	printf("# smtp-sink does not listen on %s\n", listen_at);
	return -1;
}

/* Stop S by its pid, and wait for it. */
static void
sink_stop(struct sink *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* The dump files in S->dir: how many, and the first one's text (owned). */
static int
sink_dumps(const struct sink *s, char **text)
{
	char path[600], why[128];
	struct dirent *e;
	DIR *d;
	size_t len;
	int n = 0;

	*text = NULL;
	if ((d = opendir(s->dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n++ == 0) {
			snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
			*text = (char *)sm_read_file(path, 1 << 20, &len, why,
						     sizeof(why));
		}
	}
	closedir(d);
	return n;
}

/*
 * The dump TEXT without the three lines of its Received header: what
 * smtp-sink got, envelope first.  Owned.
 */
static char *
without_received(const char *text)
{
	const char *rcvd = strstr(text, "\nReceived: "), *p;
	char *out;
	size_t head;

	if (rcvd == NULL)
		return strdup(text);
	head = (size_t)(rcvd - text) + 1;
	p = strchr(rcvd + 1, '\n');
	while (p != NULL && p[1] == '\t')
		p = strchr(p + 1, '\n');
	p = p != NULL ? p + 1 : text + strlen(text);
	if ((out = malloc(head + strlen(p) + 1)) == NULL)
		return NULL;
	memcpy(out, text, head);
	strcpy(out + head, p);
	return out;
}

/* Submit MSG with DATA_TEXT to SERVICE; DATA_TEXT NULL: MSG's own. */
static int
submit(const char *service, struct mil_reinject_msg *msg,
       const char *data_text, char *qid, size_t qidlen, char *why,
       size_t whylen)
{
	FILE *f = NULL;
	int rc;

	if (data_text != NULL) {
		f = fmemopen((void *)data_text, strlen(data_text), "r");
		msg->data = f;
	}
	rc = mil_reinject(service, HELO, TIMEOUT, msg, qid, qidlen, why,
			  whylen);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* The message of the envelope cases: a '.' line, a bare LF, no end. */
static const char data_in[] =
	"From: <s@example.org>\r\n"
	"Subject: reinject\r\n"
	"\r\n"
	".leading dot\r\n"
	".\r\n"
	"..two dots\r\n"
	"bare LF line\n"
	"\n"
	"8-bit: gr\xc3\xbc\xc3\x9f\x65\r\n"
	"last line without newline";
/* As smtp-sink dumps it: unstuffed, LF line ends, an empty line after. */
static const char data_dumped[] =
	"From: <s@example.org>\n"
	"Subject: reinject\n"
	"\n"
	".leading dot\n"
	".\n"
	"..two dots\n"
	"bare LF line\n"
	"\n"
	"8-bit: gr\xc3\xbc\xc3\x9f\x65\n"
	"last line without newline\n"
	"\n";

static const struct mil_reinject_rcpt three[] = {
	{ "<a@example.org>", "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@example.org" },
	{ "<b@example.org>", "" },
	{ "<c@example.net>", NULL },
};

static void
test_envelope(int unix_sock)
{
	struct mil_reinject_msg msg = {
		"<s@example.org>", "BODY=8BITMIME RET=HDRS ENVID=QQ314159",
		three, 3, NULL
	};
	const char *where = unix_sock ? "unix socket" : "loopback port";
	char qid[64], why[512], *text = NULL, *got = NULL, want[2048];
	struct sink s;
	int rc, n;

	if (sink_start(&s, NULL, unix_sock) < 0) {
		ok(0, "smtp-sink on a %s", where);
		return;
	}
	rc = submit(s.service, &msg, data_in, qid, sizeof(qid), why,
		    sizeof(why));
	sink_stop(&s);
	if (!is_int(rc, 0, unix_sock ? "unix socket: 3 recipients submitted" :
				       "loopback: 3 recipients submitted"))
		printf("#   why: %s\n", why);
	is_str(why, "", "  WHY empty on success");
	is_str(qid, "2.0.0 Ok", "  QID: smtp-sink's 250 text (it has no "
	       "queue id)");
	n = sink_dumps(&s, &text);
	is_int(n, 1, "  one message dumped");
	if (text != NULL)
		got = without_received(text);
	snprintf(want, sizeof(want),
		 "X-Client-Addr: %s\n"
		 "X-Client-Proto: ESMTP\n"
		 "X-Helo-Args: " HELO "\n"
		 "X-Mail-Args: <s@example.org> BODY=8BITMIME RET=HDRS "
		 "ENVID=QQ314159\n"
		 "X-Rcpt-Args: <a@example.org> NOTIFY=SUCCESS,FAILURE "
		 "ORCPT=rfc822;x@example.org\n"
		 "X-Rcpt-Args: <b@example.org>\n"
		 "X-Rcpt-Args: <c@example.net>\n"
		 "%s", unix_sock ? "local" : "127.0.0.1", data_dumped);
	is_str(got, want, "  the same envelope (sender, recipients, their "
	       "parameters) and data ('.' lines, bare LF, no final newline)");
	free(got);
	free(text);
}

/*
 * A message larger than every buffer, lines starting with '.' across
 * their boundaries, streamed from a file; and a stream that cannot be
 * read: -1, and the connection dropped before the final ".".
 */
static void
test_stream(void)
{
	static const struct mil_reinject_rcpt one[] = {
		{ "<a@example.org>", "" },
	};
	struct mil_reinject_msg msg = { "<s@example.org>", "", one, 1, NULL };
	char qid[64], why[512], *text = NULL, *got = NULL, *want;
	size_t wlen = 0;
	struct sink s;
	FILE *f;
	int i, rc;

	if ((want = malloc(1 << 20)) == NULL || (f = tmpfile()) == NULL) {
		ok(0, "a temporary file");
		free(want);
		return;
	}
	fputs("Subject: big\r\n\r\n", f);
	wlen += (size_t)sprintf(want + wlen, "Subject: big\n\n");
	for (i = 0; i < 20000; i++) {
		/* 1, 2 or 3 octets of '.', CRLF or LF: every offset mod 4096 */
		fprintf(f, "%.*s%d%s", 1 + i % 3, "...", i, i % 2 ? "\n" : "\r\n");
		wlen += (size_t)sprintf(want + wlen, "%.*s%d\n", 1 + i % 3, "...",
					i);
	}
	wlen += (size_t)sprintf(want + wlen, "\n");
	rewind(f);
	msg.data = f;
	if (sink_start(&s, NULL, 0) < 0) {
		ok(0, "smtp-sink");
		fclose(f);
		free(want);
		return;
	}
	rc = mil_reinject(s.service, HELO, TIMEOUT, &msg, qid, sizeof(qid), why,
			  sizeof(why));
	fclose(f);
	sink_stop(&s);
	if (!is_int(rc, 0, "a message of 20000 lines, most starting with '.'"))
		printf("#   why: %s\n", why);
	is_int(sink_dumps(&s, &text), 1, "  one message dumped");
	if (text != NULL)
		got = without_received(text);
	ok(got != NULL && strlen(got) > wlen &&
	   strcmp(got + strlen(got) - wlen, want) == 0,
	   "  it arrived unstuffed as it was (%zu octets dumped)", wlen);

	/* A stream open for writing only: fread fails. */
	if (sink_start(&s, NULL, 0) == 0) {
		f = fopen("/dev/null", "w");
		msg.data = f;
		rc = mil_reinject(s.service, HELO, TIMEOUT, &msg, qid,
				  sizeof(qid), why, sizeof(why));
		fclose(f);
		sink_stop(&s);
		is_int(rc, -1, "a message that cannot be read: -1");
		ok(strstr(why, "DATA: reading the message") != NULL, "  WHY: %s",
		   why);
	} else
		ok(0, "smtp-sink");
	free(got);
	free(text);
	free(want);
}

/* One refusal case: smtp-sink with OPTS, the status and WHY wanted. */
struct refusal {
	const char *opts[4];
	int want;
	const char *why;	/* a part of WHY */
	int dumped;		/* messages smtp-sink should have; -1: not
				   checked (it keeps the dump of a session
				   that ends inside a transaction) */
	const char *name;
};

static const struct refusal refusals[] = {
	{ { "-r", "MAIL" }, 1,
	  "MAIL FROM <s@example.org>: \"450 4.3.0 Error: command failed\"", 0,
	  "4xx at MAIL: 1" },
	{ { "-r", "RCPT" }, 1,
	  "RCPT TO <a@example.org>: \"450 4.3.0 Error: command failed\"", 0,
	  "4xx at RCPT: 1" },
	{ { "-r", "." }, 1,
	  "end of DATA: \"450 4.3.0 Error: command failed\"", 1,
	  "4xx at the end of DATA: 1" },
	{ { "-r", "CONNECT" }, 1, "greeting: \"450", 0,
	  "4xx greeting: 1" },
	{ { "-Q", "RCPT" }, 1, "RCPT TO <a@example.org>: \"421", -1,
	  "421 at RCPT: 1" },
	{ { "-f", "MAIL" }, 2,
	  "MAIL FROM <s@example.org>: \"500 5.3.0 Error: command failed\"", 0,
	  "5xx at MAIL: 2" },
	{ { "-f", "RCPT" }, 2, "RCPT TO <a@example.org>: \"500", 0,
	  "5xx at RCPT: 2" },
	{ { "-f", "DATA" }, 2, "DATA: \"500", 0, "5xx at DATA: 2" },
	{ { "-f", "." }, 2, "end of DATA: \"500", 1,
	  "5xx at the end of DATA: 2" },
	{ { "-q", "DATA" }, -1, "DATA: connection closed", -1,
	  "hang-up after DATA: -1" },
	{ { "-q", "." }, -1, "end of DATA: connection closed", 1,
	  "hang-up after the data: -1" },
	/* Parameters the listener does not announce: nothing is sent. */
	{ { "-N" }, -1, "RCPT TO <a@example.org>: parameter \"NOTIFY=SUCCESS,"
	  "FAILURE\" needs DSN, which the listener does not announce", 0,
	  "NOTIFY to a listener without DSN: -1, never dropped" },
	{ { "-8" }, -1, "MAIL FROM: parameter \"BODY=8BITMIME\" needs 8BITMIME",
	  0, "BODY=8BITMIME to a listener without 8BITMIME: -1" },
};

static void
test_refusals(void)
{
	struct mil_reinject_msg msg = {
		"<s@example.org>", "BODY=8BITMIME", three, 3, NULL
	};
	char qid[64], why[512], *text;
	struct sink s;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];

		if (sink_start(&s, r->opts, 0) < 0) {
			ok(0, "smtp-sink %s %s", r->opts[0],
			   r->opts[1] ? r->opts[1] : "");
			continue;
		}
		rc = submit(s.service, &msg, data_in, qid, sizeof(qid), why,
			    sizeof(why));
		sink_stop(&s);
		is_int(rc, r->want, r->name);
		if (!ok(strstr(why, r->why) != NULL, "  WHY names the step "
			"and quotes the reply"))
			printf("#   why: %s\n#  want: ...%s...\n", why, r->why);
		is_str(qid, "", "  no QID");
		if (r->dumped >= 0)
			is_int(sink_dumps(&s, &text), r->dumped, r->dumped ?
			       "  (smtp-sink dumps what it refuses at the end)" :
			       "  nothing submitted");
		else
			sink_dumps(&s, &text);
		free(text);
	}
}

/* What the listener announces, and HELO when EHLO is refused. */
static void
test_extensions(void)
{
	static const struct mil_reinject_rcpt plain[] = {
		{ "<a@example.org>", "" },
	};
	static const char *const no_dsn[] = { "-N", NULL };
	static const char *const no_ehlo[] = { "-f", "EHLO", NULL };
	struct mil_reinject_msg msg = { "<>", "", plain, 1, NULL };
	char qid[64], why[512], *text = NULL;
	struct sink s;
	int rc;

	if (sink_start(&s, NULL, 0) == 0) {
		msg.mail_params = "SMTPUTF8";
		rc = submit(s.service, &msg, "Subject: x\n\nutf8\n", qid,
			    sizeof(qid), why, sizeof(why));
		is_int(rc, -1, "SMTPUTF8 to smtp-sink (never announces it): -1");
		ok(strstr(why, "\"SMTPUTF8\" needs SMTPUTF8") != NULL, "  WHY: %s",
		   why);
		msg.mail_params = "SIZE=10";
		rc = submit(s.service, &msg, "Subject: x\n\n", qid, sizeof(qid),
			    why, sizeof(why));
		is_int(rc, -1, "a parameter a copy does not keep (SIZE=): -1");
		ok(strstr(why, "\"SIZE=10\" is not one a copy keeps") != NULL,
		   "  WHY: %s", why);
		sink_stop(&s);
		is_int(sink_dumps(&s, &text), 0, "  nothing submitted");
		free(text);
	} else
		ok(0, "smtp-sink");

	if (sink_start(&s, no_dsn, 0) == 0) {
		msg.mail_params = "";
		rc = submit(s.service, &msg, "Subject: x\n\nno DSN asked\n",
			    qid, sizeof(qid), why, sizeof(why));
		sink_stop(&s);
		is_int(rc, 0, "no DSN parameter to a listener without DSN: 0");
		is_int(sink_dumps(&s, &text), 1, "  submitted");
		ok(text != NULL && strstr(text, "X-Mail-Args: <>\n") != NULL,
		   "  null sender \"<>\"");
		free(text);
	} else
		ok(0, "smtp-sink -N");

	if (sink_start(&s, no_ehlo, 0) == 0) {
		rc = submit(s.service, &msg, "Subject: x\n\nHELO\n", qid,
			    sizeof(qid), why, sizeof(why));
		sink_stop(&s);
		is_int(rc, 0, "EHLO refused with 500: HELO, then submitted");
		is_int(sink_dumps(&s, &text), 1, "  submitted");
		ok(text != NULL && strstr(text, "X-Client-Proto: SMTP\n") !=
				   NULL, "  over plain SMTP");
		free(text);
	} else
		ok(0, "smtp-sink -f EHLO");
}

/* Bad arguments never reach the network. */
static void
test_arguments(void)
{
	static const struct mil_reinject_rcpt inject[] = {
		{ "<a@example.org>\r\nRCPT TO:<evil@example.org>", "" },
	};
	struct mil_reinject_msg msg = { "<s@example.org>", "", three, 3, NULL };
	char qid[64], why[512];

	is_int(submit("inet:127.0.0.1", &msg, "x", qid, sizeof(qid), why,
		      sizeof(why)), -1, "service without a port: -1");
	ok(strstr(why, "reinject service") != NULL, "  WHY: %s", why);
	is_int(submit("inet:127.0.0.1:1 unix:/x", &msg, "x", qid, sizeof(qid),
		      why, sizeof(why)), -1, "two services: -1");
	msg.rcpt = inject;
	msg.nrcpt = 1;
	is_int(submit("inet:127.0.0.1:1", &msg, "x", qid, sizeof(qid), why,
		      sizeof(why)), -1, "CRLF in a recipient: -1");
	ok(strstr(why, "bad recipient 1") != NULL, "  WHY: %s", why);
	msg.rcpt = three;
	msg.sender = "s@example.org";
	is_int(submit("inet:127.0.0.1:1", &msg, "x", qid, sizeof(qid), why,
		      sizeof(why)), -1, "sender without <>: -1");
}

/* Refused, and never answered: -1 within the timeout. */
static void
test_connection(void)
{
	struct mil_reinject_msg msg = { "<s@example.org>", "", three, 3, NULL };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char service[64], qid[64], why[512];
	int64_t t0, ms;
	FILE *f;
	int fd, rc;

	snprintf(service, sizeof(service), "inet:127.0.0.1:%u", free_port());
	t0 = sm_now_ms();
	rc = submit(service, &msg, "x\n", qid, sizeof(qid), why, sizeof(why));
	is_int(rc, -1, "connection refused: -1");
	ok(strstr(why, "refused") != NULL, "  WHY: %s", why);

	snprintf(service, sizeof(service), "unix:%s/nobody.sock", top_tmp);
	rc = submit(service, &msg, "x\n", qid, sizeof(qid), why, sizeof(why));
	is_int(rc, -1, "no unix socket: -1");

	/* Connected in the backlog, never accepted: no greeting. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
	    listen(fd, 4) < 0) {
		ok(0, "a listening socket");
		return;
	}
	snprintf(service, sizeof(service), "inet:127.0.0.1:%u",
		 ntohs(a.sin_port));
	f = fmemopen((void *)"x\n", 2, "r");
	msg.data = f;
	t0 = sm_now_ms();
	rc = mil_reinject(service, HELO, 1, &msg, qid, sizeof(qid), why,
			  sizeof(why));
	ms = sm_now_ms() - t0;
	fclose(f);
	close(fd);
	is_int(rc, -1, "a listener that never answers: -1");
	ok(strstr(why, "greeting: timed out") != NULL, "  WHY: %s", why);
	ok(ms >= 1000 && ms <= 2000, "  after the 1 s timeout, within 1 s "
	   "more (%lld ms)", (long long)ms);
}

/* Run "tests/e2e/postfix.sh ARGS" quietly; its exit status. */
static int
postfix_sh(const char *top, const char *args)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/tests/e2e/postfix.sh' %s "
		 ">>'%s/postfix.out' 2>&1", top, args, top_tmp);
	fflush(stdout);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of FILE holding every one of A and B. */
static int
count_lines(const char *path, const char *a, const char *b)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, a) != NULL && strstr(line, b) != NULL;
	fclose(f);
	return n;
}

/*
 * A real Postfix: one recipient of three deferred at RCPT by an access
 * table (nothing submitted), then the two others: "queued as ID".
 */
static void
test_postfix(void)
{
	static const struct mil_reinject_rcpt mixed[] = {
		{ "<one@mx.smilla.test>", "NOTIFY=SUCCESS,FAILURE "
		  "ORCPT=rfc822;one@mx.smilla.test" },
		{ "<defer@mx.smilla.test>", "" },
		{ "<three@mx.smilla.test>", "" },
	};
	static const struct mil_reinject_rcpt good[] = {
		{ "<one@mx.smilla.test>", "NOTIFY=SUCCESS,FAILURE "
		  "ORCPT=rfc822;one@mx.smilla.test" },
		{ "<three@mx.smilla.test>", "" },
	};
	struct mil_reinject_msg msg = {
		"<s@example.org>", "BODY=8BITMIME ENVID=E1", mixed, 3, NULL
	};
	const char *top = getenv("SMILLA_TOP");
	char dir[300], service[64], qid[64], why[512], path[600], log[400];
	char env[400], args[400], mark[400];
	FILE *f;
	int rc, port = 0, i;

	if (top == NULL)
		top = ".";
	snprintf(path, sizeof(path), "%s/tests/e2e/postfix.sh", top);
	if (geteuid() != 0 || access(path, X_OK) != 0 ||
	    access("/usr/sbin/postfix", X_OK) != 0) {
		skip("Postfix: needs root, /usr/sbin/postfix and SMILLA_TOP");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/postfix", top_tmp);
	setenv("PF_MAIN_EXTRA", "smtpd_recipient_restrictions = "
	       "check_recipient_access inline:{ { defer@mx.smilla.test = "
	       "450 4.2.0 try later } }, permit_mynetworks, "
	       "reject_unauth_destination", 1);
	snprintf(args, sizeof(args), "start '%s' none", dir);
	rc = postfix_sh(top, args);
	unsetenv("PF_MAIN_EXTRA");
	snprintf(args, sizeof(args), "stop '%s'", dir);
	if (!is_int(rc, 0, "a throwaway Postfix")) {
		postfix_sh(top, args);
		return;
	}
	snprintf(env, sizeof(env), "%s/postfix.env", dir);
	if ((f = fopen(env, "r")) != NULL) {
		char line[512];

		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "PF_PORT=%d", &port) == 1)
				break;
		fclose(f);
	}
	snprintf(service, sizeof(service), "inet:127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/maillog", dir);

	/* A regular file: Postfix announces SIZE, MAIL carries SIZE=. */
	if ((f = tmpfile()) == NULL || fputs(data_in, f) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		ok(0, "a temporary file");
		postfix_sh(top, args);
		return;
	}
	msg.data = f;
	rc = mil_reinject(service, HELO, TIMEOUT, &msg, qid, sizeof(qid), why,
			  sizeof(why));
	is_int(rc, 1, "Postfix: 450 for one recipient of three: 1");
	if (!ok(strstr(why, "RCPT TO <defer@mx.smilla.test>: \"450 4.2.0") !=
		NULL, "  WHY names the recipient and quotes the reply"))
		printf("#   why: %s\n", why);

	msg.rcpt = good;
	msg.nrcpt = 2;
	rewind(f);
	rc = mil_reinject(service, HELO, TIMEOUT, &msg, qid, sizeof(qid), why,
			  sizeof(why));
	fclose(f);
	if (!is_int(rc, 0, "Postfix: the two others: 0"))
		printf("#   why: %s\n", why);
	ok(*qid != '\0' && strspn(qid, "0123456789ABCDEF") == strlen(qid),
	   "  QID is Postfix's queue id (%s)", qid);
	snprintf(mark, sizeof(mark), "wait-mail '%s' 2 10 >/dev/null", dir);
	is_int(postfix_sh(top, mark), 0, "  both recipients got it");
	snprintf(mark, sizeof(mark), "%s: from=<s@example.org>", qid);
	is_int(count_lines(log, "qmgr", mark), 1, "  the queue id is in "
	       "Postfix's log");
	is_int(count_lines(log, "qmgr", "from=<s@example.org>"), 1,
	       "  one message queued: nothing of the deferred transaction");
	/* NOTIFY=SUCCESS reached Postfix: a success notice to the sender. */
	for (i = 0; i < 100 && count_lines(log, "bounce", "sender delivery "
					   "status notification") < 1; i++)
		usleep(50000);
	is_int(count_lines(log, "bounce", "sender delivery status "
			   "notification"), 1, "  NOTIFY=SUCCESS kept: Postfix "
	       "sent the sender a success notice");

	is_int(postfix_sh(top, args), 0, "Postfix stopped");
}

int
main(void)
{
	char cmd[400];

	signal(SIGPIPE, SIG_DFL);	/* mil_reinject must not need SIG_IGN */
	sink_prog = access("/usr/sbin/smtp-sink", X_OK) == 0 ?
		    "/usr/sbin/smtp-sink" : "/usr/bin/smtp-sink";
	if (access(sink_prog, X_OK) != 0) {
		printf("1..0 # SKIP smtp-sink (Postfix) not installed\n");
		return 0;
	}
	if (mkdtemp(top_tmp) == NULL || chmod(top_tmp, 0755) < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_arguments();
	test_envelope(0);
	test_envelope(1);
	test_stream();
	test_refusals();
	test_extensions();
	test_connection();
	test_postfix();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top_tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", top_tmp);
	return done_testing();
}
