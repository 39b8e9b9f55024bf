#!/usr/bin/env python3
"""The installed-database record copa builds for a package (copa-apkrecord)
must be the record Alpine's own apk writes when it installs that package:
builds a signed package with directories of several modes, an executable,
a private file, a symlink, a hard link, a .keep_ file, files with a user.
and a security.capability extended attribute and a character device, installs it with
the apk of the real 3.20.3 minirootfs (bwrap, no network, --no-scripts) and
compares the two records byte for byte. Usage: apk_install_reference.py
SHARED_TESTDATA COPA_APKRECORD. Skips (77), saying why, without bwrap."""
import os, shutil, stat, struct, subprocess, sys, tempfile

# the package builder is shared with the e2e tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from fx_apkrepo import Entry, Key, apk_in_root, build_apk, extract_rootfs  # noqa: E402

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


with tempfile.TemporaryDirectory() as tmp:
    key = Key(os.path.join(tmp, "key"), "copa-ref.rsa.pub")
    keys = str(key.install(os.path.join(tmp, "keys")))
    E = Entry
    entries = [
        E("etc", "dir", mode=0o755), E("etc/copa", "dir", mode=0o750),
        E("etc/copa/copa.conf", "file", b"setting = 1\n"),
        E("etc/copa/secret", "file", b"s3cret\n", 0o600),
        E("usr", "dir", mode=0o755), E("usr/bin", "dir", mode=0o755),
        E("usr/bin/copa-ref", "file", b"#!/bin/sh\necho hello\n", 0o755),
        E("usr/bin/copa-ref-link", "hard", "usr/bin/copa-ref", 0o755),
        E("usr/bin/cr", "sym", "copa-ref", 0o777),

        E("var", "dir", mode=0o755), E("var/lib", "dir", mode=0o755),
        E("var/lib/copa-ref", "dir", mode=0o700),
        E("var/lib/copa-ref/.keep_copa-ref", "file", b""),
        E("var/lib/copa-ref/state", "file", b"0\n", 0o640),
    ]
    # What apk can put on disk here: user. attributes where the file system
    # of the temporary directory takes them; a file capability and a device
    # node only as root (apk_in_root then runs apk without a user namespace).
    probe = os.path.join(tmp, "probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.copa", b"1")
        user_xattrs = True
    except OSError as e:
        user_xattrs = False
        print(f"note: no user. xattrs in {tmp} ({e}); that part is not compared")
    privileged = os.geteuid() == 0
    if not privileged:
        print("note: not root: the file capability and the device node are not compared")
    if user_xattrs:
        entries.append(E("usr/bin/copa-tagged", "file", b"tagged\n", 0o644,
                         xattrs={"user.copa.origin": b"reference", "user.copa.empty": b""}))
    if privileged:
        # cap_net_bind_service, effective (VFS_CAP_REVISION_2 with the effective flag)
        entries.insert(7, E("usr/bin/copa-cap", "file", b"#!/bin/sh\n", 0o755, xattrs={
            "security.capability": struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)}))
        # not under dev/: bwrap mounts its own /dev there
        entries.append(E("var/lib/copa-ref/null", "chr", (1, 3), 0o666))
    info = {"pkgname": "copa-ref", "pkgver": "1.0-r0", "pkgdesc": "copa's reference package",
            "url": "https://example.org/copa", "builddate": 1700000000, "size": 45,
            "arch": "x86_64", "origin": "copa-ref", "maintainer": "copa <copa@example.org>",
            "license": "MIT", "depend": ["musl"], "provides": ["cmd:copa-ref=1.0-r0"]}
    pkgdir = os.path.join(tmp, "pkgs")
    apk = str(build_apk(pkgdir, info, entries, key).path)

    root = os.path.join(tmp, "root")
    extract_rootfs(rootfs, root)
    r = apk_in_root(root, ["--no-scripts", "add", "/pkgs/copa-ref-1.0-r0.apk"], keys=keys,
                    binds=[(pkgdir, "/pkgs")])
    if r.returncode != 0:
        if r.stderr.startswith("bwrap:"):
            print(f"skip: bwrap cannot run here: {r.stderr.strip()}")
            sys.exit(77)
        print(f"FAIL: apk add exited {r.returncode}: {r.stdout}{r.stderr}")
        sys.exit(1)
    # apk really put the attributes and the device on disk (else its record
    # would carry them while the files do not, and the comparison proves less)
    tagged = os.path.join(root, "usr/bin/copa-tagged")
    if user_xattrs and os.getxattr(tagged, "user.copa.origin") != b"reference":
        print("FAIL: apk did not set user.copa.origin on usr/bin/copa-tagged")
        sys.exit(1)
    if privileged and "security.capability" not in os.listxattr(
            os.path.join(root, "usr/bin/copa-cap")):
        print("FAIL: apk did not set security.capability on usr/bin/copa-cap")
        sys.exit(1)
    if privileged:
        st = os.lstat(os.path.join(root, "var/lib/copa-ref/null"))
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (1, 3):
            print("FAIL: apk did not make var/lib/copa-ref/null the device 1:3")
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
