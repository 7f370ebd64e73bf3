/*
 * smilla - a milter that encrypts mail to recipients who publish an
 * S/MIME certificate in DNSSEC-signed DNS (SMIMEA, RFC 8162).
 *
 *   smilla [-c FILE] [-f]
 *
 * libmilter runs one thread per SMTP connection and calls the callbacks
 * below; they only pass data to session.c and apply what it decides.
 * Lookups go through the shared sqlite cache and one resolver thread.
 * Any internal error tempfails the message, so the MTA keeps it queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libmilter/mfapi.h>

#include "cache.h"
#include "clientauth.h"
#include "config.h"
#include "counters.h"
#include "dns.h"
#include "log.h"
#include "pgp.h"
#include "priv.h"
#include "recipient.h"
#include "reinject.h"
#include "reputation.h"
#include "resolver.h"
#include "rr.h"
#include "session.h"
#include "trace.h"

/* An accepted recipient's RCPT TO as the client gave it. */
struct rarg {
	char *path, *params;
};

/* Per SMTP connection. */
struct conn {
	struct mil_msg *msg;
	int leadspc;		/* header values keep their leading space */
	char client[64];	/* the client's address */
	char host[256];		/* its name, as the MTA has it */
	char helo[256];
	struct mil_ca ca;	/* milter_client_auth */
	char from[256];		/* MAIL FROM of this message, as given */
	char mail_params[512];	/* its parameters a copy keeps (split) */
	struct rarg *rargs;	/* the accepted RCPTs as given (split) */
	size_t nrargs;
	int64_t started;	/* this message, ms */
};

static struct mil_policy policy;
static struct mil_lookup *lookup;
static struct sm_rep *rep;

static struct conn *
conn_of(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL)
		smfi_setpriv(ctx, c);
	return c;
}

/* The message of this connection, created at MAIL FROM. */
static struct mil_msg *
msg_of(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	return c != NULL ? c->msg : NULL;
}

static void
msg_end(struct conn *c)
{
	size_t i;

	mil_msg_free(c->msg);
	c->msg = NULL;
	for (i = 0; i < c->nrargs; i++) {
		free(c->rargs[i].path);
		free(c->rargs[i].params);
	}
	free(c->rargs);
	c->rargs = NULL;
	c->nrargs = 0;
}

/*
 * ARGV's ESMTP parameters named in KEEP (a NULL-ended list; "X=" for
 * one with a value, "X" for a bare keyword), space-separated, into BUF.
 * -1 when one does not fit.
 */
static int
params_of(char **argv, const char *const *keep, char *buf, size_t buflen)
{
	size_t used = 0, i, k;

	buf[0] = '\0';
	for (i = 1; argv[i] != NULL; i++)
		for (k = 0; keep[k] != NULL; k++) {
			size_t kl = strlen(keep[k]);
			int eq = keep[k][kl - 1] == '=';

			if (strncasecmp(argv[i], keep[k], kl) != 0 ||
			    (!eq && argv[i][kl] != '\0'))
				continue;
			if (used + strlen(argv[i]) + 2 > buflen)
				return -1;
			used += (size_t)snprintf(buf + used, buflen - used,
						 "%s%s", used ? " " : "",
						 argv[i]);
			break;
		}
	return 0;
}

static const char *
queue_id(SMFICTX *ctx)
{
	const char *id = smfi_getsymval(ctx, "i");

	return id != NULL ? id : "?";
}

/* Tempfail with a reply, and say why in the log. */
static sfsistat
tempfail(SMFICTX *ctx, const char *why)
{
	char e_why[512];

	sm_log(SM_LOG_ERR, "queue_id=%s action=tempfail reason=\"%s\"",
	       queue_id(ctx), sm_escape_quoted(why, e_why, sizeof(e_why)));
	sm_metric_add(mil_ct.messages, MIL_TEMPFAILED, 1);
	sm_metric_add(mil_ct.errors, 0, 1);
	smfi_setreply(ctx, "451", "4.3.0",
		      "smilla: local error, message kept, try again later");
	return SMFIS_TEMPFAIL;
}

/*
 * The macros at MAIL FROM with milter_client_auth: Sendmail's default
 * list (confMILTER_MACROS_ENVFROM), which a list of our own replaces,
 * and the TLS ones the decision needs.
 */
#define CA_MACROS "i {auth_type} {auth_authen} {auth_ssf} {auth_author} " \
	"{mail_mailer} {mail_host} {mail_addr} {cert_fp} {cert_subject} " \
	"{verify} {tls_version} {cipher}"

static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	     unsigned long f2, unsigned long f3, unsigned long *pf0,
	     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct conn *c = conn_of(ctx);

	static int warned;

	(void)f2;
	(void)f3;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY);
	/* Split mode takes the copies' recipients off the original. */
	if (policy.split) {
		if (!(f0 & SMFIF_DELRCPT)) {
			/* It could not take the copies' recipients off. */
			sm_log(SM_LOG_ERR, "mixed_recipients = split: the MTA "
			       "does not let a milter remove recipients");
			return SMFIS_REJECT;
		}
		*pf0 |= SMFIF_DELRCPT;
	}
	/* Client authentication asks for the TLS macros itself. */
	if (policy.client != NULL && (f0 & SMFIF_SETSYMLIST)) {
		*pf0 |= SMFIF_SETSYMLIST;
		if (smfi_setsymlist(ctx, SMFIM_ENVFROM, CA_MACROS) !=
			    MI_SUCCESS &&
		    !warned++)
			sm_log(SM_LOG_WARNING, "the MTA refused the macro list "
			       "for MAIL FROM: %s", CA_MACROS);
	} else if (policy.client != NULL && !warned++) {
		sm_log(SM_LOG_WARNING, "the MTA cannot be asked for macros: "
		       "list %s in its macros for MAIL FROM", CA_MACROS);
	}
	/* Every step; header values exactly as they were received. */
	*pf1 = f1 & SMFIP_HDR_LEADSPC;
	*pf2 = *pf3 = 0;
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	return SMFIS_CONTINUE;
}

