"""Fault handling of the registry client: a reverse proxy in front of a real
docker-registry resets connections mid-blob, answers 500 and 429, serves
wrong bytes and redirects blob downloads to another host. Retries must
succeed where they should and fail cleanly (nothing half-written) where
they must. Plain HTTP to a non-loopback address needs an explicit opt-in,
and TLS registries need their CA (--ca-file or certs.d)."""
import hashlib
import json
import os
import subprocess
import time

import pytest

from fx_registry import docker_config, host_ip, kv, make_cert, new_key, pem_cert, pem_key
from fx_services import wait_port


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


FAST = ("--backoff-ms", "20")


@pytest.fixture
def pushed(regtool, make_registry, tmp_path):
    """A registry holding one 400 kB blob and a manifest tagged v1."""
    reg = make_registry()
    data = os.urandom(400000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    assert regtool("put-blob", f"{reg.host}/copa/app", f).returncode == 0
    cfg = b"{}"
    (tmp_path / "cfg").write_bytes(cfg)
    assert regtool("put-blob", f"{reg.host}/copa/app", tmp_path / "cfg").returncode == 0
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha(data), "size": len(data)}]}).encode()
    (tmp_path / "m.json").write_bytes(manifest)
    p = regtool("put-manifest", f"{reg.host}/copa/app:v1", tmp_path / "m.json",
                "application/vnd.oci.image.manifest.v1+json")
    assert p.returncode == 0, p.stderr
    out = tmp_path / "out"
    out.mkdir()
    reg.data, reg.digest, reg.manifest, reg.out = data, sha(data), manifest, out
    return reg


