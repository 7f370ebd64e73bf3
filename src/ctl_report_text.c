/*
 * ctl_report_text.c - the report's text and JSON (see ctl_report.c).
 *
 *   void rp_text(d, out)	sections as tables: headers say what the
 *				numbers are, columns as wide as their data
 *   void rp_json(d, out)	the shape documented in smillactl(1),
 *				field names from RFC 8460 (TLSRPT) where
 *				they fit
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_report_data.h"
#include "util.h"

#define NCOL_MAX 12

struct tab {
	int ncol;
	const char *head[NCOL_MAX];
	char **cell;			/* nrow * ncol, owned */
	size_t nrow, cap;
	int oom;
};

static void
tab_init(struct tab *t, int ncol)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
}

/* Append a row of NCOL strings (copied). */
static void
tab_row(struct tab *t, char *const *cells)
{
	int i;

	if (t->oom)
		return;
	if (t->nrow == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **v = realloc(t->cell, cap * t->ncol * sizeof(*v));

		if (v == NULL) {
			t->oom = 1;
			return;
		}
		t->cell = v;
		t->cap = cap;
	}
	for (i = 0; i < t->ncol; i++)
		if ((t->cell[t->nrow * t->ncol + i] = strdup(cells[i])) == NULL)
			t->oom = 1;
	t->nrow++;
}

/* Columns before LEFT are text (left-aligned), the others numbers. */
static void
tab_print(struct tab *t, int left, FILE *out)
{
	int w[NCOL_MAX], i;
	size_t r, len;
	const char *s;

	for (i = 0; i < t->ncol; i++)
		w[i] = (int)strlen(t->head[i]);
	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < t->ncol; i++) {
			s = t->cell[r * t->ncol + i];
			if (s != NULL && (len = strlen(s)) > (size_t)w[i])
				w[i] = (int)len;
		}
	for (r = 0; r <= t->nrow; r++) {
		for (i = 0; i < t->ncol; i++) {
			s = r == 0 ? t->head[i] : t->cell[(r - 1) * t->ncol + i];
			if (s == NULL)
				s = "?";
			if (i == t->ncol - 1 && i < left)
				fprintf(out, "%s", s);
			else
				fprintf(out, i < left ? "%-*s" : "%*s", w[i], s);
			fputc(i == t->ncol - 1 ? '\n' : ' ', out);
		}
	}
	if (t->nrow == 0)
		fputs("  none\n", out);
	for (r = 0; r < t->nrow * t->ncol; r++)
		free(t->cell[r]);
	free(t->cell);
}

/* How many of N lines a list shows under --limit. */
static size_t
shown(const struct rp_data *d, size_t n)
{
	long l = d->opts->limit;

	return l > 0 && (size_t)l < n ? (size_t)l : n;
}

/* The line that says a list was cut: N lines of which SHOWN shown. */
static void
cut(size_t n, size_t shown, FILE *out)
{
	if (shown < n)
		fprintf(out, "  ... %zu more (--limit %zu)\n", n - shown, shown);
}

/* The per-identity table of section SEC, first column FIRST. */
static void
ident_table(const struct rp_data *d, int sec, const char *first, FILE *out)
{
	struct tab t;
	char *cell[NCOL_MAX], num[SM_NRESULTS + 2][24], when[32];
	char e_id[1100];
	struct rp_ent *e;
	size_t k;
	int i;

	tab_init(&t, SM_NRESULTS + 4);
	t.head[0] = first;
	t.head[1] = "last seen";
	for (i = 0; i < SM_NRESULTS; i++)
		t.head[2 + i] = sm_result_names[i].name;
	t.head[SM_NRESULTS + 2] = "keys";
	t.head[SM_NRESULTS + 3] = "changes";
	for (k = 0; k < shown(d, d->nsec[sec]); k++) {
		e = d->sec[sec][k];
		ctl_report_time(e->last, CTL_TIME_ISO, when, sizeof(when));
		cell[0] = (char *)sm_escape(e->name, e_id, sizeof(e_id));
		cell[1] = when;
		for (i = 0; i < SM_NRESULTS; i++) {
			snprintf(num[i], sizeof(num[i]), "%ld", e->count[i]);
			cell[2 + i] = num[i];
		}
		snprintf(num[i], sizeof(num[i]), "%ld", e->keys);
		cell[2 + i] = num[i];
		snprintf(num[i + 1], sizeof(num[i + 1]), "%ld", e->changes);
		cell[3 + i] = num[i + 1];
		tab_row(&t, cell);
	}
	tab_print(&t, 2, out);
	cut(d->nsec[sec], shown(d, d->nsec[sec]), out);
}

