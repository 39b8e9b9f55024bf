"""The command-line contract that holds for every command."""


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
