/*
 * ctl_selfcheck.c - smillactl selfcheck and rollover: the half of
 * mutual DANE that is ours.
 *
 *   smillactl [-c FILE] selfcheck [--postconf-dir DIR | --cert PEM
 *	[--key PEM] [--chain PEM] --helo NAME] [--email ADDR]... [--json]
 *	The certificates Postfix presents as a client (each entry of
 *	smtp_tls_chain_files, else each of smtp_tls_cert_file,
 *	smtp_tls_eccert_file and smtp_tls_dcert_file with its key file,
 *	read with "postconf -x -h", "-c DIR" for another config
 *	directory, then overridden by the -o settings of
 *	default_transport's master.cf service, "postconf -P -x") against
 *	our own _smtp-client.<helo> TLSA RRset (smtp_helo_name, else
 *	myhostname), which must be DNSSEC-secure; with Postfix's settings
 *	also smtpd_tls_ask_ccert, smtpd_tls_fingerprint_digest (against
 *	smilla's fingerprint_digest) and a check_policy_service of one
 *	of smilla-policyd's listen sockets in the smtpd_*_restrictions.
 *	With --cert the identity comes from the options and Postfix is
 *	not asked.  Each --email: its SMIMEA and OPENPGPKEY publication,
 *	secure, usable for encryption as the milter decides it
 *	(sm_smimea_usable, sm_pgp_usable) and not expiring within 30 days.
 *
 *   smillactl [-c FILE] rollover --cert NEW --name HOST [--current PEM |
 *	--postconf-dir DIR] [--json]
 *	The plan for a key change: the record for NEW to publish next to
 *	the current one, the TTL of the live RRset to wait, the switch,
 *	the record to remove afterwards; and whether the live RRset
 *	authenticates both the current certificate (--current, else
 *	the first that Postfix presents) and NEW, as it must between
 *	publishing and removing.
 *
 * Every finding is a line "STATUS CHECK SUBJECT: DETAIL" (pass, fail,
 * error, info; rollover's steps done or todo), with what to publish or
 * set on a "  fix:" line, then "result: pass|fail".  --json prints
 * {"command","result","checks":[{"check","subject","status","detail",
 * "fix"}]} (rollover adds "name", "ttl", "publish", "remove").
 *
 * Exit status: 0 every check passed (rollover: both certificates
 * authenticate), 1 a check failed, 2 a lookup failed (timeout,
 * SERVFAIL), 64+ usage, files and postconf (sysexits.h).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "config.h"
#include "ctl.h"
#include "dane.h"
#include "dns.h"
#include "names.h"
#include "pgp.h"
#include "rr.h"
#include "smimea.h"
#include "util.h"

#define EXPIRY_MARGIN (30L * 86400)	/* keys must last this long */
#define POSTCONF_OUT_MAX (256 * 1024)

/* A finding's status, in the order a worse one overrides. */
enum status { ST_PASS, ST_INFO, ST_DONE, ST_TODO, ST_FAIL, ST_ERROR };
static const char *const status_words[] = {
	[ST_PASS] = "pass", [ST_INFO] = "info", [ST_DONE] = "done",
	[ST_TODO] = "todo", [ST_FAIL] = "fail", [ST_ERROR] = "error",
};

struct finding {
	enum status st;
	char *check, *subject, *detail, *fix;	/* owned; fix may be NULL */
};

struct run {
	const struct sm_config *cfg;
	struct sm_dns *dns;
	int json;
	struct finding *f;
	size_t n;
};

/* What Postfix presents as a client: one key with its chain. */
struct ident {
	char *file, *key;	/* where the certificates and key are */
	struct sm_blob *certs;	/* [0] the end entity */
	size_t n;
	int key_ok;		/* -1: check the key file */
	char *from;		/* the parameter and file it is set in, or NULL */
};

struct opts {
	const char *conf, *postconf_dir, *cert, *key, *chain, *helo, *name,
		*current;
	const char **email;
	size_t nemail;
	int json;
};

static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("smillactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* T as "YYYY-MM-DD HH:MM:SS UTC" in BUF; returns BUF. */
static const char *
date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		die(EX_OSERR, "out of memory");
	return d;
}

static void add(struct run *r, enum status st, const char *check,
		const char *subject, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Record a finding: FIX what to do (NULL: nothing), then the detail. */
static void
add(struct run *r, enum status st, const char *check, const char *subject,
    const char *fix, const char *fmt, ...)
{
	struct finding *f;
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if ((f = realloc(r->f, (r->n + 1) * sizeof(*f))) == NULL)
		die(EX_OSERR, "out of memory");
	r->f = f;
	f += r->n++;
	f->st = st;
	f->check = xstrdup(check);
	f->subject = xstrdup(subject);
	f->detail = xstrdup(detail);
	f->fix = fix ? xstrdup(fix) : NULL;
}

/* The worst status of the run: what the exit status says. */
static enum status
worst(const struct run *r)
{
	enum status w = ST_PASS;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->f[i].st > w)
			w = r->f[i].st;
	return w;
}

static int
exit_status(enum status w)
{
	return w == ST_ERROR ? 2 : w == ST_FAIL || w == ST_TODO ? 1 : 0;
}

