"""Build OCI/Docker images for tests with Python's own tar/gzip/json, so the
fixtures do not depend on the code under test. Independent validation of what
copa writes is done with skopeo and umoci, not with this module."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import subprocess
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

LAYER_TYPES = {
    ("oci", None): "application/vnd.oci.image.layer.v1.tar",
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("docker", None): "application/vnd.docker.image.rootfs.diff.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("docker", "zstd"): "application/vnd.docker.image.rootfs.diff.tar.zstd",
}


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_tar_entries(tf, entries):
    """Adds entries to an open tarfile: a list of (path, spec) where spec is
    bytes/str (a 0644 file), None (a directory), or a dict with type in {file,
    dir, symlink, hardlink, whiteout, opaque} and optional
    data/target/mode/uid/gid/mtime/pax."""
    for path, spec in entries:
        if spec is None:
            spec = {"type": "dir"}
        elif isinstance(spec, (bytes, str)):
            spec = {"type": "file", "data": spec}
        kind = spec.get("type", "file")
        if kind == "whiteout":
            d, b = os.path.split(path)
            path, kind, spec = os.path.join(d, ".wh." + b), "file", {"data": b""}
        elif kind == "opaque":
            path, kind, spec = os.path.join(path, ".wh..wh..opq"), "file", {"data": b""}
        ti = tarfile.TarInfo(path)
        ti.mtime = spec.get("mtime", 1700000000)
        ti.uid = spec.get("uid", 0)
        ti.gid = spec.get("gid", 0)
        data = None
        if kind == "dir":
            ti.type = tarfile.DIRTYPE
            ti.mode = spec.get("mode", 0o755)
        elif kind == "symlink":
            ti.type = tarfile.SYMTYPE
            ti.linkname = spec["target"]
            ti.mode = 0o777
        elif kind == "hardlink":
            ti.type = tarfile.LNKTYPE
            ti.linkname = spec["target"]
            ti.mode = spec.get("mode", 0o644)
        else:
            data = spec.get("data", b"")
            if isinstance(data, str):
                data = data.encode()
            ti.size = len(data)
            ti.mode = spec.get("mode", 0o644)
        if "pax" in spec:
            ti.pax_headers = spec["pax"]
        tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def tar_layer(entries):
    """A PAX tar of entries (see add_tar_entries). Returns tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        add_tar_entries(tf, entries)
    return buf.getvalue()


def compress(data, compression):
    if compression is None:
        return data
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                              check=True).stdout
    raise ValueError(compression)


class Blobs:
    def __init__(self, layout):
        self.dir = pathlib.Path(layout) / "blobs" / "sha256"
        self.dir.mkdir(parents=True, exist_ok=True)

    def put(self, data):
        d = sha256(data)
        (self.dir / d.split(":")[1]).write_bytes(data)
        return d


def image_config(diff_ids, arch="amd64", os_="linux", variant=None, extra=None):
    cfg = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": os_,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                    for i in range(len(diff_ids))],
    }
    if variant:
        cfg["variant"] = variant
    if extra:
        cfg.update(extra)
    return cfg


def add_image(layout, layers, media="oci", compression="gzip", arch="amd64", variant=None,
              config_extra=None, annotations=None):
    """Writes config, layers and manifest blobs into an OCI layout directory.
    layers: list of uncompressed tar bytes. Returns the manifest descriptor."""
    blobs = Blobs(layout)
    descs, diff_ids = [], []
    for tar in layers:
        blob = compress(tar, compression)
        diff_ids.append(sha256(tar))
        descs.append({"mediaType": LAYER_TYPES[(media, compression)],
                      "digest": blobs.put(blob), "size": len(blob)})
    cfg = json.dumps(image_config(diff_ids, arch=arch, variant=variant, extra=config_extra),
                     separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST,
        "config": {"mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG,
                   "digest": blobs.put(cfg), "size": len(cfg)},
        "layers": descs,
    }
    if annotations and media == "oci":
        manifest["annotations"] = annotations
    mbytes = json.dumps(manifest, indent=2).encode()
    desc = {"mediaType": manifest["mediaType"], "digest": blobs.put(mbytes), "size": len(mbytes),
            "platform": {"architecture": arch, "os": "linux"}}
    if variant:
        desc["platform"]["variant"] = variant
    return desc


