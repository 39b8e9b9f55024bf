"""Repository trust: signatures, checksums, validity dates and keys. Every broken
repository is refused with a message naming it; nothing falls back silently."""
import hashlib
import os
import pathlib
import shutil
import time

import pytest

from fx_debrepo import DebRepo, build_deb, make_rootfs, status_from_debs

KEY_PATH = "/usr/share/keyrings/copa-test.gpg"


@pytest.fixture
def small(tmp_path, gpg_key, static_server):
    """A repository with hello 2.0 (and its new dependency libgreet1), an image with hello 1.0."""

    class Small:
        def __init__(self):
            self.tmp = tmp_path
            self.key = gpg_key
            self.repo = DebRepo(tmp_path / "repo", gpg_key)
            debs = tmp_path / "debs"
            self.old = build_deb(debs, "hello", "1.0")
            self.repo.package(debs, "hello", "2.0", depends="libgreet1")
            self.repo.package(debs, "libgreet1", "1.0")
            self.url = self.repo.serve(static_server)

        def publish(self, **kw):
            return self.repo.publish("stable", **kw)

        def rootfs(self, sources=None, keys=None, name="root", **kw):
            if sources is None:
                sources = {"test.list": f"deb [signed-by={KEY_PATH}] {self.url} stable main\n"}
            if keys is None:
                keys = {KEY_PATH: self.key.public.read_bytes()}
            return make_rootfs(self.tmp / name, status=status_from_debs([self.old]),
                               sources=sources, keys=keys, **kw)

    return Small()


def ok_plan(plan):
    return {(p["name"], p["version"]) for p in plan["packages"]} == {("hello", "2.0"),
                                                                      ("libgreet1", "1.0")}


def test_signed_repository_is_accepted(small, debplan):
    small.publish(valid_days=7)
    _, plan = debplan("--root", small.rootfs())
    assert ok_plan(plan)
    assert plan["sources"][0]["keys"] == f"the image's '{KEY_PATH}'"


def test_release_gpg_without_inrelease(small, debplan):
    small.publish(inrelease=False)
    _, plan = debplan("--root", small.rootfs())
    assert ok_plan(plan)


def test_unsigned_repository_is_refused(small, debplan):
    small.publish(sign=False)
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert (f"cannot verify 'Release' from '{small.url}/dists/stable': the repository is not "
            "signed (no InRelease, no Release.gpg)") in p.stderr


def test_tampered_inrelease_is_refused(small, debplan):
    small.publish()
    # The attacker changes the checksum of the index inside the signed text.
    small.repo.tamper("dists/stable/InRelease", b"Origin: copa-tests", b"Origin: copa-evil!")
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert f"cannot verify 'InRelease' from '{small.url}/dists/stable': bad signature" in p.stderr
    assert "modified or corrupted after signing" in p.stderr


def test_tampered_release_with_detached_signature_is_refused(small, debplan):
    small.publish(inrelease=False)
    small.repo.tamper("dists/stable/Release", b"Origin: copa-tests", b"Origin: copa-evil!")
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert f"cannot verify 'Release' from '{small.url}/dists/stable': bad signature" in p.stderr


def test_unsigned_text_around_inrelease_is_refused(small, debplan):
    """Content outside the signed part must never be parsed (apt's rule)."""
    small.publish()
    p = small.repo.root / "dists/stable/InRelease"
    p.write_bytes(p.read_bytes() + b"\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"
                  b"495991b7852b855 0 main/binary-amd64/Packages\n")
    p2, _ = debplan("--root", small.rootfs(), ok=False)
    assert "not a single clearsigned message" in p2.stderr
    assert f"'InRelease' from '{small.url}/dists/stable'" in p2.stderr


def test_tampered_packages_is_refused(small, debplan):
    small.publish(keep_plain=False, compress=("xz",))
    idx = small.repo.root / "dists/stable/main/binary-amd64/Packages.xz"
    import lzma
    text = lzma.decompress(idx.read_bytes()).replace(b"Version: 2.0", b"Version: 9.0")
    idx.write_bytes(lzma.compress(text))
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert f"cannot use the index of '{small.url}/dists/stable'" in p.stderr
    assert "does not match the signed Release" in p.stderr
    assert "'main/binary-amd64/Packages.xz'" in p.stderr
    # A mismatch may be a mirror mid-sync: copa verifies everything again once, then refuses.
    assert "fetching the repository's metadata again" in p.stderr
    assert p.stderr.count("does not match the signed Release") == 2


