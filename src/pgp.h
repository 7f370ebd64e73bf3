/*
 * pgp.h - OpenPGP keys, and the test for an encrypted OpenPGP message,
 * through librnp (the only file including rnp.h).
 */
#ifndef SM_PGP_H
#define SM_PGP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * sm_pgp_export_public - read an OpenPGP key (binary or ASCII-armored,
 * public or secret) from IN, pick the primary key with a user ID for
 * ADDR (case-insensitive; any key when ADDR is NULL and there is only
 * one), and return its transferable public key (primary, user IDs,
 * subkeys; no secret material) in OUT - the OPENPGPKEY RDATA.
 * Returns 0, or -1 with the reason in WHY.
 */
int sm_pgp_export_public(const uint8_t *in, size_t len, const char *addr,
			 struct sm_blob *out, char *why, size_t whylen);

/*
 * sm_pgp_describe - "fingerprint uid" of the first key in the binary key
 * IN, into BUF.  Returns 0, or -1 (BUF then says why).
 */
int sm_pgp_describe(const uint8_t *in, size_t len, char *buf, size_t buflen);

/*
 * sm_pgp_encrypted - is ARMORED (LEN octets, borrowed) exactly one
 * ASCII-armored "PGP MESSAGE" (RFC 4880 section 6: armor lines,
 * base64, checksum) whose packets are an encrypted message: one or
 * more PKESK (tag 1) or SKESK (tag 3) packets, then exactly one
 * encrypted data packet, SED (9), SEIPD (18) or AEAD (20), ending at
 * the end of the data?  Returns 1, or 0 with the reason in WHY.
 * Nothing is decrypted.
 */
int sm_pgp_encrypted(const uint8_t *armored, size_t len, char *why,
		     size_t whylen);

/*
 * sm_pgp_encrypted_packets - the same test on binary packets BIN
 * (LEN octets, borrowed) after the armor is removed.  Never reads
 * outside BIN.  Returns 1, or 0 with the reason in WHY.
 */
int sm_pgp_encrypted_packets(const uint8_t *bin, size_t len, char *why,
			     size_t whylen);

#endif
