/*
 * tap.h - the Test Anything Protocol for the C unit tests, read by
 * prove(1).  Header-only: each test program includes it once.
 *
 *   ok(cond, fmt, ...)          one test point
 *   is_int(got, want, name)     integers, shows both on failure
 *   is_str(got, want, name)     strings (NULL-safe)
 *   done_testing()              prints the plan, returns the exit code
 */
#ifndef SM_TAP_H
#define SM_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

#define TAP_UNUSED __attribute__((unused))

__attribute__((format(printf, 2, 3))) TAP_UNUSED static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

static TAP_UNUSED int
is_int(long got, long want, const char *name)
{
	if (!ok(got == want, "%s", name))
		printf("#   got %ld, want %ld\n", got, want);
	return got == want;
}

static TAP_UNUSED int
is_str(const char *got, const char *want, const char *name)
{
	int same = (got == NULL || want == NULL) ? got == want :
						   strcmp(got, want) == 0;

	if (!ok(same, "%s", name))
		printf("#   got \"%s\"\n#  want \"%s\"\n", got ? got : "(null)",
		       want ? want : "(null)");
	return same;
}

static TAP_UNUSED int
done_testing(void)
{
	printf("1..%d\n", tap_run);
	return tap_failed ? 1 : 0;
}

#endif
