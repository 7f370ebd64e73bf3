/*
 * dns.c - libunbound behind the sm_dns interface (dns.h, the
 * contract).  The only file that includes unbound.h.
 *
 * Every lookup, synchronous or not, is an asynchronous libunbound query
 * plus a deadline kept here: a server that never answers would
 * otherwise hold a query for as long as the iterator keeps retrying.
 * A synchronous lookup simply runs the event loop until its own answer
 * or deadline arrives.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "dns.h"
#include "util.h"

struct query {
	struct sm_dns *dns;
	int ub_id;
	int64_t deadline;
	sm_dns_cb *cb;
	void *arg;
	char *name;
	int type;
	struct query *prev, *next;
};

/*
 * Queries are kept in submission order.  They all share one timeout, so
 * that is deadline order too: the head is always the next to expire.
 */
struct sm_dns {
	struct ub_ctx *ctx;
	int timeout_ms;
	struct query *head, *tail;
	size_t pending;
};

struct sm_dns_result *
sm_dns_result_new(const char *name, int type, enum sm_dns_outcome outcome,
		  enum sm_dns_sec sec)
{
	struct sm_dns_result *res = calloc(1, sizeof(*res));

	if (res == NULL)
		return NULL;
	if ((res->qname = strdup(name)) == NULL) {
		free(res);
		return NULL;
	}
	res->qtype = type;
	res->outcome = outcome;
	res->sec = sec;
	return res;
}

int
sm_dns_result_add(struct sm_dns_result *res, const uint8_t *rd, size_t len)
{
	struct sm_rdata *rr;
	uint8_t *copy;

	if ((copy = malloc(len ? len : 1)) == NULL)
		return -1;
	if ((rr = realloc(res->rr, (res->count + 1) * sizeof(*rr))) == NULL) {
		free(copy);
		return -1;
	}
	memcpy(copy, rd, len);
	res->rr = rr;
	rr[res->count].data = copy;
	rr[res->count].len = len;
	res->count++;
	return 0;
}

int
sm_dns_result_set_why(struct sm_dns_result *res, const char *why)
{
	char *copy = NULL;

	if (why != NULL && (copy = strdup(why)) == NULL)
		return -1;
	free(res->why);
	res->why = copy;
	return 0;
}

void
sm_dns_result_free(struct sm_dns_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->count; i++)
		free(res->rr[i].data);
	free(res->rr);
	free(res->why);
	free(res->qname);
	free(res);
}

const char *
sm_dns_status(const struct sm_dns_result *res)
{
	if (res->sec == SM_DNS_BOGUS)
		return "bogus";
	switch (res->outcome) {
	case SM_DNS_DATA:
		return res->sec == SM_DNS_SECURE ? "secure" : "insecure";
	case SM_DNS_NXDOMAIN:
		return "nxdomain";
	case SM_DNS_NODATA:
		return "nodata";
	case SM_DNS_TEMPFAIL:
		return res->timed_out ? "timeout" : "servfail";
	case SM_DNS_PERMFAIL:
		break;
	}
	return "error";
}

/* Turn a libunbound answer into a result; NULL when out of memory. */
static struct sm_dns_result *
convert(const char *name, int type, int err, struct ub_result *ub)
{
	struct sm_dns_result *res;
	char why[128];
	int i;

	if (err != 0 || ub == NULL) {
		res = sm_dns_result_new(name, type, SM_DNS_TEMPFAIL,
					SM_DNS_INSECURE);
		snprintf(why, sizeof(why), "resolver error: %s",
			 ub_strerror(err));
		if (res != NULL && sm_dns_result_set_why(res, why) < 0) {
			sm_dns_result_free(res);
			return NULL;
		}
		return res;
	}
	res = sm_dns_result_new(name, type, SM_DNS_DATA,
				ub->bogus ? SM_DNS_BOGUS :
				ub->secure ? SM_DNS_SECURE : SM_DNS_INSECURE);
	if (res == NULL)
		return NULL;
	res->rcode = ub->rcode;
	res->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
	if (ub->havedata) {
		for (i = 0; ub->data[i] != NULL; i++)
			if (sm_dns_result_add(res, (uint8_t *)ub->data[i],
					      (size_t)ub->len[i]) < 0)
				goto oom;
	} else if (ub->nxdomain) {
		res->outcome = SM_DNS_NXDOMAIN;
	} else if (ub->rcode == 0) {
		res->outcome = SM_DNS_NODATA;
	} else {
		res->outcome = ub->rcode == 2 ? SM_DNS_TEMPFAIL : SM_DNS_PERMFAIL;
		snprintf(why, sizeof(why), "%s (rcode %d)",
			 ub->rcode == 2 ? "SERVFAIL" :
			 ub->rcode == 5 ? "REFUSED" : "DNS error",
			 ub->rcode);
		if (sm_dns_result_set_why(res, why) < 0)
			goto oom;
	}
	if (ub->bogus && sm_dns_result_set_why(res, ub->why_bogus ?
					       ub->why_bogus :
					       "validation failure") < 0)
		goto oom;
	return res;
oom:
	sm_dns_result_free(res);
	return NULL;
}

