#!/usr/bin/env python3
"""The installed-database record copa builds for a package (copa-apkrecord)
must be the record Alpine's own apk writes when it installs that package:
builds a signed package with directories of several modes, an executable,
a private file, a symlink, a hard link and a .keep_ file, installs it with
the apk of the real 3.20.3 minirootfs (bwrap, no network, --no-scripts) and
compares the two records byte for byte. Usage: apk_install_reference.py
SHARED_TESTDATA COPA_APKRECORD. Skips (77), saying why, without bwrap."""
import gzip, hashlib, io, os, re, shutil, subprocess, sys, tarfile, tempfile

shared, helper = sys.argv[1], sys.argv[2]
shared = os.environ.get("COPA_SHARED_TESTDATA") or shared
rootfs = os.path.join(shared, "alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
if not shutil.which("bwrap"):
    print("skip: bwrap is not installed (scripts/install-deps.sh installs bubblewrap)")
    sys.exit(77)
if os.uname().machine != "x86_64":
    print("skip: the reference apk is x86_64")
    sys.exit(77)
if not os.path.exists(rootfs):
    print(f"FAIL: '{rootfs}' missing (set COPA_SHARED_TESTDATA)")
    sys.exit(1)


def gz(b):
    return gzip.compress(b, 9, mtime=0)


def tar(entries, cut=False):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode, uid in entries:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.uid, ti.gid, ti.mtime = mode, uid, uid, 1700000000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                ti.pax_headers["APK-TOOLS.checksum.SHA1"] = hashlib.sha1(data.encode()).hexdigest()
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
            else:
                ti.size = len(data)
                ti.pax_headers["APK-TOOLS.checksum.SHA1"] = hashlib.sha1(data).hexdigest()
            t.addfile(ti, io.BytesIO(data) if kind == "file" else None)
    b = bio.getvalue()
    if cut:
        b = b.rstrip(b"\0")
        b += b"\0" * (-len(b) % 512)
    return b


with tempfile.TemporaryDirectory() as tmp:
    key = os.path.join(tmp, "copa-ref.rsa")
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out",
                    os.path.join(keys, "copa-ref.rsa.pub")], check=True, capture_output=True)
    data = tar([
        ("etc", "dir", None, 0o755, 0),
        ("etc/copa", "dir", None, 0o750, 0),
        ("etc/copa/copa.conf", "file", b"setting = 1\n", 0o644, 0),
        ("etc/copa/secret", "file", b"s3cret\n", 0o600, 0),
        ("usr", "dir", None, 0o755, 0),
        ("usr/bin", "dir", None, 0o755, 0),
        ("usr/bin/copa-ref", "file", b"#!/bin/sh\necho hello\n", 0o755, 0),
        ("usr/bin/copa-ref-link", "hard", "usr/bin/copa-ref", 0o755, 0),
        ("usr/bin/cr", "sym", "copa-ref", 0o777, 0),
        ("var", "dir", None, 0o755, 0),
        ("var/lib", "dir", None, 0o755, 0),
        ("var/lib/copa-ref", "dir", None, 0o700, 0),
        ("var/lib/copa-ref/.keep_copa-ref", "file", b"", 0o644, 0),
        ("var/lib/copa-ref/state", "file", b"0\n", 0o640, 0),
    ])
    datagz = gz(data)
    info = (b"pkgname = copa-ref\npkgver = 1.0-r0\npkgdesc = copa's reference package\n"
            b"url = https://example.org/copa\nbuilddate = 1700000000\nsize = 45\n"
            b"arch = x86_64\norigin = copa-ref\nlicense = MIT\nmaintainer = copa <copa@example.org>\n"
            b"depend = musl\nprovides = cmd:copa-ref=1.0-r0\n"
            b"datahash = " + hashlib.sha256(datagz).hexdigest().encode() + b"\n")
    ctl = gz(tar([(".PKGINFO", "file", info, 0o644, 0)], cut=True))
    sig = subprocess.run(["openssl", "dgst", "-sha1", "-sign", key], input=ctl, check=True,
                         capture_output=True).stdout
    sigseg = gz(tar([(".SIGN.RSA.copa-ref.rsa.pub", "file", sig, 0o644, 0)], cut=True))
    pkgdir = os.path.join(tmp, "pkgs")
    os.makedirs(pkgdir)
    apk = os.path.join(pkgdir, "copa-ref-1.0-r0.apk")
    with open(apk, "wb") as f:
        f.write(sigseg + ctl + datagz)

    root = os.path.join(tmp, "root")
    with tarfile.open(rootfs) as t:
        if hasattr(tarfile, "tar_filter"):
            t.extractall(root, filter="tar")
        else:
            t.extractall(root)
    shutil.copy(os.path.join(keys, "copa-ref.rsa.pub"), os.path.join(root, "etc/apk/keys"))
    r = subprocess.run(["bwrap", "--unshare-all", "--bind", root, "/", "--ro-bind", pkgdir, "/pkgs",
                        "--proc", "/proc", "--dev", "/dev", "/sbin/apk", "--repositories-file",
                        "/dev/null", "--no-network", "--no-scripts", "add",
                        "/pkgs/copa-ref-1.0-r0.apk"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        if r.stderr.startswith("bwrap:"):
            print(f"skip: bwrap cannot run here: {r.stderr.strip()}")
            sys.exit(77)
        print(f"FAIL: apk add exited {r.returncode}: {r.stdout}{r.stderr}")
        sys.exit(1)
    db = open(os.path.join(root, "lib/apk/db/installed")).read()
    theirs = next((rec + "\n\n" for rec in db.split("\n\n") if "\nP:copa-ref\n" in "\n" + rec + "\n"),
                  None)
    h = subprocess.run([helper, keys, apk], capture_output=True, text=True)
    if h.returncode != 0:
        print(f"FAIL: copa-apkrecord: {h.stderr.strip()}")
        sys.exit(1)
    ours = h.stdout

if theirs != ours:
    print("FAIL: the records differ\n--- apk wrote:\n" + str(theirs) + "--- copa builds:\n" + ours)
    sys.exit(1)
print("apk and copa record the package identically:\n" + ours)
