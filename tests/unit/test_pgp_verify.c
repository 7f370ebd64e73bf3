/*
 * test_pgp_verify.c - OpenPGP signature checks (sm_pgp_verify) against
 * signatures gpg makes at test time with the test bed's keys (BED_DIR,
 * set by tests/check.sh) and keys made here: a good signature by the sender's published
 * key verifies; a changed octet, a signature by a key the sender does
 * not publish, by a revoked key, or by a key without the sender's
 * address does not; a key that expired after it signed still verifies;
 * a cut-off signature is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgp.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/smilla-pgpv-XXXXXX";
static const char *bed;

static const char content[] =
	"Content-Type: text/plain; charset=utf-8\r\n\r\n"
	"gr\xc3\xbc\xc3\x9f   \r\nsigned\r\n";

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(255);
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0) {
		printf("# %s\n", cmd);
		die("command failed");
	}
}

/* A file's octets into B (die when it cannot be read). */
static void
slurp(const char *path, struct sm_blob *b)
{
	char why[256];

	if ((b->data = sm_read_file(path, 1 << 20, &b->len, why,
				    sizeof(why))) == NULL)
		die(why);
}

/* A detached armored signature over CONTENT by the bed's key TAG. */
static void
sign_with(const char *tag, struct sm_blob *sig)
{
	char cmd[2048], path[512];

	snprintf(cmd, sizeof(cmd),
		 "g=%s/g-%s; mkdir -m 700 $g && "
		 "GNUPGHOME=$g gpg -q --batch --import %s/keys/%s-secret.pgp "
		 "2>/dev/null && GNUPGHOME=$g gpg -q --batch --yes --armor "
		 "--pinentry-mode loopback --passphrase '' --detach-sign "
		 "-o %s/%s.asc %s/content 2>%s/%s.err; rc=$?; "
		 "GNUPGHOME=$g gpgconf --kill all 2>/dev/null; exit $rc",
		 dir, tag, bed, tag, dir, tag, dir, dir, tag);
	run(cmd);
	snprintf(path, sizeof(path), "%s/%s.asc", dir, tag);
	slurp(path, sig);
}

static void
key_of(const char *tag, struct sm_blob *key)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/keys/%s.pgp", bed, tag);
	slurp(path, key);
}

static int
verify(const struct sm_blob *sig, const struct sm_blob *keys, size_t n,
       const char *addr, struct sm_pgp_signer *s, char *why, size_t whylen)
{
	*why = '\0';
	return sm_pgp_verify((const uint8_t *)content, sizeof(content) - 1,
			     sig->data, sig->len, keys, n, addr, s, why, whylen);
}

/*
 * A key that signed yesterday and was revoked since (the revocation in
 * its record, as published): the public key into KEY, the signature
 * into SIG.  gpg signs with no revoked key, so the order matters.
 */
static void
revoked_signer(struct sm_blob *key, struct sm_blob *sig)
{
	char cmd[4096], path[512], made[32];
	time_t t = time(NULL) - 86400;

	strftime(made, sizeof(made), "%Y%m%dT%H%M%S", gmtime(&t));
	snprintf(cmd, sizeof(cmd),
		 "g=%s/g-rev; mkdir -m 700 $g && "
		 "GNUPGHOME=$g gpg -q --batch --passphrase '' "
		 "--faked-system-time '%s!' --quick-gen-key "
		 "'Rev <rev@smilla.test>' ed25519 sign never 2>/dev/null && "
		 "GNUPGHOME=$g gpg -q --batch --yes --armor --pinentry-mode "
		 "loopback --passphrase '' --detach-sign -o %s/rev.asc "
		 "%s/content 2>/dev/null && "
		 "fpr=$(GNUPGHOME=$g gpg --batch --with-colons --list-keys "
		 "rev@smilla.test | awk -F: '$1 == \"fpr\" {print $10; exit}') && "
		 "GNUPGHOME=$g gpg -q --batch --import "
		 "$g/openpgp-revocs.d/$fpr.rev 2>/dev/null; "
		 "sed 's/^:-----BEGIN/-----BEGIN/' $g/openpgp-revocs.d/$fpr.rev "
		 ">$g/rev.asc && GNUPGHOME=$g gpg -q --batch --import $g/rev.asc "
		 "2>/dev/null; GNUPGHOME=$g gpg -q --batch --export "
		 "rev@smilla.test >%s/rev.pgp 2>/dev/null; rc=$?; GNUPGHOME=$g gpgconf "
		 "--kill all 2>/dev/null; exit $rc", dir, made, dir, dir, dir);
	run(cmd);
	snprintf(path, sizeof(path), "%s/rev.pgp", dir);
	slurp(path, key);
	snprintf(path, sizeof(path), "%s/rev.asc", dir);
	slurp(path, sig);
}

