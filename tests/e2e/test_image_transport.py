"""Image transports without a registry: OCI layouts, OCI archives and
docker-archives read and written by copa (through the copa-copy helper),
checked with skopeo, umoci and podman, plus hostile and malformed input."""
import hashlib
import json
import os
import pathlib
import subprocess
import tarfile

import pytest

import imagetools as it


def layers_abc():
    return [
        it.tar_layer([("etc", None), ("etc/os-release", "ID=test\n"), ("etc/a", "a\n")]),
        it.tar_layer([("usr", None), ("usr/bin", None),
                      ("usr/bin/tool", {"data": b"\x7fELF" + os.urandom(3000), "mode": 0o755})]),
        it.tar_layer([("etc/b", "b\n"), ("etc/a", {"type": "whiteout"})]),
    ]


def skopeo_json(*args):
    return json.loads(it.skopeo("inspect", *args).stdout)


def skopeo_raw(ref):
    return it.skopeo("inspect", "--raw", ref).stdout.encode()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def mixed_layout(tmp_path):
    """An OCI layout whose image has gzip, zstd and uncompressed layers."""
    src = tmp_path / "src"
    a, b, c = layers_abc()
    desc, mbytes, cfg = it.add_image_mixed(src, [(a, "gzip"), (b, "zstd"), (c, None)])
    it.write_index_json(src, [desc], tag="v1")
    return src, desc, json.loads(mbytes), cfg


def test_layout_to_layout_keeps_bytes(copa_copy, mixed_layout, tmp_path):
    src, desc, manifest, cfg = mixed_layout
    copa_copy(f"oci:{src}:v1", f"oci:{tmp_path}/out:copied")
    out = f"oci:{tmp_path}/out:copied"
    assert skopeo_raw(out) == it.blob_bytes(src, desc["digest"])
    info = skopeo_json(out)
    assert info["Digest"] == desc["digest"]
    assert info["Layers"] == [l["digest"] for l in manifest["layers"]]
    assert it.blob_bytes(tmp_path / "out", manifest["config"]["digest"]) == cfg
    # umoci 0.4 cannot read zstd layers: unpack a gzip/uncompressed copy with it
    a, b, c = layers_abc()
    g, _, _ = it.add_image_mixed(tmp_path / "g", [(a, "gzip"), (b, None), (c, "gzip")])
    it.write_index_json(tmp_path / "g", [g], tag="g")
    copa_copy(f"oci:{tmp_path}/g:g", f"oci:{tmp_path}/out:gz")
    rootfs = it.umoci_unpack(tmp_path / "out", "gz", tmp_path / "unpacked")
    assert (rootfs / "etc/b").read_text() == "b\n"
    assert not (rootfs / "etc/a").exists()  # whited out by the third layer
    assert os.access(rootfs / "usr/bin/tool", os.X_OK)


def test_round_trip_all_local_transports(copa_copy, mixed_layout, tmp_path):
    """layout -> oci-archive -> docker-archive -> layout: content and diff_ids survive;
    the oci-archive keeps every blob digest."""
    src, desc, manifest, cfg = mixed_layout
    oa, da = tmp_path / "img.oci.tar", tmp_path / "img.docker.tar"
    copa_copy(f"oci:{src}:v1", f"oci-archive:{oa}:v1")
    info = skopeo_json(f"oci-archive:{oa}:v1")
    assert info["Digest"] == desc["digest"]
    assert info["Layers"] == [l["digest"] for l in manifest["layers"]]

    copa_copy(f"oci-archive:{oa}:v1", f"docker-archive:{da}:example.com/app:2")
    with tarfile.open(da) as tf:
        names = tf.getnames()
        mj = json.load(tf.extractfile("manifest.json"))
    diff_ids = json.loads(cfg)["rootfs"]["diff_ids"]
    assert mj[0]["RepoTags"] == ["example.com/app:2"]
    assert mj[0]["Layers"] == [d.split(":")[1] + ".tar" for d in diff_ids]
    assert mj[0]["Config"] == manifest["config"]["digest"].split(":")[1] + ".json"
    assert set(names) == {"manifest.json", mj[0]["Config"], *mj[0]["Layers"]}
    dinfo = skopeo_json(f"docker-archive:{da}")
    assert dinfo["Layers"] == diff_ids  # uncompressed: blob digest == diff_id

    copa_copy(f"docker-archive:{da}", f"oci:{tmp_path}/back:b")
    binfo = skopeo_json(f"oci:{tmp_path}/back:b")
    assert binfo["Layers"] == diff_ids
    # the config is carried byte for byte through every transport
    back = json.loads(skopeo_raw(f"oci:{tmp_path}/back:b"))
    assert back["config"]["digest"] == manifest["config"]["digest"]
    rootfs = it.umoci_unpack(tmp_path / "back", "b", tmp_path / "u")
    assert (rootfs / "etc/os-release").read_text() == "ID=test\n"
    assert not (rootfs / "etc/a").exists()