static sfsistat
on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn *c = conn_of(ctx);
	const char *addr = smfi_getsymval(ctx, "{client_addr}");
	char buf[INET6_ADDRSTRLEN] = "";

	if (c == NULL)
		return tempfail(ctx, "out of memory");
	/* Sendmail's connect macros have no {client_addr} by default. */
	if (addr == NULL && sa != NULL && sa->sa_family == AF_INET)
		addr = inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
				 buf, sizeof(buf));
	else if (addr == NULL && sa != NULL && sa->sa_family == AF_INET6)
		addr = inet_ntop(AF_INET6,
				 &((struct sockaddr_in6 *)sa)->sin6_addr, buf,
				 sizeof(buf));
	sm_strlcpy(c->client, addr ? addr : host ? host : "", sizeof(c->client));
	sm_strlcpy(c->host, host ? host : "", sizeof(c->host));
	return SMFIS_CONTINUE;
}

static sfsistat
on_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = conn_of(ctx);

	if (c != NULL)
		sm_strlcpy(c->helo, helo, sizeof(c->helo));
	return SMFIS_CONTINUE;
}

/*
 * milter_client_auth: decide the client as smilla-policyd would, log
 * it and record it; the reply when it is refused here.
 */
static sfsistat
client_auth(SMFICTX *ctx, struct conn *c)
{
	struct mil_ca_input in;
	struct sm_rep_event ev;
	char ident[SM_NAME_BUF + 4];
	int64_t t0 = sm_now_ms();

	in.helo = c->helo;
	in.client_name = c->host;
	in.client_addr = c->client;
	in.cert_fp = smfi_getsymval(ctx, "{cert_fp}");
	in.cert_subject = smfi_getsymval(ctx, "{cert_subject}");
	in.verify = smfi_getsymval(ctx, "{verify}");
	in.tls_version = smfi_getsymval(ctx, "{tls_version}");
	in.cipher = smfi_getsymval(ctx, "{cipher}");
	mil_ca_decide(policy.client, lookup, &in, &c->ca);
	pol_log_decision(&c->ca.d, &c->ca.cl, c->ca.lookup,
			 (double)(sm_now_ms() - t0), c->ca.action);
	if (rep != NULL) {
		pol_event(&c->ca.d, &c->ca.cl, "milter", ident, &ev);
		if (sm_rep_add(rep, &ev) < 0)
			sm_log(SM_LOG_WARNING, "reputation: out of memory");
	}
	if (c->ca.what == MIL_CA_CONTINUE)
		return SMFIS_CONTINUE;
	smfi_setreply(ctx, c->ca.code, c->ca.xcode, c->ca.text);
	return c->ca.what == MIL_CA_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	sfsistat rc;

	if (c == NULL)
		return tempfail(ctx, "out of memory");
	static const char *const keep[] = { "BODY=", "SMTPUTF8", "RET=",
					    "ENVID=", NULL };

	sm_strlcpy(c->from, argv[0] ? argv[0] : "", sizeof(c->from));
	msg_end(c);
	if (policy.split &&
	    params_of(argv, keep, c->mail_params, sizeof(c->mail_params)) < 0)
		return tempfail(ctx, "MAIL FROM parameters too long to keep");
	c->ca.header[0] = '\0';
	if (policy.client != NULL &&
	    (rc = client_auth(ctx, c)) != SMFIS_CONTINUE)
		return rc;
	c->started = sm_now_ms();
	if ((c->msg = mil_msg_new(&policy)) == NULL)
		return tempfail(ctx, "out of memory");
	return SMFIS_CONTINUE;
}

/* A reputation row of this connection about IDENTITY into EV. */
static void
event(const struct conn *c, const char *identity, const char *result,
      const char *key_type, struct sm_rep_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->time = time(NULL);
	ev->source = "milter";
	ev->client_address = c->client;
	ev->helo = c->helo;
	ev->identity = identity;
	ev->result = result;
	ev->key_type = key_type;
}

/* One reputation row per recipient lookup: one per kind of key. */
static void
record(const struct conn *c, const struct mil_rcpt *r)
{
	struct sm_rep_event ev;
	const struct mil_keys *k;
	const char *result;
	int i;

	for (i = 0; i < MIL_NKINDS && rep != NULL; i++) {
		k = &r->keys[i];
		if ((result = mil_key_state_result(k->state)) == NULL)
			continue;
		event(c, r->addr, result, mil_kind_record(k->kind), &ev);
		ev.usage = k->usage;
		/* SMIMEA records the milter uses carry the whole
		   certificate; OPENPGPKEY ones have no such fields. */
		ev.selector = k->usage >= 0 ? SM_TLSA_SELECTOR_CERT : -1;
		ev.mtype = k->usage >= 0 ? SM_TLSA_MTYPE_FULL : -1;
		ev.cert_fp = k->kind == MIL_SMIME ? k->fp : "";
		ev.key_fp = k->fp;	/* keys and changes: by certificate
					   or OpenPGP fingerprint */
		ev.tls_protocol = ev.tls_cipher = "";
		if (sm_rep_add(rep, &ev) < 0)
			sm_log(SM_LOG_WARNING, "reputation: out of memory");
	}
}

