/*
 * session.c - one message: recipients, policy, MIME entity, encryption.
 * The contract (phases, ownership, return values) is session.h.
 *
 *   mil_policy_load(p, cfg, authserv_default, why, whylen)
 *   mil_policy_clear(p) / mil_policy_local(p, domain)
 *   mil_msg_new(p) / mil_msg_free(m)
 *   mil_msg_rcpt(m, lk, arg, reply, rcpt)	RCPT: look up, decide
 *   mil_msg_header(m, name, value, leadspc)	header phase
 *   mil_msg_eoh(m) / mil_msg_body(m, data, len)
 *   mil_msg_finish(m, outcome)			end of message
 *   mil_msg_why(m) / mil_msg_why_not(m)	reasons, for the log
 *   mil_msg_summary(m, buf, buflen)		"addr:state,..." for the log
 *   mil_msg_rcpts(m, &n) / mil_msg_size(m)
 *   mil_action_word(action)
 *
 * Decisions, in order: a message that is already encrypted is left
 * alone, but for its status header; one whose recipients all have
 * usable keys in one format is encrypted (unless it is over
 * max_message_size), in the first format of encryption_formats that
 * covers them all: S/MIME, or PGP/MIME (RFC 3156: a "Version: 1"
 * control part and the armored message); any other passes as it is,
 * with a status header.  "Already encrypted" is
 * what the body is, not what the header says: when the header claims
 * an encrypted shape the body is kept (a spool of its own, bounded by
 * max_message_size) and checked at the end (mime.c).  Incoming status
 * headers are deleted on every path that delivers.  With
 * header_protection the header lines and the body also go through
 * protect.c as they are spooled, and the entity is encrypted as that
 * module reads it back (RFC 9788: protected fields inside, the Subject
 * outside "[...]").
 *
 * Recipients that require encryption are refused at RCPT time when they
 * cannot get it, and never share a transaction with recipients they
 * have no format in common with (452: the client sends them in a
 * transaction of their own); at the end a required recipient gets encrypted mail,
 * a verified already encrypted one, or a refusal.
 *
 * Recipients are compared as Postfix delivers them: the RCPT argument
 * in sm_addr's canonical form (quotes that change nothing dropped), the
 * local part ignoring ASCII case unless require_local_part_case =
 * exact.  What cannot be parsed or held is refused, never waved
 * through; a second RCPT of the same mailbox is counted (and encrypted
 * to) once.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "cert.h"
#include "clientauth.h"
#include "mime.h"
#include "names.h"
#include "pgp.h"
#include "session.h"
#include "trace.h"

/* A header field as the MTA gave it (split mode keeps them all). */
struct mil_field {
	char *name, *value;
	int leadspc;
};

struct mil_msg {
	const struct mil_policy *p;
	struct mil_rcpt *rcpt;		/* accepted */
	size_t nrcpt;
	struct mil_rcpt *refused;	/* for the log */
	size_t nrefused;
	int headers_seen;
	int want_entity;		/* spool the entity for encryption */
	int has_mime_version;
	int too_big;
	struct mil_label label;		/* what the header claims */
	enum mil_format claim;		/* set at end of headers */
	struct mil_inline pgp;		/* inline PGP: the body's start */
	struct mil_spool *check;	/* the body, to verify the claim */
	struct mil_hdr_ref *content;	/* Content-* headers seen */
	size_t ncontent;
	struct mil_hdr_ref *status;	/* incoming status headers */
	size_t nstatus;
	struct mil_hdr_ref *del;	/* outcome's deletions */
	struct mil_spool *entity, *out;
	struct mil_protect *hp;		/* header_protection: what goes
					   into the payload */
	size_t size;
	char why[256];			/* internal error (mil_msg_why) */
	char why_not[256];		/* why the claim did not verify */
	struct mil_lookup *lk;		/* the last RCPT's, for the sender */
	int verify_local;		/* a local recipient, and
					   verify_signatures: say what the
					   check found, or why there was none */
	int want_verify;		/* ... and a body that may be signed:
					   keep it for the check */
	struct mil_spool *vbody;	/* the body, to check a signature */
	char *from;			/* the first From field's value */
	size_t nfrom;			/* From fields seen */
	int nar;			/* Authentication-Results seen */
	struct mil_hdr_ref *ar;		/* those with our authserv-id */
	size_t nours;
	int nca;			/* client_auth headers seen */
	struct mil_hdr_ref *ca;		/* those claiming to be ours */
	size_t ncours;
	struct mil_auth_result auth;
	int auth_done;			/* checked: once per message */
	char boundary[48];		/* PGP/MIME */
	struct mil_field *hdr;		/* split: every header field, in
					   order, as received */
	size_t nhdr;
	size_t body_at;			/* where the body starts in entity */
	char *trace;			/* split: the first trace header */
	struct mil_hdr_ref *traces;	/* all of them, to remove */
	size_t ntraces;
	struct mil_body_hash *bh;	/* the body's digest, for TRACE */
	uint8_t digest[32];
	int own;			/* a copy of ours: 1, 0, -1 unknown */
	int checked;			/* verified ran on the body ... */
	enum mil_format really;		/* ... and found this */
};

const char *
mil_action_word(enum mil_action action)
{
	const char *w = sm_str_name_code(sm_mil_action_names, (int)action);

	return w != NULL ? w : "?";
}

/* ------------------------------------------------------------ policy */

void
mil_policy_clear(struct mil_policy *p)
{
	if (p == NULL)
		return;
	sm_split_free(p->local, p->nlocal);
	sm_table_free(p->require);
	sm_blobs_free(p->copy, p->ncopy);
	sm_blobs_free(p->pgp_copy, p->npgp_copy);
	pol_config_free(p->client);
	free(p->client);
	memset(p, 0, sizeof(*p));
}

/* encryption_formats: the words in order (config checked them). */
static int
load_formats(struct mil_policy *p, const char *value, char *why,
	     size_t whylen)
{
	char **w;
	size_t n, i;
	int k;

	if (sm_split(value, &w, &n) < 0) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((k = mil_kind_parse(w[i])) >= 0 &&
		    !(p->kinds & MIL_KIND_BIT(k)) && p->nformats < MIL_NKINDS) {
			p->formats[p->nformats++] = (enum mil_kind)k;
			p->kinds |= MIL_KIND_BIT(k);
		}
	sm_split_free(w, n);
	return 0;
}

/* sender_copy_key: an OpenPGP public key file, as its transferable key. */
static int
load_pgp_copy(struct mil_policy *p, const char *path, char *why,
	      size_t whylen)
{
	uint8_t *buf;
	size_t len;
	struct sm_pgp_check pc;
	char r[256];
	int rc = -1;

	if (*path == '\0')
		return 0;
	if ((buf = sm_read_file(path, 1 << 20, &len, r, sizeof(r))) == NULL) {
		sm_why(why, whylen, "sender_copy_key: %s", r);
		return -1;
	}
	if ((p->pgp_copy = calloc(1, sizeof(*p->pgp_copy))) == NULL) {
		sm_why(why, whylen, "out of memory");
		goto done;
	}
	if (sm_pgp_export_public(buf, len, NULL, p->pgp_copy, r,
				 sizeof(r)) < 0 ||
	    sm_pgp_usable(p->pgp_copy, NULL, &pc, r, sizeof(r)) != 1) {
		sm_why(why, whylen, "sender_copy_key: %s: %s", path, r);
		sm_blobs_free(p->pgp_copy, 1);
		p->pgp_copy = NULL;
		goto done;
	}
	p->npgp_copy = 1;
	rc = 0;
done:
	free(buf);
	return rc;
}

