#!/bin/bash
# fuzz.sh [SECONDS] [JOBS] [TARGET...]: builds the libFuzzer targets (clang,
# ASan+UBSan, build-fuzz/) and runs each for SECONDS (default 600) of wall
# time, JOBS at a time (default 2). Each target starts from a copy of its seed
# corpus (the repository's corpus is not written to; trivy and grype also get
# the real reports of the shared test data). Prints one line per
# target with its exec count, and the crash files of any finding; exits
# non-zero when a target found something.
set -u
cd "$(dirname "$0")/.." || exit 1
secs=${1:-600}
jobs=${2:-2}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
if [ $# -eq 0 ]; then
	# Every target of tests/fuzz/meson.build: the names in its *fuzz_targets lists.
	mapfile -t all < <(sed -n "/^[a-z_]*fuzz_targets = \[/,/^\]/s/^ *'\([a-z_0-9]*\)',.*/\1/p" \
		tests/fuzz/meson.build)
	set -- "${all[@]}"
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || { echo "fuzz.sh: build failed (ninja -C build-fuzz)" >&2; exit 1; }

shared=${COPA_SHARED_TESTDATA:-../shared/testdata}
work=$(mktemp -d "${TMPDIR:-/tmp}/copa-fuzz.XXXXXX") || exit 1
echo "fuzz.sh: $# targets, $secs s each, $jobs at a time; work files in $work"

run_one() {
	t=$1
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	cp -r "tests/fuzz/corpus/$t/." "$work/$t/corpus/" 2>/dev/null
	# Real scanner reports seed trivy and grype from the shared test data (as the replay does).
	[ -d "$shared/reports/$t" ] && cp "$shared/reports/$t/"* "$work/$t/corpus/"
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		nice -n 19 "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=4096 \
		-timeout=30 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" \
		>"$work/$t/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
	[ -n "$execs" ] || execs=$(grep -o '#[0-9]*' "$work/$t/log" | tail -1 | tr -d '#')
	if [ $rc -eq 0 ]; then
		echo "$t: ${execs:-?} execs in $secs s, no finding"
	else
		echo "$t: FINDING after ${execs:-?} execs (exit $rc): $(find "$work/$t/artifacts" -type f -printf '%p ')"
		echo "  log: $work/$t/log"
		touch "$work/failed"
	fi
}

running=0
for t in "$@"; do
	[ -x "build-fuzz/tests/fuzz/fuzz_$t" ] || { echo "$t: no such fuzz target" >&2; touch "$work/failed"; continue; }
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
[ ! -e "$work/failed" ]
