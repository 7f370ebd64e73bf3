/*
 * names.h - DNS owner names smilla looks up.
 *
 *   client TLSA:  _<label>.<host>        (label "smtp-client" by default)
 *   SMIMEA:       <h>._smimecert.<domain>   (RFC 8162)
 *   OPENPGPKEY:   <h>._openpgpkey.<domain>  (RFC 7929)
 * where h is the lowercase hex of the first 28 octets of SHA-256 over
 * the local part as given (RFC 7929 section 3: no case folding).
 *
 * Host and domain names are normalised to lowercase A-labels (IDNA2008
 * through libidn2), without a trailing dot.  Every function returns 0,
 * or -1 with the reason in WHY; OUT then holds an empty string.
 */
#ifndef SM_NAMES_H
#define SM_NAMES_H

#include <stddef.h>

/* Large enough for any presentation-form name (253 octets + NUL). */
#define SM_NAME_BUF 256

/*
 * sm_names_host - normalise a host or mail domain name: at least two
 * labels, 1..63 octets each of letters, digits and inner hyphens, a
 * non-numeric top label, 253 octets at most.  Address literals fail.
 */
int sm_names_host(const char *in, char *out, size_t outlen, char *why,
		  size_t whylen);

/*
 * sm_names_owner - check and normalise an owner name given as is (e.g.
 * "_25._tcp.mx.example.org" or a cache key): lowercase, no trailing
 * dot, labels of letters, digits, '-' and '_', 253 octets at most.
 */
int sm_names_owner(const char *in, char *out, size_t outlen, char *why,
		   size_t whylen);

/* sm_names_client - "_LABEL.HOST" for client TLSA records. */
int sm_names_client(const char *host, const char *label, char *out,
		    size_t outlen, char *why, size_t whylen);

/* sm_names_smimea - SMIMEA owner name for mail address ADDR. */
int sm_names_smimea(const char *addr, char *out, size_t outlen, char *why,
		    size_t whylen);

/* sm_names_openpgpkey - OPENPGPKEY owner name for mail address ADDR. */
int sm_names_openpgpkey(const char *addr, char *out, size_t outlen,
			char *why, size_t whylen);

#endif
