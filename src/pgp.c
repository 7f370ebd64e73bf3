/*
 * pgp.c - OpenPGP keys and encryption with librnp, without a key ring
 * on disk or an agent.  The records a call works on are imported into
 * an in-memory FFI of their own, which only that call uses: taken from
 * the ring cache below (ring_take) and given back (ring_give), so no
 * librnp state is ever used by two threads at once.  The contract is
 * pgp.h; librnp types stay in here.
 *
 *   sm_pgp_export_public(in, len, addr, out, why, whylen)
 *   sm_pgp_describe(in, len, buf, buflen)
 *   sm_pgp_usable(key, addr, res, why, whylen)
 *	1 when mail to ADDR can be encrypted to the OPENPGPKEY RDATA
 *	KEY, 0 with a reason word (sm_pgp_unusable_word) and details,
 *	-1 out of memory.  librnp checks signatures and reports states
 *	(valid, revoked, expired, usage flags); which states make a
 *	recipient, and the user ID, are decided here.
 *   sm_pgp_encrypt(in, keys, n, out, why, whylen)
 *	stream IN through librnp's encryption (callback input and
 *	output: nothing is held but its buffers) into armor on OUT.
 *   sm_pgp_encrypted(armored, len, why, whylen)
 *	1 when ARMORED is one armored PGP MESSAGE holding an encrypted
 *	message: librnp removes the armor (and checks its checksum),
 *	then the packet framing is walked here.
 *   sm_pgp_encrypted_packets(bin, len, why, whylen)
 *	the walk alone, on binary packets.
 *   sm_pgp_verify(content, clen, sig, slen, keys, n, addr, signer, ...)
 *	a detached signature by one of the sender's published keys.
 *
 * Why a framing walk of our own: librnp 0.16 tells the packet sequence
 * only as a JSON or text dump (rnp_dump_packets_to_json/_output), which
 * would need a second parser (json-c is not a dependency) over text
 * meant for people, and rnp_op_verify without keys fails the same way
 * for an encrypted message and for garbage.  Tags and lengths (RFC 4880
 * section 4.2) are all the test needs: no key, no decryption, no crypto.
 * The same walk holds an OPENPGPKEY record to one transferable public
 * key before librnp sees it (public_key_packets): librnp would also
 * import armor, secret keys and key rings, and skip what follows.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "pgp.h"

/*
 * librnp's crypto library (Botan) sets up its secure memory pool on
 * first use, in a C++ static whose guard race checkers (helgrind)
 * cannot see.  Done once here under a mutex (which they do see; they
 * do not see pthread_once either) before any thread's real work, every
 * later use is ordered after it.  Uncontended, the mutex costs nothing
 * next to an FFI.
 */
static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static int warm;

static void
warm_up(void)
{
	rnp_ffi_t ffi = NULL;

	pthread_mutex_lock(&warm_lock);
	if (!warm && rnp_ffi_create(&ffi, "GPG", "GPG") == RNP_SUCCESS) {
		rnp_ffi_destroy(ffi);
		warm = 1;
	}
	pthread_mutex_unlock(&warm_lock);
}

/* A new in-memory FFI of our own (0), or -1. */
static int
new_ffi(rnp_ffi_t *ffi)
{
	warm_up();
	*ffi = NULL;
	return rnp_ffi_create(ffi, "GPG", "GPG") == RNP_SUCCESS ? 0 : -1;
}

static rnp_ffi_t
load(const uint8_t *in, size_t len, char *why, size_t whylen)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t input = NULL;
	char *fmt = NULL;
	uint32_t flags = RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS;

	if (new_ffi(&ffi) < 0) {
		sm_why(why, whylen, "cannot start the OpenPGP library");
		return NULL;
	}
	if (rnp_input_from_memory(&input, in, len, false) != RNP_SUCCESS ||
	    rnp_detect_key_format(in, len, &fmt) != RNP_SUCCESS ||
	    fmt == NULL) {
		sm_why(why, whylen, "not an OpenPGP key");
		goto fail;
	}
	if (rnp_import_keys(ffi, input, flags, NULL) != RNP_SUCCESS) {
		sm_why(why, whylen, "cannot import the OpenPGP key");
		goto fail;
	}
	rnp_buffer_destroy(fmt);
	rnp_input_destroy(input);
	return ffi;
fail:
	rnp_buffer_destroy(fmt);
	rnp_input_destroy(input);
	rnp_ffi_destroy(ffi);
	return NULL;
}

/* Does KEY carry a user ID naming ADDR ("Name <addr>" or bare addr)? */
static int
has_addr(rnp_key_handle_t key, const char *addr)
{
	size_t i, n = 0, alen = strlen(addr);
	int found = 0;

	rnp_key_get_uid_count(key, &n);
	for (i = 0; i < n && !found; i++) {
		char *uid = NULL;
		size_t ulen;

		if (rnp_key_get_uid_at(key, i, &uid) != RNP_SUCCESS)
			continue;
		ulen = strlen(uid);
		if (strcasecmp(uid, addr) == 0)
			found = 1;
		else if (ulen >= alen + 2 && uid[ulen - 1] == '>' &&
			 uid[ulen - alen - 2] == '<' &&
			 strncasecmp(uid + ulen - alen - 1, addr, alen) == 0)
			found = 1;
		rnp_buffer_destroy(uid);
	}
	return found;
}

/* The primary key for ADDR; sets WHY when none or several fit. */
static rnp_key_handle_t
pick(rnp_ffi_t ffi, const char *addr, char *why, size_t whylen)
{
	rnp_identifier_iterator_t it = NULL;
	rnp_key_handle_t key, found = NULL;
	const char *fpr;
	size_t primaries = 0;

	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") !=
	    RNP_SUCCESS)
		return NULL;
	while (rnp_identifier_iterator_next(it, &fpr) == RNP_SUCCESS &&
	       fpr != NULL) {
		bool primary = false;

		key = NULL;
		if (rnp_locate_key(ffi, "fingerprint", fpr, &key) != RNP_SUCCESS ||
		    key == NULL)
			continue;
		rnp_key_is_primary(key, &primary);
		if (!primary || (addr != NULL && !has_addr(key, addr))) {
			rnp_key_handle_destroy(key);
			continue;
		}
		primaries++;
		if (found == NULL)
			found = key;
		else
			rnp_key_handle_destroy(key);
	}
	rnp_identifier_iterator_destroy(it);
	if (found == NULL)
		sm_why(why, whylen, addr ? "no key with a user ID for %s" :
				   "no primary key found%s", addr ? addr : "");
	else if (primaries > 1) {
		sm_why(why, whylen, "%zu keys fit%s%s, expected one", primaries,
		       addr ? " " : "", addr ? addr : "");
		rnp_key_handle_destroy(found);
		found = NULL;
	}
	return found;
}

