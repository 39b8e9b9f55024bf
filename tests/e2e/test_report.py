"""`copa report`: real Trivy and Grype reports, the native round trip, report
directories, scanner plugins and bad input, each checked the way a user would
(exit code, the one-line message, the table and the JSON)."""
import json
import pathlib
import time

import pytest

from fx_report import expected_manifest, parse_table, real_reports
from conftest import SHARED

REPORTS = real_reports(SHARED)
IDS = [p.name for _, p in REPORTS]


def one_line_error(p):
    err = p.stderr.strip()
    assert err, "no error message"
    assert "\n" not in err, f"error is not one line:\n{p.stderr}"
    assert err.startswith("copa: error: "), err
    return err


# ------------------------------------------------------------ real reports

@pytest.mark.parametrize("scanner,path", REPORTS, ids=IDS)
def test_real_report_json_is_the_expected_manifest(copa, scanner, path):
    exp = expected_manifest(path, scanner)
    p = copa("report", "-s", scanner, "--json", path, check=True)
    doc = json.loads(p.stdout)
    assert doc["apiVersion"] == "v1alpha2"
    assert doc["metadata"]["os"] == {"type": exp["os_type"], "version": exp["os_version"]}
    assert doc["metadata"]["config"]["arch"] == exp["arch"]
    # One entry per package and vulnerability, exactly as the scanner listed them.
    assert doc["osupdates"] == exp["entries"]
    assert doc["unfixable"] == exp["unfixable"]
    assert doc["langupdates"] == []
    assert len(doc["osupdates"]) + len(doc["unfixable"]) > 0


@pytest.mark.parametrize("scanner,path", REPORTS, ids=IDS)
def test_real_report_table_has_one_update_per_package(copa, scanner, path):
    exp = expected_manifest(path, scanner)
    p = copa("report", "-s", scanner, path, check=True)
    rows = parse_table(p.stdout)
    assert sorted(rows) == sorted(exp["updates"]), "package set differs"
    assert list(rows) == sorted(rows), "table not sorted by package name"
    for name, u in exp["updates"].items():
        inst, fixed, ids = rows[name]
        assert inst == u["installed"], name
        assert fixed == u["fixed"], f"{name}: highest fixed version"
        assert ids == u["ids"], f"{name}: vulnerability IDs"
    pairs = sum(len(u["ids"]) for u in exp["updates"].values())
    assert (f"{len(exp['updates'])} package{'s' if len(exp['updates']) != 1 else ''} to update "
            f"({pairs} fixable finding{'s' if pairs != 1 else ''}); "
            f"{len(exp['unfixable'])} finding") in p.stdout
    assert f"os:       {exp['os_type']} {exp['os_version']}" in p.stdout
    # every OS of the shared reports is one copa patches (rpm: images with an sqlite or a
    # Berkeley DB database)
    assert exp["os_type"] in ("debian", "ubuntu", "alpine", "redhat", "oracle", "rocky",
                              "cbl-mariner")
    assert "cannot patch" not in p.stdout


@pytest.mark.parametrize("scanner,path", REPORTS, ids=IDS)
def test_native_round_trip(copa, scanner, path, tmp_path):
    first = copa("report", "-s", scanner, "--json", path, check=True).stdout
    native = tmp_path / "native.json"
    native.write_text(first)
    second = copa("report", "-s", "native", "--json", native, check=True).stdout
    assert second == first
    # The table (the folded updates) is the same too, but for the source line.
    t1 = copa("report", "-s", scanner, path, check=True).stdout.splitlines()[1:]
    t2 = copa("report", "-s", "native", native, check=True).stdout.splitlines()[1:]
    strip_lang = lambda ls: [l.split("; ", 2)[0] + "; " + l.split("; ", 2)[1]
                             if "language-package" in l else l for l in ls]
    assert strip_lang(t1) == strip_lang(t2)


def test_trivy_is_the_default_scanner(copa):
    path = SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json"
    a = copa("report", "--json", path, check=True).stdout
    b = copa("report", "-s", "trivy", "--json", path, check=True).stdout
    assert a == b and json.loads(a)["metadata"]["os"]["type"] == "debian"


