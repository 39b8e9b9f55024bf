"""OpenVEX and patch-summary output, produced by the real writers through the
copa-test-vex helper (copa patch does not exist yet) from real reports, and
validated with python3-jsonschema against the official OpenVEX schema and
docs/summary.schema.json; every purl is checked against the purl spec."""
import hashlib
import json
import os
import re
import subprocess

import jsonschema
import pytest

from conftest import ROOT, SHARED
from fx_report import copa_test_vex_bin, parse_purl

OPENVEX_SCHEMA = json.loads((SHARED / "schemas/openvex_json_schema.json").read_text())
SUMMARY_SCHEMA = json.loads((ROOT / "docs/summary.schema.json").read_text())
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DEB_ARCH = {"amd64": "amd64", "arm64": "arm64"}
RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
APK_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
PURL_NS = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "oracle": "oracle",
           "cbl-mariner": "cbl-mariner", "redhat": "redhat", "rocky": "rocky"}


def validate(doc, schema):
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(doc)


def digest(s):
    return "sha256:" + hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture(scope="session")
def vex_helper():
    p = copa_test_vex_bin()
    if not p:
        pytest.fail("copa-test-vex not built (ninja -C build)")
    return str(p)


@pytest.fixture
def make(copa, vex_helper, tmp_path):
    """make(report, scanner, outcomes_fn, ...) -> (vex dict|None, summary dict, native manifest)."""

    def run(report, scanner, outcome_for, ref="localhost:5000/team/app:1.0-patched",
            author="Jane Doe <jane@example.com>", extra=(), expect_rc=0):
        native = copa("report", "-s", scanner, "--json", report, check=True).stdout
        mf = tmp_path / "manifest.json"
        mf.write_text(native)
        docs = json.loads(native)
        docs = docs if isinstance(docs, list) else [docs]
        plats = {}
        for d in docs:
            arch = d["metadata"]["config"]["arch"]
            variant = d["metadata"]["config"].get("variant")
            plat = "/".join(x for x in ("linux", arch, variant) if x)
            pk = {}
            for e in d["osupdates"]:
                o = outcome_for(e["name"], e)
                if o:
                    pk[e["name"]] = o
            plats[plat] = {"inputDigest": digest("in" + plat), "outputDigest": digest("out" + plat),
                           "packages": pk}
        oc = tmp_path / "outcomes.json"
        oc.write_text(json.dumps({"platforms": plats}))
        vex, summ = tmp_path / "out" / "vex.json", tmp_path / "out" / "summary.json"
        vex.parent.mkdir(exist_ok=True)
        argv = [vex_helper, "--manifest", mf, "--outcomes", oc, "--output-ref", ref,
                "--input-ref", ref.rsplit(":", 1)[0] + ":1.0", "--input-digest", digest("index-in"),
                "--output-digest", digest("index-out"), "--timestamp", "1700000000",
                "--vex", vex, "--summary", summ, *extra]
        if author is not None:
            argv += ["--author", author]
        p = subprocess.run(list(map(str, argv)), capture_output=True, text=True)
        assert p.returncode == expect_rc, p.stderr
        if expect_rc:
            return p, None, docs
        return (json.loads(vex.read_text()) if vex.exists() else None,
                json.loads(summ.read_text()), docs)

    return run


def all_updated(name, e):
    return {"outcome": "updated", "chosen": e["fixedVersion"], "installed": e["fixedVersion"]}


CASES = [
    ("trivy", "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json", "deb", "debian"),
    ("trivy", "reports/trivy/trivy-debian-10.9-nginx-1.19.json", "deb", "debian"),
    ("grype", "reports/grype/grype-ubuntu-22.04-mongo.json", "deb", "ubuntu"),
    ("trivy", "reports/trivy/trivy-alpine-3.17.3-python-3.10.10-alpine3.17.json", "apk", "alpine"),
    ("grype", "reports/grype/grype-oraclelinux-8.7-openjdk.json", "rpm", "oracle"),
    ("trivy", "reports/trivy/trivy-cbl-mariner-2.0-distroless-base-arm64.json", "rpm", "cbl-mariner"),
]


def highest_by_name(docs):
    """{(plat, name): installed version written in the outcomes} from the native docs."""
    return {e["name"]: e for d in docs for e in d["osupdates"]}