static void
print_findings(const struct run *r, const char *command, const char *extra)
{
	const char *result = exit_status(worst(r)) == 0 ? "pass" : "fail";
	size_t i;

	if (r->json) {
		printf("{\"command\":\"%s\",\"result\":\"%s\"%s,\"checks\":[",
		       command, result, extra ? extra : "");
		for (i = 0; i < r->n; i++) {
			printf("%s{\"check\":", i ? "," : "");
			json_str(r->f[i].check);
			printf(",\"subject\":");
			json_str(r->f[i].subject);
			printf(",\"status\":\"%s\",\"detail\":",
			       status_words[r->f[i].st]);
			json_str(r->f[i].detail);
			printf(",\"fix\":");
			json_str(r->f[i].fix);
			putchar('}');
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < r->n; i++) {
		printf("%-5s %-11s %s: %s\n", status_words[r->f[i].st],
		       r->f[i].check, r->f[i].subject, r->f[i].detail);
		if (r->f[i].fix != NULL)
			printf("      fix: %s\n", r->f[i].fix);
	}
	printf("result: %s\n", result);
}

static void
run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->f[i].check);
		free(r->f[i].subject);
		free(r->f[i].detail);
		free(r->f[i].fix);
	}
	free(r->f);
	sm_dns_free(r->dns);
}

/* ---- Postfix ---- */

/* The Postfix parameters read, in the order of enum pc. */
enum pc {
	PC_CERT, PC_KEY, PC_ECCERT, PC_ECKEY, PC_DCERT, PC_DKEY, PC_CHAIN,
	PC_HELO,
	PC_OVER_END,		/* those above: the ones master.cf may override */
	PC_HOSTNAME = PC_OVER_END, PC_TRANSPORT, PC_ASK_CCERT, PC_DIGEST,
	PC_QUEUE_DIR, PC_RESTR_FIRST
};
static const char *const pc_names[] = {
	"smtp_tls_cert_file", "smtp_tls_key_file", "smtp_tls_eccert_file",
	"smtp_tls_eckey_file", "smtp_tls_dcert_file", "smtp_tls_dkey_file",
	"smtp_tls_chain_files", "smtp_helo_name",
	"myhostname", "default_transport", "smtpd_tls_ask_ccert",
	"smtpd_tls_fingerprint_digest", "queue_directory",
	/* where check_policy_service may stand */
	"smtpd_client_restrictions", "smtpd_helo_restrictions",
	"smtpd_sender_restrictions", "smtpd_relay_restrictions",
	"smtpd_recipient_restrictions", "smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions",
};
#define PC_COUNT (sizeof(pc_names) / sizeof(pc_names[0]))

/* The client certificates, in the order Postfix loads them (RSA, ECDSA, DSA). */
static const enum pc pc_cert_key[][2] = {
	{ PC_CERT, PC_KEY }, { PC_ECCERT, PC_ECKEY }, { PC_DCERT, PC_DKEY },
};
#define NCERT_KEY (sizeof(pc_cert_key) / sizeof(pc_cert_key[0]))

/* Postfix's settings as the default transport sees them. */
struct pf {
	char *val[PC_COUNT];	/* owned; values expanded (postconf -x) */
	int over[PC_COUNT];	/* 1: val is a master.cf -o override */
	char *master;		/* "master.cf TRANSPORT/unix", or NULL */
};

/* Where the value of parameter I was set, for the findings. */
static const char *
pf_from(const struct pf *pf, size_t i)
{
	return pf->over[i] ? pf->master : "main.cf";
}

static void
pf_free(struct pf *pf)
{
	size_t i;

	for (i = 0; i < PC_COUNT; i++)
		free(pf->val[i]);
	free(pf->master);
}

/*
 * Run "postconf [-c DIR] ARG..." (NARG of them) and return what it
 * printed on its standard output (owned, NUL-terminated).  Its
 * standard error is kept from ours (the "warning: unmatched request"
 * of a service without overrides is no news) and is the reason given
 * when it fails.  Dies when postconf cannot run (69) or fails (78),
 * naming the command.
 */
