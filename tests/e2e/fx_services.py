"""Real local services for the e2e tests: a docker-registry server and static
HTTP servers, each on a free port of 127.0.0.1 so parallel runs never clash."""
import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20, ok=(200, 401)):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status in ok:
                    return
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
            last = e
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up: {last}")


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


class Registry:
    """A docker-registry process. `host` is "127.0.0.1:<port>"; http_extra adds
    settings under `http:` (TLS), auth_yaml an `auth:` section; with
    scheme="https" start-up waits for the port instead of an HTTP answer."""

    def __init__(self, workdir, auth_yaml="", http_extra="", scheme="http"):
        if not shutil.which("docker-registry"):
            pytest.fail("docker-registry is not installed (scripts/install-deps.sh installs it)")
        workdir = pathlib.Path(workdir)
        (workdir / "storage").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.dir = workdir
        cfg = workdir / "config.yml"
        cfg.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n  filesystem:\n    rootdirectory: " + str(workdir / "storage") + "\n"
            "  delete:\n    enabled: true\n"
            "http:\n  addr: 127.0.0.1:" + str(self.port) + "\n" + http_extra + auth_yaml)
        self.log = open(workdir / "registry.log", "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if scheme == "http":
            wait_http(f"http://{self.host}/v2/")
        else:
            wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def registry(tmp_path):
    """An anonymous registry on 127.0.0.1."""
    r = Registry(tmp_path / "registry")
    yield r
    r.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class BackgroundHTTPServer:
    """A ThreadingHTTPServer on a free port of `bind`, served from a daemon
    thread: `port`, `host` (bind:port) and `url` (no trailing slash)."""

    def __init__(self, handler, bind="127.0.0.1"):
        self.httpd = http.server.ThreadingHTTPServer((bind, 0), handler)
        self.port = self.httpd.server_address[1]
        self.host = f"{bind}:{self.port}"
        self.url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StaticServer(BackgroundHTTPServer):
    """Serves a directory over HTTP on 127.0.0.1."""

    def __init__(self, root):
        super().__init__(functools.partial(_QuietHandler, directory=str(root)))


@pytest.fixture
def static_server():
    """Factory: static_server(path) -> StaticServer, stopped after the test."""
    servers = []

    def start(root):
        s = StaticServer(root)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
