/*
 * test_pgp - OpenPGP key checks (sm_pgp_usable) and encryption
 * (sm_pgp_encrypt) against keys made at test time: the test bed's
 * OPENPGPKEY fixtures (tests/bed/bed.sh, found through BED_DIR), a few
 * more made here with gpg (bare user ID, revoked user ID, expired
 * primary, an expired and a valid subkey), and bed keys cut up packet
 * by packet.  What we encrypt, gpg decrypts, each recipient with only
 * its own secret key, and says how: AES-256, MDC, no AEAD, no
 * compression, binary literal data.  Last, four threads check keys and
 * encrypt at once, as the milter's threads will.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgp.h"
#include "tap.h"
#include "util.h"

static const char *bed;
static char tmp[] = "/tmp/sm-pgp-XXXXXX";	/* short: gpg-agent sockets */

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

/* Run a shell command made like printf; 1 when it exits 0. */
__attribute__((format(printf, 1, 2))) static int
sh(const char *fmt, ...)
{
	char cmd[2048], full[2200];
	va_list ap;
	int rc, n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* gpg's chatter goes to a file beside its homes. */
	if (n < 0 || (size_t)n >= sizeof(cmd) - 64)
		die("command too long");
	snprintf(full, sizeof(full), "( %s ) 2>>%s/gpg.log", cmd, tmp);
	if ((rc = system(full)) != 0)
		printf("# exit %d: %s\n", rc, cmd);
	return rc == 0;
}

static struct sm_blob
file_blob(const char *path)
{
	struct sm_blob b;
	char why[256];

	if ((b.data = sm_read_file(path, 16 << 20, &b.len, why,
				   sizeof(why))) == NULL)
		die(why);
	return b;
}

/* keys/TAG.pgp of the bed (or of our own gpg, DIR tmp). */
static struct sm_blob
key_blob(const char *dir, const char *tag)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/keys/%s.pgp", dir, tag);
	return file_blob(path);
}

/* keys/TAG.fpr of the bed, without its newline. */
static void
key_fpr(const char *tag, char *buf, size_t len)
{
	char path[512];
	struct sm_blob b;

	snprintf(path, sizeof(path), "%s/keys/%s.fpr", bed, tag);
	b = file_blob(path);
	snprintf(buf, len, "%.*s", (int)strcspn((char *)b.data, "\n"),
		 (char *)b.data);
	free(b.data);
}

/* sm_pgp_usable's answer for BLOB and ADDR: 1, or 10 + the reason. */
static int
verdict(const struct sm_blob *blob, const char *addr, struct sm_pgp_check *c,
	char *why, size_t whylen)
{
	int rc = sm_pgp_usable(blob, addr, c, why, whylen);

	return rc == 0 ? 10 + (int)c->reason : rc;
}

#define USABLE 1
#define NOT(r) (10 + SM_PGP_##r)

static const char *
verdict_word(int v)
{
	return v == USABLE ? "usable" : v >= 10 ?
	       sm_pgp_unusable_word((enum sm_pgp_unusable)(v - 10)) : "error";
}

static void
test_words(void)
{
	static const char *const want[] = { "expired", "revoked",
		"no encryption key", "user ID does not match", "malformed" };
	size_t i;

	is_int(SM_PGP_NUNUSABLE, 5, "five reasons");
	for (i = 0; i < SM_PGP_NUNUSABLE; i++)
		is_str(sm_pgp_unusable_word((enum sm_pgp_unusable)i), want[i],
		       "reason word");
	is_int(sm_name_code(sm_pgp_unusable_names, "revoked"), SM_PGP_REVOKED,
	       "word to code");
	is_str(sm_pgp_unusable_word(SM_PGP_NUNUSABLE), "?", "unknown reason");
}

/* A key (keys/TAG.pgp), an address, and what sm_pgp_usable must say. */
struct key_case {
	const char *tag, *addr;
	int want;
};

/* Until when a usable key stays usable: never, or its subkey's end. */
static void
test_valid_till(void)
{
	struct sm_blob k = key_blob(bed, "bob");
	struct sm_pgp_check c;
	char why[256];
	time_t now = time(NULL);
	int rc;

	ok(sm_pgp_usable(&k, "bob@smilla.test", &c, why, sizeof(why)) == 1 &&
	   c.valid_till == UINT64_MAX, "bob's key never expires: UINT64_MAX");
	free(k.data);
	k = key_blob(bed, "soon");
	rc = sm_pgp_usable(&k, "soon@smilla.test", &c, why, sizeof(why));
	ok(rc == 1 && c.valid_till > (uint64_t)now + 9 * 86400 &&
	   c.valid_till <= (uint64_t)now + 10 * 86400,
	   "soon's encryption subkey ends in 10 days: valid_till %llu",
	   (unsigned long long)c.valid_till);
	free(k.data);
	k = key_blob(bed, "expired");
	ok(sm_pgp_usable(&k, "expired@smilla.test", &c, why, sizeof(why)) == 0 &&
	   c.valid_till == 0, "an unusable key: valid_till 0");
	free(k.data);
}

