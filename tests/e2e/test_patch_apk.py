"""`copa patch` on Alpine images, end to end.

Real OCI images are built from the shared Alpine minirootfs tarballs (one
layer: the tarball as Alpine publishes it, plus a layer with a user's edit of
a configuration file); a local repository of newer versions of packages that
are in the image, signed with a test key, is built with fx_apkrepo (real file
trees taken from the image, one new dependency, one file dropped, one
configuration file changed) and served on 127.0.0.1. The reference for every
patched tree is Alpine's own apk (`apk upgrade [NAME...] --no-scripts`) run
with bwrap inside a copy of the same root against the same repository: the
tree copa writes, unpacked by umoci, must not differ from apk's outside
apk's lock and caches. aarch64's apk runs under qemu-user bound into the root.
"""
import hashlib
import json
import os
import pathlib
import shutil
import stat
import subprocess
import tarfile


import pytest

import fx_apkrepo as ar
import imagetools as it
from fx_apkworld import USER_PROFILE, World, bump, rebuild_deps
from fx_services import StaticServer

# What apk leaves that is no part of the installed system.
SKIP = ("lib/apk/db/lock", "var/cache", "lib/apk/exec",
        # bwrap's mount points in the reference root
        "dev", "proc", "repo", "keys", ".qemu")
# fx_apkrepo's packages carry owner numbers without names; apk resolves a group by name (an
# empty one is root), copa keeps the number. Alpine's real packages carry both.
OWNER_BY_NAME = {"etc/shadow"}


def need_tools(*tools):
    for t in tools:
        if not shutil.which(t):
            pytest.skip(f"{t} is not installed (scripts/install-deps.sh installs it)")


def apk_in_root(root, arch, args, repo, keys):
    """Alpine's own apk of `root`, run there (bwrap, no network). As root, without a user
    namespace: in one, apk cannot give files the image's other owners (root:shadow)."""
    emu = []
    if arch != "x86_64":
        qemu = shutil.which(f"qemu-{arch}-static") or shutil.which(f"qemu-{arch}")
        if not qemu:
            pytest.skip(f"no qemu-user for {arch}: the reference apk cannot run")
        emu = ["--ro-bind", qemu, "/.qemu"]
    unshare = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
               if os.geteuid() == 0 else ["--unshare-all"])
    argv = ["bwrap", *unshare, "--bind", str(root), "/", "--ro-bind", str(repo), "/repo",
            "--ro-bind", str(keys), "/keys", *emu, "--proc", "/proc", "--dev", "/dev",
            *(["/.qemu"] if emu else []), "/sbin/apk", "--repositories-file", "/dev/null",
            "--no-network", "-X", "/repo", "--keys-dir", "/keys"]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=600)


def reference(w, dest, args):
    """A copy of the root upgraded by Alpine's own apk; returns its path."""
    shutil.copytree(w.root, dest, symlinks=True)
    r = apk_in_root(dest, w.arch, args + ["--no-scripts"], w.repo, w.keys)
    assert r.returncode == 0, f"apk {args}: {r.stdout}\n{r.stderr}"
    return dest


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, shared_dir):
    need_tools("bwrap", "umoci", "skopeo", "openssl")
    made = {}

    def get(version="3.20.3", arch="x86_64", purge=False):
        if (version, arch, purge) not in made:
            made[(version, arch, purge)] = World(
                tmp_path_factory.mktemp(f"apk-{version}-{arch}"), shared_dir, version, arch,
                purge=purge)
        return made[(version, arch, purge)]

    yield get
    for w in made.values():
        w.server.stop()


def unpack(layout, tag, dest):
    """umoci as root keeps owners; returns the root file system."""
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(dest)],
                   capture_output=True, text=True, check=True)
    return pathlib.Path(dest) / "rootfs"


def snapshot(root):
    out = {}
    root = str(root)
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if any(rel == s or rel.startswith(s + "/") for s in SKIP):
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                if rel == "lib/apk/db/scripts.tar":
                    what = ("scripts", scripts_of(p))
                else:
                    what = ("file", hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest())
            else:
                what = ("other", st.st_rdev)
            owner = (None, None) if rel in OWNER_BY_NAME else (st.st_uid, st.st_gid)
            out[rel] = what + (oct(stat.S_IMODE(st.st_mode)),) + owner
    return out