/*
 * The delivery row of recipient R: what was done with the message for
 * it (ACTION, in format KIND when encrypted), so that the report counts
 * the mail that left encrypted rather than guessing it from lookups.
 */
static void
record_delivery(const struct conn *c, const struct mil_rcpt *r,
		enum mil_action action, enum mil_kind kind)
{
	struct sm_rep_event ev;
	const char *result = mil_key_state_result(r->state);

	if (rep == NULL)
		return;
	event(c, r->addr, result != NULL ? result : "none",
	      sm_str_name_code(sm_key_type_names, SM_KEY_TYPE_DELIVERY), &ev);
	ev.usage = ev.selector = ev.mtype = -1;
	ev.action = mil_action_word(action);
	ev.format = action == MIL_ENCRYPTED ? mil_kind_format(kind) : "";
	ev.direction = sm_str_name_code(sm_direction_names,
					r->inbound ? SM_DIRECTION_INBOUND :
						     SM_DIRECTION_OUTBOUND);
	if (sm_rep_add(rep, &ev) < 0)
		sm_log(SM_LOG_WARNING, "reputation: out of memory");
}

/* The delivery rows of the recipients of G (all accepted when NULL). */
static void
record_deliveries(const struct conn *c, const struct mil_group *g,
		  enum mil_action action, enum mil_kind kind)
{
	size_t i, n;
	const struct mil_rcpt *r = mil_msg_rcpts(c->msg, &n);

	for (i = 0; i < (g != NULL ? g->n : n); i++)
		record_delivery(c, &r[g != NULL ? g->idx[i] : i], action,
				kind);
}

/* Recipient R (may be NULL) with its reasons; REPLY when refused. */
static void
log_rcpt(SMFICTX *ctx, const struct mil_rcpt *r,
	 const struct mil_reply *reply)
{
	char e_addr[1024], e_why[1200], e_reply[512], rwhy[600];
	char refused[sizeof(e_reply) + 32] = "";

	/* The address and reasons may carry what the client wrote. */
	if (reply != NULL)
		snprintf(refused, sizeof(refused), " refused=\"%s %s %s\"",
			 reply->code, reply->xcode,
			 sm_escape_quoted(reply->text, e_reply,
					  sizeof(e_reply)));
	sm_log(SM_LOG_NOTICE, "queue_id=%s rcpt=<%s> state=%s reason=\"%s\"%s",
	       queue_id(ctx), sm_escape(r ? r->addr : "?", e_addr,
					sizeof(e_addr)),
	       r ? mil_key_state_word(r->state) : "?",
	       sm_escape_quoted(r ? mil_rcpt_why(r, rwhy, sizeof(rwhy)) : "",
				e_why, sizeof(e_why)),
	       refused);
}

/*
 * The accepted recipients of M with records that were there but could
 * not be used (unusable, bogus, temperror), with their reasons: the
 * admin wants to know why a published key was not used, which the
 * message's own line (states only) does not say.  At the end of the
 * message, when the queue ID is known: Postfix has none before the
 * first recipient is accepted.
 */
static void
log_key_trouble(SMFICTX *ctx, const struct mil_msg *m)
{
	size_t i, n;
	const struct mil_rcpt *r = mil_msg_rcpts(m, &n);
	int k;

	for (i = 0; i < n; i++)
		for (k = 0; k < MIL_NKINDS; k++)
			if (r[i].keys[k].state == MIL_KEY_UNUSABLE ||
			    r[i].keys[k].state == MIL_KEY_BOGUS ||
			    r[i].keys[k].state == MIL_KEY_TEMPERROR) {
				log_rcpt(ctx, &r[i], NULL);
				break;
			}
}

/*
 * " verify=FORMAT:RESULT signer=ADDR why=\"...\"" for the message's line,
 * "" when nothing was signed; " verify=encrypted" (or too-big) when a
 * signature could not be checked here.
 */
static void
verify_words(const struct mil_outcome *o, char *buf, size_t buflen)
{
	const struct mil_auth_result *a = o->auth;
	char e_from[600], e_why[600];

	buf[0] = '\0';
	if (o->auth_skipped != NULL) {
		snprintf(buf, buflen, " verify=%s", o->auth_skipped);
		return;
	}
	if (a == NULL || a->result == MIL_AUTH_NONE)
		return;
	snprintf(buf, buflen, " verify=%s:%s signer=%s verify_reason=\"%s\"",
		 mil_sig_format_word(a->format), mil_auth_word(a->result),
		 a->from[0] ? sm_escape(a->from, e_from, sizeof(e_from)) : "-",
		 sm_escape_quoted(a->why, e_why, sizeof(e_why)));
}

/* The reputation row of a signed message: the sender's result. */
static void
record_auth(const struct conn *c, const struct mil_auth_result *a)
{
	struct sm_rep_event ev;

	if (rep == NULL || a->result == MIL_AUTH_NONE || a->from[0] == '\0')
		return;
	event(c, a->from, mil_auth_rep_result(a->result),
	      sm_str_name_code(sm_key_type_names, a->kind == MIL_OPENPGP ?
							  SM_KEY_TYPE_PGP_SIGNER :
							  SM_KEY_TYPE_SMIME_SIGNER),
	      &ev);
	ev.usage = ev.selector = ev.mtype = -1;
	ev.cert_fp = a->kind == MIL_SMIME ? a->fp : "";
	ev.key_fp = a->fp;
	ev.tls_protocol = ev.tls_cipher = "";
	if (sm_rep_add(rep, &ev) < 0)
		sm_log(SM_LOG_WARNING, "reputation: out of memory");
}

