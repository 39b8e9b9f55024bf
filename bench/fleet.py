#!/usr/bin/python3
"""bench/fleet.py: a fleet of N images that share one real base, patched by
one `copa patch --config` run, against N single `copa patch` runs one after
the other (what a script looping over the images does), in the same run.

The base is a real Debian bookworm tree from the point release
(scripts/mkdebian.sh, as bench/patch.py), so deb.debian.org's security
archive has real updates for it; each image adds a small layer of its own.
The images are pushed to a docker-registry on 127.0.0.1 and the patched
images are pushed back there. Every variant starts from an empty cache.

Prints wall time and peak memory for: one image alone (cold), the bulk run,
and the N single runs; and the ratios bulk / one image (target <= 3) and
bulk / singles. Needs docker-registry, skopeo, GNU time and network access to
deb.debian.org.

usage: bench/fleet.py [--images N] [--jobs J] [--tar BOOKWORM.tar]
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from benchutil import timed  # noqa: E402
import imagetools as it  # noqa: E402
from fx_services import Registry  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=0, help="--jobs of the bulk run (0: CPU count)")
    ap.add_argument("--tar", help="a bookworm root file system tar (default: build and cache one)")
    args = ap.parse_args()
    for tool in ("docker-registry", "skopeo", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (scripts/install-deps.sh installs it)")
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    tar = pathlib.Path(args.tar) if args.tar else pathlib.Path(
        os.environ.get("COPA_LIVE_CACHE", "/tmp/copa-live")) / "bookworm-amd64.tar"
    if not tar.exists():
        tar.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {tar} with mmdebstrap (about a minute)...", flush=True)
        subprocess.run([str(ROOT / "scripts/mkdebian.sh"), str(tar), "bookworm", "amd64"],
                       check=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="copa-bench-fleet-"))
    reg = Registry(work / "registry")
    try:
        base = tar.read_bytes()
        layout = work / "src"
        n = args.images
        print(f"pushing {n} images sharing one {len(base) / 2**20:.0f} MiB base...", flush=True)
        for i in range(n):
            layers = [base, it.tar_layer([(f"srv/app{i}/id", f"app {i}\n".encode())])]
            it.write_image(layout, layers, tag=f"app{i}")
            it.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:app{i}",
                      f"docker://{reg.host}/base/app{i}:1.0")
        cfg = work / "fleet.yaml"
        cfg.write_text("apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\n"
                       f"target: {{registry: {reg.host}/bulk}}\nimages:\n" +
                       "".join(f"  - image: {reg.host}/base/app{i}\n"
                               "    tags: {strategy: list, list: [\"1.0\"]}\n" for i in range(n)))
        env = dict(os.environ, XDG_CACHE_HOME=str(work / "xdg"))

        one = timed([copa, "patch", "--cache-dir", str(work / "cache-one"), "-i",
                     f"{reg.host}/base/app0:1.0", "-t", f"{reg.host}/one/app0:1.0-patched",
                     "--push", "--progress", "quiet"], env)
        bulk_argv = [copa, "patch", "--cache-dir", str(work / "cache-bulk"), "--config", str(cfg),
                     "--summary", str(work / "bulk.json"), "--progress", "plain"]
        if args.jobs:
            bulk_argv += ["--jobs", str(args.jobs)]
        bulk = timed(bulk_argv, env)
        doc = json.loads((work / "bulk.json").read_text())
        statuses = {e["status"] for e in doc["images"]}
        if statuses != {"patched"}:
            sys.exit(f"bench: the bulk run did not patch every image: {statuses}")
        t0 = time.monotonic()
        peak = 0
        for i in range(n):
            w, rss, _, _ = timed([copa, "patch", "--cache-dir", str(work / "cache-singles"), "-i",
                               f"{reg.host}/base/app{i}:1.0", "-t",
                               f"{reg.host}/single/app{i}:1.0-patched", "--push",
                               "--progress", "quiet"], env)
            peak = max(peak, rss)
        singles = (time.monotonic() - t0, peak)
        updated = doc["images"][0]["patch"]["counts"]["packages"]["updated"]
        print(f"\nbase: {tar.name} (bookworm point release), {updated} packages updated per "
              f"image; {n} images; bulk --jobs {args.jobs or os.cpu_count()}")
        print(f"command: bench/fleet.py --images {n}" + (f" --jobs {args.jobs}" if args.jobs else ""))
        print(f"\n{'':28} {'wall s':>8} {'peak MiB':>9}")
        print(f"{'one image, cold':28} {one[0]:8.2f} {one[1] / 1024:9.1f}")
        print(f"{'bulk run, cold':28} {bulk[0]:8.2f} {bulk[1] / 1024:9.1f}")
        print(f"{f'{n} single runs, one cache':28} {singles[0]:8.2f} {singles[1] / 1024:9.1f}")
        r = bulk[0] / one[0]
        print(f"\nbulk / one image: {r:.2f} (target <= 3) {'ok' if r <= 3 else 'MISSED'}")
        print(f"bulk / {n} single runs: {bulk[0] / singles[0]:.2f}")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
