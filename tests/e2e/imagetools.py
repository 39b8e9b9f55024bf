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


def tar_layer(entries):
    """entries: list of (path, spec) where spec is bytes (file), a dict with
    type in {file, dir, symlink, hardlink, whiteout, opaque} and optional
    data/target/mode/uid/gid, or None for a directory. Returns tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
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
