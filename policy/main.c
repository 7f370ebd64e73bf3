/*
 * smilla-policyd - DANE client authentication for Postfix, as an SMTP
 * access policy delegation server.
 *
 *   smilla-policyd [-c FILE]          serve the sockets in "listen"
 *   smilla-policyd [-c FILE] -s       serve one connection on stdin/stdout
 *                                     (Postfix spawn(8))
 *
 * One process, one epoll(7) loop (server.c): client sockets, the
 * libunbound fd and timers.  A request whose TLSA data is cached is
 * answered at once; one that needs DNS waits for its lookup (shared
 * with every other request for the same name) without holding up
 * anybody else.  SIGHUP re-reads
 * smilla.conf and the tables; SIGTERM/SIGINT stop the daemon after the
 * reputation log is written.  Whatever stops it (a signal, the end of
 * input under -s, an error) is logged in one "stopping" line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "decide.h"
#include "log.h"
#include "priv.h"
#include "server.h"

static volatile sig_atomic_t got_hup, got_term;	/* got_term: the signal */

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = sig;
}

/* The one line saying why the daemon stops; returns STATUS to exit with. */
static int
stopping(int status, const char *why, size_t nconns)
{
	sm_log(status == 0 ? SM_LOG_NOTICE : SM_LOG_ERR,
	       "stopping (%s), %zu connections open", why, nconns);
	return status;
}

static void
usage(void)
{
	fputs("usage: smilla-policyd [-c FILE] [-s]\n", stderr);
	exit(EX_USAGE);
}

