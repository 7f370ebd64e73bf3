/*
 * table.h - lists of domains and hosts read from plain files, shared by
 * the policy daemon (require_table, lookup_table) and the milter
 * (require_encryption_table).
 *
 * One entry per line, '#' starts a comment line, blank lines ignored.
 * "example.test" matches that name only; ".example.test" matches every
 * name below it (not example.test itself).  An entry with '@' matches
 * that mail address, written in sm_addr's canonical form ("carol"@x is
 * carol@x, domain lowercased); its local part compares exactly, or
 * ignoring ASCII case when the table is loaded with SM_TABLE_FOLD_LOCAL
 * (entries written in uppercase match too).  Names are compared as
 * lowercase A-labels.
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

/* Flags of sm_table_load_flags. */
#define SM_TABLE_FOLD_LOCAL 0x1	/* address entries: local part in any case */

/* sm_table_load_flags - sm_table_load with FLAGS (SM_TABLE_*). */
struct sm_table *sm_table_load_flags(const char *path, int flags, char *why,
				     size_t whylen);

/* sm_table_free - release T (NULL allowed). */
void sm_table_free(struct sm_table *t);

/*
 * sm_table_match - 1 when NAME (a normalised host or domain, or a mail
 * address in sm_addr's canonical form, of any length) is listed in T,
 * else 0.  An address also matches through its domain.  A NULL table
 * matches nothing.
 */
int sm_table_match(const struct sm_table *t, const char *name);

/* sm_table_count - number of entries. */
size_t sm_table_count(const struct sm_table *t);

#endif
