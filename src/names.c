/*
 * names.c - owner names for client TLSA, SMIMEA and OPENPGPKEY lookups;
 * the contract is names.h.
 *
 * The HELO name and mail addresses come from the network, so every
 * check here is a bound: nothing longer than DNS allows leaves this
 * module, and names that cannot be hostnames never reach the resolver.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <idn2.h>

#include "names.h"
#include "util.h"

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63
#define LOCAL_MAX_LEN 256

static int
fail(char *out, size_t outlen, char *why, size_t whylen, const char *reason)
{
	if (outlen > 0)
		out[0] = '\0';
	sm_why(why, whylen, "%s", reason);
	return -1;
}

static int
is_digit(unsigned char c)
{
	return (unsigned)c - '0' < 10u;
}

static int
is_ldh(unsigned char c)
{
	return is_digit(c) || (unsigned)c - 'a' < 26u || c == '-';
}

/* Check a lowercase ASCII name label by label; NULL when fine. */
static const char *
check_ldh(const char *name)
{
	const char *label = name, *p;
	int labels = 0, numeric = 1;

	for (p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t len = (size_t)(p - label);

			if (len == 0)
				return "empty label";
			if (len > LABEL_MAX_LEN)
				return "label longer than 63 octets";
			if (label[0] == '-' || p[-1] == '-')
				return "label starts or ends with '-'";
			labels++;
			if (*p == '\0')
				break;
			label = p + 1;
			numeric = 1;
			continue;
		}
		if (!is_ldh((unsigned char)*p))
			return "character not allowed in a host name";
		if (!is_digit((unsigned char)*p))
			numeric = 0;
	}
	if (labels < 2)
		return "not a fully qualified name";
	if (numeric)
		return "numeric top-level label";
	return NULL;
}

/*
 * IN lowercased into BUF (NAME_MAX_LEN + 2 octets) and its length into
 * *LEN: 0; 1 when IN is not ASCII (BUF is then unset); -1 when longer
 * than a name with a trailing dot can be.
 */
static int
lower_ascii(const char *in, char *buf, size_t *len)
{
	size_t n;

	for (n = 0; in[n]; n++) {
		unsigned char c = (unsigned char)in[n];

		if (c >= 0x80)
			return 1;
		if (n > NAME_MAX_LEN)
			return -1;
		buf[n] = (char)((unsigned)c - 'A' < 26u ? c | 0x20 : c);
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

int
sm_names_host(const char *in, char *out, size_t outlen, char *why,
	      size_t whylen)
{
	char buf[NAME_MAX_LEN + 2];
	const char *reason;
	char *alabel = NULL;
	size_t len = 0;
	int rc;

	if (*in == '\0')
		return fail(out, outlen, why, whylen, "empty name");
	if ((rc = lower_ascii(in, buf, &len)) == 1) {
		/* U-labels may take up to 4 octets per character. */
		if (strlen(in) > 4 * NAME_MAX_LEN)
			return fail(out, outlen, why, whylen,
				    "name longer than 253 octets");
		rc = idn2_to_ascii_8z(in, &alabel,
				      IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			sm_why(why, whylen, "bad internationalised name: %s",
			       idn2_strerror(rc));
			if (outlen > 0)
				out[0] = '\0';
			return -1;
		}
		rc = lower_ascii(alabel, buf, &len);
		idn2_free(alabel);
	}
	if (rc == 0 && len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (rc != 0 || len > NAME_MAX_LEN)
		return fail(out, outlen, why, whylen,
			    "name longer than 253 octets");
	if ((reason = check_ldh(buf)) != NULL)
		return fail(out, outlen, why, whylen, reason);
	if (len + 1 > outlen)
		return fail(out, outlen, why, whylen, "output buffer too small");
	memcpy(out, buf, len + 1);
	return 0;
}

int
sm_names_owner(const char *in, char *out, size_t outlen, char *why,
	       size_t whylen)
{
	size_t len = strlen(in), i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return fail(out, outlen, why, whylen, "empty name");
	if (len > NAME_MAX_LEN)
		return fail(out, outlen, why, whylen,
			    "name longer than 253 octets");
	if (len + 1 > outlen)
		return fail(out, outlen, why, whylen, "output buffer too small");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return fail(out, outlen, why, whylen,
					    "empty label");
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > LABEL_MAX_LEN)
				return fail(out, outlen, why, whylen,
					    "label longer than 63 octets");
		} else {
			return fail(out, outlen, why, whylen,
				    "character not allowed in an owner name");
		}
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

/* Join PREFIX and a checked NAME, enforcing the overall length. */
static int
join(const char *prefix, const char *name, char *out, size_t outlen,
     char *why, size_t whylen)
{
	size_t pl = strlen(prefix), nl = strlen(name);

	if (pl + 1 + nl > NAME_MAX_LEN)
		return fail(out, outlen, why, whylen,
			    "owner name longer than 253 octets");
	if (pl + 1 + nl + 1 > outlen)
		return fail(out, outlen, why, whylen, "output buffer too small");
	memcpy(out, prefix, pl);
	out[pl] = '.';
	memcpy(out + pl + 1, name, nl + 1);
	return 0;
}

int
sm_names_client(const char *host, const char *label, char *out,
		size_t outlen, char *why, size_t whylen)
{
	char norm[SM_NAME_BUF], prefix[LABEL_MAX_LEN + 2];

	if (*label == '\0' || strlen(label) > LABEL_MAX_LEN - 1)
		return fail(out, outlen, why, whylen, "bad service label");
	prefix[0] = '_';
	sm_strlcpy(prefix + 1, label, sizeof(prefix) - 1);
	if (sm_names_host(host, norm, sizeof(norm), why, whylen) < 0)
		return fail(out, outlen, NULL, 0, "");
	return join(prefix, norm, out, outlen, why, whylen);
}

static int
hashed(const char *addr, const char *service, char *out, size_t outlen,
       char *why, size_t whylen)
{
	char norm[SM_NAME_BUF], prefix[SM_NAME_BUF];
	uint8_t md[SM_DIGEST_MAX];
	const char *at = strrchr(addr, '@');
	size_t local;

	if (at == NULL)
		return fail(out, outlen, why, whylen, "address has no '@'");
	local = (size_t)(at - addr);
	if (local == 0)
		return fail(out, outlen, why, whylen, "empty local part");
	if (local > LOCAL_MAX_LEN)
		return fail(out, outlen, why, whylen, "local part too long");
	if (sm_names_host(at + 1, norm, sizeof(norm), why, whylen) < 0)
		return fail(out, outlen, NULL, 0, "");
	if (sm_digest(SM_DIGEST_SHA256, addr, local, md) == 0)
		return fail(out, outlen, why, whylen, "digest failed");
	sm_hex_encode(md, 28, prefix, 0);
	strcat(prefix, service);
	return join(prefix, norm, out, outlen, why, whylen);
}

int
sm_names_smimea(const char *addr, char *out, size_t outlen, char *why,
		size_t whylen)
{
	return hashed(addr, "._smimecert", out, outlen, why, whylen);
}

int
sm_names_openpgpkey(const char *addr, char *out, size_t outlen, char *why,
		    size_t whylen)
{
	return hashed(addr, "._openpgpkey", out, outlen, why, whylen);
}
