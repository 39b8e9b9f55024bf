"""copa patch end to end, hermetic: images whose dpkg database the real dpkg
wrote, a repository built with dpkg-deb/apt-ftparchive and signed with gpg,
served on 127.0.0.1. Results are read with umoci, dpkg-query, skopeo and
python's tarfile/json, never with copa."""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

import imagetools as it
from fx_patch import (ARCH_LIBDIR, dpkg_versions, image_manifest, layer_names, patch_layer_tar,
                      tar_dir, unpack)

pytestmark = pytest.mark.usefixtures("dpkg_tools")

LIB = "/" + ARCH_LIBDIR


def base_packages(w):
    """Version 1 of everything, as installed in the image."""
    return [
        w.pkg("libfoo1", "1.0-1", {"/lib/x86_64-linux-gnu/libfoo.so.1": "foo 1.0\n"}),
        w.pkg("foo-config", "1.0-1", {"/etc/foo.conf": "setting = 1\n"}, conffiles=["/etc/foo.conf"]),
        w.pkg("tool", "1.0-1", {"/usr/bin/tool": {"data": "tool 1.0\n", "mode": 0o755},
                                "/usr/share/tool/old.txt": "only in 1.0\n",
                                "/usr/share/tool/keep.txt": "1.0\n"}),
        w.pkg("pinned", "1.0-1", {"/usr/share/pinned/v": "1\n"}),
    ]


def update_packages(w):
    """The repository: fixes for everything, one needing a new dependency."""
    return [
        w.pkg("libbar1", "1.0-1", {"/usr/lib/x86_64-linux-gnu/libbar.so.1": "bar\n"}),
        w.pkg("libfoo1", "1.0-2", {"/lib/x86_64-linux-gnu/libfoo.so.1": "foo 1.0-2\n"},
              fields={"Depends": "libbar1 (>= 1.0)"}),
        w.pkg("foo-config", "1.0-2", {"/etc/foo.conf": "setting = 2\n"}, conffiles=["/etc/foo.conf"]),
        w.pkg("tool", "1.0-2", {"/usr/bin/tool": {"data": "tool 1.0-2\n", "mode": 0o755},
                                "/usr/share/tool/keep.txt": "1.0-2\n"}),
        w.pkg("pinned", "1.0-2", {"/usr/share/pinned/v": "2\n"}),
    ]


def modified_conffile(root):
    (root / "etc/foo.conf").write_text("setting = mine\n")


def native_report(path, updates, os_version="12"):
    path.write_text(json.dumps({
        "apiVersion": "v1alpha2",
        "metadata": {"os": {"type": "debian", "version": os_version}, "config": {"arch": "amd64"}},
        "osupdates": [{"name": n, "installedVersion": i, "fixedVersion": f, "vulnerabilityID": v,
                       "type": "debian", "class": "os-pkgs"} for n, i, f, v in updates],
        "langupdates": [],
    }))
    return path


@pytest.fixture
def patched_world(world):
    base = base_packages(world)
    world.publish(*update_packages(world))
    root = world.rootfs(base, held=["pinned"], modify=modified_conffile)
    world.layout = world.image(root)
    return world


def test_update_all(copa, patched_world, tmp_path):
    w = patched_world
    before = layer_names(w.layout, "1.0")
    summary = tmp_path / "summary.json"
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "--summary", summary, "--progress", "plain",
             check=True)
    assert "patched 1 platform" in p.stderr
    # The original layers are untouched; one layer more.
    after = layer_names(w.layout, "1.0-patched")
    assert after[:-1] == before and len(after) == len(before) + 1
    assert layer_names(w.layout, "1.0") == before  # the source tag is still there
    rootfs = unpack(w.layout, "1.0-patched", tmp_path / "unpacked")
    v = dpkg_versions(rootfs)
    assert v["libfoo1"] == "1.0-2" and v["tool"] == "1.0-2" and v["foo-config"] == "1.0-2"
    assert v["libbar1"] == "1.0-1"  # new dependency pulled in
    assert v["pinned"] == "1.0-1"  # held: left alone
    # merged /usr: the package's /lib path landed on usr/lib, lib stays a symlink
    assert (rootfs / "lib").is_symlink() and os.readlink(rootfs / "lib") == "usr/lib"
    assert (rootfs / ARCH_LIBDIR / "libfoo.so.1").read_text() == "foo 1.0-2\n"
    members = patch_layer_tar(w.layout, "1.0-patched")
    assert not any(m == "lib" or m.startswith("lib/") for m in members)
    # conffile changed in the image: kept, the package's version beside it
    assert (rootfs / "etc/foo.conf").read_text() == "setting = mine\n"
    assert (rootfs / "etc/foo.conf.dpkg-dist").read_text() == "setting = 2\n"
    # obsolete file whited out
    assert not (rootfs / "usr/share/tool/old.txt").exists()
    assert "usr/share/tool/.wh.old.txt" in members
    assert (rootfs / "usr/share/tool/keep.txt").read_text() == "1.0-2\n"
    # the database lists the new files the way dpkg does
    lst = (rootfs / "var/lib/dpkg/info/libbar1.list").read_text().splitlines()
    assert lst[0] == "/." and "/usr/lib/x86_64-linux-gnu/libbar.so.1" in lst
    s = json.loads(summary.read_text())
    pkgs = {x["name"]: x for x in s["platforms"][0]["packages"]}
    assert pkgs["tool"]["outcome"] == "updated" and pkgs["tool"]["installedVersion"] == "1.0-2"
    assert pkgs["libbar1"]["installedBefore"] is None and pkgs["libbar1"]["outcome"] == "updated"
    assert pkgs["pinned"]["outcome"] == "skipped" and "held" in pkgs["pinned"]["reason"]
    assert s["output"]["digest"] == image_manifest(w.layout, "1.0-patched")[1]["digest"]


