/*
 * test_dns - the dns module against the real DNSSEC test bed
 * (tests/bed/bed.sh, started by tests/check.sh, found through BED_DIR):
 * NSD serving signed, unsigned and expired-signature zones on loopback,
 * a server that never answers, and libunbound validating with the bed's
 * trust anchor.  Also the errors sm_dns_new reports without a bed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "dns.h"
#include "tap.h"
#include "util.h"

#define TIMEOUT_MS 1500

struct lookup_case {
	const char *name;
	int type;
	enum sm_dns_outcome outcome;
	enum sm_dns_sec sec;
	const char *status;
	size_t count;
};

static const struct lookup_case cases[] = {
	{ "_smtp-client.good.smilla.test", 52, SM_DNS_DATA, SM_DNS_SECURE,
	  "secure", 1 },
	{ "_smtp-client.malformed.smilla.test", 52, SM_DNS_DATA, SM_DNS_SECURE,
	  "secure", 2 },
	{ "_smtp-client.host.insecure.smilla.test", 52, SM_DNS_DATA,
	  SM_DNS_INSECURE, "insecure", 1 },
	{ "_smtp-client.host.bogus.smilla.test", 52, SM_DNS_DATA, SM_DNS_BOGUS,
	  "bogus", 1 },
	{ "_smtp-client.nothere.smilla.test", 52, SM_DNS_NXDOMAIN,
	  SM_DNS_SECURE, "nxdomain", 0 },
	{ "_smtp-client.nodata.smilla.test", 52, SM_DNS_NODATA, SM_DNS_SECURE,
	  "nodata", 0 },
};

struct order {
	int n;
	const char *names[4];
	struct sm_dns_result *res[4];
	int64_t at[4];
};

static void
collect(void *arg, struct sm_dns_result *res)
{
	struct order *o = arg;

	if (o->n < 4) {
		o->names[o->n] = res ? res->qname : "(oom)";
		o->at[o->n] = sm_now_ms();
		o->res[o->n++] = res;
	} else {
		sm_dns_result_free(res);
	}
}

static void
offline(void)
{
	struct sm_dns_params p = { "/nonexistent/anchor.key", NULL, 1000, 0 };
	char why[512], path[] = "/tmp/smilla-test-dns-XXXXXX";
	FILE *fp;
	int fd;

	ok(sm_dns_new(&p, why, sizeof(why)) == NULL &&
	   strstr(why, "/nonexistent/anchor.key") != NULL,
	   "missing trust anchor reported: %s", why);
	p.trust_anchor_file = "";
	ok(sm_dns_new(&p, why, sizeof(why)) == NULL,
	   "empty trust anchor reported: %s", why);
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		return;
	fputs("server:\n  this-is-not-an-option: yes\n", fp);
	fclose(fp);
	p.trust_anchor_file = path;	/* readable; content checked later */
	p.unbound_conf = path;
	ok(sm_dns_new(&p, why, sizeof(why)) == NULL &&
	   strstr(why, path) != NULL, "bad unbound.conf reported: %s", why);
	unlink(path);
}

/* Every free and clear takes NULL (a crash here fails the test). */
static void
free_null(void)
{
	sm_dns_free(NULL);
	ok(1, "sm_dns_free(NULL) is a no-op");
	sm_dns_result_free(NULL);
	ok(1, "sm_dns_result_free(NULL) is a no-op");
}

