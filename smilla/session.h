/*
 * session.h - one message through the milter, in the order libmilter
 * calls: recipients, header lines, end of headers, body pieces, end of
 * message.  Nothing here knows libmilter: callbacks in main.c hand data
 * in and apply the outcome, so this module is unit-tested on its own.
 *
 * The MIME entity (Content-* header lines as received, an empty line,
 * the body) is spooled only when the message can be encrypted at all,
 * that is when every recipient has usable keys in one format; the
 * body alone, when the header claims it is already encrypted, to
 * check that claim.
 */
#ifndef MIL_SESSION_H
#define MIL_SESSION_H
#include <stddef.h>
#include <stdio.h>
#include "config.h"
#include "decide.h"
#include "mime.h"
#include "protect.h"
#include "recipient.h"
#include "smime.h"
#include "spool.h"
#include "table.h"
#include "verify.h"
#include "words.h"

/* Settings from smilla.conf, read-only while messages use them. */
struct mil_policy {
	char **local;			/* local_domains, normalised */
	size_t nlocal;
	int encrypt_outbound, encrypt_inbound;
	struct sm_table *require;	/* require_encryption_table */
	int fold_local;			/* require_local_part_case =
					   insensitive */
	char delim[16];			/* recipient_delimiter */
	int fold_lookup;		/* key_lookup_lowercase */
	int header_protection;		/* header_protection (RFC 9788) */
	enum mil_kind formats[MIL_NKINDS]; /* encryption_formats, in order */
	size_t nformats;
	unsigned kinds;			/* the same, as MIL_KIND_BITs */
	enum sm_smime_cipher cipher;
	struct sm_blob *copy;		/* sender_copy_cert */
	size_t ncopy;
	struct sm_blob *pgp_copy;	/* sender_copy_key (transferable
					   public keys) */
	size_t npgp_copy;
	size_t mem_max, max_size;
	int verify;			/* verify_signatures */
	int defer_mixed;		/* mixed_recipients = defer */
	int split;			/* mixed_recipients = split: each
					   class of recipients its own copy */
	uint8_t split_key[32];		/* the trace header's (trace.h) */
	char reinject[300];		/* reinject_service */
	int reinject_timeout;
	char status_header[128];
	char authserv[256];
	struct pol_config *client;	/* milter_client_auth: the decision's
					   settings; NULL when off */
};

/*
 * mil_policy_load - settings from CFG (AUTHSERV_DEFAULT when
 * authserv_id is empty).  0, or -1 with the reason in WHY.
 */
int mil_policy_load(struct mil_policy *p, const struct sm_config *cfg,
		    const char *authserv_default, char *why, size_t whylen);
/* mil_policy_clear - free what P holds and zero it; NULL allowed. */
void mil_policy_clear(struct mil_policy *p);
/* mil_policy_local - 1 when DOMAIN (normalised) is in local_domains. */
int mil_policy_local(const struct mil_policy *p, const char *domain);

/* An SMTP reply for the MTA. */
struct mil_reply {
	char code[4];		/* "550" */
	char xcode[8];		/* "5.7.1" */
	char text[400];
};

enum mil_verdict {
	MIL_ACCEPT,
	MIL_REJECT,		/* permanent: reply says why */
	MIL_TEMPFAIL		/* temporary: reply says why */
};

/* The milter actions of words.h (SM_MIL_ACTIONS), with their codes. */
#define MIL_ACTION_ENUM_(code, word) MIL_##code = SM_MIL_##code,
enum mil_action { SM_MIL_ACTIONS(MIL_ACTION_ENUM_) };

/* A header line to delete: NAME's INDEX-th occurrence (1-based). */
struct mil_hdr_ref {
	char *name;
	int index;
};