static char *
pc_run(const char *dir, const char *const *arg, size_t narg)
{
	const char *argv[PC_COUNT + 6];
	char cmd[1024], err[512] = "", *out, *nl;
	size_t i, n = 0, len = 0, used;
	int fd[2], status;
	FILE *errf;
	ssize_t got;
	pid_t pid;

	if (narg > PC_COUNT + 2)	/* argv below */
		die(EX_SOFTWARE, "postconf: %zu arguments", narg);
	argv[n++] = "postconf";
	if (dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = dir;
	}
	for (i = 0; i < narg; i++)
		argv[n++] = arg[i];
	argv[n] = NULL;
	if ((errf = tmpfile()) == NULL || pipe(fd) < 0 || (pid = fork()) < 0)
		die(EX_OSERR, "postconf: %s", strerror(errno));
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fileno(errf), 2);
		close(fd[0]);
		close(fd[1]);
		execvp("postconf", (char *const *)argv);
		execv("/usr/sbin/postconf", (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	if ((out = malloc(POSTCONF_OUT_MAX + 1)) == NULL)
		die(EX_OSERR, "out of memory");
	while (len < POSTCONF_OUT_MAX &&
	       (got = read(fd[0], out + len, POSTCONF_OUT_MAX - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		len += (size_t)got;
	}
	out[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		die(EX_UNAVAILABLE, "cannot run postconf (is Postfix installed?)");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		/* The command as one would type it again, and why it failed. */
		for (i = 0, used = 0; argv[i] != NULL && used < sizeof(cmd); i++) {
			if (i == n - narg + 3) {	/* not every name */
				snprintf(cmd + used, sizeof(cmd) - used, " ...");
				break;
			}
			used += (size_t)snprintf(cmd + used, sizeof(cmd) - used,
				strchr(argv[i], '*') ? " '%s'" : " %s", argv[i]);
		}
		rewind(errf);
		if (fgets(err, sizeof(err), errf) != NULL &&
		    (nl = strchr(err, '\n')) != NULL)
			*nl = '\0';
		die(EX_CONFIG, "%s failed%s%s", cmd + 1, *err ? ": " : "", err);
	}
	fclose(errf);
	return out;
}

/*
 * Postfix's main.cf values of pc_names[] into PF ("postconf [-c DIR]
 * -x -h NAME...").  Dies as pc_run().
 */
static void
postconf(const char *dir, struct pf *pf)
{
	const char *arg[PC_COUNT + 2];
	char *out, *p, *nl;
	size_t i, n = 0;

	memset(pf, 0, sizeof(*pf));
	arg[n++] = "-x";
	arg[n++] = "-h";
	for (i = 0; i < PC_COUNT; i++)
		arg[n++] = pc_names[i];
	out = pc_run(dir, arg, n);
	for (i = 0, p = out; i < PC_COUNT; i++) {
		if ((nl = strchr(p, '\n')) == NULL)
			die(EX_CONFIG, "postconf printed %zu values, not %zu",
			    i, (size_t)PC_COUNT);
		*nl = '\0';
		pf->val[i] = xstrdup(p);
		p = nl + 1;
	}
	free(out);
}

/*
 * The master.cf "-o NAME=VALUE" of default_transport's service over
 * PF's main.cf values of the client-side names (those before
 * PC_OVER_END), each noted as a finding of R.  A service without
 * overrides, or none in master.cf, leaves PF as it is.  Dies as
 * pc_run().
 */
static void
postconf_master(struct run *r, const char *dir, struct pf *pf)
{
	const char *arg[3];
	char svc[SM_NAME_BUF + 16], *out, *line, *next, *eq;
	size_t i, tl = strcspn(pf->val[PC_TRANSPORT], ":");
	int follows[NCERT_KEY];

	if (tl == 0 || tl >= SM_NAME_BUF)
		return;
	snprintf(svc, sizeof(svc), "%.*s/unix/*", (int)tl,
		 pf->val[PC_TRANSPORT]);
	arg[0] = "-P";
	arg[1] = "-x";
	arg[2] = svc;
	/*
	 * A key file left to its default ($smtp_tls_cert_file) follows
	 * its certificate file: main.cf's expanded values are then the
	 * same, and an overridden certificate brings its key along.
	 */
	for (i = 0; i < NCERT_KEY; i++)
		follows[i] = strcmp(pf->val[pc_cert_key[i][0]],
				    pf->val[pc_cert_key[i][1]]) == 0;
	out = pc_run(dir, arg, 3);
	svc[strlen(svc) - 1] = '\0';	/* "TRANSPORT/unix/" */
	for (line = out; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		/* "TRANSPORT/unix/NAME = VALUE" */
		if (strncmp(line, svc, strlen(svc)) != 0 ||
		    (eq = strstr(line, " = ")) == NULL)
			continue;
		*eq = '\0';
		for (i = 0; i < PC_OVER_END; i++)
			if (strcmp(line + strlen(svc), pc_names[i]) == 0)
				break;
		if (i == PC_OVER_END)
			continue;
		if (pf->master == NULL) {
			char from[sizeof(svc) + 16];

			snprintf(from, sizeof(from), "master.cf %.*s", (int)tl + 5,
				 svc);
			pf->master = xstrdup(from);
		}
		add(r, ST_INFO, "override", pc_names[i], NULL,
		    "%s overrides %s = %s (main.cf: %s)", pf->master,
		    pc_names[i], eq + 3, *pf->val[i] ? pf->val[i] : "empty");
		free(pf->val[i]);
		pf->val[i] = xstrdup(eq + 3);
		pf->over[i] = 1;
	}
	free(out);
	for (i = 0; i < NCERT_KEY; i++) {
		enum pc c = pc_cert_key[i][0], k = pc_cert_key[i][1];

		if (follows[i] && pf->over[c] && !pf->over[k]) {
			free(pf->val[k]);
			pf->val[k] = xstrdup(pf->val[c]);
			pf->over[k] = 1;
		}
	}
}

/* Load the certificates of FILE (and of CHAIN) into ID; dies on error. */
static void
ident_load(struct ident *id, const char *file, const char *key,
	   const char *chain)
{
	id->file = xstrdup(file);
	id->key = xstrdup(key && *key ? key : file);
	id->key_ok = -1;
	id->certs = ctl_load_certs(file, chain, &id->n);
}

static void
idents_free(struct ident *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ids[i].file);
		free(ids[i].key);
		free(ids[i].from);
		sm_blobs_free(ids[i].certs, ids[i].n);
	}
	free(ids);
}

/*
 * The client identities Postfix presents, from PF: one per
 * smtp_tls_chain_files entry (key and chain in one file), else each of
 * smtp_tls_cert_file, smtp_tls_eccert_file and smtp_tls_dcert_file
 * that is set, with its key file (empty: the key is in the
 * certificate file).  Returns how many (0: none configured).
 */
static size_t
postfix_idents(const struct pf *pf, struct ident **out)
{
	struct sm_cert_pair *pairs;
	struct ident *ids;
	char **files, why[512], what[64];
	size_t i, nf, np;

	*out = NULL;
	if (sm_split(pf->val[PC_CHAIN], &files, &nf) < 0)
		die(EX_OSERR, "out of memory");
	if (nf == 0) {
		sm_split_free(files, nf);
		if ((ids = calloc(NCERT_KEY, sizeof(*ids))) == NULL)
			die(EX_OSERR, "out of memory");
		for (i = 0, np = 0; i < NCERT_KEY; i++) {
			enum pc c = pc_cert_key[i][0], k = pc_cert_key[i][1];

			if (*pf->val[c] == '\0')
				continue;
			ident_load(&ids[np], pf->val[c], pf->val[k], NULL);
			snprintf(what, sizeof(what), "%s in %s", pc_names[c],
				 pf_from(pf, c));
			ids[np++].from = xstrdup(what);
		}
		if (np == 0) {
			free(ids);
			ids = NULL;
		}
		*out = ids;
		return np;
	}
	if (sm_cert_load_pairs((const char *const *)files, nf, &pairs, &np,
			       why, sizeof(why)) < 0)
		die(EX_NOINPUT, "smtp_tls_chain_files: %s", why);
	sm_split_free(files, nf);
	if ((ids = calloc(np, sizeof(*ids))) == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i < np; i++) {
		snprintf(what, sizeof(what), "smtp_tls_chain_files key %zu",
			 i + 1);
		ids[i].file = xstrdup(what);
		ids[i].key = xstrdup(what);
		ids[i].from = xstrdup(pf_from(pf, PC_CHAIN));
		ids[i].certs = pairs[i].certs;
		ids[i].n = pairs[i].n;
		ids[i].key_ok = pairs[i].key_ok;
	}
	free(pairs);	/* the certificates are the identities' now */
	*out = ids;
	return np;
}

/* ID's name for the findings: its file, and where Postfix has it from. */
static const char *
ident_name(const struct ident *id, char *buf, size_t len)
{
	if (id->from == NULL)
		return id->file;
	snprintf(buf, len, "%s (%s)", id->file, id->from);
	return buf;
}

/* ---- records ---- */

/*
 * The TLSA RDATA "USAGE SELECTOR MTYPE data" for DER into RD (at least
 * 3 + SM_DIGEST_MAX octets; the full data needs more, so MTYPE is a
 * digest here); returns its length.
 */
static size_t
tlsa_rdata(const struct sm_blob *der, int usage, int selector, int mtype,
	   uint8_t *rd)
{
	struct sm_blob sel;
	char why[256];
	size_t len;

	if (sm_cert_select(der, selector, &sel, why, sizeof(why)) < 0)
		die(EX_DATAERR, "%s", why);
	rd[0] = (uint8_t)usage;
	rd[1] = (uint8_t)selector;
	rd[2] = (uint8_t)mtype;
	len = sm_digest(mtype, sel.data, sel.len, rd + 3);
	free(sel.data);
	return 3 + len;
}

/*
 * PREFIX and "OWNER. IN TLSA ..." into BUF, the record as smillactl
 * gen tlsa prints it.
 */
static void
record_line(const char *prefix, const char *owner, const uint8_t *rd,
	    size_t len, char *buf, size_t buflen)
{
	char *text = sm_rr_format(SM_RR_TLSA, rd, len);

	if (text == NULL)
		die(EX_OSERR, "out of memory");
	snprintf(buf, buflen, "%s%s. IN TLSA %s", prefix, owner, text);
	free(text);
}

/* "publish: " and the record for DER: gen tlsa's default, 3 1 1. */
static void
publish_line(const char *owner, const struct sm_blob *der, char *buf,
	     size_t buflen)
{
	uint8_t rd[3 + SM_DIGEST_MAX];
	size_t len = tlsa_rdata(der, SM_TLSA_USAGE_DANE_EE,
				SM_TLSA_SELECTOR_SPKI, SM_TLSA_MTYPE_SHA256, rd);

	record_line("publish: ", owner, rd, len, buf, buflen);
}

static struct sm_dns_result *
lookup(struct run *r, const char *owner, int type)
{
	struct sm_dns_result *res;

	if (r->dns == NULL) {
		struct sm_dns_params p;
		char why[512];

		sm_config_dns(r->cfg, &p);
		if ((r->dns = sm_dns_new(&p, why, sizeof(why))) == NULL)
			die(EX_CONFIG, "%s", why);
	}
	if ((res = sm_dns_lookup(r->dns, owner, type)) == NULL)
		die(EX_OSERR, "out of memory");
	return res;
}

/*
 * Is RES usable at all (secure data)?  1; else 0 after adding the
 * finding (CHECK about OWNER) with FIX what to publish, -1 when there
 * is nothing (no record), also reported.
 */
static int
secure_data(struct run *r, const struct sm_dns_result *res,
	    const char *check, const char *owner, const char *fix)
{
	const char *st = sm_dns_status(res);

	if (res->outcome == SM_DNS_TEMPFAIL || res->outcome == SM_DNS_PERMFAIL) {
		add(r, ST_ERROR, check, owner, NULL, "lookup failed: %s%s%s",
		    st, res->why ? ": " : "", res->why ? res->why : "");
		return 0;
	}
	if (res->sec == SM_DNS_BOGUS) {
		add(r, ST_FAIL, check, owner,
		    "re-sign the zone (validators discard bogus data)",
		    "bogus: %s", res->why ? res->why : "validation failed");
		return 0;
	}
	if (res->outcome != SM_DNS_DATA) {
		add(r, ST_FAIL, check, owner, fix, "no record (%s)", st);
		return -1;
	}
	if (res->sec != SM_DNS_SECURE) {
		add(r, ST_FAIL, check, owner,
		    "sign the zone with DNSSEC and publish its DS in the parent",
		    "records found but insecure: DANE ignores them");
		return 0;
	}
	return 1;
}

static struct sm_dane_report *
match(const struct sm_dns_result *res, const struct ident *id,
      const char *host)
{
	struct sm_dane_cert_input in = { id->certs, id->n, SM_DANE_TLS_CLIENT,
					 host, NULL };
	struct sm_dane_report *rep = sm_dane_match_cert(res->rr, res->count,
							&in);

	if (rep == NULL)
		die(EX_OSERR, "out of memory");
	return rep;
}

/* ---- selfcheck ---- */

static void
check_key(struct run *r, const struct ident *id)
{
	char why[512], subj[256], when[32];
	time_t till;
	int rc;

	sm_cert_subject(&id->certs[0], subj, sizeof(subj));
	if (sm_cert_not_after(&id->certs[0], &till) < 0)
		till = 0;
	date(till, when, sizeof(when));
	add(r, ST_INFO, "certificate", id->file, NULL, "%s, valid until %s%s%s%s",
	    subj, when, id->from ? " (" : "", id->from ? id->from : "",
	    id->from ? ")" : "");
	if ((rc = id->key_ok) < 0)
		rc = sm_cert_key_match(&id->certs[0], id->key, why,
				       sizeof(why));
	else
		sm_why(why, sizeof(why), "the private key is not the "
		       "certificate's");
	if (rc == 1)
		add(r, ST_PASS, "key", id->key, NULL,
		    "the private key is the certificate's");
	else
		add(r, ST_FAIL, "key", id->key,
		    "give Postfix the key and certificate of one pair", "%s",
		    why);
}

/* HELO (set in FROM, NULL: given) against IDS, one finding each. */
static void
check_tlsa(struct run *r, const char *helo, const char *from,
	   const struct ident *ids, size_t nids)
{
	char owner[SM_NAME_BUF], host[SM_NAME_BUF], why[256], fix[1024],
		name[1024];
	struct sm_dns_result *res;
	size_t i, k;

	if (sm_names_host(helo, host, sizeof(host), why, sizeof(why)) < 0 ||
	    sm_names_client(host, sm_config_str(r->cfg,
						SM_K_CLIENT_SERVICE_LABEL),
			    owner, sizeof(owner), why, sizeof(why)) < 0) {
		add(r, ST_FAIL, "helo", helo,
		    "set smtp_helo_name to our host name", "%s", why);
		return;
	}
	add(r, ST_INFO, "helo", host, NULL, "our client identity, TLSA at %s%s%s",
	    owner, from ? ", from " : "", from ? from : "");
	res = lookup(r, owner, SM_RR_TLSA);
	for (i = 0; i < nids; i++) {
		struct sm_dane_report *rep;
		int ok;

		publish_line(owner, &ids[i].certs[0], fix, sizeof(fix));
		if ((ok = secure_data(r, res, "tlsa", owner, fix)) <= 0)
			break;	/* the same for every identity */
		rep = match(res, &ids[i], host);
		if (rep->result == SM_DANE_PASS) {
			const struct sm_tlsa *t = &rep->recs[rep->matched].tlsa;

			add(r, ST_PASS, "tlsa", owner, NULL, "secure; %s "
			    "authenticates with record %u %u %u (ttl %u)",
			    ident_name(&ids[i], name, sizeof(name)), t->usage,
			    t->selector, t->mtype,
			    res->ttl);
		} else {
			char detail[1024] = "";
			size_t used = 0;

			for (k = 0; k < rep->count && used < sizeof(detail); k++)
				used += (size_t)snprintf(detail + used,
					sizeof(detail) - used, "; %u %u %u: %s",
					rep->recs[k].tlsa.usage,
					rep->recs[k].tlsa.selector,
					rep->recs[k].tlsa.mtype,
					rep->recs[k].why);
			add(r, ST_FAIL, "tlsa", owner, fix,
			    "secure, but %s does not authenticate (%s)%s",
			    ident_name(&ids[i], name, sizeof(name)),
			    sm_dane_result_word(rep->result),
			    detail);
		}
		sm_dane_report_free(rep);
	}
	sm_dns_result_free(res);
}

/* The endpoint after each check_policy_service in LIST, into *EPS. */
static size_t
policy_endpoints(const char *list, char ***eps)
{
	char **w, *p;
	size_t i, nw, n = 0;

	if (sm_split(list, &w, &nw) < 0 ||
	    (*eps = calloc(nw + 1, sizeof(**eps))) == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i + 1 < nw; i++) {
		if (strcmp(w[i], "check_policy_service") != 0)
			continue;
		p = w[i + 1];
		/* "{ inet:host:port, timeout=10s }", the brace apart or not */
		if (strcmp(p, "{") == 0 && i + 2 < nw)
			p = w[i + 2];
		else if (*p == '{')
			p++;
		(*eps)[n++] = xstrdup(p);
	}
	sm_split_free(w, nw);
	return n;
}

/* Is Postfix's endpoint EP (its syntax) smilla's socket S? */
static int
same_socket(const char *ep, const char *queue_dir, const struct sm_sock *s)
{
	char path[1024];

	if (strncmp(ep, "inet:", 5) == 0) {
		const char *port = strrchr(ep + 5, ':');
		size_t hl = port ? (size_t)(port - ep - 5) : 0;

		return s->family != SM_SOCK_UNIX && port != NULL &&
		       (unsigned)atoi(port + 1) == s->port &&
		       strlen(s->host) == hl && strncmp(ep + 5, s->host, hl) == 0;
	}
	if (strncmp(ep, "unix:", 5) == 0)
		ep += 5;
	if (*ep != '/') {	/* relative to the queue directory */
		snprintf(path, sizeof(path), "%s/%s", queue_dir, ep);
		ep = path;
	}
	return s->family == SM_SOCK_UNIX && strcmp(ep, s->path) == 0;
}

static void
check_settings(struct run *r, char *const val[PC_COUNT])
{
	const char *want = sm_config_str(r->cfg, SM_K_FINGERPRINT_DIGEST);
	const struct sm_sock *socks;
	char fix[512], seen[512] = "";
	size_t i, k, j, ns, used = 0;
	int found = 0;

	if (strcasecmp(val[PC_ASK_CCERT], "yes") == 0)
		add(r, ST_PASS, "setting", "smtpd_tls_ask_ccert", NULL,
		    "yes: clients are asked for their certificate");
	else
		add(r, ST_FAIL, "setting", "smtpd_tls_ask_ccert",
		    "postconf -e smtpd_tls_ask_ccert=yes",
		    "\"%s\": Postfix does not ask clients for a certificate",
		    val[PC_ASK_CCERT]);
	snprintf(fix, sizeof(fix), "postconf -e smtpd_tls_fingerprint_digest=%s"
		 " (or fingerprint_digest = %s in smilla.conf)", want,
		 val[PC_DIGEST]);
	if (strcasecmp(val[PC_DIGEST], want) == 0)
		add(r, ST_PASS, "setting", "smtpd_tls_fingerprint_digest", NULL,
		    "%s, as smilla's fingerprint_digest", val[PC_DIGEST]);
	else
		add(r, ST_FAIL, "setting", "smtpd_tls_fingerprint_digest", fix,
		    "\"%s\", smilla's fingerprint_digest is %s", val[PC_DIGEST],
		    want);

	socks = sm_config_sockets(r->cfg, SM_K_LISTEN, &ns);
	for (i = PC_RESTR_FIRST; i < PC_COUNT && !found; i++) {
		char **eps;
		size_t n = policy_endpoints(val[i], &eps);

		for (k = 0; k < n; k++) {
			for (j = 0; j < ns && !found; j++)
				if (same_socket(eps[k], val[PC_QUEUE_DIR],
						&socks[j])) {
					found = 1;
					add(r, ST_PASS, "setting", pc_names[i],
					    NULL, "check_policy_service %s: "
					    "smilla-policyd's socket", eps[k]);
				}
			if (used < sizeof(seen))
				used += (size_t)snprintf(seen + used,
					sizeof(seen) - used, " %s", eps[k]);
			free(eps[k]);
		}
		free(eps);
	}
	if (!found) {
		snprintf(fix, sizeof(fix), "add \"check_policy_service %s\" to "
			 "smtpd_recipient_restrictions (after "
			 "reject_unauth_destination)", socks[0].spec);
		add(r, ST_FAIL, "setting", "check_policy_service", fix,
		    "no smtpd_*_restrictions ask smilla-policyd (listen = %s)%s%s",
		    sm_config_str(r->cfg, SM_K_LISTEN),
		    used ? "; other policy services:" : "", seen);
	}
}

/*
 * One record of an address's RRset: 1 usable (*TILL until when, 0 for
 * never), 0 not (WHY).
 */
static int
key_usable(int type, const struct sm_rdata *rd, const char *addr,
	   time_t *till, char *why, size_t whylen)
{
	if (type == SM_RR_SMIMEA) {
		struct sm_tlsa t;
		struct sm_blob der;

		if (!sm_smimea_usable(rd, addr, NULL, &t, why, whylen))
			return 0;
		der.data = (uint8_t *)t.data;
		der.len = t.len;
		if (sm_cert_not_after(&der, till) < 0)
			*till = 0;
		sm_cert_subject(&der, why, whylen);
		return 1;
	} else {
		struct sm_blob key = { (uint8_t *)rd->data, rd->len };
		struct sm_pgp_check pc;
		char detail[256];

		if (sm_pgp_usable(&key, addr, &pc, detail, sizeof(detail)) != 1) {
			sm_why(why, whylen, "%s (%s%s%s)",
			       sm_pgp_unusable_word(pc.reason), pc.fpr,
			       *pc.fpr ? ": " : "", detail);
			return 0;
		}
		*till = pc.valid_till == UINT64_MAX ? 0 : (time_t)pc.valid_till;
		sm_strlcpy(why, pc.fpr, whylen);
		return 1;
	}
}

/* One kind of key for ADDR: 1 something published, 0 nothing. */
static int
check_publication(struct run *r, const char *addr, int type)
{
	char owner[SM_NAME_BUF], why[512], best[512] = "", first[512] = "";
	char when[32];
	const char *check = type == SM_RR_SMIMEA ? "smimea" : "openpgpkey";
	struct sm_dns_result *res;
	time_t till, best_till = -1, now = time(NULL);
	size_t i;
	int rc;

	rc = type == SM_RR_SMIMEA ?
		sm_names_smimea(addr, owner, sizeof(owner), why, sizeof(why)) :
		sm_names_openpgpkey(addr, owner, sizeof(owner), why,
				    sizeof(why));
	if (rc < 0) {
		add(r, ST_FAIL, check, addr, NULL, "%s", why);
		return 1;
	}
	res = lookup(r, owner, type);
	if ((rc = secure_data(r, res, check, addr, NULL)) <= 0) {
		if (rc < 0)	/* absent: a finding, not a failure */
			r->f[r->n - 1].st = ST_INFO;
		sm_dns_result_free(res);
		return rc == 0;
	}
	for (i = 0; i < res->count; i++) {
		if (!key_usable(type, &res->rr[i], addr, &till, why,
				sizeof(why))) {
			if (!*first)
				sm_strlcpy(first, why, sizeof(first));
			continue;
		}
		/* The one lasting longest: 0 never expires. */
		if (best_till != 0 && (till == 0 || till > best_till)) {
			best_till = till;
			sm_strlcpy(best, why, sizeof(best));
		}
	}
	if (best_till < 0)
		add(r, ST_FAIL, check, addr, type == SM_RR_SMIMEA ?
		    "publish a usable certificate: smillactl gen smimea" :
		    "publish a usable key: smillactl gen openpgpkey",
		    "secure, no record usable for encryption: %s", first);
	else if (best_till != 0 && best_till < now + EXPIRY_MARGIN)
		add(r, ST_FAIL, check, addr, "publish a renewed key now",
		    "secure, usable: %s, but it expires on %s, in %ld days",
		    best, date(best_till, when, sizeof(when)),
		    (long)(best_till - now) / 86400);
	else if (best_till != 0)
		add(r, ST_PASS, check, addr, NULL, "secure, usable: %s, "
		    "valid until %s", best, date(best_till, when, sizeof(when)));
	else
		add(r, ST_PASS, check, addr, NULL,
		    "secure, usable: %s, does not expire", best);
	sm_dns_result_free(res);
	return 1;
}

static void
check_email(struct run *r, const char *addr)
{
	int any = check_publication(r, addr, SM_RR_SMIMEA);

	any |= check_publication(r, addr, SM_RR_OPENPGPKEY);
	if (!any)
		add(r, ST_FAIL, "email", addr,
		    "smillactl gen smimea --cert PEM --email ADDR, or gen "
		    "openpgpkey --key FILE --email ADDR",
		    "no key published: mail to it cannot be encrypted");
}

static int
cmd_selfcheck(struct run *r, const struct opts *o)
{
	struct pf pf = { { NULL }, { 0 }, NULL };
	struct ident *ids = NULL;
	const char *helo = o->helo, *helo_from = NULL;
	char from[256];
	size_t i, nids;

	if (o->cert != NULL) {
		if (o->helo == NULL || o->postconf_dir != NULL)
			die(EX_USAGE, "--cert needs --helo, and no --postconf-dir");
		if ((ids = calloc(1, sizeof(*ids))) == NULL)
			die(EX_OSERR, "out of memory");
		ident_load(ids, o->cert, o->key, o->chain);
		nids = 1;
	} else {
		postconf(o->postconf_dir, &pf);
		postconf_master(r, o->postconf_dir, &pf);
		nids = postfix_idents(&pf, &ids);
		i = *pf.val[PC_HELO] ? PC_HELO : PC_HOSTNAME;
		helo = pf.val[i];
		snprintf(from, sizeof(from), "%s in %s", pc_names[i],
			 pf_from(&pf, i));
		helo_from = from;
	}
	if (nids == 0)
		add(r, ST_FAIL, "certificate", "smtp_tls_chain_files",
		    "set smtp_tls_chain_files to a file with our key and "
		    "certificate chain",
		    "Postfix presents no client certificate");
	for (i = 0; i < nids; i++)
		check_key(r, &ids[i]);
	if (nids > 0)
		check_tlsa(r, helo, helo_from, ids, nids);
	if (o->cert == NULL)
		check_settings(r, pf.val);
	for (i = 0; i < o->nemail; i++)
		check_email(r, o->email[i]);
	print_findings(r, "selfcheck", NULL);
	idents_free(ids, nids);
	pf_free(&pf);
	return exit_status(worst(r));
}

/* ---- rollover ---- */

static int
cmd_rollover(struct run *r, const struct opts *o)
{
	char owner[SM_NAME_BUF], host[SM_NAME_BUF], why[256], pub[1024],
		line[1024], remove[4096] = "", extra[8192], until[32];
	struct pf pf = { { NULL }, { 0 }, NULL };
	struct ident *cur = NULL, next = { NULL, NULL, NULL, 0, -1, NULL };
	struct sm_dane_report *rc = NULL, *rn = NULL;
	struct sm_dns_result *res;
	uint8_t rd[3 + SM_DIGEST_MAX];
	size_t i, ncur = 0, len, used = 0;
	int sel = SM_TLSA_SELECTOR_SPKI, mt = SM_TLSA_MTYPE_SHA256;
	time_t now = time(NULL);

	if (o->cert == NULL || o->name == NULL)
		die(EX_USAGE, "rollover needs --cert NEW and --name HOST");
	if (sm_names_host(o->name, host, sizeof(host), why, sizeof(why)) < 0 ||
	    sm_names_client(host, sm_config_str(r->cfg,
						SM_K_CLIENT_SERVICE_LABEL),
			    owner, sizeof(owner), why, sizeof(why)) < 0)
		die(EX_DATAERR, "%s: %s", o->name, why);
	ident_load(&next, o->cert, NULL, o->chain);
	if (o->current != NULL) {
		if ((cur = calloc(1, sizeof(*cur))) == NULL)
			die(EX_OSERR, "out of memory");
		ident_load(cur, o->current, NULL, NULL);
		ncur = 1;
	} else {
		postconf(o->postconf_dir, &pf);
		postconf_master(r, o->postconf_dir, &pf);
		if ((ncur = postfix_idents(&pf, &cur)) == 0)
			die(EX_CONFIG, "Postfix presents no client certificate "
			    "(smtp_tls_chain_files, smtp_tls_cert_file): give "
			    "--current");
		/* The plan is for one key: the first Postfix loads. */
		if (ncur > 1)
			add(r, ST_INFO, "current", cur[0].file, NULL, "the "
			    "first of %zu client identities; the plan is for "
			    "it alone", ncur);
	}

	res = lookup(r, owner, SM_RR_TLSA);
	if (secure_data(r, res, "tlsa", owner, NULL) == 1) {
		add(r, ST_PASS, "tlsa", owner, NULL, "secure, %zu record%s, "
		    "ttl %u", res->count, res->count == 1 ? "" : "s",
		    res->ttl);
		rc = match(res, &cur[0], host);
		rn = match(res, &next, host);
	}
	if (rc != NULL && rc->result == SM_DANE_PASS) {
		const struct sm_tlsa *t = &rc->recs[rc->matched].tlsa;

		add(r, ST_PASS, "current", cur[0].file, NULL,
		    "authenticates with record %u %u %u", t->usage,
		    t->selector, t->mtype);
		/* The new record in the form of the current one. */
		if (t->usage == SM_TLSA_USAGE_DANE_EE &&
		    t->mtype != SM_TLSA_MTYPE_FULL) {
			sel = t->selector;
			mt = t->mtype;
		}
	} else if (rc != NULL) {
		publish_line(owner, &cur[0].certs[0], line, sizeof(line));
		add(r, ST_FAIL, "current", cur[0].file, line,
		    "does not authenticate with the live records (%s): "
		    "selfcheck fails already", sm_dane_result_word(rc->result));
	}
	len = tlsa_rdata(&next.certs[0], SM_TLSA_USAGE_DANE_EE, sel, mt, rd);
	record_line("publish: ", owner, rd, len, pub, sizeof(pub));
	if (rn != NULL && rn->result == SM_DANE_PASS)
		add(r, ST_DONE, "1-publish", next.file, pub,
		    "the new certificate authenticates already");
	else
		add(r, ST_TODO, "1-publish", next.file, pub,
		    "publish the new record next to the current one");
	date(now + (time_t)res->ttl, until, sizeof(until));
	if (rn != NULL && rn->result == SM_DANE_PASS)
		add(r, ST_INFO, "2-wait", owner, NULL, "%u seconds, the "
		    "RRset's TTL, since the new record appeared: until then "
		    "clients may hold the RRset without it", res->ttl);
	else
		add(r, ST_TODO, "2-wait", owner, NULL, "%u seconds, the "
		    "RRset's TTL, after publishing (%s at the earliest): "
		    "until then clients may hold the RRset without it",
		    res->ttl, until);
	add(r, ST_INFO, "3-switch", next.file, NULL, "point "
	    "smtp_tls_chain_files at the new key and certificate, postfix "
	    "reload");
	for (i = 0; rc != NULL && i < res->count; i++) {
		if (rc->recs[i].verdict != SM_DANE_REC_MATCH ||
		    (rn != NULL && rn->recs[i].verdict == SM_DANE_REC_MATCH))
			continue;
		record_line("remove: ", owner, res->rr[i].data, res->rr[i].len,
			    line, sizeof(line));
		add(r, ST_INFO, "4-remove", cur[0].file, line,
		    "remove the old record after the switch");
		if (used < sizeof(remove))
			used += (size_t)snprintf(remove + used,
				sizeof(remove) - used, "%s\"%s\"",
				used ? "," : "", line + strlen("remove: "));
	}
	/* The JSON extras; the text has them in the findings. */
	used = (size_t)snprintf(extra, sizeof(extra), ",\"name\":\"%s\","
				"\"ttl\":%u,\"publish\":\"%s\",\"remove\":[%s]",
				host, res->ttl, pub + strlen("publish: "),
				remove);
	if (!r->json || used >= sizeof(extra))
		extra[0] = '\0';
	print_findings(r, "rollover", extra);
	sm_dane_report_free(rc);
	sm_dane_report_free(rn);
	sm_dns_result_free(res);
	idents_free(cur, ncur);
	free(next.file);
	free(next.key);
	sm_blobs_free(next.certs, next.n);
	pf_free(&pf);
	return exit_status(worst(r));
}

/* ---- entry ---- */

/* The options that take an argument, for finding the command word. */
static int
takes_arg(const char *opt)
{
	static const char *const with[] = {
		"-c", "--config", "--postconf-dir", "--cert", "--key",
		"--chain", "--helo", "--email", "--name", "--current", NULL
	};
	size_t i;

	for (i = 0; with[i] != NULL; i++)
		if (strcmp(opt, with[i]) == 0)
			return 1;
	return 0;
}

int
ctl_selfcheck_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "postconf-dir", required_argument, NULL, 1 },
		{ "cert", required_argument, NULL, 2 },
		{ "key", required_argument, NULL, 3 },
		{ "chain", required_argument, NULL, 4 },
		{ "helo", required_argument, NULL, 5 },
		{ "email", required_argument, NULL, 6 },
		{ "name", required_argument, NULL, 7 },
		{ "current", required_argument, NULL, 8 },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	struct run r;
	struct sm_config *cfg;
	const char *cmd = NULL;
	char why[512];
	int i, c, rc;

	for (i = 1; i < argc && cmd == NULL; i++) {
		if (argv[i][0] != '-')
			cmd = argv[i];
		else if (takes_arg(argv[i]))
			i++;
	}
	if (cmd == NULL ||
	    (strcmp(cmd, "selfcheck") != 0 && strcmp(cmd, "rollover") != 0))
		return -1;

	memset(&o, 0, sizeof(o));
	if ((o.email = calloc((size_t)argc, sizeof(*o.email))) == NULL)
		die(EX_OSERR, "out of memory");
	while ((c = getopt_long(argc, argv, "c:j", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.conf = optarg; break;
		case 'j': o.json = 1; break;
		case 1: o.postconf_dir = optarg; break;
		case 2: o.cert = optarg; break;
		case 3: o.key = optarg; break;
		case 4: o.chain = optarg; break;
		case 5: o.helo = optarg; break;
		case 6: o.email[o.nemail++] = optarg; break;
		case 7: o.name = optarg; break;
		case 8: o.current = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if ((cfg = sm_config_new()) == NULL)
		die(EX_OSERR, "out of memory");
	if (sm_config_load_default(cfg, o.conf, why, sizeof(why)) < 0)
		die(EX_CONFIG, "%s", why);
	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.json = o.json;
	rc = strcmp(cmd, "selfcheck") == 0 ? cmd_selfcheck(&r, &o) :
					     cmd_rollover(&r, &o);
	run_free(&r);
	sm_config_free(cfg);
	free(o.email);
	sm_pgp_forget();
	return rc;
}