int
sm_pgp_export_public(const uint8_t *in, size_t len, const char *addr,
		     struct sm_blob *out, char *why, size_t whylen)
{
	rnp_ffi_t ffi;
	rnp_key_handle_t key;
	rnp_output_t output = NULL;
	uint8_t *buf = NULL;
	size_t blen = 0;
	int rc = -1;

	out->data = NULL;
	out->len = 0;
	if ((ffi = load(in, len, why, whylen)) == NULL)
		return -1;
	if ((key = pick(ffi, addr, why, whylen)) == NULL)
		goto done;
	if (rnp_output_to_memory(&output, 0) != RNP_SUCCESS ||
	    rnp_key_export(key, output, RNP_KEY_EXPORT_PUBLIC |
					       RNP_KEY_EXPORT_SUBKEYS) !=
		    RNP_SUCCESS ||
	    rnp_output_memory_get_buf(output, &buf, &blen, false) !=
		    RNP_SUCCESS ||
	    blen == 0) {
		sm_why(why, whylen, "cannot export the public key");
		goto done;
	}
	if ((out->data = malloc(blen)) == NULL) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	memcpy(out->data, buf, blen);
	out->len = blen;
	rc = 0;
done:
	rnp_output_destroy(output);
	rnp_key_handle_destroy(key);
	rnp_ffi_destroy(ffi);
	return rc;
}

int
sm_pgp_describe(const uint8_t *in, size_t len, char *buf, size_t buflen)
{
	char why[128];
	rnp_ffi_t ffi = load(in, len, why, sizeof(why));
	rnp_key_handle_t key;
	char *fpr = NULL, *uid = NULL;

	if (ffi == NULL) {
		snprintf(buf, buflen, "%s", why);
		return -1;
	}
	if ((key = pick(ffi, NULL, why, sizeof(why))) == NULL) {
		snprintf(buf, buflen, "%s", why);
		rnp_ffi_destroy(ffi);
		return -1;
	}
	rnp_key_get_fprint(key, &fpr);
	rnp_key_get_primary_uid(key, &uid);
	snprintf(buf, buflen, "%s %s", fpr ? fpr : "?", uid ? uid : "");
	rnp_buffer_destroy(fpr);
	rnp_buffer_destroy(uid);
	rnp_key_handle_destroy(key);
	rnp_ffi_destroy(ffi);
	return 0;
}

/* RFC 4880 section 4.3 packet tags (AEAD: RFC 9580 section 5.13.1). */
#define PGP_TAG_PKESK	1	/* public-key encrypted session key */
#define PGP_TAG_SKESK	3	/* symmetric-key encrypted session key */
#define PGP_TAG_SED	9	/* symmetrically encrypted data */
#define PGP_TAG_SEIPD	18	/* sym. encrypted integrity protected data */
#define PGP_TAG_AEAD	20	/* AEAD encrypted data (draft, LibrePGP) */

static int
data_tag(unsigned tag)
{
	return tag == PGP_TAG_SED || tag == PGP_TAG_SEIPD || tag == PGP_TAG_AEAD;
}

/*
 * One new-format length (RFC 4880 section 4.2.2) at BIN[*at]: the body
 * length in *BODY, *PARTIAL for a partial body length.  -1 when the
 * length octets run past LEN.
 */
static int
new_length(const uint8_t *bin, size_t len, size_t *at, size_t *body,
	   int *partial)
{
	size_t i = *at;
	unsigned o1;

	if (i >= len)
		return -1;
	o1 = bin[i++];
	*partial = 0;
	if (o1 < 192) {
		*body = o1;
	} else if (o1 < 224) {
		if (i >= len)
			return -1;
		*body = ((size_t)(o1 - 192) << 8) + bin[i++] + 192;
	} else if (o1 < 255) {
		*body = (size_t)1 << (o1 & 0x1f);
		*partial = 1;
	} else {
		if (len - i < 4)
			return -1;
		*body = (size_t)bin[i] << 24 | (size_t)bin[i + 1] << 16 |
			(size_t)bin[i + 2] << 8 | bin[i + 3];
		i += 4;
	}
	*at = i;
	return 0;
}

/*
 * The packet at BIN[*at]: its tag in *TAG, *AT moved past it.  0, or
 * -1 with WHY when the framing is broken or runs past LEN.
 */
static int
packet(const uint8_t *bin, size_t len, size_t *at, unsigned *tag, char *why,
       size_t whylen)
{
	size_t i = *at, body = 0;
	unsigned c = bin[i++];
	int partial;

	if ((c & 0x80) == 0) {
		sm_why(why, whylen, "octet %zu is not a packet header", *at);
		return -1;
	}
	if ((c & 0x40) == 0) {			/* old format, 4.2.1 */
		static const size_t octets[3] = { 1, 2, 4 };
		unsigned lt = c & 3;
		size_t k;

		*tag = (c >> 2) & 0x0f;
		if (lt == 3) {			/* indeterminate: to the end */
			if (!data_tag(*tag)) {
				sm_why(why, whylen, "indeterminate length on "
				       "packet tag %u", *tag);
				return -1;
			}
			*at = len;
			return 0;
		}
		if (len - i < octets[lt])
			goto short_;
		for (k = 0; k < octets[lt]; k++)
			body = body << 8 | bin[i++];
	} else {				/* new format, 4.2.2 */
		*tag = c & 0x3f;
		for (;;) {
			if (new_length(bin, len, &i, &body, &partial) < 0)
				goto short_;
			if (!partial)
				break;
			/* Partial lengths: data packets only (4.2.2.4). */
			if (!data_tag(*tag)) {
				sm_why(why, whylen, "partial length on packet "
				       "tag %u", *tag);
				return -1;
			}
			if (len - i < body)
				goto short_;
			i += body;
		}
	}
	if (len - i < body)
		goto short_;
	*at = i + body;
	return 0;
short_:
	sm_why(why, whylen, "packet at octet %zu runs past the end", *at);
	return -1;
}

