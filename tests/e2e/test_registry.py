"""The registry client (src/registry) against real docker-registry servers,
driven through copa-regtool; skopeo checks what we push and pushes what we
pull. Auth, credential discovery and fault handling are in
test_registry_auth.py and test_registry_faults.py."""
import hashlib
import json
import os
import subprocess

import pytest

import imagetools
from fx_registry import kv


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layout(tmp_path, name="layout", layers=2):
    layout = tmp_path / name
    tars = [imagetools.tar_layer([(f"etc/file{i}", os.urandom(20000 + i) + b"x" * 5000)])
            for i in range(layers)]
    desc = imagetools.write_image(layout, tars, tag="v1")
    return layout, desc


def blob(layout, digest):
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def push_layout(regtool, host, repo, layout, desc, tag="v1", extra=()):
    manifest = json.loads(blob(layout, desc["digest"]))
    for d in [manifest["config"], *manifest["layers"]]:
        f = layout / "blobs" / "sha256" / d["digest"].split(":")[1]
        p = regtool(*extra, "put-blob", f"{host}/{repo}", f)
        assert p.returncode == 0, p.stderr
        assert kv(p.stdout)["digest"] == d["digest"]
    mf = layout / "blobs" / "sha256" / desc["digest"].split(":")[1]
    p = regtool(*extra, "put-manifest", f"{host}/{repo}:{tag}", mf, desc["mediaType"])
    assert p.returncode == 0, p.stderr
    assert kv(p.stdout)["digest"] == desc["digest"]
    return manifest


def test_push_checked_by_skopeo(regtool, make_registry, tmp_path):
    reg = make_registry()
    layout, desc = make_layout(tmp_path)
    manifest = push_layout(regtool, reg.host, "copa/app", layout, desc)
    # skopeo sees the exact manifest bytes we pushed and can copy the image out.
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{reg.host}/copa/app:v1"], capture_output=True, check=True)
    assert raw.stdout == blob(layout, desc["digest"])
    out = tmp_path / "skopeo-out"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{reg.host}/copa/app:v1",
                    f"oci:{out}:v1"], capture_output=True, check=True)
    for d in manifest["layers"]:
        assert blob(out, d["digest"]) == blob(layout, d["digest"])


def test_pull_what_skopeo_pushed(regtool, make_registry, tmp_path):
    reg = make_registry()
    layout, desc = make_layout(tmp_path, layers=3)
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                    f"docker://{reg.host}/lib/pulled:1.0"], capture_output=True, check=True)
    out = tmp_path / "m.json"
    p = regtool("get-manifest", f"{reg.host}/lib/pulled:1.0", out)
    assert p.returncode == 0, p.stderr
    info = kv(p.stdout)
    data = out.read_bytes()
    assert info["digest"] == sha(data)
    assert info["mediaType"] == json.loads(data)["mediaType"]
    # By digest as well, and HEAD agrees.
    p = regtool("get-manifest", f"{reg.host}/lib/pulled@{info['digest']}", tmp_path / "m2.json")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "m2.json").read_bytes() == data
    p = regtool("head-manifest", f"{reg.host}/lib/pulled:1.0")
    assert kv(p.stdout) == {"exists": "yes", "digest": info["digest"],
                            "mediaType": info["mediaType"], "size": str(len(data))}
    manifest = json.loads(data)
    for d in [manifest["config"], *manifest["layers"]]:
        dest = tmp_path / d["digest"].split(":")[1]
        p = regtool("get-blob", f"{reg.host}/lib/pulled", d["digest"], dest, d["size"])
        assert p.returncode == 0, p.stderr
        assert sha(dest.read_bytes()) == d["digest"]
        assert len(dest.read_bytes()) == d["size"]