/* mixed_recipients = split: where the copies go, the trace key. */
static int
load_split(struct mil_policy *p, const struct sm_config *cfg, char *why,
	   size_t whylen)
{
	char w[400];

	if (*sm_config_str(cfg, SM_K_REINJECT_SERVICE) == '\0') {
		sm_why(why, whylen, "%s: mixed_recipients = split needs "
		       "reinject_service (the MTA's listener without smilla)",
		       sm_config_source(cfg, SM_K_MIXED_RECIPIENTS));
		return -1;
	}
	if (mil_trace_key(sm_config_str(cfg, SM_K_SPLIT_KEY_FILE), p->split_key,
			  w, sizeof(w)) < 0) {
		sm_why(why, whylen, "split_key_file: %s", w);
		return -1;
	}
	sm_strlcpy(p->reinject, sm_config_str(cfg, SM_K_REINJECT_SERVICE),
		   sizeof(p->reinject));
	p->reinject_timeout = (int)sm_config_int(cfg, SM_K_REINJECT_TIMEOUT);
	p->split = 1;
	return 0;
}

/*
 * milter_client_auth: the policy daemon's settings (tables, actions),
 * and only actions the milter can carry out.
 */
static int
load_client(struct mil_policy *p, const struct sm_config *cfg,
	    const char *authserv_default, char *why, size_t whylen)
{
	char w[400];
	int r;

	if ((p->client = calloc(1, sizeof(*p->client))) == NULL) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	if (pol_config_load(p->client, cfg, authserv_default, why,
			    whylen) < 0) {
		free(p->client);
		p->client = NULL;
		return -1;
	}
	if (mil_ca_check(p->client, &r, w, sizeof(w)) < 0) {
		sm_why(why, whylen, "%s: %s",
		       sm_config_source(cfg, SM_K_ACTION(r)), w);
		return -1;
	}
	return 0;
}

int
mil_policy_load(struct mil_policy *p, const struct sm_config *cfg,
		const char *authserv_default, char *why, size_t whylen)
{
	const char *path;
	char norm[SM_NAME_BUF], r[256];
	size_t i;

	memset(p, 0, sizeof(*p));
	if (sm_split(sm_config_str(cfg, SM_K_LOCAL_DOMAINS), &p->local,
		     &p->nlocal) < 0) {
		sm_why(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < p->nlocal; i++) {
		char *d = p->local[i];
		int dot = *d == '.';

		if (sm_names_host(d + dot, norm, sizeof(norm), r, sizeof(r)) < 0) {
			sm_why(why, whylen, "local_domains: %s: %s", d, r);
			goto fail;
		}
		/* Normalised names are never longer than what was given
		   for ASCII; for U-labels keep the A-label. */
		free(d);
		if ((p->local[i] = malloc(strlen(norm) + 2)) == NULL) {
			sm_why(why, whylen, "out of memory");
			goto fail;
		}
		sprintf(p->local[i], "%s%s", dot ? "." : "", norm);
	}
	p->encrypt_outbound = sm_config_bool(cfg, SM_K_ENCRYPT_OUTBOUND);
	p->encrypt_inbound = sm_config_bool(cfg, SM_K_ENCRYPT_INBOUND);
	path = sm_config_str(cfg, SM_K_REQUIRE_ENCRYPTION_TABLE);
	p->fold_local = strcmp(sm_config_str(cfg, SM_K_REQUIRE_LOCAL_PART_CASE),
			       "exact") != 0;
	if (*path != '\0' &&
	    (p->require = sm_table_load_flags(path, p->fold_local ?
						SM_TABLE_FOLD_LOCAL : 0,
					      why, whylen)) == NULL)
		goto fail;
	sm_strlcpy(p->delim, sm_config_str(cfg, SM_K_RECIPIENT_DELIMITER),
		   sizeof(p->delim));
	/* With exact local parts CAROL and carol are two mailboxes:
	   carol's key is not CAROL's. */
	p->fold_lookup = sm_config_bool(cfg, SM_K_KEY_LOOKUP_LOWERCASE) &&
			 p->fold_local;
	p->header_protection = sm_config_bool(cfg, SM_K_HEADER_PROTECTION);
	if (load_formats(p, sm_config_str(cfg, SM_K_ENCRYPTION_FORMATS), why,
			 whylen) < 0 ||
	    load_pgp_copy(p, sm_config_str(cfg, SM_K_SENDER_COPY_KEY), why,
			  whylen) < 0)
		goto fail;
	p->cipher =
		sm_smime_cipher_parse(sm_config_str(cfg, SM_K_SMIME_CIPHER));
	path = sm_config_str(cfg, SM_K_SENDER_COPY_CERT);
	if (*path != '\0') {
		if (sm_cert_load(path, &p->copy, &p->ncopy, r, sizeof(r)) < 0) {
			sm_why(why, whylen, "sender_copy_cert: %s", r);
			goto fail;
		}
		for (i = 0; i < p->ncopy; i++)
			if (!sm_smime_usable(&p->copy[i], r, sizeof(r))) {
				sm_why(why, whylen, "sender_copy_cert: %s: %s",
				       path, r);
				goto fail;
			}
	}
	p->mem_max = (size_t)sm_config_int(cfg, SM_K_MAX_MEMORY_BODY);
	p->max_size = (size_t)sm_config_int(cfg, SM_K_MAX_MESSAGE_SIZE);
	p->verify = sm_config_bool(cfg, SM_K_VERIFY_SIGNATURES);
	p->defer_mixed =
		strcmp(sm_config_str(cfg, SM_K_MIXED_RECIPIENTS), "defer") == 0;
	if (strcmp(sm_config_str(cfg, SM_K_MIXED_RECIPIENTS), "split") == 0 &&
	    load_split(p, cfg, why, whylen) < 0)
		goto fail;
	sm_strlcpy(p->status_header, sm_config_str(cfg, SM_K_STATUS_HEADER),
		   sizeof(p->status_header));
	sm_strlcpy(p->authserv, *sm_config_str(cfg, SM_K_AUTHSERV_ID) ?
				sm_config_str(cfg, SM_K_AUTHSERV_ID) :
				authserv_default, sizeof(p->authserv));
	if (sm_config_bool(cfg, SM_K_MILTER_CLIENT_AUTH) &&
	    load_client(p, cfg, authserv_default, why, whylen) < 0)
		goto fail;
	return 0;
fail:
	mil_policy_clear(p);
	return -1;
}

int
mil_policy_local(const struct mil_policy *p, const char *domain)
{
	size_t i, dl = strlen(domain), el;

	for (i = 0; i < p->nlocal; i++) {
		const char *e = p->local[i];

		if (*e != '.') {
			if (strcmp(e, domain) == 0)
				return 1;
		} else if ((el = strlen(e)) < dl + 1 &&
			   strcmp(domain + dl - el, e) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------- message */

struct mil_msg *
mil_msg_new(const struct mil_policy *p)
{
	struct mil_msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->p = p;
	m->own = -1;
	mil_label_init(&m->label);
	mil_inline_init(&m->pgp);
	return m;
}

static void
rcpt_clear(struct mil_rcpt *r)
{
	int k;

	free(r->addr);
	r->addr = NULL;
	for (k = 0; k < MIL_NKINDS; k++)
		mil_keys_clear(&r->keys[k]);
}

static void
free_rcpts(struct mil_rcpt *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rcpt_clear(&v[i]);
	free(v);
}

static void
free_refs(struct mil_hdr_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void
free_fields(struct mil_field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].value);
	}
	free(f);
}

void
mil_msg_free(struct mil_msg *m)
{
	if (m == NULL)
		return;
	free_rcpts(m->rcpt, m->nrcpt);
	free_rcpts(m->refused, m->nrefused);
	free_refs(m->content, m->ncontent);
	free_refs(m->status, m->nstatus);
	free_refs(m->ar, m->nours);
	free_refs(m->ca, m->ncours);
	free_fields(m->hdr, m->nhdr);
	free(m->trace);
	free_refs(m->traces, m->ntraces);
	if (m->bh != NULL)
		mil_body_hash_end(m->bh, m->digest);
	free(m->from);
	mil_spool_free(m->vbody);
	free(m->del);
	mil_spool_free(m->entity);
	mil_spool_free(m->out);
	mil_spool_free(m->check);
	mil_protect_free(m->hp);
	free(m);
}

const char *
mil_msg_why(const struct mil_msg *m)
{
	return m->why;
}

const struct mil_rcpt *
mil_msg_rcpts(const struct mil_msg *m, size_t *n)
{
	*n = m->nrcpt;
	return m->rcpt;
}

size_t
mil_msg_size(const struct mil_msg *m)
{
	return m->size;
}

/*
 * At most LEN-1 octets of S into OUT for a reply or the log, ending in
 * "..." when shortened; set_reply (or the caller) makes it printable.
 */
static const char *
brief(const char *s, char *out, size_t len)
{
	if (sm_strlcpy(out, s, len) >= len && len > 4)
		strcpy(out + len - 4, "...");
	return out;
}

/* Longest address echoed in a reply text or kept for an unreadable one. */
#define SHOWN 80

/* Reply text without characters an MTA (or libmilter) would choke on. */
__attribute__((format(printf, 4, 5))) static void
set_reply(struct mil_reply *r, const char *code, const char *xcode,
	  const char *fmt, ...)
{
	va_list ap;
	char *p;

	sm_strlcpy(r->code, code, sizeof(r->code));
	sm_strlcpy(r->xcode, xcode, sizeof(r->xcode));
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	for (p = r->text; *p != '\0'; p++)
		if (!isprint((unsigned char)*p) || *p == '%')
			*p = '?';
}

static int
add_rcpt(struct mil_rcpt **v, size_t *n, struct mil_rcpt *r)
{
	struct mil_rcpt *nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -1;
	nv[(*n)++] = *r;
	*v = nv;
	return 0;
}

/* The formats (MIL_KIND_BITs) R has a usable key in. */
static unsigned
secure_kinds(const struct mil_policy *p, const struct mil_rcpt *r)
{
	unsigned bits = 0;
	int i;

	for (i = 0; i < MIL_NKINDS; i++)
		if ((p->kinds & MIL_KIND_BIT(i)) &&
		    r->keys[i].state == MIL_KEY_SECURE)
			bits |= MIL_KIND_BIT(i);
	return bits;
}

/*
 * Does the message hold recipients that must be encrypted?  The formats
 * every recipient has a usable key in into *COMMON (all formats when
 * there is no recipient yet); *CANNOT when there is none.
 */
static void
mix(const struct mil_msg *m, int *must, int *cannot, unsigned *common)
{
	unsigned c = m->p->kinds;
	size_t i;

	*must = 0;
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].required)
			*must = 1;
		c &= secure_kinds(m->p, &m->rcpt[i]);
	}
	*cannot = m->nrcpt > 0 && c == 0;
	if (common != NULL)
		*common = c;
}

