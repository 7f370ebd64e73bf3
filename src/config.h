/*
 * config.h - the one smilla.conf read by all programs.
 *
 * Syntax: "key = value" lines; blank lines and lines whose first
 * non-blank character is '#' are ignored; a later line for the same key
 * overrides an earlier one.  Every key is declared once in the option
 * table (sm_options) with the programs that read it, its type, default,
 * bounds and a one-line description; that table drives the parser,
 * "smillactl config" (--table prints it whole) and the man page check.
 * Unknown keys and bad values are errors naming file and line.
 */
#ifndef SM_CONFIG_H
#define SM_CONFIG_H

#include <stddef.h>

#include "words.h"

enum sm_opt_type {
	SM_OPT_STRING,	/* free text (validated per option, if at all) */
	SM_OPT_PATH,	/* a file name; empty means "not set" */
	SM_OPT_INT,	/* decimal integer within [min, max] */
	SM_OPT_TIME,	/* seconds; suffix s, m, h, d or w allowed */
	SM_OPT_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	SM_OPT_ENUM	/* one of the words of "choices" */
};

/* The programs that read a key (sm_option.progs, a bit set). */
#define SM_PROG_POLICYD	0x1	/* smilla-policyd */
#define SM_PROG_MILTER	0x2	/* smilla */
#define SM_PROG_CTL	0x4	/* smillactl */
#define SM_PROG_ALL	(SM_PROG_POLICYD | SM_PROG_MILTER | SM_PROG_CTL)

struct sm_option {
	const char *name;
	unsigned progs;		/* SM_PROG_* bits */
	enum sm_opt_type type;
	const char *def;	/* default, in config-file syntax */
	long min, max;		/* SM_OPT_INT / SM_OPT_TIME bounds */
	/* SM_OPT_ENUM: the words and the codes sm_config_int gives */
	const struct sm_name_code *choices;
	/* extra check for strings: 0 ok, -1 with reason */
	int (*check)(const char *value, char *why, size_t whylen);
	const char *doc;
};

/* The option table, terminated by an entry whose name is NULL. */
extern const struct sm_option sm_options[];

/* sm_config_type_name - "string", "path", "int", "time", "bool", "enum". */
const char *sm_config_type_name(enum sm_opt_type type);

struct sm_config;

/* sm_config_new - a configuration holding every default; NULL on OOM. */
struct sm_config *sm_config_new(void);

/* sm_config_free - release CFG (NULL allowed). */
void sm_config_free(struct sm_config *cfg);

/*
 * sm_config_load - read PATH into CFG.  Returns 0, or -1 with
 * "PATH:LINE: reason" (or "PATH: reason") in WHY.  CFG keeps the values
 * set before the error.
 */
int sm_config_load(struct sm_config *cfg, const char *path, char *why,
		   size_t whylen);

/* The configuration file every program reads when not told another. */
#define SM_CONFIG_DEFAULT_PATH "/etc/smilla/smilla.conf"

/*
 * sm_config_load_default - what every program does with its -c option:
 * load PATH into CFG or, when PATH is NULL, SM_CONFIG_DEFAULT_PATH if
 * that file exists (if it does not, CFG keeps the built-in defaults and
 * the call succeeds).  A PATH given must exist.  Returns as
 * sm_config_load.
 */
int sm_config_load_default(struct sm_config *cfg, const char *path,
			   char *why, size_t whylen);

/*
 * sm_config_set - set KEY to VALUE as if read from a file (for command
 * line overrides and tests).  Returns 0, or -1 with the reason in WHY.
 */
int sm_config_set(struct sm_config *cfg, const char *key, const char *value,
		  char *why, size_t whylen);

/*
 * Accessors.  KEY must be in the option table and of a matching type;
 * asking for anything else is a programming error and aborts.
 * sm_config_str returns the value as written (normalised for enums and
 * booleans), valid until the key is set again or CFG is freed.
 */
const char *sm_config_str(const struct sm_config *cfg, const char *key);
long sm_config_int(const struct sm_config *cfg, const char *key);
int sm_config_bool(const struct sm_config *cfg, const char *key);

/*
 * sm_config_dns / sm_config_cache - the resolver and cache settings of
 * CFG, for sm_dns_new and sm_cache_open (strings borrowed from CFG).
 */
struct sm_dns_params;
struct sm_cache_params;
void sm_config_dns(const struct sm_config *cfg, struct sm_dns_params *p);
void sm_config_cache(const struct sm_config *cfg, struct sm_cache_params *p);

/*
 * sm_config_db - the database file settings of CFG (db_mode; no repair:
 * the daemons ask for it), for sm_rep_open; sm_config_cache fills the
 * same into its params.
 */
struct sm_db_params;
void sm_config_db(const struct sm_config *cfg, struct sm_db_params *p);

/*
 * sm_config_duration - parse S as smilla.conf parses a duration:
 * NUMBER[s|m|h|d|w], seconds without a suffix, within [MIN, MAX]
 * seconds.  Returns 0 with the seconds in *OUT, or -1 with the reason
 * in WHY (*OUT untouched).  For durations given elsewhere (smillactl's
 * --since), so that there is one syntax.
 */
int sm_config_duration(const char *s, long min, long max, long *out,
		       char *why, size_t whylen);

/* sm_config_source - "file:line" where KEY was set, or "default". */
const char *sm_config_source(const struct sm_config *cfg, const char *key);

#endif
