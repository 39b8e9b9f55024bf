"""Fixtures for the image transport tests: the copa-copy helper (built from
tests/helpers/copy.c beside the copa binary) and a private podman store."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest


def copa_copy_path():
    explicit = os.environ.get("COPA_COPY_BIN")
    if explicit:
        return explicit
    copa = os.environ.get("COPA_BIN")
    root = pathlib.Path(__file__).resolve().parents[2]
    build = pathlib.Path(copa).parent if copa else root / "build"
    return str(build / "tests" / "helpers" / "copa-copy")


@pytest.fixture
def copa_copy(tmp_path):
    """Runs copa-copy with a private cache; returns the CompletedProcess."""
    path = copa_copy_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"copa-copy not found at {path}: build it first (ninja -C build)")
    cache = tmp_path / "copy-cache"

    def run(*args, check=True, timeout=600):
        argv = [path, *map(str, args), "--cache-dir", str(cache)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"copa-copy {' '.join(map(str, args))} exited "
                                 f"{p.returncode}\n{p.stderr}")
        return p

    run.cache = cache
    return run


@pytest.fixture
def podman_store(tmp_path):
    """podman with a private vfs store: returns a function running podman args."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (scripts/install-deps.sh installs it)")
    root = tmp_path / "podman-root"
    # podman refuses a runroot longer than 50 characters: use a short private one
    runroot = pathlib.Path(tempfile.mkdtemp(prefix="copa-pm-"))

    def run(*args, check=True):
        argv = ["podman", "--root", str(root), "--runroot", str(runroot),
                "--storage-driver", "vfs", *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=300)

    yield run
    shutil.rmtree(runroot, ignore_errors=True)
