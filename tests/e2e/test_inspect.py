"""copa inspect: what copa sees in an image, checked against what the test
built (python's tar/gzip/json, independent of copa)."""
import json

import imagetools as it

DPKG_STATUS = (
    "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n\n"
    "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n"
    "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n"
)


def debian_layers():
    base = it.tar_layer([
        ("usr", None), ("usr/lib", None), ("usr/bin", None),
        ("lib", {"type": "symlink", "target": "usr/lib"}),
        ("usr/lib/os-release", 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'),
        ("etc", None), ("etc/os-release", {"type": "symlink", "target": "../usr/lib/os-release"}),
        ("var/lib/dpkg/status", DPKG_STATUS),
        ("usr/bin/dpkg", {"data": "ELF", "mode": 0o755}),
    ])
    app = it.tar_layer([("app/run", "#!/bin/sh\n"), ("usr/bin/dpkg", {"type": "whiteout"})])
    return [base, app]


def test_inspect_json_single_platform(copa, tmp_path):
    layout = tmp_path / "img"
    desc = it.write_image(layout, debian_layers(), tag="12")
    p = copa("inspect", "--json", "--progress", "quiet", f"oci:{layout}:12", check=True)
    got = json.loads(p.stdout)
    manifest = json.loads((layout / "blobs/sha256" / desc["digest"].split(":")[1]).read_text())
    assert got["reference"] == f"oci:{layout}:12"
    assert got["digest"] == desc["digest"]
    assert got["mediaType"] == it.OCI_MANIFEST
    assert got["platforms"] == ["linux/amd64"]
    assert [(l["digest"], l["size"], l["mediaType"]) for l in got["layers"]] == \
        [(l["digest"], l["size"], l["mediaType"]) for l in manifest["layers"]]
    assert got["os"]["id"] == "debian" and got["os"]["version_id"] == "12"
    assert got["package_manager"] == "dpkg"
    assert got["package_db"] == "var/lib/dpkg/status"
    assert got["packages"] == 2            # the config-files one is not installed
    assert got["distroless"] is True       # the upper layer whited out usr/bin/dpkg


def test_inspect_distroless_statusd_multiplatform(copa, tmp_path):
    def layers(arch):
        return [it.tar_layer([
            ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            ("var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4\n"),
            ("var/lib/dpkg/status.d/base.md5sums", "x  etc/issue\n"),
            ("var/lib/dpkg/status.d/bGliYzY", f"Package: libc6\nArchitecture: {arch}\nVersion: 2.36\n"),
            ("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a\n"),
        ])]
    layout = tmp_path / "multi"
    it.write_multiarch(layout, [("amd64", None, layers("amd64")), ("arm64", "v8", layers("arm64"))],
                       tag="v1")
    p = copa("inspect", "--json", "--platform", "linux/arm64", f"oci:{layout}:v1", check=True)
    got = json.loads(p.stdout)
    assert sorted(got["platforms"]) == ["linux/amd64", "linux/arm64"]
    assert got["platform"] == "linux/arm64"
    assert got["mediaType"] == it.OCI_INDEX
    assert got["package_db"] == "var/lib/dpkg/status.d"
    assert got["packages"] == 3
    assert got["distroless"] is True
    p = copa("inspect", "--platform", "linux/s390x", f"oci:{layout}:v1")
    assert p.returncode == 1
    assert "linux/amd64" in p.stderr and "linux/arm64" in p.stderr  # says what is available


def test_inspect_registry_and_human_output(copa, tmp_path, registry):
    layout = tmp_path / "img"
    it.write_image(layout, debian_layers(), tag="12")
    it.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:12",
              f"docker://{registry.host}/deb/app:12")
    p = copa("inspect", f"{registry.host}/deb/app:12", check=True)
    assert "debian 12 (bookworm)" in p.stdout
    assert "2 installed (dpkg database var/lib/dpkg/status)" in p.stdout


def test_inspect_errors(copa, tmp_path):
    p = copa("inspect")
    assert p.returncode == 2
    p = copa("inspect", f"oci:{tmp_path}/missing:1")
    assert p.returncode == 1 and p.stderr.startswith("copa: error: ") and p.stderr.count("\n") == 1
    p = copa("inspect", "Bad Reference!!")
    assert p.returncode == 1 and "Bad Reference!!" in p.stderr


def test_inspect_empty_status_with_statusd(copa, tmp_path):
    """An empty var/lib/dpkg/status beside status.d/ (as some distroless builders leave it):
    the database is status.d/, as the planner and the applier read it (copa said 0 packages)."""
    layout = tmp_path / "img"
    it.write_image(layout, [it.tar_layer([
        ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ("var/lib/dpkg/status", ""),
        ("var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4\n"),
        ("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a\n"),
    ])], tag="v1")
    got = json.loads(copa("inspect", "--json", f"oci:{layout}:v1", check=True).stdout)
    assert got["package_db"] == "var/lib/dpkg/status.d"
    assert got["packages"] == 2


def test_inspect_platform_absent_from_single_platform_image(copa, tmp_path):
    """--platform naming a platform a single-platform image does not have is
    an error that says what the image has, not a silent amd64."""
    layout = tmp_path / "img"
    it.write_image(layout, debian_layers(), tag="12")
    p = copa("inspect", "--platform", "linux/arm64", f"oci:{layout}:12")
    assert p.returncode == 1, p.stderr
    assert "has no image for platform 'linux/arm64': it has only linux/amd64" in p.stderr
    assert p.stdout == ""
    p = copa("inspect", "--platform", "linux/amd64", f"oci:{layout}:12", check=True)
    p = copa("inspect", "--platform", "foo", f"oci:{layout}:12")
    assert p.returncode == 2 and "unknown architecture 'foo'" in p.stderr
