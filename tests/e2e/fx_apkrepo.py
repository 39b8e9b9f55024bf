"""Real signed Alpine packages and repositories for the e2e tests.

Alpine's mirrors are not reachable from the test machines, so the tests build
their own: v2 `.apk` files (three gzip members: signature, control, data, as
abuild writes them, with the PAX `APK-TOOLS.checksum.SHA1` of every file)
and `APKINDEX.tar.gz` indexes, signed with RSA keys made by `openssl`, built
with tarfile/gzip only. Newer versions of packages that are in an image are
rebuilt from the image's real file tree, which its installed database lists.

API (everything else is private):
  Key(dir)                   an RSA key pair: .name ("copa-test-….rsa.pub", the name
                             signatures refer to), .priv, .pub (paths); .install(keysdir)
  Entry(name, kind, data, mode, uid, gid, mtime, xattrs)
                             one data-tar entry; kind "dir", "file" (data bytes),
                             "sym" or "hard" (data = target), "chr"/"blk" (data =
                             (major, minor)) or "fifo"; mode defaults to 0755 for a
                             directory, 0777 for a symlink, 0644 otherwise; xattrs:
                             {name: bytes}, written as apk does (PAX SCHILY.xattr.<name>)
  Pkg                        a built package: .path, .name, .version, .csum ("Q1…",
                             the index's C:), .size, .info (.PKGINFO as a dict)
  build_apk(outdir, info, entries, key, scripts=None) -> Pkg
                             info: dict of .PKGINFO fields (lists for depend,
                             provides, replaces, install_if); scripts: {".post-upgrade": bytes}
  build_index(repo, pkgs, key, arch="x86_64") -> path of repo/ARCH/APKINDEX.tar.gz
                             (the packages are copied beside it)
  read_installed(root) -> {name: Record}   Record: .fields (letter -> value),
                             .dirs [(dir, acl)], .files [(dir, name, acl, csum)]
  rebuild(root, name, outdir, key, version=None, depends_add=(), drop=(),
          change=None, add=None, deps_map=None) -> Pkg
                             the installed package `name` of the root directory,
                             rebuilt from its real files as a newer version (-rN+1)
  extract_rootfs(tar, dest)  unpacks a minirootfs tarball as root (owners kept)
  minirootfs(shared, version="3.20.3", arch="x86_64") -> path of the tarball
  apk_in_root(root, args, repo=None, keys=None, timeout=300, binds=(), arch=None)
                             -> CompletedProcess: Alpine's own /sbin/apk of `root`, run
                             there with bwrap (no network), the repository bound at /repo
                             (-X), keys at /keys (--keys-dir), binds: more read-only
                             (src, dst) binds; a foreign arch's apk under qemu-user
  serve_repo(static_server, repo) -> base URL of the repository over HTTP
"""
import base64
import gzip
import hashlib
import io
import os
import pathlib
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field

MTIME = 1700000000


def _gz(b):
    return gzip.compress(b, 9, mtime=0)


@dataclass
class Entry:
    name: str
    kind: str = "file"
    data: object = b""
    mode: int = None  # 0755 for a directory, 0777 for a symlink, 0644 otherwise
    uid: int = 0
    gid: int = 0
    mtime: int = MTIME
    xattrs: dict = None


