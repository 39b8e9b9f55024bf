"""copa patch updating ca-certificates in images whose certificate store was
not made by the package's scripts: what the user finds in the patched image."""
import os
import subprocess

import pytest

from fx_patch import unpack

pytestmark = pytest.mark.usefixtures("dpkg_tools")


def test_distroless_gets_only_its_bundle_updated(copa, world, tmp_path):
    """A distroless image (status.d, no dpkg scripts ever ran) has the bundle
    and nothing else in /etc/ssl/certs. After patching ca-certificates it has
    the new bundle and still no ca-certificates.conf, .pem links or hash
    links it never had."""
    old = world.pkg("ca-certificates", "1.0-1",
                    {"/usr/share/ca-certificates/mozilla/A.crt": "first\n"},
                    arch="all")
    new = world.pkg("ca-certificates", "1.0-2",
                    {"/usr/share/ca-certificates/mozilla/A.crt": "first\n",
                     "/usr/share/ca-certificates/mozilla/B.crt": "second\n"},
                    arch="all")
    world.publish(new)
    root = tmp_path / "distroless"
    for d in ("usr/lib", "etc/ssl/certs", "var/lib/dpkg/status.d", "usr/local/share"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.symlink("usr/lib", root / "lib")
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    fields = subprocess.run(["dpkg-deb", "--field", str(old)], capture_output=True, text=True,
                            check=True).stdout
    (root / "var/lib/dpkg/status.d/ca-certificates").write_text(fields)
    subprocess.run(["dpkg-deb", "-x", str(old), str(root)], check=True)
    (root / "etc/ssl/certs/ca-certificates.crt").write_text("first\n")
    layout = world.image(root)
    copa("patch", "-i", f"oci:{layout}:1.0", "--repo-replace", "--repo",
         f"deb [signed-by={world.key.public}] {world.url} stable main", check=True)
    rootfs = unpack(layout, "1.0-patched", tmp_path / "u")
    assert "Version: 1.0-2" in (rootfs / "var/lib/dpkg/status.d/ca-certificates").read_text()
    assert (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text() == "first\nsecond\n"
    assert sorted(os.listdir(rootfs / "etc/ssl/certs")) == ["ca-certificates.crt"]
    assert not (rootfs / "etc/ca-certificates.conf").exists()
    assert not (rootfs / "usr/local/share/ca-certificates").exists()
