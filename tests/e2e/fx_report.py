"""Fixtures and independent oracles for the report, VEX and summary tests.

The expected manifest of a real report is computed here from the raw JSON
with python's json module, and "highest fixed version" is decided by the
distributions' own tools where this machine has them: `dpkg
--compare-versions` for deb and rpm's `rpm.vercmp` (lua) for rpm. apk-tools
is not packaged for Debian 12, so apk versions use the small comparator
below, written from apk-package(5), not from copa's C code.
"""
import functools
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import urllib.parse

import pytest

# Canonical OS type for the distro names found in the shared reports.
CANONICAL_OS = {
    "debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "redhat": "redhat",
    "oracle": "oracle", "oraclelinux": "oracle", "cbl-mariner": "cbl-mariner",
    "mariner": "cbl-mariner", "rocky": "rocky", "rockylinux": "rocky",
}
FAMILY = {"debian": "deb", "ubuntu": "deb", "alpine": "apk", "redhat": "rpm", "oracle": "rpm",
          "cbl-mariner": "rpm", "rocky": "rpm"}


def deb_cmp(a, b):
    if a == b:
        return 0
    if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
        return -1
    if subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0:
        return 1
    return 0


def rpm_max(versions):
    """Highest EVR by rpm's own rpm.vercmp, in one rpm process."""
    if len(set(versions)) == 1:
        return versions[0]
    items = ",".join('"%s"' % v for v in versions)
    lua = ("%{lua: local v={" + items + "} local best=v[1] "
           "for i=2,#v do if rpm.vercmp(v[i],best)>0 then best=v[i] end end print(best)}")
    return subprocess.run(["rpm", "--eval", lua], capture_output=True, text=True,
                          check=True).stdout.strip()


_APK_SUFFIX = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "": 0, "cvs": 1, "svn": 2, "git": 3,
               "hg": 4, "p": 5}


def _apk_key(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)*)([a-z]?)((?:_[a-z]+\d*)*)(?:-r(\d+))?", v)
    assert m, f"apk version {v!r} outside what this oracle handles"
    nums = [int(x) for x in m.group(1).split(".")]
    sufs = [(_APK_SUFFIX[s.rstrip("0123456789")], int(s.lstrip("abcdefghijklmnopqrstuvwxyz") or 0))
            for s in m.group(3).split("_")[1:]]
    return (nums, m.group(2), sufs + [(0, 0)], int(m.group(4) or 0))


def family_max(fam, versions):
    if fam == "deb":
        return max(versions, key=functools.cmp_to_key(deb_cmp))
    if fam == "rpm":
        return rpm_max(versions)
    return max(versions, key=_apk_key)


def _rpm_installed(artifact):
    v = artifact["version"]
    ep = (artifact.get("metadata") or {}).get("epoch")
    if isinstance(ep, int) and ep > 0 and ":" not in v:
        return f"{ep}:{v}"
    return v


def expected_manifest(path, scanner):
    """The manifest copa must produce, computed from the raw report."""
    doc = json.loads(pathlib.Path(path).read_text())
    entries, unfixable, lang = [], [], 0
    if scanner == "trivy":
        os_type = CANONICAL_OS[doc["Metadata"]["OS"]["Family"]]
        os_version = doc["Metadata"]["OS"]["Name"]
        arch = (doc["Metadata"].get("ImageConfig") or {}).get("architecture", "")
        for r in doc.get("Results") or []:
            vulns = r.get("Vulnerabilities") or []
            if r.get("Class") != "os-pkgs":
                lang += len(vulns) if r.get("Class") == "lang-pkgs" else 0
                continue
            for v in vulns:
                e = {"name": v["PkgName"], "installedVersion": v["InstalledVersion"],
                     "fixedVersion": v.get("FixedVersion") or "",
                     "vulnerabilityID": v["VulnerabilityID"], "type": r["Type"],
                     "class": "os-pkgs"}
                (entries if e["fixedVersion"] else unfixable).append(e)
    else:
        os_type = CANONICAL_OS[doc["distro"]["name"]]
        os_version = doc["distro"]["version"]
        target = doc["source"]["target"]
        arch = (target.get("architecture") or "") if isinstance(target, dict) else ""
        for mt in doc["matches"]:
            a, v = mt["artifact"], mt["vulnerability"]
            if a["type"] not in ("deb", "apk", "rpm"):
                lang += 1
                continue
            fix = v["fix"]
            fixed = fix["versions"][0] if fix.get("state") == "fixed" and fix["versions"] else ""
            e = {"name": a["name"], "installedVersion": _rpm_installed(a), "fixedVersion": fixed,
                 "vulnerabilityID": v["id"], "type": os_type, "class": "os-pkgs"}
            (entries if fixed else unfixable).append(e)
    fam = FAMILY[os_type]
    updates = {}
    for e in entries:
        u = updates.setdefault(e["name"], {"installed": e["installedVersion"], "fixed": [],
                                           "ids": []})
        u["fixed"].append(e["fixedVersion"])
        if e["vulnerabilityID"] not in u["ids"]:
            u["ids"].append(e["vulnerabilityID"])
    for u in updates.values():
        u["fixed"] = family_max(fam, u["fixed"])
    return {"os_type": os_type, "os_version": os_version, "arch": arch, "entries": entries,
            "unfixable": unfixable, "updates": updates, "lang": lang, "family": fam}