/*
 * A key made 400 days ago, valid for a year, that signed 300 days ago:
 * expired now.  Its public key into KEY, the signature into SIG.
 */
static void
expired_signer(struct sm_blob *key, struct sm_blob *sig)
{
	char cmd[4096], path[512], made[32], signed_at[32];
	time_t now = time(NULL), t;

	t = now - 400 * 86400;
	strftime(made, sizeof(made), "%Y%m%dT%H%M%S", gmtime(&t));
	t = now - 300 * 86400;
	strftime(signed_at, sizeof(signed_at), "%Y%m%dT%H%M%S", gmtime(&t));
	snprintf(cmd, sizeof(cmd),
		 "g=%s/g-old; mkdir -m 700 $g && "
		 "GNUPGHOME=$g gpg -q --batch --passphrase '' "
		 "--faked-system-time '%s!' --quick-gen-key "
		 "'Old <old@smilla.test>' ed25519 sign 1y 2>/dev/null && "
		 "GNUPGHOME=$g gpg -q --batch --yes --armor --pinentry-mode "
		 "loopback --passphrase '' --faked-system-time '%s!' "
		 "--detach-sign -o %s/old.asc %s/content 2>/dev/null && "
		 "GNUPGHOME=$g gpg -q --batch --export old@smilla.test "
		 ">%s/old.pgp; rc=$?; GNUPGHOME=$g gpgconf --kill all "
		 "2>/dev/null; exit $rc", dir, made, signed_at, dir, dir, dir);
	run(cmd);
	snprintf(path, sizeof(path), "%s/old.pgp", dir);
	slurp(path, key);
	snprintf(path, sizeof(path), "%s/old.asc", dir);
	slurp(path, sig);
}

/* keys/TAG.fpr of the bed into FPR (65 octets); "" when unreadable. */
static void
bed_fpr(const char *tag, char *fpr)
{
	char path[512];
	FILE *f;

	fpr[0] = '\0';
	snprintf(path, sizeof(path), "%s/keys/%s.fpr", bed, tag);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%64s", fpr) != 1)
			fpr[0] = '\0';
		fclose(f);
	}
}

