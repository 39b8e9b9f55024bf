#!/usr/bin/env python3
"""Keeps the resolver's held-out expectation honest: runs Alpine's own apk
inside the real 3.15.11 minirootfs (bwrap, no network) against the real
signed v3.16 main index, `apk upgrade --simulate`, and checks that its plan is
exactly tests/unit/data/apk_upgrade_3.15.11_v3.16.txt, the list
test_apksolve.c requires of copa's resolver. Skips (77), saying why, without
bwrap or the shared test data."""
import os, re, shutil, subprocess, sys, tarfile, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("COPA_SHARED_TESTDATA") or (sys.argv[1] if len(sys.argv) > 1 else "")
want_file = os.path.join(here, "data", "apk_upgrade_3.15.11_v3.16.txt")
rootfs = os.path.join(shared, "alpine/minirootfs/alpine-minirootfs-3.15.11-x86_64.tar.gz")
index = os.path.join(shared, "alpine/index/v3.16-main-x86_64/APKINDEX.tar.gz")

if not shutil.which("bwrap"):
    print("skip: bwrap is not installed (scripts/install-deps.sh installs bubblewrap)")
    sys.exit(77)
if not os.path.exists(rootfs) or not os.path.exists(index):
    print(f"FAIL: shared test data missing under '{shared}' (set COPA_SHARED_TESTDATA)")
    sys.exit(1)

with tempfile.TemporaryDirectory() as tmp:
    root, repo = os.path.join(tmp, "root"), os.path.join(tmp, "repo")
    os.makedirs(os.path.join(repo, "x86_64"))
    shutil.copy(index, os.path.join(repo, "x86_64", "APKINDEX.tar.gz"))
    with tarfile.open(rootfs) as t:
        t.extractall(root, filter="tar") if hasattr(tarfile, "tar_filter") else t.extractall(root)
    r = subprocess.run(["bwrap", "--unshare-all", "--bind", root, "/", "--ro-bind", repo, "/repo",
                        "--proc", "/proc", "--dev", "/dev", "/sbin/apk", "--repositories-file",
                        "/dev/null", "-X", "/repo", "upgrade", "--simulate"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        if "No permissions" in r.stderr or "Creating new namespace failed" in r.stderr:
            print(f"skip: bwrap cannot create namespaces here: {r.stderr.strip()}")
            sys.exit(77)
        print(f"FAIL: apk exited {r.returncode}: {r.stderr.strip()}")
        sys.exit(1)

got = []
for line in r.stdout.splitlines():
    m = re.match(r"\(\d+/\d+\) (Installing|Upgrading|Purging) (\S+) \((\S+?)(?: -> (\S+))?\)$", line)
    if not m:
        continue
    verb, name, v1, v2 = m.groups()
    got.append({"Installing": f"+{name}-{v1}", "Purging": f"-{name}-{v1}",
                "Upgrading": f"^{name}-{v1}>{v2}"}[verb])
got.sort()
want = open(want_file).read().split()
print(r.stdout.strip())
if got != want:
    print(f"FAIL: apk plans {got}\nexpected {want}")
    sys.exit(1)
print(f"apk plans the {len(got)} actions copa's resolver is held to")