def test_tampered_deb_is_refused(small, debplan):
    small.publish()
    deb = small.repo.root / "pool/stable/main/hello_2.0_amd64.deb"
    data = bytearray(deb.read_bytes())
    data[-10] ^= 0xFF
    deb.write_bytes(bytes(data))
    p, _ = debplan("--root", small.rootfs(), "--fetch", ok=False)
    assert "package 'hello' 2.0 from" in p.stderr
    assert "content does not match its digest" in p.stderr
    # Nothing half-written in the cache: the good package may be there, the bad one is not.
    blobs = list((small.tmp / "debplan-cache" / "blobs" / "sha256").iterdir())
    assert hashlib.sha256(bytes(data)).hexdigest() not in [b.name for b in blobs]
    assert list((small.tmp / "debplan-cache" / "tmp").iterdir()) == []


def test_unknown_key_names_the_key(small, debplan, other_gpg_key):
    small.publish(key=other_gpg_key)
    root = small.rootfs()
    p, _ = debplan("--root", root, ok=False)
    assert (f"cannot verify 'InRelease' from '{small.url}/dists/stable': signature by unknown key "
            f"{other_gpg_key.keyid} (add it with --keyring)") in p.stderr
    # Signed-By names the image's key file only: --keyring adds the user's key to it.
    _, plan = debplan("--root", root, "--keyring", other_gpg_key.armored)
    assert ok_plan(plan)


def test_expired_valid_until_is_refused(small, debplan):
    small.publish(date=time.time() - 30 * 86400, valid_days=7)
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert f"cannot use the Release of '{small.url}/dists/stable': it expired on" in p.stderr
    assert "(Valid-Until)" in p.stderr
    # Check-Valid-Until: no (the user's decision in the image's sources) turns the check off.
    _, plan = debplan("--root", small.rootfs(name="nocheck", sources={
        "t.sources": f"Types: deb\nURIs: {small.url}\nSuites: stable\nComponents: main\n"
                     f"Signed-By: {KEY_PATH}\nCheck-Valid-Until: no\n"}))
    assert ok_plan(plan)


def test_release_from_the_future_is_refused(small, debplan):
    small.publish(date=time.time() + 3 * 86400)
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert "it is not valid yet" in p.stderr


def test_trusted_yes_needs_the_users_consent(small, debplan):
    small.publish(sign=False)
    root = small.rootfs(sources={"t.list": f"deb [trusted=yes] {small.url} stable main\n"})
    p, _ = debplan("--root", root, ok=False)
    assert (f"repository '{small.url}/dists/stable' (etc/apt/sources.list.d/t.list:1) is marked "
            "trusted=yes") in p.stderr
    assert "--allow-insecure-repo" in p.stderr
    p, plan = debplan("--root", root, "--allow-insecure-repo")
    assert ok_plan(plan)
    assert "not checking the signature" in p.stderr
    # Checksums still hold without signatures.
    small.repo.tamper("pool/stable/main/hello_2.0_amd64.deb", b"debian-binary", b"debian-binarz")
    p, _ = debplan("--root", root, "--allow-insecure-repo", "--fetch", ok=False)
    assert "content does not match its digest" in p.stderr


def test_signed_by_fingerprint_restricts_the_signer(small, debplan, other_gpg_key):
    small.publish(key=other_gpg_key)
    both = small.key.public.read_bytes() + other_gpg_key.public.read_bytes()
    # Both keys trusted (trusted.gpg.d), but Signed-By names only the first one's fingerprint.
    root = small.rootfs(sources={"t.list": f"deb [signed-by={small.key.fingerprint}] {small.url} "
                                           "stable main\n"},
                        keys={"/etc/apt/trusted.gpg.d/both.gpg": both})
    p, _ = debplan("--root", root, ok=False)
    assert f"signed by key {other_gpg_key.fingerprint}, which its Signed-By does not allow" in p.stderr
    root2 = small.rootfs(name="r2", sources={
        "t.list": f"deb [signed-by={other_gpg_key.fingerprint}] {small.url} stable main\n"},
        keys={"/etc/apt/trusted.gpg.d/both.gpg": both})
    _, plan = debplan("--root", root2)
    assert ok_plan(plan)


