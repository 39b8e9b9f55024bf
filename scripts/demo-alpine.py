#!/usr/bin/python3
"""The Alpine demo (make demo-alpine): a real Alpine 3.20.3 image built from the
shared minirootfs (Alpine's mirrors are not reachable from these machines), a
local repository of newer versions of its packages signed with a fresh test key
and served on 127.0.0.1 (tests/e2e/fx_apkworld.py), then `copa patch` (no
daemon, nothing from the image run) and the result: the new image, the updated
packages read back from its apk database, the summary.

usage: scripts/demo-alpine.py [DEMO_DIR]   (default: demo/alpine)
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import fx_apkrepo as ar  # noqa: E402
from fx_apkworld import World  # noqa: E402


def run(*argv):
    print("$ " + " ".join(map(str, argv)), flush=True)
    subprocess.run(list(map(str, argv)), check=True)


def main():
    demo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "demo" / "alpine")
    shared = pathlib.Path(os.environ.get("COPA_SHARED_TESTDATA", ROOT.parent / "shared/testdata"))
    if not (shared / "alpine/minirootfs").is_dir():
        sys.exit(f"demo: the shared Alpine test data is not at {shared} (set COPA_SHARED_TESTDATA)")
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir(parents=True)
    print("== building an Alpine 3.20.3 image and a signed repository of newer packages")
    w = World(demo / "world", shared, "3.20.3", "x86_64")
    try:
        src = w.image(demo / "image", tag="3.20")
        print(f"repository {w.url} (key {w.key.pub.name}): "
              + ", ".join(f"{p.name} {p.version}" for p in w.pkgs))
        cache = demo / "cache"
        print("\n== copa inspect")
        run(copa, "inspect", "--cache-dir", cache, src)
        print("\n== copa patch (everything upgradable, from the local repository)")
        run(copa, "patch", "-i", src, "--cache-dir", cache, "--repo-replace", "--repo", w.url,
            "--keyring", w.key.pub, "--summary", demo / "summary.json")
    finally:
        w.server.stop()
    print("\n== what changed (demo/alpine/summary.json)")
    s = json.loads((demo / "summary.json").read_text())
    print(f"input:  {s['input']['ref']}  {s['input']['digest']}")
    print(f"output: {s['output']['ref']}  {s['output']['digest']}")
    for p in s["platforms"]:
        print(f"\n{p['platform']}:")
        print(f"  {'PACKAGE':24} {'BEFORE':18} {'AFTER':18} OUTCOME")
        for x in p["packages"]:
            print(f"  {x['name']:24} {x.get('installedBefore') or '-':18} "
                  f"{x.get('installedVersion') or '-':18} {x['outcome']}")
    print("\n== the patched image's apk database, read back after `umoci unpack`")
    subprocess.run(["umoci", "unpack", "--image", f"{demo / 'image'}:3.20-patched",
                    str(demo / "unpacked")], check=True, capture_output=True)
    inst = ar.read_installed(demo / "unpacked" / "rootfs")
    for name in sorted(w.new):
        print(f"  {name:24} {inst[name].fields['V']}")
    print(f"\n== check it with skopeo:  skopeo inspect oci:{demo / 'image'}:3.20-patched")


if __name__ == "__main__":
    main()
