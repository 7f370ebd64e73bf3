/*
 * fuzz_config - libFuzzer target for the configuration file and the
 * tables (src/config.c, src/table.c): the input up to the first NUL is
 * a smilla.conf, the rest a table file.  What must hold: a file that
 * does not load says where ("PATH:LINE: ..." or "PATH: ..."); one that
 * loads gives every key a value, integers and durations within their
 * bounds and enum keys one of their words; a table that loads answers
 * lookups of any name and counts its entries, one that does not says
 * why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "config.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* DATA as a file: its path into PATH, the descriptor returned. */
static int
as_file(const uint8_t *data, size_t len, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len))
		abort();
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "example.org", "a.example.org",
		"user@example.org", "[192.0.2.1]", "", "x" };
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size, i;
	struct sm_config *cfg = sm_config_new();
	struct sm_table *t;
	char path[64], why[512];
	int fd, k;

	if (cfg == NULL)
		abort();
	fd = as_file(data, len, path, sizeof(path));
	why[0] = '\0';
	if (sm_config_load(cfg, path, why, sizeof(why)) < 0) {
		if (strncmp(why, path, strlen(path)) != 0)
			abort();
	} else {
		for (k = 0; k < SM_K_COUNT; k++) {
			const struct sm_option *o = &sm_options[k];

			if (o->name == NULL)	/* SM_K_ACTION_FIRST's hole */
				continue;
			if (sm_config_str(cfg, (enum sm_opt_key)k) == NULL)
				abort();
			if ((o->type == SM_OPT_INT || o->type == SM_OPT_TIME) &&
			    (sm_config_int(cfg, (enum sm_opt_key)k) < o->min ||
			     sm_config_int(cfg, (enum sm_opt_key)k) > o->max))
				abort();
		}
	}
	close(fd);
	sm_config_free(cfg);
	if (nul == NULL)
		return 0;
	fd = as_file(nul + 1, size - len - 1, path, sizeof(path));
	why[0] = '\0';
	if ((t = sm_table_load(path, why, sizeof(why))) == NULL) {
		if (why[0] == '\0')
			abort();
	} else {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			(void)sm_table_match(t, names[i]);
		(void)sm_table_count(t);
		sm_table_free(t);
	}
	close(fd);
	return 0;
}