@pytest.mark.parametrize("scanner,report,ptype,ostype", CASES,
                         ids=[c[1].split("/")[-1] for c in CASES])
def test_vex_validates_and_purls_follow_the_spec(make, scanner, report, ptype, ostype):
    vex, summ, docs = make(SHARED / report, scanner, all_updated)
    validate(vex, OPENVEX_SCHEMA)
    assert vex["@context"] == "https://openvex.dev/ns/v0.2.0"
    assert RFC3339.match(vex["timestamp"]) and vex["timestamp"] == "2023-11-14T22:13:20Z"
    assert vex["author"] == "Jane Doe <jane@example.com>"
    assert re.fullmatch(r"https://openvex\.dev/docs/public/vex-[0-9a-f]{64}", vex["@id"])
    d = docs[0]
    arch = d["metadata"]["config"]["arch"]
    # One statement per vulnerability that every listed package fixes.
    unfixable_ids = {e["vulnerabilityID"] for e in d["unfixable"]}
    fixed_ids = {e["vulnerabilityID"] for e in d["osupdates"]} - unfixable_ids
    assert sorted(s["vulnerability"]["name"] for s in vex["statements"]) == sorted(fixed_ids)
    assert [s["vulnerability"]["name"] for s in vex["statements"]] == sorted(fixed_ids)
    fixed_of = {}
    for e in d["osupdates"]:
        fixed_of.setdefault(e["name"], set()).add(e["fixedVersion"])
    for st in vex["statements"]:
        assert st["status"] == "fixed"
        assert len(st["products"]) == 1
        prod = parse_purl(st["products"][0]["@id"])
        assert prod["type"] == "oci" and prod["name"] == "app" and prod["namespace"] == ""
        assert prod["version"] == digest("outlinux/" + arch)  # this platform's manifest
        assert prod["qualifiers"] == {"arch": arch, "repository_url": "localhost:5000/team/app",
                                      "tag": "1.0-patched"}
        assert "?arch=" in st["products"][0]["@id"]
        assert "repository_url=localhost:5000%2Fteam%2Fapp" in st["products"][0]["@id"]
        subs = st["products"][0]["subcomponents"]
        assert subs and len({s["@id"] for s in subs}) == len(subs)
        for sub in subs:
            c = parse_purl(sub["@id"])
            assert c["type"] == ptype and c["namespace"] == PURL_NS[ostype]
            version = c["version"]
            if "epoch" in c["qualifiers"]:
                assert ptype == "rpm" and not version.startswith(c["qualifiers"]["epoch"] + ":")
                version = c["qualifiers"]["epoch"] + ":" + version
            names = [n for n in fixed_of if n.lower() == c["name"]] or [c["name"]]
            assert any(version in fixed_of[n] or
                       any(f.split(":", 1)[-1] == version and f.startswith("0:")
                           for f in fixed_of[n]) for n in names), sub["@id"]
            want_arch = {"deb": DEB_ARCH, "rpm": RPM_ARCH, "apk": APK_ARCH}[ptype][arch]
            assert c["qualifiers"]["arch"] == want_arch
            assert c["qualifiers"]["distro"] == f"{ostype}-{d['metadata']['os']['version']}"
            assert set(c["qualifiers"]) <= {"arch", "distro", "epoch"}
    validate(summ, SUMMARY_SCHEMA)


def test_rpm_epoch_goes_to_a_qualifier(make):
    vex, _, _ = make(SHARED / "reports/grype/grype-oraclelinux-8.7-openjdk.json", "grype",
                     all_updated)
    ids = [s["@id"] for st in vex["statements"] for p in st["products"] for s in p["subcomponents"]]
    ossl = [i for i in ids if "/openssl-libs@" in i]
    assert ossl and all(i.startswith("pkg:rpm/oracle/openssl-libs@1.1.1k-9.el8_7?") and
                        "&epoch=1" in i for i in ossl)
    # "0:" is the default epoch: no qualifier, and no "0:" in the version.
    curl = [i for i in ids if "/curl@" in i]
    assert curl and all("epoch=" not in i and "@0:" not in i for i in curl)


