/*
 * recipient.c - SMIMEA lookup and evaluation for one recipient.  The
 * contract is recipient.h.
 *
 *   mil_keys_evaluate(res, addr, ca_file, k)	pure: answer -> keys
 *   mil_keys_clear(k)
 *   mil_key_state_word(state) / mil_key_state_result(state)
 *   mil_lookup_new(cache, resolver, ca_file) / mil_lookup_free(lk)
 *   mil_lookup_smimea(lk, addr, k)		cache, then DNS
 *   mil_lookup_recipient(lk, local, domain, fold, k)
 *						as given, then lowercase
 *
 * The sqlite handle is shared by the milter's threads, so cache calls
 * are serialised here; DNS waits are not (see resolver.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "dane.h"
#include "names.h"
#include "recipient.h"
#include "smime.h"

struct mil_lookup {
	struct sm_cache *cache;
	struct mil_resolver *resolver;
	char *ca_file;
	pthread_mutex_t lock;
};

const char *
mil_key_state_word(enum mil_key_state state)
{
	const char *w = sm_str_name_code(sm_key_state_names, (int)state);

	return w != NULL ? w : "?";
}

const char *
mil_key_state_result(enum mil_key_state state)
{
	return sm_str_name_code(sm_result_names,
				sm_key_state_result((int)state));
}

void
mil_keys_clear(struct mil_keys *k)
{
	if (k == NULL)
		return;
	sm_blobs_free(k->certs, k->ncerts);
	memset(k, 0, sizeof(*k));
	k->state = MIL_KEY_NONE;
	k->usage = -1;
}

static int
add_cert(struct mil_keys *k, const uint8_t *der, size_t len)
{
	struct sm_blob *v;
	size_t i;

	for (i = 0; i < k->ncerts; i++)
		if (k->certs[i].len == len && memcmp(k->certs[i].data, der,
						     len) == 0)
			return 0;	/* the same certificate twice */
	if ((v = realloc(k->certs, (k->ncerts + 1) * sizeof(*v))) == NULL)
		return -1;
	k->certs = v;
	if ((v[k->ncerts].data = malloc(len)) == NULL)
		return -1;
	memcpy(v[k->ncerts].data, der, len);
	v[k->ncerts].len = len;
	k->ncerts++;
	return 0;
}

/* Is record RD usable for ADDR?  1, or 0 with the reason in WHY. */
static int
usable(const struct sm_rdata *rd, const char *addr, const char *ca_file,
       struct sm_tlsa *t, char *why, size_t whylen)
{
	struct sm_dane_cert_input in;
	struct sm_dane_report *rep;
	struct sm_blob cert;
	int ok;

	if (sm_rr_tlsa_parse(rd->data, rd->len, t, why, whylen) < 0)
		return 0;
	if (t->selector != SM_TLSA_SELECTOR_CERT ||
	    t->mtype != SM_TLSA_MTYPE_FULL) {
		sm_why(why, whylen, "%u %u %u: no whole certificate to encrypt to",
		       t->usage, t->selector, t->mtype);
		return 0;
	}
	if (t->usage == SM_TLSA_USAGE_PKIX_TA ||
	    t->usage == SM_TLSA_USAGE_DANE_TA) {
		sm_why(why, whylen, "usage %u needs a chain the record lacks",
		       t->usage);
		return 0;
	}
	cert.data = (uint8_t *)t->data;
	cert.len = t->len;
	if (t->usage == SM_TLSA_USAGE_PKIX_EE) {
		memset(&in, 0, sizeof(in));
		in.certs = &cert;
		in.ncerts = 1;
		in.purpose = SM_DANE_SMIME;
		in.name = addr;
		in.ca_file = ca_file;
		if ((rep = sm_dane_match_cert(rd, 1, &in)) == NULL) {
			sm_why(why, whylen, "out of memory");
			return 0;
		}
		ok = rep->result == SM_DANE_PASS;
		if (!ok)
			sm_why(why, whylen, "1 0 0: %s", rep->recs[0].why);
		sm_dane_report_free(rep);
		if (!ok)
			return 0;
	}
	return sm_smime_usable(&cert, why, whylen);
}

