"""Live Debian fixtures: a real bookworm root file system built from the point
release with mmdebstrap (scripts/mkdebian.sh), cached on this machine. Tests
that use it skip, saying why, when deb.debian.org is unreachable."""
import os
import pathlib
import subprocess
import urllib.request

import pytest

from fx_cache import cached, check_rootfs_tar

ROOT = pathlib.Path(__file__).resolve().parents[2]

__all__ = ["reachable", "bookworm_tar", "bookworm_i386_tar", "MIRROR"]

MIRROR = "http://deb.debian.org/debian/dists/bookworm/InRelease"


def reachable():
    try:
        with urllib.request.urlopen(urllib.request.Request(MIRROR, method="HEAD"), timeout=15) as r:
            return r.status == 200, ""
    except Exception as e:  # noqa: BLE001 - any failure means "skip, and say why"
        return False, str(e)


def _live_tar(name, *args):
    ok, why = reachable()
    if not ok:
        pytest.skip(f"deb.debian.org is unreachable ({why}): the live Debian tests cannot run")
    if os.geteuid() != 0:
        pytest.skip("the live Debian tests compare with apt in a chroot, which needs root")
    # Shared by runs (and worktrees) on this machine: building it takes minutes.
    cache = pathlib.Path(os.environ.get("COPA_LIVE_CACHE", "/tmp/copa-live"))
    # A week-old point-release tree is still a point-release tree; rebuild after that.
    return cached(cache / name,
                  lambda tmp: subprocess.run([str(ROOT / "scripts/mkdebian.sh"), str(tmp),
                                              "bookworm", *args], check=True, timeout=1800),
                  check_rootfs_tar, max_age=7 * 86400)


@pytest.fixture(scope="session")
def bookworm_tar():
    return _live_tar("bookworm-amd64.tar", "amd64")


@pytest.fixture(scope="session")
def bookworm_i386_tar():
    """The image after `dpkg --add-architecture i386` with i386 libraries installed
    (as images that run 32-bit programs have it): a second dpkg architecture."""
    return _live_tar("bookworm-amd64-i386.tar", "amd64,i386", "libc6:i386,zlib1g:i386")


