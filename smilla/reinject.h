/*
 * reinject.h - the SMTP client of mixed_recipients = split: one copy of
 * a message submitted over ESMTP to the MTA's milter-free listener
 * (reinject_service).  Knows nothing of libmilter; no global state, so
 * milter threads call it concurrently.
 */
#ifndef MIL_REINJECT_H
#define MIL_REINJECT_H
#include <stddef.h>
#include <stdio.h>

/* One recipient of a copy. */
struct mil_reinject_rcpt {
	const char *addr;	/* the path as RCPT TO takes it, with <> */
	const char *params;	/* its ESMTP parameters as the client gave
				   them ("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b"),
				   "" (or NULL) for none */
};

/* One copy: its envelope and its data.  Everything borrowed. */
struct mil_reinject_msg {
	const char *sender;	/* MAIL FROM path with <>, "<>" allowed */
	const char *mail_params;/* MAIL FROM parameters to keep (BODY=,
				   SMTPUTF8, RET=, ENVID=), "" (or NULL)
				   for none */
	const struct mil_reinject_rcpt *rcpt;
	size_t nrcpt;		/* at least one */
	FILE *data;		/* header and body, read to EOF; lines end
				   CRLF or LF */
};

/*
 * mil_reinject - submit MSG over ESMTP to SERVICE ("inet:HOST:PORT",
 * IPv6 as "inet:[::1]:PORT", or "unix:/PATH": the syntax of the policy
 * daemon's listen, parsed by sm_config_parse_sockets; one socket),
 * EHLO HELO, at most TIMEOUT seconds for each step (connect, each
 * reply, the data).
 *
 * Every parameter is checked against the listener's EHLO before MAIL:
 * BODY= needs 8BITMIME, SMTPUTF8 needs SMTPUTF8, NOTIFY=, ORCPT=,
 * RET= and ENVID= need DSN; any other parameter, or one the listener
 * does not announce, fails the submission (-1) rather than be dropped.
 * When the listener announces SIZE and DATA is a regular file, MAIL
 * carries SIZE= (its octets from the current position).  The data go
 * out with every bare LF made CRLF, lines starting with '.' doubled, a
 * CRLF added when they do not end in one, then ".": streamed from DATA,
 * never held whole.  Every recipient must be accepted (2xx), else
 * nothing is submitted (RSET, QUIT).  A read error on DATA closes the
 * connection before the final ".", so no truncated copy is queued.
 *
 * Returns 0 with the listener's queue id in QID (the ID of Postfix's
 * "250 ... queued as ID" or of Sendmail's "250 2.0.0 ID Message
 * accepted for delivery", else the 250's text after the code), cut to
 * QIDLEN - 1 and escaped as sm_escape_quoted does, so it may go into a
 * log line;
 * 1 when the listener answered 4xx at some step (temporary), 2 when
 * 5xx; -1 for a local or connection error (a bad argument, a parameter
 * the listener does not support, refused, timeout, closed, malformed
 * reply).  WHY ("" on success) names the step and quotes the reply,
 * escaped: the listener's text is not ours.  QID is "" unless 0.
 * The process never gets SIGPIPE from here (MSG_NOSIGNAL).
 */
int mil_reinject(const char *service, const char *helo, int timeout,
		 const struct mil_reinject_msg *msg, char *qid, size_t qidlen,
		 char *why, size_t whylen);
#endif
