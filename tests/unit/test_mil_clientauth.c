/*
 * test_mil_clientauth - DANE client authentication in the milter from
 * Sendmail's macros (clientauth.c over decide.c): the actions the
 * milter can carry out, forged headers, the decision from {cert_fp}
 * and {cert_subject} against TLSA RRsets put in a cache here (no DNS:
 * the lookup has no resolver, so every name asked must be in the
 * cache), nocert, and failing closed when the MTA tells nothing of the
 * certificate.  End to end through a real Sendmail: tests/e2e/sendmail.t.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "clientauth.h"
#include "config.h"
#include "names.h"
#include "rr.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/sm-ca-XXXXXX";
static struct sm_cache *cache;
static struct mil_lookup *lookup;

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

/* The settings of KEY=VALUE pairs (NULL-ended) over the defaults. */
static void
configure(struct pol_config *pc, const char *const *kv)
{
	struct sm_config *cfg = sm_config_new();
	char why[512];

	for (; kv && *kv; kv += 2)
		if (sm_config_set(cfg, kv[0], kv[1], why, sizeof(why)) < 0)
			die(why);
	if (pol_config_load(pc, cfg, "mx.test", why, sizeof(why)) < 0)
		die(why);
	sm_config_free(cfg);
}

/* _smtp-client.HOST: one TLSA record U S M DATA (LEN octets), secure. */
static void
publish(const char *host, int u, int s, int m, const uint8_t *data,
	size_t len)
{
	char name[SM_NAME_BUF], why[256];
	struct sm_dns_result *res;
	uint8_t rd[600];

	snprintf(name, sizeof(name), "_smtp-client.%s", host);
	res = sm_dns_result_new(name, SM_RR_TLSA, SM_DNS_DATA, SM_DNS_SECURE);
	res->ttl = 3600;
	rd[0] = (uint8_t)u;
	rd[1] = (uint8_t)s;
	rd[2] = (uint8_t)m;
	memcpy(rd + 3, data, len);
	sm_dns_result_add(res, rd, len + 3);
	if (sm_cache_put(cache, res, time(NULL), why, sizeof(why)) != 1)
		die("cache put");
	sm_dns_result_free(res);
}

/* A name with no TLSA at all (NXDOMAIN, secure). */
static void
nothing_at(const char *host)
{
	char name[SM_NAME_BUF], why[256];
	struct sm_dns_result *res;

	snprintf(name, sizeof(name), "_smtp-client.%s", host);
	res = sm_dns_result_new(name, SM_RR_TLSA, SM_DNS_NXDOMAIN,
				SM_DNS_SECURE);
	res->ttl = 3600;
	if (sm_cache_put(cache, res, time(NULL), why, sizeof(why)) != 1)
		die("cache put");
	sm_dns_result_free(res);
}

/* LEN octets as Sendmail writes {cert_fp}: uppercase colon hex. */
static void
colon_hex(const uint8_t *d, size_t len, char *buf)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(buf + 3 * i, "%02X%s", d[i], i + 1 < len ? ":" : "");
}

static void
test_check(void)
{
	static const char *const good[] = {
		"action_fail", "REJECT", "action_none", "DEFER_IF_PERMIT later",
		"action_nocert", "550 5.7.0 no certificate",
		"action_pass", "OK", NULL
	};
	static const char *const bad[] = { "action_unusable", "HOLD", NULL };
	struct pol_config pc;
	char why[400] = "";
	int r = -1;

	configure(&pc, NULL);
	is_int(mil_ca_check(&pc, &r, why, sizeof(why)), 0,
	       "the default actions: the milter can carry them out");
	pol_config_free(&pc);
	configure(&pc, good);
	is_int(mil_ca_check(&pc, &r, why, sizeof(why)), 0,
	       "REJECT, DEFER_IF_PERMIT text, 550 x.y.z text, OK: fine");
	pol_config_free(&pc);
	configure(&pc, bad);
	is_int(mil_ca_check(&pc, &r, why, sizeof(why)), -1, "HOLD: refused");
	is_int(r, POL_UNUSABLE, "  which action");
	ok(strstr(why, "action_unusable = HOLD") != NULL, "  (%s)", why);
	pol_config_free(&pc);
}

