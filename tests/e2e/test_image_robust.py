"""Destinations under stress (issue 14): concurrent writers, archives that hold
other images, hostile layout metadata, leftovers of killed runs, descriptor
fidelity and the layer cap. Results are read with skopeo, umoci and python's
json/tarfile, never with copa."""
import concurrent.futures
import fcntl
import json
import os
import subprocess
import tarfile

import pytest

import imagetools as it
from fx_patch import image_manifest, tar_dir
from test_patch import base_packages, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")

REF = "org.opencontainers.image.ref.name"


@pytest.fixture
def simple_world(world):
    world.publish(*update_packages(world))
    world.layout = world.image(world.rootfs(base_packages(world)))
    return world


def tags(layout):
    index = json.loads((layout / "index.json").read_text())
    return sorted(m.get("annotations", {}).get(REF) for m in index["manifests"])


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_concurrent_patches_into_one_layout_keep_every_tag(copa, simple_world):
    """Two runs committing into one layout at once: each tag survives (a lost
    update dropped one while both exited 0)."""
    layout = simple_world.layout
    want = ["1.0"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i in range(8):
            names = [f"a{i}", f"b{i}"]
            runs = [pool.submit(copa, "patch", "-i", f"oci:{layout}:1.0", "-t", n)
                    for n in names]
            for n, f in zip(names, runs):
                p = f.result()
                assert p.returncode == 0, f"{n}: {p.stderr}"
            want += names
            assert tags(layout) == sorted(want), f"round {i}"
    it.skopeo("inspect", "--raw", f"oci:{layout}:a7")
    it.skopeo("inspect", "--raw", f"oci:{layout}:b0")


def test_oci_archive_destination_keeps_the_other_images(copa, simple_world, tmp_path):
    archive = tmp_path / "app.tar"
    two = tmp_path / "two"  # an archive of two images, as `tar -C two -cf app.tar .` makes
    it.skopeo("copy", f"oci:{simple_world.layout}:1.0", f"oci:{two}:1.0")
    other = it.add_image(two, [it.tar_layer([("other.txt", "another image\n")])])
    index = json.loads((two / "index.json").read_text())
    index["manifests"].append({k: other[k] for k in ("mediaType", "digest", "size")} |
                              {"annotations": {REF: "other"}})
    (two / "index.json").write_text(json.dumps(index))
    with tarfile.open(archive, "w") as tf:
        for name in sorted(os.listdir(two)):
            tf.add(two / name, arcname=name)
    p = copa("patch", "-i", f"oci-archive:{archive}:1.0", "-t",
             f"oci-archive:{archive}:1.0-patched")
    assert p.returncode == 0, p.stderr
    with tarfile.open(archive) as tf:
        index = json.load(tf.extractfile("index.json"))
    assert sorted(m["annotations"][REF] for m in index["manifests"]) == \
        ["1.0", "1.0-patched", "other"]
    for tag in ("1.0", "other", "1.0-patched"):  # every image whole, blobs included
        it.skopeo("copy", f"oci-archive:{archive}:{tag}", f"oci:{tmp_path}/back:{tag}")
    assert [f for f in os.listdir(tmp_path) if f.startswith(".copa")] == []


def test_docker_archive_destination_keeps_the_other_images(copa, simple_world, tmp_path):
    root = simple_world.tmp / "root"
    archive = tmp_path / "save.tar"
    it.docker_save_classic(archive, [([tar_dir(root)], ["example.com/app:1.0"]),
                                     ([it.tar_layer([("o", "other\n")])],
                                      ["example.com/other:1", "example.com/app:1.0-patched"])])
    p = copa("patch", "-i", f"docker-archive:{archive}:example.com/app:1.0", "-t",
             f"docker-archive:{archive}:example.com/app:1.0-patched")
    assert p.returncode == 0, p.stderr
    with tarfile.open(archive) as tf:
        entries = json.load(tf.extractfile("manifest.json"))
    assert sorted(t for e in entries for t in e["RepoTags"]) == \
        ["example.com/app:1.0", "example.com/app:1.0-patched", "example.com/other:1"]
    for ref in ("example.com/app:1.0", "example.com/other:1"):  # intact, symlinked layers too
        it.skopeo("copy", f"docker-archive:{archive}:{ref}", f"oci:{tmp_path}/back:x")
    raw = it.skopeo_inspect_raw(f"docker-archive:{archive}:example.com/app:1.0-patched")
    assert len(raw["layers"]) == 2
    # Writing one tag again replaces that image and copies nothing else.
    out = tmp_path / "one.tar"
    for _ in range(2):
        p = copa("patch", "-i", f"docker-archive:{archive}:example.com/app:1.0", "-t",
                 f"docker-archive:{out}:example.com/app:p")
        assert p.returncode == 0, p.stderr
        with tarfile.open(out) as tf:
            assert len(json.load(tf.extractfile("manifest.json"))) == 1
            assert len(tf.getnames()) == 4  # config, two layers, manifest.json


@pytest.mark.parametrize("dest", ["oci-archive:{}:p", "docker-archive:{}:example.com/a:p"])
def test_archive_destination_refuses_to_drop_a_foreign_file(copa, simple_world, tmp_path, dest):
    """A file that is not an archive of that kind is not silently replaced."""
    out = tmp_path / "data.tar"
    out.write_bytes(b"precious data, not a tar archive" * 100)
    before = out.read_bytes()
    p = copa("patch", "-i", f"oci:{simple_world.layout}:1.0", "-t", dest.format(out))
    assert p.returncode == 1
    assert str(out) in p.stderr and "precious" not in p.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize("name", ["index.json", "oci-layout"])
def test_layout_metadata_behind_a_symlink_is_not_read(copa, simple_world, tmp_path, name):
    secret = tmp_path / "host-secret"
    secret.write_text("hunter2-do-not-print\n")
    dst = tmp_path / "dst"
    it.write_image(dst, [it.tar_layer([("a", "1\n")])], tag="x")
    (dst / name).unlink()
    os.symlink(secret, dst / name)
    p = copa("patch", "-i", f"oci:{simple_world.layout}:1.0", "-t", f"oci:{dst}:p")
    assert p.returncode == 1
    assert "symbolic link" in p.stderr and f"{dst}/{name}" in p.stderr
    assert "hunter2" not in p.stderr + p.stdout
    assert secret.read_text() == "hunter2-do-not-print\n"
    assert os.path.islink(dst / name)


def test_leftovers_of_killed_runs_are_removed_and_live_ones_kept(copa, simple_world, tmp_path):
    """What kill -9 leaves (temporary blobs, staging directories, .tmp-PID
    files) is removed by the next run when its process is gone; a live
    process's files, or files someone holds a lock on, stay."""
    layout = simple_world.layout
    cache = tmp_path / "copa-cache"  # the copa fixture's cache
    dead = dead_pid()
    live = subprocess.Popen(["sleep", "600"])
    try:
        blobs = layout / "blobs/sha256"
        stale = [blobs / f".{'a' * 64}.tmp-{dead}-1", layout / f".index.json.tmp-{dead}-7",
                 tmp_path / f".app.tar.tmp-{dead}-2", cache / f"tmp/.entry.tmp-{dead}-3"]
        stale_dirs = [tmp_path / f".copa-oci-archive-{dead}-AbC123",
                      tmp_path / f".copa-docker-archive-{dead}-XyZ789",
                      cache / f"tmp/stage-{dead}-QwE456"]
        kept = [blobs / f".{'b' * 64}.tmp-{live.pid}-1", tmp_path / f".app.tar.tmp-{live.pid}-2",
                cache / f"tmp/.entry.tmp-{live.pid}-4", tmp_path / "unrelated.tmp-1-2",
                tmp_path / f".other.tar.tmp-{dead}-5"]  # another archive's: not ours to judge
        kept_dirs = [tmp_path / f".copa-oci-archive-{live.pid}-LiVe12"]
        locked = blobs / f".{'c' * 64}.tmp-{dead}-9"  # a writer in another PID namespace
        (cache / "tmp").mkdir(parents=True, exist_ok=True)
        for f in stale + kept + [locked]:
            f.write_bytes(b"partial")
        for d in stale_dirs + kept_dirs:
            (d / "blobs/sha256").mkdir(parents=True)
            (d / "blobs/sha256/x").write_bytes(b"partial")
        with open(locked, "rb") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            p = copa("patch", "-i", f"oci:{layout}:1.0", "-t", f"oci-archive:{tmp_path}/app.tar:p")
            assert p.returncode == 0, p.stderr
            p = copa("patch", "-i", f"oci:{layout}:1.0", "-t", "p2")
            assert p.returncode == 0, p.stderr
        for f in stale + stale_dirs:
            assert not f.exists(), f
        for f in kept + kept_dirs + [locked]:
            assert f.exists(), f
    finally:
        live.kill()
        live.wait()


def test_patched_platform_keeps_its_descriptor_members(copa, world, tmp_path):
    """The index entry of a patched platform keeps annotations and every
    other member of the original descriptor; digest and size are new."""
    world.publish(*update_packages(world))
    root = world.rootfs(base_packages(world))
    layout = tmp_path / "multi"
    amd = it.add_image(layout, [tar_dir(root)], arch="amd64")
    arm = it.add_image(layout, [it.tar_layer([("etc/os-release", "ID=debian\n")])],
                       arch="arm64", variant="v8")
    amd["annotations"] = {"com.example.team": "payments", "org.opencontainers.image.ref.name": "x"}
    amd["artifactType"] = "application/vnd.example.thing"
    amd["urls"] = ["https://example.com/mirror"]
    idesc, _ = it.write_index_blob(layout, [amd, arm])
    it.write_index_json(layout, [idesc], tag="1.0")
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--platform", "linux/amd64")
    assert p.returncode == 0, p.stderr
    _, ref = image_manifest(layout, "1.0-patched")
    new_index = json.loads(it.blob_bytes(layout, ref["digest"]))
    new_amd = next(m for m in new_index["manifests"]
                   if m["platform"]["architecture"] == "amd64")
    assert new_amd["digest"] != amd["digest"]
    blob = it.blob_bytes(layout, new_amd["digest"])
    assert new_amd["size"] == len(blob)
    assert new_amd["mediaType"] == json.loads(blob)["mediaType"]
    for k in ("annotations", "artifactType", "urls", "platform"):
        assert new_amd[k] == amd[k], k
    it.skopeo("inspect", "--raw", f"oci:{layout}:1.0-patched")


def test_image_at_the_layer_cap_is_refused_up_front(copa, world, tmp_path):
    """1000 layers is the most copa reads; patching such an image would make
    one it refuses afterwards, so it is refused before anything is written."""
    world.publish(*update_packages(world))
    root = world.rootfs(base_packages(world))
    layers = [tar_dir(root)] + [it.tar_layer([(f"f{i}", "x\n")]) for i in range(999)]
    layout = tmp_path / "tall"
    it.write_image(layout, layers, tag="1.0", compression=None)
    before = (layout / "index.json").read_bytes()
    p = copa("patch", "-i", f"oci:{layout}:1.0")
    assert p.returncode == 1
    assert "1000 layers" in p.stderr and "limit of 1000" in p.stderr, p.stderr
    assert (layout / "index.json").read_bytes() == before