def test_native_v1alpha1_from_the_original_docs(copa, tmp_path):
    f = tmp_path / "v1.json"
    f.write_text(json.dumps({
        "apiVersion": "v1alpha1",
        "metadata": {"os": {"type": "debian", "version": "11.3"}, "config": {"arch": "amd64"}},
        "updates": [
            {"name": "libcurl4", "installedVersion": "7.74.0-1.3+deb11u1",
             "fixedVersion": "7.74.0-1.3+deb11u2", "vulnerabilityID": "CVE-2021-22945"},
            {"name": "libcurl4", "installedVersion": "7.74.0-1.3+deb11u1",
             "fixedVersion": "7.74.0-1.3+deb11u10", "vulnerabilityID": "CVE-2023-1"}]}))
    p = copa("report", "-s", "native", f, check=True)
    assert parse_table(p.stdout) == {
        "libcurl4": ("7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u10", ["CVE-2021-22945", "CVE-2023-1"])}
    doc = json.loads(copa("report", "-s", "native", "--json", f, check=True).stdout)
    assert doc["apiVersion"] == "v1alpha2"
    assert [e["type"] for e in doc["osupdates"]] == ["", ""]


def test_native_keys_match_case_insensitively_like_go(copa, tmp_path):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({
        "APIVersion": "v1alpha2",
        "Metadata": {"OS": {"Type": "Ubuntu", "Version": "22.04"}, "Config": {"Arch": "x86_64"}},
        "OSUpdates": [{"Name": "libssl3", "InstalledVersion": "3.0.2-0ubuntu1.9",
                       "FixedVersion": "3.0.2-0ubuntu1.10", "VulnerabilityID": "CVE-2023-2650",
                       "Type": "ubuntu", "Class": "os-pkgs"}]}))
    doc = json.loads(copa("report", "-s", "native", "--json", f, check=True).stdout)
    assert doc["metadata"] == {"os": {"type": "ubuntu", "version": "22.04"},
                               "config": {"arch": "amd64"}}
    assert doc["osupdates"][0]["fixedVersion"] == "3.0.2-0ubuntu1.10"


# ------------------------------------------------------------ directories