def scripts_of(path):
    with tarfile.open(path) as t:
        return tuple(sorted((m.name, hashlib.sha256(t.extractfile(m).read()).hexdigest())
                            for m in t.getmembers() if m.isfile()))


def assert_same_tree(got, want):
    a, b = snapshot(got), snapshot(want)
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    assert not diff, "copa's tree differs from apk's:\n" + "\n".join(
        f"  {k}: copa {a.get(k)} apk {b.get(k)}" for k in diff[:20])


def installed(root):
    return {n: r.fields["V"] for n, r in ar.read_installed(root).items()}


def trivy_report(path, world, pkgs, os_name=None):
    """A Trivy report of the image asking for `pkgs` {name: fixed}."""
    vulns = [{"VulnerabilityID": f"CVE-2099-{i:04d}", "PkgName": n,
              "InstalledVersion": world.old.get(n, "1.0-r0"), "FixedVersion": fixed,
              "Severity": "HIGH"} for i, (n, fixed) in enumerate(sorted(pkgs.items()))]
    doc = {"SchemaVersion": 2, "ArtifactName": "1.0", "ArtifactType": "container_image",
           "Metadata": {"OS": {"Family": "alpine", "Name": os_name or world.version},
                        "ImageConfig": {"architecture": world.oci_arch, "os": "linux"}},
           "Results": [{"Target": "img", "Class": "os-pkgs", "Type": "alpine",
                        "Vulnerabilities": vulns}]}
    path.write_text(json.dumps(doc))
    return path


def patch(copa, world, src, *extra, keyring=True, repo=True):
    args = ["patch", "-i", src, "--progress", "plain"]
    if "-t" not in extra:
        args += ["-t", "patched"]
    if repo:
        args += ["--repo-replace", "--repo", world.url]
    if keyring:
        args += ["--keyring", world.key.pub]
    return copa(*args, *extra)


# ---------------------------------------------------------------- the cases


def test_update_all_matches_apk_upgrade(copa, worlds, tmp_path):
    w = worlds()
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src, "--summary", tmp_path / "s.json")
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    ref = reference(w, tmp_path / "ref", ["upgrade"])
    assert installed(got) == installed(ref)
    for name, v in w.new.items():
        assert installed(got)[name] == v
    assert_same_tree(got, ref)
    # a changed configuration file the owner edited is kept; the package's beside it
    assert (got / "etc/profile").read_bytes() == USER_PROFILE
    assert (got / "etc/profile.apk-new").read_bytes() == b"# profile of the new version\n"
    # the file the new version dropped is gone, the new dependency is there
    assert not (got / "etc/modules").exists()
    assert (got / "usr/share/copa-newdep/README").read_bytes() == b"new\n"
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["platforms"][0]["status"] == "patched"


def test_purge_matches_apk_upgrade(copa, worlds, tmp_path):
    """The upgrade leaves an installed package nothing needs (scanelf, once musl-utils stops
    depending on it): apk purges it, and so does copa (its files whited out, its record
    gone)."""
    w = worlds(purge=True)
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src)
    assert p.returncode == 0, p.stderr
    assert "'scanelf' is purged" in p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    ref = reference(w, tmp_path / "ref", ["upgrade"])
    assert "scanelf" not in installed(ref)  # apk itself purges it
    assert installed(got) == installed(ref)
    assert not (got / "usr/bin/scanelf").exists()
    assert_same_tree(got, ref)


def test_report_mode_matches_apk_upgrade_names(copa, worlds, tmp_path):
    w = worlds()
    src = w.image(tmp_path / "img")
    rep = trivy_report(tmp_path / "r.json", w, {"ca-certificates-bundle": w.new["ca-certificates-bundle"],
                                                 "scanelf": w.new["scanelf"]})
    vex = tmp_path / "vex.json"
    p = patch(copa, w, src, "-r", rep, "-o", vex)
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    ref = reference(w, tmp_path / "ref", ["upgrade", "ca-certificates-bundle", "scanelf"])
    assert installed(got) == installed(ref)
    assert installed(got)["scanelf"] == w.new["scanelf"]
    assert installed(got)["zlib"] == w.old["zlib"]  # not asked for
    assert_same_tree(got, ref)
    doc = json.loads(vex.read_text())
    purls = {s["products"][0]["subcomponents"][0]["@id"] for s in doc["statements"]}
    assert (f"pkg:apk/alpine/scanelf@{w.new['scanelf']}?arch=x86_64&distro=alpine-3.20.3"
            in purls), purls


