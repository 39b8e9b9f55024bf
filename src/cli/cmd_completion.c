/*
 * copa completion: shell completion scripts for bash, zsh and fish.
 *
 * The scripts hold no option list of their own: they ask `copa --help` for
 * the commands and `copa CMD --help` for a command's options, so they stay
 * in step with the binary they complete (a test checks). Only the value
 * lists of a few options (--progress, --loader, ...) are written here.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char bash_script[] =
    "# bash completion for copa (copa completion bash)\n"
    "_copa() {\n"
    "    local cur prev cmd words\n"
    "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
    "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
    "        words=$(copa --help 2>/dev/null | awk '/^commands:/{c=1;next} c&&/^  "
    "[a-z]/{print $1}')\n"
    "        COMPREPLY=($(compgen -W \"$words help --version\" -- \"$cur\"))\n"
    "        return\n"
    "    fi\n"
    "    cmd=\"${COMP_WORDS[1]}\"\n"
    "    case \"$cmd\" in\n"
    "    help) COMPREPLY=($(compgen -W \"$(copa --help 2>/dev/null | awk "
    "'/^commands:/{c=1;next} c&&/^  [a-z]/{print $1}')\" -- \"$cur\")); return ;;\n"
    "    completion) COMPREPLY=($(compgen -W \"bash zsh fish\" -- \"$cur\")); return ;;\n"
    "    esac\n"
    "    case \"$prev\" in\n"
    "    --progress) COMPREPLY=($(compgen -W \"auto tty plain quiet json\" -- \"$cur\")); "
    "return ;;\n"
    "    -l|--loader) COMPREPLY=($(compgen -W \"docker podman none\" -- \"$cur\")); return ;;\n"
    "    --compression) COMPREPLY=($(compgen -W \"gzip zstd none\" -- \"$cur\")); return ;;\n"
    "    -s|--scanner) COMPREPLY=($(compgen -W \"trivy grype native\" -- \"$cur\")); return ;;\n"
    "    -f|--format) COMPREPLY=($(compgen -W \"openvex\" -- \"$cur\")); return ;;\n"
    "    --platform) COMPREPLY=($(compgen -W \"linux/amd64 linux/arm64 linux/arm/v7 "
    "linux/386 linux/ppc64le linux/s390x linux/riscv64\" -- \"$cur\")); return ;;\n"
    "    -r|--report|-o|--output|--summary|--output-context|--keyring|--ca-file)\n"
    "        COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
    "    --cache-dir|--oci-dir|-w|--working-folder)\n"
    "        COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"
    "    esac\n"
    "    if [[ \"$cur\" == -* ]]; then\n"
    "        words=$(copa \"$cmd\" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)\n"
    "        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
    "    else\n"
    "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
    "    fi\n"
    "}\n"
    "complete -F _copa copa\n";

static const char zsh_script[] =
    "#compdef copa\n"
    "# zsh completion for copa (copa completion zsh)\n"
    "_copa() {\n"
    "    local -a cmds opts\n"
    "    if (( CURRENT == 2 )); then\n"
    "        cmds=(${(f)\"$(copa --help 2>/dev/null | awk '/^commands:/{c=1;next} "
    "c&&/^  [a-z]/{print $1}')\"} help)\n"
    "        _describe 'command' cmds\n"
    "        return\n"
    "    fi\n"
    "    case $words[2] in\n"
    "    help) cmds=(${(f)\"$(copa --help 2>/dev/null | awk '/^commands:/{c=1;next} "
    "c&&/^  [a-z]/{print $1}')\"}); _describe 'command' cmds; return ;;\n"
    "    completion) _values 'shell' bash zsh fish; return ;;\n"
    "    esac\n"
    "    case $words[CURRENT-1] in\n"
    "    --progress) _values 'mode' auto tty plain quiet json; return ;;\n"
    "    -l|--loader) _values 'loader' docker podman none; return ;;\n"
    "    --compression) _values 'compression' gzip zstd none; return ;;\n"
    "    -s|--scanner) _values 'scanner' trivy grype native; return ;;\n"
    "    --platform) _values 'platform' linux/amd64 linux/arm64 linux/arm/v7 linux/386 "
    "linux/ppc64le linux/s390x linux/riscv64; return ;;\n"
    "    --cache-dir|--oci-dir|-w|--working-folder) _files -/; return ;;\n"
    "    esac\n"
    "    if [[ $PREFIX == -* ]]; then\n"
    "        opts=(${(f)\"$(copa $words[2] --help 2>/dev/null | grep -o -- "
    "'--[a-z][a-z-]*' | sort -u)\"})\n"
    "        compadd -a opts\n"
    "    else\n"
    "        _files\n"
    "    fi\n"
    "}\n"
    "compdef _copa copa\n";

static const char fish_script[] =
    "# fish completion for copa (copa completion fish)\n"
    "function __copa_commands\n"
    "    copa --help 2>/dev/null | awk '/^commands:/{c=1;next} c&&/^  [a-z]/{print $1}'\n"
    "end\n"
    "function __copa_options\n"
    "    set -l cmd (commandline -opc)[2]\n"
    "    copa $cmd --help 2>/dev/null | string match -ar -- '--[a-z][a-z-]*' | sort -u\n"
    "end\n"
    "complete -c copa -f\n"
    "complete -c copa -n __fish_use_subcommand -a '(__copa_commands) help'\n"
    "complete -c copa -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n"
    "complete -c copa -n 'not __fish_use_subcommand; and string match -q -- \"-*\" "
    "(commandline -ct)' -a '(__copa_options)'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -l progress -x -a 'auto tty plain "
    "quiet json'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -s l -l loader -x -a 'docker podman "
    "none'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -l compression -x -a 'gzip zstd none'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -s s -l scanner -x -a 'trivy grype "
    "native'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -l platform -x -a 'linux/amd64 "
    "linux/arm64 linux/arm/v7 linux/386 linux/ppc64le linux/s390x linux/riscv64'\n"
    "complete -c copa -n 'not __fish_use_subcommand' -s r -l report -r -F\n"
    "complete -c copa -n 'not __fish_use_subcommand' -s o -l output -r -F\n"
    "complete -c copa -n 'not __fish_use_subcommand' -l summary -r -F\n"
    "complete -c copa -n 'not __fish_use_subcommand' -l output-context -r -F\n";

static const char usage_text[] = "usage: copa completion bash|zsh|fish\n"
                                 "\n"
                                 "Print a completion script for the shell. Load it with\n"
                                 "  source <(copa completion bash)      (bash, zsh)\n"
                                 "  copa completion fish | source       (fish)\n"
                                 "or install it where the shell looks (meson install does).\n";

static int run(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc != 2)
		return copa_cli_usage_error("completion", "expected one shell: bash, zsh or fish");
	if (!strcmp(argv[1], "bash"))
		fputs(bash_script, stdout);
	else if (!strcmp(argv[1], "zsh"))
		fputs(zsh_script, stdout);
	else if (!strcmp(argv[1], "fish"))
		fputs(fish_script, stdout);
	else
		return copa_cli_usage_error("completion", "unknown shell '%s' (bash, zsh or fish)",
		                            argv[1]);
	return copa_cli_flush_stdout("completion");
}

const struct copa_cli_cmd copa_cmd_completion = {
    "completion", "print a shell completion script (bash, zsh, fish)", run};
