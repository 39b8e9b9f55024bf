#!/usr/bin/python3
"""Layer compression and layer reading: copa against the usual tools.

    bench/compress.py [--reps N] [--build DIR] [TREE...]

Compression: for each tree, times copa's layer writer (tests/helpers/
copa-mklayer: walk, deterministic pax tar, one-pass gzip level 6, sha256 of
the tar and of the blob) against `tar -cf - . | gzip -6` and
`tar -cf - . | pigz -6` (both without any hashing) on the same tree and the
same cores, N repetitions each, and prints median wall time, throughput,
blob size and the ratios to copa. zstd and copa on one thread are shown for
reference.

Reading: builds the merged view of a multi-layer image made of the blobs
just written (copa-lsview --stats) without and with the header index cache,
under /usr/bin/time for peak RSS, against `tar -tzf` of the same layers
(GNU tar listing the headers, which also has to decompress everything).

Default tree: a Debian bookworm root file system built once with
scripts/mkdebian.sh and kept in $COPA_BENCH_CACHE (~/.cache/copa-bench).
Pass other trees (e.g. /usr/share) as arguments.
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("COPA_BENCH_CACHE", pathlib.Path.home() / ".cache/copa-bench"))


def debian_tree():
    tar = CACHE / "debian-bookworm.tar"
    tree = CACHE / "debian-bookworm"
    CACHE.mkdir(parents=True, exist_ok=True)
    if not tar.exists():
        print(f"building {tar} with scripts/mkdebian.sh (once)...", flush=True)
        subprocess.run(["sh", str(TOP / "scripts/mkdebian.sh"), str(tar) + ".tmp"], check=True)
        os.rename(str(tar) + ".tmp", tar)
    if not tree.exists():
        tmp = pathlib.Path(str(tree) + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        subprocess.run(["tar", "-C", str(tmp), "--numeric-owner", "-xf", str(tar)], check=True)
        os.rename(tmp, tree)
    return tree


def timed(argv, shell=False, out=None):
    """Wall seconds and peak RSS (KiB) of a command, through /usr/bin/time."""
    cmd = ["/usr/bin/time", "-f", "%e %M"]
    cmd += ["sh", "-c", argv] if shell else argv
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE if out is None else out,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {argv}\n{p.stderr}")
    rss = int(p.stderr.strip().splitlines()[-1].split()[1])
    return wall, rss, p.stdout


def tree_bytes(tree):
    total = 0
    for dirpath, _, files in os.walk(tree):
        for f in files:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if not os.path.islink(os.path.join(dirpath, f)):
                total += st.st_size
    return total


def median_of(reps, fn):
    runs = [fn() for _ in range(reps)]
    return statistics.median(r[0] for r in runs), runs[-1]


def bench_tree(tree, work, build, reps):
    mk = str(build / "tests/helpers/copa-mklayer")
    ncpu = os.cpu_count()
    size = tree_bytes(tree)
    print(f"\n== tree {tree}: {size / 1e6:.0f} MB of file content, {ncpu} CPUs, "
          f"median of {reps} runs")
    rows = []

    def copa(name, args, out):
        def run():
            wall, rss, stdout = timed([mk, *args, str(tree), str(work / out)])
            return wall, json.loads(stdout)
        t, (_, res) = median_of(reps, run)
        rows.append((name, t, (work / out).stat().st_size, res["tar_size"]))
        return res

    def pipe(name, cmd, out):
        def run():
            with open(work / out, "wb") as f:
                wall, _, _ = timed(f"tar -C '{tree}' -cf - . | {cmd}", shell=True, out=f)
            return wall, None
        t, _ = median_of(reps, run)
        rows.append((name, t, (work / out).stat().st_size, None))

    res = copa("copa gzip-6", [], "copa.tgz")
    pipe("tar | pigz -6", f"pigz -6 -p {ncpu}", "pigz.tgz")
    pipe("tar | gzip -6", "gzip -6", "gzip.tgz")
    copa("copa gzip-6, 1 thread", ["-j", "1"], "copa1.tgz")
    copa("copa zstd-3", ["-c", "zstd"], "copa.tzst")
    base = rows[0][1]
    tar_size = res["tar_size"]
    print(f"{'tool':<24}{'seconds':>9}{'MB/s (tar)':>12}{'blob MB':>10}{'ratio':>8}"
          f"{'time vs copa':>14}")
    for name, t, blob, _ in rows:
        print(f"{name:<24}{t:>9.2f}{tar_size / t / 1e6:>12.1f}{blob / 1e6:>10.1f}"
              f"{blob / tar_size:>8.3f}{t / base:>13.2f}x")
    pigz_t = rows[1][1]
    print(f"copa gzip is {pigz_t / base:.2f}x the speed of pigz and "
          f"{rows[2][1] / base:.2f}x that of gzip; blob size {rows[0][2] / rows[1][2]:.3f}x "
          "pigz's")
    return [work / "copa.tgz", work / "pigz.tgz"]


def bench_view(layers, build, reps):
    ls = str(build / "tests/helpers/copa-lsview")
    specs = [f"{p},digest=sha256:{sha(p)}" for p in layers]
    cache = tempfile.mkdtemp(prefix="copa-bench-cache-")
    try:
        print(f"\n== merged view of a {len(layers)}-layer image "
              f"({sum(p.stat().st_size for p in layers) / 1e6:.0f} MB of gzip blobs)")
        cold = []
        for _ in range(reps):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(timed([ls, "--stats", "--cache-dir", cache, *specs]))
        warm = [timed([ls, "--stats", "--cache-dir", cache, *specs]) for _ in range(reps)]
        tar = [timed("; ".join(f"tar -tzf '{p}' >/dev/null" for p in layers), shell=True)
               for _ in range(reps)]
        entries = json.loads(cold[-1][2])["entries"]
        cold_t = statistics.median(r[0] for r in cold)
        warm_t = statistics.median(r[0] for r in warm)
        tar_t = statistics.median(r[0] for r in tar)
        print(f"{'reader':<40}{'seconds':>9}{'peak RSS MB':>13}")
        print(f"{'copa view, no index (verifies digests)':<40}{cold_t:>9.2f}"
              f"{max(r[1] for r in cold) / 1024:>13.0f}")
        print(f"{'copa view, cached header index':<40}{warm_t:>9.2f}"
              f"{max(r[1] for r in warm) / 1024:>13.0f}")
        print(f"{'tar -tzf of each layer':<40}{tar_t:>9.2f}{max(r[1] for r in tar) / 1024:>13.0f}")
        print(f"{entries} entries in the view; the index cache makes the second run "
              f"{cold_t / warm_t:.1f}x faster; copa without it takes {cold_t / tar_t:.2f}x "
              "the time of tar -t")
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def sha(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--build", default=str(TOP / "build"))
    ap.add_argument("trees", nargs="*")
    a = ap.parse_args()
    build = pathlib.Path(a.build)
    for tool in ("pigz", "gzip", "tar", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (scripts/install-deps.sh installs it)")
    if not (build / "tests/helpers/copa-mklayer").exists():
        sys.exit(f"build copa first: meson setup {build} && ninja -C {build}")
    trees = [pathlib.Path(t) for t in a.trees] or [debian_tree()]
    work = pathlib.Path(tempfile.mkdtemp(prefix="copa-bench-"))
    try:
        layers = []
        for i, tree in enumerate(trees):
            w = work / str(i)
            w.mkdir()
            layers += bench_tree(tree, w, build, a.reps)
        bench_view(layers, build, a.reps)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
