/*
 * server.c - the event loop of smilla-policyd and its API; the
 * contract is server.h, the pieces share srv.h.
 *
 * The loop never blocks on DNS: libunbound's fd is one of the
 * descriptors watched and its deadlines bound the wait.  It is
 * epoll(7): a round costs what the ready descriptors cost, not what
 * every connection costs, so a thousand connections parked on slow
 * lookups do not slow down the answers from the cache.  Only the
 * connections something happened to are looked at again after the
 * events ("todo", the sweep), where they are closed or watched anew.
 *
 * Descriptors are bounded: at most max_connections clients are held at
 * once, and the lookups in flight (each one a libunbound socket) at
 * most max_inflight; both default to shares of RLIMIT_NOFILE, so that
 * a full house still leaves libunbound and the database their sockets
 * and files.
 *
 * The rest is one file per concern:
 *   conn.c     connection I/O, output buffering, the idle list
 *   accept.c   accepting, the connection cap, back-off, idle_timeout
 *   cycle.c    the request cycle: parse, start, answer, log, record
 *   flight.c   lookups: verdict memo, caches, shared DNS flights
 *   mcache.c   the memory cache of TLSA answers
 *   counters.c the metrics and metrics_file
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "reputation.h"
#include "srv.h"

#define FLUSH_MS 1000
/*
 * Descriptors kept for what is not a client connection or a lookup:
 * stdio, listeners, epoll, libunbound's pipes and TCP, the database
 * files of the cache and the reputation writer, syslog.
 */
#define FD_RESERVE 64
#define FD_CEILING (1L << 20)	/* RLIM_INFINITY: the kernel's nr_open */
#define INFLIGHT_DEFAULT_MAX 1000

static void rep_error(const char *why);

/*
 * Size max_connections and max_inflight to the descriptor limit L (the
 * soft RLIMIT_NOFILE): of B = L - FD_RESERVE, max_inflight 0 takes
 * B / 4 (at most 1000) and max_connections 0 the rest.  A configured
 * max_inflight above B / 2, or a max_connections above what
 * max_inflight leaves, is lowered, with a warning.
 */
static void
size_limits(struct pol_server *srv, const struct sm_config *cfg)
{
	long want_in = sm_config_int(cfg, SM_K_MAX_INFLIGHT);
	long want_conn = sm_config_int(cfg, SM_K_MAX_CONNECTIONS);
	long lim = FD_CEILING, budget, inflight, conns;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)FD_CEILING)
		lim = (long)rl.rlim_cur;
	budget = lim - FD_RESERVE > 2 ? lim - FD_RESERVE : 2;
	inflight = budget / 4 < INFLIGHT_DEFAULT_MAX ? budget / 4 :
						      INFLIGHT_DEFAULT_MAX;
	if (want_in > 0) {
		inflight = want_in;
		if (inflight > budget / 2) {
			inflight = budget / 2;
			sm_log(SM_LOG_WARNING,
			       "max_inflight %ld does not fit under the descriptor "
			       "limit %ld: using %ld", want_in, lim, inflight);
		}
	}
	if (inflight < 1)
		inflight = 1;
	conns = budget - inflight;
	if (want_conn > 0 && want_conn <= conns) {
		conns = want_conn;
	} else if (want_conn > 0) {
		sm_log(SM_LOG_WARNING,
		       "max_connections %ld does not fit under the descriptor "
		       "limit %ld with max_inflight %ld: using %ld",
		       want_conn, lim, inflight, conns);
	}
	if (conns < 1)
		conns = 1;
	srv->max_inflight = inflight;
	srv->max_conns = srv->cap_conns = conns;
	srv->idle_ms = (int64_t)sm_config_int(cfg, SM_K_IDLE_TIMEOUT) * 1000;
	sm_log(SM_LOG_INFO,
	       "descriptor limit %ld: max_connections %ld, max_inflight %ld, "
	       "idle_timeout %ld s", lim, conns, inflight,
	       sm_config_int(cfg, SM_K_IDLE_TIMEOUT));
}

