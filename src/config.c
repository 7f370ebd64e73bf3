/*
 * config.c - option table and the smilla.conf parser; the contract is
 * config.h.
 *
 * Values are kept as text (what the admin wrote, trimmed) plus, for
 * numeric and boolean types, the parsed number, so accessors never fail
 * at run time: everything is validated when it is set.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "dns.h"
#include "log.h"
#include "util.h"
#include "words.h"

static int check_log(const char *value, char *why, size_t whylen);
static int check_label(const char *value, char *why, size_t whylen);
static int check_identity(const char *value, char *why, size_t whylen);
static int check_mode(const char *value, char *why, size_t whylen);
static int check_action(const char *value, char *why, size_t whylen);
static int check_header(const char *value, char *why, size_t whylen);
static int check_header_name(const char *value, char *why, size_t whylen);
static int check_formats(const char *value, char *why, size_t whylen);
static int check_delimiter(const char *value, char *why, size_t whylen);
static int check_reinject(const char *value, char *why, size_t whylen);

/* The words of the enum keys (log_level's are log.h's). */
static const struct sm_name_code digests[] = {
	{ "sha256", 0 }, { "sha512", 1 }, { NULL, -1 }
};
static const struct sm_name_code local_part_cases[] = {
	{ "insensitive", 0 }, { "exact", 1 }, { NULL, -1 }
};
static const struct sm_name_code smime_ciphers[] = {
	{ "aes256-cbc", 0 }, { "aes256-gcm", 1 }, { NULL, -1 }
};
static const struct sm_name_code mixed_modes[] = {
	{ "plaintext", 0 }, { "defer", 1 }, { "split", 2 }, { NULL, -1 }
};

/* Shorthands for the programs column of the table. */
#define PD	SM_PROG_POLICYD
#define MIL	SM_PROG_MILTER
#define CTL	SM_PROG_CTL
#define ALL	SM_PROG_ALL