/* The bed's fixtures, one by one, as the milter will ask. */
static void
test_bed_keys(void)
{
	static const struct key_case cases[] = {
		{ "bob", "bob@smilla.test", USABLE },		/* cv25519 */
		{ "rsa", "rsa@smilla.test", USABLE },		/* RSA-3072 */
		{ "expired", "expired@smilla.test", NOT(EXPIRED) },
		{ "soon", "soon@smilla.test", USABLE },
		{ "revoked", "revoked@smilla.test", NOT(REVOKED) },
		{ "signonly", "signonly@smilla.test", NOT(NO_ENCRYPTION_KEY) },
		{ "wronguid", "wronguid@smilla.test", NOT(UID_MISMATCH) },
		{ "carol", "carol@smilla.test", USABLE },
		{ "upper", "Upper@smilla.test", USABLE },
		/* The local part is compared exactly: the lowercased
		   address the lookup used is not the user ID's. */
		{ "upper", "upper@smilla.test", NOT(UID_MISMATCH) },
		/* DNSSEC is not this module's business. */
		{ "insecure", "pgp@insecure.smilla.test", USABLE },
		{ "bogus", "pgp@bogus.smilla.test", USABLE },
		/* A good key for someone else. */
		{ "bob", "carol@smilla.test", NOT(UID_MISMATCH) },
	};
	struct sm_pgp_check c;
	char why[256], fpr[80];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sm_blob k = key_blob(bed, cases[i].tag);
		int v = verdict(&k, cases[i].addr, &c, why, sizeof(why));

		if (!ok(v == cases[i].want, "%s for %s: %s (%s)",
			cases[i].tag, cases[i].addr, verdict_word(v),
			v == USABLE ? "" : why))
			printf("#   want %s\n", verdict_word(cases[i].want));
		key_fpr(cases[i].tag, fpr, sizeof(fpr));
		is_str(c.fpr, fpr, "  the primary's fingerprint, as gpg's");
		free(k.data);
	}
	is_int((long)strlen(c.fpr), 40, "a v4 fingerprint has 40 digits");
	test_valid_till();
}

/* User IDs: the domain without regard to case, the local part exactly. */
static void
test_uid_compare(void)
{
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
		{ "bob@smilla.test", USABLE },
		{ "bob@SMILLA.TEST", USABLE },
		{ "bob@Smilla.Test", USABLE },
		{ "Bob@smilla.test", NOT(UID_MISMATCH) },
		{ "BOB@smilla.test", NOT(UID_MISMATCH) },
		{ "bob@smilla.tes", NOT(UID_MISMATCH) },
		{ "bob@smilla.test.", NOT(UID_MISMATCH) },
		{ "ob@smilla.test", NOT(UID_MISMATCH) },
		{ "xbob@smilla.test", NOT(UID_MISMATCH) },
		{ "Bob <bob@smilla.test>", NOT(UID_MISMATCH) }, /* the uid */
		{ "bob", NOT(UID_MISMATCH) },
		{ "", NOT(UID_MISMATCH) },
	};
	struct sm_blob k = key_blob(bed, "bob");
	struct sm_pgp_check c;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int v = verdict(&k, cases[i].addr, &c, why, sizeof(why));

		ok(v == cases[i].want, "bob's key for \"%s\": %s",
		   cases[i].addr, verdict_word(v));
	}
	free(k.data);
}

/* ------------------------------------------------------------ packet surgery */

struct pkt {
	size_t off, len;	/* the whole packet, header included */
	unsigned tag;
};

/* Split B into packets (no partial lengths: keys have none). */
static size_t
packets(const struct sm_blob *b, struct pkt *p, size_t max)
{
	size_t at = 0, n = 0;

	while (at < b->len && n < max) {
		const uint8_t *d = b->data + at;
		size_t h, body;

		if ((d[0] & 0x40) == 0) {
			static const size_t octets[3] = { 1, 2, 4 };
			size_t k, o = octets[d[0] & 3];

			p[n].tag = (d[0] >> 2) & 15;
			for (body = 0, k = 0; k < o; k++)
				body = body << 8 | d[1 + k];
			h = 1 + o;
		} else {
			p[n].tag = d[0] & 63;
			if (d[1] < 192) {
				body = d[1];
				h = 2;
			} else if (d[1] < 224) {
				body = ((size_t)(d[1] - 192) << 8) + d[2] + 192;
				h = 3;
			} else {
				body = (size_t)d[2] << 24 | (size_t)d[3] << 16 |
				       (size_t)d[4] << 8 | d[5];
				h = 6;
			}
		}
		p[n].off = at;
		p[n].len = h + body;
		at += h + body;
		n++;
	}
	if (at != b->len)
		die("key packets do not add up");
	return n;
}