def test_docker_archive_loads_with_podman(copa_copy, mixed_layout, tmp_path, podman_store):
    src, desc, manifest, cfg = mixed_layout
    da = tmp_path / "load.tar"
    copa_copy(f"oci:{src}:v1", f"docker-archive:{da}:localhost/copa-test:1")
    p = podman_store("load", "-i", da)
    assert "localhost/copa-test:1" in p.stdout + p.stderr
    info = json.loads(podman_store("image", "inspect", "localhost/copa-test:1").stdout)[0]
    assert info["RootFS"]["Layers"] == json.loads(cfg)["rootfs"]["diff_ids"]
    assert info["Id"] == manifest["config"]["digest"].split(":")[1]


def test_adding_tag_keeps_other_tags(copa_copy, tmp_path):
    a, b, c = layers_abc()
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    d1 = it.write_image(s1, [a], tag="x")
    d2 = it.write_image(s2, [a, b], tag="y")
    out = tmp_path / "out"
    copa_copy(f"oci:{s1}:x", f"oci:{out}:one")
    copa_copy(f"oci:{s2}:y", f"oci:{out}:two")
    assert skopeo_json(f"oci:{out}:one")["Digest"] == d1["digest"]
    assert skopeo_json(f"oci:{out}:two")["Digest"] == d2["digest"]
    # moving tag "one" to the second image keeps "two" and drops nothing else
    copa_copy(f"oci:{s2}:y", f"oci:{out}:one")
    index = json.loads((out / "index.json").read_text())
    tags = sorted(m["annotations"]["org.opencontainers.image.ref.name"]
                  for m in index["manifests"])
    assert tags == ["one", "two"]
    assert skopeo_json(f"oci:{out}:one")["Digest"] == d2["digest"]
    assert skopeo_json(f"oci:{out}:two")["Digest"] == d2["digest"]
    # a layout written by skopeo gains a tag from copa and keeps skopeo's
    sk = tmp_path / "sk"
    it.skopeo("copy", f"oci:{s1}:x", f"oci:{sk}:from-skopeo")
    copa_copy(f"oci:{s2}:y", f"oci:{sk}:from-copa")
    assert skopeo_json(f"oci:{sk}:from-skopeo")["Digest"] == d1["digest"]
    assert skopeo_json(f"oci:{sk}:from-copa")["Digest"] == d2["digest"]


@pytest.fixture
def multiarch(tmp_path):
    """A nested multi-platform layout: index.json -> OCI index (amd64, arm64/v8,
    arm/v7, an attestation) with index annotations."""
    lay = tmp_path / "multi"
    a, b, c = layers_abc()
    descs = []
    for arch, variant, layers in (("amd64", None, [(a, "gzip")]),
                                  ("arm64", "v8", [(a, "gzip"), (b, "zstd")]),
                                  ("arm", "v7", [(c, None)])):
        d, _, _ = it.add_image_mixed(lay, layers, arch=arch, variant=variant)
        d["platform"] = {"architecture": arch, "os": "linux"}
        if variant:
            d["platform"]["variant"] = variant
        descs.append(d)
    descs.append(it.add_attestation(lay, descs[0]["digest"]))
    idesc, ibytes = it.write_index_blob(lay, descs, annotations={"org.example": "kept"})
    it.write_index_json(lay, [idesc], tag="m")
    return lay, idesc, ibytes, descs


def test_multiplatform_index_preserved(copa_copy, multiarch, tmp_path):
    lay, idesc, ibytes, descs = multiarch
    copa_copy(f"oci:{lay}:m", f"oci-archive:{tmp_path}/m.tar:m")
    copa_copy(f"oci-archive:{tmp_path}/m.tar:m", f"oci:{tmp_path}/m2:m")
    assert skopeo_raw(f"oci:{tmp_path}/m2:m") == ibytes
    for d in descs:
        assert it.blob_bytes(tmp_path / "m2", d["digest"]) == it.blob_bytes(lay, d["digest"])
    # every platform is still there for skopeo
    for plat in ("amd64", "arm64", "arm"):
        info = skopeo_json("--override-arch", plat, f"oci:{tmp_path}/m2:m")
        assert info["Architecture"] == plat


