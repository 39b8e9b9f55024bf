/*
 * cli.h: the command-line front end. Thin by design: each command parses its
 * flags into an options struct, builds an output sink, calls the core and
 * maps errors to exit codes (0 success or nothing to do, 1 error, 2 usage).
 */
#ifndef COPA_CLI_CLI_H
#define COPA_CLI_CLI_H

#include "util/err.h"
#include "util/log.h"

#include <getopt.h>
#include <stdbool.h>

struct copa_cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name; returns exit code */
};

/* The commands; each lives in its own cmd_<name>.c. */
extern const struct copa_cli_cmd copa_cmd_inspect;
extern const struct copa_cli_cmd copa_cmd_report;
extern const struct copa_cli_cmd copa_cmd_patch;
extern const struct copa_cli_cmd copa_cmd_generate;
extern const struct copa_cli_cmd copa_cmd_completion;

enum copa_cli_progress {
	COPA_CLI_PROGRESS_AUTO, /* tty when stderr is a terminal, else plain */
	COPA_CLI_PROGRESS_TTY,
	COPA_CLI_PROGRESS_PLAIN,
	COPA_CLI_PROGRESS_QUIET,
	COPA_CLI_PROGRESS_JSON,
};

/* Parses "auto|plain|tty|quiet|json"; returns -1 on anything else. */
int copa_cli_parse_progress(const char *s, enum copa_cli_progress *out);

/*
 * Creates the stderr sink for a mode. `verbose` lowers the level to debug.
 * Free with copa_cli_out_free() (which also ends any live progress display).
 */
struct copa_out *copa_cli_out_new(enum copa_cli_progress mode, bool verbose);
void copa_cli_out_free(struct copa_out *out);
/*
 * With -v (text modes), prints the table of the run's phases on stderr:
 * phase, subject, from, to, seconds (since the sink was made). Nothing
 * in json mode, where every phase already is an event, nor in quiet mode.
 */
void copa_cli_out_phases(struct copa_out *out);

/*
 * Prints an error as "copa: error: <message>" (or a JSON event in json
 * mode) and returns its exit code: 128 + the signal for a run a signal
 * canceled (130 SIGINT, 143 SIGTERM).
 */
int copa_cli_fail(struct copa_out *out, const struct copa_err *err);

/*
 * Walks argv as getopt_long(argc, argv, shortopts, longopts) will and
 * refuses, as a usage error naming the nearest real option (returns 2),
 * any long option not spelled in full (no prefix guessing), any unknown
 * option and a missing value. 0 when getopt_long may run.
 */
int copa_cli_check_opts(const char *cmd, int argc, char **argv, const char *shortopts,
                        const struct option *longopts);

struct copa_platform;
/*
 * Checks one --platform value (os/arch[/variant] with a known os and
 * architecture) into *out (may be NULL): 0, or 2 after a usage error for
 * cmd. An empty value is an error, not "all platforms".
 */
int copa_cli_platform_opt(const char *cmd, const char *arg, struct copa_platform *out);

/*
 * Flushes standard output at the end of a command: 0, or 1 after saying
 * why. A reader that went away (EPIPE: `copa report --json | head`) is not
 * an error: the output was wanted only that far.
 */
int copa_cli_flush_stdout(const char *cmd);

/* Prints "copa <cmd>: <msg>" and a hint to use --help; returns 2. */
int copa_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The getopt results every command with a usage text treats alike: -v sets
 * *verbose and returns -1 (parsing goes on); -h prints usage_text on stdout
 * and returns 0; anything else is "invalid option" (returns 2). A command
 * calls it from the default branch of its option switch and returns what
 * it gives unless -1.
 */
int copa_cli_common_opt(const char *cmd, int c, const char *usage_text, bool *verbose);

/*
 * A --timeout value in milliseconds: "300" (seconds), "90s", "5m", "1h",
 * "1500ms" or sums like "1m30s"; more than 0 and at most 7 days. -1 when
 * invalid. Shared by every command so the flag means the same everywhere.
 */
long long copa_cli_parse_duration_ms(const char *s);

/* --timeout as whole seconds (rounded up) into *seconds: 0, or 2 after a usage error for cmd. */
int copa_cli_timeout_opt(const char *cmd, const char *arg, long *seconds);

/*
 * Installs SIGINT/SIGTERM handlers that cancel the run (util/runctl.h); a
 * second signal of the same kind ends the process at once.
 */
void copa_cli_signals(void);
bool copa_cli_interrupted(void);

#endif
