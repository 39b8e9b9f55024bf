"""The Debian planner against real signed repositories built with dpkg-deb,
apt-ftparchive and gpg, served on 127.0.0.1, compared with apt's own answer on
the same dpkg status and the same repositories."""
import hashlib
import pathlib

import pytest

from fx_debrepo import (DebRepo, apt_simulate, build_deb, make_rootfs, plan_set,
                        status_from_debs, status_paragraph)
from fx_services import StaticServer

KEY_PATH = "/usr/share/keyrings/copa-test.gpg"


class Scenario:
    """A release "stable" and its security suite "stable-security"; an image with the
    release's packages installed, sources naming both suites, and the signing key."""

    def __init__(self, tmp, key):
        self.tmp = tmp
        self.key = key
        self.repo = DebRepo(tmp / "repo", key)
        b = tmp / "debs"
        r = self.repo
        # The release.
        base = [
            r.package(b, "libc6", "2.36-9", multi_arch="same"),
            r.package(b, "libssl3", "3.0.11-1", depends="libc6 (>= 2.34)", multi_arch="same"),
            r.package(b, "openssl", "3.0.11-1", depends="libc6 (>= 2.34), libssl3 (>= 3.0.9)"),
            r.package(b, "curl", "7.88.1-10", depends="libssl3 (>= 3.0.0)"),
            r.package(b, "tzdata", "2024a-0", arch="all"),
            r.package(b, "libsystemd0", "252.22-1", multi_arch="same"),
            r.package(b, "unrelated", "1.0-1"),
        ]
        self.base = base
        # The security suite: updates, one of them with a new dependency.
        s = "stable-security"
        r.package(b, "libc6", "2.36-9+deb12u4", suite=s, multi_arch="same")
        r.package(b, "libssl3", "3.0.13-1~deb12u1", suite=s, multi_arch="same",
                  depends="libc6 (>= 2.36-9+deb12u4), libzstd1 (>= 1.5)",
                  control={"Recommends": "ca-certificates"})
        r.package(b, "libzstd1", "1.5.4+dfsg2-5", suite=s, multi_arch="same")
        r.package(b, "ca-certificates", "20230311", suite=s, arch="all")
        r.package(b, "openssl", "3.0.13-1~deb12u1", suite=s, depends="libssl3 (>= 3.0.13)")
        r.package(b, "openssl", "3.0.14-1~deb12u1", suite=s, depends="libssl3 (>= 3.0.13)")
        r.package(b, "tzdata", "2024b-0+deb12u1", suite=s, arch="all")
        # The libelogind trap: newer, provides/replaces/conflicts libsystemd0.
        r.package(b, "libelogind0", "255.5-1", suite=s,
                  control={"Provides": "libsystemd0 (= 255.5)", "Replaces": "libsystemd0",
                           "Conflicts": "libsystemd0"})
        r.package(b, "libsystemd0", "252.30-1~deb12u2", suite=s, multi_arch="same")
        r.publish("stable")
        r.publish(s, valid_days=7)
        self.server = StaticServer(r.root)
        self.url = self.server.url

    def sources(self, key_path=KEY_PATH):
        return (f"deb [signed-by={key_path}] {self.url} stable main\n"
                f"deb [signed-by={key_path}] {self.url} stable-security main\n")

    def rootfs(self, name="root", held=(), statusd=False, extra_status=""):
        root = self.tmp / name
        status = status_from_debs(self.base, held=held) + ("\n" + extra_status if extra_status else "")
        if statusd:
            paras = [p for p in status.split("\n\n") if p.strip()]
            files = {}
            for i, para in enumerate(paras):
                pkg = para.split("\n")[0].split(": ")[1]
                # distroless names need not match packages; md5sums files sit beside them
                files[f"{i:02d}-{pkg}"] = para.replace("Status: install ok installed\n", "") + "\n"
                files[f"{i:02d}-{pkg}.md5sums"] = "d41d8cd98f00b204e9800998ecf8427e  usr/x\n"
            make_rootfs(root, statusd=files, sources_list=self.sources(),
                        keys={KEY_PATH: self.key.public.read_bytes()})
        else:
            make_rootfs(root, status=status, sources_list=self.sources(),
                        keys={KEY_PATH: self.key.public.read_bytes()})
        return root

    def apt(self, root, args, name="apt", archs=("amd64",)):
        host_sources = self.sources(key_path=str(root / KEY_PATH.lstrip("/")))
        return apt_simulate(self.tmp / name, root / "var/lib/dpkg/status", host_sources, args,
                            archs=archs)

    def stop(self):
        self.server.stop()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, gpg_key):
    s = Scenario(tmp_path_factory.mktemp("debplan"), gpg_key)
    yield s
    s.stop()


