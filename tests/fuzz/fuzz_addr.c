/*
 * fuzz_addr - libFuzzer target for the RCPT path parser (src/addr.c):
 * the input is one RCPT TO argument (up to the first NUL).  What must
 * hold: a refusal holds nothing and says why; an address that parses
 * is canonical, that is it parses again, bracketed, into itself with
 * the same local part; its domain sits at domain_at; it holds no
 * control character; and it is within SM_ADDR_MAX twice over (quoting
 * at most doubles a local part).  The same input as a From field
 * (sm_addr_from): a count below zero holds nothing and says why; one
 * of at least one holds the first mailbox, parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul ? (size_t)(nul - data) : size, i;
	char *arg = malloc(len + 1), *again, why[256];
	struct sm_addr a, b;
	enum sm_addr_status st;
	int n;

	if (arg == NULL)
		abort();
	memcpy(arg, data, len);
	arg[len] = '\0';
	why[0] = '\0';
	n = sm_addr_from(arg, &a, why, sizeof(why));
	if ((n < 0 && (a.addr != NULL || why[0] == '\0')) ||
	    (n > 0 && a.addr == NULL) || (n == 0 && a.addr != NULL))
		abort();
	sm_addr_clear(&a);
	why[0] = '\0';
	st = sm_addr_parse(arg, &a, why, sizeof(why));
	if (st != SM_ADDR_OK) {
		if (a.addr != NULL || a.local != NULL || why[0] == '\0')
			abort();
		free(arg);
		return 0;
	}
	if (a.addr == NULL || a.local == NULL || a.domain_at > strlen(a.addr) ||
	    strlen(a.addr) > 2 * SM_ADDR_MAX + 2)
		abort();
	for (i = 0; a.addr[i] != '\0'; i++)
		if ((unsigned char)a.addr[i] < 32 || a.addr[i] == 127)
			abort();
	if (!a.postmaster && a.addr[a.domain_at - 1] != '@')
		abort();
	if ((again = malloc(strlen(a.addr) + 3)) == NULL)
		abort();
	strcpy(again, "<");
	strcat(again, a.addr);
	strcat(again, ">");
	/* Canonical: only a quoted form may grow past the bound. */
	st = sm_addr_parse(again, &b, why, sizeof(why));
	if (st == SM_ADDR_OK) {
		/* "<Postmaster>" keeps its local part as written. */
		if (strcmp(a.addr, b.addr) != 0 || a.domain_at != b.domain_at ||
		    (!a.postmaster && strcmp(a.local, b.local) != 0))
			abort();
		sm_addr_clear(&b);
	} else if (st != SM_ADDR_TOO_LONG || strlen(a.addr) <= SM_ADDR_MAX) {
		abort();
	}
	sm_addr_fold(a.addr);
	if (sm_addr_has_upper(a.addr))
		abort();
	free(again);
	sm_addr_clear(&a);
	free(arg);
	return 0;
}
