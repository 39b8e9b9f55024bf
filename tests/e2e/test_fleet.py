"""Bulk patching (`copa patch --config`, src/fleet/) against the real
docker-registry on 127.0.0.1: three repositories of images that share a base
layer, pushed with skopeo; a signed Debian repository of updates; every tag
strategy, exclude, maxTags and a per-image target. The registry is reached
through a recording proxy, so the tests count what copa writes (PUTs). The
patched images are pulled back with skopeo and unpacked with umoci; the
package versions inside are read with the real dpkg-query."""
import json
import os
import subprocess
import sys
import concurrent.futures

import pytest

import imagetools as it
from fx_patch import dpkg_versions, tar_dir, unpack

CONFIG = """\
apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: {host}/patched
images:
  - name: app1
    image: {host}/base/app1
    tags:
      strategy: pattern
      pattern: '^1\\.[0-9]+$'
      maxTags: 2
      exclude: ["1.2"]
    platforms: [linux/amd64]
  - name: app2
    image: {host}/base/app2
    tags: {{strategy: latest}}
  - name: app3
    image: {host}/base/app3
    tags: {{strategy: list, list: ["a", "b"]}}
    target: {{tag: "{{{{ .SourceTag }}}}-fixed"}}
"""

# what the config selects, and where each goes
EXPECTED = {
    "base/app1:1.0": "patched/app1:1.0-patched",
    "base/app1:1.1": "patched/app1:1.1-patched",
    "base/app2:3.10": "patched/app2:3.10-patched",
    "base/app3:a": "patched/app3:a-fixed",
    "base/app3:b": "patched/app3:b-fixed",
}
TAGS = {"app1": ["1.0", "1.1", "1.2", "2.0-rc", "latest"], "app2": ["3.0", "3.1", "3.10"],
        "app3": ["a", "b", "c"]}


def push(layout, tag, ref):
    it.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{ref}")


def pull_versions(ref, tmp):
    pull_versions.n += 1
    layout = tmp / f"pulled{pull_versions.n}"
    it.skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{layout}:x")
    root = unpack(layout, "x", tmp / (layout.name + "-root"))
    return dpkg_versions(root)


pull_versions.n = 0


@pytest.fixture
def fleet(world, make_registry, fault_proxy, tmp_path):
    liba1 = world.pkg("liba", "1.0", {"usr/lib/liba.so": b"a1"})
    libb1 = world.pkg("libb", "1.0", {"usr/lib/libb.so": b"b1"})
    liba2 = world.pkg("liba", "1.1", {"usr/lib/liba.so": b"a2"})
    libb2 = world.pkg("libb", "1.1", {"usr/lib/libb.so": b"b2"})
    world.publish(liba1, libb1, liba2, libb2)
    # app1 and app2 share one base layer (liba + libb); app3 has only libb
    base = tar_dir(world.rootfs([liba1, libb1], name="root-ab"))
    base_b = tar_dir(world.rootfs([libb1], name="root-b"))
    reg = make_registry()
    proxy = fault_proxy(reg.host)
    for repo, tags in TAGS.items():
        layers = [base_b if repo == "app3" else base,
                  it.tar_layer([(f"srv/{repo}/app", repo.encode())])]
        layout = tmp_path / f"src-{repo}"
        for t in tags:
            it.write_image(layout, layers, tag=t)
            push(layout, t, f"{reg.host}/base/{repo}:{t}")
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG.format(host=proxy.host))
    return world, reg, proxy, cfg


def run_fleet(copa, cfg, tmp_path, *extra, name="summary.json", env=None):
    summary = tmp_path / name
    p = copa("patch", "--config", cfg, "--summary", summary, *extra, env=env)
    doc = json.loads(summary.read_text()) if summary.exists() else None
    return p, doc


def statuses(doc, host):
    return {e["source"].replace(host + "/", ""): e["status"] for e in doc["images"]}


