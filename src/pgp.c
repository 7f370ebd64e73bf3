/*
 * pgp.c - import and export OpenPGP keys with librnp, without a key
 * ring on disk or an agent: every call has its own in-memory FFI.
 * The contract is pgp.h; librnp types stay in here.
 *
 *   sm_pgp_export_public(in, len, addr, out, why, whylen)
 *   sm_pgp_describe(in, len, buf, buflen)
 *   sm_pgp_encrypted(armored, len, why, whylen)
 *	1 when ARMORED is one armored PGP MESSAGE holding an encrypted
 *	message: librnp removes the armor (and checks its checksum),
 *	then the packet framing is walked here.
 *   sm_pgp_encrypted_packets(bin, len, why, whylen)
 *	the walk alone, on binary packets.
 *
 * Why a framing walk of our own: librnp 0.16 tells the packet sequence
 * only as a JSON or text dump (rnp_dump_packets_to_json/_output), which
 * would need a second parser (json-c is not a dependency) over text
 * meant for people, and rnp_op_verify without keys fails the same way
 * for an encrypted message and for garbage.  Tags and lengths (RFC 4880
 * section 4.2) are all the test needs: no key, no decryption, no crypto.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "pgp.h"

static rnp_ffi_t
load(const uint8_t *in, size_t len, char *why, size_t whylen)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t input = NULL;
	char *fmt = NULL;
	uint32_t flags = RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS;

	if (rnp_ffi_create(&ffi, "GPG", "GPG") != RNP_SUCCESS) {
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
