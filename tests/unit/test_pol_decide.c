/*
 * test_pol_decide - the policy decision without I/O: identity
 * candidates, how verdicts combine, require_table, the header action,
 * with DNS results built here (the DNSSEC tier tests the real lookups).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "decide.h"
#include "tap.h"

static uint8_t key[32], other[32];
static char keyhex[200];

/*
 * A request from "name=value" pairs separated by '|', through the real
 * parser (which indexes the attributes the decision reads).  The
 * request points into a static buffer.
 */
static void
make_req(struct pol_request *req, const char *text)
{
	static char buf[2048];
	size_t len = strlen(text), used;
	char why[128], *p;

	if (len + 2 > sizeof(buf))
		abort();
	memcpy(buf, text, len);
	memcpy(buf + len, "\n\n", 2);
	for (p = buf; p < buf + len; p++)
		if (*p == '|')
			*p = '\n';
	if (pol_request_parse(buf, len + 2, req, &used, why, sizeof(why)) != 1)
		abort();
}

/* A secure TLSA RRset with one 3 1 1 record over K. */
static struct sm_dns_result *
tlsa(const char *owner, const uint8_t *k, enum sm_dns_sec sec)
{
	struct sm_dns_result *r = sm_dns_result_new(owner, 52, SM_DNS_DATA, sec);
	uint8_t rd[35] = { 3, 1, 1 };

	memcpy(rd + 3, k, 32);
	sm_dns_result_add(r, rd, sizeof(rd));
	return r;
}

/* Decide REQ, answering each lookup from the owner name's first label
   after the service label: good -> matching, bad -> other key,
   bogus -> bogus, slow -> timeout, anything else -> NXDOMAIN. */
static void
decide(const struct pol_config *pc, char *reqtext, struct pol_decision *d,
       char *action, size_t len)
{
	struct pol_request req;
	int i, added;

	make_req(&req, reqtext);
	pol_prepare(pc, &req, d);
	for (i = 0; i < d->ncand; i++) {
		struct pol_candidate *c = &d->cand[i];
		struct sm_dns_result *r;

		if (!c->need_lookup || c->done)
			continue;
		if (strncmp(c->host, "good.", 5) == 0)
			r = tlsa(c->owner, key, SM_DNS_SECURE);
		else if (strncmp(c->host, "bad.", 4) == 0)
			r = tlsa(c->owner, other, SM_DNS_SECURE);
		else if (strncmp(c->host, "bogus.", 6) == 0)
			r = tlsa(c->owner, key, SM_DNS_BOGUS);
		else if (strncmp(c->host, "insecure.", 9) == 0)
			r = tlsa(c->owner, key, SM_DNS_INSECURE);
		else if (strncmp(c->host, "slow.", 5) == 0) {
			r = sm_dns_result_new(c->owner, 52, SM_DNS_TEMPFAIL,
					      SM_DNS_INSECURE);
			r->timed_out = 1;
		} else
			r = sm_dns_result_new(c->owner, 52, SM_DNS_NXDOMAIN,
					      SM_DNS_SECURE);
		pol_found(pc, d, i, r);
		sm_dns_result_free(r);
	}
	pol_conclude(pc, d);
	pol_action(pc, d, 1, &added, action, len);
}

struct dcase {
	const char *req;	/* @K@ = the good key's fingerprint */
	const char *result, *identity, *action;	/* action: prefix */
};

static const struct dcase cases[] = {
	{ "helo_name=good.t.test|ccert_pubkey_fingerprint=@K@", "pass",
	  "good.t.test", "PREPEND DANE-Client-Auth: pass (identity=good.t.test; record=3 1 1; authserv=mx.t.test)" },
	{ "helo_name=bad.t.test|ccert_pubkey_fingerprint=@K@", "fail",
	  "bad.t.test", "PREPEND DANE-Client-Auth: fail (identity=bad.t.test; reason=no record matched;" },
	{ "helo_name=good.t.test", "nocert", "good.t.test", "DUNNO" },
	{ "helo_name=none.t.test|ccert_pubkey_fingerprint=@K@", "none",
	  "none.t.test", "DUNNO" },
	{ "helo_name=insecure.t.test|ccert_pubkey_fingerprint=@K@", "none",
	  "insecure.t.test", "DUNNO" },
	{ "helo_name=bogus.t.test|ccert_pubkey_fingerprint=@K@", "bogus",
	  "bogus.t.test", "PREPEND DANE-Client-Auth: bogus" },
	{ "helo_name=slow.t.test|ccert_pubkey_fingerprint=@K@", "temperror",
	  "slow.t.test", "PREPEND DANE-Client-Auth: temperror (identity=slow.t.test; reason=DNS timeout;" },
	/* Candidates in order; the first pass wins, else the first verdict. */
	{ "helo_name=bad.t.test|client_name=good.t.test|ccert_pubkey_fingerprint=@K@",
	  "pass", "good.t.test", "PREPEND" },
	{ "helo_name=none.t.test|client_name=bad.t.test|ccert_pubkey_fingerprint=@K@",
	  "fail", "bad.t.test", "PREPEND" },
	{ "helo_name=[192.0.2.1]|client_name=unknown|ccert_subject=good+2Et.test|ccert_pubkey_fingerprint=@K@",
	  "pass", "good.t.test", "PREPEND" },
	{ "helo_name=localhost|client_name=unknown|ccert_pubkey_fingerprint=@K@",
	  "none", "", "DUNNO" },
	{ "helo_name=good.t.test|ccert_pubkey_fingerprint=zz", "unusable",
	  "good.t.test", "PREPEND DANE-Client-Auth: unusable (identity=good.t.test; reason=no public key fingerprint;" },
	/* Required identities must authenticate as themselves. */
	{ "helo_name=must.t.test|client_name=good.t.test|ccert_pubkey_fingerprint=@K@",
	  "none", "must.t.test", "REJECT 5.7.1 DANE client authentication required for must.t.test (none)" },
	{ "helo_name=must.t.test", "nocert", "must.t.test",
	  "REJECT 5.7.1 DANE client authentication required for must.t.test (nocert)" },
	{ "helo_name=bogus.req.test|ccert_pubkey_fingerprint=@K@", "bogus",
	  "bogus.req.test", "DEFER 4.7.5 DANE client authentication of bogus.req.test temporarily failed (bogus)" },
	{ "helo_name=good.req.test|ccert_pubkey_fingerprint=@K@", "pass",
	  "good.req.test", "PREPEND DANE-Client-Auth: pass" },
};

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	pol_config_free(NULL);
	ok(1, "pol_config_free(NULL) is a no-op");
}

