/*
 * recipient.c - SMIMEA and OPENPGPKEY lookup and evaluation for one
 * recipient.  The contract is recipient.h.
 *
 *   mil_kind_format(kind) / mil_kind_record(kind) / mil_kind_parse(word)
 *   mil_keys_init(k, state, why) / mil_keys_clear(k) / mil_keys_best(k, kinds)
 *   mil_key_state_word(state) / mil_key_state_result(state)
 *   mil_lookup_new(cache, resolver, ca_file) / mil_lookup_free(lk)
 *   mil_lookup_answers(lk, addr, kinds, res, hit, why)
 *			the RRsets: cache, then DNS for all kinds at once
 *   mil_lookup_recipient(lk, local, domain, fold, kinds, k)
 *			the usable keys (evaluate): as given, then lowercase
 *
 * The sqlite handle is shared by the milter's threads, so cache calls
 * are serialised here; DNS waits are not (see resolver.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "counters.h"
#include "names.h"
#include "pgp.h"
#include "recipient.h"
#include "smimea.h"

/* Per kind: the RR type and the owner name (the words are words.h's). */
static const struct kind {
	int type;
	int (*name)(const char *addr, char *out, size_t outlen, char *why,
		    size_t whylen);
} kinds[MIL_NKINDS] = {
	[MIL_SMIME] = { SM_RR_SMIMEA, sm_names_smimea },
	[MIL_OPENPGP] = { SM_RR_OPENPGPKEY, sm_names_openpgpkey },
};

struct mil_lookup {
	struct sm_cache *cache;
	struct mil_resolver *resolver;
	char *ca_file;
	pthread_mutex_t lock;
};

const char *
mil_kind_format(enum mil_kind kind)
{
	return sm_str_name_code(sm_format_names, (int)kind);
}

const char *
mil_kind_record(enum mil_kind kind)
{
	return sm_str_name_code(sm_key_type_names,
				sm_format_key_type((int)kind));
}

int
mil_kind_parse(const char *word)
{
	return sm_name_code(sm_format_names, word);
}

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
	enum mil_kind kind;

	if (k == NULL)
		return;
	kind = k->kind;
	sm_blobs_free(k->certs, k->ncerts);
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->state = MIL_KEY_NONE;
	k->usage = -1;
}

void
mil_keys_init(struct mil_keys k[MIL_NKINDS], enum mil_key_state state,
	      const char *why)
{
	int i;

	for (i = 0; i < MIL_NKINDS; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		k[i].kind = (enum mil_kind)i;
		mil_keys_clear(&k[i]);
		k[i].state = state;
		sm_strlcpy(k[i].why, why, sizeof(k[i].why));
	}
}

