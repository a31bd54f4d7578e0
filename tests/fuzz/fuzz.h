/* fuzz.h: helpers shared by the libFuzzer targets (header-only): C strings from raw input, temp files, checks. */
#ifndef OUTPOST_FUZZ_H
#define OUTPOST_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A property a target checks failed: abort, so libFuzzer records the input
 * as a crash like any sanitizer report.
 */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* The input as a malloc'd C string in an allocation of exactly size + 1 bytes
 * (ASan then catches any read past it); an embedded NUL ends it early, as it
 * would for a C caller. The caller frees. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A copy of exactly size bytes (no terminator), so over-reads are caught. */
static inline char *
fuzz_exact(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	return s;
}

static char *fuzz_dir_path;

static inline int
fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static inline void
fuzz_cleanup(void)
{
	if (fuzz_dir_path != NULL)
		nftw(fuzz_dir_path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One private temp directory per process, removed at exit. */
static inline const char *
fuzz_dir(void)
{
	if (fuzz_dir_path == NULL) {
		const char *base = getenv("TMPDIR");
		if (asprintf(&fuzz_dir_path, "%s/outpost-fuzz-XXXXXX", base ? base : "/tmp") < 0 ||
		    mkdtemp(fuzz_dir_path) == NULL)
			abort();
		atexit(fuzz_cleanup);
	}
	return fuzz_dir_path;
}

/* Replaces the file <fuzz_dir>/name with the bytes given; returns its path (static). */
static inline const char *
fuzz_file(const char *name, const void *data, size_t size)
{
	static char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	return path;
}

/* A stream reading the input (fmemopen refuses size 0 on some libcs: use /dev/null). */
static inline FILE *
fuzz_stream(const uint8_t *data, size_t size, char **copy)
{
	*copy = NULL;
	if (size == 0)
		return fopen("/dev/null", "r");
	*copy = fuzz_exact(data, size);
	return fmemopen(*copy, size, "r");
}

#endif