const char *
mil_rcpt_why(const struct mil_rcpt *r, char *buf, size_t buflen)
{
	size_t used = 0;
	int i, n = 0;

	if (buflen == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < MIL_NKINDS; i++)
		if (r->keys[i].state != MIL_KEY_SKIPPED)
			n++;
	if (n == 0)	/* not looked up: one reason for all */
		return sm_strlcpy(buf, r->keys[r->best].why, buflen), buf;
	for (i = 0; i < MIL_NKINDS && used < buflen; i++) {
		if (r->keys[i].state == MIL_KEY_SKIPPED)
			continue;
		used += (size_t)snprintf(buf + used, buflen - used, "%s%s: %s",
					 used ? "; " : "", mil_kind_record(i),
					 r->keys[i].why);
	}
	return buf;
}

/* An accepted recipient that is the same mailbox as ADDR, or NULL. */
static struct mil_rcpt *
accepted(const struct mil_msg *m, const char *addr)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (sm_addr_same(m->rcpt[i].addr, addr, m->p->fold_local))
			return &m->rcpt[i];
	return NULL;
}

/*
 * The mailbox LOCAL@DOM lands in without its extension: with recipient_delimiter
 * "+", carol+news@x is delivered to carol@x, so the table and the keys
 * of carol@x apply to it.  The local part is cut at the first delimiter
 * that is not its first octet, as Postfix does.  1 with the base in B
 * (sm_addr_clear it), 0 when A has no extension, -1 out of memory.
 */
static int
base_address(const struct mil_policy *p, const char *local, const char *dom,
	     struct sm_addr *b)
{
	size_t cut = strcspn(local, p->delim), i, n = 0;
	char *q, why[128];
	int rc;

	if (p->delim[0] == '\0' || cut == 0 || local[cut] == '\0')
		return 0;
	/* Quoted, then parsed: one canonical form, whatever is left. */
	if ((q = malloc(2 * cut + strlen(dom) + 4)) == NULL)
		return -1;
	q[n++] = '"';
	for (i = 0; i < cut; i++) {
		if (local[i] == '"' || local[i] == '\\')
			q[n++] = '\\';
		q[n++] = local[i];
	}
	sprintf(q + n, "\"@%s", dom);
	rc = sm_addr_parse(q, b, why, sizeof(why)) == SM_ADDR_OK ? 1 : -1;
	free(q);
	return rc;
}

/*
 * Is "<postmaster>" (no domain) required?  The MTA delivers it to its
 * own postmaster: required when a local domain, or postmaster@ it, is in
 * the table.
 */
static int
postmaster_required(const struct mil_policy *p)
{
	char addr[SM_NAME_BUF + 16];
	size_t i;

	for (i = 0; i < p->nlocal; i++) {
		const char *d = p->local[i] + (p->local[i][0] == '.');

		snprintf(addr, sizeof(addr), "postmaster@%s", d);
		if (sm_table_match(p->require, d) ||
		    sm_table_match(p->require, addr))
			return 1;
	}
	return 0;
}