int
sm_pgp_encrypted_packets(const uint8_t *bin, size_t len, char *why,
			 size_t whylen)
{
	size_t at = 0, nesk = 0;
	unsigned tag;

	while (at < len) {
		if (packet(bin, len, &at, &tag, why, whylen) < 0)
			return 0;
		if (tag == PGP_TAG_PKESK || tag == PGP_TAG_SKESK) {
			nesk++;
			continue;
		}
		if (!data_tag(tag)) {
			sm_why(why, whylen, "packet tag %u in an encrypted "
			       "message", tag);
			return 0;
		}
		if (nesk == 0) {
			sm_why(why, whylen, "encrypted data without a session "
			       "key packet");
			return 0;
		}
		if (at != len) {
			sm_why(why, whylen, "%zu octets after the encrypted "
			       "data", len - at);
			return 0;
		}
		return 1;
	}
	sm_why(why, whylen, nesk ? "no encrypted data packet" :
				   "no OpenPGP packets");
	return 0;
}

static const char armor_begin[] = "-----BEGIN PGP MESSAGE-----";
static const char armor_end[] = "-----END PGP MESSAGE-----";

static int
space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
sm_pgp_encrypted(const uint8_t *armored, size_t len, char *why,
		 size_t whylen)
{
	const size_t blen = sizeof(armor_begin) - 1, elen = sizeof(armor_end) - 1;
	rnp_input_t input = NULL;
	rnp_output_t output = NULL;
	uint8_t *buf = NULL;
	size_t a = 0, z = len, n = 0;
	int rc = 0;

	/* rnp_dearmor works on its own streams, with no ffi: nothing
	   shared between the milter's threads.  librnp (Debian builds
	   it without NDEBUG) writes its own diagnostics of bad armor
	   to stderr; there is no switch for it. */
	/* The armor and nothing else: librnp would skip text around it. */
	while (a < z && space(armored[a]))
		a++;
	while (z > a && space(armored[z - 1]))
		z--;
	if (z - a < blen + elen + 2 || memcmp(armored + a, armor_begin, blen) ||
	    (armored[a + blen] != '\r' && armored[a + blen] != '\n') ||
	    memcmp(armored + z - elen, armor_end, elen) ||
	    (armored[z - elen - 1] != '\n')) {
		sm_why(why, whylen, "not one armored PGP MESSAGE");
		return 0;
	}
	if (memmem(armored + a + blen, z - a - blen - elen, "-----", 5)) {
		sm_why(why, whylen, "more than one armored block");
		return 0;
	}
	warm_up();
	if (rnp_input_from_memory(&input, armored + a, z - a, false) !=
		    RNP_SUCCESS ||
	    rnp_output_to_memory(&output, 0) != RNP_SUCCESS) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	if (rnp_dearmor(input, output) != RNP_SUCCESS ||
	    rnp_output_memory_get_buf(output, &buf, &n, false) != RNP_SUCCESS) {
		sm_why(why, whylen, "the PGP armor does not decode");
		goto done;
	}
	rc = sm_pgp_encrypted_packets(buf, n, why, whylen);
done:
	rnp_output_destroy(output);
	rnp_input_destroy(input);
	return rc;
}

/* ------------------------------------------------------------ key checks */

#define PGP_TAG_SECKEY		5	/* secret-key packet */
#define PGP_TAG_PUBKEY		6	/* public-key packet */
#define PGP_TAG_SECSUBKEY	7	/* secret-subkey packet */

#define UNUSABLE_NAME_(code, word) { word, SM_PGP_##code },
const struct sm_name_code sm_pgp_unusable_names[] = {
	SM_PGP_UNUSABLE(UNUSABLE_NAME_)
	{ NULL, -1 }
};

const char *
sm_pgp_unusable_word(enum sm_pgp_unusable reason)
{
	const char *w = sm_str_name_code(sm_pgp_unusable_names, (int)reason);

	return w ? w : "?";
}

/*
 * Is KEY one transferable public key by its framing (RFC 4880 section
 * 11.1): packets to the last octet, a public-key packet first, no
 * secret key packets?  librnp would also take armor, secret keys and
 * key rings, and it skips what it cannot read.  Returns 1, or 0 with
 * WHY.
 */
static int
public_key_packets(const struct sm_blob *key, char *why, size_t whylen)
{
	size_t at = 0;
	unsigned tag;

	if (key->len == 0) {
		sm_why(why, whylen, "empty record");
		return 0;
	}
	while (at < key->len) {
		size_t start = at;

		if (packet(key->data, key->len, &at, &tag, why, whylen) < 0)
			return 0;
		if (start == 0 && tag != PGP_TAG_PUBKEY) {
			sm_why(why, whylen, "first packet has tag %u, not a "
			       "public key", tag);
			return 0;
		}
		if (tag == PGP_TAG_SECKEY || tag == PGP_TAG_SECSUBKEY) {
			sm_why(why, whylen, "secret key material");
			return 0;
		}
	}
	return 1;
}

/*
 * Import KEY (an OPENPGPKEY RDATA) into FFI.  Returns 1, 0 when it is
 * not a transferable public key librnp reads (WHY), -1 out of memory.
 */
