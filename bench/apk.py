#!/usr/bin/python3
"""bench/apk.py: copa patch on an Alpine image against Alpine's own apk run in
the image plus a layer commit, on the same image and the same repository.

The image is the shared Alpine minirootfs (3.20.3 x86_64) wrapped in an OCI
layout; the repository holds newer versions of packages of that image, rebuilt
from its own files and signed with a test key (tests/e2e/fx_apkworld.py),
served on 127.0.0.1 (Alpine's mirrors are not reachable here). The
alternative is what a user without copa does, daemonless: `buildah from`,
`buildah run --isolation chroot -- apk upgrade` against the same repository
(the key bound in read-only, the image's repositories file not used), and
`buildah commit`.

Measured for each, cold (empty copa cache / fresh buildah storage) and warm
(a second run with the cache or storage of the first): wall time, peak memory
(max RSS, GNU time; for buildah the largest of its three steps), and the size
of the new layer, as written and recompressed the same way (gzip -6 of the
uncompressed tar). Prints a table and the ratios copa/apk+buildah against the
targets of issue 9 (cold <= 0.3, warm <= 0.1, peak < 64 MiB). Needs root
(buildah's storage and chroot), buildah, skopeo, GNU time and the shared test
data (COPA_SHARED_TESTDATA or ../shared/testdata beside the clone).

usage: bench/apk.py [--reps N] [--keep DIR]
"""
import argparse
import gzip
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from benchutil import timed, gzip6_size  # noqa: E402
import imagetools as it  # noqa: E402
from fx_apkworld import World  # noqa: E402


def last_layer(layout, tag):
    man = it.skopeo_inspect_raw(f"oci:{layout}:{tag}")
    layer = man["layers"][-1]
    blob = (pathlib.Path(layout) / "blobs/sha256" / layer["digest"].split(":")[1]).read_bytes()
    tar = gzip.decompress(blob) if "gzip" in layer["mediaType"] else blob
    return len(blob), gzip6_size(tar)


def copa_run(copa, w, layout, tag, cache):
    wall, rss, _, _ = timed([copa, "patch", "-i", f"oci:{layout}:1.0", "-t", tag, "--cache-dir",
                             str(cache), "--repo-replace", "--repo", w.url, "--keyring",
                             str(w.key.pub), "--progress", "quiet"])
    return (wall, rss, *last_layer(layout, tag))


def buildah_run(w, layout, store, out):
    b = ["buildah", "--root", str(store / "root"), "--runroot", str(store / "run"),
         "--storage-driver", "vfs"]
    total, peak = 0.0, 0
    wall, rss, ctr, _ = timed([*b, "from", "--quiet", "--isolation", "chroot",
                               f"oci:{layout}:1.0"])
    ctr = ctr.strip()
    total, peak = total + wall, max(peak, rss)
    wall, rss, so, se = timed([*b, "run", "--isolation", "chroot", "-v",
                               f"{w.keys}:/copa-keys:ro", ctr, "--", "apk", "upgrade",
                               "--repositories-file", "/dev/null", "-X", w.url, "--keys-dir",
                               "/copa-keys", "--no-cache"])
    total, peak = total + wall, max(peak, rss)
    changed = len(re.findall(r"\((\d+)/\d+\) (Upgrading|Installing)", so))
    if changed != len(w.pkgs):
        sys.exit(f"bench: apk changed {changed} packages, not {len(w.pkgs)}:\n{so}\n{se}")
    wall, rss, _, _ = timed([*b, "commit", "--quiet", "--format", "oci", ctr,
                             f"oci:{out}:patched"])
    total, peak = total + wall, max(peak, rss)
    subprocess.run([*b, "rm", ctr], capture_output=True)
    return (total, peak, *last_layer(out, "patched"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (buildah's storage and chroot isolation)")
    for tool in ("buildah", "skopeo", "/usr/bin/time", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (apt-get install buildah skopeo time)")
    shared = pathlib.Path(os.environ.get("COPA_SHARED_TESTDATA", ROOT.parent / "shared/testdata"))
    if not (shared / "alpine/minirootfs").is_dir():
        sys.exit(f"bench: the shared Alpine test data is not at {shared} (set COPA_SHARED_TESTDATA)")
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="copa-bench-apk-"))
    work.mkdir(parents=True, exist_ok=True)
    w = World(pathlib.Path(tempfile.mkdtemp(dir=work, prefix="world-")), shared, "3.20.3",
              "x86_64")
    try:
        layout = work / "image"
        shutil.rmtree(layout, ignore_errors=True)
        w.image(layout)
        rows = {k: [] for k in ("copa cold", "copa warm", "apk+buildah cold", "apk+buildah warm")}
        for rep in range(args.reps):
            cache = work / f"cache-{rep}"
            shutil.rmtree(cache, ignore_errors=True)
            for kind in ("cold", "warm"):
                rows[f"copa {kind}"].append(copa_run(copa, w, layout, f"copa-{kind}-{rep}", cache))
            store = work / f"buildah-{rep}"
            shutil.rmtree(store, ignore_errors=True)
            for kind in ("cold", "warm"):
                out = work / f"buildah-out-{rep}-{kind}"
                shutil.rmtree(out, ignore_errors=True)
                rows[f"apk+buildah {kind}"].append(buildah_run(w, layout, store, out))
            shutil.rmtree(store, ignore_errors=True)
            print(f"repetition {rep + 1}/{args.reps} done", flush=True)
    finally:
        w.server.stop()

    med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in rows.items()}
    print(f"\nimage: alpine-minirootfs-3.20.3-x86_64; updates: {len(w.pkgs)} packages: "
          f"{' '.join(sorted(w.new))}")
    print(f"medians of {args.reps} runs (command: bench/apk.py --reps {args.reps})\n")
    print(f"{'':18} {'wall s':>8} {'peak MiB':>9} {'layer KiB':>10} {'layer gzip-6 KiB':>17}")
    for k, (wall, rss, blob, gz6) in med.items():
        print(f"{k:18} {wall:8.3f} {rss / 1024:9.1f} {blob / 1024:10.1f} {gz6 / 1024:17.1f}")
    print()
    for kind, target in (("cold", 0.3), ("warm", 0.1)):
        r = med[f"copa {kind}"][0] / med[f"apk+buildah {kind}"][0]
        print(f"time ratio copa/apk+buildah, {kind}: {r:.3f} (target <= {target}) "
              f"{'ok' if r <= target else 'MISSED'}")
    peak = max(med["copa cold"][1], med["copa warm"][1]) / 1024
    print(f"peak memory of copa: {peak:.1f} MiB (target < 64 MiB) "
          f"{'ok' if peak < 64 else 'MISSED'}")
    r = med["copa cold"][3] / med["apk+buildah cold"][3]
    print(f"new layer size ratio copa/apk+buildah, both gzip -6: {r:.3f}")
    print("  (the test repository's new versions ship the image's own files, same contents and\n"
          "  mtimes; buildah's diff leaves such unchanged files out, copa's layer holds every file\n"
          "  of an upgraded package: with real updates, whose files change, both hold them)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