/* Refuse an argument that cannot be read: kept printable for the log. */
static enum mil_verdict
unreadable(struct mil_msg *m, const char *arg, enum sm_addr_status st,
	   const char *why, struct mil_reply *reply,
	   const struct mil_rcpt **out)
{
	char shown[SHOWN];
	struct mil_rcpt r;
	char *c;

	if (st == SM_ADDR_NOMEM)
		return MIL_TEMPFAIL;
	memset(&r, 0, sizeof(r));
	mil_keys_init(r.keys, MIL_KEY_SKIPPED, why);	/* nothing to record */
	r.state = MIL_KEY_SKIPPED;
	/* Replies and the log put their own brackets around it. */
	while (*arg == ' ' || *arg == '\t' || *arg == '<')
		arg++;
	brief(arg, shown, sizeof(shown));
	if ((c = strrchr(shown, '>')) != NULL && c[1] == '\0')
		*c = '\0';
	for (c = shown; *c != '\0'; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
	if (st == SM_ADDR_TOO_LONG)
		set_reply(reply, "501", "5.1.3", "recipient address too long "
			  "(over %d octets)", SM_ADDR_MAX);
	else
		set_reply(reply, "501", "5.1.3", "<%s>: bad recipient address "
			  "syntax (%s)", shown, why);
	if ((r.addr = strdup(shown)) == NULL ||
	    add_rcpt(&m->refused, &m->nrefused, &r) < 0) {
		free(r.addr);
		return MIL_TEMPFAIL;
	}
	if (out != NULL)
		*out = &m->refused[m->nrefused - 1];
	return MIL_REJECT;
}

/* Append NOTE to the reasons of the kinds in BITS. */
static void
keys_note(struct mil_rcpt *r, unsigned bits, const char *note)
{
	int i;

	for (i = 0; i < MIL_NKINDS; i++)
		if (bits & MIL_KIND_BIT(i))
			sm_strlcpy(r->keys[i].why + strlen(r->keys[i].why), note,
				   sizeof(r->keys[i].why) -
					   strlen(r->keys[i].why));
}

/*
 * Look R's keys up in every format of the policy: LOCAL@DOM, then for
 * the kinds that found nothing the mailbox without its extension.
 */
static void
look_up(const struct mil_policy *p, struct mil_lookup *lk,
	struct mil_rcpt *r, const char *local, const char *dom,
	const struct sm_addr *base)
{
	unsigned again = 0;
	int i;

	mil_lookup_recipient(lk, local, dom, p->fold_lookup, p->kinds, r->keys);
	/* Nothing for carol+news: the mailbox is carol's. */
	for (i = 0; base != NULL && i < MIL_NKINDS; i++)
		if ((p->kinds & MIL_KIND_BIT(i)) &&
		    r->keys[i].state == MIL_KEY_NONE)
			again |= MIL_KIND_BIT(i);
	if (again) {
		mil_lookup_recipient(lk, base->local, dom, p->fold_lookup, again,
				     r->keys);
		for (i = 0; i < MIL_NKINDS; i++)
			if ((again & MIL_KIND_BIT(i)) &&
			    r->keys[i].state == MIL_KEY_NONE)
				again &= ~MIL_KIND_BIT(i);
		keys_note(r, again, " (without the extension)");
	}
}

enum mil_verdict
mil_msg_rcpt(struct mil_msg *m, struct mil_lookup *lk, const char *arg,
	     struct mil_reply *reply, const struct mil_rcpt **out)
{
	const struct mil_policy *p = m->p;
	enum mil_verdict v = MIL_ACCEPT;
	enum sm_addr_status st;
	struct sm_addr a, base;
	struct mil_rcpt r;
	char why[256], shown[SHOWN];
	const char *dom;
	int must, cannot, keyless, has_base = 0, i;
	unsigned common, before;
	enum mil_key_state ks;

	memset(&r, 0, sizeof(r));
	mil_keys_init(r.keys, MIL_KEY_NONE, "");
	if (out != NULL)
		*out = NULL;
	m->lk = lk;
	if ((st = sm_addr_parse(arg, &a, why, sizeof(why))) != SM_ADDR_OK) {
		if ((v = unreadable(m, arg, st, why, reply, out)) ==
		    MIL_TEMPFAIL)
			goto oom;
		return v;
	}
	if (accepted(m, a.addr) != NULL) {
		/* The MTA has it twice; the message gets it once. */
		sm_addr_clear(&a);
		return MIL_ACCEPT;
	}
	r.addr = a.addr;		/* ours now */
	a.addr = NULL;
	dom = r.addr + a.domain_at;
	if (a.postmaster) {
		/* RFC 5321 makes every server take it: the MTA's own, so
		   it is required when a local domain's postmaster is. */
		r.required = postmaster_required(p);
		mil_keys_init(r.keys, MIL_KEY_NONE, "postmaster without a domain");
	} else if (a.literal) {
		/* Which local domain an address literal lands in is the
		   MTA's secret: with a table, treat it as required. */
		r.required = sm_table_count(p->require) > 0;
		mil_keys_init(r.keys, MIL_KEY_NONE, "address literal");
	} else {
		if ((has_base = base_address(p, a.local, dom, &base)) < 0) {
			sm_addr_clear(&a);
			goto oom;
		}
		r.inbound = mil_policy_local(p, dom);
		/*
		 * Postfix routes carol%other@here and other!carol@here on
		 * to carol@other (allow_percent_hack, swap_bangpath): where
		 * it lands is not what the milter sees, so with a table it
		 * is required, as an address literal is.
		 */
		r.required = sm_table_match(p->require, r.addr) ||
			     (has_base && sm_table_match(p->require, base.addr)) ||
			     sm_table_match(p->require, dom) ||
			     (strpbrk(a.local, "%!") != NULL &&
			      sm_table_count(p->require) > 0);
		if (r.inbound ? p->encrypt_inbound : p->encrypt_outbound)
			look_up(p, lk, &r, a.local, dom, has_base ? &base : NULL);
		else
			mil_keys_init(r.keys, MIL_KEY_SKIPPED,
				      r.inbound ? "encrypt_inbound off" :
						  "encrypt_outbound off");
	}
	sm_addr_clear(&a);
	if (has_base > 0)
		sm_addr_clear(&base);
	for (i = 0; i < MIL_NKINDS; i++)
		if (!(p->kinds & MIL_KIND_BIT(i))) {
			mil_keys_clear(&r.keys[i]);
			r.keys[i].state = MIL_KEY_SKIPPED;
			sm_strlcpy(r.keys[i].why, "not in encryption_formats",
				   sizeof(r.keys[i].why));
		}
	r.best = mil_keys_best(r.keys, p->kinds);
	r.state = ks = r.keys[r.best].state;
	keyless = secure_kinds(p, &r) == 0;
	mix(m, &must, &cannot, &common);
	before = common;
	common &= secure_kinds(p, &r);
	brief(r.addr, shown, sizeof(shown));
	if (r.required && keyless &&
	    (ks == MIL_KEY_BOGUS || ks == MIL_KEY_TEMPERROR)) {
		v = MIL_TEMPFAIL;
		set_reply(reply, "450", "4.7.5",
			  "encryption required for <%s>: key lookup failed "
			  "(%s %s), try again later", shown,
			  mil_kind_record(r.best), mil_key_state_word(ks));
	} else if (r.required && keyless) {
		v = MIL_REJECT;
		set_reply(reply, "550", "5.7.1",
			  "encryption required for <%s>: no usable key in "
			  "DNSSEC-signed DNS (%s)", shown,
			  mil_key_state_word(ks));
	} else if ((must || r.required) && common == 0 && !p->split) {
		v = MIL_TEMPFAIL;
		set_reply(reply, "452", "4.5.3",
			  "<%s>: deliver separately: %s", shown,
			  r.required ? "it requires encryption and other "
				       "recipients cannot get it in the same "
				       "format" :
				       "other recipients require encryption "
				       "it cannot get in the same format");
	} else if (p->defer_mixed && m->nrcpt > 0 &&
		   (before == 0 ? !keyless : common == 0)) {
		/* mixed_recipients = defer: the first one set the class. */
		v = MIL_TEMPFAIL;
		set_reply(reply, "452", "4.5.3",
			  "<%s>: deliver separately: %s", shown,
			  before == 0 ? "it can get encrypted mail, the "
					"message is plaintext" :
			  keyless ? "it has no key, the message is encrypted" :
				    "its keys are in another format than the "
				    "message's");
	}
	if (v == MIL_ACCEPT ? add_rcpt(&m->rcpt, &m->nrcpt, &r) < 0 :
			      add_rcpt(&m->refused, &m->nrefused, &r) < 0)
		goto oom;
	if (out != NULL)
		*out = v == MIL_ACCEPT ? &m->rcpt[m->nrcpt - 1] :
					 &m->refused[m->nrefused - 1];
	return v;
oom:
	rcpt_clear(&r);
	/* Nothing of the argument: it may be what exhausted memory. */
	set_reply(reply, "451", "4.3.0",
		  "temporary resource shortage, try again later");
	return MIL_TEMPFAIL;
}

/* Add header NAME, the INDEXth of that name, to *V (*N of them). */
static int
keep_ref(struct mil_hdr_ref **v, size_t *n, const char *name, int index)
{
	struct mil_hdr_ref *nv;

	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	if ((nv[*n].name = strdup(name)) == NULL)
		return -1;
	nv[(*n)++].index = index;
	return 0;
}

/* Remember NAME's occurrence number among headers of the same name. */
static int
note_ref(struct mil_hdr_ref **v, size_t *n, const char *name)
{
	size_t i;
	int index = 1;

	for (i = 0; i < *n; i++)
		if (strcasecmp((*v)[i].name, name) == 0)
			index = (*v)[i].index + 1;
	return keep_ref(v, n, name, index);
}

/* Add LEN octets to the entity, unless the message is out of bounds. */
static int
entity_put(struct mil_msg *m, const void *data, size_t len)
{
	if (!m->want_entity || m->too_big)
		return 0;
	if (m->entity == NULL && (m->entity = mil_spool_new(m->p->mem_max)) ==
				 NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	return mil_spool_write(m->entity, data, len, m->why,
			       sizeof(m->why));
}

static void
count(struct mil_msg *m, size_t len)
{
	m->size += len;
	if (m->size > m->p->max_size && !m->too_big) {
		m->too_big = 1;
		mil_spool_free(m->entity);	/* will not be encrypted */
		m->entity = NULL;
		mil_spool_free(m->check);	/* nor verified: plaintext */
		m->check = NULL;
		mil_spool_free(m->vbody);	/* nor its signature */
		m->vbody = NULL;
		mil_protect_free(m->hp);
		m->hp = NULL;
	}
}

/* Octets of the entity so far: where the next ones go. */
static size_t
entity_len(const struct mil_msg *m)
{
	return m->entity != NULL ? mil_spool_size(m->entity) : 0;
}

/*
 * Decide at the first header whether the entity is worth keeping, and
 * with header_protection what goes into it.
 */
static int
first_header(struct mil_msg *m)
{
	int must, cannot;
	size_t i;

	m->headers_seen = 1;
	mix(m, &must, &cannot, NULL);
	m->want_entity = m->nrcpt > 0 && (!cannot || m->p->split);
	/* Signatures are checked for mail that stays here. */
	for (i = 0; m->p->verify && i < m->nrcpt; i++)
		if (m->rcpt[i].inbound)
			m->verify_local = m->want_verify = 1;
	if (m->want_entity && m->p->header_protection &&
	    (m->hp = mil_protect_new(m->p->status_header, m->p->mem_max)) ==
		    NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	return 0;
}

/* Write VALUE with every line end as CRLF. */
static int
put_crlf(struct mil_msg *m, const char *value)
{
	const char *p, *nl;

	for (p = value; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		size_t len = (size_t)(nl - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (entity_put(m, p, len) < 0 || entity_put(m, "\r\n", 2) < 0)
			return -1;
	}
	return entity_put(m, p, strlen(p));
}

/* A header line for the payload, spooled at [AT, END) if Content-*. */
static int
protect_header(struct mil_msg *m, const char *name, const char *value,
	       int leadspc, size_t at)
{
	if (m->hp == NULL)
		return 0;
	return mil_protect_header(m->hp, name, value, leadspc, at,
				  entity_len(m), m->why, sizeof(m->why));
}

/*
 * From, Authentication-Results and the client authentication header:
 * the sender to check a signature against, and results forged (or left
 * over) under our authserv-id, which go (RFC 8601 section 5).  -1 out
 * of memory.
 */
static int
auth_header(struct mil_msg *m, const char *name, const char *value)
{
	if (strcasecmp(name, "From") == 0) {
		if (m->nfrom++ == 0 && (m->from = strdup(value)) == NULL)
			return -1;
		return 0;
	}
	/* Client authentication's header under our authserv too. */
	if (m->p->client != NULL &&
	    strcasecmp(name, m->p->client->header) == 0) {
		m->nca++;
		if (!mil_ca_forged(m->p->client, value))
			return 0;
		return keep_ref(&m->ca, &m->ncours, name, m->nca);
	}
	if (strcasecmp(name, "Authentication-Results") != 0)
		return 0;
	m->nar++;	/* indexes are among all of that name */
	if (!mil_auth_is_ours(value, m->p->authserv))
		return 0;
	return keep_ref(&m->ar, &m->nours, name, m->nar);
}

/*
 * Split mode: a trace header says the message may be a copy smilla
 * made; the body's digest decides at the end.  -1 out of memory.
 */
static int
trace_header(struct mil_msg *m, const char *name, const char *value)
{
	if (strcasecmp(name, MIL_TRACE_HEADER) != 0)
		return 0;
	if (m->trace == NULL && (m->trace = strdup(value)) == NULL)
		return -1;
	if (m->bh == NULL && (m->bh = mil_body_hash_new()) == NULL)
		return -1;
	return note_ref(&m->traces, &m->ntraces, name);
}

/* Split mode: keep the field for the copies.  -1 out of memory. */
static int
keep_field(struct mil_msg *m, const char *name, const char *value,
	   int leadspc)
{
	struct mil_field *v;

	if ((v = realloc(m->hdr, (m->nhdr + 1) * sizeof(*v))) == NULL)
		return -1;
	m->hdr = v;
	v += m->nhdr;
	v->leadspc = leadspc;
	v->name = strdup(name);
	v->value = strdup(value);
	m->nhdr++;
	return v->name != NULL && v->value != NULL ? 0 : -1;
}

int
mil_msg_header(struct mil_msg *m, const char *name, const char *value,
	       int leadspc)
{
	size_t at;

	if (!m->headers_seen && first_header(m) < 0)
		return -1;
	count(m, strlen(name) + strlen(value) + 4);
	if (m->p->split && (keep_field(m, name, value, leadspc) < 0 ||
			    trace_header(m, name, value) < 0))
		goto oom;
	if (strcasecmp(name, "MIME-Version") == 0)
		m->has_mime_version = 1;
	if (strcasecmp(name, m->p->status_header) == 0 &&
	    note_ref(&m->status, &m->nstatus, name) < 0)
		goto oom;
	if (auth_header(m, name, value) < 0)
		goto oom;
	if (!mil_mime_is_content(name))
		return protect_header(m, name, value, leadspc, 0);
	if (note_ref(&m->content, &m->ncontent, name) < 0)
		goto oom;
	mil_label_header(&m->label, name, value);
	at = entity_len(m);
	if (entity_put(m, name, strlen(name)) < 0 ||
	    entity_put(m, leadspc ? ":" : ": ", leadspc ? 1 : 2) < 0 ||
	    put_crlf(m, value) < 0 || entity_put(m, "\r\n", 2) < 0)
		return -1;
	return protect_header(m, name, value, leadspc, at);
oom:
	sm_strlcpy(m->why, "out of memory", sizeof(m->why));
	return -1;
}

int
mil_msg_eoh(struct mil_msg *m)
{
	size_t at;

	if (!m->headers_seen && first_header(m) < 0)
		return -1;
	count(m, 2);
	m->claim = mil_label_claim(&m->label);
	/* Only what may be signed mail is kept for the check. */
	if (m->want_verify && !mil_signed_maybe(&m->label))
		m->want_verify = 0;
	at = entity_len(m);
	if (entity_put(m, "\r\n", 2) < 0)
		return -1;
	m->body_at = entity_len(m);
	return m->hp == NULL ? 0 :
	       mil_protect_eoh(m->hp, at, m->why, sizeof(m->why));
}

/*
 * Keep the body to check what the header claims.  Inline PGP is only a
 * candidate until the body's first octets show an armor line: a plain
 * text/plain message is not kept for nothing.
 */
static int
check_put(struct mil_msg *m, const void *data, size_t len)
{
	if (m->claim == MIL_FMT_NONE || m->too_big)
		return 0;
	if (m->claim == MIL_FMT_PGP_INLINE &&
	    mil_inline_feed(&m->pgp, data, len) < 0) {
		m->claim = MIL_FMT_NONE;
		mil_spool_free(m->check);
		m->check = NULL;
		return 0;
	}
	if (m->check == NULL && (m->check = mil_spool_new(m->p->mem_max)) ==
				NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	return mil_spool_write(m->check, data, len, m->why,
			       sizeof(m->why));
}

/* Keep the body for the signature check. */
static int
verify_put(struct mil_msg *m, const void *data, size_t len)
{
	if (!m->want_verify || m->too_big)
		return 0;
	if (m->vbody == NULL && (m->vbody = mil_spool_new(m->p->mem_max)) ==
				NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	return mil_spool_write(m->vbody, data, len, m->why, sizeof(m->why));
}

int
mil_msg_body(struct mil_msg *m, const void *data, size_t len)
{
	if (!m->headers_seen && first_header(m) < 0)
		return -1;
	count(m, len);
	if (m->bh != NULL)
		mil_body_hash_add(m->bh, data, len);
	if (check_put(m, data, len) < 0 || verify_put(m, data, len) < 0 ||
	    entity_put(m, data, len) < 0)
		return -1;
	return m->hp == NULL ? 0 :
	       mil_protect_body(m->hp, data, len, m->why, sizeof(m->why));
}

void
mil_msg_summary(const struct mil_msg *m, char *buf, size_t buflen)
{
	size_t i, n = m->nrcpt + m->nrefused, used = 0, len;
	char more[32];
	int w;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct mil_rcpt *r = i < m->nrcpt ?
						   &m->rcpt[i] :
						   &m->refused[i - m->nrcpt];
		const char *state = mil_key_state_word(r->state);
		const char *tag = i >= m->nrcpt ? "(refused)" : "";

		len = (i ? 1 : 0) + sm_escape_into(r->addr, NULL, 0) + 1 +
		      strlen(state) + strlen(tag);
		/* Room for this one, and for "+N more" unless it is the
		   last. */
		w = i + 1 < n ? snprintf(more, sizeof(more), ",+%zu more",
					 n - i - 1) : 0;
		if (used + len + (size_t)w >= buflen)
			break;
		if (i)
			buf[used++] = ',';
		used += sm_escape_into(r->addr, buf + used, buflen - used);
		snprintf(buf + used, buflen - used, ":%s%s", state, tag);
		used += 1 + strlen(state) + strlen(tag);
	}
	if (i < n) {
		snprintf(more, sizeof(more), "%s+%zu more", i ? "," : "",
			 n - i);
		if (used + strlen(more) < buflen)
			strcpy(buf + used, more);
		else if (buflen > 4)	/* a buffer too small for anything */
			strcpy(buf + buflen - 4, "...");
	}
}

/* The status header value for a message that stays plaintext. */
static void
plaintext(struct mil_msg *m, struct mil_outcome *o, const char *why)
{
	o->action = MIL_PLAINTEXT;
	o->why = why;
	snprintf(o->status, sizeof(o->status),
		 "plaintext; reason=%s; recipients=%zu; keys=%zu; authserv=%s",
		 why, o->nrcpt, o->nkeys, m->p->authserv);
}

static void
tempfail(struct mil_outcome *o, const char *why)
{
	o->action = MIL_TEMPFAILED;
	o->why = why;
	set_reply(&o->reply, "451", "4.3.0",
		  "message could not be encrypted, try again later");
}

/* Append C to the N certificates in V unless it is there; the new N. */
static size_t
add_cert(struct sm_blob *v, size_t n, const struct sm_blob *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].len == c->len && memcmp(v[i].data, c->data, c->len) == 0)
			return n;
	v[n] = *c;
	return n + 1;
}

/*
 * Write the PGP/MIME parts around the armored message (RFC 3156
 * section 4).  No preamble or epilogue: with nothing but the two parts
 * the result passes mil_mime_pgp_mime, so that it is left alone as
 * already encrypted wherever it passes smilla again.
 */
static int
pgp_mime(FILE *in, const struct sm_blob *keys, size_t n, FILE *out,
	 const char *boundary, char *why, size_t whylen)
{
	if (fprintf(out, "--%s\n"
			 "Content-Type: application/pgp-encrypted\n"
			 "Content-Description: PGP/MIME version identification\n"
			 "\n"
			 "Version: 1\n"
			 "\n"
			 "--%s\n"
			 "Content-Type: application/octet-stream; "
			 "name=\"encrypted.asc\"\n"
			 "Content-Description: OpenPGP encrypted message\n"
			 "Content-Disposition: inline; filename=\"encrypted.asc\"\n"
			 "\n", boundary, boundary) < 0) {
		sm_strlcpy(why, "cannot write the encrypted message", whylen);
		return -1;
	}
	if (sm_pgp_encrypt(in, keys, n, out, why, whylen) < 0)
		return -1;
	if (fprintf(out, "\n--%s--\n", boundary) < 0) {
		sm_strlcpy(why, "cannot write the encrypted message", whylen);
		return -1;
	}
	return 0;
}

/*
 * Encrypt the entity in format KIND to every recipient (and the sender
 * copy); for PGP/MIME the parts are delimited by BOUNDARY.
 */
static int
encrypt(struct mil_msg *m, enum mil_kind kind, const char *boundary)
{
	const struct sm_blob *copy = kind == MIL_OPENPGP ? m->p->pgp_copy :
							   m->p->copy;
	size_t ncopy = kind == MIL_OPENPGP ? m->p->npgp_copy : m->p->ncopy;
	struct sm_blob *certs;
	size_t i, j, n = ncopy;
	FILE *in = NULL, *out = NULL;
	int rc = -1;

	for (i = 0; i < m->nrcpt; i++)
		n += m->rcpt[i].keys[kind].ncerts;
	if ((certs = calloc(n, sizeof(*certs))) == NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	/* Borrowed blobs: only the array is ours.  One RecipientInfo (or
	   PKESK) per key, however many recipients share it. */
	for (n = 0, i = 0; i < m->nrcpt; i++)
		for (j = 0; j < m->rcpt[i].keys[kind].ncerts; j++)
			n = add_cert(certs, n, &m->rcpt[i].keys[kind].certs[j]);
	for (j = 0; j < ncopy; j++)
		n = add_cert(certs, n, &copy[j]);
	if (m->entity == NULL &&
	    (m->entity = mil_spool_new(m->p->mem_max)) == NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		goto done;
	}
	/* Output about 4/3 of the input: memory or disk alike.  A split
	   message's earlier group is written by now. */
	mil_spool_free(m->out);
	m->out = NULL;
	/* With header protection the payload is the entity with the
	   protected fields put in as it is read. */
	if ((m->out = mil_spool_new(m->p->mem_max)) == NULL ||
	    (in = m->hp != NULL ?
			  mil_protect_reader(m->hp, m->entity, m->why,
					     sizeof(m->why)) :
			  mil_spool_reader(m->entity, m->why, sizeof(m->why))) ==
		    NULL ||
	    (out = mil_spool_writer(m->out)) == NULL) {
		if (*m->why == '\0')
			sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		goto done;
	}
	if ((kind == MIL_OPENPGP ?
		     pgp_mime(in, certs, n, out, boundary, m->why,
			      sizeof(m->why)) :
		     sm_smime_encrypt(in, certs, n, m->p->cipher, out, m->why,
				      sizeof(m->why))) < 0)
		goto done;
	if (fclose(out) != 0) {
		out = NULL;
		sm_strlcpy(m->why, "cannot write the encrypted message",
			   sizeof(m->why));
		goto done;
	}
	out = NULL;
	rc = 0;
done:
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	free(certs);
	return rc;
}

/* The first format of encryption_formats in COMMON. */
static enum mil_kind
choose(const struct mil_policy *p, unsigned common)
{
	size_t i;

	for (i = 0; i < p->nformats; i++)
		if (common & MIL_KIND_BIT(p->formats[i]))
			return p->formats[i];
	return p->formats[0];	/* not reached: COMMON is not empty */
}

/* The outcome's headers and status for a message encrypted as KIND. */
static void
encrypted(struct mil_msg *m, struct mil_outcome *o, enum mil_kind kind,
	  const char *boundary)
{
	o->action = MIL_ENCRYPTED;
	o->why = NULL;
	o->kind = kind;
	o->body = m->out;
	o->add_mime_version = !m->has_mime_version;
	if (m->hp != NULL) {
		o->hp = mil_protect_applied(m->hp, &o->hp_why) ? 1 : -1;
		if (o->hp > 0) {
			o->legacy = mil_protect_legacy(m->hp, &o->hp_why);
			o->chg = mil_protect_changes(m->hp, &o->nchg);
		}
	}
	if (kind == MIL_OPENPGP) {
		snprintf(o->content_type, sizeof(o->content_type),
			 "multipart/encrypted; "
			 "protocol=\"application/pgp-encrypted\"; "
			 "boundary=\"%s\"", boundary);
		o->cte = NULL;
		o->disposition = NULL;
		snprintf(o->status, sizeof(o->status),
			 "encrypted pgp; recipients=%zu; cipher=aes256; "
			 "authserv=%s", m->nrcpt, m->p->authserv);
		return;
	}
	snprintf(o->content_type, sizeof(o->content_type),
		 "application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"",
		 sm_smime_type(m->p->cipher));
	o->cte = "base64";
	o->disposition = "attachment; filename=\"smime.p7m\"";
	snprintf(o->status, sizeof(o->status),
		 "encrypted smime; recipients=%zu; cipher=%s; authserv=%s",
		 m->nrcpt, sm_smime_cipher_name(m->p->cipher), m->p->authserv);
}

/*
 * What the kept body really is: the format the header claimed when the
 * body verifies, else MIL_FMT_NONE (also when it cannot be read: then
 * the message is treated as plaintext, which is safe).
 */
static enum mil_format
verified(struct mil_msg *m)
{
	enum mil_format f = MIL_FMT_NONE;
	size_t len, got = 0;
	uint8_t *buf;
	FILE *in;

	/* Asked once per group in split mode: the body is read once. */
	if (m->checked)
		return m->really;
	if (m->claim == MIL_FMT_NONE || m->too_big || m->check == NULL)
		return MIL_FMT_NONE;
	len = mil_spool_size(m->check);
	if ((buf = malloc(len + 1)) == NULL)
		return MIL_FMT_NONE;
	if ((in = mil_spool_reader(m->check, NULL, 0)) != NULL) {
		got = fread(buf, 1, len, in);
		fclose(in);
	}
	if (in != NULL && got == len) {
		char why[200];

		/* Reasons name no client-supplied text: fit for the log. */
		if ((f = mil_label_verify(&m->label, buf, len, why,
					  sizeof(why))) == MIL_FMT_NONE)
			snprintf(m->why_not, sizeof(m->why_not), "%s: %s",
				 mil_format_word(m->claim), why);
		m->checked = 1;
		m->really = f;
	}
	free(buf);
	return f;
}

/*
 * The signature check of mail to a local recipient, into M->auth and
 * O's header value.  Mail encrypted to the local user cannot be checked
 * here, nor mail too big to keep: O->auth_skipped says so.  0, or -1
 * out of memory.
 */
/* The Authentication-Results value of M's check into O. */
static int
auth_value(struct mil_msg *m, struct mil_outcome *o)
{
	if (m->auth.result != MIL_AUTH_NONE &&
	    mil_auth_header(&m->auth, m->p->authserv, o->auth_header,
			    sizeof(o->auth_header)) < 0) {
		/* A reason too long for the header: the result stands. */
		m->auth.why[0] = '\0';
		if (mil_auth_header(&m->auth, m->p->authserv, o->auth_header,
				    sizeof(o->auth_header)) < 0)
			o->auth_header[0] = '\0';
	}
	return 0;
}

static int
check_signature(struct mil_msg *m, struct mil_outcome *o, enum mil_format fmt)
{
	size_t len = 0, got = 0;
	uint8_t *buf;
	FILE *in = NULL;

	o->auth = &m->auth;
	if (!m->verify_local)
		return 0;
	if (m->auth_done)	/* another group of the same message */
		return auth_value(m, o);
	/* In any encrypted shape, whether its header could be signed
	   mail (pkcs7-mime) or not (multipart/encrypted, inline PGP). */
	if (fmt != MIL_FMT_NONE) {
		o->auth_skipped = "encrypted";
		return 0;
	}
	if (!m->want_verify)
		return 0;
	if (m->too_big) {
		if (mil_signed_claimed(&m->label))
			o->auth_skipped = "too-big";
		return 0;
	}
	if (m->vbody != NULL)
		len = mil_spool_size(m->vbody);
	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	if (m->vbody != NULL &&
	    (in = mil_spool_reader(m->vbody, NULL, 0)) != NULL) {
		got = fread(buf, 1, len, in);
		fclose(in);
	}
	if (got != len) {
		free(buf);
		return -1;
	}
	mil_verify(buf, len, &m->label, m->from ? m->from : "", m->nfrom,
		   m->lk, NULL, &m->auth);
	free(buf);
	m->auth_done = 1;
	return auth_value(m, o);
}

/*
 * Is M a copy smilla submitted in split mode, to exactly its accepted
 * recipients and with this body?  Its trace header holds (trace.h).
 */
static int
own_copy(struct mil_msg *m)
{
	const char **addrs;
	size_t i;
	int holds;

	if (m->own >= 0)
		return m->own;
	m->own = 0;
	if (m->trace == NULL || m->bh == NULL)
		return 0;
	mil_body_hash_end(m->bh, m->digest);
	m->bh = NULL;
	if ((addrs = calloc(m->nrcpt + 1, sizeof(*addrs))) == NULL)
		return 0;
	for (i = 0; i < m->nrcpt; i++)
		addrs[i] = m->rcpt[i].addr;
	holds = mil_trace_holds(m->p->split_key, time(NULL), m->trace, addrs,
				m->nrcpt, m->digest);
	free(addrs);
	/* Else forged, stale, or for other mail: it goes, and counts for
	   nothing. */
	return m->own = holds;
}

void
mil_msg_finish(struct mil_msg *m, struct mil_outcome *o)
{
	enum mil_format fmt = MIL_FMT_NONE;
	enum mil_kind kind = MIL_SMIME;
	int must, cannot, skipped = 0;
	unsigned common;
	size_t i;

	memset(o, 0, sizeof(*o));
	o->nrcpt = m->nrcpt;
	if (own_copy(m)) {
		/* Made here, for exactly these recipients: done. */
		o->action = MIL_UNTOUCHED;
		o->why = "split-copy";
		o->own_copy = 1;
		return;
	}
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].state == MIL_KEY_SECURE)
			o->nkeys++;
		if (m->rcpt[i].state == MIL_KEY_SKIPPED)
			skipped = 1;
	}
	mix(m, &must, &cannot, &common);
	if (!cannot && m->nrcpt > 0) {
		kind = choose(m->p, common);
		sm_random_token(m->boundary, sizeof(m->boundary), "smilla-pgp-");
	}
	if (m->nrcpt == 0) {
		o->action = MIL_UNTOUCHED;
		o->why = "no-recipients";
	} else if (*m->why != '\0') {
		tempfail(o, m->why);
		return;
	} else if ((fmt = verified(m)) != MIL_FMT_NONE) {
		o->action = MIL_UNTOUCHED;
		o->why = "already-encrypted";
		o->format = fmt;
		snprintf(o->status, sizeof(o->status),
			 "untouched; reason=already-encrypted; format=%s; "
			 "recipients=%zu; authserv=%s", mil_format_word(fmt),
			 o->nrcpt, m->p->authserv);
	} else if (m->too_big && must) {
		/* Split mode lets required and keyless recipients share a
		   message; too big to encrypt, it is too big for both. */
		o->action = MIL_REJECTED;
		o->why = "too-big";
		set_reply(&o->reply, "552", "5.3.4", "message too big to encrypt");
		return;
	} else if (cannot) {
		if (must) {	/* RCPT (or split) keeps this from happening */
			tempfail(o, "required recipient mixed with keyless");
			return;
		}
		plaintext(m, o, skipped ? "disabled" : "no-key");
	} else if (m->too_big) {
		if (must) {
			o->action = MIL_REJECTED;
			o->why = "too-big";
			set_reply(&o->reply, "552", "5.3.4",
				  "message too big to encrypt");
			return;
		}
		plaintext(m, o, "too-big");
	} else if (encrypt(m, kind, m->boundary) < 0) {
		tempfail(o, m->why);
		return;
	} else {
		encrypted(m, o, kind, m->boundary);
	}
	/* A required recipient gets encrypted mail or a refusal: only a
	   body that verified passes unchanged. */
	if (must && o->action != MIL_ENCRYPTED && fmt == MIL_FMT_NONE) {
		tempfail(o, "required recipient would get plaintext");
		return;
	}
	if (check_signature(m, o, fmt) < 0) {
		tempfail(o, "out of memory");
		return;
	}
	/* Deletions, last occurrence first so indexes stay valid: the
	   status headers and the Authentication-Results under our
	   authserv-id the message came with on every path that delivers,
	   the Content-* headers when the body is replaced. */
	free(m->del);
	if ((m->del = calloc(m->ncontent + m->nstatus + m->nours + m->ncours +
				     m->ntraces + 1, sizeof(*m->del))) == NULL) {
		tempfail(o, "out of memory");
		return;
	}
	for (i = m->nstatus; i-- > 0;)
		m->del[o->ndel++] = m->status[i];
	for (i = m->nours; i-- > 0;)
		m->del[o->ndel++] = m->ar[i];
	for (i = m->ncours; i-- > 0;)
		m->del[o->ndel++] = m->ca[i];
	for (i = m->ntraces; i-- > 0;)
		m->del[o->ndel++] = m->traces[i];
	if (o->action == MIL_ENCRYPTED)
		for (i = m->ncontent; i-- > 0;)
			m->del[o->ndel++] = m->content[i];
	o->del = m->del;
}

/* ------------------------------------------------------------ split */

int
mil_msg_splits(struct mil_msg *m)
{
	int must, cannot;
	size_t i;

	if (!m->p->split || m->too_big || *m->why != '\0' || own_copy(m) ||
	    verified(m) != MIL_FMT_NONE)
		return 0;
	/*
	 * A format every recipient has a key in: one message does.  Else
	 * one recipient with a key makes two groups at least (it and the
	 * keyless, or it and those without its format); none, one
	 * plaintext group.
	 */
	mix(m, &must, &cannot, NULL);
	for (i = 0; cannot && i < m->nrcpt; i++)
		if (secure_kinds(m->p, &m->rcpt[i]) != 0)
			return 1;
	return 0;
}

size_t
mil_msg_groups(const struct mil_msg *m, struct mil_group g[MIL_NKINDS + 1])
{
	const struct mil_policy *p = m->p;
	size_t i, f, n = 0;
	char *taken;

	memset(g, 0, (MIL_NKINDS + 1) * sizeof(*g));
	if ((taken = calloc(m->nrcpt + 1, 1)) == NULL)
		return 0;
	for (f = 0; f <= p->nformats; f++) {
		struct mil_group *t = &g[n];

		t->plain = f == p->nformats;
		t->kind = t->plain ? MIL_SMIME : p->formats[f];
		if ((t->idx = calloc(m->nrcpt + 1, sizeof(*t->idx))) == NULL) {
			free(taken);
			mil_groups_clear(g);
			return 0;
		}
		for (i = 0; i < m->nrcpt; i++)
			if (!taken[i] &&
			    (t->plain || (secure_kinds(p, &m->rcpt[i]) &
					  MIL_KIND_BIT(t->kind)))) {
				taken[i] = 1;
				t->idx[t->n++] = i;
			}
		if (t->n > 0)
			n++;
		else {
			free(t->idx);
			t->idx = NULL;
		}
	}
	free(taken);
	return n;
}

void
mil_groups_clear(struct mil_group g[MIL_NKINDS + 1])
{
	size_t i;

	for (i = 0; i <= MIL_NKINDS; i++) {
		free(g[i].idx);
		g[i].idx = NULL;
		g[i].n = 0;
	}
}

void
mil_msg_finish_group(struct mil_msg *m, const struct mil_group *g,
		     struct mil_outcome *o)
{
	struct mil_rcpt *all = m->rcpt, *sub;
	size_t nall = m->nrcpt, i;

	if ((sub = calloc(g->n + 1, sizeof(*sub))) == NULL) {
		memset(o, 0, sizeof(*o));
		tempfail(o, "out of memory");
		return;
	}
	/* A view: the recipients are still M's, not copies to free. */
	for (i = 0; i < g->n; i++)
		sub[i] = all[g->idx[i]];
	m->rcpt = sub;
	m->nrcpt = g->n;
	mil_msg_finish(m, o);
	m->rcpt = all;
	m->nrcpt = nall;
	free(sub);
}

/* Is header field I (among M's) one O deletes or changes?  Its change. */
static int
field_fate(const struct mil_msg *m, const struct mil_outcome *o, size_t i,
	   const char **value)
{
	const struct mil_field *f = &m->hdr[i];
	size_t j;
	int index = 1;

	for (j = 0; j < i; j++)
		index += strcasecmp(m->hdr[j].name, f->name) == 0;
	for (j = 0; j < o->ndel; j++)
		if (o->del[j].index == index &&
		    strcasecmp(o->del[j].name, f->name) == 0)
			return 1;
	for (j = 0; j < o->nchg; j++)
		if (o->chg[j].index == index &&
		    strcasecmp(o->chg[j].name, f->name) == 0) {
			if (o->chg[j].value == NULL)
				return 1;
			*value = o->chg[j].value;
			return 2;
		}
	return 0;
}

/* "NAME: VALUE" (VALUE as given) and CRLF to OUT. */
static void
put_field(FILE *out, const char *name, const char *value, int leadspc)
{
	fprintf(out, "%s:%s%s\r\n", name, leadspc ? "" : " ", value);
}

/* Copy IN from offset AT to OUT, hashing it into H. */
static int
copy_body(FILE *in, size_t at, FILE *out, struct mil_body_hash *h)
{
	char buf[16384];
	size_t n;

	if (at > 0 && fseek(in, (long)at, SEEK_SET) != 0)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		mil_body_hash_add(h, buf, n);
		if (out != NULL && fwrite(buf, 1, n, out) != n)
			return -1;
	}
	return ferror(in) ? -1 : 0;
}

