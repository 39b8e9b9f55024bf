#!/usr/bin/env python3
"""Regenerates src/core/eol-dates.def, copa's table of distribution release
end-of-life dates, from https://endoflife.date (its v0 API: one JSON list of
release cycles per product). copa itself never asks the network; this script
is run by a maintainer, and the diff reviewed before it is committed.

usage: scripts/update-eol.py [--from-dir DIR] [--output FILE]

--from-dir reads DIR/<product>.json instead of downloading (offline runs,
tests). Cycles whose end of life is not a date (still open-ended) are left
out: copa then says nothing about them.
"""
import argparse
import datetime
import json
import pathlib
import re
import sys
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEF = ROOT / "src/core/eol-dates.def"
API = "https://endoflife.date/api/{}.json"

# endoflife.date product -> (os-release ID, which field ends security updates).
# Debian's LTS ships through the same -security suite copa patches from, so
# its end counts; Ubuntu's ESM needs a subscription, so standard support does.
PRODUCTS = {
    "debian": ("debian", "extendedSupport"),
    "ubuntu": ("ubuntu", "eol"),
    "alpine-linux": ("alpine", "eol"),
    "centos": ("centos", "eol"),
    "rhel": ("rhel", "eol"),
    "rocky-linux": ("rocky", "eol"),
    "almalinux": ("almalinux", "eol"),
    "amazon-linux": ("amzn", "eol"),
    "cbl-mariner": ("mariner", "eol"),
    "fedora": ("fedora", "eol"),
    "opensuse": ("opensuse-leap", "eol"),
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CYCLE = re.compile(r"^[0-9][0-9.]*$")


def fetch(product, from_dir):
    if from_dir:
        return json.loads((pathlib.Path(from_dir) / f"{product}.json").read_text())
    req = urllib.request.Request(API.format(product), headers={"User-Agent": "copa-update-eol"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def rows(product, cycles):
    os_id, field = PRODUCTS[product]
    out = []
    for c in cycles:
        cycle = str(c.get("cycle", ""))
        end = c.get(field)
        if field != "eol" and not isinstance(end, str):
            end = c.get("eol")  # no extended support: the regular end
        if not CYCLE.match(cycle) or not isinstance(end, str) or not DATE.match(end):
            continue
        if os_id == "amzn" and cycle == "2018.03":
            cycle = "1"
        out.append((os_id, cycle, end))
    return out


def key(row):
    return (row[0], [int(p) for p in row[1].split(".")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from-dir")
    ap.add_argument("--output", default=str(DEF))
    args = ap.parse_args()
    table = []
    for product in PRODUCTS:
        table += rows(product, fetch(product, args.from_dir))
    if not table:
        sys.exit("update-eol: no release cycles read; table left as it was")
    text = DEF.read_text()
    head = text[:text.index("/* updated: ")]
    lines = [head, f"/* updated: {datetime.date.today().isoformat()} */\n"]
    lines += [f'COPA_EOL("{i}", "{c}", "{d}")\n' for i, c, d in sorted(table, key=key)]
    pathlib.Path(args.output).write_text("".join(lines))


if __name__ == "__main__":
    main()
