/*
 * test_log - sm_log's stderr lines, and sm_log_capture_stderr: what is
 * written to fd 2 while captured comes out at debug level as
 * stderr="..." lines (escaped, long lines in pieces, a last line
 * without its newline), never at info level, and never as a line of
 * its own; sm_log's own lines still reach the real stderr.  The real
 * stderr is a temporary file here, read back after each release.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "util.h"

static char path[] = "/tmp/smilla-test-log-XXXXXX";
static int saved = -1;		/* the test's own stderr */

/* Make fd 2 a fresh empty file (the "real" stderr of the capture). */
static void
stderr_to_file(void)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0 || dup2(fd, 2) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* What the file holds, malloc'd and NUL-terminated. */
static char *
stderr_text(void)
{
	char why[256];
	size_t len;
	uint8_t *s = sm_read_file(path, 1 << 20, &len, why, sizeof(why));

	if (s == NULL) {
		printf("# %s\n", why);
		exit(1);
	}
	return (char *)s;
}

/* Does every line of TEXT start with one of our two prefixes? */
static int
all_marked(const char *text)
{
	const char *p = text, *nl;

	for (; *p != '\0'; p = nl + 1) {
		if (strncmp(p, "test: debug: stderr=\"", 21) != 0 &&
		    strncmp(p, "test: info: ", 12) != 0)
			return 0;
		if ((nl = strchr(p, '\n')) == NULL)
			return 0;
	}
	return 1;
}

static void
put(const char *s)
{
	if (write(2, s, strlen(s)) != (ssize_t)strlen(s))
		ok(0, "write to fd 2");
}

static void
test_debug(void)
{
	char why[256], big[2600], *text, *p;
	size_t n = 0;

	stderr_to_file();
	ok(sm_log_open("test", "stderr", "debug", why, sizeof(why)) == 0,
	   "log to stderr at debug");
	ok(sm_log_capture_stderr(why, sizeof(why)) == 0, "capture stderr");
	ok(sm_log_capture_stderr(why, sizeof(why)) == 0, "again: no change");
	put("a library says hello\n");
	/* A line that tries to pass for one of ours, with a terminal escape. */
	put("x\ntest: err: forged \"line\"\x1b[2J\r\n");
	fprintf(stderr, "through stdio %d\n", 42);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(big);
	put("\n");
	sm_log(SM_LOG_INFO, "our own line");
	put("no newline at the end");
	sm_log_release_stderr();
	sm_log_release_stderr();

	text = stderr_text();
	ok(strstr(text, "test: debug: stderr=\"a library says hello\"\n") !=
		   NULL,
	   "a captured line at debug, with the prefix");
	ok(strstr(text, "test: debug: stderr=\"test: err: forged "
			"\\x22line\\x22\\x1b[2J\"\n") != NULL,
	   "a forged line stays inside stderr=\"...\", escaped, CR dropped");
	ok(strstr(text, "test: debug: stderr=\"through stdio 42\"\n") != NULL,
	   "stdio's stderr is captured too");
	ok(strstr(text, "test: info: our own line\n") != NULL,
	   "sm_log's own line reaches the real stderr");
	ok(strstr(text, "test: debug: stderr=\"no newline at the end\"\n") !=
		   NULL,
	   "the last line without a newline, at release");
	for (p = text; (p = strstr(p, "stderr=\"bbbb")) != NULL; p++)
		n++;
	is_int((long)n, 3, "a 2599-octet line in three pieces");
	ok(all_marked(text), "every line marked as ours or as captured");
	if (!all_marked(text))
		printf("# %s", text);
	free(text);

	/* Released: fd 2 is the file again. */
	put("after release\n");
	text = stderr_text();
	ok(strstr(text, "\nafter release\n") != NULL,
	   "released: fd 2 is the real stderr again");
	free(text);
}

static void
test_info(void)
{
	char why[256], *text;

	stderr_to_file();
	ok(sm_log_open("test", "stderr", "info", why, sizeof(why)) == 0,
	   "log to stderr at info");
	ok(sm_log_capture_stderr(why, sizeof(why)) == 0, "capture stderr");
	put("not for info\n");
	sm_log(SM_LOG_INFO, "info line");
	sm_log_release_stderr();
	text = stderr_text();
	is_str(text, "test: info: info line\n",
	       "at info: the captured line is dropped, ours is kept");
	free(text);
}

int
main(void)
{
	int fd = mkstemp(path);

	if (fd < 0 || (saved = dup(2)) < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_debug();
	test_info();
	dup2(saved, 2);
	close(saved);
	unlink(path);
	return done_testing();
}
