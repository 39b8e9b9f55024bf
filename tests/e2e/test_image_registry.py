"""Registry round trips of the image transports against a real docker-registry
on 127.0.0.1: copa (through copa-copy) pushes and pulls, skopeo checks."""
import json
import re
import urllib.parse
import urllib.request

import pytest

import imagetools as it
from fx_services import Registry

# docker-registry refuses manifests with foreign-layer urls unless allowed.
ALLOW_URLS = ("validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n")


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "registry", auth_yaml=ALLOW_URLS)
    yield r
    r.stop()


def raw(ref):
    return it.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout.encode()


def info(ref):
    return json.loads(it.skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)


def blob_exists(host, repo, digest):
    req = urllib.request.Request(f"http://{host}/v2/{repo}/blobs/{digest}", method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status == 200
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def layers():
    return [it.tar_layer([("etc", None), ("etc/hello", "hello\n")]),
            it.tar_layer([("usr", None), ("usr/lib", None), ("usr/lib/x.so", b"\0" * 5000)]),
            it.tar_layer([("etc/extra", "x\n")])]


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_push_pull_keeps_bytes_and_family(copa_copy, reg, tmp_path, media):
    a, b, c = layers()
    src = tmp_path / "src"
    # skopeo 1.9 cannot read the (BuildKit) Docker zstd media type: gzip there
    zst = "zstd" if media == "oci" else "gzip"
    desc, mbytes, cfg = it.add_image_mixed(src, [(a, "gzip"), (b, zst), (c, None)],
                                           media=media)
    it.write_index_json(src, [desc], tag="t")
    ref = f"{reg.host}/team/app:1"
    copa_copy(f"oci:{src}:t", ref)
    # the registry holds exactly the source manifest: Docker stayed Docker
    assert raw(ref) == mbytes
    assert json.loads(raw(ref))["mediaType"] == (it.OCI_MANIFEST if media == "oci"
                                                 else it.DOCKER_MANIFEST)
    # pull back with copa into a layout and an archive; skopeo agrees on every digest
    copa_copy(ref, f"oci:{tmp_path}/pulled:p")
    copa_copy(f"docker://{ref}", f"oci-archive:{tmp_path}/p.tar:p")
    sk = json.loads(it.skopeo("inspect", f"oci:{tmp_path}/pulled:p").stdout)
    assert sk["Layers"] == [l["digest"] for l in json.loads(mbytes)["layers"]]
    ska = json.loads(it.skopeo("inspect", f"oci-archive:{tmp_path}/p.tar:p").stdout)
    assert ska["Layers"] == sk["Layers"]
    # and skopeo can pull what copa pushed
    it.skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{tmp_path}/skdir")
    assert (tmp_path / "skdir" / "manifest.json").read_bytes() == mbytes


def test_docker_archive_to_registry_and_back(copa_copy, reg, tmp_path):
    a, b, _ = layers()
    da = tmp_path / "save.tar"
    images = it.docker_save_classic(da, [([a, b], ["app:1"])])
    ref = f"{reg.host}/app:from-archive"
    copa_copy(f"docker-archive:{da}", ref)
    assert info(ref)["Layers"] == images[0][1]  # uncompressed layers: digest == diff_id
    copa_copy(ref, f"docker-archive:{tmp_path}/again.tar:app:2")
    sk = json.loads(it.skopeo("inspect", f"docker-archive:{tmp_path}/again.tar").stdout)
    assert sk["Layers"] == images[0][1]


def test_multiplatform_push_and_pull(copa_copy, reg, tmp_path):
    a, b, c = layers()
    lay = tmp_path / "multi"
    descs = []
    for arch, variant, ls in (("amd64", None, [a]), ("arm64", "v8", [a, b]), ("ppc64le", None, [c])):
        d, _, _ = it.add_image_mixed(lay, [(x, "gzip") for x in ls], arch=arch, variant=variant)
        d["platform"] = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        descs.append(d)
    descs.append(it.add_attestation(lay, descs[0]["digest"]))
    idesc, ibytes = it.write_index_blob(lay, descs, annotations={"keep": "me"})
    it.write_index_json(lay, [idesc], tag="m")
    ref = f"{reg.host}/multi:1"
    copa_copy(f"oci:{lay}:m", ref)
    assert raw(ref) == ibytes
    for d in descs:
        assert raw(f"{reg.host}/multi@{d['digest']}") == it.blob_bytes(lay, d["digest"])
    # registry -> registry (another repository: blobs mounted) -> layout, still identical
    copa_copy(ref, f"{reg.host}/other/multi:2")
    assert raw(f"{reg.host}/other/multi:2") == ibytes
    copa_copy(f"{reg.host}/other/multi:2", f"oci:{tmp_path}/back:b")
    assert it.skopeo("inspect", "--raw", f"oci:{tmp_path}/back:b").stdout.encode() == ibytes
    # one platform only
    copa_copy(ref, f"{reg.host}/single:arm64", "--platform", "linux/arm64")
    assert raw(f"{reg.host}/single:arm64") == it.blob_bytes(lay, descs[1]["digest"])
    out = json.loads(copa_copy("--describe", ref, "--platform", "linux/ppc64le").stdout)
    assert out["manifest"]["digest"] == descs[2]["digest"]
    assert out["platforms"] == ["linux/amd64", "linux/arm64", "linux/ppc64le"]


def test_foreign_layer_is_never_pushed(copa_copy, reg, tmp_path):
    a, b, _ = layers()
    src = tmp_path / "f"
    desc, mbytes, _ = it.add_image_mixed(src, [(a, "gzip"), (b, "gzip")], foreign={1})
    it.write_index_json(src, [desc], tag="f")
    ref = f"{reg.host}/foreign:1"
    copa_copy(f"oci:{src}:f", ref)
    m = json.loads(mbytes)
    assert raw(ref) == mbytes
    assert blob_exists(reg.host, "foreign", m["layers"][0]["digest"])
    assert not blob_exists(reg.host, "foreign", m["layers"][1]["digest"])


def test_registry_errors_are_one_line(copa_copy, reg, tmp_path):
    p = copa_copy(f"{reg.host}/missing:1", f"oci:{tmp_path}/o:o", check=False)
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1
    assert "missing" in p.stderr
    assert not (tmp_path / "o").exists()
    port = reg.port
    reg.stop()
    p = copa_copy(f"127.0.0.1:{port}/gone:1", f"oci:{tmp_path}/o:o", check=False)
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_push_is_manifest_last(copa_copy, reg, tmp_path):
    """A push that fails on a blob leaves no tag behind."""
    a, b, _ = layers()
    src = tmp_path / "s"
    desc, mbytes, _ = it.add_image_mixed(src, [(a, "gzip"), (b, "gzip")])
    it.write_index_json(src, [desc], tag="s")
    m = json.loads(mbytes)
    (src / "blobs/sha256" / m["layers"][1]["digest"].split(":")[1]).write_bytes(b"corrupt")
    p = copa_copy(f"oci:{src}:s", f"{reg.host}/half:1", check=False)
    assert p.returncode == 1 and m["layers"][1]["digest"] in p.stderr
    r = it.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{reg.host}/half:1",
                  check=False)
    assert r.returncode != 0


