/*
 * ctl_report.c - smillactl report: the reputation store in sections.
 *
 *   long ctl_report(rep, opts, out, why, whylen)
 *
 * One pass over the events of the period (sm_rep_each) sorts each row
 * into a section by the kind of key it was about:
 *   - sending MTAs: DANE client authentication (key type tlsa: the
 *     policy daemon, or the milter's client auth under Sendmail);
 *   - recipients: the milter's SMIMEA / OPENPGPKEY lookups, one row per
 *     kind of key, summed per recipient and per domain;
 *   - senders: signature results (key types smime-signer, pgp-signer).
 * Rows of an older store without a key type go by their source and
 * identity: the policy daemon's, or an identity without '@', are MTAs.
 *
 * What became of the mail to a recipient comes from the milter's
 * delivery rows, one per recipient of a message: encrypted, left as
 * the sender encrypted it, plain, or refused.  They are not decisions
 * (the decision count leaves them out) and feed no lookup counts.
 * Outbound recipients' rows make the per-day share.
 *
 * Key changes come from the store's keys (sm_rep_keys): each key after
 * the first of its identity and kind, at its first_seen.
 *
 * Everything from the store is the client's text: escaped with
 * sm_escape in the text, as JSON strings in JSON, HTML-escaped (after
 * sm_escape) in the HTML.  Nothing here exits or prints to stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl_report.h"
#include "ctl_report_data.h"
#include "reputation.h"
#include "util.h"
#include "words.h"

/* A section digit and an identity (the store keeps 255 octets). */
#define KEY_MAX 1100

/* ---- a string-keyed table of records that begin with their key ---- */

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
map_grow(struct rp_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256, i, j;
	struct rp_item **slot = calloc(cap, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (i = 0; i < m->cap; i++) {
		if (m->slot[i] == NULL)
			continue;
		for (j = hash(m->slot[i]->key) & (cap - 1); slot[j] != NULL;
		     j = (j + 1) & (cap - 1))
			;
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

/* The record of KEY, made (SIZE octets, zeroed) when absent; NULL: no
   memory.  *MADE says which. */
static struct rp_item *
map_get(struct rp_map *m, const char *key, size_t size, int *made)
{
	struct rp_item *it;
	size_t j;

	*made = 0;
	if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
		return NULL;
	for (j = hash(key) & (m->cap - 1); m->slot[j] != NULL;
	     j = (j + 1) & (m->cap - 1))
		if (strcmp(m->slot[j]->key, key) == 0)
			return m->slot[j];
	if ((it = calloc(1, size)) == NULL)
		return NULL;
	if ((it->key = strdup(key)) == NULL) {
		free(it);
		return NULL;
	}
	m->slot[j] = it;
	m->n++;
	*made = 1;
	return it;
}

static struct rp_item *
map_find(const struct rp_map *m, const char *key)
{
	size_t j;

	if (m->cap == 0)
		return NULL;
	for (j = hash(key) & (m->cap - 1); m->slot[j] != NULL;
	     j = (j + 1) & (m->cap - 1))
		if (strcmp(m->slot[j]->key, key) == 0)
			return m->slot[j];
	return NULL;
}

static void
map_free(struct rp_map *m, void (*fn)(struct rp_item *))
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		if (m->slot[i] != NULL) {
			if (fn != NULL)
				fn(m->slot[i]);
			free(m->slot[i]->key);
			free(m->slot[i]);
		}
	free(m->slot);
}

void
ctl_report_time(time_t t, int fmt, char *buf, size_t len)
{
	static const char *const form[] = { "%Y-%m-%dT%H:%M:%SZ",
					    "%Y-%m-%d %H:%M:%SZ", "%Y-%m-%d" };
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, len, form[fmt], &tm) == 0 && len > 0)
		buf[0] = '\0';
}

/* ---- reading the store ---- */

int
rp_failure(int result)
{
	return result == SM_RESULT_FAIL || result == SM_RESULT_UNUSABLE ||
	       result == SM_RESULT_BOGUS || result == SM_RESULT_TEMPERROR;
}

void
rp_mail_add(struct rp_mail *m, const char *action, long n)
{
	switch (sm_name_code(sm_mil_action_names, action)) {
	case SM_MIL_ENCRYPTED:
		m->encrypted += n;
		break;
	case SM_MIL_UNTOUCHED:
		m->already += n;
		break;
	case SM_MIL_PLAINTEXT:
		m->plain += n;
		break;
	case SM_MIL_REJECTED:
	case SM_MIL_TEMPFAILED:
		m->refused += n;
		break;
	}
}

