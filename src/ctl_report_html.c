/*
 * ctl_report_html.c - the report as one self-contained HTML file.
 *
 *   int rp_html(d, path, why, whylen)
 *
 * No script, font, style sheet or image from anywhere: the charts are
 * inline SVG, the style is inline, and a Content-Security-Policy of
 * default-src 'none' keeps a browser from fetching anything even if
 * something slipped in.  Every chart has its numbers in the markup
 * (data-* attributes and a <title> per bar, a table beside it), so it
 * reads without JavaScript, prints, and can be checked against the
 * store.  Every string from the store passes sm_escape (controls,
 * spaces, quotes) and then HTML escaping: identities are chosen by
 * whoever connects.  Lists are cut to their top entries, so 100 000
 * rows make a page of the same size as 1 000.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_report_data.h"
#include "util.h"

#define TOP 20			/* domains, failing identities */
#define MARKS_MAX 500		/* key changes on the timeline */
#define CHART_W 800
#define CHART_H 200
#define PAD 40

static const char style[] =
	"body{font-family:sans-serif;margin:1em 2em;color:#222}"
	"h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
	"table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
	"th,td{border:1px solid #bbb;padding:2px 6px}td.n{text-align:right}"
	"th{background:#eee}svg{max-width:100%;height:auto;display:block}"
	"svg text{font-size:11px;fill:#333}.empty{color:#666;font-style:italic}"
	".r-pass{fill:#2e7d32}.r-fail{fill:#c62828}.r-none{fill:#9e9e9e}"
	".r-nocert{fill:#bdbdbd}.r-unusable{fill:#ef6c00}.r-bogus{fill:#6a1b9a}"
	".r-temperror{fill:#f9a825}.enc{fill:#1565c0}.plain{fill:#e0e0e0}"
	".mark{fill:#c62828}.axis{stroke:#666}"
	"@media print{body{margin:0}h2{break-after:avoid}"
	"svg,table{break-inside:avoid}}";

/* S escaped for the terminal's rules, then for HTML text or a quoted
   attribute. */