def test_report_mode_and_vex(copa, patched_world, tmp_path, shared_dir):
    jsonschema = pytest.importorskip("jsonschema")
    w = patched_world
    report = native_report(tmp_path / "report.json", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-0001"),
        ("tool", "1.0-1", "1.0-2", "CVE-2099-0002"),
    ])
    vex = tmp_path / "vex.json"
    copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", report, "-s", "native", "-t", "fixed",
         "-o", vex, "--vex-author", "copa tests", check=True)
    rootfs = unpack(w.layout, "fixed", tmp_path / "u")
    v = dpkg_versions(rootfs)
    assert v["tool"] == "1.0-2"
    assert v["libfoo1"] == "1.0-1"  # not asked for: untouched
    doc = json.loads(vex.read_text())
    schema = json.loads((shared_dir / "schemas/openvex_json_schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["author"] == "copa tests"
    ids = sorted(s["vulnerability"]["name"] for s in doc["statements"])
    assert ids == ["CVE-2099-0001", "CVE-2099-0002"]
    digest = image_manifest(w.layout, "fixed")[1]["digest"]
    for s in doc["statements"]:
        assert s["status"] == "fixed"
        prod = s["products"][0]
        assert digest.replace(":", "%3A") in prod["@id"] or digest in prod["@id"]
        assert any(c["@id"].startswith("pkg:deb/debian/tool@1.0-2") for c in prod["subcomponents"])


def test_fixed_version_not_available(copa, patched_world, tmp_path):
    w = patched_world
    report = native_report(tmp_path / "r.json", [
        ("tool", "1.0-1", "1.0-9", "CVE-2099-0003"),
        ("libfoo1", "1.0-1", "1.0-2", "CVE-2099-0004"),
    ])
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", report, "-s", "native", "-t", "strict")
    assert p.returncode == 1
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("copa: error: ") and "'tool'" in last and "--ignore-errors" in last
    index = json.loads((w.layout / "index.json").read_text())
    tags = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert "strict" not in tags  # nothing written
    summary = tmp_path / "s.json"
    copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", report, "-s", "native", "-t", "lenient",
         "--ignore-errors", "--summary", summary, check=True)
    v = dpkg_versions(unpack(w.layout, "lenient", tmp_path / "u"))
    assert v["libfoo1"] == "1.0-2" and v["tool"] == "1.0-1"
    pkgs = {x["name"]: x for x in json.loads(summary.read_text())["platforms"][0]["packages"]}
    assert pkgs["tool"]["outcome"] == "not-available"


def test_ignore_errors_skips_a_package_that_fails_to_download(copa, patched_world, tmp_path):
    """--ignore-errors covers a package whose download does not verify: it is skipped and
    reported as failed, absent from the VEX document, and the rest is patched (exit 0)."""
    w = patched_world
    deb = next(w.repo.root.glob("pool/stable/main/tool_1.0-2_*.deb"))
    data = bytearray(deb.read_bytes())
    data[-100] ^= 0xFF  # same size, other content: the index's SHA256 no longer matches
    deb.write_bytes(bytes(data))
    report = native_report(tmp_path / "r.json", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-0005"),
        ("libfoo1", "1.0-1", "1.0-2", "CVE-2099-0006"),
    ])
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", report, "-s", "native", "-t", "strict")
    assert p.returncode == 1 and "'tool'" in p.stderr
    summary, vex = tmp_path / "s.json", tmp_path / "vex.json"
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", report, "-s", "native", "-t", "lenient",
             "--ignore-errors", "--summary", summary, "-o", vex)
    assert p.returncode == 0, p.stderr
    assert "skipping package 'tool'" in p.stderr
    v = dpkg_versions(unpack(w.layout, "lenient", tmp_path / "u"))
    assert v["libfoo1"] == "1.0-2" and v["libbar1"] == "1.0-1" and v["tool"] == "1.0-1"
    plat = json.loads(summary.read_text())["platforms"][0]
    pkgs = {x["name"]: x for x in plat["packages"]}
    assert pkgs["tool"]["outcome"] == "failed" and pkgs["tool"]["installedVersion"] == "1.0-1"
    assert "tool" in pkgs["tool"]["reason"]
    assert pkgs["libfoo1"]["outcome"] == "updated"
    assert plat["status"] == "patched" and plat["error"] is None
    ids = sorted(s["vulnerability"]["name"] for s in json.loads(vex.read_text())["statements"])
    assert ids == ["CVE-2099-0006"]
    # Only the broken package asked for: nothing is patched, and copa does not call the
    # image up to date.
    only = native_report(tmp_path / "only.json", [("tool", "1.0-1", "1.0-2", "CVE-2099-0005")])
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-r", only, "-s", "native", "-t", "none",
             "--ignore-errors")
    assert p.returncode == 0, p.stderr
    assert "1 package could not be updated" in p.stderr and "up to date" not in p.stderr


