"""`copa patch` on a UBI 8 style image with a Berkeley DB rpm database, end to end.

The image's `var/lib/rpm/Packages` is written by the test with Berkeley DB's own
db5.3_load: record 1 is the real RHEL 8 `Packages` record from shared/testdata
(libuuid, byte for byte), the others are the headers Debian's rpm stored when it
installed the test packages (built by rpmbuild; the new ones signed with rpmsign,
served by createrepo_c on 127.0.0.1). After patching, only independent readers
check the result: Debian's rpm through its read-only Berkeley DB backend
(`-qa`, `-q NAME` through the Name index, `-qf PATH` through Basenames, `-V`)
and db5.3_dump / db5.3_stat."""
import shutil
import sqlite3
import subprocess

import pytest

import imagetools as it
from conftest import SHARED
from fx_debrepo import GpgKey
from fx_patch import patch_layer_tar, tar_dir, unpack
from fx_services import StaticServer
from test_patch_rpm import LSAN, NEW, OLD, build, make_repo, report, rpm, sign

REAL = SHARED / "rpm/rpmdb/rhel-8-bdb/Packages"
BDB = ["--dbpath", "/var/lib/rpm", "--define", "_db_backend bdb_ro"]
INDEXES = ["Name", "Basenames", "Group", "Requirename", "Providename", "Conflictname",
           "Obsoletename", "Triggername", "Dirnames", "Installtid", "Sigmd5", "Sha1header",
           "Filetriggername", "Transfiletriggername", "Recommendname", "Suggestname",
           "Supplementname", "Enhancename"]
TOOL_DEPS = ("copa-stay\nRequires(post): copa-hello\n"
             "Recommends: (copa-stay if copa-hello else copa-none)\n"
             "Suggests: (copa-lib or copa-none)\nSupplements: copa-hello\n"
             "Enhances: copa-stay\nConflicts: copa-none < 2\nObsoletes: copa-gone < 1\n"
             "%triggerin -p <lua> -- copa-stay, copa-hello, copa-stay\nprint(1)\n"
             "%filetriggerin -p <lua> -- /usr/share/copa-hello\nprint(2)\n"
             "%transfiletriggerin -p <lua> -- /usr/lib\nprint(3)\n")


@pytest.fixture
def copa(copa):
    def run(*args, **kw):
        kw["env"] = {**LSAN, **(kw.get("env") or {})}
        return copa(*args, **kw)
    return run


def dump(path):
    """(key, value) byte pairs of a Berkeley DB file, through db5.3_dump (hex form)."""
    out = subprocess.run(["db5.3_dump", str(path)], capture_output=True, text=True,
                         check=True).stdout
    body = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split()
    vals = [bytes.fromhex(x) for x in body]
    return list(zip(vals[0::2], vals[1::2]))


def load(path, pairs, kind):
    text = f"VERSION=3\nformat=bytevalue\ntype={kind}\nHEADER=END\n"
    text += "".join(f" {k.hex()}\n {v.hex()}\n" for k, v in pairs) + "DATA=END\n"
    subprocess.run(["db5.3_load", str(path)], input=text, text=True, check=True)


def u32(b):
    return int.from_bytes(b, "little")


def bdb_q(root, *args, check=True):
    """rpm on a copy of root's database (never on the unpacked tree itself)."""
    return rpm("--root", root, *BDB, *args, check=check)


class World:
    pass


