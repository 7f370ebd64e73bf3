/*
 * smillactl - the smilla admin tool.
 *
 *   smillactl [-c FILE] lookup tlsa|smimea|openpgpkey NAME [--json] [--cache]
 *   smillactl [-c FILE] verify --cert PEM [--chain PEM] --name HOST
 *                           [--ca-file PEM] [--json] [--cache]
 *   smillactl [-c FILE] gen tlsa --cert PEM --name HOST [--usage U
 *                           --selector S --mtype M]
 *   smillactl [-c FILE] gen smimea --cert PEM --email ADDR
 *   smillactl [-c FILE] gen openpgpkey --key FILE --email ADDR
 *   smillactl [-c FILE] config [-v] | config --table
 *   smillactl [-c FILE] cache show | cache flush [NAME]
 *   smillactl [-c FILE] report [--since DURATION] [--identity HOST] [--json]
 *   smillactl [-c FILE] selfcheck ... | rollover ...	(ctl_selfcheck.c)
 *   smillactl [-c FILE] metrics	(ctl_metrics.c)
 *
 * Not in the usage: "config --words" prints every word set of words.h
 * as "SET WORD" lines (result, key-state, action, key-type), for the
 * man page check (tests/docs/manpages.t) to take the words from the
 * program.
 *
 * Exit status: 0 secure data found / authenticated, 1 nothing (secure)
 * found or no match, 2 bogus or temporary failure, 64+ usage and
 * configuration errors (sysexits.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cert.h"
#include "config.h"
#include "ctl.h"
#include "ctl_metrics.h"
#include "ctl_report.h"
#include "dane.h"
#include "dns.h"
#include "log.h"
#include "names.h"
#include "pgp.h"
#include "reputation.h"
#include "rr.h"
#include "util.h"
#include "words.h"

#define KEY_FILE_MAX (1024 * 1024)

enum { EXIT_FOUND = 0, EXIT_NONE = 1, EXIT_TROUBLE = 2 };

struct ctl {
	struct sm_config *cfg;
	int json;
	int use_cache;
	int verbose;
	int words;		/* config --words */
	int table;		/* config --table */
	const char *cert, *chain, *name, *email, *key, *ca_file, *identity;
	const char *domain, *html;	/* report */
	long limit;
	long since;		/* seconds back; 0: all */
	int usage, selector, mtype;
};

void
usage(void)
{
	fputs("usage: smillactl [-c FILE] COMMAND ...\n"
	      "  lookup tlsa HOST|OWNER [--json] [--cache]\n"
	      "  lookup smimea ADDRESS [--json] [--cache]\n"
	      "  lookup openpgpkey ADDRESS [--json] [--cache]\n"
	      "  verify --cert PEM [--chain PEM] --name HOST [--ca-file PEM] [--json] [--cache]\n"
	      "  gen tlsa --cert PEM --name HOST [--usage U --selector S --mtype M]\n"
	      "  gen smimea --cert PEM --email ADDRESS\n"
	      "  gen openpgpkey --key FILE --email ADDRESS\n"
	      "  config [-v] | config --table\n"
	      "  cache show | cache flush [NAME]\n"
	      "  report [--since DURATION] [--identity ID] [--domain DOMAIN]\n"
	      "         [--limit N] [--json | --html FILE]\n"
	      "  selfcheck [--postconf-dir DIR | --cert PEM [--key PEM] [--chain PEM]\n"
	      "            --helo NAME] [--email ADDRESS]... [--json]\n"
	      "  rollover --cert NEW --name HOST [--current PEM | --postconf-dir DIR]\n"
	      "           [--json]\n"
	      "  metrics\n",
	      stderr);
	exit(EX_USAGE);
}

static void
die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "smillactl: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(code);
}

/* Length of the UTF-8 sequence at S (1-4), 0 when it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * JSON string (or null) to stdout.  What clients wrote is stored raw:
 * controls (C0, DEL, C1) are escaped and octets that are not UTF-8
 * become U+FFFD, so the output is valid JSON and safe on a terminal.
 */
