"""Fixtures for the registry-client tests (tests/e2e/test_registry*.py).

Everything here is real: docker-registry processes on 127.0.0.1 with
htpasswd Basic auth (htpasswd -B from apache2-utils) or token auth, a small
token service that signs RS256 JWTs with a test key (its certificate goes in
the JWT's x5c header and in the registry's rootcertbundle), a fault-injecting
reverse proxy in front of a registry, a "CDN" that records the headers of
redirected requests, TLS certificates made with python3-cryptography, and a
docker-credential-test helper script.
"""
import base64
import datetime
import http.client
import http.server
import ipaddress
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fx_services import BackgroundHTTPServer, Registry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def regtool_path():
    if os.environ.get("COPA_REGTOOL"):
        return os.environ["COPA_REGTOOL"]
    copa = pathlib.Path(os.environ.get("COPA_BIN", str(ROOT / "build" / "copa")))
    return str(copa.parent / "tests" / "helpers" / "copa-regtool")


@pytest.fixture(scope="session")
def regtool_bin():
    p = regtool_path()
    if not os.access(p, os.X_OK):
        pytest.fail(f"copa-regtool not found at {p}: build it (ninja -C build) or set COPA_REGTOOL")
    return p


@pytest.fixture
def regtool(regtool_bin, tmp_path):
    """Runs copa-regtool with an isolated HOME (no real credentials leak in);
    returns the CompletedProcess (text mode)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(*args, env=None, timeout=120):
        full = {k: v for k, v in os.environ.items()
                if k not in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR",
                             "COPA_INSECURE_REGISTRIES")}
        full["HOME"] = str(home)
        if env:
            full.update(env)
        return subprocess.run([regtool_bin, *map(str, args)], capture_output=True, text=True,
                              env=full, timeout=timeout)

    return run


def kv(stdout):
    """Parses regtool's "key value" lines."""
    out = {}
    for line in stdout.splitlines():
        if " " in line:
            k, v = line.split(" ", 1)
            out[k] = v
    return out


# ---------------------------------------------------------------- registries

@pytest.fixture
def make_registry(tmp_path):
    """Factory: make_registry(name, http_extra="", auth_yaml="") -> Registry."""
    regs = []

    def make(name="registry", **kw):
        r = Registry(tmp_path / name, **kw)
        regs.append(r)
        return r

    yield make
    for r in regs:
        r.stop()


