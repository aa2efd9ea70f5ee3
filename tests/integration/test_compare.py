# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl compare: commands measured interleaved, compared with statistics.

As root (skip, 77, otherwise), like test_run: each run in its own cgroup,
energy from joulectl's own sources (the model on this VM, estimated), then
once with a running jouled. The workloads are bounded in CPU time (the
burner burns a given number of CPU milliseconds), not wall time, so that
the ratios hold on a busy shared host.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

NO_DB = "/nonexistent/jouled.db"


def burn(ms, name="burn"):
    return "%s %s 1 %d" % (jtest.BURNER, name, ms)


# The PIDs of the joulectl processes this test started: their cgroups are
# jouled-run-PID-N (other users of the machine may be running joulectl too).
OURS = set()


def compare(*args, db=NO_DB, rc=0):
    cmd = [jtest.JOULECTL, "--db", db, "compare"] + list(args)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    OURS.add(p.pid)
    try:
        out, err = p.communicate(timeout=240)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    check(r.returncode == rc, "%s: exit %d, wanted %d: %s" % (" ".join(cmd), r.returncode, rc, r.stderr))
    return r


def compare_json(*args, **kw):
    r = compare("--json", *args, **kw)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise jtest.Failure("compare --json printed no JSON: %r (stderr %r)" % (r.stdout[:300], r.stderr[-300:]))


def check_shape(out, n_commands):
    check(len(out["commands"]) == n_commands and len(out["comparisons"]) == n_commands - 1, "shape: %r" % out)
    for c in out["commands"]:
        for k in ("command", "runs", "energy_joules", "cpu_seconds", "wall_seconds", "co2e_grams", "estimated"):
            check(k in c, "command lacks %r: %r" % (k, c))
        for k in ("energy_joules", "cpu_seconds", "wall_seconds"):
            check(sorted(c[k]) == ["max", "mean", "min", "stddev"], "%s: %r" % (k, c[k]))
            check(c[k]["min"] <= c[k]["mean"] <= c[k]["max"], "%s min/mean/max: %r" % (k, c[k]))
        e = [x["energy_joules"] for x in c["each"]]
        check(len(e) == c["runs"] and abs(sum(e) / len(e) - c["energy_joules"]["mean"]) < 1e-9, "each: %r" % c)
    for k in out["comparisons"]:
        for f in ("baseline", "command", "energy_ratio", "ci95", "p_value", "significant"):
            check(f in k, "comparison lacks %r: %r" % (f, k))
        check(k["baseline"] == out["commands"][0]["command"], "baseline: %r" % k)


def test_double_is_significant(d):
    """150 ms against 300 ms of CPU: a ratio near 2, inside its interval, significant;
    --fail-if-worse 20 exits 3; --save keeps the result for --baseline."""
    saved = os.path.join(d, "saved.json")
    r = compare("--repeat", "6", "--json", "--fail-if-worse", "20", "--save", saved, burn(150), burn(300), rc=3)
    out = json.loads(r.stdout)
    check_shape(out, 2)
    c = out["comparisons"][0]
    print("150 ms vs 300 ms: ratio %.3f, ci95 %r, p %.3g" % (c["energy_ratio"], c["ci95"], c["p_value"]))
    check(out["commands"][0]["runs"] == 6 and out["commands"][1]["runs"] == 6, "runs: %r" % out)
    check(out["commands"][0]["estimated"] is True and out["energy_from"] == "self", "model: %r" % out)
    check(1.7 <= c["energy_ratio"] <= 2.3, "energy ratio %r, want about 2" % c["energy_ratio"])
    lo, hi = c["ci95"]
    check(lo <= 2 <= hi or abs(c["energy_ratio"] - 2) < 0.1, "ci95 %r far from 2" % c["ci95"])
    check(lo <= c["energy_ratio"] <= hi, "ci95 %r does not contain the ratio %r" % (c["ci95"], c["energy_ratio"]))
    check(c["significant"] is True and c["p_value"] < 0.05, "not significant: %r" % c)
    check("significantly" in r.stderr and "20%" in r.stderr, "--fail-if-worse message: %r" % r.stderr)
    check(json.load(open(saved)) == out, "--save wrote another result than --json printed")

    # Against the saved first command: 300 ms again, about 2 times, significant.
    out = compare_json("--repeat", "4", "--baseline", saved, burn(300))
    check_shape(out, 2)
    c = out["comparisons"][0]
    print("baseline 150 ms (saved) vs 300 ms: ratio %.3f, ci95 %r, p %.3g" % (c["energy_ratio"], c["ci95"],
                                                                          c["p_value"]))
    check(out["commands"][0]["runs"] == 6 and out["commands"][1]["runs"] == 4, "baseline runs: %r" % out)
    check(1.7 <= c["energy_ratio"] <= 2.3 and c["significant"] is True, "against the baseline: %r" % c)

    # The table says it like hyperfine.
    r = compare("--repeat", "3", burn(100, "a"), burn(200, "b"))
    check("used" in r.stdout and "times the energy of" in r.stdout and "95% CI" in r.stdout, "table: %r" % r.stdout)


