/*
 * priv.c - socket ownership and dropping root (contract: priv.h).
 *
 *   sm_priv_check(cfg, conf, why, whylen)
 *   sm_priv_chown(path, owner, why, whylen)
 *   sm_priv_drop(user, why, whylen)
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "priv.h"
#include "util.h"

int
sm_priv_check(const struct sm_config *cfg, const char *conf, char *why,
	      size_t whylen)
{
	const char *user = sm_config_str(cfg, SM_K_USER);
	struct passwd *pw = NULL;

	if (conf == NULL)
		conf = SM_CONFIG_DEFAULT_PATH;
	if (geteuid() != 0)
		return 0;
	if (*user != '\0' && (pw = getpwnam(user)) == NULL) {
		sm_why(why, whylen, "%s: user: no user \"%s\"", conf, user);
		return -2;
	}
	if (sm_config_bool(cfg, SM_K_ALLOW_ROOT) ||
	    (pw != NULL && pw->pw_uid != 0))
		return 0;
	if (pw == NULL)
		sm_why(why, whylen, "%s: started as root and \"user\" is empty:"
		       " set user = NAME (an unprivileged user) or, to run as"
		       " root, allow_root = yes", conf);
	else
		sm_why(why, whylen, "%s: started as root and user = %s has uid 0:"
		       " set user = NAME (an unprivileged user) or, to run as"
		       " root, allow_root = yes", conf, user);
	return -1;
}

int
sm_priv_chown(const char *path, const char *owner, char *why, size_t whylen)
{
	char ubuf[128], *colon;
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (*owner == '\0' || geteuid() != 0)
		return 0;
	sm_strlcpy(ubuf, owner, sizeof(ubuf));
	if ((colon = strchr(ubuf, ':')) != NULL)
		*colon++ = '\0';
	if ((pw = getpwnam(ubuf)) == NULL) {
		sm_why(why, whylen, "no user \"%s\"", ubuf);
		return -1;
	}
	gid = pw->pw_gid;
	if (colon != NULL) {
		if ((gr = getgrnam(colon)) == NULL) {
			sm_why(why, whylen, "no group \"%s\"", colon);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (chown(path, pw->pw_uid, gid) < 0) {
		sm_why(why, whylen, "chown %s: %s", path, strerror(errno));
		return -2;
	}
	return 0;
}

int
sm_priv_drop(const char *user, char *why, size_t whylen)
{
	struct passwd *pw;

	if (*user == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		sm_why(why, whylen, "no user \"%s\"", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		sm_why(why, whylen, "cannot become %s: %s", user,
		       strerror(errno));
		return -2;
	}
	/* setuid() as root sets all three uids; check it did. */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		sm_why(why, whylen, "became %s but could become root again",
		       user);
		return -2;
	}
	return 1;
}
