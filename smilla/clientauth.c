/*
 * clientauth.c - DANE client authentication in the milter, from the
 * MTA's macros; the contract is clientauth.h, the decision decide.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clientauth.h"
#include "log.h"
#include "rr.h"

/* What an action_* value asks the milter to do. */
struct reply {
	enum { R_NOTHING, R_HEADER, R_REPLY, R_OTHER } kind;
	char code[4], xcode[10];
	const char *text;	/* into the action; "" when none */
};

/* An enhanced status code ("5.7.1") at the start of P: its length. */
static size_t
xcode_len(const char *p)
{
	size_t n = 0;

	if ((p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	n = 2;
	while (isdigit((unsigned char)p[n]))
		n++;
	if (n == 2 || p[n] != '.')
		return 0;
	n++;
	if (!isdigit((unsigned char)p[n]))
		return 0;
	while (isdigit((unsigned char)p[n]))
		n++;
	return p[n] == '\0' || p[n] == ' ' ? n : 0;
}

/*
 * Parse ACTION (a Postfix access(5) action, or "header") into R: what
 * the milter does with it.  Postfix's own defaults: REJECT is 554
 * 5.7.1, DEFER 450 4.7.1; a code's text keeps its enhanced status.
 */
static void
parse_action(const char *action, struct reply *r)
{
	size_t len = strcspn(action, " \t"), x;
	const char *rest = action + len;
	char cls = 0;

	memset(r, 0, sizeof(*r));
	r->kind = R_OTHER;
	r->text = "";
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (strcasecmp(action, "header") == 0) {
		r->kind = R_HEADER;
		return;
	}
	if ((len == 5 && strncasecmp(action, "DUNNO", 5) == 0) ||
	    (len == 2 && strncasecmp(action, "OK", 2) == 0)) {
		r->kind = R_NOTHING;
		return;
	}
	if (len == 6 && strncasecmp(action, "REJECT", 6) == 0) {
		cls = '5';
		memcpy(r->code, "554", 4);
	} else if ((len == 5 && strncasecmp(action, "DEFER", 5) == 0) ||
		   (len == 15 &&
		    strncasecmp(action, "DEFER_IF_PERMIT", 15) == 0)) {
		cls = '4';
		memcpy(r->code, "450", 4);
	} else if (len == 3 && (action[0] == '4' || action[0] == '5') &&
		   isdigit((unsigned char)action[1]) &&
		   isdigit((unsigned char)action[2])) {
		cls = action[0];
		memcpy(r->code, action, 3);
		r->code[3] = '\0';
	} else {
		return;
	}
	r->kind = R_REPLY;
	snprintf(r->xcode, sizeof(r->xcode), "%c.7.1", cls);
	if ((x = xcode_len(rest)) > 0 && rest[0] == cls &&
	    x < sizeof(r->xcode)) {
		memcpy(r->xcode, rest, x);
		r->xcode[x] = '\0';
		rest += x;
		while (*rest == ' ')
			rest++;
	}
	r->text = rest;
}

int
mil_ca_check(const struct pol_config *pc, int *result, char *why,
	     size_t whylen)
{
	struct reply r;
	int i;

	for (i = 0; i < POL_NRESULTS; i++) {
		parse_action(pc->action[i], &r);
		if (r.kind != R_OTHER)
			continue;
		*result = i;
		sm_why(why, whylen, "action_%s = %s: the milter carries out "
		       "header, DUNNO, OK, REJECT, DEFER, DEFER_IF_PERMIT and "
		       "4NN/5NN text, not this Postfix action",
		       pol_result_word((enum pol_result)i), pc->action[i]);
		return -1;
	}
	return 0;
}

/*
 * The CN of Sendmail's {cert_subject} (xtext, "/C=../O=../CN=host")
 * into BUF, "" when it has none a host name could be: a CN with a '+'
 * would be decoded once more as the policy request's xtext.
 */
static const char *
subject_cn(const char *subject, char *buf, size_t len)
{
	char dn[1024];
	const char *cn = NULL, *p = pol_xtext_decode(subject, dn, sizeof(dn));
	size_t n;

	buf[0] = '\0';
	for (; (p = strstr(p, "CN=")) != NULL; p += 3)
		if (p == dn || p[-1] == '/')
			cn = p + 3;
	if (cn == NULL)
		return buf;
	n = strcspn(cn, "/");
	if (n == 0 || n >= len || memchr(cn, '+', n) != NULL)
		return buf;
	memcpy(buf, cn, n);
	buf[n] = '\0';
	return buf;
}

/* REPLY's text fit for an SMTP reply: printable ASCII, no '%'. */
static void
reply_text(const char *text, char *buf, size_t len)
{
	char *p;

	sm_strlcpy(buf, *text ? text : "DANE client authentication", len);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f ||
		    *p == '%')
			*p = '?';
}

/* Look the candidates up that need it, and judge them. */
static void
look_up(const struct pol_config *pc, struct mil_lookup *lk, struct mil_ca *ca)
{
	const char *names[POL_MAX_CAND];
	int types[POL_MAX_CAND], hit[POL_MAX_CAND], slot[POL_MAX_CAND];
	struct sm_dns_result *res[POL_MAX_CAND];
	size_t n = 0, j;
	int i, dns = 0;

	for (i = 0; i < ca->d.ncand; i++)
		if (ca->d.cand[i].need_lookup && !ca->d.cand[i].done) {
			slot[n] = i;
			types[n] = SM_RR_TLSA;
			names[n++] = ca->d.cand[i].owner;
		}
	ca->lookup = n > 0 ? "cache" : "none";
	if (n == 0)
		return;
	mil_lookup_names(lk, names, types, n, res, hit);
	for (j = 0; j < n; j++) {
		dns |= !hit[j];
		pol_found(pc, &ca->d, slot[j], res[j]);
		sm_dns_result_free(res[j]);
	}
	if (dns)
		ca->lookup = "dns";
}

void
mil_ca_decide(const struct pol_config *pc, struct mil_lookup *lk,
	      const struct mil_ca_input *in, struct mil_ca *ca)
{
	static int warned_digest, warned_macros;
	struct pol_request req;
	struct reply r;
	int added, i, blind;
	uint8_t fp[SM_DIGEST_MAX];
	long n;

	memset(&req, 0, sizeof(req));
	ca->what = MIL_CA_CONTINUE;
	ca->header[0] = ca->code[0] = ca->xcode[0] = ca->text[0] = '\0';
	ca->cl.name = in->client_name ? in->client_name : "";
	ca->cl.addr = in->client_addr ? in->client_addr : "";
	ca->cl.helo = in->helo ? in->helo : "";
	ca->cl.cert_fp = in->cert_fp ? in->cert_fp : "";
	ca->cl.key_fp = "";
	ca->cl.tls_protocol = in->tls_version ? in->tls_version : "";
	ca->cl.tls_cipher = in->cipher ? in->cipher : "";
	ca->cl.state = "MAIL";
	/* TLS is up, yet no word on the certificate: we cannot tell. */
	blind = *ca->cl.tls_protocol != '\0' && in->verify == NULL;
	if (blind && !warned_macros) {
		warned_macros = 1;
		sm_log(SM_LOG_WARNING, "milter_client_auth: the MTA sends no "
		       "{verify} and {cert_fp} (Sendmail does; under Postfix "
		       "use smilla-policyd): every client is temperror");
	}
	if (*ca->cl.cert_fp != '\0' &&
	    (n = sm_hex_decode(ca->cl.cert_fp, fp, sizeof(fp), 1)) > 0 &&
	    (size_t)n != sm_digest_len(pc->digest) && !warned_digest) {
		warned_digest = 1;
		sm_log(SM_LOG_WARNING, "milter_client_auth: {cert_fp} has "
		       "%ld octets, not a %s fingerprint: set \"O "
		       "CertFingerprintAlgorithm=%s\" in sendmail.cf", n,
		       sm_digest_name(pc->digest), sm_digest_name(pc->digest));
	}
	req.known[POL_A_HELO_NAME] = ca->cl.helo;
	req.known[POL_A_CLIENT_NAME] = ca->cl.name;
	req.known[POL_A_CLIENT_ADDRESS] = ca->cl.addr;
	req.known[POL_A_CCERT_FINGERPRINT] = ca->cl.cert_fp;
	req.known[POL_A_CCERT_SUBJECT] =
		subject_cn(in->cert_subject ? in->cert_subject : "", ca->cn,
			   sizeof(ca->cn));
	req.known[POL_A_PROTOCOL_STATE] = ca->cl.state;
	pol_prepare(pc, &req, &ca->d);
	if (blind) {
		ca->d.have_cert = 1;
		ca->d.memo.gen = 0;	/* have_cert is not what the memo says */
		for (i = 0; i < ca->d.ncand; i++)
			pol_fail_lookup(&ca->d, i, "the MTA does not tell "
					"the client certificate");
		ca->lookup = "none";
	} else {
		look_up(pc, lk, ca);
	}
	pol_conclude(pc, &ca->d);
	if (blind && ca->d.ncand == 0)
		ca->d.result = POL_TEMPERROR;
	pol_action(pc, &ca->d, 1, &added, ca->action, sizeof(ca->action));
	if (added) {
		pol_header(pc, &ca->d, ca->header, sizeof(ca->header));
		return;
	}
	parse_action(ca->action, &r);
	if (r.kind != R_REPLY)
		return;
	ca->what = r.code[0] == '5' ? MIL_CA_REJECT : MIL_CA_TEMPFAIL;
	sm_strlcpy(ca->code, r.code, sizeof(ca->code));
	sm_strlcpy(ca->xcode, r.xcode, sizeof(ca->xcode));
	reply_text(r.text, ca->text, sizeof(ca->text));
}

int
mil_ca_forged(const struct pol_config *pc, const char *value)
{
	size_t alen = strlen(pc->authserv);
	const char *p = value;

	while ((p = strcasestr(p, "authserv")) != NULL) {
		p += 8;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (strncasecmp(p, pc->authserv, alen) == 0 &&
		    !isalnum((unsigned char)p[alen]) && p[alen] != '.' &&
		    p[alen] != '-')
			return 1;
	}
	return 0;
}
