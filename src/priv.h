/*
 * priv.h - what a daemon does between binding its sockets as root and
 * serving as an unprivileged user: hand unix sockets to their owner,
 * then become the configured user.  Shared by smilla-policyd and the
 * milter.  Both are no-ops when not running as root.
 */
#ifndef SM_PRIV_H
#define SM_PRIV_H
#include <stddef.h>

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
 * groups).  Returns 1 when done, 0 when there was nothing to do (USER
 * empty, or not root), -1 for an unknown user, -2 when the switch
 * failed; the reason is in WHY.
 */
int sm_priv_drop(const char *user, char *why, size_t whylen);
#endif