/* B without packet DROP (an index into P). */
static struct sm_blob
without(const struct sm_blob *b, const struct pkt *p, size_t drop)
{
	struct sm_blob r;

	r.len = b->len - p[drop].len;
	if ((r.data = malloc(r.len ? r.len : 1)) == NULL)
		die("out of memory");
	memcpy(r.data, b->data, p[drop].off);
	memcpy(r.data + p[drop].off, b->data + p[drop].off + p[drop].len,
	       b->len - p[drop].off - p[drop].len);
	return r;
}

static struct sm_blob
joined(const struct sm_blob *a, const void *more, size_t len)
{
	struct sm_blob r;

	r.len = a->len + len;
	if ((r.data = malloc(r.len)) == NULL)
		die("out of memory");
	memcpy(r.data, a->data, a->len);
	memcpy(r.data + a->len, more, len);
	return r;
}

static void
expect(const struct sm_blob *k, const char *addr, int want, const char *what)
{
	struct sm_pgp_check c;
	char why[256];
	int v = verdict(k, addr, &c, why, sizeof(why));

	if (!ok(v == want, "%s: %s (%s)", what, verdict_word(v),
		v == USABLE ? "" : why))
		printf("#   want %s\n", verdict_word(want));
}

/* Malformed, truncated, forged: bob's key (and others) cut up. */
static void
test_malformed(void)
{
	static const uint8_t junk[] = { 0x01, 0x02, 0x03 };
	struct sm_blob bob = key_blob(bed, "bob"), rsa = key_blob(bed, "rsa");
	struct sm_blob b, empty = { (uint8_t *)"", 0 };
	struct pkt p[16];
	char path[512], why[256];
	size_t n = packets(&bob, p, 16), i, cut, inside = 0, bad = 0;
	struct sm_pgp_check c;

	ok(n == 5 && p[0].tag == 6 && p[1].tag == 13 && p[2].tag == 2 &&
	   p[3].tag == 14 && p[4].tag == 2,
	   "bob's key: public key, user ID, signature, subkey, signature");
	expect(&empty, "bob@smilla.test", NOT(MALFORMED), "empty record");
	/* Every cut: never usable; inside a packet, malformed. */
	for (cut = 0; cut < bob.len; cut++) {
		int at_boundary = 0, v;

		b.data = bob.data;
		b.len = cut;
		for (i = 0; i < n; i++)
			at_boundary |= p[i].off == cut;
		v = verdict(&b, "bob@smilla.test", &c, why, sizeof(why));
		if (!at_boundary) {
			inside++;
			bad += v != NOT(MALFORMED);
		} else {
			bad += v == USABLE || v < 0;
		}
	}
	ok(bad == 0, "bob's key cut at each of %zu octets: never usable, "
	   "malformed in the %zu cuts inside a packet", bob.len, inside);
	b.len = p[3].off;
	expect(&b, "bob@smilla.test", NOT(NO_ENCRYPTION_KEY),
	       "cut before the subkey");
	b.len = p[2].off;
	expect(&b, "bob@smilla.test", NOT(MALFORMED),
	       "cut before the user ID's self-signature");

	b = without(&bob, p, 4);
	expect(&b, "bob@smilla.test", NOT(NO_ENCRYPTION_KEY),
	       "subkey without its binding signature");
	free(b.data);
	/* librnp keeps the primary valid by the subkey's binding: the
	   user ID is what fails. */
	b = without(&bob, p, 2);
	expect(&b, "bob@smilla.test", NOT(UID_MISMATCH),
	       "user ID without its self-signature");
	free(b.data);

	/* A forged user ID: the same length, the self-signature no longer
	   over it. */
	b = joined(&bob, "", 0);
	if (memmem(b.data + p[1].off, p[1].len, "bob@", 4) == NULL)
		die("bob's user ID");
	memcpy(memmem(b.data + p[1].off, p[1].len, "bob@", 4), "eve@", 4);
	expect(&b, "eve@smilla.test", NOT(UID_MISMATCH),
	       "user ID changed to eve@: no valid self-signature");
	expect(&b, "bob@smilla.test", NOT(UID_MISMATCH), "  nor for bob@");
	/* A flipped bit in the subkey's binding signature. */
	memcpy(b.data + p[1].off, bob.data + p[1].off, p[1].len);
	b.data[p[4].off + p[4].len - 3] ^= 0x01;
	expect(&b, "bob@smilla.test", NOT(NO_ENCRYPTION_KEY),
	       "subkey binding signature corrupted");
	free(b.data);

	b = joined(&bob, junk, sizeof(junk));
	expect(&b, "bob@smilla.test", NOT(MALFORMED), "trailing octets");
	free(b.data);
	b = joined(&bob, rsa.data, rsa.len);
	expect(&b, "bob@smilla.test", NOT(MALFORMED), "two keys in a record");
	free(b.data);
	b = joined(&bob, rsa.data, 1);
	expect(&b, "bob@smilla.test", NOT(MALFORMED),
	       "a packet header cut short after the key");
	free(b.data);
	b.data = bob.data + p[1].off;
	b.len = bob.len - p[1].off;
	expect(&b, "bob@smilla.test", NOT(MALFORMED), "no public key packet");

	snprintf(path, sizeof(path), "%s/keys/bob.asc", bed);
	b = file_blob(path);
	expect(&b, "bob@smilla.test", NOT(MALFORMED), "ASCII armor");
	free(b.data);
	snprintf(path, sizeof(path), "%s/keys/bob-secret.pgp", bed);
	b = file_blob(path);
	expect(&b, "bob@smilla.test", NOT(MALFORMED), "secret key");
	free(b.data);
	b.data = (uint8_t *)"\x99\x00\x03\x04\x00\x00";	/* v4, no time */
	b.len = 6;
	expect(&b, "bob@smilla.test", NOT(MALFORMED),
	       "a public key packet cut short inside");
	free(bob.data);
	free(rsa.data);
}

