/*
 * log.c - syslog or stderr logging with a level filter; the contract
 * is log.h.
 *
 * Before sm_log_open() is called, lines go to stderr at level info, so
 * a program can report config errors before it knows where to log.
 *
 * Callers escape what clients wrote (sm_escape); as a last guard a line
 * never leaves here with a control character in it: one missed field
 * must not be able to start a forged line or drive a terminal.
 *
 * Lines for stderr leave in one write(2) each, so the lines of
 * several threads never mix.  Under sm_log_capture_stderr that write
 * goes to a duplicate of the real stderr (log_fd) while fd 2 is a
 * pipe that relay() turns into debug lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON },
	{ "user", LOG_USER },	  { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

const struct sm_name_code sm_log_level_names[] = {
	{ "err", SM_LOG_ERR },
	{ "warning", SM_LOG_WARNING },
	{ "notice", SM_LOG_NOTICE },
	{ "info", SM_LOG_INFO },
	{ "debug", SM_LOG_DEBUG },
	{ NULL, -1 }
};
/* syslog priorities, indexed by sm_log_level */
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
				  LOG_DEBUG };

static int use_syslog;
static enum sm_log_level max_level = SM_LOG_INFO;
static char ident_buf[64] = "smilla";
/* Where stderr lines go: 2, or the real stderr while fd 2 is captured. */
static atomic_int log_fd = 2;

static int
parse(const char *spec, const char *level, int *facility, int *sys, int *lvl,
      char *why, size_t whylen)
{
	const struct sm_name_code *w;
	char words[128];
	size_t i, n = 0;

	if ((*lvl = sm_name_code(sm_log_level_names, level)) < 0) {
		words[0] = '\0';
		for (w = sm_log_level_names;
		     w->name != NULL && n < sizeof(words); w++)
			n += (size_t)snprintf(words + n, sizeof(words) - n,
					      "%s%s", n ? ", " : "", w->name);
		sm_why(why, whylen, "unknown log level \"%s\" (%s)", level,
		       words);
		return -1;
	}
	*facility = LOG_MAIL;
	if (strcmp(spec, "stderr") == 0) {
		*sys = 0;
		return 0;
	}
	*sys = 1;
	if (strcmp(spec, "syslog") == 0)
		return 0;
	if (strncmp(spec, "syslog:", 7) == 0) {
		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (strcmp(spec + 7, facilities[i].name) == 0) {
				*facility = facilities[i].value;
				return 0;
			}
		sm_why(why, whylen, "unknown syslog facility \"%s\"", spec + 7);
		return -1;
	}
	sm_why(why, whylen,
	       "bad log destination \"%s\" (stderr, syslog or syslog:FACILITY)",
	       spec);
	return -1;
}

int
sm_log_check(const char *spec, const char *level, char *why, size_t whylen)
{
	int facility, sys, lvl;

	return parse(spec, level, &facility, &sys, &lvl, why, whylen);
}

int
sm_log_open(const char *ident, const char *spec, const char *level,
	    char *why, size_t whylen)
{
	int facility, sys, lvl;

	if (parse(spec, level, &facility, &sys, &lvl, why, whylen) < 0)
		return -1;
	sm_log_close();
	sm_strlcpy(ident_buf, ident, sizeof(ident_buf));
	max_level = (enum sm_log_level)lvl;
	use_syslog = sys;
	if (sys)
		openlog(ident_buf, LOG_PID | LOG_NDELAY, facility);
	return 0;
}

/* "ident: LEVEL: LINE\n" to log_fd in one write(2), as far as it goes. */
static void
put_line(const char *level, const char *line)
{
	char out[2200];
	int n = snprintf(out, sizeof(out), "%s: %s: %s\n", ident_buf, level,
			 line);
	size_t len = n < 0 ? 0 : (size_t)n, done = 0;
	int fd = atomic_load(&log_fd);

	if (len >= sizeof(out)) {
		len = sizeof(out) - 1;
		out[len - 1] = '\n';
	}
	while (done < len) {
		ssize_t w = write(fd, out + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		done += (size_t)w;
	}
}

void
sm_log(enum sm_log_level level, const char *fmt, ...)
{
	va_list ap;
	char line[2048], *p;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	if (use_syslog)
		syslog(level_prio[level], "%s", line);
	else
		/* the table is in code order: entry LEVEL is LEVEL's word */
		put_line(sm_log_level_names[level].name, line);
}

int
sm_log_enabled(enum sm_log_level level)
{
	return level <= max_level;
}

void
sm_log_close(void)
{
	if (use_syslog)
		closelog();
	use_syslog = 0;
}

/* ------------------------------------------------------------ stderr capture */

/* Octets of one captured line logged at a time. */
#define RELAY_LINE 1000

static struct {
	pthread_mutex_t lock;	/* capture and release */
	int on;
	int real;		/* the real stderr, duplicated */
	pthread_t thread;
} cap = { PTHREAD_MUTEX_INITIALIZER, 0, -1, 0 };

/* One captured line (LEN octets at LINE, no newline) at debug level. */
static void
relay_line(char *line, size_t len)
{
	char esc[1800];		/* cut to fit one log line */
	size_t i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (!sm_log_enabled(SM_LOG_DEBUG))
		return;
	for (i = 0; i < len; i++)
		if (line[i] == '\0')
			line[i] = '?';
	line[len] = '\0';
	sm_log(SM_LOG_DEBUG, "stderr=\"%s\"",
	       sm_escape_quoted(line, esc, sizeof(esc)));
}

/* The thread: lines from the pipe FD until every writer has closed it. */
static void *
relay(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[RELAY_LINE + 1];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, buf + have, RELAY_LINE - have);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			relay_line(buf, len);
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
		if (have == RELAY_LINE) {	/* a long line: this piece */
			relay_line(buf, have);
			have = 0;
		}
	}
	if (have > 0)
		relay_line(buf, have);
	close(fd);
	return NULL;
}

int
sm_log_capture_stderr(char *why, size_t whylen)
{
	int p[2] = { -1, -1 }, real = -1, err;

	pthread_mutex_lock(&cap.lock);
	if (cap.on) {
		pthread_mutex_unlock(&cap.lock);
		return 0;
	}
	if ((real = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    pipe2(p, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	atomic_store(&log_fd, real);
	if ((err = pthread_create(&cap.thread, NULL, relay,
				  (void *)(intptr_t)p[0])) != 0) {
		atomic_store(&log_fd, 2);
		goto fail;
	}
	/* The thread owns p[0]; fd 2 becomes the only write end. */
	if (dup2(p[1], 2) < 0) {
		err = errno;
		close(p[1]);
		pthread_join(cap.thread, NULL);
		p[0] = p[1] = -1;
		atomic_store(&log_fd, 2);
		goto fail;
	}
	close(p[1]);
	cap.real = real;
	cap.on = 1;
	pthread_mutex_unlock(&cap.lock);
	return 0;
fail:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (real >= 0)
		close(real);
	pthread_mutex_unlock(&cap.lock);
	sm_why(why, whylen, "cannot capture stderr: %s", strerror(err));
	return -1;
}

void
sm_log_release_stderr(void)
{
	pthread_mutex_lock(&cap.lock);
	if (cap.on) {
		/* Closes the pipe's write end: the thread sees EOF. */
		dup2(cap.real, 2);
		atomic_store(&log_fd, 2);
		pthread_join(cap.thread, NULL);
		close(cap.real);
		cap.real = -1;
		cap.on = 0;
	}
	pthread_mutex_unlock(&cap.lock);
}
