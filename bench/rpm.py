#!/usr/bin/python3
"""bench/rpm.py: copa patch on an RPM image (sqlite database) against what a user
without copa does daemonlessly: `umoci unpack`, Debian's `dnf --installroot
upgrade` on the unpacked root against the same repository, and `umoci repack` (the
layer commit), on the same image and the same repository.

The world is built here as the e2e tests build theirs (no RPM mirror is reachable):
PKGS packages of FILES files each (rpmbuild), installed into an image root with
Debian's rpm, plus a new version of every one of them signed with a test key
(rpmsign), a repository made by createrepo_c with a signed repomd.xml, served on
127.0.0.1. copa checks the signatures of repomd.xml and of every package; dnf runs
with --nogpgcheck (importing a key into the image database is a separate step a
user would add), so dnf's side does less work than copa's.

Measured for each, cold (empty copa cache / empty dnf cache) and warm (a second
run with the cache of the first): wall time, peak memory (max RSS, GNU time; for
umoci+dnf the largest of the three steps), medians of N repetitions after a
discarded warm-up one, and the new layer's size (gzip -6 of
the uncompressed tar, the same measure for both). Prints a table and the ratios
copa / dnf+umoci against the targets of issue 10 (cold <= 0.3, warm <= 0.1, peak
< 100 MiB). Needs rpm, rpmbuild, rpmsign, createrepo_c, dnf, umoci, skopeo and GNU
time (scripts/install-deps.sh).

usage: bench/rpm.py [--reps N] [--pkgs N] [--files N] [--keep DIR]
"""
import argparse
import gzip
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from benchutil import timed, gzip6_size  # noqa: E402
import imagetools as it  # noqa: E402
from fx_debrepo import GpgKey  # noqa: E402
from fx_patch import tar_dir  # noqa: E402
from fx_services import StaticServer  # noqa: E402

SPEC = """Name: {name}
Version: {ver}
Release: 1
Summary: copa bench package
License: MIT
BuildArch: noarch
%description
copa bench package
%install
mkdir -p %{{buildroot}}/usr/share/{name}
for i in $(seq 1 {files}); do
  head -c 6000 /dev/urandom | base64 > %{{buildroot}}/usr/share/{name}/f$i
done
echo {ver} > %{{buildroot}}/usr/share/{name}/version
%files
/usr/share/{name}
"""


def rpmbuild(tmp, out, name, ver, files):
    spec = tmp / f"{name}-{ver}.spec"
    spec.write_text(SPEC.format(name=name, ver=ver, files=files))
    subprocess.run(["rpmbuild", "--quiet", "-bb", "--define", f"_topdir {tmp}/top",
                    "--define", f"_rpmdir {out}", "--define",
                    "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", str(spec)],
                   check=True, capture_output=True)
    return out / f"{name}-{ver}-1.noarch.rpm"


def make_world(work, n_pkgs, n_files):
    key = GpgKey(work / "gnupg", algo="rsa2048")
    names = [f"copa-bench-{i:03d}" for i in range(n_pkgs)]
    old = [rpmbuild(work, work / "old", n, "1.0", n_files) for n in names]
    new = [rpmbuild(work, work / "new", n, "1.1", n_files) for n in names]
    subprocess.run(["rpmsign", "--addsign", "--define", "__gpg /usr/bin/gpg",
                    "--define", f"_gpg_name {key.fingerprint}",
                    "--define", f"_gpg_path {key.home}", *map(str, new)],
                   check=True, capture_output=True, env=key.env)
    repo = work / "www/repo"
    repo.mkdir(parents=True)
    for r in new:
        shutil.copy(r, repo)
    subprocess.run(["createrepo_c", "-q", "--no-database", str(repo)], check=True)
    key.detach_sign(repo / "repodata/repomd.xml", repo / "repodata/repomd.xml.asc")
    root = work / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--initdb"], check=True)
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps",
                    "--noscripts", *map(str, old)], check=True)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text('NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\n')
    layout = work / "image"
    it.write_image(layout, [tar_dir(root)], tag="1.0")
    return key, names, layout


def last_layer(layout, tag):
    man = it.skopeo_inspect_raw(f"oci:{layout}:{tag}")
    layer = man["layers"][-1]
    blob = (pathlib.Path(layout) / "blobs/sha256" / layer["digest"].split(":")[1]).read_bytes()
    tar = gzip.decompress(blob) if "gzip" in layer["mediaType"] else blob
    return len(blob), gzip6_size(tar)


