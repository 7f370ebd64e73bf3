/*
 * config.h - the one smilla.conf read by all programs.
 *
 * Syntax: "key = value" lines; blank lines and lines whose first
 * non-blank character is '#' are ignored; a later line for the same key
 * overrides an earlier one.  Every key is declared once in the option
 * table (sm_options, indexed by enum sm_opt_key) with the programs
 * that read it, its type, default, bounds and a one-line description;
 * that table drives the parser, "smillactl config" (--table prints it
 * whole) and the man page check.
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

/*
 * The option keys, one constant per line of the option table and in
 * its order: code names a key by its constant, so that a misspelt key
 * is a compile error, never an abort at run time.  The constant is the
 * name in capitals; the name itself is written once, in the table
 * (config.c).  The action_* keys come from the result words
 * (SM_RESULTS, words.h), one per word and in their order:
 * SM_K_ACTION(result) is the key of a result.
 */
enum sm_opt_key {
	SM_K_TRUST_ANCHOR_FILE,
	SM_K_UNBOUND_CONF,
	SM_K_DNS_TIMEOUT,
	SM_K_DB_PATH,
	SM_K_DB_MODE,
	SM_K_CACHE_MIN_TTL,
	SM_K_CACHE_MAX_TTL,
	SM_K_CACHE_NEGATIVE_TTL,
	SM_K_CACHE_BOGUS_TTL,
	SM_K_LOG,
	SM_K_LOG_LEVEL,
	SM_K_CLIENT_SERVICE_LABEL,
	SM_K_REPUTATION_RETENTION,
	SM_K_METRICS_FILE,
	SM_K_METRICS_INTERVAL,
	/* smilla-policyd */
	SM_K_LISTEN,
	SM_K_USER,
	SM_K_ALLOW_ROOT,
	SM_K_SOCKET_MODE,
	SM_K_SOCKET_OWNER,
	SM_K_IDENTITY,
	SM_K_FINGERPRINT_DIGEST,
	SM_K_AUTHSERV_ID,
	SM_K_AUTH_HEADER,
	SM_K_ACTION_FIRST,	/* not a key of its own: SM_K_ACTION_PASS */
#define SM_K_ACTION_ENUM_(code, word, action, doc) \
	SM_K_ACTION_##code = SM_K_ACTION_FIRST + SM_RESULT_##code,
	SM_RESULTS(SM_K_ACTION_ENUM_)
	SM_K_REQUIRE_TABLE = SM_K_ACTION_FIRST + SM_NRESULTS,
	SM_K_LOOKUP_TABLE,
	SM_K_MAX_INFLIGHT,
	SM_K_MAX_CONNECTIONS,
	SM_K_IDLE_TIMEOUT,
	/* smilla (milter) */
	SM_K_MILTER_SOCKET,
	SM_K_PID_FILE,
	SM_K_LOCAL_DOMAINS,
	SM_K_ENCRYPT_OUTBOUND,
	SM_K_ENCRYPT_INBOUND,
	SM_K_REQUIRE_ENCRYPTION_TABLE,
	SM_K_REQUIRE_LOCAL_PART_CASE,
	SM_K_RECIPIENT_DELIMITER,
	SM_K_SMIME_CIPHER,
	SM_K_SENDER_COPY_CERT,
	SM_K_SENDER_COPY_KEY,
	SM_K_ENCRYPTION_FORMATS,
	SM_K_KEY_LOOKUP_LOWERCASE,
	SM_K_HEADER_PROTECTION,
	SM_K_MAX_MEMORY_BODY,
	SM_K_MAX_MESSAGE_SIZE,
	SM_K_STATUS_HEADER,
	SM_K_VERIFY_SIGNATURES,
	SM_K_MILTER_CLIENT_AUTH,
	SM_K_MIXED_RECIPIENTS,
	SM_K_REINJECT_SERVICE,
	SM_K_REINJECT_TIMEOUT,
	SM_K_SPLIT_KEY_FILE,
	SM_K_COUNT		/* the number of keys */
};

/* SM_K_ACTION - the action_<word> key of result R (enum sm_result). */
#define SM_K_ACTION(r) ((enum sm_opt_key)(SM_K_ACTION_FIRST + (int)(r)))

