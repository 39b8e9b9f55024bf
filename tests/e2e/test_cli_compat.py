"""For people switching from the original copa: its flags are accepted (with
a one-line note where they mean nothing here) or mapped, checked on real
patch runs against a signed local repository."""
import json

import pytest

import imagetools as it
from fx_patch import dpkg_versions, image_manifest, unpack
from test_patch import base_packages, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")


@pytest.fixture
def src_layout(world):
    world.publish(*update_packages(world))
    return world.image(world.rootfs(base_packages(world)))


def test_original_flags_noted_or_mapped(copa, src_layout, tmp_path):
    """The original's BuildKit flags are accepted with a note; --oci-dir is an
    oci: destination with the default tag; --compression uncompressed is an
    uncompressed new layer; --debug is -v; -l is --loader."""
    out = tmp_path / "out"
    p = copa("--debug", "patch", "-i", f"oci:{src_layout}:1.0", "--oci-dir", str(out),
             "--addr", "docker://", "--cacert", "ca.pem", "--cert", "c.pem", "--key", "k.pem",
             "-w", str(tmp_path / "work"), "--force-compression",
             "--eol-api-url", "https://endoflife.date/api/v1/products",
             "--compression", "uncompressed", "-l", "docker", "--progress", "plain")
    assert p.returncode == 0, p.stderr
    for note in ("note: --addr ignored: copa needs no BuildKit",
                 "note: --cacert/--cert/--key ignored", "note: --working-folder ignored",
                 "note: --force-compression ignored", "note: --eol-api-url ignored"):
        assert p.stderr.count(note) == 1, p.stderr
    assert "debug" in p.stderr  # --debug given before the command still means -v
    m, _ = image_manifest(out, "1.0-patched")
    assert m["layers"][-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    assert not (tmp_path / "work").exists()
    v = dpkg_versions(unpack(out, "1.0-patched", tmp_path / "u"))
    assert v["tool"] == "1.0-2"


def test_oci_dir_with_a_bare_tag_and_conflicts(copa, src_layout, tmp_path):
    out = tmp_path / "out"
    copa("patch", "-i", f"oci:{src_layout}:1.0", "--oci-dir", str(out), "-t", "fixed",
         check=True)
    assert image_manifest(out, "fixed")[0]["layers"]
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "--oci-dir", str(out), "-t",
             f"oci:{tmp_path}/other:x")
    assert p.returncode == 2 and "both name the destination" in p.stderr


@pytest.mark.parametrize("version,eol", [("9", True), ("12", False)])
def test_exit_on_eol_from_the_shipped_table(copa, world, tmp_path, version, eol):
    """Update-all mode on a release past its security support warns, and
    with --exit-on-eol fails before any repository is read."""
    world.publish(*update_packages(world))

    def release(root):
        (root / "etc/os-release").write_text(
            f'ID=debian\nVERSION_ID="{version}"\nPRETTY_NAME="Debian {version}"\n')
    layout = world.image(world.rootfs(base_packages(world), modify=release))
    p = copa("patch", "-i", f"oci:{layout}:1.0", "--exit-on-eol", "--progress", "plain")
    if eol:
        assert p.returncode == 1, p.stderr
        assert f"is debian {version}, whose security support ended on 2022-06-30 " \
               "(--exit-on-eol)" in p.stderr
        assert "InRelease" not in p.stderr
        assert not image_manifest_exists(layout, "1.0-patched")
        p = copa("patch", "-i", f"oci:{layout}:1.0", "--progress", "plain")
        assert p.returncode == 0, p.stderr
        assert "whose security support ended on 2022-06-30" in p.stderr
    else:
        assert p.returncode == 0, p.stderr
        assert "security support ended" not in p.stderr


def image_manifest_exists(layout, tag):
    index = json.loads((layout / "index.json").read_text())
    return any(m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
               for m in index["manifests"])


def test_missing_gpgv_is_named(copa, src_layout, tmp_path):
    """Without gpgv on PATH the error says gpgv is missing and how to get it,
    not that the repository has no InRelease file."""
    import os
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(os.environ, PATH=str(bare))
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "--progress", "plain", env=env)
    assert p.returncode == 1, p.stderr
    assert "'gpgv' is not installed" in p.stderr and "apt-get install gpgv" in p.stderr
    assert "no InRelease" not in p.stderr


