#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The layout keeps the data flow visible and its dependencies one way:

- daemon/ holds at most five .c files, and one folder per stage of the flow
  (tracker, sources, attribution, store, exporters);
- cli/ makes no sqlite3_ call: joulectl reads through the store's query API;
- no circle between source files: where a.c calls b.c, b.c never calls a.c,
  directly or through others (read from the symbols of the built objects);
- comments say what and why, never which issue or team a line came from.

Usage: check-layout.py SOURCE_ROOT BUILD_ROOT"""
import os
import re
import subprocess
import sys

src, build = sys.argv[1], sys.argv[2]
failures = []

# 1. The folders of the data flow.
daemon = os.path.join(src, "daemon")
top_c = [f for f in os.listdir(daemon) if f.endswith(".c")]
if len(top_c) > 5:
    failures.append("daemon/ holds %d .c files (at most 5): %s" % (len(top_c), sorted(top_c)))
for stage in ("tracker", "sources", "attribution", "store", "exporters"):
    if not os.path.isdir(os.path.join(daemon, stage)):
        failures.append("no daemon/%s/" % stage)

# 2. cli/ reads the database through the store's query API only.
for root, _dirs, files in os.walk(os.path.join(src, "cli")):
    for f in files:
        if f.endswith((".c", ".h")):
            path = os.path.join(root, f)
            for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                if "sqlite3_" in line or "<sqlite3.h>" in line:
                    failures.append("%s:%d: SQLite call under cli/" % (os.path.relpath(path, src), n))

# 3. No circles between source files.
def objects():
    for root, _dirs, files in os.walk(build):
        if "meson-private" in root or "/tests" in root or "/bench" in root:
            continue
        if not (root.endswith("libjouled-internal.a.p") or root.endswith("libjoulectl-internal.a.p")):
            continue
        for f in files:
            if f.endswith(".c.o"):
                yield os.path.join(root, f)

defined, used = {}, {}
for obj in objects():
    name = os.path.basename(obj)[:-len(".c.o")]
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    used[name] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined[parts[2]] = name
        elif len(parts) == 2 and parts[0] == "U":
            used[name].add(parts[1])
edges = {a: {defined[s] for s in syms if s in defined and defined[s] != a} for a, syms in used.items()}

# Strongly connected components (Tarjan): any with more than one file is a circle.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in list(edges):
    if v not in index:
        visit(v)
if not edges:
    failures.append("no objects found under %s (build first)" % build)
for comp in sccs:
    if len(comp) > 1:
        failures.append("circle between %s" % ", ".join(sorted(comp)))

# 4. No provenance tags in comments.
TAG = re.compile(r"(/\*|//|#)\s*[^*\n]*\b(issue \d+|\(issue|fleet|attrib|storage|oldschema|sources engineer|cli owner|bench)\b\s*[:)*]", re.I)
TAG2 = re.compile(r"\((issue \d+|fleet|attrib|storage|oldschema|cli|bench)\)|/\* *(fleet|attrib|storage|oldschema|cli|bench) *\*/|# *(fleet|attrib|storage|oldschema|cli|bench)$|(issue \d+)", re.I)
for top in ("common", "daemon", "cli", "bpf", "tests", "bench", "packaging", "schema", "meson.build", "dev"):
    base = os.path.join(src, top)
    paths = [base] if os.path.isfile(base) else [os.path.join(r, f) for r, _d, fs in os.walk(base) for f in fs]
    for path in paths:
        if not path.endswith((".c", ".h", ".py", ".sh", ".sql", ".build", "dev", ".service", ".bt")):
            continue
        if os.path.basename(path) == "check-layout.py":
            continue
        for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            if TAG2.search(line):
                failures.append("%s:%d: provenance tag: %s" % (os.path.relpath(path, src), n, line.strip()[:100]))

for f in failures:
    print("FAIL", f)
print("%d passed, %d failed" % (4 if not failures else 0, len(failures)))
sys.exit(1 if failures else 0)
