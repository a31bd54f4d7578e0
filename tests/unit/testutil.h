/* testutil.h: temp directories, generated keys and file helpers shared by the unit tests (header-only). */
#ifndef OUTPOST_TESTUTIL_H
#define OUTPOST_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes a fresh directory under $TMPDIR; returns a malloc'd path or NULL. */
static inline char *
tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;

	if (asprintf(&p, "%s/outpost-unit-XXXXXX", base ? base : "/tmp") < 0)
		return NULL;
	if (mkdtemp(p) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static inline int
tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* rm -rf path; frees nothing. */
static inline void
tu_rmrf(const char *path)
{
	if (path != NULL)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole small file into a malloc'd string (NULL on error). */
static inline char *
tu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	if (buf != NULL)
		len = fread(buf, 1, 65535, f);
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/*
 * Generates a key with ssh-keygen into dir/name(.pub); returns 0 on success.
 * type: "ed25519", "rsa", "ecdsa".
 */
static inline int
tu_keygen(const char *dir, const char *name, const char *type)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t %s %s -N '' -C 'test %s' -f '%s/%s' </dev/null >/dev/null 2>&1",
	    type, strcmp(type, "rsa") == 0 ? "-b 2048" : "", name, dir, name);
	return system(cmd) == 0 ? 0 : -1;
}

/* ssh-keygen -l's SHA256 fingerprint of dir/name.pub into fp (fplen bytes). */
static inline int
tu_fingerprint(const char *dir, const char *name, char *fp, size_t fplen)
{
	char cmd[1024];
	FILE *p;
	int r = -1;

	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f '%s/%s.pub'", dir, name);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	char line[512];
	if (fgets(line, sizeof(line), p) != NULL) {
		char *s = strchr(line, ' ');
		char *e = s ? strchr(s + 1, ' ') : NULL;
		if (s != NULL && e != NULL && (size_t)(e - s - 1) < fplen) {
			memcpy(fp, s + 1, (size_t)(e - s - 1));
			fp[e - s - 1] = '\0';
			r = 0;
		}
	}
	pclose(p);
	return r;
}

#endif
