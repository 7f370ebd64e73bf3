/*
 * test_pol_request - the policy request parser: the protocol's edge
 * cases, its bounds, and a few hundred thousand random and mutated
 * inputs (a deterministic fuzz run, under the sanitizers in make check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "tap.h"

static const char good[] =
	"request=smtpd_access_policy\nprotocol_state=RCPT\n"
	"helo_name=mx.example.test\nccert_pubkey_fingerprint=AB:CD\n"
	"empty=\nx==y\n\n";

static unsigned long rng = 42;

static unsigned
next(void)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33);
}

int
main(void)
{
	struct pol_request req;
	char buf[POL_LINE_MAX * 3], why[128];
	size_t used, i, len;
	int rc, bad = 0;

	strcpy(buf, good);
	rc = pol_request_parse(buf, strlen(good), &req, &used, why, sizeof(why));
	is_int(rc, 1, "complete request parsed");
	is_int((long)used, (long)strlen(good), "  consumed up to the empty line");
	is_int((long)req.n, 6, "  six attributes");
	is_str(pol_request_get(&req, "helo_name"), "mx.example.test", "  value");
	is_str(pol_request_get(&req, "empty"), "", "  empty value");
	is_str(pol_request_get(&req, "x"), "=y", "  '=' inside a value");
	is_str(pol_request_get(&req, "absent"), "", "  absent attribute is \"\"");

	/* The attributes the daemon reads are indexed; the first wins. */
	{
		static const char *const names[POL_A_N] = {
			"helo_name", "client_name", "client_address",
			"instance", "protocol_state", "ccert_fingerprint",
			"ccert_pubkey_fingerprint", "ccert_subject",
			"encryption_protocol", "encryption_cipher"
		};
		int k;

		len = 0;
		/* Unknown names of the same lengths come first. */
		for (k = 0; k < POL_A_N; k++)
			len += (size_t)sprintf(buf + len, "%.*sX=no\n",
					       (int)strlen(names[k]) - 1,
					       names[k]);
		for (k = 0; k < POL_A_N; k++)
			len += (size_t)sprintf(buf + len, "%s=v%d\n", names[k], k);
		for (k = 0; k < POL_A_N; k++)
			len += (size_t)sprintf(buf + len, "%s=later\n", names[k]);
		buf[len++] = '\n';
		rc = pol_request_parse(buf, len, &req, &used, why, sizeof(why));
		for (k = 0, bad = 0; k < POL_A_N; k++) {
			char want[8];

			snprintf(want, sizeof(want), "v%d", k);
			if (rc != 1 || strcmp(pol_request_value(&req, k), want) != 0 ||
			    strcmp(pol_request_get(&req, names[k]), want) != 0)
				bad++;
		}
		is_int(bad, 0, "every known attribute indexed, first value wins");
		strcpy(buf, "helo_name=x\n\n");
		rc = pol_request_parse(buf, strlen(buf), &req, &used, why,
				       sizeof(why));
		ok(rc == 1 && strcmp(pol_request_value(&req, POL_A_HELO_NAME), "x") == 0 &&
		   strcmp(pol_request_value(&req, POL_A_INSTANCE), "") == 0,
		   "absent known attribute is \"\"");
		bad = 0;
	}

	/* Incomplete input is left untouched for the next read. */
	for (len = 0; len < strlen(good); len++) {
		memcpy(buf, good, sizeof(good));
		rc = pol_request_parse(buf, len, &req, &used, why, sizeof(why));
		if (rc != 0 || memcmp(buf, good, sizeof(good)) != 0)
			bad++;
	}
	is_int(bad, 0, "every prefix: need more, buffer unchanged");

	/* Two requests back to back: one at a time. */
	snprintf(buf, sizeof(buf), "a=1\n\nb=2\n\n");
	ok(pol_request_parse(buf, 10, &req, &used, why, sizeof(why)) == 1 &&
	   used == 5 && strcmp(pol_request_get(&req, "a"), "1") == 0,
	   "first of two requests");
	ok(pol_request_parse(buf + used, 5, &req, &used, why, sizeof(why)) == 1 &&
	   strcmp(pol_request_get(&req, "b"), "2") == 0, "second of two");

	/* Bounds and malformed input. */
	memset(buf, 'a', POL_LINE_MAX + 10);
	buf[0] = 'x';
	buf[1] = '=';
	ok(pol_request_parse(buf, POL_LINE_MAX + 10, &req, &used, why,
			     sizeof(why)) < 0 && strstr(why, "longer") != NULL,
	   "overlong line without newline rejected: %s", why);
	len = 0;
	for (i = 0; i <= POL_ATTR_MAX; i++)
		len += (size_t)sprintf(buf + len, "k%zu=v\n", i);
	ok(pol_request_parse(buf, len, &req, &used, why, sizeof(why)) < 0 &&
	   strstr(why, "attributes") != NULL, "too many attributes: %s", why);
	ok(pol_request_parse((char[]){ "\n" }, 1, &req, &used, why,
			     sizeof(why)) < 0, "empty request rejected");
	ok(pol_request_parse((char[]){ "=v\n\n" }, 4, &req, &used, why,
			     sizeof(why)) < 0, "empty name rejected");
	ok(pol_request_parse((char[]){ "a=\0b\n\n" }, 6, &req, &used, why,
			     sizeof(why)) < 0 && strstr(why, "NUL") != NULL,
	   "NUL byte rejected");
	ok(pol_request_parse((char[]){ "a=1\r\n\r\n" }, 7, &req, &used, why,
			     sizeof(why)) == 1 &&
	   strcmp(pol_request_get(&req, "a"), "1") == 0, "CRLF accepted");

	/* Random bytes and mutations of a good request: never a crash,
	   and a success always consumes a sane amount. */
	bad = 0;
	for (i = 0; i < 200000; i++) {
		size_t k;

		if (i % 2) {
			len = next() % 300;
			for (k = 0; k < len; k++)
				buf[k] = "a=\n\r\0xyz:+"[next() % 11];
		} else {
			len = sizeof(good) - 1;
			memcpy(buf, good, len);
			for (k = next() % 4; k > 0; k--)
				buf[next() % len] = (char)(next() & 0xff);
			len -= next() % 8;
		}
		rc = pol_request_parse(buf, len, &req, &used, why, sizeof(why));
		if (rc == 1 && (used > len || req.n == 0 || req.n > POL_ATTR_MAX))
			bad++;
		if (rc < -1 || rc > 1)
			bad++;
	}
	is_int(bad, 0, "200000 random and mutated inputs: invariants hold");
	return done_testing();
}
