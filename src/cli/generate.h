/*
 * generate.h: `copa generate`, the patch as a Docker build context. The
 * command shares its flags with `copa patch` (cmd_patch.c parses both) and
 * hands the filled options here.
 */
#ifndef COPA_CLI_GENERATE_H
#define COPA_CLI_GENERATE_H

#include "cli/cli.h"
#include "core/patch.h"

/*
 * Runs the patch into a private OCI layout, then writes the build context
 * (Dockerfile + patch/) to context_out ("-": standard output). platform
 * (may be NULL) picks the platform of a multi-platform image. Overwrites
 * o->tag. Prints errors on o->out; returns the exit code.
 */
int copa_cli_generate(struct copa_patch_opts *o, const char *context_out, const char *platform);

#endif