def test_distroless_image(copa, worlds, tmp_path):
    """Without sbin/apk and bin/busybox nothing could run in the image; copa needs nothing."""
    w = worlds()
    gone = it.tar_layer([("sbin/.wh.apk", ""), ("bin/.wh.busybox", "")])
    src = w.image(tmp_path / "img", layers=w.layers + [gone])
    p = copa("inspect", src)
    assert p.returncode == 0, p.stderr
    assert "distroless:  yes" in p.stdout, p.stdout
    p = patch(copa, w, src)
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert not (got / "sbin/apk").exists() and not (got / "bin/busybox").exists()
    for name, v in w.new.items():
        assert installed(got)[name] == v


def test_inspect_alpine(copa, worlds, tmp_path):
    w = worlds()
    p = copa("inspect", w.image(tmp_path / "img"))
    assert p.returncode == 0, p.stderr
    assert "os:          alpine 3.20.3" in p.stdout, p.stdout
    assert (f"packages:    {len(w.old)} installed (apk database lib/apk/db/installed)"
            in p.stdout), p.stdout
    assert "distroless:  no" in p.stdout


def test_wolfi_style_image(copa, worlds, tmp_path):
    """An os-release saying wolfi, its own repository (the image's repositories file) and key."""
    w = worlds()
    layer = it.tar_layer([("etc/apk/repositories", f"{w.url}\n")])
    src = w.image(tmp_path / "img", layers=w.layers + [layer],
                  os_release='ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\nVERSION_ID=20230201\n')
    p = patch(copa, w, src, repo=False)
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert installed(got)["zlib"] == w.new["zlib"]


def bad_repo(w, base, how):
    """A copy of the repository whose index is unsigned, signed by another key or tampered."""
    repo = base / f"repo-{how}"
    shutil.copytree(w.repo, repo)
    idx = repo / w.arch / "APKINDEX.tar.gz"
    data = idx.read_bytes()
    # the first gzip member is the signature
    d = __import__("zlib").decompressobj(31)
    d.decompress(data)
    sig_len = len(data) - len(d.unused_data)
    if how == "unsigned":
        idx.write_bytes(data[sig_len:])
    elif how == "wrong-key":
        other = ar.Key(base / "other", name=w.key.name)  # same name, other key
        idx.write_bytes(ar._signed(other, data[sig_len:]) + data[sig_len:])
    elif how == "tampered":
        body = bytearray(data)
        body[sig_len + 40] ^= 0x01
        idx.write_bytes(bytes(body))
    elif how == "package":
        pkg = repo / w.arch / f"zlib-{w.new['zlib']}.apk"
        b = bytearray(pkg.read_bytes())
        b[-100] ^= 0x01
        pkg.write_bytes(bytes(b))
    return repo


@pytest.mark.parametrize("how", ["unsigned", "wrong-key", "tampered", "package", "unknown-key"])
def test_untrusted_index_or_package_is_refused(copa, worlds, tmp_path, how):
    w = worlds()
    repo = bad_repo(w, tmp_path, how)
    server = StaticServer(repo)
    try:
        src = w.image(tmp_path / "img")
        before = (tmp_path / "img/index.json").read_text()
        keyring = [] if how == "unknown-key" else ["--keyring", w.key.pub]
        p = copa("patch", "-i", src, "-t", "patched", "--repo-replace", "--repo", server.url,
                 *keyring)
    finally:
        server.stop()
    assert p.returncode == 1, p.stderr
    errs = [line for line in p.stderr.splitlines() if line.startswith("copa: error")]
    assert len(errs) == 1, p.stderr
    if how == "package":
        assert "package 'zlib-" in errs[0] and "datahash" in errs[0], errs[0]
    elif how == "unknown-key":
        assert f"signed by unknown key '{w.key.name}' (add it with --keyring)" in errs[0]
    else:
        assert server.url in errs[0] and "APKINDEX" in errs[0], errs[0]
        assert "--keyring" in errs[0], errs[0]
    assert (tmp_path / "img/index.json").read_text() == before  # nothing written