def test_fleet_patches_skips_and_repatches(copa, fleet, tmp_path):
    world, reg, proxy, cfg = fleet
    p, doc = run_fleet(copa, cfg, tmp_path, "--jobs", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(doc, proxy.host) == {s: "patched" for s in EXPECTED}
    assert {e["target"].replace(proxy.host + "/", "") for e in doc["images"]} == \
        set(EXPECTED.values())
    # the table names every image, and the closing line counts them
    assert "5 images: 5 patched, 0 up to date, 0 failed" in p.stdout, p.stdout
    for src, dst in EXPECTED.items():
        v = pull_versions(f"{reg.host}/{dst}", tmp_path)
        assert v["libb"] == "1.1"
        assert v.get("liba") == (None if src.startswith("base/app3") else "1.1"), (dst, v)
    # tags the strategies leave out were not written
    tags = it.skopeo("list-tags", "--tls-verify=false",
                     f"docker://{reg.host}/patched/app1").stdout
    assert sorted(json.loads(tags)["Tags"]) == ["1.0-patched", "1.1-patched"]

    # app1 and app2 share the base and get the same updates: one patch layer, compressed once
    # and uploaded once; app1:1.1 finds it in its repository, app2 mounts it from app1's
    layers = {dst: json.loads(it.skopeo("inspect", "--raw", "--tls-verify=false",
                                        f"docker://{reg.host}/{dst}").stdout)["layers"][-1]["digest"]
              for src, dst in EXPECTED.items() if not src.startswith("base/app3")}
    assert len(set(layers.values())) == 1, layers
    digest = next(iter(layers.values()))
    puts = [e for e in proxy.requests("PUT") if f"digest={digest.replace(':', '%3A')}" in e["path"]]
    assert len(puts) == 1, puts
    assert len([e for e in proxy.requests("POST") if f"mount={digest}" in e["path"]
                or f"mount={digest.replace(':', '%3A')}" in e["path"]]) == 1

    # a second run finds everything done and writes nothing
    before = len(proxy.requests("PUT")) + len(proxy.requests("POST"))
    assert len(proxy.requests("PUT", r"/manifests/")) >= 5
    p, doc = run_fleet(copa, cfg, tmp_path, name="summary2.json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(doc, proxy.host) == {s: "up-to-date" for s in EXPECTED}
    assert len(proxy.requests("PUT")) + len(proxy.requests("POST")) == before

    # a newer liba re-patches the images that have liba, and only those
    world.publish(world.pkg("liba", "1.2", {"usr/lib/liba.so": b"a3"}))
    p, doc = run_fleet(copa, cfg, tmp_path, name="summary3.json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(doc, proxy.host) == {
        s: ("up-to-date" if s.startswith("base/app3") else "patched") for s in EXPECTED}
    v = pull_versions(f"{reg.host}/patched/app1:1.0-patched", tmp_path)
    assert v["liba"] == "1.2"
    # re-patching replaced copa's layer: base + app + one patch layer
    raw = json.loads(it.skopeo("inspect", "--raw", "--tls-verify=false",
                               f"docker://{reg.host}/patched/app1:1.0-patched").stdout)
    assert len(raw["layers"]) == 3


def test_images_sharing_a_base_share_verification_and_plan(copa, fleet, tmp_path):
    """In one run, the InRelease is given to gpgv by the first image only and images with the
    same dpkg status and repositories take the first one's plan; every image still gets the
    right packages."""
    import shutil
    world, reg, proxy, cfg = fleet
    real = shutil.which("gpgv")
    bindir = tmp_path / "gpgv-bin"
    bindir.mkdir()
    calls = tmp_path / "gpgv-calls"
    (bindir / "gpgv").write_text(f"#!/bin/sh\necho call >> '{calls}'\nexec '{real}' \"$@\"\n")
    (bindir / "gpgv").chmod(0o755)
    p, doc = run_fleet(copa, cfg, tmp_path, "--jobs", "1", "-v",
                       env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(doc, proxy.host) == {s: "patched" for s in EXPECTED}
    # one repository: one gpgv run for five images
    assert len(calls.read_text().splitlines()) == 1
    assert p.stderr.count("verified before (good signature by") == 4
    # app1:1.0, 1.1 and app2 share a base, app3:a and b another: two plans, three reused
    assert p.stderr.count("plan: planned before for the same packages") == 3
    for src, dst in EXPECTED.items():
        v = pull_versions(f"{reg.host}/{dst}", tmp_path)
        assert v["libb"] == "1.1"
        assert v.get("liba") == (None if src.startswith("base/app3") else "1.1"), (dst, v)


def test_shards_cover_the_list_once(copa_bin, fleet, tmp_path):
    world, reg, proxy, cfg = fleet
    import os

    def shard(i):
        summary = tmp_path / f"shard{i}.json"
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), JOB_COMPLETION_INDEX=str(i))
        p = subprocess.run([copa_bin, "patch", "--cache-dir", str(tmp_path / f"cache{i % 2}"),
                            "--config", str(cfg), "--shard", "auto/3", "--summary",
                            str(summary)], capture_output=True, text=True, env=env, timeout=600)
        return p, json.loads(summary.read_text())

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        results = list(ex.map(shard, range(3)))
    seen = []
    for p, doc in results:
        assert p.returncode == 0, p.stdout + p.stderr
        seen += [e["source"].replace(proxy.host + "/", "") for e in doc["images"]]
        assert all(e["status"] == "patched" for e in doc["images"])
    assert sorted(seen) == sorted(EXPECTED)


@pytest.mark.parametrize("text,want", [
    ("apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: r/x\n"
     "    tags: {strategy: list, list: [a]}\n    colour: blue\n", ":6: colour: unknown key"),
    ("apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: r/x\n"
     "    tags: {strategy: pattern, pattern: '(['}\n", ":5: pattern: '(['"),
    ("apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages: [\n", ":4: not valid YAML"),
])
def test_bad_config_is_one_line_naming_file_and_line(copa, tmp_path, text, want):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    p = copa("patch", "--config", cfg)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{cfg}{want}" in lines[0], p.stderr


def test_config_usage_errors(copa, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("x: 1\n")
    p = copa("patch", "--config", cfg, "-i", "a/b:1")
    assert p.returncode == 2 and "--config cannot be used with -i" in p.stderr
    p = copa("patch", "--config", cfg, "--shard", "3/3")
    assert p.returncode == 2 and "index 3 is not below" in p.stderr
    p = copa("patch", "-i", "a/b:1", "--shard", "0/2")
    assert p.returncode == 2 and "--shard is for --config" in p.stderr


def test_same_layer_content_is_compressed_once(copa, world, tmp_path):
    """Two images with the same packages and different app layers get the same patch
    layer; the second run takes the compressed blob from the cache."""
    old = world.pkg("liba", "1.0", {"usr/lib/liba.so": b"a1"})
    world.publish(old, world.pkg("liba", "1.1", {"usr/lib/liba.so": b"a2" * 5000}))
    base = tar_dir(world.rootfs([old]))
    for i in range(2):
        it.write_image(tmp_path / f"img{i}", [base, it.tar_layer([(f"srv/{i}", b"x")])],
                       tag="s")
    got = []
    for i in range(2):
        p = copa("patch", "-i", f"oci:{tmp_path}/img{i}:s", "-t", f"p{i}", "--progress",
                 "plain")
        assert p.returncode == 0, p.stderr
        got.append(p.stderr)
    assert "compress layer" in got[0] and "compressed before" not in got[0]
    assert "the same content was compressed before" in got[1] and "compress layer" not in got[1]
    digests = {}
    for i in range(2):
        layout = tmp_path / f"img{i}"
        for d in json.loads((layout / "index.json").read_text())["manifests"]:
            tag = d.get("annotations", {}).get("org.opencontainers.image.ref.name")
            if tag == f"p{i}":
                blob = layout / "blobs" / "sha256" / d["digest"].split(":")[1]
                digests[tag] = json.loads(blob.read_text())["layers"][-1]["digest"]
    assert len(digests) == 2 and digests["p0"] == digests["p1"], digests


def test_decompressed_package_data_is_cached_and_checked(copa, world, tmp_path):
    """A second run links the verified decompressed data.tar of a cached package instead of
    decompressing it again; a cached copy that was changed is not used."""
    old = world.pkg("liba", "1.0", {"usr/lib/liba.so": b"a1"})
    world.publish(old, world.pkg("liba", "1.1", {"usr/lib/liba.so": b"a2" * 5000}))
    base = tar_dir(world.rootfs([old]))
    cache = tmp_path / "c"

    def run(tag):
        # a different image each time (its own app layer), so no whole layer is reused
        layout = tmp_path / f"img-{tag}"
        it.write_image(layout, [base, it.tar_layer([(f"srv/{tag}", tag.encode())])], tag="1.0")
        p = copa("patch", "--cache-dir", cache, "-i", f"oci:{layout}:1.0", "-t", tag, "-v",
                 "--progress", "plain", cache_dir=False)
        assert p.returncode == 0, p.stderr
        root = unpack(layout, tag, tmp_path / f"root-{tag}")
        assert (root / "usr/lib/liba.so").read_bytes() == b"a2" * 5000
        assert dpkg_versions(root)["liba"] == "1.1"
        return p.stderr

    assert "data.tar from the cache" not in run("p1")
    assert "liba_1.1_amd64.deb: data.tar from the cache" in run("p2")
    # tamper with every cached data.tar: the next run decompresses the .deb again
    for rec in (cache / "deb-data").iterdir():
        digest = rec.read_text().strip()
        blob = cache / "blobs" / "sha256" / digest.split(":")[1]
        data = bytearray(blob.read_bytes())
        data[600] ^= 0xFF
        blob.chmod(0o644)
        blob.write_bytes(bytes(data))
    assert "data.tar from the cache" not in run("p3")


def test_a_failed_image_does_not_stop_the_others(copa, fleet, tmp_path):
    world, reg, proxy, cfg = fleet
    cfg.write_text(cfg.read_text() + f"""\
  - name: gone
    image: {proxy.host}/base/missing
    tags: {{strategy: latest}}
  - name: badtag
    image: {proxy.host}/base/app3
    tags: {{strategy: list, list: ["nosuchtag"]}}
    target: {{tag: "{{{{ .SourceTag }}}}-x"}}
""")
    p, doc = run_fleet(copa, cfg, tmp_path, "--jobs", "2")
    assert p.returncode == 1, p.stdout + p.stderr
    rows = {e["image"] + ":" + (e["source"] or "-").rsplit(":", 1)[-1]: e for e in doc["images"]}
    assert rows["gone:-"]["status"] == "failed" and "not found" in rows["gone:-"]["details"]
    assert rows["badtag:nosuchtag"]["status"] == "failed"
    assert "nosuchtag" in rows["badtag:nosuchtag"]["details"]
    assert sum(e["status"] == "patched" for e in doc["images"]) == len(EXPECTED), \
        (doc["images"], p.stdout + p.stderr)
    assert "7 images: 5 patched, 0 up to date, 2 failed" in p.stdout, p.stdout