void
mil_keys_evaluate(const struct sm_dns_result *res, const char *addr,
		  const char *ca_file, struct mil_keys *k)
{
	struct sm_tlsa t;
	uint8_t d[SM_DIGEST_MAX];
	char why[256] = "";
	size_t i;

	if (res == NULL) {
		k->state = MIL_KEY_TEMPERROR;
		sm_strlcpy(k->why, "out of memory", sizeof(k->why));
		return;
	}
	if (res->sec == SM_DNS_BOGUS) {
		k->state = MIL_KEY_BOGUS;
		sm_strlcpy(k->why, res->why ? res->why : "bogus", sizeof(k->why));
		return;
	}
	switch (res->outcome) {
	case SM_DNS_DATA:
		break;
	case SM_DNS_NXDOMAIN:
	case SM_DNS_NODATA:
		k->state = MIL_KEY_NONE;
		sm_strlcpy(k->why, sm_dns_status(res), sizeof(k->why));
		return;
	default:
		k->state = MIL_KEY_TEMPERROR;
		sm_why(k->why, sizeof(k->why), "%s%s%s", sm_dns_status(res),
		       res->why ? ": " : "", res->why ? res->why : "");
		return;
	}
	if (res->sec != SM_DNS_SECURE) {
		k->state = MIL_KEY_INSECURE;
		sm_strlcpy(k->why, "SMIMEA not DNSSEC-signed", sizeof(k->why));
		return;
	}
	for (i = 0; i < res->count; i++) {
		if (!usable(&res->rr[i], addr, ca_file, &t, why, sizeof(why)))
			continue;
		if (add_cert(k, t.data, t.len) < 0) {
			mil_keys_clear(k);
			k->state = MIL_KEY_TEMPERROR;
			sm_strlcpy(k->why, "out of memory", sizeof(k->why));
			return;
		}
		if (k->usage < 0)
			k->usage = t.usage;
	}
	if (k->ncerts == 0) {
		k->state = MIL_KEY_UNUSABLE;
		sm_strlcpy(k->why, *why ? why : "empty RRset", sizeof(k->why));
		return;
	}
	k->state = MIL_KEY_SECURE;
	if (sm_digest(SM_DIGEST_SHA256, k->certs[0].data, k->certs[0].len, d))
		sm_hex_encode(d, 32, k->fp, 0);
	sm_why(k->why, sizeof(k->why), "%zu certificate%s", k->ncerts,
	       k->ncerts == 1 ? "" : "s");
}

struct mil_lookup *
mil_lookup_new(struct sm_cache *cache, struct mil_resolver *resolver,
	       const char *ca_file)
{
	struct mil_lookup *lk = calloc(1, sizeof(*lk));

	if (lk == NULL)
		return NULL;
	if (ca_file != NULL && (lk->ca_file = strdup(ca_file)) == NULL) {
		free(lk);
		return NULL;
	}
	lk->cache = cache;
	lk->resolver = resolver;
	pthread_mutex_init(&lk->lock, NULL);
	return lk;
}

void
mil_lookup_free(struct mil_lookup *lk)
{
	if (lk == NULL)
		return;
	pthread_mutex_destroy(&lk->lock);
	free(lk->ca_file);
	free(lk);
}

void
mil_lookup_smimea(struct mil_lookup *lk, const char *addr,
		  struct mil_keys *k)
{
	struct sm_dns_result *res = NULL;
	char name[SM_NAME_BUF];
	time_t now = time(NULL);
	int hit = 0;

	mil_keys_clear(k);
	if (sm_names_smimea(addr, name, sizeof(name), k->why,
			    sizeof(k->why)) < 0) {
		k->state = MIL_KEY_NONE;
		return;
	}
	if (lk->cache != NULL) {
		pthread_mutex_lock(&lk->lock);
		hit = sm_cache_get(lk->cache, name, SM_RR_SMIMEA, now, &res, NULL,
				   0) == 1;
		pthread_mutex_unlock(&lk->lock);
	}
	if (!hit) {
		res = mil_resolve(lk->resolver, name, SM_RR_SMIMEA);
		if (res != NULL && lk->cache != NULL) {
			pthread_mutex_lock(&lk->lock);
			sm_cache_put(lk->cache, res, now, NULL, 0);
			pthread_mutex_unlock(&lk->lock);
		}
	}
	mil_keys_evaluate(res, addr, lk->ca_file, k);
	k->cached = hit;
	sm_dns_result_free(res);
}

void
mil_lookup_recipient(struct mil_lookup *lk, const char *local,
		     const char *domain, int fold, struct mil_keys *k)
{
	size_t ll = strlen(local);
	char *addr = malloc(ll + strlen(domain) + 2);

	if (addr == NULL) {
		mil_keys_clear(k);
		k->state = MIL_KEY_TEMPERROR;
		sm_strlcpy(k->why, "out of memory", sizeof(k->why));
		return;
	}
	/* The last '@' is the domain's: a quoted local part may hold one. */
	sprintf(addr, "%s@%s", local, domain);
	mil_lookup_smimea(lk, addr, k);
	if (k->state == MIL_KEY_NONE && fold && sm_addr_has_upper(local)) {
		addr[ll] = '\0';
		sm_addr_fold(addr);
		addr[ll] = '@';
		mil_lookup_smimea(lk, addr, k);
		if (k->state != MIL_KEY_NONE)
			sm_strlcpy(k->why + strlen(k->why), " (local part lowercased)",
				   sizeof(k->why) - strlen(k->why));
	}
	free(addr);
}