const struct sm_option sm_options[SM_K_COUNT] = {
	[SM_K_TRUST_ANCHOR_FILE] =
	{ "trust_anchor_file", ALL, SM_OPT_PATH, "/usr/share/dns/root.key", 0,
	  0, NULL, NULL,
	  "DNSSEC trust anchors (DS or DNSKEY records in zone-file format)" },
	[SM_K_UNBOUND_CONF] =
	{ "unbound_conf", ALL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "optional unbound.conf for the resolver (stub zones, forwarders)" },
	[SM_K_DNS_TIMEOUT] =
	{ "dns_timeout", ALL, SM_OPT_TIME, "5", 1, 300, NULL, NULL,
	  "seconds a DNS lookup may take before it counts as a timeout" },
	[SM_K_DB_PATH] =
	{ "db_path", ALL, SM_OPT_PATH, "/var/lib/smilla/smilla.db", 0, 0, NULL,
	  NULL, "sqlite database shared by the cache and the reputation log" },
	[SM_K_DB_MODE] =
	{ "db_mode", ALL, SM_OPT_STRING, "0640", 0, 0, NULL, check_mode,
	  "permissions of a database file created (octal), whatever the umask" },
	[SM_K_CACHE_MIN_TTL] =
	{ "cache_min_ttl", ALL, SM_OPT_TIME, "60", 0, 31536000, NULL, NULL,
	  "cached answers are kept at least this long" },
	[SM_K_CACHE_MAX_TTL] =
	{ "cache_max_ttl", ALL, SM_OPT_TIME, "86400", 0, 31536000, NULL, NULL,
	  "cached answers are kept at most this long" },
	[SM_K_CACHE_NEGATIVE_TTL] =
	{ "cache_negative_ttl", ALL, SM_OPT_TIME, "300", 0, 31536000, NULL,
	  NULL, "how long NXDOMAIN and no-data answers are cached" },
	[SM_K_CACHE_BOGUS_TTL] =
	{ "cache_bogus_ttl", ALL, SM_OPT_TIME, "60", 0, 3600, NULL, NULL,
	  "how long DNSSEC-bogus answers are cached (0: never)" },
	[SM_K_LOG] =
	{ "log", PD | MIL, SM_OPT_STRING, "syslog:mail", 0, 0, NULL, check_log,
	  "where to log: stderr, syslog or syslog:FACILITY" },
	[SM_K_LOG_LEVEL] =
	{ "log_level", PD | MIL, SM_OPT_ENUM, "info", 0, 0,
	  sm_log_level_names, NULL, "lowest level logged" },
	[SM_K_CLIENT_SERVICE_LABEL] =
	{ "client_service_label", PD | MIL | CTL, SM_OPT_STRING, "smtp-client", 0, 0,
	  NULL, check_label,
	  "service label of client TLSA names (_LABEL.<host>), without '_'" },
	[SM_K_REPUTATION_RETENTION] =
	{ "reputation_retention", ALL, SM_OPT_TIME, "90d", 3600, 315360000,
	  NULL, NULL, "how long reputation events are kept" },
	[SM_K_METRICS_FILE] =
	{ "metrics_file", PD | MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "counters in the Prometheus text format, replaced atomically "
	  "(empty: none)" },
	[SM_K_METRICS_INTERVAL] =
	{ "metrics_interval", PD | MIL, SM_OPT_TIME, "15", 1, 3600, NULL,
	  NULL, "how often metrics_file is written" },

	/* smilla-policyd */
	[SM_K_LISTEN] =
	{ "listen", PD, SM_OPT_STRING, "unix:/run/smilla/policyd.sock", 0, 0,
	  NULL, NULL,
	  "policy sockets: unix:PATH or inet:HOST:PORT, comma-separated",
	  .sockets = SM_SOCKS_POLICY },
	[SM_K_USER] =
	{ "user", PD | MIL, SM_OPT_STRING, "", 0, 0, NULL, NULL,
	  "unprivileged user to run as after binding (empty: stay)" },
	[SM_K_ALLOW_ROOT] =
	{ "allow_root", PD | MIL, SM_OPT_BOOL, "no", 0, 0, NULL, NULL,
	  "started as root with user empty: run as root (no: refuse to start)" },
	[SM_K_SOCKET_MODE] =
	{ "socket_mode", PD | MIL, SM_OPT_STRING, "0666", 0, 0, NULL,
	  check_mode, "permissions of unix listening sockets (octal)" },
	[SM_K_SOCKET_OWNER] =
	{ "socket_owner", PD | MIL, SM_OPT_STRING, "", 0, 0, NULL, NULL,
	  "owner of unix listening sockets, USER or USER:GROUP (empty: user)" },
	[SM_K_IDENTITY] =
	{ "identity", PD | MIL, SM_OPT_STRING, "helo, client_name, ccert_subject", 0,
	  0, NULL, check_identity,
	  "client identity candidates, in order: helo, client_name, ccert_subject" },
	[SM_K_FINGERPRINT_DIGEST] =
	{ "fingerprint_digest", PD | MIL, SM_OPT_ENUM, "sha256", 0, 0, digests,
	  NULL, "digest of the MTA's client certificate fingerprints "
	  "(Postfix: smtpd_tls_fingerprint_digest; Sendmail: "
	  "CertFingerprintAlgorithm)" },
	[SM_K_AUTHSERV_ID] =
	{ "authserv_id", PD | MIL, SM_OPT_STRING, "", 0, 0, NULL, check_header,
	  "name of this server in result headers (empty: the host name)" },
	[SM_K_AUTH_HEADER] =
	{ "auth_header", PD | MIL, SM_OPT_STRING, "DANE-Client-Auth", 0, 0, NULL,
	  check_header_name, "name of the result header" },
	/* action_pass ... action_temperror: one per result word (words.h) */
#define ACTION_OPTION_(code, word, action, doc) \
	[SM_K_ACTION_##code] = { "action_" word, PD | MIL, SM_OPT_STRING, \
	  action, 0, 0, NULL, check_action, doc },
	SM_RESULTS(ACTION_OPTION_)
	[SM_K_REQUIRE_TABLE] =
	{ "require_table", PD | MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "client hosts/domains that must pass DANE client authentication" },
	[SM_K_LOOKUP_TABLE] =
	{ "lookup_table", PD | MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "if set, only these client hosts/domains are looked up in DNS" },
	[SM_K_MAX_INFLIGHT] =
	{ "max_inflight", PD, SM_OPT_INT, "0", 0, 100000, NULL, NULL,
	  "most DNS lookups in flight at once; beyond it: temperror (0: from the descriptor limit)" },
	[SM_K_MAX_CONNECTIONS] =
	{ "max_connections", PD, SM_OPT_INT, "0", 0, 1000000, NULL, NULL,
	  "most client connections held at once (0: from the descriptor limit)" },
	[SM_K_IDLE_TIMEOUT] =
	{ "idle_timeout", PD, SM_OPT_TIME, "330", 1, 86400, NULL, NULL,
	  "seconds a connection may sit idle or inside a request before it is closed" },
	/* smilla (milter) */
	[SM_K_MILTER_SOCKET] =
	{ "milter_socket", MIL, SM_OPT_STRING, "unix:/run/smilla/smilla.sock",
	  0, 0, NULL, NULL,
	  "milter socket: unix:PATH or inet:PORT@HOST (inet6:PORT@HOST)",
	  .sockets = SM_SOCKS_MILTER },
	[SM_K_PID_FILE] =
	{ "pid_file", MIL, SM_OPT_PATH, "/run/smilla/smilla.pid", 0, 0, NULL,
	  NULL, "pid file written when smilla detaches (empty: none)" },
	[SM_K_LOCAL_DOMAINS] =
	{ "local_domains", MIL, SM_OPT_STRING, "", 0, 0, NULL, NULL,
	  "recipient domains that are inbound (.example.test: and below)" },
	[SM_K_ENCRYPT_OUTBOUND] =
	{ "encrypt_outbound", MIL, SM_OPT_BOOL, "yes", 0, 0, NULL, NULL,
	  "encrypt mail to recipients outside local_domains" },
	[SM_K_ENCRYPT_INBOUND] =
	{ "encrypt_inbound", MIL, SM_OPT_BOOL, "no", 0, 0, NULL, NULL,
	  "encrypt mail to recipients in local_domains (encryption at rest)" },
	[SM_K_REQUIRE_ENCRYPTION_TABLE] =
	{ "require_encryption_table", MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "recipient domains/addresses whose mail must be encrypted" },
	[SM_K_REQUIRE_LOCAL_PART_CASE] =
	{ "require_local_part_case", MIL, SM_OPT_ENUM, "insensitive", 0, 0,
	  local_part_cases, NULL,
	  "how require_encryption_table compares local parts (delivery folds case)" },
	[SM_K_RECIPIENT_DELIMITER] =
	{ "recipient_delimiter", MIL, SM_OPT_STRING, "+", 0, 0, NULL,
	  check_delimiter,
	  "characters that start a local part's extension, as Postfix's (empty: none)" },
	[SM_K_SMIME_CIPHER] =
	{ "smime_cipher", MIL, SM_OPT_ENUM, "aes256-cbc", 0, 0,
	  smime_ciphers, NULL,
	  "content encryption: aes256-cbc (EnvelopedData), aes256-gcm (AuthEnvelopedData)" },
	[SM_K_SENDER_COPY_CERT] =
	{ "sender_copy_cert", MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "certificate (PEM) every S/MIME message is also encrypted to" },
	[SM_K_SENDER_COPY_KEY] =
	{ "sender_copy_key", MIL, SM_OPT_PATH, "", 0, 0, NULL, NULL,
	  "OpenPGP public key every PGP/MIME message is also encrypted to" },
	[SM_K_ENCRYPTION_FORMATS] =
	{ "encryption_formats", MIL, SM_OPT_STRING, "smime openpgp", 0, 0,
	  NULL, check_formats,
	  "formats a message may be encrypted in, preferred first: smime, openpgp" },
	[SM_K_KEY_LOOKUP_LOWERCASE] =
	{ "key_lookup_lowercase", MIL, SM_OPT_BOOL, "yes", 0, 0, NULL, NULL,
	  "when a local part with uppercase finds no key, look up its lowercase form" },
	[SM_K_HEADER_PROTECTION] =
	{ "header_protection", MIL, SM_OPT_BOOL, "no", 0, 0, NULL, NULL,
	  "protect the header inside encrypted mail (RFC 9788): Subject outside becomes [...]" },
	[SM_K_MAX_MEMORY_BODY] =
	{ "max_memory_body", MIL, SM_OPT_INT, "1048576", 0, 1073741824, NULL,
	  NULL,
	  "message octets held in memory; beyond it a 0600 temporary file" },
	[SM_K_MAX_MESSAGE_SIZE] =
	{ "max_message_size", MIL, SM_OPT_INT, "67108864", 1024, 2147483647,
	  NULL, NULL, "largest message (octets) smilla encrypts" },
	[SM_K_STATUS_HEADER] =
	{ "status_header", MIL, SM_OPT_STRING, "X-Smilla", 0, 0, NULL,
	  check_header_name, "name of the milter's status header" },
	[SM_K_VERIFY_SIGNATURES] =
	{ "verify_signatures", MIL, SM_OPT_BOOL, "yes", 0, 0, NULL, NULL,
	  "check signed mail to local_domains against the sender's published keys" },
	[SM_K_MILTER_CLIENT_AUTH] =
	{ "milter_client_auth", MIL, SM_OPT_BOOL, "no", 0, 0, NULL, NULL,
	  "DANE client authentication in the milter, from Sendmail's {cert_fp}" },
	[SM_K_MIXED_RECIPIENTS] =
	{ "mixed_recipients", MIL, SM_OPT_ENUM, "plaintext", 0, 0, mixed_modes,
	  NULL, "recipients of another class than the message's: plaintext "
	  "for all, defer (452 4.5.3 at RCPT: delivered separately), or "
	  "split (a copy per class through reinject_service)" },
	[SM_K_REINJECT_SERVICE] =
	{ "reinject_service", MIL, SM_OPT_STRING, "", 0, 0, NULL,
	  check_reinject, "split mode: the MTA's SMTP listener without smilla "
	  "for the copies, inet:HOST:PORT or unix:PATH" },
	[SM_K_REINJECT_TIMEOUT] =
	{ "reinject_timeout", MIL, SM_OPT_TIME, "60", 1, 3600, NULL, NULL,
	  "split mode: seconds each step of submitting a copy may take" },
	[SM_K_SPLIT_KEY_FILE] =
	{ "split_key_file", MIL, SM_OPT_PATH, "/var/lib/smilla/split.key", 0,
	  0, NULL, NULL, "split mode: the secret of the copies' trace header "
	  "(made, mode 0600, when missing)" },
};

