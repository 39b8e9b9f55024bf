"""Live: the planner against the real Debian archive (bookworm, bookworm-updates,
bookworm-security, real signatures), compared with apt run inside a chroot of the
same root file system. Skips, saying why, when deb.debian.org is unreachable."""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from fx_debrepo import ROOT, debplan_path

pytestmark = [pytest.mark.live, pytest.mark.slow]

@pytest.fixture(scope="module")
def bookworm_root(bookworm_tar, tmp_path_factory):
    """The tree unpacked (removed after the module)."""
    root = tmp_path_factory.mktemp("bookworm-chroot")
    subprocess.run(["tar", "--numeric-owner", "-xf", str(bookworm_tar), "-C", str(root)],
                   check=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def chroot_apt(bookworm_root):
    """apt inside the tree, with its lists updated; run(args) -> stdout."""
    root = bookworm_root
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")

    def run(*args):
        p = subprocess.run(["chroot", str(root), *args], capture_output=True, text=True,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
                           timeout=900)
        assert p.returncode == 0, f"{args} failed:\n{p.stdout}\n{p.stderr}"
        return p.stdout

    run("apt-get", "-qq", "update")
    return run


@pytest.fixture(scope="module")
def plan_cache(tmp_path_factory):
    """One copa cache for the module: the second run of a test is a warm run."""
    d = tmp_path_factory.mktemp("copa-cache")
    yield d
    shutil.rmtree(d, ignore_errors=True)


INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) .*?\[(\S+)\]\)")


def inst_lines(text):
    out = {}
    for line in text.splitlines():
        m = INST.match(line)
        if m:
            name, old, new, arch = m.groups()
            out[(name.split(":")[0], arch)] = (old, new)
    return out


def run_plan(tar, cache, *args):
    argv = ["/usr/bin/time", "-v", str(debplan_path()), "--json", "--rootfs-tar", str(tar),
            "--cache-dir", str(cache), *args]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    import json
    plan = json.loads(p.stdout)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    print(f"\ncopa-debplan {' '.join(args) or '(update all)'}: wall {wall:.2f} s, "
          f"load {plan['stats']['load_ms']:.0f} ms, plan {plan['stats']['plan_ms']:.0f} ms, "
          f"max RSS {int(rss.group(1)) / 1024:.1f} MiB, {plan['stats']['available']} packages "
          f"available, {len(plan['packages'])} chosen")
    return plan


def test_update_all_matches_apt_in_chroot(bookworm_tar, chroot_apt, plan_cache):
    cache = plan_cache
    plan = run_plan(bookworm_tar, cache)
    # A warm run: indexes and their solver form come from the cache (InRelease is fetched again).
    plan2 = run_plan(bookworm_tar, cache)
    ours = {(p["name"], p["arch"]): (p["old_version"], p["version"]) for p in plan["packages"]}
    assert ours == {(p["name"], p["arch"]): (p["old_version"], p["version"])
                    for p in plan2["packages"]}
    apts = inst_lines(chroot_apt("apt-get", "-s", "-o", "APT::Get::Show-Versions=true",
                                 "upgrade", "--with-new-pkgs"))
    assert ours == apts
    upgradable = {line.split("/")[0] for line in chroot_apt("apt", "list", "--upgradable")
                  .splitlines() if "/" in line}
    assert {r["name"] for r in plan["results"] if r["outcome"] == "updated"} == upgradable
    for p in plan["packages"]:
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"]) and p["size"] > 0
        assert p["url"].startswith("http://deb.debian.org/debian")
    keys = {s["keys"] for s in plan["sources"]}
    assert keys == {"the image's '/usr/share/keyrings/debian-archive-keyring.gpg'"}


def test_report_request_matches_apt_in_chroot(bookworm_tar, chroot_apt, plan_cache):
    cache = plan_cache
    plan = run_plan(bookworm_tar, cache)
    security = [p for p in plan["packages"] if "bookworm-security" in p["repo"]]
    if not security:
        pytest.skip("bookworm-security has no update for this point release right now")
    target = security[0]
    req = run_plan(bookworm_tar, cache, "--request", f"{target['name']}={target['version']}",
                   "--fetch")
    ours = {(p["name"], p["arch"]): (p["old_version"], p["version"]) for p in req["packages"]}
    apts = inst_lines(chroot_apt("apt-get", "-s", "-o", "APT::Get::Show-Versions=true",
                                 "-o", "APT::Install-Recommends=false", "install",
                                 "--only-upgrade", target["name"]))
    assert ours == apts
    r = next(r for r in req["results"] if r["name"] == target["name"])
    assert r["outcome"] == "updated" and r["chosen_version"] == target["version"]
    import hashlib
    for p in req["packages"]:
        assert hashlib.sha256(pathlib.Path(p["deb_path"]).read_bytes()).hexdigest() == p["sha256"]