enum mil_kind
mil_keys_best(const struct mil_keys k[MIL_NKINDS], unsigned want)
{
	static const enum mil_key_state order[] = {
		MIL_KEY_SECURE, MIL_KEY_TEMPERROR, MIL_KEY_BOGUS,
		MIL_KEY_UNUSABLE, MIL_KEY_INSECURE, MIL_KEY_NONE,
	};
	size_t o;
	int i;

	for (o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (i = 0; i < MIL_NKINDS; i++)
			if ((want & MIL_KIND_BIT(i)) && k[i].state == order[o])
				return (enum mil_kind)i;
	return MIL_SMIME;	/* all skipped */
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

/*
 * Add record RD to K if it is usable for ADDR (an OpenPGP user ID may
 * name ALSO instead, when not NULL): 0, or -1 when out of memory.
 */
static int
add_record(struct mil_keys *k, const struct sm_rdata *rd, const char *addr,
	   const char *also, const char *ca_file, char *why, size_t whylen)
{
	struct sm_tlsa t;
	uint8_t d[SM_DIGEST_MAX];
	struct sm_pgp_check pc;
	struct sm_blob key = { (uint8_t *)rd->data, rd->len };
	char detail[200];
	int rc;

	if (k->kind == MIL_OPENPGP) {
		if ((rc = sm_pgp_usable(&key, addr, &pc, detail,
					sizeof(detail))) == 0 && also != NULL &&
		    pc.reason == SM_PGP_UID_MISMATCH)
			rc = sm_pgp_usable(&key, also, &pc, detail,
					   sizeof(detail));
		if (rc < 0)
			return -1;
		if (rc == 0) {
			/* The word first: it is what an admin greps for. */
			sm_why(why, whylen, "%s (%s%s%s)",
			       sm_pgp_unusable_word(pc.reason), pc.fpr,
			       *pc.fpr ? ": " : "", detail);
			return 0;
		}
		if (add_cert(k, rd->data, rd->len) < 0)
			return -1;
		if (k->fp[0] == '\0')
			sm_strlcpy(k->fp, pc.fpr, sizeof(k->fp));
		return 0;
	}
	if (!sm_smimea_usable(rd, addr, ca_file, &t, why, whylen))
		return 0;
	if (add_cert(k, t.data, t.len) < 0)
		return -1;
	if (k->usage < 0) {
		k->usage = t.usage;
		if (sm_digest(SM_DIGEST_SHA256, t.data, t.len, d))
			sm_hex_encode(d, 32, k->fp, 0);
	}
	return 0;
}

static void
evaluate(const struct sm_dns_result *res, const char *addr, const char *also,
	 const char *ca_file, struct mil_keys *k)
{
	const char *rec = k->kind == MIL_OPENPGP ? "OPENPGPKEY" : "SMIMEA";
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
		sm_why(k->why, sizeof(k->why), "%s not DNSSEC-signed", rec);
		return;
	}
	for (i = 0; i < res->count; i++)
		if (add_record(k, &res->rr[i], addr, also, ca_file, why,
			       sizeof(why)) < 0) {
			mil_keys_clear(k);
			k->state = MIL_KEY_TEMPERROR;
			sm_strlcpy(k->why, "out of memory", sizeof(k->why));
			return;
		}
	if (k->ncerts == 0) {
		k->state = MIL_KEY_UNUSABLE;
		sm_strlcpy(k->why, *why ? why : "empty RRset", sizeof(k->why));
		return;
	}
	k->state = MIL_KEY_SECURE;
	sm_why(k->why, sizeof(k->why), "%zu %s", k->ncerts,
	       k->kind == MIL_OPENPGP ? (k->ncerts == 1 ? "key" : "keys") :
	       (k->ncerts == 1 ? "certificate" : "certificates"));
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

/* K's answer from the cache into *RES: 1 found, 0 not (locks LK). */
static int
cached(struct mil_lookup *lk, const char *name, int type, time_t now,
       struct sm_dns_result **res)
{
	int hit;

	if (lk->cache == NULL)
		return 0;
	pthread_mutex_lock(&lk->lock);
	hit = sm_cache_get(lk->cache, name, type, now, res, NULL, 0) == 1;
	pthread_mutex_unlock(&lk->lock);
	return hit;
}

void
mil_lookup_names(struct mil_lookup *lk, const char *const *names,
		 const int *types, size_t n, struct sm_dns_result **res,
		 int *hit)
{
	const char *ask[MIL_MAX_NAMES];
	int atype[MIL_MAX_NAMES];
	size_t slot[MIL_MAX_NAMES], m = 0, j;
	struct sm_dns_result *got[MIL_MAX_NAMES];
	time_t now = time(NULL);

	sm_metric_add(mil_ct.lookups, 0, (long)n);
	for (j = 0; j < n; j++) {
		res[j] = NULL;
		if ((hit[j] = cached(lk, names[j], types[j], now, &res[j])))
			sm_metric_add(mil_ct.hits, 0, 1);
		if (hit[j] || m == MIL_MAX_NAMES)
			continue;
		slot[m] = j;
		ask[m] = names[j];
		atype[m++] = types[j];
	}
	if (m == 0)
		return;
	mil_resolve_all(lk->resolver, ask, atype, m, got);
	for (j = 0; j < m; j++) {
		res[slot[j]] = got[j];
		if (got[j] != NULL && lk->cache != NULL) {
			pthread_mutex_lock(&lk->lock);
			sm_cache_put(lk->cache, got[j], now, NULL, 0);
			pthread_mutex_unlock(&lk->lock);
		}
	}
}

unsigned
mil_lookup_answers(struct mil_lookup *lk, const char *addr, unsigned want,
		   struct sm_dns_result *res[MIL_NKINDS], int hit[MIL_NKINDS],
		   char why[MIL_NKINDS][256])
{
	char names[MIL_NKINDS][SM_NAME_BUF];
	const char *ask[MIL_NKINDS];
	int types[MIL_NKINDS], slot[MIL_NKINDS], h[MIL_NKINDS];
	struct sm_dns_result *got[MIL_NKINDS];
	size_t n = 0, j;
	int i;

	for (i = 0; i < MIL_NKINDS; i++) {
		res[i] = NULL;
		hit[i] = 0;
		why[i][0] = '\0';
		if (!(want & MIL_KIND_BIT(i)))
			continue;
		if (kinds[i].name(addr, names[i], sizeof(names[i]), why[i],
				  sizeof(why[i])) < 0) {
			want &= ~MIL_KIND_BIT(i);	/* no such name */
			continue;
		}
		slot[n] = i;
		ask[n] = names[i];
		types[n++] = kinds[i].type;
	}
	if (n > 0)
		mil_lookup_names(lk, ask, types, n, got, h);
	for (j = 0; j < n; j++) {
		res[slot[j]] = got[j];
		hit[slot[j]] = h[j];
	}
	return want;
}

/*
 * The keys of ADDR of each kind in WANT into K (mil_lookup_recipient);
 * the user IDs of OpenPGP keys may name ALSO instead (not NULL).
 */
static void
lookup(struct mil_lookup *lk, const char *addr, const char *also,
       unsigned want, struct mil_keys k[MIL_NKINDS])
{
	struct sm_dns_result *res[MIL_NKINDS];
	char why[MIL_NKINDS][256];
	int hit[MIL_NKINDS], i;
	unsigned asked = mil_lookup_answers(lk, addr, want, res, hit, why);

	for (i = 0; i < MIL_NKINDS; i++) {
		if (!(want & MIL_KIND_BIT(i)))
			continue;
		mil_keys_clear(&k[i]);
		if (!(asked & MIL_KIND_BIT(i))) {
			sm_strlcpy(k[i].why, why[i], sizeof(k[i].why));
			continue;	/* no such name: none */
		}
		evaluate(res[i], addr, also, lk->ca_file, &k[i]);
		k[i].cached = hit[i];
		sm_dns_result_free(res[i]);
	}
}

void
mil_lookup_recipient(struct mil_lookup *lk, const char *local,
		     const char *domain, int fold, unsigned want,
		     struct mil_keys k[MIL_NKINDS])
{
	size_t ll = strlen(local);
	char *addr = malloc(ll + strlen(domain) + 2), *given;
	unsigned again = 0;
	int i;

	if (addr == NULL) {
		for (i = 0; i < MIL_NKINDS; i++)
			if (want & MIL_KIND_BIT(i)) {
				mil_keys_clear(&k[i]);
				k[i].state = MIL_KEY_TEMPERROR;
				sm_strlcpy(k[i].why, "out of memory",
					   sizeof(k[i].why));
			}
		return;
	}
	/* The last '@' is the domain's: a quoted local part may hold one. */
	sprintf(addr, "%s@%s", local, domain);
	lookup(lk, addr, NULL, want, k);
	for (i = 0; i < MIL_NKINDS; i++)
		if ((want & MIL_KIND_BIT(i)) && k[i].state == MIL_KEY_NONE)
			again |= MIL_KIND_BIT(i);
	if (again && fold && sm_addr_has_upper(local) &&
	    (given = strdup(addr)) != NULL) {
		addr[ll] = '\0';
		sm_addr_fold(addr);
		addr[ll] = '@';
		/* Found as lowercased: a user ID may name either form. */
		lookup(lk, addr, given, again, k);
		free(given);
		for (i = 0; i < MIL_NKINDS; i++)
			if ((again & MIL_KIND_BIT(i)) &&
			    k[i].state != MIL_KEY_NONE)
				sm_strlcpy(k[i].why + strlen(k[i].why),
					   " (local part lowercased)",
					   sizeof(k[i].why) - strlen(k[i].why));
	}
	free(addr);
}
