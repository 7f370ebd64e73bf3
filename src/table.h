/*
 * table.h - lists of domains and hosts read from plain files, shared by
 * the policy daemon (require_table, lookup_table) and the milter
 * (require_encryption_table).
 *
 * One entry per line, '#' starts a comment line, blank lines ignored.
 * "example.test" matches that name only; ".example.test" matches every
 * name below it (not example.test itself).  An entry with '@' matches
 * that mail address exactly (local part as given, domain lowercased).
 * Names are compared as lowercase A-labels.
 */
#ifndef SM_TABLE_H
#define SM_TABLE_H

#include <stddef.h>

struct sm_table;

/*
 * sm_table_load - read PATH.  Returns the table, or NULL with
 * "PATH:LINE: reason" in WHY.
 */
struct sm_table *sm_table_load(const char *path, char *why, size_t whylen);

/* sm_table_free - release T (NULL allowed). */
void sm_table_free(struct sm_table *t);

/*
 * sm_table_match - 1 when NAME (a normalised host or domain, or a mail
 * address) is listed in T, else 0.  A NULL table matches nothing.
 */
int sm_table_match(const struct sm_table *t, const char *name);

/* sm_table_count - number of entries. */
size_t sm_table_count(const struct sm_table *t);

#endif
