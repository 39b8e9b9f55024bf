"""`copa patch` on an RPM image with an sqlite database, end to end.

The image root is written by Debian's rpm (`rpm --root R --dbpath /var/lib/rpm -i
--nodeps --noscripts`), the packages by rpmbuild and signed with rpmsign and a test
key, the repository by createrepo_c with a signed repomd.xml, served on 127.0.0.1.
The result is checked with umoci (unpack) and rpm (`-qa`, `-V` on the unpacked
tree), never with copa, and compared with dnf's own `--installroot upgrade` on a
copy of the same root against the same repository when dnf is installed."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import imagetools as it
from fx_debrepo import GpgKey
from fx_patch import image_manifest, layer_names, patch_layer_tar, tar_dir, unpack
from fx_services import StaticServer
from conftest import ROOT

# libsolv's rpmdb reader leaks a few bytes per read (see the file): for the ASan run.
LSAN = {"LSAN_OPTIONS": "fast_unwind_on_malloc=0:suppressions=" +
        str(ROOT / "tests" / "lsan-rpm.supp")}


@pytest.fixture
def copa(copa):
    def run(*args, **kw):
        kw["env"] = {**LSAN, **(kw.get("env") or {})}
        return copa(*args, **kw)
    return run

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
{install}
%files
{files}
{scripts}
"""


def spec_hello(ver, rel):
    install = f"""mkdir -p %{{buildroot}}/usr/share/copa-hello %{{buildroot}}/etc %{{buildroot}}/usr/bin
echo {ver} > %{{buildroot}}/usr/share/copa-hello/version
echo "setting = {ver}" > %{{buildroot}}/etc/copa-hello.conf
echo "plain = {ver}" > %{{buildroot}}/etc/copa-plain.conf
echo "same in every version" > %{{buildroot}}/etc/copa-same.conf
echo "secret {ver}" > %{{buildroot}}/usr/share/copa-hello/owned
echo "linked {ver}" > %{{buildroot}}/usr/share/copa-hello/a
ln %{{buildroot}}/usr/share/copa-hello/a %{{buildroot}}/usr/share/copa-hello/b
ln -s ../share/copa-hello/version %{{buildroot}}/usr/bin/copa-hello-version
"""
    files = """%dir /usr/share/copa-hello
/usr/share/copa-hello/version
/usr/share/copa-hello/a
/usr/share/copa-hello/b
%attr(0640,copa,copa) /usr/share/copa-hello/owned
/usr/bin/copa-hello-version
%config(noreplace) /etc/copa-hello.conf
%config /etc/copa-plain.conf
%config(noreplace) /etc/copa-same.conf
%ghost /var/log/copa-hello.log
"""
    if ver == "1.0":
        install += f"echo old > %{{buildroot}}/usr/share/copa-hello/old-only\n"
        files += "/usr/share/copa-hello/old-only\n"
    else:  # a file capability, as ping or newuidmap have
        install += "echo ping > %{buildroot}/usr/bin/copa-ping\n"
        files += f"%caps({CAPS}) /usr/bin/copa-ping\n"
    return install, files


CAPS = "cap_net_admin,cap_net_raw=ep"
# The Azure Linux toolkit's query for container-manifest-2 (see shared/testdata PROVENANCE).
MANIFEST2_QF = ("%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\t%{BUILDTIME}\\t%{VENDOR}\\t"
                "(none)\\t%{SIZE}\\t%{ARCH}\\t%{EPOCHNUM}\\t%{SOURCERPM}\\n")


def setcap_xattr(tmp, text):
    """The security.capability value the real setcap writes for text (None: cannot here)."""
    f = tmp / "setcap-probe"
    f.write_text("x")
    if subprocess.run(["setcap", text, str(f)], capture_output=True).returncode != 0:
        return None
    return os.getxattr(f, "security.capability")


def simple(name, ver):
    return (f"mkdir -p %{{buildroot}}/usr/share/{name}\n"
            f"echo {ver} > %{{buildroot}}/usr/share/{name}/version\n",
            f"/usr/share/{name}/version\n")


# name, version, release, epoch, requires, in image / in repo
OLD = [("copa-hello", "1.0", "1", None, None),
       ("copa-tool", "0.9", "1", None, None),
       ("copa-stay", "1.0", "1", None, None),
       ("kernel", "5.14.0", "1", None, None)]
NEW = [("copa-hello", "1.1", "1", None, "copa-lib >= 1:2.0"),
       ("copa-lib", "2.0", "1", 1, None),
       ("copa-tool", "0.9", "2", None, None),
       ("copa-stay", "1.0", "1", None, None),
       ("kernel", "5.14.0", "2", None, None)]


def rpm(*args, check=True, env=None):
    return subprocess.run(["rpm", *map(str, args)], capture_output=True, text=True, check=check,
                          env=env)


def kernel(ver, rel):
    d = f"/usr/lib/modules/{ver}-{rel}"
    return (f"mkdir -p %{{buildroot}}{d}\necho {ver}-{rel} > %{{buildroot}}{d}/vmlinuz\n",
            f"{d}/vmlinuz\n")


