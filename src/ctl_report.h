/*
 * ctl_report.h - smillactl report: the reputation store in sections
 * (sending MTAs, recipients, senders), as text, JSON or one HTML file.
 */
#ifndef SM_CTL_REPORT_H
#define SM_CTL_REPORT_H

#include <stdio.h>
#include <time.h>

struct sm_rep;

struct ctl_report_opts {
	time_t since;			/* events at or after; 0: all */
	const char *identity;		/* only this identity; NULL: all */
	const char *domain;		/* only identities in it; NULL */
	int json;
	const char *html;		/* write the HTML report here */
	long limit;			/* text, JSON: at most this many lines
					   per list (the first: newest, most
					   messages; key changes the latest);
					   0: all */
};

/*
 * ctl_report - read REP and write the report OPTS asks for to OUT (the
 * text or JSON; the HTML goes to OPTS->html).  Returns the decisions
 * reported (0: none in the period), -1 with WHY on error.
 */
long ctl_report(struct sm_rep *rep, const struct ctl_report_opts *opts,
		FILE *out, char *why, size_t whylen);

/*
 * ctl_report_time - T in UTC into BUF (LEN >= 21): FMT is
 * CTL_TIME_ISO ("2026-11-23T10:56:06Z"), CTL_TIME_TEXT ("2026-11-23
 * 10:56:06Z") or CTL_TIME_DAY ("2026-11-23").
 */
enum { CTL_TIME_ISO, CTL_TIME_TEXT, CTL_TIME_DAY };
void ctl_report_time(time_t t, int fmt, char *buf, size_t len);

#endif
