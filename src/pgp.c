/*
 * pgp.c - import and export OpenPGP keys with librnp, without a key
 * ring on disk or an agent: every call has its own in-memory FFI.
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
