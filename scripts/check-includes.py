#!/usr/bin/env python3
"""Checks the include layering of src/ (docs/ARCHITECTURE.md, "Layout").

Fails, naming the file and the include, when
  - a file outside src/pkg/ includes a package family's header (src/pkg/<family>/...):
    the pipeline reaches a family only through src/pkg/pm.h;
  - a file in src/core/ includes a src/pkg/ header other than the interface and its leaves
    (ALLOWED_CORE_PKG);
  - the folders include each other in a cycle (folder A includes B and B, directly or through
    others, includes A). src/pkg and src/pkg/deb are different folders: a family may use the
    family-neutral helpers of src/pkg/, never the other way round.

Usage: check-includes.py SRC_DIR
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# The src/pkg/ headers src/core/ may include: the interface and leaves with no family in them.
ALLOWED_CORE_PKG = {"pkg/pm.h", "pkg/fetch.h", "pkg/version.h", "pkg/osrelease.h"}


def folder_of(rel):
    return os.path.dirname(rel)


def is_family_header(rel):
    parts = rel.split("/")
    return len(parts) >= 3 and parts[0] == "pkg"


def find_cycle(graph):
    """Returns one cycle as a list of folders, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: check-includes.py SRC_DIR", file=sys.stderr)
        return 2
    src = sys.argv[1]
    problems = []
    graph = {}
    for root, _dirs, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                if not os.path.exists(os.path.join(src, inc)):
                    continue  # generated (copa-config.h) or local to the test tree
                where = f"src/{rel}: includes \"{inc}\""
                if is_family_header(inc) and not rel.startswith("pkg/"):
                    problems.append(f"{where}: only src/pkg/ may include a package family's "
                                    "headers (go through src/pkg/pm.h)")
                if rel.startswith("core/") and inc.startswith("pkg/") and inc not in ALLOWED_CORE_PKG:
                    problems.append(f"{where}: src/core/ may include only "
                                    f"{', '.join(sorted(ALLOWED_CORE_PKG))} from src/pkg/")
                a, b = folder_of(rel), folder_of(inc)
                if a != b:
                    graph.setdefault(a, set()).add(b)
    cycle = find_cycle(graph)
    if cycle:
        problems.append("folder include cycle: " + " -> ".join(f"src/{c}/" for c in cycle))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-includes: {len(problems)} layering problem(s)", file=sys.stderr)
        return 1
    print(f"check-includes: {len(graph)} folders, no layering problem")
    return 0


if __name__ == "__main__":
    sys.exit(main())