def result(plan, name, arch=None):
    for r in plan["results"]:
        if r["name"] == name and (arch is None or r["arch"] == arch):
            return r
    raise AssertionError(f"no result for {name}: {plan['results']}")


def test_report_request_matches_apt(scenario, debplan):
    """A report asks for openssl >= 3.0.13: copa picks the highest (3.0.14), updates the
    libraries it needs and pulls in the new libzstd1, like apt install --only-upgrade."""
    root = scenario.rootfs("report")
    _, plan = debplan("--root", root, "--request", "openssl=3.0.13-1~deb12u1")
    ours = plan_set(plan)
    apts = scenario.apt(root, ["install", "--only-upgrade", "openssl"], name="apt-report")
    assert ours == apts
    assert ours[("openssl", "amd64")] == ("3.0.11-1", "3.0.14-1~deb12u1")
    assert ours[("libzstd1", "amd64")] == (None, "1.5.4+dfsg2-5")   # a new dependency
    assert ("ca-certificates", "all") not in ours                     # no Recommends
    r = result(plan, "openssl")
    assert r["outcome"] == "updated" and r["chosen_version"] == "3.0.14-1~deb12u1"
    assert r["fixed_version"] == "3.0.13-1~deb12u1"
    pkg = next(p for p in plan["packages"] if p["name"] == "openssl")
    deb = scenario.repo.root / pkg["filename"]
    assert pkg["url"] == f"{scenario.url}/{pkg['filename']}"
    assert pkg["sha256"] == hashlib.sha256(deb.read_bytes()).hexdigest()
    assert pkg["size"] == deb.stat().st_size
    assert pkg["repo"] == f"{scenario.url} stable-security/main"


def test_update_all_matches_apt_upgrade(scenario, debplan):
    """No report: every package with a newer version, as apt upgrade (with new packages)
    chooses: libsystemd0 stays libsystemd0, the held tzdata stays, no Recommends."""
    root = scenario.rootfs("all", held=("tzdata",))
    _, plan = debplan("--root", root)
    ours = plan_set(plan)
    apts = scenario.apt(root, ["upgrade", "--with-new-pkgs"], name="apt-all")
    assert ours == apts
    assert ours[("libsystemd0", "amd64")] == ("252.22-1", "252.30-1~deb12u2")
    assert ("libelogind0", "amd64") not in ours
    assert ("tzdata", "all") not in ours
    held = result(plan, "tzdata")
    assert held["outcome"] == "held" and held["best_available"] == "2024b-0+deb12u1"
    assert plan["update_all"] is True


def test_update_all_without_new_packages_matches_apt_get_upgrade(scenario, debplan):
    """--no-new-packages is apt-get upgrade: libssl3 needs the new libzstd1, so it and
    openssl/curl's libssl3 update are kept back; the rest is upgraded."""
    root = scenario.rootfs("strict", held=("tzdata",))
    _, plan = debplan("--root", root, "--no-new-packages")
    ours = plan_set(plan)
    apts = scenario.apt(root, ["upgrade"], name="apt-strict")
    assert ours == apts
    assert ("libssl3", "amd64") not in ours and ("libzstd1", "amd64") not in ours
    assert result(plan, "libssl3")["outcome"] == "failed"
    assert "kept back" in result(plan, "libssl3")["reason"]


