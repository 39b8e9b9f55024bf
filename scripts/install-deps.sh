#!/bin/sh
# Installs every Debian package copa needs to build, test, fuzz and run its demo.
# Idempotent; run as root (or through sudo) on Debian 12.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
build="build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
	libcurl4-openssl-dev libarchive-dev libjansson-dev libssl-dev zlib1g-dev
	libzstd-dev liblzma-dev libdeflate-dev libsolv-dev libsolvext-dev librpm-dev libdb5.3-dev libexpat1-dev
	libyaml-dev libcmocka-dev gpgv gnupg"
tests="python3 python3-pytest python3-jsonschema python3-cryptography docker-registry apache2-utils
	skopeo umoci podman buildah dpkg-dev apt-utils mmdebstrap rpm createrepo-c dnf db5.3-util pigz xz-utils zstd
	ca-certificates curl openssl shellcheck clang-format uidmap fakeroot time groff-base
	zsh fish"
if [ "${COPA_SKIP_APT_UPDATE:-0}" != 1 ]; then
	apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $build $tests >/dev/null

# Alpine: the image's own apk, run with bwrap (no network), is the reference
# the apk resolver is checked against (tests/unit/apk_reference.py); an
# aarch64 apk runs under qemu-user (bound into its root, no binfmt_misc).
apt-get install -y -qq --no-install-recommends bubblewrap qemu-user-static >/dev/null