void
json_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s += n ? n : 1) {
		n = utf8_len(s);
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			printf("\\u%04x", *s);
		else if (n == 0)
			fputs("\\ufffd", stdout);
		else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			printf("\\u%04x", s[1]);	/* C1 control */
		else
			fwrite(s, 1, n, stdout);
	}
	putchar('"');
}

/* ---- configuration and resources ---- */

static struct sm_config *
load_config(const char *path)
{
	struct sm_config *cfg = sm_config_new();
	char why[512];

	if (cfg == NULL)
		die(EX_OSERR, "%s", "out of memory");
	if (sm_config_load_default(cfg, path, why, sizeof(why)) < 0)
		die(EX_CONFIG, "%s", why);
	return cfg;
}

static struct sm_dns *
open_dns(const struct sm_config *cfg)
{
	struct sm_dns_params p;
	struct sm_dns *dns;
	char why[512];

	sm_config_dns(cfg, &p);
	if ((dns = sm_dns_new(&p, why, sizeof(why))) == NULL)
		die(EX_CONFIG, "%s", why);
	return dns;
}

static struct sm_cache *
open_cache(const struct sm_config *cfg)
{
	struct sm_cache_params p;
	struct sm_cache *cache;
	char why[512];

	sm_config_cache(cfg, &p);
	cache = sm_cache_open(sm_config_str(cfg, SM_K_DB_PATH), &p, why,
			      sizeof(why));
	if (cache == NULL)
		die(EX_CANTCREAT, "%s", why);
	return cache;
}

/* Look NAME/TYPE up, through the cache when asked; *HIT says which. */
static struct sm_dns_result *
resolve(struct ctl *ctl, const char *name, int type, int *hit)
{
	struct sm_dns *dns;
	struct sm_cache *cache = NULL;
	struct sm_dns_result *res = NULL;
	char why[512];

	*hit = 0;
	if (ctl->use_cache) {
		cache = open_cache(ctl->cfg);
		if (sm_cache_get(cache, name, type, time(NULL), &res, why,
				 sizeof(why)) < 0)
			fprintf(stderr, "smillactl: %s\n", why);
		if (res != NULL) {
			*hit = 1;
			sm_cache_close(cache);
			return res;
		}
	}
	dns = open_dns(ctl->cfg);
	res = sm_dns_lookup(dns, name, type);
	sm_dns_free(dns);
	if (res == NULL)
		die(EX_OSERR, "%s", "out of memory");
	if (cache != NULL &&
	    sm_cache_put(cache, res, time(NULL), why, sizeof(why)) < 0)
		fprintf(stderr, "smillactl: %s\n", why);
	sm_cache_close(cache);
	return res;
}

static int
exit_for(const struct sm_dns_result *res)
{
	if (res->sec == SM_DNS_BOGUS || res->outcome == SM_DNS_TEMPFAIL ||
	    res->outcome == SM_DNS_PERMFAIL)
		return EXIT_TROUBLE;
	if (res->outcome == SM_DNS_DATA && res->sec == SM_DNS_SECURE)
		return EXIT_FOUND;
	return EXIT_NONE;
}

/* Why is this record unusable?  NULL when it is fine. */
static const char *
record_problem(int type, const struct sm_rdata *rd, char *why, size_t whylen)
{
	struct sm_tlsa t;

	if (type == SM_RR_OPENPGPKEY) {
		if (sm_rr_openpgpkey_check(rd->data, rd->len, why, whylen) < 0)
			return why;
		return NULL;
	}
	if (sm_rr_tlsa_parse(rd->data, rd->len, &t, why, whylen) < 0)
		return why;
	return NULL;
}

/* A comment describing the object in a record, for people. */
static void
record_note(int type, const struct sm_rdata *rd, char *buf, size_t buflen)
{
	struct sm_tlsa t;

	buf[0] = '\0';
	if (type == SM_RR_OPENPGPKEY) {
		char desc[256];

		if (sm_pgp_describe(rd->data, rd->len, desc, sizeof(desc)) == 0)
			snprintf(buf, buflen, "key %s", desc);
		return;
	}
	if (sm_rr_tlsa_parse(rd->data, rd->len, &t, NULL, 0) == 0 &&
	    t.selector == SM_TLSA_SELECTOR_CERT &&
	    t.mtype == SM_TLSA_MTYPE_FULL) {
		struct sm_blob der = { (uint8_t *)t.data, t.len };
		char subj[256];

		sm_cert_subject(&der, subj, sizeof(subj));
		snprintf(buf, buflen, "certificate %s", subj);
	}
}

