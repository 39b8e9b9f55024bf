"""Registry authentication against real docker-registry servers: htpasswd
Basic auth, token auth through a token service written here, credentials
found in DOCKER_CONFIG (auths, credHelpers, credsStore), REGISTRY_AUTH_FILE
and containers auth.json, identity tokens (OAuth2 POST), and clear errors."""
import base64
import hashlib
import json
import os

import pytest

from fx_registry import docker_config, kv


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def blobfile(tmp_path):
    data = os.urandom(30000)
    f = tmp_path / "blob"
    f.write_bytes(data)
    return f, sha(data)


# ------------------------------------------------------------- Basic auth

def test_basic_auth_requires_credentials(regtool, basic_registry, blobfile):
    f, d = blobfile
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f)
    assert p.returncode == 1
    assert "error[auth]" in p.stderr
    assert "requires a login" in p.stderr and "docker login" in p.stderr, p.stderr


def test_basic_auth_with_explicit_credentials(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    p = regtool("--username", "alice", "--password", "s3cret", "put-blob",
                f"{basic_registry.host}/copa/app", f)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "back"
    p = regtool("--username", "alice", "--password", "s3cret", "get-blob",
                f"{basic_registry.host}/copa/app", d, out)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == f.read_bytes()


def test_basic_auth_wrong_password_is_a_clear_error(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    out = tmp_path / "back"
    p = regtool("--username", "alice", "--password", "wrong", "get-blob",
                f"{basic_registry.host}/copa/app", d, out)
    assert p.returncode == 1
    assert "error[auth]" in p.stderr and "access denied" in p.stderr, p.stderr
    assert "credentials from the command line" in p.stderr
    assert "wrong" not in p.stderr, "the password leaked into the message"
    assert not out.exists()


def test_basic_auth_from_docker_config(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    cfgdir = tmp_path / "dockercfg"
    # A URL-style key is normalised to host:port.
    docker_config(cfgdir, auths={f"https://{basic_registry.host}/v1/": ("alice", "s3cret")})
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f,
                env={"DOCKER_CONFIG": str(cfgdir)})
    assert p.returncode == 0, p.stderr


def test_basic_auth_from_home_docker_config(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    # regtool's HOME is tmp_path/home: ~/.docker/config.json is the default.
    docker_config(tmp_path / "home" / ".docker",
                  auths={basic_registry.host: {"username": "alice", "password": "s3cret"}})
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f)
    assert p.returncode == 0, p.stderr


def test_basic_auth_from_registry_auth_file(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {basic_registry.host: {
        "auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    # REGISTRY_AUTH_FILE wins over a docker config with a wrong password.
    docker_config(tmp_path / "dockercfg", auths={basic_registry.host: ("alice", "bad")})
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f,
                env={"REGISTRY_AUTH_FILE": str(auth), "DOCKER_CONFIG": str(tmp_path / "dockercfg")})
    assert p.returncode == 0, p.stderr
    # --auth-file reads only that file.
    p = regtool("--auth-file", str(auth), "exists", f"{basic_registry.host}/copa/app", d)
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "yes", p.stderr


def test_containers_auth_json_in_xdg_runtime_dir(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    run = tmp_path / "run"
    (run / "containers").mkdir(parents=True)
    # A namespace key (podman style) covering the repository.
    (run / "containers" / "auth.json").write_text(json.dumps({"auths": {
        f"{basic_registry.host}/copa": {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f,
                env={"XDG_RUNTIME_DIR": str(run)})
    assert p.returncode == 0, p.stderr
    # ... and not a repository outside the namespace.
    p = regtool("put-blob", f"{basic_registry.host}/other/app", f,
                env={"XDG_RUNTIME_DIR": str(run)})
    assert p.returncode == 1 and "requires a login" in p.stderr


def test_malformed_credentials_file_is_named(regtool, basic_registry, blobfile, tmp_path):
    f, d = blobfile
    cfgdir = tmp_path / "dockercfg"
    cfgdir.mkdir()
    (cfgdir / "config.json").write_text('{"auths": {')
    p = regtool("put-blob", f"{basic_registry.host}/copa/app", f,
                env={"DOCKER_CONFIG": str(cfgdir)})
    assert p.returncode == 1
    assert str(cfgdir / "config.json") in p.stderr and "not valid JSON" in p.stderr, p.stderr


# ------------------------------------------------------------- token auth

def test_anonymous_token_pull_of_public_repository(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    ts = token_registry.tokens
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")})
    p = regtool("put-blob", f"{token_registry.host}/public/base", f,
                env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert p.returncode == 0, p.stderr
    ts.requests.clear()
    out = tmp_path / "back"
    p = regtool("get-blob", f"{token_registry.host}/public/base", d, out)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == f.read_bytes()
    assert len(ts.requests) == 1
    req = ts.requests[0]
    assert req["authorization"] is None
    assert req["params"]["scope"] == ["repository:public/base:pull"]
    assert req["params"]["service"] == [ts.SERVICE]


def test_anonymous_token_cannot_pull_private(regtool, token_registry, tmp_path):
    out = tmp_path / "m.json"
    p = regtool("get-manifest", f"{token_registry.host}/private/app:v1", out)
    assert p.returncode == 1
    assert "error[auth]" in p.stderr and "no credentials found" in p.stderr, p.stderr
    assert not out.exists()


def test_token_push_with_docker_config_credentials(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    ts = token_registry.tokens
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")})
    p = regtool("put-blob", f"{token_registry.host}/private/app", f,
                env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert p.returncode == 0, p.stderr
    # One token for the whole push (HEAD, POST, PUT), with push scope and Basic auth.
    assert len(ts.requests) == 1, ts.requests
    req = ts.requests[0]
    assert req["user"] == "alice"
    assert req["params"]["scope"] == ["repository:private/app:pull,push"]
    assert req["params"]["account"] == ["alice"]


def test_token_wrong_password_is_a_clear_error(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "nope")})
    p = regtool("put-blob", f"{token_registry.host}/private/app", f,
                env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert p.returncode == 1
    assert "error[auth]" in p.stderr
    assert "refused the credentials" in p.stderr and str(tmp_path / "cfg") in p.stderr, p.stderr
    assert "nope" not in p.stderr


def test_identity_token_uses_oauth2_post(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    ts = token_registry.tokens
    docker_config(tmp_path / "cfg", auths={token_registry.host: {"identitytoken": "idt-alice-1234"}})
    p = regtool("put-blob", f"{token_registry.host}/private/app", f,
                env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert p.returncode == 0, p.stderr
    assert [r["method"] for r in ts.requests] == ["POST"]
    form = ts.requests[0]["params"]
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["idt-alice-1234"]
    assert form["service"] == [ts.SERVICE]
    assert form["scope"] == ["repository:private/app:pull,push"]


def test_cred_helper_is_asked_first(regtool, token_registry, blobfile, tmp_path, cred_helper):
    f, d = blobfile
    cred_helper.set(token_registry.host, "alice", "s3cret")
    # credHelpers beats a wrong auths entry.
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "bad")},
                  cred_helpers={token_registry.host: "test"})
    env = dict(cred_helper.env, DOCKER_CONFIG=str(tmp_path / "cfg"))
    p = regtool("put-blob", f"{token_registry.host}/private/app", f, env=env)
    assert p.returncode == 0, p.stderr
    assert cred_helper.calls() == [f"get {token_registry.host}"]


def test_creds_store_and_fallthrough_to_auths(regtool, token_registry, blobfile, tmp_path,
                                              cred_helper):
    f, d = blobfile
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")},
                  creds_store="test")
    env = dict(cred_helper.env, DOCKER_CONFIG=str(tmp_path / "cfg"))
    # The store has nothing for this host: its miss falls through to auths.
    p = regtool("put-blob", f"{token_registry.host}/private/app", f, env=env)
    assert p.returncode == 0, p.stderr
    assert cred_helper.calls() == [f"get {token_registry.host}"]
    # A helper answering "<token>" hands over an identity token (OAuth2 POST).
    cred_helper.set(token_registry.host, "<token>", "idt-alice-1234")
    token_registry.tokens.requests.clear()
    p = regtool("exists", f"{token_registry.host}/private/app", d, env=env)
    assert p.returncode == 0 and kv(p.stdout)["exists"] == "yes", p.stderr
    assert [r["method"] for r in token_registry.tokens.requests] == ["POST"]


def test_missing_cred_helper_warns_and_continues(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")},
                  creds_store="not-installed-anywhere")
    p = regtool("put-blob", f"{token_registry.host}/private/app", f,
                env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
    assert p.returncode == 0, p.stderr
    assert "docker-credential-not-installed-anywhere" in p.stderr
    assert "not installed" in p.stderr


def test_mount_token_covers_source_repository(regtool, token_registry, blobfile, tmp_path):
    f, d = blobfile
    ts = token_registry.tokens
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")})
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg")}
    assert regtool("put-blob", f"{token_registry.host}/team/src", f, env=env).returncode == 0
    ts.requests.clear()
    p = regtool("mount", f"{token_registry.host}/team/dst", d, "team/src", env=env)
    assert p.returncode == 0, p.stderr
    assert kv(p.stdout)["mounted"] == "yes"
    assert sorted(ts.requests[0]["params"]["scope"]) == ["repository:team/dst:pull,push",
                                                         "repository:team/src:pull"]


def test_parallel_downloads_share_one_token(regtool, token_registry, tmp_path):
    """Eight threads pull through one client: every blob arrives intact and
    the token service is asked once (the token cache is shared and locked)."""
    ts = token_registry.tokens
    docker_config(tmp_path / "cfg", auths={token_registry.host: ("alice", "s3cret")})
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg")}
    blobs = {}
    for i in range(8):
        data = os.urandom(100000 + i)
        f = tmp_path / f"b{i}"
        f.write_bytes(data)
        assert regtool("put-blob", f"{token_registry.host}/private/par", f, env=env).returncode == 0
        blobs[sha(data)] = data
    ts.requests.clear()
    out = tmp_path / "out"
    out.mkdir()
    p = regtool("get-blobs", f"{token_registry.host}/private/par", out, *blobs, env=env)
    assert p.returncode == 0, p.stderr
    for d, data in blobs.items():
        assert (out / d.split(":")[1]).read_bytes() == data
    assert len(ts.requests) == 1, ts.requests