def test_failed_packages_are_in_no_fixed_statement(make):
    report = SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json"
    failing = {"curl": ("failed", "download of curl failed: HTTP 404"),
               "libcurl4": ("not-available", "no version >= 7.74.0-1.3+deb11u11 in bullseye-security"),
               "gpgv": ("skipped", "not installed in this image")}

    def outcome(name, e):
        if name in failing:
            return {"outcome": failing[name][0], "reason": failing[name][1]}
        if name == "libexpat1":
            return {"outcome": "already-fixed", "installed": "2.2.10-2+deb11u6"}
        o = all_updated(name, e)
        if name == "libc6":
            o["skippedScripts"] = ["postinst", "triggers"]
        return o

    vex, summ, docs = make(report, "trivy", outcome)
    validate(vex, OPENVEX_SCHEMA)
    validate(summ, SUMMARY_SCHEMA)
    entries = docs[0]["osupdates"]
    open_ids = {e["vulnerabilityID"] for e in entries if e["name"] in failing}
    stated = {s["vulnerability"]["name"] for s in vex["statements"]}
    assert not (stated & open_ids), "a vulnerability a failed package still has is stated fixed"
    subs = " ".join(s["@id"] for st in vex["statements"] for p in st["products"]
                    for s in p["subcomponents"])
    for name in failing:
        assert f"/{name}@" not in subs
    assert "pkg:deb/debian/libexpat1@2.2.10-2%2Bdeb11u6?arch=amd64&distro=debian-11.3" in subs
    expected = {e["vulnerabilityID"] for e in entries} - open_ids
    assert stated == expected and stated

    # The summary tells the same story, per package and in the counts.
    plat = summ["platforms"][0]
    by = {p["name"]: p for p in plat["packages"]}
    assert by["curl"]["outcome"] == "failed" and by["curl"]["reason"].startswith("download")
    assert by["libcurl4"]["outcome"] == "not-available"
    assert by["gpgv"]["outcome"] == "skipped"
    assert by["libc6"]["skippedScripts"] == ["postinst", "triggers"]
    assert by["libc6"]["requestedVersion"] == by["libc6"]["installedVersion"] == "2.31-13+deb11u7"
    assert by["libc6"]["installedBefore"] == "2.31-13+deb11u3"
    assert by["libexpat1"]["outcome"] == "already-fixed"
    pairs = lambda names: sum(len(by[n]["vulnerabilities"]) for n in names)
    c = plat["counts"]
    assert c["vulnerabilities"]["failed"] == pairs(failing)
    assert c["vulnerabilities"]["fixed"] == pairs(set(by) - set(failing)) == len(entries) - pairs(failing)
    assert c["vulnerabilities"]["notFixableYet"] == 0
    assert c["packages"] == {"updated": len(by) - 4, "already-fixed": 1, "not-available": 1,
                             "failed": 1, "skipped": 1}
    assert summ["counts"] == c
    assert summ["output"]["ref"] == "localhost:5000/team/app:1.0-patched"
    assert summ["input"]["digest"] == digest("index-in")
    assert plat["output"]["digest"] == digest("outlinux/amd64")


def test_unfixable_findings_in_summary_and_not_stated(make):
    report = SHARED / "reports/trivy/trivy-debian-10.9-nginx-1.19.json"
    vex, summ, docs = make(report, "trivy", all_updated)
    d = docs[0]
    plat = summ["platforms"][0]
    assert len(plat["notFixableYet"]) == len(d["unfixable"]) == 87
    assert plat["counts"]["vulnerabilities"]["notFixableYet"] == 87
    unfixable_ids = {e["vulnerabilityID"] for e in d["unfixable"]}
    assert unfixable_ids
    assert not unfixable_ids & {s["vulnerability"]["name"] for s in vex["statements"]}


