/*
 * spoil.h - turn a database file to garbage under a running daemon,
 * for the unit tests of the cache and the reputation store.
 * Header-only.
 *
 *   spoil(path)   PATH, PATH-wal and PATH-shm (those that exist)
 *                 overwritten with 0xAA octets, their sizes kept
 */
#ifndef SM_SPOIL_H
#define SM_SPOIL_H

#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

__attribute__((unused)) static void
spoil(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[300], junk[4096];
	struct stat st;
	off_t at;
	FILE *fp;
	size_t i;

	memset(junk, 0xaa, sizeof(junk));
	for (i = 0; i < sizeof(suffix) / sizeof(*suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (stat(p, &st) < 0 || (fp = fopen(p, "r+")) == NULL)
			continue;
		for (at = 0; at < st.st_size; at += (off_t)sizeof(junk))
			fwrite(junk, 1, sizeof(junk), fp);
		fclose(fp);
	}
}

#endif