def cpu():
    """CPU seconds (user + system) of the waited-for children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def copa_run(copa, url, key, layout, tag, cache):
    c0 = cpu()
    wall, rss, _, _ = timed([copa, "patch", "-i", f"oci:{layout}:1.0", "-t", tag, "--cache-dir",
                             str(cache), "--repo", f"bench={url}/repo/", "--keyring",
                             str(key.armored), "--progress", "quiet"])
    return (wall, rss, *last_layer(layout, tag), cpu() - c0)


def dnf_run(url, layout, work, tag, dnfcache, n_pkgs):
    """umoci unpack + dnf --installroot upgrade + umoci repack into a copy of the layout."""
    out = work / f"dnf-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(layout, out)
    bundle = work / f"bundle-{tag}"
    shutil.rmtree(bundle, ignore_errors=True)
    repos = work / "dnf-repos"
    repos.mkdir(exist_ok=True)
    (repos / "bench.repo").write_text(f"[bench]\nbaseurl={url}/repo/\ngpgcheck=0\n")
    home = work / "dnf-home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    total, peak, c0 = 0.0, 0, cpu()
    wall, rss, _, _ = timed(["umoci", "unpack", "--image", f"{out}:1.0", str(bundle)])
    total, peak = total + wall, max(peak, rss)
    wall, rss, so, _ = timed(["dnf", "-y", "--installroot", str(bundle / "rootfs"),
                              "--releasever", "9", "--setopt=reposdir=" + str(repos),
                              "--setopt=cachedir=" + str(dnfcache), "--setopt=keepcache=1",
                              "--nogpgcheck", "--disableplugin=*", "upgrade"],
                             env=dict(os.environ, HOME=str(home)))
    total, peak = total + wall, max(peak, rss)
    if so.count("Upgrading") < 1 and "Upgraded" not in so:
        sys.exit(f"bench: dnf upgraded nothing:\n{so}")
    wall, rss, _, _ = timed(["umoci", "repack", "--image", f"{out}:{tag}", str(bundle)])
    total, peak = total + wall, max(peak, rss)
    shutil.rmtree(bundle, ignore_errors=True)
    return (total, peak, *last_layer(out, tag), cpu() - c0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pkgs", type=int, default=20)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    args = ap.parse_args()
    for tool in ("rpmbuild", "rpmsign", "createrepo_c", "dnf", "umoci", "skopeo",
                 "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (scripts/install-deps.sh)")
    copa = os.environ.get("COPA_BIN", str(ROOT / "build" / "copa"))
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="copa-bench-rpm-"))
    work.mkdir(parents=True, exist_ok=True)
    key, names, layout = make_world(work, args.pkgs, args.files)
    srv = StaticServer(work / "www")
    try:
        rows = {k: [] for k in ("copa cold", "copa warm", "dnf+umoci cold", "dnf+umoci warm")}
        # repetition 0 warms the page cache (binaries, libraries, the image) for both
        # sides and is discarded
        for rep in range(args.reps + 1):
            cache = work / f"cache-{rep}"
            dnfcache = work / f"dnf-cache-{rep}"
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(dnfcache, ignore_errors=True)
            for kind in ("cold", "warm"):
                rows[f"copa {kind}"].append(
                    copa_run(copa, srv.url, key, layout, f"copa-{kind}-{rep}", cache))
            for kind in ("cold", "warm"):
                rows[f"dnf+umoci {kind}"].append(
                    dnf_run(srv.url, layout, work, f"{kind}-{rep}", dnfcache, args.pkgs))
            if rep == 0:
                rows = {k: [] for k in rows}
            print(f"repetition {rep}/{args.reps} done"
                  f"{' (warm-up, discarded)' if rep == 0 else ''}", flush=True)
    finally:
        srv.stop()
        key.close()

    med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in rows.items()}
    print(f"\nimage: {args.pkgs} packages of {args.files} files (~8 KiB each), every one "
          f"upgraded; medians of {args.reps} runs after a discarded warm-up\n"
          f"(bench/rpm.py --reps {args.reps} --pkgs {args.pkgs} --files {args.files}); cpu: "
          f"user + system of every process\n")
    print(f"{'':16} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9} {'layer KiB':>10} "
          f"{'layer gzip-6 KiB':>17}")
    for k, (wall, rss, blob, gz6, c) in med.items():
        print(f"{k:16} {wall:8.3f} {c:7.3f} {rss / 1024:9.1f} {blob / 1024:10.1f} "
              f"{gz6 / 1024:17.1f}")
    print()
    for kind, target in (("cold", 0.3), ("warm", 0.1)):
        r = med[f"copa {kind}"][0] / med[f"dnf+umoci {kind}"][0]
        c = med[f"copa {kind}"][4] / med[f"dnf+umoci {kind}"][4]
        print(f"time ratio copa/dnf+umoci, {kind}: {r:.3f} (target <= {target}) "
              f"{'ok' if r <= target else 'MISSED'}; cpu time ratio {c:.3f}")
    peak = max(med["copa cold"][1], med["copa warm"][1]) / 1024
    print(f"peak memory of copa: {peak:.1f} MiB (target < 100 MiB) "
          f"{'ok' if peak < 100 else 'MISSED'}")
    r = med["copa cold"][3] / med["dnf+umoci cold"][3]
    print(f"new layer size ratio copa/dnf+umoci, both gzip -6: {r:.3f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
