/* spec.c: the form of a store spec (sqlite, sqlite:PATH, postgresql://URI), checked before anything is opened. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/limits.h"
#include "store/db.h"
#include "store/store.h"

#define SPEC_FORMS "use sqlite, sqlite:PATH or a postgresql:// URI"

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

enum spec_form
spec_form(const char *spec, const char **path)
{
	*path = NULL;
	if (spec == NULL || spec[0] == '\0' || strcmp(spec, "sqlite") == 0)
		return SPEC_STATE_DIR;
	if (strncmp(spec, "sqlite:", 7) == 0) {
		*path = spec + 7;
		return spec[7] != '\0' ? SPEC_SQLITE_PATH : SPEC_BAD;
	}
	if (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0)
		return SPEC_PG;
	return SPEC_BAD;
}

int
store_spec_check(const char *spec, char *why, size_t whylen)
{
	char shown[LIM_STORE_SPEC + 1];

	if (spec == NULL || spec[0] == '\0') {
		snprintf(why, whylen, "empty store: " SPEC_FORMS);
		return ERR_CONFIG;
	}
	if (strlen(spec) > LIM_STORE_SPEC) {
		snprintf(why, whylen, "store longer than %d bytes", LIM_STORE_SPEC);
		return ERR_CONFIG;
	}
	if (has_control(spec)) {
		snprintf(why, whylen, "store holds a control character");
		return ERR_CONFIG;
	}
	const char *path;
	enum spec_form form = spec_form(spec, &path);
	if (form == SPEC_STATE_DIR || form == SPEC_SQLITE_PATH)
		return 0;
	if (path != NULL) {
		snprintf(why, whylen, "sqlite: needs a path (sqlite:/var/lib/outpost/outpost.db)");
		return ERR_CONFIG;
	}
	store_spec_redact(spec, shown, sizeof(shown));
	if (form == SPEC_PG) {
		if (strchr(spec, ' ') == NULL)
			return 0;
		snprintf(why, whylen, "%.80s: a URI holds no spaces (write %%20)", shown);
		return ERR_CONFIG;
	}
	snprintf(why, whylen, "unknown store \"%.64s\": " SPEC_FORMS, shown);
	return ERR_CONFIG;
}

bool
store_spec_has_password(const char *spec)
{
	char shown[LIM_STORE_SPEC + 1];

	if (spec == NULL)
		return false;
	store_spec_redact(spec, shown, sizeof(shown));
	return strcmp(shown, spec) != 0;
}

void
store_spec_describe(const char *spec, const char *state_dir, char *out, size_t len)
{
	const char *path;
	struct stat sb;

	switch (spec_form(spec, &path)) {
	case SPEC_STATE_DIR:
		snprintf(out, len, "sqlite %s/outpost.db", state_dir != NULL ? state_dir : "?");
		break;
	case SPEC_SQLITE_PATH:
		snprintf(out, len, "sqlite %s%s", path,
		    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? "/outpost.db" : "");
		break;
	default:
		store_spec_redact(spec, out, len);
	}
}

void
store_spec_failure(const char *spec, const char *state_dir, const char *why, char *out, size_t len)
{
	char shown[LIM_STORE_SPEC + 1], desc[LIM_STORE_SPEC + 64];
	size_t n;

	store_spec_describe(spec, state_dir, desc, sizeof(desc));
	store_spec_redact(spec, shown, sizeof(shown));
	n = strlen(shown);
	/* store_open_spec's sentence may already start with the store's name */
	if (why != NULL && n > 0 && strncmp(why, shown, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	snprintf(out, len, "cannot open the store %s: %s", desc,
	    why != NULL && why[0] != '\0' ? why : "unknown error");
}