struct mil_outcome {
	enum mil_action action;
	const char *why;		/* word for the log/status, or NULL */
	int own_copy;			/* UNTOUCHED: a split copy made here
					   (why "split-copy") */
	struct mil_reply reply;		/* REJECTED / TEMPFAILED */
	char status[512];		/* status header value, "" for none */
	enum mil_format format;		/* UNTOUCHED already-encrypted */
	enum mil_kind kind;		/* ENCRYPTED: S/MIME or PGP/MIME */
	char content_type[160];		/* ENCRYPTED: new Content-Type */
	const char *cte;		/* ENCRYPTED: Content-Transfer-Encoding,
					   NULL for none (7bit) */
	const char *disposition;	/* ENCRYPTED: Content-Disposition,
					   NULL for none */
	int add_mime_version;		/* ENCRYPTED: message had none */
	const struct mil_hdr_ref *del;	/* incoming status headers (every
					   accepted outcome), and for
					   ENCRYPTED the Content-* ones */
	size_t ndel;
	const struct mil_auth_result *auth;	/* signature check; result
					   NONE when not signed or not
					   checked */
	char auth_header[1024];		/* Authentication-Results value to
					   add, "" for none */
	const char *auth_skipped;	/* why a signed message was not
					   checked ("encrypted", "too-big"),
					   or NULL */
	struct mil_spool *body;		/* ENCRYPTED: the new body, "\n"
					   line ends (7bit text) */
	/* ENCRYPTED under header_protection (protect.h): HP 1 when the
	   payload carries the protected fields, -1 when the message's
	   shape left them out (HP_WHY says why), 0 when the option is
	   off; LEGACY the main body parts given a Legacy Display
	   Element (HP_WHY may say why one was not); CHG the changes to
	   the outer header (Subject "[...]", Keywords and Comments
	   removed). */
	int hp;
	const char *hp_why;
	int legacy;
	const struct mil_hp_change *chg;
	size_t nchg;
	size_t nrcpt, nkeys;
};

struct mil_rcpt {
	char *addr;			/* canonical local@domain (sm_addr);
					   refused as unreadable: the
					   argument, shortened and printable */
	int inbound, required;
	struct mil_keys keys[MIL_NKINDS];	/* by enum mil_kind */
	enum mil_key_state state;	/* what they add up to
					   (mil_keys_best) */
	enum mil_kind best;		/* the kind that gave STATE */
};

/*
 * mil_rcpt_why - "smimea: WHY; openpgpkey: WHY" of the kinds R was
 * looked up in (or the one reason when it was not looked up), for the
 * log; BUF holds what the recipient's records and names gave.
 */
const char *mil_rcpt_why(const struct mil_rcpt *r, char *buf, size_t buflen);

struct mil_msg;

/* mil_msg_new - a message under policy P (borrowed); NULL on OOM. */
struct mil_msg *mil_msg_new(const struct mil_policy *p);
/* mil_msg_free - release M and all it holds (NULL allowed). */
void mil_msg_free(struct mil_msg *m);

/*
 * mil_msg_rcpt - RCPT TO argument ARG: parse it (sm_addr_parse), look
 * the recipient up through LK and decide.  On MIL_ACCEPT the recipient
 * is part of the message; else REPLY says why it is refused (the others
 * stay): an argument that is no RFC 5321 path, or longer than
 * SM_ADDR_MAX, is refused (501 5.1.3) whatever its domain.  *RCPT (may
 * be NULL) points at the recipient's record, valid until the message is
 * freed, also when it was refused; it is NULL for a second RCPT of an
 * accepted recipient (the same mailbox under the local-part case rule),
 * which is accepted and counted once.
 */
enum mil_verdict mil_msg_rcpt(struct mil_msg *m, struct mil_lookup *lk,
			      const char *arg, struct mil_reply *reply,
			      const struct mil_rcpt **rcpt);
/*
 * Split mode: the recipients in classes, the message's own group and a
 * copy for each other, each finished and written on its own.
 *
 * mil_msg_groups - the accepted recipients by class into G (at most
 * MIL_NKINDS + 1 groups): for each format of encryption_formats in
 * order, those not yet in a group who have a usable key in it; then
 * those who have none (plaintext).  Returns how many groups are not
 * empty, in that order (KIND is meaningless for the plaintext group,
 * PLAIN set); 0 when out of memory.
 */