/*
 * The syntaxes of keys that name listening sockets (sm_option.sockets):
 * such a key is parsed when it is set, and the programs take the result
 * from sm_config_sockets rather than parse the text again.
 */
enum sm_sock_syntax {
	SM_SOCKS_NONE,		/* not a socket key */
	SM_SOCKS_POLICY,	/* unix:/PATH or inet:HOST:PORT, one or more,
				   separated by commas or blanks ("listen") */
	SM_SOCKS_MILTER		/* libmilter's: one {unix|local}:/PATH or
				   {inet|inet6}:PORT@HOST ("milter_socket") */
};

enum sm_sock_family {
	SM_SOCK_UNIX,		/* PATH */
	SM_SOCK_INET,		/* HOST and PORT (policy: IPv4 or IPv6) */
	SM_SOCK_INET6		/* HOST and PORT (milter: inet6:) */
};

/* One socket of a socket key. */
struct sm_sock {
	enum sm_sock_family family;
	const char *spec;	/* as written, e.g. "unix:/run/x.sock": for
				   log lines and for libmilter */
	const char *path;	/* SM_SOCK_UNIX: the socket file; else NULL */
	const char *host;	/* else: the host (policy: without [] around
				   an IPv6 address); NULL for unix */
	unsigned port;		/* else: 1-65535; 0 for unix */
};

struct sm_option {
	const char *name;
	unsigned progs;		/* SM_PROG_* bits */
	enum sm_opt_type type;
	const char *def;	/* default, in config-file syntax */
	long min, max;		/* SM_OPT_INT / SM_OPT_TIME bounds */
	/* SM_OPT_ENUM: the words and the codes sm_config_int gives */
	const struct sm_name_code *choices;
	/* extra check for strings: 0 ok, -1 with the reason in WHY */
	int (*check)(const char *value, char *why, size_t whylen);
	const char *doc;
	enum sm_sock_syntax sockets;	/* socket keys: their syntax */
};

/* The option table, indexed by enum sm_opt_key. */
extern const struct sm_option sm_options[SM_K_COUNT];

/*
 * sm_config_key - the key named NAME, -1 when there is none: for names
 * people type (smillactl, sm_config_set, tests), never for code, which
 * uses the SM_K_* constants.
 */
int sm_config_key(const char *name);

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
 * Accessors, by key constant (O(1)).  sm_config_int and sm_config_bool
 * need a key of a numeric, boolean or enum type (an enum gives the
 * code of its word); asking for anything else, or for a key out of
 * range, is a programming error and aborts.  sm_config_str returns the
 * value as written (normalised for enums and booleans), valid until
 * the key is set again or CFG is freed.
 */
const char *sm_config_str(const struct sm_config *cfg, enum sm_opt_key key);
long sm_config_int(const struct sm_config *cfg, enum sm_opt_key key);
int sm_config_bool(const struct sm_config *cfg, enum sm_opt_key key);

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

/*
 * sm_config_sockets - the sockets of KEY, a socket key (SM_K_LISTEN,
 * SM_K_MILTER_SOCKET; any other aborts), as parsed when it was set: an
 * array of *N (at least one), borrowed from CFG and valid as
 * sm_config_str's text.
 */
const struct sm_sock *sm_config_sockets(const struct sm_config *cfg,
					enum sm_opt_key key, size_t *n);

/*
 * sm_config_parse_sockets - VALUE parsed as a socket key of SYNTAX
 * (SM_SOCKS_POLICY or SM_SOCKS_MILTER; SM_SOCKS_NONE aborts) is parsed
 * when it is set, for socket specs that reach a module other than
 * through the option table (the milter's reinject_service): one owned
 * block in *OUT, free() it, of *N sockets and the strings they point
 * at.  0, or -1 with the reason in WHY (*OUT NULL).
 */
int sm_config_parse_sockets(const char *value, enum sm_sock_syntax syntax,
			    struct sm_sock **out, size_t *n, char *why,
			    size_t whylen);

/* sm_config_source - "file:line" where KEY was set, or "default". */
const char *sm_config_source(const struct sm_config *cfg,
			     enum sm_opt_key key);

#endif