def test_armoured_keys_and_inline_signed_by(small, debplan):
    """.asc keys in trusted.gpg.d and an inline armoured Signed-By block are decoded natively."""
    small.publish()
    root = small.rootfs(sources={"t.list": f"deb {small.url} stable main\n"},
                        keys={"/etc/apt/trusted.gpg.d/test.asc": small.key.armored.read_bytes()})
    _, plan = debplan("--root", root)
    assert ok_plan(plan)
    assert plan["sources"][0]["keys"] == "the image's etc/apt/trusted.gpg(.d)"
    inline = "".join(" " + (l if l.strip() else ".") + "\n"
                     for l in small.key.armored.read_text().splitlines())
    root2 = small.rootfs(name="inline", keys={}, sources={
        "t.sources": f"Types: deb\nURIs: {small.url}\nSuites: stable\nComponents: main\n"
                     f"Signed-By:\n{inline}"})
    _, plan = debplan("--root", root2)
    assert ok_plan(plan)
    assert "the Signed-By key of etc/apt/sources.list.d/t.sources:1" in plan["sources"][0]["keys"]


def test_missing_signed_by_file(small, debplan):
    small.publish()
    root = small.rootfs(keys={})
    p, _ = debplan("--root", root, ok=False)
    assert (f"etc/apt/sources.list.d/test.list:1: the key file '{KEY_PATH}' named by Signed-By "
            "is not in the image: give the repository's key with --keyring") in p.stderr


def test_weak_digest_signature_is_refused(small, debplan):
    small.publish(digest="SHA1")
    p, _ = debplan("--root", small.rootfs(), ok=False)
    assert "uses a weak digest algorithm" in p.stderr


def test_by_hash_is_used(small, debplan):
    """With Acquire-By-Hash the mutable names need not exist (a mirror mid-sync)."""
    small.publish(by_hash=True)
    for f in (small.repo.root / "dists/stable/main/binary-amd64").glob("Packages*"):
        f.unlink()
    _, plan = debplan("--root", small.rootfs())
    assert ok_plan(plan)


def test_file_uri_in_image_sources_is_refused(small, debplan):
    small.publish()
    root = small.rootfs(sources={"t.list": f"deb [signed-by={KEY_PATH}] file://{small.repo.root} "
                                           "stable main\n"})
    p, _ = debplan("--root", root, ok=False)
    assert "is a local directory of the machine the image was built on" in p.stderr


def test_unsupported_method_is_refused(small, debplan):
    small.publish()
    root = small.rootfs(sources={"t.list": "deb mirror+file:/etc/apt/mirrors.txt stable main\n"})
    p, _ = debplan("--root", root, ok=False)
    assert "uses the 'mirror+file' method, which copa does not support" in p.stderr


def test_missing_suite(small, debplan):
    small.publish()
    root = small.rootfs(sources={"t.list": f"deb [signed-by={KEY_PATH}] {small.url} nosuchsuite main\n"})
    p, _ = debplan("--root", root, ok=False)
    assert f"repository '{small.url}/dists/nosuchsuite'" in p.stderr
    assert "has no InRelease or Release file" in p.stderr


def test_packages_are_cached_by_content_and_inrelease_is_not(small, debplan, tmp_path):
    """A second run fetches InRelease again (never trusts a stale one) but reuses the
    verified index from the cache; a newer signed Release is picked up at once."""
    small.publish()
    root = small.rootfs()
    cache = tmp_path / "c"
    _, plan = debplan("--root", root, cache_dir=cache)
    assert ok_plan(plan)
    # Publish hello 3.0: the next run must see it.
    small.repo.package(small.tmp / "debs", "hello", "3.0")
    small.publish()
    _, plan = debplan("--root", root, "--request", "hello=3.0", cache_dir=cache)
    assert {(p["name"], p["version"]) for p in plan["packages"]} == {("hello", "3.0")}


@pytest.mark.parametrize("compress,plain", [(("gz",), False), ((), True)])
def test_gzip_and_plain_indexes(small, debplan, compress, plain):
    small.publish(compress=compress, keep_plain=plain)
    _, plan = debplan("--root", small.rootfs())
    assert ok_plan(plan)