def build(tmp, out, name, ver, rel, epoch, req):
    if name == "copa-hello":
        install, files = spec_hello(ver, rel)
    elif name == "kernel":
        install, files = kernel(ver, rel)
    else:
        install, files = simple(name, ver)
    spec = tmp / f"{name}-{ver}-{rel}.spec"
    spec.write_text(SPEC.format(name=name, ver=ver, rel=rel,
                                epoch=f"Epoch: {epoch}" if epoch else "",
                                requires=f"Requires: {req}" if req else "",
                                install=install, files=files,
                                scripts="%post -p <lua>\nprint(\"post\")\n" if name == "copa-tool" else ""))
    subprocess.run(["rpmbuild", "--quiet", "-bb", "--define", f"_topdir {tmp}/top",
                    "--define", f"_rpmdir {out}", "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
                    str(spec)], check=True, capture_output=True)
    return out / f"{name}-{ver}-{rel}.noarch.rpm"


def sign(key, rpmfile):
    subprocess.run(["rpmsign", "--addsign", "--define", "__gpg /usr/bin/gpg",
                    "--define", f"_gpg_name {key.fingerprint}",
                    "--define", f"_gpg_path {key.home}", str(rpmfile)], check=True,
                   capture_output=True, env=key.env)


def make_repo(path, rpms, key):
    path.mkdir(parents=True)
    for r in rpms:
        shutil.copy(r, path)
    subprocess.run(["createrepo_c", "-q", "--no-database", str(path)], check=True)
    if key:
        key.detach_sign(path / "repodata/repomd.xml", path / "repodata/repomd.xml.asc")


def rpm_qa(root):
    """NEVRAs of root's database, read by rpm from a copy (librpm writes -wal/-shm beside it)."""
    copy = root.parent / (root.name + "-qa")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root / "var/lib/rpm", copy / "var/lib/rpm")
    out = rpm("--root", copy, "--dbpath", "/var/lib/rpm", "-qa", "--qf",
              "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n").stdout
    shutil.rmtree(copy)
    got = {}
    for line in sorted(out.splitlines()):
        name, evr = line.replace("(none):", "").split(" ")
        if name != "gpg-pubkey":  # an install-only package may be there more than once
            got[name] = f"{got[name]} {evr}" if name in got else evr
    return got


class World:
    pass