@pytest.fixture(scope="module")
def bdbworld(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpmbdb")
    w = World()
    w.key = GpgKey(tmp / "gnupg", algo="rsa2048")
    old = [build(tmp, tmp / "old", *p) for p in OLD if p[0] != "kernel"]
    # the new copa-tool also has a rich weak dependency, an install-time-only
    # requirement (rpm keeps it out of Requirename) and every other dependency and
    # trigger kind, so that every index has entries
    new = [build(tmp, tmp / "new", *(p if p[0] != "copa-tool" else p[:4] + (TOOL_DEPS,)))
           for p in NEW if p[0] != "kernel"]
    for r in new:
        sign(w.key, r)
    make_repo(tmp / "www/good", new, w.key)
    w.server = StaticServer(tmp / "www")

    root = tmp / "root"
    # the test packages' files, and their headers as rpm stores them (in sqlite,
    # which is then replaced by a Berkeley DB Packages)
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
        "--notriggers", *old)
    con = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
    rows = con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    blobs = [b for _, b in rows]
    (stay,) = con.execute("SELECT hnum FROM Name WHERE key = 'copa-stay'").fetchone()
    w.stay_num = 2 + [h for h, _ in rows].index(stay)
    con.close()
    shutil.rmtree(root / "var/lib/rpm")
    real = dump(REAL)
    recs = [(k, v) for k, v in real if u32(k) != 0]
    assert len(recs) == 1 and u32(recs[0][0]) == 1  # libuuid
    w.real_record = recs[0][1]
    w.blobs = {2 + i: b for i, b in enumerate(blobs)}
    pairs = [((0).to_bytes(4, "little"), (1 + len(blobs)).to_bytes(4, "little")), recs[0]]
    pairs += [((2 + i).to_bytes(4, "little"), b) for i, b in enumerate(blobs)]
    (root / "var/lib/rpm").mkdir(parents=True)
    load(root / "var/lib/rpm/Packages", pairs, "hash")
    # a stale environment region, as images built with yum often carry
    (root / "var/lib/rpm/__db.001").write_bytes(b"\0" * 4096)
    (root / "etc/os-release").write_text(
        'NAME="Red Hat Enterprise Linux"\nVERSION="8.8 (Ootpa)"\nID="rhel"\n'
        'ID_LIKE="fedora"\nVERSION_ID="8.8"\nPLATFORM_ID="platform:el8"\n')
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "copa:x:1234:1234::/home/copa:/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\ncopa:x:1234:\n")
    (root / "etc/pki/rpm-gpg").mkdir(parents=True)
    shutil.copy(w.key.armored, root / "etc/pki/rpm-gpg/RPM-GPG-KEY-copa")
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/yum.repos.d/copa.repo").write_text(
        f"[copa]\nname=copa test\nbaseurl={w.server.url}/good/\n"
        "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-copa\n")
    w.layout = tmp / "image"
    it.write_image(w.layout, [tar_dir(root)], tag="1.0")
    # the image as Debian's rpm reads it: the real package and the test packages
    got = bdb_q(root, "-qa").stdout.split()
    assert sorted(got) == sorted(["libuuid-2.32.1-42.el8_8.x86_64", "copa-hello-1.0-1.noarch",
                                  "copa-tool-0.9-1.noarch", "copa-stay-1.0-1.noarch"]), got
    yield w
    w.server.stop()
    w.key.close()


def patched_db(layout, tag, tmp):
    rootfs = unpack(layout, tag, tmp / "u")
    copy = tmp / "dbcopy"
    shutil.copytree(rootfs / "var/lib/rpm", copy / "var/lib/rpm")
    return rootfs, copy


def names_num(names, name):
    return next(n for n, x in names.items() if x == name)


def check_indexes(dbdir):
    """The Name index lists every record of Packages, under its name, element 0."""
    pk = {u32(k): v for k, v in dump(dbdir / "Packages") if u32(k) != 0}
    names = {}
    for k, v in dump(dbdir / "Name"):
        pairs = [(u32(v[i:i + 4]), u32(v[i + 4:i + 8])) for i in range(0, len(v), 8)]
        for num, tagnum in pairs:
            assert tagnum == 0
            names[num] = k.decode()
    assert sorted(names) == sorted(pk)
    return pk, names


