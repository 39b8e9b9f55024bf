"""copa's Alpine applier against Alpine's own apk.

On the real Alpine 3.20.3 x86_64 minirootfs, newer versions of packages the
image has are rebuilt from its real files (fx_apkrepo.py) and applied twice:
by the root's own apk 2.14 run inside a copy of it (bwrap, no network) and by
copa-apkapply (copa's applier, its layer materialised on another copy). The
trees (paths, types, modes, owners, contents, symlink targets) and the
installed database must be identical, except for the mount points bwrap
makes (/dev, /proc, /keys, /repo). Inside the copa result, apk itself must
see the new versions and find nothing modified that apk did not.
"""
import json
import os
import pathlib
import shutil
import stat
import subprocess

import pytest

from conftest import ROOT, SHARED
from fx_apkrepo import (Entry, Key, apk_in_root, build_apk, build_index, extract_rootfs,
                        minirootfs, read_installed, rebuild)

# bwrap's mount points inside the reference root, and the directories apk
# creates inside bwrap's private /dev rather than in the root.
BWRAP = ("dev", "proc", "keys", "repo", ".qemu")
BB = {"busybox=1.36.1-r29": "busybox=1.36.1-r30"}


def helper():
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    path = pathlib.Path(copa).parent / "tests" / "helpers" / "copa-apkapply"
    if not os.access(path, os.X_OK):
        pytest.fail(f"copa-apkapply not found at {path}: build the project first")
    return path


def snapshot(root, ignore=BWRAP):
    out = {}
    for dp, dns, fns in os.walk(root):
        rel_dp = os.path.relpath(dp, root)
        if rel_dp != "." and rel_dp.split("/")[0] in ignore:
            continue
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            if rel.split("/")[0] in ignore:
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p), st.st_uid, st.st_gid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, f.read())
    return out


def tree_diff(a, b):
    sa, sb = snapshot(a), snapshot(b)
    return [f"{k}: apk {str(sa.get(k))[:120]} != copa {str(sb.get(k))[:120]}"
            for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]


