#!/bin/sh
# The demo: builds copa, builds a real Debian bookworm image from
# deb.debian.org (point release only), and shows what copa sees in it.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
make build
mkdir -p demo
if [ ! -f demo/bookworm.tar ]; then
	echo "== building a Debian bookworm root file system with mmdebstrap (about 30 s)"
	./scripts/mkdebian.sh demo/bookworm.tar.tmp bookworm
	mv demo/bookworm.tar.tmp demo/bookworm.tar
fi
rm -rf demo/image
./scripts/rootfs-to-oci.py demo/bookworm.tar demo/image 12 >/dev/null
echo "== copa inspect oci:demo/image:12"
./build/copa inspect oci:demo/image:12