static void
hstr(FILE *out, const char *str)
{
	char buf[1100];
	const char *s = sm_escape(str, buf, sizeof(buf));

	for (; *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
}

static void
empty(FILE *out, const char *what)
{
	fprintf(out, "<p class=\"empty\">%s</p>\n", what);
}

static long
day_mta_total(const struct rp_day *day)
{
	long n = 0;
	int i;

	for (i = 0; i < SM_NRESULTS; i++)
		n += day->mta[i];
	return n;
}

/* Decisions per day per result, stacked, and the table of them. */
static void
mta_days(const struct rp_data *d, FILE *out)
{
	double bw, h, y;
	long max = 0, t;
	char date[16];
	size_t k;
	int i;

	fputs("<h2 id=\"mta-days\">Sending MTAs: decisions per day and result"
	      " (DANE client authentication)</h2>\n", out);
	for (k = 0; k < d->ndays; k++)
		if ((t = day_mta_total(&d->days[k])) > max)
			max = t;
	if (max == 0) {
		empty(out, "No decisions about sending MTAs in this period.");
		return;
	}
	bw = (double)(CHART_W - PAD) / (double)d->ndays;
	fprintf(out, "<svg id=\"chart-mta\" viewBox=\"0 0 %d %d\" role=\"img\""
		" aria-label=\"decisions per day and result\">\n",
		CHART_W, CHART_H + 36);
	fprintf(out, "<text x=\"0\" y=\"12\">%ld</text><line class=\"axis\""
		" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", max, PAD,
		CHART_H, CHART_W, CHART_H);
	for (k = 0; k < d->ndays; k++) {
		ctl_report_time((time_t)d->days[k].day * 86400, CTL_TIME_DAY,
				date, sizeof(date));
		y = CHART_H;
		for (i = 0; i < SM_NRESULTS; i++) {
			if (d->days[k].mta[i] == 0)
				continue;
			h = (double)d->days[k].mta[i] * (CHART_H - 10) / max;
			y -= h;
			fprintf(out, "<rect class=\"r-%s\" x=\"%.1f\" y=\"%.1f\""
				" width=\"%.1f\" height=\"%.1f\" data-day=\"%s\""
				" data-result=\"%s\" data-count=\"%ld\"><title>%s"
				" %s: %ld</title></rect>\n",
				sm_result_names[i].name, PAD + k * bw, y,
				bw > 2 ? bw - 1 : bw, h, date,
				sm_result_names[i].name, d->days[k].mta[i], date,
				sm_result_names[i].name, d->days[k].mta[i]);
		}
	}
	ctl_report_time((time_t)d->days[0].day * 86400, CTL_TIME_DAY, date,
			sizeof(date));
	fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>", PAD, CHART_H + 15,
		date);
	ctl_report_time((time_t)d->days[d->ndays - 1].day * 86400, CTL_TIME_DAY,
			date, sizeof(date));
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
		CHART_W, CHART_H + 15, date);
	for (i = 0; i < SM_NRESULTS; i++)
		fprintf(out, "<rect class=\"r-%s\" x=\"%d\" y=\"%d\" width=\"10\""
			" height=\"10\"/><text x=\"%d\" y=\"%d\">%s</text>",
			sm_result_names[i].name, PAD + i * 100, CHART_H + 20,
			PAD + i * 100 + 14, CHART_H + 29,
			sm_result_names[i].name);
	fputs("\n</svg>\n<table id=\"table-mta\"><tr><th>day</th>", out);
	for (i = 0; i < SM_NRESULTS; i++)
		fprintf(out, "<th>%s</th>", sm_result_names[i].name);
	fputs("</tr>\n", out);
	for (k = 0; k < d->ndays; k++) {
		if (day_mta_total(&d->days[k]) == 0)
			continue;
		ctl_report_time((time_t)d->days[k].day * 86400, CTL_TIME_DAY,
				date, sizeof(date));
		fprintf(out, "<tr><td>%s</td>", date);
		for (i = 0; i < SM_NRESULTS; i++)
			fprintf(out, "<td class=\"n\">%ld</td>",
				d->days[k].mta[i]);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* One bar of a share: encrypted over the whole, at X (or Y) in SVG. */
static void
share_bar(FILE *out, int horizontal, double pos, double width,
	  long messages, long encrypted)
{
	double len = horizontal ? CHART_W - 260 : CHART_H - 10;
	double e = messages ? len * encrypted / messages : 0;

	if (horizontal)
		fprintf(out, "<rect class=\"plain\" x=\"250\" y=\"%.1f\""
			" width=\"%.1f\" height=\"%.1f\"/><rect class=\"enc\""
			" x=\"250\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
			pos, len, width, pos, e, width);
	else
		fprintf(out, "<rect class=\"plain\" x=\"%.1f\" y=\"10\""
			" width=\"%.1f\" height=\"%.1f\"/><rect class=\"enc\""
			" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
			pos, width, len, pos, 10 + len - e, width, e);
	fprintf(out, " data-messages=\"%ld\" data-encrypted=\"%ld\"",
		messages, encrypted);
}

static int
rcpt_days(const struct rp_data *d, FILE *out)
{
	long *msgs, *enc, any = 0;
	double bw;
	char date[16];
	size_t k;

	fputs("<h2 id=\"rcpt-days\">Outbound mail: share encrypted per day"
	      "</h2>\n<p>Messages delivered to recipients outside"
	      " local_domains, one per recipient, as the milter recorded"
	      " them: encrypted by smilla or already by the sender, against"
	      " plain.</p>\n", out);
	msgs = calloc(2 * d->ndays + 1, sizeof(*msgs));
	if (msgs == NULL)
		return -1;
	enc = msgs + d->ndays;
	for (k = 0; k < d->ndays; k++) {
		msgs[k] = rp_delivered(&d->days[k].out);
		enc[k] = rp_sealed(&d->days[k].out);
		any += msgs[k];
	}
	if (any == 0) {
		empty(out, "No outbound mail delivered in this period.");
		free(msgs);
		return 0;
	}
	bw = (double)(CHART_W - PAD) / (double)d->ndays;
	fprintf(out, "<svg id=\"chart-share\" viewBox=\"0 0 %d %d\" role=\"img\""
		" aria-label=\"share encrypted per day\">\n<text x=\"0\""
		" y=\"14\">100%%</text><text x=\"0\" y=\"%d\">0%%</text>\n",
		CHART_W, CHART_H + 20, CHART_H);
	for (k = 0; k < d->ndays; k++) {
		if (msgs[k] == 0)
			continue;
		ctl_report_time((time_t)d->days[k].day * 86400, CTL_TIME_DAY,
				date, sizeof(date));
		share_bar(out, 0, PAD + k * bw, bw > 2 ? bw - 1 : bw, msgs[k],
			  enc[k]);
		fprintf(out, " data-day=\"%s\"><title>%s: %ld of %ld encrypted"
			"</title></rect>\n", date, date, enc[k], msgs[k]);
	}
	fputs("</svg>\n<table id=\"table-share\"><tr><th>day</th>"
	      "<th>messages</th><th>encrypted</th><th>share</th></tr>\n", out);
	for (k = 0; k < d->ndays; k++) {
		if (msgs[k] == 0)
			continue;
		ctl_report_time((time_t)d->days[k].day * 86400, CTL_TIME_DAY,
				date, sizeof(date));
		fprintf(out, "<tr><td>%s</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%ld</td><td class=\"n\">%.1f%%</td>"
			"</tr>\n", date, msgs[k], enc[k],
			100.0 * enc[k] / msgs[k]);
	}
	fputs("</table>\n", out);
	free(msgs);
	return 0;
}

static void
rcpt_domains(const struct rp_data *d, FILE *out)
{
	size_t k, n = d->ndom < TOP ? d->ndom : TOP;
	const struct rp_dom *m;
	long msgs;

	fprintf(out, "<h2 id=\"rcpt-domains\">Mail delivered: share"
		" encrypted per recipient domain (top %d by messages, of %zu;"
		" local_domains marked inbound)</h2>\n", TOP, d->ndom);
	if (n == 0) {
		empty(out, "No recipient domains in this period.");
		return;
	}
	fprintf(out, "<svg id=\"chart-domains\" viewBox=\"0 0 %d %zu\""
		" role=\"img\" aria-label=\"share encrypted per domain\">\n",
		CHART_W, n * 20 + 10);
	for (k = 0; k < n; k++) {
		m = d->dom[k];
		msgs = rp_delivered(&m->mail);
		fprintf(out, "<text x=\"0\" y=\"%zu\">", k * 20 + 19);
		hstr(out, m->it.key);
		fprintf(out, "%s</text>", m->inbound ? " (inbound)" : "");
		share_bar(out, 1, (double)(k * 20 + 6), 16, msgs,
			  rp_sealed(&m->mail));
		fputs(" data-domain=\"", out);
		hstr(out, m->it.key);
		fputs("\"><title>", out);
		hstr(out, m->it.key);
		fprintf(out, ": %ld of %ld encrypted</title></rect>\n",
			rp_sealed(&m->mail), msgs);
	}
	fputs("</svg>\n<table id=\"table-domains\"><tr><th>domain</th>"
	      "<th>direction</th><th>recipients</th><th>with keys</th>"
	      "<th>messages</th><th>encrypted</th><th>already encrypted</th>"
	      "<th>plain</th><th>refused</th><th>share</th></tr>\n", out);
	for (k = 0; k < n; k++) {
		m = d->dom[k];
		msgs = rp_delivered(&m->mail);
		fputs("<tr><td>", out);
		hstr(out, m->it.key);
		fprintf(out, "</td><td>%s</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%.1f%%</td></tr>\n",
			rp_direction(m->inbound), m->recipients,
			m->with_keys, msgs, m->mail.encrypted, m->mail.already,
			m->mail.plain, m->mail.refused,
			msgs ? 100.0 * rp_sealed(&m->mail) / msgs : 0.0);
	}
	fputs("</table>\n", out);
}

static void
key_changes(const struct rp_data *d, FILE *out)
{
	size_t k, from = d->nchanges > MARKS_MAX ? d->nchanges - MARKS_MAX : 0;
	time_t t0, t1;
	double x;
	char when[32];
	const struct rp_change *c;

	fprintf(out, "<h2 id=\"key-changes\">Key changes (%zu; a new key of the"
		" same kind, when first seen)</h2>\n", d->nchanges);
	if (d->nchanges == 0) {
		empty(out, "No key changes in this period.");
		return;
	}
	t0 = d->changes[from].when;
	t1 = d->changes[d->nchanges - 1].when;
	if (t1 == t0)
		t1 = t0 + 1;
	fprintf(out, "<svg id=\"chart-keys\" viewBox=\"0 0 %d 70\" role=\"img\""
		" aria-label=\"key changes on a timeline\">\n<line"
		" class=\"axis\" x1=\"10\" y1=\"30\" x2=\"%d\" y2=\"30\"/>\n",
		CHART_W, CHART_W - 10);
	for (k = from; k < d->nchanges; k++) {
		c = &d->changes[k];
		x = 10 + (double)(c->when - t0) * (CHART_W - 20) / (t1 - t0);
		ctl_report_time(c->when, CTL_TIME_TEXT, when, sizeof(when));
		fprintf(out, "<circle class=\"mark\" cx=\"%.1f\" cy=\"30\" r=\"4\""
			" data-time=\"%ld\" data-identity=\"", x, (long)c->when);
		hstr(out, c->identity);
		fprintf(out, "\"><title>%s ", when);
		hstr(out, c->identity);
		fputs(" ", out);
		hstr(out, c->key_type);
		fputs("</title></circle>\n", out);
	}
	ctl_report_time(t0, CTL_TIME_TEXT, when, sizeof(when));
	fprintf(out, "<text x=\"10\" y=\"55\">%s</text>", when);
	ctl_report_time(d->changes[d->nchanges - 1].when, CTL_TIME_TEXT, when,
			sizeof(when));
	fprintf(out, "<text x=\"%d\" y=\"55\" text-anchor=\"end\">%s</text>\n"
		"</svg>\n<table id=\"table-keys\"><tr><th>time</th>"
		"<th>identity</th><th>key type</th><th>new key</th></tr>\n",
		CHART_W - 10, when);
	for (k = d->nchanges; k > 0 && k + TOP > d->nchanges; k--) {
		c = &d->changes[k - 1];
		ctl_report_time(c->when, CTL_TIME_TEXT, when, sizeof(when));
		fprintf(out, "<tr><td>%s</td><td>", when);
		hstr(out, c->identity);
		fputs("</td><td>", out);
		hstr(out, c->key_type);
		fputs("</td><td>", out);
		hstr(out, c->key_fp);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

static long
failures(const struct rp_ent *e)
{
	long n = 0;
	int i;

	for (i = 0; i < SM_NRESULTS; i++)
		if (rp_failure(i))
			n += e->count[i];
	return n;
}

static int
by_failures(const void *a, const void *b)
{
	const struct rp_ent *x = *(struct rp_ent *const *)a;
	const struct rp_ent *y = *(struct rp_ent *const *)b;
	long fx = failures(x), fy = failures(y);

	if (fx != fy)
		return fx < fy ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The identities of every section with most failures, their last. */
static int
top_failing(const struct rp_data *d, FILE *out)
{
	size_t n = 0, k, shown;
	struct rp_ent **v;
	const struct rp_ent *e;
	char when[32];
	int sec;

	for (sec = 0; sec < RP_NSEC; sec++)
		n += d->nsec[sec];
	if ((v = malloc((n + 1) * sizeof(*v))) == NULL)
		return -1;
	n = 0;
	for (sec = 0; sec < RP_NSEC; sec++)
		for (k = 0; k < d->nsec[sec]; k++)
			if (failures(d->sec[sec][k]) > 0)
				v[n++] = d->sec[sec][k];
	qsort(v, n, sizeof(*v), by_failures);
	shown = n < TOP ? n : TOP;
	fprintf(out, "<h2 id=\"failing\">Top failing identities (%zu of %zu"
		" with failures: fail, unusable, bogus, temperror)</h2>\n",
		shown, n);
	if (n == 0)
		empty(out, "No failures in this period.");
	else
		fputs("<table id=\"table-failing\"><tr><th>identity</th>"
		      "<th>as</th><th>failures</th><th>passes</th>"
		      "<th>last failure</th><th>when</th><th>client</th>"
		      "<th>HELO</th></tr>\n", out);
	for (k = 0; k < shown; k++) {
		static const char *const as[RP_NSEC] = {
			"sending MTA", "recipient", "sender"
		};

		e = v[k];
		ctl_report_time(e->fail_time, CTL_TIME_TEXT, when,
				sizeof(when));
		fputs("<tr data-identity=\"", out);
		hstr(out, e->name);
		fprintf(out, "\" data-failures=\"%ld\"><td>", failures(e));
		hstr(out, e->name);
		fprintf(out, "</td><td>%s</td><td class=\"n\">%ld</td>"
			"<td class=\"n\">%ld</td><td>%s</td><td>%s</td><td>",
			as[e->sec], failures(e), e->count[SM_RESULT_PASS],
			sm_result_names[e->fail_result].name, when);
		hstr(out, e->fail_addr);
		fputs("</td><td>", out);
		hstr(out, e->fail_helo);
		fputs("</td></tr>\n", out);
	}
	if (n > 0)
		fputs("</table>\n", out);
	free(v);
	return 0;
}

int
rp_html(const struct rp_data *d, const char *path, char *why, size_t whylen)
{
	FILE *out;
	char start[32], end[32], tmp[4096];
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (out = fopen(tmp, "w")) == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ctl_report_time(d->opts->since ? d->opts->since : d->first,
			CTL_TIME_TEXT, start,
		 sizeof(start));
	ctl_report_time(d->now, CTL_TIME_TEXT, end, sizeof(end));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		"<meta charset=\"utf-8\">\n<meta http-equiv="
		"\"Content-Security-Policy\" content=\"default-src 'none';"
		" style-src 'unsafe-inline'\">\n<title>smilla report</title>\n"
		"<style>%s</style></head>\n<body>\n<h1>smilla report</h1>\n"
		"<p id=\"summary\" data-decisions=\"%ld\" data-deliveries=\"%ld\">"
		"%ld decisions and %ld messages to recipients from %s to %s",
		style, d->total, d->deliveries, d->total, d->deliveries,
		d->total || d->deliveries ? start : end, end);
	if (d->opts->identity != NULL || d->opts->domain != NULL) {
		fputs(", only ", out);
		hstr(out, d->opts->identity ? d->opts->identity :
					      d->opts->domain);
	}
	fprintf(out, ": %zu sending MTAs, %zu recipients, %zu senders.</p>\n",
		d->nsec[RP_MTA], d->nsec[RP_RCPT], d->nsec[RP_SENDER]);
	mta_days(d, out);
	rc = rcpt_days(d, out);
	rcpt_domains(d, out);
	key_changes(d, out);
	if (top_failing(d, out) < 0)
		rc = -1;
	fputs("</body></html>\n", out);
	if (rc < 0)
		snprintf(why, whylen, "report: out of memory");
	if (ferror(out) && rc == 0) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (fclose(out) == EOF && rc == 0) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}
