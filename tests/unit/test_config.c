/*
 * test_config - smilla.conf parsing: defaults, every value type, and
 * errors that name the file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"

static char dir[] = "/tmp/smilla-test-config-XXXXXX";

/* Write TEXT to a file in the temp dir; returns its path (static). */
static const char *
conf_file(const char *text)
{
	static char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/smilla.conf", dir);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

struct bad_case {
	const char *text;
	const char *want;	/* substring of the error after the path */
};

static const struct bad_case bad[] = {
	{ "# ok\nfrobnicate = 1\n", ":2: unknown key \"frobnicate\"" },
	{ "dns_timeout = soon\n", ":1: dns_timeout: \"soon\" is not a duration" },
	{ "dns_timeout = 0\n", ":1: dns_timeout: 0 out of range" },
	{ "dns_timeout = 10x\n", ":1: dns_timeout: \"10x\" is not a duration" },
	{ "dns_timeout = -3\n", ":1: dns_timeout" },
	{ "\n\ndns_timeout\n", ":3: expected \"key = value\"" },
	{ "log_level = loud\n", ":1: log_level: \"loud\" is not one of" },
	{ "log = file\n", ":1: log: bad log destination" },
	{ "log = syslog:kern7\n", ":1: log: unknown syslog facility" },
	{ "client_service_label = _smtp\n", ":1: client_service_label" },
	{ "cache_min_ttl = 2h\ncache_max_ttl = 1h\n",
	  ": cache_min_ttl (7200) exceeds cache_max_ttl (3600)" },
	{ "cache_max_ttl = 99999999999999999999\n", ":1: cache_max_ttl" },
	{ "action_fail = header please\n", ":1: action_fail" },
	{ "action_fail = ACCEPT\n", ":1: action_fail: \"ACCEPT\" is not header" },
	{ "auth_header =\n", ":1: auth_header: a header name is needed" },
	{ "auth_header = X-A:B\n", ":1: auth_header" },
	{ "listen = inet:127.0.0.1:99x\n", ":1: listen" },
	{ "listen = unix:relative/path\n", ":1: listen" },
	{ "listen = \n", ":1: listen: no socket given" },
	{ "listen = unix:/a inet:h:0\n",
	  ":1: listen: \"inet:h:0\" is not unix:/PATH or inet:HOST:PORT" },
	{ "listen = inet::25\n", ":1: listen: \"inet::25\" is not" },
	{ "listen = inet:h:65536\n", ":1: listen: \"inet:h:65536\" is not" },
	{ "listen = local:/a\n", ":1: listen: \"local:/a\" is not" },
	{ "milter_socket = inet:25\n",
	  ":1: milter_socket: \"inet:25\" is not unix:/PATH or inet:PORT@HOST"
	},
	{ "milter_socket = inet:25@\n", ":1: milter_socket" },
	{ "milter_socket = inet:0@h\n", ":1: milter_socket" },
	{ "milter_socket = inet6:x@h\n", ":1: milter_socket" },
	{ "milter_socket = unix:run/m.sock\n", ":1: milter_socket" },
	{ "identity = helo, rdns\n", ":1: identity: \"rdns\" is not" },
	{ "socket_mode = 0999\n", ":1: socket_mode" },
	{ "fingerprint_digest = md5\n", ":1: fingerprint_digest" },
};

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_config_free(NULL);
	ok(1, "sm_config_free(NULL) is a no-op");
}

