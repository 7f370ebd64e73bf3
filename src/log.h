/*
 * log.h - where the programs' log lines go: syslog (with a configurable
 * facility) or stderr, filtered by level.  Only programs log; library
 * modules hand reasons back to their caller instead.
 */
#ifndef SM_LOG_H
#define SM_LOG_H

#include <stddef.h>

#include "words.h"

enum sm_log_level {
	SM_LOG_ERR,
	SM_LOG_WARNING,
	SM_LOG_NOTICE,
	SM_LOG_INFO,
	SM_LOG_DEBUG
};

/*
 * The level words, most severe first, with their sm_log_level: the one
 * list that sm_log_open, the log_level key of smilla.conf and its
 * stderr lines take them from.
 */
extern const struct sm_name_code sm_log_level_names[];

/*
 * sm_log_open - direct logging for program IDENT.  SPEC is "stderr",
 * "syslog" (facility mail) or "syslog:FACILITY" (mail, daemon, user,
 * local0..local7); LEVEL is err, warning, notice, info or debug.
 * Returns 0, or -1 with the reason in WHY.
 */
int sm_log_open(const char *ident, const char *spec, const char *level,
		char *why, size_t whylen);

/* sm_log_check - validate SPEC and LEVEL as sm_log_open would. */
int sm_log_check(const char *spec, const char *level, char *why,
		 size_t whylen);

/* sm_log - one log line (no trailing newline needed). */
void sm_log(enum sm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sm_log_enabled - would a line at LEVEL be logged?  (Skip the work.) */
int sm_log_enabled(enum sm_log_level level);

/* sm_log_close - close syslog if it was opened. */
void sm_log_close(void);

#endif
