"""Debian package fixtures: build .deb files with the real dpkg-deb, hand-craft
hostile ones, make small root file systems with dpkg's database installed by
the real dpkg, and compare two trees.

build_deb(outdir, name, version, files, ...) builds a package from a dict
of files; make_rootfs(dir, debs) creates a merged-/usr root with dpkg's admin
directory and installs debs with `dpkg --root`; real_dpkg_install(root, debs)
is the reference copa's applier is compared with; tree_diff(a, b) lists what
differs (type, mode, owner, link target, content, and mtime where asked).
"""
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import pathlib

import pytest

import imagetools

ROOT = pathlib.Path(__file__).resolve().parents[2]

__all__ = ["build_deb", "build_raw_deb", "make_rootfs", "real_dpkg_install", "tree_diff",
           "copa_debapply", "debapply_bin", "dpkg_tools", "tree_snapshot", "DPKG_IGNORED",
           "copy_tree", "package_paths"]


def copy_tree(src, dst):
    """cp -a: device nodes stay device nodes (shutil.copytree would read
    /dev/full forever), owners and hard links are kept."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return pathlib.Path(dst)


def _spec(spec):
    if spec is None:
        return {"type": "dir"}
    if isinstance(spec, (bytes, str)):
        return {"type": "file", "data": spec}
    return spec


def build_deb(outdir, name, version, files, arch="amd64", fields=None, conffiles=(),
              scripts=None, md5sums=True, compress="xz", extra_control=None,
              description="test package\n copa test fixture."):
    """Builds <outdir>/<name>_<version>_<arch>.deb with dpkg-deb.

    files: {path: spec}, spec = bytes/str (a 0644 file), None (a directory), or a
    dict with type file|dir|symlink|hardlink and data/mode/target/uid/gid.
    fields: extra control fields (ordered dict). conffiles: absolute paths (a line
    may carry the "remove-on-upgrade " flag). scripts: {name: text} for
    preinst/postinst/prerm/postrm/triggers... extra_control: {name: bytes} for
    other control-area files. md5sums: write DEBIAN/md5sums as dh_md5sums does
    (regular files, conffiles excluded)."""
    outdir = pathlib.Path(outdir)
    stage = outdir / f".stage-{name}-{version}-{arch}"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "DEBIAN").mkdir(parents=True)
    hashes = []
    conf_paths = {c.split(" ", 1)[-1] for c in conffiles}
    hardlinks = []
    for path, spec in sorted(files.items()):
        spec = _spec(spec)
        p = stage / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        kind = spec.get("type", "file")
        if kind == "dir":
            p.mkdir(exist_ok=True)
            os.chmod(p, spec.get("mode", 0o755))
        elif kind == "symlink":
            os.symlink(spec["target"], p)
        elif kind == "hardlink":
            hardlinks.append((p, stage / spec["target"].lstrip("/")))
        else:
            data = spec.get("data", b"")
            if isinstance(data, str):
                data = data.encode()
            p.write_bytes(data)
            os.chmod(p, spec.get("mode", 0o644))
            if "/" + path.lstrip("/") not in conf_paths:
                hashes.append((path.lstrip("/"), hashlib.md5(data).hexdigest()))
    for p, target in hardlinks:
        os.link(target, p)
    control = [("Package", name), ("Version", version), ("Architecture", arch),
               ("Maintainer", "Copa Tests <copa@example.org>")]
    for k, v in (fields or {}).items():
        control.append((k, v))
    control.append(("Description", description))
    text = "".join(f"{k}: {v}\n" for k, v in control)
    (stage / "DEBIAN" / "control").write_text(text)
    if conffiles:
        (stage / "DEBIAN" / "conffiles").write_text("".join(c + "\n" for c in conffiles))
    if md5sums and hashes:
        (stage / "DEBIAN" / "md5sums").write_text(
            "".join(f"{h}  {p}\n" for p, h in sorted(hashes)))
    for sname, body in (scripts or {}).items():
        sp = stage / "DEBIAN" / sname
        sp.write_text(body)
        os.chmod(sp, 0o755 if sname in ("preinst", "postinst", "prerm", "postrm", "config")
                 else 0o644)
    for cname, body in (extra_control or {}).items():
        (stage / "DEBIAN" / cname).write_bytes(body)
    # Owners other than root need the tar headers set: dpkg-deb takes them from disk.
    for path, spec in files.items():
        spec = _spec(spec)
        if "uid" in spec or "gid" in spec:
            os.lchown(stage / path.lstrip("/"), spec.get("uid", 0), spec.get("gid", 0))
    out = outdir / f"{name}_{version.replace(':', '%3a')}_{arch}.deb"
    argv = ["dpkg-deb", f"-Z{compress}", "--build", str(stage), str(out)]
    if not any("uid" in _spec(s) or "gid" in _spec(s) for s in files.values()):
        argv.insert(1, "--root-owner-group")
    subprocess.run(argv, check=True, capture_output=True)
    shutil.rmtree(stage)
    return out


def _ar_member(name, data):
    hdr = (name.encode().ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6)
           + b"100644".ljust(8) + str(len(data)).encode().ljust(10) + b"`\n")
    assert len(hdr) == 60
    return hdr + data + (b"\n" if len(data) % 2 else b"")


def _tar(entries, compression="gz"):
    buf = io.BytesIO()
    mode = "w:gz" if compression == "gz" else "w"
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as tf:
        imagetools.add_tar_entries(tf, entries)
    return buf.getvalue()


def build_raw_deb(path, control, data_entries, members=None):
    """Hand-crafts a .deb (for hostile cases dpkg-deb refuses to build):
    control is the control file text, data_entries a list of (tar name, spec).
    members overrides the ar members: a list of (name, bytes)."""
    if members is None:
        ctl = _tar([("./", None), ("./control", control)])
        members = [("debian-binary", b"2.0\n"), ("control.tar.gz", ctl),
                   ("data.tar.gz", _tar(data_entries))]
    blob = b"!<arch>\n" + b"".join(_ar_member(n, d) for n, d in members)
    pathlib.Path(path).write_bytes(blob)
    return pathlib.Path(path)


DPKG_BASE_ARGS = ["--force-depends", "--force-confold", "--force-script-chrootless",
                  "--force-unsafe-io", "--log=/dev/null"]


def _dpkg(root, args):
    root = pathlib.Path(root)
    argv = ["dpkg", f"--root={root}", f"--admindir={root}/var/lib/dpkg", *DPKG_BASE_ARGS, *args]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", DPKG_ROOT=str(root))
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def make_rootfs(root, debs=(), merged_usr=True):
    """A small root file system: merged /usr (bin, sbin, lib -> usr/...), dpkg's
    admin directory, and debs installed with the real dpkg."""
    root = pathlib.Path(root)
    for d in ("usr/bin", "usr/sbin", "usr/lib", "etc", "var/lib/dpkg/info",
              "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    if merged_usr:
        for d in ("bin", "sbin", "lib"):
            os.symlink(f"usr/{d}", root / d)
    else:
        for d in ("bin", "sbin", "lib"):
            (root / d).mkdir()
    (root / "var/lib/dpkg/status").write_text("")
    (root / "var/lib/dpkg/available").write_text("")
    (root / "var/lib/dpkg/info/format").write_text("1\n")
    if debs:
        real_dpkg_install(root, debs)
    return root


def real_dpkg_install(root, debs, extra=()):
    """The reference: dpkg --root ... -i (unpack and configure; scripts run
    outside the chroot, which is fine for the fixtures' own scripts)."""
    return _dpkg(root, [*extra, "-i", *map(str, debs)])


# Paths dpkg writes that copa does not, on purpose (docs/ARCHITECTURE.md).
DPKG_IGNORED = ("var/lib/dpkg/status-old", "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend",
                "var/lib/dpkg/triggers/Lock", "var/lib/dpkg/triggers/Unincorp",
                "var/log/dpkg.log", "var/cache/debconf")


def tree_snapshot(root, mtimes=False):
    root = pathlib.Path(root)
    res = {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            mt = int(st.st_mtime) if mtimes else None
            if stat.S_ISLNK(st.st_mode):
                v = ("symlink", os.readlink(p), st.st_uid, st.st_gid, mt)
            elif stat.S_ISDIR(st.st_mode):
                v = ("dir", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, None)
            elif stat.S_ISREG(st.st_mode):
                v = ("file", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, mt,
                     hashlib.sha256(open(p, "rb").read()).hexdigest())
            else:
                v = ("special", oct(st.st_mode), st.st_rdev, st.st_uid, st.st_gid, None)
            res[rel] = v
    return res


def package_paths(root):
    """Every path listed in the .list files of root's dpkg database."""
    paths = set()
    for lst in pathlib.Path(root, "var/lib/dpkg/info").glob("*.list"):
        paths.update(l.lstrip("/") for l in lst.read_text().splitlines())
    return paths


def tree_diff(a, b, ignore=DPKG_IGNORED, mtimes_outside=("var/lib/dpkg",), mtimes_only=None):
    """Lists differences between trees a and b as strings. mtimes are compared
    for files and symlinks except under the prefixes in mtimes_outside (files
    dpkg generates get the time of the run) and, when mtimes_only is a set,
    only for the paths in it (the files packages ship)."""
    sa, sb = tree_snapshot(a, mtimes=True), tree_snapshot(b, mtimes=True)
    out = []

    def ignored(p):
        return any(p == i or p.startswith(i + "/") for i in ignore)

    for k in sorted(set(sa) | set(sb)):
        if ignored(k):
            continue
        va, vb = sa.get(k), sb.get(k)
        if va is None or vb is None:
            out.append(f"{k}: only in {'b' if va is None else 'a'} ({(va or vb)[0]})")
            continue
        if any(k == m or k.startswith(m + "/") for m in mtimes_outside) or \
                (mtimes_only is not None and k not in mtimes_only):
            va = tuple(x for i, x in enumerate(va) if i != 4)
            vb = tuple(x for i, x in enumerate(vb) if i != 4)
        if va != vb:
            out.append(f"{k}: {va} != {vb}")
    return out


def debapply_bin():
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    path = pathlib.Path(copa).parent / "tests" / "helpers" / "copa-debapply"
    if not os.access(path, os.X_OK):
        pytest.fail(f"copa-debapply not found at {path}: build the project first")
    return path


def copa_debapply(root, out, debs, *args, check=True):
    """Runs copa-debapply; returns (CompletedProcess, list of JSON results)."""
    import json
    argv = [str(debapply_bin()), "--root", str(root), "--out", str(out), *args, *map(str, debs)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"copa-debapply failed ({p.returncode}):\n{p.stderr}")
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    results = [r for r in lines if "name" in r]
    p.run = next((r for r in lines if "run_notes" in r), None)
    return p, results


@pytest.fixture(scope="session")
def dpkg_tools():
    for tool in ("dpkg", "dpkg-deb", "dpkg-divert"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (scripts/install-deps.sh installs dpkg-dev)")
    if os.geteuid() != 0:
        pytest.skip("the dpkg comparison tests need root (dpkg --root installs root-owned files)")
    return True