/* The socket keys as config parsed them: what the daemons bind. */
static void
sockets(void)
{
	struct sm_config *cfg = sm_config_new();
	const struct sm_sock *s;
	char why[256];
	size_t n;

	s = sm_config_sockets(cfg, SM_K_LISTEN, &n);
	ok(n == 1 && s[0].family == SM_SOCK_UNIX &&
	   strcmp(s[0].path, "/run/smilla/policyd.sock") == 0 &&
	   strcmp(s[0].spec, "unix:/run/smilla/policyd.sock") == 0 &&
	   s[0].host == NULL && s[0].port == 0, "default listen parsed");
	ok(sm_config_set(cfg, "listen",
			 "unix:/run/p.sock, inet:[::1]:10040 inet:127.0.0.1:1",
			 why, sizeof(why)) == 0, "listen list set: %s", why);
	s = sm_config_sockets(cfg, SM_K_LISTEN, &n);
	is_int((long)n, 3, "three sockets");
	ok(n == 3 && s[0].family == SM_SOCK_UNIX &&
	   strcmp(s[0].path, "/run/p.sock") == 0, "unix:PATH");
	ok(n == 3 && s[1].family == SM_SOCK_INET &&
	   strcmp(s[1].host, "::1") == 0 && s[1].port == 10040 &&
	   strcmp(s[1].spec, "inet:[::1]:10040") == 0,
	   "inet:[HOST]:PORT, brackets off the host, spec as written");
	ok(n == 3 && s[2].family == SM_SOCK_INET &&
	   strcmp(s[2].host, "127.0.0.1") == 0 && s[2].port == 1,
	   "inet:HOST:PORT");
	ok(sm_config_set(cfg, "listen", "inet:h:x", why, sizeof(why)) < 0 &&
	   sm_config_sockets(cfg, SM_K_LISTEN, &n) == s && n == 3,
	   "a refused value keeps the sockets");

	s = sm_config_sockets(cfg, SM_K_MILTER_SOCKET, &n);
	ok(n == 1 && s->family == SM_SOCK_UNIX &&
	   strcmp(s->path, "/run/smilla/smilla.sock") == 0,
	   "default milter_socket parsed");
	ok(sm_config_set(cfg, "milter_socket", "inet6:2525@[::1]", why,
			 sizeof(why)) == 0, "milter inet6 set: %s", why);
	s = sm_config_sockets(cfg, SM_K_MILTER_SOCKET, &n);
	ok(n == 1 && s->family == SM_SOCK_INET6 && s->port == 2525 &&
	   strcmp(s->host, "[::1]") == 0 &&
	   strcmp(s->spec, "inet6:2525@[::1]") == 0,
	   "inet6:PORT@HOST, the spec as libmilter takes it");
	ok(sm_config_set(cfg, "milter_socket", "local:/run/a b.sock", why,
			 sizeof(why)) == 0, "milter local set: %s", why);
	s = sm_config_sockets(cfg, SM_K_MILTER_SOCKET, &n);
	ok(n == 1 && s->family == SM_SOCK_UNIX &&
	   strcmp(s->path, "/run/a b.sock") == 0,
	   "local:PATH, one socket, blanks and all");
	sm_config_free(cfg);
}

/* The same parser for a spec that is no key's (reinject_service). */
static void
parse_sockets(void)
{
	struct sm_sock *s = NULL;
	char why[256];
	size_t n = 0;

	ok(sm_config_parse_sockets("inet:[::1]:2526", SM_SOCKS_POLICY, &s, &n,
				   why, sizeof(why)) == 0 && n == 1 &&
	   s->family == SM_SOCK_INET && strcmp(s->host, "::1") == 0 &&
	   s->port == 2526 && strcmp(s->spec, "inet:[::1]:2526") == 0,
	   "sm_config_parse_sockets: inet:[HOST]:PORT as listen takes it");
	free(s);
	ok(sm_config_parse_sockets("unix:/run/r.sock", SM_SOCKS_POLICY, &s, &n,
				   why, sizeof(why)) == 0 && n == 1 &&
	   s->family == SM_SOCK_UNIX && strcmp(s->path, "/run/r.sock") == 0,
	   "sm_config_parse_sockets: unix:PATH");
	free(s);
	ok(sm_config_parse_sockets("inet:host", SM_SOCKS_POLICY, &s, &n, why,
				   sizeof(why)) < 0 && s == NULL &&
	   strstr(why, "inet:host") != NULL,
	   "sm_config_parse_sockets: no port, -1 naming it (%s)", why);
}

/*
 * The key constants: each has its line in the table (sm_config_new
 * aborts if not), and each name found by sm_config_key is its own key.
 */
static void
keys(void)
{
	int k, all = 1;

	for (k = 0; k < SM_K_COUNT; k++)
		if (sm_options[k].name == NULL ||
		    sm_config_key(sm_options[k].name) != k)
			all = 0;
	ok(all, "every key constant names one line of the table");
	is_int(sm_config_key("dns_timeout"), SM_K_DNS_TIMEOUT,
	       "sm_config_key finds a name");
	is_int(sm_config_key("dns_timeou"), -1, "sm_config_key: unknown -1");
	is_int(sm_config_key("action_bogus"), SM_K_ACTION(SM_RESULT_BOGUS),
	       "SM_K_ACTION(result) is the action_<word> key");
	is_int(SM_K_ACTION(SM_RESULT_PASS), SM_K_ACTION_PASS,
	       "SM_K_ACTION_PASS comes first");
}

