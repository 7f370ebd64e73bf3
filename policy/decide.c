/*
 * decide.c - DANE client authentication decisions from what Postfix
 * hands a policy server.  The contract is decide.h.
 *
 * Only DANE-EE records can be decided from the two fingerprints; see
 * sm_dane_match_fp.  Candidates are tried in the configured order: the
 * first that passes wins; otherwise the first with any TLSA data (or a
 * DNS problem) speaks; otherwise the result is none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "dane.h"
#include "decide.h"
#include "log.h"
#include "reputation.h"

const char *
pol_result_word(enum pol_result r)
{
	const char *w = sm_str_name_code(sm_result_names, (int)r);

	return w != NULL ? w : "?";
}

void
pol_config_free(struct pol_config *pc)
{
	int i;

	if (pc == NULL)
		return;
	for (i = 0; i < POL_NRESULTS; i++) {
		free(pc->action[i]);
		pc->action[i] = NULL;
	}
	sm_table_free(pc->require);
	sm_table_free(pc->lookup);
	pc->require = pc->lookup = NULL;
}

static int
load_table(const struct sm_config *cfg, enum sm_opt_key key,
	   struct sm_table **t, char *why, size_t whylen)
{
	const char *path = sm_config_str(cfg, key);

	*t = NULL;
	if (*path == '\0')
		return 0;
	if ((*t = sm_table_load(path, why, whylen)) == NULL)
		return -1;
	return 0;
}

int
pol_config_load(struct pol_config *pc, const struct sm_config *cfg,
		const char *authserv_default, char *why, size_t whylen)
{
	char **v;
	size_t n, i;
	int r;

	static unsigned loads;

	memset(pc, 0, sizeof(*pc));
	if (++loads == 0)	/* 0 means "no settings" to a memo */
		++loads;
	pc->gen = loads;
	if (sm_split(sm_config_str(cfg, SM_K_IDENTITY), &v, &n) < 0)
		goto oom;
	for (i = 0; i < n && pc->norder < POL_MAX_CAND; i++) {
		enum pol_source s = strcmp(v[i], "helo") == 0 ? POL_SRC_HELO :
				    strcmp(v[i], "client_name") == 0 ?
						POL_SRC_CLIENT_NAME :
						POL_SRC_CCERT_SUBJECT;
		int j, dup = 0;

		for (j = 0; j < pc->norder; j++)
			dup |= pc->order[j] == s;
		if (!dup)
			pc->order[pc->norder++] = s;
	}
	sm_split_free(v, n);
	sm_strlcpy(pc->label, sm_config_str(cfg, SM_K_CLIENT_SERVICE_LABEL),
		   sizeof(pc->label));
	pc->label_len = strlen(pc->label);	/* as kept, not as given */
	pc->digest =
		sm_digest_parse(sm_config_str(cfg, SM_K_FINGERPRINT_DIGEST));
	sm_strlcpy(pc->authserv, *sm_config_str(cfg, SM_K_AUTHSERV_ID) ?
				 sm_config_str(cfg, SM_K_AUTHSERV_ID) :
				 authserv_default, sizeof(pc->authserv));
	sm_strlcpy(pc->header, sm_config_str(cfg, SM_K_AUTH_HEADER),
		   sizeof(pc->header));
	snprintf(pc->prepend, sizeof(pc->prepend), "PREPEND %s: ", pc->header);
	snprintf(pc->tail, sizeof(pc->tail), "; authserv=%s)", pc->authserv);
	for (r = 0; r < POL_NRESULTS; r++) {
		pc->action[r] = strdup(sm_config_str(cfg, SM_K_ACTION(r)));
		if (pc->action[r] == NULL)
			goto oom;
		pc->add_header[r] = strcasecmp(pc->action[r], "header") == 0;
	}
	if (load_table(cfg, SM_K_REQUIRE_TABLE, &pc->require, why,
		       whylen) < 0 ||
	    load_table(cfg, SM_K_LOOKUP_TABLE, &pc->lookup, why, whylen) < 0) {
		pol_config_free(pc);
		return -1;
	}
	return 0;
oom:
	pol_config_free(pc);
	sm_why(why, whylen, "out of memory");
	return -1;
}

