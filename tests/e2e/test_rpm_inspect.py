"""The RPM foundations (src/pkg/rpm/) end to end, through tests/helpers' copa-rpminspect:
packages built with rpmbuild, installed into image roots with Debian's rpm
(`--root R --dbpath ...`), a repository made with createrepo_c, the real Mariner and
RHEL 8 databases and the real distroless manifests from shared/testdata. Every answer
is compared with what rpm itself says about the same files."""
import gzip
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import ROOT

SPEC = """Name: {name}
Version: {ver}
Release: {rel}
{epoch}
Summary: copa test package
License: MIT
BuildArch: noarch
{requires}
%description
copa test package
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {ver} > %{{buildroot}}/usr/share/{name}/version
%files
/usr/share/{name}/version
"""

PKGS = [
    # name, version, release, epoch, requires
    ("copa-hello", "1.0", "1.cm2", None, None),
    ("copa-hello", "1.1", "2.cm2", None, "copa-lib >= 2.0"),
    ("copa-lib", "2.0", "1.cm2", 1, None),
    ("copa-tool", "0.9", "3.cm2", None, "copa-lib"),
]

# The Azure Linux toolkit's query for container-manifest-2 (see shared/testdata PROVENANCE).
MANIFEST2_QF = ("%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\t%{BUILDTIME}\\t%{VENDOR}\\t"
                "(none)\\t%{SIZE}\\t%{ARCH}\\t%{EPOCHNUM}\\t%{SOURCERPM}\\n")


def helper_path():
    build = pathlib.Path(os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))).parent
    return build / "tests" / "helpers" / "copa-rpminspect"


@pytest.fixture
def inspect():
    exe = helper_path()
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} not found: build the tree first (ninja -C build)")

    def run(*args, ok=True):
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                           timeout=300)
        if ok and p.returncode != 0:
            raise AssertionError(f"copa-rpminspect {args[0]} failed:\n{p.stderr}")
        if not ok and p.returncode == 0:
            raise AssertionError(f"copa-rpminspect {args[0]} succeeded:\n{p.stdout}")
        return p

    return run


