"""copa's Debian applier on a real Debian bookworm (mmdebstrap from
deb.debian.org, point release only) against the real dpkg run inside it
(chroot), maintainer scripts and triggers included: the real security and
stable updates of every installed package, and ca-certificates, whose
/etc/ssl/certs copa regenerates natively (the reference being the real
postinst, update-ca-certificates and `openssl rehash`). The chroot is built
once and cached ($COPA_TEST_CACHE, default /var/tmp/copa-test-cache);
without the archive these tests skip, saying so.
"""
import hashlib
import lzma
import os
import pathlib
import shutil
import subprocess
import urllib.request

import pytest

from fx_cache import cached, check_rootfs_tar, check_sha256
from fx_debpkg import DPKG_IGNORED, copa_debapply, copy_tree, package_paths, tree_diff

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.usefixtures("dpkg_tools")]

MIRROR = os.environ.get("COPA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("COPA_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
CACHE = pathlib.Path(os.environ.get("COPA_TEST_CACHE", "/var/tmp/copa-test-cache"))
# What the skipped scripts and triggers write that copa does not: debconf's
# database, ldconfig's cache (the libc-bin trigger), dpkg's log.
IGNORED = DPKG_IGNORED + ("var/cache/debconf", "var/cache/ldconfig", "etc/ld.so.cache")


def reachable(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def bookworm_tar():
    if not reachable(f"{MIRROR}/dists/bookworm/InRelease"):
        pytest.skip(f"{MIRROR} is unreachable: cannot build the bookworm chroot")
    if not shutil.which("mmdebstrap"):
        pytest.fail("mmdebstrap is not installed (scripts/install-deps.sh installs it)")
    # --format=tar: without it mmdebstrap picks the format from the file name.
    return cached(CACHE / "bookworm-minbase-ca-certificates.tar",
                  lambda tmp: subprocess.run(
                      ["mmdebstrap", "--quiet", "--variant=minbase", "--format=tar",
                       "--include=ca-certificates", "bookworm", str(tmp),
                       f"deb {MIRROR} bookworm main"], check=True, timeout=1800),
                  check_rootfs_tar)
    if not reachable(f"{MIRROR}/dists/bookworm/InRelease"):
        pytest.skip(f"{MIRROR} is unreachable: cannot build the bookworm chroot")
    if not shutil.which("mmdebstrap"):
        pytest.fail("mmdebstrap is not installed (scripts/install-deps.sh installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = tar.with_suffix(f".tmp{os.getpid()}")
    subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--include=ca-certificates",
                    "bookworm", str(tmp), f"deb {MIRROR} bookworm main"], check=True,
                   timeout=1800)
    tmp.rename(tar)
    return tar


def extract(tar, dest):
    dest.mkdir()
    subprocess.run(["tar", "-C", str(dest), "-xf", str(tar)], check=True)
    return dest


def installed_version(root, name):
    for stanza in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        if stanza.startswith(f"Package: {name}\n"):
            return next(l.split(": ", 1)[1] for l in stanza.splitlines()
                        if l.startswith("Version: "))
    return None


def packages_index(base_url, suite):
    url = f"{base_url}/dists/{suite}/main/binary-amd64/Packages.xz"
    with urllib.request.urlopen(url, timeout=60) as r:
        text = lzma.decompress(r.read()).decode()
    return [dict(l.split(": ", 1) for l in stanza.splitlines() if ": " in l and l[0] != " ")
            for stanza in text.split("\n\n") if stanza.strip()]


def download(base_url, best):
    """The package of an index entry, its sha256 checked (also when cached)."""
    def fetch(tmp):
        with urllib.request.urlopen(f"{base_url}/{best['Filename']}", timeout=120) as r:
            tmp.write_bytes(r.read())
    return cached(CACHE / os.path.basename(best["Filename"]), fetch, check_sha256(best["SHA256"]))


def fetch_deb(base_url, suite, name, version=None):
    """Downloads a package from a Debian archive index (sha256 checked); cached."""
    best = None
    for f in packages_index(base_url, suite):
        if f.get("Package") == name and (version is None or f.get("Version") == version):
            best = f
    return download(base_url, best) if best else None


def version_gt(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def chroot(root, *argv):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    p = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, env=env)
    assert p.returncode == 0, f"chroot {' '.join(argv)}: {p.stdout}\n{p.stderr}"
    return p


def dpkg_install_ordered(root, debs):
    """dpkg -i of a set of updates, as apt orders it: a package whose
    Pre-Depends is another update of the set (libpam-modules on
    libpam-modules-bin) is refused until that one is configured, so the
    packages dpkg refused are installed again in a later run."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    for _ in range(len(debs)):
        p = subprocess.run(["chroot", str(root), "dpkg", "-i", *debs], capture_output=True,
                           text=True, env=env)
        if p.returncode == 0:
            return
        out = p.stdout + p.stderr
        tail = out.split("Errors were encountered while processing:", 1)
        failed = tail[1].split() if len(tail) == 2 else []
        assert failed and len(failed) < len(debs) and "pre-dependency problem" in out, \
            f"dpkg -i failed:\n{p.stdout}\n{p.stderr}"
        debs = failed
    raise AssertionError(f"dpkg -i never installed {debs}")


def dpkg_in_chroot(root, deb):
    shutil.copy(deb, root / "tmp/pkg.deb")
    p = chroot(root, "dpkg", "-i", "/tmp/pkg.deb")
    (root / "tmp/pkg.deb").unlink()
    return p


def compare(tmp_path, base, deb):
    ref = tmp_path / "dpkg"
    # cp -a (copy_tree), never shutil.copytree: copytree reads device nodes as
    # files, and copying dev/full that way never ends (it once filled the disk).
    copy_tree(base, ref)
    dpkg_in_chroot(ref, deb)
    out = tmp_path / "copa"
    p, results = copa_debapply(base, out, [deb])
    # Files the scripts generate get the time of the run from them, the
    # packages' newest mtime from copa (a reproducible layer): mtimes aside.
    diff = tree_diff(ref, out, ignore=IGNORED,
                     mtimes_outside=("var/lib/dpkg", "etc/ssl/certs", "etc/ca-certificates.conf"))
    assert diff == [], "copa and the real ca-certificates scripts disagree:\n" + "\n".join(diff)
    return ref, out, p, results


def test_real_security_update(tmp_path, bookworm_tar):
    base = extract(bookworm_tar, tmp_path / "base")
    old = installed_version(base, "ca-certificates")
    if not reachable(f"{SECURITY}/dists/bookworm-security/InRelease"):
        pytest.skip(f"{SECURITY} is unreachable")
    deb = fetch_deb(SECURITY, "bookworm-security", "ca-certificates")
    if deb is None:
        pytest.skip("bookworm-security has no ca-certificates update")
    if not version_gt(deb.name.split("_")[1].replace("%3a", ":"), old):
        pytest.skip(f"bookworm-security's ca-certificates is not newer than {old}")
    ref, out, p, results = compare(tmp_path, base, deb)
    assert results[0]["old_version"] == old
    assert any("regenerated /etc/ssl/certs/ca-certificates.crt" in n for n in p.run["run_notes"])
    # The bundle really changed, and every .pem link points at a shipped certificate.
    assert (out / "etc/ssl/certs/ca-certificates.crt").read_bytes() != \
        (base / "etc/ssl/certs/ca-certificates.crt").read_bytes()


def make_cert(path, subject, key=None):
    keyfile = path.with_suffix(".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(keyfile), "-subj", subject, "-days", "3650", "-out", str(path)],
                   check=True, capture_output=True)
    keyfile.unlink()
    return path


def repack(tmp_path, deb, drop, add):
    """The same ca-certificates package with one certificate dropped and one
    added, at a higher version."""
    work = tmp_path / "repack"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(work)], check=True)
    ctl = work / "DEBIAN"
    (work / "usr/share/ca-certificates" / drop).unlink()
    shutil.copy(add, work / "usr/share/ca-certificates/mozilla/Copa_Test_Root.crt")
    control = (ctl / "control").read_text().splitlines()
    control = [l + "+copa1" if l.startswith("Version: ") else l for l in control]
    (ctl / "control").write_text("\n".join(control) + "\n")
    config = (ctl / "config").read_text()
    config = config.replace(f"{drop}, ", "").replace(
        "mozilla/ePKI_Root", "mozilla/Copa_Test_Root.crt, mozilla/ePKI_Root", 1)
    (ctl / "config").write_text(config)
    md5 = [l for l in (ctl / "md5sums").read_text().splitlines() if drop not in l]
    md5.append(hashlib.md5(add.read_bytes()).hexdigest()
               + "  usr/share/ca-certificates/mozilla/Copa_Test_Root.crt")
    (ctl / "md5sums").write_text("\n".join(md5) + "\n")
    out = tmp_path / "ca-certificates_copa1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(work), str(out)], check=True,
                   capture_output=True)
    return out


def test_synthetic_update_deselections_local_and_colliding_certs(tmp_path, bookworm_tar):
    base = extract(bookworm_tar, tmp_path / "base")
    version = installed_version(base, "ca-certificates")
    if not reachable(f"{MIRROR}/dists/bookworm/InRelease"):
        pytest.skip(f"{MIRROR} is unreachable")
    deb = fetch_deb(MIRROR, "bookworm", "ca-certificates", version)
    assert deb, f"ca-certificates {version} is not in bookworm"
    # The image's administrator deselected a certificate; the state is settled.
    conf = base / "etc/ca-certificates.conf"
    conf.write_text(conf.read_text().replace("mozilla/Amazon_Root_CA_1.crt\n",
                                             "!mozilla/Amazon_Root_CA_1.crt\n"))
    chroot(base, "update-ca-certificates")
    assert not (base / "etc/ssl/certs/Amazon_Root_CA_1.pem").exists()
    # Local certificates not yet processed: two with one subject (hash .0/.1)
    # and a duplicate (skipped by rehash).
    local = base / "usr/local/share/ca-certificates"
    make_cert(local / "collide-b.crt", "/CN=Copa Collide")
    make_cert(local / "collide-a.crt", "/CN=Copa Collide")
    shutil.copy(local / "collide-a.crt", local / "dup of a.crt")
    new = repack(tmp_path, deb, "mozilla/Amazon_Root_CA_2.crt",
                 make_cert(tmp_path / "copa-root.crt", "/CN=Copa Test Root"))
    ref, out, p, results = compare(tmp_path, base, new)
    certs = out / "etc/ssl/certs"
    assert os.readlink(certs / "Copa_Test_Root.pem") == \
        "/usr/share/ca-certificates/mozilla/Copa_Test_Root.crt"
    assert not (certs / "Amazon_Root_CA_2.pem").exists()
    assert not (certs / "Amazon_Root_CA_1.pem").exists()
    assert "!mozilla/Amazon_Root_CA_1.crt\n" in (out / "etc/ca-certificates.conf").read_text()
    assert (out / "etc/ca-certificates.conf.dpkg-old").exists()
    import re
    links = {n: os.readlink(certs / n) for n in os.listdir(certs)
             if re.fullmatch(r"[0-9a-f]{8}\.\d+", n) and "collide" in os.readlink(certs / n)}
    assert os.readlink(certs / "dup_of_a.pem") == "/usr/local/share/ca-certificates/dup of a.crt"
    assert sorted(links.values()) == ["collide-a.pem", "collide-b.pem"] and \
        {n.split(".")[1] for n in links} == {"0", "1"}
    bundle = (certs / "ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") == len(
        [l for l in (out / "etc/ca-certificates.conf").read_text().splitlines()
         if l and l[0] not in "#!"]) + 3


def test_real_updates_of_every_installed_package(tmp_path, bookworm_tar):
    """Every package of the image with a newer version in bookworm-security or
    bookworm-updates, applied at once: the whole tree, the status file byte for
    byte, equals what the real dpkg leaves after running every maintainer
    script and trigger, but for IGNORED."""
    base = extract(bookworm_tar, tmp_path / "base")
    for url in (f"{SECURITY}/dists/bookworm-security/InRelease",
                f"{MIRROR}/dists/bookworm-updates/InRelease"):
        if not reachable(url):
            pytest.skip(f"{url} is unreachable")
    installed = {}
    for stanza in (base / "var/lib/dpkg/status").read_text().strip().split("\n\n"):
        f = dict(l.split(": ", 1) for l in stanza.splitlines() if ": " in l and l[0] != " ")
        installed[f["Package"]] = f
    best = {}
    for base_url, suite in ((SECURITY, "bookworm-security"), (MIRROR, "bookworm-updates")):
        for f in packages_index(base_url, suite):
            inst = installed.get(f.get("Package"))
            if not inst or f.get("Architecture") not in (inst["Architecture"], "all"):
                continue
            cur = best.get(f["Package"], (None, {"Version": inst["Version"]}))
            if version_gt(f["Version"], cur[1]["Version"]):
                best[f["Package"]] = (base_url, f)
    if not best:
        pytest.skip("no installed package has an update in bookworm-security or -updates")
    debs = [download(u, f) for u, f in best.values()]
    ref = tmp_path / "dpkg"
    copy_tree(base, ref)
    for d in debs:
        shutil.copy(d, ref / "tmp")
    dpkg_install_ordered(ref, [f"/tmp/{d.name}" for d in debs])
    for d in debs:
        (ref / "tmp" / d.name).unlink()
    out = tmp_path / "copa"
    p, results = copa_debapply(base, out, debs)
    assert sorted(r["name"] for r in results) == sorted(best)
    # Scripts rewrite some files with the same content (etc/timezone, systemd
    # helper state): mtimes are compared for the files packages ship only.
    diff = tree_diff(ref, out, ignore=IGNORED, mtimes_only=package_paths(ref))
    assert diff == [], f"{len(best)} updates ({', '.join(sorted(best))}):\n" + "\n".join(diff)
    assert (out / "var/lib/dpkg/status").read_bytes() == (ref / "var/lib/dpkg/status").read_bytes()
