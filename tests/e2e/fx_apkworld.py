"""An Alpine image and a signed repository of newer versions of its packages, for the
e2e tests (test_patch_apk.py), bench/apk.py and the Alpine demo (scripts/demo-alpine.py).

World(base, shared, version, arch): extracts the shared minirootfs, adds a layer with a
user's edit of etc/profile, rebuilds packages of the image as newer versions with
fx_apkrepo (one new dependency, one file dropped, one configuration file changed,
alpine-baselayout following its -data) signed with a fresh test key, writes the signed
index and serves the repository on 127.0.0.1 (.url; .server.stop() when done).
"""
import gzip

import fx_apkrepo as ar
import imagetools as it
from fx_services import StaticServer

OCI_ARCH = {"x86_64": ("amd64", None), "aarch64": ("arm64", "v8")}
USER_PROFILE = b"# edited by the image's owner\nexport PAGER=less\n"


def bump(version):
    base, _, rel = version.rpartition("-r")
    return f"{base}-r{int(rel) + 1}"


def rebuild_deps(root, name, out, key, deps, install_if=None, **kw):
    """fx_apkrepo.rebuild with dependencies replaced ({old: new}; install_if: the same for
    the install_if conditions); kw as for rebuild."""
    orig = ar.read_installed

    def edited(r):
        recs = orig(r)
        f = recs[name].fields
        f["D"] = " ".join(deps.get(d, d) for d in f.get("D", "").split())
        if install_if and f.get("i"):
            f["i"] = " ".join(install_if.get(d, d) for d in f["i"].split())
        return recs

    ar.read_installed = edited
    try:
        return ar.rebuild(root, name, out, key, **kw)
    finally:
        ar.read_installed = orig


class World:
    """One minirootfs, its image, and a signed repository of newer packages."""

    def __init__(self, base, shared, version, arch, purge=False):
        """purge: musl-utils no longer needs scanelf, which nothing else needs: apk (and
        copa) purge it on upgrade (.purged)."""
        self.base, self.version, self.arch = base, version, arch
        self.tarball = ar.minirootfs(shared, version, arch)
        self.root = ar.extract_rootfs(self.tarball, base / "root")
        (self.root / "etc/profile").write_bytes(USER_PROFILE)
        self.key = ar.Key(base / "key")
        self.keys = self.key.install(base / "apkkeys")
        out = base / "pkgs"
        inst = ar.read_installed(self.root)
        self.old = {n: r.fields["V"] for n, r in inst.items()}
        newdep = ar.build_apk(out, {"pkgname": "copa-newdep", "pkgver": "1.0-r0", "arch": arch,
                                    "pkgdesc": "a dependency new in the update", "license": "MIT",
                                    "origin": "copa-newdep"},
                              [ar.Entry("usr/", "dir", b"", 0o755),
                               ar.Entry("usr/share/", "dir", b"", 0o755),
                               ar.Entry("usr/share/copa-newdep/", "dir", b"", 0o755),
                               ar.Entry("usr/share/copa-newdep/README", "file", b"new\n")],
                              self.key)
        self.pkgs = [
            rebuild_deps(self.root, "musl-utils", out, self.key, {"scanelf": ""}) if purge else
            ar.rebuild(self.root, "scanelf", out, self.key),
            ar.rebuild(self.root, "ca-certificates-bundle", out, self.key),
            ar.rebuild(self.root, "zlib", out, self.key, depends_add=["copa-newdep"]),
            ar.rebuild(self.root, "alpine-baselayout-data", out, self.key, drop=("etc/modules",),
                       change={"etc/profile": b"# profile of the new version\n"}),
            # alpine-baselayout needs its -data at exactly its own version
            rebuild_deps(self.root, "alpine-baselayout", out, self.key,
                         {"alpine-baselayout-data=" + self.old["alpine-baselayout"]:
                          "alpine-baselayout-data=" + bump(self.old["alpine-baselayout"])}),
            newdep,
        ]
        self.new = {p.name: p.version for p in self.pkgs}
        self.purged = {"scanelf"} if purge else set()
        self.repo = base / "repo"
        ar.build_index(self.repo, self.pkgs, self.key, arch)
        self.server = StaticServer(self.repo)
        self.url = self.server.url
        oa, ov = OCI_ARCH[arch]
        self.oci_arch, self.oci_variant = oa, ov
        self.layers = [gzip.decompress(self.tarball.read_bytes()),
                       it.tar_layer([("etc/profile", USER_PROFILE.decode())])]

    def image(self, path, tag="1.0", layers=None, os_release=None):
        layers = list(layers or self.layers)
        if os_release:
            layers.append(it.tar_layer([("etc/os-release", os_release)]))
        it.write_image(path, layers, tag=tag, arch=self.oci_arch, variant=self.oci_variant)
        return f"oci:{path}:{tag}"