def rpm(*args, check=True):
    return subprocess.run(["rpm", *map(str, args)], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The test packages (rpmbuild) and a repository of them (createrepo_c)."""
    tmp = tmp_path_factory.mktemp("rpmbuild")
    rpms = tmp / "rpms"
    for name, ver, rel, epoch, req in PKGS:
        spec = tmp / f"{name}-{ver}.spec"
        spec.write_text(SPEC.format(name=name, ver=ver, rel=rel,
                                    epoch=f"Epoch: {epoch}" if epoch else "",
                                    requires=f"Requires: {req}" if req else ""))
        subprocess.run(["rpmbuild", "--quiet", "-bb", "--define", f"_topdir {tmp}/top",
                        "--define", f"_rpmdir {rpms}", str(spec)], check=True,
                       capture_output=True)
    repo = tmp / "repo"
    shutil.copytree(rpms, repo)
    subprocess.run(["createrepo_c", "-q", "--no-database", str(repo)], check=True)
    return {"rpms": sorted((rpms / "noarch").glob("*.rpm")), "repo": repo}


def install_root(root, rpms, dbpath="/var/lib/rpm"):
    """An image root with rpms installed by Debian's rpm (scripts off, as copa never runs them)."""
    (root / dbpath.lstrip("/")).mkdir(parents=True, exist_ok=True)
    rpm("--root", root, "--dbpath", dbpath, "--initdb")
    rpm("--root", root, "--dbpath", dbpath, "-i", "--nodeps", "--noscripts", "--notriggers",
        *rpms)
    return root


def rpm_qa(root, dbpath="/var/lib/rpm"):
    """rpm -qa on a copy of root's database (librpm writes -wal/-shm beside it)."""
    copy = root.parent / (root.name + "-qa")
    shutil.rmtree(copy, ignore_errors=True)
    src = root / dbpath.lstrip("/")
    shutil.copytree(src, copy / "var/lib/rpm")
    out = rpm("--root", copy, "--dbpath", "/var/lib/rpm", "-qa").stdout.split()
    shutil.rmtree(copy)
    return sorted(out)


def parse_db(out):
    lines = out.splitlines()
    kind, dbpath, n = lines[0].split()
    pkgs = [line.split("\t") for line in lines[1:]]
    assert len(pkgs) == int(n)
    return kind, dbpath, pkgs


def test_sqlite_root_lists_what_rpm_lists(tmp_path, built, inspect):
    latest = [p for p in built["rpms"] if "copa-hello-1.0" not in p.name]
    root = install_root(tmp_path / "root", latest)
    assert (root / "usr/share/copa-hello/version").read_text() == "1.1\n"
    before = sorted(p.name for p in (root / "var/lib/rpm").iterdir())
    kind, dbpath, pkgs = parse_db(inspect("db", root).stdout)
    assert (kind, dbpath) == ("sqlite", "var/lib/rpm")
    want = rpm_qa(root)
    assert len(want) == 3
    assert sorted(p[0] for p in pkgs) == want
    assert ["copa-lib-2.0-1.cm2.noarch", "1:2.0-1.cm2"] in pkgs
    # the image's database directory is left as it was
    assert sorted(p.name for p in (root / "var/lib/rpm").iterdir()) == before


def test_sysimage_layout_with_symlink(tmp_path, built, inspect):
    root = install_root(tmp_path / "root", built["rpms"][:1], dbpath="/usr/lib/sysimage/rpm")
    (root / "var/lib").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    kind, dbpath, pkgs = parse_db(inspect("db", root).stdout)
    assert (kind, dbpath) == ("sqlite", "usr/lib/sysimage/rpm")
    assert sorted(p[0] for p in pkgs) == rpm_qa(root, "/usr/lib/sysimage/rpm")
    # an explicit %_dbpath pointing elsewhere fails, naming it
    p = inspect("db", root, "/opt/rpm", ok=False)
    assert "'opt/rpm'" in p.stderr


def test_real_databases(tmp_path, shared_dir, inspect):
    rpmdb = shared_dir / "rpm" / "rpmdb"
    cases = [("mariner-2.0-sqlite/rpmdb.sqlite", "sqlite", 129),
             ("rhel-8-bdb/Packages", "bdb", 1)]
    for rel, kind, count in cases:
        root = tmp_path / kind
        (root / "var/lib/rpm").mkdir(parents=True)
        shutil.copy(rpmdb / rel, root / "var/lib/rpm")
        os.chmod(root / "var/lib/rpm" / pathlib.Path(rel).name, 0o444)
        got_kind, _, pkgs = parse_db(inspect("db", root).stdout)
        assert got_kind == kind
        want = rpm_qa(root)
        assert len(want) == count
        assert sorted(p[0] for p in pkgs) == want
    root = tmp_path / "ndb"
    (root / "usr/lib/sysimage/rpm").mkdir(parents=True)
    shutil.copy(rpmdb / "sle-15-ndb/Packages.db", root / "usr/lib/sysimage/rpm")
    p = inspect("db", root, ok=False)
    assert "NDB" in p.stderr and "'usr/lib/sysimage/rpm/Packages.db'" in p.stderr


def test_distroless_manifests(tmp_path, shared_dir, built, inspect):
    mf = shared_dir / "rpm" / "rpmmanifest"
    m2, m1 = mf / "mariner-2.0.container-manifest-2", mf / "mariner-2.0.container-manifest-1"
    out = inspect("manifest", m2, m1).stdout
    assert out == m2.read_text() + m1.read_text()
    # manifests of a root built here, written by rpm with the toolkit's queries
    root = install_root(tmp_path / "root", built["rpms"][1:])
    qa = root.parent / "qa"
    shutil.copytree(root / "var/lib/rpm", qa / "var/lib/rpm")
    two = tmp_path / "container-manifest-2"
    one = tmp_path / "container-manifest-1"
    two.write_text(rpm("--root", qa, "--dbpath", "/var/lib/rpm", "-qa", "--qf",
                       MANIFEST2_QF).stdout)
    one.write_text(rpm("--root", qa, "--dbpath", "/var/lib/rpm", "-qa").stdout)
    assert "\t1\tcopa-lib-2.0-1.cm2.src.rpm" in two.read_text()
    assert inspect("manifest", two, one).stdout == two.read_text() + one.read_text()
    # a line Trivy would refuse is refused, naming file and line
    bad = tmp_path / "bad-2"
    bad.write_text(two.read_text() + "glibc\t2.35\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n")
    p = inspect("manifest", bad, ok=False)
    assert f"'{bad}' line 4: version-release (field 2) has no '-'" in p.stderr


def test_repo_files_and_rpmmd(tmp_path, built, inspect):
    root = tmp_path / "root"
    repo = built["repo"]
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/dnf/vars").mkdir(parents=True)
    (root / "etc/dnf/vars/repodir").write_text(f"{repo.parent}\n")
    (root / "etc/yum.repos.d/local.repo").write_text(
        "[local-$basearch]\nname=local $releasever\nbaseurl=file://${repodir}/repo\n"
        "gpgcheck=0\n\n[other]\nbaseurl=https://example.invalid/$releasever/$basearch/\n"
        "enabled=0\n")
    lines = inspect("repos", root, "2.0", "x86_64").stdout.splitlines()
    assert lines == [f"local-x86_64\t1\t0\t0\tfile://{repo}",
                     "other\t0\t1\t0\thttps://example.invalid/2.0/x86_64/"]
    url = lines[0].split("\t")[4]
    out = inspect("rpmmd", url[len("file://"):]).stdout.splitlines()
    want = sorted(rpm("-qp", "--qf",
                      "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n",
                      *built["rpms"]).stdout.split())
    assert out[0] == str(len(PKGS))
    assert sorted(out[1:]) == want


def test_tampered_primary_refused(tmp_path, built, inspect):
    repo = tmp_path / "repo"
    shutil.copytree(built["repo"], repo)
    primary = next((repo / "repodata").glob("*-primary.xml.gz"))
    text = gzip.decompress(primary.read_bytes()).replace(b"copa-tool", b"evil-tool")
    primary.write_bytes(gzip.compress(text))
    p = inspect("rpmmd", repo, ok=False)
    assert "does not match repomd.xml" in p.stderr