#undef PD
#undef MIL
#undef CTL
#undef ALL

const char *
sm_config_type_name(enum sm_opt_type type)
{
	switch (type) {
	case SM_OPT_STRING: return "string";
	case SM_OPT_PATH: return "path";
	case SM_OPT_INT: return "int";
	case SM_OPT_TIME: return "time";
	case SM_OPT_BOOL: return "bool";
	case SM_OPT_ENUM: return "enum";
	}
	return "?";
}

struct value {
	char *text;
	long num;
	char *source;
	struct sm_sock *socks;	/* socket keys: parse_sockets's block */
	size_t nsocks;
};

struct sm_config {
	struct value v[SM_K_COUNT];
};

static int
check_log(const char *value, char *why, size_t whylen)
{
	return sm_log_check(value, "info", why, whylen);
}

static int
check_label(const char *value, char *why, size_t whylen)
{
	const char *p;

	if (*value == '\0' || strlen(value) > 62) {
		sm_why(why, whylen, "label must be 1 to 62 characters");
		return -1;
	}
	for (p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-') {
			sm_why(why, whylen,
			       "label may hold letters, digits and '-' only");
			return -1;
		}
	return 0;
}

/*
 * Split VALUE into words and check each with WORD_OK; EMPTY is the
 * complaint when there are none, BAD the one (with %s) for a bad word.
 */
