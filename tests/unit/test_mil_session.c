/*
 * test_mil_session.c - the milter's message logic without libmilter:
 * S/MIME usability and encryption (decrypted again with OpenSSL and
 * compared byte for byte), MIME sniffing, the spool, and whole
 * messages through mil_msg_* with SMIMEA answers from a real sqlite
 * cache (no DNS: every name the tests use is in the cache); then the
 * local-part lookup order against the DNSSEC test bed (BED_DIR, set by
 * tests/check.sh).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cache.h"
#include "config.h"
#include "mime.h"
#include "names.h"
#include "recipient.h"
#include "resolver.h"
#include "session.h"
#include "trace.h"
#include "smime.h"
#include "spool.h"
#include "tap.h"

static char dir[] = "/tmp/smilla-mil-XXXXXX";

struct ident {
	EVP_PKEY *key;
	X509 *cert;
	struct sm_blob der;
};

static struct ident rsa, ec, rsa_sign, ed, rsa_tls;

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(255);
}

static void
ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    !X509_add_ext(x, e, -1))
		die("extension");
	X509_EXTENSION_free(e);
}

/* A self-signed certificate for a new KEYTYPE key with the usages. */
static void
make(struct ident *id, const char *keytype, const char *ku, const char *eku)
{
	X509_NAME *name = X509_NAME_new();
	unsigned char *p = NULL;
	int len;

	id->key = strcmp(keytype, "rsa") == 0 ? EVP_RSA_gen(2048) :
		  strcmp(keytype, "ec") == 0  ? EVP_EC_gen("P-256") :
						EVP_PKEY_Q_keygen(NULL, NULL,
								  "ED25519");
	id->cert = X509_new();
	if (id->key == NULL || id->cert == NULL || name == NULL ||
	    !X509_set_version(id->cert, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(id->cert), 7) ||
	    !X509_gmtime_adj(X509_getm_notBefore(id->cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(id->cert), 86400) ||
	    !X509_set_pubkey(id->cert, id->key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"test", -1, -1,
					0) ||
	    !X509_set_subject_name(id->cert, name) ||
	    !X509_set_issuer_name(id->cert, name))
		die("certificate");
	X509_NAME_free(name);
	if (ku != NULL)
		ext(id->cert, NID_key_usage, ku);
	if (eku != NULL)
		ext(id->cert, NID_ext_key_usage, eku);
	if (!X509_sign(id->cert, id->key,
		       strcmp(keytype, "ed") == 0 ? NULL : EVP_sha256()))
		die("signing");
	if ((len = i2d_X509(id->cert, &p)) <= 0 ||
	    (id->der.data = malloc((size_t)len)) == NULL)
		die("DER");
	memcpy(id->der.data, p, (size_t)len);
	id->der.len = (size_t)len;
	OPENSSL_free(p);
}

static void
drop(struct ident *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	free(id->der.data);
}

/* Decrypt base64 CMS text B64 (LEN octets) with ID; malloc'd result. */
static char *
decrypt(const char *b64, size_t len, const struct ident *id, size_t *outlen)
{
	BIO *mem = BIO_new_mem_buf(b64, (int)len), *f = BIO_new(BIO_f_base64());
	BIO *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms;
	char *data, *res = NULL;
	long n;

	mem = BIO_push(f, mem);
	if ((cms = d2i_CMS_bio(mem, NULL)) != NULL &&
	    CMS_decrypt(cms, id->key, id->cert, NULL, out, CMS_BINARY) == 1) {
		n = BIO_get_mem_data(out, &data);
		if ((res = malloc((size_t)n + 1)) != NULL) {
			if (n > 0)
				memcpy(res, data, (size_t)n);
			res[n] = '\0';
			*outlen = (size_t)n;
		}
	}
	CMS_ContentInfo_free(cms);
	BIO_free_all(mem);
	BIO_free(out);
	return res;
}

/* The whole spool as a malloc'd string. */
static char *
slurp(struct mil_spool *s, size_t *len)
{
	FILE *f = mil_spool_reader(s, NULL, 0);
	char *buf = malloc(mil_spool_size(s) + 1);

	*len = f && buf ? fread(buf, 1, mil_spool_size(s), f) : 0;
	if (buf)
		buf[*len] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* --------------------------------------------------------- smime */

static void
test_usable(void)
{
	char why[256];
	struct sm_blob junk = { (uint8_t *)"junk", 4 };

	ok(sm_smime_usable(&rsa.der, why, sizeof(why)),
	   "RSA with keyEncipherment is usable");
	ok(sm_smime_usable(&ec.der, why, sizeof(why)),
	   "EC with keyAgreement is usable");
	ok(!sm_smime_usable(&rsa_sign.der, why, sizeof(why)) &&
		   strstr(why, "keyEncipherment") != NULL,
	   "RSA signing-only is not (%s)", why);
	ok(!sm_smime_usable(&ed.der, why, sizeof(why)),
	   "Ed25519 is not (%s)", why);
	ok(!sm_smime_usable(&rsa_tls.der, why, sizeof(why)) &&
		   strstr(why, "emailProtection") != NULL,
	   "serverAuth-only EKU is not (%s)", why);
	ok(!sm_smime_usable(&junk, why, sizeof(why)), "junk is not (%s)", why);
	is_int(sm_smime_cipher_parse("aes256-gcm"), SM_SMIME_AES256_GCM,
	       "cipher names");
	is_int(sm_smime_cipher_parse("des"), -1, "unknown cipher");
}

static void
round_trip(const char *name, enum sm_smime_cipher cipher, size_t size)
{
	struct sm_blob certs[2] = { rsa.der, ec.der };
	char *in = malloc(size + 1), *b64 = NULL, *plain;
	size_t b64len = 0, plen = 0, i, longest = 0, cur = 0;
	FILE *fin, *fout;
	char why[256];
	int rc;

	for (i = 0; i < size; i++)	/* every octet value, CRLFs too */
		in[i] = (char)(i % 251 == 0 ? '\r' : i % 251 == 1 ? '\n' : i);
	fin = fmemopen(in, size, "r");
	fout = open_memstream(&b64, &b64len);
	rc = sm_smime_encrypt(fin, certs, 2, cipher, fout, why, sizeof(why));
	fclose(fin);
	fclose(fout);
	ok(rc == 0, "%s: encrypts (%s)", name, rc ? why : "ok");
	for (i = 0; i < b64len; i++, cur++)
		if (b64[i] == '\n') {
			longest = cur > longest ? cur : longest;
			cur = (size_t)-1;
		}
	ok(longest == 64, "%s: base64 lines of 64", name);
	plain = decrypt(b64, b64len, &rsa, &plen);
	ok(plain && plen == size && memcmp(plain, in, size) == 0,
	   "%s: RSA recipient gets the octets back", name);
	free(plain);
	plain = decrypt(b64, b64len, &ec, &plen);
	ok(plain && plen == size && memcmp(plain, in, size) == 0,
	   "%s: EC recipient gets the octets back", name);
	free(plain);
	free(b64);
	free(in);
}

static void
test_encrypt(void)
{
	char why[256];
	FILE *fin = fmemopen("x", 1, "r"), *fout = fopen("/dev/null", "w");
	struct sm_blob bad = { (uint8_t *)"junk", 4 };

	round_trip("cbc", SM_SMIME_AES256_CBC, 1000);
	round_trip("gcm", SM_SMIME_AES256_GCM, 1000);
	round_trip("cbc 3 MB", SM_SMIME_AES256_CBC, 3 << 20);
	ok(sm_smime_encrypt(fin, &bad, 1, SM_SMIME_AES256_CBC, fout, why,
			    sizeof(why)) < 0, "a bad certificate fails (%s)",
	   why);
	ok(sm_smime_encrypt(fin, &bad, 0, SM_SMIME_AES256_CBC, fout, why,
			    sizeof(why)) < 0, "no certificate fails (%s)", why);
	fclose(fin);
	fclose(fout);
}

/* ---------------------------------------------------------- mime */

static void
test_mime(void)
{
	static const struct {
		const char *value;
		int encrypted;		/* what the old label rule said */
		const char *type;
	} cases[] = {
		{ "text/plain; charset=utf-8", 0, "text" },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"",
		  1, "multipart" },
		{ "Application/PKCS7-MIME; smime-type=enveloped-data", 1,
		  "application" },
		{ "application/pkcs7-mime; smime-type=\"authEnveloped-data\"",
		  1, "application" },
		{ "application/x-pkcs7-mime", 1, "application" },
		{ "application/pkcs7-mime; smime-type=signed-data", 0,
		  "application" },
		{ " (comment (nested)) multipart/signed; protocol=x", 0,
		  "multipart" },
		{ "application/pgp-encrypted", 1, "application" },
		{ "multipart/mixed; boundary=\"unterminated", 0, "multipart" },
		{ "garbage", 0, "" },
		{ "/", 0, "" },
		{ "text/", 0, "" },
		{ "", 0, "" },
		{ "((((", 0, "" },
		{ "application/pkcs7-mime; smime-type=\"\\\"", 1, "application" },
	};
	struct mil_ctype ct;
	size_t i;

	/* Whether the type claims encryption: test_mil_mime.c. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mil_mime_ctype(cases[i].value, &ct);
		ok(strcmp(ct.type, cases[i].type) == 0,
		   "Content-Type \"%s\": type \"%s\"", cases[i].value,
		   ct.type);
	}
	ok(mil_mime_is_content("content-TYPE") && !mil_mime_is_content("Mime-Version"),
	   "Content-* headers");
}

static void
test_spool(void)
{
	struct mil_spool *s = mil_spool_new(10);
	FILE *w;
	char *got;
	size_t len;

	ok(mil_spool_write(s, "12345", 5, NULL, 0) == 0 && !mil_spool_on_disk(s),
	   "spool: in memory");
	ok(mil_spool_write(s, "6789abcdef", 10, NULL, 0) == 0 &&
		   mil_spool_on_disk(s), "spool: spills to a file");
	got = slurp(s, &len);
	is_str(got, "123456789abcdef", "spool: reads back from the start");
	free(got);
	mil_spool_free(s);
	s = mil_spool_new(1 << 20);
	w = mil_spool_writer(s);
	fputs("through a stream", w);
	fclose(w);
	got = slurp(s, &len);
	is_str(got, "through a stream", "spool: writer stream");
	free(got);
	mil_spool_free(s);
}

/* ------------------------------------------------------- sessions */

static struct sm_cache *cache;
static struct mil_lookup *lookup;

/* Put an SMIMEA answer for ADDR into the cache: CERT (3 0 0), none. */
static void
publish(const char *addr, const struct sm_blob *cert, enum sm_dns_sec sec)
{
	char name[SM_NAME_BUF], why[256];
	struct sm_dns_result *res;
	uint8_t *rd;

	if (sm_names_smimea(addr, name, sizeof(name), why, sizeof(why)) < 0)
		die(why);
	res = sm_dns_result_new(name, 53,
				cert ? SM_DNS_DATA : SM_DNS_NXDOMAIN, sec);
	res->ttl = 3600;
	if (cert != NULL) {
		rd = malloc(cert->len + 3);
		memcpy(rd, "\003\000\000", 3);
		memcpy(rd + 3, cert->data, cert->len);
		sm_dns_result_add(res, rd, cert->len + 3);
		free(rd);
	}
	if (sm_cache_put(cache, res, time(NULL), why, sizeof(why)) != 1)
		die("cache put");
	sm_dns_result_free(res);
	/* No OpenPGP key for anyone here (test_pgp_rcpt has them). */
	if (sm_names_openpgpkey(addr, name, sizeof(name), why,
				sizeof(why)) < 0)
		die(why);
	res = sm_dns_result_new(name, SM_RR_OPENPGPKEY, SM_DNS_NXDOMAIN, sec);
	res->ttl = 3600;
	if (sm_cache_put(cache, res, time(NULL), why, sizeof(why)) != 1)
		die("cache put");
	sm_dns_result_free(res);
}

static struct mil_policy policy;

/* Load the policy from KEY=VALUE pairs over the defaults. */
static void
configure(const char *const *kv)
{
	struct sm_config *cfg = sm_config_new();
	char why[512];

	mil_policy_clear(&policy);
	for (; kv && *kv; kv += 2)
		if (sm_config_set(cfg, kv[0], kv[1], why, sizeof(why)) < 0)
			die(why);
	if (mil_policy_load(&policy, cfg, "mx.test", why, sizeof(why)) < 0)
		die(why);
	sm_config_free(cfg);
}

/* Recipients in RCPTS (NULL-ended) must all be accepted. */
static struct mil_msg *
start(const char *const *rcpts)
{
	struct mil_msg *m = mil_msg_new(&policy);
	struct mil_reply r;

	for (; *rcpts; rcpts++)
		if (mil_msg_rcpt(m, lookup, *rcpts, &r, NULL) != MIL_ACCEPT)
			die(r.text);
	return m;
}

static const char entity[] =
	"Content-Type: text/plain;\r\n\tcharset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"gr\xc3\xbc\xc3\x9f dich\r\n\r\n.leading dot\r\n";

/* A message with the entity above, the body in two pieces. */
static void
feed(struct mil_msg *m, int leadspc)
{
	const char *body = strstr(entity, "\r\n\r\n") + 4;

	mil_msg_header(m, "From", leadspc ? " a@b.test" : "a@b.test", leadspc);
	mil_msg_header(m, "Content-Type",
		       leadspc ? " text/plain;\n\tcharset=utf-8" :
				 "text/plain;\n\tcharset=utf-8", leadspc);
	mil_msg_header(m, "Subject", "hi", leadspc);
	mil_msg_header(m, "Content-Transfer-Encoding", leadspc ? " 8bit" : "8bit",
		       leadspc);
	mil_msg_eoh(m);
	mil_msg_body(m, body, 5);
	mil_msg_body(m, body + 5, strlen(body) - 5);
}

/* Decrypt an ENCRYPTED outcome for ID and compare with WANT. */
static int
opens_to(const struct mil_outcome *o, const struct ident *id,
	 const char *want, size_t wantlen)
{
	size_t len, plen = 0;
	char *b64 = slurp(o->body, &len), *plain;
	int same;

	plain = decrypt(b64, len, id, &plen);
	same = plain != NULL && plen == wantlen && memcmp(plain, want, plen) == 0;
	free(plain);
	free(b64);
	return same;
}

static void
test_encrypted(void)
{
	const char *one[] = { "<alice@keys.test>", NULL };
	const char *two[] = { "<alice@keys.test>", "dave@Keys.TEST", NULL };
	const char *gcm[] = { "smime_cipher", "aes256-gcm", NULL };
	struct mil_outcome o;
	struct mil_msg *m;
	char sum[256];

	configure(NULL);
	m = start(one);
	feed(m, 1);
	mil_msg_finish(m, &o);
	is_str(mil_action_word(o.action), "encrypted", "one recipient: encrypted");
	ok(opens_to(&o, &rsa, entity, sizeof(entity) - 1),
	   "the recipient decrypts exactly the MIME entity");
	is_str(o.content_type,
	       "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
	       "new Content-Type");
	is_str(o.status, "encrypted smime; recipients=1; cipher=aes256-cbc; "
			 "authserv=mx.test", "status header");
	ok(o.add_mime_version, "MIME-Version added when missing");
	ok(o.ndel == 2 && strcmp(o.del[0].name, "Content-Transfer-Encoding") == 0 &&
		   strcmp(o.del[1].name, "Content-Type") == 0 &&
		   o.del[0].index == 1 && o.del[1].index == 1,
	   "Content-* headers deleted, last first");
	mil_msg_summary(m, sum, sizeof(sum));
	is_str(sum, "alice@keys.test:secure", "summary");
	mil_msg_free(m);

	m = start(two);
	feed(m, 0);	/* values without the leading space: added back */
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, entity,
						 sizeof(entity) - 1) &&
		   opens_to(&o, &ec, entity, sizeof(entity) - 1),
	   "two recipients (RSA, EC) each decrypt");
	is_int((int)o.nrcpt, 2, "recipients=2");
	mil_msg_free(m);

	configure(gcm);
	m = start(one);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, entity,
						 sizeof(entity) - 1) &&
		   strstr(o.content_type, "authEnveloped-data") != NULL,
	   "aes256-gcm: AuthEnvelopedData that decrypts");
	mil_msg_free(m);
}