def multi_layout(tmp_path):
    a, b, c = layers()
    lay = tmp_path / "multi"
    descs = []
    for arch, ls in (("amd64", [a, b]), ("arm64", [a, c])):
        d, _, _ = it.add_image_mixed(lay, [(x, "gzip") for x in ls], arch=arch)
        d["platform"] = {"architecture": arch, "os": "linux"}
        descs.append(d)
    idesc, ibytes = it.write_index_blob(lay, descs)
    it.write_index_json(lay, [idesc], tag="m")
    return lay, ibytes, descs


def test_push_order_skip_and_mount(copa_copy, reg, fault_proxy, tmp_path):
    """Blobs first, platform manifests by digest, the index by tag last; a second
    push uploads nothing; a copy to another repository mounts every blob."""
    lay, ibytes, descs = multi_layout(tmp_path)
    proxy = fault_proxy(reg.host)
    copa_copy(f"oci:{lay}:m", f"{proxy.host}/multi:1")
    log = [(e["method"], urllib.parse.unquote(e["path"])) for e in proxy.log]
    uploaded = {}  # blob digest -> position of the PUT that completed its upload
    for i, (m, p) in enumerate(log):
        if m == "PUT" and "/blobs/uploads/" in p and "digest=" in p:
            uploaded[p.split("digest=")[1].split("&")[0]] = i
    man_puts = {p.rsplit("/", 1)[1]: i for i, (m, p) in enumerate(log)
                if m == "PUT" and "/manifests/" in p}
    assert len(uploaded) == 5  # 3 distinct layers + 2 configs, each uploaded once
    for d in descs:  # each platform manifest after its own blobs, by digest
        m = json.loads(it.blob_bytes(lay, d["digest"]))
        for blob in [m["config"]] + m["layers"]:
            assert uploaded[blob["digest"]] < man_puts[d["digest"]]
    # the index by tag is the very last write
    assert list(man_puts) == [d["digest"] for d in descs] + ["1"]
    assert man_puts["1"] == max(i for i, (m, _) in enumerate(log) if m in ("PUT", "PATCH", "POST"))
    assert raw(f"{reg.host}/multi:1") == ibytes

    proxy.log.clear()
    copa_copy(f"oci:{lay}:m", f"{proxy.host}/multi:1")
    assert proxy.requests("POST", r"/blobs/uploads/") == []
    assert len(proxy.requests("HEAD", r"/blobs/sha256:")) == 6

    proxy.log.clear()
    copa_copy(f"{proxy.host}/multi:1", f"{proxy.host}/elsewhere/multi:1")
    mounts = [e for e in proxy.requests("POST", r"/blobs/uploads/")
              if re.search(r"mount=sha256:[0-9a-f]{64}&from=multi$", urllib.parse.unquote(e["path"]))]
    assert len(mounts) == 5
    assert proxy.requests("PATCH", r"/blobs/uploads/") == []
    assert proxy.requests("GET", r"/blobs/sha256:") == []  # nothing downloaded either
    assert raw(f"{reg.host}/elsewhere/multi:1") == ibytes