@pytest.fixture(scope="session")
def rpmworld(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpmpatch")
    w = World()
    w.key = GpgKey(tmp / "gnupg", algo="rsa2048")
    w.other = GpgKey(tmp / "gnupg-other", uid="someone else <o@copa.invalid>", algo="rsa2048")
    old = [build(tmp, tmp / "old", *p) for p in OLD]
    new = [build(tmp, tmp / "new", *p) for p in NEW]
    for r in new:
        sign(w.key, r)
    w.new = new
    www = tmp / "www"
    make_repo(www / "good", new, w.key)
    # the same, but copa-tool unsigned / signed by another key
    unsigned = tmp / "unsigned"
    unsigned.mkdir()
    bad_tool = build(tmp, unsigned, "copa-tool", "0.9", "2", None, None)
    make_repo(www / "unsigned", [r for r in new if "copa-tool" not in r.name] + [bad_tool], w.key)
    other = tmp / "otherkey"
    other.mkdir()
    shutil.copy(bad_tool, other)
    sign(w.other, other / bad_tool.name)
    make_repo(www / "otherkey", [r for r in new if "copa-tool" not in r.name] +
              [other / bad_tool.name], w.key)
    # copa-tool signed by the right key, one payload byte changed afterwards (the
    # repository's checksum is recomputed, so only the signed payload digest can tell)
    tampered = tmp / "tampered"
    tampered.mkdir()
    good_tool = next(r for r in new if "copa-tool" in r.name)
    data = bytearray(good_tool.read_bytes())
    data[-40] ^= 0x01
    (tampered / good_tool.name).write_bytes(bytes(data))
    make_repo(www / "tampered", [r for r in new if "copa-tool" not in r.name] +
              [tampered / good_tool.name], w.key)
    w.www = www
    w.server = StaticServer(www)
    w.url = w.server.url

    root = tmp / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
        "--notriggers", *old)
    (root / "etc/os-release").write_text(
        'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
        'VERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n')
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "copa:x:1234:1234::/home/copa:/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\ncopa:x:1234:\n")
    (root / "etc/copa-hello.conf").write_text("setting = mine\n")
    (root / "etc/copa-plain.conf").write_text("plain = mine\n")
    (root / "etc/copa-same.conf").write_text("same, but mine\n")
    (root / "etc/pki/rpm-gpg").mkdir(parents=True)
    shutil.copy(w.key.armored, root / "etc/pki/rpm-gpg/RPM-GPG-KEY-copa")
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/yum.repos.d/copa.repo").write_text(
        f"[copa-$basearch]\nname=copa test $releasever\nbaseurl={w.url}/good/\n"
        "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-copa\n")
    w.root = root
    w.layout = tmp / "image"
    it.write_image(w.layout, [tar_dir(root)], tag="1.0")

    # RHEL 9 style, Fedora's database place (usr/lib/sysimage/rpm, var/lib/rpm a
    # symlink to it), an arm64 image: copa never runs anything from it, so no QEMU
    el = tmp / "root-el"
    shutil.copytree(root, el, symlinks=True, ignore=shutil.ignore_patterns("rpm"))
    shutil.rmtree(el / "var/lib/rpm", ignore_errors=True)
    (el / "usr/lib/sysimage/rpm").mkdir(parents=True)
    rpm("--root", el, "--dbpath", "/usr/lib/sysimage/rpm", "--initdb")
    rpm("--root", el, "--dbpath", "/usr/lib/sysimage/rpm", "-i", "--nodeps", "--noscripts",
        "--notriggers", *old)
    (el / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    (el / "etc/os-release").write_text(
        'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\n'
        'ID_LIKE="fedora"\nVERSION_ID="9.4"\n')
    w.el_layout = tmp / "image-el"
    it.write_image(w.el_layout, [tar_dir(el)], tag="1.0", arch="arm64")

    # Azure Linux distroless: the same files, no rpm database, the toolkit's manifests
    dl = tmp / "root-dl"
    shutil.copytree(root, dl, symlinks=True)
    qf = rpm("--root", root, "--dbpath", "/var/lib/rpm", "-qa", "--qf", MANIFEST2_QF).stdout
    nvra = rpm("--root", root, "--dbpath", "/var/lib/rpm", "-qa").stdout
    shutil.rmtree(dl / "var/lib/rpm")
    shutil.rmtree(dl / "etc/yum.repos.d")
    (dl / "var/lib/rpmmanifest").mkdir(parents=True)
    (dl / "var/lib/rpmmanifest/container-manifest-2").write_text(qf)
    (dl / "var/lib/rpmmanifest/container-manifest-1").write_text(nvra)
    (dl / "etc/os-release").write_text('NAME="Microsoft Azure Linux"\nVERSION="3.0.20240727"\n'
                                       'ID=azurelinux\nVERSION_ID="3.0"\n')
    w.dl_layout = tmp / "image-dl"
    it.write_image(w.dl_layout, [tar_dir(dl)], tag="1.0")
    yield w
    w.server.stop()
    w.key.close()
    w.other.close()


def report(path, updates, os_type="rocky", arch="amd64"):
    path.write_text(json.dumps({
        "apiVersion": "v1alpha2",
        "metadata": {"os": {"type": os_type, "version": "9.3"}, "config": {"arch": arch}},
        "osupdates": [{"name": n, "installedVersion": i, "fixedVersion": f,
                       "vulnerabilityID": v, "type": os_type, "class": "os-pkgs"}
                      for n, i, f, v in updates],
        "langupdates": [],
    }))
    return path


def test_update_all(copa, rpmworld, tmp_path):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    before = layer_names(layout, "1.0")
    summary = tmp_path / "summary.json"
    copa("patch", "-i", f"oci:{layout}:1.0", "--summary", summary, check=True)
    after = layer_names(layout, "1.0-patched")
    assert after[:-1] == before and len(after) == len(before) + 1
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    got = rpm_qa(rootfs)
    # the kernel is install-only: the new one beside the old, as dnf does
    assert got == {"copa-hello": "1.1-1", "copa-lib": "1:2.0-1", "copa-tool": "0.9-2",
                   "copa-stay": "1.0-1", "kernel": "5.14.0-1 5.14.0-2"}
    assert (rootfs / "usr/lib/modules/5.14.0-1/vmlinuz").read_text() == "5.14.0-1\n"
    assert (rootfs / "usr/lib/modules/5.14.0-2/vmlinuz").read_text() == "5.14.0-2\n"
    h = rootfs / "usr/share/copa-hello"
    assert (h / "version").read_text() == "1.1\n"
    assert not (h / "old-only").exists()
    members = patch_layer_tar(layout, "1.0-patched")
    assert "usr/share/copa-hello/.wh.old-only" in members
    assert (rootfs / "usr/share/copa-lib/version").read_text() == "2.0\n"  # new dependency
    # %config(noreplace) changed in the image: kept, the new one beside it
    assert (rootfs / "etc/copa-hello.conf").read_text() == "setting = mine\n"
    assert (rootfs / "etc/copa-hello.conf.rpmnew").read_text() == "setting = 1.1\n"
    # plain %config changed in the image: replaced, the image's saved
    assert (rootfs / "etc/copa-plain.conf").read_text() == "plain = 1.1\n"
    assert (rootfs / "etc/copa-plain.conf.rpmsave").read_text() == "plain = mine\n"
    # a changed config file the package did not change: kept, nothing written (as rpm)
    assert (rootfs / "etc/copa-same.conf").read_text() == "same, but mine\n"
    assert not (rootfs / "etc/copa-same.conf.rpmnew").exists()
    assert "etc/copa-same.conf" not in members
    # owners by name through the image's passwd/group, modes, links, %ghost
    m = members["usr/share/copa-hello/owned"]
    assert (m.uid, m.gid, m.mode & 0o7777) == (1234, 1234, 0o640)
    assert members["usr/share/copa-hello/b"].islnk() or members["usr/share/copa-hello/a"].islnk()
    assert (h / "b").read_text() == "linked 1.1\n"
    assert os.readlink(rootfs / "usr/bin/copa-hello-version") == "../share/copa-hello/version"
    assert not (rootfs / "var/log/copa-hello.log").exists()
    # file capabilities: the PAX xattr is what setcap itself writes for the same text
    want = setcap_xattr(tmp_path, CAPS)
    got_caps = members["usr/bin/copa-ping"].pax_headers.get("SCHILY.xattr.security.capability")
    assert got_caps is not None
    if want is not None:
        assert got_caps.encode("utf-8", "surrogateescape") == want
    # the database in the layer, without sqlite side files
    assert "var/lib/rpm/rpmdb.sqlite" in members
    assert not (rootfs / "var/lib/rpm/rpmdb.sqlite-wal").exists()
    # rpm -V of the updated packages on the result (config files aside) is clean
    p = rpm("--root", rootfs, "--dbpath", "/var/lib/rpm", "-V", "--nouser", "--nogroup",
            "--noconfig", "copa-lib", "copa-tool", "copa-hello", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    s = json.loads(summary.read_text())
    pkgs = {x["name"]: x for x in s["platforms"][0]["packages"]}
    assert pkgs["copa-tool"]["outcome"] == "updated"
    assert pkgs["copa-tool"]["skippedScripts"] == ["%post"]  # never run
    assert pkgs["copa-hello"]["installedVersion"] == "1.1-1"
    # re-patching the result: nothing left to do
    p = copa("patch", "-i", f"oci:{layout}:1.0-patched", "-t", "again", check=True)
    assert "patched by copa before" in p.stderr
    assert "every package is already up to date" in p.stderr


def test_rhel_sysimage_arm64(copa, rpmworld, tmp_path):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.el_layout, layout)
    r = report(tmp_path / "r.json", [("copa-hello", "1.0-1", "1.1-1", "CVE-2099-0003")],
               os_type="redhat", arch="arm64")
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", r, "-s", "native", "-t", "fixed",
         check=True)
    manifest, _ = image_manifest(layout, "fixed")
    rootfs = unpack(layout, "fixed", tmp_path / "u")
    assert os.readlink(rootfs / "var/lib/rpm") == "../../usr/lib/sysimage/rpm"
    members = patch_layer_tar(layout, "fixed")
    assert "usr/lib/sysimage/rpm/rpmdb.sqlite" in members
    assert not any(m.startswith("var/lib/rpm/") for m in members)
    copy = tmp_path / "qa"
    shutil.copytree(rootfs / "usr/lib/sysimage/rpm", copy / "var/lib/rpm")
    got = rpm_qa(copy)
    assert got == {"copa-hello": "1.1-1", "copa-lib": "1:2.0-1", "copa-tool": "0.9-1",
                   "copa-stay": "1.0-1", "kernel": "5.14.0-1"}
    assert manifest["layers"][-1]["mediaType"].startswith("application/vnd.oci.image.layer")


