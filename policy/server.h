/*
 * server.h - the policy daemon's event loop: connections, the request
 * cycle, shared lookups, the in-memory and sqlite caches, and the
 * reputation log.
 */
#ifndef POL_SERVER_H
#define POL_SERVER_H

#include <stddef.h>

struct sm_config;
struct pol_server;

/*
 * pol_server_new - resolver, cache, reputation store and decision
 * settings from CFG (borrowed only during the call).  NULL with WHY.
 */
struct pol_server *pol_server_new(const struct sm_config *cfg, char *why,
				  size_t whylen);

/*
 * pol_server_configure - replace the decision settings (SIGHUP), and
 * size max_connections and max_inflight again from CFG and the
 * descriptor limit of the moment (logged; values that cannot fit are
 * lowered with a warning).  0, or -1 with WHY (the old settings stay).
 */
int pol_server_configure(struct pol_server *srv, const struct sm_config *cfg,
			 char *why, size_t whylen);

/*
 * pol_server_listen - accept connections on listening socket FD.  0, or
 * -1 with WHY (out of memory, or epoll refused the descriptor).
 */
int pol_server_listen(struct pol_server *srv, int fd, char *why,
		      size_t whylen);

/*
 * pol_server_adopt - serve one connection reading IN, writing OUT.  0,
 * or -1 with WHY (out of memory).
 */
int pol_server_adopt(struct pol_server *srv, int in, int out, char *why,
		     size_t whylen);

/* pol_server_run_once - one round of the loop (waits at most 1 s). */
void pol_server_run_once(struct pol_server *srv);

/* pol_server_connections - client connections open. */
size_t pol_server_connections(const struct pol_server *srv);

/*
 * pol_server_free - write the reputation log and free everything (NULL
 * allowed).
 */
void pol_server_free(struct pol_server *srv);

#endif