def test_reset_mid_blob_resumes_with_range(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("reset", times=1)
    dest = pushed.out / "blob"
    p = regtool(*FAST, "get-blob", f"{proxy.host}/copa/app", pushed.digest, dest, len(pushed.data))
    assert p.returncode == 0, p.stderr
    assert dest.read_bytes() == pushed.data
    gets = proxy.requests("GET", r"/blobs/sha256:")
    assert len(gets) == 2
    assert "range" not in gets[0]["headers"]
    start = int(gets[1]["headers"]["range"].split("=")[1].rstrip("-"))
    assert 0 < start <= len(pushed.data) // 2, gets[1]["headers"]["range"]
    assert "retrying" in p.stderr


def test_500_then_success(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("status", path=r"/manifests/v1", status=500, times=2)
    dest = pushed.out / "m.json"
    p = regtool(*FAST, "get-manifest", f"{proxy.host}/copa/app:v1", dest)
    assert p.returncode == 0, p.stderr
    assert dest.read_bytes() == pushed.manifest
    assert len(proxy.requests("GET", r"/manifests/v1")) == 3


def test_429_honours_retry_after(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("status", status=429, headers={"Retry-After": "1"}, times=1)
    dest = pushed.out / "blob"
    t0 = time.monotonic()
    p = regtool(*FAST, "get-blob", f"{proxy.host}/copa/app", pushed.digest, dest)
    waited = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert dest.read_bytes() == pushed.data
    # The backoff is 20 ms: only Retry-After explains a wait of a second.
    assert waited >= 0.9
    assert "429" in p.stderr and "1.0 s" in p.stderr


def test_persistent_500_fails_cleanly(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("status", status=500, times=100)
    dest = pushed.out / "blob"
    p = regtool(*FAST, "--retries", "2", "get-blob", f"{proxy.host}/copa/app", pushed.digest,
                dest)
    assert p.returncode == 1
    assert "error[http]" in p.stderr and "500" in p.stderr, p.stderr
    assert len(proxy.requests("GET", r"/blobs/")) == 3
    assert list(pushed.out.iterdir()) == [], "a partial or temporary file was left"


def test_wrong_bytes_fail_digest_check_without_retry(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("corrupt", times=100)
    dest = pushed.out / "blob"
    p = regtool(*FAST, "get-blob", f"{proxy.host}/copa/app", pushed.digest, dest)
    assert p.returncode == 1
    assert "error[verify]" in p.stderr and "does not match its digest" in p.stderr, p.stderr
    assert len(proxy.requests("GET", r"/blobs/")) == 1
    assert list(pushed.out.iterdir()) == []


def test_wrong_manifest_bytes_fail(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("corrupt", path=r"/manifests/", times=100)
    digest = sha(pushed.manifest)
    p = regtool(*FAST, "get-manifest", f"{proxy.host}/copa/app@{digest}", pushed.out / "m")
    assert p.returncode == 1 and "error[verify]" in p.stderr, p.stderr
    # By tag, Docker-Content-Digest gives it away.
    p = regtool(*FAST, "get-manifest", f"{proxy.host}/copa/app:v1", pushed.out / "m")
    assert p.returncode == 1 and "error[verify]" in p.stderr, p.stderr
    assert list(pushed.out.iterdir()) == []


def test_manifest_blob_unknown_is_tried_again(regtool, pushed, fault_proxy):
    """A registry can report a blob another client is linking at that moment as unknown:
    the manifest PUT is sent again (up to 3 more times) before it counts as an error."""
    proxy = fault_proxy(pushed.host)
    proxy.add("status", method="PUT", path=r"/manifests/", status=400,
              code="MANIFEST_BLOB_UNKNOWN", times=2)
    p = regtool("put-manifest", f"{proxy.host}/copa/app:v2", pushed.out.parent / "m.json",
                "application/vnd.oci.image.manifest.v1+json")
    assert p.returncode == 0, p.stderr
    assert len(proxy.requests("PUT", r"/manifests/")) == 3
    p = regtool("get-manifest", f"{pushed.host}/copa/app:v2", pushed.out / "m")
    assert p.returncode == 0 and (pushed.out / "m").read_bytes() == pushed.manifest
    # a blob that stays unknown is an error after four tries, naming the registry's code
    proxy.add("status", method="PUT", path=r"/manifests/", status=400,
              code="MANIFEST_BLOB_UNKNOWN", times=100)
    p = regtool("put-manifest", f"{proxy.host}/copa/app:v3", pushed.out.parent / "m.json",
                "application/vnd.oci.image.manifest.v1+json")
    assert p.returncode == 1 and "MANIFEST_BLOB_UNKNOWN" in p.stderr, p.stderr
    assert "cannot push manifest 'v3'" in p.stderr
    assert len(proxy.requests("PUT", r"/manifests/")) == 3 + 4
    # other 400s are not retried
    proxy.rules.clear()
    proxy.add("status", method="PUT", path=r"/manifests/", status=400, code="MANIFEST_INVALID")
    p = regtool("put-manifest", f"{proxy.host}/copa/app:v4", pushed.out.parent / "m.json",
                "application/vnd.oci.image.manifest.v1+json")
    assert p.returncode == 1 and "MANIFEST_INVALID" in p.stderr, p.stderr
    assert len(proxy.requests("PUT", r"/manifests/")) == 3 + 4 + 1


def test_dropped_connections_exhaust_retries(regtool, pushed, fault_proxy):
    proxy = fault_proxy(pushed.host)
    proxy.add("drop", path=r"/manifests/", times=100)
    p = regtool(*FAST, "--retries", "3", "get-manifest", f"{proxy.host}/copa/app:v1",
                pushed.out / "m")
    assert p.returncode == 1 and "error[network]" in p.stderr, p.stderr
    assert len(proxy.requests("GET", r"/manifests/")) == 4
    assert list(pushed.out.iterdir()) == []


def test_upload_restarts_after_server_error(regtool, make_registry, fault_proxy, tmp_path):
    reg = make_registry()
    proxy = fault_proxy(reg.host)
    proxy.add("status", method="PUT", path=r"/blobs/uploads/", status=503, times=1)
    data = os.urandom(100000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    p = regtool(*FAST, "put-blob", f"{proxy.host}/copa/up", f)
    assert p.returncode == 0, p.stderr
    assert len(proxy.requests("POST")) == 2, "the upload session was not restarted"
    back = tmp_path / "back"
    assert regtool("get-blob", f"{reg.host}/copa/up", sha(data), back).returncode == 0
    assert back.read_bytes() == data


def test_redirected_blob_gets_no_authorization(regtool, token_registry, fault_proxy, blob_cdn,
                                               tmp_path):
    data = os.urandom(50000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")})
    proxy = fault_proxy(token_registry.host)
    docker_config(tmp_path / "cfg2", auths={proxy.host: ("alice", "s3cret")})
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg2")}
    assert regtool("put-blob", f"{proxy.host}/private/app", f, env=env).returncode == 0
    blob_cdn.blobs[sha(data)] = data
    proxy.add("redirect", target=blob_cdn.host, times=1, with_auth=True)
    dest = tmp_path / "back"
    p = regtool("get-blob", f"{proxy.host}/private/app", sha(data), dest, env=env)
    assert p.returncode == 0, p.stderr
    assert dest.read_bytes() == data
    # The registry got the bearer token; the other host got nothing.
    reg_get = proxy.requests("GET", r"/blobs/sha256:")[-1]
    assert reg_get["headers"]["authorization"].startswith("Bearer ")
    assert len(blob_cdn.log) == 1
    assert "authorization" not in blob_cdn.log[0]["headers"]
    assert blob_cdn.log[0]["path"].endswith("sig=1")


def test_redirect_to_wrong_bytes_is_caught(regtool, pushed, fault_proxy, blob_cdn):
    proxy = fault_proxy(pushed.host)
    blob_cdn.blobs[pushed.digest] = b"not the blob"
    proxy.add("redirect", target=blob_cdn.host, times=100)
    dest = pushed.out / "blob"
    p = regtool(*FAST, "get-blob", f"{proxy.host}/copa/app", pushed.digest, dest)
    assert p.returncode == 1 and "error[verify]" in p.stderr, p.stderr
    assert list(pushed.out.iterdir()) == []


# ------------------------------------------------------------- plain HTTP opt-in

@pytest.fixture
def nonloopback_proxy(pushed, fault_proxy):
    ip = host_ip()
    if not ip:
        pytest.skip("this machine has no non-loopback IPv4 address to test plain-HTTP opt-in")
    return fault_proxy(pushed.host, bind=ip)


def test_plain_http_needs_opt_in_off_loopback(regtool, pushed, nonloopback_proxy):
    host = nonloopback_proxy.host
    p = regtool("--retries", "0", "head-manifest", f"{host}/copa/app:v1")
    assert p.returncode == 1, p.stdout
    assert "https://" in p.stderr, p.stderr
    assert nonloopback_proxy.requests("HEAD") == [], "talked plain HTTP without an opt-in"
    p = regtool("--insecure-registry", host, "head-manifest", f"{host}/copa/app:v1")
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "yes", p.stderr
    p = regtool("head-manifest", f"{host}/copa/app:v1",
                env={"COPA_INSECURE_REGISTRIES": f"example.org,{host}"})
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "yes", p.stderr
    # A host entry without a port covers every port.
    p = regtool("--insecure-registry", host.split(":")[0], "head-manifest", f"{host}/copa/app:v1")
    assert p.returncode == 0, p.stderr


# ------------------------------------------------------------- TLS

@pytest.fixture
def tls_registry(make_registry, tmp_path):
    ca_key = new_key()
    ca = make_cert("copa test CA", ca_key, ca=True)
    key = new_key()
    cert = make_cert("127.0.0.1", key, issuer_cert=ca, issuer_key=ca_key, ip="127.0.0.1")
    d = tmp_path / "tls"
    d.mkdir()
    (d / "ca.pem").write_bytes(pem_cert(ca))
    (d / "server.crt").write_bytes(pem_cert(cert))
    (d / "server.key").write_bytes(pem_key(key))
    reg = make_registry("tls-registry", scheme="https",
                        http_extra=f"  tls:\n    certificate: {d / 'server.crt'}\n"
                                   f"    key: {d / 'server.key'}\n")
    reg.ca = d / "ca.pem"
    return reg


def test_tls_registry_needs_its_ca(regtool, tls_registry, tmp_path):
    f = tmp_path / "blob"
    f.write_bytes(b"tls blob")
    p = regtool("--retries", "0", "put-blob", f"{tls_registry.host}/copa/app", f)
    assert p.returncode == 1
    assert "certificate" in p.stderr.lower(), p.stderr
    p = regtool("--ca-file", tls_registry.ca, "put-blob", f"{tls_registry.host}/copa/app", f)
    assert p.returncode == 0, p.stderr
    # docker's certs.d layout: <dir>/<host:port>/ca.crt
    certs = tmp_path / "certs.d"
    (certs / tls_registry.host).mkdir(parents=True)
    (certs / tls_registry.host / "ca.crt").write_bytes(tls_registry.ca.read_bytes())
    p = regtool("--certs-dir", certs, "exists", f"{tls_registry.host}/copa/app", sha(b"tls blob"))
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "yes", p.stderr


def test_mutual_tls_with_certs_d_client_certificate(regtool, make_registry, tmp_path):
    """A registry that requires client certificates: certs.d's client.cert
    and client.key are presented, and without them the handshake fails."""
    ca_key = new_key()
    ca = make_cert("copa test CA", ca_key, ca=True)
    skey, ckey = new_key(), new_key()
    scert = make_cert("127.0.0.1", skey, issuer_cert=ca, issuer_key=ca_key, ip="127.0.0.1")
    ccert = make_cert("copa client", ckey, issuer_cert=ca, issuer_key=ca_key, client=True)
    d = tmp_path / "mtls"
    d.mkdir()
    (d / "ca.pem").write_bytes(pem_cert(ca))
    (d / "server.crt").write_bytes(pem_cert(scert))
    (d / "server.key").write_bytes(pem_key(skey))
    reg = make_registry("mtls-registry", scheme="https",
                        http_extra=f"  tls:\n    certificate: {d / 'server.crt'}\n"
                                   f"    key: {d / 'server.key'}\n"
                                   f"    clientcas:\n      - {d / 'ca.pem'}\n")
    certs = tmp_path / "certs.d"
    hostdir = certs / reg.host
    hostdir.mkdir(parents=True)
    (hostdir / "ca.crt").write_bytes(pem_cert(ca))
    f = tmp_path / "blob"
    f.write_bytes(b"mtls blob")
    p = regtool("--retries", "0", "--certs-dir", certs, "put-blob", f"{reg.host}/copa/app", f)
    assert p.returncode == 1, "the registry accepted a client without a certificate"
    assert "error[network]" in p.stderr and "https://" in p.stderr, p.stderr
    (hostdir / "client.cert").write_bytes(pem_cert(ccert))
    (hostdir / "client.key").write_bytes(pem_key(ckey))
    p = regtool("--certs-dir", certs, "put-blob", f"{reg.host}/copa/app", f)
    assert p.returncode == 0, p.stderr
    p = regtool("--certs-dir", certs, "exists", f"{reg.host}/copa/app", sha(b"mtls blob"))
    assert kv(p.stdout)["exists"] == "yes"