/*
 * mil_msg_splits - is M, at its end, to be split: split mode, more than
 * one class among its recipients, and nothing that makes all of them
 * alike (too big to encrypt, already encrypted, a copy of ours, an
 * internal error)?
 */
int mil_msg_splits(struct mil_msg *m);

struct mil_group {
	int plain;		/* no key: plaintext */
	enum mil_kind kind;	/* else the format */
	size_t *idx;		/* indexes into the accepted */
	size_t n;
};
size_t mil_msg_groups(const struct mil_msg *m,
		      struct mil_group g[MIL_NKINDS + 1]);
/* mil_groups_clear - free what mil_msg_groups put in G. */
void mil_groups_clear(struct mil_group g[MIL_NKINDS + 1]);

/*
 * mil_msg_finish_group - mil_msg_finish for the recipients of G alone
 * (the signature is checked once per message).  O is valid until the
 * next finish of M.
 */
void mil_msg_finish_group(struct mil_msg *m, const struct mil_group *g,
			  struct mil_outcome *o);

/*
 * mil_msg_copy - the message as O makes it, header and body, to OUT,
 * for a copy submitted in split mode: TOP ("Name: value" lines, NULL
 * ended, may be NULL) first, then Authentication-Results, the header
 * fields as received but for O's deletions and changes, the fields O
 * adds, the empty line and the body (O's, or the original one).
 * BODY gets the digest of the body as SMTP carries it (trace.h); OUT
 * NULL writes nothing, for the digest alone.  0, or -1 with
 * mil_msg_why set.  Needs the header kept: split mode.
 */
int mil_msg_copy(struct mil_msg *m, const struct mil_outcome *o,
		 const char *const *top, FILE *out, uint8_t body[32]);

/*
 * mil_msg_header - one header line; LEADSPC says VALUE keeps the space
 * after the colon.  mil_msg_header, mil_msg_eoh and mil_msg_body
 * return 0, or -1 on an internal error, whose reason mil_msg_why gives
 * (the message keeps it: mil_msg_finish tempfails with it too).
 */
int mil_msg_header(struct mil_msg *m, const char *name, const char *value,
		   int leadspc);
int mil_msg_eoh(struct mil_msg *m);
int mil_msg_body(struct mil_msg *m, const void *data, size_t len);
/* mil_msg_why - reason of the last -1, "" if none. */
const char *mil_msg_why(const struct mil_msg *m);
/*
 * mil_msg_why_not - after mil_msg_finish, "FORMAT: reason" when a body
 * whose header claimed encryption did not verify ("" when it did or was
 * not checked), for the log; it holds no client-supplied text.
 */
const char *mil_msg_why_not(const struct mil_msg *m);
/*
 * mil_msg_finish - decide and, when encrypting, encrypt.  O is valid
 * until M is freed.  Internal errors come back as MIL_TEMPFAILED.
 */
void mil_msg_finish(struct mil_msg *m, struct mil_outcome *o);
/*
 * mil_msg_summary - "addr:state,addr:state" of every recipient
 * (refused ones too) for the log line.  When they do not all fit BUF
 * the list ends with "+N more", N the recipients left out; never cut
 * inside an entry.  Octets of an address outside printable ASCII,
 * space, ',' and '\' are written as \xHH.
 */
void mil_msg_summary(const struct mil_msg *m, char *buf, size_t buflen);
/* mil_msg_rcpts - the accepted recipients. */
const struct mil_rcpt *mil_msg_rcpts(const struct mil_msg *m, size_t *n);
/* mil_msg_size - header and body octets seen. */
size_t mil_msg_size(const struct mil_msg *m);
/* mil_action_word - "encrypted", "plaintext", "untouched", ... */
const char *mil_action_word(enum mil_action action);
#endif