def test_held_package_requested(scenario, debplan):
    """A report asks for a held package: it is left alone and reported as held (apt would
    change it only with --allow-change-held-packages; copa never does)."""
    root = scenario.rootfs("held", held=("tzdata",))
    _, plan = debplan("--root", root, "--request", "tzdata=2024b-0+deb12u1")
    assert plan["packages"] == []
    r = result(plan, "tzdata")
    assert r["outcome"] == "held" and r["error"] is True
    assert "held" in r["reason"]


def test_fixed_version_not_available(scenario, debplan):
    """The report wants a version no repository has: not-available with the best there is;
    the other requests are still planned."""
    root = scenario.rootfs("na")
    _, plan = debplan("--root", root, "--request", "libc6=2.36-9+deb12u9",
                      "--request", "curl=7.88.1-10", "--request", "notinstalled=1.0")
    r = result(plan, "libc6")
    assert r["outcome"] == "not-available" and r["error"] is True
    assert r["best_available"] == "2.36-9+deb12u4"
    assert r["repo"] == f"{scenario.url} stable-security/main"
    assert "at most 2.36-9+deb12u4" in r["reason"]
    assert result(plan, "curl")["outcome"] == "already-fixed"
    assert result(plan, "notinstalled")["outcome"] == "not-installed"
    assert plan["packages"] == []
    # --best-available updates to the highest version there is.
    _, plan = debplan("--root", root, "--request", "libc6=2.36-9+deb12u9", "--best-available")
    assert plan_set(plan) == {("libc6", "amd64"): ("2.36-9", "2.36-9+deb12u4")}
    assert result(plan, "libc6")["outcome"] == "updated"


def test_distroless_statusd(scenario, debplan):
    """A distroless image: status.d files named unlike their packages, md5sums beside them."""
    root = scenario.rootfs("distroless", statusd=True)
    _, plan = debplan("--root", root, "--request", "libssl3=3.0.13-1~deb12u1")
    assert plan["distroless"] is True
    assert plan["stats"]["installed"] == len(scenario.base)
    ours = plan_set(plan)
    assert ours[("libssl3", "amd64")] == ("3.0.11-1", "3.0.13-1~deb12u1")
    assert ours[("libc6", "amd64")] == ("2.36-9", "2.36-9+deb12u4")


def test_fetch_downloads_verifies_and_caches(scenario, debplan, tmp_path):
    root = scenario.rootfs("fetch")
    cache = tmp_path / "cache"
    _, plan = debplan("--root", root, "--request", "openssl=3.0.13-1~deb12u1", "--fetch",
                      cache_dir=cache)
    assert len(plan["packages"]) == 4
    for p in plan["packages"]:
        deb = pathlib.Path(p["deb_path"])
        assert deb.parent == cache / "blobs" / "sha256"
        assert deb.name == p["sha256"]
        assert hashlib.sha256(deb.read_bytes()).hexdigest() == p["sha256"]
    # A second run takes every package from the cache (re-hashed, not downloaded).
    p2, plan2 = debplan("--root", root, "--request", "openssl=3.0.13-1~deb12u1", "--fetch", "-v",
                        cache_dir=cache)
    assert "4 from the cache" in p2.stderr
    assert [p["deb_path"] for p in plan2["packages"]] == [p["deb_path"] for p in plan["packages"]]


