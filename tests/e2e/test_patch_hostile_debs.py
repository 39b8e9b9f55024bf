"""copa patch against hostile packages from a correctly signed repository:
decompression bombs, declared sizes that do not hold, downloads that fail.
What a user sees: the error names the package, and the cache does not grow
by gigabytes."""
import os
import pathlib
import subprocess
import tarfile
import threading
import time

import pytest

from fx_debpkg import _ar_member, _tar
from test_patch import base_packages, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")


def disk_used(root):
    """Bytes allocated under root (files that vanish while walking are skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


class PeakDisk:
    """Samples the disk used under a directory while a command runs."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, disk_used(self.root))
            time.sleep(0.05)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, disk_used(self.root))


def zero_bomb_deb(path, name, version, zeros):
    """A .deb whose data.tar.zst holds one file of `zeros` zero bytes while its
    control file declares Installed-Size: 4 (KiB). A few hundred KiB on disk."""
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
               "Maintainer: copa tests <t@copa.invalid>\nInstalled-Size: 4\n"
               "Description: decompression bomb\n")
    ctl = _tar([("./", None), ("./control", control)])
    z = subprocess.Popen(["zstd", "-1", "-q", "-c"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    out = []
    reader = threading.Thread(target=lambda: out.append(z.stdout.read()))
    reader.start()
    for d in ("./", "./usr/", "./usr/share/", f"./usr/share/{name}/"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        z.stdin.write(ti.tobuf(tarfile.GNU_FORMAT))
    ti = tarfile.TarInfo(f"./usr/share/{name}/zeros")
    ti.size, ti.mode = zeros, 0o644
    z.stdin.write(ti.tobuf(tarfile.GNU_FORMAT))
    chunk = bytes(4 << 20)
    left = zeros
    while left:
        n = min(left, len(chunk))
        z.stdin.write(chunk[:n])
        left -= n
    z.stdin.write(bytes((-zeros) % 512 + 1024))
    z.stdin.close()
    reader.join()
    assert z.wait() == 0
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", ctl), ("data.tar.zst", out[0])]
    path = pathlib.Path(path)
    path.write_bytes(b"!<arch>\n" + b"".join(_ar_member(n, d) for n, d in members))
    return path


def test_decompression_bomb_stops_early(copa, world, tmp_path):
    """tool 1.0-2 is 3 GiB of zeros in a package of a few hundred KiB whose
    index says it installs 4 KiB: copa refuses it, naming the package, after
    writing at most a bounded amount (not the 6 GiB of a decompressed-ahead
    data.tar plus the staged file)."""
    zeros = 3 << 30
    base = base_packages(world)
    updates = [d for d in update_packages(world) if not d.name.startswith("tool_")]
    world.debs.mkdir(parents=True, exist_ok=True)
    bomb = zero_bomb_deb(world.debs / "tool_1.0-2_amd64.deb", "tool", "1.0-2", zeros)
    assert bomb.stat().st_size < 2 << 20
    world.publish(*updates, bomb)
    layout = world.image(world.rootfs(base))
    cache = tmp_path / "cache"
    cache.mkdir()
    with PeakDisk(cache) as disk:
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--cache-dir", cache, cache_dir=False,
                 timeout=900)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "package 'tool' 1.0-2" in last, last
    assert "'tool_1.0-2_amd64.deb': data.tar unpacks to more than" in last, last
    assert "Installed-Size" in last, last
    assert disk.peak < 256 << 20, f"{disk.peak} bytes under the cache"
    assert list((cache / "tmp").iterdir()) == []


def _declare(world, deb_name, field, value):
    """Rewrites one field of one package in the index before it is signed."""
    repo = world.repo
    orig = type(repo)._write_index

    def write_index(d, data, *a):
        paras = data.decode().split("\n\n")
        for i, para in enumerate(paras):
            if f"/{deb_name}\n" in para + "\n":
                paras[i] = "\n".join(f"{field}: {value}" if ln.startswith(f"{field}: ") else ln
                                     for ln in para.split("\n"))
        return orig(d, "\n\n".join(paras).encode(), *a)

    repo._write_index = write_index


def test_declared_size_over_the_cap_is_refused(copa, world, tmp_path):
    """A signed index declaring a 9 GiB package: refused before downloading,
    naming the package, nothing left in the cache."""
    base = base_packages(world)
    _declare(world, "tool_1.0-2_amd64.deb", "Size", str(9 << 30))
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base))
    cache = tmp_path / "cache"
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--cache-dir", cache, cache_dir=False)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "package 'tool' 1.0-2" in last and "larger than" in last, last
    assert list((cache / "tmp").iterdir()) == []
    assert not any((cache / "blobs").rglob("*")) or all(
        f.is_dir() or f.stat().st_size < 1 << 20 for f in (cache / "blobs").rglob("*"))


def test_failed_download_leaves_nothing_in_the_cache(copa, world, tmp_path):
    """The index declares 64 MiB for tool 1.0-2 and the server has 64 MiB that
    do not match its SHA256: the download fails naming the package (not a
    blob digest) and none of the 64 MiB stays in the cache."""
    base = base_packages(world)
    updates = update_packages(world)
    tool = next(d for d in updates if d.name.startswith("tool_"))
    _declare(world, tool.name, "Size", str(64 << 20))
    world.publish(*updates)
    # The pool file the signed index describes, replaced: 64 MiB, other content.
    next(world.repo.root.rglob(tool.name)).write_bytes(os.urandom(64 << 20))
    layout = world.image(world.rootfs(base))
    cache = tmp_path / "cache"
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--cache-dir", cache, cache_dir=False)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "package 'tool' 1.0-2" in last and "does not match" in last, last
    assert "sha256:" not in last.split("does not match")[0], last
    assert disk_used(cache) < 16 << 20, disk_used(cache)


def test_a_failure_stops_the_other_downloads(copa, world, tmp_path):
    """libfoo1 fails its checksum while tool, declared at 2 GiB by the signed
    index, is still downloading: the run stops that download instead of
    finishing it into the cache first, and names libfoo1."""
    base = base_packages(world)
    updates = update_packages(world)
    tool = next(d for d in updates if d.name.startswith("tool_"))
    libfoo = next(d for d in updates if d.name.startswith("libfoo1_"))
    _declare(world, tool.name, "Size", str(2 << 30))
    world.publish(*updates)
    with open(next(world.repo.root.rglob(tool.name)), "r+b") as f:
        f.truncate(2 << 30)
    pool = next(world.repo.root.rglob(libfoo.name))
    data = bytearray(pool.read_bytes())
    data[-10] ^= 0xff
    pool.write_bytes(bytes(data))
    layout = world.image(world.rootfs(base))
    cache = tmp_path / "cache"
    cache.mkdir()
    with PeakDisk(cache) as disk:
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--cache-dir", cache, cache_dir=False)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "package 'libfoo1' 1.0-2" in last and "does not match" in last, last
    assert disk.peak < 512 << 20, f"{disk.peak} bytes under the cache"
    assert list((cache / "tmp").iterdir()) == []