const char *
rp_direction(int inbound)
{
	return sm_str_name_code(sm_direction_names,
				inbound ? SM_DIRECTION_INBOUND :
					  SM_DIRECTION_OUTBOUND);
}

long
rp_delivered(const struct rp_mail *m)
{
	return m->encrypted + m->already + m->plain;
}

long
rp_sealed(const struct rp_mail *m)
{
	return m->encrypted + m->already;
}

static void
mail_sum(struct rp_mail *to, const struct rp_mail *m)
{
	to->encrypted += m->encrypted;
	to->already += m->already;
	to->plain += m->plain;
	to->refused += m->refused;
}

static int
section_of(const struct sm_rep_event *ev)
{
	switch (sm_name_code(sm_key_type_names, ev->key_type)) {
	case SM_KEY_TYPE_TLSA:
		return RP_MTA;
	case SM_KEY_TYPE_SMIMEA:
	case SM_KEY_TYPE_OPENPGPKEY:
		return RP_RCPT;
	case SM_KEY_TYPE_SMIME_SIGNER:
	case SM_KEY_TYPE_PGP_SIGNER:
		return RP_SENDER;
	}
	if (strcmp(ev->source, "policyd") == 0 ||
	    strchr(ev->identity, '@') == NULL)
		return RP_MTA;
	return RP_RCPT;
}

/* Whether IDENTITY is DOMAIN, in it, or an address at (a name in) it. */
static int
in_domain(const char *identity, const char *domain)
{
	size_t n = strlen(identity), d = strlen(domain);
	const char *at = strrchr(identity, '@');

	if (at != NULL)
		identity = at + 1, n = strlen(identity);
	if (n == d)
		return strcasecmp(identity, domain) == 0;
	return n > d && identity[n - d - 1] == '.' &&
	       strcasecmp(identity + n - d, domain) == 0;
}

static int
wanted(const struct ctl_report_opts *o, const char *identity)
{
	if (o->identity != NULL && strcasecmp(identity, o->identity) != 0)
		return 0;
	return o->domain == NULL || in_domain(identity, o->domain);
}

