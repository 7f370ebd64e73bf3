/*
 * pgp.h - OpenPGP keys, encryption to them, and the test for an
 * encrypted OpenPGP message, through librnp (the only file including
 * rnp.h).
 *
 * librnp is not thread-safe; every call here works in an in-memory
 * librnp context (no key ring on disk, no agent) that no other call
 * uses at the same time, so any thread may call any function at any
 * time.  The contexts records were imported into are kept a minute
 * for the next call with the same records (importing is most of the
 * cost); what depends on the time is decided again at each call.
 * librnp writes its own diagnostics to stderr (sm_log_capture_stderr,
 * log.h).
 */
#ifndef SM_PGP_H
#define SM_PGP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"
#include "words.h"

/*
 * Why an OPENPGPKEY record cannot be encrypted to, as logged:
 * X(CODE, word), in code order.
 */
#define SM_PGP_UNUSABLE(X) \
	X(EXPIRED, "expired")	/* primary, or every encryption key */ \
	X(REVOKED, "revoked")	/* primary, user ID or encryption keys */ \
	X(NO_ENCRYPTION_KEY, "no encryption key") \
	X(UID_MISMATCH, "user ID does not match") \
	X(MALFORMED, "malformed") /* not one transferable public key */

#define SM_PGP_UNUSABLE_ENUM_(code, word) SM_PGP_##code,
enum sm_pgp_unusable { SM_PGP_UNUSABLE(SM_PGP_UNUSABLE_ENUM_) SM_PGP_NUNUSABLE };

/* The words, in code order, ending with { NULL, -1 }. */
extern const struct sm_name_code sm_pgp_unusable_names[];

/* sm_pgp_unusable_word - the word of REASON ("?" when unknown). */
const char *sm_pgp_unusable_word(enum sm_pgp_unusable reason);

/* A fingerprint in hex with its NUL: 40 digits for v4 keys, 64 for v5. */
#define SM_PGP_FPR_SIZE 65

/* What sm_pgp_usable found. */
struct sm_pgp_check {
	enum sm_pgp_unusable reason;	/* when unusable */
	char fpr[SM_PGP_FPR_SIZE];	/* the primary key's, uppercase hex
					   as gpg prints it; "" when the
					   record did not import */
	uint64_t valid_till;		/* when usable: until when (Unix
					   time) the primary and one of
					   its encryption keys stay valid;
					   UINT64_MAX never expires */
};

/*
 * sm_pgp_usable - can mail to ADDR be encrypted to KEY, one OPENPGPKEY
 * RDATA (RFC 7929: one binary transferable public key)?  It must be
 * exactly one primary key with its packets and nothing else (no armor,
 * no secret key packets, no trailing octets) that librnp imports; the
 * primary valid (a good self-signature) and neither revoked nor
 * expired; a user ID, valid and not revoked, whose address ("Name
 * <addr>" or the bare address) is ADDR, the local part compared
 * octet by octet and the domain without regard to ASCII case; and the
 * primary or a subkey allowed to encrypt, of an encryption algorithm
 * (RSA, ElGamal, ECDH), valid, not revoked and not expired now.
 * librnp would take any key as a recipient: these checks are ours.
 * ADDR NULL asks for no user ID (a key configured for an archive copy
 * rather than found for an address).
 * Returns 1 usable, 0 unusable with RES->reason set and the details in
 * WHY, -1 out of memory (WHY says so).  RES->fpr is set whenever the
 * record imported.
 */
int sm_pgp_usable(const struct sm_blob *key, const char *addr,
		  struct sm_pgp_check *res, char *why, size_t whylen);

/*
 * sm_pgp_encrypt - read the entity from IN up to EOF and write it to
 * OUT as one ASCII-armored OpenPGP message ("\n" line ends) encrypted
 * to the N keys KEYS (OPENPGPKEY RDATA that passed sm_pgp_usable): a
 * PKESK for every key sm_pgp_usable would encrypt to (the primary or
 * subkeys), then AES-256 in a SEIPD v1 packet with MDC, no AEAD, no
 * compression, holding a binary literal data packet with IN's octets
 * as they are (CRLF kept).  Memory use does not grow with the entity.
 * Returns 0, or -1 with the reason in WHY (OUT then holds garbage:
 * discard it); a key that is no longer usable (expired since it was
 * checked) fails the whole message.
 */
int sm_pgp_encrypt(FILE *in, const struct sm_blob *keys, size_t n, FILE *out,
		   char *why, size_t whylen);

/* Who made a good OpenPGP signature. */
struct sm_pgp_signer {
	char fpr[SM_PGP_FPR_SIZE];	/* the primary key's fingerprint,
					   uppercase hex */
	char keyid[17];			/* the signing (sub)key's key ID */
	long long created;		/* when the signature was made (Unix
					   time) */
};

/*
 * sm_pgp_verify - is SIG (SLEN octets, an armored or binary detached
 * OpenPGP signature, borrowed) a good signature over CONTENT (CLEN
 * octets, as they are) by one of the N KEYS (OPENPGPKEY RDATA) for
 * ADDR?  The key that made it must be one of KEYS (the primary or a
 * subkey), its primary not revoked, with a valid, unrevoked user ID
 * for ADDR (compared as sm_pgp_usable does); a key that expired after
 * the signature was made still verifies (librnp checks the signature
 * against the key as it was then).  Returns 1 with *SIGNER filled; 0
 * when the signature does not verify, was made by a key not in KEYS,
 * or by a revoked key or one without ADDR, with the reason in WHY and
 * SIGNER->fpr the primary key that made it when it is in KEYS, else
 * the issuer fingerprint (or key ID) the signature names, if any
 * (first word: "bad signature", "unknown key", "revoked", "user ID
 * does not match"); -1 when SIG holds no signature librnp can read,
 * or memory ran out.
 */
int sm_pgp_verify(const uint8_t *content, size_t clen, const uint8_t *sig,
		  size_t slen, const struct sm_blob *keys, size_t n,
		  const char *addr, struct sm_pgp_signer *signer, char *why,
		  size_t whylen);

/*
 * sm_pgp_forget - free the kept librnp contexts not in use (at exit,
 * so that leak checkers see nothing left).
 */
void sm_pgp_forget(void);

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