def test_fixed_version_not_available(copa, worlds, tmp_path):
    w = worlds()
    src = w.image(tmp_path / "img")
    rep = trivy_report(tmp_path / "r.json", w, {"scanelf": w.new["scanelf"],
                                                 "zlib": "9.9.9-r0",
                                                 "musl": w.old["musl"],  # already fixed
                                                 "curl": "8.0.0-r0"})  # not installed
    before = (tmp_path / "img/index.json").read_text()
    p = patch(copa, w, src, "-r", rep)
    assert p.returncode == 1
    assert "'zlib'" in p.stderr and "9.9.9-r0" in p.stderr and "--ignore-errors" in p.stderr
    assert (tmp_path / "img/index.json").read_text() == before
    p = patch(copa, w, src, "-r", rep, "--ignore-errors", "--summary", tmp_path / "s.json")
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert installed(got)["scanelf"] == w.new["scanelf"]
    assert installed(got)["zlib"] == w.old["zlib"]
    pk = {x["name"]: x for x in json.loads((tmp_path / "s.json").read_text())
          ["platforms"][0]["packages"]}
    assert pk["zlib"]["outcome"] == "not-available", pk["zlib"]
    assert pk["musl"]["outcome"] == "already-fixed", pk["musl"]
    assert pk["curl"]["outcome"] == "skipped", pk["curl"]  # the summary's word for it
    assert pk["scanelf"]["outcome"] == "updated", pk["scanelf"]


def test_world_constraint_keeps_a_package_below_its_fix(copa, worlds, tmp_path):
    """etc/apk/world pins zlib below the fixed version: apk would not upgrade it, so the
    request fails (an error naming the package, or skipped with --ignore-errors)."""
    w = worlds()
    world_file = (w.root / "etc/apk/world").read_text().split() + [f"zlib<{w.new['zlib']}"]
    pin = it.tar_layer([("etc/apk/world", "\n".join(world_file) + "\n")])
    src = w.image(tmp_path / "img", layers=w.layers + [pin])
    rep = trivy_report(tmp_path / "r.json", w, {"zlib": w.new["zlib"],
                                                 "scanelf": w.new["scanelf"]})
    p = patch(copa, w, src, "-r", rep)
    assert p.returncode == 1 and "'zlib'" in p.stderr, p.stderr
    p = patch(copa, w, src, "-r", rep, "--ignore-errors", "--summary", tmp_path / "s.json")
    assert p.returncode == 0, p.stderr
    pk = {x["name"]: x for x in json.loads((tmp_path / "s.json").read_text())
          ["platforms"][0]["packages"]}
    assert pk["zlib"]["outcome"] == "failed", pk["zlib"]
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert installed(got)["zlib"] == w.old["zlib"]
    assert installed(got)["scanelf"] == w.new["scanelf"]


def test_repatch_replaces_the_layer(copa, worlds, tmp_path):
    """Report mode first (one package), then everything from the patched image: the second
    patch layer replaces the first instead of stacking on it."""
    w = worlds()
    src = w.image(tmp_path / "img")
    rep = trivy_report(tmp_path / "r.json", w, {"scanelf": w.new["scanelf"]})
    p = patch(copa, w, src, "-r", rep)
    assert p.returncode == 0, p.stderr
    first = it.skopeo_inspect_raw(f"oci:{tmp_path / 'img'}:patched")
    p = copa("patch", "-i", f"oci:{tmp_path / 'img'}:patched", "-t", "again", "--repo-replace",
             "--repo", w.url, "--keyring", w.key.pub)
    assert p.returncode == 0, p.stderr
    assert "its patch layer is replaced" in p.stderr
    again = it.skopeo_inspect_raw(f"oci:{tmp_path / 'img'}:again")
    assert len(again["layers"]) == len(first["layers"]) == len(w.layers) + 1
    assert again["layers"][:-1] == first["layers"][:-1]
    assert again["layers"][-1]["digest"] != first["layers"][-1]["digest"]
    got = unpack(tmp_path / "img", "again", tmp_path / "out")
    for name, v in w.new.items():
        assert installed(got)[name] == v
    ref = reference(w, tmp_path / "ref", ["upgrade"])
    assert_same_tree(got, ref)


