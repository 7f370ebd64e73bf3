/*
 * server.c - the event loop of smilla-policyd.
 *
 * A connection reads requests one at a time: a request is parsed,
 * copied out of the input buffer, and either decided at once (no
 * certificate, or every TLSA RRset it needs is in the memory or sqlite
 * cache), or parked until its lookups come back.  Lookups for the same
 * owner name are shared ("flights"); a parked connection is not read
 * from, so a client cannot queue unbounded work.  The loop never blocks
 * on DNS: libunbound's fd is one of the polled descriptors and its
 * deadlines bound the poll timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cache.h"
#include "config.h"
#include "decide.h"
#include "dns.h"
#include "log.h"
#include "reputation.h"
#include "request.h"
#include "server.h"

#define RBUF_MAX (1024 * 1024)	/* one request can never be larger */
#define MC_BUCKETS 8192
#define MC_MAX 100000		/* memory cache entries before a purge */
#define FLUSH_MS 1000

struct conn {
	struct pol_server *srv;
	int in, out;
	char *rbuf, *wbuf;
	size_t roff;		/* input before this is consumed */
	size_t rlen, rcap, wlen, woff, wcap;
	int waiting;		/* lookups the current request waits for */
	int busy;		/* a request is being decided */
	int ready;		/* look at the input buffer again */
	int eof, dead;
	/*
	 * The request being decided points into RBUF, which is neither
	 * read into nor moved while the connection is busy.
	 */
	struct pol_request req;
	struct pol_decision d;
	char hdr_instance[64];	/* message that got the header already */
	int64_t t0;
	int used_dns;		/* some answer had to come from DNS */
	int looked_up;		/* some TLSA RRset was needed at all */
	struct conn *next;
};

struct waiter {
	struct conn *c;
	int cand;
	struct waiter *next;
};

struct flight {
	struct pol_server *srv;
	char *name;
	struct waiter *waiters;
	struct flight *next;
};

struct mc {
	char *name;
	struct sm_dns_result *res;
	time_t expires;
	struct mc *next;
};

struct pol_server {
	struct pol_config pc;
	struct sm_cache_params cp;
	struct sm_dns *dns;
	struct sm_cache *cache;
	struct sm_rep *rep;
	int *listeners;
	size_t nlisteners;
	struct conn *conns;
	size_t nconns;
	struct flight *flights;
	size_t nflights;
	long max_inflight;
	struct mc *mc[MC_BUCKETS];
	size_t nmc;
	unsigned long rep_dropped;	/* since the last warning */
	time_t rep_drop_logged;
	struct pollfd *pfd;
	struct conn **pconn;	/* connection of each poll slot */
	size_t npfd;
};

/* ---------------------------------------------------------------- cache */

static unsigned
hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 ^ (unsigned char)*s++;
	return h % MC_BUCKETS;
}

static void
mc_purge(struct pol_server *srv)
{
	size_t i;

	for (i = 0; i < MC_BUCKETS; i++)
		while (srv->mc[i] != NULL) {
			struct mc *e = srv->mc[i];

			srv->mc[i] = e->next;
			sm_dns_result_free(e->res);
			free(e->name);
			free(e);
		}
	srv->nmc = 0;
}

static const struct sm_dns_result *
mc_get(struct pol_server *srv, const char *name, time_t now)
{
	struct mc **pp = &srv->mc[hash(name)], *e;

	while ((e = *pp) != NULL) {
		if (strcmp(e->name, name) == 0) {
			if (e->expires > now)
				return e->res;
			*pp = e->next;
			sm_dns_result_free(e->res);
			free(e->name);
			free(e);
			srv->nmc--;
			return NULL;
		}
		pp = &e->next;
	}
	return NULL;
}

/* Keep RES (owned) for LIFE seconds; frees it when it is not kept. */
static void
mc_put(struct pol_server *srv, struct sm_dns_result *res, long life,
       time_t now)
{
	struct mc *e;
	unsigned h;

	if (life <= 0 || res == NULL) {
		sm_dns_result_free(res);
		return;
	}
	if (mc_get(srv, res->qname, now) != NULL) {
		/* A second answer for a name already cached: keep the first. */
		sm_dns_result_free(res);
		return;
	}
	if (srv->nmc >= MC_MAX)
		mc_purge(srv);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(res->qname)) == NULL) {
		free(e);
		sm_dns_result_free(res);
		return;
	}
	h = hash(e->name);
	e->res = res;
	e->expires = now + life;
	e->next = srv->mc[h];
	srv->mc[h] = e;
	srv->nmc++;
}