/* Postfix's colon hex into BUF; NULL when absent or malformed. */
static const uint8_t *
fingerprint(const char *text, enum sm_digest alg, uint8_t *buf)
{
	long n = sm_hex_decode(text, buf, SM_DIGEST_MAX, 1);

	return n > 0 && (size_t)n == sm_digest_len(alg) ? buf : NULL;
}

const char *
pol_xtext_decode(const char *in, char *buf, size_t len)
{
	size_t n = 0;
	uint8_t octet;

	for (; *in; in++) {
		if (n + 1 >= len)
			return "";
		if (*in == '+') {
			if (sm_hex_decode((char[3]){ in[1], in[1] ? in[2] : 0, 0 },
					  &octet, 1, 0) != 1 || octet == 0)
				return "";
			buf[n++] = (char)octet;
			in += 2;
		} else {
			buf[n++] = *in;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* Identity candidates and fingerprints from the request's inputs. */
static void
prepare_names(const struct pol_config *pc, const char *const *in,
	      struct pol_decision *d)
{
	char subject[SM_NAME_BUF];
	int i, j;

	d->ncand = 0;
	d->have_cert = *in[POL_IN_CFP] != '\0' || *in[POL_IN_KFP] != '\0';
	d->cert_fp = fingerprint(in[POL_IN_CFP], pc->digest, d->cert_buf);
	d->key_fp = fingerprint(in[POL_IN_KFP], pc->digest, d->key_buf);
	for (i = 0; i < pc->norder; i++) {
		struct pol_candidate *c = &d->cand[d->ncand];
		const char *name;
		char why[128];
		int dup = 0;

		switch (pc->order[i]) {
		case POL_SRC_HELO:
			name = in[POL_IN_HELO];
			break;
		case POL_SRC_CLIENT_NAME:
			name = in[POL_IN_CLIENT];
			if (strcmp(name, "unknown") == 0)
				name = "";
			break;
		default:
			/* Postfix sends the CN xtext-encoded (RFC 3461). */
			name = pol_xtext_decode(in[POL_IN_SUBJECT], subject,
					    sizeof(subject));
			break;
		}
		/*
		 * Names that cannot be hosts are skipped, not looked up.  The
		 * owner is "_LABEL.HOST" with HOST normalised: the host is
		 * its tail.
		 */
		if (*name == '\0' ||
		    sm_names_client(name, pc->label, c->owner, sizeof(c->owner),
				    why, sizeof(why)) < 0)
			continue;
		sm_strlcpy(c->host, c->owner + pc->label_len + 2,
			   sizeof(c->host));
		for (j = 0; j < d->ncand; j++)
			dup |= strcmp(d->cand[j].host, c->host) == 0;
		if (dup)
			continue;
		c->source = pc->order[i];
		d->ncand++;
	}
}

/* Is IN what the memo of D holds (made under PC)? */
static int
memo_hit(const struct pol_config *pc, const struct pol_memo *m,
	 const char *const *in)
{
	int k;

	if (m->gen != pc->gen)
		return 0;
	for (k = 0; k < POL_NIN; k++)
		if (strcmp(m->in[k], in[k]) != 0)
			return 0;
	return 1;
}

static void
memo_keep(const struct pol_config *pc, struct pol_memo *m,
	  const char *const *in)
{
	int k;

	m->gen = 0;
	for (k = 0; k < POL_NIN; k++)
		if (sm_strlcpy(m->in[k], in[k], sizeof(m->in[k])) >=
		    sizeof(m->in[k]))
			return;		/* too long to keep: no memo */
	m->gen = pc->gen;
}

void
pol_prepare(const struct pol_config *pc, const struct pol_request *req,
	    struct pol_decision *d)
{
	const char *in[POL_NIN];
	int i;

	in[POL_IN_HELO] = pol_request_value(req, POL_A_HELO_NAME);
	in[POL_IN_CLIENT] = pol_request_value(req, POL_A_CLIENT_NAME);
	in[POL_IN_SUBJECT] = pol_request_value(req, POL_A_CCERT_SUBJECT);
	in[POL_IN_CFP] = pol_request_value(req, POL_A_CCERT_FINGERPRINT);
	in[POL_IN_KFP] = pol_request_value(req, POL_A_CCERT_PUBKEY_FINGERPRINT);
	if (!(d->memo_hit = memo_hit(pc, &d->memo, in))) {
		prepare_names(pc, in, d);
		memo_keep(pc, &d->memo, in);
	}
	/* Field by field: the candidates' buffers need no clearing. */
	d->result = POL_NONE;
	d->chosen = -1;
	d->required = 0;
	d->identity[0] = '\0';
	for (i = 0; i < d->ncand; i++) {
		struct pol_candidate *c = &d->cand[i];

		c->result = POL_NONE;
		c->need_lookup = c->done = 0;
		c->why[0] = '\0';
		c->usage = c->selector = c->mtype = -1;
		if (!d->have_cert) {
			c->done = 1;
			c->result = POL_NOCERT;
		} else if (pc->lookup != NULL &&
			   !sm_table_match(pc->lookup, c->host)) {
			c->done = 1;
			snprintf(c->why, sizeof(c->why),
				 "not in lookup_table");
		} else {
			c->need_lookup = 1;
		}
	}
}

void
pol_verdict_get(const struct pol_decision *d, int i, struct pol_verdict *v)
{
	const struct pol_candidate *c = &d->cand[i];

	v->result = c->result;
	v->usage = c->usage;
	v->selector = c->selector;
	v->mtype = c->mtype;
	sm_strlcpy(v->why, c->why, sizeof(v->why));
}

void
pol_verdict_set(struct pol_decision *d, int i, const struct pol_verdict *v)
{
	struct pol_candidate *c = &d->cand[i];

	c->done = 1;
	c->result = v->result;
	c->usage = v->usage;
	c->selector = v->selector;
	c->mtype = v->mtype;
	sm_strlcpy(c->why, v->why, sizeof(c->why));
}

void
pol_fail_lookup(struct pol_decision *d, int i, const char *why)
{
	struct pol_candidate *c = &d->cand[i];

	c->done = 1;
	c->result = POL_TEMPERROR;
	sm_strlcpy(c->why, why, sizeof(c->why));
}

void
pol_found(const struct pol_config *pc, struct pol_decision *d, int i,
	  const struct sm_dns_result *res)
{
	struct pol_candidate *c = &d->cand[i];
	struct sm_dane_report *rep;
	size_t k;

	c->done = 1;
	if (res == NULL) {
		pol_fail_lookup(d, i, "out of memory");
		return;
	}
	if (res->sec == SM_DNS_BOGUS) {
		c->result = POL_BOGUS;
		snprintf(c->why, sizeof(c->why), "DNSSEC validation failed");
		return;
	}
	if (res->outcome == SM_DNS_TEMPFAIL || res->outcome == SM_DNS_PERMFAIL) {
		c->result = POL_TEMPERROR;
		snprintf(c->why, sizeof(c->why), "DNS %s",
			 sm_dns_status(res));
		return;
	}
	if (res->outcome != SM_DNS_DATA || res->sec != SM_DNS_SECURE) {
		c->result = POL_NONE;
		snprintf(c->why, sizeof(c->why), "%s",
			 res->outcome == SM_DNS_DATA ? "insecure TLSA records" :
						       "no TLSA records");
		return;
	}
	rep = sm_dane_match_fp(res->rr, res->count, d->cert_fp, d->key_fp,
			       pc->digest);
	if (rep == NULL) {
		pol_fail_lookup(d, i, "out of memory");
		return;
	}
	switch (rep->result) {
	case SM_DANE_PASS:
		c->result = POL_PASS;
		c->usage = rep->recs[rep->matched].tlsa.usage;
		c->selector = rep->recs[rep->matched].tlsa.selector;
		c->mtype = rep->recs[rep->matched].tlsa.mtype;
		break;
	case SM_DANE_FAIL:
		c->result = POL_FAIL;
		snprintf(c->why, sizeof(c->why), "no record matched");
		break;
	case SM_DANE_UNUSABLE:
		c->result = POL_UNUSABLE;
		/*
		 * Name one reason; RRsets come in any order, so take the
		 * alphabetically first to say the same thing every time.
		 */
		c->why[0] = '\0';
		for (k = 0; k < rep->count; k++)
			if (rep->recs[k].verdict == SM_DANE_REC_UNUSABLE &&
			    (c->why[0] == '\0' ||
			     strcmp(rep->recs[k].why, c->why) < 0))
				sm_strlcpy(c->why, rep->recs[k].why,
					   sizeof(c->why));
		break;
	case SM_DANE_NONE:
		c->result = POL_NONE;
		snprintf(c->why, sizeof(c->why), "no TLSA records");
		break;
	}
	sm_dane_report_free(rep);
}

void
pol_conclude(const struct pol_config *pc, struct pol_decision *d)
{
	int i;

	d->result = d->have_cert ? POL_NONE : POL_NOCERT;
	d->chosen = -1;
	for (i = 0; i < d->ncand; i++)
		if (d->cand[i].result == POL_PASS) {
			d->chosen = i;
			break;
		}
	for (i = 0; d->chosen < 0 && i < d->ncand; i++)
		if (d->cand[i].result != POL_NONE &&
		    d->cand[i].result != POL_NOCERT)
			d->chosen = i;
	if (d->chosen >= 0)
		d->result = d->cand[d->chosen].result;
	else if (d->ncand > 0)
		d->chosen = 0;
	/*
	 * A client that names a required identity must authenticate as
	 * that identity: passing as another name (say, the certificate's
	 * CN) does not count.  The first required candidate that did not
	 * pass decides.
	 */
	d->required = 0;
	for (i = 0; i < d->ncand; i++) {
		if (!sm_table_match(pc->require, d->cand[i].host))
			continue;
		d->required = 1;
		if (d->cand[i].result != POL_PASS) {
			d->chosen = i;
			d->result = d->have_cert ? d->cand[i].result : POL_NOCERT;
			break;
		}
		if (d->result != POL_PASS || d->chosen < 0) {
			d->chosen = i;
			d->result = POL_PASS;
		}
	}
	d->identity[0] = '\0';
	if (d->chosen >= 0)
		sm_strlcpy(d->identity, d->cand[d->chosen].host,
			   sizeof(d->identity));
}

/*
 * The action is built by appending, not with snprintf: it is written
 * for every decision.  Output past the end of the buffer is cut.
 */
struct out {
	char *p, *end;		/* END: the last octet, kept for the NUL */
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s), room = (size_t)(o->end - o->p);

	if (n > room)
		n = room;
	memcpy(o->p, s, n);
	o->p += n;
}

static void
put_uint(struct out *o, unsigned v)
{
	char digits[16], *d = digits + sizeof(digits);

	*--d = '\0';
	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, d);
}

/*
 * The header value's reason: no separators, so it stays parsable, and
 * nothing but printable ASCII (reasons may quote DNS data).
 */
static void
put_reason(struct out *o, const char *why)
{
	char *p = o->p;

	put(o, why);
	for (; p < o->p; p++)
		if (*p == ';' || *p == '(' || *p == ')' || *p == '=' ||
		    *p == '"' || *p == '\\' || (unsigned char)*p < ' ' ||
		    (unsigned char)*p >= 0x7f)
			*p = ' ';
}

/* The header's value for D into O. */
static void
header(const struct pol_config *pc, const struct pol_decision *d,
       struct out *o)
{
	const struct pol_candidate *c = d->chosen >= 0 ? &d->cand[d->chosen] :
							 NULL;

	put(o, pol_result_word(d->result));
	put(o, " (identity=");
	if (d->result == POL_PASS && c != NULL) {
		put(o, d->identity[0] ? d->identity : "this client");
		put(o, "; record=");
		put_uint(o, (unsigned)c->usage);
		put(o, " ");
		put_uint(o, (unsigned)c->selector);
		put(o, " ");
		put_uint(o, (unsigned)c->mtype);
	} else {
		put(o, d->identity[0] ? d->identity : "none");
		put(o, "; reason=");
		put_reason(o, c && c->why[0] ? c->why :
				     pol_result_word(d->result));
	}
	put(o, pc->tail);
}

size_t
pol_action(const struct pol_config *pc, const struct pol_decision *d,
	   int prepend_ok, int *added, char *buf, size_t buflen)
{
	const char *who = d->identity[0] ? d->identity : "this client";
	int temporary = d->result == POL_BOGUS || d->result == POL_TEMPERROR;
	struct out o = { buf, buf + buflen - 1 };

	*added = 0;
	if (buflen == 0)
		return 0;
	if (d->required && d->result != POL_PASS) {
		put(&o, temporary ? "DEFER 4.7.5 DANE client authentication of " :
			"REJECT 5.7.1 DANE client authentication required for ");
		put(&o, who);
		put(&o, temporary ? " temporarily failed (" : " (");
		put(&o, pol_result_word(d->result));
		put(&o, ")");
	} else if (!pc->add_header[d->result]) {
		put(&o, pc->action[d->result]);
	} else if (!prepend_ok) {
		put(&o, "DUNNO");
	} else {
		*added = 1;
		put(&o, pc->prepend);
		header(pc, d, &o);
	}
	*o.p = '\0';
	return (size_t)(o.p - buf);
}

size_t
pol_header(const struct pol_config *pc, const struct pol_decision *d,
	   char *buf, size_t buflen)
{
	struct out o = { buf, buf + buflen - 1 };

	if (buflen == 0)
		return 0;
	header(pc, d, &o);
	*o.p = '\0';
	return (size_t)(o.p - buf);
}

void
pol_log_decision(const struct pol_decision *d, const struct pol_client *cl,
		 const char *lookup, double ms, const char *action)
{
	const struct pol_candidate *c = d->chosen >= 0 ? &d->cand[d->chosen] :
							 NULL;
	char detail[200], e_name[256], e_addr[160], e_helo[1024], e_state[64];
	char e_reason[160], e_id[1024], e_action[1400];

	if (!sm_log_enabled(SM_LOG_INFO))
		return;
	if (d->result == POL_PASS && c != NULL)
		snprintf(detail, sizeof(detail), "record=\"%d %d %d\"",
			 c->usage, c->selector, c->mtype);
	else
		snprintf(detail, sizeof(detail), "reason=\"%s\"",
			 sm_escape_quoted(c && c->why[0] ? c->why :
				   d->have_cert ? "no usable identity" :
						  "no client certificate",
				   e_reason, sizeof(e_reason)));
	/* What the client sent is escaped: it cannot forge a field. */
	sm_log(SM_LOG_INFO,
	       "client=%s[%s] helo=%s identity=%s result=%s %s lookup=%s "
	       "time=%.1fms state=%s action=%s",
	       cl->name[0] ? sm_escape(cl->name, e_name, sizeof(e_name)) :
			     "unknown",
	       sm_escape(cl->addr, e_addr, sizeof(e_addr)),
	       cl->helo[0] ? sm_escape(cl->helo, e_helo, sizeof(e_helo)) : "-",
	       d->identity[0] ? sm_escape(d->identity, e_id, sizeof(e_id)) :
				"-",
	       pol_result_word(d->result), detail, lookup, ms,
	       cl->state[0] ? sm_escape(cl->state, e_state, sizeof(e_state)) :
			      "-",
	       sm_escape_quoted(action, e_action, sizeof(e_action)));
}

void
pol_event(const struct pol_decision *d, const struct pol_client *cl,
	  const char *source, char ident[SM_NAME_BUF + 4],
	  struct sm_rep_event *ev)
{
	const struct pol_candidate *c = d->chosen >= 0 ? &d->cand[d->chosen] :
							 NULL;

	memset(ev, 0, sizeof(*ev));
	ev->client_address = cl->addr;
	/* No identity: the client is known by its address. */
	ev->identity = d->identity;
	if (d->identity[0] == '\0') {
		snprintf(ident, SM_NAME_BUF + 4, "[%s]", cl->addr);
		ev->identity = ident;
	}
	ev->time = time(NULL);
	ev->source = source;
	ev->helo = cl->helo;
	ev->result = pol_result_word(d->result);
	ev->usage = ev->selector = ev->mtype = -1;
	if (c != NULL && d->result == POL_PASS) {
		ev->usage = c->usage;
		ev->selector = c->selector;
		ev->mtype = c->mtype;
	}
	/* Only well-formed fingerprints count as keys seen. */
	ev->cert_fp = d->cert_fp ? cl->cert_fp : "";
	ev->key_fp = d->key_fp ? cl->key_fp : "";
	ev->key_type = sm_key_type_names[SM_KEY_TYPE_TLSA].name;
	ev->tls_protocol = cl->tls_protocol;
	ev->tls_cipher = cl->tls_cipher;
}