static void
test_big(void)
{
	const char *one[] = { "<alice@keys.test>", NULL };
	const char *small_mem[] = { "max_memory_body", "1000", NULL };
	const char *limit[] = { "max_message_size", "2048", NULL };
	size_t n = 300000, i;
	char *want = malloc(n + 64), *body;
	struct mil_outcome o;
	struct mil_msg *m;

	strcpy(want, "Content-Type: application/octet-stream\r\n\r\n");
	body = want + strlen(want);
	for (i = 0; i < n; i++)
		body[i] = (char)(i % 7 == 6 ? '\n' : 'a' + i % 26);
	configure(small_mem);
	m = start(one);
	mil_msg_header(m, "Content-Type", " application/octet-stream", 1);
	mil_msg_eoh(m);
	for (i = 0; i < n; i += 4096)
		mil_msg_body(m, body + i, n - i < 4096 ? n - i : 4096);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && mil_spool_on_disk(o.body) &&
		   opens_to(&o, &rsa, want, (size_t)(body - want) + n),
	   "300 KB over a 1000-octet memory limit: spooled, exact");
	mil_msg_free(m);

	configure(limit);
	m = start(one);
	mil_msg_header(m, "Content-Type", " text/plain", 1);
	mil_msg_eoh(m);
	mil_msg_body(m, body, 4000);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && strcmp(o.why, "too-big") == 0,
	   "over max_message_size: plaintext, reason too-big");
	mil_msg_free(m);
	free(want);
}

/* ------------------------------------------- header protection */

/* A message with the header fields a reader cares about, and some it
   must not see inside (trace, status, Keywords outside). */
static const char *const hp_fields[] = {
	"Received", " from a.b.test by mx.test",
	"From", " Alice <alice@b.test>",
	"To", " Bob <bob@keys.test>",
	"Cc", " Carol <c@b.test>",
	"Subject", " =?utf-8?q?Gr=C3=BC=C3=9Fe?= for\n\tyou",
	"Date", " Mon, 1 Jan 2024 10:00:00 +0000",
	"Message-ID", " <m1@b.test>",
	"Reply-To", " r@b.test",
	"In-Reply-To", " <p@b.test>",
	"References", " <o@b.test>\n <p@b.test>",
	"Keywords", " secret words",
	"X-Smilla", " forged",
	"MIME-Version", " 1.0",
	"Content-Type", " text/plain;\n\tcharset=utf-8",
	"Content-Transfer-Encoding", " 8bit",
	NULL
};

/* What the recipient must decrypt: RFC 9788's Cryptographic Payload. */
static const char hp_payload[] =
	"From: Alice <alice@b.test>\r\n"
	"To: Bob <bob@keys.test>\r\n"
	"Cc: Carol <c@b.test>\r\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= for\r\n\tyou\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"Message-ID: <m1@b.test>\r\n"
	"Reply-To: r@b.test\r\n"
	"In-Reply-To: <p@b.test>\r\n"
	"References: <o@b.test>\r\n <p@b.test>\r\n"
	"Keywords: secret words\r\n"
	"Content-Type: text/plain;\r\n\tcharset=utf-8; hp=\"cipher\"; "
	"hp-legacy-display=\"1\"\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"HP-Outer: From: Alice <alice@b.test>\r\n"
	"HP-Outer: To: Bob <bob@keys.test>\r\n"
	"HP-Outer: Cc: Carol <c@b.test>\r\n"
	"HP-Outer: Subject: [...]\r\n"
	"HP-Outer: Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"HP-Outer: Message-ID: <m1@b.test>\r\n"
	"HP-Outer: Reply-To: r@b.test\r\n"
	"HP-Outer: In-Reply-To: <p@b.test>\r\n"
	"HP-Outer: References: <o@b.test>\r\n <p@b.test>\r\n"
	"\r\n"
	"Subject: Gr\xc3\xbc\xc3\x9f" "e for you\r\n"
	"\r\n"
	"gr\xc3\xbc\xc3\x9f dich\r\n\r\n.leading dot\r\n";

/* hp_fields and the entity's body into M, the body in two pieces. */
static void
feed_hp(struct mil_msg *m)
{
	const char *body = strstr(entity, "\r\n\r\n") + 4;
	const char *const *h;

	for (h = hp_fields; *h != NULL; h += 2)
		mil_msg_header(m, h[0], h[1], 1);
	mil_msg_eoh(m);
	mil_msg_body(m, body, 5);
	mil_msg_body(m, body + 5, strlen(body) - 5);
}

/* The outcome's changes as "Name index value; ...". */
static const char *
changes(const struct mil_outcome *o, char *buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < o->nchg; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s %d %s",
			 i ? "; " : "", o->chg[i].name, o->chg[i].index,
			 o->chg[i].value ? o->chg[i].value : "-");
	return buf;
}

/* Does the payload PLAIN (LEN octets) hold exactly hp_payload? */
static int
is_hp_payload(const char *plain, size_t len, const char *what)
{
	int same = plain != NULL && len == sizeof(hp_payload) - 1 &&
		   memcmp(plain, hp_payload, len) == 0;

	ok(same, "%s: the payload is the message's fields, HP-Outer, "
	   "hp=\"cipher\" and the Legacy Display Element", what);
	if (!same)
		printf("#   got:\n%.*s\n", plain ? (int)len : 0,
		       plain ? plain : "");
	return same;
}

/*
 * header_protection = yes, S/MIME: what alice decrypts is the payload
 * above; the outer Subject becomes [...] and Keywords goes.  With no,
 * the same message encrypts as it always did.
 */
static void
test_protected(void)
{
	const char *one[] = { "<alice@keys.test>", NULL };
	const char *yes[] = { "header_protection", "yes", NULL };
	const char *signed_hdrs[] = {
		"Subject", " s", "Content-Type",
		" multipart/signed; protocol=\"application/pkcs7-signature\";"
		" micalg=sha-256; boundary=\"s\"", NULL
	};
	const char *sbody = "--s\r\nContent-Type: text/plain\r\n\r\nx\r\n--s\r\n"
			    "Content-Type: application/pkcs7-signature\r\n\r\n"
			    "AA==\r\n--s--\r\n";
	struct mil_outcome o;
	struct mil_msg *m;
	size_t len, plen = 0, i;
	char *b64, *plain, buf[256];
	const char *const *h;

	configure(yes);
	m = start(one);
	feed_hp(m);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.kind == MIL_SMIME,
	   "header_protection = yes: encrypted (%s)", o.status);
	b64 = slurp(o.body, &len);
	plain = decrypt(b64, len, &rsa, &plen);
	is_hp_payload(plain, plen, "S/MIME");
	free(plain);
	free(b64);
	is_str(changes(&o, buf, sizeof(buf)), "Subject 1 [...]; Keywords 1 -",
	       "  outside: Subject becomes [...], Keywords goes");
	ok(o.hp == 1 && o.legacy == 1 && *o.hp_why == '\0',
	   "  the outcome says so: hp %d, legacy %d", o.hp, o.legacy);
	ok(o.ndel == 3 && strcmp(o.del[0].name, "X-Smilla") == 0 &&
		   strcmp(o.del[1].name, "Content-Transfer-Encoding") == 0 &&
		   strcmp(o.del[2].name, "Content-Type") == 0,
	   "  X-Smilla and the Content-* lines deleted as without it (%zu)",
	   o.ndel);
	is_str(o.status, "encrypted smime; recipients=1; cipher=aes256-cbc; "
			 "authserv=mx.test", "  the status header as without it");
	mil_msg_free(m);

	/* Signed by the sender: encrypted as it is, Subject left. */
	m = start(one);
	for (h = signed_hdrs; *h != NULL; h += 2)
		mil_msg_header(m, h[0], h[1], 1);
	mil_msg_eoh(m);
	mil_msg_body(m, sbody, strlen(sbody));
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.hp == -1 && o.nchg == 0 &&
		   strcmp(o.hp_why, "signed (multipart/signed)") == 0,
	   "multipart/signed: encrypted without header protection (%s)",
	   o.hp_why ? o.hp_why : "-");
	b64 = slurp(o.body, &len);
	plain = decrypt(b64, len, &rsa, &plen);
	ok(plain != NULL && strncmp(plain, "Content-Type: multipart/signed;",
				    31) == 0 &&
		   strstr(plain, "hp=") == NULL &&
		   strcmp(plain + plen - strlen(sbody), sbody) == 0,
	   "  the entity as it came, the signature whole");
	free(plain);
	free(b64);
	mil_msg_free(m);

	/* The option off: byte for byte what it always was. */
	configure(NULL);
	m = start(one);
	feed_hp(m);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.hp == 0 && o.nchg == 0 &&
		   o.chg == NULL,
	   "header_protection = no: no header changes");
	ok(opens_to(&o, &rsa, entity, sizeof(entity) - 1),
	   "  alice decrypts exactly the MIME entity, as ever");
	for (i = 0; i < o.ndel; i++)
		if (strcasecmp(o.del[i].name, "Subject") == 0 ||
		    strcasecmp(o.del[i].name, "Keywords") == 0)
			break;
	ok(i == o.ndel, "  Subject and Keywords stay");
	mil_msg_free(m);
}