def test_platform_selection(copa_copy, multiarch, tmp_path):
    lay, idesc, ibytes, descs = multiarch
    out = copa_copy("--describe", f"oci:{lay}:m", "--platform", "linux/arm64").stdout
    desc = json.loads(out)
    assert desc["platforms"] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]  # no attestation
    assert desc["manifest"]["digest"] == descs[1]["digest"]
    for layer in desc["layers"]:
        data = pathlib.Path(layer["path"]).read_bytes()
        assert sha(data) == layer["digest"]
    # arm64/v8 in the request matches the same image
    out = copa_copy("--describe", f"oci:{lay}:m", "--platform", "linux/arm64/v8").stdout
    assert json.loads(out)["manifest"]["digest"] == descs[1]["digest"]
    # copying one platform writes its manifest as the root, byte for byte
    copa_copy(f"oci:{lay}:m", f"oci:{tmp_path}/one:arm", "--platform", "linux/arm/v7")
    assert skopeo_raw(f"oci:{tmp_path}/one:arm") == it.blob_bytes(lay, descs[2]["digest"])
    # an unknown platform names the available ones
    p = copa_copy("--describe", f"oci:{lay}:m", "--platform", "linux/s390x", check=False)
    assert p.returncode == 1
    assert "no image for platform 'linux/s390x'" in p.stderr
    assert "linux/amd64, linux/arm64, linux/arm/v7" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_multiplatform_to_docker_archive_needs_one_platform(copa_copy, multiarch, tmp_path):
    lay, idesc, ibytes, descs = multiarch
    da = tmp_path / "arm.tar"
    copa_copy(f"oci:{lay}:m", f"docker-archive:{da}:arm:1", "--platform", "linux/arm")
    cfg = json.loads(it.blob_bytes(lay, json.loads(it.blob_bytes(lay, descs[2]["digest"]))
                                   ["config"]["digest"]))
    assert skopeo_json(f"docker-archive:{da}")["Layers"] == cfg["rootfs"]["diff_ids"]


def test_docker_classic_archive(copa_copy, tmp_path):
    a, b, c = layers_abc()
    da = tmp_path / "save.tar"
    images = it.docker_save_classic(da, [([a, b, a], ["busybox:latest"]),
                                         ([c], ["example.com/other:2"])])
    # two images: a reference is needed, and the error lists the tags
    p = copa_copy(f"docker-archive:{da}", f"oci:{tmp_path}/x:x", check=False)
    assert p.returncode == 2
    assert "'busybox:latest', 'example.com/other:2'" in p.stderr
    assert not (tmp_path / "x").exists()
    copa_copy(f"docker-archive:{da}:busybox", f"oci:{tmp_path}/bb:bb")
    info = skopeo_json(f"oci:{tmp_path}/bb:bb")
    assert info["Layers"] == images[0][1]  # uncompressed layers, symlinked duplicate resolved
    rootfs = it.umoci_unpack(tmp_path / "bb", "bb", tmp_path / "u")
    assert (rootfs / "etc/a").read_text() == "a\n"
    copa_copy(f"docker-archive:{da}:@1", f"oci:{tmp_path}/o:o")
    assert skopeo_json(f"oci:{tmp_path}/o:o")["Layers"] == images[1][1]
    p = copa_copy(f"docker-archive:{da}:nope:1", f"oci:{tmp_path}/n:n", check=False)
    assert p.returncode == 1 and "no image tagged" in p.stderr


def test_docker_v25_archive_keeps_oci_manifest(copa_copy, tmp_path):
    a, b, c = layers_abc()
    da = tmp_path / "v25.tar"
    desc = it.docker_save_v25(da, [a, b], tag="app:1")
    copa_copy(f"docker-archive:{da}:app:1", f"oci:{tmp_path}/o:o")
    assert skopeo_json(f"oci:{tmp_path}/o:o")["Digest"] == desc["digest"]