static int
check_words(const char *value, int (*word_ok)(const char *),
	    const char *empty, const char *bad, char *why, size_t whylen)
{
	char **v;
	size_t n, i;
	int rc = 0;

	if (sm_split(value, &v, &n) < 0 || n == 0) {
		sm_why(why, whylen, "%s", empty);
		sm_split_free(v, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (!word_ok(v[i])) {
			sm_why(why, whylen, bad, v[i]);
			rc = -1;
		}
	sm_split_free(v, n);
	return rc;
}

/* Where the path or host of a socket word begins and ends. */
struct sock_at {
	size_t path;		/* unix: from here to the end */
	size_t host, host_end;	/* inet */
};

/*
 * One socket word W of SYNTAX: its family and port into S, where its
 * path or host lies into AT.  0, or -1 when W is not a socket.
 */
static int
parse_socket(const char *w, enum sm_sock_syntax syntax, struct sm_sock *s,
	     struct sock_at *at)
{
	const char *p, *sep;
	char *end;
	long port;

	memset(s, 0, sizeof(*s));
	memset(at, 0, sizeof(*at));
	if (strncmp(w, "unix:/", 6) == 0 ||
	    (syntax == SM_SOCKS_MILTER && strncmp(w, "local:/", 7) == 0)) {
		s->family = SM_SOCK_UNIX;
		at->path = (size_t)(strchr(w, ':') + 1 - w);
		return 0;
	}
	if (syntax == SM_SOCKS_POLICY) {
		/* inet:HOST:PORT, the port in digits only */
		if (strncmp(w, "inet:", 5) != 0 ||
		    (sep = strrchr(w + 5, ':')) == NULL || sep == w + 5 ||
		    sep[1] == '\0' || strspn(sep + 1, "0123456789") !=
					   strlen(sep + 1))
			return -1;
		s->family = SM_SOCK_INET;
		at->host = 5;
		at->host_end = (size_t)(sep - w);
		/* [::1]:PORT */
		if (at->host_end - at->host >= 2 && w[at->host] == '[' &&
		    w[at->host_end - 1] == ']') {
			at->host++;
			at->host_end--;
		}
		p = sep + 1;
		sep = p + strlen(p);
	} else {
		/* {inet|inet6}:PORT@HOST */
		p = strncmp(w, "inet:", 5) == 0	 ? w + 5 :
		    strncmp(w, "inet6:", 6) == 0 ? w + 6 : NULL;
		if (p == NULL || (sep = strchr(p, '@')) == NULL ||
		    sep[1] == '\0')
			return -1;
		s->family = p == w + 5 ? SM_SOCK_INET : SM_SOCK_INET6;
		at->host = (size_t)(sep + 1 - w);
		at->host_end = strlen(w);
	}
	errno = 0;
	port = strtol(p, &end, 10);
	if (end != sep || errno != 0 || port <= 0 || port > 65535)
		return -1;
	s->port = (unsigned)port;
	return 0;
}

/*
 * The one parser of socket keys: VALUE in SYNTAX into *OUT, one owned
 * block (free() it) of *N sockets and the strings they point at.  0, or
 * -1 with the reason in WHY (*OUT NULL).
 */
static int
parse_sockets(const char *value, enum sm_sock_syntax syntax,
	      struct sm_sock **out, size_t *n, char *why, size_t whylen)
{
	char **words = NULL, *one[1], *text;
	struct sock_at at;
	size_t nw = 0, i, size;
	int split = syntax == SM_SOCKS_POLICY, rc = -1;

	*out = NULL;
	*n = 0;
	if (!split) {
		one[0] = (char *)value;
		words = one;
		nw = 1;
	} else if (sm_split(value, &words, &nw) < 0) {
		sm_why(why, whylen, "out of memory");
		return -1;
	} else if (nw == 0) {
		sm_why(why, whylen, "no socket given");
		goto done;
	}
	/* The sockets, then each word twice: as written, and its host. */
	size = nw * sizeof(**out);
	for (i = 0; i < nw; i++)
		size += 2 * (strlen(words[i]) + 1);
	if ((*out = malloc(size)) == NULL) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	text = (char *)(*out + nw);
	for (i = 0; i < nw; i++) {
		struct sm_sock *s = &(*out)[i];
		size_t len = strlen(words[i]);

		if (parse_socket(words[i], syntax, s, &at) < 0) {
			sm_why(why, whylen, split ?
			       "\"%s\" is not unix:/PATH or inet:HOST:PORT" :
			       "\"%s\" is not unix:/PATH or inet:PORT@HOST",
			       words[i]);
			goto done;
		}
		s->spec = memcpy(text, words[i], len + 1);
		text += len + 1;
		if (s->family == SM_SOCK_UNIX) {
			s->path = s->spec + at.path;
			continue;
		}
		len = at.host_end - at.host;
		memcpy(text, words[i] + at.host, len);
		text[len] = '\0';
		s->host = text;
		text += len + 1;
	}
	*n = nw;
	rc = 0;
done:
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	if (split)
		sm_split_free(words, nw);
	return rc;
}

static int
format_ok(const char *w)
{
	return sm_name_code(sm_format_names, w) >= 0;
}

/* reinject_service: empty, or one listener socket. */
static int
check_reinject(const char *value, char *why, size_t whylen)
{
	struct sm_sock *s;
	size_t n;

	if (*value == '\0')
		return 0;
	if (sm_config_parse_sockets(value, SM_SOCKS_POLICY, &s, &n, why,
				    whylen) < 0)
		return -1;
	free(s);
	if (n != 1) {
		sm_why(why, whylen, "one listener, not %zu", n);
		return -1;
	}
	return 0;
}

/* Formats: known words, each once. */
static int
check_formats(const char *value, char *why, size_t whylen)
{
	char **v;
	size_t n, i, j;
	int rc;

	if ((rc = check_words(value, format_ok, "no format given",
			      "\"%s\" is not smime or openpgp", why,
			      whylen)) < 0)
		return rc;
	if (sm_split(value, &v, &n) < 0) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		for (j = 0; j < i && rc == 0; j++)
			if (strcmp(v[i], v[j]) == 0) {
				sm_why(why, whylen, "\"%s\" given twice", v[i]);
				rc = -1;
			}
	sm_split_free(v, n);
	return rc;
}

static int
identity_ok(const char *w)
{
	return strcmp(w, "helo") == 0 || strcmp(w, "client_name") == 0 ||
	       strcmp(w, "ccert_subject") == 0;
}

static int
check_identity(const char *value, char *why, size_t whylen)
{
	return check_words(value, identity_ok, "no identity source given",
			   "\"%s\" is not helo, client_name or ccert_subject",
			   why, whylen);
}

static int
check_mode(const char *value, char *why, size_t whylen)
{
	char *end;
	long v = strtol(value, &end, 8);

	if (*value == '\0' || *end != '\0' || v < 0 || v > 0777) {
		sm_why(why, whylen, "\"%s\" is not an octal mode", value);
		return -1;
	}
	return 0;
}

/* Postfix access(5) actions that make sense from a policy server. */
static int
check_action(const char *value, char *why, size_t whylen)
{
	static const char *const words[] = {
		"DUNNO", "OK", "REJECT", "DEFER", "DEFER_IF_PERMIT",
		"DEFER_IF_REJECT", "WARN", "INFO", "HOLD", "DISCARD", "PREPEND",
		"FILTER", "REDIRECT", "BCC"
	};
	size_t i, len = strcspn(value, " \t");

	/* "header" is ours and takes no text; the rest go to Postfix. */
	if (strcasecmp(value, "header") == 0)
		return 0;
	if (strpbrk(value, "\r\n") == NULL && strncasecmp(value, "header", len) != 0) {
		if (len == 3 && (value[0] == '4' || value[0] == '5') &&
		    isdigit((unsigned char)value[1]) &&
		    isdigit((unsigned char)value[2]))
			return 0;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) == len &&
			    strncasecmp(value, words[i], len) == 0)
				return 0;
	}
	sm_why(why, whylen,
	       "\"%s\" is not header or a Postfix action (DUNNO, REJECT text, ...)",
	       value);
	return -1;
}