def rpm_indexes(dbdir, tmp):
    """rpm's own index entries for the headers of dbdir/Packages: rpm 4.18 converts the
    database to sqlite, whose index tables it fills with the very code (tag2index) rpm
    4.16 fills Berkeley DB indexes with. {index: sorted (key, instance, element)}."""
    ref = tmp / "ref"
    shutil.rmtree(ref, ignore_errors=True)
    ref.mkdir()
    shutil.copy(dbdir / "Packages", ref / "Packages")
    rpm("--dbpath", ref, "--define", "_db_backend sqlite", "--rebuilddb")
    pk = {v: u32(k) for k, v in dump(dbdir / "Packages") if u32(k) != 0}
    con = sqlite3.connect(ref / "rpmdb.sqlite")
    num = {h: pk[bytes(b)] for h, b in con.execute("SELECT hnum, blob FROM Packages")}
    out = {}
    for name in INDEXES:
        rows = []
        for key, hnum, idx in con.execute(f"SELECT key, hnum, idx FROM \"{name}\""):
            if isinstance(key, int):
                key = key.to_bytes(4, "little")
            elif isinstance(key, str):
                key = key.encode()
            rows.append((bytes(key), num[hnum], idx))
        out[name] = sorted(rows)
    con.close()
    return out


def bdb_indexes(dbdir):
    out = {}
    for name in INDEXES:
        rows = []
        for k, v in dump(dbdir / name):
            rows += [(k, u32(v[i:i + 4]), u32(v[i + 4:i + 8])) for i in range(0, len(v), 8)]
        out[name] = sorted(rows)
    return out