def _tar(entries, cut=False):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            mode = e.mode if e.mode is not None else {"dir": 0o755, "sym": 0o777}.get(e.kind, 0o644)
            ti.mode, ti.uid, ti.gid, ti.mtime = mode, e.uid, e.gid, e.mtime
            ti.uname = ti.gname = ""
            if e.kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif e.kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, e.data
                ti.pax_headers["APK-TOOLS.checksum.SHA1"] = hashlib.sha1(e.data.encode()).hexdigest()
            elif e.kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, e.data
            elif e.kind in ("chr", "blk"):
                ti.type = tarfile.CHRTYPE if e.kind == "chr" else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = e.data
            elif e.kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            else:
                ti.size = len(e.data)
                ti.pax_headers["APK-TOOLS.checksum.SHA1"] = hashlib.sha1(e.data).hexdigest()
            for name, value in (e.xattrs or {}).items():
                # binary values go out raw (tarfile marks them hdrcharset=BINARY)
                ti.pax_headers["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
            t.addfile(ti, io.BytesIO(e.data) if e.kind == "file" else None)
    b = bio.getvalue()
    if cut:  # abuild cuts the end-of-archive blocks of the signature and control members
        b = b.rstrip(b"\0")
        b += b"\0" * (-len(b) % 512)
    return b


class Key:
    """An RSA key pair made with openssl, named as abuild names them."""

    def __init__(self, d, name=None):
        d = pathlib.Path(d)
        d.mkdir(parents=True, exist_ok=True)
        self.name = name or f"copa-test-{os.urandom(4).hex()}.rsa.pub"
        self.priv = d / (self.name[:-4] if self.name.endswith(".pub") else self.name + ".priv")
        self.pub = d / self.name
        subprocess.run(["openssl", "genrsa", "-out", str(self.priv), "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(self.priv), "-pubout", "-out", str(self.pub)],
                       check=True, capture_output=True)

    def sign(self, data):
        return subprocess.run(["openssl", "dgst", "-sha1", "-sign", str(self.priv)], input=data,
                              check=True, capture_output=True).stdout

    def install(self, keysdir):
        keysdir = pathlib.Path(keysdir)
        keysdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.pub, keysdir / self.name)
        return keysdir


def _signed(key, member):
    sig = key.sign(member)
    return _gz(_tar([Entry(".SIGN.RSA." + key.name, "file", sig)], cut=True))


@dataclass
class Pkg:
    path: pathlib.Path
    name: str
    version: str
    csum: str
    size: int
    info: dict = field(default_factory=dict)


_LIST_FIELDS = ("depend", "provides", "replaces", "install_if")
_INFO_ORDER = ("pkgname", "pkgver", "pkgdesc", "url", "builddate", "packager", "size", "arch",
               "origin", "commit", "maintainer", "provider_priority", "replaces_priority",
               "license", "replaces", "provides", "depend", "install_if", "triggers")


def _pkginfo(info):
    lines = []
    keys = [k for k in _INFO_ORDER if k in info] + [k for k in info if k not in _INFO_ORDER]
    for k in keys:
        v = info[k]
        if k in _LIST_FIELDS:
            lines += [f"{k} = {x}" for x in v]
        elif v is not None and v != "":
            lines.append(f"{k} = {v}")
    return ("\n".join(lines) + "\n").encode()


def build_apk(outdir, info, entries, key, scripts=None):
    """Builds and signs a v2 package; returns its Pkg."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    info = dict(info)
    info.setdefault("arch", "x86_64")
    info.setdefault("builddate", MTIME)
    info.setdefault("size", sum(len(e.data) for e in entries if e.kind == "file"))
    datagz = _gz(_tar(entries))
    info["datahash"] = hashlib.sha256(datagz).hexdigest()
    ctl = [Entry(".PKGINFO", "file", _pkginfo(info))]
    for name, body in sorted((scripts or {}).items()):
        ctl.append(Entry(name, "file", body, 0o755))
    ctlgz = _gz(_tar(ctl, cut=True))
    blob = _signed(key, ctlgz) + ctlgz + datagz
    path = outdir / f"{info['pkgname']}-{info['pkgver']}.apk"
    path.write_bytes(blob)
    csum = "Q1" + base64.b64encode(hashlib.sha1(ctlgz).digest()).decode()
    return Pkg(path, info["pkgname"], info["pkgver"], csum, len(blob), info)


def _index_record(p):
    i = p.info
    rec = [f"C:{p.csum}", f"P:{p.name}", f"V:{p.version}", f"A:{i['arch']}", f"S:{p.size}",
           f"I:{i.get('size', 0)}", f"T:{i.get('pkgdesc', '')}", f"U:{i.get('url', '')}",
           f"L:{i.get('license', '')}"]
    for letter, k in (("o", "origin"), ("m", "maintainer")):
        if i.get(k):
            rec.append(f"{letter}:{i[k]}")
    rec.append(f"t:{i['builddate']}")
    if i.get("commit"):
        rec.append(f"c:{i['commit']}")
    if i.get("provider_priority"):
        rec.append(f"k:{i['provider_priority']}")
    for letter, k in (("D", "depend"), ("p", "provides"), ("i", "install_if")):
        if i.get(k):
            rec.append(f"{letter}:{' '.join(i[k])}")
    return "\n".join(rec) + "\n\n"


def build_index(repo, pkgs, key, arch="x86_64", description="copa test repository"):
    """Writes repo/ARCH/APKINDEX.tar.gz signed with key, and copies the packages beside it."""
    d = pathlib.Path(repo) / arch
    d.mkdir(parents=True, exist_ok=True)
    for p in pkgs:
        if p.path.parent != d:
            shutil.copy(p.path, d / p.path.name)
    text = "".join(_index_record(p) for p in pkgs).encode()
    idx = _gz(_tar([Entry("DESCRIPTION", "file", description.encode()),
                    Entry("APKINDEX", "file", text)]))
    path = d / "APKINDEX.tar.gz"
    path.write_bytes(_signed(key, idx) + idx)
    return path


@dataclass
class Record:
    fields: dict
    dirs: list
    files: list


def read_installed(root):
    """Parses ROOT/lib/apk/db/installed into {name: Record}."""
    out, cur, d = {}, None, None
    for line in (pathlib.Path(root) / "lib/apk/db/installed").read_text().splitlines() + [""]:
        if not line:
            if cur:
                out[cur.fields["P"]] = cur
            cur = None
            continue
        if cur is None:
            cur = Record({}, [], [])
        k, v = line[0], line[2:]
        if k == "F":
            d = v
            cur.dirs.append([v, None])
        elif k == "M":
            cur.dirs[-1][1] = v
        elif k == "R":
            cur.files.append([d, v, None, None])
        elif k == "a":
            cur.files[-1][2] = v
        elif k == "Z":
            cur.files[-1][3] = v
        else:
            cur.fields[k] = v
    return out


def _acl(acl, dflt):
    if not acl:
        return 0, 0, dflt
    uid, gid, mode = acl.split(":")[:3]
    return int(uid), int(gid), int(mode, 8)


def _bump(version):
    base, _, rel = version.rpartition("-r")
    return f"{base}-r{int(rel) + 1}"


def _scripts_of(root, rec):
    path = pathlib.Path(root) / "lib/apk/db/scripts.tar"
    prefix = f"{rec.fields['P']}-{rec.fields['V']}.{rec.fields['C']}."
    out = {}
    if path.exists():
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.name.startswith(prefix):
                    out["." + m.name[len(prefix):]] = t.extractfile(m).read()
    return out


def _triggers_of(root, rec):
    path = pathlib.Path(root) / "lib/apk/db/triggers"
    for line in path.read_text().splitlines() if path.exists() else []:
        csum, _, globs = line.partition(" ")
        if csum == rec.fields["C"]:
            return globs
    return None


def rebuild(root, name, outdir, key, version=None, depends_add=(), drop=(), change=None,
            add=None, deps_map=None):
    """Rebuilds the installed package `name` of directory `root` from its real
    files as `version` (default: the release bumped). drop: package paths left
    out; change: {path: bytes} new contents; add: {path: bytes} new files (their
    directory must be one of the package's); deps_map: {old: new} rewrites
    dependencies and install_if entries ("busybox=1.36.1-r29": "busybox=1.36.1-r30")."""
    deps_map = deps_map or {}
    root = pathlib.Path(root)
    rec = read_installed(root)[name]
    f = rec.fields
    change, add = dict(change or {}), dict(add or {})
    entries, inodes = [], {}
    for dname, dacl in rec.dirs:
        if dname:
            mtime = int(os.lstat(root / dname).st_mtime) if (root / dname).exists() else MTIME
            uid, gid, mode = _acl(dacl, 0o755)
            entries.append(Entry(dname + "/", "dir", b"", mode, uid, gid, mtime))
        for fdir, fname, facl, _ in rec.files:
            if fdir != dname:
                continue
            rel = f"{fdir}/{fname}" if fdir else fname
            if rel in drop:
                continue
            p = root / rel
            st = os.lstat(p)
            if os.path.islink(p):
                entries.append(Entry(rel, "sym", os.readlink(p), 0o777, 0, 0, int(st.st_mtime)))
                continue
            uid, gid, mode = _acl(facl, 0o644)
            if st.st_nlink > 1 and (st.st_dev, st.st_ino) in inodes:
                entries.append(Entry(rel, "hard", inodes[(st.st_dev, st.st_ino)], mode, uid, gid,
                                     int(st.st_mtime)))
                continue
            inodes[(st.st_dev, st.st_ino)] = rel
            data = change.pop(rel, None)
            entries.append(Entry(rel, "file", p.read_bytes() if data is None else data, mode, uid,
                                 gid, int(st.st_mtime)))
        for rel, data in list(add.items()):
            if rel.rpartition("/")[0] == dname:
                entries.append(Entry(rel, "file", data, 0o644, 0, 0, MTIME))
                del add[rel]
    assert not change and not add, f"paths not in {name}: {sorted(change) + sorted(add)}"
    info = {"pkgname": name, "pkgver": version or _bump(f["V"]), "pkgdesc": f.get("T", ""),
            "url": f.get("U", ""), "builddate": int(f.get("t", MTIME)) + 86400,
            "size": int(f.get("I", 0)), "arch": f.get("A", "x86_64"), "origin": f.get("o"),
            "commit": f.get("c"), "maintainer": f.get("m"), "license": f.get("L", ""),
            "provider_priority": f.get("k"), "replaces_priority": f.get("q"),
            "depend": [deps_map.get(d, d) for d in f.get("D", "").split()] + list(depends_add),
            "provides": [_provide_bump(x, f["V"], version) for x in f.get("p", "").split()],
            "replaces": f.get("r", "").split(), "install_if": [deps_map.get(d, d) for d in f.get("i", "").split()],
            "triggers": _triggers_of(root, rec)}
    return build_apk(outdir, info, entries, key, _scripts_of(root, rec))


def _provide_bump(p, old, new):
    """`cmd:busybox=1.36.1-r29` follows the package's version; `so:` versions stay."""
    n, eq, v = p.partition("=")
    return f"{n}={_bump(old) if new is None else new}" if eq and v == old else p


def minirootfs(shared, version="3.20.3", arch="x86_64"):
    return pathlib.Path(shared) / "alpine/minirootfs" / f"alpine-minirootfs-{version}-{arch}.tar.gz"


def extract_rootfs(tar, dest):
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--numeric-owner", "-xpzf", str(tar), "-C", str(dest)], check=True)
    return dest


def apk_in_root(root, args, repo=None, keys=None, timeout=300, binds=(), arch=None):
    """Runs the root's own apk inside it (bwrap, no network); binds: extra
    (host path, path inside) read-only binds, e.g. a directory of packages;
    arch: the root's architecture, whose apk runs under qemu-ARCH-static bound
    into the root when it is not the host's (no binfmt_misc needed)."""
    # as root, no user namespace: apk can then give files the owners packages
    # ask for (etc/shadow's group 42), which an unprivileged namespace refuses
    unshare = ["--unshare-all"] if os.geteuid() else \
        ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    argv = ["bwrap", *unshare, "--bind", str(root), "/"]
    for src, dst in binds:
        argv += ["--ro-bind", str(src), dst]
    run = []
    if arch and arch != os.uname().machine:
        qemu = shutil.which(f"qemu-{arch}-static")
        if not qemu:
            raise RuntimeError(f"the {arch} apk needs qemu-{arch}-static (qemu-user-static)")
        argv += ["--ro-bind", qemu, "/.qemu"]
        run = ["/.qemu"]
    if repo:
        argv += ["--ro-bind", str(repo), "/repo"]
    if keys:
        argv += ["--ro-bind", str(keys), "/keys"]
    argv += ["--proc", "/proc", "--dev", "/dev", *run, "/sbin/apk", "--repositories-file",
             "/dev/null", "--no-network"]
    if repo:
        argv += ["-X", "/repo"]
    if keys:
        argv += ["--keys-dir", "/keys"]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)


def serve_repo(static_server, repo):
    return static_server(repo).url
