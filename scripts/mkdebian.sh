#!/bin/sh
# mkdebian.sh OUT.tar [SUITE] [ARCHS] [EXTRA]: builds a real Debian root file system from
# deb.debian.org with mmdebstrap, from the point release only ("SUITE main",
# no -updates or -security packages), and writes inside it the standard
# sources for SUITE, SUITE-updates and SUITE-security, as the official images
# have them. The result is what a user's image looks like before patching.
# ARCHS is mmdebstrap's list (the first is native: "amd64,i386" is an image
# after `dpkg --add-architecture i386`); EXTRA, comma-separated packages to
# install beyond minbase (e.g. "libc6:i386,zlib1g:i386").
set -eu
out=$1
suite=${2:-bookworm}
arch=${3:-amd64}
extra=${4:-}
mirror=${COPA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${COPA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The hooks' "$1" is mmdebstrap's argument, expanded by its shell, not ours.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --architectures="$arch" --format=tar \
	${extra:+--include="$extra"} \
	--customize-hook='rm -f "$1"/etc/apt/sources.list' \
	--customize-hook="mkdir -p \"\$1\"/etc/apt/sources.list.d && printf '%s\n' \
'Types: deb' 'URIs: $mirror' 'Suites: $suite $suite-updates' 'Components: main' \
'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' '' \
'Types: deb' 'URIs: $security' 'Suites: $suite-security' 'Components: main' \
'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
>\"\$1\"/etc/apt/sources.list.d/debian.sources" \
	--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
	"$suite" "$out" "deb $mirror $suite main"