def test_ignore_errors_does_not_skip_a_disk_full_apply(copa, world, tmp_path):
    """A local I/O error while a package's files are written (the cache, where the layer is
    staged, is a 6 MiB tmpfs; the update holds 16 MiB of zeros, 16 KiB compressed) can leave
    that package half-written: --ignore-errors must not skip it as if it had changed nothing.
    The run fails naming the package and the cause, and no tag is written."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    base = base_packages(world)
    world.publish(world.pkg("tool", "1.0-2", {
        "/usr/bin/tool": {"data": "tool 1.0-2\n", "mode": 0o755},
        "/usr/share/tool/zeros.bin": bytes(16 << 20)}))
    layout = world.image(world.rootfs(base))
    cache = tmp_path / "small-cache"
    cache.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(cache)],
                       capture_output=True, text=True)
    if m.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {m.stderr.strip()}")
    try:
        p = copa("patch", "--cache-dir", cache, "-i", f"oci:{layout}:1.0", "-t", "full",
                 "--ignore-errors", cache_dir=False)
    finally:
        subprocess.run(["umount", "-l", str(cache)], check=True)
    assert p.returncode == 1, p.stderr
    assert "'tool'" in p.stderr and "No space left on device" in p.stderr, p.stderr
    assert "skipping package 'tool'" not in p.stderr
    tags = [m.get("annotations", {}).get("org.opencontainers.image.ref.name")
            for m in json.loads((layout / "index.json").read_text())["manifests"]]
    assert tags == ["1.0"]


def test_nothing_to_patch_exits_zero(copa, world, tmp_path):
    base = base_packages(world)
    world.publish(*base)  # the repository has nothing newer
    layout = world.image(world.rootfs(base))
    p = copa("patch", "-i", f"oci:{layout}:1.0")
    assert p.returncode == 0
    assert "nothing to patch" in p.stderr
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1


@pytest.mark.parametrize("damage", ["unsigned", "tampered-inrelease", "tampered-packages",
                                    "tampered-deb", "unknown-key"])
def test_untrusted_repository_refused(copa, world, tmp_path, damage, other_gpg_key):
    base = base_packages(world)
    updates = update_packages(world)
    for d in updates:
        world.repo.add(d)
    kw = {}
    if damage == "unsigned":
        kw["sign"] = False
    if damage == "unknown-key":
        kw["key"] = other_gpg_key
    world.repo.publish(**kw)
    world.url = world.repo.serve(world.static_server)
    if damage == "tampered-inrelease":
        world.repo.tamper("dists/stable/InRelease", b"Suite: stable", b"Suite: stabla")
    elif damage == "tampered-packages":
        world.repo.tamper("dists/stable/main/binary-amd64/Packages.xz",
                          *_flip_last_byte(world.repo.root / "dists/stable/main/binary-amd64/Packages.xz"))
    elif damage == "tampered-deb":
        deb = next(world.repo.root.glob("pool/stable/main/tool_1.0-2_*.deb"))
        data = bytearray(deb.read_bytes())
        data[-10] ^= 0xff
        deb.write_bytes(bytes(data))
    layout = world.image(world.rootfs(base))
    p = copa("patch", "-i", f"oci:{layout}:1.0")
    assert p.returncode == 1, p.stderr
    msg = p.stderr
    expect = {"unsigned": "InRelease", "tampered-inrelease": "InRelease",
              "tampered-packages": "Packages", "tampered-deb": "tool",
              "unknown-key": other_gpg_key.keyid}[damage]
    assert expect in msg, msg
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1  # nothing written


def test_broken_package_from_a_signed_repository(copa, world, tmp_path):
    """The repository signs a package whose data.tar is damaged: the index
    matches it, so only reading it shows the damage. copa names the package,
    fails, writes nothing and leaves no staging files behind."""
    base = base_packages(world)
    updates = update_packages(world)
    tool = next(d for d in updates if d.name.startswith("tool_"))
    data = bytearray(tool.read_bytes())
    data[-10] ^= 0xff  # inside data.tar.xz, the last ar member
    tool.write_bytes(bytes(data))
    world.publish(*updates)
    layout = world.image(world.rootfs(base))
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--cache-dir", tmp_path / "cache",
             cache_dir=False)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("copa: error: ") and "package 'tool' 1.0-2" in last, last
    assert "tool_1.0-2_amd64.deb': member 'data.tar.xz'" in last, last
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1  # nothing written
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def ubuntu_noble(url):
    """An Ubuntu 24.04-style root: its repositories only in deb822
    /etc/apt/sources.list.d/ubuntu.sources, as noble ships them."""
    def modify(root):
        (root / "etc/os-release").write_text(
            'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
            "VERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n")
        (root / "etc/apt/sources.list").unlink()
        d = root / "etc/apt/sources.list.d"
        d.mkdir(parents=True, exist_ok=True)
        (d / "ubuntu.sources").write_text(
            f"Types: deb\nURIs: {url}\nSuites: stable\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/copa-test.gpg\n")
    return modify


def trivy_report(path, family, os_name, vulns):
    """A Trivy JSON report (SchemaVersion 2) with one os-pkgs result."""
    path.write_text(json.dumps({
        "SchemaVersion": 2, "ArtifactName": "app:1.0", "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": family, "Name": os_name}},
        "Results": [{"Target": f"app:1.0 ({family} {os_name})", "Class": "os-pkgs",
                     "Type": family,
                     "Vulnerabilities": [
                         {"VulnerabilityID": v, "PkgName": n, "InstalledVersion": i,
                          "FixedVersion": f, "Status": "fixed", "Severity": "HIGH"}
                         for n, i, f, v in vulns]}],
    }))
    return path


def test_ubuntu_image_from_a_trivy_report(copa, world, tmp_path, shared_dir):
    jsonschema = pytest.importorskip("jsonschema")
    base = base_packages(world)
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base, modify=ubuntu_noble(world.url)))
    report = trivy_report(tmp_path / "trivy.json", "ubuntu", "24.04", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-1001"),
        ("libfoo1", "1.0-1", "1.0-2", "USN-9999-1"),
    ])
    vex = tmp_path / "vex.json"
    summary = tmp_path / "summary.json"
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", report, "-o", vex, "--summary", summary,
         check=True)
    v = dpkg_versions(unpack(layout, "1.0-patched", tmp_path / "u"))
    assert v["tool"] == "1.0-2" and v["libfoo1"] == "1.0-2"
    assert v["libbar1"] == "1.0-1"  # libfoo1's new dependency
    assert v["foo-config"] == "1.0-1"  # not in the report: untouched
    doc = json.loads(vex.read_text())
    jsonschema.validate(doc, json.loads((shared_dir / "schemas/openvex_json_schema.json")
                                        .read_text()))
    assert sorted(s["vulnerability"]["name"] for s in doc["statements"]) == \
        ["CVE-2099-1001", "USN-9999-1"]
    subs = [c["@id"] for s in doc["statements"] for c in s["products"][0]["subcomponents"]]
    assert any(x.startswith("pkg:deb/ubuntu/tool@1.0-2?") and "distro=ubuntu-24.04" in x
               for x in subs), subs
    s = json.loads(summary.read_text())
    assert s["platforms"][0]["os"] == {"type": "ubuntu", "version": "24.04"}


def test_progress_json_events(copa, patched_world, tmp_path):
    """--progress json: every stderr line is one JSON event a machine can
    follow: downloads and the compression start and end, logs say what
    happened, each event is stamped; a failure ends with an error event."""
    import datetime
    w = patched_world
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "--progress", "json", check=True)
    events = [json.loads(line) for line in p.stderr.splitlines()]
    assert events and all(e["type"] in ("log", "progress", "phase") for e in events)
    times = [datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for e in events]
    assert times == sorted(times)
    prog = [e for e in events if e["type"] == "progress"]
    started = {(e["task"], e["id"]) for e in prog if e["event"] == "start"}
    done = {(e["task"], e["id"]) for e in prog if e["event"] == "done" and e["ok"]}
    assert started == done  # every task that starts ends, successfully
    debs = {i for t, i in done if t == "download" and i.endswith(".deb")}
    assert {"tool_1.0-2_amd64.deb", "libbar1_1.0-1_amd64.deb"} <= debs, debs
    assert ("compress", "layer") in done
    sizes = [e for e in prog if e["task"] == "download" and e["id"] == "tool_1.0-2_amd64.deb"
             and e["event"] == "start"]
    assert sizes[0]["total"] == os.path.getsize(next(w.repo.root.glob("pool/**/tool_1.0-2_*.deb")))
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert any(m.startswith("patched 1 platform") for m in logs), logs
    # A failure: the last line is an error event with the code and the message.
    p = copa("patch", "-i", f"oci:{w.layout}:nope", "--progress", "json")
    assert p.returncode == 1
    last = json.loads(p.stderr.splitlines()[-1])
    assert last["type"] == "error" and "nope" in last["message"] and last["code"], last


# The phases of a cold patch of one platform, in the order they run (a new cache records
# no compressed layer, so there is no layer-digest pass to find one).
PLATFORM_PHASES = ["load-image", "fetch-layers", "read-layers", "probe", "repositories", "plan",
                   "fetch-apply", "finish", "compress", "config", "cleanup"]


def test_progress_json_phases(copa, patched_world, tmp_path):
    """--progress json shows where the time goes: every phase of the run
    (planning included) starts and ends once, in the pipeline's order, each
    inside the run and after the one before it, times in seconds since the
    start; -v prints the same phases as a table."""
    w = patched_world
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "--progress", "json", check=True)
    events = [json.loads(line) for line in p.stderr.splitlines()]
    ph = [e for e in events if e["type"] == "phase"]
    starts = [e for e in ph if e["event"] == "start"]
    ends = {(e["phase"], e["id"]): e for e in ph if e["event"] == "end"}
    assert len(ends) == len(starts) == len(ph) // 2 and len(ph) % 2 == 0
    names = [e["phase"] for e in starts]
    assert names[0] == "run" and ph[-1]["phase"] == "run" and ph[-1]["event"] == "end"
    assert [n for n in names if n in PLATFORM_PHASES] == PLATFORM_PHASES, names
    assert names.index("open-image") < names.index("load-image")
    assert names.index("config") < names.index("write") < names.index("outputs")
    assert {e["id"] for e in starts if e["phase"] in PLATFORM_PHASES} == {"linux/amd64"}
    run = ends[("run", "")]
    prev_to = 0.0
    for s in starts:
        e = ends[(s["phase"], s["id"])]
        assert e["ok"] is True and e["from"] == s["at"], (s, e)
        assert 0 <= e["from"] <= e["to"] and abs(e["seconds"] - (e["to"] - e["from"])) < 0.0015
        assert run["from"] <= e["from"] and e["to"] <= run["to"]
        if s["phase"] != "run":
            assert e["from"] >= prev_to, (s, prev_to)  # one after the other, no overlap
            prev_to = e["to"]
    # Each event is in the stream where it happened: a package download inside fetch-apply,
    # the repository indexes inside repositories.
    def where(cond):
        return [i for i, e in enumerate(events) if cond(e)]

    def span(name):
        return (where(lambda e: e.get("phase") == name and e["event"] == "start")[0],
                where(lambda e: e.get("phase") == name and e["event"] == "end")[0])

    debs = where(lambda e: e.get("task") == "download" and e["id"].endswith(".deb"))
    idx = where(lambda e: e.get("task") == "download" and "Packages" in e["id"])
    assert debs and idx, events
    assert span("fetch-apply")[0] < min(debs) and max(debs) < span("fetch-apply")[1]
    assert span("repositories")[0] < min(idx) and max(idx) < span("repositories")[1]

    # -v: the table at the end, the same phases with from <= to.
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-t", "v", "--progress", "plain", "-v",
             check=True)
    lines = p.stderr.splitlines()
    head = next(i for i, l in enumerate(lines) if l.split() == ["phase", "subject", "from", "to", "seconds"])
    rows = [l.split() for l in lines[head + 1:]]
    assert [r[0] for r in rows][0] == "run" and "plan" in [r[0] for r in rows]
    for r in rows:
        frm, to, secs = map(float, r[-3:])
        assert frm <= to and abs(secs - (to - frm)) < 0.0015, r
    # The second run reused the layer the first one built: no fetch-apply, no compress.
    assert not {"fetch-apply", "compress"} & {r[0] for r in rows}
    # Without -v, no table.
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-t", "nov", "--progress", "plain", check=True)
    assert "seconds" not in p.stderr
    # The layer rebuilt (its reuse record gone) while a compressed layer is recorded: the
    # layer-digest pass finds it, and nothing is compressed.
    cache = tmp_path / "copa-cache"
    shutil.rmtree(cache / "patch-layer")
    p = copa("patch", "-i", f"oci:{w.layout}:1.0", "-t", "again", "--progress", "json",
             check=True)
    names = [e["phase"] for e in map(json.loads, p.stderr.splitlines())
             if e["type"] == "phase" and e["event"] == "end" and e["ok"]]
    assert names.index("fetch-apply") < names.index("layer-digest") < names.index("config")
    assert "compress" not in names
    assert "the same content was compressed before" in p.stderr
    assert image_manifest(w.layout, "again")[0]["layers"] == image_manifest(w.layout, "1.0-patched")[0]["layers"]


def test_layer_digest_does_not_depend_on_jobs(copa, world, tmp_path):
    """The same inputs give the same layer whatever --jobs says: gzip members
    cut at fixed offsets, zstd's multithreaded format whatever the worker
    count. The update carries 5 MiB of incompressible data, so the layer is
    several compression chunks and the threads really share the work."""
    import random
    big = random.Random(13).randbytes(5 << 20)
    base = base_packages(world)
    updates = update_packages(world)
    updates.append(world.pkg("bigdata", "1.0-2", {"/usr/share/bigdata/blob": big}))
    base.append(world.pkg("bigdata", "1.0-1", {"/usr/share/bigdata/blob": b"small"}))
    world.publish(*updates)
    layout = world.image(world.rootfs(base))
    for comp in ("gzip", "zstd"):
        got = {}
        for jobs in ("1", "2", "5"):
            # A cache per run: a shared one would hand the second run the first one's layer.
            cache = tmp_path / f"cache-{comp}-{jobs}"
            tag = f"{comp}-{jobs}"
            copa("patch", "--cache-dir", cache, "-i", f"oci:{layout}:1.0", "-t", tag,
                 "--compression", comp, "--jobs", jobs, "--progress", "quiet",
                 check=True, cache_dir=False)
            man = image_manifest(layout, tag)[0]
            got[jobs] = man["layers"][-1]["digest"]
            assert man["layers"][-1]["size"] > (5 << 20)
        assert len(set(got.values())) == 1, (comp, got)
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--jobs", "0")
    assert p.returncode == 2 and "invalid --jobs '0'" in p.stderr


def test_apt_pins_in_the_image_are_followed(copa, world, tmp_path):
    """The image pins tool to 1.0-1 in etc/apt/preferences.d: update-all leaves it
    there as apt would and updates the rest; a report asking for tool's fix gets
    it reported as skipped, naming the pin, and fails without --ignore-errors."""
    def pin_tool(root):
        modified_conffile(root)
        d = root / "etc/apt/preferences.d"
        d.mkdir(parents=True, exist_ok=True)
        (d / "hold-tool").write_text("Package: tool\nPin: version 1.0-1\nPin-Priority: 1001\n")

    base = base_packages(world)
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base, modify=pin_tool))
    summary = tmp_path / "s.json"
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--summary", summary, check=True)
    assert "apt preferences in the image: 1 pin" in p.stderr
    v = dpkg_versions(unpack(layout, "1.0-patched", tmp_path / "u"))
    assert v["tool"] == "1.0-1" and v["libfoo1"] == "1.0-2" and v["pinned"] == "1.0-2"
    report = native_report(tmp_path / "r.json", [("tool", "1.0-1", "1.0-2", "CVE-2099-0009")])
    p = copa("patch", "-i", f"oci:{layout}:1.0", "-r", report, "-s", "native", "-t", "r")
    assert p.returncode == 1
    assert "preferences.d/hold-tool:1" in p.stderr, p.stderr
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", report, "-s", "native", "-t", "r",
         "--ignore-errors", "--summary", summary, check=True)
    pkgs = {x["name"]: x for x in json.loads(summary.read_text())["platforms"][0]["packages"]}
    assert pkgs["tool"]["outcome"] == "skipped", pkgs["tool"]
    assert "hold-tool:1" in pkgs["tool"]["reason"]


def _flip_last_byte(path):
    data = path.read_bytes()
    return data[-8:], data[-8:-1] + bytes([data[-1] ^ 0xff])


def test_repatch_replaces_the_layer(copa, world, tmp_path):
    base = base_packages(world)
    updates = update_packages(world)
    world.publish(*updates)
    layout = world.image(world.rootfs(base, held=["pinned"]))
    orig = layer_names(layout, "1.0")
    copa("patch", "-i", f"oci:{layout}:1.0", "-t", "p1", check=True)
    first = layer_names(layout, "p1")
    # A newer fix appears; patch the patched image.
    world.publish(world.pkg("tool", "1.0-3", {"/usr/bin/tool": {"data": "tool 1.0-3\n", "mode": 0o755},
                                              "/usr/share/tool/keep.txt": "1.0-3\n"}))
    copa("patch", "-i", f"oci:{layout}:p1", "-t", "p2", check=True)
    second = layer_names(layout, "p2")
    assert second[:-1] == orig and len(second) == len(orig) + 1  # no stacking
    assert second[-1] != first[-1]
    rootfs = unpack(layout, "p2", tmp_path / "u")
    v = dpkg_versions(rootfs)
    assert v["tool"] == "1.0-3"
    assert v["libfoo1"] == "1.0-2" and v["libbar1"] == "1.0-1"  # the first patch is kept
    assert not (rootfs / "usr/share/tool/old.txt").exists()
    manifest, _ = image_manifest(layout, "p2")
    cfg = json.loads((layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_text())
    comments = [h.get("comment") for h in cfg["history"] if not h.get("empty_layer")]
    assert comments.count("copa-patch-layer") == 1
    assert len(cfg["rootfs"]["diff_ids"]) == len(second)
    # Re-patching with nothing new is "nothing to patch".
    p = copa("patch", "-i", f"oci:{layout}:p2", "-t", "p3")
    assert p.returncode == 0 and "nothing to patch" in p.stderr


def test_distroless_statusd(copa, world, tmp_path):
    """No dpkg binary, no sources, status.d entries named unlike their packages."""
    base = base_packages(world)[:1] + base_packages(world)[2:3]  # libfoo1, tool
    world.publish(*update_packages(world))
    root = tmp_path / "distroless"
    for d in ("usr/lib", "etc", "var/lib/dpkg/status.d", "usr/share/keyrings"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.symlink("usr/lib", root / "lib")
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    for i, deb in enumerate(base):
        fields = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True,
                                text=True, check=True).stdout
        name = ["bGliZm9vMQ", "dG9vbA"][i]  # base64-ish names, as some builders write
        (root / "var/lib/dpkg/status.d" / name).write_text(fields)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    layout = world.image(root)
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--repo-replace", "--repo",
             f"deb [signed-by={world.key.public}] {world.url} stable main", check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    sd = rootfs / "var/lib/dpkg/status.d"
    assert not (rootfs / "var/lib/dpkg/status").exists()
    assert "Version: 1.0-2" in (sd / "bGliZm9vMQ").read_text()
    assert "Version: 1.0-2" in (sd / "dG9vbA").read_text()
    assert any("Package: libbar1" in f.read_text() for f in sd.iterdir()
               if not f.name.endswith(".md5sums"))
    assert (rootfs / "lib/x86_64-linux-gnu/libfoo.so.1").read_text() == "foo 1.0-2\n"


def test_distroless_statusd_beside_empty_status(copa, world, tmp_path):
    """An empty status file beside status.d/: planner, applier and read-back all use status.d/
    (the applier used to read the empty status and leave status.d/ at the old versions)."""
    base = base_packages(world)[:1] + base_packages(world)[2:3]  # libfoo1, tool
    world.publish(*update_packages(world))
    root = tmp_path / "distroless"
    for d in ("usr/lib", "etc", "var/lib/dpkg/status.d", "usr/share/keyrings"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.symlink("usr/lib", root / "lib")
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    (root / "var/lib/dpkg/status").write_text("")
    for i, deb in enumerate(base):
        fields = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True,
                                text=True, check=True).stdout
        (root / "var/lib/dpkg/status.d" / ["libfoo1", "tool"][i]).write_text(fields)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    layout = world.image(root)
    copa("patch", "-i", f"oci:{layout}:1.0", "--repo-replace", "--repo",
         f"deb [signed-by={world.key.public}] {world.url} stable main", check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    sd = rootfs / "var/lib/dpkg/status.d"
    assert (rootfs / "var/lib/dpkg/status").read_text() == ""
    assert "Version: 1.0-2" in (sd / "libfoo1").read_text()
    assert "Version: 1.0-2" in (sd / "tool").read_text()
    assert (rootfs / "lib/x86_64-linux-gnu/libfoo.so.1").read_text() == "foo 1.0-2\n"


def test_multiplatform_one_platform_patched(copa, world, tmp_path):
    base = base_packages(world)
    world.publish(*update_packages(world))
    root = world.rootfs(base)
    other = it.tar_layer([("etc/os-release", "ID=debian\n"), ("hello", "arm64 image\n")])
    layout = tmp_path / "multi"
    idesc = it.write_multiarch(layout, [("amd64", None, [tar_dir(root)]),
                                        ("arm64", "v8", [other])], tag="1.0")
    src_index = json.loads((layout / "blobs/sha256" / idesc["digest"].split(":")[1]).read_text())
    arm = next(m for m in src_index["manifests"] if m["platform"]["architecture"] == "arm64")
    copa("patch", "-i", f"oci:{layout}:1.0", "--platform", "linux/amd64", check=True)
    out = json.loads((layout / "index.json").read_text())
    ref = next(m for m in out["manifests"]
               if m["annotations"]["org.opencontainers.image.ref.name"] == "1.0-patched")
    new_index = json.loads((layout / "blobs/sha256" / ref["digest"].split(":")[1]).read_text())
    assert len(new_index["manifests"]) == 2
    new_arm = next(m for m in new_index["manifests"] if m["platform"]["architecture"] == "arm64")
    assert new_arm == arm  # untouched platform: the same descriptor, field for field
    new_amd = next(m for m in new_index["manifests"] if m["platform"]["architecture"] == "amd64")
    old_amd = next(m for m in src_index["manifests"] if m["platform"]["architecture"] == "amd64")
    assert new_amd["digest"] != old_amd["digest"]
    it.skopeo("inspect", "--raw", f"oci:{layout}:1.0-patched")


def test_ignore_errors_keeps_a_platform_that_cannot_be_patched(copa, world, tmp_path):
    """--ignore-errors on a multi-platform image: the platform copa cannot patch (a damaged Berkeley
    DB rpm database) is kept as it was, the other is patched, and the summary says which failed."""
    base = base_packages(world)
    world.publish(*update_packages(world))
    root = world.rootfs(base)
    alpine = it.tar_layer([("etc/os-release", "ID=rocky\nVERSION_ID=9.3\n"),
                           ("var/lib/rpm/Packages", "not read")])
    layout = tmp_path / "multi"
    idesc = it.write_multiarch(layout, [("amd64", None, [tar_dir(root)]),
                                        ("arm64", "v8", [alpine])], tag="1.0")
    src_index = json.loads((layout / "blobs/sha256" / idesc["digest"].split(":")[1]).read_text())
    arm = next(m for m in src_index["manifests"] if m["platform"]["architecture"] == "arm64")
    p = copa("patch", "-i", f"oci:{layout}:1.0", "-t", "strict")
    assert p.returncode == 1 and "Berkeley DB" in p.stderr
    summary = tmp_path / "s.json"
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--ignore-errors", "--summary", summary)
    assert p.returncode == 0, p.stderr
    assert "linux/arm64 cannot be patched and is kept as it was" in p.stderr
    out = json.loads((layout / "index.json").read_text())
    ref = next(m for m in out["manifests"]
               if m["annotations"]["org.opencontainers.image.ref.name"] == "1.0-patched")
    new_index = json.loads((layout / "blobs/sha256" / ref["digest"].split(":")[1]).read_text())
    assert next(m for m in new_index["manifests"] if m["platform"]["architecture"] == "arm64") == arm
    new_amd = next(m for m in new_index["manifests"] if m["platform"]["architecture"] == "amd64")
    old_amd = next(m for m in src_index["manifests"] if m["platform"]["architecture"] == "amd64")
    assert new_amd["digest"] != old_amd["digest"]
    plats = {x["platform"]: x for x in json.loads(summary.read_text())["platforms"]}
    assert plats["linux/amd64"]["status"] == "patched" and plats["linux/amd64"]["error"] is None
    assert plats["linux/arm64"]["status"] == "error"
    assert "Berkeley DB" in plats["linux/arm64"]["error"]
    assert plats["linux/arm64"]["output"]["digest"] == arm["digest"]


def test_push_to_registry(copa, world, tmp_path, registry):
    base = base_packages(world)
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base), media="docker")
    src = f"{registry.host}/team/app:1.0"
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", src], check=True, capture_output=True)
    # Without --push a registry destination needs a loader; with none it says what to do.
    p = copa("patch", "-i", src, "--loader", "none")
    assert p.returncode == 2 and "--push" in p.stderr
    copa("patch", "-i", src, "--push", check=True)
    raw = it.skopeo_inspect_raw(f"docker://{registry.host}/team/app:1.0-patched")
    assert raw["mediaType"] == it.DOCKER_MANIFEST  # Docker stays Docker
    it.skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/team/app:1.0-patched",
              f"oci:{tmp_path}/pulled:x")
    v = dpkg_versions(unpack(tmp_path / "pulled", "x", tmp_path / "u"))
    assert v["tool"] == "1.0-2"


def _copy_bin():
    copa_bin = os.environ.get("COPA_BIN", str(pathlib.Path(__file__).resolve().parents[2] / "build/copa"))
    return str(pathlib.Path(copa_bin).parent / "tests/helpers/copa-copy")


def test_registry_destination_loads_into_podman(copa, world, tmp_path, registry):
    """Without --push, a registry destination goes into the local podman (no daemon here)."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (scripts/install-deps.sh installs it)")
    base = base_packages(world)
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base))
    src = f"{registry.host}/team/app:1.0"
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", src], check=True, capture_output=True)
    graph = tmp_path / "podman-root"
    runroot = pathlib.Path("/tmp") / f"copa-pm-{os.getpid()}"
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{graph}"\nrunroot = "{runroot}"\n')
    env = {"CONTAINERS_STORAGE_CONF": str(conf)}
    try:
        p = copa("patch", "-i", src, "--loader", "podman", env=env, check=True)
        assert "loaded into podman" in p.stderr
        images = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True, env=dict(os.environ, **env),
                                check=True).stdout
        assert f"{registry.host}/team/app:1.0-patched" in images
        # The registry itself was not written.
        p = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                            f"docker://{src}-patched"], capture_output=True, text=True)
        assert p.returncode != 0
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_hostile_status_alternatives_refused(copa, world, tmp_path):
    """The image's own var/lib/dpkg/status carries one Depends: with 50,000 alternatives
    (libsolv resolves them recursively and overflowed the stack: copa crashed). copa
    refuses it with an error naming the file, the package and the field, and writes
    nothing."""
    def hostile(root):
        alts = " | ".join(f"x{k}" for k in range(50000))
        with open(root / "var/lib/dpkg/status", "a") as f:
            f.write(f"\nPackage: evil\nStatus: install ok installed\nArchitecture: amd64\n"
                    f"Version: 1\nDepends: {alts}\nDescription: x\n")

    base = base_packages(world)
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base, modify=hostile))
    p = copa("patch", "-i", f"oci:{layout}:1.0", timeout=600)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("copa: error: "), last
    assert "'var/lib/dpkg/status'" in last and "package 'evil'" in last, last
    assert "'Depends'" in last and "alternatives" in last, last
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1  # nothing written