static void
unlink_query(struct query *q)
{
	struct sm_dns *dns = q->dns;

	if (q->prev)
		q->prev->next = q->next;
	else
		dns->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		dns->tail = q->prev;
	dns->pending--;
}

/* Hand RES to the caller of an already unlinked query and free it. */
static void
deliver(struct query *q, struct sm_dns_result *res)
{
	sm_dns_cb *cb = q->cb;
	void *arg = q->arg;

	free(q->name);
	free(q);
	cb(arg, res);
}

static void
answered(void *mydata, int err, struct ub_result *ub)
{
	struct query *q = mydata;
	struct sm_dns_result *res = convert(q->name, q->type, err, ub);

	ub_resolve_free(ub);
	unlink_query(q);
	deliver(q, res);
}

struct sm_dns *
sm_dns_new(const struct sm_dns_params *params, char *why, size_t whylen)
{
	struct sm_dns *dns;
	char range[16];
	FILE *fp;
	int rc;

	if (params->trust_anchor_file == NULL ||
	    *params->trust_anchor_file == '\0') {
		sm_why(why, whylen, "no trust anchor file configured");
		return NULL;
	}
	/* libunbound reads the anchor only at the first query: check now. */
	if ((fp = fopen(params->trust_anchor_file, "r")) == NULL) {
		sm_why(why, whylen, "trust anchor %s: %s",
		       params->trust_anchor_file, strerror(errno));
		return NULL;
	}
	fclose(fp);
	if ((dns = calloc(1, sizeof(*dns))) == NULL ||
	    (dns->ctx = ub_ctx_create()) == NULL) {
		free(dns);
		sm_why(why, whylen, "cannot create resolver context");
		return NULL;
	}
	dns->timeout_ms = params->timeout_ms > 0 ? params->timeout_ms : 5000;
	/*
	 * libunbound's default of 16 outgoing ports lets a few hundred
	 * lookups hanging on an unresponsive zone (anyone can send such a
	 * HELO name) starve every other lookup.  But it is also a bound
	 * the daemon needs: a lookup given up at timeout_ms (ub_cancel)
	 * keeps its socket inside libunbound until libunbound's own
	 * retries end, so a flood of hanging lookups would hold more
	 * sockets than the caller has lookups in flight, up to the
	 * descriptor limit.  So the caller sizes it to its descriptor
	 * budget; a query with no port free waits inside libunbound for
	 * one, and times out at timeout_ms like any other.  Set before the
	 * config file, so an admin's own value wins.
	 */
	snprintf(range, sizeof(range), "%d", params->max_sockets > 0 ?
		 params->max_sockets : SM_DNS_MAX_SOCKETS);
	ub_ctx_set_option(dns->ctx, "outgoing-range:", range);
	ub_ctx_set_option(dns->ctx, "num-queries-per-thread:", "4096");
	if (params->unbound_conf != NULL && *params->unbound_conf != '\0' &&
	    (rc = ub_ctx_config(dns->ctx, params->unbound_conf)) != 0) {
		sm_why(why, whylen, "unbound config %s: %s",
		       params->unbound_conf, ub_strerror(rc));
		goto fail;
	}
	if ((rc = ub_ctx_add_ta_file(dns->ctx, params->trust_anchor_file)) != 0) {
		sm_why(why, whylen, "trust anchor %s: %s",
		       params->trust_anchor_file, ub_strerror(rc));
		goto fail;
	}
	/* Threads, not a forked helper: nothing to reap, fd stays ours. */
	if ((rc = ub_ctx_async(dns->ctx, 1)) != 0) {
		sm_why(why, whylen, "resolver: %s", ub_strerror(rc));
		goto fail;
	}
	return dns;
fail:
	ub_ctx_delete(dns->ctx);
	free(dns);
	return NULL;
}