def write_index_json(layout, manifests, tag=None):
    layout = pathlib.Path(layout)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    for m in manifests:
        m = dict(m)
        if tag:
            m["annotations"] = {"org.opencontainers.image.ref.name": tag}
        entries.append(m)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (layout / "index.json").write_text(json.dumps(index, indent=2))


def write_image(layout, layers, tag="latest", **kw):
    """A single-platform OCI layout with one tagged image; returns its manifest descriptor."""
    desc = add_image(layout, layers, **kw)
    d = dict(desc)
    d.pop("platform", None)
    write_index_json(layout, [d], tag=tag)
    return desc


def write_multiarch(layout, per_platform, tag="latest", media="oci", compression="gzip"):
    """per_platform: list of (arch, variant, layers). Writes a nested index
    (index.json -> image index -> manifests); returns the index descriptor."""
    blobs = Blobs(layout)
    descs = [add_image(layout, layers, media=media, compression=compression, arch=a, variant=v)
             for a, v, layers in per_platform]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX if media == "oci" else DOCKER_LIST,
             "manifests": descs}
    ibytes = json.dumps(index, indent=2).encode()
    idesc = {"mediaType": index["mediaType"], "digest": blobs.put(ibytes), "size": len(ibytes)}
    write_index_json(layout, [idesc], tag=tag)
    return idesc


def skopeo(*args, check=True):
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=check)


def skopeo_inspect_raw(ref, tls=False):
    args = ["inspect", "--raw"]
    if ref.startswith("docker://") and not tls:
        args.append("--tls-verify=false")
    return json.loads(skopeo(*args, ref).stdout)


def umoci_unpack(layout, tag, dest):
    """Unpacks with umoci (rootless mode) into dest/rootfs; returns the rootfs path."""
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", str(dest)],
                   capture_output=True, text=True, check=True)
    return pathlib.Path(dest) / "rootfs"


# ---- extensions for the image transport tests ----

FOREIGN_TYPES = {
    "oci": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "docker": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}


def add_image_mixed(layout, layers, media="oci", arch="amd64", variant=None, foreign=()):
    """Like add_image, with one compression per layer: layers is a list of
    (tar bytes, compression in {None, "gzip", "zstd"}); indexes in `foreign`
    get the non-distributable media type (gzip) and a urls entry. Returns
    (manifest descriptor, manifest bytes, config bytes)."""
    blobs = Blobs(layout)
    descs, diff_ids = [], []
    for i, (tar, comp) in enumerate(layers):
        if i in foreign:
            comp = "gzip"
        blob = compress(tar, comp)
        diff_ids.append(sha256(tar))
        mt = FOREIGN_TYPES[media] if i in foreign else LAYER_TYPES[(media, comp)]
        d = {"mediaType": mt, "digest": blobs.put(blob), "size": len(blob)}
        if i in foreign:
            d["urls"] = ["https://example.invalid/foreign-layer"]
        descs.append(d)
    cfg = json.dumps(image_config(diff_ids, arch=arch, variant=variant),
                     separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST,
        "config": {"mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG,
                   "digest": blobs.put(cfg), "size": len(cfg)},
        "layers": descs,
    }
    mbytes = json.dumps(manifest, indent=3).encode()
    desc = {"mediaType": manifest["mediaType"], "digest": blobs.put(mbytes), "size": len(mbytes)}
    return desc, mbytes, cfg


def add_attestation(layout, subject_digest):
    """A BuildKit-style attestation manifest (unknown/unknown) for an index."""
    blobs = Blobs(layout)
    stmt = b'{"_type":"https://in-toto.io/Statement/v0.1"}'
    cfg = b'{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}'
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": blobs.put(cfg), "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.in-toto+json",
                            "digest": blobs.put(stmt), "size": len(stmt)}]}
    mbytes = json.dumps(manifest).encode()
    return {"mediaType": OCI_MANIFEST, "digest": blobs.put(mbytes), "size": len(mbytes),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                            "vnd.docker.reference.digest": subject_digest}}


