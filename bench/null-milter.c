/*
 * null-milter.c - the do-nothing baseline milter.
 *
 *   null-milter -p SOCKET [-b BACKLOG] [-R PREFIX [-S USEC]]
 *
 *   SOCKET   as for any libmilter program: unix:/path, local:/path,
 *            inet:PORT@HOST or inet6:PORT@HOST
 *
 * A libmilter program with every callback registered, each returning
 * SMFIS_CONTINUE at once; end of message accepts the message unchanged
 * (SMFIS_ACCEPT at eom).  It registers the same capabilities as a
 * milter that may rewrite a message (SMFIF_ADDHDRS | SMFIF_CHGHDRS |
 * SMFIF_CHGBODY) and asks for every protocol step, so libmilter and the
 * client do exactly the work they do for a real milter that ends up
 * not touching the message: the MTA sends all of it, one reply a step.
 * Whatever a real milter costs beyond this is its own work.
 *
 * -R PREFIX makes it a replay milter: at end of message it makes,
 * on every message, the header changes listed in PREFIX.mods and
 * replaces the body with PREFIX.body, both as milter-load -o saved
 * them from another milter (smilla encrypting one message), and then
 * accepts.  It does none of that milter's work (no lookup, no
 * cryptography): what such a run costs beyond the plain null milter is
 * the MTA's own work of taking the changes.  PREFIX.mods: one change
 * a line, "add NAME: VALUE" (smfi_addheader), "ins NAME: VALUE"
 * (smfi_insheader at the top), "chg NAME: VALUE" (the first NAME
 * field) and "del NAME: " (the first NAME field removed); VALUE's
 * leading blanks are dropped (the MTA writes "NAME: VALUE").  An empty
 * PREFIX.body (the milter kept the body) leaves the body alone.
 * -S USEC: before those changes, burn USEC microseconds of the
 * thread's CPU (CLOCK_THREAD_CPUTIME_ID): a stand-in for the work of
 * an encrypting milter, to see how much CPU a message may cost before
 * the MTA's rate drops.
 *
 * libmilter runs one thread per connection and stops on SIGTERM, SIGINT
 * or SIGHUP (a unix socket is removed).  Exit status 0 on a clean stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>

#define BENCH_PROG "null-milter"
#include "benchutil.h"

/* -R: the changes to make at end of message, read once at start. */
enum mod_kind { MOD_ADD, MOD_INS, MOD_CHG, MOD_DEL };
struct mod {
	enum mod_kind kind;
	char *name, *value;
};
static struct mod *mods;
static size_t nmods;
static unsigned char *body;
static size_t body_len;
static long spin_us;		/* -S */

/* Use about US microseconds of this thread's CPU. */
static void
spin(long us)
{
	struct timespec a, b;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a) != 0)
		return;
	do {
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b) != 0)
			return;
	} while ((b.tv_sec - a.tv_sec) * 1000000L +
			 (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static sfsistat
nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx;
	(void)host;
	(void)addr;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_eom(SMFICTX *ctx)
{
	size_t i;
	int rc = MI_SUCCESS;

	if (spin_us > 0)
		spin(spin_us);
	for (i = 0; i < nmods && rc == MI_SUCCESS; i++) {
		struct mod *m = &mods[i];

		switch (m->kind) {
		case MOD_ADD:
			rc = smfi_addheader(ctx, m->name, m->value);
			break;
		case MOD_INS:
			rc = smfi_insheader(ctx, 0, m->name, m->value);
			break;
		case MOD_CHG:
			rc = smfi_chgheader(ctx, m->name, 1, m->value);
			break;
		case MOD_DEL:
			rc = smfi_chgheader(ctx, m->name, 1, NULL);
			break;
		}
	}
	if (rc == MI_SUCCESS && body != NULL)
		rc = smfi_replacebody(ctx, body, (int)body_len);
	return rc == MI_SUCCESS ? SMFIS_ACCEPT : SMFIS_TEMPFAIL;
}

static sfsistat
nm_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

/* Read PREFIX.mods and PREFIX.body (-R); dies on error. */
static void
load_replay(const char *prefix)
{
	static const char *const words[] = { "add ", "ins ", "chg ", "del " };
	char path[4096];
	char *text, *line, *next;
	size_t len, k;
	unsigned lineno = 0;

	snprintf(path, sizeof(path), "%s.body", prefix);
	body = (unsigned char *)read_file(path, &body_len);
	if (body_len == 0) {
		/* The milter kept the body: so does the replay. */
		free(body);
		body = NULL;
	}
	snprintf(path, sizeof(path), "%s.mods", prefix);
	text = read_file(path, &len);
	/* Kept for the run: the mods point into it. */
	for (line = text; *line != '\0'; line = next) {
		char *colon;

		lineno++;
		next = strchr(line, '\n');
		next = next != NULL ? (*next = '\0', next + 1) : line + strlen(line);
		if (*line == '\0')
			continue;
		for (k = 0; k < 4 && strncmp(line, words[k], 4) != 0; k++)
			;
		if (k == 4 || (colon = strchr(line + 4, ':')) == NULL)
			die("%s:%u: not a change", path, lineno);
		mods = xrealloc(mods, (nmods + 1) * sizeof(*mods));
		*colon++ = '\0';
		while (*colon == ' ' || *colon == '\t')
			colon++;
		mods[nmods].kind = (enum mod_kind)k;
		mods[nmods].name = line + 4;
		mods[nmods].value = colon;
		nmods++;
	}
}

static void
usage(void)
{
	fputs("usage: null-milter -p SOCKET [-b BACKLOG] [-R PREFIX [-S USEC]]\n"
	      "       SOCKET: unix:/path | inet:PORT@HOST | inet6:PORT@HOST\n",
	      stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *sock = NULL, *replay = NULL;
	int c, backlog = 128;

	while ((c = getopt(argc, argv, "p:b:R:S:")) != -1) {
		switch (c) {
		case 'p':
			sock = optarg;
			break;
		case 'b':
			backlog = atoi(optarg);
			if (backlog <= 0)
				usage();
			break;
		case 'R':
			replay = optarg;
			break;
		case 'S':
			spin_us = atol(optarg);
			if (spin_us <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (sock == NULL || optind != argc || (spin_us > 0 && replay == NULL))
		usage();
	if (replay != NULL)
		load_replay(replay);

	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = "null-milter";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
	desc.xxfi_connect = nm_connect;
	desc.xxfi_helo = nm_helo;
	desc.xxfi_envfrom = nm_envfrom;
	desc.xxfi_envrcpt = nm_envrcpt;
	desc.xxfi_header = nm_header;
	desc.xxfi_eoh = nm_eoh;
	desc.xxfi_body = nm_body;
	desc.xxfi_eom = nm_eom;
	desc.xxfi_abort = nm_abort;
	desc.xxfi_close = nm_close;
	desc.xxfi_unknown = nm_unknown;
	desc.xxfi_data = nm_data;
	desc.xxfi_negotiate = NULL;

	if (smfi_setconn((char *)sock) == MI_FAILURE) {
		fprintf(stderr, "null-milter: bad socket %s\n", sock);
		return 1;
	}
	if (smfi_setbacklog(backlog) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE) {
		fputs("null-milter: smfi_register failed\n", stderr);
		return 1;
	}
	/* Removes a stale unix socket left by an earlier run. */
	if (smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "null-milter: cannot open %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
