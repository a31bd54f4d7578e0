/* fuzz_cmdline.c: cmd_split, which splits every exec request's command line (any authenticated peer sends one). */
#include "fuzz.h"

#include "cli/cmd.h"
#include "common/err.h"
#include "common/limits.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_exact(data, size);
	char **argv = NULL;
	int argc = -1;
	const char *why = NULL;

	int r = cmd_split(line, size, &argv, &argc, &why);
	if (r == 0) {
		FUZZ_CHECK(argv != NULL);
		FUZZ_CHECK(argc >= 0 && argc <= LIM_EXEC_ARGS);
		FUZZ_CHECK(argv[argc] == NULL);
		FUZZ_CHECK(size <= LIM_EXEC_CMD);
		for (int i = 0; i < argc; i++) {
			size_t n = strlen(argv[i]);
			FUZZ_CHECK(n <= size);
			for (size_t j = 0; j < n; j++)
				FUZZ_CHECK((unsigned char)argv[i][j] >= 0x20 || argv[i][j] == '\t');
		}
		(void)cmd_wants_stdin(argc, argv);
	} else {
		FUZZ_CHECK(r == ERR_INVAL || r == ERR_TOOLONG);
		FUZZ_CHECK(argv == NULL);
	}
	cmd_argv_free(argv);
	free(line);
	return 0;
}