int
main(void)
{
	struct sm_blob bob, rsa, revoked, wronguid, old, keys[2];
	struct sm_blob s_bob, s_rsa, s_revoked, s_wronguid, s_old;
	struct sm_pgp_signer who;
	char why[512], path[512], cmd[600], fpr[65] = "", other[65];
	FILE *f;
	uint8_t *changed;

	if ((bed = getenv("BED_DIR")) == NULL) {
		ok(0, "BED_DIR is set (run through tests/check.sh)");
		return done_testing();
	}
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/content", dir);
	if ((f = fopen(path, "wb")) == NULL)
		die("content");
	fwrite(content, 1, sizeof(content) - 1, f);
	fclose(f);
	key_of("bob", &bob);
	key_of("rsa", &rsa);
	key_of("wronguid", &wronguid);
	sign_with("bob", &s_bob);
	sign_with("rsa", &s_rsa);
	revoked_signer(&revoked, &s_revoked);
	sign_with("wronguid", &s_wronguid);
	expired_signer(&old, &s_old);

	is_int(verify(&s_bob, &bob, 1, "bob@smilla.test", &who, why,
		      sizeof(why)), 1, "bob's signature, bob's record: good");
	bed_fpr("bob", fpr);
	is_str(who.fpr, fpr, "  the signer is bob's primary key");
	ok(strlen(who.keyid) == 16, "  the signing key's ID (%s)", who.keyid);
	ok(who.created > time(NULL) - 3600 && who.created <= time(NULL),
	   "  made just now (%lld)", who.created);
	is_int(verify(&s_bob, &bob, 1, "Bob@SMILLA.test", &who, why,
		      sizeof(why)), 0,
	       "  for Bob@ (local part differs in case): no");
	is_int(verify(&s_bob, &bob, 1, "bob@SMILLA.TEST", &who, why,
		      sizeof(why)), 1, "  the domain in any case: good");
	keys[0] = rsa;
	keys[1] = bob;
	is_int(verify(&s_bob, keys, 2, "bob@smilla.test", &who, why,
		      sizeof(why)), 1, "  with two records, bob's second: good");

	changed = malloc(sizeof(content));
	memcpy(changed, content, sizeof(content));
	changed[sizeof(content) - 4] ^= 1;
	*why = '\0';
	is_int(sm_pgp_verify(changed, sizeof(content) - 1, s_bob.data,
			     s_bob.len, &bob, 1, "bob@smilla.test", &who, why,
			     sizeof(why)), 0, "one octet changed: no");
	ok(strncmp(why, "bad signature", 13) == 0, "  bad signature (%s)", why);
	is_str(who.fpr, fpr, "  the key that made it: bob's");
	free(changed);

	is_int(verify(&s_rsa, &bob, 1, "bob@smilla.test", &who, why,
		      sizeof(why)), 0, "rsa's signature for bob: no");
	ok(strncmp(why, "unknown key", 11) == 0, "  unknown key (%s)", why);
	bed_fpr("rsa", other);
	ok(*other && strcmp(who.fpr, other) == 0,
	   "  the key it names, not published: rsa's (%s)", who.fpr);
	is_int(verify(&s_revoked, &revoked, 1, "rev@smilla.test", &who, why,
		      sizeof(why)), 0,
	       "a signature by a key revoked since: no");
	ok(strncmp(why, "revoked", 7) == 0, "  revoked (%s)", why);
	ok(strlen(who.fpr) == 40, "  the revoked key's fingerprint (%s)",
	   who.fpr);
	is_int(verify(&s_wronguid, &wronguid, 1, "wronguid@smilla.test", &who,
		      why, sizeof(why)), 0,
	       "a key whose user ID is another address: no");
	ok(strncmp(why, "user ID does not match", 22) == 0, "  (%s)", why);
	ok(verify(&s_old, &old, 1, "old@smilla.test", &who, why,
		  sizeof(why)) == 1,
	   "a key that expired after it signed: good (%s)", why);

	{
		struct sm_blob cut = { s_bob.data, s_bob.len / 2 };

		ok(verify(&cut, &bob, 1, "bob@smilla.test", &who, why,
			  sizeof(why)) == -1,
		   "a cut-off signature: -1 (%s)", why);
	}
	{
		struct sm_blob junk = { (uint8_t *)"not a signature", 15 };

		is_int(verify(&junk, &bob, 1, "bob@smilla.test", &who, why,
			      sizeof(why)), -1, "no signature at all: -1");
	}
	is_int(verify(&s_bob, NULL, 0, "bob@smilla.test", &who, why,
		      sizeof(why)), 0, "no records: unknown key");

	free(bob.data);
	free(rsa.data);
	free(revoked.data);
	free(wronguid.data);
	free(old.data);
	free(s_bob.data);
	free(s_rsa.data);
	free(s_revoked.data);
	free(s_wronguid.data);
	free(s_old.data);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	return done_testing();
}
