"""Fixtures for `copa patch` end to end: a Debian-like image whose dpkg
database was written by the real dpkg, a signed repository with updates
served on 127.0.0.1, and helpers to look inside the result with umoci and
dpkg-query (never with copa itself)."""
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

import imagetools as it
from fx_debpkg import build_deb as build_pkg, make_rootfs, real_dpkg_install
from fx_debrepo import DebRepo

__all__ = ["World", "world", "tar_dir", "unpack", "dpkg_versions", "layer_names",
           "image_manifest", "patch_layer_tar"]

ARCH_LIBDIR = "usr/lib/x86_64-linux-gnu"


def tar_dir(root):
    """A layer tar of a directory tree (numeric owners, symlinks kept, sorted)."""
    root = pathlib.Path(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        paths = sorted(p for p in root.rglob("*"))
        for p in paths:
            rel = p.relative_to(root).as_posix()
            ti = tf.gettarinfo(str(p), arcname=rel)
            ti.uname = ti.gname = ""
            if ti.isreg():
                with open(p, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
    return buf.getvalue()


def unpack(layout, tag, dest):
    """umoci's view of an image (rootless unpack), independent of copa."""
    return it.umoci_unpack(layout, tag, dest)


def dpkg_versions(rootfs):
    """{package: version} as the real dpkg-query reads the image's database."""
    p = subprocess.run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
                        "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        name, version, status = line.split(" ", 2)
        if status.strip().startswith(("ii", "hi")):
            out[name] = version
    return out


def image_manifest(layout, tag):
    index = json.loads((pathlib.Path(layout) / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return json.loads((pathlib.Path(layout) / "blobs/sha256" /
                               m["digest"].split(":")[1]).read_text()), m
    raise AssertionError(f"no tag {tag} in {layout}")


def patch_layer_tar(layout, tag):
    """The tar members of the last layer of an image in an OCI layout."""
    manifest, _ = image_manifest(layout, tag)
    blob = pathlib.Path(layout) / "blobs/sha256" / manifest["layers"][-1]["digest"].split(":")[1]
    with tarfile.open(blob) as tf:
        return {m.name: m for m in tf.getmembers()}


def layer_names(layout, tag):
    manifest, _ = image_manifest(layout, tag)
    return [l["digest"] for l in manifest["layers"]]


class World:
    """Packages, a signed repository with their updates, and an image of the
    old versions. Each test builds its own (they are cheap: a few seconds)."""

    def __init__(self, tmp, key, static_server):
        self.tmp = pathlib.Path(tmp)
        self.key = key
        self.debs = self.tmp / "debs"
        self.repo = DebRepo(self.tmp / "repo", key)
        self.static_server = static_server
        self.url = None

    def pkg(self, name, version, files, **kw):
        return build_pkg(self.debs, name, version, files, **kw)

    def publish(self, *debs, **kw):
        for d in debs:
            self.repo.add(d)
        self.repo.publish(**kw)
        if not self.url:
            self.url = self.repo.serve(self.static_server)
        return self.url

    def sources_line(self):
        return f"deb [signed-by=/usr/share/keyrings/copa-test.gpg] {self.url} stable main\n"

    def rootfs(self, installed, held=(), modify=None, name="root"):
        """A merged-/usr root with `installed` .debs installed by the real dpkg."""
        root = make_rootfs(self.tmp / name, installed)
        for pkg in held:
            subprocess.run(["dpkg", f"--root={root}", f"--admindir={root}/var/lib/dpkg",
                            "--set-selections"], input=f"{pkg} hold\n", text=True, check=True)
        (root / "etc/os-release").write_text(
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
            "VERSION_CODENAME=bookworm\n")
        keyrings = root / "usr/share/keyrings"
        keyrings.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.key.public, keyrings / "copa-test.gpg")
        (root / "etc/apt").mkdir(parents=True, exist_ok=True)
        (root / "etc/apt/sources.list").write_text(self.sources_line())
        if modify:
            modify(root)
        return root

    def image(self, root, tag="1.0", layout=None, media="oci"):
        layout = layout or self.tmp / "image"
        it.write_image(layout, [tar_dir(root)], tag=tag, media=media)
        return layout


@pytest.fixture
def world(tmp_path, gpg_key, static_server):
    return World(tmp_path, gpg_key, static_server)