static void
print_result(const struct sm_dns_result *res, int json, int hit)
{
	const char *status = sm_dns_status(res);
	const char *type = sm_rr_type_name(res->qtype);
	char why[256], note[300];
	size_t i;

	if (json) {
		printf("{\"qname\":");
		json_str(res->qname);
		printf(",\"type\":\"%s\",\"status\":\"%s\",\"ttl\":%u,"
		       "\"cached\":%s,\"why\":", type, status, res->ttl,
		       hit ? "true" : "false");
		json_str(res->why);
		printf(",\"records\":[");
		for (i = 0; i < res->count; i++) {
			char *text = sm_rr_format(res->qtype, res->rr[i].data,
						  res->rr[i].len);
			const char *bad = record_problem(res->qtype, &res->rr[i],
							 why, sizeof(why));

			printf("%s{\"rdata\":", i ? "," : "");
			json_str(text);
			printf(",\"usable\":%s,\"reason\":", bad ? "false" : "true");
			json_str(bad);
			putchar('}');
			free(text);
		}
		printf("]}\n");
		return;
	}
	printf("; %s %s: %s%s%s%s\n", res->qname, type, status,
	       res->why ? " (" : "", res->why ? res->why : "",
	       res->why ? ")" : "");
	if (hit)
		printf("; from the cache, %u seconds left\n", res->ttl);
	for (i = 0; i < res->count; i++) {
		char *text = sm_rr_format(res->qtype, res->rr[i].data,
					  res->rr[i].len);
		const char *bad = record_problem(res->qtype, &res->rr[i], why,
						 sizeof(why));

		/* Bogus data is shown commented out: never paste it. */
		printf("%s%s. %u IN %s %s\n", res->sec == SM_DNS_BOGUS ? "; " : "",
		       res->qname, res->ttl, type, text ? text : "?");
		if (bad)
			printf(";   unusable: %s\n", bad);
		record_note(res->qtype, &res->rr[i], note, sizeof(note));
		if (note[0])
			printf(";   %s\n", note);
		free(text);
	}
}

/* ---- commands ---- */

static void
owner_name(struct ctl *ctl, int type, const char *arg, char *out, size_t len)
{
	char why[256];
	int rc;

	if (type == SM_RR_TLSA && arg[0] == '_') {
		/* An explicit owner such as _25._tcp.mx.example.org. */
		if (sm_names_owner(arg, out, len, why, sizeof(why)) < 0) {
			fprintf(stderr, "smillactl: %s: %s\n", arg, why);
			exit(EX_DATAERR);
		}
		return;
	}
	if (type == SM_RR_TLSA)
		rc = sm_names_client(arg,
				     sm_config_str(ctl->cfg,
						   SM_K_CLIENT_SERVICE_LABEL),
				     out, len, why, sizeof(why));
	else if (type == SM_RR_SMIMEA)
		rc = sm_names_smimea(arg, out, len, why, sizeof(why));
	else
		rc = sm_names_openpgpkey(arg, out, len, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "smillactl: %s: %s\n", arg, why);
		exit(EX_DATAERR);
	}
}

static int
cmd_lookup(struct ctl *ctl, int argc, char **argv)
{
	char owner[SM_NAME_BUF];
	struct sm_dns_result *res;
	int type, hit, rc;

	if (argc != 2)
		usage();
	if ((type = sm_rr_type_parse(argv[0])) < 0)
		die(EX_USAGE, "unknown record type \"%s\" (tlsa, smimea, openpgpkey)",
		    argv[0]);
	owner_name(ctl, type, argv[1], owner, sizeof(owner));
	res = resolve(ctl, owner, type, &hit);
	print_result(res, ctl->json, hit);
	rc = exit_for(res);
	sm_dns_result_free(res);
	return rc;
}