static int
listen_unix(const char *path, const struct sm_config *cfg, char *why,
	    size_t whylen)
{
	struct sockaddr_un sun;
	mode_t mode =
		(mode_t)strtol(sm_config_str(cfg, SM_K_SOCKET_MODE), NULL, 8);
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		sm_why(why, whylen, "%s: path too long", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	/* Replace a stale socket, never any other kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sm_why(why, whylen, "unix:%s: exists and is not a socket",
			       path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, 128) < 0) {
		sm_why(why, whylen, "unix:%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
listen_inet(const struct sm_sock *s, char *why, size_t whylen)
{
	char port[8];
	struct addrinfo hints, *ai = NULL;
	int fd = -1, on = 1, rc;

	snprintf(port, sizeof(port), "%u", s->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(s->host, port, &hints, &ai)) != 0) {
		sm_why(why, whylen, "%s: %s", s->spec, gai_strerror(rc));
		return -1;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		sm_why(why, whylen, "%s: %s", s->spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/*
 * Open the N sockets of "listen" (SOCKS, as config parsed them) into
 * the array returned; exits on failure (startup only).
 */
static int *
open_listeners(const struct sm_config *cfg, const struct sm_sock *socks,
	       size_t n)
{
	char why[512];
	size_t i;
	int *fds;

	if ((fds = calloc(n ? n : 1, sizeof(*fds))) == NULL) {
		sm_log(SM_LOG_ERR, "out of memory");
		exit(stopping(EX_OSERR, "error", 0));
	}
	for (i = 0; i < n; i++) {
		fds[i] = socks[i].family == SM_SOCK_UNIX ?
				 listen_unix(socks[i].path, cfg, why,
					     sizeof(why)) :
				 listen_inet(&socks[i], why, sizeof(why));
		if (fds[i] < 0) {
			sm_log(SM_LOG_ERR, "cannot listen on %s", why);
			exit(stopping(EX_OSERR, "error", 0));
		}
		sm_log(SM_LOG_INFO, "listening on %s", socks[i].spec);
	}
	return fds;
}

/*
 * Chown the N unix SOCKS open, and drop root (under -s too: there are
 * no sockets then, and spawn(8) has made it a no-op).
 */
static void
drop_privileges(const struct sm_config *cfg, const struct sm_sock *socks,
		size_t n)
{
	const char *user = sm_config_str(cfg, SM_K_USER);
	const char *owner = sm_config_str(cfg, SM_K_SOCKET_OWNER);
	char why[256];
	size_t i;
	int rc;

	if (*owner == '\0')
		owner = user;
	for (i = 0; i < n; i++) {
		if (socks[i].family != SM_SOCK_UNIX)
			continue;
		rc = sm_priv_chown(socks[i].path, owner, why, sizeof(why));
		if (rc == -1) {
			sm_log(SM_LOG_ERR, "socket_owner: %s", why);
			exit(stopping(EX_NOUSER, "error", 0));
		}
		if (rc < 0)
			sm_log(SM_LOG_WARNING, "%s", why);
	}
	if ((rc = sm_priv_drop(user, why, sizeof(why))) < 0) {
		sm_log(SM_LOG_ERR, "user: %s", why);
		exit(stopping(rc == -1 ? EX_NOUSER : EX_OSERR, "error", 0));
	}
	if (rc == 1)
		sm_log(SM_LOG_INFO, "running as %s", user);
	else if (geteuid() == 0)	/* sm_priv_check let it: allow_root */
		sm_log(SM_LOG_WARNING, "running as root (allow_root = yes)");
}

static struct sm_config *
load_config(const char *path, char *why, size_t whylen)
{
	struct sm_config *cfg = sm_config_new();

	if (cfg == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	if (sm_config_load_default(cfg, path, why, whylen) < 0) {
		sm_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* SIGHUP: new settings and tables, or the old ones if they are bad. */
static void
reload(struct pol_server *srv, const char *path, struct sm_config **cfg)
{
	struct sm_config *fresh;
	char why[512];

	if ((fresh = load_config(path, why, sizeof(why))) == NULL) {
		sm_log(SM_LOG_ERR, "reload failed, keeping the old settings: %s",
		       why);
		return;
	}
	if (pol_server_configure(srv, fresh, why, sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "reload failed, keeping the old settings: %s",
		       why);
		sm_config_free(fresh);
		return;
	}
	if (strcmp(sm_config_str(fresh, SM_K_LISTEN),
		   sm_config_str(*cfg, SM_K_LISTEN)) != 0)
		sm_log(SM_LOG_WARNING, "listen changed: takes effect on restart");
	sm_config_free(*cfg);
	*cfg = fresh;
	sm_log(SM_LOG_INFO, "configuration and tables reloaded");
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct sm_config *cfg;
	struct pol_server *srv;
	struct sigaction sa;
	const struct sm_sock *socks = NULL;
	char why[512];
	size_t nlisten = 0, i;
	int c, rc, stdin_mode = 0, *fds = NULL;

	while ((c = getopt(argc, argv, "c:sfh")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 's': stdin_mode = 1; break;
		case 'f': break;	/* always in the foreground */
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	/* Early: a SIGHUP during start-up must not kill the daemon. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((cfg = load_config(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "smilla-policyd: %s\n", why);
		return EX_CONFIG;
	}
	/* Before anything is opened: a refusal leaves nothing behind. */
	if ((rc = sm_priv_check(cfg, path, why, sizeof(why))) < 0) {
		fprintf(stderr, "smilla-policyd: %s\n", why);
		sm_config_free(cfg);
		return rc == -1 ? EX_CONFIG : EX_NOUSER;
	}
	if (sm_log_open("smilla-policyd", sm_config_str(cfg, SM_K_LOG),
			sm_config_str(cfg, SM_K_LOG_LEVEL), why,
			sizeof(why)) < 0) {
		fprintf(stderr, "smilla-policyd: %s\n", why);
		return EX_CONFIG;
	}
	/* Bind as root, then drop privileges, then open files and DNS. */
	if (!stdin_mode) {
		socks = sm_config_sockets(cfg, SM_K_LISTEN, &nlisten);
		fds = open_listeners(cfg, socks, nlisten);
	}
	drop_privileges(cfg, socks, nlisten);
	if ((srv = pol_server_new(cfg, why, sizeof(why))) == NULL) {
		sm_log(SM_LOG_ERR, "%s", why);
		return stopping(EX_CONFIG, "error", 0);
	}
	for (i = 0; i < nlisten; i++)
		if (pol_server_listen(srv, fds[i], why, sizeof(why)) < 0) {
			sm_log(SM_LOG_ERR, "cannot listen on %s: %s",
			       socks[i].spec, why);
			return stopping(EX_OSERR, "error", 0);
		}
	free(fds);
	if (stdin_mode && pol_server_adopt(srv, 0, 1, why, sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "cannot serve stdin: %s", why);
		return stopping(EX_OSERR, "error", 0);
	}
	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			reload(srv, path, &cfg);
		}
		pol_server_run_once(srv);
		if (stdin_mode && pol_server_connections(srv) == 0)
			break;	/* the one connection is gone */
	}
	stopping(0, got_term == SIGINT ? "SIGINT" : got_term ? "SIGTERM" :
						    "end of input",
		 pol_server_connections(srv));
	pol_server_free(srv);
	sm_config_free(cfg);
	sm_log_close();
	return 0;
}
