/*
 * ctl.h - what smillactl's files share: smillactl.c's usage message
 * and JSON string writer, and the commands kept in files of their own.
 */
#ifndef SM_CTL_H
#define SM_CTL_H

/* usage - the usage message to stderr, exit 64. */
void usage(void) __attribute__((noreturn));

/* json_str - STR as a JSON string (or null) to stdout. */
void json_str(const char *str);

/*
 * ctl_selfcheck_main - "selfcheck" and "rollover" (ctl_selfcheck.c),
 * with their own options: the exit status, or -1 when ARGV names
 * another command.
 */
int ctl_selfcheck_main(int argc, char **argv);

#endif
