/*
 * mime.h - the little MIME the milter needs: which header lines belong
 * to the MIME entity (they move inside the encrypted part), the
 * Content-Type of the message, and whether the message is already
 * encrypted (S/MIME, PGP/MIME or inline PGP).
 *
 * Everything here is fed by the network: parsers accept any octets and
 * never read past the lengths they are given.
 */
#ifndef MIL_MIME_H
#define MIL_MIME_H
#include <stddef.h>

/* mil_mime_is_content - 1 for a Content-* header name (any case). */
int mil_mime_is_content(const char *name);

struct mil_ctype {
	char type[64];		/* lowercase, "" when unparseable */
	char subtype[64];
	char smime_type[64];	/* parameter smime-type, lowercase */
	char protocol[128];	/* parameter protocol, lowercase */
};

/* mil_mime_ctype - parse a Content-Type value (RFC 2045, tolerant). */
void mil_mime_ctype(const char *value, struct mil_ctype *ct);

/*
 * mil_mime_encrypted_type - 1 when a message with this Content-Type is
 * already encrypted: application/(x-)pkcs7-mime other than signed-data,
 * certs-only or compressed-data; multipart/encrypted;
 * application/pgp-encrypted.
 */
int mil_mime_encrypted_type(const struct mil_ctype *ct);

/*
 * Inline PGP: a line starting with "-----BEGIN PGP MESSAGE-----"
 * anywhere in the body.  Feed the body in pieces as it comes.
 */
struct mil_pgpscan {
	int bol;		/* at the start of a line */
	size_t matched;		/* marker octets matched on this line */
	int found;
};
void mil_pgpscan_init(struct mil_pgpscan *scan);
void mil_pgpscan_feed(struct mil_pgpscan *scan, const void *data,
		      size_t len);
#endif
