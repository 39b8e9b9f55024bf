#!/usr/bin/python3
"""Transfer benchmark: copa (the copa-copy helper) against skopeo, pulling the
same multi-layer image from a local docker-registry into an OCI layout.

Builds an image of LAYERS gzip layers (half incompressible random data, half
compressible text; about SIZE_MB uncompressed in total), pushes it with
skopeo to a docker-registry on 127.0.0.1, then runs both copies REPS times,
alternating the order, each cold (fresh destination, fresh copa cache), and
prints every time, the medians and the ratio copa/skopeo (< 1: copa faster).

Usage: bench/transfer.py [--layers 8] [--size-mb 160] [--reps 5]
       [--copa-copy build/tests/helpers/copa-copy]
"""
import argparse
import os
import pathlib
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import imagetools as it  # noqa: E402
from fx_services import Registry  # noqa: E402


def text_blob(n, rng):
    words = [b"package", b"version", b"library", b"usr/share/doc", b"copyright", b"amd64",
             b"Depends:", b"libc6", b"(>= 2.36)", b"Description:"]
    out, size = [], 0
    while size < n:
        line = b" ".join(rng.choice(words) for _ in range(12)) + b" %d\n" % rng.randrange(10**6)
        out.append(line)
        size += len(line)
    return b"".join(out)[:n]


def build_image(layout, layers, size_mb):
    rng = random.Random(42)
    per = size_mb * (1 << 20) // layers
    tars = []
    for i in range(layers):
        data = os.urandom(per) if i % 2 == 0 else text_blob(per, rng)
        tars.append(it.tar_layer([(f"layer{i}", None), (f"layer{i}/data.bin", data)]))
    return it.write_image(layout, tars, tag="bench")


def run(argv):
    """Runs argv; returns (wall seconds, user+sys CPU seconds of the child)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True)
    dt = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{p.stderr}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--size-mb", type=int, default=160)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--copa-copy", default=str(ROOT / "build" / "tests" / "helpers" / "copa-copy"))
    args = ap.parse_args()
    if not os.access(args.copa_copy, os.X_OK):
        sys.exit(f"copa-copy not found at {args.copa_copy}: build first (ninja -C build)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="copa-bench-"))
    reg = Registry(work / "registry")
    try:
        desc = build_image(work / "src", args.layers, args.size_mb)
        ref = f"{reg.host}/bench/image:1"
        it.skopeo("copy", "--dest-tls-verify=false", f"oci:{work}/src:bench", f"docker://{ref}")
        blob_mb = sum(f.stat().st_size for f in (work / "src/blobs/sha256").iterdir()) / 2**20
        print(f"image: {args.layers} layers, {args.size_mb} MiB uncompressed, "
              f"{blob_mb:.1f} MiB of blobs, registry {reg.host}")
        times = {"copa": [], "skopeo": []}
        cpu = {"copa": [], "skopeo": []}
        for rep in range(args.reps):
            order = ["copa", "skopeo"] if rep % 2 == 0 else ["skopeo", "copa"]
            for tool in order:
                dest = work / f"{tool}-{rep}"
                cache = work / f"cache-{rep}"
                if tool == "copa":
                    dt, c = run([args.copa_copy, ref, f"oci:{dest}:bench", "--cache-dir",
                                 str(cache)])
                else:
                    dt, c = run(["skopeo", "copy", "-q", "--src-tls-verify=false",
                                 f"docker://{ref}", f"oci:{dest}:bench"])
                times[tool].append(dt)
                cpu[tool].append(c)
                got = it.skopeo("inspect", f"oci:{dest}:bench").stdout
                if desc["digest"] not in got:
                    sys.exit(f"{tool} wrote a different image")
                shutil.rmtree(dest)
                shutil.rmtree(cache, ignore_errors=True)
            print(f"rep {rep + 1}: copa {times['copa'][-1]:.2f} s "
                  f"(cpu {cpu['copa'][-1]:.2f} s), skopeo {times['skopeo'][-1]:.2f} s "
                  f"(cpu {cpu['skopeo'][-1]:.2f} s)")
        mc, ms = statistics.median(times["copa"]), statistics.median(times["skopeo"])
        print(f"median: copa {mc:.2f} s ({blob_mb / mc:.0f} MiB/s), "
              f"skopeo {ms:.2f} s ({blob_mb / ms:.0f} MiB/s)")
        cc, cs = statistics.median(cpu["copa"]), statistics.median(cpu["skopeo"])
        print(f"median cpu (user+sys): copa {cc:.2f} s, skopeo {cs:.2f} s, "
              f"ratio {cc / cs:.2f}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        print(f"ratio copa/skopeo: {mc / ms:.2f} ({'copa faster' if mc < ms else 'skopeo faster'})")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
