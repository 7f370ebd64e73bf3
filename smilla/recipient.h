/*
 * recipient.h - what the milter knows about one recipient's S/MIME
 * keys: the SMIMEA RRset at the recipient's hashed owner name (RFC
 * 8162), looked up through the shared cache, and the certificates in
 * it that mail can be encrypted to.
 *
 * A record is usable when the RRset is DNSSEC-secure, it carries the
 * whole certificate (selector 0, matching type 0), its usage is DANE-EE
 * (3, taken as is, RFC 7671 section 5.1) or PKIX-EE (1, the certificate
 * must verify against the CA store for the address), and the key can
 * receive encrypted mail (sm_smime_usable).  DANE-TA and PKIX-TA
 * records need a chain the record does not carry.
 */
#ifndef MIL_RECIPIENT_H
#define MIL_RECIPIENT_H
#include <stddef.h>
#include "cache.h"
#include "resolver.h"
#include "util.h"
#include "words.h"

/* The key states of words.h (SM_KEY_STATES), with their codes. */
#define MIL_KEY_ENUM_(code, word, result) MIL_KEY_##code = SM_KEY_##code,
enum mil_key_state { SM_KEY_STATES(MIL_KEY_ENUM_) };

struct mil_keys {
	enum mil_key_state state;
	struct sm_blob *certs;	/* usable certificates (DER), owned */
	size_t ncerts;
	int usage;		/* usage of the first usable record, or -1 */
	char fp[65];		/* SHA-256 of the first certificate, hex */
	int cached;		/* the answer came from the cache */
	char why[256];		/* for the log */
};

/* mil_key_state_word - "secure", "insecure", "none", ... ("?"). */
const char *mil_key_state_word(enum mil_key_state state);
/*
 * mil_key_state_result - the reputation result word for STATE ("pass",
 * "none", "unusable", "bogus", "temperror"), NULL for skipped.
 */
const char *mil_key_state_result(enum mil_key_state state);

/* mil_keys_clear - free what K holds, reset it (state none); NULL allowed. */
void mil_keys_clear(struct mil_keys *k);

/*
 * mil_keys_evaluate - fill K from the SMIMEA answer RES (NULL: out of
 * memory) for ADDR; CA_FILE is the PKIX store for usage 1 (NULL: the
 * system's).  K must be cleared.
 */
void mil_keys_evaluate(const struct sm_dns_result *res, const char *addr,
		       const char *ca_file, struct mil_keys *k);

/* Lookups shared by every milter thread. */
struct mil_lookup;
/*
 * mil_lookup_new - look up through CACHE (may be NULL) and RESOLVER,
 * both borrowed.  NULL when out of memory.
 */
struct mil_lookup *mil_lookup_new(struct sm_cache *cache,
				  struct mil_resolver *resolver,
				  const char *ca_file);
/*
 * mil_lookup_free - release LK (NULL allowed); the cache and resolver
 * stay the caller's.
 */
void mil_lookup_free(struct mil_lookup *lk);
/* mil_lookup_smimea - the keys of ADDR into K (cleared first). */
void mil_lookup_smimea(struct mil_lookup *lk, const char *addr,
		       struct mil_keys *k);
/*
 * mil_lookup_recipient - the keys of the mailbox LOCAL (unquoted, as
 * given) @ DOMAIN into K: the local part as given first; when that
 * finds nothing (NXDOMAIN/NODATA), FOLD is set and LOCAL has ASCII
 * uppercase, the lowercased local part (RFC 7929 section 4, RFC 8162
 * section 3: publishers hash the local part as given, most tools
 * lowercase it).  The OPENPGPKEY lookup keeps the same order.
 */
void mil_lookup_recipient(struct mil_lookup *lk, const char *local,
			  const char *domain, int fold, struct mil_keys *k);
#endif