static void
test_plaintext(void)
{
	const char *mixed[] = { "alice@keys.test", "nokey@plain.test", NULL };
	const char *insecure[] = { "ivan@keys.test", NULL };
	const char *unusable[] = { "sig@keys.test", NULL };
	const char *off[] = { "encrypt_outbound", "no", NULL };
	const char *one[] = { "alice@keys.test", NULL };
	const char *inbound[] = { "local_domains", ".Keys.test, other.test",
				  "encrypt_outbound", "no", NULL };
	const char *inbound_on[] = { "local_domains", "keys.test",
				     "encrypt_inbound", "yes",
				     "encrypt_outbound", "no", NULL };
	struct mil_outcome o;
	struct mil_msg *m;

	configure(NULL);
	m = start(mixed);
	mil_msg_header(m, "X-Smilla", " forged", 1);
	feed(m, 1);
	mil_msg_header(m, "x-smilla", " forged again", 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && strcmp(o.why, "no-key") == 0,
	   "mixed recipients: plaintext, no-key");
	is_str(o.status, "plaintext; reason=no-key; recipients=2; keys=1; "
			 "authserv=mx.test", "status header says why");
	ok(o.ndel == 2 && o.del[0].index == 2 && o.del[1].index == 1 &&
		   strcmp(o.del[1].name, "X-Smilla") == 0,
	   "forged status headers removed, last first");
	ok(o.body == NULL, "body untouched");
	mil_msg_free(m);

	m = start(insecure);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && mil_msg_rcpts(m, &(size_t){ 0 })->state == MIL_KEY_INSECURE,
	   "unsigned SMIMEA: insecure, plaintext");
	mil_msg_free(m);
	m = start(unusable);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && mil_msg_rcpts(m, &(size_t){ 0 })->state == MIL_KEY_UNUSABLE,
	   "signing-only certificate: unusable, plaintext");
	mil_msg_free(m);

	configure(off);
	m = start(one);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && strcmp(o.why, "disabled") == 0,
	   "encrypt_outbound = no: plaintext, disabled");
	mil_msg_free(m);
	configure(inbound);
	ok(mil_policy_local(&policy, "a.keys.test") &&
		   !mil_policy_local(&policy, "keys.test") &&
		   mil_policy_local(&policy, "other.test") &&
		   !mil_policy_local(&policy, "xother.test"),
	   "local_domains: exact and .below");
	configure(inbound_on);
	m = start(one);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && mil_msg_rcpts(m, &(size_t){ 0 })->inbound,
	   "encrypt_inbound = yes: a local recipient is encrypted to");
	mil_msg_free(m);
}

/* ------------------------------------------- already encrypted? */

/* A header pair list: name, value (without the leading space), ... */
struct shape {
	const char *what;
	const char *const *hdrs;	/* NULL-ended name/value pairs */
	const char *body;
	size_t len;			/* 0: strlen(body) */
};

/* The MIME entity the recipient must decrypt: Content-* and body. */
static char *
entity_of(const struct shape *sh, size_t *len)
{
	const char *const *h;
	size_t blen = sh->len ? sh->len : strlen(sh->body), n = blen + 3;
	char *e, *p;

	for (h = sh->hdrs; *h; h += 2)
		n += strlen(h[0]) + strlen(h[1]) + 4;
	p = e = malloc(n);
	for (h = sh->hdrs; *h; h += 2)
		if (mil_mime_is_content(h[0]))
			p += sprintf(p, "%s: %s\r\n", h[0], h[1]);
	p += sprintf(p, "\r\n");
	memcpy(p, sh->body, blen);
	*len = (size_t)(p - e) + blen;
	return e;
}

/* Run SH through a message to RCPTS, the body in 7-octet pieces. */
static struct mil_msg *
run(const struct shape *sh, const char *const *rcpts, struct mil_outcome *o)
{
	struct mil_msg *m = start(rcpts);
	const char *const *h;
	size_t blen = sh->len ? sh->len : strlen(sh->body), i;
	char v[4096];

	mil_msg_header(m, "X-Smilla", " encrypted smime; recipients=1; "
		       "cipher=aes256-cbc; authserv=mx.test", 1);
	for (h = sh->hdrs; *h; h += 2) {
		snprintf(v, sizeof(v), " %s", h[1]);
		mil_msg_header(m, h[0], v, 1);
	}
	mil_msg_header(m, "x-SMILLA", " forged, second", 1);
	mil_msg_eoh(m);
	for (i = 0; i < blen; i += 7)
		mil_msg_body(m, sh->body + i, blen - i < 7 ? blen - i : 7);
	mil_msg_finish(m, o);
	return m;
}

/* Both forged status headers are among the deletions. */
static int
forged_deleted(const struct mil_outcome *o)
{
	size_t i;
	int first = 0, second = 0;

	for (i = 0; i < o->ndel; i++)
		if (strcasecmp(o->del[i].name, "X-Smilla") == 0) {
			first |= o->del[i].index == 1;
			second |= o->del[i].index == 2;
		}
	return first && second;
}

/* SH must come out encrypted (exactly its entity) for alice. */
static void
must_encrypt(const struct shape *sh, const char *const *rcpts)
{
	struct mil_outcome o;
	struct mil_msg *m = run(sh, rcpts, &o);
	size_t elen;
	char *e = entity_of(sh, &elen);

	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, e, elen),
	   "%s: encrypted by us (%s), alice decrypts the entity", sh->what,
	   mil_action_word(o.action));
	ok(forged_deleted(&o), "%s: forged X-Smilla deleted", sh->what);
	free(e);
	mil_msg_free(m);
}

/* SH must pass untouched with our status header saying FORMAT. */
static void
must_pass(const struct shape *sh, const char *const *rcpts,
	  const char *format)
{
	struct mil_outcome o;
	struct mil_msg *m = run(sh, rcpts, &o);
	char want[256];

	snprintf(want, sizeof(want), "untouched; reason=already-encrypted; "
		 "format=%s; recipients=1; authserv=mx.test", format);
	ok(o.action == MIL_UNTOUCHED && o.body == NULL &&
		   strcmp(o.why, "already-encrypted") == 0,
	   "%s: untouched (%s)", sh->what, mil_action_word(o.action));
	ok(strcmp(o.status, want) == 0, "%s: status header \"%s\"", sh->what,
	   o.status);
	ok(forged_deleted(&o) && o.ndel == 2,
	   "%s: forged X-Smilla deleted, nothing else", sh->what);
	mil_msg_free(m);
}

/* Run a shell command; bail out when it fails. */
static void
sh_run(const char *cmd)
{
	if (system(cmd) != 0) {
		printf("# %s\n", cmd);
		die("command failed");
	}
}

/* A file's contents with "\n" made CRLF, malloc'd. */
static char *
crlf_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *out = NULL;
	size_t n = 0;
	FILE *w = open_memstream(&out, &n);
	int c;

	if (f == NULL || w == NULL)
		die(path);
	while ((c = getc(f)) != EOF) {
		if (c == '\n')
			putc('\r', w);
		putc(c, w);
	}
	fclose(f);
	fclose(w);
	return out;
}

/* The base64 S/MIME EnvelopedData of INNER for alice, CRLF lines. */
static char *
smime_for_alice(const char *inner, enum sm_smime_cipher cipher)
{
	char *b64 = NULL, *out, *p, why[256];
	size_t len = 0, i;
	FILE *in = fmemopen((void *)inner, strlen(inner), "r");
	FILE *w = open_memstream(&b64, &len);

	if (sm_smime_encrypt(in, &rsa.der, 1, cipher, w, why, sizeof(why)) < 0)
		die(why);
	fclose(in);
	fclose(w);
	p = out = malloc(2 * len + 1);
	for (i = 0; i < len; i++) {
		if (b64[i] == '\n')
			*p++ = '\r';
		*p++ = b64[i];
	}
	*p = '\0';
	free(b64);
	return out;
}

