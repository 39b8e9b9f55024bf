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
    """Wall seconds, peak RSS (KiB), output and CPU seconds (user+sys) of a command."""
    cmd = ["/usr/bin/time", "-f", "%e %M %U %S"]
    cmd += ["sh", "-c", argv] if shell else argv
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE if out is None else out,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {argv}\n{p.stderr}")
    fields = p.stderr.strip().splitlines()[-1].split()
    return wall, int(fields[1]), p.stdout, float(fields[2]) + float(fields[3])


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


def bench_tree(tree, work, build, reps):
    mk = str(build / "tests/helpers/copa-mklayer")
    ncpu = os.cpu_count()
    size = tree_bytes(tree)
    print(f"\n== tree {tree}: {size / 1e6:.0f} MB of file content, {ncpu} CPUs, "
          f"median of {reps} runs, tools interleaved")
    tools = [
        ("copa gzip-6", "copa.tgz", [mk, str(tree), str(work / "copa.tgz")], False),
        ("tar | pigz -6", "pigz.tgz", f"tar -C '{tree}' -cf - . | pigz -6 -p {ncpu}", True),
        ("tar | gzip -6", "gzip.tgz", f"tar -C '{tree}' -cf - . | gzip -6", True),
        ("copa gzip-6, 1 thread", "copa1.tgz",
         [mk, "-j", "1", str(tree), str(work / "copa1.tgz")], False),
        ("copa zstd-3", "copa.tzst", [mk, "-c", "zstd", str(tree), str(work / "copa.tzst")],
         False),
    ]
    walls = {t[0]: [] for t in tools}
    cpus = {t[0]: [] for t in tools}
    res = None
    # Round robin, so that every tool sees the same background load on a shared machine.
    for _ in range(reps):
        for name, out, argv, shell in tools:
            if shell:
                with open(work / out, "wb") as f:
                    wall, _, _, cpu = timed(argv, shell=True, out=f)
            else:
                wall, _, stdout, cpu = timed(argv)
                if name == "copa gzip-6":
                    res = json.loads(stdout)
            walls[name].append(wall)
            cpus[name].append(cpu)
    tar_size = res["tar_size"]
    base = statistics.median(walls["copa gzip-6"])
    print(f"{'tool':<24}{'wall s':>8}{'CPU s':>8}{'MB/s (tar)':>12}{'blob MB':>10}{'ratio':>8}"
          f"{'wall vs copa':>14}")
    for name, out, _, _ in tools:
        t = statistics.median(walls[name])
        blob = (work / out).stat().st_size
        print(f"{name:<24}{t:>8.2f}{statistics.median(cpus[name]):>8.2f}"
              f"{tar_size / t / 1e6:>12.1f}{blob / 1e6:>10.1f}{blob / tar_size:>8.3f}"
              f"{t / base:>13.2f}x")
    pigz_t = statistics.median(walls["tar | pigz -6"])
    gzip_t = statistics.median(walls["tar | gzip -6"])
    print(f"copa gzip is {pigz_t / base:.2f}x the speed of pigz and {gzip_t / base:.2f}x that of "
          f"gzip (wall); it uses {statistics.median(cpus['tar | pigz -6']) / statistics.median(cpus['copa gzip-6']):.2f}x "
          f"less CPU than pigz; blob size "
          f"{(work / 'copa.tgz').stat().st_size / (work / 'pigz.tgz').stat().st_size:.3f}x pigz's")
    for out in ("gzip.tgz", "copa1.tgz", "copa.tzst"):
        (work / out).unlink()
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