int
pol_server_configure(struct pol_server *srv, const struct sm_config *cfg,
		     char *why, size_t whylen)
{
	struct pol_config fresh;
	char host[SM_NAME_BUF] = "localhost";

	gethostname(host, sizeof(host) - 1);
	if (pol_config_load(&fresh, cfg, host, why, whylen) < 0)
		return -1;
	pol_config_free(&srv->pc);
	srv->pc = fresh;
	size_limits(srv, cfg);
	/* After a reload, answers come from the shared cache or DNS again. */
	pol_mc_purge(srv);
	return 0;
}

/*
 * The cache and the reputation store in DB.  A broken file is moved
 * aside (said loudly); one that cannot be opened at all leaves the
 * daemon deciding without it, never down.
 */
static void
open_stores(struct pol_server *srv, const struct sm_config *cfg,
	    const char *db)
{
	char why[1024];

	srv->cp.db.repair = 1;
	if ((srv->cache = sm_cache_open(db, &srv->cp, why,
					sizeof(why))) == NULL)
		sm_log(SM_LOG_ERR, "%s; running without a cache", why);
	else if (*why != '\0')
		sm_log(SM_LOG_WARNING, "%s", why);
	if (srv->cache != NULL &&
	    sm_cache_writer_start(srv->cache, rep_error, why,
				  sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "cannot start the cache writer (%s); running"
		       " without a cache", why);
		sm_cache_close(srv->cache);
		srv->cache = NULL;
	}
	srv->rep = sm_rep_open(db, &srv->cp.db,
			       sm_config_int(cfg, SM_K_REPUTATION_RETENTION),
			       why, sizeof(why));
	if (srv->rep == NULL)
		sm_log(SM_LOG_ERR, "%s; decisions are not recorded", why);
	else if (*why != '\0')
		sm_log(SM_LOG_WARNING, "%s", why);
	if (srv->rep != NULL &&
	    sm_rep_writer_start(srv->rep, FLUSH_MS, rep_error, why,
				sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "cannot start the reputation writer (%s);"
		       " decisions are not recorded", why);
		sm_rep_close(srv->rep);
		srv->rep = NULL;
	}
}

