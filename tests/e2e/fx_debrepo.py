"""Debian-format packages, signed repositories and root file systems built with
the real tools (dpkg-deb, apt-ftparchive, gpg), for the planner, applier and
patch tests. Nothing here uses copa's code.

Reusable pieces:
  build_deb(outdir, name, version, ...)     -> path of a .deb built by dpkg-deb
  GpgKey (fixture `gpg_key`, `other_gpg_key`) a throwaway OpenPGP signing key
  DebRepo(root, key)                        a repository: add debs, publish (sign), tamper
  make_rootfs(root, ...)                    an image-like tree: os-release, sources,
                                            dpkg status (or distroless status.d), keys
  apt_simulate(...)                         apt-get -s on the host against the same data
  debplan(...) fixture                      runs tests/helpers' copa-debplan, returns JSON
"""
import hashlib
import json
import lzma
import gzip
import os
import pathlib
import re
import shutil
import subprocess
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


# ---------------------------------------------------------------- packages

def build_deb(outdir, name, version, arch="amd64", files=None, depends=None, control=None,
              conffiles=None, scripts=None, multi_arch=None, compress="xz"):
    """Builds <outdir>/<name>_<version>_<arch>.deb with dpkg-deb.

    files: {"/usr/bin/x": b"..." | "text" | (content, mode)}; a path ending in "/" is a
    directory; {"/usr/lib/x.so": ("@symlink", "target")} makes a symlink.
    control: extra control fields {"Provides": "x", "Breaks": "y (<< 2)"}.
    conffiles: list of absolute paths (also listed in files).
    scripts: {"postinst": "#!/bin/sh\\n..."}.
    """
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    safe_version = version.replace(":", "%3a")
    staging = outdir / f".stage-{name}-{safe_version}-{arch}"
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "DEBIAN").mkdir(parents=True)
    fields = {
        "Package": name,
        "Version": version,
        "Architecture": arch,
        "Maintainer": "copa tests <tests@copa.invalid>",
        "Section": "misc",
        "Priority": "optional",
    }
    if depends:
        fields["Depends"] = depends
    if multi_arch:
        fields["Multi-Arch"] = multi_arch
    fields.update(control or {})
    fields.setdefault("Description", f"test package {name}\n synthetic package built by the copa tests")
    text = "".join(f"{k}: {v}\n" for k, v in fields.items())
    (staging / "DEBIAN" / "control").write_text(text)
    for path, content in (files or {}).items():
        dest = staging / path.lstrip("/")
        if path.endswith("/"):
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o644
        if isinstance(content, tuple) and content[0] == "@symlink":
            os.symlink(content[1], dest)
            continue
        if isinstance(content, tuple):
            content, mode = content
        if isinstance(content, str):
            content = content.encode()
        dest.write_bytes(content)
        os.chmod(dest, mode)
    if conffiles:
        (staging / "DEBIAN" / "conffiles").write_text("".join(c + "\n" for c in conffiles))
    for sname, body in (scripts or {}).items():
        sp = staging / "DEBIAN" / sname
        sp.write_text(body)
        os.chmod(sp, 0o755)
    out = outdir / f"{name}_{safe_version}_{arch}.deb"
    _run(["dpkg-deb", "--root-owner-group", f"-Z{compress}", "--build", str(staging), str(out)])
    shutil.rmtree(staging)
    return out


def deb_fields(deb):
    """The control fields of a .deb as a dict (dpkg-deb --field)."""
    text = _run(["dpkg-deb", "--field", str(deb)]).stdout
    fields, key = {}, None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, val = line.partition(":")
            fields[key] = val.strip()
    return fields


# ---------------------------------------------------------------- keys

