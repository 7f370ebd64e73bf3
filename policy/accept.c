/*
 * accept.c - smilla-policyd's new connections and their bounds: accept,
 * the connection cap, accept back-off, idle_timeout; the contract is
 * srv.h.
 *
 * At most max_connections clients are held at once (server.c sizes it
 * from RLIMIT_NOFILE).  A new connection at the cap closes the head of
 * the idle list (conn.c), preferring among the first few one with no
 * answer still to send; when every connection is deciding a request,
 * the new one is refused, and Postfix applies its default_action.  A
 * head idle longer than idle_timeout is closed, so the check costs one
 * look per round.  When accept4(2) runs out of descriptors or memory,
 * the listeners are left unwatched for a back-off (a level-triggered
 * listener that cannot be drained would otherwise spin the loop), once
 * per episode logged, and the cap is lowered to what did fit until an
 * episode passes without failures.
 *
 *   pol_accept_all(srv, lfd)        accept what listener LFD has
 *   pol_listeners_watch(srv, on)    watch the listeners or not (paused)
 *   pol_idle_expire(srv, now)       close who is idle for idle_timeout
 *   pol_cap_report(srv, now)        evictions and refusals at the cap,
 *                                   logged at most once a second
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "srv.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define EPISODE_MS 10000	/* accept failures this far apart: new episode */
#define VICTIM_LOOK 64		/* idle connections looked at for a quiet one */

/*
 * Close the longest-idle connection, preferring one with no answer
 * still to send among the first few.  0 when every connection is
 * deciding a request.
 */
static int
evict(struct pol_server *srv)
{
	struct pol_conn *c, *victim = srv->idle_head;
	int i;

	for (c = victim, i = 0; c != NULL && i < VICTIM_LOOK;
	     c = c->idle_next, i++)
		if (c->wlen == c->woff) {
			victim = c;
			break;
		}
	if (victim == NULL)
		return 0;
	pol_conn_drop(victim);
	return 1;
}

/* Evictions and refusals at the cap, summed up at most once a second. */
void
pol_cap_report(struct pol_server *srv, int64_t now)
{
	if ((srv->evicted == 0 && srv->refused == 0) ||
	    now - srv->cap_logged < 1000)
		return;
	sm_log(SM_LOG_NOTICE,
	       "max_connections (%ld) reached: closed %lu longest-idle "
	       "connections, refused %lu new ones (all deciding)",
	       srv->max_conns, srv->evicted, srv->refused);
	srv->evicted = srv->refused = 0;
	srv->cap_logged = now;
}

void
pol_listeners_watch(struct pol_server *srv, int on)
{
	struct epoll_event ev;
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = srv->listeners[i];
		epoll_ctl(srv->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
			  srv->listeners[i]->fd, &ev);
	}
	srv->paused = !on;
}

/*
 * accept4 failed with ERR, for want of descriptors or memory, or for a
 * reason that would fail again at once: the listener stays readable,
 * so it is left unwatched for a while (doubling up to a second while
 * failures follow each other), and room is made by closing the
 * longest-idle connection.  When descriptors ran out, the cap comes
 * down to what fit, less a sixteenth for the lookups' sockets; at the
 * lowered cap every new connection replaces an idle one.  ENFILE may be
 * another process's doing, and limits change: after EPISODE_MS without
 * a failure the cap is restored (restore_cap).
 */
static void
accept_trouble(struct pol_server *srv, int err)
{
	int64_t now = sm_now_ms();
	int fresh = srv->accept_failed == 0 ||
		    now - srv->accept_failed > EPISODE_MS;
	long was = srv->max_conns;
	size_t nopen = srv->nconns;

	srv->backoff_ms = fresh ? BACKOFF_MIN_MS :
		srv->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
						      srv->backoff_ms * 2;
	srv->accept_failed = now;
	if ((err == EMFILE || err == ENFILE) && srv->nconns > 1) {
		long fit = (long)srv->nconns - 1 - (long)srv->nconns / 16;

		if (fit < srv->max_conns)
			srv->max_conns = fit;
	}
	do {
		if (!evict(srv))
			break;
		srv->evicted++;
		sm_metric_add(srv->ct.errors, POL_ERR_EVICTED, 1);
	} while ((long)srv->nconns > srv->max_conns);
	if (fresh)
		sm_log(SM_LOG_WARNING,
		       "accept: %s with %zu connections open: pausing new "
		       "connections (%d ms, up to %d ms while it lasts); "
		       "max_connections %ld%s",
		       strerror(err), nopen, srv->backoff_ms,
		       BACKOFF_MAX_MS, srv->max_conns,
		       srv->max_conns < was ? " for now" : "");
	srv->resume_at = now + srv->backoff_ms;
	pol_listeners_watch(srv, 0);
}

/* An episode is over: the cap lowered by accept_trouble comes back. */
static void
restore_cap(struct pol_server *srv)
{
	if (srv->max_conns >= srv->cap_conns ||
	    sm_now_ms() - srv->accept_failed <= EPISODE_MS)
		return;
	srv->max_conns = srv->cap_conns;
	sm_log(SM_LOG_NOTICE, "accept: no failure for %d s: max_connections "
	       "back to %ld", EPISODE_MS / 1000, srv->max_conns);
}

void
pol_accept_all(struct pol_server *srv, int lfd)
{
	int fd;

	restore_cap(srv);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;	/* that one is gone; next */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				accept_trouble(srv, errno);
			return;
		}
		/* At the cap: the longest-idle one makes room. */
		while ((long)srv->nconns >= srv->max_conns && evict(srv)) {
			srv->evicted++;
			sm_metric_add(srv->ct.errors, POL_ERR_EVICTED, 1);
		}
		if ((long)srv->nconns >= srv->max_conns) {
			/* Everybody waits for DNS: Postfix's default_action. */
			close(fd);
			srv->refused++;
			sm_metric_add(srv->ct.errors, POL_ERR_REFUSED, 1);
		} else if (pol_conn_new(srv, fd, fd) == NULL) {
			close(fd);
		}
	}
}

/*
 * Close every connection idle for idle_timeout (freed in sweep());
 * the idle list is in SINCE order, so only its head is looked at.
 */
void
pol_idle_expire(struct pol_server *srv, int64_t now)
{
	struct pol_conn *c;

	while ((c = srv->idle_head) != NULL &&
	       now - c->since >= srv->idle_ms) {
		sm_log(SM_LOG_INFO, "closing a connection idle for %lld s%s",
		       (long long)((now - c->since) / 1000),
		       c->rlen > c->roff ? " inside a request" :
		       c->wlen > c->woff ? " with answers unread" : "");
		sm_metric_add(srv->ct.errors, POL_ERR_IDLE, 1);
		pol_conn_drop(c);
	}
}