def test_missing_manifest_and_blob_fail_cleanly(regtool, make_registry, tmp_path):
    reg = make_registry()
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "nothing.json"
    p = regtool("get-manifest", f"{reg.host}/copa/none:v9", out)
    assert p.returncode == 1
    assert "error[not-found]" in p.stderr
    assert "MANIFEST_UNKNOWN" in p.stderr or "NAME_UNKNOWN" in p.stderr
    assert "'v9'" in p.stderr
    assert not out.exists()
    p = regtool("head-manifest", f"{reg.host}/copa/none:v9")
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "no"
    missing = "sha256:" + "ab" * 32
    p = regtool("get-blob", f"{reg.host}/copa/none", missing, out)
    assert p.returncode == 1 and "error[not-found]" in p.stderr, p.stderr
    assert not out.exists()
    assert list(outdir.iterdir()) == [], "temporary files left behind"


def test_manifest_pushed_before_its_blobs_is_refused(regtool, make_registry, tmp_path):
    reg = make_registry()
    layout, desc = make_layout(tmp_path)
    mf = layout / "blobs" / "sha256" / desc["digest"].split(":")[1]
    p = regtool("put-manifest", f"{reg.host}/copa/app:v1", mf, desc["mediaType"])
    assert p.returncode == 1
    assert "MANIFEST_BLOB_UNKNOWN" in p.stderr, p.stderr
    assert "cannot push manifest 'v1'" in p.stderr


def test_invalid_names_and_oversized_manifest(regtool, make_registry, tmp_path):
    reg = make_registry()
    for bad in ["Copa/App", "copa//x", "copa/-x", "copa/a..b", "copa/a___b"]:
        p = regtool("get-manifest", f"{reg.host}/{bad}:v1", tmp_path / "o")
        assert p.returncode == 1 and "error[input]" in p.stderr and "invalid repository" in p.stderr
    p = regtool("get-manifest", f"{reg.host}/copa/app:-bad", tmp_path / "o")
    assert p.returncode == 1 and "not a valid tag" in p.stderr
    big = tmp_path / "big.json"
    big.write_bytes(b'{"schemaVersion":2,"x":"' + b"a" * (5 << 20) + b'"}')
    p = regtool("put-manifest", f"{reg.host}/copa/app:v1", big,
                "application/vnd.oci.image.manifest.v1+json")
    assert p.returncode == 1 and "error[limit]" in p.stderr, p.stderr


def test_upload_skips_blobs_the_registry_has(regtool, make_registry, fault_proxy, tmp_path):
    reg = make_registry()
    proxy = fault_proxy(reg.host)
    f = tmp_path / "blob"
    f.write_bytes(os.urandom(50000))
    assert regtool("put-blob", f"{proxy.host}/copa/a", f).returncode == 0
    posts = len(proxy.requests("POST"))
    assert posts == 1
    p = regtool("put-blob", f"{proxy.host}/copa/a", f)
    assert p.returncode == 0, p.stderr
    assert len(proxy.requests("POST")) == posts, "uploaded a blob the registry already had"
    assert len(proxy.requests("HEAD", r"/v2/copa/a/blobs/sha256:")) == 2