static void
domain_table(const struct rp_data *d, FILE *out)
{
	static const char *const head[] = {
		"domain", "direction", "recipients", "with keys", "messages",
		"encrypted", "already encrypted", "plain", "refused",
		"encrypted %"
	};
	struct tab t;
	char *cell[10], num[8][24], e_dom[1100];
	const struct rp_dom *m;
	long n;
	size_t k;
	int i;

	tab_init(&t, 10);
	for (i = 0; i < 10; i++)
		t.head[i] = head[i];
	for (k = 0; k < shown(d, d->ndom); k++) {
		m = d->dom[k];
		n = rp_delivered(&m->mail);
		cell[0] = (char *)sm_escape(m->it.key, e_dom, sizeof(e_dom));
		cell[1] = (char *)rp_direction(m->inbound);
		snprintf(num[0], sizeof(num[0]), "%ld", m->recipients);
		snprintf(num[1], sizeof(num[1]), "%ld", m->with_keys);
		snprintf(num[2], sizeof(num[2]), "%ld", n);
		snprintf(num[3], sizeof(num[3]), "%ld", m->mail.encrypted);
		snprintf(num[4], sizeof(num[4]), "%ld", m->mail.already);
		snprintf(num[5], sizeof(num[5]), "%ld", m->mail.plain);
		snprintf(num[6], sizeof(num[6]), "%ld", m->mail.refused);
		snprintf(num[7], sizeof(num[7]), "%.1f", n ?
			 100.0 * rp_sealed(&m->mail) / n : 0.0);
		for (i = 0; i < 8; i++)
			cell[2 + i] = num[i];
		tab_row(&t, cell);
	}
	tab_print(&t, 2, out);
	cut(d->ndom, shown(d, d->ndom), out);
}

static void
change_table(const struct rp_data *d, FILE *out)
{
	struct tab t;
	char *cell[4], when[32], e_id[1100], e_type[1100], e_fp[1100];
	const struct rp_change *c;
	size_t k;

	tab_init(&t, 4);
	t.head[0] = "time";
	t.head[1] = "identity";
	t.head[2] = "key type";
	t.head[3] = "new key";
	/* The latest, in time order. */
	for (k = d->nchanges - shown(d, d->nchanges); k < d->nchanges; k++) {
		c = &d->changes[k];
		ctl_report_time(c->when, CTL_TIME_ISO, when, sizeof(when));
		cell[0] = when;
		cell[1] = (char *)sm_escape(c->identity, e_id, sizeof(e_id));
		cell[2] = (char *)sm_escape(c->key_type, e_type, sizeof(e_type));
		cell[3] = (char *)sm_escape(c->key_fp, e_fp, sizeof(e_fp));
		tab_row(&t, cell);
	}
	tab_print(&t, 4, out);
	cut(d->nchanges, shown(d, d->nchanges), out);
}

void
rp_text(const struct rp_data *d, FILE *out)
{
	if (d->total == 0 && d->deliveries == 0) {
		fprintf(out, "no decisions recorded%s\n",
			d->opts->since ? " in that period" : "");
		return;
	}
	fputs("Sending MTAs (DANE client authentication): decisions per"
	      " identity and result\n", out);
	ident_table(d, RP_MTA, "sending MTA", out);
	fputs("\nRecipients by domain (what the milter did with the mail:"
	      " messages delivered, and refused)\n", out);
	domain_table(d, out);
	fputs("\nRecipients: lookups per result, one per kind of key\n", out);
	ident_table(d, RP_RCPT, "recipient", out);
	fputs("\nSenders (signature results): messages per result\n", out);
	ident_table(d, RP_SENDER, "sender", out);
	fputs("\nKey changes: a new key of the same kind, when first seen\n",
	      out);
	change_table(d, out);
}