class GpgKey:
    """A throwaway signing key in its own GNUPGHOME."""

    def __init__(self, home, uid="copa test repository <repo@copa.invalid>", algo="ed25519"):
        self.home = pathlib.Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        self.env = dict(os.environ, GNUPGHOME=str(self.home))
        _run(["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "",
              "--quick-gen-key", uid, algo, "sign", "never"], env=self.env)
        out = _run(["gpg", "--batch", "--with-colons", "--list-keys"], env=self.env).stdout
        self.fingerprint = next(l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:"))
        self.keyid = self.fingerprint[-16:]
        self.public = self.home / "public.gpg"
        self.public.write_bytes(subprocess.run(["gpg", "--batch", "--export", self.fingerprint],
                                               capture_output=True, env=self.env, check=True).stdout)
        self.armored = self.home / "public.asc"
        self.armored.write_text(_run(["gpg", "--batch", "--armor", "--export", self.fingerprint],
                                     env=self.env).stdout)

    def close(self):
        """Stops the gpg-agent that signing started for this home."""
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=self.env, capture_output=True)

    def clearsign(self, src, dst, digest=None):
        argv = ["gpg", "--batch", "--yes", "--local-user", self.fingerprint]
        if digest:
            argv += ["--digest-algo", digest]
        _run(argv + ["--clearsign", "-o", str(dst), str(src)], env=self.env)

    def detach_sign(self, src, dst, digest=None):
        argv = ["gpg", "--batch", "--yes", "--local-user", self.fingerprint]
        if digest:
            argv += ["--digest-algo", digest]
        _run(argv + ["--armor", "--detach-sign", "-o", str(dst), str(src)], env=self.env)


@pytest.fixture(scope="session")
def gpg_key(tmp_path_factory):
    """The repository signing key shared by the tests of a session."""
    k = GpgKey(tmp_path_factory.mktemp("gnupg-repo"))
    yield k
    k.close()


@pytest.fixture(scope="session")
def other_gpg_key(tmp_path_factory):
    """A second key nobody trusts."""
    k = GpgKey(tmp_path_factory.mktemp("gnupg-other"), uid="someone else <other@copa.invalid>")
    yield k
    k.close()


# ---------------------------------------------------------------- repositories

def _rfc1123(t):
    import email.utils
    return email.utils.formatdate(t, usegmt=True).replace("GMT", "UTC")


class DebRepo:
    """A Debian-format repository under `root`, published with apt-ftparchive and signed
    by `key`. Suites are "dists" suites unless flat=True (then `suite` is a directory)."""

    def __init__(self, root, key=None):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.suites = {}  # suite -> {component -> [deb paths]}
        self.url = None

    def add(self, deb, suite="stable", component="main"):
        """Copies a .deb into the pool of suite/component; returns its pool path."""
        pool = self.root / "pool" / suite / component
        pool.mkdir(parents=True, exist_ok=True)
        dest = pool / pathlib.Path(deb).name
        shutil.copy(deb, dest)
        self.suites.setdefault(suite, {}).setdefault(component, []).append(dest)
        return dest

    def package(self, outdir, name, version, suite="stable", component="main", **kw):
        """build_deb + add in one step."""
        return self.add(build_deb(outdir, name, version, **kw), suite, component)

    def publish(self, suite="stable", archs=("amd64",), sign=True, inrelease=True,
                release_gpg=True, by_hash=False, fields=None, drop_fields=(), compress=("xz", "gz"),
                keep_plain=True, digest=None, valid_days=None, date=None, key=None):
        """Writes Packages (compressed), Release, and signs it (InRelease and/or Release.gpg).

        fields: extra or replaced Release fields ({"Valid-Until": "...", "NotAutomatic": "yes"}).
        valid_days: adds Valid-Until = Date + days (negative: already expired).
        date: epoch seconds for the Date field (default: now).
        """
        import time
        dist = self.root / "dists" / suite
        if dist.exists():
            shutil.rmtree(dist)
        comps = sorted(self.suites.get(suite, {"main": []}))
        for comp in comps:
            for arch in archs:
                d = dist / comp / f"binary-{arch}"
                d.mkdir(parents=True)
                pool_rel = f"pool/{suite}/{comp}"
                (self.root / pool_rel).mkdir(parents=True, exist_ok=True)
                text = _run(["apt-ftparchive", "--arch", arch, "packages", pool_rel],
                            cwd=self.root).stdout
                self._write_index(d, text.encode(), compress, keep_plain, by_hash)
        rel = _run(["apt-ftparchive",
                    "-o", "APT::FTPArchive::Release::Origin=copa-tests",
                    "-o", "APT::FTPArchive::Release::Label=copa-tests",
                    "-o", f"APT::FTPArchive::Release::Suite={suite}",
                    "-o", f"APT::FTPArchive::Release::Codename={suite}",
                    "-o", f"APT::FTPArchive::Release::Architectures={' '.join(archs)}",
                    "-o", f"APT::FTPArchive::Release::Components={' '.join(comps)}",
                    "release", "."], cwd=dist).stdout
        now = int(time.time()) if date is None else int(date)
        extra = dict(fields or {})
        extra["Date"] = _rfc1123(now)
        if valid_days is not None:
            extra["Valid-Until"] = _rfc1123(now + int(valid_days * 86400))
        if by_hash:
            extra["Acquire-By-Hash"] = "yes"
        rel = self._edit_release(rel, extra, drop_fields)
        (dist / "Release").write_text(rel)
        signer = key or self.key
        if sign and signer:
            if inrelease:
                signer.clearsign(dist / "Release", dist / "InRelease", digest)
            if release_gpg:
                signer.detach_sign(dist / "Release", dist / "Release.gpg", digest)
        return dist

    def publish_flat(self, subdir="flat", sign=True):
        """A flat repository: Packages and Release in <root>/<subdir>/, debs beside them."""
        d = self.root / subdir
        text = _run(["apt-ftparchive", "packages", "."], cwd=d).stdout
        self._write_index(d, text.encode(), ("xz",), True, False)
        rel = _run(["apt-ftparchive", "-o", "APT::FTPArchive::Release::Origin=copa-tests",
                    "release", "."], cwd=d).stdout
        (d / "Release").write_text(rel)
        if sign and self.key:
            self.key.clearsign(d / "Release", d / "InRelease")
        return d

    @staticmethod
    def _write_index(d, data, compress, keep_plain, by_hash):
        d.mkdir(parents=True, exist_ok=True)
        written = []
        if keep_plain:
            (d / "Packages").write_bytes(data)
            written.append(d / "Packages")
        if "xz" in compress:
            (d / "Packages.xz").write_bytes(lzma.compress(data))
            written.append(d / "Packages.xz")
        if "gz" in compress:
            (d / "Packages.gz").write_bytes(gzip.compress(data, mtime=0))
            written.append(d / "Packages.gz")
        if by_hash:
            bh = d / "by-hash" / "SHA256"
            bh.mkdir(parents=True)
            for f in written:
                shutil.copy(f, bh / hashlib.sha256(f.read_bytes()).hexdigest())

    @staticmethod
    def _edit_release(text, extra, drop):
        lines = text.splitlines()
        head, rest = [], []
        for i, line in enumerate(lines):
            if line.endswith(":") and line[:-1] in ("MD5Sum", "SHA1", "SHA256", "SHA512"):
                rest = lines[i:]
                break
            head.append(line)
        fields = {}
        for line in head:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
        for k in drop:
            fields.pop(k, None)
        fields.update(extra)
        return "".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n".join(rest) + "\n"

    def tamper(self, relpath, old, new):
        """Replaces bytes in a published file (after signing: breaks what was signed)."""
        p = self.root / relpath
        data = p.read_bytes()
        assert old in data, f"{old!r} not in {relpath}"
        p.write_bytes(data.replace(old, new, 1))

    def serve(self, static_server):
        self.url = static_server(self.root).url
        return self.url


