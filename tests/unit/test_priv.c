/*
 * test_priv - the privilege steps of both daemons: who may stay root
 * (sm_priv_check) and what becoming "user" leaves (sm_priv_drop): no
 * uid, gid or group of root, and no way back to root.  Needs root (the
 * test runs as root in "make check"); skipped otherwise.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "config.h"
#include "priv.h"
#include "tap.h"

#define USER "nobody"

/* What the child saw after sm_priv_drop(USER), one check a slot. */
enum {
	C_DROPPED, C_UIDS, C_GIDS, C_GROUPS, C_NO_SETUID, C_NO_SETEUID,
	C_NO_SETGID, C_NO_SETGROUPS, C_CHECK_NOOP, C_DROP_NOOP, C_NCHECKS
};
static const char *const names[C_NCHECKS] = {
	"sm_priv_drop(" USER ") returns 1",
	"  real, effective and saved uid are " USER "'s",
	"  real, effective and saved gid are its primary group",
	"  its primary group is the only supplementary group",
	"  setuid(0) fails with EPERM: root cannot be had back",
	"  seteuid(0) fails too",
	"  setgid(0) fails",
	"  setgroups() fails",
	"  sm_priv_check no longer refuses (not root)",
	"  sm_priv_drop again: nothing to do (0)",
};

static void
skip(int n, const char *why)
{
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++tap_run, why);
}

/* sm_priv_check over the settings USER and ALLOW_ROOT ("yes"/"no"). */
static int
check(const char *user, const char *allow_root, char *why, size_t whylen)
{
	struct sm_config *cfg = sm_config_new();
	int rc = -9;

	if (cfg != NULL && sm_config_set(cfg, "user", user, why, whylen) == 0 &&
	    sm_config_set(cfg, "allow_root", allow_root, why, whylen) == 0)
		rc = sm_priv_check(cfg, "/etc/x.conf", why, whylen);
	sm_config_free(cfg);
	return rc;
}

static void
test_check(void)
{
	struct sm_config *cfg = sm_config_new();
	char why[512];
	int rc;

	rc = check("", "no", why, sizeof(why));
	is_int(rc, -1, "root, user empty, allow_root no: refused");
	ok(strstr(why, "/etc/x.conf: ") == why, "  names the file: %s", why);
	ok(strstr(why, "user = NAME") != NULL &&
		   strstr(why, "allow_root = yes") != NULL,
	   "  says what to set");
	ok(strchr(why, '\n') == NULL, "  in one line");
	rc = cfg != NULL ? sm_priv_check(cfg, NULL, why, sizeof(why)) : 0;
	ok(rc == -1 && strstr(why, SM_CONFIG_DEFAULT_PATH ": ") == why,
	   "the defaults: refused, naming the default file");
	sm_config_free(cfg);
	is_int(check("", "yes", why, sizeof(why)), 0,
	       "allow_root yes: may stay root");
	is_int(check(USER, "no", why, sizeof(why)), 0,
	       "user " USER ": may start");
	rc = check("root", "no", why, sizeof(why));
	is_int(rc, -1, "user root (uid 0): refused as staying root");
	ok(strstr(why, "user = root has uid 0") != NULL, "  says so: %s", why);
	is_int(check("root", "yes", why, sizeof(why)), 0,
	       "user root with allow_root yes: may start");
	rc = check("no-such-user-here", "yes", why, sizeof(why));
	is_int(rc, -2, "an unknown user: -2, before anything is opened");
	ok(strstr(why, "no-such-user-here") != NULL, "  names it: %s", why);
}

/* In a child, as the child must not come back: results through a pipe. */
static void
test_drop(void)
{
	char res[C_NCHECKS], why[256];
	struct passwd *pw = getpwnam(USER);
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[8], g0 = 0;
	pid_t pid;
	int p[2], st, n, i;

	if (pw == NULL || pipe(p) < 0) {
		skip(C_NCHECKS, "no user " USER);
		return;
	}
	if ((pid = fork()) == 0) {
		close(p[0]);
		memset(res, 0, sizeof(res));
		res[C_DROPPED] = sm_priv_drop(USER, why, sizeof(why)) == 1;
		res[C_UIDS] = getresuid(&ru, &eu, &su) == 0 &&
			      ru == pw->pw_uid && eu == pw->pw_uid &&
			      su == pw->pw_uid;
		res[C_GIDS] = getresgid(&rg, &eg, &sg) == 0 &&
			      rg == pw->pw_gid && eg == pw->pw_gid &&
			      sg == pw->pw_gid;
		n = getgroups(8, groups);
		res[C_GROUPS] = n == 1 && groups[0] == pw->pw_gid;
		errno = 0;
		res[C_NO_SETUID] = setuid(0) == -1 && errno == EPERM;
		res[C_NO_SETEUID] = seteuid(0) == -1;
		res[C_NO_SETGID] = setgid(0) == -1;
		res[C_NO_SETGROUPS] = setgroups(1, &g0) == -1;
		res[C_CHECK_NOOP] = check("", "no", why, sizeof(why)) == 0;
		res[C_DROP_NOOP] = sm_priv_drop(USER, why, sizeof(why)) == 0;
		_exit(write(p[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(p[1]);
	n = pid > 0 ? (int)read(p[0], res, sizeof(res)) : -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (n != (int)sizeof(res)) {
		ok(0, "the child reported");
		return;
	}
	for (i = 0; i < C_NCHECKS; i++)
		ok(res[i], "%s", names[i]);
}

int
main(void)
{
	char why[256];

	if (geteuid() != 0) {
		is_int(check("", "no", why, sizeof(why)), 0,
		       "not root: sm_priv_check never refuses");
		skip(12 + C_NCHECKS, "the rest needs root");
		return done_testing();
	}
	test_check();
	test_drop();
	return done_testing();
}
