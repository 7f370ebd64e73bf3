/*
 * words.h - the sets of words smilla's programs log, report and read
 * from smilla.conf, each defined once, as name/code tables in the
 * manner of Postfix's NAME_CODE tables (src/util/name_code.h,
 * src/tls/tls_level.c).
 *
 * Each set is an X-macro list: one line per word, in code order.  The
 * enums (here and in policy/decide.h, smilla/recipient.h,
 * smilla/session.h), the word tables, the reputation store's count
 * columns, smillactl's report columns, the action_* keys of the option
 * table and the man page check (smillactl config --words) all expand
 * from it, so adding a word is one line here plus its documentation.
 *
 *   sm_name_code(table, name)      word -> code, -1 when unknown
 *   sm_str_name_code(table, code)  code -> word, NULL when unknown
 *
 * The tables are static data: nothing to free; lookups are exact
 * (words are lowercase and compared as such).
 */
#ifndef SM_WORDS_H
#define SM_WORDS_H

/* One word of a set; a table ends with { NULL, -1 }. */
struct sm_name_code {
	const char *name;
	int code;
};

/* sm_name_code - the code of NAME in TABLE, -1 when absent or NULL. */
int sm_name_code(const struct sm_name_code *table, const char *name);

/* sm_str_name_code - the word for CODE in TABLE, NULL when absent. */
const char *sm_str_name_code(const struct sm_name_code *table, int code);

/*
 * Results of a DANE client authentication (either daemon), as logged,
 * counted per identity and reported: X(CODE, word, default action,
 * doc of the action_<word> key).  The order is that of the reputation
 * store's count columns n_<word> and of the report's columns.
 */
#define SM_RESULTS(X) \
	X(PASS, "pass", "header", \
	  "action for pass: header, or a Postfix access(5) action") \
	X(FAIL, "fail", "header", "action for fail") \
	X(NONE, "none", "DUNNO", \
	  "action for none (no TLSA records, or insecure)") \
	X(NOCERT, "nocert", "DUNNO", \
	  "action for nocert (no client certificate)") \
	X(UNUSABLE, "unusable", "header", \
	  "action for unusable (records fingerprints cannot decide)") \
	X(BOGUS, "bogus", "header", \
	  "action for bogus (DNSSEC validation failed)") \
	X(TEMPERROR, "temperror", "header", \
	  "action for temperror (timeout, SERVFAIL)")

#define SM_RESULT_ENUM_(code, word, action, doc) SM_RESULT_##code,
enum sm_result { SM_RESULTS(SM_RESULT_ENUM_) SM_NRESULTS };

/*
 * States of a recipient's keys (the milter), as logged and put in the
 * status header: X(CODE, word, the result counted for it, -1: none).
 */
#define SM_KEY_STATES(X) \
	X(SECURE, "secure", SM_RESULT_PASS)	/* usable certificate(s) */ \
	X(INSECURE, "insecure", SM_RESULT_NONE)	/* records, not signed */ \
	X(NONE, "none", SM_RESULT_NONE)		/* no SMIMEA, no address */ \
	X(UNUSABLE, "unusable", SM_RESULT_UNUSABLE) /* none usable */ \
	X(BOGUS, "bogus", SM_RESULT_BOGUS)	/* validation failed */ \
	X(TEMPERROR, "temperror", SM_RESULT_TEMPERROR) /* timeout, ... */ \
	X(SKIPPED, "skipped", -1)	/* not looked up: direction disabled */

#define SM_KEY_ENUM_(code, word, result) SM_KEY_##code,
enum sm_key_state { SM_KEY_STATES(SM_KEY_ENUM_) SM_NKEY_STATES };

/*
 * Kinds of key a decision was about, as recorded in the reputation
 * store and reported: X(CODE, word).  Key changes are counted within
 * one kind, so a recipient's S/MIME certificate and OpenPGP key taking
 * turns is no change, nor is the certificate a sender signs with
 * beside the one mail to that address is encrypted to.
 */
#define SM_KEY_TYPES(X) \
	X(TLSA, "tlsa")		/* the policy daemon: a client's key */ \
	X(SMIMEA, "smimea")	/* the milter: an S/MIME certificate */ \
	X(OPENPGPKEY, "openpgpkey")	/* the milter: an OpenPGP key */ \
	X(SMIME_SIGNER, "smime-signer")	/* a sender's signing certificate */ \
	X(PGP_SIGNER, "pgp-signer")	/* a sender's signing OpenPGP key */ \
	X(DELIVERY, "delivery")	/* not a key: what the milter did with a \
				   message for a recipient */

#define SM_KEY_TYPE_ENUM_(code, word) SM_KEY_TYPE_##code,
enum sm_key_type { SM_KEY_TYPES(SM_KEY_TYPE_ENUM_) SM_NKEY_TYPES };

/* What the milter did with a message, as logged: X(CODE, word). */
#define SM_MIL_ACTIONS(X) \
	X(ENCRYPTED, "encrypted")  /* body replaced by S/MIME or PGP/MIME */ \
	X(PLAINTEXT, "plaintext")  /* unchanged but for the status header */ \
	X(UNTOUCHED, "untouched")  /* already encrypted (verified), or no \
				      recipients: unchanged but for the \
				      status header */ \
	X(REJECTED, "rejected") \
	X(TEMPFAILED, "tempfail")

#define SM_MIL_ACTION_ENUM_(code, word) SM_MIL_##code,
enum sm_mil_action { SM_MIL_ACTIONS(SM_MIL_ACTION_ENUM_) SM_NMIL_ACTIONS };

/*
 * The milter's encryption formats, as in encryption_formats and the
 * status header, with the kind of key (SM_KEY_TYPES) a recipient's
 * keys for it are published as: X(CODE, word, key type code).
 */
#define SM_FORMATS(X) \
	X(SMIME, "smime", SMIMEA)	/* S/MIME, RFC 8551 */ \
	X(OPENPGP, "openpgp", OPENPGPKEY)	/* PGP/MIME, RFC 3156 */

#define SM_FORMAT_ENUM_(code, word, record) SM_FORMAT_##code,
enum sm_format { SM_FORMATS(SM_FORMAT_ENUM_) SM_NFORMATS };

/* A recipient's direction (local_domains), as delivery rows say it. */
#define SM_DIRECTIONS(X) \
	X(OUTBOUND, "outbound")	/* outside local_domains */ \
	X(INBOUND, "inbound")	/* a user of this server */

#define SM_DIRECTION_ENUM_(code, word) SM_DIRECTION_##code,
enum sm_direction { SM_DIRECTIONS(SM_DIRECTION_ENUM_) SM_NDIRECTIONS };

/* The tables, in code order, each ending with { NULL, -1 }. */
extern const struct sm_name_code sm_result_names[];
extern const struct sm_name_code sm_key_state_names[];
extern const struct sm_name_code sm_mil_action_names[];
extern const struct sm_name_code sm_format_names[];
extern const struct sm_name_code sm_key_type_names[];
extern const struct sm_name_code sm_direction_names[];

/* sm_key_state_result - the result counted for STATE, -1 for none. */
int sm_key_state_result(int state);

/* sm_format_key_type - the key type (enum sm_key_type) of FORMAT, -1. */
int sm_format_key_type(int format);

/*
 * One set by name, for listing: "result", "key-state", "action",
 * "key-type", "format", "direction".
 */
struct sm_word_set {
	const char *name;
	const struct sm_name_code *table;
};

/* The sets above; ends with { NULL, NULL }. */
extern const struct sm_word_set sm_word_sets[];

#endif