/* ---- JSON ---- */

/* Octets of the valid UTF-8 sequence at S, 0 when it is not one. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

/* S as a JSON string: controls as \u escapes, bad UTF-8 as U+FFFD. */
static void
jstr(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', out);
	for (; *s; s += n ? n : 1) {
		n = utf8_seq(s);
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\u%04x", *s);
		else if (n == 0)
			fputs("\\ufffd", out);
		else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			fprintf(out, "\\u%04x", s[1]);
		else
			fwrite(s, 1, n, out);
	}
	fputc('"', out);
}

static void
jtime(FILE *out, const char *name, time_t t)
{
	char when[32];

	ctl_report_time(t, CTL_TIME_ISO, when, sizeof(when));
	fprintf(out, "\"%s\":\"%s\"", name, when);
}

static void
jcounts(FILE *out, const long count[SM_NRESULTS])
{
	int i;

	fputs("\"result-counts\":{", out);
	for (i = 0; i < SM_NRESULTS; i++)
		fprintf(out, "%s\"%s\":%ld", i ? "," : "",
			sm_result_names[i].name, count[i]);
	fputc('}', out);
}

/* The counts of M, as "message-count" (delivered) and the rest. */
static void
jmail(FILE *out, const struct rp_mail *m)
{
	fprintf(out, "\"message-count\":%ld,\"encrypted-count\":%ld,"
		"\"already-encrypted-count\":%ld,\"plain-count\":%ld,"
		"\"refused-count\":%ld", rp_delivered(m), m->encrypted,
		m->already, m->plain, m->refused);
}

static void
jent(FILE *out, const struct rp_ent *e)
{
	long failed = 0;
	int i, n = 0;

	for (i = 0; i < SM_NRESULTS; i++)
		if (rp_failure(i))
			failed += e->count[i];
	fputs("{\"identity\":", out);
	jstr(out, e->name);
	fprintf(out, ",\"policy-type\":\"%s\",", e->policy);
	jtime(out, "first-seen", e->first);
	fputc(',', out);
	jtime(out, "last-seen", e->last);
	fprintf(out, ",\"successful-session-count\":%ld,"
		"\"failed-session-count\":%ld,", e->count[SM_RESULT_PASS],
		failed);
	jcounts(out, e->count);
	fputs(",\"failure-details\":[", out);
	for (i = 0; i < SM_NRESULTS; i++)
		if (rp_failure(i) && e->count[i] > 0)
			fprintf(out, "%s{\"result-type\":\"%s\","
				"\"failed-session-count\":%ld}", n++ ? "," : "",
				sm_result_names[i].name, e->count[i]);
	fputs("],\"last-failure\":", out);
	if (e->fail_result < 0)
		fputs("null", out);
	else {
		fprintf(out, "{\"result-type\":\"%s\",",
			sm_result_names[e->fail_result].name);
		jtime(out, "time", e->fail_time);
		fputs(",\"sending-mta-ip\":", out);
		jstr(out, e->fail_addr);
		fputs(",\"helo\":", out);
		jstr(out, e->fail_helo);
		fputc('}', out);
	}
	if (e->sec == RP_RCPT) {
		fprintf(out, ",\"direction\":\"%s\",",
			rp_direction(e->inbound));
		jmail(out, &e->mail);
	}
	fprintf(out, ",\"keys-seen\":%ld,\"key-changes\":%ld}", e->keys,
		e->changes);
}

static void
jsection(FILE *out, const struct rp_data *d, int sec, const char *name)
{
	size_t k;

	fprintf(out, ",\"%s\":[", name);
	for (k = 0; k < shown(d, d->nsec[sec]); k++) {
		if (k)
			fputc(',', out);
		jent(out, d->sec[sec][k]);
	}
	fputc(']', out);
}