def test_same_is_not_significant(d):
    """The same command twice: not significant, and --fail-if-worse 20 exits 0.

    At alpha 0.05 one comparison in twenty of equal commands is significant
    by chance: a significant first result is measured once more (both by
    chance: 1 in 400)."""
    for attempt in range(2):
        r = compare("--repeat", "6", "--json", "--fail-if-worse", "20", burn(150, "a"), burn(150, "b"))
        out = json.loads(r.stdout)
        check_shape(out, 2)
        c = out["comparisons"][0]
        print("150 ms vs 150 ms: ratio %.3f, ci95 %r, p %.3g" % (c["energy_ratio"], c["ci95"], c["p_value"]))
        check(0.8 <= c["energy_ratio"] <= 1.25, "ratio of equal commands %r" % c["energy_ratio"])
        if not c["significant"]:
            break
    check(c["significant"] is False and c["p_value"] >= 0.05, "equal commands significant twice: %r" % c)
    lo, hi = c["ci95"]
    check(lo <= 1 <= hi, "ci95 %r excludes 1" % c["ci95"])


def test_usage_and_failures(d):
    for args, word in ((["true"], "two commands"), (["--repeat", "1", "true", "true"], "--repeat"),
                       (["--fail-if-worse", "-3", "true", "true"], "--fail-if-worse"),
                       (["--baseline", os.path.join(d, "none.json"), "true"], "--baseline"),
                       (["--bogus", "true", "true"], "--bogus"), (["true", ""], "command")):
        r = compare(*args, rc=2)
        check(word in r.stderr and r.stderr.count("\n") == 1, "%r: %r" % (args, r.stderr))
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write('{"commands": []}')
    r = compare("--baseline", bad, "true", rc=2)
    check("--baseline" in r.stderr, "bad baseline: %r" % r.stderr)
    # A failing command stops the comparison (exit 1) unless --ignore-failure.
    r = compare("--repeat", "2", "true", "exit 3", rc=1)
    check("exit status 3" in r.stderr and "--ignore-failure" in r.stderr, "failure: %r" % r.stderr)
    out = compare_json("--repeat", "2", "--ignore-failure", "true", "exit 3")
    check([x["exit_status"] for x in out["commands"][1]["each"]] == [3, 3], "--ignore-failure: %r" % out)
    check(not our_cgroups(), "cgroups left behind: %r" % our_cgroups())


def test_with_daemon(d):
    with jtest.Daemon(d, ["--interval", "0.5", "--source", "model"]) as dm:
        dm.wait_intervals(2)
        out = compare_json("--repeat", "2", burn(100, "a"), burn(100, "b"), db=dm.db)
        dm.stop()
    check_shape(out, 2)
    check(out["energy_from"] == "jouled" and out["commands"][0]["estimated"] is True, "daemon not used: %r" % out)
    # The energy is the daemon's dynamic energy (above its idle estimate), which
    # a host that never idles can leave near 0: only its sign is checked here.
    check(all(c["energy_joules"]["min"] >= 0 for c in out["commands"]), "negative energy: %r" % out)
    check(all(0.08 <= c["cpu_seconds"]["mean"] <= 0.15 for c in out["commands"]), "CPU of 100 ms: %r" % out)


def our_cgroups():
    return [d for d in os.listdir(cgroup_root())
            if d.startswith("jouled-run-") and d.split("-")[2].isdigit() and int(d.split("-")[2]) in OURS]


def cgroup_root():
    for line in open("/proc/self/mountinfo"):
        if " - cgroup2 " in line:
            return line.split()[4]
    return "/sys/fs/cgroup"


def in_tempdir(f):
    def t():
        with jtest.TempDir() as d:
            f(d)
    t.__name__ = f.__name__
    return t


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([in_tempdir(t) for t in (test_double_is_significant, test_same_is_not_significant,
                                             test_usage_and_failures, test_with_daemon)])