def test_distroless_tree_with_default_repositories(bookworm_tar, bookworm_root, plan_cache,
                                                   tmp_path):
    """The same packages as a distroless image would carry them: status.d files without
    Status lines, no sources, no keyrings. copa uses bookworm's official repositories and the
    host's archive keyring, and plans exactly what it plans for the full image."""
    full = run_plan(bookworm_tar, plan_cache)
    tree = tmp_path / "distroless"
    (tree / "etc").mkdir(parents=True)
    shutil.copy(bookworm_root / "usr/lib/os-release", tree / "etc/os-release")
    statusd = tree / "var/lib/dpkg/status.d"
    statusd.mkdir(parents=True)
    text = (bookworm_root / "var/lib/dpkg/status").read_text()
    for para in filter(str.strip, text.split("\n\n")):
        lines = [l for l in para.splitlines() if not l.startswith("Status:")]
        name = lines[0].split(": ", 1)[1]
        (statusd / name).write_text("\n".join(lines) + "\n")
        (statusd / f"{name}.md5sums").write_text("00000000000000000000000000000000  x\n")
    argv = [str(debplan_path()), "--json", "--root", str(tree), "--cache-dir", str(plan_cache)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    import json
    plan = json.loads(p.stdout)
    assert plan["distroless"] is True
    assert [(s["uri"], s["suite"]) for s in plan["sources"]] == [
        ("http://deb.debian.org/debian", "bookworm"),
        ("http://deb.debian.org/debian", "bookworm-updates"),
        ("http://deb.debian.org/debian-security", "bookworm-security")]
    assert {s["keys"] for s in plan["sources"]} == {
        "this machine's /usr/share/keyrings/debian-archive-keyring.gpg"}
    assert [(x["name"], x["version"]) for x in plan["packages"]] == \
        [(x["name"], x["version"]) for x in full["packages"]]


def test_foreign_architecture_on_real_indexes(tmp_path):
    """An image after `dpkg --add-architecture i386`, planned against the real bookworm
    main indexes (amd64 and i386, downloaded by copa with a cold cache). Renaming the i386
    packages grows libsolv's string space, which moves it: the planner once kept a pointer
    into it across that (ASan: use-after-free; release builds crashed on a cold cache).
    Multi-Arch: same packages stay in step across both architectures."""
    from fx_live import reachable
    ok, why = reachable()
    if not ok:
        pytest.skip(f"deb.debian.org is unreachable ({why}): the real bookworm indexes "
                    "cannot be downloaded")
    root = tmp_path / "root"
    (root / "etc/apt").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    (root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    (root / "var/lib/dpkg/arch").write_text("amd64\ni386\n")
    stanzas = []
    for arch in ("amd64", "i386"):
        stanzas.append(f"Package: libc6\nStatus: install ok installed\nArchitecture: {arch}\n"
                       "Multi-Arch: same\nVersion: 2.36-1\n")
    stanzas.append("Package: zlib1g\nStatus: install ok installed\nArchitecture: i386\n"
                   "Multi-Arch: same\nVersion: 1:1.2.11.dfsg-4\nDepends: libc6 (>= 2.14)\n")
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))
    argv = [str(debplan_path()), "--json", "--root", str(root), "--cache-dir",
            str(tmp_path / "cache")]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    import json
    plan = json.loads(p.stdout)
    assert plan["native_arch"] == "amd64" and plan["foreign_archs"] == ["i386"]
    assert {x["label"].rsplit(" ", 1)[1] for x in plan["indexes"]} >= {"amd64", "i386"}
    chosen = {(x["name"], x["arch"]): x["version"] for x in plan["packages"]}
    assert ("libc6", "amd64") in chosen and ("zlib1g", "i386") in chosen
    assert chosen[("libc6", "amd64")] == chosen[("libc6", "i386")]
    assert ("zlib1g", "amd64") not in chosen
