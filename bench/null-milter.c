/*
 * null-milter.c - the do-nothing baseline milter.
 *
 *   null-milter -p SOCKET [-b BACKLOG]
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
 * libmilter runs one thread per connection and stops on SIGTERM, SIGINT
 * or SIGHUP (a unix socket is removed).  Exit status 0 on a clean stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>

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
	(void)ctx;
	return SMFIS_ACCEPT;
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

static void
usage(void)
{
	fputs("usage: null-milter -p SOCKET [-b BACKLOG]\n"
	      "       SOCKET: unix:/path | inet:PORT@HOST | inet6:PORT@HOST\n",
	      stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *sock = NULL;
	int c, backlog = 128;

	while ((c = getopt(argc, argv, "p:b:")) != -1) {
		switch (c) {
		case 'p':
			sock = optarg;
			break;
		case 'b':
			backlog = atoi(optarg);
			if (backlog <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (sock == NULL || optind != argc)
		usage();

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