def dnf(root, url, tmp, *args):
    """Debian's dnf on root against the test repository (signatures not its business here)."""
    if not shutil.which("dnf"):
        pytest.skip("dnf is not installed (scripts/install-deps.sh installs it)")
    repos = tmp / "dnf-repos"
    repos.mkdir(exist_ok=True)
    (repos / "copa.repo").write_text(f"[copa]\nbaseurl={url}/good/\ngpgcheck=0\n")
    # Debian's rpm keeps its database in ~/.rpmdb unless told: dnf would see an empty root
    home = tmp / "dnf-home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    return subprocess.run(["dnf", "-y", "--installroot", str(root), "--releasever", "9",
                           "--setopt=reposdir=" + str(repos),
                           "--setopt=cachedir=" + str(tmp / "dnf-cache"), "--nogpgcheck",
                           "--disableplugin=*", *args], capture_output=True, text=True,
                          env=dict(os.environ, HOME=str(home)))


def tree(root):
    """path -> (kind, mode, content or link) of a tree, outside dnf's and rpm's own files."""
    out = {}
    skip = ("var/lib/rpm", "var/lib/dnf", "var/cache", "var/log", "usr/lib/sysimage", "etc/dnf",
            "tmp")
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(skip):
            continue
        st = p.lstat()
        if p.is_symlink():
            out[rel] = ("l", os.readlink(p))
        elif p.is_dir():
            out[rel] = ("d", st.st_mode & 0o7777)
        else:
            out[rel] = ("f", st.st_mode & 0o7777, p.read_bytes())
    return out


def test_plan_and_tree_match_dnf(copa, rpmworld, tmp_path):
    """copa's update-all against dnf's own `--installroot upgrade` (scriptlets off) on a copy
    of the same root: the same packages and the same files; then dnf finds nothing to do."""
    w = rpmworld
    ref = tmp_path / "dnf-root"
    shutil.copytree(w.root, ref, symlinks=True)
    p = dnf(ref, w.url, tmp_path, "--setopt=tsflags=noscripts", "upgrade")
    assert p.returncode == 0 and "Upgrading:" in p.stdout, p.stdout + p.stderr
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    copa("patch", "-i", f"oci:{layout}:1.0", check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    assert rpm_qa(rootfs) == rpm_qa(ref)
    mine, theirs = tree(rootfs), tree(ref)
    assert sorted(set(mine) ^ set(theirs)) == []
    assert len(mine) > 20
    assert [k for k in mine if mine[k] != theirs[k]] == []
    p = dnf(rootfs, w.url, tmp_path, "check-update")
    assert p.returncode == 0, p.stdout + p.stderr  # 100: updates available


def test_report_mode_with_epoch(copa, rpmworld, tmp_path):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    r = report(tmp_path / "r.json", [("copa-tool", "0.9-1", "0:0.9-2", "CVE-2099-0001")])
    vex = tmp_path / "vex.json"
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", r, "-s", "native", "-t", "fixed",
         "-o", vex, check=True)
    got = rpm_qa(unpack(layout, "fixed", tmp_path / "u"))
    assert got == {"copa-hello": "1.0-1", "copa-tool": "0.9-2", "copa-stay": "1.0-1",
                   "kernel": "5.14.0-1"}
    st = json.loads(vex.read_text())["statements"]
    assert [x["status"] for x in st] == ["fixed"]
    subs = [c["@id"] for p in st[0]["products"] for c in p.get("subcomponents", [])]
    assert subs == ["pkg:rpm/rocky/copa-tool@0.9-2?arch=noarch&distro=rocky-9.3"]