def test_repo_override_and_mirror(scenario, debplan, tmp_path):
    """--repo-replace with a mirror of the same repository (another server), --mirror
    rewriting the image's URIs, and a file:// mirror given by the user."""
    root = scenario.rootfs("override")
    mirror = StaticServer(scenario.repo.root)
    try:
        key = str(scenario.key.public)
        _, plan = debplan("--root", root, "--repo-replace",
                          "--repo", f"deb [signed-by={key}] {mirror.url} stable-security main",
                          "--request", "libc6=2.36-9+deb12u4")
        assert [s["uri"] for s in plan["sources"]] == [mirror.url]
        assert plan["packages"][0]["url"].startswith(mirror.url + "/")
        _, plan = debplan("--root", root, "--mirror", f"{scenario.url}={mirror.url}",
                          "--request", "libc6=2.36-9+deb12u4")
        assert {s["uri"] for s in plan["sources"]} == {mirror.url}
        _, plan = debplan("--root", root, "--repo-replace", "--repo",
                          f"deb [signed-by={key}] file://{scenario.repo.root} stable-security main",
                          "--request", "libc6=2.36-9+deb12u4", "--fetch")
        assert plan["packages"][0]["url"].startswith("file://")
        assert pathlib.Path(plan["packages"][0]["deb_path"]).is_file()
    finally:
        mirror.stop()


def test_no_sources_needs_repo(scenario, debplan, tmp_path):
    """An image without sources and with an unknown distribution: --repo names them."""
    root = make_rootfs(tmp_path / "nosources", status=status_from_debs(scenario.base),
                       os_release="ID=custom\n")
    p, _ = debplan("--root", root, ok=False)
    assert "has no apt sources" in p.stderr and "--repo" in p.stderr
    _, plan = debplan("--root", root, "--repo",
                      f"deb [signed-by={scenario.key.public}] {scenario.url} stable-security main",
                      "--request", "openssl=3.0.13-1~deb12u1")
    assert plan_set(plan)[("openssl", "amd64")][1] == "3.0.14-1~deb12u1"


def test_multiarch_same_matches_apt(tmp_path, gpg_key, debplan):
    """An amd64 image with i386 added: Multi-Arch: same packages of both architectures are
    updated together to the same version; i386 dependencies resolve to i386 packages and
    to Multi-Arch: foreign ones of any architecture."""
    repo = DebRepo(tmp_path / "repo", gpg_key)
    b = tmp_path / "debs"
    base = [
        build_deb(b, "libfoo1", "1.0", multi_arch="same"),
        build_deb(b, "libfoo1", "1.0", arch="i386", multi_arch="same", depends="libbar1"),
        build_deb(b, "libbar1", "1.0", arch="i386", multi_arch="same"),
        build_deb(b, "tool", "1.0", multi_arch="foreign"),
    ]
    for d in base:
        repo.add(d)
    repo.package(b, "libfoo1", "1.1", suite="updates", multi_arch="same")
    repo.package(b, "libfoo1", "1.1", suite="updates", arch="i386", multi_arch="same",
                 depends="libbar1 (>= 1.1), tool")
    repo.package(b, "libbar1", "1.1", suite="updates", arch="i386", multi_arch="same")
    repo.package(b, "libbar1", "9.9", suite="updates", multi_arch="same")  # amd64: must not do
    repo.publish("stable", archs=("amd64", "i386"))
    repo.publish("updates", archs=("amd64", "i386"))
    srv = StaticServer(repo.root)
    try:
        sources = (f"deb [signed-by={KEY_PATH}] {srv.url} stable main\n"
                   f"deb [signed-by={KEY_PATH}] {srv.url} updates main\n")
        root = make_rootfs(tmp_path / "root", status=status_from_debs(base), sources_list=sources,
                           keys={KEY_PATH: gpg_key.public.read_bytes()}, arch_file="amd64\ni386\n")
        _, plan = debplan("--root", root, "--request", "libfoo1=1.1")
        assert plan["native_arch"] == "amd64" and plan["foreign_archs"] == ["i386"]
        ours = plan_set(plan)
        host = sources.replace(KEY_PATH, str(root / KEY_PATH.lstrip("/")))
        apts = apt_simulate(tmp_path / "apt", root / "var/lib/dpkg/status", host,
                            ["install", "--only-upgrade", "libfoo1:amd64", "libfoo1:i386"],
                            archs=("amd64", "i386"))
        assert ours == apts
        assert ours == {("libfoo1", "amd64"): ("1.0", "1.1"), ("libfoo1", "i386"): ("1.0", "1.1"),
                        ("libbar1", "i386"): ("1.0", "1.1")}
        # Asking for one architecture keeps the other in step (dpkg requires it).
        _, plan = debplan("--root", root, "--request", "libfoo1:amd64=1.1")
        assert plan_set(plan) == ours
        # update-all agrees with apt upgrade too.
        _, plan = debplan("--root", root)
        assert plan_set(plan) == apt_simulate(tmp_path / "apt2", root / "var/lib/dpkg/status",
                                              host, ["upgrade", "--with-new-pkgs"],
                                              archs=("amd64", "i386"))
    finally:
        srv.stop()


