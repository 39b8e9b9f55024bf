"""Shared fixtures for copa's end-to-end tests.

The tests drive the real `copa` binary (COPA_BIN, default build/copa)
against real services started here: docker-registry on 127.0.0.1, HTTP
servers for package repositories, repositories and images built with the
distributions' own tools. Fixture modules live beside this file as
fx_<area>.py and are imported below.
"""
import os
import subprocess
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Real material from other public projects (reports, VEX documents, schemas,
# Alpine and RPM data) is never committed here: it is read from shared/testdata
# beside the clone (read-only in CI), or from $COPA_SHARED_TESTDATA.
SHARED = pathlib.Path(os.environ.get("COPA_SHARED_TESTDATA", ROOT.parent / "shared" / "testdata"))
if not (SHARED / "PROVENANCE.md").is_file():
    raise pytest.UsageError(f"copa's e2e tests read test data from {SHARED}, which is missing: "
                            "put the project's shared/ beside the clone or set COPA_SHARED_TESTDATA")

from fx_services import *  # noqa: E402,F401,F403
from fx_image import *  # noqa: E402,F401,F403
from fx_registry import *  # noqa: E402,F401,F403
from fx_report import *  # noqa: E402,F401,F403


def copa_path():
    return os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))


@pytest.fixture(scope="session")
def copa_bin():
    path = copa_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"copa binary not found at {path}: build it first (make build) or set COPA_BIN")
    return path


@pytest.fixture
def copa(copa_bin, tmp_path):
    """Runs copa with a private cache; returns the CompletedProcess (text mode)."""
    cache = tmp_path / "copa-cache"

    def run(*args, check=False, env=None, timeout=600, input=None, cache_dir=True):
        full_env = dict(os.environ)
        full_env.setdefault("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        if env:
            full_env.update(env)
        argv = [copa_bin, *map(str, args)]
        if cache_dir and len(args) and args[0] in ("patch", "inspect", "generate"):
            argv[2:2] = ["--cache-dir", str(cache)]
        p = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                           timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"copa {' '.join(map(str, args))} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    return run


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.is_dir():
        pytest.fail(f"shared test data not found at {SHARED}")
    return SHARED
from fx_debrepo import *  # noqa: E402,F401,F403
from fx_debpkg import *  # noqa: E402,F401,F403
from fx_patch import *  # noqa: E402,F401,F403
from fx_live import *  # noqa: E402,F401,F403