def test_multi_platform_products(make, tmp_path):
    rdir = tmp_path / "reports"
    rdir.mkdir()
    doc = json.loads((SHARED / "reports/trivy/trivy-debian-11.3-nginx-1.21.6.json").read_text())
    (rdir / "amd64.json").write_text(json.dumps(doc))
    doc["Metadata"]["ImageConfig"]["architecture"] = "arm"
    doc["Metadata"]["ImageConfig"]["variant"] = "v7"
    (rdir / "arm.json").write_text(json.dumps(doc))
    vex, summ, docs = make(rdir, "trivy", all_updated)
    validate(vex, OPENVEX_SCHEMA)
    validate(summ, SUMMARY_SCHEMA)
    assert [p["platform"] for p in summ["platforms"]] == ["linux/amd64", "linux/arm/v7"]
    for st in vex["statements"]:
        prods = [parse_purl(p["@id"]) for p in st["products"]]
        assert [p["qualifiers"]["arch"] for p in prods] == ["amd64", "arm"]
        arm_subs = [parse_purl(s["@id"]) for s in st["products"][1]["subcomponents"]]
        assert all(s["qualifiers"]["arch"] == "armhf" for s in arm_subs)
        assert prods[0]["version"] != prods[1]["version"]


@pytest.mark.parametrize("ref,name,quals", [
    ("localhost:5000/library/nginx:1.21.6-patched", "nginx",
     {"repository_url": "localhost:5000/library/nginx", "tag": "1.21.6-patched"}),
    ("ghcr.io/Org/My.App@sha256:" + "a" * 64, "my.app", {"repository_url": "ghcr.io/Org/My.App"}),
    ("oci:/tmp/layouts/web:v2", "web", {"tag": "v2"}),
    ("oci-archive:/tmp/web-image.tar:latest", "web-image", {"tag": "latest"}),
])
def test_product_purl_forms(make, ref, name, quals):
    vex, _, _ = make(SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json", "trivy",
                     all_updated, ref=ref)
    validate(vex, OPENVEX_SCHEMA)
    prod = parse_purl(vex["statements"][0]["products"][0]["@id"])
    assert prod["name"] == name
    quals = dict(quals, arch="amd64")
    assert prod["qualifiers"] == quals
    sub = vex["statements"][0]["products"][0]["subcomponents"][0]["@id"]
    assert sub == ("pkg:rpm/rocky/openssl-libs@1.1.1k-5.el8_5"
                   "?arch=x86_64&distro=rocky-8.5&epoch=1")


def test_nothing_fixed_writes_no_vex_and_keeps_the_old_file(make, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "vex.json").write_text("previous\n")
    p, _, _ = make(SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json", "trivy",
                   lambda n, e: {"outcome": "failed", "reason": "boom"}, expect_rc=1)
    assert "no fixed vulnerabilities" in p.stderr
    assert (out / "vex.json").read_text() == "previous\n"
    assert sorted(x.name for x in out.iterdir()) == ["summary.json", "vex.json"]


def test_vex_is_replaced_atomically(make, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "vex.json").write_text("previous\n")
    vex, _, _ = make(SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json", "trivy",
                     all_updated)
    assert vex["statements"]
    assert sorted(x.name for x in out.iterdir()) == ["summary.json", "vex.json"]


def test_author_is_required(make):
    p, _, _ = make(SHARED / "reports/trivy/trivy-rocky-8.5-golden-fixture-db.json", "trivy",
                   all_updated, author=None, expect_rc=1)
    assert "author" in p.stderr


def test_same_input_same_document(make):
    r = SHARED / "reports/trivy/trivy-alpine-3.17.3-python-3.10.10-alpine3.17.json"
    a, _, _ = make(r, "trivy", all_updated)
    b, _, _ = make(r, "trivy", all_updated)
    assert a == b
    c, _, _ = make(r, "trivy", all_updated, author="Someone Else")
    assert c["@id"] != a["@id"]


def test_the_schema_check_can_fail():
    """The validator used above rejects what the original copa writes (no
    vulnerability name) and accepts vexctl's output: the check has teeth."""
    validate(json.loads((SHARED / "vex/vexctl-demo-git-fixed.vex.json").read_text()), OPENVEX_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        validate(json.loads((SHARED / "vex/copa-azure-cli-2.50.0-patched.vex.json").read_text()),
                 OPENVEX_SCHEMA)
    with pytest.raises(AssertionError):
        parse_purl("pkg:deb/debian/attr@1:2.4.47-2+b1?arch=amd64")  # '+' must be %2B
    with pytest.raises(AssertionError):
        parse_purl("pkg:deb/debian/curl@7.50.3-1?distro=jessie&arch=i386")  # unsorted
    with pytest.raises(AssertionError):
        parse_purl("pkg:oci/debian@sha256%3A244fd?tag=latest")  # ':' must stay literal