static void
test_forged(void)
{
	static const struct {
		const char *value;
		int want;
	} cases[] = {
		{ "pass (identity=a.example; record=3 0 1; authserv=mx.test)", 1 },
		{ "pass (identity=a.example; authserv = MX.Test )", 1 },
		{ "fail (authserv=mx.test;reason=x)", 1 },
		{ "pass (identity=a.example; authserv=mx.test.example)", 0 },
		{ "pass (identity=a.example; authserv=mx-test)", 0 },
		{ "pass (identity=a.example; authserv=other.example)", 0 },
		{ "pass (authserv mx.test)", 0 },
		{ "authserv=x authserv=mx.test", 1 },
	};
	struct pol_config pc;
	size_t i;

	configure(&pc, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = mil_ca_forged(&pc, cases[i].value);

		ok(got == cases[i].want, "%s authserv mx.test: %s",
		   got ? "claims" : "does not claim", cases[i].value);
	}
	pol_config_free(&pc);
}

/* Decide IN under PC into CA, fresh. */
static void
decide(const struct pol_config *pc, const struct mil_ca_input *in,
       struct mil_ca *ca)
{
	memset(ca, 0, sizeof(*ca));
	mil_ca_decide(pc, lookup, in, ca);
}

static void
test_decide(void)
{
	static const char *const req[] = { "require_table", NULL, NULL };
	uint8_t cert[64], fp[SM_DIGEST_MAX], other[32];
	char hex[200], ohex[200], md5[100], table[sizeof(dir) + 16];
	struct mil_ca_input in;
	struct pol_config pc;
	struct mil_ca ca;
	const char *kv[3];
	FILE *f;
	size_t i;

	for (i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(i * 7 + 1);
	memset(other, 0x42, sizeof(other));
	sm_digest(SM_DIGEST_SHA256, cert, sizeof(cert), fp);
	colon_hex(fp, 32, hex);
	colon_hex(other, 32, ohex);
	colon_hex(fp, 16, md5);
	publish("cert.test", 3, 0, 1, fp, 32);
	publish("full.test", 3, 0, 0, cert, sizeof(cert));
	publish("spki.test", 3, 1, 1, fp, 32);
	nothing_at("client.test");
	nothing_at("other.test");
	snprintf(table, sizeof(table), "%s/req.tbl", dir);
	if ((f = fopen(table, "w")) == NULL)
		die("table");
	fputs("cert.test\n", f);
	fclose(f);
	kv[0] = req[0];
	kv[1] = table;
	kv[2] = NULL;
	configure(&pc, kv);

	memset(&in, 0, sizeof(in));
	in.helo = "cert.test";
	in.client_name = "client.test";
	in.client_addr = "192.0.2.1";
	in.cert_fp = hex;
	in.verify = "FAIL";
	in.tls_version = "TLSv1.3";
	in.cipher = "TLS_AES_256_GCM_SHA384";
	decide(&pc, &in, &ca);
	is_str(pol_result_word(ca.d.result), "pass", "HELO cert.test, 3 0 1 matches {cert_fp}: pass");
	is_int(ca.what, MIL_CA_CONTINUE, "  accepted");
	is_str(ca.header, "pass (identity=cert.test; record=3 0 1; authserv=mx.test)",
	       "  the header's value");
	is_str(ca.lookup, "cache", "  the TLSA from the cache");
	is_str(ca.cl.cert_fp, hex, "  the fingerprint for the row, as given");

	in.cert_fp = ohex;
	decide(&pc, &in, &ca);
	is_str(pol_result_word(ca.d.result), "fail", "another certificate: fail");
	is_int(ca.what, MIL_CA_REJECT, "  required: refused");
	is_str(ca.code, "554", "  554");
	is_str(ca.xcode, "5.7.1", "  5.7.1");
	is_str(ca.text, "DANE client authentication required for cert.test (fail)",
	       "  the policy daemon's text");
	is_str(ca.header, "", "  no header");

	in.helo = "full.test";
	in.cert_fp = hex;
	decide(&pc, &in, &ca);
	is_str(ca.header, "pass (identity=full.test; record=3 0 0; authserv=mx.test)",
	       "3 0 0: the record's certificate hashed: pass");

	in.helo = "spki.test";
	decide(&pc, &in, &ca);
	is_str(ca.header, "unusable (identity=spki.test; reason=no public key fingerprint; authserv=mx.test)",
	       "3 1 1 only: unusable, no public key fingerprint");

	in.cert_fp = md5;
	in.helo = "full.test";
	decide(&pc, &in, &ca);
	is_str(ca.header, "unusable (identity=full.test; reason=no certificate fingerprint; authserv=mx.test)",
	       "an MD5 {cert_fp}: unusable");

	in.helo = "";
	in.cert_fp = hex;
	in.cert_subject = "/C+3DDE/O+3DSmilla/CN+3Dcert.test";
	decide(&pc, &in, &ca);
	is_str(ca.header, "pass (identity=cert.test; record=3 0 1; authserv=mx.test)",
	       "no HELO: the CN of {cert_subject} (xtext) is the identity");
	in.cert_subject = "/CN+3Dcert+2Btest";
	decide(&pc, &in, &ca);
	is_str(ca.d.identity, "client.test", "  a CN with a '+' is no identity");

	in.helo = "cert.test";
	in.cert_subject = NULL;
	in.cert_fp = NULL;
	in.verify = "NO";
	decide(&pc, &in, &ca);
	is_str(pol_result_word(ca.d.result), "nocert", "no certificate: nocert");
	is_int(ca.what, MIL_CA_REJECT, "  required: refused");
	is_str(ca.text, "DANE client authentication required for cert.test (nocert)",
	       "  (nocert)");
	is_str(ca.lookup, "none", "  nothing looked up");
	in.helo = "other.test";
	decide(&pc, &in, &ca);
	is_int(ca.what, MIL_CA_CONTINUE, "  not required: accepted");
	is_str(ca.action, "DUNNO", "  action_nocert = DUNNO: no header");

	/* TLS up, no {verify}: the MTA does not tell; never nocert. */
	in.verify = NULL;
	in.helo = "cert.test";
	decide(&pc, &in, &ca);
	is_str(pol_result_word(ca.d.result), "temperror",
	       "TLS without {verify} (not Sendmail): temperror");
	is_int(ca.what, MIL_CA_TEMPFAIL, "  required: deferred, not refused");
	is_str(ca.code, "450", "  450");
	is_str(ca.xcode, "4.7.5", "  4.7.5");
	in.helo = "other.test";
	decide(&pc, &in, &ca);
	is_str(ca.header, "temperror (identity=other.test; reason=the MTA does not tell the client certificate; authserv=mx.test)",
	       "  not required: the header says why");
	in.tls_version = NULL;
	decide(&pc, &in, &ca);
	is_str(pol_result_word(ca.d.result), "nocert",
	       "no TLS at all, no {verify}: nocert");
	pol_config_free(&pc);
}

int
main(void)
{
	struct sm_cache_params cp = { 60, 86400, 300, 300, { 0, 0, 0 } };
	char db[sizeof(dir) + 16], why[256];

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(db, sizeof(db), "%s/cache.db", dir);
	if ((cache = sm_cache_open(db, &cp, why, sizeof(why))) == NULL)
		die(why);
	if ((lookup = mil_lookup_new(cache, NULL, NULL)) == NULL)
		die("lookup");
	test_check();
	test_forged();
	test_decide();
	mil_lookup_free(lookup);
	sm_cache_close(cache);
	snprintf(why, sizeof(why), "rm -rf %s", dir);
	if (system(why) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