# ---------------------------------------------------------------- root file systems

def status_paragraph(name, version, arch="amd64", status="install ok installed", **fields):
    """A dpkg status paragraph (fields given as keyword arguments, '_' for '-')."""
    out = [f"Package: {name}"]
    if status:
        out.append(f"Status: {status}")
    out.append("Priority: optional")
    out.append(f"Architecture: {arch}")
    for k, v in fields.items():
        out.append(f"{k.replace('_', '-')}: {v}")
    out.append(f"Version: {version}")
    out.append(f"Description: {name}")
    return "\n".join(out) + "\n"


def status_from_debs(debs, held=()):
    """Status paragraphs for .deb files, as dpkg would write them after installing."""
    paras = []
    for deb in debs:
        f = deb_fields(deb)
        want = "hold" if f["Package"] in held else "install"
        f = {"Package": f.pop("Package"), "Status": f"{want} ok installed", **f}
        paras.append("".join(f"{k}: {v}\n" for k, v in f.items()))
    return "\n".join(paras)


def make_rootfs(root, status=None, statusd=None, os_release=None, sources_list=None,
                sources=None, keys=None, arch_file=None):
    """An image-like tree.

    status: text of var/lib/dpkg/status; statusd: {filename: paragraph} (distroless);
    sources_list: text of etc/apt/sources.list; sources: {"x.sources"|"x.list": text};
    keys: {"/usr/share/keyrings/test.gpg": bytes}.
    """
    root = pathlib.Path(root)
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(os_release or textwrap.dedent("""\
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        VERSION="12 (bookworm)"
        VERSION_CODENAME=bookworm
        ID=debian
        """))
    if status is not None:
        (root / "var/lib/dpkg/status").write_text(status)
    if statusd is not None:
        d = root / "var/lib/dpkg/status.d"
        d.mkdir(parents=True, exist_ok=True)
        for name, text in statusd.items():
            (d / name).write_text(text)
    if sources_list is not None:
        (root / "etc/apt/sources.list").write_text(sources_list)
    for name, text in (sources or {}).items():
        (root / "etc/apt/sources.list.d" / name).write_text(text)
    for path, data in (keys or {}).items():
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if arch_file is not None:
        (root / "var/lib/dpkg/arch").write_text(arch_file)
    return root