def write_index_blob(layout, descs, media="oci", annotations=None):
    blobs = Blobs(layout)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX if media == "oci" else DOCKER_LIST,
             "manifests": descs}
    if annotations:
        index["annotations"] = annotations
    ibytes = json.dumps(index, indent=2).encode()
    return {"mediaType": index["mediaType"], "digest": blobs.put(ibytes),
            "size": len(ibytes)}, ibytes


def blob_bytes(layout, digest):
    return (pathlib.Path(layout) / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _tar_add(tf, name, data=None, kind="file", target=None):
    ti = tarfile.TarInfo(name)
    ti.mtime = 1700000000
    if kind == "dir":
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(ti)
    elif kind == "symlink":
        ti.type, ti.linkname = tarfile.SYMTYPE, target
        tf.addfile(ti)
    else:
        ti.size, ti.mode = len(data), 0o644
        tf.addfile(ti, io.BytesIO(data))


def docker_save_classic(path, images):
    """A `docker save` archive in the Docker < 25 layout. images: list of
    (layers: [tar bytes], repo_tags: [str]). Identical layers are stored once
    and linked by symlink, as Docker does. Returns [(config digest, diff_ids)]."""
    out = []
    with tarfile.open(path, "w") as tf:
        manifest, repositories, seen = [], {}, {}
        for layers, tags in images:
            diff_ids = [sha256(t) for t in layers]
            cfg = json.dumps(image_config(diff_ids)).encode()
            cfg_hex = sha256(cfg).split(":")[1]
            _tar_add(tf, f"{cfg_hex}.json", cfg)
            paths, parent = [], ""
            for tar in layers:
                lid = hashlib.sha256((parent + sha256(tar)).encode()).hexdigest()
                parent = lid
                _tar_add(tf, f"{lid}/", kind="dir")
                _tar_add(tf, f"{lid}/VERSION", b"1.0")
                _tar_add(tf, f"{lid}/json", json.dumps({"id": lid}).encode())
                if sha256(tar) in seen:
                    _tar_add(tf, f"{lid}/layer.tar", kind="symlink",
                             target=f"../{seen[sha256(tar)]}/layer.tar")
                else:
                    _tar_add(tf, f"{lid}/layer.tar", tar)
                    seen[sha256(tar)] = lid
                paths.append(f"{lid}/layer.tar")
            manifest.append({"Config": f"{cfg_hex}.json", "RepoTags": tags, "Layers": paths})
            for t in tags:
                repo, tag = t.rsplit(":", 1)
                repositories.setdefault(repo, {})[tag] = parent
            out.append((sha256(cfg), diff_ids))
        _tar_add(tf, "manifest.json", json.dumps(manifest).encode())
        _tar_add(tf, "repositories", json.dumps(repositories).encode())
    return out


def docker_save_v25(path, layers, tag="app:1"):
    """A `docker save` archive in the Docker >= 25 layout: an OCI layout with
    uncompressed layers named by diff_id, plus manifest.json. Returns the OCI
    manifest descriptor."""
    stage = pathlib.Path(str(path) + ".stage")
    desc = add_image(stage, layers, compression=None)
    cfg = json.loads(blob_bytes(stage, desc["digest"]))["config"]["digest"]
    d = dict(desc)
    d.pop("platform")
    repo, t = tag.rsplit(":", 1)
    d["annotations"] = {"io.containerd.image.name": f"docker.io/library/{tag}",
                        "org.opencontainers.image.ref.name": t}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d]}
    manifest = [{"Config": "blobs/sha256/" + cfg.split(":")[1], "RepoTags": [tag],
                 "Layers": ["blobs/sha256/" + sha256(x).split(":")[1] for x in layers]}]
    with tarfile.open(path, "w") as tf:
        _tar_add(tf, "blobs/", kind="dir")
        _tar_add(tf, "blobs/sha256/", kind="dir")
        for f in sorted((stage / "blobs" / "sha256").iterdir()):
            _tar_add(tf, f"blobs/sha256/{f.name}", f.read_bytes())
        _tar_add(tf, "index.json", json.dumps(index).encode())
        _tar_add(tf, "manifest.json", json.dumps(manifest).encode())
        _tar_add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _tar_add(tf, "repositories", json.dumps({repo: {t: "x"}}).encode())
    return desc


def hostile_tar(path, members):
    """A tar with arbitrary member names: members is a list of (name, bytes)."""
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            _tar_add(tf, name, data)