struct sm_blob *
ctl_load_certs(const char *cert, const char *chain, size_t *n)
{
	struct sm_blob *certs, *more, *all;
	size_t nc, nm = 0;
	char why[512];

	if (sm_cert_load(cert, &certs, &nc, why, sizeof(why)) < 0)
		die(EX_NOINPUT, "%s", why);
	if (chain == NULL) {
		*n = nc;
		return certs;
	}
	if (sm_cert_load(chain, &more, &nm, why, sizeof(why)) < 0)
		die(EX_NOINPUT, "%s", why);
	if ((all = realloc(certs, (nc + nm) * sizeof(*all))) == NULL)
		die(EX_OSERR, "%s", "out of memory");
	memcpy(all + nc, more, nm * sizeof(*more));
	free(more);
	*n = nc + nm;
	return all;
}

static void
print_report(const struct sm_dns_result *res, const struct sm_dane_report *rep,
	     const char *host, int json)
{
	size_t i;

	if (json) {
		printf("{\"name\":");
		json_str(host);
		printf(",\"qname\":");
		json_str(res->qname);
		printf(",\"status\":\"%s\",\"result\":\"%s\",\"records\":[",
		       sm_dns_status(res),
		       rep ? sm_dane_result_word(rep->result) : "none");
		for (i = 0; rep && i < rep->count; i++) {
			char *text = sm_rr_format(res->qtype, res->rr[i].data,
						  res->rr[i].len);

			printf("%s{\"rdata\":", i ? "," : "");
			json_str(text);
			printf(",\"verdict\":\"%s\",\"reason\":",
			       sm_dane_verdict_word(rep->recs[i].verdict));
			json_str(rep->recs[i].why);
			putchar('}');
			free(text);
		}
		printf("]}\n");
		return;
	}
	printf("; %s TLSA: %s%s%s%s\n", res->qname, sm_dns_status(res),
	       res->why ? " (" : "", res->why ? res->why : "",
	       res->why ? ")" : "");
	for (i = 0; rep && i < rep->count; i++) {
		char *text = sm_rr_format(res->qtype, res->rr[i].data,
					  res->rr[i].len);

		printf("record %s: %s (%s)\n", text ? text : "?",
		       sm_dane_verdict_word(rep->recs[i].verdict),
		       rep->recs[i].why);
		free(text);
	}
	if (rep && rep->matched >= 0)
		printf("%s authenticates as %s with record %u %u %u\n",
		       "certificate", host, rep->recs[rep->matched].tlsa.usage,
		       rep->recs[rep->matched].tlsa.selector,
		       rep->recs[rep->matched].tlsa.mtype);
	else
		printf("certificate does not authenticate as %s\n", host);
	printf("result: %s\n", rep ? sm_dane_result_word(rep->result) : "none");
}

static int
cmd_verify(struct ctl *ctl)
{
	char owner[SM_NAME_BUF], host[SM_NAME_BUF], why[256];
	struct sm_dane_cert_input in;
	struct sm_dane_report *rep = NULL;
	struct sm_dns_result *res;
	struct sm_blob *certs;
	size_t n;
	int hit, rc;

	if (ctl->cert == NULL || ctl->name == NULL)
		usage();
	if (sm_names_host(ctl->name, host, sizeof(host), why, sizeof(why)) < 0)
		die(EX_DATAERR, "%s", why);
	certs = ctl_load_certs(ctl->cert, ctl->chain, &n);
	owner_name(ctl, SM_RR_TLSA, host, owner, sizeof(owner));
	res = resolve(ctl, owner, SM_RR_TLSA, &hit);
	rc = exit_for(res);
	/* Only secure data may authenticate anybody. */
	if (rc == EXIT_FOUND) {
		in.certs = certs;
		in.ncerts = n;
		in.purpose = SM_DANE_TLS_CLIENT;
		in.name = host;
		in.ca_file = ctl->ca_file;
		if ((rep = sm_dane_match_cert(res->rr, res->count, &in)) == NULL)
			die(EX_OSERR, "%s", "out of memory");
		rc = rep->result == SM_DANE_PASS ? EXIT_FOUND : EXIT_NONE;
	}
	print_report(res, rep, host, ctl->json);
	sm_dane_report_free(rep);
	sm_dns_result_free(res);
	sm_blobs_free(certs, n);
	return rc;
}