/* ------------------------------------------------------------ keys of our own */

/* gpg in our key-making home, without a terminal or passphrase. */
#define GPG "GNUPGHOME=%s/gen gpg --batch --no-tty --pinentry-mode loopback " \
	    "--passphrase '' -q"

/*
 * Keys the bed has no use for: made an hour ago (gpg dates a signature
 * past the one before it; librnp takes one from the future as
 * invalid), or 400 days ago for the expired ones.  A subkey is added a
 * minute after its primary: gpg's faked clock runs from its start, so
 * on a busy machine a primary can be dated a second late, and a subkey
 * older than its primary is a "Time conflict".
 */
static int
make_keys(long now)
{
	long hour = now - 3600, old = now - 400L * 86400;

	return sh("mkdir -m 700 %s/gen %s/keys", tmp, tmp) &&
	       /* A bare address for a user ID. */
	       sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "bare@smilla.test ed25519 cert,sign never", tmp, hour) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k =bare@smilla.test | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr never", tmp,
		  hour + 60, tmp) &&
	       sh(GPG " --export =bare@smilla.test > %s/keys/bare.pgp", tmp,
		  tmp) &&
	       /* Two user IDs, the first revoked. */
	       sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "'Old <old@smilla.test>' ed25519 cert,sign never", tmp,
		  hour) &&
	       sh(GPG " --faked-system-time %ld --quick-add-uid "
		  "'=Old <old@smilla.test>' 'New <new@smilla.test>'", tmp,
		  hour + 60) &&
	       sh(GPG " --faked-system-time %ld --quick-revoke-uid "
		  "'=New <new@smilla.test>' 'Old <old@smilla.test>'", tmp,
		  hour + 120) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=New <new@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr never", tmp,
		  hour + 180, tmp) &&
	       sh(GPG " --export '=New <new@smilla.test>' > %s/keys/revuid.pgp",
		  tmp, tmp) &&
	       /* The primary expired (a year from 400 days ago). */
	       sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "'Gone <gone@smilla.test>' ed25519 cert,sign 1y", tmp, old) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=Gone <gone@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr never", tmp,
		  old + 60, tmp) &&
	       sh(GPG " --export '=Gone <gone@smilla.test>' > %s/keys/gone.pgp",
		  tmp, tmp) &&
	       /* An expired encryption subkey and a valid one. */
	       sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "'Two <two@smilla.test>' ed25519 cert,sign never", tmp,
		  old) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=Two <two@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr 1y", tmp,
		  old + 60, tmp) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=Two <two@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr never", tmp, hour,
		  tmp) &&
	       sh(GPG " --export '=Two <two@smilla.test>' > %s/keys/two.pgp",
		  tmp, tmp) &&
	       sh(GPG " --pinentry-mode loopback --export-secret-keys "
		  "'=Two <two@smilla.test>' > %s/keys/two-secret.pgp", tmp,
		  tmp);
}