void
sm_dns_free(struct sm_dns *dns)
{
	struct query *q;

	if (dns == NULL)
		return;
	while ((q = dns->head) != NULL) {
		ub_cancel(dns->ctx, q->ub_id);
		unlink_query(q);
		free(q->name);
		free(q);
	}
	ub_ctx_delete(dns->ctx);
	free(dns);
}

int
sm_dns_submit(struct sm_dns *dns, const char *name, int type, sm_dns_cb *cb,
	      void *arg)
{
	struct query *q;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->name = strdup(name)) == NULL) {
		free(q);
		return -1;
	}
	q->dns = dns;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->deadline = sm_now_ms() + dns->timeout_ms;
	if (ub_resolve_async(dns->ctx, name, type, 1, q, answered,
			     &q->ub_id) != 0) {
		free(q->name);
		free(q);
		return -1;
	}
	q->prev = dns->tail;
	if (dns->tail)
		dns->tail->next = q;
	else
		dns->head = q;
	dns->tail = q;
	dns->pending++;
	return 0;
}

int
sm_dns_fd(const struct sm_dns *dns)
{
	return ub_fd(dns->ctx);
}

int
sm_dns_process(struct sm_dns *dns)
{
	return ub_process(dns->ctx) == 0 ? 0 : -1;
}

void
sm_dns_expire(struct sm_dns *dns)
{
	int64_t now = sm_now_ms();
	struct query *q, *next, *due = NULL;
	struct sm_dns_result *res;

	/* Collect first: a callback may submit or expire other lookups. */
	for (q = dns->head; q != NULL; q = next) {
		next = q->next;
		if (q->deadline > now)
			break;	/* the rest are later still */
		ub_cancel(dns->ctx, q->ub_id);
		unlink_query(q);
		q->next = due;
		due = q;
	}
	while ((q = due) != NULL) {
		due = q->next;
		res = sm_dns_result_new(q->name, q->type, SM_DNS_TEMPFAIL,
					SM_DNS_INSECURE);
		if (res != NULL) {
			res->timed_out = 1;
			if (sm_dns_result_set_why(res, "no answer within the timeout") < 0) {
				sm_dns_result_free(res);
				res = NULL;
			}
		}
		deliver(q, res);
	}
}

int
sm_dns_next_deadline(const struct sm_dns *dns)
{
	int64_t first, now;

	if (dns->head == NULL)
		return -1;
	first = dns->head->deadline;
	now = sm_now_ms();
	return first <= now ? 0 : (int)(first - now);
}

size_t
sm_dns_pending(const struct sm_dns *dns)
{
	return dns->pending;
}

struct sync_wait {
	int done;
	struct sm_dns_result *res;
};

static void
sync_done(void *arg, struct sm_dns_result *res)
{
	struct sync_wait *w = arg;

	w->done = 1;
	w->res = res;
}

struct sm_dns_result *
sm_dns_lookup(struct sm_dns *dns, const char *name, int type)
{
	struct sync_wait w = { 0, NULL };
	struct pollfd pfd;
	struct sm_dns_result *res;

	if (sm_dns_submit(dns, name, type, sync_done, &w) < 0) {
		res = sm_dns_result_new(name, type, SM_DNS_TEMPFAIL,
					SM_DNS_INSECURE);
		if (res != NULL &&
		    sm_dns_result_set_why(res, "cannot start lookup") < 0) {
			sm_dns_result_free(res);
			res = NULL;
		}
		return res;
	}
	pfd.fd = sm_dns_fd(dns);
	pfd.events = POLLIN;
	while (!w.done) {
		int wait = sm_dns_next_deadline(dns);

		if (poll(&pfd, 1, wait) > 0)
			sm_dns_process(dns);
		sm_dns_expire(dns);
	}
	return w.res;
}