/* Split mode: the accepted RCPT TO of ARGV, for a copy.  -1 no memory. */
static int
keep_rcpt(struct conn *c, char **argv)
{
	static const char *const keep[] = { "NOTIFY=", "ORCPT=", NULL };
	struct rarg *v;
	char params[1024];

	if (params_of(argv, keep, params, sizeof(params)) < 0 ||
	    (v = realloc(c->rargs, (c->nrargs + 1) * sizeof(*v))) == NULL)
		return -1;
	c->rargs = v;
	v += c->nrargs++;
	v->path = strdup(argv[0]);
	v->params = strdup(params);
	return v->path != NULL && v->params != NULL ? 0 : -1;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	const struct mil_rcpt *r;
	struct mil_reply reply;
	enum mil_verdict v;

	if (c == NULL || c->msg == NULL)
		return tempfail(ctx, "no message state");
	v = mil_msg_rcpt(c->msg, lookup, argv[0], &reply, &r);
	if (r != NULL)
		record(c, r);
	if (v == MIL_ACCEPT && r != NULL && policy.split &&
	    keep_rcpt(c, argv) < 0)
		return tempfail(ctx, "out of memory");
	if (v == MIL_ACCEPT)
		return SMFIS_CONTINUE;
	if (r != NULL)
		record_delivery(c, r, v == MIL_REJECT ? MIL_REJECTED :
							MIL_TEMPFAILED,
				MIL_SMIME);
	log_rcpt(ctx, r, &reply);
	smfi_setreply(ctx, reply.code, reply.xcode, reply.text);
	return v == MIL_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL || c->msg == NULL)
		return tempfail(ctx, "no message state");
	if (mil_msg_header(c->msg, name, value, c->leadspc) < 0)
		return tempfail(ctx, mil_msg_why(c->msg));
	return SMFIS_CONTINUE;
}

static sfsistat
on_eoh(SMFICTX *ctx)
{
	struct mil_msg *m = msg_of(ctx);

	if (m == NULL)
		return tempfail(ctx, "no message state");
	if (mil_msg_eoh(m) < 0)
		return tempfail(ctx, mil_msg_why(m));
	return SMFIS_CONTINUE;
}

static sfsistat
on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct mil_msg *m = msg_of(ctx);

	if (m == NULL)
		return tempfail(ctx, "no message state");
	if (mil_msg_body(m, data, len) < 0)
		return tempfail(ctx, mil_msg_why(m));
	return SMFIS_CONTINUE;
}

/* A header value as the MTA expects it after negotiation. */
static int
add_header(SMFICTX *ctx, const struct conn *c, const char *name,
	   const char *value)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", c->leadspc ? " " : "", value);
	return smfi_addheader(ctx, (char *)name, buf);
}

/* Header NAME's INDEX-th line gets VALUE, or goes (VALUE NULL). */
static int
change_header(SMFICTX *ctx, const struct conn *c, const char *name,
	      int index, const char *value)
{
	char buf[1024];

	if (value == NULL)
		return smfi_chgheader(ctx, (char *)name, index, NULL);
	snprintf(buf, sizeof(buf), "%s%s", c->leadspc ? " " : "", value);
	return smfi_chgheader(ctx, (char *)name, index, buf);
}

/* The same, as the first header of the message. */
static int
insert_header(SMFICTX *ctx, const struct conn *c, const char *name,
	      const char *value)
{
	char buf[1100];

	snprintf(buf, sizeof(buf), "%s%s", c->leadspc ? " " : "", value);
	return smfi_insheader(ctx, 0, (char *)name, buf);
}

/* The new body, its "\n" line ends made CRLF, in 64 KB pieces. */
static int
replace_body(SMFICTX *ctx, struct mil_spool *body)
{
	static const size_t piece = 65536;
	char why[256];
	unsigned char *in, *out;
	size_t n, i, o;
	FILE *f;
	int rc = MI_SUCCESS;

	if ((f = mil_spool_reader(body, why, sizeof(why))) == NULL)
		return MI_FAILURE;
	in = malloc(piece);
	out = malloc(2 * piece);
	if (in == NULL || out == NULL)
		rc = MI_FAILURE;
	while (rc == MI_SUCCESS && (n = fread(in, 1, piece, f)) > 0) {
		for (i = o = 0; i < n; i++) {
			if (in[i] == '\n')
				out[o++] = '\r';
			out[o++] = in[i];
		}
		rc = smfi_replacebody(ctx, out, (int)o);
	}
	if (ferror(f))
		rc = MI_FAILURE;
	fclose(f);
	free(in);
	free(out);
	return rc;
}

/*
 * Carry out an outcome that delivers (encrypted, plaintext, untouched):
 * incoming status headers go on every one of them; MI_FAILURE on error.
 */
