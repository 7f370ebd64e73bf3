/*
 * dns.h - DNSSEC-validating lookups through libunbound.
 *
 * One struct sm_dns per process holds one libunbound context.  A result
 * keeps the outcome (data, NXDOMAIN, no data, temporary or permanent
 * failure) apart from the DNSSEC state (secure, insecure, bogus): a
 * bogus answer is never "not found", and data is only to be trusted
 * when the state is secure.
 *
 * Lookups are bounded by the configured timeout even when a server
 * never answers: libunbound has no per-query deadline, so this module
 * keeps one and cancels the query when it passes.
 */
#ifndef SM_DNS_H
#define SM_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "rr.h"

enum sm_dns_outcome {
	SM_DNS_DATA,		/* RRset present */
	SM_DNS_NXDOMAIN,	/* the name does not exist */
	SM_DNS_NODATA,		/* the name exists, the type does not */
	SM_DNS_TEMPFAIL,	/* SERVFAIL, timeout, resolver trouble */
	SM_DNS_PERMFAIL		/* REFUSED, FORMERR and the like */
};

enum sm_dns_sec {
	SM_DNS_INSECURE,	/* unsigned, or no validation possible */
	SM_DNS_SECURE,		/* validated chain of trust */
	SM_DNS_BOGUS		/* validation failed: never use the data */
};

struct sm_dns_result {
	char *qname;
	int qtype;
	enum sm_dns_outcome outcome;
	enum sm_dns_sec sec;
	int timed_out;		/* TEMPFAIL because the deadline passed */
	int rcode;		/* DNS rcode (0 for a timeout) */
	uint32_t ttl;		/* of the answer; 0 when unknown */
	char *why;		/* why_bogus or failure reason; NULL if none */
	size_t count;
	struct sm_rdata *rr;
};

struct sm_dns_params {
	const char *trust_anchor_file;	/* required */
	const char *unbound_conf;	/* NULL or "" for none */
	int timeout_ms;			/* per lookup; > 0 */
	int max_sockets;		/* UDP sockets libunbound may hold
					   at once (outgoing-range); 0:
					   SM_DNS_MAX_SOCKETS */
};

#define SM_DNS_MAX_SOCKETS 4096

struct sm_dns;

/*
 * sm_dns_new - create the resolver.  Returns NULL with the reason in WHY
 * when the trust anchor or the unbound.conf cannot be used.
 */
struct sm_dns *sm_dns_new(const struct sm_dns_params *params, char *why,
			  size_t whylen);

/*
 * sm_dns_free - cancel pending lookups (no callbacks) and free DNS
 * (NULL allowed).
 */
void sm_dns_free(struct sm_dns *dns);

/*
 * sm_dns_lookup - synchronous lookup of NAME/TYPE, at most the
 * configured timeout.  Returns an owned result (free it with
 * sm_dns_result_free), NULL only when out of memory.
 */
struct sm_dns_result *sm_dns_lookup(struct sm_dns *dns, const char *name,
				    int type);

/*
 * Asynchronous lookups for an event loop.  sm_dns_submit starts one and
 * returns 0 (or -1 when it could not be started: the callback is not
 * called).  The callback receives an owned result (NULL only when out
 * of memory: treat as a temporary failure); it runs from
 * sm_dns_process or sm_dns_expire, never from sm_dns_submit.  Watch
 * sm_dns_fd for input, call sm_dns_process when it is readable, and call
 * sm_dns_expire at least when sm_dns_next_deadline says so.
 */
typedef void sm_dns_cb(void *arg, struct sm_dns_result *res);

int sm_dns_submit(struct sm_dns *dns, const char *name, int type,
		  sm_dns_cb *cb, void *arg);
int sm_dns_fd(const struct sm_dns *dns);
int sm_dns_process(struct sm_dns *dns);

/* sm_dns_expire - time out lookups whose deadline has passed. */
void sm_dns_expire(struct sm_dns *dns);

/* sm_dns_next_deadline - milliseconds until the next deadline, -1: none. */
int sm_dns_next_deadline(const struct sm_dns *dns);

/* sm_dns_pending - number of lookups in flight. */
size_t sm_dns_pending(const struct sm_dns *dns);

/* sm_dns_result_free - release RES (NULL allowed). */
void sm_dns_result_free(struct sm_dns_result *res);

/*
 * sm_dns_result_new - an empty result for NAME/TYPE with the given
 * outcome (for the cache and for tests); NULL when out of memory.
 */
struct sm_dns_result *sm_dns_result_new(const char *name, int type,
					enum sm_dns_outcome outcome,
					enum sm_dns_sec sec);

/* sm_dns_result_add - append a copy of one RDATA; 0 or -1 (OOM). */
int sm_dns_result_add(struct sm_dns_result *res, const uint8_t *rd,
		      size_t len);

/* sm_dns_result_set_why - replace the reason; 0 or -1 (OOM). */
int sm_dns_result_set_why(struct sm_dns_result *res, const char *why);

/*
 * sm_dns_status - one word for logs and smillactl: secure, insecure,
 * bogus, nxdomain, nodata, servfail, timeout or error.  A bogus answer
 * says bogus whatever its rcode; NXDOMAIN and no data say so whether
 * signed or not.
 */
const char *sm_dns_status(const struct sm_dns_result *res);

#endif
