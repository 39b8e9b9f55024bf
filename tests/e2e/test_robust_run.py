"""copa patch as people run it (issue 14): the output paths they name ('-',
devices, FIFOs, symlinks), outputs checked before anything is written, the
summary of a failed run, Ctrl-C and SIGTERM mid-run, --timeout over the whole
run, reports made for another image, and repositories an image declares that
point at link-local / cloud metadata addresses (run in an empty network
namespace, so nothing can leave the machine even if the check fails)."""
import datetime
import functools
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from fx_patch import World, dpkg_versions, unpack
from fx_services import BackgroundHTTPServer
from test_patch import base_packages, trivy_report, update_packages

pytestmark = pytest.mark.usefixtures("dpkg_tools")


def run_copa(copa_bin, tmp_path, *args, cwd=None, env=None, timeout=300):
    argv = [copa_bin, args[0], "--cache-dir", str(tmp_path / "copa-cache"), *map(str, args[1:])]
    full_env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg-cache"), **(env or {}))
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=full_env,
                          timeout=timeout)


@pytest.fixture
def src_layout(world):
    world.publish(*update_packages(world))
    return world.image(world.rootfs(base_packages(world)))


def fix_report(tmp_path, name="trivy.json"):
    return trivy_report(tmp_path / name, "debian", "12.5",
                        [("tool", "1.0-1", "1.0-2", "CVE-2099-1001")])


def tree_digest(root):
    """{relative path: sha256 or link target} of everything under root."""
    out = {}
    root = pathlib.Path(root)
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


# ---------------------------------------------------------------- output paths

def test_summary_dash_is_standard_output(copa_bin, src_layout, tmp_path):
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "--summary", "-",
                 "--progress", "plain", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "-").exists()
    doc = json.loads(p.stdout)
    assert doc["summaryVersion"] == 1 and doc["output"]["digest"].startswith("sha256:")


def test_outputs_through_fifos_devices_and_symlinks(copa_bin, src_layout, tmp_path):
    report = fix_report(tmp_path)
    # A FIFO with a reader waiting: written in place, stays a FIFO.
    fifo = tmp_path / "summary.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    # A symlink to the process's standard output (what /dev/stdout is).
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r", report,
                 "--summary", fifo, "-o", stdout_link)
    got = b""
    while chunk := os.read(reader, 65536):
        got += chunk
    os.close(reader)
    assert p.returncode == 0, p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got)["summaryVersion"] == 1
    assert stdout_link.is_symlink()
    assert "CVE-2099-1001" in json.loads(p.stdout)["statements"][0]["vulnerability"]["name"]

    # A symlink to a regular file: the file is replaced, the symlink stays.
    real = tmp_path / "real"
    real.mkdir()
    (real / "vex.json").write_text("old\n")
    (real / "vex.json").chmod(0o600)
    link = tmp_path / "vex-link.json"
    link.symlink_to(real / "vex.json")
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r", report,
                 "-t", "1.0-again", "-o", link)
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == str(real / "vex.json")
    assert json.loads((real / "vex.json").read_text())["statements"]
    assert stat.S_IMODE(os.stat(real / "vex.json").st_mode) == 0o600


def test_summary_of_a_report_without_architecture_names_the_platform(copa_bin, src_layout,
                                                                     tmp_path):
    """docs/summary.md: `platform` is os/arch[/variant], also when the report says no arch."""
    summary = tmp_path / "s.json"
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r",
                 fix_report(tmp_path), "--summary", summary)
    assert p.returncode == 0, p.stderr
    assert [pl["platform"] for pl in json.loads(summary.read_text())["platforms"]] == \
        ["linux/amd64"]


def test_unwritable_output_fails_before_the_image_is_written(copa_bin, src_layout, tmp_path):
    dst = tmp_path / "dst"
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r",
                 fix_report(tmp_path), "-t", f"oci:{dst}:1.0-patched", "-o",
                 "/nonexistent/v.json")
    assert p.returncode == 1
    assert "-o" in p.stderr and "/nonexistent" in p.stderr
    assert not dst.exists()
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-t",
                 f"oci:{dst}:1.0-patched", "--summary", tmp_path)
    assert p.returncode == 1 and "is a directory" in p.stderr
    assert not dst.exists()


def test_push_with_an_unwritable_output_pushes_nothing(copa_bin, world, tmp_path, registry):
    from test_patch import _copy_bin
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    src = f"{registry.host}/team/app:1.0"
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", src], check=True, capture_output=True)
    p = run_copa(copa_bin, tmp_path, "patch", "-i", src, "--push", "-r", fix_report(tmp_path),
                 "-o", "/nonexistent/v.json")
    assert p.returncode == 1 and "/nonexistent" in p.stderr
    tags = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                           f"docker://{registry.host}/team/app"],
                          capture_output=True, text=True, check=True).stdout
    assert json.loads(tags)["Tags"] == ["1.0"]