/* Header names and values we put in mail: printable, no ';' games. */
static int
check_header(const char *value, char *why, size_t whylen)
{
	const char *p;

	for (p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_') {
			sm_why(why, whylen,
			       "\"%s\": letters, digits and '-', '.', '_' only",
			       value);
			return -1;
		}
	return 0;
}

static int
check_header_name(const char *value, char *why, size_t whylen)
{
	if (*value == '\0') {
		sm_why(why, whylen, "a header name is needed");
		return -1;
	}
	return check_header(value, why, whylen);
}

/* Postfix's recipient_delimiter: a few printable, unquoted octets. */
static int
check_delimiter(const char *value, char *why, size_t whylen)
{
	const char *p;

	if (strlen(value) > 15) {
		sm_why(why, whylen, "at most 15 delimiter characters");
		return -1;
	}
	for (p = value; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("@\"\\.,", *p) != NULL) {
			sm_why(why, whylen, "'%c' cannot be a recipient delimiter",
			       *p > ' ' && *p < 0x7f ? *p : '?');
			return -1;
		}
	return 0;
}

int
sm_config_key(const char *name)
{
	int k;

	for (k = 0; k < SM_K_COUNT; k++)
		if (strcmp(sm_options[k].name, name) == 0)
			return k;
	return -1;
}

