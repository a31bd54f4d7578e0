/* fuzz_config.c: outpostd.conf through config_load (the file parser and every keyword's value parser), then config_dump as -T prints it. */
#include "fuzz.h"

#include "server/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct config c;
	char why[512];

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	const char *path = fuzz_file("outpostd.conf", data, size);
	config_defaults(&c);
	why[0] = '\0';
	if (config_load(&c, path, why, sizeof(why)) == 0) {
		FUZZ_CHECK(c.nlisten >= 0 && c.nlisten <= LIM_LISTEN);
		config_dump(&c, null);
	} else {
		FUZZ_CHECK(why[0] != '\0');
		FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	}
	config_free(&c);
	return 0;
}