def test_flat_repository(tmp_path, gpg_key, debplan):
    repo = DebRepo(tmp_path / "repo", gpg_key)
    b = tmp_path / "debs"
    old = build_deb(b, "hello", "1.0")
    flat = repo.root / "flat"
    flat.mkdir(parents=True)
    build_deb(flat, "hello", "2.0")
    repo.publish_flat("flat")
    srv = StaticServer(repo.root)
    try:
        root = make_rootfs(tmp_path / "root", status=status_from_debs([old]),
                           sources_list=f"deb [signed-by={KEY_PATH}] {srv.url}/flat ./\n",
                           keys={KEY_PATH: gpg_key.public.read_bytes()})
        _, plan = debplan("--root", root, "--fetch")
        assert plan_set(plan) == {("hello", "amd64"): ("1.0", "2.0")}
        assert plan["packages"][0]["url"] == f"{srv.url}/flat/./hello_2.0_amd64.deb"
    finally:
        srv.stop()


# ---------------------------------------------------------------- apt pinning

def pinned_root(scenario, name, prefs):
    """A root with prefs {file name: text} in etc/apt/preferences.d; apt gets the same files."""
    root = scenario.rootfs(name)
    d = root / "etc/apt/preferences.d"
    d.mkdir(parents=True, exist_ok=True)
    apt_prefs = scenario.tmp / f"apt-{name}" / "etc/preferences.d"
    apt_prefs.mkdir(parents=True, exist_ok=True)
    for fname, text in prefs.items():
        (d / fname).write_text(text)
        (apt_prefs / fname).write_text(text)
    return root


@pytest.mark.parametrize("case, prefs, args, expect", [
    # A version pin above 1000 holds openssl at 3.0.13 though 3.0.14 is there.
    ("version", {"openssl": "Package: openssl\nPin: version 3.0.13*\nPin-Priority: 1001\n"},
     ["install", "--only-upgrade", "openssl"], {("openssl", "amd64"): "3.0.13-1~deb12u1"}),
    # A negative pin on the security suite for one package blocks its update only.
    ("negative", {"no-systemd-update": "Explanation: stay\nPackage: libsystemd0\n"
                  "Pin: release a=stable-security\nPin-Priority: -1\n"},
     ["upgrade", "--with-new-pkgs"], {("libsystemd0", "amd64"): None,
                                       ("libc6", "amd64"): "2.36-9+deb12u4"}),
    # A general pin ranks the whole security suite below the release: nothing moves.
    ("general", {"low.pref": "Package: *\nPin: release n=stable-security\nPin-Priority: 100\n\n"
                 "Package: *\nPin: release a=stable\nPin-Priority: 600\n"},
     ["upgrade", "--with-new-pkgs"], {("libc6", "amd64"): None}),
    # Globs in names and an origin pin: libs from 127.0.0.1 at 990, openssl blocked by glob.
    ("glob-origin", {"a": "Package: open*\nPin: version *\nPin-Priority: -10\n",
                     "b": "Package: lib*\nPin: origin 127.0.0.1\nPin-Priority: 990\n"},
     ["upgrade", "--with-new-pkgs"], {("openssl", "amd64"): None,
                                       ("libssl3", "amd64"): "3.0.13-1~deb12u1"}),
])
def test_pins_match_apt(scenario, debplan, case, prefs, args, expect):
    """The image's apt preferences: copa plans what apt plans with the same pins."""
    root = pinned_root(scenario, f"pin-{case}", prefs)
    dargs = ["--root", root]
    if args[0] == "install":
        dargs += ["--request", f"{args[-1]}=3.0.13-1~deb12u1"]
    _, plan = debplan(*dargs)
    ours = plan_set(plan)
    apts = scenario.apt(root, args, name=f"apt-pin-{case}")
    assert ours == apts
    for key, version in expect.items():
        assert (ours[key][1] if key in ours else None) == version, (key, ours)