static int
parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/*
 * A number, or for IS_TIME a duration (NUMBER[s|m|h|d|w]), within
 * [MIN, MAX]: the one parser of both, for the option table and for
 * sm_config_duration.  The reason in WHY does not name a key.
 */
static int
parse_value(int is_time, const char *s, long min, long max, long *out,
	    char *why, size_t whylen)
{
	char *end;
	long mult = 1, v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0 || v < 0) {
		sm_why(why, whylen, "\"%s\" is not a %s", s,
		       is_time ? "duration" : "number");
		return -1;
	}
	if (is_time && *end != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 604800; break;
		default: end--; break;
		}
	}
	if (*end != '\0') {
		sm_why(why, whylen, "\"%s\" is not a %s", s,
		       is_time ? "duration (NUMBER[s|m|h|d|w])" : "number");
		return -1;
	}
	if (v > LONG_MAX / mult || v * mult < min || v * mult > max) {
		sm_why(why, whylen, "%s out of range (%ld..%ld%s)", s, min, max,
		       is_time ? " seconds" : "");
		return -1;
	}
	*out = v * mult;
	return 0;
}

static int
parse_number(const struct sm_option *o, const char *s, long *out, char *why,
	     size_t whylen)
{
	char inner[256];

	if (parse_value(o->type == SM_OPT_TIME, s, o->min, o->max, out, inner,
			sizeof(inner)) < 0) {
		sm_why(why, whylen, "%s: %s", o->name, inner);
		return -1;
	}
	return 0;
}