static int
apply(SMFICTX *ctx, const struct conn *c, const struct mil_outcome *o)
{
	size_t i;

	for (i = 0; i < o->ndel; i++)
		if (smfi_chgheader(ctx, o->del[i].name, o->del[i].index, NULL) !=
		    MI_SUCCESS)
			return MI_FAILURE;
	/* Header protection: the Subject outside becomes "[...]". */
	for (i = 0; i < o->nchg; i++)
		if (change_header(ctx, c, o->chg[i].name, o->chg[i].index,
				  o->chg[i].value) != MI_SUCCESS)
			return MI_FAILURE;
	if (o->action == MIL_ENCRYPTED &&
	    ((o->add_mime_version &&
	      add_header(ctx, c, "MIME-Version", "1.0") != MI_SUCCESS) ||
	     add_header(ctx, c, "Content-Type", o->content_type) != MI_SUCCESS ||
	     (o->cte != NULL &&
	      add_header(ctx, c, "Content-Transfer-Encoding", o->cte) !=
		      MI_SUCCESS) ||
	     (o->disposition != NULL &&
	      add_header(ctx, c, "Content-Disposition", o->disposition) !=
		      MI_SUCCESS) ||
	     replace_body(ctx, o->body) != MI_SUCCESS))
		return MI_FAILURE;
	/* RFC 8601 section 4: on top, above the trace it speaks for. */
	if (o->auth_header[0] != '\0' &&
	    insert_header(ctx, c, "Authentication-Results", o->auth_header) !=
		    MI_SUCCESS)
		return MI_FAILURE;
	/* Where Postfix puts a policy server's PREPEND: on top. */
	if (c->ca.header[0] != '\0' &&
	    insert_header(ctx, c, policy.client->header, c->ca.header) !=
		    MI_SUCCESS)
		return MI_FAILURE;
	if (o->status[0] == '\0')
		return MI_SUCCESS;
	return add_header(ctx, c, policy.status_header, o->status);
}

/*
 * What header protection did, for the log line: " hp=cipher
 * legacy=N", " hp=none", and why an element (or all of it) was left
 * out; "" when it is off or the message not encrypted.  The reasons
 * are ours, no client text.
 */
static void
hp_words(const struct mil_outcome *o, char *buf, size_t buflen)
{
	const char *why = o->hp_why != NULL ? o->hp_why : "";

	*buf = '\0';
	if (o->action != MIL_ENCRYPTED || o->hp == 0)
		return;
	if (o->hp > 0)
		snprintf(buf, buflen, " hp=cipher legacy=%d", o->legacy);
	else
		snprintf(buf, buflen, " hp=none");
	if (*why != '\0')
		snprintf(buf + strlen(buf), buflen - strlen(buf),
			 " hp_why=\"%s\"", why);
}

/* A group's class word: its format, or plaintext. */
static const char *
class_word(const struct mil_group *g)
{
	return g->plain ? "plaintext" : mil_kind_format(g->kind);
}

/*
 * Split mode: the copy for group G, finished, written with its trace
 * header (and client authentication's header, as the original gets
 * it) and submitted to reinject_service.  0 with the listener's queue
 * id in QID, -1 with WHY.
 */
static int
submit_copy(struct conn *c, const struct mil_group *g, char *qid,
	    size_t qidlen, char *why, size_t whylen)
{
	struct mil_reinject_rcpt *rr = NULL;
	struct mil_reinject_msg msg;
	struct mil_spool *sp = NULL;
	const struct mil_rcpt *all;
	struct mil_outcome o;
	const char **addrs = NULL, *top[3];
	char tv[MIL_TRACE_SIZE], trace[MIL_TRACE_SIZE + 32], ca[700];
	FILE *f = NULL;
	uint8_t d[32];
	size_t i, n;
	int rc = -1;

	mil_msg_finish_group(c->msg, g, &o);
	if (o.action == MIL_REJECTED || o.action == MIL_TEMPFAILED) {
		sm_why(why, whylen, "%s copy: %s", class_word(g),
		       o.why ? o.why : o.reply.text);
		return -1;
	}
	all = mil_msg_rcpts(c->msg, &n);
	if ((addrs = calloc(g->n + 1, sizeof(*addrs))) == NULL ||
	    (rr = calloc(g->n + 1, sizeof(*rr))) == NULL ||
	    (sp = mil_spool_new(policy.mem_max)) == NULL)
		goto oom;
	for (i = 0; i < g->n; i++) {
		addrs[i] = all[g->idx[i]].addr;
		rr[i].addr = c->rargs[g->idx[i]].path;
		rr[i].params = c->rargs[g->idx[i]].params;
	}
	/* The trace holds for the body: its digest first. */
	if (mil_msg_copy(c->msg, &o, NULL, NULL, d) < 0)
		goto msgwhy;
	mil_trace_make(policy.split_key, time(NULL), addrs, g->n, d, tv);
	snprintf(trace, sizeof(trace), "%s: %s", MIL_TRACE_HEADER, tv);
	top[0] = trace;
	top[1] = top[2] = NULL;
	if (c->ca.header[0] != '\0') {
		snprintf(ca, sizeof(ca), "%s: %s", policy.client->header,
			 c->ca.header);
		top[1] = ca;
	}
	if ((f = mil_spool_writer(sp)) == NULL)
		goto oom;
	if (mil_msg_copy(c->msg, &o, top, f, d) < 0) {
		fclose(f);
		goto msgwhy;
	}
	if (fclose(f) != 0) {
		sm_why(why, whylen, "cannot write the %s copy", class_word(g));
		goto done;
	}
	if ((f = mil_spool_reader(sp, why, whylen)) == NULL)
		goto done;
	msg.sender = c->from;
	msg.mail_params = c->mail_params;
	msg.rcpt = rr;
	msg.nrcpt = g->n;
	msg.data = f;
	rc = mil_reinject(policy.reinject, policy.authserv,
			  policy.reinject_timeout, &msg, qid, qidlen, why,
			  whylen) == 0 ? 0 : -1;
	if (rc == 0)		/* taken: the copy is on its way */
		record_deliveries(c, g, o.action, o.kind);
	fclose(f);
	goto done;
msgwhy:
	sm_why(why, whylen, "%s", mil_msg_why(c->msg));
	goto done;
oom:
	sm_why(why, whylen, "out of memory");
done:
	mil_spool_free(sp);
	free(addrs);
	free(rr);
	return rc;
}