# ---------------------------------------------------------------- apt's own answer

_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) .*?\[(\S+)\]\)")


def apt_simulate(workdir, status_file, sources_text, args, archs=("amd64",), trusted=None,
                 extra_opts=()):
    """Runs `apt-get update` then `apt-get -s <args>` with private state against the given
    dpkg status file and sources. Returns {(name, arch): (old, new)} of the Inst lines."""
    workdir = pathlib.Path(workdir)
    for d in ("lists/partial", "cache/archives/partial", "etc/sources.list.d",
              "etc/preferences.d", "etc/trusted.gpg.d", "etc/apt.conf.d", "log"):
        (workdir / d).mkdir(parents=True, exist_ok=True)
    (workdir / "etc/sources.list").write_text(sources_text)
    opts = [
        "-o", f"Dir::State::status={status_file}",
        "-o", f"Dir::State::Lists={workdir / 'lists'}",
        "-o", f"Dir::State={workdir}",
        "-o", f"Dir::Cache={workdir / 'cache'}",
        "-o", f"Dir::Etc={workdir / 'etc'}",
        "-o", f"Dir::Etc::SourceList={workdir / 'etc/sources.list'}",
        "-o", f"Dir::Etc::SourceParts={workdir / 'etc/sources.list.d'}",
        "-o", f"Dir::Etc::Preferences={workdir / 'etc/preferences'}",
        "-o", f"Dir::Etc::PreferencesParts={workdir / 'etc/preferences.d'}",
        "-o", f"Dir::Etc::Parts={workdir / 'etc/apt.conf.d'}",
        "-o", f"Dir::Etc::TrustedParts={workdir / 'etc/trusted.gpg.d'}",
        "-o", f"Dir::Log={workdir / 'log'}",
        "-o", f"APT::Architecture={archs[0]}",
        "-o", f"APT::Architectures={','.join(archs)}",
        "-o", "APT::Install-Recommends=false",
        "-o", "APT::Get::Show-Versions=true",
        "-o", "APT::Sandbox::User=root",
        "-o", "Debug::NoLocking=1",
        "-o", "Acquire::Languages=none",
        "-o", "Acquire::Check-Valid-Until=false",
        *extra_opts,
    ]
    if trusted:
        opts += ["-o", f"Dir::Etc::Trusted={trusted}"]
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", *opts, "update"], env=env)
    p = _run(["apt-get", *opts, "-s", *args], env=env)
    result = {}
    for line in p.stdout.splitlines():
        m = _INST.match(line)
        if m:
            name, old, new, arch = m.groups()
            name = name.split(":")[0]
            result[(name, arch)] = (old, new)
    return result


def plan_set(plan):
    """{(name, arch): (old, new)} of a copa-debplan JSON plan, comparable with apt_simulate."""
    return {(p["name"], p["arch"]): (p["old_version"], p["version"]) for p in plan["packages"]}


# ---------------------------------------------------------------- the helper program

def debplan_path():
    build = pathlib.Path(os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))).parent
    return build / "tests" / "helpers" / "copa-debplan"


@pytest.fixture
def debplan(tmp_path):
    """Runs copa-debplan with a private cache: debplan(*args, ok=True) -> (CompletedProcess,
    parsed JSON or None). ok=True asserts exit 0, ok=False asserts failure."""
    exe = debplan_path()
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} not found: build the tree first (ninja -C build)")
    cache = tmp_path / "debplan-cache"

    def run(*args, ok=True, cache_dir=None, timeout=600):
        argv = [str(exe), "--json", "--cache-dir", str(cache_dir or cache), *map(str, args)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if ok is True and p.returncode != 0:
            raise AssertionError(f"copa-debplan failed ({p.returncode}):\n{p.stderr}")
        if ok is False and p.returncode == 0:
            raise AssertionError(f"copa-debplan succeeded but should not:\n{p.stdout}")
        data = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
        return p, data

    return run
