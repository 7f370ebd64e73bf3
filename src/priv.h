/*
 * priv.h - what a daemon does between binding its sockets as root and
 * serving as an unprivileged user: refuse to stay root unless told to,
 * hand unix sockets to their owner, then become the configured user.
 * Shared by smilla-policyd and the milter.  sm_priv_chown and
 * sm_priv_drop are no-ops when not running as root.
 */
#ifndef SM_PRIV_H
#define SM_PRIV_H
#include <stddef.h>

/*
 * sm_priv_check - whether a daemon with the settings CFG, read from
 * the file CONF (NULL: the default file), may start: it may unless it
 * is root (effective uid 0) and would stay root, "user" being empty or
 * a user of uid 0, without "allow_root".  Called before anything is
 * opened, so that a refused daemon leaves nothing behind.  Returns 0;
 * -1 when it would stay root, WHY naming CONF and what to set there;
 * -2 for an unknown "user" (checked as root only), the reason in WHY.
 */
struct sm_config;
int sm_priv_check(const struct sm_config *cfg, const char *conf, char *why,
		  size_t whylen);

/*
 * sm_priv_chown - give PATH to OWNER ("user" or "user:group"; the
 * user's group when none is given).  Returns 0 (also when OWNER is
 * empty or we are not root), -1 for an unknown user or group, -2 when
 * chown failed; the reason is in WHY.
 */
int sm_priv_chown(const char *path, const char *owner, char *why,
		  size_t whylen);

/*
 * sm_priv_drop - become USER (its uid, its primary group, no other
 * groups: real, effective and saved IDs all), and make sure root
 * cannot be had back (setuid(0) must fail).  Returns 1 when done, 0
 * when there was nothing to do (USER empty, or not root), -1 for an
 * unknown user, -2 when the switch failed or did not stick; the reason
 * is in WHY.
 */
int sm_priv_drop(const char *user, char *why, size_t whylen);
#endif
