/*
 * legacy.h - the Legacy Display Element of header protection (RFC
 * 9788): for clients that decrypt but do not read protected header
 * fields, the Subject that hcp_baseline hides outside, shown at the
 * start of every main body part that can take it, the part marked
 * hp-legacy-display="1".  protect.c feeds this module the entity's
 * Content-* lines, the Subject values and the body as they are
 * spooled; it answers with splices, octets to put into the entity at
 * given offsets, which protect.c applies while the entity is read.
 *
 * Main body parts: the entity when it is text; in a multipart its first
 * part, in a multipart/alternative every part, recursively; never an
 * attachment nor a part of a multipart/digest.
 *   text/plain: "Subject: VALUE", an empty line, the text; in the
 *	part's Content-Transfer-Encoding (none, 7bit, 8bit, binary,
 *	quoted-printable, base64); VALUE as a reader shows it (RFC 2047
 *	words decoded), so only where its octets are the part's charset:
 *	ASCII into any charset that extends ASCII, other octets into the
 *	same charset; 8-bit octets into a 7bit part relabel it (and the
 *	multiparts around it) 8bit.
 *   text/html: a div of class header-protection-legacy-display right
 *	after the body start tag, found in the first 64 KB of a part in
 *	none, 7bit, 8bit, binary or quoted-printable; characters beyond
 *	ASCII as references.
 * Anything else gets no element (RFC 9788 makes it optional): another
 * type, an encoding or charset it cannot be written in, a body whose
 * structure is unclear, more than 16 parts.
 *
 * Nothing put in starts a line with "--": no element makes or hides a
 * delimiter.  What is kept is bounded: a part's header (16 KB), the
 * Subject values (4 KB each, four of them), the line being read.
 */
#ifndef MIL_LEGACY_H
#define MIL_LEGACY_H
#include <stddef.h>

/* Octets to put into the entity: at OFF, replacing DEL octets. */
struct mil_splice {
	size_t off, del;
	char *text;
	size_t len;
};

struct mil_legacy;

/* mil_legacy_new - for one message; NULL when out of memory. */
struct mil_legacy *mil_legacy_new(void);
/* mil_legacy_free - release L and its splices (NULL allowed). */
void mil_legacy_free(struct mil_legacy *l);

/*
 * mil_legacy_subject - a Subject line's VALUE as received, in order;
 * mil_legacy_content - a Content-* line of the entity, spooled at
 * entity octets [AT, END) (END after its CRLF).  0, or -1 when out of
 * memory.
 */
int mil_legacy_subject(struct mil_legacy *l, const char *value);
int mil_legacy_content(struct mil_legacy *l, const char *name,
		       const char *value, size_t at, size_t end);
/*
 * mil_legacy_eoh - the header section ended, its empty line at entity
 * offset AT; mil_legacy_body - LEN body octets, in order.  0, or -1
 * when out of memory (a body that cannot be followed just gets no
 * element).
 */
int mil_legacy_eoh(struct mil_legacy *l, size_t at);
int mil_legacy_body(struct mil_legacy *l, const void *data, size_t len);
/*
 * mil_legacy_splices - after the body: the splices, in the order they
 * were made (not by offset), *N of them, valid while L lives.
 */
const struct mil_splice *mil_legacy_splices(struct mil_legacy *l, size_t *n);
/*
 * mil_legacy_root - 1 when the entity itself got an element: its own
 * Content-Type (protect.c's to change) must say hp-legacy-display.
 */
int mil_legacy_root(const struct mil_legacy *l);
/*
 * mil_legacy_count - how many parts got an element; *WHY (may be NULL)
 * why one was left out, "" when none was or there was nothing to show:
 * words of ours, no client text.
 */
int mil_legacy_count(const struct mil_legacy *l, const char **why);
#endif
