#!/bin/sh
# The demo: builds copa, builds a real Debian bookworm image from
# deb.debian.org (point release only, so the security archive has fixes for
# it), patches it with copa (no daemon, nothing run from the image), and
# shows the result: the new image, the updated packages, the summary.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
make build
mkdir -p demo
# The cached root file system is used only when it is a complete tar archive.
if ! { [ -f demo/bookworm.tar ] && tar -tf demo/bookworm.tar >/dev/null 2>&1; }; then
	echo "== building a Debian bookworm root file system with mmdebstrap (about 30 s)"
	rm -rf demo/bookworm.tar demo/bookworm.tmp.tar
	./scripts/mkdebian.sh demo/bookworm.tmp.tar bookworm
	mv demo/bookworm.tmp.tar demo/bookworm.tar
fi
rm -rf demo/image demo/cache
./scripts/rootfs-to-oci.py demo/bookworm.tar demo/image 12 >/dev/null
echo
echo "== copa inspect oci:demo/image:12"
./build/copa inspect --cache-dir demo/cache oci:demo/image:12
echo
echo "== copa patch -i oci:demo/image:12 --summary demo/summary.json"
./build/copa patch -i oci:demo/image:12 --cache-dir demo/cache --summary demo/summary.json
echo
echo "== copa inspect oci:demo/image:12-patched"
./build/copa inspect --cache-dir demo/cache oci:demo/image:12-patched
echo
echo "== what changed (demo/summary.json)"
/usr/bin/python3 - <<'PY'
import json
s = json.load(open("demo/summary.json"))
print(f"input:  {s['input']['ref']}  {s['input']['digest']}")
print(f"output: {s['output']['ref']}  {s['output']['digest']}")
for p in s["platforms"]:
    print(f"\n{p['platform']}:")
    print(f"  {'PACKAGE':22} {'BEFORE':26} {'AFTER':26} OUTCOME")
    for x in p["packages"]:
        print(f"  {x['name']:22} {x.get('installedBefore') or '-':26} "
              f"{x.get('installedVersion') or '-':26} {x['outcome']}")
PY
echo
echo "== check it with skopeo:  skopeo inspect oci:demo/image:12-patched"
skopeo inspect oci:demo/image:12-patched | head -16
