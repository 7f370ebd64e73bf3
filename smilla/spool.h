/*
 * spool.h - where the milter keeps a message: in memory up to a limit,
 * beyond it in a temporary file (mode 0600, unlinked at once, so it
 * disappears with its last descriptor whatever happens to the process).
 */
#ifndef MIL_SPOOL_H
#define MIL_SPOOL_H
#include <stddef.h>
#include <stdio.h>

struct mil_spool;

/* mil_spool_new - an empty spool holding MEM_MAX octets in memory. */
struct mil_spool *mil_spool_new(size_t mem_max);
/* mil_spool_free - release SPOOL and its file (NULL allowed). */
void mil_spool_free(struct mil_spool *spool);
/* mil_spool_write - append LEN octets; 0, or -1 with the reason in WHY. */
int mil_spool_write(struct mil_spool *spool, const void *data, size_t len,
		    char *why, size_t whylen);
/* mil_spool_size - octets written so far. */
size_t mil_spool_size(const struct mil_spool *spool);
/* mil_spool_on_disk - 1 once the spool went to a file. */
int mil_spool_on_disk(const struct mil_spool *spool);
/*
 * mil_spool_reader - a stream reading the spool from the start, owned by
 * the caller (fclose it) and valid while SPOOL lives and is not written.
 * NULL with WHY on failure.
 */
FILE *mil_spool_reader(struct mil_spool *spool, char *why, size_t whylen);
/*
 * mil_spool_writer - a write-only stream appending to SPOOL (fclose it
 * before reading the spool).  NULL when out of memory.
 */
FILE *mil_spool_writer(struct mil_spool *spool);
/*
 * mil_spool_tmpfile - a read/write stream on a new unlinked 0600 file in
 * $TMPDIR (or /tmp).  NULL with WHY on failure.
 */
FILE *mil_spool_tmpfile(char *why, size_t whylen);
#endif