static void
test_untouched(void)
{
	char table[sizeof(dir) + 16], gdir[sizeof(dir) + 16], cmd[1024];
	const char *req[] = { "require_encryption_table", table, NULL };
	const char *small[] = { "require_encryption_table", table,
				"max_message_size", "2048", NULL };
	const char *local[] = { "local_domains", "keys.test", NULL };
	const char *one[] = { "alice@keys.test", NULL };
	const char *plain_ct[] = { "Content-Type", "text/plain", NULL };
	const char *no_ct[] = { "Subject", "hi", NULL };
	const char *p7m[] = {
		"MIME-Version", "1.0",
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data;"
				" name=\"smime.p7m\"",
		"Content-Transfer-Encoding", "base64", NULL };
	const char *p7m_old[] = {
		"Content-Type", "application/x-pkcs7-mime; name=smime.p7m",
		"Content-Transfer-Encoding", "base64", NULL };
	const char *p7m_gcm[] = {
		"Content-Type", "application/pkcs7-mime; "
				"smime-type=authEnveloped-data",
		"Content-Transfer-Encoding", "base64", NULL };
	const char *p7m_binary[] = {
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
		"Content-Transfer-Encoding", "binary", NULL };
	const char *p7m_two_cte[] = {
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
		"Content-Transfer-Encoding", "base64",
		"Content-Transfer-Encoding", "base64", NULL };
	const char *second_ct[] = {
		"Content-Type", "text/plain",
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
		NULL };
	const char *second_ct_real[] = {
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
		"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
		"Content-Transfer-Encoding", "base64", NULL };
	const char *pgpmime[] = {
		"Content-Type", "multipart/encrypted; "
				"protocol=\"application/pgp-encrypted\"; "
				"boundary=\"=-B0und\"", NULL };
	const char *pgpmime_noproto[] = {
		"Content-Type", "multipart/encrypted; boundary=\"=-B0und\"", NULL };
	static const char inner[] = "Content-Type: text/plain\r\n\r\nsecret\r\n";
	const char *pre = "--=-B0und\r\nContent-Type: application/pgp-encrypted"
			  "\r\n\r\nVersion: 1\r\n\r\n--=-B0und\r\nContent-Type: "
			  "application/octet-stream; name=\"encrypted.asc\"\r\n\r\n";
	char *cbc, *gcm, *armor, *armor_pk, *body, *p;
	size_t n;
	FILE *f;
	struct shape sh;
	struct mil_outcome o;
	struct mil_msg *m;

	snprintf(table, sizeof(table), "%s/require-a", dir);
	if ((f = fopen(table, "w")) == NULL)
		die("table");
	fputs("alice@keys.test\n", f);
	fclose(f);
	configure(req);

	/* The four fakes of issue 9: a label over plaintext. */
	sh = (struct shape){ "fake pkcs7 label over plaintext", p7m,
			     "This is the secret, in plaintext.\r\n", 0 };
	must_encrypt(&sh, one);
	m = run(&sh, one, &o);
	ok(strncmp(mil_msg_why_not(m), "smime: ", 7) == 0,
	   "the log learns why: %s", mil_msg_why_not(m));
	mil_msg_free(m);
	sh = (struct shape){ "fake pkcs7 label over valid base64 of text",
			     p7m, "U2VjcmV0IHRleHQsIG5vdCBDTVMK\r\n", 0 };
	must_encrypt(&sh, one);
	sh = (struct shape){ "multipart/encrypted over plaintext", pgpmime,
			     "--=-B0und\r\nContent-Type: text/plain\r\n\r\n"
			     "secret\r\n--=-B0und--\r\n", 0 };
	must_encrypt(&sh, one);
	sh = (struct shape){ "text/plain, then a second Content-Type",
			     second_ct, "secret\r\n", 0 };
	must_encrypt(&sh, one);
	sh = (struct shape){ "plaintext quoting a BEGIN PGP MESSAGE line",
			     plain_ct, "Look at this:\r\n"
			     "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n"
			     "-----END PGP MESSAGE-----\r\nsecret\r\n", 0 };
	must_encrypt(&sh, one);

	/* Real S/MIME: untouched, with our status header. */
	cbc = smime_for_alice(inner, SM_SMIME_AES256_CBC);
	gcm = smime_for_alice(inner, SM_SMIME_AES256_GCM);
	sh = (struct shape){ "real S/MIME EnvelopedData", p7m, cbc, 0 };
	must_pass(&sh, one, "smime");
	sh = (struct shape){ "real S/MIME, x-pkcs7-mime, no smime-type",
			     p7m_old, cbc, 0 };
	must_pass(&sh, one, "smime");
	sh = (struct shape){ "real S/MIME AuthEnvelopedData", p7m_gcm, gcm, 0 };
	must_pass(&sh, one, "smime");
	n = strlen(cbc);
	sh = (struct shape){ "truncated S/MIME (whole base64 quanta)", p7m, cbc,
			     n / 2 - (n / 2) % 4 };
	must_encrypt(&sh, one);
	body = malloc(n + 16);
	memcpy(body, cbc, n + 1);
	body[n / 2] = body[n / 2] == 'A' ? 'B' : 'A';
	sh = (struct shape){ "S/MIME with one base64 octet changed", p7m, body,
			     0 };
	/* The DER may still parse with another octet inside: what must
	   hold is that it never passes as anything but S/MIME. */
	m = run(&sh, one, &o);
	ok(o.action == MIL_ENCRYPTED ||
		   (o.action == MIL_UNTOUCHED &&
		    strstr(o.status, "format=smime;") != NULL),
	   "S/MIME with one octet changed: encrypted or verified");
	mil_msg_free(m);
	body[n / 2] = '*';
	sh.what = "S/MIME with a non-base64 octet";
	must_encrypt(&sh, one);
	snprintf(body, n + 16, "%sAAAA\r\n", cbc);
	sh.what = "S/MIME with data after the ContentInfo";
	must_encrypt(&sh, one);
	snprintf(body, n + 16, "%s=\r\n", cbc);
	sh.what = "S/MIME with padding past the end";
	must_encrypt(&sh, one);
	sh = (struct shape){ "S/MIME in binary CTE", p7m_binary, cbc, 0 };
	must_encrypt(&sh, one);
	sh = (struct shape){ "S/MIME with two CTE headers", p7m_two_cte, cbc, 0 };
	must_encrypt(&sh, one);
	sh = (struct shape){ "real S/MIME body, two Content-Type headers",
			     second_ct_real, cbc, 0 };
	must_encrypt(&sh, one);
	free(body);

	/* Real PGP, made by gpg: a passphrase (SKESK) and a key (PKESK). */
	snprintf(gdir, sizeof(gdir), "%s/gpg", dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -m 700 %s && printf 'secret\\n' > %s/plain && "
		 "GNUPGHOME=%s gpg -q --batch --passphrase pw "
		 "--pinentry-mode loopback --symmetric --armor -o %s/sym.asc "
		 "%s/plain 2>/dev/null && "
		 "GNUPGHOME=%s gpg -q --batch --passphrase '' "
		 "--quick-gen-key 'T <t@keys.test>' default default never "
		 "2>/dev/null && "
		 "GNUPGHOME=%s gpg -q --batch --trust-model always -r t@keys.test "
		 "--armor --encrypt -o %s/pk.asc %s/plain 2>/dev/null; "
		 "GNUPGHOME=%s gpgconf --kill all 2>/dev/null; "
		 "test -s %s/pk.asc", gdir, gdir, gdir, gdir, gdir, gdir, gdir,
		 gdir, gdir, gdir, gdir);
	sh_run(cmd);
	snprintf(cmd, sizeof(cmd), "%s/sym.asc", gdir);
	armor = crlf_file(cmd);
	snprintf(cmd, sizeof(cmd), "%s/pk.asc", gdir);
	armor_pk = crlf_file(cmd);
	n = strlen(armor_pk);
	body = malloc(strlen(pre) + n + 64);

	sprintf(body, "%s%s\r\n--=-B0und--\r\n", pre, armor_pk);
	sh = (struct shape){ "real PGP/MIME (PKESK, SEIPD)", pgpmime, body, 0 };
	must_pass(&sh, one, "pgp-mime");
	sprintf(body, "\r\n  \r\n%s%s\r\n--=-B0und--\r\n\r\n", pre, armor);
	sh = (struct shape){ "real PGP/MIME (SKESK), blank pre/epilogue",
			     pgpmime, body, 0 };
	must_pass(&sh, one, "pgp-mime");
	sh = (struct shape){ "real PGP/MIME body without protocol=",
			     pgpmime_noproto, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "This is an OpenPGP/MIME encrypted message\r\n%s%s\r\n"
		"--=-B0und--\r\n", pre, armor);
	sh = (struct shape){ "PGP/MIME with preamble text", pgpmime, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%s\r\n--=-B0und--\r\nsecret\r\n", pre, armor);
	sh = (struct shape){ "PGP/MIME with epilogue text", pgpmime, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%s\r\n--=-B0und\r\nContent-Type: text/plain\r\n\r\n"
		"secret\r\n--=-B0und--\r\n", pre, armor);
	sh = (struct shape){ "PGP/MIME with a third part", pgpmime, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%s\r\n--=-B0und--\r\n", pre, armor);
	p = strstr(body, "-----END");
	memmove(p - 30, p, strlen(p) + 1);
	sh = (struct shape){ "truncated PGP/MIME", pgpmime, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%s\r\n--=-B0und--\r\n", pre, armor);
	/* The first packet header octet made 0: no packet.  (A changed
	   octet inside the encrypted data only breaks the CRC24, which
	   RFC 9580 section 6.1 says not to reject on, and librnp
	   does not: that body still is ciphertext.) */
	p = strstr(body, "-----BEGIN PGP MESSAGE-----\r\n\r\n") + 31;
	*p = 'A';
	sh = (struct shape){ "garbled PGP/MIME (no packet header)", pgpmime,
			     body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%ssecret\r\n--=-B0und--\r\n", pre, armor);
	sh = (struct shape){ "PGP/MIME, text after the armor", pgpmime, body, 0 };
	must_encrypt(&sh, one);

	sh = (struct shape){ "real inline PGP", plain_ct, armor_pk, 0 };
	must_pass(&sh, one, "pgp-inline");
	sprintf(body, "\r\n\t %s\r\n\r\n", armor);
	sh = (struct shape){ "real inline PGP, no Content-Type, white space",
			     no_ct, body, 0 };
	must_pass(&sh, one, "pgp-inline");
	sprintf(body, "Hello\r\n%s", armor);
	sh = (struct shape){ "inline PGP after plaintext", plain_ct, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%ssecret\r\n", armor);
	sh = (struct shape){ "inline PGP, then plaintext", plain_ct, body, 0 };
	must_encrypt(&sh, one);
	sprintf(body, "%s%s", armor, armor);
	sh = (struct shape){ "two inline PGP blocks", plain_ct, body, 0 };
	must_encrypt(&sh, one);
	snprintf(body, strlen(armor) / 2, "%s", armor);
	strcat(body, "\r\n-----END PGP MESSAGE-----\r\n");
	sh = (struct shape){ "truncated inline PGP", plain_ct, body, 0 };
	must_encrypt(&sh, one);

	/* To a local recipient, whose mail is checked for signatures:
	   in every encrypted shape the check is skipped and says so
	   (verify=encrypted), with no Authentication-Results. */
	configure(local);
	sprintf(body, "%s%s\r\n--=-B0und--\r\n", pre, armor_pk);
	{
		const struct shape enc[] = {
			{ "S/MIME EnvelopedData", p7m, cbc, 0 },
			{ "PGP/MIME", pgpmime, body, 0 },
			{ "inline PGP", plain_ct, armor_pk, 0 },
		};
		size_t k;

		for (k = 0; k < sizeof(enc) / sizeof(enc[0]); k++) {
			m = run(&enc[k], one, &o);
			ok(o.action == MIL_UNTOUCHED && o.auth_skipped != NULL &&
				   strcmp(o.auth_skipped, "encrypted") == 0 &&
				   o.auth_header[0] == '\0',
			   "%s to a local recipient: not checked, "
			   "verify=encrypted (%s)", enc[k].what,
			   o.auth_skipped ? o.auth_skipped : "no word");
			mil_msg_free(m);
		}
	}

	/* Labelled encrypted but over max_message_size: plaintext, and
	   for a required recipient the 552 of the too-big path. */
	configure(small);
	body = realloc(body, 8192);
	memset(body, 0, 8192);
	while (strlen(body) + strlen(cbc) < 8000)
		strcat(body, cbc);
	sh = (struct shape){ "over max_message_size, labelled S/MIME", p7m,
			     body, 0 };
	m = run(&sh, one, &o);
	ok(o.action == MIL_REJECTED && strcmp(o.reply.code, "552") == 0,
	   "labelled S/MIME over max_message_size, required: 552 (%s)",
	   mil_action_word(o.action));
	mil_msg_free(m);

	/* A message whose recipients were all refused: status removed. */
	configure(req);
	m = mil_msg_new(&policy);
	mil_msg_header(m, "X-Smilla", " forged", 1);
	mil_msg_eoh(m);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_UNTOUCHED && o.ndel == 1 && o.status[0] == '\0',
	   "no recipients: untouched, forged X-Smilla deleted");
	mil_msg_free(m);

	/* Keyless, not required: a real encrypted message is untouched. */
	configure(NULL);
	{
		const char *keyless[] = { "nokey@plain.test", NULL };

		sh = (struct shape){ "real PGP/MIME to a keyless recipient",
				     pgpmime, NULL, 0 };
		body = realloc(body, strlen(pre) + n + 64);
		sprintf(body, "%s%s\r\n--=-B0und--\r\n", pre, armor_pk);
		sh.body = body;
		must_pass(&sh, keyless, "pgp-mime");
		sh = (struct shape){ "fake PGP/MIME to a keyless recipient",
				     pgpmime, "secret\r\n", 0 };
		m = run(&sh, keyless, &o);
		ok(o.action == MIL_PLAINTEXT && forged_deleted(&o),
		   "fake PGP/MIME, keyless: plaintext, forged X-Smilla gone");
		mil_msg_free(m);
	}
	m = start(one);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, "", 0),
	   "no header, no body: the empty entity is encrypted");
	mil_msg_free(m);

	free(body);
	free(cbc);
	free(gcm);
	free(armor);
	free(armor_pk);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", gdir, table);
	sh_run(cmd);
}

/* RCPT verdicts with a require_encryption_table. */
static void
test_required(void)
{
	char table[sizeof(dir) + 16];
	const char *req[] = { "require_encryption_table", table, NULL };
	struct mil_reply r;
	struct mil_msg *m;
	FILE *f;

	snprintf(table, sizeof(table), "%s/require", dir);
	if ((f = fopen(table, "w")) == NULL)
		die("table");
	fputs("# required\nreq.test\neve@bogus.test\nalice@keys.test\n", f);
	fclose(f);
	configure(req);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<nokey@req.test>", &r, NULL), MIL_REJECT,
	       "required, no key: rejected");
	ok(strcmp(r.code, "550") == 0 && strcmp(r.xcode, "5.7.1") == 0 &&
		   strstr(r.text, "nokey@req.test") != NULL,
	   "550 5.7.1 naming the recipient: %s", r.text);
	is_int(mil_msg_rcpt(m, lookup, "<eve@bogus.test>", &r, NULL),
	       MIL_TEMPFAIL, "required, bogus key: tempfail");
	ok(strcmp(r.code, "450") == 0 && strcmp(r.xcode, "4.7.5") == 0,
	   "450 4.7.5: %s", r.text);
	is_int(mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL),
	       MIL_ACCEPT, "required with a key: accepted");
	is_int(mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL),
	       MIL_TEMPFAIL, "then a keyless recipient: deliver separately");
	ok(strcmp(r.code, "452") == 0 && strcmp(r.xcode, "4.5.3") == 0,
	   "452 4.5.3: %s", r.text);
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL);
	is_int(mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL),
	       MIL_TEMPFAIL, "keyless first, required second: 452 too");
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "no-domain", &r, NULL), MIL_REJECT,
	       "an address without domain is refused, not waved through");
	ok(strcmp(r.code, "501") == 0 && strcmp(r.xcode, "5.1.3") == 0 &&
		   strstr(r.text, "bad recipient address syntax") != NULL,
	   "  501 5.1.3: %s", r.text);
	mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL);
	is_int(mil_msg_rcpt(m, lookup, "<@relay.test:alice@keys.test>", &r,
			    NULL), MIL_TEMPFAIL,
	       "source route stripped (required alice, keyless before)");
	mil_msg_free(m);
}

