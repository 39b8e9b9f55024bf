#!/usr/bin/env python3
"""Keeps the resolver's held-out expectation honest: runs Alpine's own apk
inside each real minirootfs of tests/unit/data/apk_heldout.txt (bwrap, no
network; a foreign architecture's apk under qemu-user) against the real signed index named there, `apk upgrade --simulate`,
and checks that its plan is exactly the expected list test_apksolve.c
requires of copa's resolver. Skips (77), saying why, without
bwrap or the shared test data."""
import os, re, shutil, subprocess, sys, tarfile, tempfile

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("COPA_SHARED_TESTDATA") or (sys.argv[1] if len(sys.argv) > 1 else "")
data = os.path.join(here, "data")
machine = os.uname().machine

if not shutil.which("bwrap"):
    print("skip: bwrap is not installed (scripts/install-deps.sh installs bubblewrap)")
    sys.exit(77)


def apk_plan(rootfs, index, arch, qemu, command):
    with tempfile.TemporaryDirectory() as tmp:
        root, repo = os.path.join(tmp, "root"), os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, arch))
        shutil.copy(index, os.path.join(repo, arch, "APKINDEX.tar.gz"))
        with tarfile.open(rootfs) as t:
            if hasattr(tarfile, "tar_filter"):
                t.extractall(root, filter="tar")
            else:
                t.extractall(root)
        # a foreign apk runs under qemu-user, bound into the root (no binfmt_misc needed)
        emu = ["--ro-bind", qemu, "/.qemu"] if qemu else []
        run = ["/.qemu"] if qemu else []
        r = subprocess.run(["bwrap", "--unshare-all", "--bind", root, "/", "--ro-bind", repo,
                            "/repo", *emu, "--proc", "/proc", "--dev", "/dev", *run, "/sbin/apk",
                            "--repositories-file", "/dev/null", "-X", "/repo", *command,
                            "--simulate"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        if r.stderr.startswith("bwrap:"):
            # bwrap itself failed (no user namespaces here): not apk's answer
            print(f"skip: bwrap cannot run here: {r.stderr.strip()}")
            sys.exit(77)
        print(f"FAIL: apk exited {r.returncode}: {r.stderr.strip()}")
        sys.exit(1)
    got = []
    for line in r.stdout.splitlines():
        m = re.match(r"\(\d+/\d+\) (Installing|Upgrading|Purging) (\S+) \((\S+?)(?: -> (\S+))?\)$",
                     line)
        if m:
            verb, name, v1, v2 = m.groups()
            got.append({"Installing": f"+{name}-{v1}", "Purging": f"-{name}-{v1}",
                        "Upgrading": f"^{name}-{v1}>{v2}"}[verb])
    m = re.search(r"in (\d+) packages", r.stdout)
    return sorted(got), int(m.group(1)) if m else -1


failed = checked = 0
for line in open(os.path.join(data, "apk_heldout.txt")):
    if not line.strip() or line.startswith("#"):
        continue
    arch, rootfs, index, expected, count, *mode = line.split()
    command = ["upgrade"]
    if mode and mode[0].startswith("add-u:"):
        command = ["add", "-u", mode[0][len("add-u:"):]]
    qemu = None
    if arch != machine:
        qemu = shutil.which(f"qemu-{arch}-static")
        if not qemu:
            print(f"skip case {rootfs}: {arch} apk needs qemu-{arch}-static on {machine}"
                  " (scripts/install-deps.sh installs qemu-user-static)")
            continue
    rootfs, index = os.path.join(shared, rootfs), os.path.join(shared, index)
    if not os.path.exists(rootfs) or not os.path.exists(index):
        print(f"FAIL: shared test data missing under '{shared}' (set COPA_SHARED_TESTDATA)")
        sys.exit(1)
    got, n = apk_plan(rootfs, index, arch, qemu, command)
    want = open(os.path.join(data, expected)).read().split()
    checked += 1
    if got != want or n != int(count):
        print(f"FAIL: {os.path.basename(rootfs)}: apk plans {got} ({n} packages installed),"
              f" {expected} says {want} ({count})")
        failed += 1
    else:
        print(f"{os.path.basename(rootfs)} apk {' '.join(command)}: {len(got)} actions,"
              f" as {expected} says")
if checked == 0:
    print(f"skip: no case runs on {machine}")
    sys.exit(77)
sys.exit(1 if failed else 0)
