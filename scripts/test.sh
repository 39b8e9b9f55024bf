#!/bin/sh
# Runs copa's whole test suite on a fresh Debian 12 machine:
#   1. installs the Debian packages it needs (scripts/install-deps.sh),
#   2. builds with -Werror and runs the unit tests and fuzz-corpus replays,
#   3. runs the end-to-end tests (pytest) against the real binary,
#   4. repeats 2-3 with an AddressSanitizer + UndefinedBehaviorSanitizer build,
# then prints one closing line "N passed, N failed" and exits non-zero on any
# failure, or when no test ran at all.
# Environment: COPA_SKIP_DEPS=1 skips step 1; COPA_SKIP_ASAN=1 skips step 4;
# PYTEST_ARGS adds pytest arguments (e.g. "-k registry").
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
results="$top/build-results"
rm -rf "$results"
mkdir -p "$results"

if [ "${COPA_SKIP_DEPS:-0}" != 1 ]; then
	./scripts/install-deps.sh || { echo "copa: dependency installation failed" >&2; exit 1; }
fi

status=0

# run_suite NAME BUILDDIR [meson options...]
run_suite() {
	name=$1 dir=$2
	shift 2
	echo "=== $name: configure and build ($dir)"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$results/$name-setup.log" 2>&1 ||
			{ cat "$results/$name-setup.log"; echo "0 0 1" >"$results/$name-counts"; status=1; return; }
	fi
	if ! ninja -C "$dir" >"$results/$name-build.log" 2>&1; then
		tail -50 "$results/$name-build.log"
		echo "0 0 1" >"$results/$name-counts"
		status=1
		return
	fi
	echo "=== $name: unit tests and fuzz corpus replay"
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
	cp "$dir/meson-logs/testlog.json" "$results/$name-meson.json" 2>/dev/null
	echo "=== $name: end-to-end tests"
	# shellcheck disable=SC2086
	COPA_BIN="$top/$dir/copa" /usr/bin/python3 -m pytest -c tests/e2e/pytest.ini tests/e2e \
		--junitxml="$results/$name-e2e.xml" ${PYTEST_ARGS:-} || status=1
}

run_suite release build
if [ "${COPA_SKIP_ASAN:-0}" != 1 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite sanitizers build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug
fi

/usr/bin/python3 - "$results" <<'PY'
import glob, json, os, sys
import xml.etree.ElementTree as ET

results = sys.argv[1]
passed = failed = skipped = 0
for path in glob.glob(os.path.join(results, "*-meson.json")):
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
for path in glob.glob(os.path.join(results, "*-e2e.xml")):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for s in suites:
        t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - sk
        failed += f + e
        skipped += sk
for path in glob.glob(os.path.join(results, "*-counts")):
    failed += int(open(path).read().split()[2])
print(f"{passed} passed, {failed} failed, {skipped} skipped")
if passed == 0:
    print("copa: no tests ran", file=sys.stderr)
    sys.exit(1)
sys.exit(1 if failed else 0)
PY
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