/* Is every octet of S printable, and S at most MAX octets? */
static int
tame(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (s[i] < 32 || s[i] > 126)
			return 0;
	return n <= max;
}

static char table[sizeof(dir) + 16];

/* Write the require_encryption_table. */
static void
write_table(const char *text)
{
	FILE *f;

	snprintf(table, sizeof(table), "%s/require", dir);
	if ((f = fopen(table, "w")) == NULL)
		die("table");
	fputs(text, f);
	fclose(f);
}

/* Case and quoting reach the mailbox the table names: refused. */
/* RCPT of ARG in M must be deferred: 452 4.5.3 with WHY in the text. */
static void
deferred(struct mil_msg *m, struct mil_lookup *lk, const char *arg,
	 const char *why, const char *what)
{
	struct mil_reply r;

	memset(&r, 0, sizeof(r));
	is_int(mil_msg_rcpt(m, lk, arg, &r, NULL), MIL_TEMPFAIL, what);
	ok(strcmp(r.code, "452") == 0 && strcmp(r.xcode, "4.5.3") == 0 &&
		   strstr(r.text, why) != NULL,
	   "  452 4.5.3: %s", r.text);
}

/* mixed_recipients = defer: the first recipient sets the class. */
static void
test_defer(void)
{
	static const char *const defer[] = { "mixed_recipients", "defer", NULL };
	struct mil_outcome o;
	struct mil_reply r;
	struct mil_msg *m;

	configure(defer);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL),
	       MIL_ACCEPT, "defer: alice (a key) first: accepted");
	deferred(m, lookup, "<nokey@plain.test>",
		 "it has no key, the message is encrypted",
		 "  then a keyless recipient: deferred");
	is_int(mil_msg_rcpt(m, lookup, "<alice2@keys.test>", &r, NULL),
	       MIL_ACCEPT, "  another with a key: accepted");
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.nrcpt == 2,
	   "  encrypted to the two (%s)", o.status);
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL);
	deferred(m, lookup, "<alice@keys.test>",
		 "it can get encrypted mail, the message is plaintext",
		 "defer: keyless first, then alice: deferred");
	is_int(mil_msg_rcpt(m, lookup, "<dave@keys.test>", &r, NULL) ==
		       MIL_TEMPFAIL &&
		       mil_msg_rcpt(m, lookup, "<nokey@req.test>", &r, NULL) ==
		       MIL_ACCEPT, 1,
	       "  dave (a key) deferred too, another keyless one accepted");
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT, "  plaintext for the keyless (%s)",
	   o.status);
	mil_msg_free(m);
	configure(NULL);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL);
	is_int(mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL),
	       MIL_ACCEPT, "mixed_recipients = plaintext (default): mixed accepted");
	mil_msg_free(m);
}

/* Does TEXT start with PREFIX? */
static int
starts(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* The copy O of M as written, NUL-ended; its body digest in D. */
static char *
copy_of(struct mil_msg *m, const struct mil_outcome *o,
	const char *const *top, uint8_t d[32], size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL || mil_msg_copy(m, o, top, f, d) < 0)
		die("mil_msg_copy");
	fclose(f);
	return buf;
}

/* The body of the copy TEXT (after its empty line), and its digest. */
static const char *
body_of(const char *text, uint8_t d[32])
{
	const char *b = strstr(text, "\r\n\r\n");
	struct mil_body_hash *h = mil_body_hash_new();

	b = b ? b + 4 : "";
	mil_body_hash_add(h, b, strlen(b));
	mil_body_hash_end(h, d);
	return b;
}

/* Was the trace header deleted in O? */
static int
trace_deleted(const struct mil_outcome *o)
{
	size_t i;

	for (i = 0; i < o->ndel; i++)
		if (strcmp(o->del[i].name, MIL_TRACE_HEADER) == 0)
			return 1;
	return 0;
}

/* A message to nobody and alice with trace header VALUE, fed whole. */
static struct mil_msg *
traced(const char *value, const char *second)
{
	struct mil_msg *m = mil_msg_new(&policy);
	struct mil_reply r;

	mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL);
	mil_msg_rcpt(m, lookup, second, &r, NULL);
	mil_msg_header(m, MIL_TRACE_HEADER, value, 0);
	feed(m, 0);
	return m;
}

/*
 * A copy of ours coming back (a listener that runs smilla) passes
 * untouched; a trace header that does not hold for this message is
 * removed and changes nothing.
 */
static void
test_own_copy(void)
{
	const char *rcpts[] = { "alice@keys.test", "nokey@plain.test" };
	const char *body = strstr(entity, "\r\n\r\n") + 4;
	struct mil_body_hash *h = mil_body_hash_new();
	struct mil_outcome o;
	struct mil_msg *m;
	char v[MIL_TRACE_SIZE], bad[MIL_TRACE_SIZE];
	uint8_t d[32];

	mil_body_hash_add(h, body, strlen(body));
	mil_body_hash_end(h, d);
	memset(policy.split_key, 0x5a, sizeof(policy.split_key));
	mil_trace_make(policy.split_key, time(NULL), rcpts, 2, d, v);
	m = traced(v, "<alice@keys.test>");
	is_int(mil_msg_splits(m), 0, "a copy of ours (its trace holds): not split");
	mil_msg_finish(m, &o);
	ok(o.action == MIL_UNTOUCHED && o.why && strcmp(o.why, "split-copy") == 0 &&
		   o.ndel == 0 && o.status[0] == '\0',
	   "  untouched, nothing added or removed (%s)", o.why ? o.why : "-");
	mil_msg_free(m);

	m = traced(v, "<dave@keys.test>");
	is_int(mil_msg_splits(m), 1, "the same trace for other recipients: split");
	mil_msg_finish(m, &o);
	ok(o.action != MIL_UNTOUCHED && trace_deleted(&o),
	   "  and the trace header removed");
	mil_msg_free(m);

	strcpy(bad, v);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	m = traced(bad, "<alice@keys.test>");
	is_int(mil_msg_splits(m), 1, "a forged trace (one MAC digit): split");
	mil_msg_finish(m, &o);
	ok(trace_deleted(&o), "  and the header removed");
	mil_msg_free(m);
}

/*
 * Split mode's core: the recipients in classes, each group finished on
 * its own, and the copies written whole: header as received but for
 * the outcome's deletions, the fields added, the body, its digest.
 */
static void
test_split(void)
{
	static const char *const top[] = { "X-Smilla-Split: v=1; t=1; mac=0",
					   NULL };
	struct mil_group g[MIL_NKINDS + 1];
	struct mil_outcome o;
	struct mil_reply r;
	struct mil_msg *m;
	uint8_t d[32], want[32];
	char *text, *b64;
	const char *body;
	size_t n, len;

	configure(NULL);
	policy.split = 1;
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<nokey@plain.test>", &r, NULL) ==
		       MIL_ACCEPT &&
		       mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL) ==
		       MIL_ACCEPT &&
		       mil_msg_rcpt(m, lookup, "<dave@keys.test>", &r, NULL) ==
		       MIL_ACCEPT, 1,
	       "split: keyless nobody, alice and dave (S/MIME) all accepted");
	mil_msg_header(m, "Received", "from x by y", 0);
	mil_msg_header(m, "X-Smilla", "encrypted smime; forged", 0);
	feed(m, 0);
	n = mil_msg_groups(m, g);
	is_int(n, 2, "  two groups");
	ok(!g[0].plain && g[0].kind == MIL_SMIME && g[0].n == 2 &&
		   g[0].idx[0] == 1 && g[0].idx[1] == 2,
	   "  S/MIME first: alice and dave");
	ok(g[1].plain && g[1].n == 1 && g[1].idx[0] == 0,
	   "  then plaintext: nobody");

	mil_msg_finish_group(m, &g[1], &o);
	ok(o.action == MIL_PLAINTEXT && o.nrcpt == 1,
	   "  the plaintext group: plaintext (%s)", o.status);
	text = copy_of(m, &o, top, d, &len);
	ok(starts(text, "X-Smilla-Split: v=1; t=1; mac=0\r\nReceived: from x by y\r\n"
			"From: a@b.test\r\nContent-Type: text/plain;\n\tcharset=utf-8\r\n"
			"Subject: hi\r\nContent-Transfer-Encoding: 8bit\r\n"
			"X-Smilla: plaintext; reason=no-key; recipients=1;"),
	   "  its copy: the trace on top, the fields as received, the forged "
	   "status gone, ours at the end");
	body = body_of(text, want);
	ok(strcmp(body, strstr(entity, "\r\n\r\n") + 4) == 0,
	   "  the original body, octet for octet");
	ok(memcmp(d, want, 32) == 0, "  the digest is the body's");
	free(text);

	mil_msg_finish_group(m, &g[0], &o);
	ok(o.action == MIL_ENCRYPTED && o.nrcpt == 2,
	   "  the S/MIME group: encrypted to two (%s)", o.status);
	text = copy_of(m, &o, NULL, d, &len);
	ok(starts(text, "Received: from x by y\r\nFrom: a@b.test\r\n"
			"Subject: hi\r\nMIME-Version: 1.0\r\n"
			"Content-Type: application/pkcs7-mime;"),
	   "  its copy: the old Content-* gone, the new ones added");
	ok(strstr(text, "X-Smilla: encrypted smime; recipients=2;") != NULL &&
		   strstr(text, "forged") == NULL,
	   "  and its own status");
	body = body_of(text, want);
	ok(memcmp(d, want, 32) == 0, "  the digest is the body's");
	b64 = strdup(body);
	len = strlen(b64);
	{
		size_t plen = 0;
		char *plain = decrypt(b64, len, &rsa, &plen);

		ok(plain != NULL && plen == sizeof(entity) - 1 &&
			   memcmp(plain, entity, plen) == 0,
		   "  alice decrypts the copy to the entity");
		free(plain);
	}
	free(b64);
	free(text);
	mil_groups_clear(g);
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<alice@keys.test>", &r, NULL);
	mil_msg_rcpt(m, lookup, "<dave@keys.test>", &r, NULL);
	feed(m, 0);
	is_int(mil_msg_splits(m), 0, "alice and dave share S/MIME: not split");
	mil_msg_free(m);
	test_own_copy();
	policy.split = 0;
}

static void
test_variants(void)
{
	static const char *const refused[] = {
		"<CAROL@plain.test>", "<\"carol\"@plain.test>",
		"<\"Must\"@plain.test>", "<must@plain.test>",
		"<MUST@Plain.Test>", "<\"ca\\rol\"@plain.test>",
		"<\"\\C\\A\\R\\O\\L\"@plain.test>",
		"<@relay.test,@r2.test:CAROL@plain.test>",
		"  <\"carol\"@plain.test>  ",
	};
	const char *req[] = { "require_encryption_table", table, NULL };
	const struct mil_rcpt *rc;
	struct mil_outcome o;
	struct mil_reply r;
	struct mil_msg *m;
	size_t i;

	write_table("carol@plain.test\nMust@plain.test\nalice@keys.test\n");
	configure(req);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		m = mil_msg_new(&policy);
		is_int(mil_msg_rcpt(m, lookup, refused[i], &r, &rc), MIL_REJECT,
		       refused[i]);
		ok(strcmp(r.code, "550") == 0 && strcmp(r.xcode, "5.7.1") == 0 &&
			   rc != NULL && rc->required,
		   "  550 5.7.1, required: %s", r.text);
		mil_msg_free(m);
	}
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<carl@plain.test>", &r, &rc), MIL_ACCEPT,
	       "another local part at that domain is not required");
	mil_msg_free(m);

	/* With a key: accepted and encrypted (found lowercased). */
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<ALICE@keys.test>", &r, &rc),
	       MIL_ACCEPT, "<ALICE@keys.test>, required, has a key: accepted");
	ok(rc != NULL && rc->required && rc->state == MIL_KEY_SECURE &&
		   strcmp(rc->addr, "ALICE@keys.test") == 0,
	   "  required, key found as alice (%s)", rc ? rc->keys[MIL_SMIME].why : "-");
	is_int(mil_msg_rcpt(m, lookup, "<\"alice\"@keys.test>", &r, &rc),
	       MIL_ACCEPT, "<\"alice\"@keys.test>: accepted");
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, entity,
						 sizeof(entity) - 1),
	   "  encrypted, alice decrypts");
	mil_msg_free(m);
}