static void
print_record(const char *owner, int type, const uint8_t *rd, size_t len)
{
	char *text = sm_rr_format(type, rd, len);

	if (text == NULL)
		die(EX_OSERR, "%s", "out of memory");
	printf("%s. IN %s %s\n", owner, sm_rr_type_name(type), text);
	free(text);
}

/* The RDATA of a TLSA-style record for CERT: usage, selector, mtype. */
static void
gen_association(const char *owner, int type, const char *cert, int u, int s,
		int m)
{
	struct sm_blob *certs, sel;
	uint8_t *rd;
	size_t n, len;
	char why[256];

	if (u < 0 || u > SM_TLSA_USAGE_MAX || s < 0 ||
	    s > SM_TLSA_SELECTOR_MAX || m < 0 || m > SM_TLSA_MTYPE_MAX)
		die(EX_USAGE, "%s", "usage 0-3, selector 0-1, mtype 0-2");
	if (sm_cert_load(cert, &certs, &n, why, sizeof(why)) < 0)
		die(EX_NOINPUT, "%s", why);
	if (sm_cert_select(&certs[0], s, &sel, why, sizeof(why)) < 0)
		die(EX_DATAERR, "%s", why);
	if ((rd = malloc(3 + (sel.len > SM_DIGEST_MAX ? sel.len : SM_DIGEST_MAX))) == NULL)
		die(EX_OSERR, "%s", "out of memory");
	rd[0] = (uint8_t)u;
	rd[1] = (uint8_t)s;
	rd[2] = (uint8_t)m;
	if (m == SM_TLSA_MTYPE_FULL) {
		memcpy(rd + 3, sel.data, sel.len);
		len = sel.len;
	} else {
		len = sm_digest(m, sel.data, sel.len, rd + 3);
	}
	print_record(owner, type, rd, 3 + len);
	free(rd);
	free(sel.data);
	sm_blobs_free(certs, n);
}

static int
cmd_gen(struct ctl *ctl, int argc, char **argv)
{
	char owner[SM_NAME_BUF], why[256];
	int type;

	if (argc != 1)
		usage();
	if ((type = sm_rr_type_parse(argv[0])) < 0)
		die(EX_USAGE, "unknown record type \"%s\" (tlsa, smimea, openpgpkey)",
		    argv[0]);
	if (type == SM_RR_TLSA) {
		if (ctl->cert == NULL || ctl->name == NULL)
			usage();
		owner_name(ctl, type, ctl->name, owner, sizeof(owner));
		gen_association(owner, type, ctl->cert,
				ctl->usage < 0 ? SM_TLSA_USAGE_DANE_EE :
						 ctl->usage,
				ctl->selector < 0 ? SM_TLSA_SELECTOR_SPKI :
						    ctl->selector,
				ctl->mtype < 0 ? SM_TLSA_MTYPE_SHA256 :
						 ctl->mtype);
	} else if (type == SM_RR_SMIMEA) {
		if (ctl->cert == NULL || ctl->email == NULL)
			usage();
		owner_name(ctl, type, ctl->email, owner, sizeof(owner));
		/* Encrypting senders need the whole certificate: 3 0 0. */
		gen_association(owner, type, ctl->cert,
				ctl->usage < 0 ? SM_TLSA_USAGE_DANE_EE :
						 ctl->usage,
				ctl->selector < 0 ? SM_TLSA_SELECTOR_CERT :
						    ctl->selector,
				ctl->mtype < 0 ? SM_TLSA_MTYPE_FULL :
						 ctl->mtype);
	} else {
		struct sm_blob pub;
		uint8_t *buf;
		size_t len;

		if (ctl->key == NULL || ctl->email == NULL)
			usage();
		owner_name(ctl, type, ctl->email, owner, sizeof(owner));
		if ((buf = sm_read_file(ctl->key, KEY_FILE_MAX, &len, why,
					sizeof(why))) == NULL)
			die(EX_NOINPUT, "%s", why);
		if (sm_pgp_export_public(buf, len, ctl->email, &pub, why,
					 sizeof(why)) < 0)
			die(EX_DATAERR, "%s", why);
		print_record(owner, type, pub.data, pub.len);
		free(pub.data);
		free(buf);
	}
	return 0;
}