/*
 * Split mode at the end of a message: a copy for every group but the
 * first, submitted to reinject_service, those recipients removed from
 * the original, which keeps the first group (O, and its recipients in
 * KEPT, which the caller frees).  WORDS gets the log line's split="..."
 * (the groups, their classes, the copies' queue ids).
 * SMFIS_CONTINUE, or the tempfail (logged, copies already submitted
 * named) when a copy was not taken.
 */
static sfsistat
split_copies(SMFICTX *ctx, struct conn *c, struct mil_outcome *o,
	     struct mil_group *kept, char *words, size_t wlen)
{
	struct mil_group g[MIL_NKINDS + 1];
	size_t n, k, i, used, nrcpt;
	char qid[200], why[512], e_why[1100];

	/* Each accepted recipient's RCPT as given, or no copy is made. */
	(void)mil_msg_rcpts(c->msg, &nrcpt);
	if (c->nrargs != nrcpt)
		return tempfail(ctx, "split: recipients not all kept");
	if ((n = mil_msg_groups(c->msg, g)) == 0)
		return tempfail(ctx, "out of memory");
	used = (size_t)snprintf(words, wlen, " split=\"%s:%zu kept",
				class_word(&g[0]), g[0].n);
	for (k = 1; k < n; k++) {
		if (submit_copy(c, &g[k], qid, sizeof(qid), why,
				sizeof(why)) < 0) {
			/* What was taken may arrive twice after the retry. */
			sm_log(SM_LOG_ERR, "queue_id=%s split copies taken "
			       "before this failure: %s\"", queue_id(ctx),
			       words + 7);
			mil_groups_clear(g);
			snprintf(e_why, sizeof(e_why), "split: %s", why);
			return tempfail(ctx, e_why);
		}
		if (used < wlen)
			used += (size_t)snprintf(words + used, wlen - used,
						 "; %s:%zu queued_as=%s",
						 class_word(&g[k]), g[k].n,
						 qid);
	}
	for (k = 1; k < n; k++)
		for (i = 0; i < g[k].n; i++)
			if (smfi_delrcpt(ctx, c->rargs[g[k].idx[i]].path) !=
			    MI_SUCCESS) {
				mil_groups_clear(g);
				return tempfail(ctx, "the MTA refused to "
						"remove a copied recipient");
			}
	mil_msg_finish_group(c->msg, &g[0], o);
	*kept = g[0];
	g[0].idx = NULL;
	mil_groups_clear(g);
	if (used < wlen)
		snprintf(words + used, wlen - used, "\"");
	return SMFIS_CONTINUE;
}

/* The counts of one message, made with its log line (counters.h). */
static void
count(const struct mil_msg *m, const struct mil_outcome *o)
{
	const struct mil_rcpt *r;
	size_t n, i;

	sm_metric_add(mil_ct.messages, (int)o->action, 1);
	if (o->action == MIL_ENCRYPTED)
		sm_metric_add(mil_ct.encrypted, (int)o->kind, 1);
	if (o->auth != NULL && o->auth->result != MIL_AUTH_NONE)
		sm_metric_add(mil_ct.verified, (int)o->auth->result, 1);
	for (r = mil_msg_rcpts(m, &n), i = 0; i < n; i++)
		sm_metric_add(mil_ct.recipients, (int)r[i].state, 1);
}

static sfsistat
on_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	struct mil_outcome o;
	struct mil_group kept = { 0 }, *g = NULL;
	char rcpts[1024], e_from[1024], e_reason[512], hp[200], verify[800];
	char split[600] = "";
	sfsistat rc = SMFIS_CONTINUE;

	if (c == NULL || c->msg == NULL)
		return tempfail(ctx, "no message state");
	if (!mil_msg_splits(c->msg))
		mil_msg_finish(c->msg, &o);
	else if ((rc = split_copies(ctx, c, &o, &kept, split,
				    sizeof(split))) != SMFIS_CONTINUE) {
		msg_end(c);
		return rc;
	} else
		g = &kept;
	/* A claim that did not hold; the reason holds no client text. */
	if (*mil_msg_why_not(c->msg) != '\0')
		sm_log(SM_LOG_NOTICE, "queue_id=%s not-encrypted=\"%s\"",
		       queue_id(ctx), mil_msg_why_not(c->msg));
	switch (o.action) {
	case MIL_ENCRYPTED:
	case MIL_PLAINTEXT:
	case MIL_UNTOUCHED:
		if (apply(ctx, c, &o) != MI_SUCCESS) {
			rc = tempfail(ctx, "the MTA refused a modification");
			record_deliveries(c, g, MIL_TEMPFAILED, o.kind);
			free(kept.idx);
			msg_end(c);
			return rc;
		}
		break;
	case MIL_REJECTED:
	case MIL_TEMPFAILED:
		smfi_setreply(ctx, o.reply.code, o.reply.xcode, o.reply.text);
		rc = o.action == MIL_REJECTED ? SMFIS_REJECT : SMFIS_TEMPFAIL;
		break;
	}
	log_key_trouble(ctx, c->msg);
	mil_msg_summary(c->msg, rcpts, sizeof(rcpts));
	hp_words(&o, hp, sizeof(hp));
	verify_words(&o, verify, sizeof(verify));
	if (rc == SMFIS_CONTINUE && o.auth != NULL)
		record_auth(c, o.auth);
	/* A copy of our own was recorded when it was made. */
	if (!o.own_copy)
		record_deliveries(c, g, o.action, o.kind);
	free(kept.idx);
	count(c->msg, &o);
	sm_log(o.action == MIL_TEMPFAILED ? SM_LOG_ERR : SM_LOG_INFO,
	       "queue_id=%s from=%s rcpts=%s action=%s%s%s%s%s%s%s size=%zu "
	       "ms=%lld",
	       queue_id(ctx), sm_escape(c->from, e_from, sizeof(e_from)), rcpts,
	       mil_action_word(o.action), o.why ? " reason=\"" : "",
	       o.why ? sm_escape_quoted(o.why, e_reason, sizeof(e_reason)) : "",
	       o.why ? "\"" : "", split, hp, verify, mil_msg_size(c->msg),
	       (long long)(sm_now_ms() - c->started));
	msg_end(c);
	return rc;
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		msg_end(c);
	return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		msg_end(c);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	"smilla",
	SMFI_VERSION,
	SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
	on_connect,
	on_helo,
	on_envfrom,
	on_envrcpt,
	on_header,
	on_eoh,
	on_body,
	on_eom,
	on_abort,
	on_close,
	NULL,		/* unknown */
	NULL,		/* data */
	on_negotiate
};