/* An extension (recipient_delimiter) reaches the mailbox without it. */
static void
test_extension(void)
{
	static const char *const refused[] = {
		"<carol+news@plain.test>", "<CAROL+x@plain.test>",
		"<\"carol+a b\"@plain.test>", "<carol+@plain.test>",
		"<carol-list@plain.test>",
	};
	const char *req[] = { "require_encryption_table", table,
			      "recipient_delimiter", "+-", NULL };
	const char *none[] = { "require_encryption_table", table,
			       "recipient_delimiter", "", NULL };
	const struct mil_rcpt *rc;
	struct mil_outcome o;
	struct mil_reply r;
	struct mil_msg *m;
	size_t i;

	write_table("carol@plain.test\nalice@keys.test\n");
	configure(req);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		m = mil_msg_new(&policy);
		ok(mil_msg_rcpt(m, lookup, refused[i], &r, &rc) == MIL_REJECT,
		   "delimiter \"+-\": %s refused as carol", refused[i]);
		ok(rc != NULL && rc->required && strcmp(r.code, "550") == 0,
		   "  550, required: %s", r.text);
		mil_msg_free(m);
	}
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<+carol@plain.test>", &r, &rc),
	       MIL_ACCEPT, "a delimiter as first octet starts no extension");
	is_int(mil_msg_rcpt(m, lookup, "<carl+carol@plain.test>", &r, &rc),
	       MIL_ACCEPT, "  and carl's extension is carl's");
	mil_msg_free(m);

	/* alice+tag has no key of its own: alice's is used. */
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<Alice+tag@keys.test>", &r, &rc),
	       MIL_ACCEPT, "<Alice+tag@keys.test>, required: accepted");
	ok(rc != NULL && rc->required && rc->state == MIL_KEY_SECURE &&
		   strstr(rc->keys[MIL_SMIME].why, "without the extension") != NULL,
	   "  with alice's key (%s)", rc ? rc->keys[MIL_SMIME].why : "-");
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && opens_to(&o, &rsa, entity,
						 sizeof(entity) - 1),
	   "  encrypted, alice decrypts");
	mil_msg_free(m);

	/* recipient_delimiter empty: the local part is taken whole. */
	configure(none);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<carol+news@plain.test>", &r, &rc),
	       MIL_ACCEPT, "no delimiter: carol+news is another mailbox");
	ok(rc != NULL && !rc->required, "  not required");
	mil_msg_free(m);
	configure(NULL);
}

/* Addresses the MTA routes elsewhere, and its own postmaster. */
static void
test_routes(void)
{
	static const char *const routed[] = {
		"<carol%plain.test@mx.test>", "<plain.test!carol@mx.test>",
	};
	const char *req[] = { "require_encryption_table", table, NULL };
	const char *pm[] = { "require_encryption_table", table,
			     "local_domains", "mx.test, .sub.test", NULL };
	const struct mil_rcpt *rc;
	struct mil_reply r;
	struct mil_msg *m;
	size_t i;

	write_table("carol@plain.test\n");
	configure(req);
	for (i = 0; i < sizeof(routed) / sizeof(routed[0]); i++) {
		m = mil_msg_new(&policy);
		ok(mil_msg_rcpt(m, lookup, routed[i], &r, &rc) == MIL_REJECT &&
			   rc != NULL && rc->required,
		   "%s (percent hack, bang path) with a table: required, "
		   "refused", routed[i]);
		mil_msg_free(m);
	}
	configure(NULL);
	m = mil_msg_new(&policy);
	ok(mil_msg_rcpt(m, lookup, routed[0], &r, &rc) == MIL_ACCEPT &&
		   rc != NULL && !rc->required,
	   "  without a table: accepted, not required");
	mil_msg_free(m);

	write_table("mx.test\n");
	configure(pm);
	m = mil_msg_new(&policy);
	ok(mil_msg_rcpt(m, lookup, "<Postmaster>", &r, &rc) == MIL_REJECT &&
		   rc != NULL && rc->required,
	   "<Postmaster> when a local domain is required: refused (%s)",
	   r.text);
	mil_msg_free(m);
	write_table("postmaster@sub.test\n");
	configure(pm);
	m = mil_msg_new(&policy);
	ok(mil_msg_rcpt(m, lookup, "<Postmaster>", &r, &rc) == MIL_REJECT,
	   "  and when postmaster@ a local domain is");
	mil_msg_free(m);
	write_table("other.test\n");
	configure(pm);
	m = mil_msg_new(&policy);
	ok(mil_msg_rcpt(m, lookup, "<Postmaster>", &r, &rc) == MIL_ACCEPT &&
		   rc != NULL && !rc->required,
	   "  otherwise accepted");
	mil_msg_free(m);
	configure(NULL);
}

/* require_local_part_case = exact: today's rule, quotes still dropped. */
static void
test_exact(void)
{
	const char *req[] = { "require_encryption_table", table,
			      "require_local_part_case", "exact", NULL };
	const struct mil_rcpt *rc;
	struct mil_reply r;
	struct mil_msg *m;

	write_table("carol@plain.test\nMust@plain.test\n");
	configure(req);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<CAROL@plain.test>", &r, &rc),
	       MIL_ACCEPT, "exact: <CAROL@plain.test> is not carol@");
	is_int(mil_msg_rcpt(m, lookup, "<must@plain.test>", &r, &rc),
	       MIL_ACCEPT, "exact: <must@plain.test> is not Must@");
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<\"carol\"@plain.test>", &r, &rc),
	       MIL_REJECT, "exact: <\"carol\"@plain.test> is carol@");
	is_int(mil_msg_rcpt(m, lookup, "<\"Must\"@plain.test>", &r, &rc),
	       MIL_REJECT, "exact: <\"Must\"@plain.test> is Must@");
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<ALICE@keys.test>", &r, &rc);
	ok(rc != NULL && rc->state == MIL_KEY_NONE,
	   "exact: no lowercased key lookup (%s)", rc ? rc->keys[MIL_SMIME].why : "-");
	mil_msg_free(m);
}

/* Addresses that cannot be parsed or held: refused, reply tame. */
static void
test_unreadable(void)
{
	const char *req[] = { "require_encryption_table", table, NULL };
	static const char *const domains[] = { "req.test", "plain.test" };
	const struct mil_rcpt *rc;
	struct mil_reply r;
	struct mil_msg *m;
	char *arg = malloc(1200), sum[2048];
	size_t i;

	write_table("req.test\n");
	configure(req);
	for (i = 0; i < 2; i++) {
		m = mil_msg_new(&policy);
		arg[0] = '<';
		memset(arg + 1, 'x', 1100);
		sprintf(arg + 1101, "@%s>", domains[i]);
		is_int(mil_msg_rcpt(m, lookup, arg, &r, &rc), MIL_REJECT,
		       domains[i]);
		ok(r.code[0] == '5' && strcmp(r.xcode, "5.1.3") == 0 &&
			   tame(r.text, 120),
		   "  1100-octet local part: 5xx 5.1.3, short text: %s %s %s",
		   r.code, r.xcode, r.text);
		mil_msg_summary(m, sum, sizeof(sum));
		ok(tame(sum, 120), "  logged short: %s", sum);
		mil_msg_free(m);
	}
	m = mil_msg_new(&policy);
	memset(arg, 0, 1200);
	strcpy(arg, "<ca\x1b[31m\r\nrol@req.test>");
	is_int(mil_msg_rcpt(m, lookup, arg, &r, &rc), MIL_REJECT,
	       "control characters: refused");
	ok(strcmp(r.code, "501") == 0 && tame(r.text, 200) &&
		   rc != NULL && tame(rc->addr, 80),
	   "  501, printable reply and record: %s", r.text);
	arg[0] = '<';
	memset(arg + 1, '(', 500);
	strcpy(arg + 501, "@plain.test>");
	is_int(mil_msg_rcpt(m, lookup, arg, &r, &rc), MIL_REJECT,
	       "500 octets of junk: refused");
	ok(tame(r.text, 200) && strstr(r.text, "...") != NULL,
	   "  the echoed address is shortened: %s", r.text);
	is_int(mil_msg_rcpt(m, lookup, "<>", &r, &rc), MIL_REJECT,
	       "<>: refused");
	is_int(mil_msg_rcpt(m, lookup, "<Postmaster>", &r, &rc), MIL_ACCEPT,
	       "<Postmaster> (RFC 5321 4.1.1.3): accepted");
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lookup, "<user@[127.0.0.1]>", &r, &rc),
	       MIL_REJECT, "an address literal with a table: required, refused");
	mil_msg_free(m);
	free(arg);
}

/* Count the RecipientInfos of an ENCRYPTED outcome's CMS. */
static int
recipient_infos(const struct mil_outcome *o)
{
	size_t len;
	char *b64 = slurp(o->body, &len);
	BIO *mem = BIO_new_mem_buf(b64, (int)len), *f = BIO_new(BIO_f_base64());
	CMS_ContentInfo *cms;
	int n = -1;

	mem = BIO_push(f, mem);
	if ((cms = d2i_CMS_bio(mem, NULL)) != NULL)
		n = sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms));
	CMS_ContentInfo_free(cms);
	BIO_free_all(mem);
	free(b64);
	return n;
}

/* The same recipient twice, in any spelling: encrypted to once. */
static void
test_duplicates(void)
{
	const char *dup[] = { "<alice@keys.test>", "<ALICE@keys.test>",
			      "<\"alice\"@keys.test>", "<alice@KEYS.TEST>",
			      "alice@keys.test", NULL };
	const char *shared[] = { "<alice@keys.test>", "<alice2@keys.test>",
				 "<dave@keys.test>", "<Dave@keys.test>", NULL };
	struct mil_outcome o;
	struct mil_msg *m;
	char sum[512];

	configure(NULL);
	m = start(dup);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.nrcpt == 1,
	   "five spellings of alice: one recipient");
	is_int(recipient_infos(&o), 1, "  one RecipientInfo");
	ok(strstr(o.status, "recipients=1;") != NULL, "  status: %s", o.status);
	mil_msg_summary(m, sum, sizeof(sum));
	is_str(sum, "alice@keys.test:secure", "  logged once");
	mil_msg_free(m);
	m = start(shared);
	feed(m, 1);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.nrcpt == 3,
	   "alice, alice2 (alice's certificate), dave twice: three recipients");
	is_int(recipient_infos(&o), 2, "  two RecipientInfos, one per certificate");
	ok(opens_to(&o, &rsa, entity, sizeof(entity) - 1) &&
		   opens_to(&o, &ec, entity, sizeof(entity) - 1),
	   "  both keys decrypt");
	ok(strstr(o.status, "recipients=3;") != NULL, "  status: %s", o.status);
	mil_msg_free(m);
}

/* The log line's recipient list says what it leaves out. */
static void
test_summary(void)
{
	const char *off[] = { "encrypt_outbound", "no", NULL };
	struct mil_reply r;
	struct mil_msg *m = NULL;
	char arg[64], sum[256], big[8192], *more;
	size_t i, shown = 0;
	unsigned long n = 0;

	configure(off);
	m = mil_msg_new(&policy);
	for (i = 0; i < 100; i++) {
		snprintf(arg, sizeof(arg), "<user%03zu@plain.test>", i);
		mil_msg_rcpt(m, lookup, arg, &r, NULL);
	}
	mil_msg_summary(m, sum, sizeof(sum));
	more = strrchr(sum, '+');
	ok(more != NULL && sscanf(more, "+%lu more", &n) == 1 &&
		   strcmp(more + strcspn(more, " "), " more") == 0,
	   "100 recipients in 256 octets: ends with +N more: ...%s",
	   more ? more : sum);
	for (i = 0; sum[i] != '\0'; i++)
		shown += sum[i] == ':';
	is_int((long)(shown + n), 100, "  shown + N = 100");
	ok(strstr(sum, "user000@plain.test:skipped,") == sum &&
		   strstr(sum, "...") == NULL,
	   "  whole entries only");
	mil_msg_summary(m, big, sizeof(big));
	ok(strstr(big, "more") == NULL && strstr(big, "user099@plain.test:skipped"),
	   "  all of them when they fit");
	mil_msg_summary(m, sum, 10);
	ok(strcmp(sum, "+100 more") == 0, "  a tiny buffer: %s", sum);
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lookup, "<\"a b,c\\\\ action=encrypted\"@plain.test>", &r,
		     NULL);
	mil_msg_rcpt(m, lookup, "<j\xc3\xb6rg@plain.test>", &r, NULL);
	mil_msg_summary(m, sum, sizeof(sum));
	is_str(sum, "\\x22a\\x20b\\x2cc\\x5c\\x5c\\x20action=encrypted\\x22@plain.test:"
		    "skipped,j\\xc3\\xb6rg@plain.test:skipped",
	       "  quotes, spaces, commas, backslashes and 8-bit octets escaped");
	mil_msg_free(m);
}

