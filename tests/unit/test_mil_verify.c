/*
 * test_mil_verify.c - signed mail against the From address's SMIMEA
 * records (smilla/verify.c), without DNS: the answers are put in a real
 * sqlite cache the lookups read.  Signatures are made here with
 * OpenSSL's CMS over messages built here; each result of verify.h
 * (pass, fail, neutral, temperror, permerror) is reached the way mail
 * reaches it, and the Authentication-Results value and the test for a
 * forged one are checked.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cache.h"
#include "config.h"
#include "names.h"
#include "recipient.h"
#include "session.h"
#include "tap.h"
#include "verify.h"

static char dir[] = "/tmp/smilla-verify-XXXXXX";
static struct sm_cache *cache;
static struct mil_lookup *lookup;

struct ident {
	EVP_PKEY *key;
	X509 *cert;
	struct sm_blob der;
};
static struct ident alice, bob, impostor;

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(255);
}

static void
make(struct ident *id, const char *cn, long serial)
{
	X509_NAME *name = X509_NAME_new();
	unsigned char *p = NULL;
	int len;

	if ((id->key = EVP_EC_gen("P-256")) == NULL ||
	    (id->cert = X509_new()) == NULL || name == NULL ||
	    !X509_set_version(id->cert, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(id->cert), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(id->cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(id->cert), 86400) ||
	    !X509_set_pubkey(id->cert, id->key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"Test, \"Inc\"",
					-1, -1, 0) ||
	    !X509_set_subject_name(id->cert, name) ||
	    !X509_set_issuer_name(id->cert, name) ||
	    !X509_sign(id->cert, id->key, EVP_sha256()))
		die("certificate");
	X509_NAME_free(name);
	if ((len = i2d_X509(id->cert, &p)) <= 0 ||
	    (id->der.data = malloc((size_t)len)) == NULL)
		die("DER");
	memcpy(id->der.data, p, (size_t)len);
	id->der.len = (size_t)len;
	OPENSSL_free(p);
}

/* An SMIMEA answer for ADDR in the cache: RDATA RD, or NXDOMAIN. */
static void
publish(const char *addr, const uint8_t *rd, size_t rdlen,
	enum sm_dns_sec sec)
{
	char name[SM_NAME_BUF], why[256];
	struct sm_dns_result *res;

	if (sm_names_smimea(addr, name, sizeof(name), why, sizeof(why)) < 0)
		die(why);
	res = sm_dns_result_new(name, SM_RR_SMIMEA,
				rd ? SM_DNS_DATA : SM_DNS_NXDOMAIN, sec);
	res->ttl = 3600;
	if (rd != NULL)
		sm_dns_result_add(res, rd, rdlen);
	if (sm_cache_put(cache, res, time(NULL), why, sizeof(why)) != 1)
		die("cache put");
	sm_dns_result_free(res);
}

/* "3 0 0" with the whole certificate, or "3 1 1" with its key's digest. */
static void
publish_cert(const char *addr, const struct ident *id, int spki,
	     enum sm_dns_sec sec)
{
	uint8_t rd[4096], *p = NULL;
	unsigned int dl = 0;
	int len;

	rd[0] = 3;
	rd[1] = (uint8_t)spki;
	rd[2] = (uint8_t)spki;
	if (!spki) {
		memcpy(rd + 3, id->der.data, id->der.len);
		publish(addr, rd, id->der.len + 3, sec);
		return;
	}
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(id->cert), &p)) <= 0 ||
	    !EVP_Digest(p, (size_t)len, rd + 3, &dl, EVP_sha256(), NULL))
		die("SPKI digest");
	OPENSSL_free(p);
	publish(addr, rd, dl + 3, sec);
}

