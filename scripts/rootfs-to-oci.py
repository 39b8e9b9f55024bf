#!/usr/bin/python3
"""rootfs-to-oci.py TAR LAYOUT TAG [ARCH]: wraps a root file system tarball
(as mmdebstrap writes it) into a single-layer OCI image layout, gzip layer,
OCI media types. Used by the demo and the live tests to turn a real Debian
rootfs into an image without a daemon."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import imagetools  # noqa: E402


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    tar, layout, tag = sys.argv[1:4]
    arch = sys.argv[4] if len(sys.argv) == 5 else "amd64"
    data = pathlib.Path(tar).read_bytes()
    pathlib.Path(layout).mkdir(parents=True, exist_ok=True)
    desc = imagetools.write_image(layout, [data], tag=tag, arch=arch,
                                  config_extra={"config": {"Cmd": ["bash"], "Env": [
                                      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}})
    print(desc["digest"])


if __name__ == "__main__":
    main()
