/*
 * protect.h - header protection (RFC 9788) for the entity the milter
 * encrypts, when header_protection = yes.
 *
 * The Cryptographic Payload is the MIME entity of today (session.h)
 * with, put in as it is read back for encryption:
 *   - the message's non-structural header fields as received (the
 *     trace and transit ones, Bcc and the status header excepted),
 *     before its Content-* lines;
 *   - hp="cipher" on its Content-Type (added when there is none);
 *   - one "HP-Outer: NAME: VALUE" line per copied field left outside,
 *     saying what the outer header shows after hcp_baseline: Subject
 *     "[...]", the rest as it was (Keywords and Comments are removed);
 *   - a Legacy Display Element ("Subject: ..." and an empty line, or a
 *     div in HTML) at the start of each main body part that can take
 *     one, marked hp-legacy-display="1" (legacy.h).
 * The entity spool is not copied or rewritten: the session feeds the
 * header lines and the body here as it spools them, this module notes
 * where to insert what, and mil_protect_reader splices it in while
 * the encryptor reads.  Memory: the copied fields go to spools of
 * their own; what is kept otherwise is bounded (a part's header, a
 * few Subject values).
 *
 * Header values are the sender's: they are written with every line
 * break as CRLF and a blank after it, so none can end the header
 * section or start a field of its own; 8-bit octets are kept.
 */
#ifndef MIL_PROTECT_H
#define MIL_PROTECT_H
#include <stddef.h>
#include <stdio.h>

#include "spool.h"

/* hcp_baseline's value for the outer Subject (RFC 9788). */
#define MIL_HP_OBSCURED "[...]"

struct mil_protect;

/*
 * mil_protect_new - for one message; fields named STATUS_HEADER (the
 * milter's status header, borrowed) are not copied; MEM_MAX bounds the
 * memory of its spools.  NULL when out of memory.
 */
struct mil_protect *mil_protect_new(const char *status_header,
				    size_t mem_max);
/* mil_protect_free - release P (NULL allowed). */
void mil_protect_free(struct mil_protect *p);

/*
 * mil_protect_header - one header line NAME: VALUE of the message, in
 * order, LEADSPC as mil_msg_header.  For a Content-* line, [AT, END)
 * are the entity octets it was spooled as (END after its CRLF); for
 * others they are ignored.  0, or -1 with the reason in WHY.
 */
int mil_protect_header(struct mil_protect *p, const char *name,
		       const char *value, int leadspc, size_t at, size_t end,
		       char *why, size_t whylen);
/*
 * mil_protect_eoh - the header section ended; its empty line is at
 * entity offset AT, the body starts at AT + 2.  0, or -1 with WHY.
 */
int mil_protect_eoh(struct mil_protect *p, size_t at, char *why,
		    size_t whylen);
/*
 * mil_protect_body - LEN body octets, in order as they are spooled:
 * where the main body parts start is found here.  0, or -1 with WHY
 * (out of memory only: a body that cannot be followed just gets no
 * Legacy Display Element).
 */
int mil_protect_body(struct mil_protect *p, const void *data, size_t len,
		     char *why, size_t whylen);
/*
 * mil_protect_reader - the Cryptographic Payload: ENTITY (what the
 * session spooled, borrowed, not written any more) with the protected
 * fields put in.  A stream owned by the caller (fclose it), valid
 * while P and ENTITY live; NULL with WHY.
 */
FILE *mil_protect_reader(struct mil_protect *p, struct mil_spool *entity,
			 char *why, size_t whylen);
/*
 * mil_protect_applied - 1 when the payload carries the protected
 * fields; 0 when the message's shape leaves header protection out (a
 * message the sender signed: the Cryptographic Payload would be the
 * signed content), *WHY (may be NULL) saying which, for the log.
 */
int mil_protect_applied(const struct mil_protect *p, const char **why);

/* A change to the outer header: NAME's INDEX-th line (1-based, NAME in
   any case) gets VALUE, or is deleted when VALUE is NULL. */
struct mil_hp_change {
	const char *name;
	int index;
	const char *value;
};

/*
 * mil_protect_changes - what hcp_baseline does to the outer header
 * after mil_protect_eoh: each Subject line becomes MIL_HP_OBSCURED,
 * each Keywords and Comments line goes (of one name, last first, so
 * that indexes stay valid).  *N changes, valid while P lives; none
 * when header protection is not applied.
 */
const struct mil_hp_change *mil_protect_changes(const struct mil_protect *p,
						size_t *n);
/*
 * mil_protect_legacy - how many main body parts got a Legacy Display
 * Element, and in *WHY (may be NULL) why one was left out ("" when
 * none was, or there was nothing to show): words of ours, no client
 * text, for the log.
 */
int mil_protect_legacy(const struct mil_protect *p, const char **why);
#endif
