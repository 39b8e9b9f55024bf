"""Live: a real Debian bookworm image built from the point release only
(mmdebstrap, with the standard bookworm, bookworm-updates and
bookworm-security sources written inside) is patched by copa from the real
Debian archives. Then, inside the unpacked result, Debian's own tools must
agree (dpkg --audit, apt-get check, dpkg-query, apt list --upgradable), and
the tree must equal what the image's own apt-get upgrade produces. The same
for the image with a second dpkg architecture (i386 libraries installed after
`dpkg --add-architecture i386`).
Skips, saying why, when deb.debian.org is unreachable."""
import json
import os
import shutil
import subprocess

import pytest

import imagetools as it
from fx_debpkg import package_paths, tree_diff

pytestmark = [pytest.mark.live, pytest.mark.slow]

# What apt's run leaves that copa's does not, on purpose, or that is state of
# the run itself (package lists, caches, logs, locks): compared nowhere.
NOT_COMPARED = (
    "dev", "proc", "sys", "run", "tmp", "etc/resolv.conf",
    "var/lib/apt/lists", "var/cache/apt", "var/log", "var/cache/debconf",
    "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend", "var/lib/dpkg/status-old",
    "var/lib/dpkg/available-old", "var/lib/dpkg/triggers",
    # The ldconfig trigger is not run (no program from the image is); the cache
    # it would refresh is etc/ld.so.cache, which the comparison covers by content.
    "var/cache/ldconfig/aux-cache",
)
# Where files are written at run time (by dpkg or maintainer scripts): content,
# mode and owner are compared, the time of the run is not.
RUN_TIME_MTIMES = ("var/lib/dpkg", "var/lib/apt", "var/lib/systemd", "etc")


def chroot(root, *args, check=True):
    p = subprocess.run(["chroot", str(root), *args], capture_output=True, text=True,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
                            "DEBIAN_FRONTEND": "noninteractive"}, timeout=900)
    if check and p.returncode != 0:
        raise AssertionError(f"chroot {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def unpack_as_root(layout, tag, dest):
    """umoci with real ownership (not --rootless): groups such as shadow are kept."""
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(dest)],
                   capture_output=True, text=True, check=True)
    return dest / "rootfs"


@pytest.fixture(scope="module", params=["amd64", "amd64+i386"])
def live_tar(request):
    return request.getfixturevalue("bookworm_tar" if request.param == "amd64"
                                   else "bookworm_i386_tar")


@pytest.fixture(scope="module")
def live_image(live_tar, tmp_path_factory):
    layout = tmp_path_factory.mktemp("live") / "image"
    it.write_image(layout, [live_tar.read_bytes()], tag="12")
    return layout


def installed(root):
    """(package, architecture) -> version, as dpkg-query lists them."""
    out = chroot(root, "dpkg-query", "-W", "-f", "${Package}\t${Architecture}\t${Version}\n").stdout
    return {(n, a): v for n, a, v in (line.split("\t") for line in out.splitlines())}


@pytest.fixture(scope="module")
def apt_reference(live_tar, tmp_path_factory):
    """The same tree upgraded by its own apt-get; returns (root, upgradable before),
    upgradable keyed by (package, architecture)."""
    root = tmp_path_factory.mktemp("apt-ref")
    subprocess.run(["tar", "--numeric-owner", "-xf", str(live_tar), "-C", str(root)],
                   check=True)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    chroot(root, "apt-get", "-qq", "update")
    listing = chroot(root, "apt", "list", "--upgradable").stdout
    upgradable = {}
    for line in listing.splitlines():
        if "[upgradable from" in line:
            name = line.split("/", 1)[0]
            upgradable[(name, line.split()[2])] = line.split()[1]
    chroot(root, "apt-get", "-qq", "-y", "upgrade")
    yield root, upgradable
    shutil.rmtree(root, ignore_errors=True)


