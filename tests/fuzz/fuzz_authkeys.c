/* fuzz_authkeys.c: authorized_keys lines (import sshd): options, key and comment, and the label made from the comment. */
#include "fuzz.h"

#include "common/err.h"
#include "common/names.h"
#include "ssh/authkeys.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkeys_line l;
	char why[64], name[LIM_LABEL + 1], small[4];
	int r = authkeys_parse((const char *)data, size, &l, why, sizeof(why));

	FUZZ_CHECK(r == 0 || r == 1 || r == ERR_TOOLONG || r == ERR_INVAL || r == ERR_KEY);
	FUZZ_CHECK(r <= 0 || l.nopts == 0);
	if (r < 0)
		FUZZ_CHECK(why[0] != '\0' && l.nopts == 0 && l.key.blob == NULL);
	if (r == 0) {
		FUZZ_CHECK(l.key.blob != NULL && l.key.comment != NULL);
		FUZZ_CHECK(strncmp(l.key.fp, "SHA256:", 7) == 0);
		FUZZ_CHECK(l.nopts >= 0 && l.nopts <= AUTHKEYS_MAX_OPTS);
		for (int i = 0; i < l.nopts; i++) {
			FUZZ_CHECK(l.opts[i].name != NULL && l.opts[i].name[0] != '\0');
			for (const char *p = l.opts[i].name; *p; p++)
				FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
		}
		if (names_from_comment(l.key.comment, name, sizeof(name)) == 0)
			FUZZ_CHECK(names_label_valid(name, strlen(name)));
		else
			FUZZ_CHECK(name[0] == '\0');
		if (names_from_comment(l.key.comment, small, sizeof(small)) == 0)
			FUZZ_CHECK(strlen(small) < sizeof(small));
	}
	authkeys_line_clear(&l);
	authkeys_line_clear(&l);
	return 0;
}
