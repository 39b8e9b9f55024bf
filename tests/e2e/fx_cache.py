"""Caches the e2e tests keep between runs (the mmdebstrap root file systems,
downloaded packages). An entry is built under a temporary name beside its
final one, checked to be what it claims to be, then renamed into place; an
entry already there is checked again before it is trusted, and rebuilt when
it fails (a directory where a tar should be, a truncated tar, a file whose
digest is wrong). A lock file serialises builders of one entry, so two test
runs on one machine never build it twice or see it half-written."""
import contextlib
import fcntl
import hashlib
import os
import pathlib
import shutil
import tarfile
import time

__all__ = ["cached", "check_rootfs_tar", "check_sha256", "CacheEntryError"]


class CacheEntryError(Exception):
    """The cache entry is not what it claims to be."""


def check_rootfs_tar(path):
    """A complete tar archive of a root file system: a regular file (not a
    directory, not a symlink) that reads to its end and holds etc/os-release."""
    st = os.lstat(path)
    if not os.path.isfile(path) or os.path.islink(path):
        raise CacheEntryError(f"{path}: not a regular file (mode {oct(st.st_mode)})")
    seen = False
    try:
        with tarfile.open(path, "r:") as t:
            for m in t:
                if m.name.lstrip("./") in ("etc/os-release", "usr/lib/os-release"):
                    seen = True
    except (tarfile.TarError, OSError, EOFError) as e:
        raise CacheEntryError(f"{path}: not a readable tar archive: {e}") from e
    if not seen:
        raise CacheEntryError(f"{path}: tar archive without etc/os-release")


def check_sha256(expected):
    def check(path):
        if not os.path.isfile(path) or os.path.islink(path):
            raise CacheEntryError(f"{path}: not a regular file")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != expected:
            raise CacheEntryError(f"{path}: sha256 {h.hexdigest()}, expected {expected}")
    return check


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


@contextlib.contextmanager
def _locked(path):
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cached(path, build, check, max_age=None):
    """Returns path after making sure it holds a valid entry. build(tmp) must
    write the entry at tmp, a name in the same directory with the same suffix
    (tools such as mmdebstrap choose their output format from it); check(p)
    raises CacheEntryError when p is not a valid entry. An entry older than
    max_age seconds is rebuilt."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if os.path.lexists(path):
            try:
                check(path)
                fresh = max_age is None or time.time() - os.lstat(path).st_mtime <= max_age
                if fresh:
                    return path
            except CacheEntryError as e:
                print(f"cache: rebuilding a bad entry: {e}")
            _remove(path)
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")
        _remove(tmp)
        try:
            build(tmp)
            check(tmp)
            os.rename(tmp, path)
        finally:
            _remove(tmp)
    return path
