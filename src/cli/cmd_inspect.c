#include "cli/cli.h"

#include <stdio.h>

static int run(int argc, char **argv)
{
	fprintf(stderr, "copa inspect: not implemented yet\n");
	return 1;
}

const struct copa_cli_cmd copa_cmd_inspect = {"inspect", "(in progress)", run};