def test_component_or_architecture_missing(small, debplan):
    """A component the Release does not list is named; a repository that offers nothing for
    the image is an error, not an empty success."""
    small.publish()
    root = small.rootfs(sources={"t.list": f"deb [signed-by={KEY_PATH}] {small.url} stable main "
                                           "contrib\n"})
    p, plan = debplan("--root", root)
    assert ok_plan(plan)
    assert "does not list 'contrib/binary-amd64/Packages'" in p.stderr
    root2 = small.rootfs(name="arm", sources={
        "t.list": f"deb [signed-by={KEY_PATH} arch=arm64] {small.url} stable main\n"})
    p, _ = debplan("--root", root2, ok=False)
    assert "has no package index for the configured components and architectures" in p.stderr


@pytest.fixture
def gpgv_calls(tmp_path, monkeypatch):
    """Puts a gpgv on PATH that records each call and runs the real one; returns a function
    giving the number of calls so far."""
    real = shutil.which("gpgv")
    if not real:
        pytest.fail("gpgv is not installed (scripts/install-deps.sh installs it)")
    bindir = tmp_path / "gpgv-bin"
    bindir.mkdir()
    log = tmp_path / "gpgv-calls"
    log.write_text("")
    (bindir / "gpgv").write_text(f"#!/bin/sh\necho call >> '{log}'\nexec '{real}' \"$@\"\n")
    (bindir / "gpgv").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return lambda: len(log.read_text().splitlines())


def verified_records(cache):
    d = pathlib.Path(cache) / "deb-inrelease"
    return sorted(d.iterdir()) if d.exists() else []


def test_unchanged_inrelease_is_not_verified_again(small, debplan, gpgv_calls, tmp_path):
    """The second run finds the record of gpgv's verdict on the same InRelease bytes and keys
    and does not run gpgv; a newly signed InRelease is verified again, and so is an unchanged
    one after a day."""
    small.publish()
    root = small.rootfs()
    cache = tmp_path / "c"
    _, plan = debplan("--root", root, cache_dir=cache)
    assert ok_plan(plan) and gpgv_calls() == 1
    assert len(verified_records(cache)) == 1
    p, plan = debplan("--root", root, "-v", cache_dir=cache)
    assert ok_plan(plan) and gpgv_calls() == 1
    assert f"'InRelease' from '{small.url}/dists/stable': verified before" in p.stderr
    # A changed InRelease (new package, new signature) goes to gpgv.
    small.repo.package(small.tmp / "debs", "hello", "3.0")
    small.publish()
    _, plan = debplan("--root", root, "--request", "hello=3.0", cache_dir=cache)
    assert {(q["name"], q["version"]) for q in plan["packages"]} == {("hello", "3.0")}
    assert gpgv_calls() == 2
    # Other keys for the same bytes are another question for gpgv.
    debplan("--root", root, "--request", "hello=3.0", cache_dir=cache)
    assert gpgv_calls() == 2
    # A day later the verdict is asked again (keys and signatures expire).
    debplan("--root", root, "--now", str(int(time.time()) + 25 * 3600), cache_dir=cache)
    assert gpgv_calls() == 3