/* The word sets of words.h, one "SET WORD" line each. */
static int
print_words(void)
{
	const struct sm_word_set *set;
	const struct sm_name_code *w;

	for (set = sm_word_sets; set->name != NULL; set++)
		for (w = set->table; w->name != NULL; w++)
			printf("%s %s\n", set->name, w->name);
	return 0;
}

/*
 * config --table: the option table itself, one tab-separated line per
 * key: name, programs (comma-separated), type, default (as in the file;
 * empty when none), range (MIN-MAX for numbers and durations, in
 * seconds; the words, '|'-separated, for enums; "-" otherwise) and the
 * one-line description.
 */
static int
print_table(void)
{
	static const struct {
		unsigned bit;
		const char *name;
	} progs[] = {
		{ SM_PROG_POLICYD, "smilla-policyd" },
		{ SM_PROG_MILTER, "smilla" },
		{ SM_PROG_CTL, "smillactl" },
	};
	const struct sm_option *o;
	const struct sm_name_code *w;
	size_t i;

	for (o = sm_options; o < sm_options + SM_K_COUNT; o++) {
		const char *sep = "";

		printf("%s\t", o->name);
		for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
			if (o->progs & progs[i].bit) {
				printf("%s%s", sep, progs[i].name);
				sep = ",";
			}
		printf("\t%s\t%s\t", sm_config_type_name(o->type), o->def);
		if (o->type == SM_OPT_INT || o->type == SM_OPT_TIME)
			printf("%ld-%ld", o->min, o->max);
		else if (o->type == SM_OPT_ENUM)
			for (w = o->choices; w->name != NULL; w++)
				printf("%s%s", w == o->choices ? "" : "|",
				       w->name);
		else
			putchar('-');
		printf("\t%s\n", o->doc);
	}
	return 0;
}

static int
cmd_config(struct ctl *ctl)
{
	int k;

	if (ctl->words)
		return print_words();
	if (ctl->table)
		return print_table();

	for (k = 0; k < SM_K_COUNT; k++) {
		if (ctl->verbose)
			printf("# %s (%s)\n", sm_options[k].doc,
			       sm_config_source(ctl->cfg, k));
		printf("%s = %s\n", sm_options[k].name,
		       sm_config_str(ctl->cfg, k));
	}
	return 0;
}

static void
show_entry(void *arg, const struct sm_dns_result *res, time_t expires)
{
	(void)arg;
	printf("%s %s %s %ld records=%zu\n", res->qname,
	       sm_rr_type_name(res->qtype), sm_dns_status(res),
	       (long)expires, res->count);
}

static int
cmd_cache(struct ctl *ctl, int argc, char **argv)
{
	struct sm_cache *cache;
	char why[512];
	long n;

	if (argc < 1 || argc > 2)
		usage();
	cache = open_cache(ctl->cfg);
	if (strcmp(argv[0], "show") == 0 && argc == 1) {
		n = sm_cache_each(cache, time(NULL), show_entry, NULL, why,
				  sizeof(why));
	} else if (strcmp(argv[0], "flush") == 0) {
		char owner[SM_NAME_BUF];

		if (argc == 2 && sm_names_owner(argv[1], owner, sizeof(owner),
						why, sizeof(why)) < 0)
			die(EX_DATAERR, "%s", why);
		n = sm_cache_flush(cache, argc == 2 ? owner : NULL, 0,
				   time(NULL), why, sizeof(why));
		if (n >= 0)
			printf("flushed %ld entries\n", n);
	} else {
		sm_cache_close(cache);
		usage();
	}
	sm_cache_close(cache);
	if (n < 0)
		die(EX_IOERR, "%s", why);
	return 0;
}

struct report_ctx {
	int json, n;
};

