#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Cost of `joulectl profile`: the sampled program's slowdown and joulectl's
own CPU time, at 99 Hz and 999 Hz (as root).

    bench/profile/run.py [--build DIR] [--rounds N] [--repeat N]

The workload is tests/integration/twohot with a fixed amount of work
(--rounds, about 20 ms of CPU each). Runs alternate: plain, profiled at 99 Hz,
profiled at 999 Hz, --repeat times; the figures are medians. Slowdown is
measured on the workload's CPU time (user + system, as the shell's `times`
reports it for the workload alone, the same way with and without the
profiler: the sampling interrupts and the BPF program run in the sampled
task's time) and on the wall time of the whole command (noisy on a shared
host). joulectl's CPU time is the whole command's user + system time less
the workload's.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


# Runs the workload, then prints its user and system time (bash's `times`,
# second line: the children's).
WRAP = ["bash", "-c", '"$@" >/dev/null; times >&2', "wrap"]


def workload_cpu(stderr):
    line = [x for x in stderr.splitlines() if "m" in x and "s " in x][-1]
    total = 0.0
    for part in line.split():
        m, s = part.rstrip("s").split("m")
        total += 60 * float(m) + float(s)
    return total


def run(cmd):
    """(wall seconds, workload CPU seconds, CPU seconds of the rest)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("bench: %s failed: %s" % (" ".join(cmd), p.stderr[-500:]))
    total = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    w = workload_cpu(p.stderr)
    return wall, w, max(total - w, 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (BPF)")
    joulectl = os.path.join(a.build, "cli", "joulectl")
    twohot = os.path.join(a.build, "tests", "twohot")
    work = WRAP + [twohot, "0", "1", str(a.rounds)]
    res = {"plain": [], "99": [], "999": []}
    for _ in range(a.repeat):
        res["plain"].append(run(work))
        for hz in ("99", "999"):
            res[hz].append(run([joulectl, "--db", "/nonexistent", "profile", "--frequency", hz, "--"] + work))
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in res.items()}
    pw, pc, _ = med["plain"]
    print("| | workload CPU (s) | slowdown (CPU) | wall (s) | slowdown (wall) | joulectl CPU (s) |")
    print("|---|---|---|---|---|---|")
    print("| plain | %.3f | | %.2f | | |" % (pc, pw))
    for hz in ("99", "999"):
        w, c, j = med[hz]
        print("| profile %s Hz | %.3f | %+.1f%% | %.2f | %+.1f%% | %.3f |" % (hz, c, 100 * (c / pc - 1), w,
                                                                          100 * (w / pw - 1), j))
    print("\n%d runs each, medians; %d rounds of twohot; %s" % (a.repeat, a.rounds, os.uname().release))


if __name__ == "__main__":
    main()