static struct rp_day *
day_of(struct rp_data *d, time_t t)
{
	long day = (long)(t / 86400);
	size_t i;

	/* Rows come in time order: the day is the last one, nearly always. */
	for (i = d->ndays; i > 0; i--)
		if (d->days[i - 1].day == day)
			return &d->days[i - 1];
	if (d->ndays == d->daycap) {
		size_t cap = d->daycap ? d->daycap * 2 : 32;
		struct rp_day *v = realloc(d->days, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		d->days = v;
		d->daycap = cap;
	}
	memset(&d->days[d->ndays], 0, sizeof(d->days[0]));
	d->days[d->ndays].day = day;
	return &d->days[d->ndays++];
}

static int
set_str(char **dst, const char *src)
{
	char *s = strdup(src);

	if (s == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/* The entry of EV's identity in section SEC, and EV's day; -1 no memory. */
static int
entry_of(struct rp_data *d, const struct sm_rep_event *ev, int sec,
	 struct rp_ent **ent, struct rp_day **day)
{
	char key[KEY_MAX];
	struct rp_ent *e;
	int made;

	snprintf(key, sizeof(key), "%d%s", sec, ev->identity);
	if ((e = (struct rp_ent *)map_get(&d->ents, key, sizeof(*e),
					   &made)) == NULL ||
	    (*day = day_of(d, ev->time)) == NULL) {
		d->oom = 1;
		return -1;
	}
	if (made) {
		e->name = e->it.key + 1;
		e->sec = sec;
		e->first = ev->time;
		e->fail_result = -1;
		e->policy = "no-policy-found";
		d->nsec[sec]++;
	}
	if (ev->time > e->last)
		e->last = ev->time;
	if (ev->time < e->first)
		e->first = ev->time;
	if (d->first == 0 || ev->time < d->first)
		d->first = ev->time;
	if (ev->time > d->last)
		d->last = ev->time;
	*ent = e;
	return 0;
}

/* A delivery row: what became of a message to a recipient. */
static void
on_delivery(struct rp_data *d, const struct sm_rep_event *ev)
{
	struct rp_ent *e;
	struct rp_day *day;

	if (entry_of(d, ev, RP_RCPT, &e, &day) < 0)
		return;
	rp_mail_add(&e->mail, ev->action, ev->count);
	if (sm_name_code(sm_direction_names, ev->direction) ==
	    SM_DIRECTION_INBOUND)
		e->inbound = 1;
	else
		rp_mail_add(&day->out, ev->action, ev->count);
	d->deliveries += ev->count;
}

static void
on_event(void *arg, const struct sm_rep_event *ev)
{
	struct rp_data *d = arg;
	struct rp_ent *e;
	struct rp_day *day;
	int r = sm_rep_result_index(ev->result), sec;

	if (d->oom || r < 0 || !wanted(d->opts, ev->identity))
		return;
	if (sm_name_code(sm_key_type_names, ev->key_type) ==
	    SM_KEY_TYPE_DELIVERY) {
		on_delivery(d, ev);
		return;
	}
	sec = section_of(ev);
	if (entry_of(d, ev, sec, &e, &day) < 0)
		return;
	e->count[r] += ev->count;
	if (r != SM_RESULT_NONE && r != SM_RESULT_NOCERT) {
		int t = sm_name_code(sm_key_type_names, ev->key_type);

		/* Records were there: the table's word, outliving the row. */
		e->policy = t >= 0 ? sm_key_type_names[t].name :
			    sec == RP_MTA ? "tlsa" : e->policy;
	}
	if (rp_failure(r) && ev->time >= e->fail_time) {
		e->fail_time = ev->time;
		e->fail_result = r;
		if (set_str(&e->fail_addr, ev->client_address) < 0 ||
		    set_str(&e->fail_helo, ev->helo) < 0)
			d->oom = 1;
	}
	if (sec == RP_MTA)
		day->mta[r] += ev->count;
	d->total += ev->count;
}

static void
on_identity(void *arg, const struct sm_rep_identity *id)
{
	struct rp_data *d = arg;
	struct rp_ent *e;
	char key[KEY_MAX];
	int sec;

	for (sec = 0; sec < RP_NSEC; sec++) {
		snprintf(key, sizeof(key), "%d%s", sec, id->identity);
		if ((e = (struct rp_ent *)map_find(&d->ents, key)) != NULL) {
			e->keys = id->keys_seen;
			e->changes = id->key_changes;
			if (set_str(&e->last_key, id->last_key_fp) < 0)
				d->oom = 1;
		}
	}
}

static void
on_key(void *arg, const struct sm_rep_key *k)
{
	struct rp_data *d = arg;
	struct rp_change *c;
	int same = d->prev_id != NULL &&
		   strcmp(d->prev_id, k->identity) == 0 &&
		   strcmp(d->prev_type, k->key_type) == 0;

	if (d->oom)
		return;
	if (!same && (set_str(&d->prev_id, k->identity) < 0 ||
		      set_str(&d->prev_type, k->key_type) < 0)) {
		d->oom = 1;
		return;
	}
	if (!same || k->first_seen < d->opts->since ||
	    !wanted(d->opts, k->identity))
		return;
	if (d->nchanges == d->changecap) {
		size_t cap = d->changecap ? d->changecap * 2 : 32;
		struct rp_change *v = realloc(d->changes, cap * sizeof(*v));

		if (v == NULL) {
			d->oom = 1;
			return;
		}
		d->changes = v;
		d->changecap = cap;
	}
	c = &d->changes[d->nchanges];
	memset(c, 0, sizeof(*c));
	if (set_str(&c->identity, k->identity) < 0 ||
	    set_str(&c->key_type, k->key_type) < 0 ||
	    set_str(&c->key_fp, k->key_fp) < 0) {
		free(c->identity);
		free(c->key_type);
		d->oom = 1;
		return;
	}
	c->when = k->first_seen;
	d->nchanges++;
}

/* Most recent first, then by name: the order of the old report. */
static int
by_last(const void *a, const void *b)
{
	const struct rp_ent *x = *(struct rp_ent *const *)a;
	const struct rp_ent *y = *(struct rp_ent *const *)b;

	if (x->last != y->last)
		return x->last < y->last ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int
by_messages(const void *a, const void *b)
{
	const struct rp_dom *x = *(struct rp_dom *const *)a;
	const struct rp_dom *y = *(struct rp_dom *const *)b;
	long mx = rp_delivered(&x->mail), my = rp_delivered(&y->mail);

	if (mx != my)
		return mx < my ? 1 : -1;
	return strcmp(x->it.key, y->it.key);
}

static int
by_when(const void *a, const void *b)
{
	const struct rp_change *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->identity, y->identity);
}

/* The per-section lists and the recipients' domains. */
static int
arrange(struct rp_data *d)
{
	size_t i, n[RP_NSEC] = { 0 };
	struct rp_ent *e;
	struct rp_dom *dom;
	const char *at;
	int sec, made;

	for (sec = 0; sec < RP_NSEC; sec++)
		if ((d->sec[sec] = calloc(d->nsec[sec] + 1,
					  sizeof(*d->sec[sec]))) == NULL)
			return -1;
	for (i = 0; i < d->ents.cap; i++) {
		if ((e = (struct rp_ent *)d->ents.slot[i]) == NULL)
			continue;
		d->sec[e->sec][n[e->sec]++] = e;
		if (e->sec != RP_RCPT)
			continue;
		at = strrchr(e->name, '@');
		if ((dom = (struct rp_dom *)map_get(&d->doms, at ? at + 1 : "",
						     sizeof(*dom), &made)) == NULL)
			return -1;
		dom->recipients++;
		if (e->count[SM_RESULT_PASS] > 0)
			dom->with_keys++;
		mail_sum(&dom->mail, &e->mail);
		dom->inbound |= e->inbound;
	}
	for (sec = 0; sec < RP_NSEC; sec++)
		qsort(d->sec[sec], n[sec], sizeof(*d->sec[sec]), by_last);
	if ((d->dom = calloc(d->doms.n + 1, sizeof(*d->dom))) == NULL)
		return -1;
	for (i = 0; i < d->doms.cap; i++)
		if (d->doms.slot[i] != NULL)
			d->dom[d->ndom++] = (struct rp_dom *)d->doms.slot[i];
	qsort(d->dom, d->ndom, sizeof(*d->dom), by_messages);
	if (d->nchanges > 0)
		qsort(d->changes, d->nchanges, sizeof(*d->changes), by_when);
	return 0;
}

static void
free_ent(struct rp_item *it)
{
	struct rp_ent *e = (struct rp_ent *)it;

	free(e->last_key);
	free(e->fail_addr);
	free(e->fail_helo);
}

static void
data_free(struct rp_data *d)
{
	size_t i;
	int sec;

	map_free(&d->ents, free_ent);
	map_free(&d->doms, NULL);
	for (sec = 0; sec < RP_NSEC; sec++)
		free(d->sec[sec]);
	free(d->dom);
	free(d->days);
	for (i = 0; i < d->nchanges; i++) {
		free(d->changes[i].identity);
		free(d->changes[i].key_type);
		free(d->changes[i].key_fp);
	}
	free(d->changes);
	free(d->prev_id);
	free(d->prev_type);
}

long
ctl_report(struct sm_rep *rep, const struct ctl_report_opts *opts, FILE *out,
	   char *why, size_t whylen)
{
	struct rp_data d;
	long rc;

	memset(&d, 0, sizeof(d));
	d.opts = opts;
	d.now = time(NULL);
	rc = sm_rep_each(rep, opts->since, on_event, &d, why, whylen);
	if (rc >= 0 && !d.oom)
		rc = sm_rep_identities(rep, 0, on_identity, &d, why, whylen);
	if (rc >= 0 && !d.oom)
		rc = sm_rep_keys(rep, opts->since, on_key, &d, why, whylen);
	if (rc >= 0 && (d.oom || arrange(&d) < 0)) {
		snprintf(why, whylen, "report: out of memory");
		rc = -1;
	}
	if (rc >= 0 && opts->html != NULL &&
	    rp_html(&d, opts->html, why, whylen) < 0)
		rc = -1;
	if (rc >= 0) {
		if (opts->json)
			rp_json(&d, out);
		else if (opts->html == NULL)
			rp_text(&d, out);
		rc = d.total + d.deliveries;
		if (fflush(out) == EOF || ferror(out)) {
			snprintf(why, whylen, "report: %s", strerror(errno));
			rc = -1;
		}
	}
	data_free(&d);
	return rc;
}