def test_summary_is_written_when_the_patch_fails(copa_bin, src_layout, tmp_path):
    report = trivy_report(tmp_path / "r.json", "debian", "12", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-1001"),
        ("libfoo1", "1.0-1", "9.9-1", "CVE-2099-1002"),  # no such version anywhere
    ])
    summary = tmp_path / "s.json"
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r", report,
                 "--summary", summary)
    assert p.returncode == 1 and "libfoo1" in p.stderr
    doc = json.loads(summary.read_text())
    assert doc["output"]["digest"] is None
    outcomes = {pk["name"]: pk["outcome"] for pk in doc["platforms"][0]["packages"]}
    assert outcomes["libfoo1"] == "not-available"
    assert outcomes["tool"] == "failed"  # planned, never written
    assert doc["counts"]["packages"]["updated"] == 0


# ---------------------------------------------------------------- signals and deadlines

class _SlowDebs(http.server.SimpleHTTPRequestHandler):
    """Serves a repository; .deb bodies trickle at about 600 KiB/s."""

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        if not self.path.endswith(".deb"):
            return super().copyfile(source, outputfile)
        self.server.deb_started.set()
        try:
            while chunk := source.read(32768):
                outputfile.write(chunk)
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass


class SlowServer(BackgroundHTTPServer):
    def __init__(self, root):
        super().__init__(functools.partial(_SlowDebs, directory=str(root)))
        self.httpd.deb_started = threading.Event()


@pytest.fixture
def slow_world(tmp_path, gpg_key):
    servers = []

    def start(root):
        servers.append(SlowServer(root))
        return servers[-1]

    w = World(tmp_path, gpg_key, start)
    big = {"/usr/bin/tool": {"data": "tool 1.0-2\n", "mode": 0o755},
           "/usr/share/tool/blob": os.urandom(6 << 20)}
    w.publish(w.pkg("tool", "1.0-2", big, compress="none"))
    w.layout = w.image(w.rootfs(base_packages(w)))
    w.server = servers[0]
    yield w
    for s in servers:
        s.stop()


def start_copa(copa_bin, tmp_path, *args):
    argv = [copa_bin, "patch", "--cache-dir", str(tmp_path / "copa-cache"), *map(str, args)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg")))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_download_stops_promptly_and_writes_nothing(copa_bin, slow_world, tmp_path,
                                                               sig, code):
    # An existing layout destination with another image: it must stay as it is.
    dst = tmp_path / "dst"
    shutil.copytree(slow_world.layout, dst)
    before = tree_digest(dst)
    summary, vex = tmp_path / "s.json", tmp_path / "v.json"
    proc = start_copa(copa_bin, tmp_path, "-i", f"oci:{slow_world.layout}:1.0", "-t",
                      f"oci:{dst}:1.0-patched", "-r", fix_report(tmp_path), "--summary",
                      summary, "-o", vex, "--progress", "plain")
    try:
        assert slow_world.server.httpd.deb_started.wait(60), "copa never asked for the .deb"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert "interrupted by " + sig.name in err
    assert tree_digest(dst) == before
    assert not summary.exists() and not vex.exists()
    leftovers = list((tmp_path / "copa-cache" / "tmp").iterdir())
    assert leftovers == []


def test_timeout_during_a_download_names_the_flag(copa_bin, slow_world, tmp_path):
    dst = tmp_path / "dst"
    start = time.monotonic()
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{slow_world.layout}:1.0", "-t",
                 f"oci:{dst}:1.0-patched", "--timeout", "3s")
    elapsed = time.monotonic() - start
    assert p.returncode == 1
    assert "--timeout 3s" in p.stderr, p.stderr
    assert elapsed < 6
    assert not dst.exists()
    assert list((tmp_path / "copa-cache" / "tmp").iterdir()) == []


@pytest.fixture
def big_world(tmp_path, gpg_key, static_server):
    """An update with 96 MiB of incompressible data: seconds of unpacking and compression."""
    w = World(tmp_path, gpg_key, static_server)
    big = {"/usr/bin/tool": {"data": "tool 1.0-2\n", "mode": 0o755},
           "/usr/share/tool/blob": os.urandom(96 << 20)}
    w.publish(w.pkg("tool", "1.0-2", big, compress="none"))
    w.layout = w.image(w.rootfs(base_packages(w)))
    return w


