"""copa patch writes every destination the image engine knows: docker-archive
(loadable by podman/docker), oci-archive, and archive sources default to a
sibling archive file. Checked with skopeo, umoci and dpkg-query."""
import json
import subprocess

import pytest

import imagetools as it
from fx_patch import dpkg_versions, unpack
from test_patch import base_packages, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")


@pytest.fixture
def src_layout(world):
    world.publish(*update_packages(world))
    return world.image(world.rootfs(base_packages(world)))


def test_docker_archive_destination_loads(copa, src_layout, tmp_path, podman_store):
    out = tmp_path / "patched.tar"
    copa("patch", "-i", f"oci:{src_layout}:1.0", "-t",
         f"docker-archive:{out}:example.org/app:1.0-patched", check=True)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"docker-archive:{out}"],
                                    capture_output=True, text=True, check=True).stdout)
    assert len(raw["layers"]) == 2
    podman_store("load", "-i", out)
    images = podman_store("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "example.org/app:1.0-patched" in images
    # Read it back through skopeo into a layout umoci can unpack.
    it.skopeo("copy", f"docker-archive:{out}", f"oci:{tmp_path}/back:x")
    v = dpkg_versions(unpack(tmp_path / "back", "x", tmp_path / "u"))
    assert v["tool"] == "1.0-2" and v["libbar1"] == "1.0-1"


def test_oci_archive_source_defaults_to_a_sibling_archive(copa, src_layout, tmp_path):
    archive = tmp_path / "app.tar"
    it.skopeo("copy", f"oci:{src_layout}:1.0", f"oci-archive:{archive}:1.0")
    before = archive.read_bytes()
    copa("patch", "-i", f"oci-archive:{archive}:1.0", check=True)
    assert archive.read_bytes() == before  # the input is never rewritten
    out = tmp_path / "app-1.0-patched.tar"
    assert out.exists()
    it.skopeo("copy", f"oci-archive:{out}:1.0-patched", f"oci:{tmp_path}/back:x")
    v = dpkg_versions(unpack(tmp_path / "back", "x", tmp_path / "u"))
    assert v["tool"] == "1.0-2"