def test_fixed_version_not_available(copa, rpmworld, tmp_path):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    r = report(tmp_path / "r.json", [("copa-tool", "0.9-1", "0.9-2", "CVE-2099-0001"),
                                     ("copa-stay", "1.0-1", "1:1.0-5", "CVE-2099-0002")])
    p = copa("patch", "-i", f"oci:{layout}:1.0", "-r", r, "-s", "native", "-t", "strict")
    assert p.returncode == 1
    assert "'copa-stay': the repositories offer at most 1.0-1" in p.stderr
    r = report(tmp_path / "r.json", [("copa-tool", "0.9-1", "0.9-2", "CVE-2099-0001"),
                                     ("copa-stay", "1.0-1", "1:1.0-5", "CVE-2099-0002"),
                                     ("copa-hello", "1.0-1", "1.0", "CVE-2099-0004"),
                                     ("not-here", "1.0-1", "1.0-2", "CVE-2099-0005")])
    summary = tmp_path / "summary.json"
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", r, "-s", "native", "-t", "lenient",
         "--ignore-errors", "--summary", summary, check=True)
    got = rpm_qa(unpack(layout, "lenient", tmp_path / "u"))
    assert got["copa-tool"] == "0.9-2" and got["copa-stay"] == "1.0-1"
    # 1.0-1 installed reaches the fixed '1.0' (a missing release sorts first, as in rpm)
    assert got["copa-hello"] == "1.0-1"
    pkgs = {x["name"]: x for x in json.loads(summary.read_text())["platforms"][0]["packages"]}
    assert pkgs["copa-tool"]["outcome"] == "updated"
    assert pkgs["copa-stay"]["outcome"] == "not-available"
    assert pkgs["copa-hello"]["outcome"] == "already-fixed"
    assert pkgs["not-here"]["outcome"] == "skipped"


@pytest.mark.parametrize("repo,why", [("unsigned", "it is not signed"),
                                      ("otherkey", "not among the repository's keys"),
                                      ("tampered", "does not match the signed payload digest")])
def test_bad_package_refused(copa, rpmworld, tmp_path, repo, why):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    args = ["patch", "-i", f"oci:{layout}:1.0", "--repo", f"copa-x86_64={w.url}/{repo}/",
            "--keyring", w.key.armored]
    p = copa(*args)
    assert p.returncode == 1, p.stderr
    lines = [l for l in p.stderr.splitlines() if "copa-tool" in l and why in l]
    assert lines, p.stderr
    assert "1.0-patched" not in (layout / "index.json").read_text()
    # --ignore-errors: the others are installed, copa-tool left as it was, in files and database
    copa(*args, "--ignore-errors", check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    assert rpm_qa(rootfs) == {"copa-hello": "1.1-1", "copa-lib": "1:2.0-1",
                              "copa-tool": "0.9-1", "copa-stay": "1.0-1",
                              "kernel": "5.14.0-1 5.14.0-2"}
    assert (rootfs / "usr/share/copa-tool/version").read_text() == "0.9\n"
    assert not any("copa-tool" in m for m in patch_layer_tar(layout, "1.0-patched"))


def tamper_primary(repo):
    """The primary index the signed repomd.xml names, one byte changed (same size)."""
    primary = next((repo / "repodata").glob("*-primary.xml.gz"))
    data = bytearray(primary.read_bytes())
    data[len(data) // 2] ^= 0x20
    primary.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,why", [
    (lambda repo: (repo / "repodata/repomd.xml.asc").unlink(),
     "has no signature (repodata/repomd.xml.asc)"),
    (tamper_primary, "-primary.xml.gz' of repository 'copa-x86_64': content does not match"),
])
def test_bad_repodata_refused(copa, rpmworld, tmp_path, damage, why):
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    repo = tmp_path / "repo"
    shutil.copytree(w.www / "good", repo)
    damage(repo)
    srv = StaticServer(tmp_path)
    try:
        conf = tmp_path / "x.repo"
        conf.write_text(f"[copa-x86_64]\nbaseurl={srv.url}/repo/\nrepo_gpgcheck=1\n")
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring",
                 w.key.armored)
    finally:
        srv.stop()
    assert p.returncode == 1
    errors = [l for l in p.stderr.splitlines() if l.startswith("copa: error")]
    assert len(errors) == 1 and why in errors[0], p.stderr