def test_pinned_request_is_reported(scenario, debplan):
    """A report asks for a version a pin keeps out: the package is left alone and the
    reason names the preferences file and line."""
    root = pinned_root(scenario, "pin-report",
                       {"hold-openssl": "\nPackage: openssl\nPin: version 3.0.11*\n"
                                        "Pin-Priority: 1001\n"})
    p, plan = debplan("--root", root, "--request", "openssl=3.0.13-1~deb12u1")
    assert plan_set(plan) == {}
    r = result(plan, "openssl")
    assert r["outcome"] == "held" and r["error"] is True, r
    assert "etc/apt/preferences.d/hold-openssl:2" in r["reason"], r


def test_unsupported_pin_is_said_and_skipped(scenario, debplan):
    root = pinned_root(scenario, "pin-regex",
                       {"r": "Package: /^open/\nPin: version *\nPin-Priority: -1\n"})
    p, plan = debplan("--root", root)
    assert "regular expressions" in p.stderr and "preferences.d/r:1" in p.stderr
    assert ("openssl", "amd64") in plan_set(plan)  # the record was not applied


@pytest.mark.parametrize("pinned", [False, True])
def test_pin_promoting_backports_matches_apt(tmp_path, gpg_key, debplan, pinned):
    """A NotAutomatic/ButAutomaticUpgrades suite (backports): without pins nothing comes
    from it; a general pin of 500 on it makes it an ordinary source, as in apt."""
    repo = DebRepo(tmp_path / "repo", gpg_key)
    b = tmp_path / "debs"
    base = [repo.package(b, "foo", "1.0-1"), repo.package(b, "bar", "1.0-1")]
    repo.package(b, "foo", "2.0-1~bpo12+1", suite="stable-backports")
    repo.package(b, "bar", "1.0-2", suite="stable-backports")
    repo.publish("stable")
    repo.publish("stable-backports", fields={"NotAutomatic": "yes", "ButAutomaticUpgrades": "yes"})
    server = StaticServer(repo.root)
    try:
        def sources(key):
            return (f"deb [signed-by={key}] {server.url} stable main\n"
                    f"deb [signed-by={key}] {server.url} stable-backports main\n")

        root = tmp_path / "root"
        make_rootfs(root, status=status_from_debs(base), sources_list=sources(KEY_PATH),
                    keys={KEY_PATH: gpg_key.public.read_bytes()})
        prefs = "Package: *\nPin: release a=stable-backports\nPin-Priority: 500\n"
        apt_prefs = tmp_path / "apt/etc/preferences.d"
        apt_prefs.mkdir(parents=True)
        if pinned:
            (root / "etc/apt/preferences.d").mkdir(parents=True, exist_ok=True)
            (root / "etc/apt/preferences.d/backports").write_text(prefs)
            (apt_prefs / "backports").write_text(prefs)
        _, plan = debplan("--root", root)
        apts = apt_simulate(tmp_path / "apt", root / "var/lib/dpkg/status",
                            sources(str(root / KEY_PATH.lstrip("/"))), ["upgrade", "--with-new-pkgs"])
        assert plan_set(plan) == apts
        expect = ({("foo", "amd64"): ("1.0-1", "2.0-1~bpo12+1"), ("bar", "amd64"): ("1.0-1", "1.0-2")}
                  if pinned else {})
        assert apts == expect
    finally:
        server.stop()