def test_warm_run_uses_the_cache(copa, worlds, tmp_path):
    """A second run asks for the index conditionally (the server says it is current) and
    reuses the layer built from the same packages (their identities); a changed index is
    downloaded again."""
    w = worlds()
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src, "-t", "one")
    assert p.returncode == 0, p.stderr
    assert "not modified" not in p.stderr and "0 from the cache" in p.stderr
    p = patch(copa, w, src, "-t", "two")
    assert p.returncode == 0, p.stderr
    assert "(not modified: the cached copy)" in p.stderr, p.stderr
    assert "reusing the layer built before" in p.stderr, p.stderr
    idx = w.repo / w.arch / "APKINDEX.tar.gz"
    st = idx.stat()
    os.utime(idx, (st.st_atime, st.st_mtime + 10))
    p = patch(copa, w, src, "-t", "three")
    assert p.returncode == 0, p.stderr
    assert "not modified" not in p.stderr


def test_push_to_registry(copa, worlds, tmp_path, registry):
    w = worlds()
    src = w.image(tmp_path / "img")
    dst = f"{registry.host}/alpine/app:1.0-patched"
    p = patch(copa, w, src, "--push") if False else copa(
        "patch", "-i", src, "-t", dst, "--push", "--repo-replace", "--repo", w.url,
        "--keyring", w.key.pub)
    assert p.returncode == 0, p.stderr
    it.skopeo("copy", "--src-tls-verify=false", f"docker://{dst}", f"oci:{tmp_path / 'pulled'}:x")
    got = unpack(tmp_path / "pulled", "x", tmp_path / "out")
    assert installed(got)["scanelf"] == w.new["scanelf"]


def test_multi_platform_index(copa, worlds, tmp_path):
    """x86_64 and aarch64 in one index, each patched from its own repository (the two
    repositories are given with --repo; each platform uses the one with its architecture)."""
    x, a = worlds(), worlds("3.20.3", "aarch64")
    layout = tmp_path / "multi"
    it.write_multiarch(layout, [("amd64", None, x.layers), ("arm64", "v8", a.layers)], tag="1.0")
    p = copa("patch", "-i", f"oci:{layout}:1.0", "-t", "patched", "--repo-replace",
             "--repo", x.url, "--repo", a.url, "--keyring", x.key.pub, "--keyring", a.key.pub)
    assert p.returncode == 0, p.stderr
    for arch, world, plat in (("x86_64", x, "linux/amd64"), ("aarch64", a, "linux/arm64/v8")):
        d = tmp_path / f"one-{arch}"
        it.skopeo("copy", "--override-arch", world.oci_arch, *(
            ["--override-variant", "v8"] if arch == "aarch64" else []),
            f"oci:{layout}:patched", f"oci:{d}:x")
        got = unpack(d, "x", tmp_path / f"out-{arch}")
        for name, v in world.new.items():
            assert installed(got)[name] == v, (arch, name)
        assert (got / "etc/apk/arch").read_text().strip() == arch


def test_aarch64_matches_apk_upgrade(copa, worlds, tmp_path):
    w = worlds("3.20.3", "aarch64")
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src)
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    ref = reference(w, tmp_path / "ref", ["upgrade"])
    assert installed(got) == installed(ref)
    assert_same_tree(got, ref)


def test_older_release_matches_apk_upgrade(copa, worlds, tmp_path):
    w = worlds("3.19.4", "x86_64")
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src)
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    ref = reference(w, tmp_path / "ref", ["upgrade"])
    assert installed(got) == installed(ref)
    assert_same_tree(got, ref)