def test_update_all_bdb(copa, bdbworld, tmp_path):
    w = bdbworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    copa("patch", "-i", f"oci:{layout}:1.0", check=True)
    rootfs, db = patched_db(layout, "1.0-patched", tmp_path)
    qa = sorted(bdb_q(db, "-qa").stdout.split())
    assert qa == sorted(["libuuid-2.32.1-42.el8_8.x86_64", "copa-hello-1.1-1.noarch",
                         "copa-lib-2.0-1.noarch", "copa-tool-0.9-2.noarch",
                         "copa-stay-1.0-1.noarch"]), qa
    # the Name index (-q) and the Basenames index (-qf) lead to the new records
    assert bdb_q(db, "-q", "copa-tool").stdout.strip() == "copa-tool-0.9-2.noarch"
    assert bdb_q(db, "-q", "libuuid").stdout.strip() == "libuuid-2.32.1-42.el8_8.x86_64"
    assert bdb_q(db, "-qf", "/usr/share/copa-hello/version").stdout.strip() == \
        "copa-hello-1.1-1.noarch"
    assert bdb_q(db, "-qf", "/usr/lib64/libuuid.so.1").stdout.strip() == \
        "libuuid-2.32.1-42.el8_8.x86_64"
    # Providename (--whatprovides), Requirename (--whatrequires), Dirnames
    assert bdb_q(db, "-q", "--whatprovides", "copa-lib").stdout.strip() == \
        "copa-lib-2.0-1.noarch"
    assert bdb_q(db, "-q", "--whatrequires", "copa-lib").stdout.strip() == \
        "copa-hello-1.1-1.noarch"
    assert bdb_q(db, "-qf", "/usr/share/copa-hello/old-only", check=False).returncode != 0
    # Sigmd5 (--pkgid), Sha1header (--hdrid), Installtid (--tid), Group (-g)
    md5, sha1, tid = bdb_q(db, "-q", "--qf", "%{SIGMD5} %{SHA1HEADER} %{INSTALLTID}",
                           "copa-tool").stdout.split()
    assert bdb_q(db, "-q", "--pkgid", md5).stdout.strip() == "copa-tool-0.9-2.noarch"
    assert bdb_q(db, "-q", "--hdrid", sha1).stdout.strip() == "copa-tool-0.9-2.noarch"
    assert "copa-tool-0.9-2.noarch" in bdb_q(db, "-q", "--tid", tid).stdout.split()
    assert bdb_q(db, "-qg", "Development/Libraries").stdout.strip() == \
        "libuuid-2.32.1-42.el8_8.x86_64"
    # rpm -V of each updated package, on the unpacked tree with the patched database
    p = rpm("--root", rootfs, *BDB, "-V", "--nouser", "--nogroup", "--noconfig",
            "copa-lib", "copa-tool", "copa-hello", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    # Packages: the real RHEL 8 record is still record 1, byte for byte; key 0 is the
    # largest instance number; the replaced records are gone
    pk, names = check_indexes(db / "var/lib/rpm")
    assert pk[1] == w.real_record
    key0 = [u32(v) for k, v in dump(db / "var/lib/rpm/Packages") if u32(k) == 0]
    assert key0 == [max(pk)]
    assert sorted(names.values()) == sorted(["libuuid", "copa-hello", "copa-lib", "copa-tool",
                                             "copa-stay"])
    assert names[w.stay_num] == "copa-stay"  # kept under its instance number
    assert pk[w.stay_num] == w.blobs[w.stay_num]
    # every index holds exactly what rpm's own index code makes of the same headers
    mine, ref = bdb_indexes(db / "var/lib/rpm"), rpm_indexes(db / "var/lib/rpm", tmp_path)
    for name in INDEXES:
        assert mine[name] == ref[name], name
    assert all(mine[n] for n in INDEXES)  # the test packages reach every index
    assert (b"copa-stay", names_num(names, "copa-tool"), 0) in mine["Recommendname"]
    assert (b"!copa-hello", names_num(names, "copa-tool"), 0) in mine["Recommendname"]
    assert not any(k == b"copa-hello" and n == names_num(names, "copa-tool")
                   for k, n, _ in mine["Requirename"])  # Requires(post) only
    stat = subprocess.run(["db5.3_stat", "-d", str(db / "var/lib/rpm/Packages")],
                          capture_output=True, text=True, check=True).stdout
    assert "Hash magic number" in stat
    for f in ["Packages", *INDEXES]:  # Berkeley DB's own structural check of every file
        subprocess.run(["db5.3_verify", "-q", str(db / "var/lib/rpm" / f)], check=True)
    # the layer: Packages and every index, the stale environment whited out, no new
    # environment or lock file, no sqlite file
    members = patch_layer_tar(layout, "1.0-patched")
    for f in ["Packages", *INDEXES]:
        assert f"var/lib/rpm/{f}" in members, f
    assert "var/lib/rpm/.wh.__db.001" in members
    leftovers = [m for m in members if m.startswith("var/lib/rpm/") and
                 m.split("/")[-1] not in ["Packages", *INDEXES, ".wh.__db.001"]]
    assert leftovers == []
    assert not (rootfs / "var/lib/rpm/__db.001").exists()
    # re-patching the result reads the written database: nothing left to do
    p = copa("patch", "-i", f"oci:{layout}:1.0-patched", "-t", "again", check=True)
    assert "every package is already up to date" in p.stderr


def test_report_mode_bdb(copa, bdbworld, tmp_path):
    w = bdbworld
    layout = tmp_path / "img"
    shutil.copytree(w.layout, layout)
    r = report(tmp_path / "r.json", [("copa-tool", "0.9-1", "0.9-2", "CVE-2099-0007")],
               os_type="redhat")
    copa("patch", "-i", f"oci:{layout}:1.0", "-r", r, "-t", "fixed", check=True)
    rootfs, db = patched_db(layout, "fixed", tmp_path)
    qa = sorted(bdb_q(db, "-qa").stdout.split())
    assert qa == sorted(["libuuid-2.32.1-42.el8_8.x86_64", "copa-hello-1.0-1.noarch",
                         "copa-tool-0.9-2.noarch", "copa-stay-1.0-1.noarch"]), qa
    assert bdb_q(db, "-qf", "/usr/share/copa-tool/version").stdout.strip() == \
        "copa-tool-0.9-2.noarch"
    p = rpm("--root", rootfs, *BDB, "-V", "copa-tool", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    pk, names = check_indexes(db / "var/lib/rpm")
    assert pk[1] == w.real_record
    assert "copa-tool" in names.values() and len(pk) == 4
