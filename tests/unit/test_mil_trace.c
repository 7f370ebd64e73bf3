/*
 * test_mil_trace - the split copies' trace header (trace.c): the body
 * digest as SMTP carries a body, the key file, and a header that holds
 * only for its recipients, its body, its key and its time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "tap.h"
#include "trace.h"

static char dir[] = "/tmp/sm-trace-XXXXXX";

/* The digest of the chunks of CHUNKS (NULL-ended) into OUT. */
static void
digest(const char *const *chunks, uint8_t out[32])
{
	struct mil_body_hash *h = mil_body_hash_new();

	for (; *chunks; chunks++)
		mil_body_hash_add(h, *chunks, strlen(*chunks));
	mil_body_hash_end(h, out);
}

static void
test_body_hash(void)
{
	static const char *const crlf[] = { "one\r\ntwo\r\n", NULL };
	static const char *const lf[] = { "one\ntwo\n", NULL };
	static const char *const open[] = { "one\r\ntwo", NULL };
	static const char *const split[] = { "one\r", "\ntw", "o\r", "\n", NULL };
	static const char *const other[] = { "one\r\ntwo\r\n\r\n", NULL };
	static const char *const empty[] = { NULL };
	uint8_t a[32], b[32];

	digest(crlf, a);
	digest(lf, b);
	ok(memcmp(a, b, 32) == 0, "bare LF lines hash as CRLF lines");
	digest(open, b);
	ok(memcmp(a, b, 32) == 0, "a last line without its CRLF gets one");
	digest(split, b);
	ok(memcmp(a, b, 32) == 0, "chunks split inside a CRLF: the same");
	digest(other, b);
	ok(memcmp(a, b, 32) != 0, "one more empty line: another digest");
	digest(empty, b);
	ok(memcmp(a, b, 32) != 0, "the empty body: another digest");
}

static void
test_key(uint8_t key[MIL_TRACE_KEY])
{
	uint8_t again[MIL_TRACE_KEY];
	char path[sizeof(dir) + 16], bad[sizeof(dir) + 16], why[256];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/split.key", dir);
	is_int(mil_trace_key(path, key, why, sizeof(why)), 0,
	       "no key file: one is made");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 &&
		   st.st_size == MIL_TRACE_KEY,
	   "  mode 0600, %d octets", MIL_TRACE_KEY);
	is_int(mil_trace_key(path, again, why, sizeof(why)), 0,
	       "  read back");
	ok(memcmp(key, again, MIL_TRACE_KEY) == 0, "  the same key");
	snprintf(bad, sizeof(bad), "%s/short.key", dir);
	if ((f = fopen(bad, "w")) != NULL) {
		fputs("too short", f);
		fclose(f);
	}
	is_int(mil_trace_key(bad, again, why, sizeof(why)), -1,
	       "a file of another size is refused");
	ok(strstr(why, "short.key") != NULL, "  naming it (%s)", why);
	snprintf(bad, sizeof(bad), "%s/no/such.key", dir);
	ok(mil_trace_key(bad, again, why, sizeof(why)) == -1,
	   "an uncreatable one too (%s)", why);
}

static void
test_holds(const uint8_t key[MIL_TRACE_KEY])
{
	static const char *const body[] = { "encrypted\r\n", NULL };
	static const char *const body2[] = { "plaintext\r\n", NULL };
	const char *rcpts[] = { "bob@example.org", "Carol@Example.NET" };
	const char *reordered[] = { "Carol@example.net", "bob@EXAMPLE.org" };
	const char *fewer[] = { "bob@example.org" };
	const char *local_case[] = { "Bob@example.org", "Carol@Example.NET" };
	uint8_t d[32], d2[32], other[MIL_TRACE_KEY];
	char v[MIL_TRACE_SIZE], w[MIL_TRACE_SIZE + 8];
	time_t now = time(NULL);

	digest(body, d);
	digest(body2, d2);
	mil_trace_make(key, now, rcpts, 2, d, v);
	ok(strncmp(v, "v=1; t=", 7) == 0 && strstr(v, "; mac=") != NULL,
	   "the header value: %s", v);
	is_int(mil_trace_holds(key, now, v, rcpts, 2, d), 1, "it holds");
	snprintf(w, sizeof(w), " %s", v);
	is_int(mil_trace_holds(key, now + 60, w, rcpts, 2, d), 1,
	       "  a minute later, after a leading space");
	is_int(mil_trace_holds(key, now, v, reordered, 2, d), 1,
	       "  recipients in another order, domains in another case");
	is_int(mil_trace_holds(key, now, v, local_case, 2, d), 0,
	       "  not for a local part in another case");
	is_int(mil_trace_holds(key, now, v, fewer, 1, d), 0,
	       "  not for fewer recipients");
	is_int(mil_trace_holds(key, now, v, rcpts, 2, d2), 0,
	       "  not for another body");
	memset(other, 7, sizeof(other));
	is_int(mil_trace_holds(other, now, v, rcpts, 2, d), 0,
	       "  not under another key");
	is_int(mil_trace_holds(key, now + MIL_TRACE_MAX_AGE + 1, v, rcpts, 2, d),
	       0, "  not after MIL_TRACE_MAX_AGE");
	is_int(mil_trace_holds(key, now - 10, v, rcpts, 2, d), 0,
	       "  not when made in the future");
	strcpy(w, v);
	w[strlen(w) - 1] = w[strlen(w) - 1] == '0' ? '1' : '0';
	is_int(mil_trace_holds(key, now, w, rcpts, 2, d), 0,
	       "  not with one digit of the MAC changed");
	snprintf(w, sizeof(w), "%s; x=1", v);
	is_int(mil_trace_holds(key, now, w, rcpts, 2, d), 0,
	       "  not with something after the MAC");
	is_int(mil_trace_holds(key, now, "v=1; t=0; mac=0", rcpts, 2, d), 0,
	       "garbage: no");
	is_int(mil_trace_holds(key, now, "", rcpts, 2, d), 0, "empty: no");
}

int
main(void)
{
	uint8_t key[MIL_TRACE_KEY];
	char cmd[sizeof(dir) + 16];

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_body_hash();
	test_key(key);
	test_holds(key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