int
main(void)
{
	const char *bed = getenv("BED_DIR");
	struct sm_config *cfg;
	struct sm_dns_params p;
	struct sm_dns *dns;
	struct sm_dns_result *res;
	struct order o = { 0 };
	char conf[512], why[512];
	int64_t t0, t;
	size_t i;

	free_null();
	offline();
	if (bed == NULL) {
		ok(0, "BED_DIR is set (run through tests/check.sh)");
		return done_testing();
	}
	snprintf(conf, sizeof(conf), "%s/smilla.conf", bed);
	cfg = sm_config_new();
	if (!ok(sm_config_load(cfg, conf, why, sizeof(why)) == 0,
		"bed config loads %s", why))
		return done_testing();
	sm_config_dns(cfg, &p);
	p.timeout_ms = TIMEOUT_MS;
	dns = sm_dns_new(&p, why, sizeof(why));
	if (!ok(dns != NULL, "resolver created %s", dns ? "" : why))
		return done_testing();

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lookup_case *c = &cases[i];

		res = sm_dns_lookup(dns, c->name, c->type);
		ok(res != NULL && res->outcome == c->outcome &&
		   res->sec == c->sec && res->count == c->count,
		   "%s: outcome %d sec %d count %zu", c->name,
		   res ? (int)res->outcome : -1, res ? (int)res->sec : -1,
		   res ? res->count : 0);
		is_str(res ? sm_dns_status(res) : NULL, c->status, "  status word");
		if (c->sec == SM_DNS_BOGUS)
			ok(res && res->why && res->why[0], "  bogus reason: %s",
			   res && res->why ? res->why : "(none)");
		if (c->outcome == SM_DNS_DATA && c->sec == SM_DNS_SECURE)
			ok(res && res->ttl > 0 && res->ttl <= 300,
			   "  TTL %u", res ? res->ttl : 0);
		sm_dns_result_free(res);
	}

	/* A server that never answers: timeout, bounded by our deadline. */
	t0 = sm_now_ms();
	res = sm_dns_lookup(dns, "_smtp-client.host.slow.smilla.test", 52);
	t = sm_now_ms() - t0;
	ok(res && res->outcome == SM_DNS_TEMPFAIL && res->timed_out,
	   "unresponsive server: temporary failure by timeout");
	is_str(res ? sm_dns_status(res) : NULL, "timeout", "  status word");
	ok(t >= TIMEOUT_MS - 50 && t < TIMEOUT_MS + 1500,
	   "  gave up after %lld ms (timeout %d)", (long long)t, TIMEOUT_MS);
	sm_dns_result_free(res);
	is_int((long)sm_dns_pending(dns), 0, "  nothing left pending");

	/* Async: a hanging lookup must not hold up the others. */
	t0 = sm_now_ms();
	ok(sm_dns_submit(dns, "_smtp-client.other.slow.smilla.test", 52,
			 collect, &o) == 0 &&
	   sm_dns_submit(dns, "_smtp-client.cert.smilla.test", 52, collect,
			 &o) == 0 &&
	   sm_dns_submit(dns, "_smtp-client.host.bogus.smilla.test", 52,
			 collect, &o) == 0, "three lookups submitted");
	is_int((long)sm_dns_pending(dns), 3, "  three pending");
	while (sm_dns_pending(dns) > 0) {
		/* Drive the loop the way a daemon does. */
		int wait = sm_dns_next_deadline(dns);
		fd_set rd;
		struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };

		FD_ZERO(&rd);
		FD_SET(sm_dns_fd(dns), &rd);
		if (select(sm_dns_fd(dns) + 1, &rd, NULL, NULL,
			   wait < 0 ? NULL : &tv) > 0)
			sm_dns_process(dns);
		sm_dns_expire(dns);
	}
	is_int(o.n, 3, "  three callbacks");
	ok(o.n == 3 && strcmp(o.names[2], "_smtp-client.other.slow.smilla.test") == 0,
	   "  the hanging lookup finished last");
	ok(o.n == 3 && o.at[0] - t0 < TIMEOUT_MS / 2 && o.at[1] - t0 < TIMEOUT_MS / 2,
	   "  answered lookups came back in %lld and %lld ms",
	   (long long)(o.at[0] - t0), (long long)(o.at[1] - t0));
	for (i = 0; i < (size_t)o.n; i++) {
		if (o.res[i] && strcmp(o.names[i], "_smtp-client.cert.smilla.test") == 0)
			is_str(sm_dns_status(o.res[i]), "secure", "  async secure");
		if (o.res[i] && strstr(o.names[i], "bogus") != NULL)
			is_str(sm_dns_status(o.res[i]), "bogus", "  async bogus");
		sm_dns_result_free(o.res[i]);
	}

	/* Cancelling by freeing with lookups in flight: no callback, no leak. */
	o.n = 0;
	sm_dns_submit(dns, "_smtp-client.third.slow.smilla.test", 52, collect, &o);
	sm_dns_free(dns);
	is_int(o.n, 0, "free with a lookup in flight calls nobody");
	sm_config_free(cfg);
	return done_testing();
}