int
main(void)
{
	struct sm_config *cfg = sm_config_new();
	struct pol_config pc;
	struct pol_decision d = { 0 };
	char why[256] = "", text[1024], action[1024];
	char tbl[] = "/tmp/smilla-test-req-XXXXXX";
	FILE *fp;
	size_t i;
	int fd = mkstemp(tbl), again;

	free_null();
	memset(key, 0x11, sizeof(key));
	memset(other, 0x22, sizeof(other));
	for (i = 0; i < 32; i++)
		sprintf(keyhex + 3 * i, "%02X%s", key[i], i < 31 ? ":" : "");
	fp = fdopen(fd, "w");
	fputs("must.t.test\n.req.test\n", fp);
	fclose(fp);
	sm_config_set(cfg, "require_table", tbl, why, sizeof(why));
	sm_config_set(cfg, "authserv_id", "mx.t.test", why, sizeof(why));
	if (!ok(pol_config_load(&pc, cfg, "ignored", why, sizeof(why)) == 0,
		"settings load %s", why))
		return done_testing();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		char *at;

		snprintf(text, sizeof(text), "%s", c->req);
		if ((at = strstr(text, "@K@")) != NULL) {
			char rest[512];

			snprintf(rest, sizeof(rest), "%s", at + 3);
			snprintf(at, sizeof(text) - (size_t)(at - text), "%s%s",
				 keyhex, rest);
		}
		/* Twice: the second decision reuses the first one's names. */
		for (again = 0; again < 2; again++) {
			char copy[1024];

			snprintf(copy, sizeof(copy), "%s", text);
			decide(&pc, copy, &d, action, sizeof(action));
			ok(strcmp(pol_result_word(d.result), c->result) == 0 &&
			   strcmp(d.identity, c->identity) == 0 &&
			   strncmp(action, c->action, strlen(c->action)) == 0,
			   "%s%s -> %s %s", again ? "again: " : "", c->req,
			   pol_result_word(d.result), action);
		}
	}

	/* Same names, another key: the fingerprints are not reused. */
	snprintf(text, sizeof(text), "helo_name=good.t.test|ccert_pubkey_fingerprint=%s",
		 keyhex);
	decide(&pc, text, &d, action, sizeof(action));
	for (i = 0; i < 32; i++)
		sprintf(text + strlen("helo_name=good.t.test|ccert_pubkey_fingerprint=") + 3 * i,
			"%02X%s", other[i], i < 31 ? ":" : "");
	decide(&pc, text, &d, action, sizeof(action));
	is_str(pol_result_word(d.result), "fail", "pass, then another key with the same HELO: fail");

	/* New settings: nothing of the old ones is reused. */
	{
		struct pol_config pc2;
		struct pol_request req;

		sm_config_set(cfg, "client_service_label", "other-label", why,
			      sizeof(why));
		ok(pol_config_load(&pc2, cfg, "ignored", why, sizeof(why)) == 0 &&
		   pc2.gen != pc.gen, "settings load again, another generation");
		make_req(&req, "helo_name=good.t.test|ccert_pubkey_fingerprint=AB");
		pol_prepare(&pc, &req, &d);
		is_str(d.cand[0].owner, "_smtp-client.good.t.test", "  old settings: old label");
		pol_prepare(&pc2, &req, &d);
		is_str(d.cand[0].owner, "_other-label.good.t.test", "  new settings: new label");
		pol_config_free(&pc2);
		sm_config_set(cfg, "client_service_label", "smtp-client", why,
			      sizeof(why));
	}

	/* The header is added once: no PREPEND when not allowed. */
	snprintf(text, sizeof(text), "helo_name=good.t.test|ccert_pubkey_fingerprint=%s",
		 keyhex);
	{
		struct pol_request req;
		int added;

		make_req(&req, text);
		pol_prepare(&pc, &req, &d);
		pol_found(&pc, &d, 0, NULL);	/* out of memory: temperror */
		pol_conclude(&pc, &d);
		pol_action(&pc, &d, 0, &added, action, sizeof(action));
		ok(d.result == POL_TEMPERROR && !added &&
		   strcmp(action, "DUNNO") == 0,
		   "no PREPEND allowed: DUNNO (%s)", action);
	}
	pol_config_free(&pc);
	sm_config_free(cfg);
	unlink(tbl);
	return done_testing();
}
