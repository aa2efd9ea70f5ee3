#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Smoke test of the benchmark suite: bench/run.sh --quick runs end to end.

No timing is asserted (benchmarks never run inside the test suite's timing
assertions): the suite runs on tiny sizes, writes its results to a temporary
file (never bench/RESULTS.md), and the test checks that every table is there,
that it cleaned up (no helper process left, kernel.bpf_stats_enabled restored),
and that bad arguments are refused. Skips (77) when not root or when a peer
is not installed.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

RUN = os.path.join(jtest.SOURCE_ROOT, "bench", "run.sh")
RESULTS = os.path.join(jtest.SOURCE_ROOT, "bench", "RESULTS.md")
PEERS = ["pidstat", "atop", "powertop", "bpftrace", "stress-ng", "cc", "bpftool"]
STATS = "/proc/sys/kernel/bpf_stats_enabled"


def env(tmpdir=None):
    e = dict(os.environ)
    if tmpdir:
        e["TMPDIR"] = tmpdir   # the suite's temporary files and helpers go there
    e["JOULED"] = os.path.abspath(jtest.JOULED)
    e["JOULECTL"] = os.path.abspath(jtest.JOULECTL)
    return e


def procs_under(prefix):
    """PIDs of processes whose executable lies under prefix (only to look; nothing is killed here)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d).startswith(prefix + "/"):
                    out.append(int(d))
            except OSError:
                pass
    return out


def test_quick_run_writes_every_table():
    with jtest.TempDir() as tmp:
        out = os.path.join(tmp, "RESULTS.md")
        runtmp = os.path.join(tmp, "run")
        os.mkdir(runtmp)
        before = os.stat(RESULTS).st_mtime_ns if os.path.exists(RESULTS) else None
        stats_before = open(STATS).read().strip()
        r = subprocess.run([RUN, "--quick", "--output", out], capture_output=True, text=True,
                           timeout=560, env=env(runtmp))
        check(r.returncode == 0, "bench/run.sh --quick exited %d: %s" % (r.returncode, r.stderr[-2000:]))
        text = open(out).read()
        for heading in ("## Machine", "## 1. Context-switch cost", "### BPF programs' own cost per event",
                        "## 2. Monitor overhead at scale", "### 100 processes",
                        "## 3. Short-lived processes", "## 4. Storage and queries",
                        "## 5. Fork storm beside idle processes"):
            check(heading in text, "RESULTS lacks the section %r" % heading)
        for m in ("none", "jouled", "pidstat", "atop", "powertop", "bpftrace"):
            check(re.search(r"^\| %s \| \d+ \|" % m, text, re.M),
                  "scenario 1 has no throughput row for %s" % m)
        for m in ("jouled", "pidstat", "atop", "powertop", "bpftrace"):
            check(re.search(r"^\| %s \| [\d.]+ \| [\d.]+ \| [\d.]+ \|" % m, text, re.M),
                  "scenario 2 has no CPU row for %s" % m)
            check(re.search(r"^\| %s \| [\d.]+ \| [\d.]+ \| [\d.]+%% \|" % m, text, re.M),
                  "scenario 3 has no share row for %s" % m)
        # jouled's BPF programs were measured (bpf_stats on during the run). Which of
        # them run depends on the tracker's mode (per switch or iterator), so any one.
        check(re.search(r"^\| jouled \| \w+ \S* \| [1-9]\d* \|", text, re.M),
              "no run count for any of jouled's BPF programs in the BPF cost table")
        # Scenario 2 shows iterator time apart (not added) and both RSS figures.
        check("CPU-s BPF iterators (in user+sys, not added)" in text and "peak RSS MB (window)" in text
              and "start-up peak RSS MB" in text, "scenario 2 lacks the iterator or RSS columns")
        check(os.uname().release in text, "the kernel release is missing")
        # The short-lived workload is fully seen by jouled even on tiny sizes.
        m = re.search(r"^\| jouled \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% \|", text.split("## 3.")[1], re.M)
        check(m and float(m.group(3)) >= 95.0, "jouled saw too little of the short-lived workload: %s" %
              (m.group(0) if m else "no row"))
        # The storm ran in both accounting modes and without jouled, each with its
        # rate reached; jouled's rows with the CPU stored and the events lost.
        storm = text.split("## 5.")[1]
        check(re.search(r"^\| no jouled \| \d+ \| [\d.]+ \|", storm, re.M), "scenario 5 has no row without jouled")
        for m in ("iterator", "per-switch"):
            check(re.search(r"^\| %s \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+%% \| \d+ \|" % m, storm, re.M),
                  "scenario 5 has no row for %s" % m)
        check(open(STATS).read().strip() == stats_before, "kernel.bpf_stats_enabled was not restored")
        after = os.stat(RESULTS).st_mtime_ns if os.path.exists(RESULTS) else None
        check(before == after, "the smoke run touched bench/RESULTS.md")
        check(not os.listdir(runtmp), "the suite left temporary files: %s" % os.listdir(runtmp))
        left = procs_under(runtmp)
        check(not left, "the suite left helper processes running: %s" % left)


def test_bad_arguments_are_refused():
    r = subprocess.run([RUN, "--frobnicate"], capture_output=True, text=True, timeout=30, env=env())
    check(r.returncode == 2, "an unknown argument exited %d, wanted 2" % r.returncode)
    check("--frobnicate" in r.stderr and "--quick" in r.stderr,
          "the error does not name the bad argument and the accepted ones: %r" % r.stderr)
    r = subprocess.run([RUN, "--quick", "--only", "7"], capture_output=True, text=True, timeout=60, env=env())
    check(r.returncode == 2 and "--only" in r.stderr, "a bad --only exited %d: %r" % (r.returncode, r.stderr))


if __name__ == "__main__":
    jtest.require_root()
    missing = [p for p in PEERS if not shutil.which(p)]
    if missing:
        print("SKIP: peers not installed: %s (bench/run.sh installs them)" % " ".join(missing))
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_quick_run_writes_every_table, test_bad_arguments_are_refused])