def test_signal_during_compression_stops_promptly(copa_bin, big_world, tmp_path):
    dst = tmp_path / "dst"
    proc = start_copa(copa_bin, tmp_path, "-i", f"oci:{big_world.layout}:1.0", "-t",
                      f"oci:{dst}:1.0-patched", "--progress", "plain")
    try:
        for line in proc.stderr:
            if line.startswith("compress layer"):
                break
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert elapsed < 5
    assert not dst.exists()
    assert list((tmp_path / "copa-cache" / "tmp").iterdir()) == []


def event_seconds(stderr):
    """(task, event, seconds since the first event) of a --progress json run."""
    out, t0 = [], None
    for line in stderr.splitlines():
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        t0 = t if t0 is None else t0
        out.append((e.get("task"), e.get("event"), t - t0))
    return out


def test_timeout_during_unpacking_and_compression(copa_bin, big_world, tmp_path):
    """A deadline that falls while 96 MiB are unpacked and compressed stops the
    run there. Before, the run went on past the deadline and exited 0. The
    deadline is aimed from the previous run's own phase times (after the last
    download, before compression ends); a run that finished before its deadline
    (this machine's speed varies between runs) says nothing, and is aimed again.
    A run that exits 0 after its deadline is the bug."""
    runs = []
    aim = run_copa(copa_bin, tmp_path / "probe", "patch", "-i", f"oci:{big_world.layout}:1.0",
                   "-t", f"oci:{tmp_path}/probe-dst:1.0-patched", "--progress", "json")
    assert aim.returncode == 0, aim.stderr
    for attempt in range(6):
        ev = event_seconds(aim.stderr)
        begin = max(t for task, event, t in ev if task == "download")
        end = max(t for task, event, t in ev if task == "compress")
        if end - begin < 0.4:
            pytest.skip(f"unpacking and compressing took {end - begin:.2f} s here: too short to "
                        "aim a deadline at")
        deadline = begin + (end - begin) / 2
        dst = tmp_path / f"dst{attempt}"
        cache = tmp_path / f"run{attempt}"
        start = time.monotonic()
        p = run_copa(copa_bin, cache, "patch", "-i", f"oci:{big_world.layout}:1.0", "-t",
                     f"oci:{dst}:1.0-patched", "--timeout", f"{int(deadline * 1000)}ms",
                     "--progress", "json")
        elapsed = time.monotonic() - start
        runs.append(f"deadline {deadline:.2f} s (phases {begin:.2f}-{end:.2f} s): exit "
                    f"{p.returncode} after {elapsed:.2f} s")
        if p.returncode == 1:
            assert "longer than --timeout" in p.stderr, p.stderr
            assert elapsed < deadline + 3
            assert not dst.exists()
            assert list((cache / "copa-cache" / "tmp").iterdir()) == []
            return
        assert p.returncode == 0, p.stderr
        # Finished: only allowed when its work ended before its deadline (its own event
        # times, so the process exit and the sanitizers' leak check do not count).
        last = max(t for _, _, t in event_seconds(p.stderr))
        assert last <= deadline + 0.1, \
            f"the run worked until {last:.2f} s, past --timeout, and exited 0:\n" + "\n".join(runs)
        aim = p
    pytest.skip("every run finished before the deadline aimed from the one before it "
                "(run times vary too much here):\n" + "\n".join(runs))