def _non_loopback_ipv4():
    import subprocess
    for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split():
        if "." in a and not a.startswith("127."):
            return a
    return None


def test_https_to_plain_http_registry_suggests_insecure_registry(copa):
    """A registry that is not on loopback and answers in plain HTTP: the TLS
    'wrong version number' failure is not retried, and the error says to
    pass --insecure-registry HOST."""
    import http.server
    import threading
    import time
    addr = _non_loopback_ipv4()
    if not addr:
        pytest.skip("no non-loopback IPv4 address on this machine")
    srv = http.server.ThreadingHTTPServer((addr, 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host = f"{addr}:{srv.server_address[1]}"
        t0 = time.monotonic()
        p = copa("inspect", "--progress", "plain", f"{host}/app:1")
        elapsed = time.monotonic() - t0
    finally:
        srv.shutdown()
    assert p.returncode == 1, p.stderr
    assert f"'{host}' answers in plain HTTP, not HTTPS" in p.stderr
    assert f"pass --insecure-registry {host}" in p.stderr
    assert "retrying" not in p.stderr and elapsed < 5, (elapsed, p.stderr)


def test_short_name_from_local_source_loads_as_podman_names_it(copa, src_layout, tmp_path):
    """-t out:1.0 from an oci: source is a registry name: without --push it is
    loaded into podman, and copa says so with podman's name for it."""
    import os
    import pathlib
    import shutil
    import subprocess
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (scripts/install-deps.sh installs it)")
    runroot = pathlib.Path("/tmp") / f"copa-pmc-{os.getpid()}"
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/pm"\n'
                    f'runroot = "{runroot}"\n')
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))
    try:
        p = copa("patch", "-i", f"oci:{src_layout}:1.0", "-t", "out:1.0", "--loader", "podman",
                 "--progress", "plain", env=env)
        assert p.returncode == 0, p.stderr
        assert "note: -t 'out:1.0' names a registry image; without --push copa loads it " \
               "into podman, which names it localhost/out:1.0" in p.stderr
        assert "loaded into podman as localhost/out:1.0" in p.stderr
        images = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True, env=env, check=True).stdout
        assert "localhost/out:1.0" in images.split()
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_push_to_local_destination_and_loader_none_say_why(copa, src_layout, tmp_path):
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "--push")
    assert p.returncode == 2, p.stderr
    assert "--push writes to a registry, but the destination" in p.stderr
    assert "is local: drop --push" in p.stderr
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "-t", "example.org/out:1.0",
             "--loader", "none")
    assert p.returncode == 2, p.stderr
    assert "--loader none loads it nowhere" in p.stderr and "no docker daemon" not in p.stderr


def test_default_docker_archive_output_keeps_the_name(copa, src_layout, tmp_path, podman_store):
    """A docker-archive source named without :REF: the default output carries
    <name>:<tag>-patched in RepoTags, so a load does not give <none>."""
    archive = tmp_path / "app.tar"
    it.skopeo("copy", f"oci:{src_layout}:1.0", f"docker-archive:{archive}:example.org/app:1.0")
    copa("patch", "-i", f"docker-archive:{archive}", check=True)
    out = tmp_path / "app-1.0-patched.tar"
    import tarfile
    with tarfile.open(out) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["example.org/app:1.0-patched"]
    podman_store("load", "-i", out)
    images = podman_store("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "example.org/app:1.0-patched" in images.split()


def _events(stderr):
    return [json.loads(l) for l in stderr.splitlines() if l.startswith("{")]


def test_progress_reports_real_byte_counts(copa, src_layout, tmp_path):
    """`done` events and plain mode's end lines carry the bytes moved, not 0."""
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "-t", f"oci:{tmp_path}/out:p",
             "--progress", "json")
    assert p.returncode == 0, p.stderr
    done = [e for e in _events(p.stderr) if e.get("type") == "progress" and e["event"] == "done"]
    tasks = {e["task"] for e in done}
    assert {"copy", "download"} <= tasks, tasks
    for e in done:
        assert e["ok"] is True
        if e["task"] in ("copy", "download"):
            assert e["current"] > 0, e
        if e["total"]:
            assert e["current"] == e["total"], e
    p = copa("patch", "-i", f"oci:{src_layout}:1.0", "-t", f"oci:{tmp_path}/out2:p",
             "--progress", "plain")
    assert p.returncode == 0, p.stderr
    copies = [l for l in p.stderr.splitlines() if l.startswith("copy sha256:") and ": " in l]
    assert copies, p.stderr
    assert not [l for l in copies if ": 0 B" in l], copies


