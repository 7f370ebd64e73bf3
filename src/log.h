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

/*
 * sm_log_capture_stderr - from now on, what anything in the process
 * writes to file descriptor 2 (librnp's diagnostics, which it prints
 * itself and cannot be told not to; any library's warnings) becomes
 * log lines at debug level, one per line written, each
 * `stderr="TEXT"` with TEXT escaped as sm_escape_quoted does, so it can
 * neither pass for one of our lines nor end early; at any other level
 * it is read and dropped.  Fd 2 becomes a pipe read by a thread of
 * ours; sm_log's own stderr lines go to the real stderr, kept on a
 * duplicate descriptor (close-on-exec).  Lines longer than 1000
 * octets are logged in pieces, and an escaped piece is cut to fit one
 * log line.  Call it once, after sm_log_open;
 * returns 0 (also when already capturing), or -1 with the reason in
 * WHY and nothing changed.
 */
int sm_log_capture_stderr(char *why, size_t whylen);

/*
 * sm_log_release_stderr - end the capture: fd 2 is the real stderr
 * again, and the thread logs what is left in the pipe, then ends.  It
 * waits for every copy of the pipe's write end to close (a child
 * process that inherited fd 2 holds one).  Nothing to do when not
 * capturing.
 */
void sm_log_release_stderr(void);

#endif