/* ------------------------------------------------------------ start */

static void
usage(void)
{
	fputs("usage: smilla [-c FILE] [-f]\n", stderr);
	exit(EX_USAGE);
}

static void
die(int code, const char *fmt, const char *arg)
{
	sm_log(SM_LOG_ERR, fmt, arg);
	exit(code);
}

/* Socket permissions, then the unprivileged user (as policyd does). */
static void
drop_privileges(const struct sm_config *cfg, const char *sock)
{
	const char *user = sm_config_str(cfg, SM_K_USER);
	const char *owner = sm_config_str(cfg, SM_K_SOCKET_OWNER);
	mode_t mode =
		(mode_t)strtol(sm_config_str(cfg, SM_K_SOCKET_MODE), NULL, 8);
	char why[256];
	int rc;

	if (*owner == '\0')
		owner = user;
	if (sock != NULL) {
		if (chmod(sock, mode) < 0)
			die(EX_OSERR, "chmod milter socket: %s", strerror(errno));
		if ((rc = sm_priv_chown(sock, owner, why, sizeof(why))) == -1)
			die(EX_NOUSER, "socket_owner: %s", why);
		if (rc < 0)
			sm_log(SM_LOG_WARNING, "%s", why);
	}
	if ((rc = sm_priv_drop(user, why, sizeof(why))) < 0)
		die(rc == -1 ? EX_NOUSER : EX_OSERR, "user: %s", why);
	if (rc == 1)
		sm_log(SM_LOG_INFO, "running as %s", user);
	else if (geteuid() == 0)	/* sm_priv_check let it: allow_root */
		sm_log(SM_LOG_WARNING, "running as root (allow_root = yes)");
}

#define PID_FILE_MODE 0644	/* smilla.conf(5), pid_file */

