"""Shared by the bench/ scripts: timing a command under GNU time, and the size
a layer would have gzip -6 compressed (the same measure for every tool)."""
import gzip
import re
import subprocess
import sys
import time


def timed(argv, env=None, cwd=None):
    """Runs argv under GNU time; returns (seconds, max RSS KiB, stdout, stderr).
    A failing command ends the bench with its output."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "COPA-BENCH %e %M", *argv], capture_output=True,
                       text=True, env=env, cwd=cwd)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stdout}\n"
                 f"{p.stderr[-3000:]}")
    m = re.search(r"COPA-BENCH ([\d.]+) (\d+)", p.stderr)
    return wall, int(m.group(2)), p.stdout, p.stderr


def gzip6_size(tar_bytes):
    return len(gzip.compress(tar_bytes, compresslevel=6, mtime=0))
