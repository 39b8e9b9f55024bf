"""Layers copa writes and reads, checked with independent tools.

copa-mklayer (tests/helpers) walks a directory into a layer builder and
writes it; copa-lsview reads layer blobs into the merged view. What they
write is read back by python's gzip/tarfile, GNU tar, gzip -t, zstd -t and
umoci (Go's gzip and tar readers, which also verify the diff_id); what they
read is produced by GNU tar and python's tarfile.
"""
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from conftest import copa_path


def helper(name):
    path = pathlib.Path(copa_path()).parent / "tests" / "helpers" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} not built at {path}: build the project first")
    return str(path)


def mklayer(tree, out, *args, user=None):
    argv = [helper("copa-mklayer"), *args, str(tree), str(out)]
    if user:
        import pwd
        pw = pwd.getpwnam(user)
        argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                *argv]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def lsview(*blobs, args=(), check=True):
    p = subprocess.run([helper("copa-lsview"), *args, *map(str, blobs)],
                       capture_output=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


BIG = bytes((i * 7919) % 251 for i in range(3 * 1024 * 1024 + 17))


@pytest.fixture
def tree():
    """A world-readable tree (so an unprivileged user can read it too)."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="copa-e2e-layer-"))
    os.chmod(top, 0o755)
    root = top / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(root / "usr/bin/tool", 0o4755)
    os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
    os.symlink("tool", root / "usr/bin/tool-link")
    (root / "usr/share/big").mkdir(parents=True)
    (root / "usr/share/big/blob.bin").write_bytes(BIG)
    deep = root / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (deep / "file").write_text("deep\n")
    os.mkfifo(root / "fifo")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=\"12\"\n")
    for dirpath, dirnames, filenames in os.walk(top):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    yield root
    shutil.rmtree(top)


def test_gzip_layer_digests_and_independent_readers(tree, tmp_path):
    out = tmp_path / "layer.tar.gz"
    res = mklayer(tree, out)
    blob = out.read_bytes()
    assert res["digest"] == sha256(blob)
    assert res["size"] == len(blob)
    # Several gzip members (3 MiB of tar), all accepted by gzip(1) and python.
    subprocess.run(["gzip", "-t", str(out)], check=True)
    tar = subprocess.run(["gzip", "-dc", str(out)], check=True, capture_output=True).stdout
    assert tar == gzip.decompress(blob)
    assert res["diff_id"] == sha256(tar)
    assert res["tar_size"] == len(tar)
    assert blob.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 3
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        members = {m.name: m for m in t.getmembers()}
        assert t.extractfile("usr/share/big/blob.bin").read() == BIG
        tool, alias = members["usr/bin/tool"], members["usr/bin/tool-alias"]
        # Whichever name comes first in tar order carries the content.
        assert tool.isfile() and alias.islnk() and alias.linkname == "usr/bin/tool"
        assert stat.S_IMODE(tool.mode) == 0o4755
        assert members["usr/bin/tool-link"].issym()
        assert members["fifo"].isfifo()
        longest = max(members, key=len)
        assert len(longest) > 240 and longest.endswith("/file")
        names = [m.name for m in t.getmembers()]
        assert names == sorted(names, key=lambda n: n.encode())
    gnu = subprocess.run(["tar", "--xattrs", "-tvzf", str(out)], check=True,
                         capture_output=True, text=True).stdout
    assert "usr/bin/tool-alias link to usr/bin/tool" in gnu


def test_same_tree_gives_identical_blobs(tree, tmp_path):
    a = mklayer(tree, tmp_path / "a.tgz", "-j", "1")
    b = mklayer(tree, tmp_path / "b.tgz", "-j", "4")
    assert a["digest"] == b["digest"]
    assert (tmp_path / "a.tgz").read_bytes() == (tmp_path / "b.tgz").read_bytes()
    z1 = mklayer(tree, tmp_path / "a.zst", "-c", "zstd", "-j", "1")
    z2 = mklayer(tree, tmp_path / "b.zst", "-c", "zstd", "-j", "2")
    assert z1["digest"] == z2["digest"]
    assert z1["diff_id"] == a["diff_id"]
    subprocess.run(["zstd", "-q", "-t", str(tmp_path / "a.zst")], check=True)
    plain = mklayer(tree, tmp_path / "a.tar", "-c", "none")
    assert plain["digest"] == plain["diff_id"] == a["diff_id"]


def test_unprivileged_user_writes_root_owned_layer(tree, tmp_path):
    outdir = pathlib.Path(tempfile.mkdtemp(prefix="copa-e2e-out-"))
    os.chmod(outdir, 0o777)
    try:
        res = mklayer(tree, outdir / "l.tgz", "--root", user="nobody")
        assert (outdir / "l.tgz").stat().st_uid != 0
        with tarfile.open(outdir / "l.tgz") as t:
            for m in t.getmembers():
                assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", ""), m.name
            assert stat.S_IMODE(t.getmember("usr/bin/tool").mode) == 0o4755
        assert res["digest"] == sha256((outdir / "l.tgz").read_bytes())
    finally:
        shutil.rmtree(outdir)


def write_oci_layout(layout, layer_path, res):
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    shutil.copy(layer_path, blobs / res["digest"].split(":")[1])
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [res["diff_id"]]},
        "history": [{"created_by": "copa-mklayer"}]}).encode()
    (blobs / hashlib.sha256(config).hexdigest()).write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": res["media_type"], "digest": res["digest"],
                    "size": res["size"]}]}).encode()
    (blobs / hashlib.sha256(manifest).hexdigest()).write_bytes(manifest)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha256(manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))


@pytest.mark.parametrize("comp", ["gzip", "zstd", "none"])
def test_umoci_unpacks_and_verifies_layer(tree, tmp_path, comp):
    if not shutil.which("umoci"):
        pytest.fail("umoci is not installed (scripts/install-deps.sh installs it)")
    layer = tmp_path / "layer"
    res = mklayer(tree, layer, "-c", comp, "--root")
    layout = tmp_path / "oci"
    write_oci_layout(layout, layer, res)
    p = subprocess.run(["skopeo", "inspect", f"oci:{layout}:t"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Layers"] == [res["digest"]]
    if comp == "zstd":
        # Debian 12's umoci predates zstd layers; Go's reader is exercised by skopeo below.
        dest = tmp_path / "copied"
        p = subprocess.run(["skopeo", "copy", "--dest-decompress", f"oci:{layout}:t",
                            f"dir:{dest}"], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        tar = (dest / res["diff_id"].split(":")[1]).read_bytes()
        assert sha256(tar) == res["diff_id"]
        return
    bundle = tmp_path / "bundle"
    # umoci decompresses with Go's readers and checks the diff_id against the config.
    p = subprocess.run(["umoci", "raw", "unpack", "--rootless", "--image", f"{layout}:t",
                        str(bundle)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (bundle / "usr/share/big/blob.bin").read_bytes() == BIG
    assert os.path.samefile(bundle / "usr/bin/tool", bundle / "usr/bin/tool-alias")
    assert os.readlink(bundle / "usr/bin/tool-link") == "tool"


def test_view_of_layers_written_by_gnu_tar(tree, tmp_path):
    """GNU tar writes the base; python writes an upper layer with whiteouts."""
    base = tmp_path / "base.tar.gz"
    subprocess.run(["tar", "--format=posix", "--xattrs", "-C", str(tree), "-czf", str(base),
                    "."], check=True)
    upper = io.BytesIO()
    with tarfile.open(fileobj=upper, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in (("usr/bin/.wh.tool-link", b""), ("usr/share/.wh..wh..opq", b""),
                           ("usr/share/new", b"new\n"), ("etc/os-release", b"ID=patched\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    (tmp_path / "upper.tar").write_bytes(upper.getvalue())
    diff = sha256(gzip.decompress(base.read_bytes()))
    listing = lsview(f"{base},diff_id={diff}", tmp_path / "upper.tar").stdout.decode()
    paths = {line.split("\t")[0]: line.split("\t") for line in listing.splitlines()}
    assert "usr/bin/tool-link" not in paths
    assert "usr/share/big/blob.bin" not in paths and "usr/share/new" in paths
    assert paths["usr/bin/tool"][2] == "4755"
    assert paths["fifo"][1] == "p"
    assert paths["etc/os-release"][6] == "i"  # captured inline
    cat = lsview(base, tmp_path / "upper.tar",
                 args=["--cat", "etc/os-release", "--cat", "usr/bin/tool-alias"]).stdout
    assert cat == b"ID=patched\n#!/bin/sh\necho tool\n"
    # A wrong diff_id is refused, naming the layer.
    bad = lsview(f"{base},diff_id=sha256:{'0' * 64}", check=False)
    assert bad.returncode == 1
    assert b"diff_id" in bad.stderr and sha256(base.read_bytes()).encode() in bad.stderr


@pytest.mark.parametrize("name,kind,target,message", [
    ("../../etc/passwd", "f", None, b"leaves the layer root"),
    ("a/.wh...", "f", None, b"whiteout names '..'"),
    ("x\ny", "f", None, b"control character"),
    ("h", "h", "../../../etc/shadow", b"hard link target"),
])
def test_hostile_layers_are_refused(tmp_path, name, kind, target, message):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo(name)
        if kind == "h":
            ti.type, ti.linkname = tarfile.LNKTYPE, target
        t.addfile(ti)
    blob = tmp_path / "evil.tar.gz"
    blob.write_bytes(gzip.compress(bio.getvalue()))
    before = set(os.listdir(tmp_path))
    p = lsview(blob, check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert message.decode() in err
    assert sha256(blob.read_bytes()) in err and "tar entry" in err
    assert set(os.listdir(tmp_path)) == before


CAP = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep


def test_xattrs_reach_the_tar(tree, tmp_path):
    """security.capability (needs root to set on disk) and user xattrs, as SCHILY.xattr."""
    target = tree / "usr/bin/tool"
    try:
        os.setxattr(target, "user.copa", b"note")
        os.setxattr(target, "security.capability", CAP)
    except OSError as e:
        pytest.skip(f"cannot set xattrs on {tree} ({e}): the file system or user does not allow it")
    out = tmp_path / "x.tgz"
    mklayer(tree, out)
    with tarfile.open(out) as t:
        hdr = t.getmember("usr/bin/tool").pax_headers
    assert hdr["SCHILY.xattr.user.copa"] == "note"
    raw = hdr["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape")
    assert raw == CAP
    listing = subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-tvvzf", str(out)],
                             check=True, capture_output=True, text=True).stdout
    assert "usr/bin/tool" in listing
    # GNU tar extracts the capability back onto a file (we are root here).
    dest = tmp_path / "x"
    dest.mkdir()
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-C", str(dest), "-xzf", str(out),
                    "usr/bin/tool"], check=True)
    assert os.getxattr(dest / "usr/bin/tool", "security.capability") == CAP
