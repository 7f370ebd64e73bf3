/*
 * server.c - the event loop of smilla-policyd; the contract is
 * server.h.
 *
 * A connection reads requests one at a time: a request is parsed,
 * copied out of the input buffer, and either decided at once (no
 * certificate, or every TLSA RRset it needs is in the memory or sqlite
 * cache), or parked until its lookups come back.  Lookups for the same
 * owner name are shared ("flights"); a parked connection is not read
 * from, so a client cannot queue unbounded work.  The loop never blocks
 * on DNS: libunbound's fd is one of the descriptors watched and its
 * deadlines bound the wait.
 *
 * The loop is epoll(7): a round costs what the ready descriptors cost,
 * not what every connection costs, so a thousand connections parked on
 * slow lookups do not slow down the answers from the cache.  A
 * connection is watched for what it can take next (input when idle,
 * output when an answer is pending) and not at all while it waits.  Only
 * the connections something happened to are looked at again after the
 * events ("todo").  Input that epoll refuses (a regular file on stdin
 * under -s) is always ready.
 *
 * Descriptors are bounded: at most max_connections clients are held at
 * once, and the lookups in flight (each one a libunbound socket) at
 * most max_inflight; both default to shares of RLIMIT_NOFILE, so that
 * a full house still leaves libunbound and the database their sockets
 * and files.  Connections that are not deciding a request sit on the
 * idle list, longest idle first: a new connection at the cap closes
 * the head, and a head idle longer than idle_timeout is closed, so the
 * check costs one look per round.  When accept4(2) runs out of
 * descriptors or memory, the listeners are left unwatched for a back-off
 * (a level-triggered listener that cannot be drained would otherwise
 * spin the loop), once per episode logged, and the cap is lowered to
 * what did fit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
#define WBUF_HIGH (256 * 1024)	/* answers queued: read no more until sent */
#define MC_BUCKETS 8192
#define MC_MAX 100000		/* memory cache entries before a purge */
#define FLUSH_MS 1000
#define MAX_EVENTS 256
/*
 * Descriptors kept for what is not a client connection or a lookup:
 * stdio, listeners, epoll, libunbound's pipes and TCP, the database
 * files of the cache and the reputation writer, syslog.
 */
#define FD_RESERVE 64
#define FD_CEILING (1L << 20)	/* RLIM_INFINITY: the kernel's nr_open */
#define INFLIGHT_DEFAULT_MAX 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define EPISODE_MS 10000	/* accept failures this far apart: new episode */
#define VICTIM_LOOK 64		/* idle connections looked at for a quiet one */

/* What an epoll event is about: first member of what it belongs to. */
enum watch_kind { W_DNS, W_LISTENER, W_CONN };

struct watch {
	enum watch_kind kind;
	int fd;
};

struct conn {
	struct watch w;		/* first: epoll hands this back */
	struct pol_server *srv;
	int in, out;
	uint32_t mask;		/* events watched; 0: not in epoll */
	int wblocked;		/* the socket took no more: wait for EPOLLOUT */
	int file;		/* input epoll refuses: always ready */
	int todo;		/* on srv->todo */
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
	/*
	 * Each candidate's verdict from a memory cache entry, valid while
	 * the memory cache is unchanged (its generation) and the entry
	 * lives: the next request of the session needs no lookup and no
	 * matching.
	 */
	struct vmemo {
		unsigned long gen;	/* srv->mc_gen; 0: none */
		time_t expires;
		struct pol_verdict v;
	} vmemo[POL_MAX_CAND];
	struct conn *prev, *next;
	struct conn *todo_next;
	/*
	 * On the idle list (not deciding a request), in the order of
	 * SINCE: when the last answer went or the current request began.
	 */
	int idle;
	int64_t since;
	struct conn *idle_prev, *idle_next;
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
	int epfd;
	struct watch dns_watch;
	struct watch **listeners;
	size_t nlisteners;
	struct conn *conns;
	size_t nconns, nfiles;
	struct conn *todo;	/* to look at after this round's events */
	struct flight *flights;
	size_t nflights;
	long max_inflight;
	long max_conns;		/* lowered when accept4 runs out of fds */
	long cap_conns;		/* what configure() gave: restored after
				   an episode without failures */
	int64_t idle_ms;
	struct conn *idle_head, *idle_tail;	/* longest idle first */
	int paused;		/* listeners unwatched until RESUME_AT */
	int64_t resume_at, accept_failed;
	int backoff_ms;
	unsigned long evicted, refused;	/* at the cap, since last logged */
	int64_t cap_logged;
	struct mc *mc[MC_BUCKETS];
	size_t nmc;
	unsigned long mc_gen;	/* changes with every entry in or out */
	unsigned long rep_dropped;	/* since the last warning */
	time_t rep_drop_logged;
	struct epoll_event events[MAX_EVENTS];
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
	srv->mc_gen++;
}

