/*
 * reputation.h - the reputation store: one row per decision of either
 * daemon, and per-identity aggregates (counts per result, first and
 * last seen, keys seen, key changes), in the shared sqlite database.
 *
 * Daemons queue events with sm_rep_add, which never touches the disk,
 * and write them in one transaction with sm_rep_flush (every second or
 * so), so a decision never waits on sqlite.
 *
 * Times are kept to the second, so decisions that agree in every field
 * (the same client, names, result, record, keys and TLS, in the same
 * second) cannot be told apart: the queue merges them into one row
 * with a count.  A busy client costs a row a second, not a row a
 * decision; nothing is lost.
 *
 * Each row says which kind of key it was about (key_type: "tlsa",
 * "smimea", "openpgpkey").  An identity's key changes when a passing
 * decision shows another fingerprint than the last one of the same
 * kind: an S/MIME certificate and an OpenPGP key of one recipient
 * taking turns change nothing.
 *
 * Delivery rows (key type "delivery") say what the milter did with a
 * message for one recipient (the identity): its ACTION (a word of
 * SM_MIL_ACTIONS), the FORMAT it was encrypted in (SM_FORMATS) and the
 * recipient's DIRECTION ("outbound", "inbound"); RESULT is the
 * recipient's (pass: a usable key).  They are not decisions about a
 * key: they count in no identity's aggregates and change no key.
 */
#ifndef SM_REPUTATION_H
#define SM_REPUTATION_H

#include <stddef.h>
#include <time.h>

#include "words.h"


struct sm_rep_event {
	time_t time;
	const char *source;		/* "policyd", "milter" */
	const char *client_address;
	const char *helo;
	const char *identity;
	const char *result;		/* a word of sm_result_names */
	int usage, selector, mtype;	/* matched record, -1 if none */
	const char *cert_fp, *key_fp;	/* hex, may be empty */
	const char *key_type;		/* a word of sm_key_type_names;
					   NULL or empty: unknown */
	const char *tls_protocol, *tls_cipher;
	const char *action, *format;	/* delivery rows, else NULL or "" */
	const char *direction;
	long count;			/* decisions in this row (read side) */
};

struct sm_rep_identity {
	const char *identity;
	time_t first_seen, last_seen;
	long count[SM_NRESULTS];	/* by enum sm_result */
	long keys_seen, key_changes;	/* distinct keys; changes within
					   a key type */
	const char *last_key_fp;	/* the latest key of any type */
};

struct sm_rep;

struct sm_db_params;

/*
 * sm_rep_open - open (create) the store at PATH as sm_db_open does
 * (PARAMS may be NULL: defaults, no repair); events are kept for
 * RETENTION seconds.  A store made by an older smilla gains what it
 * lacks (columns, the key type) in one transaction, whoever opens it
 * first.  NULL and WHY on error; on success WHY is empty, or says that
 * a broken file was moved aside (to log as a warning).
 */
struct sm_rep *sm_rep_open(const char *path,
			   const struct sm_db_params *params, long retention,
			   char *why, size_t whylen);

/* sm_rep_close - flush nothing, free everything (NULL allowed). */
void sm_rep_close(struct sm_rep *rep);

/*
 * sm_rep_add - queue one decision EV (a copy; EV->count is ignored),
 * merged into a queued row that agrees in every field.  0, or -1 when
 * the queue is full or out of memory (the decision is not recorded).
 */
int sm_rep_add(struct sm_rep *rep, const struct sm_rep_event *ev);

/* sm_rep_queued - decisions waiting for sm_rep_flush. */
size_t sm_rep_queued(const struct sm_rep *rep);

/* sm_rep_queued_rows - rows they take. */
size_t sm_rep_queued_rows(const struct sm_rep *rep);

/*
 * sm_rep_flush - write queued events and update aggregates in one
 * transaction, and drop events older than the retention as of NOW.
 * Returns the number of decisions written, or -1 with WHY (events stay
 * queued, up to a bound, for the next try).
 */
long sm_rep_flush(struct sm_rep *rep, time_t now, char *why, size_t whylen);

/*
 * sm_rep_writer_start - flush from a thread of its own every
 * INTERVAL_MS, so a daemon's event loop never waits on sqlite.  ON_ERROR
 * (may be NULL) is called from that thread with what to log: failing
 * flushes with backoff (sm_db_backoff: the first at once, then at
 * growing intervals, with counts), the first success after them, and
 * the file found deleted or replaced (looked at every PARAMS->check_s
 * seconds) and opened again.  sm_rep_add stays safe to call from the
 * daemon's thread; sm_rep_close stops the thread after a last flush.
 * 0, or -1 with WHY (no thread, or one is already running).
 */
int sm_rep_writer_start(struct sm_rep *rep, long interval_ms,
			void (*on_error)(const char *why), char *why,
			size_t whylen);

/*
 * sm_rep_identities - call FN for each identity seen since SINCE, most
 * recent first.  Returns the count, -1 with WHY on error.
 */
typedef void sm_rep_identity_fn(void *arg, const struct sm_rep_identity *id);
long sm_rep_identities(struct sm_rep *rep, time_t since,
		       sm_rep_identity_fn *fn, void *arg, char *why,
		       size_t whylen);

/*
 * sm_rep_events - call FN for each event of IDENTITY since SINCE, most
 * recent first, at most LIMIT of them.  Returns the count or -1.
 */
typedef void sm_rep_event_fn(void *arg, const struct sm_rep_event *ev);
long sm_rep_events(struct sm_rep *rep, const char *identity, time_t since,
		   long limit, sm_rep_event_fn *fn, void *arg, char *why,
		   size_t whylen);

/*
 * sm_rep_each - call FN for every event since SINCE, oldest first (the
 * report: whoever the identity).  Returns the count or -1 with WHY.
 */
long sm_rep_each(struct sm_rep *rep, time_t since, sm_rep_event_fn *fn,
		 void *arg, char *why, size_t whylen);

/* One key an identity was seen with (rep_keys), strings borrowed. */
struct sm_rep_key {
	const char *identity, *key_type, *key_fp;
	time_t first_seen, last_seen;
	long count;			/* decisions that showed it */
};

/*
 * sm_rep_keys - call FN for each key last seen since SINCE, by
 * identity, key type, then first seen: a key after the first of its
 * identity and type is a key change at its first_seen.  Count or -1.
 */
typedef void sm_rep_key_fn(void *arg, const struct sm_rep_key *key);
long sm_rep_keys(struct sm_rep *rep, time_t since, sm_rep_key_fn *fn,
		 void *arg, char *why, size_t whylen);

/* sm_rep_result_index - column of a result word, -1 when unknown. */
int sm_rep_result_index(const char *result);

#endif
