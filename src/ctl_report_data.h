/*
 * ctl_report_data.h - what ctl_report.c gathers from the store, for the
 * writers of the report: ctl_report_text.c (text, JSON) and
 * ctl_report_html.c (HTML).  Everything is owned by struct rp_data;
 * strings are the store's (the client's) text, unescaped.
 */
#ifndef SM_CTL_REPORT_DATA_H
#define SM_CTL_REPORT_DATA_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "ctl_report.h"
#include "words.h"

enum { RP_MTA, RP_RCPT, RP_SENDER, RP_NSEC };

/*
 * Messages to recipients, from the milter's delivery rows (one per
 * recipient of a message): delivered encrypted by smilla, delivered
 * as the sender had encrypted them, delivered plain, and refused
 * (rejected or deferred: not delivered, or not yet).
 */
struct rp_mail {
	long encrypted, already, plain, refused;
};

/* rp_delivered - the messages of M that went on; rp_sealed - of them
   encrypted, by smilla or by the sender. */
long rp_delivered(const struct rp_mail *m);
long rp_sealed(const struct rp_mail *m);

/* A record of an rp_map starts with its key. */
struct rp_item {
	char *key;
};

struct rp_map {
	struct rp_item **slot;
	size_t cap, n;
};

/* One identity of one section. */
struct rp_ent {
	struct rp_item it;		/* section digit + identity */
	const char *name;		/* the identity (in it.key) */
	int sec;
	time_t first, last;
	long count[SM_NRESULTS];
	const char *policy;		/* key type of the last decision
					   with records (not none, nocert),
					   or "no-policy-found" */
	long keys, changes;		/* all time (rep_identities) */
	char *last_key;			/* the latest key of any kind */
	time_t fail_time;		/* the last failure (rp_failure) */
	int fail_result;		/* -1: none */
	char *fail_addr, *fail_helo;
	struct rp_mail mail;		/* recipients */
	int inbound;			/* a recipient in local_domains */
};

/* One recipient domain. */
struct rp_dom {
	struct rp_item it;		/* the domain */
	long recipients, with_keys;
	struct rp_mail mail;
	int inbound;			/* in local_domains */
};

/* One day (UTC) of the period. */
struct rp_day {
	long day;			/* since the epoch */
	long mta[SM_NRESULTS];
	struct rp_mail out;		/* outbound recipients */
};

struct rp_change {
	char *identity, *key_type, *key_fp;
	time_t when;
};

struct rp_data {
	const struct ctl_report_opts *opts;
	time_t now, first, last;	/* first and last event */
	long total;			/* decisions */
	struct rp_map ents, doms;
	long deliveries;		/* delivery rows' messages */
	size_t nsec[RP_NSEC];
	struct rp_ent **sec[RP_NSEC];	/* by last seen, newest first */
	struct rp_dom **dom;		/* by messages, most first */
	size_t ndom;
	struct rp_day *days;		/* in time order */
	size_t ndays, daycap;
	struct rp_change *changes;	/* in time order */
	size_t nchanges, changecap;
	char *prev_id, *prev_type;	/* reading keys */
	int oom;
};

/* rp_failure - whether RESULT is a failure (not pass, none, nocert). */
int rp_failure(int result);

/* rp_direction - the word of a recipient or domain that is INBOUND, or not. */
const char *rp_direction(int inbound);

/* rp_mail_add - count N messages of ACTION (a word of SM_MIL_ACTIONS). */
void rp_mail_add(struct rp_mail *m, const char *action, long n);

void rp_text(const struct rp_data *d, FILE *out);
void rp_json(const struct rp_data *d, FILE *out);

/* rp_html - write the HTML report to PATH; -1 with WHY. */
int rp_html(const struct rp_data *d, const char *path, char *why,
	    size_t whylen);

#endif
