"""copa generate: the patch as a Docker build context (Dockerfile + patch/),
as the original copa's `generate` writes it, checked by reading the tar with
python's tarfile and by applying it over the image's root as `COPY patch/ /`
would."""
import io
import json
import os
import pathlib
import subprocess
import tarfile

import pytest

from test_patch import base_packages, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")


@pytest.fixture
def src_layout(world):
    world.publish(*update_packages(world))
    return world.image(world.rootfs(base_packages(world)))


def _members(tf):
    return {m.name.rstrip("/"): m for m in tf.getmembers()}


def test_generate_writes_a_build_context(copa, src_layout, tmp_path):
    ctx = tmp_path / "ctx.tar"
    summary = tmp_path / "summary.json"
    p = copa("generate", "-i", f"oci:{src_layout}:1.0", "--output-context", ctx,
             "--summary", summary, "--progress", "plain")
    assert p.returncode == 0, p.stderr
    with tarfile.open(ctx) as tf:
        m = _members(tf)
        dockerfile = tf.extractfile("Dockerfile").read().decode()
        lines = dockerfile.splitlines()
        assert lines[0] == f"FROM oci:{src_layout}:1.0"
        assert lines[1] == "COPY patch/ /"
        assert lines[2].startswith('LABEL sh.copa.image.patched="')
        assert tf.extractfile("patch/usr/bin/tool").read() == b"tool 1.0-2\n"
        status = tf.extractfile("patch/var/lib/dpkg/status").read().decode()
        assert "Package: tool\n" in status and "Version: 1.0-2" in status
        # Nothing but the Dockerfile lives outside patch/, and no whiteout is copied.
        assert all(n == "Dockerfile" or n == "patch" or n.startswith("patch/") for n in m)
        assert not [n for n in m if ".wh." in n]
    # tool 1.0-2 no longer ships old.txt: a COPY cannot delete it, so it is listed.
    assert "removed: /usr/share/tool/old.txt" in p.stderr
    got = json.loads(summary.read_text())
    assert got["generate"]["context"] == str(ctx)
    assert "/usr/share/tool/old.txt" in got["generate"]["removed"]
    assert got["platforms"][0]["status"] == "patched"
    assert got["output"]["ref"] is None  # the private layout is gone
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((pathlib.Path(__file__).resolve().parents[2] / "docs/summary.schema.json")
                        .read_text())
    jsonschema.validate(got, schema)


def test_generate_to_stdout_and_refusals(copa, copa_bin, src_layout, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    p = subprocess.run([str(copa_bin), "generate", "-i", f"oci:{src_layout}:1.0",
                        "--progress", "quiet"], capture_output=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert "patch/usr/bin/tool" in tf.getnames()
    import pty
    master, slave = pty.openpty()
    p = subprocess.run([str(copa_bin), "generate", "-i", f"oci:{src_layout}:1.0"],
                       stdout=slave, stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(slave)
    os.close(master)
    assert p.returncode == 2 and b"refusing to write a tar stream to a terminal" in p.stderr
    for args, msg in ((["--push"], "--push: copa generate writes a build context"),
                      (["--platform", "linux/amd64,linux/arm64"], "give one --platform"),
                      (["--output-context", ""], "empty --output-context")):
        p = copa("generate", "-i", f"oci:{src_layout}:1.0", *args)
        assert p.returncode == 2 and msg in p.stderr, p.stderr
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "--output-context", "x")
    assert p.returncode == 2 and "--output-context is an option of copa generate" in p.stderr


def test_generate_nothing_to_patch_writes_nothing(copa, world, tmp_path):
    world.publish(*base_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    ctx = tmp_path / "ctx.tar"
    p = copa("generate", "-i", f"oci:{layout}:1.0", "--output-context", ctx)
    assert p.returncode == 0, p.stderr
    assert "no build context written" in p.stderr
    assert not ctx.exists()