static const struct mc *
mc_get(struct pol_server *srv, const char *name, time_t now)
{
	struct mc **pp = &srv->mc[hash(name)], *e;

	while ((e = *pp) != NULL) {
		if (strcmp(e->name, name) == 0) {
			if (e->expires > now)
				return e;
			*pp = e->next;
			sm_dns_result_free(e->res);
			free(e->name);
			free(e);
			srv->nmc--;
			srv->mc_gen++;
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
	srv->mc_gen++;
}

/* ---------------------------------------------------------------- idle */

static void
idle_remove(struct conn *c)
{
	struct pol_server *srv = c->srv;

	if (!c->idle)
		return;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		srv->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		srv->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->idle = 0;
}

/* C is idle from now on: to the tail, so the list stays in SINCE order. */
static void
idle_append(struct conn *c)
{
	struct pol_server *srv = c->srv;

	idle_remove(c);
	c->since = sm_now_ms();
	c->idle = 1;
	c->idle_prev = srv->idle_tail;
	if (srv->idle_tail != NULL)
		srv->idle_tail->idle_next = c;
	else
		srv->idle_head = c;
	srv->idle_tail = c;
}

/* Something went over C: its idle time starts again (if it is idle). */
static void
active(struct conn *c)
{
	if (c->idle)
		idle_append(c);
}

/* ---------------------------------------------------------------- output */

/*
 * Queue LEN octets of TEXT and write what the socket takes.  A closing
 * connection only flushes what it has; when the peer is gone, that is
 * dropped.
 */
static void
conn_write(struct conn *c, const char *text, size_t len)
{
	ssize_t n;

	if (c->dead && len > 0)
		return;
	if (len > 0 && c->wlen + len > c->wcap) {
		size_t cap = c->wlen + len + 512;
		char *grown = realloc(c->wbuf, cap);

		if (grown == NULL) {
			c->dead = 1;
			return;
		}
		c->wbuf = grown;
		c->wcap = cap;
	}
	if (len > 0)
		memcpy(c->wbuf + c->wlen, text, len);
	c->wlen += len;
	if (c->wblocked && len > 0)
		return;		/* no write(2) until the socket has room */
	c->wblocked = 0;
	while (c->woff < c->wlen) {
		n = write(c->out, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->wblocked = 1;	/* watched for EPOLLOUT */
			return;
		}
		if (n <= 0) {
			c->dead = 1;
			break;
		}
		c->woff += (size_t)n;
		active(c);
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

/* Look at C again after this round's events. */
static void
touch(struct conn *c)
{
	if (c->todo)
		return;
	c->todo = 1;
	c->todo_next = c->srv->todo;
	c->srv->todo = c;
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
	char e_name[256], e_addr[160], e_helo[1024], e_state[64], e_reason[160];
	char e_id[1024], e_action[1400];
	int prepend_ok, added;
	size_t len;
	double ms;

	pol_conclude(&srv->pc, &c->d);
	cand = c->d.chosen >= 0 ? &c->d.cand[c->d.chosen] : NULL;
	/* PREPEND once per message, never at end-of-data. */
	prepend_ok = strcmp(state, "END-OF-MESSAGE") != 0 &&
		     (instance[0] == '\0' ||
		      strncmp(instance, c->hdr_instance,
			      sizeof(c->hdr_instance) - 1) != 0);
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
	idle_append(c);
	touch(c);
	if (!sm_log_enabled(SM_LOG_INFO))
		return;
	ms = (double)(sm_now_ms() - c->t0);
	if (c->d.result == POL_PASS && cand != NULL)
		snprintf(detail, sizeof(detail), "record=\"%d %d %d\"",
			 cand->usage, cand->selector, cand->mtype);
	else
		snprintf(detail, sizeof(detail), "reason=\"%s\"",
			 sm_escape_quoted(cand && cand->reason[0] ? cand->reason :
				   c->d.have_cert ? "no usable identity" :
						    "no client certificate",
				   e_reason, sizeof(e_reason)));
	/* What the client sent is escaped: it cannot forge a field. */
	sm_log(SM_LOG_INFO,
	       "client=%s[%s] helo=%s identity=%s result=%s %s lookup=%s "
	       "time=%.1fms state=%s action=%s",
	       client_name[0] ? sm_escape(client_name, e_name, sizeof(e_name)) :
				"unknown",
	       sm_escape(attr(c, POL_A_CLIENT_ADDRESS), e_addr, sizeof(e_addr)),
	       helo[0] ? sm_escape(helo, e_helo, sizeof(e_helo)) : "-",
	       c->d.identity[0] ? sm_escape(c->d.identity, e_id, sizeof(e_id)) :
				  "-",
	       pol_result_word(c->d.result), detail,
	       c->used_dns ? "dns" : c->looked_up ? "cache" : "none",
	       ms, state[0] ? sm_escape(state, e_state, sizeof(e_state)) : "-",
	       sm_escape_quoted(action, e_action, sizeof(e_action)));
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

	/* Only queued: the cache's writer reports what it cannot store. */
	if (res != NULL && srv->cache != NULL)
		sm_cache_put(srv->cache, res, now, why, sizeof(why));
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
	const struct mc *hit;
	struct sm_dns_result *res = NULL;
	struct vmemo *m = &c->vmemo[i];
	struct flight *f;
	struct waiter *w;
	time_t now = time(NULL);
	char why[256];

	/* Same names and keys as the last request, same cache entry. */
	if (c->d.memo_hit && m->gen == srv->mc_gen && m->expires > now) {
		pol_verdict_set(&c->d, i, &m->v);
		return;
	}
	m->gen = 0;
	if ((hit = mc_get(srv, name, now)) != NULL) {
		pol_found(&srv->pc, &c->d, i, hit->res);
		m->gen = srv->mc_gen;
		m->expires = hit->expires;
		pol_verdict_get(&c->d, i, &m->v);
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
	/* Waiting for DNS is not idling: no timeout, never closed at the cap. */
	idle_remove(c);
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
		if (c->wlen - c->woff >= WBUF_HIGH) {
			/* A client that does not read its answers waits. */
			c->ready = 1;
			break;
		}
		rc = pol_request_parse(c->rbuf + c->roff, c->rlen - c->roff,
				       &c->req, &used, why, sizeof(why));
		if (rc == 0)
			break;
		if (rc < 0) {
			/* No answer: Postfix applies its default_action. */
			char e_why[512];

			sm_log(SM_LOG_WARNING,
			       "malformed request (%s): closing the connection",
			       sm_escape_quoted(why, e_why, sizeof(e_why)));
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

/* Is C ready for its next request (and has room for the answer)? */
static int
wants_input(const struct conn *c)
{
	return !c->busy && !c->eof && !c->dead && c->wlen - c->woff < WBUF_HIGH;
}

/* Watch C for what it can take next; nothing while it waits. */
static void
conn_watch(struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;
	int op;

	if (c->file || c->in < 0)
		return;
	if (wants_input(c))
		want |= EPOLLIN;
	/* stdout under spawn(8) stays blocking: answers are small. */
	if (c->wlen > 0 && c->out == c->in)
		want |= EPOLLOUT;
	if (want == c->mask)
		return;
	/* Not watched at all: epoll would report a hang-up again and again. */
	op = want == 0 ? EPOLL_CTL_DEL : c->mask == 0 ? EPOLL_CTL_ADD :
							EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = &c->w;
	if (epoll_ctl(c->srv->epfd, op, c->in, &ev) == 0) {
		c->mask = want;
	} else if (op == EPOLL_CTL_ADD && errno == EPERM) {
		c->file = 1;	/* a regular file: always readable */
		c->srv->nfiles++;
	} else {
		sm_log(SM_LOG_WARNING, "epoll_ctl: %s: closing the connection",
		       strerror(errno));
		c->dead = 1;
		touch(c);
	}
}

static struct conn *
conn_new(struct pol_server *srv, int in, int out)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w.kind = W_CONN;
	c->w.fd = in;
	c->srv = srv;
	c->in = in;
	c->out = out;
	nonblock(in);
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	idle_append(c);
	conn_watch(c);
	return c;
}

static void
conn_unlink(struct conn *c)
{
	struct pol_server *srv = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv->nconns--;
	idle_remove(c);
	if (c->mask != 0)
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->in, NULL);
	if (c->file)
		srv->nfiles--;
	c->mask = 0;
	c->file = 0;
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

/*
 * Close C; while lookups still point at it, the last one frees it.
 * One already closed (IN < 0) is only freed.
 */
static void
conn_close(struct conn *c)
{
	if (c->in >= 0)
		conn_unlink(c);
	c->dead = 1;
	if (c->waiting == 0)
		conn_free(c);
}

/*
 * Close C in the middle of a round: its descriptor goes now, its memory
 * in sweep(), as this round's events may still point at it.
 */
static void
conn_drop(struct conn *c)
{
	conn_unlink(c);
	c->dead = 1;
	touch(c);
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
	if (n <= 0) {
		c->eof = 1;
	} else {
		/*
		 * A new request starts the clock; the rest of a half-read
		 * one does not, so a request sent an octet at a time still
		 * ends idle_timeout after its first.
		 */
		if (c->rlen == 0)
			active(c);
		c->rlen += (size_t)n;
	}
	process(c);
	if (c->eof && !c->busy && c->rlen > c->roff && !c->dead) {
		sm_log(SM_LOG_WARNING, "connection closed inside a request");
		c->dead = 1;
	}
}

/* ---------------------------------------------------------------- API */

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
	long want_in = sm_config_int(cfg, "max_inflight");
	long want_conn = sm_config_int(cfg, "max_connections");
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
	srv->idle_ms = (int64_t)sm_config_int(cfg, "idle_timeout") * 1000;
	sm_log(SM_LOG_INFO,
	       "descriptor limit %ld: max_connections %ld, max_inflight %ld, "
	       "idle_timeout %ld s", lim, conns, inflight,
	       sm_config_int(cfg, "idle_timeout"));
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
	mc_purge(srv);
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
	if ((srv->rep = sm_rep_open(db, &srv->cp.db,
				    sm_config_int(cfg, "reputation_retention"),
				    why, sizeof(why))) == NULL)
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
	const char *db = sm_config_str(cfg, "db_path");

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
	if ((srv->dns = sm_dns_new(&dp, why, whylen)) == NULL)
		goto fail;
	srv->dns_watch.kind = W_DNS;
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
	return srv;
fail:
	pol_server_free(srv);
	return NULL;
}

int
pol_server_listen(struct pol_server *srv, int fd, char *why, size_t whylen)
{
	struct watch **grown = realloc(srv->listeners,
				       (srv->nlisteners + 1) * sizeof(*grown));
	struct epoll_event ev;
	struct watch *w;

	if (grown == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	srv->listeners = grown;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	w->kind = W_LISTENER;
	w->fd = fd;
	nonblock(fd);
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
	if (conn_new(srv, in, out) == NULL) {
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
	struct conn *c;

	while ((c = srv->todo) != NULL) {
		srv->todo = c->todo_next;
		/* Still marked: what process() finishes needs no second look. */
		if (c->ready && !c->dead)
			process(c);
		c->todo = 0;
		/* Answers still buffered are written before closing. */
		if (c->in < 0 ||
		    (c->dead && (c->wlen == 0 || c->woff >= c->wlen || c->eof)) ||
		    (c->eof && !c->busy && c->wlen == 0))
			conn_close(c);
		else
			conn_watch(c);
	}
}

/*
 * Close the longest-idle connection, preferring one with no answer
 * still to send among the first few.  0 when every connection is
 * deciding a request.
 */
static int
evict(struct pol_server *srv)
{
	struct conn *c, *victim = srv->idle_head;
	int i;

	for (c = victim, i = 0; c != NULL && i < VICTIM_LOOK;
	     c = c->idle_next, i++)
		if (c->wlen == c->woff) {
			victim = c;
			break;
		}
	if (victim == NULL)
		return 0;
	conn_drop(victim);
	return 1;
}

/* Evictions and refusals at the cap, summed up at most once a second. */
static void
cap_report(struct pol_server *srv, int64_t now)
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

static void
listeners_watch(struct pol_server *srv, int on)
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
	listeners_watch(srv, 0);
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

static void
accept_all(struct pol_server *srv, int lfd)
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
		while ((long)srv->nconns >= srv->max_conns && evict(srv))
			srv->evicted++;
		if ((long)srv->nconns >= srv->max_conns) {
			/* Everybody waits for DNS: Postfix's default_action. */
			close(fd);
			srv->refused++;
		} else if (conn_new(srv, fd, fd) == NULL) {
			close(fd);
		}
	}
}

/*
 * Close every connection idle for idle_timeout (freed in sweep());
 * the idle list is in SINCE order, so only its head is looked at.
 */
static void
expire(struct pol_server *srv, int64_t now)
{
	struct conn *c;

	while ((c = srv->idle_head) != NULL &&
	       now - c->since >= srv->idle_ms) {
		sm_log(SM_LOG_INFO, "closing a connection idle for %lld s%s",
		       (long long)((now - c->since) / 1000),
		       c->rlen > c->roff ? " inside a request" :
		       c->wlen > c->woff ? " with answers unread" : "");
		conn_drop(c);
	}
}

void
pol_server_run_once(struct pol_server *srv)
{
	struct conn *c;
	int timeout = FLUSH_MS, dl, n, i, files_ready = 0;
	int64_t now = sm_now_ms();

	if (srv->paused && now >= srv->resume_at)
		listeners_watch(srv, 1);
	if (srv->paused && srv->resume_at - now < timeout)
		timeout = (int)(srv->resume_at - now);
	/* Wake up when the connection idle longest reaches idle_timeout. */
	if (srv->idle_head != NULL) {
		int64_t left = srv->idle_head->since + srv->idle_ms - now;

		if (left < timeout)
			timeout = left > 0 ? (int)left : 0;
	}
	for (c = srv->nfiles ? srv->conns : NULL; c != NULL; c = c->next)
		files_ready |= c->file && wants_input(c);
	if ((dl = sm_dns_next_deadline(srv->dns)) >= 0 && dl < timeout)
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
		if (((struct watch *)srv->events[i].data.ptr)->kind == W_DNS) {
			sm_dns_process(srv->dns);
			break;
		}
	sm_dns_expire(srv->dns);
	for (i = 0; i < n; i++) {
		struct watch *w = srv->events[i].data.ptr;
		uint32_t rev = srv->events[i].events;

		if (w->kind == W_LISTENER) {
			if (!srv->paused)
				accept_all(srv, w->fd);
		} else if (w->kind == W_CONN) {
			c = (struct conn *)w;
			if (c->in < 0)
				continue;	/* closed at the cap this round */
			if (rev & EPOLLOUT)
				conn_write(c, "", 0);
			if (rev & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_read(c);
			touch(c);
		}
	}
	for (c = files_ready ? srv->conns : NULL; c != NULL; c = c->next)
		if (c->file && wants_input(c)) {
			conn_read(c);
			touch(c);
		}
	now = sm_now_ms();
	expire(srv, now);
	sweep(srv);
	cap_report(srv, now);
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
	for (i = 0; i < srv->nlisteners; i++) {
		close(srv->listeners[i]->fd);
		free(srv->listeners[i]);
	}
	free(srv->listeners);
	if (srv->epfd >= 0)
		close(srv->epfd);
	mc_purge(srv);
	sm_cache_close(srv->cache);
	sm_rep_close(srv->rep);
	pol_config_free(&srv->pc);
	free(srv);
}