def test_timeout_covers_work_outside_http(copa_bin, src_layout, tmp_path):
    """A scanner plugin that hangs is stopped by --timeout (the run's deadline), not
    after the plugin's own 5 minutes."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    plugin = bindir / "copa-slowscan"
    plugin.write_text("#!/bin/sh\nsleep 20\n")
    plugin.chmod(0o755)
    start = time.monotonic()
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-s", "slowscan",
                 "-r", fix_report(tmp_path), "--timeout", "2s",
                 env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    elapsed = time.monotonic() - start
    assert p.returncode == 1
    assert "--timeout 2s" in p.stderr, p.stderr
    assert elapsed < 5


# ---------------------------------------------------------------- reports for another image

def test_report_for_another_image_is_warned_about(copa_bin, src_layout, tmp_path):
    report = trivy_report(tmp_path / "r.json", "debian", "11.9", [
        ("tool", "1.0-1", "1.0-2", "CVE-2099-1001"),
        ("ghost", "1.0-1", "1.0-2", "CVE-2099-1003"),  # not in the image
    ])
    doc = json.loads(report.read_text())
    doc["ArtifactName"] = "debian:11"
    report.write_text(json.dumps(doc))
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r", report)
    assert p.returncode == 0, p.stderr
    assert "was made for debian 11.9" in p.stderr and "is debian 12" in p.stderr
    assert "was made for image 'debian:11'" in p.stderr
    assert "1 of the 2 packages" in p.stderr and "'ghost'" in p.stderr


def test_report_of_the_same_image_is_not_warned_about(copa_bin, src_layout, tmp_path):
    p = run_copa(copa_bin, tmp_path, "patch", "-i", f"oci:{src_layout}:1.0", "-r",
                 fix_report(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "was made for" not in p.stderr and "not installed" not in p.stderr


# ---------------------------------------------------------------- SSRF to metadata addresses

NETNS_RUNNER = textwrap.dedent('''
    import functools, http.server, json, subprocess, sys, threading

    cfg = json.load(open(sys.argv[1]))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "169.254.169.254/32", "dev", "lo"], check=True)
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", cfg["hosts"], "/etc/hosts"], check=True)
    seen = []

    class Meta(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(self.path)
            super().do_GET()

    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254" + self.path)
            self.end_headers()

    for srv in (http.server.ThreadingHTTPServer(("169.254.169.254", 80),
                                                functools.partial(Meta, directory=cfg["repo"])),
                http.server.ThreadingHTTPServer(("127.0.0.1", cfg["redirect_port"]), Redirect)):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = []
    for argv in cfg["runs"]:
        seen.clear()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        out.append({"rc": p.returncode, "stderr": p.stderr, "seen": list(seen)})
    print(json.dumps(out))
''')


def test_image_repositories_on_metadata_addresses_are_refused(copa_bin, world, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip to make a private network namespace")
    world.publish(*update_packages(world))
    base = base_packages(world)
    redirect_port = 8089
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n169.254.169.254 metadata.test\n")
    layouts = {}
    for name, url in [("literal", "http://169.254.169.254"), ("name", "http://metadata.test"),
                      ("redirect", f"http://127.0.0.1:{redirect_port}")]:
        def modify(root, url=url):
            (root / "etc/apt/sources.list").write_text(
                f"deb [signed-by=/usr/share/keyrings/copa-test.gpg] {url} stable main\n")
        layouts[name] = world.image(world.rootfs(base, modify=modify, name=f"root-{name}"),
                                    layout=tmp_path / f"img-{name}")

    def argv(layout, *extra, cache):
        return [copa_bin, "patch", "--cache-dir", str(tmp_path / cache), "-i",
                f"oci:{layout}:1.0", "-t", "1.0-patched", *extra]

    runs = [argv(layouts[n], cache=f"cache-{n}") for n in ("literal", "name", "redirect")]
    # The user's own --repo may name the address: the server is reachable, so the
    # refusals above are copa's doing.
    runs.append(argv(layouts["literal"], "-t", "1.0-user", "--repo",
                     f"deb [signed-by={world.key.public}] http://169.254.169.254 stable main",
                     "--repo-replace", cache="cache-user"))
    cfg = tmp_path / "netns.json"
    cfg.write_text(json.dumps({"hosts": str(hosts), "repo": str(world.repo.root),
                               "redirect_port": redirect_port, "runs": runs}))
    runner = tmp_path / "netns_runner.py"
    runner.write_text(NETNS_RUNNER)
    p = subprocess.run(["unshare", "--net", "--mount", sys.executable, str(runner), str(cfg)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    literal, name, redirect, user = json.loads(p.stdout)
    for r in (literal, name, redirect):
        assert r["rc"] == 1, r["stderr"]
        assert "refusing to connect to 169.254.169.254" in r["stderr"], r["stderr"]
        assert "--repo" in r["stderr"]
        assert r["seen"] == []
    assert user["rc"] == 0, user["stderr"]
    assert any(s.endswith(".deb") for s in user["seen"])


def test_report_image_name_is_compared_for_registry_images(copa_bin, world, tmp_path, registry):
    from test_patch import _copy_bin
    world.publish(*update_packages(world))
    layout = world.image(world.rootfs(base_packages(world)))
    src = f"{registry.host}/team/app:1.0"
    subprocess.run([_copy_bin(), f"oci:{layout}:1.0", src], check=True, capture_output=True)
    report = fix_report(tmp_path)
    doc = json.loads(report.read_text())
    for artifact, warned in [("docker.io/library/app:1.0", False),  # its mirror: same image
                             ("docker.io/library/nginx:1.0", True),
                             ("app:0.9", True)]:
        doc["ArtifactName"] = artifact
        report.write_text(json.dumps(doc))
        p = run_copa(copa_bin, tmp_path, "patch", "-i", src, "-r", report, "-t",
                     f"oci:{tmp_path}/out:x")
        assert p.returncode == 0, p.stderr
        assert (f"was made for image '{artifact}'" in p.stderr) == warned, (artifact, p.stderr)