static void
test_own_keys(void)
{
	static const struct key_case cases[] = {
		{ "bare", "bare@smilla.test", USABLE },	/* bare address */
		{ "bare", "bare@SMILLA.test", USABLE },
		{ "bare", "Bare@smilla.test", NOT(UID_MISMATCH) },
		{ "revuid", "new@smilla.test", USABLE },
		{ "revuid", "old@smilla.test", NOT(REVOKED) },
		{ "gone", "gone@smilla.test", NOT(EXPIRED) },
		{ "two", "two@smilla.test", USABLE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sm_blob k = key_blob(tmp, cases[i].tag);
		char what[128];

		snprintf(what, sizeof(what), "%s for %s", cases[i].tag,
			 cases[i].addr);
		expect(&k, cases[i].addr, cases[i].want, what);
		free(k.data);
	}
}

/* ------------------------------------------------------------ encryption */

/*
 * gpg with TAG's secret key alone (keys/TAG-secret.pgp of DIR), in a
 * home of its own made on first use: returns the home.
 */
static const char *
home_of(const char *dir, const char *tag)
{
	static char homes[8][600];
	static size_t n;
	char h[600];
	size_t i;

	snprintf(h, sizeof(h), "%s/home-%s", tmp, tag);
	for (i = 0; i < n; i++)
		if (strcmp(homes[i], h) == 0)
			return homes[i];
	if (n == 8 || !sh("mkdir -m 700 %s && GNUPGHOME=%s gpg --batch -q "
			  "--import %s/keys/%s-secret.pgp 2>/dev/null",
			  h, h, dir, tag))
		die("cannot make a gpg home");
	snprintf(homes[n], sizeof(homes[n]), "%s", h);
	return homes[n++];
}

/* Does gpg with TAG's key alone decrypt FILE to exactly WANT (LEN)? */
static int
decrypts(const char *dir, const char *tag, const char *file,
	 const uint8_t *want, size_t len, char *status, size_t slen)
{
	const char *h = home_of(dir, tag);
	char out[600], st[600];
	struct sm_blob got, s;
	int same;

	snprintf(out, sizeof(out), "%s/plain-%s", tmp, tag);
	snprintf(st, sizeof(st), "%s/status-%s", tmp, tag);
	if (!sh("rm -f %s && GNUPGHOME=%s gpg --batch -q --status-file %s "
		"--output %s --decrypt %s 2>/dev/null",
		out, h, st, out, file))
		return 0;
	got = file_blob(out);
	s = file_blob(st);
	snprintf(status, slen, "%s", (char *)s.data);
	same = got.len == len && memcmp(got.data, want, len) == 0;
	free(got.data);
	free(s.data);
	return same;
}

/* Encrypt ENTITY (LEN) to the bed's keys TAGS (NULL-ended) into FILE. */
static int
encrypt_to(const char *dir, const char *const *tags, const uint8_t *entity,
	   size_t len, const char *file, char *why, size_t whylen)
{
	struct sm_blob keys[8];
	size_t n = 0, i;
	FILE *in = fmemopen((void *)entity, len, "r"), *out = fopen(file, "w");
	int rc;

	why[0] = '\0';

	if (in == NULL || out == NULL)
		die("fmemopen/fopen");
	for (; tags[n] != NULL; n++)
		keys[n] = key_blob(dir, tags[n]);
	rc = sm_pgp_encrypt(in, keys, n, out, why, whylen);
	fclose(in);
	fclose(out);
	for (i = 0; i < n; i++)
		free(keys[i].data);
	return rc;
}

/* gpg --list-packets of FILE with TAG's key, malloc'd. */
static char *
list_packets(const char *dir, const char *tag, const char *file)
{
	char out[600];
	struct sm_blob b;

	snprintf(out, sizeof(out), "%s/packets", tmp);
	if (!sh("GNUPGHOME=%s gpg --batch --list-packets %s > %s 2>/dev/null",
		home_of(dir, tag), file, out))
		return strdup("");
	b = file_blob(out);
	return (char *)b.data;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

/*
 * The armor: one PGP MESSAGE, "\n" line ends, and (WALK) one that
 * sm_pgp_encrypted takes for an encrypted message.  Not over 100 KB
 * or so: there librnp 0.16.3's armor reader memcpy()s overlapping
 * bytes (memmove upstream), which valgrind reports.
 */
static void
check_armor(const char *file, const char *what, int walk)
{
	struct sm_blob b = file_blob(file);
	char why[256] = "";

	ok(b.len > 60 &&
		   memcmp(b.data, "-----BEGIN PGP MESSAGE-----\n", 28) == 0 &&
		   memcmp(b.data + b.len - 26, "-----END PGP MESSAGE-----\n",
			  26) == 0,
	   "%s: one armored PGP MESSAGE", what);
	ok(memchr(b.data, '\r', b.len) == NULL, "%s: lines end \"\\n\"", what);
	if (walk)
		ok(sm_pgp_encrypted(b.data, b.len, why, sizeof(why)) == 1,
		   "%s: sm_pgp_encrypted accepts it %s", what, why);
	free(b.data);
}

/* An entity with CRLF lines, 8-bit octets and a line of every octet. */
static uint8_t *
entity(size_t len)
{
	static const char head[] = "Content-Type: application/octet-stream\r\n"
				   "Content-Transfer-Encoding: binary\r\n\r\n"
				   "Gr\xc3\xbc\xc3\x9f" "e\r\n";
	uint8_t *e = malloc(len);
	size_t i;
	uint32_t x = 12345;

	if (e == NULL || len < sizeof(head) + 256)
		die("entity");
	memcpy(e, head, sizeof(head) - 1);
	for (i = 0; i < 256; i++)
		e[sizeof(head) - 1 + i] = (uint8_t)i;
	for (i = sizeof(head) - 1 + 256; i < len; i++) {
		x = x * 1103515245 + 12345;
		e[i] = (i % 77 == 75) ? '\r' : (i % 77 == 76) ? '\n' :
					 (uint8_t)(x >> 16);
	}
	return e;
}

static void
test_encrypt(void)
{
	static const char *const bob[] = { "bob", NULL };
	static const char *const rsa[] = { "rsa", NULL };
	static const char *const three[] = { "bob", "rsa", "carol", NULL };
	const size_t small = 600, big = 3 << 20;
	uint8_t *e = entity(big);
	char file[600], why[256], status[4096], *pk;
	size_t i;

	snprintf(file, sizeof(file), "%s/msg.asc", tmp);

	/* Small, to one cv25519 key. */
	ok(encrypt_to(bed, bob, e, small, file, why, sizeof(why)) == 0,
	   "small entity encrypted to bob %s", why);
	check_armor(file, "to bob", 1);
	ok(decrypts(bed, "bob", file, e, small, status, sizeof(status)),
	   "bob's gpg decrypts it, octet for octet");
	/* gpg's DECRYPTION_INFO: MDC method 2 (SHA-1), cipher 9 (AES-256),
	   AEAD 0 (none). */
	ok(strstr(status, "[GNUPG:] DECRYPTION_INFO 2 9 0\n") != NULL,
	   "AES-256 with MDC, no AEAD");
	pk = list_packets(bed, "bob", file);
	ok(count(pk, ":pubkey enc packet: version 3, algo 18") == 1 &&
		   count(pk, ":pubkey enc packet:") == 1,
	   "one PKESK v3, to the ECDH subkey");
	ok(strstr(pk, ":encrypted data packet:") != NULL &&
		   strstr(pk, "mdc_method: 2") != NULL,
	   "SEIPD v1 with MDC");
	ok(strstr(pk, ":compressed packet:") == NULL &&
		   strstr(pk, ":aead encrypted packet:") == NULL,
	   "no compression, no AEAD packet");
	ok(strstr(pk, ":literal data packet:\n\tmode b ") != NULL,
	   "binary literal data");
	free(pk);

	/* Small, to the RSA key: its primary encrypts. */
	ok(encrypt_to(bed, rsa, e, small, file, why, sizeof(why)) == 0,
	   "small entity encrypted to the RSA key %s", why);
	check_armor(file, "to the RSA key", 1);
	ok(decrypts(bed, "rsa", file, e, small, status, sizeof(status)),
	   "the RSA key's gpg decrypts it");
	pk = list_packets(bed, "rsa", file);
	ok(count(pk, ":pubkey enc packet: version 3, algo 1,") == 1,
	   "one PKESK to the RSA key");
	free(pk);

	/* Three megabytes to three keys: each decrypts it alone. */
	ok(encrypt_to(bed, three, e, big, file, why, sizeof(why)) == 0,
	   "3 MB encrypted to bob, rsa and carol %s", why);
	check_armor(file, "to three", 0);
	for (i = 0; three[i] != NULL; i++)
		ok(decrypts(bed, three[i], file, e, big, status,
			    sizeof(status)),
		   "%s's gpg alone decrypts the 3 MB, octet for octet",
		   three[i]);
	pk = list_packets(bed, "carol", file);
	is_int((long)count(pk, ":pubkey enc packet:"), 3, "three PKESKs");
	free(pk);
	free(e);
}

/* The key with an expired and a valid subkey: only the valid one. */
static void
test_encrypt_subkeys(void)
{
	static const char *const two[] = { "two", NULL };
	static const uint8_t msg[] = "Subject: two\r\n\r\nhi\r\n";
	char file[600], why[256], status[4096], *pk;

	snprintf(file, sizeof(file), "%s/two.asc", tmp);
	ok(encrypt_to(tmp, two, msg, sizeof(msg) - 1, file, why,
		      sizeof(why)) == 0,
	   "encrypted to the key with an expired subkey %s", why);
	pk = list_packets(tmp, "two", file);
	is_int((long)count(pk, ":pubkey enc packet:"), 1,
	       "one PKESK: the valid subkey only");
	free(pk);
	ok(decrypts(tmp, "two", file, msg, sizeof(msg) - 1, status,
		    sizeof(status)),
	   "and its owner decrypts it");
}

/* What must fail, and say why. */
static void
test_encrypt_errors(void)
{
	static const struct {
		const char *tag, *why;
	} cases[] = {
		{ "signonly", "no key allowed to encrypt" },
		{ "revoked", "revoked" },
		{ "expired", "expired" },
	};
	struct sm_blob keys[2];
	char file[600], why[256];
	FILE *in, *out;
	size_t i;

	snprintf(file, sizeof(file), "%s/fail.asc", tmp);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *tags[] = { "bob", cases[i].tag, NULL };

		why[0] = '\0';
		ok(encrypt_to(bed, tags, (const uint8_t *)"x", 1, file, why,
			      sizeof(why)) == -1 &&
			   strstr(why, cases[i].why) != NULL,
		   "bob and %s: the whole message fails: %s", cases[i].tag,
		   why);
	}
	in = fmemopen((void *)"x", 1, "r");
	out = fopen(file, "w");
	ok(sm_pgp_encrypt(in, keys, 0, out, why, sizeof(why)) == -1,
	   "no key: %s", why);
	keys[0].data = (uint8_t *)"\x99\x00";
	keys[0].len = 2;
	ok(sm_pgp_encrypt(in, keys, 1, out, why, sizeof(why)) == -1,
	   "a malformed key: %s", why);
	fclose(in);
	fclose(out);

	/* Reading fails: IN is open for writing only. */
	keys[0] = key_blob(bed, "bob");
	in = fopen(file, "w");
	out = fopen("/dev/null", "w");
	ok(sm_pgp_encrypt(in, keys, 1, out, why, sizeof(why)) == -1,
	   "a read error: %s", why);
	fclose(in);
	fclose(out);
	/* Writing fails: OUT is full. */
	in = fmemopen((void *)"x", 1, "r");
	out = fopen("/dev/full", "w");
	ok(sm_pgp_encrypt(in, keys, 1, out, why, sizeof(why)) == -1,
	   "a write error: %s", why);
	fclose(in);
	fclose(out);
	free(keys[0].data);
}

/* ------------------------------------------------------------ kept */

/*
 * Keys that expire MARGIN seconds from NOW (made an hour ago, valid an
 * hour and MARGIN seconds): subN@ with an expiring encryption subkey,
 * priN@ with an expiring primary.  1 when gpg made them.
 */
static int
make_soon_keys(long now, int margin)
{
	long hour = now - 3600;
	int secs = 3600 + margin;

	/* Each subkey a minute after its primary (see make_keys). */
	return sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "'Sub <sub%d@smilla.test>' ed25519 cert,sign never", tmp,
		  hour - 60, margin) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=Sub <sub%d@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr seconds=%d", tmp,
		  hour, tmp, margin, secs) &&
	       sh(GPG " --export '=Sub <sub%d@smilla.test>' > %s/keys/sub%d.pgp",
		  tmp, margin, tmp, margin) &&
	       sh(GPG " --faked-system-time %ld --quick-gen-key "
		  "'Pri <pri%d@smilla.test>' ed25519 cert,sign seconds=%d", tmp,
		  hour, margin, secs) &&
	       sh(GPG " --faked-system-time %ld --quick-add-key $(" GPG
		  " --with-colons -k '=Pri <pri%d@smilla.test>' | awk -F: "
		  "'/^fpr/ {print $10; exit}') cv25519 encr never", tmp,
		  hour + 60, tmp, margin) &&
	       sh(GPG " --export '=Pri <pri%d@smilla.test>' > %s/keys/pri%d.pgp",
		  tmp, margin, tmp, margin);
}

