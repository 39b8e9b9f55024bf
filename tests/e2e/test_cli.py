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


@pytest.mark.parametrize("cmd", ["patch", "report", "inspect", "generate"])
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


def test_version_short_and_help_command(copa):
    assert copa("-V", check=True).stdout == copa("--version", check=True).stdout
    for cmd in ("patch", "report", "inspect"):
        assert copa("help", cmd, check=True).stdout == copa(cmd, "--help", check=True).stdout
    p = copa("help", "frobnicate")
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr


@pytest.mark.parametrize("cmd,args,near", [
    # glibc would take --key for --keyring and read 'k.pem' as a keyring ...
    ("patch", ["--keyrin", "k.pem"], "--keyring"),
    # ... and --insecure for --insecure-registry, swallowing the next argument.
    ("patch", ["--insecure", "-r", "x.json"], "--insecure-registry"),
    ("patch", ["--tag-sufix", "x"], "--tag-suffix"),
    ("patch", ["--ignore"], "--ignore-errors"),
    ("inspect", ["--plat", "linux/arm64"], "--platform"),
    ("report", ["--js"], "--json"),
])
def test_no_long_option_prefix_matching(copa, cmd, args, near):
    """A long option must be spelled in full: a prefix or typo is a usage
    error naming the nearest real option, never silently another option."""
    target = {"patch": ["-i", "oci:/nonexistent:1"], "report": ["/nonexistent.json"],
              "inspect": ["oci:/nonexistent:1"]}[cmd]
    p = copa(cmd, *args, *target)
    assert p.returncode == 2, p.stderr
    assert f"unknown option '{args[0]}'" in p.stderr and f"did you mean {near}?" in p.stderr


@pytest.mark.parametrize("args,msg", [
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["-Z"], "unknown option '-Z'"),
    (["--push=yes"], "option '--push' takes no value"),
    (["--platform", "foo"], "unknown architecture 'foo'"),
    (["--platform", ""], "empty --platform"),
    (["--platform", "linux/amd64,"], "empty --platform"),
    (["--platform", "plan10/amd64"], "unknown os 'plan10'"),
    (["-t", ":x"], "invalid -t ':x'"),
    (["-t", ""], "invalid -t ''"),
    (["-t", "a b"], "invalid -t 'a b'"),
])
def test_patch_usage_errors_exit_2(copa, args, msg):
    """Every malformed command line is exit 2, before anything is read."""
    p = copa("patch", "-i", "oci:/nonexistent:1", *args)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr


def test_missing_option_value_is_usage_error(copa):
    p = copa("patch", "-i")
    assert p.returncode == 2 and "option '-i' needs a value" in p.stderr
    p = copa("inspect", "oci:/x:1", "--timeout")
    assert p.returncode == 2 and "option '--timeout' needs a value" in p.stderr


def _bash_complete(copa_bin, words):
    """Runs copa's bash completion for the command line `words` (the last one
    is being completed) and returns COMPREPLY."""
    import os
    import shlex
    script = subprocess.run([copa_bin, "completion", "bash"], capture_output=True, text=True,
                            check=True).stdout
    line = " ".join(shlex.quote(w) for w in words)
    prog = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _copa; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=f"{pathlib.Path(copa_bin).parent}:{os.environ['PATH']}")
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, env=env, check=True)
    return set(r.stdout.split())


@pytest.mark.parametrize("cmd", ["patch", "generate", "report", "inspect"])
def test_bash_completion_in_step_with_help(copa, copa_bin, cmd):
    """Every long option a command's --help shows is offered by the bash
    completion, and nothing else is."""
    helped = _long_options(copa(cmd, "--help", check=True).stdout)
    assert _bash_complete(copa_bin, ["copa", cmd, "--"]) == helped


def test_bash_completion_commands_and_values(copa_bin):
    cmds = _bash_complete(copa_bin, ["copa", ""])
    assert {"patch", "generate", "report", "inspect", "completion", "help"} <= cmds
    assert _bash_complete(copa_bin, ["copa", "patch", "--ins"]) == {"--insecure-registry"}
    assert _bash_complete(copa_bin, ["copa", "patch", "--progress", "p"]) == {"plain"}
    assert _bash_complete(copa_bin, ["copa", "completion", ""]) == {"bash", "zsh", "fish"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_parse(copa, shell):
    import shutil
    p = copa("completion", shell, check=True)
    assert "copa --help" in p.stdout
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed: only the bash script's syntax is checked here")
    flag = {"bash": ["-n"], "zsh": ["-n"], "fish": ["--no-execute"]}[shell]
    r = subprocess.run([shell, *flag], input=p.stdout, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_completion_usage_errors(copa):
    assert copa("completion").returncode == 2
    p = copa("completion", "tcsh")
    assert p.returncode == 2 and "unknown shell 'tcsh'" in p.stderr


def test_report_into_a_closed_pipe_is_not_an_error(copa_bin, shared_dir):
    """`copa report --json | head -c 10` exits 0 (EPIPE means the reader had
    enough); a full disk is still an error that says so."""
    r = subprocess.run(f"'{copa_bin}' report --json '{shared_dir / TRIVY}' | head -c 10 "
                       ">/dev/null; echo \"rc=${PIPESTATUS[0]}\"", shell=True,
                       executable="/bin/bash", capture_output=True, text=True)
    assert r.stdout.strip() == "rc=0", r.stderr
    assert r.stderr == ""
    with open("/dev/full", "w") as full:
        p = subprocess.run([copa_bin, "report", "--json", shared_dir / TRIVY], stdout=full,
                           stderr=subprocess.PIPE, text=True)
    assert p.returncode == 1 and "cannot write standard output: No space left" in p.stderr


def test_fish_completion_offers_options_and_values(copa_bin):
    import os
    import shutil
    if not shutil.which("fish"):
        pytest.skip("fish is not installed (scripts/install-deps.sh installs it)")
    env = dict(os.environ, PATH=f"{pathlib.Path(copa_bin).parent}:{os.environ['PATH']}")

    def complete(line):
        r = subprocess.run(["fish", "-c", f'copa completion fish | source; complete -C "{line}"'],
                           capture_output=True, text=True, env=env, check=True)
        return {l.split("\t")[0] for l in r.stdout.splitlines()}
    assert complete("copa patch --ins") == {"--insecure-registry"}
    assert {"patch", "generate", "report", "inspect", "completion"} <= complete("copa ")
    assert complete("copa patch --progress ") == {"auto", "tty", "plain", "quiet", "json"}
