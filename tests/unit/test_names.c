/*
 * test_names - owner names for client TLSA, SMIMEA and OPENPGPKEY, with
 * the RFC 7929 example and the bounds a hostile HELO name may probe.
 */
#include <string.h>

#include "names.h"
#include "tap.h"

struct host_case {
	const char *in, *want;	/* want NULL: must be rejected */
};

static const struct host_case hosts[] = {
	{ "mx.example.org", "mx.example.org" },
	{ "MX.Example.ORG.", "mx.example.org" },
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "a-b.c-d.example", "a-b.c-d.example" },
	{ "localhost", NULL },
	{ "", NULL },
	{ ".", NULL },
	{ "[192.0.2.1]", NULL },
	{ "192.0.2.1", NULL },
	{ "mx..example.org", NULL },
	{ "-mx.example.org", NULL },
	{ "mx-.example.org", NULL },
	{ "mx_1.example.org", NULL },
	{ "mx example.org", NULL },
	{ "mx.example.org\n", NULL },
};

int
main(void)
{
	char out[SM_NAME_BUF], why[256], name[400], big[1200];
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int rc = sm_names_host(hosts[i].in, out, sizeof(out), why,
				       sizeof(why));

		if (hosts[i].want != NULL) {
			ok(rc == 0, "host \"%s\" accepted", hosts[i].in);
			is_str(out, hosts[i].want, "  normalised");
		} else {
			ok(rc < 0 && why[0] != '\0' && out[0] == '\0',
			   "host \"%s\" rejected (%s)", hosts[i].in,
			   rc < 0 ? why : "accepted");
		}
	}

	/* Label of 63 octets is fine, 64 is not. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	ok(sm_names_host(name, out, sizeof(out), why, sizeof(why)) == 0,
	   "63-octet label accepted");
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	ok(sm_names_host(name, out, sizeof(out), why, sizeof(why)) < 0,
	   "64-octet label rejected (%s)", why);

	/* 253 octets is the most a name may have. */
	for (i = 0; i < 4; i++)
		memcpy(name + 62 * i, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 62);
	strcpy(name + 248, "exam");	/* 252 octets */
	ok(sm_names_host(name, out, sizeof(out), why, sizeof(why)) == 0,
	   "252-octet name accepted");
	strcpy(name + 248, "examp");	/* 253 */
	ok(sm_names_host(name, out, sizeof(out), why, sizeof(why)) == 0,
	   "253-octet name accepted");
	strcpy(name + 248, "exampl");	/* 254 */
	ok(sm_names_host(name, out, sizeof(out), why, sizeof(why)) < 0,
	   "254-octet name rejected (%s)", why);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(sm_names_host(big, out, sizeof(out), why, sizeof(why)) < 0,
	   "1199-octet name rejected");

	/* A short output buffer is an error, never an overflow. */
	ok(sm_names_host("mx.example.org", out, 5, why, sizeof(why)) < 0,
	   "small output buffer reported");

	/* Client TLSA owner names. */
	ok(sm_names_client("Mail.Example.Test", "smtp-client", out,
			   sizeof(out), why, sizeof(why)) == 0, "client name");
	is_str(out, "_smtp-client.mail.example.test", "  _smtp-client owner");
	ok(sm_names_client("mail.example.test", "submission", out, sizeof(out),
			   why, sizeof(why)) == 0, "configured label");
	is_str(out, "_submission.mail.example.test", "  label used");
	/* A host that fits alone may not fit with the prefix. */
	strcpy(name + 248, "examp");
	ok(sm_names_client(name, "smtp-client", out, sizeof(out), why,
			   sizeof(why)) < 0, "owner over 253 octets rejected (%s)",
	   why);
	ok(sm_names_client("bad_host.example", "smtp-client", out,
			   sizeof(out), why, sizeof(why)) < 0,
	   "invalid host rejected (%s)", why);

	/* Owner names given as is. */
	ok(sm_names_owner("_25._tcp.MX.example.org.", out, sizeof(out), why,
			  sizeof(why)) == 0, "explicit owner accepted");
	is_str(out, "_25._tcp.mx.example.org", "  lowercased, no trailing dot");
	ok(sm_names_owner("_a..example", out, sizeof(out), why, sizeof(why)) < 0,
	   "owner with empty label rejected");
	ok(sm_names_owner("_a b.example", out, sizeof(out), why, sizeof(why)) < 0,
	   "owner with a blank rejected");
	ok(sm_names_owner(big, out, sizeof(out), why, sizeof(why)) < 0,
	   "overlong owner rejected");

	/* RFC 7929 section 3 example. */
	ok(sm_names_openpgpkey("hugh@example.com", out, sizeof(out), why,
			       sizeof(why)) == 0, "openpgpkey name");
	is_str(out, "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6"
		    "._openpgpkey.example.com", "  RFC 7929 example");
	ok(sm_names_smimea("hugh@Example.COM", out, sizeof(out), why,
			   sizeof(why)) == 0, "smimea name");
	is_str(out, "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6"
		    "._smimecert.example.com", "  same hash, domain lowercased");
	/* The local part is hashed as given: case matters. */
	ok(sm_names_smimea("Hugh@example.com", out, sizeof(out), why,
			   sizeof(why)) == 0 &&
	   strncmp(out, "c93f1e40", 8) != 0, "local part not case-folded");
	/* The last '@' separates the domain. */
	ok(sm_names_smimea("\"a@b\"@example.com", out, sizeof(out), why,
			   sizeof(why)) == 0 &&
	   strstr(out, "._smimecert.example.com") != NULL,
	   "quoted local part with '@'");
	ok(sm_names_smimea("noat.example.com", out, sizeof(out), why,
			   sizeof(why)) < 0, "address without '@' rejected");
	ok(sm_names_smimea("@example.com", out, sizeof(out), why,
			   sizeof(why)) < 0, "empty local part rejected");
	ok(sm_names_smimea("user@localhost", out, sizeof(out), why,
			   sizeof(why)) < 0, "bad domain rejected");
	memset(big, 'u', 300);
	strcpy(big + 300, "@example.com");
	ok(sm_names_smimea(big, out, sizeof(out), why, sizeof(why)) < 0,
	   "overlong local part rejected (%s)", why);
	return done_testing();
}
