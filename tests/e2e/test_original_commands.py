"""The original copa's documented command lines (its README quick start,
website docs and the copa-action workflow), run unchanged against copa on a
real registry: each works, with at most a one-line note for a flag that
means nothing without BuildKit, and the exit code the original gives (0)."""
import os
import pathlib
import shutil
import subprocess

import pytest

import imagetools as it
from test_patch import _copy_bin, base_packages, trivy_report, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")

IMG = "{host}/library/nginx:1.21.6"
# (command line as the docs write it, notes copa must print). {image}, {report}, {out}
# are filled in; every line ends in a registry push or a local file, as in the docs.
LINES = [
    # README quick start, with the push the copa-action workflow adds.
    ("patch -i {image} -r {report} -t 1.21.6-patched --push", []),
    # website docs: custom BuildKit address, TLS material for it.
    ("patch -i {image} -r {report} -t 1.21.6-patched -a docker-container://buildkitd --push",
     ["--addr ignored: copa needs no BuildKit"]),
    ("patch -i {image} -r {report} -t tls --addr tcp://buildkitd:8888 --cacert ca.pem "
     "--cert cert.pem --key key.pem --push",
     ["--addr ignored", "--cacert/--cert/--key ignored"]),
    # copa-action's command (connection flag, timeout, VEX output).
    ("patch -i {image} -r {report} -t 1.21.6-action --addr buildx://copa-action "
     "--timeout 5m --output {out}/vex.json --format openvex --push",
     ["--addr ignored"]),
    # update-all mode, debug, EOL flags.
    ("--debug patch -i {image} -t all --push", []),
    ("patch -i {image} -t eol --exit-on-eol --eol-api-url https://endoflife.date/api/v1/products "
     "--push", ["--eol-api-url ignored"]),
    # errors ignored, plain progress, working folder, compression flags.
    ("patch -i {image} -r {report} -t ign --ignore-errors --timeout 10m --progress plain "
     "-w {out}/work --compression zstd --force-compression --push",
     ["--working-folder ignored", "--force-compression ignored"]),
    ("patch -i {image} -r {report} -t raw --progress rawjson --push", []),
    # multi-platform docs: platforms and an OCI layout.
    ("patch -i {image} --platform linux/amd64 -t plat --push", []),
    ("patch -i {image} -r {report} --oci-dir {out}/oci", []),
    # docker-build docs: copa generate | docker build -
    ("generate -i {image} -r {report} -t 1.21.6-patched --output-context {out}/ctx.tar",
     ["-t ignored: a build context names no image"]),
    ("--version", []),
]


@pytest.fixture
def pushed(world, registry, tmp_path):
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    image = IMG.format(host=registry.host)
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", image], check=True, capture_output=True)
    report = trivy_report(tmp_path / "nginx.1.21.6.json", "debian", "12", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-1001"),
        ("libfoo1", "1.0-1", "1.0-2", "CVE-2099-1002"),
    ])
    return image, report


def test_original_command_lines(copa, pushed, registry, tmp_path):
    """One image and repository for all the lines (building them is the slow part)."""
    image, report = pushed
    for i, (line, notes) in enumerate(LINES):
        out = tmp_path / f"out{i}"
        out.mkdir()
        args = line.format(image=image, report=report, out=out).split()
        p = copa(*args)
        assert p.returncode == 0, f"copa {line}\n{p.stderr}"
        for n in notes:
            assert f"note: {n}" in p.stderr, f"copa {line}\n{p.stderr}"
        assert p.stderr.count("note:") == len(notes), f"copa {line}\n{p.stderr}"
        if "--push" in args:
            tag = args[args.index("-t") + 1]
            raw = it.skopeo_inspect_raw(f"docker://{registry.host}/library/nginx:{tag}")
            assert raw.get("layers") or raw.get("manifests"), line
        if "--output" in args:
            assert (out / "vex.json").exists(), line
        if "--oci-dir" in args:
            assert (out / "oci" / "index.json").exists(), line
        if "--output-context" in args:
            assert (out / "ctx.tar").stat().st_size > 0, line


def test_readme_load_without_push(copa, pushed, tmp_path):
    """The README's line without --push loads the result locally (docker in
    the original; here podman, as no docker daemon runs)."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (scripts/install-deps.sh installs it)")
    image, report = pushed
    runroot = pathlib.Path("/tmp") / f"copa-pmo-{os.getpid()}"
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/pm"\n'
                    f'runroot = "{runroot}"\n')
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))
    try:
        p = copa("patch", "-i", image, "-r", report, "-t", "1.21.6-patched", env=env)
        assert p.returncode == 0, p.stderr
        assert "loaded into podman as" in p.stderr
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