def copa_apply(base, out, args, check=True):
    p = subprocess.run([str(helper()), "--root", str(base), "--out", str(out), *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"copa-apkapply exited {p.returncode}:\n{p.stderr}")
    p.results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return p


def copy(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def alpine(tmp_path_factory):
    """The minirootfs, a test key, and rebuilt newer packages: zlib with a new
    dependency, alpine-baselayout with a dropped file, a dropped config, a
    changed config the image modified (.apk-new) and one it did not, the
    busybox trio; a package signed by an unknown key and a tampered one."""
    if not shutil.which("bwrap"):
        pytest.fail("bwrap is not installed (scripts/install-deps.sh installs bubblewrap)")
    if os.uname().machine != "x86_64" or os.geteuid() != 0:
        pytest.skip("the reference is the x86_64 minirootfs's apk, run as root with bwrap")
    w = tmp_path_factory.mktemp("apkapply")
    key = Key(w / "key")
    keys = key.install(w / "keys")
    pristine = extract_rootfs(minirootfs(SHARED), w / "pristine")
    base = copy(pristine, w / "base")
    (base / "etc/motd").write_text("the administrator's motd\n")
    pk = w / "pkgs"
    d = {"url": "https://example.org/copa", "license": "MIT", "origin": "zlib-extra"}
    extra = build_apk(pk, {"pkgname": "zlib-extra", "pkgver": "1.0-r0", "pkgdesc": "extra", **d,
                           "depend": ["so:libc.musl-x86_64.so.1"]},
                      [Entry("usr/", "dir", mode=0o755), Entry("usr/share/", "dir", mode=0o755),
                       Entry("usr/share/zlib-extra/", "dir", mode=0o750),
                       Entry("usr/share/zlib-extra/README", "file", b"extra\n", 0o640, 0, 0)],
                      key)
    zlib = rebuild(pristine, "zlib", pk, key, depends_add=["zlib-extra"])
    layout = rebuild(pristine, "alpine-baselayout", pk, key,
                     drop=["etc/modprobe.d/i386.conf", "lib/sysctl.d/00-alpine.conf"],
                     change={"etc/motd": b"a new motd\n", "etc/modprobe.d/kms.conf": b"# kms 2\n"})
    busybox = [rebuild(pristine, n, pk, key, deps_map=BB)
               for n in ("busybox", "busybox-binsh", "ssl_client")]
    scanelf = rebuild(pristine, "scanelf", pk, key)
    other = Key(w / "other")
    unknown = rebuild(pristine, "zlib", w / "unknown", other, depends_add=["zlib-extra"])
    tampered = w / "tampered" / zlib.path.name
    tampered.parent.mkdir()
    blob = bytearray(zlib.path.read_bytes())
    blob[-40] ^= 1  # inside the data member: its datahash no longer matches
    tampered.write_bytes(bytes(blob))
    repo = w / "repo"
    build_index(repo, [extra, zlib, layout], key)
    bbrepo = w / "bbrepo"
    build_index(bbrepo, busybox, key)
    screpo = w / "screpo"
    build_index(screpo, [scanelf], key)
    return dict(w=w, key=key, keys=keys, pristine=pristine, base=base, extra=extra, zlib=zlib,
                layout=layout, busybox=busybox, unknown=unknown, tampered=tampered, repo=repo,
                bbrepo=bbrepo, scanelf=scanelf, screpo=screpo)


def arg(p):
    return f"{p.path}={p.csum}"


@pytest.fixture(scope="session")
def upgraded(alpine, tmp_path_factory):
    """apk upgrade --no-scripts and copa on copies of the same base."""
    w = tmp_path_factory.mktemp("upgrade")
    ref = copy(alpine["base"], w / "apk")
    r = apk_in_root(ref, ["upgrade", "--no-scripts"], repo=alpine["repo"], keys=alpine["keys"])
    assert r.returncode == 0, r.stdout + r.stderr
    out = w / "copa"
    p = copa_apply(alpine["base"], out, ["--keys", alpine["keys"], arg(alpine["extra"]),
                                         arg(alpine["zlib"]), arg(alpine["layout"])])
    return ref, out, p


def test_upgrade_matches_apk(upgraded):
    ref, out, p = upgraded
    assert tree_diff(ref, out) == []
    db = "lib/apk/db/installed"
    assert (ref / db).read_bytes() == (out / db).read_bytes()
    for f in ("scripts.tar", "triggers"):
        assert (ref / "lib/apk/db" / f).read_bytes() == (out / "lib/apk/db" / f).read_bytes(), f


def test_upgrade_effects(alpine, upgraded):
    """What the comparison covers, asserted directly so a change in both fails too."""
    _, out, p = upgraded
    assert (out / "etc/motd").read_text() == "the administrator's motd\n"
    assert (out / "etc/motd.apk-new").read_text() == "a new motd\n"
    assert (out / "etc/modprobe.d/kms.conf").read_text() == "# kms 2\n"
    assert not (out / "etc/modprobe.d/kms.conf.apk-new").exists()
    assert not (out / "etc/modprobe.d/i386.conf").exists()
    assert not (out / "lib/sysctl.d/00-alpine.conf").exists()
    assert (out / "usr/share/zlib-extra/README").read_text() == "extra\n"
    assert stat.S_IMODE(os.stat(out / "usr/share/zlib-extra").st_mode) == 0o750
    layout = next(r for r in p.results if r.get("name") == "alpine-baselayout")
    assert layout["skipped"][:2] == ["pre-upgrade", "post-upgrade"]
    assert p.results[-1]["whiteouts"] == 2
    assert p.results[-1]["versions"]["zlib"] == alpine["zlib"].version


def test_apk_reads_the_copa_result(alpine, upgraded):
    ref, out, _ = upgraded
    info = apk_in_root(out, ["info", "-v"])
    assert info.returncode == 0, info.stderr
    for p in (alpine["extra"], alpine["zlib"], alpine["layout"]):
        assert f"{p.name}-{p.version}" in info.stdout.split()
    audit = apk_in_root(out, ["audit"])
    assert audit.returncode in (0, 1), audit.stderr
    # apk's own result audits the same; against the image as it came, the only
    # change is the administrator's motd (the .apk-new beside it is not audited)
    assert audit.stdout.splitlines() == apk_in_root(ref, ["audit"]).stdout.splitlines()
    before = set(apk_in_root(alpine["pristine"], ["audit"]).stdout.splitlines())
    assert set(audit.stdout.splitlines()) - before == {"U etc/motd"}
    again = apk_in_root(out, ["upgrade", "--simulate"], repo=alpine["repo"], keys=alpine["keys"])
    assert again.returncode == 0 and "Upgrading" not in again.stdout, again.stdout


def _links(root):
    out = {}
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin"):
        for n in os.listdir(root / d):
            if (root / d / n).is_symlink():
                out[f"{d}/{n}"] = os.readlink(root / d / n)
    return out


def _bb_base(alpine, tmp_path):
    base = copy(alpine["pristine"], tmp_path / "base")
    os.unlink(base / "usr/bin/[[")
    os.unlink(base / "sbin/acpid")
    os.symlink("/bin/busybox", base / "usr/bin/oldapplet")
    os.symlink("/bin/busybox", base / "usr/local/bin/notmine")
    return base


def test_busybox_applet_links_as_its_scripts_make_them(alpine, tmp_path):
    """busybox upgraded in an image missing two applet links and carrying a
    stale one: copa's native links equal what the real post-upgrade and
    trigger scripts leave (apk run with scripts)."""
    base = _bb_base(alpine, tmp_path)
    ref = copy(base, tmp_path / "apk")
    r = apk_in_root(ref, ["upgrade"], repo=alpine["bbrepo"], keys=alpine["keys"])
    assert r.returncode == 0 and "busybox-1.36.1-r30.post-upgrade" in r.stdout, r.stdout + r.stderr
    out = tmp_path / "copa"
    p = copa_apply(base, out, ["--keys", alpine["keys"], *map(arg, alpine["busybox"])])
    links = _links(out)
    assert links == _links(ref)
    assert links["usr/bin/[["] == "/bin/busybox" and "usr/bin/oldapplet" not in links
    assert links["usr/local/bin/notmine"] == "/bin/busybox"
    assert p.results[0]["skipped"] == ["post-upgrade", "trigger"]
    db = "lib/apk/db/installed"
    assert (ref / db).read_bytes() == (out / db).read_bytes()


def test_busybox_trigger_restores_links(alpine, tmp_path):
    """Another package installed into usr/bin fires busybox's trigger, which
    only adds missing applet links (the stale one stays)."""
    base = _bb_base(alpine, tmp_path)
    ref = copy(base, tmp_path / "apk")
    r = apk_in_root(ref, ["upgrade"], repo=alpine["screpo"], keys=alpine["keys"])
    assert r.returncode == 0 and "busybox-1.36.1-r29.trigger" in r.stdout, r.stdout + r.stderr
    out = tmp_path / "copa"
    p = copa_apply(base, out, ["--keys", alpine["keys"], arg(alpine["scanelf"])])
    assert "trigger (of busybox 1.36.1-r29)" in p.results[0]["skipped"]
    links = _links(out)
    assert links == _links(ref)
    assert links["sbin/acpid"] == "/bin/busybox" and links["usr/bin/oldapplet"] == "/bin/busybox"


@pytest.mark.parametrize("case", ["unknown", "tampered", "checksum"])
def test_refused_package_changes_nothing(alpine, tmp_path, case):
    pkg = {"unknown": f"{alpine['unknown'].path}",
           "tampered": f"{alpine['tampered']}={alpine['zlib'].csum}",
           "checksum": f"{alpine['zlib'].path}={alpine['extra'].csum}"}[case]
    out = tmp_path / "copa"
    p = copa_apply(alpine["pristine"], out,
                   ["--keys", alpine["keys"], "--keep-going", arg(alpine["extra"]), pkg],
                   check=False)
    assert p.returncode == 3, p.stderr
    bad = next(r for r in p.results if "error" in r)
    assert "\n" not in bad["error"] and "zlib" in bad["error"], bad["error"]
    assert {"unknown": "unknown key", "tampered": "datahash",
            "checksum": "checksum"}[case] in bad["error"], bad["error"]
    assert bad["entries_before"] == bad["entries_after"]
    # the package before it applied; zlib is as the image had it
    assert p.results[-1]["versions"]["zlib"] == "1.3.1-r1"
    assert p.results[-1]["versions"]["zlib-extra"] == "1.0-r0"
    lib = "lib/libz.so.1.3.1"
    assert (out / lib).read_bytes() == (alpine["pristine"] / lib).read_bytes()


def test_file_of_another_package_needs_replaces(alpine, tmp_path):
    """apk's rule: a package may overwrite another's file only when it replaces it."""
    key = alpine["key"]
    # etc/ 0700: apk narrows the directory to what every package listing it allows
    files = [Entry("etc/", "dir", mode=0o700), Entry("etc/securetty", "file", b"console\n")]
    info = {"pkgname": "tty-conf", "pkgver": "1.0-r0", "origin": "tty-conf", "license": "MIT"}
    plain = build_apk(tmp_path / "plain", info, files, key)
    rep = build_apk(tmp_path / "rep", {**info, "replaces": ["busybox"]}, files, key)
    p = copa_apply(alpine["pristine"], tmp_path / "copa1", ["--keys", alpine["keys"], plain.path],
                   check=False)
    assert p.returncode == 1
    assert "'/etc/securetty' belongs to 'busybox-1.36.1-r29'" in p.stderr, p.stderr
    assert not (tmp_path / "copa1").exists()

    build_index(tmp_path / "repo", [rep], key)
    ref = copy(alpine["pristine"], tmp_path / "apk")
    r = apk_in_root(ref, ["add", "--no-scripts", "tty-conf"], repo=tmp_path / "repo",
                    keys=alpine["keys"])
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "copa2"
    copa_apply(alpine["pristine"], out, ["--keys", alpine["keys"], arg(rep)])
    (out / "etc/apk/world").write_bytes((ref / "etc/apk/world").read_bytes())  # apk add's own
    assert stat.S_IMODE(os.stat(out / "etc").st_mode) == 0o700
    assert tree_diff(ref, out) == []
    db = "lib/apk/db/installed"
    assert (ref / db).read_bytes() == (out / db).read_bytes()

    # apk del purges it: its files go (busybox lost etc/securetty to it), the database with them
    r = apk_in_root(ref, ["del", "--no-scripts", "tty-conf"], keys=alpine["keys"])
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "copa3"
    p = copa_apply(alpine["pristine"], out, ["--keys", alpine["keys"], arg(rep), "-r", "tty-conf"])
    assert {"removed": "tty-conf"} in p.results
    assert not (out / "etc/securetty").exists()
    assert stat.S_IMODE(os.stat(out / "etc").st_mode) == 0o755
    assert tree_diff(ref, out) == []
    assert (ref / db).read_bytes() == (out / db).read_bytes()


def _cert(d, cn):
    path = d / f"{cn}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    f"/CN={cn}", "-days", "2", "-keyout", "/dev/null", "-out", str(path)],
                   check=True, capture_output=True)
    return path.read_bytes()


def test_ca_certificates_bundle_regenerated(alpine, tmp_path):
    """ca-certificates installed: its post-install's update-ca-certificates is
    reproduced (Alpine's update-ca.c): ca-cert-*.pem links for the configured
    and the local certificates, links into the certificate directories that
    are no longer wanted removed, others kept, the bundle rewritten."""
    certs = {cn: _cert(tmp_path, cn) for cn in ("Alpha", "Beta", "Gamma", "Local")}
    base = copy(alpine["pristine"], tmp_path / "base")
    local = base / "usr/local/share/ca-certificates"
    local.mkdir(parents=True)
    (local / "my corp(1).crt").write_bytes(certs["Local"])
    etc = base / "etc/ssl/certs"
    os.symlink("/usr/share/ca-certificates/mozilla/Old.crt", etc / "ca-cert-Old.pem")
    os.symlink("/etc/elsewhere.pem", etc / "unrelated.pem")
    moz = "usr/share/ca-certificates/mozilla/"
    D = "dir"
    files = [Entry("etc/", D), Entry("etc/ssl/", D), Entry("etc/ssl/certs/", D),
             Entry("etc/ca-certificates.conf", "file",
                   b"# comment\nmozilla/Alpha.crt\n!mozilla/Gamma.crt\nmozilla/Beta.crt\n"),
             Entry("usr/", D), Entry("usr/share/", D), Entry("usr/share/ca-certificates/", D),
             Entry(moz, D)] + [Entry(moz + f"{cn}.crt", "file", certs[cn])
                            for cn in ("Alpha", "Beta", "Gamma")]
    info = {"pkgname": "ca-certificates", "pkgver": "20240705-r0", "origin": "ca-certificates",
            "license": "MPL-2.0", "triggers": "/usr/share/ca-certificates/* /etc/ssl/certs/*"}
    pkg = build_apk(tmp_path / "pkgs", info, files, alpine["key"],
                    {".post-install": b"#!/bin/sh\nupdate-ca-certificates\n",
                     ".trigger": b"#!/bin/sh\nupdate-ca-certificates\n"})
    out = tmp_path / "copa"
    p = copa_apply(base, out, ["--keys", alpine["keys"], arg(pkg)])
    assert p.results[0]["skipped"] == ["post-install", "trigger"]
    links = {n: os.readlink(out / "etc/ssl/certs" / n)
             for n in os.listdir(out / "etc/ssl/certs") if (out / "etc/ssl/certs" / n).is_symlink()}
    assert links == {"ca-cert-Alpha.pem": "/" + moz + "Alpha.crt",
                     "ca-cert-Beta.pem": "/" + moz + "Beta.crt",
                     "ca-cert-my_corp=1=.pem": "/usr/local/share/ca-certificates/my corp(1).crt",
                     "unrelated.pem": "/etc/elsewhere.pem"}
    bundle = out / "etc/ssl/certs/ca-certificates.crt"
    assert bundle.read_bytes() == certs["Alpha"] + b"\n" + certs["Beta"] + b"\n" + \
        certs["Local"] + b"\n"
    assert stat.S_IMODE(os.lstat(bundle).st_mode) == 0o644
    trig = (out / "lib/apk/db/triggers").read_text().splitlines()
    assert trig[-1] == f"{pkg.csum} /usr/share/ca-certificates/* /etc/ssl/certs/*"

    # --no-cacerts leaves the image's bundle alone
    out2 = tmp_path / "copa2"
    copa_apply(base, out2, ["--keys", alpine["keys"], "--no-cacerts", arg(pkg)])
    assert (out2 / "etc/ssl/certs/ca-certificates.crt").read_bytes() == \
        (base / "etc/ssl/certs/ca-certificates.crt").read_bytes()


def test_repository_served_over_http(alpine, static_server):
    """fx_apkrepo's repositories as `copa patch` will fetch them: <repo>/<arch>/..."""
    import urllib.request
    from fx_apkrepo import serve_repo
    url = serve_repo(static_server, alpine["repo"])
    assert url.startswith("http://127.0.0.1:")
    for name in ("APKINDEX.tar.gz", alpine["zlib"].path.name):
        with urllib.request.urlopen(f"{url}/x86_64/{name}", timeout=10) as r:
            assert r.read() == (alpine["repo"] / "x86_64" / name).read_bytes()


def test_older_apk_keeps_its_database_order(alpine, tmp_path):
    """Alpine 3.15's apk 2.12 writes its installed list (no sorting): upgraded
    and new packages go last. The database copa writes for such an image
    follows it, byte for byte with apk's."""
    pristine = extract_rootfs(minirootfs(SHARED, "3.15.11"), tmp_path / "pristine")
    key = alpine["key"]
    extra = build_apk(tmp_path / "pkgs", {**alpine["extra"].info, "datahash": None},
                      [Entry("usr/", "dir"), Entry("usr/share/", "dir"),
                       Entry("usr/share/zlib-extra/", "dir"),
                       Entry("usr/share/zlib-extra/README", "file", b"extra\n")], key)
    zlib = rebuild(pristine, "zlib", tmp_path / "pkgs", key, depends_add=["zlib-extra"])
    build_index(tmp_path / "repo", [extra, zlib], key)
    ref = copy(pristine, tmp_path / "apk")
    r = apk_in_root(ref, ["upgrade", "--no-scripts"], repo=tmp_path / "repo", keys=alpine["keys"])
    assert r.returncode == 0 and "Upgrading zlib" in r.stdout, r.stdout + r.stderr
    # apk 2.12.7 stamps scripts.tar with the time of its run, and NUL-terminates sizes
    import tarfile
    with tarfile.open(ref / "lib/apk/db/scripts.tar") as t:
        now = t.getmembers()[0].mtime
    out = tmp_path / "copa"
    copa_apply(pristine, out, ["--keys", alpine["keys"], "--mtime", now, arg(extra), arg(zlib)])
    assert tree_diff(ref, out) == []
    db = "lib/apk/db/installed"
    names = [l[2:] for l in (out / db).read_text().splitlines() if l.startswith("P:")]
    assert names[-2:] == ["zlib-extra", "zlib"] and names != sorted(names)
    assert (ref / db).read_bytes() == (out / db).read_bytes()


@pytest.mark.parametrize("version,arch", [("3.20.3", "x86_64"), ("3.15.11", "x86_64"),
                                          ("3.20.3", "aarch64")])
def test_every_package_upgraded(alpine, tmp_path, version, arch):
    """`apk upgrade` of every package of the minirootfs (each rebuilt -rN+1 from
    the real tree, exact-version dependencies between them rewritten), in the
    order apk chose: identical trees and database files, byte for byte. The
    aarch64 reference apk runs under qemu-user; copa runs nothing either way."""
    import tarfile
    if arch != os.uname().machine and not shutil.which(f"qemu-{arch}-static"):
        pytest.skip(f"the {arch} reference apk needs qemu-{arch}-static (qemu-user-static)")
    pristine = extract_rootfs(minirootfs(SHARED, version, arch), tmp_path / "pristine")
    recs = read_installed(pristine)
    bump = {f"{n}={r.fields['V']}": f"{n}={_bumped(r.fields['V'])}" for n, r in recs.items()}
    pkgs = {n: rebuild(pristine, n, tmp_path / "pkgs", alpine["key"], deps_map=bump)
            for n in recs}
    build_index(tmp_path / "repo", list(pkgs.values()), alpine["key"], arch=arch)
    ref = copy(pristine, tmp_path / "apk")
    # no self-upgrade first: re-executing the new apk fails under qemu-user without binfmt
    r = apk_in_root(ref, ["upgrade", "--no-scripts", "--no-self-upgrade"], repo=tmp_path / "repo",
                    keys=alpine["keys"], arch=arch)
    order = [l.split()[2] for l in r.stdout.splitlines() if l.startswith("(")]
    assert r.returncode == 0 and sorted(order) == sorted(recs), r.stdout + r.stderr
    with tarfile.open(ref / "lib/apk/db/scripts.tar") as t:
        now = t.getmembers()[0].mtime  # apk before 2.12.12 stamps the time of its run
    out = tmp_path / "copa"
    copa_apply(pristine, out, ["--keys", alpine["keys"], "--mtime", now,
                               *(arg(pkgs[n]) for n in order)])
    assert tree_diff(ref, out) == []
    for f in ("installed", "scripts.tar", "triggers"):
        assert (ref / "lib/apk/db" / f).read_bytes() == (out / "lib/apk/db" / f).read_bytes(), f


def _bumped(v):
    base, _, rel = v.rpartition("-r")
    return f"{base}-r{int(rel) + 1}"


def test_xattrs_and_devices_reach_the_layer(alpine, tmp_path):
    """A package's PAX SCHILY.xattr.* records (a file capability, user.
    attributes) and device numbers go into copa's layer as apk puts them on
    disk: the layer tar carries them, the materialised tree and the database
    (the a: lines' xattr checksum) are apk's own."""
    import struct
    import tarfile
    key = alpine["key"]
    cap = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service+ep
    tagged = {"user.copa.origin": b"e2e", "user.copa.bin": b"\x00\x01\n\xff"}
    files = [Entry("usr/", "dir", mode=0o755), Entry("usr/sbin/", "dir", mode=0o755),
             Entry("usr/sbin/copa-ping", "file", b"#!/bin/sh\n", 0o755,
                   xattrs={"security.capability": cap}),
             Entry("var/", "dir", mode=0o755), Entry("var/lib/", "dir", mode=0o755),
             Entry("var/lib/copa-x/", "dir", mode=0o755),
             Entry("var/lib/copa-x/tagged", "file", b"tagged\n", 0o644, xattrs=tagged),
             # not to the capability file: apk's fchownat of the link would clear it
             # (the kernel drops security.capability on chown; copa keeps it)
             Entry("var/lib/copa-x/tagged-link", "hard", "var/lib/copa-x/tagged", 0o644),
             Entry("var/lib/copa-x/null", "chr", (1, 3), 0o666),
             Entry("var/lib/copa-x/loop9", "blk", (7, 9), 0o660, 0, 6)]
    info = {"pkgname": "copa-x", "pkgver": "1.0-r0", "origin": "copa-x", "license": "MIT"}
    pkg = build_apk(tmp_path / "pkgs", info, files, key)
    build_index(tmp_path / "repo", [pkg], key)
    ref = copy(alpine["pristine"], tmp_path / "apk")
    r = apk_in_root(ref, ["add", "--no-scripts", "copa-x"], repo=tmp_path / "repo",
                    keys=alpine["keys"])
    assert r.returncode == 0, r.stdout + r.stderr
    out, layer = tmp_path / "copa", tmp_path / "layer.tar"
    copa_apply(alpine["pristine"], out, ["--keys", alpine["keys"], "--layer-tar", layer, arg(pkg)])

    with tarfile.open(layer) as t:
        got = {m.name: m for m in t.getmembers()}
    xattrs = {n: {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
                  for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
              for n, m in got.items()}
    assert xattrs["usr/sbin/copa-ping"] == {"security.capability": cap}
    assert xattrs["var/lib/copa-x/tagged"] == tagged
    assert xattrs["var/lib/copa-x"] == {}  # apk only mkdirs directories
    null, loop = got["var/lib/copa-x/null"], got["var/lib/copa-x/loop9"]
    assert null.ischr() and (null.devmajor, null.devminor, null.mode) == (1, 3, 0o666)
    assert loop.isblk() and (loop.devmajor, loop.devminor, loop.gid) == (7, 9, 6)

    # the trees (with what snapshot() does not see) and the databases are apk's
    (out / "etc/apk/world").write_bytes((ref / "etc/apk/world").read_bytes())  # apk add's own
    assert tree_diff(ref, out) == []
    want = {"usr/sbin/copa-ping": xattrs["usr/sbin/copa-ping"],
            "var/lib/copa-x/tagged": tagged, "var/lib/copa-x/tagged-link": tagged}
    for rel, attrs in want.items():
        for root in (ref, out):
            names = sorted(os.listxattr(root / rel))
            assert names == sorted(attrs), (root, rel)
            assert all(os.getxattr(root / rel, n) == attrs[n] for n in names)
    assert os.lstat(out / "var/lib/copa-x/tagged").st_ino == \
        os.lstat(out / "var/lib/copa-x/tagged-link").st_ino
    for rel in ("var/lib/copa-x/null", "var/lib/copa-x/loop9"):
        a, b = os.lstat(ref / rel), os.lstat(out / rel)
        assert (stat.S_IFMT(a.st_mode), a.st_rdev) == (stat.S_IFMT(b.st_mode), b.st_rdev), rel
    db = "lib/apk/db/installed"
    assert (ref / db).read_bytes() == (out / db).read_bytes()
    assert "\na:0:0:755:Q1" in (out / db).read_text()