def test_real_grype_report_drives_the_plan(copa, worlds, shared_dir, tmp_path):
    """Grype's real report of an Alpine 3.19 image asks for busybox, busybox-binsh and
    ssl_client at 1.36.1-r21. Against the 3.19.4 image: not available in the test repository
    (each named, the run fails), then a repository with those versions (rebuilt from the
    image's own busybox) fixes all three, the busybox applet links included."""
    w = worlds("3.19.4", "x86_64")
    report = shared_dir / "reports/grype/grype-alpine-3.19.9.json"
    src = w.image(tmp_path / "img")
    p = patch(copa, w, src, "-r", report, "-s", "grype")
    assert p.returncode == 1
    for name in ("busybox", "busybox-binsh", "ssl_client"):
        assert f"'{name}'" in p.stderr, p.stderr
    fixed, old = "1.36.1-r21", w.old["busybox"]
    out = tmp_path / "pkgs"
    pkgs = [ar.rebuild(w.root, "busybox", out, w.key, version=fixed),
            rebuild_deps(w.root, "busybox-binsh", out, w.key, {f"busybox={old}": f"busybox={fixed}"},
                         version=fixed),
            rebuild_deps(w.root, "ssl_client", out, w.key, {},
                         install_if={f"busybox={old}": f"busybox={fixed}"}, version=fixed)]
    repo = tmp_path / "repo"
    ar.build_index(repo, pkgs, w.key, w.arch)
    server = StaticServer(repo)
    try:
        p = copa("patch", "-i", src, "-t", "patched", "-r", report, "-s", "grype",
                 "--repo-replace", "--repo", server.url, "--keyring", w.key.pub, "-o",
                 tmp_path / "vex.json")
    finally:
        server.stop()
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    for name in ("busybox", "busybox-binsh", "ssl_client"):
        assert installed(got)[name] == fixed, name
    assert os.readlink(got / "bin/ls") == "/bin/busybox"
    vex = json.loads((tmp_path / "vex.json").read_text())
    assert {s["vulnerability"]["name"] for s in vex["statements"]} == {
        "CVE-2025-46394", "CVE-2024-58251"}


def test_tagged_repository(copa, worlds, tmp_path):
    """`--repo '@copa URL'` is a pinned repository: its packages are taken only for names
    world pins to it (`scanelf@copa`), as apk does; zlib, not pinned, stays."""
    w = worlds()
    names = (w.root / "etc/apk/world").read_text().split() + ["scanelf@copa"]
    pin = it.tar_layer([("etc/apk/world", "\n".join(names) + "\n")])
    src = w.image(tmp_path / "img", layers=w.layers + [pin])
    rep = trivy_report(tmp_path / "r.json", w, {"scanelf": w.new["scanelf"],
                                                 "zlib": w.new["zlib"]})
    p = copa("patch", "-i", src, "-t", "patched", "-r", rep, "--repo-replace", "--repo",
             f"@copa {w.url}", "--keyring", w.key.pub, "--ignore-errors",
             "--summary", tmp_path / "s.json")
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert installed(got)["scanelf"] == w.new["scanelf"]
    assert installed(got)["zlib"] == w.old["zlib"]
    pk = {x["name"]: x for x in json.loads((tmp_path / "s.json").read_text())
          ["platforms"][0]["packages"]}
    assert pk["zlib"]["outcome"] == "not-available", pk["zlib"]


def test_pin_between_installed_and_fix_leaves_the_package(copa, worlds, tmp_path):
    """The repository has zlib -r2 and -r3 (the fix), world pins zlib below -r3: apk would
    move it to -r2, which still lacks the fix. copa reports it failed and leaves it at its
    installed version (rather than installing -r2 and failing its own read-back check)."""
    w = worlds()
    old = w.old["zlib"]
    r2, r3 = bump(old), bump(bump(old))
    out = tmp_path / "pkgs"
    pkgs = [ar.rebuild(w.root, "zlib", out / "r2", w.key, version=r2),
            ar.rebuild(w.root, "zlib", out / "r3", w.key, version=r3),
            ar.rebuild(w.root, "scanelf", out, w.key)]
    repo = tmp_path / "repo"
    ar.build_index(repo, pkgs, w.key, w.arch)
    names = (w.root / "etc/apk/world").read_text().split() + [f"zlib<{r3}"]
    pin = it.tar_layer([("etc/apk/world", "\n".join(names) + "\n")])
    src = w.image(tmp_path / "img", layers=w.layers + [pin])
    rep = trivy_report(tmp_path / "r.json", w, {"zlib": r3, "scanelf": pkgs[2].version})
    server = StaticServer(repo)
    try:
        p = copa("patch", "-i", src, "-t", "patched", "-r", rep, "--repo-replace", "--repo",
                 server.url, "--keyring", w.key.pub, "--ignore-errors",
                 "--summary", tmp_path / "s.json")
    finally:
        server.stop()
    assert p.returncode == 0, p.stderr
    got = unpack(tmp_path / "img", "patched", tmp_path / "out")
    assert installed(got)["zlib"] == old
    assert installed(got)["scanelf"] == pkgs[2].version
    pk = {x["name"]: x for x in json.loads((tmp_path / "s.json").read_text())
          ["platforms"][0]["packages"]}
    assert pk["zlib"]["outcome"] == "failed" and r2 in (pk["zlib"].get("reason") or ""), pk