def test_tampered_verified_record_is_not_trusted(small, debplan, gpgv_calls, tmp_path):
    """A record whose lines were changed or cut, or a good record placed under the name of
    other InRelease bytes (a tampered InRelease), is ignored: gpgv decides, and refuses the
    tampered file. (A record rewritten consistently by whoever can write the cache is trusted,
    as the cache's other mappings are: see ARCHITECTURE.md, "Verified InRelease".)"""
    small.publish()
    root = small.rootfs()
    cache = tmp_path / "c"
    debplan("--root", root, cache_dir=cache)
    assert gpgv_calls() == 1
    [rec] = verified_records(cache)
    good = rec.read_text()
    # A changed line: the check digest no longer matches.
    rec.write_text(good.replace("verified ", "verified 1", 1))
    p, plan = debplan("--root", root, "-v", cache_dir=cache)
    assert ok_plan(plan) and gpgv_calls() == 2 and "verified before" not in p.stderr
    # ... and replaced by a good one, which the next run uses.
    p, plan = debplan("--root", root, "-v", cache_dir=cache)
    assert ok_plan(plan) and gpgv_calls() == 2 and "verified before" in p.stderr
    # A damaged record (cut short) is ignored too.
    rec.write_text(rec.read_text()[:-20])
    debplan("--root", root, cache_dir=cache)
    assert gpgv_calls() == 3
    # The InRelease is tampered with, and the good record is copied to the name the tampered
    # bytes would have: the record names other bytes, so gpgv runs and refuses them.
    good = rec.read_text()
    inrel = small.repo.root / "dists/stable/InRelease"
    small.repo.tamper("dists/stable/InRelease", b"Origin: copa-tests", b"Origin: copa-evil!")
    h_in = hashlib.sha256(inrel.read_bytes()).hexdigest()
    fields = dict(line.split(" ", 1) for line in good.splitlines()[1:])
    name = hashlib.sha256(("copa-inrelease-v1 " + h_in + fields["keyring"] +
                           fields["fingerprints"]).encode()).hexdigest()
    (rec.parent / name).write_text(good)
    p, _ = debplan("--root", root, cache_dir=cache, ok=False)
    assert gpgv_calls() == 4 and (rec.parent / name).read_text() == good
    assert f"cannot verify 'InRelease' from '{small.url}/dists/stable': bad signature" in p.stderr


def test_damaged_cached_index_is_refused_then_fetched_again(small, debplan, tmp_path):
    """A cached Packages file is not re-hashed when it is found, but whoever reads it checks it
    against the digest the Release named: a damaged copy fails the run that reads it, is
    removed, and the next run downloads it again."""
    small.publish()
    root = small.rootfs()
    cache = tmp_path / "c"
    debplan("--root", root, cache_dir=cache)
    plain = (small.repo.root / "dists/stable/main/binary-amd64/Packages").read_bytes()
    blob = cache / "blobs" / "sha256" / hashlib.sha256(plain).hexdigest()
    blob.write_bytes(plain.replace(b"Version: 2.0", b"Version: 9.0"))
    # With the solver's cached form (or the cached plan) the text is not read at all; without
    # them, it is.
    shutil.rmtree(cache / "deb-solv")
    shutil.rmtree(cache / "deb-plan")
    p, _ = debplan("--root", root, cache_dir=cache, ok=False)
    assert "does not match its digest" in p.stderr and "stable/main amd64" in p.stderr
    assert not blob.exists()
    _, plan = debplan("--root", root, cache_dir=cache)
    assert ok_plan(plan) and blob.read_bytes() == plain


def test_plan_is_reused_only_for_the_same_inputs(small, debplan, tmp_path):
    """A second run with the same dpkg status, indexes and requests takes the cached plan; a
    new index (a newer package), other requests or a damaged record mean planning again."""
    small.publish()
    root = small.rootfs()
    cache = tmp_path / "c"
    _, plan = debplan("--root", root, cache_dir=cache)
    assert ok_plan(plan)
    p, again = debplan("--root", root, "-v", cache_dir=cache)
    assert "plan: planned before" in p.stderr and again["packages"] == plan["packages"]
    assert again["results"] == plan["results"]
    # Other requests: another plan.
    p, _ = debplan("--root", root, "-v", "--request", "libgreet1", cache_dir=cache)
    assert "plan: planned before" not in p.stderr
    # A damaged record is planned again (and replaced).
    [rec] = [r for r in (cache / "deb-plan").iterdir()
             if b'"hello"' in r.read_bytes() and b'"2.0"' in r.read_bytes()][:1]
    rec.write_bytes(rec.read_bytes().replace(b'"2.0"', b'"9.0"'))
    p, again = debplan("--root", root, "-v", cache_dir=cache)
    assert "plan: planned before" not in p.stderr and "checksum mismatch" in p.stderr
    assert ok_plan(again)
    # A newer package in the repository: a new index digest, a new plan.
    small.repo.package(small.tmp / "debs", "hello", "3.0", depends="libgreet1")
    small.publish()
    p, plan = debplan("--root", root, "-v", cache_dir=cache)
    assert "plan: planned before" not in p.stderr
    assert ("hello", "3.0") in {(q["name"], q["version"]) for q in plan["packages"]}
