/*
 * addr.h - mail addresses as SMTP carries them (RFC 5321 section 4.1.2):
 * the path of a RCPT TO (or MAIL FROM) argument parsed into one
 * canonical "local@domain" form, so that every spelling of a mailbox
 * compares, hashes and logs as the same string.
 *
 * Canonical form: the source route ("@a,@b:") is dropped; a local part
 * written as a Quoted-string is unquoted (quoted pairs resolved) and, if
 * what remains is a Dot-string, written plainly ("carol"@x -> carol@x),
 * else quoted again with only '"' and '\' escaped; the domain is a
 * lowercase A-label (sm_names_host), or an address literal "[...]" in
 * lowercase.  Case of the local part is kept: folding it is the caller's
 * rule (sm_addr_fold).  Octets from 0x80 up are taken as they come in
 * local parts (SMTPUTF8, RFC 6531); control characters never are.
 */
#ifndef SM_ADDR_H
#define SM_ADDR_H

#include <stddef.h>

/*
 * Longest path held, in octets between '<' and '>' (source route and
 * quotes included): well above RFC 5321's 64-octet local part and
 * 256-octet path (section 4.5.3.1), which real mail stays within.
 */
#define SM_ADDR_MAX 1024

enum sm_addr_status {
	SM_ADDR_OK = 0,
	SM_ADDR_SYNTAX,		/* not an RFC 5321 path */
	SM_ADDR_TOO_LONG,	/* over SM_ADDR_MAX */
	SM_ADDR_NOMEM
};

struct sm_addr {
	char *addr;		/* canonical "local@domain", owned */
	char *local;		/* the local part unquoted, owned: the
				   octets SMIMEA/OPENPGPKEY names hash */
	size_t domain_at;	/* offset of the domain in ADDR */
	int literal;		/* the domain is an address literal */
	int postmaster;		/* "<Postmaster>" without a domain
				   (RFC 5321 section 4.1.1.3): ADDR is
				   "postmaster", DOMAIN_AT its length */
};

/*
 * sm_addr_parse - parse ARG, "<path>" or a bare "local@domain" with
 * surrounding blanks, into A (cleared first; sm_addr_clear frees it).
 * Returns SM_ADDR_OK, or another status with the reason in WHY.
 */
enum sm_addr_status sm_addr_parse(const char *arg, struct sm_addr *a,
				  char *why, size_t whylen);

/*
 * sm_addr_clear - free what A holds (A itself is the caller's); NULL
 * allowed.
 */
void sm_addr_clear(struct sm_addr *a);

/*
 * sm_addr_fold - lowercase the ASCII letters of S in place (a canonical
 * address or a local part): how Postfix's local(8) and virtual lookups
 * compare local parts.  Octets from 0x80 up are left alone.
 */
void sm_addr_fold(char *s);

/* sm_addr_has_upper - 1 when S holds an ASCII uppercase letter. */
int sm_addr_has_upper(const char *s);

/*
 * sm_addr_from - the mailboxes of a From header field VALUE (RFC 5322
 * section 3.6.2: a mailbox-list): display names, quoted strings,
 * comments and folding skipped, each "Name <addr-spec>" or bare
 * addr-spec counted.  Returns the number of mailboxes (0 when VALUE
 * holds none it can read) with the first one parsed into A as
 * sm_addr_parse does, or -1 with WHY when a mailbox is malformed (an
 * unclosed quote, comment or angle bracket, an addr-spec sm_addr_parse
 * refuses) or memory ran out.  A is cleared first; with a return of 1
 * or more it holds the first mailbox (sm_addr_clear it).
 */
int sm_addr_from(const char *value, struct sm_addr *a, char *why,
		 size_t whylen);

/*
 * sm_addr_same - 1 when canonical addresses A and B are one mailbox:
 * equal, or equal but for ASCII case when FOLD is set.
 */
int sm_addr_same(const char *a, const char *b, int fold);

#endif
