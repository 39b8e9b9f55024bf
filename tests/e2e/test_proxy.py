"""Proxies from the environment: with http_proxy set, copa's registry and
package-repository traffic goes through the proxy (a real forward proxy
written here, which records what it forwarded); no_proxy exempts hosts."""
import http.client
import http.server
import threading
import urllib.parse

import pytest

import imagetools as it


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _forward(self):
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http":
            self.send_error(400, "absolute http URI expected")
            return
        self.server.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "host")}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        path = url.path + (f"?{url.query}" if url.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@pytest.fixture
def forward_proxy():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def _image(tmp_path):
    layout = tmp_path / "img"
    it.write_image(layout, [it.tar_layer([("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
                                          ("var/lib/dpkg/status", "")])], tag="1")
    return layout


def test_registry_traffic_goes_through_http_proxy(copa, tmp_path, registry, forward_proxy):
    it.skopeo("copy", "--dest-tls-verify=false", f"oci:{_image(tmp_path)}:1",
              f"docker://{registry.host}/p/app:1")
    env = {"http_proxy": forward_proxy.url, "no_proxy": "", "NO_PROXY": ""}
    p = copa("inspect", "--json", f"{registry.host}/p/app:1", env=env)
    assert p.returncode == 0, p.stderr
    paths = [u for _, u in forward_proxy.seen]
    assert any(u.startswith(f"http://{registry.host}/v2/p/app/manifests/1") for u in paths), paths
    assert any("/blobs/sha256:" in u for u in paths), paths


def test_no_proxy_exempts_a_host(copa, tmp_path, registry, forward_proxy):
    it.skopeo("copy", "--dest-tls-verify=false", f"oci:{_image(tmp_path)}:1",
              f"docker://{registry.host}/p/app:1")
    env = {"http_proxy": forward_proxy.url, "no_proxy": "127.0.0.1"}
    copa("inspect", "--json", f"{registry.host}/p/app:1", env=env, check=True)
    assert forward_proxy.seen == []