int
sm_config_duration(const char *s, long min, long max, long *out, char *why,
		   size_t whylen)
{
	return parse_value(1, s, min, max, out, why, whylen);
}

/* The words of CHOICES as "a|b|c", in BUF of LEN octets. */
static const char *
join_words(const struct sm_name_code *choices, char *buf, size_t len)
{
	const struct sm_name_code *w;
	size_t n = 0;

	buf[0] = '\0';
	for (w = choices; w->name != NULL && n < len; w++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "",
				      w->name);
	return buf;
}

static int
parse_enum(const struct sm_option *o, const char *s, long *out, char *why,
	   size_t whylen)
{
	char words[256];
	int code = sm_name_code(o->choices, s);

	if (code < 0) {
		sm_why(why, whylen, "%s: \"%s\" is not one of %s", o->name, s,
		       join_words(o->choices, words, sizeof(words)));
		return -1;
	}
	*out = code;
	return 0;
}

static int
set(struct sm_config *cfg, int idx, const char *value, const char *source,
    char *why, size_t whylen)
{
	const struct sm_option *o = &sm_options[idx];
	struct sm_sock *socks = NULL;
	size_t nsocks = 0;
	long num = 0;
	char *text, *src, inner[256];

	switch (o->type) {
	case SM_OPT_INT:
	case SM_OPT_TIME:
		if (parse_number(o, value, &num, why, whylen) < 0)
			return -1;
		break;
	case SM_OPT_BOOL:
		if ((num = parse_bool(value)) < 0) {
			sm_why(why, whylen, "%s: \"%s\" is not yes or no",
			       o->name, value);
			return -1;
		}
		value = num ? "yes" : "no";
		break;
	case SM_OPT_ENUM:
		if (parse_enum(o, value, &num, why, whylen) < 0)
			return -1;
		break;
	case SM_OPT_STRING:
	case SM_OPT_PATH:
		if ((o->check != NULL &&
		     o->check(value, inner, sizeof(inner)) < 0) ||
		    (o->sockets != SM_SOCKS_NONE &&
		     parse_sockets(value, o->sockets, &socks, &nsocks, inner,
				   sizeof(inner)) < 0)) {
			sm_why(why, whylen, "%s: %s", o->name, inner);
			return -1;
		}
		break;
	}
	if ((text = strdup(value)) == NULL || (src = strdup(source)) == NULL) {
		free(text);
		free(socks);
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	free(cfg->v[idx].text);
	free(cfg->v[idx].source);
	free(cfg->v[idx].socks);
	cfg->v[idx].text = text;
	cfg->v[idx].source = src;
	cfg->v[idx].num = num;
	cfg->v[idx].socks = socks;
	cfg->v[idx].nsocks = nsocks;
	return 0;
}

struct sm_config *
sm_config_new(void)
{
	struct sm_config *cfg;
	int k;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	/* A key without its line in the table, or a default that does
	   not parse, is a bug. */
	for (k = 0; k < SM_K_COUNT; k++)
		if (sm_options[k].name == NULL ||
		    set(cfg, k, sm_options[k].def, "default", NULL, 0) < 0)
			abort();
	return cfg;
}

void
sm_config_free(struct sm_config *cfg)
{
	int k;

	if (cfg == NULL)
		return;
	for (k = 0; k < SM_K_COUNT; k++) {
		free(cfg->v[k].text);
		free(cfg->v[k].source);
		free(cfg->v[k].socks);
	}
	free(cfg);
}

int
sm_config_set(struct sm_config *cfg, const char *key, const char *value,
	      char *why, size_t whylen)
{
	int idx = sm_config_key(key);

	if (idx < 0) {
		sm_why(why, whylen, "unknown key \"%s\"", key);
		return -1;
	}
	return set(cfg, idx, value, "command line", why, whylen);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Check relations between keys that no single value can show. */
static int
check_all(struct sm_config *cfg, const char *path, char *why, size_t whylen)
{
	long lo = sm_config_int(cfg, SM_K_CACHE_MIN_TTL);
	long hi = sm_config_int(cfg, SM_K_CACHE_MAX_TTL);

	if (lo > hi) {
		sm_why(why, whylen, "%s: cache_min_ttl (%ld) exceeds cache_max_ttl (%ld)",
		       path, lo, hi);
		return -1;
	}
	return 0;
}

int
sm_config_load(struct sm_config *cfg, const char *path, char *why,
	       size_t whylen)
{
	FILE *fp;
	char line[4096], inner[512], source[600];
	unsigned lineno = 0;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		sm_why(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		char *key, *eq, *value;
		int idx;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			sm_why(why, whylen, "%s:%u: line too long", path, lineno);
			rc = -1;
			break;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			sm_why(why, whylen, "%s:%u: expected \"key = value\"",
			       path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		if ((idx = sm_config_key(key)) < 0) {
			sm_why(why, whylen, "%s:%u: unknown key \"%s\"", path,
			       lineno, key);
			rc = -1;
			break;
		}
		snprintf(source, sizeof(source), "%s:%u", path, lineno);
		if (set(cfg, idx, value, source, inner, sizeof(inner)) < 0) {
			sm_why(why, whylen, "%s:%u: %s", path, lineno, inner);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(fp)) {
		sm_why(why, whylen, "%s: read error", path);
		rc = -1;
	}
	fclose(fp);
	return rc == 0 ? check_all(cfg, path, why, whylen) : rc;
}

int
sm_config_load_default(struct sm_config *cfg, const char *path, char *why,
		       size_t whylen)
{
	/* The default file may be absent: the built-in defaults then apply. */
	if (path == NULL && access(SM_CONFIG_DEFAULT_PATH, F_OK) != 0)
		return 0;
	return sm_config_load(cfg, path ? path : SM_CONFIG_DEFAULT_PATH, why,
			      whylen);
}

static const struct value *
get(const struct sm_config *cfg, enum sm_opt_key key, int numeric)
{
	enum sm_opt_type t;

	if ((int)key < 0 || key >= SM_K_COUNT)
		abort();
	t = sm_options[key].type;
	if (numeric && t != SM_OPT_INT && t != SM_OPT_TIME &&
	    t != SM_OPT_BOOL && t != SM_OPT_ENUM)
		abort();
	return &cfg->v[key];
}

const char *
sm_config_str(const struct sm_config *cfg, enum sm_opt_key key)
{
	return get(cfg, key, 0)->text;
}

long
sm_config_int(const struct sm_config *cfg, enum sm_opt_key key)
{
	return get(cfg, key, 1)->num;
}

int
sm_config_bool(const struct sm_config *cfg, enum sm_opt_key key)
{
	return (int)get(cfg, key, 1)->num;
}

const char *
sm_config_source(const struct sm_config *cfg, enum sm_opt_key key)
{
	return get(cfg, key, 0)->source;
}

int
sm_config_parse_sockets(const char *value, enum sm_sock_syntax syntax,
			struct sm_sock **out, size_t *n, char *why,
			size_t whylen)
{
	if (syntax == SM_SOCKS_NONE)
		abort();
	return parse_sockets(value, syntax, out, n, why, whylen);
}

const struct sm_sock *
sm_config_sockets(const struct sm_config *cfg, enum sm_opt_key key,
		  size_t *n)
{
	const struct value *v = get(cfg, key, 0);

	if (sm_options[key].sockets == SM_SOCKS_NONE)
		abort();
	*n = v->nsocks;
	return v->socks;
}

void
sm_config_dns(const struct sm_config *cfg, struct sm_dns_params *p)
{
	p->trust_anchor_file = sm_config_str(cfg, SM_K_TRUST_ANCHOR_FILE);
	p->unbound_conf = sm_config_str(cfg, SM_K_UNBOUND_CONF);
	p->timeout_ms = (int)sm_config_int(cfg, SM_K_DNS_TIMEOUT) * 1000;
	p->max_sockets = 0;
}

void
sm_config_cache(const struct sm_config *cfg, struct sm_cache_params *p)
{
	p->min_ttl = sm_config_int(cfg, SM_K_CACHE_MIN_TTL);
	p->max_ttl = sm_config_int(cfg, SM_K_CACHE_MAX_TTL);
	p->negative_ttl = sm_config_int(cfg, SM_K_CACHE_NEGATIVE_TTL);
	p->bogus_ttl = sm_config_int(cfg, SM_K_CACHE_BOGUS_TTL);
	sm_config_db(cfg, &p->db);
}

void
sm_config_db(const struct sm_config *cfg, struct sm_db_params *p)
{
	p->mode = (unsigned)strtoul(sm_config_str(cfg, SM_K_DB_MODE), NULL, 8);
	p->repair = 0;
	p->check_s = SM_DB_CHECK_S;
}