@pytest.fixture
def basic_registry(make_registry, tmp_path):
    """A registry with htpasswd Basic auth; user alice / password s3cret."""
    if not shutil.which("htpasswd"):
        pytest.fail("htpasswd is not installed (apache2-utils; scripts/install-deps.sh)")
    pw = tmp_path / "htpasswd"
    out = subprocess.run(["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True,
                         check=True).stdout
    pw.write_text(out)
    r = make_registry("basic-registry",
                      auth_yaml=f"auth:\n  htpasswd:\n    realm: copa-test\n    path: {pw}\n")
    r.user, r.password = "alice", "s3cret"
    return r


# ---------------------------------------------------------------- certificates

def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(cn, key, issuer_cert=None, issuer_key=None, ca=False, ip=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder()
         .subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                            critical=False)
    if client:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# ---------------------------------------------------------------- token service

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService(BackgroundHTTPServer):
    """The distribution token protocol (GET with optional Basic auth, OAuth2
    POST with password or refresh_token grants), signing RS256 JWTs.

    Users get every action they ask for; anonymous callers get pull on
    repositories under public/. Every request is recorded in `requests`."""

    SERVICE = "copa-test-registry"
    ISSUER = "copa-test-issuer"

    def __init__(self, workdir):
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.key = new_key()
        self.cert = make_cert("copa-test-token-signer", self.key)
        self.bundle = workdir / "token-signer.crt"
        self.bundle.write_bytes(pem_cert(self.cert))
        self.users = {"alice": "s3cret"}
        self.identity_tokens = {"idt-alice-1234": "alice"}
        self.requests = []
        self.lock = threading.Lock()
        svc = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                user, ok = svc._basic_user(self.headers.get("Authorization"))
                svc._record("GET", q, self.headers, user)
                if not ok:
                    return self._send(401, {"errors": [{"code": "UNAUTHORIZED",
                                                        "message": "invalid username or password"}]})
                tok = svc.issue(user, q.get("scope", []))
                self._send(200, {"token": tok, "access_token": tok, "expires_in": 300,
                                 "issued_at": datetime.datetime.now(datetime.timezone.utc)
                                 .strftime("%Y-%m-%dT%H:%M:%SZ")})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                svc._record("POST", form, self.headers, None)
                grant = form.get("grant_type", [""])[0]
                user = None
                if grant == "refresh_token":
                    user = svc.identity_tokens.get(form.get("refresh_token", [""])[0])
                elif grant == "password":
                    u, p = form.get("username", [""])[0], form.get("password", [""])[0]
                    user = u if svc.users.get(u) == p else None
                if not user:
                    return self._send(401, {"error": "invalid_grant"})
                scopes = " ".join(form.get("scope", [])).split()
                tok = svc.issue(user, scopes)
                self._send(200, {"access_token": tok, "expires_in": 300,
                                 "refresh_token": "idt-alice-1234"})

            def _send(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        BackgroundHTTPServer.__init__(self, Handler)
        self.realm = f"{self.url}/token"

    def _basic_user(self, header):
        if not header:
            return None, True
        if not header.startswith("Basic "):
            return None, False
        try:
            user, pw = base64.b64decode(header[6:]).decode().split(":", 1)
        except Exception:
            return None, False
        return user, self.users.get(user) == pw

    def _record(self, method, params, headers, user):
        with self.lock:
            self.requests.append({"method": method, "params": params,
                                  "authorization": headers.get("Authorization"), "user": user})

    def issue(self, user, scopes):
        access = []
        for scope in scopes:
            for s in scope.split():
                parts = s.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
                if not user:
                    actions = [a for a in actions if a == "pull" and name.startswith("public/")]
                if actions:
                    access.append({"type": "repository", "name": name, "actions": actions})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(
                      serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.ISSUER, "sub": user or "", "aud": self.SERVICE, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + b64url(sig)

    def auth_yaml(self):
        return ("auth:\n  token:\n"
                f"    realm: {self.realm}\n    service: {self.SERVICE}\n"
                f"    issuer: {self.ISSUER}\n    rootcertbundle: {self.bundle}\n")


@pytest.fixture
def token_registry(make_registry, tmp_path):
    """A registry with token auth; `.tokens` is its TokenService (alice / s3cret,
    identity token idt-alice-1234; anonymous pull on public/*)."""
    ts = TokenService(tmp_path / "token-service")
    r = make_registry("token-registry", auth_yaml=ts.auth_yaml())
    r.tokens = ts
    yield r
    ts.stop()


# ---------------------------------------------------------------- fault proxy

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


class FaultProxy(BackgroundHTTPServer):
    """A reverse proxy in front of `upstream` (host:port) that records every
    request and applies fault rules, each a dict matched in order:
      action: "status" (answer `status` with `headers` and error `code`, not forwarded),
              "reset" (forward, send half the body, then reset the connection),
              "corrupt" (forward, flip a byte in the body),
              "redirect" (answer 307 to `target` + the same path, plus "?sig=1"),
              "drop" (close without answering),
              "paginate" (forward a tags/list request and answer its `n`/`last`
              page with a `Link: <...>; rel="next"` header, as registries that
              paginate do: Debian's docker-registry 2.8 ignores `n`)
      method, path (regex searched in the request path), times (how often),
      with_auth (only requests carrying an Authorization header)."""

    def __init__(self, upstream, bind="127.0.0.1"):
        self.upstream = upstream
        self.rules = []
        self.log = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                entry = {"method": self.command, "path": self.path,
                         "headers": {k.lower(): v for k, v in self.headers.items()},
                         "body_len": len(body)}
                with proxy.lock:
                    proxy.log.append(entry)
                rule = proxy._match(self.command, self.path, "authorization" in entry["headers"])
                action = rule["action"] if rule else None
                if action == "status":
                    code = rule.get("code") or ("UNAVAILABLE" if rule["status"] != 429
                                                else "TOOMANYREQUESTS")
                    data = json.dumps({"errors": [{"code": code,
                                                   "message": "injected fault"}]}).encode()
                    self.send_response(rule["status"])
                    for k, v in rule.get("headers", {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return
                if action == "drop":
                    self._reset()
                    return
                if action == "redirect":
                    sep = "&" if "?" in self.path else "?"
                    self.send_response(307)
                    self.send_header("Location", f"http://{rule['target']}{self.path}{sep}sig=1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                if action == "paginate" and status == 200:
                    headers, data = proxy._paginate(self.path, headers, data)
                if action == "corrupt" and data:
                    i = len(data) // 2
                    data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                self.send_response(status)
                for k, v in headers:
                    if k.lower() in HOP or k.lower() == "content-length":
                        continue
                    self.send_header(k, v)
                clen = dict((k.lower(), v) for k, v in headers).get("content-length")
                self.send_header("Content-Length",
                                 clen if self.command == "HEAD" and clen else str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if action == "reset":
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self._reset()
                    return
                self.wfile.write(data)

            def _reset(self):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.connection.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        BackgroundHTTPServer.__init__(self, Handler, bind)

    def add(self, action, path=r"/blobs/sha256:", method="GET", times=1, **kw):
        with self.lock:
            self.rules.append(dict(action=action, path=path, method=method, times=times, **kw))

    def _match(self, method, path, has_auth):
        with self.lock:
            for r in self.rules:
                if r.get("with_auth") and not has_auth:
                    continue
                if r["times"] > 0 and r["method"] == method and re.search(r["path"], path):
                    r["times"] -= 1
                    return r
        return None

    def _forward(self, method, path, headers, body):
        c = http.client.HTTPConnection(self.upstream, timeout=30)
        h = {k: v for k, v in headers.items() if k.lower() not in HOP}
        c.request(method, path, body=body if body or method in ("PUT", "POST", "PATCH") else None,
                  headers=h)
        resp = c.getresponse()
        data = resp.read() if method != "HEAD" else b""
        out = (resp.status, resp.getheaders(), data)
        c.close()
        return out

    @staticmethod
    def _paginate(path, headers, data):
        url = urllib.parse.urlsplit(path)
        q = urllib.parse.parse_qs(url.query)
        n = int(q.get("n", ["100"])[0])
        last = q.get("last", [""])[0]
        doc = json.loads(data)
        rest = [t for t in sorted(doc.get("tags") or []) if t > last]
        doc["tags"] = rest[:n]
        headers = [(k, v) for k, v in headers if k.lower() != "link"]
        if len(rest) > n:
            nxt = urllib.parse.urlencode({"n": n, "last": doc["tags"][-1]})
            headers.append(("Link", f'<{url.path}?{nxt}>; rel="next"'))
        return headers, json.dumps(doc).encode()

    def requests(self, method=None, path=None):
        with self.lock:
            return [e for e in self.log
                    if (method is None or e["method"] == method)
                    and (path is None or re.search(path, e["path"]))]


@pytest.fixture
def fault_proxy():
    """Factory: fault_proxy(upstream_host, bind="127.0.0.1") -> FaultProxy."""
    proxies = []

    def make(upstream, bind="127.0.0.1"):
        p = FaultProxy(upstream, bind=bind)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()


class RecordingBlobServer(BackgroundHTTPServer):
    """Stands in for a CDN: serves `blobs` (path suffix -> bytes) and records
    the headers of every request."""

    def __init__(self):
        self.blobs = {}
        self.log = []
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.log.append({"path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()}})
                path = self.path.split("?")[0]
                for suffix, data in srv.blobs.items():
                    if path.endswith(suffix):
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        BackgroundHTTPServer.__init__(self, Handler)


@pytest.fixture
def blob_cdn():
    s = RecordingBlobServer()
    yield s
    s.stop()


# ---------------------------------------------------------------- credentials

HELPER_SCRIPT = """#!/bin/sh
# docker-credential-test: answers `get` from $COPA_TEST_CREDS (JSON keyed by
# server) and logs every call to $COPA_TEST_CREDS_LOG.
set -eu
server=$(cat)
echo "$1 $server" >> "$COPA_TEST_CREDS_LOG"
[ "$1" = get ] || exit 1
exec /usr/bin/python3 -c '
import json, sys
creds = json.load(open(sys.argv[1]))
c = creds.get(sys.argv[2])
if not c:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({"ServerURL": sys.argv[2], "Username": c[0], "Secret": c[1]}))
' "$COPA_TEST_CREDS" "$server"
"""


@pytest.fixture
def cred_helper(tmp_path):
    """Installs docker-credential-test in a PATH directory. Returns an object
    with .env (PATH and variables for regtool), .set(server, user, secret) and
    .calls() (the logged invocations)."""
    d = tmp_path / "helper-bin"
    d.mkdir()
    script = d / "docker-credential-test"
    script.write_text(HELPER_SCRIPT)
    script.chmod(0o755)
    store = tmp_path / "helper-creds.json"
    store.write_text("{}")
    log = tmp_path / "helper.log"
    log.write_text("")

    class Helper:
        env = {"PATH": f"{d}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "COPA_TEST_CREDS": str(store), "COPA_TEST_CREDS_LOG": str(log)}

        @staticmethod
        def set(server, user, secret):
            creds = json.loads(store.read_text())
            creds[server] = [user, secret]
            store.write_text(json.dumps(creds))

        @staticmethod
        def calls():
            return [l for l in log.read_text().splitlines() if l]

    return Helper


def docker_config(dirpath, auths=None, creds_store=None, cred_helpers=None):
    """Writes dirpath/config.json; auths maps key -> (user, password) or dict."""
    dirpath = pathlib.Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    cfg = {}
    if auths is not None:
        cfg["auths"] = {}
        for k, v in auths.items():
            if isinstance(v, tuple):
                v = {"auth": base64.b64encode(f"{v[0]}:{v[1]}".encode()).decode()}
            cfg["auths"][k] = v
    if creds_store:
        cfg["credsStore"] = creds_store
    if cred_helpers:
        cfg["credHelpers"] = cred_helpers
    (dirpath / "config.json").write_text(json.dumps(cfg))
    return dirpath / "config.json"


def host_ip():
    """A non-loopback IPv4 address of this machine, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.254.254.254", 1))
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip
