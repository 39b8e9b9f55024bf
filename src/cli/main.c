/* copa: entry point and subcommand dispatch. */
#include "cli/cli.h"
#include "copa-config.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct copa_cli_cmd *const commands[] = {
    &copa_cmd_patch, &copa_cmd_generate, &copa_cmd_report, &copa_cmd_inspect, &copa_cmd_completion,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: copa <command> [options]\n\n"
	           "Patch the OS packages of a container image without a daemon.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nRun 'copa <command> --help' or 'copa help <command>' for a command's "
	           "options;\n'copa --version' (-V) prints the version.\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Buffers of 1 MiB and more (decompressor dictionaries, above all)
	 * go straight to mmap and back to the system when freed. glibc would
	 * otherwise raise the threshold after the first such free and keep
	 * them in every worker thread's arena: 30 MiB more peak memory when
	 * the fetch workers decompress packages (bench/patch.py).
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/*
	 * The original's --debug is a flag of the root command ("copa --debug
	 * patch ..."): hand it to the command, where it means -v.
	 */
	if (!strcmp(argv[1], "--debug") && argc > 2) {
		argv[1] = argv[2];
		argv[2] = (char *)"--debug";
	}
	/* "copa help patch" is "copa patch --help", as cobra's help command does. */
	if (!strcmp(argv[1], "help") && argc > 2) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i]->name)) {
				char *args[] = {argv[2], (char *)"--help", NULL};

				return commands[i]->run(2, args);
			}
		fprintf(stderr, "copa: unknown command '%s'\n\n", argv[2]);
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		printf("copa %s\n", COPA_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i]->name))
			return commands[i]->run(argc - 1, argv + 1);
	fprintf(stderr, "copa: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