/* Lowercase hex SHA-256 of the bed's certs/NAME.der into FP. */
static int
bed_fp(const char *bed, const char *name, char fp[65])
{
	char path[512];
	uint8_t buf[8192], d[SM_DIGEST_MAX];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/certs/%s.der", bed, name);
	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (sm_digest(SM_DIGEST_SHA256, buf, n, d) == 0)
		return 0;
	sm_hex_encode(d, 32, fp, 0);
	return 1;
}

/* The first line of the bed file keys/TAG.fpr into FP. */
static int
bed_pgp_fpr(const char *bed, const char *tag, char fp[65])
{
	char path[512];
	FILE *f;
	int got;

	snprintf(path, sizeof(path), "%s/keys/%s.fpr", bed, tag);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	got = fscanf(f, "%64s", fp) == 1;
	fclose(f);
	return got;
}

/* RCPT ARG through LK under the current policy: its record (copied). */
static enum mil_verdict
rcpt_of(struct mil_lookup *lk, const char *arg, struct mil_msg **mp,
	struct mil_reply *r, const struct mil_rcpt **rc)
{
	*mp = mil_msg_new(&policy);
	return mil_msg_rcpt(*mp, lk, arg, r, rc);
}

/*
 * A PGP/MIME outcome: the header, the body passing our own "already
 * encrypted" check, and what gpg with TAG's secret key decrypts it to
 * (malloc'd, *PLEN octets; NULL when it does not).
 */
static char *
pgp_decrypt(const struct mil_outcome *o, const char *bed, const char *tag,
	    const char *what, size_t *plen)
{
	static const char ct[] = "multipart/encrypted; protocol="
				 "\"application/pgp-encrypted\"; boundary=\"";
	char cmd[4096], path[512], *b, *crlf, *plain, bnd[64] = "";
	const char *q;
	size_t len, i, n;
	char why[256] = "";
	FILE *f;

	ok(o->action == MIL_ENCRYPTED && o->kind == MIL_OPENPGP &&
		   strncmp(o->content_type, ct, sizeof(ct) - 1) == 0 &&
		   o->cte == NULL && o->disposition == NULL &&
		   strncmp(o->status, "encrypted pgp; recipients=", 26) == 0,
	   "%s: PGP/MIME (%s; %s)", what, o->content_type, o->status);
	*plen = 0;
	if (o->action != MIL_ENCRYPTED)
		return NULL;
	if ((q = strstr(o->content_type, "boundary=\"")) != NULL)
		sscanf(q + 10, "%63[^\"]", bnd);
	b = slurp(o->body, &len);
	/* What the MTA gets: CRLF line ends. */
	crlf = malloc(2 * len + 1);
	for (i = n = 0; i < len; i++) {
		if (b[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = b[i];
	}
	ok(mil_mime_pgp_mime((const uint8_t *)crlf, n, bnd, why,
			     sizeof(why)) == 1,
	   "  %s: our PGP/MIME counts as already encrypted (%s)", what, why);
	snprintf(path, sizeof(path), "%s/pgp/%s.eml", dir, tag);
	f = fopen(path, "wb");
	fwrite(crlf, 1, n, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "g=%s/pgp/gpg-%s; rm -f %s.dec; mkdir -p -m 700 $g && "
		 "GNUPGHOME=$g gpg -q --batch --import %s/keys/%s-secret.pgp "
		 "2>/dev/null && GNUPGHOME=$g gpg -q --batch --decrypt -o %s.dec "
		 "%s 2>%s.err; rc=$?; GNUPGHOME=$g gpgconf --kill all "
		 "2>/dev/null; exit $rc", dir, tag, path, bed, tag, path, path,
		 path);
	ok(system(cmd) == 0, "  %s: gpg --decrypt with %s's key", what, tag);
	snprintf(path, sizeof(path), "%s/pgp/%s.eml.dec", dir, tag);
	plain = NULL;
	if ((f = fopen(path, "rb")) != NULL) {
		plain = malloc(65536);
		*plen = fread(plain, 1, 65535, f);
		plain[*plen] = '\0';
		fclose(f);
	}
	free(crlf);
	free(b);
	return plain;
}

/* ... and gpg gives back the entity byte for byte. */
static void
pgp_opens(const struct mil_outcome *o, const char *bed, const char *tag,
	  const char *what)
{
	size_t plen;
	char *plain = pgp_decrypt(o, bed, tag, what, &plen);

	ok(plain != NULL && plen == sizeof(entity) - 1 &&
		   memcmp(plain, entity, plen) == 0,
	   "  %s: decrypts to the entity byte for byte (%zu octets)", what,
	   plen);
	free(plain);
}

/*
 * OPENPGPKEY through real DNS: each of the bed's OpenPGP recipients
 * gets its state and reason word; formats chosen by preference, mixed
 * ones as configured; required recipients refused as they must be.
 */
static void
test_bed_pgp(struct mil_lookup *lk, const char *bed)
{
	static const struct {
		const char *arg, *tag;
		enum mil_key_state state;
		const char *why;	/* start of the OPENPGPKEY reason */
	} cases[] = {
		{ "<bob@smilla.test>", "bob", MIL_KEY_SECURE, "1 key" },
		{ "<rsa@smilla.test>", "rsa", MIL_KEY_SECURE, "1 key" },
		{ "<expired@smilla.test>", NULL, MIL_KEY_UNUSABLE, "expired" },
		{ "<revoked@smilla.test>", NULL, MIL_KEY_UNUSABLE, "revoked" },
		{ "<signonly@smilla.test>", NULL, MIL_KEY_UNUSABLE,
		  "no encryption key" },
		{ "<wronguid@smilla.test>", NULL, MIL_KEY_UNUSABLE,
		  "user ID does not match" },
		{ "<carol@smilla.test>", "carol", MIL_KEY_SECURE, "1 key" },
		{ "<Upper@smilla.test>", "upper", MIL_KEY_SECURE, "1 key" },
		{ "<pgp@insecure.smilla.test>", NULL, MIL_KEY_INSECURE,
		  "OPENPGPKEY not DNSSEC-signed" },
		{ "<pgp@bogus.smilla.test>", NULL, MIL_KEY_BOGUS, "" },
	};
	const char *smime_only[] = { "encryption_formats", "smime", NULL };
	const char *pgp_first[] = { "encryption_formats", "openpgp smime",
				    NULL };
	const char *hp_yes[] = { "header_protection", "yes", NULL };
	char *plain;
	size_t plen;
	const char *req[] = { "require_encryption_table", table, NULL };
	const char *req_smime[] = { "require_encryption_table", table,
				    "encryption_formats", "smime", NULL };
	const char *defer[] = { "mixed_recipients", "defer", NULL };
	const struct mil_rcpt *rc;
	struct mil_outcome o;
	struct mil_reply r;
	struct mil_msg *m;
	char fp[65], sum[256], cmd[600], copy[512];
	const char *copy_kv[] = { "sender_copy_key", copy, NULL };
	long long t0, t1;
	size_t i;

	snprintf(cmd, sizeof(cmd), "mkdir -p %s/pgp", dir);
	sh_run(cmd);
	configure(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mil_keys *k;

		rcpt_of(lk, cases[i].arg, &m, &r, &rc);
		k = rc != NULL ? &rc->keys[MIL_OPENPGP] : NULL;
		ok(k != NULL && k->state == cases[i].state &&
			   strncmp(k->why, cases[i].why,
				   strlen(cases[i].why)) == 0 &&
			   (cases[i].tag == NULL ||
			    (bed_pgp_fpr(bed, cases[i].tag, fp) &&
			     strcmp(k->fp, fp) == 0)),
		   "%s: openpgpkey %s (%s%s%s)", cases[i].arg,
		   mil_key_state_word(cases[i].state), k ? k->why : "-",
		   k && *k->fp ? ", " : "", k ? k->fp : "");
		mil_msg_free(m);
	}
	rcpt_of(lk, "<Upper@smilla.test>", &m, &r, &rc);
	ok(rc != NULL && strstr(rc->keys[MIL_OPENPGP].why,
				"(local part lowercased)") != NULL,
	   "  Upper@ found through the lowercased local part");
	mil_msg_free(m);
	rcpt_of(lk, "<carol@smilla.test>", &m, &r, &rc);
	ok(rc != NULL && rc->keys[MIL_SMIME].state == MIL_KEY_SECURE &&
		   rc->keys[MIL_OPENPGP].state == MIL_KEY_SECURE,
	   "carol: both kinds secure, looked up together");
	mil_msg_free(m);
	rcpt_of(lk, "<expired@smilla.test>", &m, &r, &rc);
	mil_msg_summary(m, sum, sizeof(sum));
	is_str(sum, "expired@smilla.test:unusable", "  summary: best state");
	mil_msg_free(m);

	/* Both lookups of a recipient at once: two timeouts cost one. */
	t0 = sm_now_ms();
	rcpt_of(lk, "<Slow@slow.smilla.test>", &m, &r, &rc);
	t1 = sm_now_ms();
	ok(rc != NULL && rc->keys[MIL_SMIME].state == MIL_KEY_TEMPERROR &&
		   rc->keys[MIL_OPENPGP].state == MIL_KEY_TEMPERROR,
	   "a server that never answers: temperror for both kinds");
	/* The bed's dns_timeout is 3 s: one is 3 s, two in a row 6 s. */
	ok(t1 - t0 >= 2500 && t1 - t0 < 5000,
	   "  both timed out together, in one dns_timeout (%lld ms)",
	   (long long)(t1 - t0));
	mil_msg_free(m);

	/* One recipient, PGP only: PGP/MIME that gpg opens. */
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	pgp_opens(&o, bed, "bob", "bob (cv25519)");
	mil_msg_free(m);
	/* Two recipients, cv25519 and RSA: each opens it. */
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	mil_msg_rcpt(m, lk, "<rsa@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(strstr(o.status, "recipients=2;") != NULL, "bob + rsa: %s",
	   o.status);
	pgp_opens(&o, bed, "bob", "bob + rsa, bob's key");
	pgp_opens(&o, bed, "rsa", "bob + rsa, rsa's key");
	mil_msg_free(m);
	/* carol has both: S/MIME first by default, PGP when preferred. */
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<carol@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.kind == MIL_SMIME,
	   "carol (both): S/MIME, the first of encryption_formats (%s)",
	   o.status);
	mil_msg_free(m);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<carol@smilla.test>", &r, NULL);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	pgp_opens(&o, bed, "carol", "carol + bob: the one format both have");
	mil_msg_free(m);
	/* alice has SMIMEA only, bob OPENPGPKEY only: mixed. */
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<alice@smilla.test>", &r, NULL);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT && strcmp(o.why, "no-key") == 0,
	   "alice (smime) + bob (pgp): no common format, plaintext (%s)",
	   o.status);
	mil_msg_free(m);
	configure(pgp_first);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<carol@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	pgp_opens(&o, bed, "carol", "encryption_formats = openpgp smime: carol");
	mil_msg_free(m);
	/* Header protection in PGP/MIME: bob's gpg reads the payload. */
	configure(hp_yes);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	feed_hp(m);
	mil_msg_finish(m, &o);
	plain = pgp_decrypt(&o, bed, "bob", "header_protection = yes, bob",
			    &plen);
	is_hp_payload(plain, plen, "  PGP/MIME, gpg");
	free(plain);
	is_str(changes(&o, sum, sizeof(sum)), "Subject 1 [...]; Keywords 1 -",
	       "  outside: Subject becomes [...], Keywords goes");
	mil_msg_free(m);
	/* sender_copy_key: the copy's holder opens it too. */
	snprintf(copy, sizeof(copy), "%s/keys/rsa.pgp", bed);
	configure(copy_kv);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, NULL);
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(strstr(o.status, "recipients=1;") != NULL,
	   "sender_copy_key: not counted as a recipient (%s)", o.status);
	pgp_opens(&o, bed, "bob", "sender_copy_key = rsa.pgp, bob");
	pgp_opens(&o, bed, "rsa", "sender_copy_key = rsa.pgp, the copy");
	mil_msg_free(m);
	{
		struct sm_config *cfg = sm_config_new();
		struct mil_policy bad;
		char why[512] = "";

		snprintf(copy, sizeof(copy), "%s/keys/signonly.pgp", bed);
		sm_config_set(cfg, "sender_copy_key", copy, why, sizeof(why));
		ok(mil_policy_load(&bad, cfg, "mx.test", why, sizeof(why)) < 0 &&
			   strstr(why, "sender_copy_key: ") == why &&
			   strstr(why, "signonly.pgp") != NULL,
		   "a sign-only sender_copy_key is refused (%s)", why);
		snprintf(copy, sizeof(copy), "%s/no-such-key.pgp", dir);
		sm_config_set(cfg, "sender_copy_key", copy, why, sizeof(why));
		ok(mil_policy_load(&bad, cfg, "mx.test", why, sizeof(why)) < 0 &&
			   strstr(why, "sender_copy_key: ") == why,
		   "a missing sender_copy_key is refused (%s)", why);
		sm_config_free(cfg);
	}

	configure(smime_only);
	m = mil_msg_new(&policy);
	mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, &rc);
	ok(rc != NULL && rc->keys[MIL_OPENPGP].state == MIL_KEY_SKIPPED &&
		   rc->state == MIL_KEY_NONE,
	   "encryption_formats = smime: bob's OPENPGPKEY not looked up (%s)",
	   rc ? rc->keys[MIL_OPENPGP].why : "-");
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_PLAINTEXT, "  bob gets plaintext (%s)", o.status);
	mil_msg_free(m);

	/* Required recipients. */
	write_table("bob@smilla.test\nexpired@smilla.test\n"
		    "pgp@bogus.smilla.test\nalice@smilla.test\n");
	configure(req);
	is_int(rcpt_of(lk, "<bob@smilla.test>", &m, &r, &rc), MIL_ACCEPT,
	       "required bob with an OpenPGP key: accepted");
	is_int(mil_msg_rcpt(m, lk, "<alice@smilla.test>", &r, &rc),
	       MIL_TEMPFAIL, "  then alice (S/MIME only): 452");
	ok(strcmp(r.code, "452") == 0 && strcmp(r.xcode, "4.5.3") == 0,
	   "  452 4.5.3 %s", r.text);
	mil_msg_free(m);
	is_int(rcpt_of(lk, "<expired@smilla.test>", &m, &r, &rc), MIL_REJECT,
	       "required expired@ (unusable OpenPGP key): rejected");
	ok(strcmp(r.code, "550") == 0 && strcmp(r.xcode, "5.7.1") == 0,
	   "  550 5.7.1 %s", r.text);
	mil_msg_free(m);
	is_int(rcpt_of(lk, "<pgp@bogus.smilla.test>", &m, &r, &rc),
	       MIL_TEMPFAIL, "required pgp@bogus (bogus): deferred");
	ok(strcmp(r.code, "450") == 0 && strcmp(r.xcode, "4.7.5") == 0,
	   "  450 4.7.5 %s", r.text);
	mil_msg_free(m);
	configure(req_smime);
	is_int(rcpt_of(lk, "<bob@smilla.test>", &m, &r, &rc), MIL_REJECT,
	       "required bob, encryption_formats = smime: rejected");
	mil_msg_free(m);

	/* mixed_recipients = defer across formats. */
	configure(defer);
	rcpt_of(lk, "<alice@smilla.test>", &m, &r, &rc);
	deferred(m, lk, "<bob@smilla.test>",
		 "its keys are in another format than the message's",
		 "defer: alice (S/MIME) first, bob (OpenPGP only): deferred");
	mil_msg_free(m);
	is_int(rcpt_of(lk, "<carol@smilla.test>", &m, &r, &rc), MIL_ACCEPT,
	       "defer: carol (both formats) first");
	is_int(mil_msg_rcpt(m, lk, "<bob@smilla.test>", &r, &rc), MIL_ACCEPT,
	       "  bob (OpenPGP): accepted, the message is OpenPGP now");
	deferred(m, lk, "<alice@smilla.test>",
		 "its keys are in another format than the message's",
		 "  then alice (S/MIME only): deferred");
	feed(m, 0);
	mil_msg_finish(m, &o);
	ok(o.action == MIL_ENCRYPTED && o.kind == MIL_OPENPGP,
	   "  PGP/MIME to carol and bob (%s)", o.status);
	mil_msg_free(m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/pgp", dir);
	sh_run(cmd);
}