static int
import_rdata(rnp_ffi_t ffi, const struct sm_blob *key, char *why,
	     size_t whylen)
{
	rnp_input_t input = NULL;
	rnp_result_t rc;

	if (!public_key_packets(key, why, whylen))
		return 0;
	if (rnp_input_from_memory(&input, key->data, key->len, false) !=
	    RNP_SUCCESS) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	rc = rnp_import_keys(ffi, input, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL);
	rnp_input_destroy(input);
	if (rc == RNP_ERROR_OUT_OF_MEMORY) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	if (rc != RNP_SUCCESS) {
		sm_why(why, whylen, "librnp cannot import it: %s",
		       rnp_result_to_string(rc));
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ key rings */

/*
 * Importing a record is most of what a key check, an encryption or a
 * signature check costs: librnp checks every self-signature and
 * binding signature (0.4 ms for a cv25519 key here), and the same
 * records come with every message to the same people.  So the FFIs
 * records were imported into are kept, up to RING_SLOTS of them for
 * RING_SECS each, under the SHA-256 of their records' SHA-256s, and
 * lent to one call at a time (a call that finds its FFI lent makes
 * another).  An FFI's keys never change, but librnp set their flags
 * (valid, revoked, expired) when it imported them: the checks below
 * compare the keys' validity ends with the clock at every call, and
 * RING_SECS bounds how long anything else decided at import (a
 * signature that has expired since) can be out of date.  A record
 * that does not import is never kept.
 */
#define RING_SLOTS 64
#define RING_SECS 60
#define RING_ID 32		/* SHA-256 */

struct ring {
	uint8_t id[RING_ID];
	rnp_ffi_t ffi;		/* NULL: a free slot */
	time_t until;
	unsigned long used;	/* ring_clock when last lent */
	int lent;
};

static struct ring rings[RING_SLOTS];
static unsigned long ring_clock;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

/* The name of the FFI holding the N records KEYS, STRICT or not. */
static int
ring_id(const struct sm_blob *keys, size_t n, int strict, uint8_t *id)
{
	uint8_t *all;
	size_t i;

	if ((all = malloc(n * RING_ID + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		sm_digest(SM_DIGEST_SHA256, keys[i].data, keys[i].len,
			  all + i * RING_ID);
	all[n * RING_ID] = (uint8_t)strict;
	sm_digest(SM_DIGEST_SHA256, all, n * RING_ID + 1, id);
	free(all);
	return 0;
}

/*
 * Keep FFI, just made, under ID, lent: its slot, or -1 when every slot
 * is lent (ring_give then destroys it).  A free slot first, else the
 * one lent longest ago.
 */
static int
ring_keep(const uint8_t *id, rnp_ffi_t ffi, time_t now)
{
	rnp_ffi_t old = NULL;
	int i, slot = -1;

	pthread_mutex_lock(&ring_lock);
	for (i = 0; i < RING_SLOTS; i++) {
		if (rings[i].lent)
			continue;
		if (rings[i].ffi == NULL) {
			slot = i;
			break;
		}
		if (slot < 0 || rings[i].used < rings[slot].used)
			slot = i;
	}
	if (slot >= 0) {
		old = rings[slot].ffi;
		memcpy(rings[slot].id, id, RING_ID);
		rings[slot].ffi = ffi;
		rings[slot].until = now + RING_SECS;
		rings[slot].used = ++ring_clock;
		rings[slot].lent = 1;
	}
	pthread_mutex_unlock(&ring_lock);
	if (old != NULL)
		rnp_ffi_destroy(old);
	return slot;
}

/*
 * An FFI holding the N records KEYS, lent to the caller until
 * ring_give: a kept one, or one made now.  STRICT: every record must
 * import, else 0 with the reason in WHY (naming the record when N > 1);
 * otherwise those that do not are left out.  Returns 1 with *FFI and
 * *SLOT, 0, or -1 out of memory (WHY says so).
 */
static int
ring_take(const struct sm_blob *keys, size_t n, int strict, rnp_ffi_t *ffi,
	  int *slot, char *why, size_t whylen)
{
	uint8_t id[RING_ID];
	time_t now = time(NULL);
	char w[256];
	size_t i;
	int j, st;

	*ffi = NULL;
	if (ring_id(keys, n, strict, id) < 0)
		goto oom;
	pthread_mutex_lock(&ring_lock);
	for (j = 0; j < RING_SLOTS; j++) {
		struct ring *r = &rings[j];

		if (r->ffi != NULL && !r->lent && r->until > now &&
		    memcmp(r->id, id, RING_ID) == 0) {
			r->lent = 1;
			r->used = ++ring_clock;
			*ffi = r->ffi;
			*slot = j;
			break;
		}
	}
	pthread_mutex_unlock(&ring_lock);
	if (*ffi != NULL)
		return 1;
	if (new_ffi(ffi) < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		if ((st = import_rdata(*ffi, &keys[i], w, sizeof(w))) < 0)
			goto oom;
		if (st == 0 && strict) {
			if (n > 1)
				sm_why(why, whylen, "key %zu: %s", i, w);
			else
				sm_why(why, whylen, "%s", w);
			rnp_ffi_destroy(*ffi);
			*ffi = NULL;
			return 0;
		}
	}
	*slot = ring_keep(id, *ffi, now);
	return 1;
oom:
	if (*ffi != NULL)
		rnp_ffi_destroy(*ffi);
	*ffi = NULL;
	sm_why(why, whylen, "out of memory");
	return -1;
}

/* Give back what ring_take lent (FFI NULL: nothing was lent). */
static void
ring_give(rnp_ffi_t ffi, int slot)
{
	if (ffi == NULL)
		return;
	if (slot < 0) {
		rnp_ffi_destroy(ffi);
		return;
	}
	pthread_mutex_lock(&ring_lock);
	rings[slot].lent = 0;
	pthread_mutex_unlock(&ring_lock);
}

void
sm_pgp_forget(void)
{
	size_t i;

	pthread_mutex_lock(&ring_lock);
	for (i = 0; i < RING_SLOTS; i++)
		if (!rings[i].lent && rings[i].ffi != NULL) {
			rnp_ffi_destroy(rings[i].ffi);
			rings[i].ffi = NULL;
		}
	pthread_mutex_unlock(&ring_lock);
}

/*
 * The primary keys in FFI, at most MAX into KEYS (the caller destroys
 * them); their number in *N.  Returns 0, or -1 out of memory.
 */
static int
primaries(rnp_ffi_t ffi, rnp_key_handle_t *keys, size_t max, size_t *n)
{
	rnp_identifier_iterator_t it = NULL;
	const char *fpr;

	*n = 0;
	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") !=
	    RNP_SUCCESS)
		return -1;
	while (rnp_identifier_iterator_next(it, &fpr) == RNP_SUCCESS &&
	       fpr != NULL) {
		rnp_key_handle_t key = NULL;
		bool primary = false;

		if (rnp_locate_key(ffi, "fingerprint", fpr, &key) !=
			    RNP_SUCCESS ||
		    key == NULL)
			continue;
		if (rnp_key_is_primary(key, &primary) != RNP_SUCCESS ||
		    !primary) {
			rnp_key_handle_destroy(key);
			continue;
		}
		if (*n < max)
			keys[*n] = key;
		else
			rnp_key_handle_destroy(key);
		(*n)++;
	}
	rnp_identifier_iterator_destroy(it);
	return 0;
}

/*
 * librnp's yes/no answers: 1, 0, or -1 when it ran out of memory (any
 * other failure counts as no: hostile data may make a key unusable,
 * never make us give up on a message).
 */
typedef rnp_result_t key_query(rnp_key_handle_t, bool *);
typedef rnp_result_t uid_query(rnp_uid_handle_t, bool *);

static int
key_is(rnp_key_handle_t key, key_query *q)
{
	bool b = false;
	rnp_result_t rc = q(key, &b);

	return rc == RNP_ERROR_OUT_OF_MEMORY ? -1 : rc == RNP_SUCCESS && b;
}

static int
uid_is(rnp_uid_handle_t uid, uid_query *q)
{
	bool b = false;
	rnp_result_t rc = q(uid, &b);

	return rc == RNP_ERROR_OUT_OF_MEMORY ? -1 : rc == RNP_SUCCESS && b;
}

/* KEY's fingerprint, uppercase, into BUF (SM_PGP_FPR_SIZE); "?" when none. */
static void
fingerprint(rnp_key_handle_t key, char *buf)
{
	char *fpr = NULL, *p;

	if (rnp_key_get_fprint(key, &fpr) != RNP_SUCCESS || fpr == NULL) {
		sm_strlcpy(buf, "?", SM_PGP_FPR_SIZE);
		return;
	}
	sm_strlcpy(buf, fpr, SM_PGP_FPR_SIZE);
	for (p = buf; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	rnp_buffer_destroy(fpr);
}

/*
 * Is the primary KEY valid, not revoked, not expired?  1, 0 with
 * *REASON and WHY, -1 out of memory.
 */
static int
primary_ok(rnp_key_handle_t key, enum sm_pgp_unusable *reason, char *why,
	   size_t whylen)
{
	char *text = NULL;
	uint64_t till = 0;
	int r;

	if ((r = key_is(key, rnp_key_is_revoked)) != 0) {
		if (r < 0)
			return -1;
		*reason = SM_PGP_REVOKED;
		rnp_key_get_revocation_reason(key, &text);
		sm_why(why, whylen, "key revoked%s%.100s",
		       text && *text ? ": " : "", text ? text : "");
		rnp_buffer_destroy(text);
		return 0;
	}
	if ((r = key_is(key, rnp_key_is_expired)) != 0) {
		if (r < 0)
			return -1;
		*reason = SM_PGP_EXPIRED;
		sm_why(why, whylen, "key expired");
		return 0;
	}
	if ((r = key_is(key, rnp_key_is_valid)) != 1) {
		if (r < 0)
			return -1;
		*reason = SM_PGP_MALFORMED;
		sm_why(why, whylen, "primary key without a valid self-signature");
		return 0;
	}
	/* librnp's flags are from the import (the FFI may be kept). */
	if (rnp_key_valid_till64(key, &till) != RNP_SUCCESS ||
	    till <= (uint64_t)time(NULL)) {
		*reason = SM_PGP_EXPIRED;
		sm_why(why, whylen, "key expired");
		return 0;
	}
	return 1;
}

/* ASCII case-insensitive comparison of LEN octets. */
static int
same_ascii_case(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/*
 * Does user ID UID (LEN octets, not terminated) carry ADDR: its
 * "<addr>" at the end, or the whole of it?  Local parts equal octet by
 * octet, domains but for ASCII case.
 */
static int
uid_addr_is(const char *uid, size_t len, const char *addr)
{
	const char *at, *uat, *lt;
	size_t alen = strlen(addr), llen;

	if (len > 0 && uid[len - 1] == '>' &&
	    (lt = memrchr(uid, '<', len - 1)) != NULL) {
		len -= (size_t)(lt + 1 - uid) + 1;
		uid = lt + 1;
	}
	if ((at = strrchr(addr, '@')) == NULL || len != alen ||
	    (uat = memrchr(uid, '@', len)) == NULL)
		return 0;
	llen = (size_t)(at - addr);
	return (size_t)(uat - uid) == llen && memcmp(uid, addr, llen) == 0 &&
	       same_ascii_case(uat + 1, at + 1, alen - llen - 1);
}

/*
 * Has the primary KEY a valid, unrevoked user ID for ADDR?  1, 0 with
 * *REASON and WHY, -1 out of memory.
 */
static int
uid_ok(rnp_key_handle_t key, const char *addr, enum sm_pgp_unusable *reason,
       char *why, size_t whylen)
{
	size_t i, n = 0;
	int found = 0, revoked = 0, invalid = 0, r = 0;

	if (rnp_key_get_uid_count(key, &n) != RNP_SUCCESS)
		n = 0;
	for (i = 0; i < n && !found; i++) {
		rnp_uid_handle_t uid = NULL;
		uint32_t type = 0;
		void *data = NULL;
		size_t len = 0;

		if (rnp_key_get_uid_handle_at(key, i, &uid) != RNP_SUCCESS)
			continue;
		if (rnp_uid_get_type(uid, &type) == RNP_SUCCESS &&
		    type == RNP_USER_ID &&
		    rnp_uid_get_data(uid, &data, &len) == RNP_SUCCESS &&
		    uid_addr_is(data, len, addr)) {
			if ((r = uid_is(uid, rnp_uid_is_revoked)) != 0)
				revoked = 1;
			else if ((r = uid_is(uid, rnp_uid_is_valid)) != 1)
				invalid = 1;
			else
				found = 1;
		}
		rnp_buffer_destroy(data);
		rnp_uid_handle_destroy(uid);
		if (r < 0)
			return -1;
	}
	if (found)
		return 1;
	*reason = revoked ? SM_PGP_REVOKED : SM_PGP_UID_MISMATCH;
	sm_why(why, whylen, "%s user ID for %s (%zu user ID%s)",
	       revoked ? "revoked" : invalid ? "no valid" : "no", addr, n,
	       n == 1 ? "" : "s");
	return 0;
}

/* Is KEY's algorithm one librnp encrypts to? */
static int
encryption_alg(rnp_key_handle_t key)
{
	char *alg = NULL;
	int ok;

	if (rnp_key_get_alg(key, &alg) != RNP_SUCCESS || alg == NULL)
		return 0;
	ok = strcmp(alg, RNP_ALGNAME_RSA) == 0 ||
	     strcmp(alg, RNP_ALGNAME_ELGAMAL) == 0 ||
	     strcmp(alg, RNP_ALGNAME_ECDH) == 0;
	rnp_buffer_destroy(alg);
	return ok;
}

/*
 * How KEY (the primary or a subkey) stands as an encryption key:
 * 1 usable, 0 not (*REASON, WHY), 2 not an encryption key at all, -1
 * out of memory.
 */
static int
encryption_key(rnp_key_handle_t key, time_t now, uint64_t *till,
	       enum sm_pgp_unusable *reason, char *why, size_t whylen)
{
	char fpr[SM_PGP_FPR_SIZE];
	bool usable = false;
	int r;

	if (rnp_key_allows_usage(key, "encrypt", &usable) ==
	    RNP_ERROR_OUT_OF_MEMORY)
		return -1;
	if (!usable || !encryption_alg(key))
		return 2;
	fingerprint(key, fpr);
	if ((r = key_is(key, rnp_key_is_revoked)) != 0) {
		*reason = SM_PGP_REVOKED;
		sm_why(why, whylen, "encryption key %s revoked", fpr);
		return r < 0 ? -1 : 0;
	}
	if ((r = key_is(key, rnp_key_is_expired)) != 0) {
		*reason = SM_PGP_EXPIRED;
		sm_why(why, whylen, "encryption key %s expired", fpr);
		return r < 0 ? -1 : 0;
	}
	if ((r = key_is(key, rnp_key_is_valid)) != 1) {
		*reason = SM_PGP_NO_ENCRYPTION_KEY;
		sm_why(why, whylen, "encryption key %s without a valid "
		       "binding signature", fpr);
		return r < 0 ? -1 : 0;
	}
	/* Valid, yet past its time (librnp's "now" is ours): expired. */
	if (rnp_key_valid_till64(key, till) != RNP_SUCCESS ||
	    *till <= (uint64_t)now) {
		*reason = SM_PGP_EXPIRED;
		sm_why(why, whylen, "encryption key %s expired", fpr);
		return 0;
	}
	return 1;
}

/* Which reason to give when no key is usable: the strongest seen. */
static int
rank(enum sm_pgp_unusable reason)
{
	return reason == SM_PGP_REVOKED ? 3 : reason == SM_PGP_EXPIRED ? 2 : 1;
}

/*
 * The keys mail can be encrypted to under the primary PRIMARY: itself
 * and its subkeys, each added to OP as a recipient unless OP is NULL;
 * *LATEST (unless NULL) the latest time one of them is valid till
 * (UINT64_MAX: never expires).  Returns how many (0: *REASON and WHY
 * say why none: a revoked key before an expired one before one without
 * a binding signature), -1 out of memory.
 */
static long
encryption_keys(rnp_key_handle_t primary, rnp_op_encrypt_t op,
		uint64_t *latest, enum sm_pgp_unusable *reason, char *why,
		size_t whylen)
{
	enum sm_pgp_unusable worst = SM_PGP_NO_ENCRYPTION_KEY, r;
	char w[160] = "no key allowed to encrypt", one[160];
	time_t now = time(NULL);
	size_t i, nsub = 0;
	long found = 0;
	int seen = 0;

	if (rnp_key_get_subkey_count(primary, &nsub) != RNP_SUCCESS)
		nsub = 0;
	for (i = 0; i <= nsub; i++) {
		rnp_key_handle_t key = primary;
		uint64_t till = 0;
		int st;

		if (i > 0 &&
		    (rnp_key_get_subkey_at(primary, i - 1, &key) !=
			     RNP_SUCCESS ||
		     key == NULL))
			continue;
		st = encryption_key(key, now, &till, &r, one, sizeof(one));
		if (st == 1 && op != NULL &&
		    rnp_op_encrypt_add_recipient(op, key) != RNP_SUCCESS)
			st = -1;
		if (key != primary)
			rnp_key_handle_destroy(key);
		if (st < 0) {
			sm_why(why, whylen, "out of memory");
			return -1;
		}
		if (st == 1) {
			found++;
			if (latest != NULL && till > *latest)
				*latest = till;
		} else if (st == 0 && (!seen || rank(r) > rank(worst))) {
			seen = 1;
			worst = r;
			sm_strlcpy(w, one, sizeof(w));
		}
	}
	if (found == 0) {
		*reason = worst;
		sm_why(why, whylen, "%s", w);
	}
	return found;
}

int
sm_pgp_usable(const struct sm_blob *key, const char *addr,
	      struct sm_pgp_check *res, char *why, size_t whylen)
{
	rnp_ffi_t ffi = NULL;
	rnp_key_handle_t primary[2] = { NULL, NULL };
	uint64_t latest = 0, ptill = UINT64_MAX;
	size_t n = 0;
	long found;
	int rc, slot = -1;

	res->reason = SM_PGP_MALFORMED;
	res->fpr[0] = '\0';
	res->valid_till = 0;
	if ((rc = ring_take(key, 1, 1, &ffi, &slot, why, whylen)) <= 0)
		return rc;
	if ((rc = primaries(ffi, primary, 2, &n)) < 0)
		goto done;
	if (n != 1) {
		sm_why(why, whylen, n ? "%zu primary keys in one record" :
					"no primary key librnp accepts", n);
		rc = 0;
		goto done;
	}
	fingerprint(primary[0], res->fpr);
	if ((rc = primary_ok(primary[0], &res->reason, why, whylen)) <= 0 ||
	    (addr != NULL &&
	     (rc = uid_ok(primary[0], addr, &res->reason, why, whylen)) <= 0))
		goto done;
	found = encryption_keys(primary[0], NULL, &latest, &res->reason, why,
				whylen);
	rc = found < 0 ? -1 : found > 0;
	/* A subkey is of no use past its primary. */
	if (rnp_key_valid_till64(primary[0], &ptill) != RNP_SUCCESS)
		ptill = UINT64_MAX;
	if (rc == 1)
		res->valid_till = latest < ptill ? latest : ptill;
done:
	if (rc < 0)
		sm_why(why, whylen, "out of memory");
	rnp_key_handle_destroy(primary[0]);
	rnp_key_handle_destroy(primary[1]);
	ring_give(ffi, slot);
	return rc;
}

/* ------------------------------------------------------------ encryption */

static bool
read_in(void *ctx, void *buf, size_t len, size_t *got)
{
	FILE *in = ctx;

	*got = fread(buf, 1, len, in);
	return *got == len || !ferror(in);
}

/*
 * librnp ends armor lines with "\r\n"; ours end with "\n", as
 * sm_smime_encrypt's do.  The armor is base64 and header text, with no
 * CR but those: drop every one.
 */
static bool
write_out(void *ctx, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len, *cr;

	while (p < end) {
		size_t span;

		cr = memchr(p, '\r', (size_t)(end - p));
		span = (size_t)((cr ? cr : end) - p);
		if (span > 0 && fwrite(p, 1, span, ctx) != span)
			return false;
		p += span + (cr != NULL);
	}
	return true;
}

/*
 * Add the encryption keys of every primary key in FFI to OP.  0, or -1
 * with WHY when a key has none (or out of memory).
 */
static int
add_recipients(rnp_ffi_t ffi, rnp_op_encrypt_t op, char *why, size_t whylen)
{
	enum sm_pgp_unusable reason;
	rnp_key_handle_t *keys;
	char fpr[SM_PGP_FPR_SIZE], w[256] = "out of memory";
	size_t i, n = 0, max = 0;
	int rc = 0;

	if (primaries(ffi, NULL, 0, &max) < 0 ||
	    (keys = calloc(max ? max : 1, sizeof(*keys))) == NULL)
		goto oom;
	if (primaries(ffi, keys, max, &n) < 0) {
		free(keys);
		goto oom;
	}
	if (n == 0) {
		sm_why(why, whylen, "no primary key librnp accepts");
		rc = -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		int st = primary_ok(keys[i], &reason, w, sizeof(w));

		if (st == 1 && encryption_keys(keys[i], op, NULL, &reason, w,
					       sizeof(w)) == 0)
			st = 0;
		if (st <= 0) {
			fingerprint(keys[i], fpr);
			sm_why(why, whylen, "key %s: %s", fpr, w);
			rc = -1;
		}
	}
	for (i = 0; i < n; i++)
		rnp_key_handle_destroy(keys[i]);
	free(keys);
	return rc;
oom:
	sm_why(why, whylen, "out of memory");
	return -1;
}

int
sm_pgp_encrypt(FILE *in, const struct sm_blob *keys, size_t n, FILE *out,
	       char *why, size_t whylen)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t input = NULL;
	rnp_output_t output = NULL;
	rnp_op_encrypt_t op = NULL;
	rnp_result_t err;
	int rc = -1, slot = -1;

	if (n == 0) {
		sm_why(why, whylen, "no recipient key");
		return -1;
	}
	if (ring_take(keys, n, 1, &ffi, &slot, why, whylen) <= 0)
		return -1;
	if (rnp_input_from_callback(&input, read_in, NULL, in) != RNP_SUCCESS ||
	    rnp_output_to_callback(&output, write_out, NULL, out) !=
		    RNP_SUCCESS ||
	    rnp_op_encrypt_create(&op, ffi, input, output) != RNP_SUCCESS)
		goto oom;
	if (add_recipients(ffi, op, why, whylen) < 0)
		goto done;
	if (rnp_op_encrypt_set_armor(op, true) != RNP_SUCCESS ||
	    rnp_op_encrypt_set_cipher(op, RNP_ALGNAME_AES_256) != RNP_SUCCESS ||
	    rnp_op_encrypt_set_aead(op, "None") != RNP_SUCCESS ||
	    rnp_op_encrypt_set_compression(op, "Uncompressed", 0) !=
		    RNP_SUCCESS ||
	    rnp_op_encrypt_set_file_name(op, "") != RNP_SUCCESS) {
		sm_why(why, whylen, "librnp refuses the encryption settings");
		goto done;
	}
	/* A read or write error in the callbacks fails the execution;
	   what stdio still buffers is flushed here. */
	if ((err = rnp_op_encrypt_execute(op)) != RNP_SUCCESS)
		sm_why(why, whylen, "encryption failed: %s",
		       rnp_result_to_string(err));
	else if (ferror(in) || fflush(out) != 0 || ferror(out))
		sm_why(why, whylen, "I/O error");
	else
		rc = 0;
	goto done;
oom:
	sm_why(why, whylen, "out of memory");
done:
	rnp_op_encrypt_destroy(op);
	rnp_output_destroy(output);
	rnp_input_destroy(input);
	ring_give(ffi, slot);
	return rc;
}

/* ------------------------------------------------------------ signatures */

/* The primary key of KEY (itself when it is one), or NULL. */
static rnp_key_handle_t
primary_of(rnp_ffi_t ffi, rnp_key_handle_t key)
{
	rnp_key_handle_t p = NULL;
	char *fpr = NULL;
	bool primary = false;

	if (rnp_key_is_primary(key, &primary) != RNP_SUCCESS)
		return NULL;
	if (primary) {
		char *own = NULL;

		if (rnp_key_get_fprint(key, &own) == RNP_SUCCESS)
			rnp_locate_key(ffi, "fingerprint", own, &p);
		rnp_buffer_destroy(own);
		return p;
	}
	if (rnp_key_get_primary_fprint(key, &fpr) == RNP_SUCCESS && fpr)
		rnp_locate_key(ffi, "fingerprint", fpr, &p);
	rnp_buffer_destroy(fpr);
	return p;
}

/*
 * The fingerprint SIG names, into FPR (SM_PGP_FPR_SIZE, uppercase):
 * its issuer fingerprint, else its issuer key ID; "" when it has none.
 */
static void
named_key(rnp_op_verify_signature_t sig, char *fpr)
{
	rnp_signature_handle_t h = NULL;
	char *id = NULL, *p;

	fpr[0] = '\0';
	if (rnp_op_verify_signature_get_handle(sig, &h) != RNP_SUCCESS)
		return;
	if (rnp_signature_get_key_fprint(h, &id) != RNP_SUCCESS || id == NULL ||
	    *id == '\0') {
		rnp_buffer_destroy(id);
		id = NULL;
		if (rnp_signature_get_keyid(h, &id) != RNP_SUCCESS)
			id = NULL;
	}
	if (id != NULL)
		sm_strlcpy(fpr, id, SM_PGP_FPR_SIZE);
	for (p = fpr; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	rnp_buffer_destroy(id);
	rnp_signature_handle_destroy(h);
}

/*
 * Judge one signature SIG of a verify operation: 1 good by a key fit
 * for ADDR, 0 with WHY, -1 out of memory.  SIGNER->fpr is the primary
 * key that made it when it is one of ours, else the key SIG names.
 */
static int
judge(rnp_ffi_t ffi, rnp_op_verify_signature_t sig, const char *addr,
      struct sm_pgp_signer *signer, char *why, size_t whylen)
{
	rnp_result_t status = rnp_op_verify_signature_get_status(sig);
	rnp_key_handle_t key = NULL, primary = NULL;
	enum sm_pgp_unusable reason = SM_PGP_MALFORMED;
	uint32_t created = 0, expires = 0;
	char *keyid = NULL, detail[200];
	int rc = 0, r;

	memset(signer, 0, sizeof(*signer));
	rnp_op_verify_signature_get_key(sig, &key);
	if (key != NULL)
		primary = primary_of(ffi, key);
	if (primary != NULL)
		fingerprint(primary, signer->fpr);
	else
		named_key(sig, signer->fpr);
	if (status == RNP_ERROR_KEY_NOT_FOUND || primary == NULL) {
		sm_why(why, whylen, "unknown key: not one the sender publishes");
		goto done;
	}
	/* A revoked key never passes: tell it from a broken signature. */
	if ((r = key_is(primary, rnp_key_is_revoked)) != 0 ||
	    (r = key_is(key, rnp_key_is_revoked)) != 0) {
		rc = r < 0 ? -1 : 0;
		sm_why(why, whylen, "revoked: the signing key is revoked");
		goto done;
	}
	if (status != RNP_SUCCESS) {
		sm_why(why, whylen, "bad signature: %s",
		       rnp_result_to_string(status));
		goto done;
	}
	if ((r = uid_ok(primary, addr, &reason, detail, sizeof(detail))) <= 0) {
		rc = r;
		sm_why(why, whylen, "%s: %s", sm_pgp_unusable_word(reason),
		       detail);
		goto done;
	}
	if (rnp_key_get_keyid(key, &keyid) == RNP_SUCCESS && keyid)
		sm_strlcpy(signer->keyid, keyid, sizeof(signer->keyid));
	rnp_op_verify_signature_get_times(sig, &created, &expires);
	signer->created = created;
	rc = 1;
done:
	rnp_buffer_destroy(keyid);
	rnp_key_handle_destroy(key);
	rnp_key_handle_destroy(primary);
	return rc;
}

int
sm_pgp_verify(const uint8_t *content, size_t clen, const uint8_t *sig,
	      size_t slen, const struct sm_blob *keys, size_t n,
	      const char *addr, struct sm_pgp_signer *signer, char *why,
	      size_t whylen)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t data = NULL, sigin = NULL;
	rnp_op_verify_t op = NULL;
	size_t i, count = 0;
	int rc = -1, r, slot = -1;

	memset(signer, 0, sizeof(*signer));
	/* A record that does not import cannot have made the signature. */
	if (ring_take(keys, n, 0, &ffi, &slot, why, whylen) < 0)
		return -1;
	if (rnp_input_from_memory(&data, content, clen, false) != RNP_SUCCESS ||
	    rnp_input_from_memory(&sigin, sig, slen, false) != RNP_SUCCESS ||
	    rnp_op_verify_detached_create(&op, ffi, data, sigin) !=
		    RNP_SUCCESS) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	(void)rnp_op_verify_execute(op);	/* each signature says */
	if (rnp_op_verify_get_signature_count(op, &count) != RNP_SUCCESS ||
	    count == 0) {
		sm_why(why, whylen, "no OpenPGP signature in the signature part");
		goto done;
	}
	/* The first good one counts; else the first one's reason. */
	rc = 0;
	for (i = 0; i < count && rc == 0; i++) {
		rnp_op_verify_signature_t s = NULL;
		struct sm_pgp_signer one;
		char w[256];

		if (rnp_op_verify_get_signature_at(op, i, &s) != RNP_SUCCESS)
			continue;
		r = judge(ffi, s, addr, &one, w, sizeof(w));
		if (r != 0 || i == 0) {
			sm_strlcpy(why, w, whylen);
			*signer = one;
		}
		rc = r;
	}
	if (rc < 0)
		memset(signer, 0, sizeof(*signer));
done:
	rnp_op_verify_destroy(op);
	rnp_input_destroy(data);
	rnp_input_destroy(sigin);
	ring_give(ffi, slot);
	return rc;
}
