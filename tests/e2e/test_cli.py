"""The command-line contract that holds for every command."""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_version(copa):
    p = copa("--version", check=True)
    assert p.stdout.startswith("copa ")


def test_help_lists_commands(copa):
    p = copa("--help", check=True)
    for cmd in ("patch", "report", "inspect"):
        assert cmd in p.stdout


def test_unknown_command_is_usage_error(copa):
    p = copa("frobnicate")
    assert p.returncode == 2
    assert "unknown command 'frobnicate'" in p.stderr


def test_no_command_is_usage_error(copa):
    p = copa()
    assert p.returncode == 2


TRIVY = "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json"


@pytest.mark.parametrize("cmd", ["patch", "report", "inspect"])
@pytest.mark.parametrize("value", ["0", "5x", "m5", "1m30", "8d", "-5s", ""])
def test_timeout_rejected_alike(copa, cmd, value):
    """--timeout means the same in every command; a bad value is a usage
    error naming it, before anything is read."""
    args = {"patch": ["-i", "oci:/nonexistent:1"], "report": ["/nonexistent.json"],
            "inspect": ["oci:/nonexistent:1"]}[cmd]
    p = copa(cmd, "--timeout", value, *args)
    assert p.returncode == 2, p.stderr
    assert f"invalid --timeout '{value}'" in p.stderr


@pytest.mark.parametrize("value", ["300", "90s", "5m", "1h", "1m30s", "1500ms"])
def test_timeout_accepted(copa, shared_dir, value):
    p = copa("report", "--timeout", value, shared_dir / TRIVY)
    assert p.returncode == 0, p.stderr


def _long_options(help_text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", help_text))


@pytest.mark.parametrize("cmd", ["patch", "report", "inspect"])
def test_man_page_lists_every_option(copa, cmd):
    """docs/copa.1 documents every long option each command's --help shows,
    and renders without a groff warning."""
    man = ROOT / "docs" / "copa.1"
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(man)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr, r.stderr
    text = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", str(man)], check=True,
                          capture_output=True, text=True).stdout
    helped = _long_options(copa(cmd, "--help", check=True).stdout)
    assert helped, "no options found in --help"
    missing = sorted(o for o in helped if o not in text)
    assert not missing, f"docs/copa.1 lacks {missing}"
