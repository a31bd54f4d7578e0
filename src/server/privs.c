/* privs.c: dropping root for an unprivileged user before any peer is served. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

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

int
privs_check_modes(const char *state_dir, const char *host_key, char *why, size_t whylen)
{
	char def[PATH_MAX];
	struct stat sb;

	why[0] = '\0';
	if (stat(state_dir, &sb) != 0) {
		snprintf(why, whylen, "cannot examine state directory %s: %s", state_dir, strerror(errno));
		return ERR_IO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(why, whylen, "state directory %s is not a directory", state_dir);
		return ERR_DENIED;
	}
	if (sb.st_mode & 077) {
		snprintf(why, whylen, "state directory %s is open to group or others (mode %04o): it holds "
		    "the host key, the database and the audit log; fix with: chmod 700 %s",
		    state_dir, (unsigned)(sb.st_mode & 07777), state_dir);
		return ERR_DENIED;
	}
	if (host_key == NULL) {
		snprintf(def, sizeof(def), "%s/ssh_host_ed25519_key", state_dir);
		host_key = def;
	}
	if (stat(host_key, &sb) != 0)
		return errno == ENOENT ? 0 : (snprintf(why, whylen, "cannot examine host key %s: %s",
		    host_key, strerror(errno)), ERR_IO);
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, whylen, "host key %s is not a regular file", host_key);
		return ERR_DENIED;
	}
	if (sb.st_mode & 077) {
		snprintf(why, whylen, "host key %s is readable or writable by group or others (mode %04o); "
		    "fix with: chmod 600 %s", host_key, (unsigned)(sb.st_mode & 07777), host_key);
		return ERR_DENIED;
	}
	return 0;
}