/*
 * The context a record was imported into is kept for the next call,
 * and librnp decided "expired" when it imported: a key that expires
 * while its context is kept must be expired from that moment on, for
 * the check and for encryption.  Keys that expire a few seconds from
 * now are checked (and kept), then checked again once they expired.
 * When gpg was too slow for the margin, once more with a wider one.
 */
static void
test_expiry_while_kept(void)
{
	static const int margins[] = { 5, 30 };
	char tag[2][16], addr[2][64], why[256], file[600];
	struct sm_blob k[2];
	long until = 0;
	size_t m, i;

	for (m = 0; m < sizeof(margins) / sizeof(margins[0]); m++) {
		long now = (long)time(NULL);

		if (!make_soon_keys(now, margins[m])) {
			ok(0, "gpg made keys expiring in %d s", margins[m]);
			return;
		}
		until = now + margins[m];
		if ((long)time(NULL) < until - 2)
			break;
		printf("# gpg took longer than %d s, again\n", margins[m]);
	}
	if (!ok(m < sizeof(margins) / sizeof(margins[0]),
		"keys made with time to spare before they expire"))
		return;
	for (i = 0; i < 2; i++) {
		snprintf(tag[i], sizeof(tag[i]), "%s%d", i ? "pri" : "sub",
			 margins[m]);
		snprintf(addr[i], sizeof(addr[i]), "%s@smilla.test", tag[i]);
		k[i] = key_blob(tmp, tag[i]);
		expect(&k[i], addr[i], USABLE, "expiring soon, not yet");
	}
	while ((long)time(NULL) <= until)
		sleep(1);
	snprintf(file, sizeof(file), "%s/soon.asc", tmp);
	for (i = 0; i < 2; i++) {
		FILE *in = fmemopen((void *)"x", 1, "r"), *out = fopen(file, "w");

		expect(&k[i], addr[i], NOT(EXPIRED), i ? "primary expired "
		       "while kept" : "encryption subkey expired while kept");
		why[0] = '\0';
		ok(in && out && sm_pgp_encrypt(in, &k[i], 1, out, why,
					       sizeof(why)) == -1 &&
			   strstr(why, "expired") != NULL,
		   "no encryption to it either: %s", why);
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		free(k[i].data);
	}
}

