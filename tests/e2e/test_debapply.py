"""copa's Debian applier against real dpkg.

Each test builds packages with dpkg-deb, installs a base with the real dpkg
into a small merged-/usr root, then applies the update twice: with real
`dpkg --root ... --force-confold -i` (the reference) and with copa-debapply
(copa's applier, its layer materialised on a copy of the base). The trees
must be identical, database files included, except for what tree_diff
ignores on purpose (dpkg's lock files, log, status-old: see
docs/ARCHITECTURE.md).
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from fx_debpkg import (build_deb, build_raw_deb, copa_debapply, copy_tree, make_rootfs,
                       real_dpkg_install, tree_diff)

pytestmark = pytest.mark.usefixtures("dpkg_tools")


def both(tmp_path, base, debs, name="x", extra_dpkg=()):
    """Applies debs to copies of base with dpkg and with copa; returns (dpkg tree,
    copa tree, copa results, layer list)."""
    ref = tmp_path / f"{name}-dpkg"
    copy_tree(base, ref)
    real_dpkg_install(ref, debs, extra=extra_dpkg)
    out = tmp_path / f"{name}-copa"
    layer = tmp_path / f"{name}-layer.jsonl"
    _, results = copa_debapply(base, out, debs, "--layer-list", str(layer))
    entries = [json.loads(l) for l in layer.read_text().splitlines()]
    return ref, out, results, entries


def assert_same(ref, out, allowed=()):
    diff = [d for d in tree_diff(ref, out) if not any(d.startswith(a) for a in allowed)]
    assert diff == [], "copa and dpkg disagree:\n" + "\n".join(diff)


# ---- fixtures: a base with a few packages ----

def foo_v1():
    return {
        "usr/bin/foo": {"data": "#!/bin/sh\necho foo 1\n", "mode": 0o755},
        "usr/bin/foo-hard": {"type": "hardlink", "target": "usr/bin/foo"},
        "usr/bin/foo-link": {"type": "symlink", "target": "foo"},
        "usr/bin/suid": {"data": "suid 1\n", "mode": 0o4755},
        "usr/share/foo/keep.txt": "same in both\n",
        "usr/share/foo/old.txt": "only in v1\n",
        "usr/share/foo/emptydir": None,
        "usr/share/foo/gone/sub/file": "dir tree that disappears\n",
        "usr/share/doc/foo/copyright": "copyright\n",
        "etc/foo.conf": "conf=1\n",
        "etc/foo-untouched.conf": "untouched=1\n",
        "etc/foo-deleted.conf": "deleted=1\n",
        "etc/foo-same.conf": "same=1\n",
        "etc/foo-obsolete.conf": "obsolete=1\n",
    }


V1_CONFFILES = ["/etc/foo.conf", "/etc/foo-untouched.conf", "/etc/foo-deleted.conf",
                "/etc/foo-same.conf", "/etc/foo-obsolete.conf"]


def foo_v2():
    return {
        "usr/bin/foo": {"data": "#!/bin/sh\necho foo 2\n", "mode": 0o755},
        "usr/bin/foo-hard": {"type": "hardlink", "target": "usr/bin/foo"},
        "usr/bin/foo-link": {"type": "symlink", "target": "./foo"},
        "usr/bin/suid": {"data": "suid 2\n", "mode": 0o4755},
        "usr/share/foo/keep.txt": "same in both\n",
        "usr/share/foo/new.txt": "only in v2\n",
        "usr/share/doc/foo/copyright": "copyright\n",
        "usr/share/doc/foo/changelog": "v2\n",
        "etc/foo.conf": "conf=2\n",
        "etc/foo-untouched.conf": "untouched=2\n",
        "etc/foo-deleted.conf": "deleted=2\n",
        "etc/foo-same.conf": "same=1\n",
        "etc/foo-new.conf": "new=2\n",
    }


V2_CONFFILES = ["/etc/foo.conf", "/etc/foo-untouched.conf", "/etc/foo-deleted.conf",
                "/etc/foo-same.conf", "/etc/foo-new.conf"]


@pytest.fixture
def base(tmp_path):
    debs = tmp_path / "debs"
    debs.mkdir()
    pkgs = [
        build_deb(debs, "aaa", "1.0", {"usr/share/aaa/file": "aaa\n",
                                       "usr/share/foo/from-aaa": "aaa owns this\n"}),
        build_deb(debs, "foo", "1.0-1", foo_v1(), conffiles=V1_CONFFILES,
                  fields={"Depends": "libc6(>=2.34),  aaa |zzz", "Section": "utils",
                          "Priority": "optional", "Homepage": "https://example.org/foo",
                          "X-Custom": "one"}),
        build_deb(debs, "zzz", "3", {"usr/share/zzz/file": "zzz\n"}, arch="all",
                  fields={"Multi-Arch": "foreign"}),
    ]
    root = make_rootfs(tmp_path / "base", pkgs)
    # The image changes some conffiles after installation.
    (root / "etc/foo.conf").write_text("conf=1\nuser edit\n")
    (root / "etc/foo-deleted.conf").unlink()
    (root / "etc/foo-same.conf").write_text("same=1\nuser edit, package unchanged\n")
    (root / "etc/foo-new.conf").write_text("created by the admin\n")
    return root


def test_upgrade_matches_dpkg(tmp_path, base):
    v2 = build_deb(tmp_path, "foo", "2.0-1", foo_v2(), conffiles=V2_CONFFILES,
                   fields={"Depends": "libc6 (>= 2.36), aaa", "Section": "utils",
                           "Priority": "optional", "X-Custom": "two",
                           "Homepage": "https://example.org/foo"})
    ref, out, results, entries = both(tmp_path, base, [v2])
    assert_same(ref, out)
    assert results[0]["name"] == "foo" and results[0]["old_version"] == "1.0-1"
    status = (out / "var/lib/dpkg/status").read_text()
    assert "Package: foo\nStatus: install ok installed\n" in status
    assert "Version: 2.0-1" in status and "Depends: libc6 (>= 2.36), aaa\n" in status
    # The user's conffile is kept, the package's version beside it.
    assert (out / "etc/foo.conf").read_text() == "conf=1\nuser edit\n"
    assert (out / "etc/foo.conf.dpkg-dist").read_text() == "conf=2\n"
    assert (out / "etc/foo-untouched.conf").read_text() == "untouched=2\n"
    assert not (out / "etc/foo-deleted.conf").exists()
    assert (out / "etc/foo-deleted.conf.dpkg-dist").read_text() == "deleted=2\n"
    assert not (out / "etc/foo-same.conf.dpkg-dist").exists()
    assert (out / "etc/foo-new.conf").read_text() == "created by the admin\n"
    assert (out / "etc/foo-new.conf.dpkg-dist").read_text() == "new=2\n"
    assert (out / "etc/foo-obsolete.conf").exists()
    assert " /etc/foo-obsolete.conf " in status and " obsolete\n" in status
    # Obsolete files and the directories only foo owned are whited out.
    assert not (out / "usr/share/foo/old.txt").exists()
    assert not (out / "usr/share/foo/emptydir").exists()
    assert not (out / "usr/share/foo/gone").exists()
    assert (out / "usr/share/foo/from-aaa").exists()
    whiteouts = {e["path"] for e in entries if e.get("mark") == "whiteout"}
    assert "usr/share/foo/old.txt" in whiteouts and "usr/share/foo/gone" in whiteouts
    # A whited-out directory carries no whiteouts below it.
    assert not any(w.startswith("usr/share/foo/gone/") for w in whiteouts)
    suid = next(e for e in entries if e["path"] == "usr/bin/suid")
    assert suid["mode"] == 0o4755


def test_new_package_sorted_into_status(tmp_path, base):
    new = build_deb(tmp_path, "mmm", "0.1", {"usr/share/mmm/file": "mmm\n"},
                    fields={"Essential": "no", "Multi-Arch": "no", "Priority": "OPTIONAL"})
    ref, out, results, _ = both(tmp_path, base, [new])
    assert_same(ref, out)
    assert results[0]["old_version"] is None
    names = [l.split(": ")[1] for l in (out / "var/lib/dpkg/status").read_text().splitlines()
             if l.startswith("Package: ")]
    assert names == ["aaa", "foo", "mmm", "zzz"]


def test_merged_usr_paths_land_on_usr(tmp_path, base):
    files = {"lib/x86_64-linux-gnu/libbar.so.1": "lib v1\n", "bin/bar": "bar v1\n",
             "sbin/bard": "bard v1\n", "usr/share/doc/bar/copyright": "c\n"}
    v1 = build_deb(tmp_path, "bar", "1", files)
    real_dpkg_install(base, [v1])
    files2 = {"lib/x86_64-linux-gnu/libbar.so.1": "lib v2\n", "bin/bar": "bar v2\n",
              "usr/share/doc/bar/copyright": "c\n"}
    v2 = build_deb(tmp_path, "bar", "2", files2)
    ref, out, _, entries = both(tmp_path, base, [v2])
    assert_same(ref, out)
    paths = {e["path"] for e in entries}
    assert not any(p == "lib" or p.startswith(("lib/", "bin/", "sbin/")) for p in paths), paths
    assert "usr/lib/x86_64-linux-gnu/libbar.so.1" in paths and "usr/bin/bar" in paths
    assert "usr/sbin/bard" in {e["path"] for e in entries if e.get("mark") == "whiteout"}
    assert (out / "lib").is_symlink() and os.readlink(out / "lib") == "usr/lib"
    assert (out / "usr/lib/x86_64-linux-gnu/libbar.so.1").read_text() == "lib v2\n"
    assert "/lib/x86_64-linux-gnu/libbar.so.1\n" in (out / "var/lib/dpkg/info/bar.list").read_text()


def test_package_moving_files_between_aliases_keeps_them(tmp_path, base):
    """v1 ships /lib/..., v2 the same file as /usr/lib/...: on merged /usr it is one
    file, which must not be whited out as obsolete."""
    v1 = build_deb(tmp_path, "mover", "1", {"lib/mover/data": "v1\n"})
    real_dpkg_install(base, [v1])
    v2 = build_deb(tmp_path, "mover", "2", {"usr/lib/mover/data": "v2\n"})
    ref, out, _, entries = both(tmp_path, base, [v2])
    assert_same(ref, out)
    assert (out / "usr/lib/mover/data").read_text() == "v2\n"
    assert not any(e.get("mark") == "whiteout" and "mover" in e["path"] for e in entries)


def test_diversion_honoured(tmp_path, base):
    tool1 = build_deb(tmp_path, "tool", "1", {"usr/bin/tool": "tool 1\n"})
    div = build_deb(tmp_path, "diverter", "1", {"usr/share/diverter/x": "x\n"})
    real_dpkg_install(base, [tool1, div])
    subprocess.run(["dpkg-divert", f"--root={base}", f"--admindir={base}/var/lib/dpkg",
                    "--package", "diverter", "--rename", "--divert", "/usr/bin/tool.distrib",
                    "--add", "/usr/bin/tool"], check=True, capture_output=True)
    (base / "usr/bin/tool").write_text("the diverter's tool\n")
    tool2 = build_deb(tmp_path, "tool", "2", {"usr/bin/tool": "tool 2\n"})
    ref, out, _, entries = both(tmp_path, base, [tool2])
    assert_same(ref, out)
    assert (out / "usr/bin/tool.distrib").read_text() == "tool 2\n"
    assert (out / "usr/bin/tool").read_text() == "the diverter's tool\n"
    assert "usr/bin/tool" not in {e["path"] for e in entries}


def test_statoverride_and_owners(tmp_path, base):
    # dpkg --root resolves override names on the host, copa in the image: use a
    # group both agree on.
    import grp
    gid = grp.getgrnam("staff").gr_gid
    (base / "etc/group").write_text(f"root:x:0:\nstaff:x:{gid}:\n")
    (base / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    h1 = build_deb(tmp_path, "helper", "1", {"usr/lib/helper/launch": {"data": "1\n",
                                                                       "mode": 0o755}})
    real_dpkg_install(base, [h1])
    (base / "var/lib/dpkg/statoverride").write_text(
        "root staff 4754 /usr/lib/helper/launch\n")
    os.chown(base / "usr/lib/helper/launch", 0, gid)
    os.chmod(base / "usr/lib/helper/launch", 0o4754)
    h2 = build_deb(tmp_path, "helper", "2", {
        "usr/lib/helper/launch": {"data": "2\n", "mode": 0o755},
        "usr/share/helper/owned": {"data": "owned\n", "uid": 4242, "gid": 4343}})
    ref, out, _, entries = both(tmp_path, base, [h2])
    assert_same(ref, out)
    launch = next(e for e in entries if e["path"] == "usr/lib/helper/launch")
    assert (launch["mode"], launch["uid"], launch["gid"]) == (0o4754, 0, gid)
    owned = next(e for e in entries if e["path"] == "usr/share/helper/owned")
    assert (owned["uid"], owned["gid"]) == (4242, 4343)


def test_takeover_removes_file_from_other_list(tmp_path, base):
    old = build_deb(tmp_path, "oldpkg", "1", {"usr/share/shared/file": "old\n",
                                              "usr/share/oldpkg/own": "own\n"})
    real_dpkg_install(base, [old])
    new = build_deb(tmp_path, "newpkg", "1", {"usr/share/shared/file": "new\n"},
                    fields={"Replaces": "oldpkg (<< 2)"})
    ref, out, results, _ = both(tmp_path, base, [new])
    assert_same(ref, out)
    assert "/usr/share/shared/file" not in (out / "var/lib/dpkg/info/oldpkg.list").read_text()


def test_scripts_placed_and_reported(tmp_path, base):
    s1 = build_deb(tmp_path, "scripted", "1", {"usr/share/scripted/f": "1\n"},
                   scripts={"prerm": "#!/bin/sh\nexit 0\n", "postrm": "#!/bin/sh\nexit 0\n",
                            "postinst": "#!/bin/sh\nexit 0\n"})
    real_dpkg_install(base, [s1])
    s2 = build_deb(tmp_path, "scripted", "2", {"usr/share/scripted/f": "2\n"},
                   scripts={"preinst": "#!/bin/sh\nexit 0\n", "postinst": "#!/bin/sh\nexit 0\n",
                            "triggers": "activate-noawait ldconfig\ninterest-noawait /usr/x\n"
                                        "interest scripted-trigger\n"},
                   extra_control={"shlibs": b"libscripted 1 scripted (>= 2)\n",
                                  "templates": b"Template: scripted/q\nType: note\n"})
    ref, out, results, _ = both(tmp_path, base, [s2])
    assert_same(ref, out)
    assert (out / "var/lib/dpkg/triggers/File").read_text() == "/usr/x scripted/noawait\n"
    assert (out / "var/lib/dpkg/triggers/scripted-trigger").read_text() == "scripted\n"
    skipped = results[0]["skipped"]
    for want in ("prerm (of scripted 1)", "postrm (of scripted 1)", "preinst", "postinst",
                 "trigger ldconfig"):
        assert want in skipped, skipped
    info = out / "var/lib/dpkg/info"
    assert (info / "scripted.preinst").exists() and not (info / "scripted.prerm").exists()
    assert (info / "scripted.shlibs").read_bytes() == b"libscripted 1 scripted (>= 2)\n"


def test_file_trigger_reported(tmp_path, base):
    (base / "var/lib/dpkg/triggers/File").write_text("/usr/share/watched zzz/noawait\n")
    w = build_deb(tmp_path, "watch", "1", {"usr/share/watched/x": "x\n"})
    _, results = copa_debapply(base, tmp_path / "out", [w])
    assert "trigger /usr/share/watched (zzz)" in results[0]["skipped"]


def test_repatch_over_previous_patch(tmp_path, base):
    """The second patch applies over the first one's result (a view that
    already holds a patch layer)."""
    v2 = build_deb(tmp_path, "foo", "2.0-1", foo_v2(), conffiles=V2_CONFFILES)
    v3files = foo_v2()
    v3files["usr/bin/foo"] = {"data": "#!/bin/sh\necho foo 3\n", "mode": 0o755}
    del v3files["usr/share/foo/new.txt"]
    v3 = build_deb(tmp_path, "foo", "3.0-1", v3files, conffiles=V2_CONFFILES)
    ref1, out1, _, _ = both(tmp_path, base, [v2], name="first")
    ref2 = tmp_path / "second-dpkg"
    copy_tree(ref1, ref2)
    real_dpkg_install(ref2, [v3])
    out2 = tmp_path / "second-copa"
    copa_debapply(out1, out2, [v3])
    assert_same(ref2, out2)


def test_several_packages_in_one_run(tmp_path, base):
    v2 = build_deb(tmp_path, "foo", "2.0-1", foo_v2(), conffiles=V2_CONFFILES)
    aaa2 = build_deb(tmp_path, "aaa", "2.0", {"usr/share/aaa/file": "aaa 2\n",
                                              "usr/share/foo/from-aaa": "aaa owns this\n"})
    new = build_deb(tmp_path, "bbb", "1", {"usr/share/bbb/file": "b\n"})
    ref, out, results, _ = both(tmp_path, base, [aaa2, new, v2])
    assert_same(ref, out)
    assert [r["name"] for r in results] == ["aaa", "bbb", "foo"]


# ---- distroless: status.d ----

def to_distroless(root, names, with_status):
    """Turns a dpkg-installed root into the distroless layout: status.d/<file>
    per package (file names that are not package names) + <file>.md5sums."""
    dpkg = root / "var/lib/dpkg"
    sd = dpkg / "status.d"
    sd.mkdir()
    stanzas = dpkg.joinpath("status").read_text().strip("\n").split("\n\n")
    for st in stanzas:
        name = st.split("\n", 1)[0].split(": ", 1)[1]
        lines = [l for l in st.split("\n") if with_status or not l.startswith("Status:")]
        (sd / names[name]).write_text("\n".join(lines) + "\n")
        md5 = dpkg / "info" / f"{name}.md5sums"
        if md5.exists():
            shutil.copy(md5, sd / f"{names[name]}.md5sums")
    for p in dpkg.iterdir():
        if p.name != "status.d":
            shutil.rmtree(p) if p.is_dir() else p.unlink()


@pytest.mark.parametrize("with_status", [True, False])
def test_distroless_statusd_round_trip(tmp_path, base, with_status):
    names = {"aaa": "YWFh", "foo": "Zm9v", "zzz": "enp6"}  # base64 file names
    twin = tmp_path / "twin"
    copy_tree(base, twin)
    to_distroless(base, names, with_status)
    v2 = build_deb(tmp_path, "foo", "2.0-1", foo_v2(), conffiles=V2_CONFFILES,
                   fields={"Section": "utils"})
    new = build_deb(tmp_path, "nnn", "1", {"usr/share/nnn/f": "n\n"})
    before = {p.name: p.read_bytes() for p in (base / "var/lib/dpkg/status.d").iterdir()}
    out = tmp_path / "out"
    _, results = copa_debapply(base, out, [v2, new], "--distroless")
    sd = out / "var/lib/dpkg/status.d"
    assert sorted(p.name for p in sd.iterdir()) == sorted(
        list(before) + ["nnn", "nnn.md5sums"])
    # Untouched packages' files are byte for byte what they were.
    for n in ("YWFh", "enp6", "YWFh.md5sums"):
        assert (sd / n).read_bytes() == before[n]
    # The upgraded package keeps its file name; its stanza is dpkg's.
    real_dpkg_install(twin, [v2, new])
    twin_status = (twin / "var/lib/dpkg/status").read_text().strip("\n").split("\n\n")
    want = next(s for s in twin_status if s.startswith("Package: foo\n")).split("\n")
    if not with_status:
        want = [l for l in want if not l.startswith("Status:")]
    assert (sd / "Zm9v").read_text() == "\n".join(want) + "\n"
    md5 = (sd / "Zm9v.md5sums").read_text()
    assert "usr/share/foo/new.txt" in md5 and "usr/share/foo/old.txt" not in md5
    assert not (out / "var/lib/dpkg/info").exists()
    assert not (out / "var/lib/dpkg/status").exists()
    # The files on disk are those dpkg unpacked (database aside), but for one
    # documented difference: status.d lists no directories, so copa cannot know
    # which directories the old version owned and leaves emptied ones in place.
    diff = tree_diff(twin, out, ignore=("var/lib/dpkg", "var/log"))
    assert diff == ["usr/share/foo/emptydir: only in b (dir)",
                    "usr/share/foo/gone: only in b (dir)",
                    "usr/share/foo/gone/sub: only in b (dir)"], "\n".join(diff)
    assert not any((out / "usr/share/foo/gone/sub").iterdir())


# ---- hostile and malformed packages ----

CONTROL = "Package: evil\nVersion: 1\nArchitecture: all\nMaintainer: x <x@x>\nDescription: x\n"

HOSTILE = [
    ("absolute", [("./", None), ("/etc/passwd", "pwned\n")], "absolute path"),
    ("dotdot", [("./", None), ("./usr/../../etc/passwd", "pwned\n")], "'..'"),
    ("whiteout", [("./", None), ("./usr/", None), ("./usr/.wh.bin", "")], "whiteouts"),
    ("whiteout-dir", [("./", None), ("./usr/.wh..wh..opq/", None)], "whiteouts"),
    ("own-symlink", [("./", None), ("./escape", {"type": "symlink", "target": "/"}),
                     ("./escape/etc/passwd", "pwned\n")], "symlink 'escape'"),
    ("hardlink-out", [("./", None), ("./x", {"type": "hardlink", "target": "etc/shadow"})],
     "hard link"),
    ("duplicate", [("./", None), ("./a", "1"), ("./a", "2")], "twice"),
]


@pytest.mark.parametrize("case,entries,why", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_entries_refused(tmp_path, base, case, entries, why):
    deb = build_raw_deb(tmp_path / f"evil-{case}.deb", CONTROL, entries)
    out = tmp_path / "out"
    p, _ = copa_debapply(base, out, [deb], check=False)
    assert p.returncode == 1
    assert f"evil-{case}.deb" in p.stderr and why in p.stderr, p.stderr
    assert not out.exists(), "nothing may be written for a refused package"


def test_malformed_containers_refused(tmp_path, base):
    import fx_debpkg
    ctl = fx_debpkg._tar([("./", None), ("./control", CONTROL)])
    data = fx_debpkg._tar([("./", None), ("./f", "x")])
    cases = {
        "order": ([("control.tar.gz", ctl), ("debian-binary", b"2.0\n"), ("data.tar.gz", data)],
                  "first member"),
        "version": ([("debian-binary", b"3.0\n"), ("control.tar.gz", ctl),
                     ("data.tar.gz", data)], "debian-binary"),
        "compression": ([("debian-binary", b"2.0\n"), ("control.tar.xz", ctl),
                         ("data.tar.gz", data)], "compressed"),
        "nodata": ([("debian-binary", b"2.0\n"), ("control.tar.gz", ctl)], "no data.tar"),
        "nocontrol": ([("debian-binary", b"2.0\n"), ("control.tar.gz",
                                                     fx_debpkg._tar([("./", None)])),
                       ("data.tar.gz", data)], "no 'control'"),
    }
    for name, (members, why) in cases.items():
        deb = build_raw_deb(tmp_path / f"bad-{name}.deb", None, None, members=members)
        p, _ = copa_debapply(base, tmp_path / f"out-{name}", [deb], check=False)
        assert p.returncode == 1 and why in p.stderr, (name, p.stderr)
    (tmp_path / "notadeb.deb").write_bytes(b"hello")
    p, _ = copa_debapply(base, tmp_path / "out-x", [tmp_path / "notadeb.deb"], check=False)
    assert p.returncode == 1 and "not a Debian package" in p.stderr


def test_refused_package_leaves_nothing_half_written(tmp_path, base):
    """A good package before a bad one: the bad one fails before anything of it
    is written (copa-debapply stops at the first error)."""
    good = build_deb(tmp_path, "ggg", "1", {"usr/share/ggg/f": "g\n"})
    bad = build_raw_deb(tmp_path / "evil.deb", CONTROL, HOSTILE[0][1])
    p, results = copa_debapply(base, tmp_path / "out", [good, bad], check=False)
    assert p.returncode == 1 and [r["name"] for r in results] == ["ggg"]
    assert not (tmp_path / "out").exists()


def test_trigger_interests_match_dpkg(tmp_path, base):
    def watcher(name, version, triggers):
        return build_deb(tmp_path, name, version, {f"usr/share/{name}/f": version + "\n"},
                         scripts={"triggers": triggers})

    real_dpkg_install(base, [watcher("wa", "1", "interest /usr/a\ninterest t1\n"),
                             watcher("wb", "1", "interest-noawait /usr/b\ninterest-await t1\n")])
    debs = [watcher("wa", "2", "interest-noawait /usr/a2\ninterest-noawait t1\ninterest t2\n"),
            watcher("wc", "1", "# comment\ninterest /usr/c\n")]
    ref, out, _, _ = both(tmp_path, base, debs)
    assert_same(ref, out)
    assert (out / "var/lib/dpkg/triggers/File").read_text() == \
        "/usr/b wb/noawait\n/usr/a2 wa/noawait\n/usr/c wc\n"
    assert (out / "var/lib/dpkg/triggers/t1").read_text() == "wb\nwa/noawait\n"


def test_remove_on_upgrade_conffiles(tmp_path, base):
    v1 = build_deb(tmp_path, "rou", "1", {"etc/rou/clean.conf": "a\n", "etc/rou/edited.conf": "b\n",
                                          "etc/rou/keep.conf": "c\n"},
                   conffiles=["/etc/rou/clean.conf", "/etc/rou/edited.conf", "/etc/rou/keep.conf"])
    real_dpkg_install(base, [v1])
    (base / "etc/rou/edited.conf").write_text("b\nedited\n")
    v2 = build_deb(tmp_path, "rou", "2", {"etc/rou/keep.conf": "c\n"},
                   conffiles=["remove-on-upgrade /etc/rou/clean.conf",
                              "remove-on-upgrade /etc/rou/edited.conf", "/etc/rou/keep.conf"])
    ref, out, _, _ = both(tmp_path, base, [v2])
    assert_same(ref, out)
    assert not (out / "etc/rou/clean.conf").exists()
    assert (out / "etc/rou/edited.conf.dpkg-old").read_text() == "b\nedited\n"


def test_multiarch_same_info_names(tmp_path, base):
    lib = {"usr/lib/x86_64-linux-gnu/libma.so.1": "1\n", "usr/share/doc/libma1/copyright": "c\n"}
    v1 = build_deb(tmp_path, "libma1", "1", lib, fields={"Multi-Arch": "same"})
    real_dpkg_install(base, [v1])
    lib["usr/lib/x86_64-linux-gnu/libma.so.1"] = "2\n"
    v2 = build_deb(tmp_path, "libma1", "2", lib, fields={"Multi-Arch": "same"},
                   scripts={"triggers": "activate-noawait ldconfig\n"})
    ref, out, results, _ = both(tmp_path, base, [v2])
    assert_same(ref, out)
    assert (out / "var/lib/dpkg/info/libma1:amd64.list").exists()
    assert "trigger ldconfig" in results[0]["skipped"]


def test_directory_emptied_then_refilled_by_another_package(tmp_path, base):
    """One package's upgrade deletes a directory, a later one creates it again:
    the lower layers' old files must stay deleted (an opaque directory)."""
    a1 = build_deb(tmp_path, "dira", "1", {"usr/share/shared-dir/x": "x\n",
                                           "usr/share/shared-dir/y": "y\n"})
    real_dpkg_install(base, [a1])
    a2 = build_deb(tmp_path, "dira", "2", {"usr/share/dira/moved": "x\n"})
    b1 = build_deb(tmp_path, "dirb", "1", {"usr/share/shared-dir/z": "z\n"})
    ref, out, _, entries = both(tmp_path, base, [a2, b1])
    assert_same(ref, out)
    assert sorted(os.listdir(out / "usr/share/shared-dir")) == ["z"]
    assert {"path": "usr/share/shared-dir", "mark": "opaque"} in entries
