/* privs.c: dropping root for an unprivileged user before any peer is served. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/privs.h"

/* Files outpostd and the CLI keep in the state directory. */
static const char *const state_files[] = {
	"", "outpost.db", "outpost.db-wal", "outpost.db-shm", "audit.log",
	"ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_key.pub",
};

static void
hand_over(const char *dir, uid_t uid, gid_t gid)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(state_files) / sizeof(state_files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s%s", dir, state_files[i][0] ? "/" : "", state_files[i]);
		if (lchown(path, uid, gid) != 0 && errno != ENOENT)
			fatal("cannot hand %s to uid %u: %s", path, (unsigned)uid, strerror(errno));
	}
}

void
privs_drop(const char *user, bool allow_root, const char *state_dir)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if (allow_root) {
		log_warn("running as root (AllowRoot yes): a hole in outpostd would be a root hole");
		return;
	}
	pw = (user != NULL && *user != '\0') ? getpwnam(user) : NULL;
	if (pw == NULL || pw->pw_uid == 0)
		fatal("refusing to run as root: create the user '%s' (useradd --system --home-dir %s "
		    "--shell /usr/sbin/nologin %s), set User to another one, or set AllowRoot yes",
		    user ? user : "outpost", state_dir, user ? user : "outpost");
	hand_over(state_dir, pw->pw_uid, pw->pw_gid);
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		fatal("cannot switch to user %s: %s", user, strerror(errno));
	if (setuid(0) == 0)
		fatal("could switch back to root after dropping privileges");
	log_info("running as user %s (uid %u)", user, (unsigned)pw->pw_uid);
}