def test_live_update_all_matches_apt(copa, live_tar, live_image, apt_reference, tmp_path):
    ref_root, upgradable = apt_reference
    ref_versions = installed(ref_root)
    if "i386" in live_tar.name:
        archs = {a for _, a in ref_versions}
        assert {"amd64", "i386"} <= archs, f"the image was to have i386 packages: {archs}"
    if not upgradable:
        pytest.skip("the bookworm point release has no pending updates today: nothing to compare")
    summary = tmp_path / "summary.json"
    p = copa("patch", "-i", f"oci:{live_image}:12", "-t", "copa", "--summary", summary,
             "--progress", "plain", check=True)
    assert "patched 1 platform" in p.stderr
    rootfs = unpack_as_root(live_image, "copa", tmp_path / "u")
    # Debian's own tools agree with what copa wrote.
    assert chroot(rootfs, "dpkg", "--audit").stdout.strip() == ""
    chroot(rootfs, "apt-get", "check")
    versions = installed(rootfs)
    for key, version in upgradable.items():
        assert versions[key] == version, f"{key}: {versions[key]} != {version}"
    assert versions == ref_versions
    shutil.copy("/etc/resolv.conf", rootfs / "etc/resolv.conf")
    chroot(rootfs, "apt-get", "-qq", "update")
    left = [l for l in chroot(rootfs, "apt", "list", "--upgradable").stdout.splitlines()
            if "upgradable from" in l]
    assert left == [], "apt still sees updates after copa:\n" + "\n".join(left)
    # The same files with the same contents, modes, owners and types as the
    # image's own apt-get upgrade. mtimes are compared for the files packages
    # ship; a file no package ships that differs in its mtime alone was
    # rewritten with the same content by a maintainer script copa skipped
    # (libpam's postinst rewrites var/lib/pam/*): the summary must say so.
    diff = tree_diff(ref_root, rootfs, ignore=NOT_COMPARED, mtimes_outside=RUN_TIME_MTIMES,
                     mtimes_only=package_paths(ref_root))
    print("differences (apt-get upgrade vs copa):", diff or "none")
    assert diff == []
    s = json.loads(summary.read_text())
    rewritten = tree_diff(ref_root, rootfs, ignore=NOT_COMPARED, mtimes_outside=RUN_TIME_MTIMES)
    print("rewritten by skipped scripts (mtime only):", rewritten or "none")
    if rewritten:
        skipped = {x["name"]: x.get("skippedScripts") for x in s["platforms"][0]["packages"]
                   if x.get("skippedScripts")}
        assert skipped, "files differ in mtime only, yet the summary names no skipped script:\n" \
            + "\n".join(rewritten)
    updated = {x["name"] for x in s["platforms"][0]["packages"] if x["outcome"] == "updated"}
    assert updated == {name for name, _ in upgradable}


def test_live_report_mode(copa, live_image, apt_reference, tmp_path):
    _, upgradable = apt_reference
    if not upgradable:
        pytest.skip("the bookworm point release has no pending updates today")
    (name, _), fixed = sorted(upgradable.items())[0]
    report = tmp_path / "report.json"
    report.write_text(json.dumps({
        "apiVersion": "v1alpha1",
        "metadata": {"os": {"type": "debian", "version": "12"}, "config": {"arch": "amd64"}},
        "updates": [{"name": name, "installedVersion": "", "fixedVersion": fixed,
                     "vulnerabilityID": "CVE-2099-1234"}],
    }))
    vex = tmp_path / "vex.json"
    copa("patch", "-i", f"oci:{live_image}:12", "-r", report, "-s", "native", "-t", "report",
         "-o", vex, check=True)
    rootfs = unpack_as_root(live_image, "report", tmp_path / "u")
    got = chroot(rootfs, "dpkg-query", "-W", "-f", "${Version}", name).stdout
    assert subprocess.run(["dpkg", "--compare-versions", got, "ge", fixed]).returncode == 0
    assert chroot(rootfs, "dpkg", "--audit").stdout.strip() == ""
    doc = json.loads(vex.read_text())
    assert [s["vulnerability"]["name"] for s in doc["statements"]] == ["CVE-2099-1234"]
