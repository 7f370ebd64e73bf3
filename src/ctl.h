/*
 * ctl.h - what smillactl's files share: smillactl.c's usage message,
 * JSON string writer and certificate loader, and the commands kept in
 * files of their own.
 */
#ifndef SM_CTL_H
#define SM_CTL_H

#include <stddef.h>

/* usage - the usage message to stderr, exit 64. */
void usage(void) __attribute__((noreturn));

/* json_str - STR as a JSON string (or null) to stdout. */
void json_str(const char *str);

struct sm_blob;

/*
 * ctl_load_certs - the certificates of the PEM file CERT, then those of
 * CHAIN (when not NULL), *N of them, in a new array (sm_blobs_free);
 * a file that does not load ends the program (exit 66).
 */
struct sm_blob *ctl_load_certs(const char *cert, const char *chain,
			       size_t *n);

/*
 * ctl_selfcheck_main - "selfcheck" and "rollover" (ctl_selfcheck.c),
 * with their own options: the exit status, or -1 when ARGV names
 * another command.
 */
int ctl_selfcheck_main(int argc, char **argv);

#endif
