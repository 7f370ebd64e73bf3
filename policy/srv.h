/*
 * srv.h - what the pieces of smilla-policyd's event loop share: the
 * server, its connections, flights and memory cache entries, and the
 * functions each piece gives the others.  Private to policy/: the API
 * is server.h.  Each function is described in the manual at the top of
 * the file that defines it (server.c lists them).
 *
 * Ownership: the server owns its connections (srv->conns), flights
 * (srv->flights) and memory cache; a flight owns its waiters, and a
 * waiter points at a connection that cannot be freed while
 * c->waiting > 0 (the last flight to answer frees a dead one).
 */
#ifndef POL_SRV_H
#define POL_SRV_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/epoll.h>

#include "cache.h"
#include "decide.h"
#include "dns.h"
#include "metrics.h"
#include "request.h"
#include "server.h"

#define WBUF_HIGH (256 * 1024)	/* answers queued: read no more until sent */
#define MC_BUCKETS 8192
#define MAX_EVENTS 256

/* What an epoll event is about: first member of what it belongs to. */
enum pol_watch_kind { POL_W_DNS, POL_W_LISTENER, POL_W_CONN };

struct pol_watch {
	enum pol_watch_kind kind;
	int fd;
};

struct pol_conn {
	struct pol_watch w;	/* first: epoll hands this back */
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
	struct pol_vmemo {
		unsigned long gen;	/* srv->mc_gen; 0: none */
		time_t expires;
		struct pol_verdict v;
	} vmemo[POL_MAX_CAND];
	struct pol_conn *prev, *next;
	struct pol_conn *todo_next;
	/*
	 * On the idle list (not deciding a request), in the order of
	 * SINCE: when the last answer went or the current request began.
	 */
	int idle;
	int64_t since;
	struct pol_conn *idle_prev, *idle_next;
};

struct pol_waiter {
	struct pol_conn *c;
	int cand;
	struct pol_waiter *next;
};

struct pol_flight {
	struct pol_server *srv;
	char *name;
	struct pol_waiter *waiters;
	struct pol_flight *next;
};

struct pol_mc {
	char *name;
	struct sm_dns_result *res;
	time_t expires;
	struct pol_mc *next;
};

/*
 * What ends a request or a connection without a decision, as counted
 * in smilla_policyd_errors_total{kind=...}: X(CODE, word).
 */
#define POL_ERRORS(X) \
	X(MALFORMED, "malformed")	/* a request that does not parse */ \
	X(TOO_LARGE, "too-large")	/* a request over the buffer */ \
	X(CLOSED, "closed-in-request")	/* EOF inside a request */ \
	X(IDLE, "idle-timeout")		/* closed at idle_timeout */ \
	X(EVICTED, "evicted")		/* closed at the connection cap */ \
	X(REFUSED, "refused")		/* not accepted: all deciding */ \
	X(LOOKUP, "lookup-failed")	/* no lookup could be started */

#define POL_ERROR_ENUM_(code, word) POL_ERR_##code,
enum pol_error { POL_ERRORS(POL_ERROR_ENUM_) POL_NERRORS };
extern const struct sm_name_code pol_error_names[];

/* Where a TLSA RRset came from without DNS (cache_hits_total). */
enum pol_hit { POL_HIT_VERDICT, POL_HIT_MEMORY, POL_HIT_SQLITE };

/* The metrics (counters.c); all NULL without metrics_file. */
struct pol_counters {
	struct sm_metrics *reg;
	char *path;
	int64_t interval_ms, next_ms;
	int failing;		/* the last write failed (logged) */
	struct sm_metric *decisions, *lookups, *hits, *queries, *timeouts,
			 *errors, *inflight, *conns;
};

struct pol_server {
	struct pol_config pc;
	struct sm_cache_params cp;
	struct sm_dns *dns;
	struct sm_cache *cache;
	struct sm_rep *rep;
	int epfd;
	struct pol_watch dns_watch;
	struct pol_watch **listeners;
	size_t nlisteners;
	struct pol_conn *conns;
	size_t nconns, nfiles;
	struct pol_conn *todo;	/* to look at after this round's events */
	struct pol_flight *flights;
	size_t nflights;
	long max_inflight;
	long max_conns;		/* lowered when accept4 runs out of fds */
	long cap_conns;		/* what configure() gave: restored after
				   an episode without failures */
	int64_t idle_ms;
	struct pol_conn *idle_head, *idle_tail;	/* longest idle first */
	int paused;		/* listeners unwatched until RESUME_AT */
	int64_t resume_at, accept_failed;
	int backoff_ms;
	unsigned long evicted, refused;	/* at the cap, since last logged */
	int64_t cap_logged;
	struct pol_mc *mc[MC_BUCKETS];
	size_t nmc;
	unsigned long mc_gen;	/* changes with every entry in or out */
	unsigned long rep_dropped;	/* since the last warning */
	time_t rep_drop_logged;
	struct pol_counters ct;
	struct epoll_event events[MAX_EVENTS];
};

/* counters.c */
void pol_counters_open(struct pol_server *srv, const struct sm_config *cfg);
int pol_counters_due(struct pol_server *srv, int64_t now);
void pol_counters_close(struct pol_server *srv);

/* mcache.c */
const struct pol_mc *pol_mc_get(struct pol_server *srv, const char *name,
			    time_t now);
void pol_mc_put(struct pol_server *srv, struct sm_dns_result *res, long life,
		time_t now);
void pol_mc_purge(struct pol_server *srv);

/* flight.c */
void pol_flight_need(struct pol_conn *c, int i);
void pol_flights_free(struct pol_server *srv);

/* cycle.c */
void pol_cycle_process(struct pol_conn *c);
void pol_cycle_finish(struct pol_conn *c);

/* conn.c */
struct pol_conn *pol_conn_new(struct pol_server *srv, int in, int out);
void pol_conn_read(struct pol_conn *c);
void pol_conn_write(struct pol_conn *c, const char *text, size_t len);
void pol_conn_watch(struct pol_conn *c);
void pol_conn_drop(struct pol_conn *c);
void pol_conn_close(struct pol_conn *c);
void pol_conn_unlink(struct pol_conn *c);
void pol_conn_free(struct pol_conn *c);
void pol_idle_append(struct pol_conn *c);
void pol_idle_remove(struct pol_conn *c);
int pol_nonblock(int fd);

/* accept.c */
void pol_accept_all(struct pol_server *srv, int lfd);
void pol_listeners_watch(struct pol_server *srv, int on);
void pol_idle_expire(struct pol_server *srv, int64_t now);
void pol_cap_report(struct pol_server *srv, int64_t now);

/*
 * Small enough to be inlined where the loop and the cycle need them.
 */

/* Look at C again after this round's events. */
static inline void
pol_conn_touch(struct pol_conn *c)
{
	if (c->todo)
		return;
	c->todo = 1;
	c->todo_next = c->srv->todo;
	c->srv->todo = c;
}

/* Is C ready for its next request (and has room for the answer)? */
static inline int
pol_conn_wants_input(const struct pol_conn *c)
{
	return !c->busy && !c->eof && !c->dead && c->wlen - c->woff < WBUF_HIGH;
}

#endif