struct pol_server *
pol_server_new(const struct sm_config *cfg, char *why, size_t whylen)
{
	struct pol_server *srv = calloc(1, sizeof(*srv));
	struct sm_dns_params dp;
	const char *db = sm_config_str(cfg, SM_K_DB_PATH);

	struct epoll_event ev;

	if (srv == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		sm_why(why, whylen, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	if (pol_server_configure(srv, cfg, why, whylen) < 0)
		goto fail;
	sm_config_dns(cfg, &dp);
	/* Each flight one socket, and never more (dns.h, max_sockets). */
	dp.max_sockets = (int)srv->max_inflight;
	if ((srv->dns = sm_dns_new(&dp, why, whylen)) == NULL)
		goto fail;
	srv->dns_watch.kind = POL_W_DNS;
	srv->dns_watch.fd = sm_dns_fd(srv->dns);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &srv->dns_watch;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->dns_watch.fd, &ev) < 0) {
		sm_why(why, whylen, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	sm_config_cache(cfg, &srv->cp);
	if (*db != '\0')
		open_stores(srv, cfg, db);
	pol_counters_open(srv, cfg);
	return srv;
fail:
	pol_server_free(srv);
	return NULL;
}

int
pol_server_listen(struct pol_server *srv, int fd, char *why, size_t whylen)
{
	struct pol_watch **grown = realloc(srv->listeners,
				       (srv->nlisteners + 1) * sizeof(*grown));
	struct epoll_event ev;
	struct pol_watch *w;

	if (grown == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	srv->listeners = grown;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	w->kind = POL_W_LISTENER;
	w->fd = fd;
	pol_nonblock(fd);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = w;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		sm_why(why, whylen, "epoll_ctl: %s", strerror(errno));
		free(w);
		return -1;
	}
	srv->listeners[srv->nlisteners++] = w;
	return 0;
}

int
pol_server_adopt(struct pol_server *srv, int in, int out, char *why,
		 size_t whylen)
{
	/* Memory is all conn_new can run out of. */
	if (pol_conn_new(srv, in, out) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

size_t
pol_server_connections(const struct pol_server *srv)
{
	return srv->nconns;
}

/* Called from the reputation writer thread. */
static void
rep_error(const char *why)
{
	sm_log(SM_LOG_WARNING, "%s", why);
}

/* Connections that came up in this round's events (and DNS answers). */
static void
sweep(struct pol_server *srv)
{
	struct pol_conn *c;

	while ((c = srv->todo) != NULL) {
		srv->todo = c->todo_next;
		/* Still marked: what process() finishes needs no second look. */
		if (c->ready && !c->dead)
			pol_cycle_process(c);
		c->todo = 0;
		/* Answers still buffered are written before closing. */
		if (c->in < 0 ||
		    (c->dead && (c->wlen == 0 || c->woff >= c->wlen || c->eof)) ||
		    (c->eof && !c->busy && c->wlen == 0))
			pol_conn_close(c);
		else
			pol_conn_watch(c);
	}
}

void
pol_server_run_once(struct pol_server *srv)
{
	struct pol_conn *c;
	int timeout = FLUSH_MS, dl, n, i, files_ready = 0;
	int64_t now = sm_now_ms();

	if (srv->paused && now >= srv->resume_at)
		pol_listeners_watch(srv, 1);
	if (srv->paused && srv->resume_at - now < timeout)
		timeout = (int)(srv->resume_at - now);
	/* Wake up when the connection idle longest reaches idle_timeout. */
	if (srv->idle_head != NULL) {
		int64_t left = srv->idle_head->since + srv->idle_ms - now;

		if (left < timeout)
			timeout = left > 0 ? (int)left : 0;
	}
	for (c = srv->nfiles ? srv->conns : NULL; c != NULL; c = c->next)
		files_ready |= c->file && pol_conn_wants_input(c);
	if ((dl = sm_dns_next_deadline(srv->dns)) >= 0 && dl < timeout)
		timeout = dl;
	if ((dl = pol_counters_due(srv, now)) < timeout)
		timeout = dl;
	if (files_ready)
		timeout = 0;
	if ((n = epoll_wait(srv->epfd, srv->events, MAX_EVENTS, timeout)) < 0) {
		if (errno != EINTR)
			sm_log(SM_LOG_WARNING, "epoll_wait: %s", strerror(errno));
		n = 0;
	}
	/* DNS first: its answers finish requests of the connections below. */
	for (i = 0; i < n; i++)
		if (((struct pol_watch *)srv->events[i].data.ptr)->kind ==
		    POL_W_DNS) {
			sm_dns_process(srv->dns);
			break;
		}
	sm_dns_expire(srv->dns);
	for (i = 0; i < n; i++) {
		struct pol_watch *w = srv->events[i].data.ptr;
		uint32_t rev = srv->events[i].events;

		if (w->kind == POL_W_LISTENER) {
			if (!srv->paused)
				pol_accept_all(srv, w->fd);
		} else if (w->kind == POL_W_CONN) {
			c = (struct pol_conn *)w;
			if (c->in < 0)
				continue;	/* closed at the cap this round */
			if (rev & EPOLLOUT)
				pol_conn_write(c, "", 0);
			if (rev & (EPOLLIN | EPOLLHUP | EPOLLERR))
				pol_conn_read(c);
			pol_conn_touch(c);
		}
	}
	for (c = files_ready ? srv->conns : NULL; c != NULL; c = c->next)
		if (c->file && pol_conn_wants_input(c)) {
			pol_conn_read(c);
			pol_conn_touch(c);
		}
	now = sm_now_ms();
	pol_idle_expire(srv, now);
	sweep(srv);
	pol_cap_report(srv, now);
}

void
pol_server_free(struct pol_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	/* The last counts, before the connections go. */
	pol_counters_close(srv);
	while (srv->conns != NULL) {
		struct pol_conn *c = srv->conns;

		pol_conn_unlink(c);
		if (c->waiting == 0)
			pol_conn_free(c);
		else
			c->dead = 1;	/* freed with its flights below */
	}
	/* Freeing the resolver cancels lookups without callbacks. */
	sm_dns_free(srv->dns);
	pol_flights_free(srv);
	for (i = 0; i < srv->nlisteners; i++) {
		close(srv->listeners[i]->fd);
		free(srv->listeners[i]);
	}
	free(srv->listeners);
	if (srv->epfd >= 0)
		close(srv->epfd);
	pol_mc_purge(srv);
	sm_cache_close(srv->cache);
	sm_rep_close(srv->rep);
	pol_config_free(&srv->pc);
	free(srv);
}
