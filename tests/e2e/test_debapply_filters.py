"""dpkg's path filters (path-exclude/path-include in /etc/dpkg/dpkg.cfg.d, as
debian *-slim and Ubuntu images carry them), copa's applier against real
dpkg given the same filters. dpkg reads its configuration from the host's
/etc/dpkg even with --root, so the reference gets the image's filters as
--path-exclude/--path-include options, in the same order."""
import pytest

from fx_debpkg import build_deb, copa_debapply, copy_tree, make_rootfs, real_dpkg_install, \
    tree_diff

pytestmark = pytest.mark.usefixtures("dpkg_tools")

# As debuerreotype's slimify writes it, with Ubuntu's "option=value" spelling mixed in.
SLIM = """# generated: leave documentation out of the image
path-exclude /usr/share/doc/*
# we need to keep copyright files for legal reasons
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude=/usr/share/locale/*
path-include="/usr/share/locale/locale.alias"
path-exclude /usr/share/info/*
"""


def filter_args(text):
    args = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.replace("=", " ", 1).partition(" ")
        args.append(f"--{name}={value.strip().strip(chr(34))}")
    return args


def pkg_files(name, version):
    files = {
        "usr/bin/tool": {"data": f"tool {version}\n", "mode": 0o755},
        "usr/share/doc/tool/copyright": "copyright\n",
        "usr/share/doc/tool/changelog.Debian.gz": f"changes {version}\n",
        "usr/share/man/man1/tool.1.gz": f"man {version}\n",
        "usr/share/man/man1/tool-alias.1.gz": {"type": "symlink", "target": "tool.1.gz"},
        "usr/share/man/de/man1/tool.1.gz": f"Handbuch {version}\n",
        "usr/share/locale/de/LC_MESSAGES/tool.mo": f"mo {version}\n",
        "usr/share/info/tool.info.gz": f"info {version}\n",
        "usr/share/tool/data": f"data {version}\n",
    }
    files = {k.replace("tool", name): v for k, v in files.items()}
    if name == "tool":
        files["usr/share/locale/locale.alias"] = f"alias {version}\n"
    return files


def test_path_filters_as_dpkg(tmp_path):
    debs = tmp_path / "debs"
    old = [build_deb(debs, n, "1.0-1", pkg_files(n, "1")) for n in ("tool", "legacy")]
    new = [build_deb(debs, n, "1.0-2", pkg_files(n, "2")) for n in ("tool", "legacy")]
    base = make_rootfs(tmp_path / "base")
    # legacy was installed before the image got its filters (its man pages are
    # there), tool after (they are not).
    real_dpkg_install(base, [old[1]])
    cfg = base / "etc/dpkg/dpkg.cfg.d"
    cfg.mkdir(parents=True)
    (cfg / "docker-slim").write_text(SLIM)
    # dpkg reads only names of letters, digits, '_' and '-' from dpkg.cfg.d.
    (cfg / "not-read.conf").write_text("path-exclude /usr/bin/*\n")
    args = filter_args(SLIM)
    real_dpkg_install(base, [old[0]], extra=args)
    assert not (base / "usr/share/man/man1/tool.1.gz").exists()

    ref = tmp_path / "dpkg"
    copy_tree(base, ref)
    real_dpkg_install(ref, new, extra=args)
    out = tmp_path / "copa"
    copa_debapply(base, out, new)
    diff = tree_diff(ref, out)
    assert diff == [], "copa and dpkg disagree:\n" + "\n".join(diff)
    # What that means, spelled out.
    assert not (out / "usr/share/man/man1/tool.1.gz").exists()
    assert not (out / "usr/share/doc/tool/changelog.Debian.gz").exists()
    assert (out / "usr/share/doc/tool/copyright").exists()
    assert (out / "usr/share/locale/locale.alias").read_text() == "alias 2\n"
    assert (out / "usr/bin/tool").read_text() == "tool 2\n"
    listed = (out / "var/lib/dpkg/info/tool.list").read_text().splitlines()
    assert "/usr/share/man/man1/tool.1.gz" in listed