def test_azure_linux_distroless(copa, rpmworld, tmp_path):
    """No rpm database: the packages are installed and both manifests rewritten as the
    toolkit writes them (what rpm itself prints for the new packages, install time aside)."""
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.dl_layout, layout)
    copa("patch", "-i", f"oci:{layout}:1.0", "--repo", f"azl={w.url}/good/", "--keyring",
         w.key.armored, check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    assert (rootfs / "usr/share/copa-hello/version").read_text() == "1.1\n"
    assert not (rootfs / "var/lib/rpm").exists()
    two = (rootfs / "var/lib/rpmmanifest/container-manifest-2").read_text().splitlines()
    one = (rootfs / "var/lib/rpmmanifest/container-manifest-1").read_text().splitlines()
    got = {l.split("\t")[0] + "-" + l.split("\t")[1]: l.split("\t") for l in two}
    assert sorted(got) == sorted(["copa-hello-1.1-1", "copa-lib-2.0-1", "copa-tool-0.9-2",
                                  "copa-stay-1.0-1", "kernel-5.14.0-1", "kernel-5.14.0-2"])
    assert sorted(one) == sorted(l.split("\t")[0] + "-" + l.split("\t")[1] + "." +
                                 l.split("\t")[7] for l in two)
    for r in w.new:
        if "copa-stay" in r.name:  # same version as installed: its line is untouched
            continue
        want = rpm("-qp", "--qf", MANIFEST2_QF, r).stdout.rstrip("\n").split("\t")
        line = got[want[0] + "-" + want[1]]
        assert line[:2] + line[3:] == want[:2] + want[3:], (line, want)
        assert int(line[2]) > 0  # install time


def test_mirrorlist(copa, rpmworld, tmp_path):
    """A .repo with only a mirrorlist (as Rocky's and Alma's): its first http(s) mirror."""
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    www = tmp_path / "www"
    www.mkdir()
    (www / "mirrors").write_text(f"# mirrors\n\nftp://nowhere.invalid/\n{w.url}/good/\n"
                                 "http://127.0.0.1:1/never-tried/\n")
    srv = StaticServer(www)
    try:
        conf = tmp_path / "m.repo"
        conf.write_text(f"[copa-$basearch]\nmirrorlist={srv.url}/mirrors\nrepo_gpgcheck=1\n")
        copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring", w.key.armored,
             check=True)
        (www / "mirrors").write_text("# nothing usable\nftp://nowhere.invalid/\n")
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring",
                 w.key.armored, "-t", "again")
    finally:
        srv.stop()
    assert rpm_qa(unpack(layout, "1.0-patched", tmp_path / "u"))["copa-tool"] == "0.9-2"
    assert p.returncode == 1 and "the mirrorlist names no http(s) mirror" in p.stderr



def test_default_repositories_distroless(copa, rpmworld, tmp_path):
    """Azure Linux distroless has no etc/yum.repos.d: with no --repo, copa uses Azure
    Linux's official repository (named in the output), here served on 127.0.0.1 under
    the official path through COPA_RPM_DEFAULT_MIRROR. copa carries no distribution key:
    without --keyring (the image has no MICROSOFT-RPM-GPG-KEY) it says what to pass."""
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.dl_layout, layout)
    www = tmp_path / "www"
    shutil.copytree(w.www / "good", www / "mirror/azurelinux/3.0/prod/base/x86_64")
    srv = StaticServer(www)
    env = {"COPA_RPM_DEFAULT_MIRROR": f"{srv.url}/mirror/"}
    try:
        nokey = copa("patch", "-i", f"oci:{layout}:1.0", env=env)
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--keyring", w.key.armored, env=env)
        bad = copa("patch", "-i", f"oci:{layout}:1.0", "--keyring", w.key.armored, "-t", "x",
                   env={"COPA_RPM_DEFAULT_MIRROR": "ftp://nowhere.invalid/"})
    finally:
        srv.stop()
    assert nokey.returncode == 1
    assert ("repository 'azurelinux-official-base' (copa's default repositories for "
            "azurelinux 3.0") in nokey.stderr, nokey.stderr
    assert "file:///etc/pki/rpm-gpg/MICROSOFT-RPM-GPG-KEY" in nokey.stderr
    assert "--keyring" in nokey.stderr
    assert p.returncode == 0, p.stderr
    assert "https://packages.microsoft.com/azurelinux/3.0/prod/base/x86_64/" in p.stderr
    assert "COPA_RPM_DEFAULT_MIRROR" in p.stderr
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    assert (rootfs / "usr/share/copa-hello/version").read_text() == "1.1\n"
    two = (rootfs / "var/lib/rpmmanifest/container-manifest-2").read_text()
    assert "copa-tool\t0.9-2\t" in two
    assert bad.returncode != 0 and "COPA_RPM_DEFAULT_MIRROR='ftp://nowhere.invalid/'" in \
        bad.stderr
    # inspect names the official repository; the Rocky image, its own .repo file
    got = json.loads(copa("inspect", "--json", "--progress", "quiet", f"oci:{w.dl_layout}:1.0",
                          check=True).stdout)["repositories"]
    assert got == [{"id": "azurelinux-official-base", "enabled": True, "from": "defaults",
                    "url": "https://packages.microsoft.com/azurelinux/3.0/prod/base/x86_64/"}]
    human = copa("inspect", "--progress", "quiet", f"oci:{w.dl_layout}:1.0", check=True).stdout
    assert "repositories: (none in the image: the distribution's)\n  azurelinux-official-base  " \
        "https://packages.microsoft.com/azurelinux/3.0/prod/base/x86_64/\n" in human, human
    got = json.loads(copa("inspect", "--json", "--progress", "quiet", f"oci:{w.layout}:1.0",
                          check=True).stdout)["repositories"]
    assert got == [{"id": "copa-x86_64", "enabled": True, "url": f"{w.url}/good/",
                    "from": "etc/yum.repos.d/copa.repo:1"}]


def metalink_xml(repomd, urls, size=None):
    """A metalink as Fedora's MirrorManager writes it, for one repomd.xml."""
    import hashlib
    res = "\n".join(f'    <url protocol="{u.split(":")[0]}" type="{u.split(":")[0]}" '
                    f'location="US" preference="{pref}">{u}</url>' for u, pref in urls)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1733565600</mm0:timestamp>
   <size>{len(repomd) if size is None else size}</size>
   <verification>
    <hash type="md5">{hashlib.md5(repomd).hexdigest()}</hash>
    <hash type="sha1">{hashlib.sha1(repomd).hexdigest()}</hash>
    <hash type="sha256">{hashlib.sha256(repomd).hexdigest()}</hash>
    <hash type="sha512">{hashlib.sha512(repomd).hexdigest()}</hash>
   </verification>
   <resources maxconnections="1">
{res}
   </resources>
  </file>
 </files>
