/*
 * clientauth.h - DANE client authentication in the milter
 * (milter_client_auth = yes), for an MTA that tells a milter the
 * fingerprint of the client's certificate: Sendmail's {cert_fp} (with
 * CertFingerprintAlgorithm=sha256).  Postfix has no such macro: there
 * client authentication is smilla-policyd's.
 *
 * The decision is the policy daemon's own code (policy/decide.h), fed
 * a request made of the macros: the HELO name, the client's name, the
 * certificate's subject CN and the fingerprint of the whole
 * certificate.  There is no public-key fingerprint, so only records
 * over the whole certificate (3 0 1, and 3 0 0 by hashing the record)
 * can be decided; 3 1 x records are unusable ("no public key
 * fingerprint").  The TLSA lookups go through the milter's cache and
 * resolver thread.  Nothing here knows libmilter.
 */
#ifndef MIL_CLIENTAUTH_H
#define MIL_CLIENTAUTH_H

#include <stddef.h>

#include "decide.h"
#include "recipient.h"

/* What the MTA's macros said; NULL for a macro it did not send. */
struct mil_ca_input {
	const char *helo, *client_name, *client_addr;
	const char *cert_fp;		/* {cert_fp}: colon hex */
	const char *cert_subject;	/* {cert_subject}: xtext DN */
	const char *verify;		/* {verify}: OK, FAIL, NO, NONE, ... */
	const char *tls_version, *cipher;
};

/* What to tell the MTA at MAIL FROM. */
enum mil_ca_do { MIL_CA_CONTINUE, MIL_CA_REJECT, MIL_CA_TEMPFAIL };

/* One decision; D is kept from one message to the next of a connection. */
struct mil_ca {
	struct pol_decision d;	/* zeroed before the connection's first */
	enum mil_ca_do what;
	char code[4], xcode[10], text[400];	/* the reply, unless CONTINUE */
	char header[600];	/* the result header's value; "" for none */
	char action[600];	/* what was done, for the log line */
	const char *lookup;	/* "dns", "cache" or "none" */
	struct pol_client cl;	/* for the log line and the row */
	char cn[256];		/* the subject's CN, the last candidate */
};

/*
 * mil_ca_check - can the milter carry out every action_* of PC?  It
 * does header, DUNNO, OK, REJECT [text], DEFER [text], DEFER_IF_PERMIT
 * [text] and "4NN/5NN text"; the other Postfix actions are refused.
 * Returns 0, or -1 with the action and the reason in WHY (the caller
 * adds where it was set).
 */
int mil_ca_check(const struct pol_config *pc, int *result, char *why,
		 size_t whylen);

/*
 * mil_ca_decide - decide the client of IN under PC, looking TLSA up
 * through LK, into CA (CA->d as the connection keeps it).  Fails closed
 * when TLS is up but the MTA did not send {verify}: an MTA that does
 * not tell the certificate (Postfix) makes every candidate temperror,
 * never nocert, so a required client is deferred, not refused.
 */
void mil_ca_decide(const struct pol_config *pc, struct mil_lookup *lk,
		   const struct mil_ca_input *in, struct mil_ca *ca);

/*
 * mil_ca_forged - does VALUE, a header field named PC->header as a
 * client sent it, claim to be ours (authserv= our authserv_id, in any
 * spacing and case)?  Those are removed before ours is added.
 */
int mil_ca_forged(const struct pol_config *pc, const char *value);

#endif
