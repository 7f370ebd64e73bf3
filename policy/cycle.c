/*
 * cycle.c - smilla-policyd's request cycle: parse, start, finish (the
 * answer, the log line and the reputation row); the contract is srv.h.
 *
 * A connection reads requests one at a time: a request is parsed,
 * copied out of the input buffer (its octets stay put while the
 * request is decided), and either decided at once (no certificate, or
 * every TLSA RRset it needs is at hand), or parked until its lookups
 * (flight.c) come back.  A parked connection is not read from, so a
 * client cannot queue unbounded work, and one that does not read its
 * answers is not read either once WBUF_HIGH octets of them wait.
 * Deciding is decide.c's; here is what goes around it: the PREPEND
 * once per message, the answer, the info line of the log and the
 * event for the reputation store.
 *
 *   pol_cycle_process(c)   decide every complete request in C's input
 *                          buffer, one at a time
 *   pol_cycle_finish(c)    all lookups of C's request are in: answer,
 *                          log, record; C is idle again
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reputation.h"
#include "srv.h"

static const char *
attr(const struct pol_conn *c, enum pol_attr_id id)
{
	return pol_request_value(&c->req, id);
}

/* What Postfix said about the client of C's request. */
static void
client_of(const struct pol_conn *c, struct pol_client *cl)
{
	cl->name = attr(c, POL_A_CLIENT_NAME);
	cl->addr = attr(c, POL_A_CLIENT_ADDRESS);
	cl->helo = attr(c, POL_A_HELO_NAME);
	cl->cert_fp = attr(c, POL_A_CCERT_FINGERPRINT);
	cl->key_fp = attr(c, POL_A_CCERT_PUBKEY_FINGERPRINT);
	cl->tls_protocol = attr(c, POL_A_ENCRYPTION_PROTOCOL);
	cl->tls_cipher = attr(c, POL_A_ENCRYPTION_CIPHER);
	cl->state = attr(c, POL_A_PROTOCOL_STATE);
}

static void
record_event(struct pol_conn *c, const struct pol_client *cl)
{
	struct pol_server *srv = c->srv;
	struct sm_rep_event ev;
	char ident[SM_NAME_BUF + 4];

	if (srv->rep == NULL)
		return;
	pol_event(&c->d, cl, "policyd", ident, &ev);
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
void
pol_cycle_finish(struct pol_conn *c)
{
	static const char pre[] = "action=";
	struct pol_server *srv = c->srv;
	const char *instance = attr(c, POL_A_INSTANCE);
	struct pol_client cl;
	char line[1100], *action = line + sizeof(pre) - 1;
	int prepend_ok, added;
	size_t len;

	pol_conclude(&srv->pc, &c->d);
	client_of(c, &cl);
	/* PREPEND once per message, never at end-of-data. */
	prepend_ok = strcmp(cl.state, "END-OF-MESSAGE") != 0 &&
		     (instance[0] == '\0' ||
		      strncmp(instance, c->hdr_instance,
			      sizeof(c->hdr_instance) - 1) != 0);
	memcpy(line, pre, sizeof(pre) - 1);
	len = pol_action(&srv->pc, &c->d, prepend_ok, &added, action,
			 sizeof(line) - sizeof(pre) - 2);
	if (added)
		sm_strlcpy(c->hdr_instance, instance, sizeof(c->hdr_instance));
	memcpy(action + len, "\n\n", 2);
	pol_conn_write(c, line, sizeof(pre) - 1 + len + 2);
	action[len] = '\0';	/* for the log line */
	record_event(c, &cl);
	c->busy = 0;
	c->ready = 1;
	pol_idle_append(c);
	pol_conn_touch(c);
	/* Counted with its log line, so the two agree. */
	sm_metric_add(srv->ct.decisions, (int)c->d.result, 1);
	pol_log_decision(&c->d, &cl,
			 c->used_dns ? "dns" : c->looked_up ? "cache" : "none",
			 (double)(sm_now_ms() - c->t0), action);
}

/* Start deciding C's request (parsed into C->req). */
static void
start(struct pol_conn *c)
{
	int i;

	c->t0 = sm_now_ms();
	c->busy = 1;
	/* Waiting for DNS is not idling: no timeout, never closed at the cap. */
	pol_idle_remove(c);
	c->used_dns = 0;
	pol_prepare(&c->srv->pc, &c->req, &c->d);
	/* Count first, so an early answer cannot finish the request. */
	c->waiting = 1;
	c->looked_up = 0;
	for (i = 0; i < c->d.ncand; i++)
		if (c->d.cand[i].need_lookup && !c->d.cand[i].done) {
			c->looked_up = 1;
			pol_flight_need(c, i);
		}
	if (--c->waiting == 0)
		pol_cycle_finish(c);
}

/* Decide every complete request in the input buffer, one at a time. */
void
pol_cycle_process(struct pol_conn *c)
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
			sm_metric_add(c->srv->ct.errors, POL_ERR_MALFORMED, 1);
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