</metalink>
"""


def test_metalink(copa, rpmworld, tmp_path):
    """A metalink-only repository (Fedora's shape): mirrors in preference order, the next
    one when a mirror fails (here a 404, then a mirror serving a repomd.xml the metalink
    does not know), repomd.xml checked against the metalink's size and hashes; a metalink
    naming only a mismatching repomd.xml is refused."""
    w = rpmworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    www = tmp_path / "www"
    shutil.copytree(w.www / "good", www / "stale")
    stale = www / "stale/repodata/repomd.xml"  # same size, another revision
    stale.write_text(re.sub(r"<revision>(\d)", lambda m: f"<revision>{(int(m[1]) + 1) % 10}",
                            stale.read_text(), count=1))
    good = (w.www / "good/repodata/repomd.xml").read_bytes()
    srv = StaticServer(www)
    try:
        (www / "metalink").write_text(metalink_xml(good, [
            (f"rsync://{srv.url[7:]}/good/repodata/repomd.xml", 100),
            (f"{w.url}/good/repodata/repomd.xml", 50),
            (f"{srv.url}/missing/repodata/repomd.xml", 100),
            (f"{srv.url}/stale/repodata/repomd.xml", 90)]))
        conf = tmp_path / "m.repo"
        conf.write_text(f"[copa-$basearch]\nmetalink={srv.url}/metalink\nrepo_gpgcheck=1\n")
        ok = copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring",
                  w.key.armored)
        (www / "metalink").write_text(metalink_xml(good, [
            (f"{srv.url}/stale/repodata/repomd.xml", 100)]))
        stale = copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring",
                     w.key.armored, "-t", "stale")
        (www / "metalink").write_text(metalink_xml(good, [
            (f"{w.url}/good/repodata/repomd.xml", 100)], size=len(good) + 1))
        size = copa("patch", "-i", f"oci:{layout}:1.0", "--repo", conf, "--keyring",
                    w.key.armored, "-t", "size")
    finally:
        srv.stop()
    assert ok.returncode == 0, ok.stderr
    warned = [l for l in ok.stderr.splitlines() if "trying the next mirror" in l]
    assert len(warned) == 2 and "/missing/" in warned[0] and "/stale/" in warned[1], ok.stderr
    assert rpm_qa(unpack(layout, "1.0-patched", tmp_path / "u"))["copa-tool"] == "0.9-2"
    assert stale.returncode == 1
    assert "/stale/repodata/repomd.xml' of repository 'copa-x86_64' does not match its " \
        "metalink: sha256" in stale.stderr, stale.stderr
    assert size.returncode == 1 and "does not match its metalink" in size.stderr, size.stderr
    assert f"{len(good)} bytes, the metalink says {len(good) + 1}" in size.stderr


def make_ca(tmp, name):
    """A self-signed CA made by openssl: (certificate PEM, public key PEM)."""
    key, crt = tmp / f"{name}.key", tmp / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    f"/CN={name}", "-keyout", key, "-out", crt, "-days", "3650"],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "x509", "-in", crt, "-pubkey", "-noout"], check=True,
                         capture_output=True, text=True).stdout
    return crt.read_text(), pub


# the DER of an extendedKeyUsage extension naming serverAuth only, as p11-kit staples it
EKU_SERVER = bytes.fromhex("3013" "0603551d25" "040c" "300a" "06082b06010505070301")


def p11kit(objs):
    out = []
    for o in objs:
        out.append("[p11-kit-object-v1]\n" + "".join(f"{k}: {v}\n" for k, v in o[0]) + o[1])
    return "\n".join(out)


def ca_rpm(tmp, out, ver, bundle):
    """ca-certificates VER: the trust source file, the extracted files as %ghost (Fedora)."""
    src = tmp / f"ca-bundle-{ver}.p11-kit"
    src.write_text(bundle)
    install = ("mkdir -p %{buildroot}/usr/share/pki/ca-trust-source "
               "%{buildroot}/etc/pki/ca-trust/extracted/pem "
               "%{buildroot}/etc/pki/ca-trust/extracted/openssl "
               "%{buildroot}/etc/pki/ca-trust/extracted/java\n"
               f"cp {src} %{{buildroot}}/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit\n")
    files = ("/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit\n"
             "%dir /etc/pki/ca-trust/extracted/pem\n%dir /etc/pki/ca-trust/extracted/openssl\n"
             "%dir /etc/pki/ca-trust/extracted/java\n"
             "%ghost /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem\n")
    return build_spec(tmp, out, "ca-certificates", ver, install, files,
                      "%post -p <lua>\nprint(\"update-ca-trust\")\n")


def build_spec(tmp, out, name, ver, install, files, scripts=""):
    spec = tmp / f"{name}-{ver}.spec"
    spec.write_text(SPEC.format(name=name, ver=ver, rel="1", epoch="", requires="",
                                install=install, files=files, scripts=scripts))
    subprocess.run(["rpmbuild", "--quiet", "-bb", "--define", f"_topdir {tmp}/top",
                    "--define", f"_rpmdir {out}", "--define",
                    "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", str(spec)],
                   check=True, capture_output=True)
    return out / f"{name}-{ver}-1.noarch.rpm"


def test_update_ca_trust_and_ldconfig(copa, rpmworld, tmp_path):
    """ca-certificates changes the trust source: copa redoes update-ca-trust's extraction
    (TLS/email/code-signing PEM bundles, OpenSSL's trusted format, Java's JKS store read
    back by keytool) from the new p11-kit file, the image's local anchors and the stapled
    key usage; a distrusted certificate stays out. A library package is listed with
    ldconfig skipped (etc/ld.so.cache is not written)."""
    w = rpmworld
    a, a_pub = make_ca(tmp_path, "Copa Test A")
    b, _ = make_ca(tmp_path, "Copa Test B")
    c, _ = make_ca(tmp_path, "Copa Test C")
    d, _ = make_ca(tmp_path, "Copa Local D")
    cert = lambda label, pem, extra=(): ([("class", "certificate"), ("certificate-type", "x-509"),
                                         ("label", f'"{label}"'), *extra], pem)
    old_bundle = p11kit([cert("Copa Test A", a, [("trusted", "true")])])
    new_bundle = p11kit([
        cert("Copa Test A", a, [("trusted", "true")]),
        ([("class", "x-certificate-extension"), ("label", '"Copa Test A"'),
          ("object-id", "2.5.29.37"),
          ("value", '"' + "".join(f"%{x:02X}" for x in EKU_SERVER) + '"')], a_pub),
        cert("Copa Test B", b, [("trusted", "true")]),
        cert("Copa Test C", c, [("x-distrusted", "true")])])
    lib = lambda ver: ("mkdir -p %{buildroot}/usr/lib64\n"
                       f"echo {ver} > %{{buildroot}}/usr/lib64/libcopax.so.1\n",
                       "/usr/lib64/libcopax.so.1\n")
    old = [ca_rpm(tmp_path, tmp_path / "old", "1.0", old_bundle),
           build_spec(tmp_path, tmp_path / "old", "copa-libx", "1.0", *lib("1.0"))]
    new = [ca_rpm(tmp_path, tmp_path / "new", "2.0", new_bundle),
           build_spec(tmp_path, tmp_path / "new", "copa-libx", "2.0", *lib("2.0"))]
    for r in new:
        sign(w.key, r)
    make_repo(tmp_path / "www/repo", new, w.key)
    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", *old)
    (root / "etc/os-release").write_text('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n')
    (root / "etc/pki/ca-trust/source/anchors").mkdir(parents=True)
    (root / "etc/pki/ca-trust/source/anchors/local.pem").write_text(d)
    (root / "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem").write_text("# stale\n" + a)
    layout = tmp_path / "img"
    it.write_image(layout, [tar_dir(root)], tag="1.0")
    srv = StaticServer(tmp_path / "www")
    summary = tmp_path / "summary.json"
    try:
        copa("patch", "-i", f"oci:{layout}:1.0", "--repo", f"r={srv.url}/repo/", "--keyring",
             w.key.armored, "--summary", summary, check=True)
    finally:
        srv.stop()
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    ex = rootfs / "etc/pki/ca-trust/extracted"
    labels = lambda f: [l[2:] for l in f.read_text().splitlines() if l.startswith("# ")]
    # etc/pki/ca-trust/source before usr/share/pki/ca-trust-source, as p11-kit reads them
    assert labels(ex / "pem/tls-ca-bundle.pem") == ["Copa Local D", "Copa Test A", "Copa Test B"]
    assert labels(ex / "pem/email-ca-bundle.pem") == ["Copa Local D", "Copa Test B"]
    assert labels(ex / "pem/objsign-ca-bundle.pem") == ["Copa Local D", "Copa Test B"]
    tls = (ex / "pem/tls-ca-bundle.pem").read_text()
    assert a.strip() in tls and d.strip() in tls and c.strip() not in tls
    trusted = (ex / "openssl/ca-bundle.trust.crt").read_text()
    assert trusted.count("BEGIN TRUSTED CERTIFICATE") == 3
    end = "-----END TRUSTED CERTIFICATE-----\n"
    texts = [subprocess.run(["openssl", "x509", "-noout", "-text", "-trustout"],
                            input=blk[blk.index("-----BEGIN"):] + end, text=True,
                            capture_output=True, check=True).stdout
             for blk in trusted.split(end)[:-1]]
    assert "Trusted Uses:\n  TLS Web Server Authentication\nNo Rejected Uses.\nAlias: " \
        "Copa Test A" in texts[1], texts[1]
    assert "Trusted Uses:\n  TLS Web Server Authentication, E-mail Protection, Code Signing" \
        in texts[0] and "Alias: Copa Local D" in texts[0], texts[0]
    ks = subprocess.run(["keytool", "-list", "-keystore", ex / "java/cacerts", "-storepass",
                         "changeit", "-storetype", "JKS"], capture_output=True, text=True)
    assert ks.returncode == 0, ks.stdout + ks.stderr
    assert "contains 3 entries" in ks.stdout, ks.stdout
    assert "copa test a," in ks.stdout and "copa local d," in ks.stdout
    s = json.loads(summary.read_text())
    pkgs = {x["name"]: x for x in s["platforms"][0]["packages"]}
    assert pkgs["copa-libx"]["skippedScripts"] == ["ldconfig (etc/ld.so.cache not rebuilt)"]
    assert pkgs["ca-certificates"]["skippedScripts"] == ["%post"]