def test_live_progress_fits_the_terminal_width(copa_bin, src_layout, tmp_path):
    """In live mode each progress line is cut to the terminal's width, so the
    block erased before each redraw is exactly what was drawn."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import subprocess
    import termios
    width = 50
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, width, 0, 0))
    proc = subprocess.Popen([str(copa_bin), "patch", "-i", f"oci:{src_layout}:1.0", "-t",
                             f"oci:{tmp_path}/out:p", "--progress", "tty",
                             "--cache-dir", str(tmp_path / "cache")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    assert proc.wait(timeout=300) == 0
    os.close(master)
    text = b"".join(chunks).decode()
    block = [seg.split("\n")[0].rstrip("\r") for seg in text.split("\033[2K")[1:]]
    # Live lines are indented; the rest is history printed once (a line of it may wrap).
    block = [l for l in block if l.startswith("  ")]
    assert block, text  # the run drew live lines
    for line in block:
        # "  TASK ID(40 columns) SIZE ..." is wider than 50: each is cut to 49.
        assert len(re.sub(r"\033\[[0-9;]*[A-Za-z]", "", line)) == width - 1, line


def test_closing_tally_reasons_and_vex_when_nothing_patched(copa, world, tmp_path):
    """Report mode ends with 'N fixed, M not fixable yet' (as copa report
    does); already-fixed entries say why; -o with nothing patched says why it
    wrote nothing."""
    from test_patch import trivy_report
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    report = trivy_report(tmp_path / "r.json", "debian", "12", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-1001"),
        ("libfoo1", "1.0-1", "", "CVE-2099-1002"),       # no fix published yet
    ])
    summary = tmp_path / "s.json"
    p = copa("patch", "-i", f"oci:{layout}:1.0", "-r", report, "--summary", summary,
             "--progress", "plain")
    assert p.returncode == 0, p.stderr
    assert "1 fixed, 1 not fixable yet" in p.stderr
    # The patched image, patched again for the same report: already fixed.
    vex = tmp_path / "vex.json"
    p = copa("patch", "-i", f"oci:{layout}:1.0-patched", "-r", report, "-t", "again",
             "--summary", summary, "-o", vex, "--progress", "plain")
    assert p.returncode == 0, p.stderr
    assert "1 fixed, 1 not fixable yet" in p.stderr
    pkgs = json.loads(summary.read_text())["platforms"][0]["packages"]
    tool = [x for x in pkgs if x["name"] == "tool"][0]
    assert tool["outcome"] == "already-fixed" and tool["reason"]
    assert f"-o '{vex}' not written" in p.stderr and not vex.exists()


def test_cold_cache_registry_to_local_downloads_each_layer_once(copa, world, registry, tmp_path):
    import collections
    import re
    import subprocess
    from test_patch import _copy_bin
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    src = f"{registry.host}/team/app:1.0"
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", src], check=True, capture_output=True)
    p = copa("patch", "-i", src, "-t", f"oci:{tmp_path}/out:p", "--progress", "plain",
             "--cache-dir", tmp_path / "cold")
    assert p.returncode == 0, p.stderr
    # Plain mode prints a line when a download starts ("... of 'REPO' (SIZE)") and one when
    # it ends ("... of 'REPO': SIZE ..."): count the starts.
    starts = collections.Counter(re.findall(r"^download blob (sha256:[0-9a-f]+)\S* of '[^']*'"
                                            r"(?: \([^)]*\))?$", p.stderr, re.M))
    assert starts and max(starts.values()) == 1, (starts, p.stderr)
