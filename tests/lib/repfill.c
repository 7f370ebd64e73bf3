/*
 * repfill - write reputation rows with the store's own code, for the
 * report's tests (tests/dnssec/report.t).
 *
 *   repfill DB		rows from stdin, one a line:
 *			TIME SOURCE KEY_TYPE RESULT IDENTITY [COUNT [KEY_FP
 *			[CLIENT [HELO]]]]
 *			TIME in seconds since the epoch, or -N: N seconds
 *			ago; "-" for an empty field; COUNT decisions
 *			(default 1).  A delivery row (KEY_TYPE delivery)
 *			has ACTION[:FORMAT] DIRECTION where the others
 *			have KEY_FP CLIENT
 *   repfill DB synth N	N synthetic rows over the last 30 days: sending
 *			MTAs, recipients in 50 domains, senders, every
 *			result, now and then a new key, and what became
 *			of the recipients' mail
 *
 * Exit 0, or 1 with the reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reputation.h"
#include "words.h"

#define RETENTION (400L * 86400)
#define BATCH 20000

static struct sm_rep *rep;
static char why[512];
static time_t now;

static void
flush(void)
{
	if (sm_rep_flush(rep, now, why, sizeof(why)) < 0) {
		fprintf(stderr, "repfill: %s\n", why);
		exit(1);
	}
}

static void
add(const struct sm_rep_event *ev)
{
	if (sm_rep_add(rep, ev) < 0) {
		fprintf(stderr, "repfill: queue full\n");
		exit(1);
	}
	if (sm_rep_queued_rows(rep) >= BATCH)
		flush();
}

static const char *
field(const char *s)
{
	return s == NULL || strcmp(s, "-") == 0 ? "" : s;
}

static void
from_stdin(void)
{
	char line[2048], *f[9], *save;
	struct sm_rep_event ev;
	long count, i;
	int n;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		for (n = 0; n < 9; n++)
			f[n] = strtok_r(n ? NULL : line, " \t\n", &save);
		if (f[0] == NULL || f[0][0] == '#')
			continue;
		if (f[4] == NULL) {
			fprintf(stderr, "repfill: short line\n");
			exit(1);
		}
		memset(&ev, 0, sizeof(ev));
		ev.time = f[0][0] == '-' ? now - atol(f[0] + 1) : atol(f[0]);
		ev.source = f[1];
		ev.key_type = field(f[2]);
		ev.result = f[3];
		ev.identity = f[4];
		count = f[5] ? atol(f[5]) : 1;
		ev.key_fp = ev.cert_fp = field(f[6]);
		ev.client_address = f[7] ? field(f[7]) : "192.0.2.1";
		ev.helo = field(f[8]);
		ev.tls_protocol = ev.tls_cipher = "";
		ev.usage = ev.selector = ev.mtype = -1;
		if (strcmp(ev.key_type, "delivery") == 0) {
			ev.action = strtok_r(f[6] ? f[6] : "", ":", &save);
			ev.format = strtok_r(NULL, "", &save);
			ev.direction = field(f[7]);
			ev.key_fp = ev.cert_fp = ev.client_address = "";
		}
		for (i = 0; i < count; i++)
			add(&ev);
	}
}

static void
synth(long n)
{
	static const char *const kinds[] = { "tlsa", "smimea", "openpgpkey",
					     "smime-signer", "delivery" };
	static const char *const sources[] = { "policyd", "milter", "milter",
					       "milter", "milter" };
	struct sm_rep_event ev;
	char id[128], fp[80];
	unsigned long h;
	double age;
	long i;
	int k, pct, dom;

	for (i = 0; i < n; i++) {
		k = (int)(i % 5);
		memset(&ev, 0, sizeof(ev));
		/* Distinct seconds: no two rows merge. */
		ev.time = now - 30 * 86400 + i * (30 * 86400 / n);
		ev.source = sources[k];
		ev.key_type = kinds[k];
		/* A spread that moves: more passes, more mail encrypted,
		   as the period goes on; a share per domain of its own. */
		h = (unsigned long)i * 2654435761UL % 4294967296UL >> 8;
		pct = (int)(h % 100);
		age = (double)i / (double)n;
		dom = (int)((i / 5 + k) % 50);	/* a recipient's domain */
		ev.result = sm_result_names[pct < 55 + 30 * age ? SM_RESULT_PASS :
				1 + (int)(h / 100 % (SM_NRESULTS - 1))].name;
		if (k == 0)
			snprintf(id, sizeof(id), "mx%ld.example%ld.test",
				 i % 1000, i % 37);
		else
			snprintf(id, sizeof(id), "user%ld@d%d.test",
				 i / 5 % 5000, dom);
		ev.identity = id;
		snprintf(fp, sizeof(fp), "%032lx",
			 (k == 0 ? i % 1000 : i / 5 % 5000) * 7 + i / 20000);
		ev.key_fp = ev.cert_fp = strcmp(ev.result, "pass") == 0 ? fp :
									  "";
		ev.client_address = "192.0.2.7";
		ev.helo = k == 0 ? id : "mail.sender.test";
		ev.tls_protocol = ev.tls_cipher = "";
		ev.usage = ev.selector = ev.mtype = -1;
		if (k == 4) {
			ev.action = pct < dom * 1.4 + 30 * age ? "encrypted" :
				    pct >= 97 ? "untouched" :
				    pct >= 95 ? "rejected" : "plaintext";
			ev.format = strcmp(ev.action, "encrypted") != 0 ? "" :
				    h & 256 ? "openpgp" : "smime";
			ev.direction = dom == 4 ? "inbound" : "outbound";
			ev.key_fp = ev.cert_fp = "";
		}
		add(&ev);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2 && !(argc == 4 && strcmp(argv[2], "synth") == 0)) {
		fprintf(stderr, "usage: repfill DB [synth N]\n");
		return 1;
	}
	now = time(NULL);
	if ((rep = sm_rep_open(argv[1], NULL, RETENTION, why,
			       sizeof(why))) == NULL) {
		fprintf(stderr, "repfill: %s\n", why);
		return 1;
	}
	if (argc == 4)
		synth(atol(argv[3]));
	else
		from_stdin();
	flush();
	sm_rep_close(rep);
	return 0;
}
