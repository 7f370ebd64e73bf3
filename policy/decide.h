/*
 * decide.h - the DANE client authentication decision, apart from any
 * I/O: which names to look up for a request, what each lookup means,
 * and what to answer Postfix.
 *
 *   pol_prepare    request -> identity candidates and the TLSA owner
 *                  names that need a lookup
 *   pol_found      one lookup result -> that candidate's verdict
 *   pol_conclude   all verdicts -> result word, identity, record
 *   pol_action     result -> the action line for Postfix
 *   pol_header     result -> the header's value
 *   pol_log_decision, pol_event
 *                  the info line and the reputation row of a decision
 *
 * The milter uses it too (clientauth.c, under Sendmail): the request
 * is then made of the MTA's macros.
 */
#ifndef POL_DECIDE_H
#define POL_DECIDE_H

#include <stddef.h>

#include "dns.h"
#include "names.h"
#include "request.h"
#include "table.h"
#include "util.h"
#include "words.h"

/* The result words of words.h (SM_RESULTS), with their codes. */
#define POL_RESULT_ENUM_(code, word, action, doc) \
	POL_##code = SM_RESULT_##code,
enum pol_result { SM_RESULTS(POL_RESULT_ENUM_) POL_NRESULTS = SM_NRESULTS };

enum pol_source { POL_SRC_HELO, POL_SRC_CLIENT_NAME, POL_SRC_CCERT_SUBJECT };

#define POL_MAX_CAND 3

struct sm_config;
struct sm_rep_event;

struct pol_config {
	enum pol_source order[POL_MAX_CAND];
	int norder;
	char label[64];
	size_t label_len;
	enum sm_digest digest;
	char authserv[SM_NAME_BUF];
	char header[64];
	char *action[POL_NRESULTS];
	int add_header[POL_NRESULTS];	/* action is "header" */
	/* The header's fixed parts: "PREPEND NAME: ", "; authserv=ID)". */
	char prepend[80], tail[SM_NAME_BUF + 16];
	struct sm_table *require, *lookup;
	unsigned gen;		/* differs for every load */
};

struct pol_candidate {
	enum pol_source source;
	char host[SM_NAME_BUF];
	char owner[SM_NAME_BUF];
	int need_lookup;	/* owner must be resolved */
	int done;		/* verdict below is set */
	enum pol_result result;
	int usage, selector, mtype;
	char why[128];		/* for the log and the header */
};

/*
 * The inputs of the last pol_prepare on a decision, so the next request
 * of the same SMTP session (every RCPT and DATA) reuses its normalised
 * names and decoded fingerprints.
 */
#define POL_MEMO_MAX 256
enum { POL_IN_HELO, POL_IN_CLIENT, POL_IN_SUBJECT, POL_IN_CFP, POL_IN_KFP,
       POL_NIN };

struct pol_memo {
	unsigned gen;		/* pol_config.gen; 0: nothing kept */
	char in[POL_NIN][POL_MEMO_MAX];
};

/* What one lookup made of a candidate (pol_found), to be reused. */
struct pol_verdict {
	enum pol_result result;
	int usage, selector, mtype;
	char why[128];		/* for the log and the header */
};

struct pol_decision {
	struct pol_memo memo;
	int memo_hit;		/* this pol_prepare reused the memo */
	struct pol_candidate cand[POL_MAX_CAND];
	int ncand;
	int have_cert;		/* a certificate was presented */
	const uint8_t *cert_fp, *key_fp;	/* NULL when absent/bad */
	uint8_t cert_buf[SM_DIGEST_MAX], key_buf[SM_DIGEST_MAX];
	/* outcome */
	enum pol_result result;
	int chosen;		/* candidate index, -1 when none */
	int required;
	char identity[SM_NAME_BUF];
};

/*
 * pol_config_load - build the decision settings from CFG (tables are
 * read here).  AUTHSERV_DEFAULT is used when authserv_id is empty.
 * Returns 0, or -1 with the reason in WHY.
 */
