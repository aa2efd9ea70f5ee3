# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl run: the energy of one command's process tree.

As root (skip, 77, otherwise): the command runs in its own cgroup and, with
no daemon, joulectl opens the energy sources itself (the model on this VM,
marked estimated). Then once more with a running jouled feeding the database.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


def run(*args, db="/nonexistent/jouled.db", rc=0):
    cmd = [jtest.JOULECTL, "--db", db, "run"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(r.returncode == rc, "%s: exit %d, wanted %d: %s" % (" ".join(cmd), r.returncode, rc, r.stderr))
    return r


def run_json(*args, **kw):
    r = run("--json", *args, **kw)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise jtest.Failure("run --json printed no JSON: %r (stderr %r)" % (r.stdout[:300], r.stderr[-300:]))


def check_fields(out):
    for k in ("command", "exit_status", "runs", "wall_seconds", "cpu_seconds", "energy_joules",
              "energy_joules_stddev", "co2e_grams", "sources", "estimated"):
        check(k in out, "run --json lacks %r: %s" % (k, sorted(out)))
    check(abs(out["co2e_grams"] - out["energy_joules"] / 3.6e6 * out["carbon"]["intensity_g_per_kwh"]) < 1e-12,
          "co2e_grams != energy / 3.6e6 * intensity: %r" % out)


def test_stress_ng_self_collected():
    out = run_json("--", "stress-ng", "--cpu", "1", "-t", "2", "--quiet")
    check_fields(out)
    check(out["command"] == ["stress-ng", "--cpu", "1", "-t", "2", "--quiet"], "command: %r" % out["command"])
    check(out["exit_status"] == 0 and out["runs"] == 1, "status/runs: %r" % out)
    # About 2 s; the lower bound allows for a busy shared 2-vCPU machine.
    check(1.2 <= out["cpu_seconds"] <= 2.6, "stress-ng --cpu 1 -t 2 used %r CPU-seconds" % out["cpu_seconds"])
    check(1.9 <= out["wall_seconds"] <= 4, "wall %r" % out["wall_seconds"])
    check(out["energy_joules"] > 0, "energy not positive: %r" % out["energy_joules"])
    check(out["estimated"] is True and any(s["source"] == "model" for s in out["sources"]),
          "model source not reported as estimated: %r" % out["sources"])
    check(out["energy_from"] == "self" and out["process_tree"] == "cgroup", "collection: %r" % out)


def test_grandchildren_counted_and_nothing_else():
    burner = jtest.BURNER
    # A grandchild that is never waited for by joulectl (double fork): the
    # cgroup still counts it. Outside work (a burner started by us, not by
    # the command) must not count.
    outside = subprocess.Popen([burner, "outside", "1", "1500"], stdout=subprocess.DEVNULL)
    try:
        # The subshell exits at once: burner is reparented, never waited for by
        # the command; the command polls until it is gone.
        out = run_json("--", "sh", "-c", "p=$( (%s inner 2 400 >/dev/null & echo $!) ); "
                       "while kill -0 $p 2>/dev/null; do sleep 0.05; done" % burner)
    finally:
        outside.wait()
    check(0.6 <= out["cpu_seconds"] <= 1.1, "tree CPU %r, want about 0.8 s (2 x 400 ms, not the outside 1.5 s)"
          % out["cpu_seconds"])


def test_repeat_budget_and_failure():
    out = run_json("--repeat", "3", "--", "stress-ng", "--cpu", "1", "-t", "1", "--quiet")
    check(out["runs"] == 3 and len(out["each"]) == 3, "runs: %r" % out)
    e = [x["energy_joules"] for x in out["each"]]
    mean = sum(e) / 3
    sd = (sum((x - mean) ** 2 for x in e) / 2) ** 0.5
    check(abs(out["energy_joules"] - mean) < 1e-9 and abs(out["energy_joules_stddev"] - sd) < 1e-9,
          "mean/stddev: %r" % out)
    out = run_json("--budget", "0.000001", "--", "stress-ng", "--cpu", "1", "-t", "1", "--quiet", rc=3)
    check(out["over_budget"] is True, "over budget not said: %r" % out)
    run("--budget", "1e9", "--", "true")
    r = run("--", "sh", "-c", "exit 7", rc=1)
    check("exit status 7" in r.stderr, "failing command not reported: %r" % r.stderr)
    out = run_json("--", "sh", "-c", "exit 7", rc=1)
    check(out["exit_status"] == 7, "exit_status: %r" % out)
    r = run("--", "/nonexistent/command", rc=1)
    err = r.stderr.strip()
    check(err.count("\n") == 0 and "/nonexistent/command" in err, "missing command: %r" % r.stderr)
    r = run("--", "true")
    check("Energy of 'true'" in r.stderr and "gCO2e" in r.stderr and "estimated" in r.stderr,
          "human output: %r" % r.stderr)
    check(not [p for p in os.listdir(cgroup_root()) if p.startswith("jouled-run-")], "cgroups left behind")


def cgroup_root():
    for line in open("/proc/self/mountinfo"):
        if " - cgroup2 " in line:
            return line.split()[4]
    return "/sys/fs/cgroup"


def test_with_daemon():
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ["--interval", "0.5", "--source", "model"]) as dm:
            dm.wait_intervals(2)
            out = run_json("--", "stress-ng", "--cpu", "1", "-t", "2", "--quiet", db=dm.db)
            dm.stop()
        check_fields(out)
        check(out["energy_from"] == "jouled", "daemon not used: %r" % out)
        check(1.2 <= out["cpu_seconds"] <= 2.6 and out["energy_joules"] > 0, "with daemon: %r" % out)
        check(out["estimated"] is True, "model data not estimated: %r" % out)


if __name__ == "__main__":
    jtest.require_root()
    if not shutil.which("stress-ng"):
        print("SKIP: stress-ng not installed")
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_stress_ng_self_collected, test_grandchildren_counted_and_nothing_else,
                     test_repeat_budget_and_failure, test_with_daemon])
