#!/bin/sh
# lint.sh SRCDIR: the house rules a machine can check, run by `meson test`:
# every tracked C file is formatted as .clang-format says (clang-format 14,
# Debian 12's), and every shell script passes shellcheck. Prints what is off
# and how to fix it; exits 1 then.
set -u
cd "$1" || exit 1
status=0
if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
	cfiles=$(git ls-files '*.c' '*.h')
	shfiles=$(git ls-files '*.sh' .ci/run)
else
	cfiles=$(find src tests -name '*.c' -o -name '*.h')
	shfiles=$(find scripts bench tests -name '*.sh'; echo .ci/run)
fi
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $cfiles; then
	echo "lint: C files differ from .clang-format: run 'make format'" >&2
	status=1
fi
# shellcheck disable=SC2086
if ! shellcheck $shfiles; then
	echo "lint: shellcheck found problems in the scripts above" >&2
	status=1
fi
exit $status