def parse_table(stdout):
    """Rows of `copa report`'s table: {name: (installed, fixed, [ids])}."""
    rows, in_table = {}, False
    for line in stdout.splitlines():
        if line.startswith("PACKAGE "):
            in_table = True
            continue
        if in_table:
            if not line.strip():
                break
            name, inst, fixed, ids = re.split(r"\s{2,}", line, maxsplit=3)
            rows[name] = (inst, fixed, ids.split(", "))
    return rows


def real_reports(shared):
    out = []
    for scanner in ("trivy", "grype"):
        for p in sorted((shared / "reports" / scanner).glob("*.json")):
            out.append((scanner, p))
    return out


@pytest.fixture
def plugin_bin(tmp_path):
    """A directory put first on PATH; write(name, script) creates an executable copa-NAME."""
    d = tmp_path / "plugins"
    d.mkdir()

    class Bin:
        path = d
        env = {"PATH": f"{d}:{os.environ.get('PATH', '/usr/bin:/bin')}"}

        @staticmethod
        def write(name, script):
            p = d / f"copa-{name}"
            p.write_text(script)
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return p

    return Bin


# ---- purl rules (purl-spec: docs/how-to-build.md, docs/ecma/*) -----------

_PURL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~:")


def purl_encode(s):
    """Percent-encoding as the purl spec defines it: only alphanumerics,
    '.-_~' and ':' stay as they are; everything else becomes %XX."""
    return "".join(c if c in _PURL_SAFE else "".join("%%%02X" % b for b in c.encode())
                   for c in s)


def parse_purl(p):
    """Splits a purl and checks it is canonical: type, namespace, name,
    version and qualifiers encoded per the spec, qualifier keys lowercase,
    unique, sorted, no empty values. Returns the decoded parts."""
    assert p.startswith("pkg:"), p
    rest = p[4:]
    assert "#" not in rest, p
    quals = {}
    if "?" in rest:
        rest, q = rest.split("?", 1)
        pairs = q.split("&")
        keys = [kv.split("=", 1)[0] for kv in pairs]
        assert keys == sorted(keys), f"qualifiers not sorted in {p}"
        assert len(set(keys)) == len(keys), p
        for kv in pairs:
            k, v = kv.split("=", 1)
            assert re.fullmatch(r"[a-z][a-z0-9._-]*", k), f"bad qualifier key {k!r} in {p}"
            assert v, f"empty qualifier value in {p}"
            dv = urllib.parse.unquote(v)
            assert purl_encode(dv) == v, f"qualifier {k}={v!r} not canonically encoded in {p}"
            quals[k] = dv
    version = None
    if "@" in rest:
        rest, v = rest.rsplit("@", 1)
        version = urllib.parse.unquote(v)
        assert purl_encode(version) == v, f"version {v!r} not canonically encoded in {p}"
    segs = rest.split("/")
    typ, name, ns = segs[0], segs[-1], segs[1:-1]
    assert re.fullmatch(r"[a-z][a-z0-9.-]*", typ), p
    for s in ns + [name]:
        assert s and purl_encode(urllib.parse.unquote(s)) == s, f"segment {s!r} in {p}"
    return {"type": typ, "namespace": "/".join(urllib.parse.unquote(s) for s in ns),
            "name": urllib.parse.unquote(name), "version": version, "qualifiers": quals}


def copa_test_vex_bin():
    """The copa-test-vex helper built beside copa."""
    copa = os.environ.get("COPA_BIN", str(pathlib.Path(__file__).resolve().parents[2] / "build"
                                          / "copa"))
    p = pathlib.Path(copa).parent / "tests" / "helpers" / "copa-test-vex"
    return p if p.exists() else shutil.which("copa-test-vex")