def test_corrupt_blob_from_registry_writes_nothing(copa_copy, reg, fault_proxy, tmp_path):
    lay, ibytes, descs = multi_layout(tmp_path)
    copa_copy(f"oci:{lay}:m", f"{reg.host}/multi:1")
    proxy = fault_proxy(reg.host)
    proxy.add("corrupt", path=r"/blobs/sha256:", method="GET", times=100)
    p = copa_copy(f"{proxy.host}/multi:1", f"oci:{tmp_path}/out:x", check=False)
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1
    assert "digest" in p.stderr
    assert not (tmp_path / "out").exists()
    p = copa_copy(f"{proxy.host}/multi:1", f"docker-archive:{tmp_path}/out.tar",
                  "--platform", "linux/amd64", check=False)
    assert p.returncode == 1
    assert not (tmp_path / "out.tar").exists()
    assert [f for f in tmp_path.iterdir() if f.name.startswith(".copa")] == []


def test_docker_manifest_list_stays_docker_in_registry(copa_copy, reg, tmp_path):
    a, b, c = layers()
    src = tmp_path / "dl"
    idesc = it.write_multiarch(src, [("amd64", None, [a, b]), ("arm64", "v8", [c])],
                               tag="l", media="docker")
    ref = f"{reg.host}/dlist:1"
    copa_copy(f"oci:{src}:l", ref)
    assert raw(ref) == it.blob_bytes(src, idesc["digest"])
    assert json.loads(raw(ref))["mediaType"] == it.DOCKER_LIST
    copa_copy(ref, f"{reg.host}/dlist:copy")
    assert raw(f"{reg.host}/dlist:copy") == it.blob_bytes(src, idesc["digest"])