/* ---------------------------------------------------------------- output */

/* Queue LEN octets of TEXT and write what the socket takes. */
static void
conn_write(struct conn *c, const char *text, size_t len)
{
	ssize_t n;

	if (c->dead)
		return;
	if (c->wlen + len > c->wcap) {
		size_t cap = c->wlen + len + 512;
		char *grown = realloc(c->wbuf, cap);

		if (grown == NULL) {
			c->dead = 1;
			return;
		}
		c->wbuf = grown;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, text, len);
	c->wlen += len;
	while (c->woff < c->wlen) {
		n = write(c->out, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* poll for POLLOUT */
		if (n <= 0) {
			c->dead = 1;
			return;
		}
		c->woff += (size_t)n;
	}
	c->woff = c->wlen = 0;
}

/* ---------------------------------------------------------------- decide */

static const char *
attr(const struct conn *c, enum pol_attr_id id)
{
	return pol_request_value(&c->req, id);
}

static void
record_event(struct conn *c, const struct pol_candidate *cand)
{
	struct pol_server *srv = c->srv;
	struct sm_rep_event ev;
	char ident[SM_NAME_BUF + 4];

	if (srv->rep == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.client_address = attr(c, POL_A_CLIENT_ADDRESS);
	/* No identity: the client is known by its address. */
	ev.identity = c->d.identity;
	if (c->d.identity[0] == '\0') {
		snprintf(ident, sizeof(ident), "[%s]", ev.client_address);
		ev.identity = ident;
	}
	ev.time = time(NULL);
	ev.source = "policyd";
	ev.helo = attr(c, POL_A_HELO_NAME);
	ev.result = pol_result_word(c->d.result);
	ev.usage = ev.selector = ev.mtype = -1;
	if (cand != NULL && c->d.result == POL_PASS) {
		ev.usage = cand->usage;
		ev.selector = cand->selector;
		ev.mtype = cand->mtype;
	}
	/* Only well-formed fingerprints count as keys seen. */
	ev.cert_fp = c->d.cert_fp ? attr(c, POL_A_CCERT_FINGERPRINT) : "";
	ev.key_fp = c->d.key_fp ? attr(c, POL_A_CCERT_PUBKEY_FINGERPRINT) : "";
	ev.tls_protocol = attr(c, POL_A_ENCRYPTION_PROTOCOL);
	ev.tls_cipher = attr(c, POL_A_ENCRYPTION_CIPHER);
	/* Drops are counted and reported at most once a second. */
	if (sm_rep_add(srv->rep, &ev) < 0)
		srv->rep_dropped++;
	if (srv->rep_dropped > 0 && ev.time != srv->rep_drop_logged) {
		sm_log(SM_LOG_WARNING,
		       "reputation store behind: %lu events dropped",
		       srv->rep_dropped);
		srv->rep_dropped = 0;
		srv->rep_drop_logged = ev.time;
	}
}

/* All lookups are in: answer, log, record. */
static void
finish(struct conn *c)
{
	static const char pre[] = "action=";
	struct pol_server *srv = c->srv;
	const struct pol_candidate *cand;
	const char *instance = attr(c, POL_A_INSTANCE);
	const char *state = attr(c, POL_A_PROTOCOL_STATE);
	const char *helo = attr(c, POL_A_HELO_NAME);
	const char *client_name = attr(c, POL_A_CLIENT_NAME);
	char line[1100], detail[200], *action = line + sizeof(pre) - 1;
	int prepend_ok, added;
	size_t len;
	double ms;

	pol_conclude(&srv->pc, &c->d);
	cand = c->d.chosen >= 0 ? &c->d.cand[c->d.chosen] : NULL;
	/* PREPEND once per message, never at end-of-data. */
	prepend_ok = strcmp(state, "END-OF-MESSAGE") != 0 &&
		     (instance[0] == '\0' ||
		      strcmp(instance, c->hdr_instance) != 0);
	memcpy(line, pre, sizeof(pre) - 1);
	len = pol_action(&srv->pc, &c->d, prepend_ok, &added, action,
			 sizeof(line) - sizeof(pre) - 2);
	if (added)
		sm_strlcpy(c->hdr_instance, instance, sizeof(c->hdr_instance));
	memcpy(action + len, "\n\n", 2);
	conn_write(c, line, sizeof(pre) - 1 + len + 2);
	action[len] = '\0';	/* for the log line */
	record_event(c, cand);
	c->busy = 0;
	c->ready = 1;
	if (!sm_log_enabled(SM_LOG_INFO))
		return;
	ms = (double)(sm_now_ms() - c->t0);
	if (c->d.result == POL_PASS && cand != NULL)
		snprintf(detail, sizeof(detail), "record=\"%d %d %d\"",
			 cand->usage, cand->selector, cand->mtype);
	else
		snprintf(detail, sizeof(detail), "reason=\"%s\"",
			 cand && cand->reason[0] ? cand->reason :
			 c->d.have_cert ? "no usable identity" :
					  "no client certificate");
	sm_log(SM_LOG_INFO,
	       "client=%s[%s] helo=%s identity=%s result=%s %s lookup=%s "
	       "time=%.1fms state=%s action=%s",
	       client_name[0] ? client_name : "unknown",
	       attr(c, POL_A_CLIENT_ADDRESS), helo[0] ? helo : "-",
	       c->d.identity[0] ? c->d.identity : "-",
	       pol_result_word(c->d.result), detail,
	       c->used_dns ? "dns" : c->looked_up ? "cache" : "none",
	       ms, state[0] ? state : "-", action);
}

static void conn_free(struct conn *c);
static void rep_error(const char *why);

static void
answered(void *arg, struct sm_dns_result *res)
{
	struct flight *f = arg, **pp;
	struct pol_server *srv = f->srv;
	struct waiter *w;
	time_t now = time(NULL);
	char why[256];

	if (res != NULL && srv->cache != NULL &&
	    sm_cache_put(srv->cache, res, now, why, sizeof(why)) < 0)
		sm_log(SM_LOG_WARNING, "%s", why);
	while ((w = f->waiters) != NULL) {
		struct conn *c = w->c;

		f->waiters = w->next;
		if (!c->dead)
			pol_found(&srv->pc, &c->d, w->cand, res);
		free(w);
		if (--c->waiting == 0) {
			if (c->dead)
				conn_free(c);
			else
				finish(c);
		}
	}
	for (pp = &srv->flights; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	srv->nflights--;
	if (res != NULL)
		mc_put(srv, res, sm_cache_lifetime(&srv->cp, res), now);
	free(f->name);
	free(f);
}

/* Get candidate I of C's request a result, now or later. */
static void
need(struct conn *c, int i)
{
	struct pol_server *srv = c->srv;
	const char *name = c->d.cand[i].owner;
	const struct sm_dns_result *hit;
	struct sm_dns_result *res = NULL;
	struct flight *f;
	struct waiter *w;
	time_t now = time(NULL);
	char why[256];

	if ((hit = mc_get(srv, name, now)) != NULL) {
		pol_found(&srv->pc, &c->d, i, hit);
		return;
	}
	if (srv->cache != NULL &&
	    sm_cache_get(srv->cache, name, SM_RR_TLSA, now, &res, why,
			 sizeof(why)) < 0)
		sm_log(SM_LOG_WARNING, "%s", why);
	if (res != NULL) {
		pol_found(&srv->pc, &c->d, i, res);
		mc_put(srv, res, (long)res->ttl, now);
		return;
	}
	c->used_dns = 1;
	for (f = srv->flights; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL) {
		if ((long)srv->nflights >= srv->max_inflight) {
			pol_fail_lookup(&c->d, i, "too many lookups in flight");
			return;
		}
		if ((f = calloc(1, sizeof(*f))) == NULL ||
		    (f->name = strdup(name)) == NULL) {
			free(f);
			pol_fail_lookup(&c->d, i, "out of memory");
			return;
		}
		f->srv = srv;
		if (sm_dns_submit(srv->dns, name, SM_RR_TLSA, answered, f) < 0) {
			free(f->name);
			free(f);
			pol_fail_lookup(&c->d, i, "cannot start lookup");
			return;
		}
		f->next = srv->flights;
		srv->flights = f;
		srv->nflights++;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		/* The flight goes on; this request just cannot wait for it. */
		pol_fail_lookup(&c->d, i, "out of memory");
		return;
	}
	w->c = c;
	w->cand = i;
	w->next = f->waiters;
	f->waiters = w;
	c->waiting++;
}

/* Start deciding C's request (parsed into C->req). */
static void
start(struct conn *c)
{
	int i;

	c->t0 = sm_now_ms();
	c->busy = 1;
	c->used_dns = 0;
	pol_prepare(&c->srv->pc, &c->req, &c->d);
	/* Count first, so an early answer cannot finish the request. */
	c->waiting = 1;
	c->looked_up = 0;
	for (i = 0; i < c->d.ncand; i++)
		if (c->d.cand[i].need_lookup && !c->d.cand[i].done) {
			c->looked_up = 1;
			need(c, i);
		}
	if (--c->waiting == 0)
		finish(c);
}

/* Decide every complete request in the input buffer, one at a time. */
static void
process(struct conn *c)
{
	size_t used;
	char why[128];
	int rc;

	c->ready = 0;
	while (!c->busy && !c->dead && c->rlen > c->roff) {
		rc = pol_request_parse(c->rbuf + c->roff, c->rlen - c->roff,
				       &c->req, &used, why, sizeof(why));
		if (rc == 0)
			break;
		if (rc < 0) {
			/* No answer: Postfix applies its default_action. */
			sm_log(SM_LOG_WARNING,
			       "malformed request (%s): closing the connection",
			       why);
			c->dead = 1;
			break;
		}
		/* Consumed now; the octets stay put until the next read. */
		c->roff += used;
		start(c);
	}
	if (c->eof && !c->busy && c->rlen == c->roff)
		c->dead = 1;
}

/* ---------------------------------------------------------------- conns */

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static struct conn *
conn_new(struct pol_server *srv, int in, int out)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = srv;
	c->in = in;
	c->out = out;
	/* stdout under spawn(8) stays blocking: answers are small. */
	nonblock(in);
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	return c;
}

static void
conn_unlink(struct conn *c)
{
	struct pol_server *srv = c->srv;
	struct conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			srv->nconns--;
			break;
		}
	close(c->in);
	if (c->out != c->in)
		close(c->out);
	c->in = c->out = -1;
}

static void
conn_free(struct conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

/* Close C; while lookups still point at it, the last one frees it. */
static void
conn_close(struct conn *c)
{
	conn_unlink(c);
	c->dead = 1;
	if (c->waiting == 0)
		conn_free(c);
}

static void
conn_read(struct conn *c)
{
	ssize_t n;

	/* Never while busy: the request being decided points into RBUF. */
	if (c->busy)
		return;
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (c->rlen == c->rcap) {
		size_t cap = c->rcap ? 2 * c->rcap : 8192;
		char *grown;

		if (cap > RBUF_MAX || (grown = realloc(c->rbuf, cap)) == NULL) {
			sm_log(SM_LOG_WARNING, "request too large: closing");
			c->dead = 1;
			return;
		}
		c->rbuf = grown;
		c->rcap = cap;
	}
	n = read(c->in, c->rbuf + c->rlen, c->rcap - c->rlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		c->eof = 1;
	else
		c->rlen += (size_t)n;
	process(c);
	if (c->eof && !c->busy && c->rlen > c->roff && !c->dead) {
		sm_log(SM_LOG_WARNING, "connection closed inside a request");
		c->dead = 1;
	}
}

/* ---------------------------------------------------------------- API */

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
	srv->max_inflight = sm_config_int(cfg, "max_inflight");
	/* After a reload, answers come from the shared cache or DNS again. */
	mc_purge(srv);
	return 0;
}

struct pol_server *
pol_server_new(const struct sm_config *cfg, char *why, size_t whylen)
{
	struct pol_server *srv = calloc(1, sizeof(*srv));
	struct sm_dns_params dp;
	const char *db = sm_config_str(cfg, "db_path");

	if (srv == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	if (pol_server_configure(srv, cfg, why, whylen) < 0)
		goto fail;
	sm_config_dns(cfg, &dp);
	if ((srv->dns = sm_dns_new(&dp, why, whylen)) == NULL)
		goto fail;
	sm_config_cache(cfg, &srv->cp);
	if (*db != '\0') {
		if ((srv->cache = sm_cache_open(db, &srv->cp, why, whylen)) == NULL ||
		    (srv->rep = sm_rep_open(db, sm_config_int(cfg,
					"reputation_retention"), why,
					    whylen)) == NULL)
			goto fail;
		if (sm_rep_writer_start(srv->rep, FLUSH_MS, rep_error) < 0) {
			sm_why(why, whylen, "cannot start the reputation writer");
			goto fail;
		}
	}
	return srv;
fail:
	pol_server_free(srv);
	return NULL;
}

int
pol_server_listen(struct pol_server *srv, int fd)
{
	int *grown = realloc(srv->listeners,
			     (srv->nlisteners + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	nonblock(fd);
	srv->listeners = grown;
	srv->listeners[srv->nlisteners++] = fd;
	return 0;
}

int
pol_server_adopt(struct pol_server *srv, int in, int out)
{
	return conn_new(srv, in, out) ? 0 : -1;
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

void
pol_server_run_once(struct pol_server *srv)
{
	size_t n = 0, i, need = srv->nlisteners + srv->nconns + 1;
	struct conn *c, *next;
	int timeout = FLUSH_MS, dl, fd;

	if (need > srv->npfd) {
		struct pollfd *grown = realloc(srv->pfd, need * sizeof(*grown));
		struct conn **cgrown;

		if (grown == NULL)
			return;
		srv->pfd = grown;
		if ((cgrown = realloc(srv->pconn, need * sizeof(*cgrown))) == NULL)
			return;
		srv->pconn = cgrown;
		srv->npfd = need;
	}
	srv->pfd[n].fd = sm_dns_fd(srv->dns);
	srv->pfd[n++].events = POLLIN;
	for (i = 0; i < srv->nlisteners; i++) {
		srv->pfd[n].fd = srv->listeners[i];
		srv->pfd[n++].events = POLLIN;
	}
	for (c = srv->conns; c != NULL; c = c->next) {
		/*
		 * A busy connection is not read: one request at a time.  With
		 * nothing to wait for, its slot is disabled (fd -1): poll
		 * would report a hang-up on it again and again.
		 */
		short ev = c->busy || c->eof ? 0 : POLLIN;

		if (c->wlen > 0 && c->out == c->in)
			ev |= POLLOUT;
		srv->pfd[n].fd = ev ? c->in : -1;
		srv->pfd[n].events = ev;
		srv->pfd[n].revents = 0;
		srv->pconn[n++] = c;
	}
	if ((dl = sm_dns_next_deadline(srv->dns)) >= 0 && dl < timeout)
		timeout = dl;
	if (poll(srv->pfd, n, timeout) < 0 && errno != EINTR)
		sm_log(SM_LOG_WARNING, "poll: %s", strerror(errno));
	if (srv->pfd[0].revents & POLLIN)
		sm_dns_process(srv->dns);
	sm_dns_expire(srv->dns);
	for (i = 1; i <= srv->nlisteners; i++) {
		if (!(srv->pfd[i].revents & POLLIN))
			continue;
		while ((fd = accept4(srv->listeners[i - 1], NULL, NULL,
				     SOCK_CLOEXEC)) >= 0)
			if (conn_new(srv, fd, fd) == NULL)
				close(fd);
	}
	/* New connections went to the list head; slots still match. */
	for (i = srv->nlisteners + 1; i < n; i++) {
		c = srv->pconn[i];
		if (srv->pfd[i].revents & POLLOUT)
			conn_write(c, "", 0);
		if (srv->pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			conn_read(c);
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->ready && !c->dead)
			process(c);
		/* Answers still buffered are written before closing. */
		if (c->dead && (c->wlen == 0 || c->woff >= c->wlen || c->eof))
			conn_close(c);
		else if (c->eof && !c->busy && c->wlen == 0)
			conn_close(c);
	}
}

void
pol_server_free(struct pol_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	while (srv->conns != NULL) {
		struct conn *c = srv->conns;

		conn_unlink(c);
		if (c->waiting == 0)
			conn_free(c);
		else
			c->dead = 1;	/* freed with its flights below */
	}
	/* Freeing the resolver cancels lookups without callbacks. */
	sm_dns_free(srv->dns);
	while (srv->flights != NULL) {
		struct flight *f = srv->flights;

		srv->flights = f->next;
		while (f->waiters != NULL) {
			struct waiter *w = f->waiters;

			f->waiters = w->next;
			if (--w->c->waiting == 0)
				conn_free(w->c);
			free(w);
		}
		free(f->name);
		free(f);
	}
	for (i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i]);
	free(srv->listeners);
	free(srv->pfd);
	free(srv->pconn);
	mc_purge(srv);
	sm_cache_close(srv->cache);
	sm_rep_close(srv->rep);
	pol_config_free(&srv->pc);
	free(srv);
}
