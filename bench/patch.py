#!/usr/bin/python3
"""bench/patch.py: copa patch against the daemonless alternative a user would
reach for, on the same real image and the same updates.

The image is a real Debian bookworm tree built from the point release with
scripts/mkdebian.sh (so the security archive has updates for it), wrapped in
an OCI layout. The alternative is buildah with chroot isolation:
`buildah from`, `buildah run -- apt-get update && apt-get install -y
--only-upgrade <the packages copa updated> && apt-get clean`, `buildah commit`.

Measured for each, cold (empty cache / fresh buildah storage) and warm (a
second run with the cache or storage of the first): wall time, peak memory
(max RSS, GNU time), bytes downloaded, and the size of the new layer, both as
written and recompressed the same way (gzip -6 of the uncompressed tar).
Prints a table and the ratios copa/buildah. Needs root (buildah's storage and
chroot), network access to deb.debian.org, buildah and GNU time.

It also prints copa's phase table (from its `--progress json` phase
events) of the first cold and warm runs, so a change shows where it saved
time. --no-reference skips buildah (copa's own figures only, for measuring
copa changes quickly).

usage: bench/patch.py [--reps N] [--tar BOOKWORM.tar] [--keep DIR] [--no-reference]
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


def copa_run(copa, layout, tag, cache, summary):
    wall, rss, _, err = timed([copa, "patch", "-i", f"oci:{layout}:12", "-t", tag,
                               "--cache-dir", str(cache), "--summary", str(summary),
                               "--progress", "json"])
    downloaded = {}
    phases = []
    for line in err.splitlines():
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        if ev.get("type") == "progress" and ev.get("task") == "download":
            downloaded[ev["id"]] = max(downloaded.get(ev["id"], 0), ev.get("current", 0))
        if ev.get("type") == "phase" and ev.get("event") == "end":
            phases.append(ev)
    return wall, rss, sum(downloaded.values()), sorted(phases, key=lambda e: e["from"])


def print_phases(kind, phases):
    print(f"copa {kind}, phases (--progress json):")
    print(f"  {'phase':14} {'from':>7} {'to':>7} {'seconds':>8}")
    for e in phases:
        print(f"  {e['phase']:14} {e['from']:7.2f} {e['to']:7.2f} {e['seconds']:8.2f}")


def copa_layer(layout, tag):
    index = json.loads((layout / "index.json").read_text())
    d = next(m for m in index["manifests"]
             if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    man = json.loads((layout / "blobs/sha256" / d["digest"].split(":")[1]).read_text())
    blob = (layout / "blobs/sha256" / man["layers"][-1]["digest"].split(":")[1]).read_bytes()
    return len(blob), gzip6_size(gzip.decompress(blob))


FETCHED = re.compile(r"Fetched ([\d.,]+) ([kMG]?B)")
UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def buildah_run(layout, store, pkgs, out):
    b = ["buildah", "--root", str(store / "root"), "--runroot", str(store / "run"),
         "--storage-driver", "vfs"]
    total_wall, peak = 0.0, 0
    w, m, ctr, _ = timed([*b, "from", "--quiet", "--isolation", "chroot", f"oci:{layout}:12"])
    ctr = ctr.strip()
    total_wall += w
    peak = max(peak, m)
    script = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
              "--only-upgrade " + " ".join(pkgs) + " && apt-get clean")
    w, m, so, se = timed([*b, "run", "--isolation", "chroot", ctr, "--", "sh", "-c", script])
    total_wall += w
    peak = max(peak, m)
    fetched = sum(float(n.replace(",", "")) * UNITS[u] for n, u in FETCHED.findall(so + se))
    w, m, _, _ = timed([*b, "commit", "--quiet", "--format", "oci", ctr, f"oci:{out}:patched"])
    total_wall += w
    peak = max(peak, m)
    subprocess.run([*b, "rm", ctr], capture_output=True)
    man = it.skopeo_inspect_raw(f"oci:{out}:patched")
    layer = man["layers"][-1]
    blob = (out / "blobs/sha256" / layer["digest"].split(":")[1]).read_bytes()
    tar = gzip.decompress(blob) if "gzip" in layer["mediaType"] else blob
    return total_wall, peak, int(fetched), len(blob), gzip6_size(tar)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tar", help="a bookworm root file system tar (default: build and cache one)")
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    ap.add_argument("--no-reference", action="store_true", help="skip buildah")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (buildah's storage and chroot isolation)")
    for tool in ("buildah", "skopeo", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (apt-get install buildah skopeo time)")
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    tar = pathlib.Path(args.tar) if args.tar else pathlib.Path(
        os.environ.get("COPA_LIVE_CACHE", "/tmp/copa-live")) / "bookworm-amd64.tar"
    if not tar.exists():
        tar.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {tar} with mmdebstrap (about a minute)...", flush=True)
        subprocess.run([str(ROOT / "scripts/mkdebian.sh"), str(tar), "bookworm", "amd64"], check=True)
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="copa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    layout = work / "image"
    if not layout.exists():
        it.write_image(layout, [tar.read_bytes()], tag="12")

    rows = {k: [] for k in ("copa cold", "copa warm", "buildah cold", "buildah warm")}
    pkgs = None
    phase_tables = {}
    for rep in range(args.reps):
        cache = work / f"cache-{rep}"
        shutil.rmtree(cache, ignore_errors=True)
        summary = work / f"summary-{rep}.json"
        for kind in ("cold", "warm"):
            tag = f"copa-{kind}-{rep}"
            wall, rss, dl, phases = copa_run(copa, layout, tag, cache, summary)
            phase_tables.setdefault(kind, phases)
            blob, gz6 = copa_layer(layout, tag)
            rows[f"copa {kind}"].append((wall, rss, dl, blob, gz6))
        s = json.loads(summary.read_text())
        pkgs = sorted(x["name"] for x in s["platforms"][0]["packages"] if x["outcome"] == "updated")
        if args.no_reference:
            print(f"repetition {rep + 1}/{args.reps} done", flush=True)
            continue
        store = work / f"buildah-{rep}"
        shutil.rmtree(store, ignore_errors=True)
        for kind in ("cold", "warm"):
            out = work / f"buildah-out-{rep}-{kind}"
            shutil.rmtree(out, ignore_errors=True)
            rows[f"buildah {kind}"].append(buildah_run(layout, store, pkgs, out))
        shutil.rmtree(store, ignore_errors=True)
        print(f"repetition {rep + 1}/{args.reps} done", flush=True)

    med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in rows.items() if v}
    print(f"\nimage: {tar.name} (bookworm point release); updates: {len(pkgs)} packages: "
          f"{' '.join(pkgs)}")
    print(f"medians of {args.reps} runs (command: bench/patch.py --reps {args.reps})\n")
    print(f"{'':14} {'wall s':>8} {'peak MiB':>9} {'downloaded MiB':>15} {'layer MiB':>10} "
          f"{'layer gzip-6 MiB':>17}")
    for k, (wall, rss, dl, blob, gz6) in med.items():
        print(f"{k:14} {wall:8.2f} {rss / 1024:9.1f} {dl / 2**20:15.1f} {blob / 2**20:10.1f} "
              f"{gz6 / 2**20:17.1f}")
    print()
    for kind in ("cold", "warm"):
        print_phases(kind, phase_tables[kind])
    print()
    print(f"peak memory of copa: {max(med['copa cold'][1], med['copa warm'][1]) / 1024:.1f} MiB "
          f"(target < 100 MiB)")
    if args.no_reference:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return
    for kind, target in (("cold", 0.2), ("warm", 0.05)):
        r = med[f"copa {kind}"][0] / med[f"buildah {kind}"][0]
        print(f"time ratio copa/buildah, {kind}: {r:.3f} (target <= {target}) "
              f"{'ok' if r <= target else 'MISSED'}")
    r = med["copa cold"][4] / med["buildah cold"][4]
    print(f"new layer size ratio copa/buildah, both gzip -6: {r:.3f} (target <= 1)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