static int
decided(const struct rp_ent *e)
{
	int i;

	for (i = 0; i < SM_NRESULTS; i++)
		if (e->count[i] > 0)
			return 1;
	return 0;
}

/* The shape of the old report: one list of every identity with
   decisions (the store's identities). */
static void
jidentities(FILE *out, const struct rp_data *d)
{
	const struct rp_ent *e;
	size_t k, n = 0;
	int sec, i;

	fputs(",\"identities\":[", out);
	for (sec = 0; sec < RP_NSEC; sec++)
		for (k = 0; k < d->nsec[sec]; k++) {
			e = d->sec[sec][k];
			if (!decided(e))	/* deliveries only */
				continue;
			fputs(n++ ? ",{\"identity\":" : "{\"identity\":", out);
			jstr(out, e->name);
			fputc(',', out);
			jtime(out, "first_seen", e->first);
			fputc(',', out);
			jtime(out, "last_seen", e->last);
			for (i = 0; i < SM_NRESULTS; i++)
				fprintf(out, ",\"%s\":%ld",
					sm_result_names[i].name, e->count[i]);
			fprintf(out, ",\"keys_seen\":%ld,\"key_changes\":%ld,"
				"\"last_key\":", e->keys, e->changes);
			jstr(out, e->last_key ? e->last_key : "");
			fputc('}', out);
		}
	fputc(']', out);
}

void
rp_json(const struct rp_data *d, FILE *out)
{
	const struct rp_dom *m;
	const struct rp_day *day;
	char date[32];
	size_t k, from;

	fputs("{\"report-version\":1,\"date-range\":{", out);
	jtime(out, "start-datetime", d->opts->since ? d->opts->since :
						      d->first);
	fputc(',', out);
	jtime(out, "end-datetime", d->now);
	fprintf(out, "},\"decision-count\":%ld,\"list-counts\":{"
		"\"sending-mtas\":%zu,\"recipients\":%zu,\"recipient-domains\":"
		"%zu,\"senders\":%zu,\"key-changes\":%zu}", d->total,
		d->nsec[RP_MTA], d->nsec[RP_RCPT], d->ndom, d->nsec[RP_SENDER],
		d->nchanges);
	jsection(out, d, RP_MTA, "sending-mtas");
	jsection(out, d, RP_RCPT, "recipients");
	fputs(",\"recipient-domains\":[", out);
	for (k = 0; k < shown(d, d->ndom); k++) {
		m = d->dom[k];
		fputs(k ? ",{\"domain\":" : "{\"domain\":", out);
		jstr(out, m->it.key);
		fprintf(out, ",\"direction\":\"%s\",\"recipient-count\":%ld,"
			"\"recipients-with-keys\":%ld,",
			rp_direction(m->inbound), m->recipients,
			m->with_keys);
		jmail(out, &m->mail);
		fputc('}', out);
	}
	fputc(']', out);
	jsection(out, d, RP_SENDER, "senders");
	fputs(",\"key-changes\":[", out);
	from = d->nchanges - shown(d, d->nchanges);
	for (k = from; k < d->nchanges; k++) {
		fputs(k > from ? ",{\"identity\":" : "{\"identity\":", out);
		jstr(out, d->changes[k].identity);
		fputs(",\"key-type\":", out);
		jstr(out, d->changes[k].key_type);
		fputc(',', out);
		jtime(out, "time", d->changes[k].when);
		fputs(",\"key\":", out);
		jstr(out, d->changes[k].key_fp);
		fputc('}', out);
	}
	fputs("],\"days\":[", out);
	for (k = 0; k < d->ndays; k++) {
		day = &d->days[k];
		ctl_report_time((time_t)day->day * 86400, CTL_TIME_DAY, date,
				sizeof(date));
		fprintf(out, "%s{\"date\":\"%s\",\"sending-mtas\":{", k ? "," : "",
			date);
		jcounts(out, day->mta);
		fputs("},", out);
		jmail(out, &day->out);
		fputc('}', out);
	}
	fputc(']', out);
	jidentities(out, d);
	fputs("}\n", out);
}