int
mil_msg_copy(struct mil_msg *m, const struct mil_outcome *o,
	     const char *const *top, FILE *out, uint8_t body[32])
{
	struct mil_body_hash *h;
	const char *value;
	FILE *in;
	size_t i;
	int rc;

	if (out == NULL)
		goto body;
	for (; top != NULL && *top != NULL; top++)
		fprintf(out, "%s\r\n", *top);
	if (o->auth_header[0] != '\0')
		put_field(out, "Authentication-Results", o->auth_header, 0);
	for (i = 0; i < m->nhdr; i++) {
		value = m->hdr[i].value;
		if ((rc = field_fate(m, o, i, &value)) == 1)
			continue;
		put_field(out, m->hdr[i].name, value,
			  rc == 2 ? 0 : m->hdr[i].leadspc);
	}
	if (o->action == MIL_ENCRYPTED) {
		if (o->add_mime_version)
			put_field(out, "MIME-Version", "1.0", 0);
		put_field(out, "Content-Type", o->content_type, 0);
		if (o->cte != NULL)
			put_field(out, "Content-Transfer-Encoding", o->cte, 0);
		if (o->disposition != NULL)
			put_field(out, "Content-Disposition", o->disposition,
				  0);
	}
	if (o->status[0] != '\0')
		put_field(out, m->p->status_header, o->status, 0);
	fputs("\r\n", out);
body:
	if ((h = mil_body_hash_new()) == NULL) {
		sm_strlcpy(m->why, "out of memory", sizeof(m->why));
		return -1;
	}
	in = o->action == MIL_ENCRYPTED ?
		     mil_spool_reader(o->body, m->why, sizeof(m->why)) :
	     m->entity != NULL ?
		     mil_spool_reader(m->entity, m->why, sizeof(m->why)) :
		     NULL;
	rc = 0;
	if (in != NULL) {
		rc = copy_body(in, o->action == MIL_ENCRYPTED ? 0 : m->body_at,
			       out, h);
		fclose(in);
	} else if (o->action == MIL_ENCRYPTED || m->entity != NULL) {
		rc = -1;
	}
	mil_body_hash_end(h, body);
	if (rc < 0 || (out != NULL && (fflush(out) != 0 || ferror(out)))) {
		if (*m->why == '\0')
			sm_strlcpy(m->why, "cannot write the copy",
				   sizeof(m->why));
		return -1;
	}
	return 0;
}

const char *
mil_msg_why_not(const struct mil_msg *m)
{
	return m->why_not;
}