/* The signed entity every message carries. */
static const char entity[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"gr\xc3\xbc\xc3\x9f   \r\n\r\nsigned by the sender\r\n";

/* Base64 of DER in lines of 64, CRLF, into a malloc'd string. */
static char *
b64(const uint8_t *der, size_t len)
{
	char *out = malloc(len * 2 + 64), line[100];
	size_t i, n = 0;

	for (i = 0; i < len; i += 48) {
		int k = EVP_EncodeBlock((unsigned char *)line, der + i,
					(int)(len - i < 48 ? len - i : 48));

		memcpy(out + n, line, (size_t)k);
		n += (size_t)k;
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	return out;
}

/* A SignedData by ID over DATA; detached or with the content inside. */
static char *
signature(const struct ident *id, const char *data, size_t len, int detached)
{
	BIO *in = BIO_new_mem_buf(data, (int)len);
	CMS_ContentInfo *cms = CMS_sign(id->cert, id->key, NULL, in,
					CMS_BINARY |
						(detached ? CMS_DETACHED : 0));
	unsigned char *der = NULL;
	int n;
	char *text;

	if (cms == NULL || (n = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		die("CMS_sign");
	text = b64(der, (size_t)n);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return text;
}

/* multipart/signed body: ENTITY signed by SIGNER (over SIGNED_OVER). */
static char *
signed_body(const struct ident *signer, const char *signed_over,
	    const char *sent)
{
	char *sig = signature(signer, signed_over, strlen(signed_over), 1);
	char *body = malloc(strlen(sent) + strlen(sig) + 512);

	sprintf(body, "This is an S/MIME signed message\r\n\r\n"
		      "--sIgN\r\n%s\r\n--sIgN\r\n"
		      "Content-Type: application/pkcs7-signature; "
		      "name=smime.p7s\r\n"
		      "Content-Transfer-Encoding: base64\r\n"
		      "Content-Disposition: attachment; filename=smime.p7s\r\n"
		      "\r\n%s\r\n--sIgN--\r\n", sent, sig);
	free(sig);
	return body;
}

static const char signed_ct[] =
	"multipart/signed; protocol=\"application/pkcs7-signature\"; "
	"micalg=sha-256; boundary=\"sIgN\"";

/* Verify BODY under CT from FROM (NFROM From fields). */
static void
check(const char *ct, const char *body, const char *from, size_t nfrom,
      struct mil_auth_result *r)
{
	struct mil_label l;

	mil_label_init(&l);
	mil_label_header(&l, "Content-Type", ct);
	mil_verify((const uint8_t *)body, strlen(body), &l, from, nfrom, lookup,
		   NULL, r);
}

static void
test_smime(void)
{
	struct mil_auth_result r;
	char *body, *lf, *sig, *opaque, hdr[1024];
	size_t i, n;

	body = signed_body(&alice, entity, entity);
	check(signed_ct, body, "Alice <alice@keys.test>", 1, &r);
	is_str(mil_auth_word(r.result), "pass",
	       "alice signs, SMIMEA 3 0 0: pass");
	ok(strstr(r.why, "3 0 0") != NULL, "  (%s)", r.why);
	is_str(r.from, "alice@keys.test", "  identity");
	is_str(r.serial, "A11", "  serial");
	ok(r.fp[0] != '\0' && strlen(r.fp) == 64, "  the signer's fingerprint");
	is_int(mil_auth_header(&r, "mx.keys.test", hdr, sizeof(hdr)), 0,
	       "  header fits");
	is_str(hdr, "mx.keys.test; smime=pass "
		    "body.smime-identifier=alice@keys.test "
		    "body.smime-serial=A11 body.smime-issuer="
		    "\"O=Test\\\\, \\\\\\\"Inc\\\\\\\",CN=Alice\"",
	       "  the Authentication-Results value (RFC 7281)");

	/* The same message as stored in Unix form: LF line ends. */
	lf = malloc(strlen(body) + 1);
	for (i = n = 0; body[i] != '\0'; i++)
		if (body[i] != '\r')
			lf[n++] = body[i];
	lf[n] = '\0';
	check(signed_ct, lf, "alice@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "pass",
	       "  with LF line ends: pass (tried again as CRLF)");
	free(lf);
	free(body);

	/* A changed octet. */
	body = signed_body(&alice, entity, entity);
	*strstr(body, "signed by") = 'S';
	check(signed_ct, body, "alice@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "fail", "a changed octet: fail");
	is_int(mil_auth_header(&r, "mx.keys.test", hdr, sizeof(hdr)), 0,
	       "  header fits");
	ok(strncmp(hdr, "mx.keys.test; smime=fail reason=\"", 33) == 0,
	   "  reason= after the result: %s", hdr);
	free(body);

	/* Somebody else's key that claims alice's address. */
	body = signed_body(&impostor, entity, entity);
	check(signed_ct, body, "alice@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "fail",
	       "an impostor's good signature as alice: fail");
	ok(strstr(r.why, "matches none") != NULL, "  (%s)", r.why);
	free(body);

	body = signed_body(&bob, entity, entity);
	check(signed_ct, body, "bob@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "pass",
	       "bob signs, SMIMEA 3 1 1 (his key's digest): pass");
	check(signed_ct, body, "ivan@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "neutral",
	       "From an unsigned zone: neutral");
	check(signed_ct, body, "nokey@plain.test", 1, &r);
	is_str(mil_auth_word(r.result), "neutral", "From with no record: neutral");
	check(signed_ct, body, "eve@bogus.test", 1, &r);
	ok(r.result == MIL_AUTH_TEMPERROR && r.bogus,
	   "From with a DNSSEC-bogus record: temperror, never pass (%s)",
	   r.why);
	check(signed_ct, body, "bob@keys.test", 2, &r);
	is_str(mil_auth_word(r.result), "permerror", "two From fields: permerror");
	check(signed_ct, body, "bob@keys.test, alice@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "permerror",
	       "two addresses in From: permerror");
	check(signed_ct, body, "\"unclosed <bob@keys.test>", 1, &r);
	is_str(mil_auth_word(r.result), "permerror", "a broken From: permerror");
	free(body);

	/* A cut signature. */
	body = signed_body(&bob, entity, entity);
	sig = strstr(body, "base64\r\nContent-Disposition");
	sig = strstr(sig, "\r\n\r\n") + 4;
	memmove(sig + 40, strstr(sig, "\r\n--sIgN--"),
		strlen(strstr(sig, "\r\n--sIgN--")) + 1);
	check(signed_ct, body, "bob@keys.test", 1, &r);
	is_str(mil_auth_word(r.result), "permerror",
	       "a truncated signature: permerror");
	free(body);

	/* Opaque signed-data. */
	opaque = signature(&alice, entity, strlen(entity), 0);
	{
		struct mil_label l;

		mil_label_init(&l);
		mil_label_header(&l, "Content-Type", "application/pkcs7-mime; "
				 "smime-type=signed-data; name=smime.p7m");
		mil_label_header(&l, "Content-Transfer-Encoding", "base64");
		mil_verify((const uint8_t *)opaque, strlen(opaque), &l,
			   "alice@keys.test", 1, lookup, NULL, &r);
	}
	is_str(mil_auth_word(r.result), "pass", "opaque signed-data: pass");
	free(opaque);

	/* Signed, then a list footer added around it. */
	{
		char *inner = signed_body(&alice, entity, entity);
		char *mixed = malloc(strlen(inner) + 512);

		sprintf(mixed, "--fOOt\r\nContent-Type: %s\r\n\r\n%s\r\n"
			       "--fOOt\r\nContent-Type: text/plain\r\n\r\n"
			       "list footer\r\n--fOOt--\r\n", signed_ct, inner);
		check("multipart/mixed; boundary=fOOt", mixed,
		      "alice@keys.test", 1, &r);
		ok(r.result == MIL_AUTH_PASS && r.part == 1,
		   "signed part 1 of a multipart/mixed: pass, part 1 (%s)",
		   r.why);
		mil_auth_header(&r, "mx.keys.test", hdr, sizeof(hdr));
		ok(strstr(hdr, " body.smime-part=1 ") != NULL, "  %s", hdr);
		free(inner);
		free(mixed);
	}
	check("text/plain", "hello\r\n", "alice@keys.test", 1, &r);
	is_int(r.result, MIL_AUTH_NONE, "unsigned mail: none (no header)");
}

static void
test_ours(void)
{
	static const struct {
		const char *value;
		int ours;
	} cases[] = {
		{ "mx.keys.test; smime=pass", 1 },
		{ "MX.Keys.Test; none", 1 },
		{ " (forged) mx.keys.test 1; smime=pass", 1 },
		{ "\"mx.keys.test\"; smime=pass", 1 },
		{ "mx.keys.test", 1 },
		{ "other.test; smime=pass", 0 },
		{ "mx.keys.test.evil; smime=pass", 0 },
		{ "mx.keys; smime=pass", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(mil_auth_is_ours(cases[i].value, "mx.keys.test"),
		       cases[i].ours, cases[i].value);
	is_str(mil_auth_rep_result(MIL_AUTH_NEUTRAL), "none",
	       "neutral counts as none in the reputation store");
	ok(mil_auth_rep_result(MIL_AUTH_NONE) == NULL, "unsigned: no row");
}

/* A message through mil_msg_*: header lines NAME, VALUE pairs, body. */
static struct mil_msg *
message(const struct mil_policy *p, const char *rcpt,
	const char *const *hdrs, const char *body)
{
	struct mil_msg *m = mil_msg_new(p);
	struct mil_reply r;
	size_t half = strlen(body) / 2;

	if (mil_msg_rcpt(m, lookup, rcpt, &r, NULL) != MIL_ACCEPT)
		die(r.text);
	for (; *hdrs != NULL; hdrs += 2)
		mil_msg_header(m, hdrs[0], hdrs[1], 0);
	mil_msg_eoh(m);
	mil_msg_body(m, body, half);
	mil_msg_body(m, body + half, strlen(body) - half);
	return m;
}

static void
test_session(void)
{
	struct sm_config *cfg = sm_config_new();
	struct mil_policy p;
	struct mil_outcome o;
	struct mil_msg *m;
	char why[256], *body = signed_body(&alice, entity, entity);
	const char *hdrs[] = {
		"Authentication-Results", "mx.keys.test; smime=pass (forged)",
		"From", "Alice <alice@keys.test>",
		"Authentication-Results", "other.test; spf=pass",
		"Authentication-Results", "MX.KEYS.TEST; x-pgp=pass",
		"Content-Type", signed_ct,
		NULL };
	size_t i;
	int ours = 0, theirs = 0;

	if (sm_config_set(cfg, "local_domains", "mx.test", why, sizeof(why)) <
		    0 ||
	    sm_config_set(cfg, "encrypt_inbound", "no", why, sizeof(why)) < 0 ||
	    sm_config_set(cfg, "authserv_id", "mx.keys.test", why,
			  sizeof(why)) < 0 ||
	    mil_policy_load(&p, cfg, "host.test", why, sizeof(why)) < 0)
		die(why);
	m = message(&p, "<u@mx.test>", hdrs, body);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && o.auth != NULL &&
		   o.auth->result == MIL_AUTH_PASS,
	   "to a local recipient: checked, pass (%s)",
	   o.auth ? o.auth->why : "-");
	ok(strncmp(o.auth_header, "mx.keys.test; smime=pass "
		   "body.smime-identifier=alice@keys.test", 62) == 0,
	   "  Authentication-Results: %s", o.auth_header);
	for (i = 0; i < o.ndel; i++) {
		if (strcmp(o.del[i].name, "Authentication-Results") != 0)
			continue;
		ours += o.del[i].index == 1 || o.del[i].index == 3;
		theirs += o.del[i].index == 2;
	}
	ok(ours == 2 && theirs == 0,
	   "  ours (1st and 3rd of that name) deleted, other.test's kept");
	ok(o.ndel >= 2 && o.del[0].index == 3,
	   "  last occurrence first (indexes stay valid)");
	mil_msg_free(m);

	/* Outbound only: not checked, forged ones still go. */
	m = message(&p, "<nokey@plain.test>", hdrs, body);
	mil_msg_finish(m, &o);
	ok(o.auth_header[0] == '\0' && o.auth_skipped == NULL &&
		   (o.auth == NULL || o.auth->result == MIL_AUTH_NONE),
	   "to an outside recipient: no check, no header");
	for (i = ours = 0; i < o.ndel; i++)
		ours += strcmp(o.del[i].name, "Authentication-Results") == 0;
	is_int(ours, 2, "  our forged ones deleted all the same");
	mil_msg_free(m);

	/* Over max_message_size: not kept, so not checked; said so only
	   for a message that claims a signature. */
	mil_policy_clear(&p);
	if (sm_config_set(cfg, "max_message_size", "1024", why, sizeof(why)) <
		    0 ||
	    mil_policy_load(&p, cfg, "host.test", why, sizeof(why)) < 0)
		die(why);
	ok(strlen(body) > 1024, "the signed message is over 1024 octets");
	m = message(&p, "<u@mx.test>", hdrs, body);
	mil_msg_finish(m, &o);
	ok(o.auth_skipped != NULL && strcmp(o.auth_skipped, "too-big") == 0 &&
		   o.auth_header[0] == '\0',
	   "too big to keep: no header, verify=too-big");
	mil_msg_free(m);
	{
		const char *enveloped[] = {
			"From", "alice@keys.test", "Content-Type",
			"application/pkcs7-mime; smime-type=enveloped-data",
			NULL };

		m = message(&p, "<u@mx.test>", enveloped, body);
		mil_msg_finish(m, &o);
		ok(o.auth_skipped == NULL && o.auth_header[0] == '\0',
		   "  an enveloped one that big: no claim of a signature");
		mil_msg_free(m);
	}
	if (sm_config_set(cfg, "max_message_size", "67108864", why,
			  sizeof(why)) < 0)
		die(why);

	/* verify_signatures = no */
	mil_policy_clear(&p);
	if (sm_config_set(cfg, "verify_signatures", "no", why, sizeof(why)) <
		    0 ||
	    mil_policy_load(&p, cfg, "host.test", why, sizeof(why)) < 0)
		die(why);
	m = message(&p, "<u@mx.test>", hdrs, body);
	mil_msg_finish(m, &o);
	ok(o.auth_header[0] == '\0', "verify_signatures = no: no header");
	mil_msg_free(m);
	mil_policy_clear(&p);
	sm_config_free(cfg);
	free(body);
}

int
main(void)
{
	struct sm_cache_params cp = { 60, 86400, 300, 300, { 0, 0, 0 } };
	char db[sizeof(dir) + 16], why[256], cmd[sizeof(dir) + 16];

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	make(&alice, "Alice", 0xa11);
	make(&bob, "Bob", 0xb0b);
	make(&impostor, "Alice", 0xa11);
	snprintf(db, sizeof(db), "%s/cache.db", dir);
	if ((cache = sm_cache_open(db, &cp, why, sizeof(why))) == NULL)
		die(why);
	publish_cert("alice@keys.test", &alice, 0, SM_DNS_SECURE);
	publish_cert("bob@keys.test", &bob, 1, SM_DNS_SECURE);
	publish_cert("ivan@keys.test", &bob, 1, SM_DNS_INSECURE);
	publish_cert("eve@bogus.test", &bob, 1, SM_DNS_BOGUS);
	publish("nokey@plain.test", NULL, 0, SM_DNS_SECURE);
	{
		/* The outside recipient has no OpenPGP key either. */
		char name[SM_NAME_BUF], e[256];
		struct sm_dns_result *res;

		if (sm_names_openpgpkey("nokey@plain.test", name, sizeof(name),
					e, sizeof(e)) < 0)
			die(e);
		res = sm_dns_result_new(name, SM_RR_OPENPGPKEY, SM_DNS_NXDOMAIN,
					SM_DNS_SECURE);
		res->ttl = 3600;
		if (sm_cache_put(cache, res, time(NULL), e, sizeof(e)) != 1)
			die("cache put");
		sm_dns_result_free(res);
	}
	if ((lookup = mil_lookup_new(cache, NULL, NULL)) == NULL)
		die("lookup");
	test_smime();
	test_ours();
	test_session();
	mil_lookup_free(lookup);
	sm_cache_close(cache);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		die(cmd);
	return done_testing();
}