/* Detach from the terminal; the child writes the pid file. */
static void
detach(const char *pid_file)
{
	pid_t pid = fork();
	FILE *f;
	int fd;

	if (pid < 0)
		die(EX_OSERR, "fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	/*
	 * A new file of mode 0644 whatever the umask.  Its directory may
	 * be writable by "user" and this runs as root: what is there (a
	 * symbolic or hard link to another file) is removed, never
	 * written through.
	 */
	if (*pid_file != '\0') {
		if ((unlink(pid_file) < 0 && errno != ENOENT) ||
		    (fd = open(pid_file, O_WRONLY | O_CREAT | O_EXCL |
					 O_NOFOLLOW | O_CLOEXEC,
			       PID_FILE_MODE)) < 0 ||
		    fchmod(fd, PID_FILE_MODE) < 0 ||
		    (f = fdopen(fd, "w")) == NULL)
			die(EX_CANTCREAT, "pid_file: %s", strerror(errno));
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
}

/* What the cache's and the store's writer threads have to say. */
static void
store_error(const char *why)
{
	sm_log(SM_LOG_WARNING, "%s", why);
}

/*
 * libunbound's sockets (dns.h, max_sockets): a quarter of the soft
 * descriptor limit, so lookups hanging on a dead zone can never take
 * the descriptors libmilter's sessions and the spool files need; at
 * most SM_DNS_MAX_SOCKETS.
 */
static int
dns_sockets(void)
{
	struct rlimit rl;
	rlim_t q;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return SM_DNS_MAX_SOCKETS;
	q = rl.rlim_cur / 4;
	return q < 16 ? 16 : q > SM_DNS_MAX_SOCKETS ? SM_DNS_MAX_SOCKETS : (int)q;
}

/* DNS, its thread, the cache and the reputation store. */
static struct mil_resolver *
open_stores(const struct sm_config *cfg, struct sm_cache **cache)
{
	struct sm_dns_params dp;
	struct sm_cache_params cp;
	struct mil_resolver *res;
	struct sm_dns *dns;
	const char *db = sm_config_str(cfg, SM_K_DB_PATH);
	char why[512];

	sm_config_dns(cfg, &dp);
	dp.max_sockets = dns_sockets();
	if ((dns = sm_dns_new(&dp, why, sizeof(why))) == NULL)
		die(EX_CONFIG, "%s", why);
	if ((res = mil_resolver_new(dns, why, sizeof(why))) == NULL)
		die(EX_OSERR, "%s", why);
	sm_config_cache(cfg, &cp);
	if (*db == '\0')	/* as smilla-policyd: no cache, no records */
		return res;
	/*
	 * A broken file is moved aside (said loudly); one that cannot be
	 * opened at all leaves the milter working without it, never down.
	 */
	cp.db.repair = 1;
	if ((*cache = sm_cache_open(db, &cp, why, sizeof(why))) == NULL)
		sm_log(SM_LOG_ERR, "%s; running without a cache", why);
	else if (*why != '\0')
		sm_log(SM_LOG_WARNING, "%s", why);
	if (*cache != NULL &&
	    sm_cache_writer_start(*cache, store_error, why, sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "cannot start the cache writer (%s); running"
		       " without a cache", why);
		sm_cache_close(*cache);
		*cache = NULL;
	}
	if ((rep = sm_rep_open(db, &cp.db,
			       sm_config_int(cfg, SM_K_REPUTATION_RETENTION),
			       why, sizeof(why))) == NULL)
		sm_log(SM_LOG_ERR, "%s; decisions are not recorded", why);
	else if (*why != '\0')
		sm_log(SM_LOG_WARNING, "%s", why);
	if (rep != NULL &&
	    sm_rep_writer_start(rep, 1000, store_error, why, sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "cannot start the reputation writer (%s);"
		       " decisions are not recorded", why);
		sm_rep_close(rep);
		rep = NULL;
	}
	return res;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *spec, *sock;
	const struct sm_sock *msock;
	struct sm_config *cfg;
	struct sm_cache *cache = NULL;
	struct mil_resolver *resolver;
	char why[512], host[256] = "localhost";
	sigset_t sigs;
	size_t n;
	int c, foreground = 0, rc;

	while ((c = getopt(argc, argv, "c:fh")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((cfg = sm_config_new()) == NULL) {
		fputs("smilla: out of memory\n", stderr);
		return EX_OSERR;
	}
	if (sm_config_load_default(cfg, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "smilla: %s\n", why);
		sm_config_free(cfg);
		return EX_CONFIG;
	}
	/* Nothing is open yet: a refusal leaves nothing behind. */
	if ((rc = sm_priv_check(cfg, path, why, sizeof(why))) < 0) {
		fprintf(stderr, "smilla: %s\n", why);
		sm_config_free(cfg);
		return rc == -1 ? EX_CONFIG : EX_NOUSER;
	}
	if (sm_log_open("smilla",
			foreground ? "stderr" : sm_config_str(cfg, SM_K_LOG),
			sm_config_str(cfg, SM_K_LOG_LEVEL), why,
			sizeof(why)) < 0) {
		fprintf(stderr, "smilla: %s\n", why);
		sm_config_free(cfg);
		return EX_CONFIG;
	}
	gethostname(host, sizeof(host) - 1);
	if (mil_policy_load(&policy, cfg, host, why, sizeof(why)) < 0) {
		sm_log(SM_LOG_ERR, "%s", why);
		sm_config_free(cfg);
		return EX_CONFIG;
	}
	/* libmilter takes the spec as written; we chown the path. */
	msock = sm_config_sockets(cfg, SM_K_MILTER_SOCKET, &n);
	spec = msock->spec;
	sock = msock->family == SM_SOCK_UNIX ? msock->path : NULL;
	if (policy.client != NULL)
		filter.xxfi_flags |= SMFIF_SETSYMLIST;
	if (policy.split)
		filter.xxfi_flags |= SMFIF_DELRCPT;
	if (smfi_setconn((char *)spec) != MI_SUCCESS ||
	    smfi_register(filter) != MI_SUCCESS)
		die(EX_SOFTWARE, "cannot set up libmilter for %s", spec);
	if (smfi_opensocket(1) != MI_SUCCESS)
		die(EX_OSERR, "cannot open milter socket %s", spec);
	sm_log(SM_LOG_INFO, "listening on %s", spec);
	/* Threads (resolver, writer, libmilter) only after the fork. */
	if (!foreground)
		detach(sm_config_str(cfg, SM_K_PID_FILE));
	drop_privileges(cfg, sock);
	/*
	 * libmilter's signal thread takes SIGTERM/SIGINT/SIGHUP with
	 * sigwait(); our own threads must not catch them first.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/*
	 * libmilter would stop on SIGHUP as on SIGTERM; a log rotation or
	 * a "reload" must not take the milter down.  Ignored signals are
	 * discarded, so its sigwait() never sees one.
	 */
	signal(SIGHUP, SIG_IGN);
	/* librnp prints diagnostics itself: debug lines, never raw. */
	if (sm_log_capture_stderr(why, sizeof(why)) < 0)
		sm_log(SM_LOG_WARNING, "stderr stays as it is: %s", why);
	resolver = open_stores(cfg, &cache);
	if ((lookup = mil_lookup_new(cache, resolver, NULL)) == NULL)
		die(EX_OSERR, "%s", "out of memory");
	if (mil_counters_start(cfg, why, sizeof(why)) < 0)
		sm_log(SM_LOG_ERR, "%s; running without metrics", why);
	rc = smfi_main();
	sm_log(SM_LOG_INFO, "stopping");
	mil_counters_stop();	/* the last counts */
	sm_rep_close(rep);	/* writes what is queued */
	sm_pgp_forget();	/* the kept OpenPGP contexts not in use */
	/* Fails when "user" may not write its directory: say so. */
	if (!foreground && *sm_config_str(cfg, SM_K_PID_FILE) != '\0' &&
	    unlink(sm_config_str(cfg, SM_K_PID_FILE)) < 0)
		sm_log(SM_LOG_NOTICE, "cannot remove pid_file %s: %s",
		       sm_config_str(cfg, SM_K_PID_FILE), strerror(errno));
	/*
	 * libmilter's connection threads may still hold the lookup and the
	 * cache: leave them (and the resolver) to process exit.
	 */
	sm_config_free(cfg);
	sm_log_release_stderr();
	sm_log_close();
	return rc == MI_SUCCESS ? 0 : EX_SOFTWARE;
}