/* ------------------------------------------------------------ threads */

struct worker {
	struct sm_blob keys[2];	/* bob, expired */
	int bad;
};

/* What a milter thread does: check keys, encrypt, again and again. */
static void *
work(void *arg)
{
	static const char msg[] = "Subject: threads\r\n\r\nhi\r\n";
	struct worker *w = arg;
	struct sm_pgp_check c;
	char why[256], *out;
	size_t len, i;

	for (i = 0; i < 20; i++) {
		FILE *in = fmemopen((void *)msg, sizeof(msg) - 1, "r");
		FILE *o = open_memstream(&out, &len);

		if (sm_pgp_usable(&w->keys[0], "bob@smilla.test", &c, why,
				  sizeof(why)) != 1 ||
		    sm_pgp_usable(&w->keys[1], "expired@smilla.test", &c, why,
				  sizeof(why)) != 0 ||
		    c.reason != SM_PGP_EXPIRED ||
		    sm_pgp_encrypt(in, w->keys, 1, o, why, sizeof(why)) != 0)
			w->bad++;
		fclose(in);
		fclose(o);
		if (!sm_pgp_encrypted((uint8_t *)out, len, why, sizeof(why)))
			w->bad++;
		free(out);
	}
	return NULL;
}

/* Four threads at once, each with its own keys: no shared librnp state. */
static void
test_threads(void)
{
	struct worker w[4];
	pthread_t t[4];
	size_t i, started = 0;
	int bad = 0;

	for (i = 0; i < 4; i++) {
		w[i].keys[0] = key_blob(bed, "bob");
		w[i].keys[1] = key_blob(bed, "expired");
		w[i].bad = 0;
	}
	for (i = 0; i < 4; i++)
		started += pthread_create(&t[i], NULL, work, &w[i]) == 0;
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++) {
		bad += w[i].bad;
		free(w[i].keys[0].data);
		free(w[i].keys[1].data);
	}
	ok(started == 4 && bad == 0, "4 threads checking and encrypting at "
	   "once: %d wrong answers", bad);
}

int
main(void)
{
	long now = (long)time(NULL);

	test_words();
	if ((bed = getenv("BED_DIR")) == NULL) {
		ok(0, "BED_DIR is set (run through tests/check.sh)");
		return done_testing();
	}
	if (mkdtemp(tmp) == NULL)
		die("mkdtemp");
	test_bed_keys();
	test_uid_compare();
	test_malformed();
	if (ok(make_keys(now), "gpg made our own keys"))
		test_own_keys();
	test_encrypt();
	if (ok(sh("test -s %s/keys/two-secret.pgp", tmp),
	       "the key with two subkeys is there"))
		test_encrypt_subkeys();
	test_encrypt_errors();
	test_expiry_while_kept();
	test_threads();
	sm_pgp_forget();
	/* No agent may outlive the test. */
	sh("for h in %s/gen %s/home-*; do [ -d \"$h\" ] && "
	   "GNUPGHOME=$h gpgconf --kill all; done; rm -rf %s", tmp, tmp, tmp);
	return done_testing();
}