/*
 * SMIMEA through real DNS: the local part as given first, then
 * lowercased (the bed publishes Mixed with dave's certificate, mixed
 * and carol with carol's).
 */
static void
test_bed(void)
{
	static const struct {
		const char *arg, *cert;	/* cert NULL: no key */
		int exact;
	} cases[] = {
		{ "<carol@smilla.test>", "carol", 0 },
		{ "<CAROL@smilla.test>", "carol", 0 },	/* found lowercased */
		{ "<\"Carol\"@smilla.test>", "carol", 0 },
		{ "<Mixed@smilla.test>", "dave", 0 },	/* as given first */
		{ "<MIXED@smilla.test>", "carol", 0 },	/* then lowercased */
		{ "<mixed@smilla.test>", "carol", 0 },
		{ "<CAROL@smilla.test>", NULL, 1 },	/* exact: as given */
		{ "<Mixed@smilla.test>", "dave", 1 },
	};
	const char *bed = getenv("BED_DIR");
	const char *req[] = { "require_encryption_table", table,
			      "require_local_part_case", "insensitive", NULL };
	const char *exact[] = { "require_encryption_table", table,
				"require_local_part_case", "exact", NULL };
	struct sm_config *cfg;
	struct sm_dns_params dp;
	struct sm_dns *dns;
	struct mil_resolver *res;
	struct mil_lookup *lk;
	const struct mil_rcpt *rc;
	struct mil_reply r;
	struct mil_msg *m;
	char conf[512], why[512] = "", fp[65];
	size_t i;

	if (!ok(bed != NULL, "BED_DIR is set (run through tests/check.sh)"))
		return;
	snprintf(conf, sizeof(conf), "%s/smilla.conf", bed);
	cfg = sm_config_new();
	if (!ok(sm_config_load(cfg, conf, why, sizeof(why)) == 0,
		"bed config loads %s", why)) {
		sm_config_free(cfg);
		return;
	}
	sm_config_dns(cfg, &dp);
	dns = sm_dns_new(&dp, why, sizeof(why));
	sm_config_free(cfg);
	if (!ok(dns != NULL, "resolver %s", dns ? "" : why))
		return;
	if ((res = mil_resolver_new(dns, why, sizeof(why))) == NULL)
		die(why);
	if ((lk = mil_lookup_new(NULL, res, NULL)) == NULL)
		die("lookup");
	write_table("carol@smilla.test\nmixed@smilla.test\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		configure(cases[i].exact ? exact : req);
		m = mil_msg_new(&policy);
		mil_msg_rcpt(m, lk, cases[i].arg, &r, &rc);
		if (cases[i].cert == NULL) {
			ok(rc != NULL && rc->state == MIL_KEY_NONE,
			   "%s (exact): no key (%s)", cases[i].arg,
			   rc ? rc->keys[MIL_SMIME].why : "-");
		} else {
			ok(bed_fp(bed, cases[i].cert, fp) && rc != NULL &&
				   rc->state == MIL_KEY_SECURE &&
				   strcmp(rc->keys[MIL_SMIME].fp, fp) == 0,
			   "%s%s: %s's certificate (%s)", cases[i].arg,
			   cases[i].exact ? " (exact)" : "", cases[i].cert,
			   rc ? rc->keys[MIL_SMIME].why : "-");
		}
		mil_msg_free(m);
	}
	/* Required and published as carol: the CAROL spelling gets in. */
	configure(req);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lk, "<CAROL@smilla.test>", &r, &rc), MIL_ACCEPT,
	       "required <CAROL@smilla.test> with carol's key: accepted");
	mil_msg_free(m);
	configure(exact);
	m = mil_msg_new(&policy);
	is_int(mil_msg_rcpt(m, lk, "<carol@smilla.test>", &r, &rc), MIL_ACCEPT,
	       "exact: required <carol@smilla.test>: accepted");
	mil_msg_free(m);
	test_bed_pgp(lk, bed);
	mil_lookup_free(lk);
	mil_resolver_free(res);
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	mil_keys_clear(NULL);
	ok(1, "mil_keys_clear(NULL) is a no-op");
	mil_policy_clear(NULL);
	ok(1, "mil_policy_clear(NULL) is a no-op");
	mil_msg_free(NULL);
	ok(1, "mil_msg_free(NULL) is a no-op");
	mil_spool_free(NULL);
	ok(1, "mil_spool_free(NULL) is a no-op");
	mil_lookup_free(NULL);
	ok(1, "mil_lookup_free(NULL) is a no-op");
	mil_resolver_free(NULL);
	ok(1, "mil_resolver_free(NULL) is a no-op");
}

int
main(void)
{
	struct sm_cache_params cp = { 60, 86400, 300, 300, { 0, 0, 0 } };
	char db[sizeof(dir) + 16], why[256];

	free_null();
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	make(&rsa, "rsa", "digitalSignature,keyEncipherment", "emailProtection");
	make(&ec, "ec", "digitalSignature,keyAgreement", NULL);
	make(&rsa_sign, "rsa", "digitalSignature", NULL);
	make(&ed, "ed", NULL, NULL);
	make(&rsa_tls, "rsa", "keyEncipherment", "serverAuth");
	snprintf(db, sizeof(db), "%s/cache.db", dir);
	if ((cache = sm_cache_open(db, &cp, why, sizeof(why))) == NULL)
		die(why);
	publish("alice@keys.test", &rsa.der, SM_DNS_SECURE);
	publish("dave@keys.test", &ec.der, SM_DNS_SECURE);
	publish("ivan@keys.test", &rsa.der, SM_DNS_INSECURE);
	publish("sig@keys.test", &rsa_sign.der, SM_DNS_SECURE);
	publish("eve@bogus.test", &rsa.der, SM_DNS_BOGUS);
	publish("nokey@plain.test", NULL, SM_DNS_SECURE);
	publish("nokey@req.test", NULL, SM_DNS_SECURE);
	publish("alice2@keys.test", &rsa.der, SM_DNS_SECURE);
	/* Spellings the RCPT tests look up (no DNS here). */
	publish("ALICE@keys.test", NULL, SM_DNS_SECURE);
	publish("Dave@keys.test", NULL, SM_DNS_SECURE);
	publish("CAROL@plain.test", NULL, SM_DNS_SECURE);
	publish("carol@plain.test", NULL, SM_DNS_SECURE);
	publish("carl@plain.test", NULL, SM_DNS_SECURE);
	publish("Must@plain.test", NULL, SM_DNS_SECURE);
	publish("must@plain.test", NULL, SM_DNS_SECURE);
	publish("MUST@plain.test", NULL, SM_DNS_SECURE);
	{
		/* ... and with extensions, then without (test_extension). */
		static const char *const ext[] = {
			"carol+news@plain.test", "CAROL+x@plain.test",
			"carol+x@plain.test", "carol+a b@plain.test",
			"carol+@plain.test", "carol-list@plain.test",
			"+carol@plain.test", "carl+carol@plain.test",
			"Alice+tag@keys.test", "alice+tag@keys.test",
			"Alice@keys.test", "carol%plain.test@mx.test",
			"plain.test!carol@mx.test",
		};
		size_t i;

		for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
			publish(ext[i], NULL, SM_DNS_SECURE);
	}
	if ((lookup = mil_lookup_new(cache, NULL, NULL)) == NULL)
		die("lookup");

	test_usable();
	test_encrypt();
	test_mime();
	test_spool();
	test_encrypted();
	test_big();
	test_protected();
	test_plaintext();
	test_untouched();
	test_required();
	test_defer();
	test_split();
	test_variants();
	test_extension();
	test_routes();
	test_duplicates();
	test_summary();
	test_unreadable();
	test_exact();
	test_bed();

	mil_policy_clear(&policy);
	mil_lookup_free(lookup);
	sm_cache_close(cache);
	drop(&rsa);
	drop(&ec);
	drop(&rsa_sign);
	drop(&ed);
	drop(&rsa_tls);
	unlink(db);
	snprintf(db, sizeof(db), "%s/cache.db-wal", dir);
	unlink(db);
	snprintf(db, sizeof(db), "%s/cache.db-shm", dir);
	unlink(db);
	snprintf(db, sizeof(db), "%s/require", dir);
	unlink(db);
	rmdir(dir);
	return done_testing();
}