def test_directory_gives_one_manifest_per_platform(copa, tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    amd = SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json"
    arm = SHARED / "reports/trivy/trivy-cbl-mariner-2.0-distroless-base-arm64.json"
    (d / "a-amd64.json").write_bytes(amd.read_bytes())
    (d / "b-arm64.json").write_bytes(arm.read_bytes())
    (d / ".hidden.json").write_text("not json")  # hidden files are not reports
    p = copa("report", "--json", d, check=True)
    docs = json.loads(p.stdout)
    assert [x["metadata"]["config"]["arch"] for x in docs] == ["amd64", "arm64"]
    assert [x["metadata"]["os"]["type"] for x in docs] == ["debian", "cbl-mariner"]
    # The array reads back as native, to the same manifests.
    f = tmp_path / "all.json"
    f.write_text(p.stdout)
    assert copa("report", "-s", "native", "--json", f, check=True).stdout == p.stdout
    table = copa("report", d, check=True).stdout
    assert "platform: linux/amd64" in table and "platform: linux/arm64" in table


def test_directory_with_two_reports_for_one_platform(copa, tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    src = SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json"
    (d / "one.json").write_bytes(src.read_bytes())
    (d / "two.json").write_bytes(src.read_bytes())
    p = copa("report", d)
    assert p.returncode == 1
    err = one_line_error(p)
    assert "one.json" in err and "two.json" in err and "linux/amd64" in err


def test_directory_report_without_architecture(copa, tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    src = SHARED / "reports/grype/grype-debian-11-distroless-juice-shop-15.3.0.json"
    (d / "r.json").write_bytes(src.read_bytes())
    p = copa("report", "-s", "grype", d)
    assert p.returncode == 1
    err = one_line_error(p)
    assert "r.json" in err and "architecture" in err


def test_empty_directory(copa, tmp_path):
    p = copa("report", tmp_path)
    assert p.returncode == 1
    assert "holds no report files" in one_line_error(p)


# ----------------------------------------------------------------- plugins

PLUGIN_OK = """#!/usr/bin/python3
import json, sys
src = json.load(open(sys.argv[1]))
print("copa-fake: converting " + sys.argv[1], file=sys.stderr)
print(json.dumps({
    "apiVersion": "v1alpha1",
    "metadata": {"os": {"type": src["OSType"], "version": src["OSVersion"]},
                 "config": {"arch": src["Arch"]}},
    "updates": [{"name": p["Name"], "installedVersion": p["InstalledVersion"],
                 "fixedVersion": p["FixedVersion"], "vulnerabilityID": p["VulnerabilityID"]}
                for p in src["Packages"]]}))
"""

FAKE_INPUT = {"OSType": "debian", "OSVersion": "12.5", "Arch": "arm64", "Packages": [
    {"Name": "openssl", "InstalledVersion": "3.0.11-1~deb12u2", "FixedVersion": "3.0.13-1~deb12u1",
     "VulnerabilityID": "CVE-2024-0727"},
    {"Name": "libssl3", "InstalledVersion": "3.0.11-1~deb12u2", "FixedVersion": "3.0.11-1~deb12u3",
     "VulnerabilityID": "CVE-2023-5678"}]}


def test_plugin_success_and_stderr_passes_through(copa, plugin_bin, tmp_path):
    plugin_bin.write("fake", PLUGIN_OK)
    f = tmp_path / "in.json"
    f.write_text(json.dumps(FAKE_INPUT))
    p = copa("report", "-s", "fake", f, env=plugin_bin.env)
    assert p.returncode == 0, p.stderr
    assert f"copa-fake: converting {f}" in p.stderr
    assert parse_table(p.stdout) == {
        "libssl3": ("3.0.11-1~deb12u2", "3.0.11-1~deb12u3", ["CVE-2023-5678"]),
        "openssl": ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1", ["CVE-2024-0727"])}
    assert "platform: linux/arm64" in p.stdout and "(fake)" in p.stdout
    doc = json.loads(copa("report", "-s", "fake", "--json", f, env=plugin_bin.env,
                          check=True).stdout)
    assert [e["name"] for e in doc["osupdates"]] == ["openssl", "libssl3"]


def test_plugin_gets_no_shell(copa, plugin_bin, tmp_path):
    plugin_bin.write("args", "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" >&2\nexit 7\n")
    f = tmp_path / "we$(touch pwned);ird name.json"
    f.write_text("{}")
    p = copa("report", "-s", "args", f, env=plugin_bin.env)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == "1" and p.stderr.splitlines()[1] == str(f)
    assert not (tmp_path / "pwned").exists() and not pathlib.Path("pwned").exists()
    assert "exit status 7" in p.stderr.splitlines()[-1]


def test_plugin_nonzero_exit(copa, plugin_bin, tmp_path):
    plugin_bin.write("fail", "#!/bin/sh\necho 'copa-fail: cannot read the report' >&2\nexit 3\n")
    f = tmp_path / "r.json"
    f.write_text("{}")
    p = copa("report", "-s", "fail", f, env=plugin_bin.env)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert lines[0] == "copa-fail: cannot read the report"
    assert lines[-1].startswith("copa: error: scanner plugin 'copa-fail' failed on")
    assert "exit status 3" in lines[-1] and str(f) in lines[-1]


def test_plugin_garbage_output(copa, plugin_bin, tmp_path):
    plugin_bin.write("garbage", "#!/bin/sh\necho 'Scanning... done'\necho '{\"apiVersion\": 1'\n")
    f = tmp_path / "r.json"
    f.write_text("{}")
    p = copa("report", "-s", "garbage", f, env=plugin_bin.env)
    assert p.returncode == 1
    err = one_line_error(p)
    assert "scanner plugin 'copa-garbage'" in err and "did not print an update manifest" in err
    assert "not JSON" in err


def test_plugin_wrong_json(copa, plugin_bin, tmp_path):
    plugin_bin.write("wrong", "#!/bin/sh\necho '{\"apiVersion\": \"v9\"}'\n")
    f = tmp_path / "r.json"
    f.write_text("{}")
    p = copa("report", "-s", "wrong", f, env=plugin_bin.env)
    assert p.returncode == 1
    assert "unsupported apiVersion 'v9'" in one_line_error(p)


def test_plugin_hang_is_killed_at_the_timeout(copa, plugin_bin, tmp_path):
    plugin_bin.write("hang", "#!/bin/sh\nsleep 60 &\nsleep 60\n")
    f = tmp_path / "r.json"
    f.write_text("{}")
    start = time.monotonic()
    p = copa("report", "-s", "hang", "--timeout", "1s", f, env=plugin_bin.env, timeout=30)
    took = time.monotonic() - start
    assert p.returncode == 1
    err = one_line_error(p)
    assert "did not finish" in err and "--timeout" in err
    assert took < 20


def test_plugin_not_found(copa, plugin_bin, tmp_path):
    f = tmp_path / "r.json"
    f.write_text("{}")
    p = copa("report", "-s", "nosuchscanner", f, env=plugin_bin.env)
    assert p.returncode == 1
    assert "scanner plugin 'copa-nosuchscanner' not found in PATH" in one_line_error(p)


@pytest.mark.parametrize("name", ["-x", "../evil", "a b", "a/b", "_x", "é", "x" * 65])
def test_invalid_scanner_name_is_usage_error(copa, tmp_path, name):
    f = tmp_path / "r.json"
    f.write_text("{}")
    p = copa("report", "-s", name, f)
    assert p.returncode == 2
    assert "invalid scanner" in p.stderr or "unknown option" in p.stderr


def test_usage(copa):
    assert copa("report").returncode == 2
    assert copa("report", "--frob", "x").returncode == 2
    assert copa("report", "--timeout", "soon", "x").returncode == 2
    h = copa("report", "--help")
    assert h.returncode == 0 and "usage: copa report" in h.stdout and "--json" in h.stdout


# --------------------------------------------------------------- bad input

def trivy_doc():
    return json.loads((SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json").read_text())


def bad(copa, tmp_path, content, *args, name="bad.json"):
    f = tmp_path / name
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    f.write_bytes(content.encode() if isinstance(content, str) else content)
    p = copa("report", *args, f)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout == ""
    err = one_line_error(p)
    assert str(f) in err, f"message does not name the file: {err}"
    return err


def test_empty_file(copa, tmp_path):
    assert "is empty" in bad(copa, tmp_path, "")
    assert "is empty" in bad(copa, tmp_path, " \n\t\n", name="blank.json")


def test_not_json(copa, tmp_path):
    err = bad(copa, tmp_path, "Total: 12 (UNKNOWN: 0, LOW: 3)\n")
    assert "not JSON" in err


def test_truncated(copa, tmp_path):
    raw = (SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json").read_bytes()
    err = bad(copa, tmp_path, raw[: len(raw) // 2])
    assert "truncated" in err


def test_huge_file(copa, tmp_path):
    f = tmp_path / "huge.json"
    with open(f, "wb") as fh:
        fh.truncate(2 * 1024 ** 3)  # sparse: 2 GiB without using the disk
    p = copa("report", f)
    assert p.returncode == 1
    err = one_line_error(p)
    assert str(f) in err and "larger than" in err


@pytest.mark.parametrize("src,flag,hint", [
    ("reports/grype/grype-alpine-3.19.9.json", "trivy", "use -s grype"),
    ("reports/trivy/trivy-oracle-8.7-openjdk.json", "grype", "use -s trivy"),
])
def test_wrong_tool(copa, tmp_path, src, flag, hint):
    err = bad(copa, tmp_path, (SHARED / src).read_text(), "-s", flag)
    assert hint in err


def test_native_given_to_trivy(copa, tmp_path):
    native = copa("report", "--json", SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json",
                  check=True).stdout
    assert "use -s native" in bad(copa, tmp_path, native, "-s", "trivy")
    assert "use -s trivy" in bad(copa, tmp_path, trivy_doc(), "-s", "native", name="t.json")


def test_format_detected_without_s(copa, tmp_path):
    """Without -s each file is read as the format it is: a Grype report or a
    native manifest needs no flag, and gives what the flag would give."""
    for src, flag in (("reports/grype/grype-alpine-3.19.9.json", "grype"),
                      ("reports/trivy/trivy-oracle-8.7-openjdk.json", "trivy")):
        auto = copa("report", "--json", SHARED / src)
        assert auto.returncode == 0, auto.stderr
        assert auto.stdout == copa("report", "--json", "-s", flag, SHARED / src,
                                   check=True).stdout
    native = tmp_path / "native.json"
    native.write_text(copa("report", "--json", SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json",
                           check=True).stdout)
    assert copa("report", "--json", native, check=True).stdout == native.read_text()


def test_directory_skips_files_that_are_not_reports(copa, tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    (d / "README.md").write_text("# scans of app:1.0\n")
    (d / "sbom.json").write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5"}))
    only = copa("report", "--json", SHARED / "reports/trivy/trivy-oracle-8.7-openjdk.json",
                check=True).stdout
    (d / "amd64.json").write_text((SHARED / "reports/trivy/trivy-oracle-8.7-openjdk.json").read_text())
    p = copa("report", "--json", d)
    assert p.returncode == 0, p.stderr
    assert f"skipping '{d}/README.md' in the report directory: not JSON" in p.stderr
    assert f"skipping '{d}/sbom.json' in the report directory: it is a CycloneDX SBOM" in p.stderr
    assert json.loads(p.stdout) == [json.loads(only)] or json.loads(p.stdout) == json.loads(only)
    (d / "amd64.json").unlink()
    p = copa("report", d)
    assert p.returncode == 1 and "holds no report" in p.stderr
    # A file that is a report but broken still fails the run.
    (d / "arm64.json").write_text(json.dumps({"SchemaVersion": 2, "Results": "x"}))
    assert copa("report", d).returncode == 1


def test_sbom_is_not_a_report(copa, tmp_path):
    err = bad(copa, tmp_path, {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})
    assert "CycloneDX SBOM" in err and "grype" in err


def test_missing_os_metadata(copa, tmp_path):
    d = trivy_doc()
    del d["Metadata"]["OS"]
    assert "no OS metadata" in bad(copa, tmp_path, d)
    d = trivy_doc()
    d["Metadata"]["OS"] = {"Family": "none", "Name": ""}
    assert "no OS metadata" in bad(copa, tmp_path, d, name="none.json")
    g = json.loads((SHARED / "reports/grype/grype-alpine-3.19.9.json").read_text())
    g["distro"] = None
    assert "no OS metadata" in bad(copa, tmp_path, g, "-s", "grype", name="g.json")


def test_unknown_family(copa, tmp_path):
    d = trivy_doc()
    d["Metadata"]["OS"]["Family"] = "plan9"
    assert "unknown OS family 'plan9'" in bad(copa, tmp_path, d)


def test_unparsable_version(copa, tmp_path):
    d = trivy_doc()
    d["Results"][0]["Vulnerabilities"][3]["FixedVersion"] = "fixed in 2.0!"
    name = d["Results"][0]["Vulnerabilities"][3]["PkgName"]
    err = bad(copa, tmp_path, d)
    assert f"package '{name}'" in err and "'fixed in 2.0!' is not a valid dpkg version" in err


def test_wrong_field_type(copa, tmp_path):
    d = trivy_doc()
    d["Results"][0]["Vulnerabilities"][0]["PkgName"] = 42
    assert "Results[0].Vulnerabilities[0].PkgName is a number, not a string" in bad(copa, tmp_path, d)


def test_old_schema_version(copa, tmp_path):
    d = trivy_doc()
    d["SchemaVersion"] = 1
    assert "SchemaVersion 1 is not supported" in bad(copa, tmp_path, d)


def test_too_many_findings(copa, tmp_path):
    d = trivy_doc()
    d["Results"][0]["Vulnerabilities"] = [{}] * 500001  # the count is checked before the contents
    assert "more than the 500000 allowed" in bad(copa, tmp_path, d)


def test_missing_file(copa, tmp_path):
    p = copa("report", tmp_path / "nope.json")
    assert p.returncode == 1
    assert "nope.json" in one_line_error(p)
