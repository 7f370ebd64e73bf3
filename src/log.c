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
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

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
		fprintf(stderr, "%s: %s: %s\n", ident_buf,
			sm_log_level_names[level].name, line);
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
