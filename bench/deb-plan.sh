#!/bin/sh
# deb-plan.sh [BUILD_DIR]: how long copa's Debian planner takes to answer "what
# would apt upgrade install?" for a real bookworm point-release root file
# system against the real archive (bookworm, -updates, -security; signatures
# verified), compared with what a user would otherwise run: apt-get update +
# apt-get -s upgrade inside a chroot of the same tree. Cold = empty caches
# (copa's cache directory; apt's lists), warm = second run. Prints wall time,
# peak RSS and the ratios, and checks that both chose the same packages.
# Needs root (chroot) and deb.debian.org.
set -eu
build=${1:-build}
plan="$build/tests/helpers/copa-debplan"
live=${COPA_LIVE_CACHE:-/tmp/copa-live}
tar="$live/bookworm-amd64.tar"
[ -x "$plan" ] || { echo "bench: $plan is not built" >&2; exit 1; }
mkdir -p "$live"
if [ ! -f "$tar" ]; then
	"$(dirname "$0")/../scripts/mkdebian.sh" "$tar.tmp" bookworm amd64
	mv "$tar.tmp" "$tar"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/copa-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
tar --numeric-owner -xf "$tar" -C "$work/root"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"

# measure NAME CMD...: runs CMD under GNU time and prints seconds and peak RSS.
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
		{ cat "$work/$name.err" >&2; exit 1; }
	awk -v n="$name" '{ printf "%-10s %8.2f s %8.1f MiB\n", n, $1, $2 / 1024 }' "$work/$name.time"
}

apt_cmd='apt-get -qq update && apt-get -s -o APT::Get::Show-Versions=true upgrade --with-new-pkgs'
echo "bookworm point release against the live archive, $(nproc) CPUs"
measure copa-cold "$plan" --rootfs-tar "$tar" --cache-dir "$work/cache" --json
measure copa-warm "$plan" --rootfs-tar "$tar" --cache-dir "$work/cache" --json
rm -rf "$work/root/var/lib/apt/lists/"*
measure apt-cold chroot "$work/root" sh -c "$apt_cmd"
measure apt-warm chroot "$work/root" sh -c "$apt_cmd"
awk '{ t[FILENAME] = $1; m[FILENAME] = $2 }
     END {
	for (f in t) { split(f, p, "/"); n = p[length(p)]; sub(/\.time$/, "", n); T[n] = t[f]; M[n] = m[f] }
	printf "time   copa/apt: cold %.2f, warm %.2f\n", T["copa-cold"] / T["apt-cold"], T["copa-warm"] / T["apt-warm"]
	printf "memory copa/apt: cold %.2f, warm %.2f\n", M["copa-cold"] / M["apt-cold"], M["copa-warm"] / M["apt-warm"]
     }' "$work"/*.time
# Same answer, or the figures mean nothing.
grep '^Inst ' "$work/apt-warm.out" | sed -E 's/^Inst ([^ :]+)(:[^ ]*)? (\[[^]]*\] )?\(([^ ]+) .*/\1 \4/' | sort >"$work/apt.set"
/usr/bin/python3 -c 'import json,sys; [print(p["name"], p["version"]) for p in json.load(open(sys.argv[1]))["packages"]]' \
	"$work/copa-warm.out" | sort >"$work/copa.set"
if cmp -s "$work/apt.set" "$work/copa.set"; then
	echo "same $(wc -l <"$work/copa.set") packages chosen by both"
else
	echo "bench: copa and apt chose different packages:" >&2
	diff "$work/apt.set" "$work/copa.set" >&2 || true
	exit 1
fi