def test_chunked_upload_with_relative_locations(regtool, make_registry, fault_proxy, tmp_path):
    # relativeurls: the registry sends Location as a path with a ?_state= query.
    reg = make_registry(http_extra="  relativeurls: true\n")
    proxy = fault_proxy(reg.host)
    data = os.urandom(300000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    p = regtool("--chunk-size", "65536", "put-blob", f"{proxy.host}/copa/chunked", f)
    assert p.returncode == 0, p.stderr
    patches = proxy.requests("PATCH")
    assert len(patches) == 5
    ranges = [e["headers"]["content-range"] for e in patches]
    assert ranges == ["0-65535", "65536-131071", "131072-196607", "196608-262143",
                      "262144-299999"]
    assert all("_state=" in e["path"] for e in patches)
    put = proxy.requests("PUT")[-1]
    assert "_state=" in put["path"] and "&digest=sha256%3A" in put["path"], put["path"]
    out = tmp_path / "back"
    p = regtool("get-blob", f"{reg.host}/copa/chunked", sha(data), out, len(data))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == data


def test_monolithic_upload_appends_digest_to_location_query(regtool, make_registry,
                                                            fault_proxy, tmp_path):
    reg = make_registry(http_extra="  relativeurls: true\n")
    proxy = fault_proxy(reg.host)
    f = tmp_path / "blob"
    f.write_bytes(b"")  # the empty blob is a blob too
    p = regtool("put-blob", f"{proxy.host}/copa/mono", f)
    assert p.returncode == 0, p.stderr
    put = proxy.requests("PUT")
    assert len(put) == 1 and "?_state=" in put[0]["path"] and "&digest=" in put[0]["path"]
    assert not proxy.requests("PATCH")
    assert kv(regtool("exists", f"{reg.host}/copa/mono", sha(b"")).stdout)["exists"] == "yes"


def test_cross_repository_mount(regtool, make_registry, fault_proxy, tmp_path):
    reg = make_registry()
    proxy = fault_proxy(reg.host)
    data = os.urandom(40000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    assert regtool("put-blob", f"{reg.host}/copa/src", f).returncode == 0
    p = regtool("mount", f"{proxy.host}/copa/dst", sha(data), "copa/src")
    assert p.returncode == 0, p.stderr
    assert kv(p.stdout)["mounted"] == "yes"
    post = proxy.requests("POST")[0]["path"]
    assert "mount=sha256%3A" in post and "from=copa%2Fsrc" in post
    assert kv(regtool("exists", f"{reg.host}/copa/dst", sha(data)).stdout)["exists"] == "yes"
    # A blob the source does not have: not mounted, and the session is cancelled.
    other = "sha256:" + "cd" * 32
    p = regtool("mount", f"{proxy.host}/copa/dst", other, "copa/src")
    assert p.returncode == 0, p.stderr
    assert kv(p.stdout)["mounted"] == "no"
    assert proxy.requests("DELETE", r"/blobs/uploads/")


def test_insecure_registry_env_parsing(regtool, make_registry, tmp_path):
    # Loopback needs no opt-in; the env var and flag are accepted alongside.
    reg = make_registry()
    f = tmp_path / "blob"
    f.write_bytes(b"hello")
    p = regtool("put-blob", f"{reg.host}/copa/x", f,
                env={"COPA_INSECURE_REGISTRIES": " ,example.com:5000, other.test ,"})
    assert p.returncode == 0, p.stderr


def test_tags_list_follows_pages(regtool, make_registry, fault_proxy, tmp_path):
    reg = make_registry()
    proxy = fault_proxy(reg.host)
    layout, desc = make_layout(tmp_path, layers=1)
    tags = ["1.0", "1.1", "1.2", "2.0", "latest"]
    push_layout(regtool, reg.host, "copa/tagged", layout, desc, tag=tags[0])
    mf = layout / "blobs" / "sha256" / desc["digest"].split(":")[1]
    for t in tags[1:]:
        p = regtool("put-manifest", f"{reg.host}/copa/tagged:{t}", mf, desc["mediaType"])
        assert p.returncode == 0, p.stderr
    proxy.add("paginate", path=r"/tags/list", times=100)
    p = regtool("tags", f"{proxy.host}/copa/tagged", "2")
    assert p.returncode == 0, p.stderr
    got = [line.split(" ", 1)[1] for line in p.stdout.splitlines() if line.startswith("tag ")]
    assert sorted(got) == sorted(tags)
    gets = [e["path"] for e in proxy.requests("GET") if "/tags/list" in e["path"]]
    assert gets[0].endswith("/v2/copa/tagged/tags/list?n=2"), gets
    assert len(gets) == 3, gets  # 2 + 2 + 1 tags: the client followed the Link pages
    assert "last=1.1" in gets[1] and "last=2.0" in gets[2], gets
    # a Link to another server is not followed (credentials and trust stay with the registry)
    proxy.rules.clear()
    proxy.add("status", path=r"/tags/list", status=200, times=1,
              headers={"Link": '<http://example.invalid/v2/copa/tagged/tags/list?n=2>; rel="next"'})
    p = regtool("tags", f"{proxy.host}/copa/tagged", "2")
    assert p.returncode == 1 and "another server" in p.stderr, p.stderr
    p = regtool("tags", f"{reg.host}/copa/none")
    assert p.returncode == 1 and "not found" in p.stderr, p.stderr