int
main(void)
{
	struct sm_config *cfg;
	char why[1024], longline[5000];
	const char *path;
	size_t i;

	free_null();
	if (mkdtemp(dir) == NULL)
		return 1;

	cfg = sm_config_new();
	ok(cfg != NULL, "defaults");
	is_str(sm_config_str(cfg, SM_K_TRUST_ANCHOR_FILE),
	       "/usr/share/dns/root.key", "default trust anchor");
	is_int(sm_config_int(cfg, SM_K_DNS_TIMEOUT), 5, "default dns_timeout");
	is_str(sm_config_str(cfg, SM_K_CLIENT_SERVICE_LABEL), "smtp-client",
	       "default label");
	is_str(sm_config_source(cfg, SM_K_DNS_TIMEOUT), "default",
	       "source default");

	path = conf_file("# comment\n"
			 "   # indented comment\n"
			 "\n"
			 "trust_anchor_file = /etc/smilla/anchor.key\n"
			 "dns_timeout=2m\n"
			 "  cache_max_ttl   =   1d  \n"
			 "cache_min_ttl = 30s\n"
			 "cache_negative_ttl = 1w\n"
			 "log = syslog:local3\n"
			 "log_level = debug\n"
			 "unbound_conf = /etc/smilla/unbound conf.d/x.conf\n"
			 "dns_timeout = 7\n"
			 "action_fail = REJECT 5.7.1 go away\n"
			 "action_pass = HEADER\n"
			 "action_bogus = 451 try later\n"
			 "listen = unix:/run/p.sock, inet:[::1]:10040 inet:127.0.0.1:1\n");
	ok(sm_config_load(cfg, path, why, sizeof(why)) == 0, "file loads");
	is_str(sm_config_str(cfg, SM_K_TRUST_ANCHOR_FILE),
	       "/etc/smilla/anchor.key", "path value");
	is_int(sm_config_int(cfg, SM_K_DNS_TIMEOUT), 7, "later line wins");
	is_str(sm_config_str(cfg, SM_K_ACTION_FAIL), "REJECT 5.7.1 go away",
	       "action with text");
	is_str(sm_config_str(cfg, SM_K_LISTEN),
	       "unix:/run/p.sock, inet:[::1]:10040 inet:127.0.0.1:1", "listen list");
	is_int(sm_config_int(cfg, SM_K_CACHE_MAX_TTL), 86400, "1d = 86400");
	is_int(sm_config_int(cfg, SM_K_CACHE_MIN_TTL), 30, "30s = 30");
	is_int(sm_config_int(cfg, SM_K_CACHE_NEGATIVE_TTL), 604800, "1w");
	is_str(sm_config_str(cfg, SM_K_LOG), "syslog:local3", "log spec");
	is_int(sm_config_int(cfg, SM_K_LOG_LEVEL), 4, "enum index of debug");
	is_str(sm_config_str(cfg, SM_K_LOG_LEVEL), "debug", "enum text");
	is_str(sm_config_str(cfg, SM_K_UNBOUND_CONF),
	       "/etc/smilla/unbound conf.d/x.conf", "inner blanks kept");
	ok(strstr(sm_config_source(cfg, SM_K_DNS_TIMEOUT), "smilla.conf:12") !=
		   NULL,
	   "source names file:line (%s)",
	   sm_config_source(cfg, SM_K_DNS_TIMEOUT));
	sm_config_free(cfg);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = sm_config_new();
		path = conf_file(bad[i].text);
		why[0] = '\0';
		ok(sm_config_load(cfg, path, why, sizeof(why)) < 0 &&
		   strncmp(why, path, strlen(path)) == 0 &&
		   strstr(why, bad[i].want) != NULL,
		   "bad config %zu: %s", i, why);
		sm_config_free(cfg);
	}

	/* A line longer than the reader's buffer is an error, not a split. */
	memset(longline, 'x', sizeof(longline) - 2);
	memcpy(longline, "log = ", 6);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	cfg = sm_config_new();
	path = conf_file(longline);
	ok(sm_config_load(cfg, path, why, sizeof(why)) < 0 &&
	   strstr(why, ":1: line too long") != NULL, "overlong line: %s", why);
	sm_config_free(cfg);

	cfg = sm_config_new();
	ok(sm_config_load(cfg, "/nonexistent/smilla.conf", why,
			  sizeof(why)) < 0 &&
	   strstr(why, "/nonexistent/smilla.conf: No such file") != NULL,
	   "missing file: %s", why);
	ok(sm_config_set(cfg, "dns_timeout", "9", why, sizeof(why)) == 0 &&
	   sm_config_int(cfg, SM_K_DNS_TIMEOUT) == 9, "set from command line");
	ok(sm_config_set(cfg, "nope", "9", why, sizeof(why)) < 0 &&
	   strstr(why, "unknown key") != NULL, "set unknown key refused");
	ok(sm_config_set(cfg, "dns_timeout", "301", why, sizeof(why)) < 0 &&
	   sm_config_int(cfg, SM_K_DNS_TIMEOUT) == 9,
	   "failed set keeps the old value");
	sm_config_free(cfg);

	/* What every program does with -c: a file given must load... */
	cfg = sm_config_new();
	ok(sm_config_load_default(cfg, conf_file("dns_timeout = 11\n"), why,
				  sizeof(why)) == 0 &&
	   sm_config_int(cfg, SM_K_DNS_TIMEOUT) == 11,
	   "load_default: file given");
	ok(sm_config_load_default(cfg, "/nonexistent/smilla.conf", why,
				  sizeof(why)) < 0 &&
	   strstr(why, "/nonexistent/smilla.conf: No such file") != NULL,
	   "load_default: a file given must exist: %s", why);
	sm_config_free(cfg);
	/* ... and without one, an absent default file means the defaults. */
	cfg = sm_config_new();
	if (access(SM_CONFIG_DEFAULT_PATH, F_OK) != 0)
		ok(sm_config_load_default(cfg, NULL, why, sizeof(why)) == 0 &&
		   strcmp(sm_config_source(cfg, SM_K_DNS_TIMEOUT),
			  "default") == 0,
		   "load_default: no %s, built-in defaults",
		   SM_CONFIG_DEFAULT_PATH);
	else
		ok(1, "# SKIP %s exists here", SM_CONFIG_DEFAULT_PATH);
	sm_config_free(cfg);

	/* log_level's words are log.h's, one list for both. */
	{
		const struct sm_name_code *w;
		int all = 1;

		ok(sm_options[SM_K_LOG_LEVEL].choices == sm_log_level_names,
		   "log_level takes its words from sm_log_level_names");
		cfg = sm_config_new();
		for (w = sm_log_level_names; w->name != NULL; w++)
			if (sm_config_set(cfg, "log_level", w->name, why,
					  sizeof(why)) < 0 ||
			    sm_config_int(cfg, SM_K_LOG_LEVEL) != w->code ||
			    sm_log_check("stderr", w->name, why,
					 sizeof(why)) < 0)
				all = 0;
		ok(all, "every level word is a log_level and an sm_log level");
		ok(sm_log_check("stderr", "loud", why, sizeof(why)) < 0 &&
		   strstr(why, "(err, warning, notice, info, debug)") != NULL,
		   "unknown level names the words: %s", why);
		sm_config_free(cfg);
	}

	/* The duration parser others share (smillactl --since). */
	{
		long secs = -1;

		ok(sm_config_duration("90d", 1, 315360000, &secs, why,
				      sizeof(why)) == 0 && secs == 7776000,
		   "duration 90d = 7776000 (%ld)", secs);
		ok(sm_config_duration("15m", 1, 3600, &secs, why,
				      sizeof(why)) == 0 && secs == 900,
		   "duration 15m = 900 (%ld)", secs);
		secs = 42;
		ok(sm_config_duration("0", 1, 3600, &secs, why,
				      sizeof(why)) < 0 &&
		   strstr(why, "0 out of range (1..3600 seconds)") != NULL &&
		   secs == 42, "duration below the bound refused: %s", why);
		ok(sm_config_duration("2h", 1, 3600, &secs, why,
				      sizeof(why)) < 0 &&
		   strstr(why, "out of range") != NULL,
		   "duration above the bound refused: %s", why);
		ok(sm_config_duration("3x", 1, 3600, &secs, why,
				      sizeof(why)) < 0 &&
		   strstr(why, "\"3x\" is not a duration") != NULL,
		   "bad suffix refused: %s", why);
		ok(sm_config_duration("99999999999999999999w", 0, 3600, &secs,
				      why, sizeof(why)) < 0,
		   "overflow refused: %s", why);
	}

	/* Every option's default must parse (sm_config_new aborts if not)
	   and carry a description. */
	for (i = 0; i < SM_K_COUNT; i++)
		if (sm_options[i].doc == NULL || sm_options[i].doc[0] == '\0')
			break;
	ok(i == SM_K_COUNT, "every option documented");

	keys();
	sockets();
	parse_sockets();

	unlink(conf_file(""));
	rmdir(dir);
	return done_testing();
}
