/*
 * resolver.h - DNS for a threaded program.  libmilter runs one thread
 * per SMTP connection, while a struct sm_dns belongs to one thread: the
 * resolver thread owns it and runs its event loop; any thread asks it
 * for a lookup and waits for that answer only.  One slow name never
 * holds up lookups of other names (libunbound has every query in
 * flight at once).
 */
#ifndef MIL_RESOLVER_H
#define MIL_RESOLVER_H
#include "dns.h"

struct mil_resolver;

/*
 * mil_resolver_new - start the thread, which takes DNS over (freed by
 * mil_resolver_free).  NULL with WHY on failure (DNS is then the
 * caller's to free).
 */
struct mil_resolver *mil_resolver_new(struct sm_dns *dns, char *why,
				      size_t whylen);
/*
 * mil_resolver_free - stop the thread and free DNS; lookups still
 * waiting get a temporary failure.  NULL allowed.
 */
void mil_resolver_free(struct mil_resolver *r);
/*
 * mil_resolve_all - look the N NAMES/TYPES up at once and wait for all
 * of them (each at most the DNS timeout): N lookups that all time out
 * cost one DNS timeout.  RES[i] is
 * the owned answer for NAMES[i], NULL only when out of memory.
 */
void mil_resolve_all(struct mil_resolver *r, const char *const *names,
		     const int *types, size_t n, struct sm_dns_result **res);

#endif
