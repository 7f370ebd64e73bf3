/*
 * recipient.h - what the milter knows about one recipient's keys: the
 * SMIMEA RRset (RFC 8162) and the OPENPGPKEY RRset (RFC 7929) at the
 * recipient's hashed owner names, looked up through the shared cache
 * and concurrently in DNS, and the keys in them that mail can be
 * encrypted to.  Only DNSSEC-secure RRsets are used.
 *
 * An SMIMEA record is usable when the RRset is DNSSEC-secure, it carries the
 * whole certificate (selector 0, matching type 0), its usage is DANE-EE
 * (3, taken as is, RFC 7671 section 5.1) or PKIX-EE (1, the certificate
 * must verify against the CA store for the address), and the key can
 * receive encrypted mail (sm_smime_usable).  DANE-TA and PKIX-TA
 * records need a chain the record does not carry.
 *
 * An OPENPGPKEY record is usable when its key passes sm_pgp_check
 * (pgp.h): a valid, unrevoked primary key, a valid encryption (sub)key
 * that has not expired, and a valid user ID with exactly the
 * recipient's address.
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

/*
 * The kinds of keys: the formats of words.h (SM_FORMATS), in the order
 * of struct mil_rcpt's keys[].
 */
enum mil_kind {
	MIL_SMIME = SM_FORMAT_SMIME,	/* SMIMEA records, S/MIME */
	MIL_OPENPGP = SM_FORMAT_OPENPGP	/* OPENPGPKEY records, PGP/MIME */
};
#define MIL_NKINDS SM_NFORMATS
#define MIL_KIND_BIT(kind) (1u << (kind))
#define MIL_KINDS_ALL (MIL_KIND_BIT(MIL_SMIME) | MIL_KIND_BIT(MIL_OPENPGP))

/* mil_kind_format - the encryption_formats word: "smime", "openpgp". */
const char *mil_kind_format(enum mil_kind kind);

/* mil_kind_record - the record's name: "smimea", "openpgpkey". */
const char *mil_kind_record(enum mil_kind kind);

/* mil_kind_parse - the kind of an encryption_formats word, or -1. */
int mil_kind_parse(const char *word);

struct mil_keys {
	enum mil_kind kind;
	enum mil_key_state state;
	/* usable keys, owned: certificates (DER) for SMIMEA, transferable
	   public keys (the RDATA) for OPENPGPKEY */
	struct sm_blob *certs;
	size_t ncerts;
	int usage;		/* SMIMEA: usage of the first usable record,
				   or -1 */
	char fp[65];		/* SMIMEA: SHA-256 of the first certificate;
				   OPENPGPKEY: the first key's fingerprint;
				   hex */
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

/*
 * mil_keys_clear - free what K holds, reset it (state none, kind
 * kept); NULL allowed.
 */
void mil_keys_clear(struct mil_keys *k);

/*
 * mil_keys_init - K[i] cleared, of kind i, state STATE (MIL_KEY_NONE or
 * MIL_KEY_SKIPPED) with WHY, for each of the MIL_NKINDS kinds.
 */
void mil_keys_init(struct mil_keys k[MIL_NKINDS], enum mil_key_state state,
		   const char *why);

/*
 * mil_keys_best - what K[] (one per kind, of the kinds in KINDS) add up
 * to, for decisions and the log: secure when any kind is; else the
 * first of temperror, bogus, unusable, insecure, none, skipped that a
 * kind has (a retry may find a key: those come first).  Returns the
 * index of the kind that gave it.
 */
enum mil_kind mil_keys_best(const struct mil_keys k[MIL_NKINDS],
			    unsigned kinds);

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
/*
 * mil_lookup_names - the answers for the N (at most MIL_MAX_NAMES)
 * NAMES of TYPES into RES (owned: sm_dns_result_free each; NULL when
 * out of memory), from the cache where it has them (HIT[i] set), the
 * rest from DNS at once, which go into the cache.
 */
#define MIL_MAX_NAMES 8
void mil_lookup_names(struct mil_lookup *lk, const char *const *names,
		      const int *types, size_t n, struct sm_dns_result **res,
		      int *hit);

/*
 * mil_lookup_answers - the SMIMEA/OPENPGPKEY answers for ADDR of each
 * kind in KINDS into RES (owned: sm_dns_result_free each; NULL for the
 * kinds not asked, and when out of memory), from the cache where it
 * has them (HIT[kind] set), the rest from DNS at once.  Returns the
 * kinds asked: one whose owner name cannot be made from ADDR is left
 * out, with the reason in WHY[kind].  For callers that match records
 * themselves (signature checks: any SMIMEA selector and matching type).
 */
unsigned mil_lookup_answers(struct mil_lookup *lk, const char *addr,
			    unsigned kinds, struct sm_dns_result *res[MIL_NKINDS],
			    int hit[MIL_NKINDS], char why[MIL_NKINDS][256]);

/*
 * mil_lookup_recipient - the keys of the mailbox LOCAL (unquoted, as
 * given) @ DOMAIN, of each kind in KINDS (a set of MIL_KIND_BIT), into
 * K[kind] (cleared first; the other kinds are left alone), through
 * mil_lookup_answers: the cache, then DNS for all kinds at once, so
 * that lookups that all time out cost one dns_timeout.  CA_FILE of
 * mil_lookup_new is the PKIX store for SMIMEA usage 1.  The local part
 * as given first; for
 * each kind that found nothing (NXDOMAIN/NODATA), when FOLD is set and
 * LOCAL has ASCII uppercase, the lowercased local part (RFC 7929
 * section 4, RFC 8162 section 3: publishers hash the local part as
 * given, GnuPG and most tools lowercase it).  An OpenPGP key found
 * under the lowercased name may carry the address in either form in
 * its user ID: FOLD means the two forms are one mailbox.
 */
void mil_lookup_recipient(struct mil_lookup *lk, const char *local,
			  const char *domain, int fold, unsigned kinds,
			  struct mil_keys k[MIL_NKINDS]);
#endif