static void
fmt_time(time_t t, char *buf, size_t len)
{
	ctl_report_time(t, CTL_TIME_ISO, buf, len);
}

static void
show_event(void *arg, const struct sm_rep_event *ev)
{
	struct report_ctx *rc = arg;
	char when[32], rec[16] = "-";
	char e_addr[256], e_helo[1024], e_tls[128], e_key[600], e_type[128];

	fmt_time(ev->time, when, sizeof(when));
	if (ev->usage >= 0)
		snprintf(rec, sizeof(rec), "%d %d %d", ev->usage, ev->selector,
			 ev->mtype);
	if (rc->json) {
		printf("%s{\"time\":\"%s\",\"result\":", rc->n++ ? "," : "",
		       when);
		json_str(ev->result);
		printf(",\"record\":");
		json_str(ev->usage >= 0 ? rec : NULL);
		printf(",\"client_address\":");
		json_str(ev->client_address);
		printf(",\"helo\":");
		json_str(ev->helo);
		printf(",\"key_type\":");
		json_str(ev->key_type[0] ? ev->key_type : NULL);
		printf(",\"key_fp\":");
		json_str(ev->key_fp);
		printf(",\"tls\":");
		json_str(ev->tls_protocol);
		printf(",\"count\":%ld}", ev->count);
		return;
	}
	/* Stored as the client sent them: escaped for the terminal. */
	printf("  %s %-9s record=%s client=[%s] helo=%s tls=%s key_type=%s"
	       " key=%s count=%ld\n", when, ev->result, rec,
	       sm_escape(ev->client_address, e_addr, sizeof(e_addr)),
	       ev->helo[0] ? sm_escape(ev->helo, e_helo, sizeof(e_helo)) : "-",
	       ev->tls_protocol[0] ? sm_escape(ev->tls_protocol, e_tls,
					       sizeof(e_tls)) : "-",
	       ev->key_type[0] ? sm_escape(ev->key_type, e_type,
					   sizeof(e_type)) : "-",
	       ev->key_fp[0] ? sm_escape(ev->key_fp, e_key, sizeof(e_key)) : "-",
	       ev->count);
}

/* Identities are stored normalised; "[addr]" ones as given. */
static const char *
normal_identity(const char *id, char *host, size_t hostlen)
{
	char why[256];

	if (id[0] == '[' || sm_names_host(id, host, hostlen, why,
					  sizeof(why)) < 0)
		sm_strlcpy(host, id, hostlen);
	return host;
}

static int
cmd_report(struct ctl *ctl)
{
	struct report_ctx rc = { ctl->json, 0 };
	struct ctl_report_opts o;
	struct sm_rep *rep;
	struct sm_db_params dbp;
	time_t since = ctl->since > 0 ? time(NULL) - ctl->since : 0;
	char why[512], host[SM_NAME_BUF];
	long n;

	sm_config_db(ctl->cfg, &dbp);
	rep = sm_rep_open(sm_config_str(ctl->cfg, SM_K_DB_PATH), &dbp,
			  sm_config_int(ctl->cfg, SM_K_REPUTATION_RETENTION),
			  why, sizeof(why));
	if (rep == NULL)
		die(EX_CANTCREAT, "%s", why);
	o.since = since;
	o.identity = ctl->identity != NULL ?
		     normal_identity(ctl->identity, host, sizeof(host)) : NULL;
	o.domain = ctl->domain;
	o.json = ctl->json;
	o.html = ctl->html;
	o.limit = ctl->limit;
	/* One identity's JSON is its decisions, the shape kept from before. */
	n = 0;
	if (o.identity == NULL || !o.json || o.html != NULL)
		n = ctl_report(rep, &o, stdout, why, sizeof(why));
	if (n >= 0 && o.identity != NULL && o.html == NULL) {
		if (rc.json) {
			printf("{\"identity\":");
			json_str(host);
			printf(",\"events\":[");
		} else
			printf("\nDecisions of %s, newest first\n",
			       sm_escape(host, why, sizeof(why)));
		n = sm_rep_events(rep, host, since, 100, show_event, &rc, why,
				  sizeof(why));
		if (rc.json)
			printf("]}\n");
		else if (n == 0)
			printf("  no decisions recorded\n");
	}
	sm_rep_close(rep);
	if (n < 0)
		die(EX_IOERR, "%s", why);
	return n > 0 ? 0 : 1;
}