def test_docker_media_types_into_oci_layout(copa_copy, tmp_path):
    """A Docker schema 2 image written to an OCI layout is converted as skopeo
    does: blobs unchanged, media types mapped, foreign layers kept with urls."""
    src = tmp_path / "d"
    a, b, c = layers_abc()
    desc, mbytes, cfg = it.add_image_mixed(src, [(a, "gzip"), (b, "gzip")], media="docker",
                                           foreign={1})
    it.write_index_json(src, [desc], tag="d")
    copa_copy(f"oci:{src}:d", f"oci:{tmp_path}/o:o")
    out = json.loads(skopeo_raw(f"oci:{tmp_path}/o:o"))
    orig = json.loads(mbytes)
    assert out["mediaType"] == it.OCI_MANIFEST
    assert [l["digest"] for l in out["layers"]] == [l["digest"] for l in orig["layers"]]
    assert out["layers"][1]["mediaType"] == \
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    assert out["layers"][1]["urls"] == ["https://example.invalid/foreign-layer"]
    assert out["config"]["digest"] == orig["config"]["digest"]


# ---- hostile and malformed input: one clear line, non-zero, nothing written ----

def assert_clean_failure(p, *needles):
    assert p.returncode != 0, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("copa-copy: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def test_malformed_manifest(copa_copy, mixed_layout, tmp_path):
    src, desc, manifest, cfg = mixed_layout
    bad = b'{"schemaVersion":2,"config":'
    d = it.Blobs(src).put(bad)
    it.write_index_json(src, [{"mediaType": it.OCI_MANIFEST, "digest": d, "size": len(bad)}],
                        tag="bad")
    p = copa_copy(f"oci:{src}:bad", f"oci:{tmp_path}/out:x", check=False)
    assert_clean_failure(p, d)
    assert not (tmp_path / "out").exists()


def test_malformed_documents(copa_copy, tmp_path):
    a, b, c = layers_abc()
    cases = {
        "index": (b"{\"schemaVersion\":2,\"manifests\":{}}", "'manifests' is missing or not an array"),
        "config": (None, "rootfs"),
        "schema1": (b'{"schemaVersion":1,"name":"x"}', "schema 1"),
    }
    for name, (doc, needle) in cases.items():
        lay = tmp_path / name
        desc = it.write_image(lay, [a], tag="t")
        if name == "config":
            m = json.loads(it.blob_bytes(lay, desc["digest"]))
            cfg = b'{"os":"linux","architecture":"amd64"}'
            m["config"] = {"mediaType": it.OCI_CONFIG, "digest": it.Blobs(lay).put(cfg),
                           "size": len(cfg)}
            doc = json.dumps(m).encode()
            mt = it.OCI_MANIFEST
        else:
            mt = it.OCI_INDEX if name == "index" else it.OCI_MANIFEST
        d = it.Blobs(lay).put(doc)
        it.write_index_json(lay, [{"mediaType": mt, "digest": d, "size": len(doc)}], tag="t")
        args = ["--describe", f"oci:{lay}:t"] if name == "config" else \
            [f"oci:{lay}:t", f"oci:{tmp_path}/out-{name}:x"]
        p = copa_copy(*args, check=False)
        assert_clean_failure(p, needle)
        assert not (tmp_path / f"out-{name}").exists()


def test_digest_mismatch_and_missing_blob(copa_copy, mixed_layout, tmp_path):
    src, desc, manifest, cfg = mixed_layout
    # an existing destination keeps its index.json when a copy into it fails
    dst = tmp_path / "dst"
    it.write_image(tmp_path / "other", [layers_abc()[0]], tag="o")
    copa_copy(f"oci:{tmp_path}/other:o", f"oci:{dst}:good")
    before = (dst / "index.json").read_bytes()
    layer = src / "blobs/sha256" / manifest["layers"][1]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    p = copa_copy(f"oci:{src}:v1", f"oci:{dst}:bad", check=False)
    assert_clean_failure(p, manifest["layers"][1]["digest"], "does not match its digest")
    assert (dst / "index.json").read_bytes() == before
    assert skopeo_json(f"oci:{dst}:good")["Layers"]
    p = copa_copy(f"oci:{src}:v1", f"oci:{tmp_path}/fresh:x", check=False)
    assert_clean_failure(p, "does not match its digest")
    assert not (tmp_path / "fresh").exists()
    layer.unlink()
    p = copa_copy(f"oci:{src}:v1", f"oci-archive:{tmp_path}/x.tar", check=False)
    assert_clean_failure(p, "missing")
    assert not (tmp_path / "x.tar").exists()
    assert [f for f in os.listdir(tmp_path) if f.startswith(".copa")] == []


def test_oversize_manifest(copa_copy, tmp_path):
    a, _, _ = layers_abc()
    lay = tmp_path / "big"
    desc = it.write_image(lay, [a], tag="t")
    m = json.loads(it.blob_bytes(lay, desc["digest"]))
    m["annotations"] = {"pad": "x" * (4 << 20)}
    doc = json.dumps(m).encode()
    d = it.Blobs(lay).put(doc)
    it.write_index_json(lay, [{"mediaType": it.OCI_MANIFEST, "digest": d, "size": len(doc)}],
                        tag="t")
    p = copa_copy(f"oci:{lay}:t", f"oci:{tmp_path}/out:x", check=False)
    assert_clean_failure(p, "limit")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../x", "/etc/abs", "a/../../x"])
def test_archive_path_traversal(copa_copy, tmp_path, name):
    for transport in ("oci-archive", "docker-archive"):
        bad = tmp_path / f"bad-{transport}.tar"
        it.hostile_tar(bad, [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                             (name, b"pwned"),
                             ("index.json", b'{"schemaVersion":2,"manifests":[]}')])
        p = copa_copy(f"{transport}:{bad}", f"oci:{tmp_path}/out:x", check=False)
        assert_clean_failure(p, "unsafe path")
        assert not (tmp_path / "out").exists()
        assert not (tmp_path.parent / "x").exists()
        assert not pathlib.Path("/etc/abs").exists()


def test_archive_member_digest_mismatch(copa_copy, tmp_path):
    bad = tmp_path / "lie.tar"
    it.hostile_tar(bad, [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                         ("index.json", b'{"schemaVersion":2,"manifests":[]}'),
                         ("blobs/sha256/" + "0" * 64, b"not that")])
    p = copa_copy(f"oci-archive:{bad}", f"oci:{tmp_path}/out:x", check=False)
    assert_clean_failure(p, "does not match its digest")


def test_not_an_archive_or_layout(copa_copy, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(5000))
    p = copa_copy(f"docker-archive:{junk}", f"oci:{tmp_path}/o:x", check=False)
    assert_clean_failure(p, str(junk))
    (tmp_path / "empty").mkdir()
    p = copa_copy(f"oci:{tmp_path}/empty", f"oci:{tmp_path}/o:x", check=False)
    assert_clean_failure(p, "not an OCI layout")
    p = copa_copy(f"oci:{tmp_path}/nonexistent:x", f"oci:{tmp_path}/o:x", check=False)
    assert_clean_failure(p, "cannot open OCI layout")
    p = copa_copy("Bad:Ref", f"oci:{tmp_path}/o:x", check=False)
    assert_clean_failure(p, "invalid image reference")
    assert not (tmp_path / "o").exists()


def test_docker_archive_hostile_manifest_json(copa_copy, tmp_path):
    a, _, _ = layers_abc()
    cfg = json.dumps(it.image_config([sha(a)])).encode()
    cases = {
        "not-json": (b"[{", "manifest.json"),
        "escape": (json.dumps([{"Config": "c.json", "Layers": ["../../etc/passwd"]}]).encode(),
                   "is missing from the archive"),
        "no-config": (json.dumps([{"Config": "nope.json", "Layers": []}]).encode(),
                      "config 'nope.json' is missing"),
        "not-array": (b'{"Config": "c.json"}', "not a non-empty JSON array"),
    }
    for name, (mj, needle) in cases.items():
        t = tmp_path / f"{name}.tar"
        it.hostile_tar(t, [("c.json", cfg), ("l.tar", a), ("manifest.json", mj)])
        p = copa_copy(f"docker-archive:{t}", f"oci:{tmp_path}/out-{name}:x", check=False)
        assert_clean_failure(p, needle)
        assert not (tmp_path / f"out-{name}").exists()
    # a layer whose content does not match the config's diff_id cannot be written
    t = tmp_path / "lying.tar"
    it.hostile_tar(t, [("c.json", cfg), ("l.tar", a + b"\0" * 512),
                       ("manifest.json", json.dumps([{"Config": "c.json",
                                                      "Layers": ["l.tar"]}]).encode())])
    p = copa_copy(f"docker-archive:{t}", f"docker-archive:{tmp_path}/out.tar", check=False)
    assert_clean_failure(p, "the config says")
    assert not (tmp_path / "out.tar").exists()
    assert [f for f in os.listdir(tmp_path) if f.startswith(".copa")] == []


def test_layout_tag_required_when_ambiguous(copa_copy, tmp_path):
    a, b, _ = layers_abc()
    out = tmp_path / "two"
    it.write_image(tmp_path / "s1", [a], tag="x")
    it.write_image(tmp_path / "s2", [b], tag="y")
    copa_copy(f"oci:{tmp_path}/s1:x", f"oci:{out}:first")
    copa_copy(f"oci:{tmp_path}/s2:y", f"oci:{out}:second")
    p = copa_copy(f"oci:{out}", f"oci:{tmp_path}/o:o", check=False)
    assert p.returncode == 2
    assert_clean_failure(p, "name one as oci:DIR:TAG", "'first', 'second'")
    p = copa_copy(f"oci:{out}:third", f"oci:{tmp_path}/o:o", check=False)
    assert_clean_failure(p, "no image tagged 'third'")


def test_existing_layout_with_bad_index_is_left_alone(copa_copy, mixed_layout, tmp_path):
    src, _, _, _ = mixed_layout
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (dst / "index.json").write_text('{"schemaVersion":2,"manifests":"nope"}')
    p = copa_copy(f"oci:{src}:v1", f"oci:{dst}:x", check=False)
    assert_clean_failure(p, "cannot add an image to the existing layout", "'manifests'")
    assert (dst / "index.json").read_text() == '{"schemaVersion":2,"manifests":"nope"}'
    assert sorted(os.listdir(dst)) == ["index.json", "oci-layout"]


def test_foreign_layer_into_docker_archive(copa_copy, tmp_path):
    src = tmp_path / "f"
    a, b, _ = layers_abc()
    desc, mbytes, cfg = it.add_image_mixed(src, [(a, "gzip"), (b, "gzip")], foreign={1})
    it.write_index_json(src, [desc], tag="f")
    da = tmp_path / "f.tar"
    copa_copy(f"oci:{src}:f", f"docker-archive:{da}:foreign:1")
    with tarfile.open(da) as tf:
        mj = json.load(tf.extractfile("manifest.json"))
    diff_ids = json.loads(cfg)["rootfs"]["diff_ids"]
    sources = mj[0]["LayerSources"]
    assert list(sources) == [diff_ids[1]]
    assert sources[diff_ids[1]]["urls"] == ["https://example.invalid/foreign-layer"]
    assert sources[diff_ids[1]]["digest"] == json.loads(mbytes)["layers"][1]["digest"]
    assert skopeo_json(f"docker-archive:{da}")["Layers"] == diff_ids


def test_nested_index_depth_is_capped(copa_copy, tmp_path):
    a, _, _ = layers_abc()
    lay = tmp_path / "deep"
    d = it.add_image(lay, [a])
    for _ in range(6):
        d, _ = it.write_index_blob(lay, [d])
    it.write_index_json(lay, [d], tag="deep")
    p = copa_copy(f"oci:{lay}:deep", f"oci:{tmp_path}/out:x", check=False)
    assert_clean_failure(p, "nested deeper than 4 levels")
    assert not (tmp_path / "out").exists()
    p = copa_copy("--describe", f"oci:{lay}:deep", check=False)
    assert_clean_failure(p, "nested deeper than 4 levels")


def test_docker_manifest_list_into_oci_layout(copa_copy, tmp_path):
    """A Docker manifest list becomes an OCI index in an OCI layout, every child
    converted, platforms and blobs kept; a docker-archive takes one platform."""
    a, b, c = layers_abc()
    src = tmp_path / "dl"
    idesc = it.write_multiarch(src, [("amd64", None, [a, b]), ("arm64", "v8", [c])],
                               tag="l", media="docker")
    orig = json.loads(it.blob_bytes(src, idesc["digest"]))
    copa_copy(f"oci:{src}:l", f"oci:{tmp_path}/o:l")
    out = json.loads(skopeo_raw(f"oci:{tmp_path}/o:l"))
    assert out["mediaType"] == it.OCI_INDEX
    assert [m["platform"] for m in out["manifests"]] == [m["platform"] for m in orig["manifests"]]
    for new, old in zip(out["manifests"], orig["manifests"]):
        assert new["mediaType"] == it.OCI_MANIFEST
        nm = json.loads(it.blob_bytes(tmp_path / "o", new["digest"]))
        om = json.loads(it.blob_bytes(src, old["digest"]))
        assert [l["digest"] for l in nm["layers"]] == [l["digest"] for l in om["layers"]]
        assert nm["config"]["digest"] == om["config"]["digest"]
    info = skopeo_json("--override-arch", "arm64", f"oci:{tmp_path}/o:l")
    assert info["Architecture"] == "arm64"
    copa_copy(f"oci:{src}:l", f"docker-archive:{tmp_path}/a.tar", "--platform", "linux/amd64")
    assert skopeo_json(f"docker-archive:{tmp_path}/a.tar")["Layers"] == [sha(a), sha(b)]