int pol_config_load(struct pol_config *pc, const struct sm_config *cfg,
		    const char *authserv_default, char *why, size_t whylen);
/* pol_config_free - free what PC holds (PC is the caller's); NULL allowed. */
void pol_config_free(struct pol_config *pc);

/*
 * pol_prepare - candidates and fingerprints of REQ into D.  D is kept
 * from one request to the next (per connection) and must be zeroed
 * before its first use.
 */
void pol_prepare(const struct pol_config *pc, const struct pol_request *req,
		 struct pol_decision *d);

/* pol_found - the verdict for candidate I from RES (NULL: no memory). */
void pol_found(const struct pol_config *pc, struct pol_decision *d, int i,
	       const struct sm_dns_result *res);

/*
 * pol_verdict_get - candidate I's verdict (after pol_found) into V;
 * pol_verdict_set - give candidate I verdict V instead of a pol_found.
 * A caller that knows the RRset is the same as for the request a memo
 * hit (D->memo_hit) came from may reuse the verdict.
 */
void pol_verdict_get(const struct pol_decision *d, int i,
		     struct pol_verdict *v);
void pol_verdict_set(struct pol_decision *d, int i,
		     const struct pol_verdict *v);

/* pol_fail_lookup - candidate I could not be looked up, for WHY: temperror. */
void pol_fail_lookup(struct pol_decision *d, int i, const char *why);

/* pol_conclude - combine the candidates' verdicts. */
void pol_conclude(const struct pol_config *pc, struct pol_decision *d);

/*
 * pol_action - the action for Postfix into BUF (cut to BUFLEN - 1
 * octets); returns its length.  PREPEND_OK says whether the header may
 * be added now (not yet done for this message, and not at
 * END-OF-MESSAGE); *ADDED is set when the action is the header.
 */
size_t pol_action(const struct pol_config *pc, const struct pol_decision *d,
		  int prepend_ok, int *added, char *buf, size_t buflen);

/*
 * pol_header - the value of the result header (pc->header) for D, as
 * pol_action would prepend it: "RESULT (identity=...; record=U S M;
 * authserv=ID)" or "RESULT (identity=...; reason=...; authserv=ID)".
 * Returns its length (cut to BUFLEN - 1 octets).
 */
size_t pol_header(const struct pol_config *pc, const struct pol_decision *d,
		  char *buf, size_t buflen);

/* What the MTA said about the client: "" for what it did not say. */
struct pol_client {
	const char *name, *addr, *helo;
	const char *cert_fp, *key_fp;	/* the fingerprints as given */
	const char *tls_protocol, *tls_cipher;
	const char *state;		/* the SMTP protocol state */
};

/*
 * pol_log_decision - the info line of decision D about client CL:
 * where the TLSA data came from (LOOKUP: "dns", "cache" or "none"), MS
 * it took, and the ACTION taken.  What the client sent is escaped.
 */
void pol_log_decision(const struct pol_decision *d,
		      const struct pol_client *cl, const char *lookup,
		      double ms, const char *action);

/*
 * pol_event - the reputation row of D into EV, from SOURCE ("policyd",
 * "milter"); strings are borrowed from D, CL and IDENT (a buffer for
 * "[address]", the identity of a client without one).
 */
void pol_event(const struct pol_decision *d, const struct pol_client *cl,
	       const char *source, char ident[SM_NAME_BUF + 4],
	       struct sm_rep_event *ev);

/*
 * pol_xtext_decode - IN decoded from xtext (RFC 3461: "+HH" for
 * special octets) into BUF (LEN octets); "" when malformed or too
 * long, which makes a name unusable as an identity.  Returns BUF or "".
 */
const char *pol_xtext_decode(const char *in, char *buf, size_t len);

/* pol_result_word - "pass", "fail", ... */
const char *pol_result_word(enum pol_result r);

#endif