/* A duration as in smilla.conf (its parser): 1 second to 100 years. */
static long
duration(const char *arg)
{
	char why[256];
	long v;

	if (sm_config_duration(arg, 1, 100L * 365 * 86400, &v, why,
			       sizeof(why)) < 0)
		die(EX_USAGE, "bad duration \"%s\" (NUMBER[s|m|h|d|w])", arg);
	return v;
}

/* --limit: 1 to 10 000 000. */
static long
count_arg(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v < 1 ||
	    v > 10000000)
		die(EX_USAGE, "bad count \"%s\" (1 to 10000000)", arg);
	return v;
}

static int
number(const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 0 || v > 255)
		die(EX_USAGE, "bad number \"%s\"", arg);
	return (int)v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "cache", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "cert", required_argument, NULL, 1 },
		{ "chain", required_argument, NULL, 2 },
		{ "name", required_argument, NULL, 3 },
		{ "email", required_argument, NULL, 4 },
		{ "key", required_argument, NULL, 5 },
		{ "usage", required_argument, NULL, 6 },
		{ "selector", required_argument, NULL, 7 },
		{ "mtype", required_argument, NULL, 8 },
		{ "ca-file", required_argument, NULL, 9 },
		{ "since", required_argument, NULL, 10 },
		{ "identity", required_argument, NULL, 11 },
		{ "words", no_argument, NULL, 12 },
		{ "table", no_argument, NULL, 13 },
		{ "domain", required_argument, NULL, 14 },
		{ "html", required_argument, NULL, 15 },
		{ "limit", required_argument, NULL, 16 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl ctl;
	const char *conf = NULL, *cmd;
	int c, rc;

	if ((rc = ctl_selfcheck_main(argc, argv)) >= 0)
		return rc;
	memset(&ctl, 0, sizeof(ctl));
	ctl.usage = ctl.selector = ctl.mtype = -1;
	/* Options may follow the command words ("lookup tlsa X --json"). */
	while ((c = getopt_long(argc, argv, "c:jCvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'j': ctl.json = 1; break;
		case 'C': ctl.use_cache = 1; break;
		case 'v': ctl.verbose = 1; break;
		case 1: ctl.cert = optarg; break;
		case 2: ctl.chain = optarg; break;
		case 3: ctl.name = optarg; break;
		case 4: ctl.email = optarg; break;
		case 5: ctl.key = optarg; break;
		case 6: ctl.usage = number(optarg); break;
		case 7: ctl.selector = number(optarg); break;
		case 8: ctl.mtype = number(optarg); break;
		case 9: ctl.ca_file = optarg; break;
		case 10: ctl.since = duration(optarg); break;
		case 11: ctl.identity = optarg; break;
		case 12: ctl.words = 1; break;
		case 13: ctl.table = 1; break;
		case 14: ctl.domain = optarg; break;
		case 15: ctl.html = optarg; break;
		case 16: ctl.limit = count_arg(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	ctl.cfg = load_config(conf);
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "lookup") == 0)
		rc = cmd_lookup(&ctl, argc, argv);
	else if (strcmp(cmd, "verify") == 0 && argc == 0)
		rc = cmd_verify(&ctl);
	else if (strcmp(cmd, "gen") == 0)
		rc = cmd_gen(&ctl, argc, argv);
	else if (strcmp(cmd, "config") == 0 && argc == 0)
		rc = cmd_config(&ctl);
	else if (strcmp(cmd, "cache") == 0)
		rc = cmd_cache(&ctl, argc, argv);
	else if (strcmp(cmd, "report") == 0 && argc == 0)
		rc = cmd_report(&ctl);
	else if (strcmp(cmd, "metrics") == 0 && argc == 0)
		rc = ctl_metrics(ctl.cfg);
	else
		usage();
	sm_config_free(ctl.cfg);
	return rc;
}
