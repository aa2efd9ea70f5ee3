# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl run: the energy of one command's process tree.

As root (skip, 77, otherwise): the command runs in its own cgroup and, with
no daemon, joulectl opens the energy sources itself (the model on this VM,
marked estimated). Then once more with a running jouled feeding the database.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


# The PIDs of the joulectl processes this test started: their cgroups are
# jouled-run-PID-N (other users of the machine may be running joulectl too).
OURS = set()


def run(*args, db="/nonexistent/jouled.db", rc=0):
    cmd = [jtest.JOULECTL, "--db", db, "run"] + list(args)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    OURS.add(p.pid)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
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


def check_idle_view(out, method):
    """The second view: energy_with_idle_joules = energy_joules + the tree's
    share of the host's idle energy over the run, with the idle figure's
    method and band (the model states its own idle power: exact, band 0)."""
    idle = out["idle"]
    for k in ("method", "watts", "band_watts", "joules", "share_joules", "provisional"):
        check(k in idle, "run --json idle lacks %r: %r" % (k, idle))
    check(idle["method"] == method and idle["band_watts"] == 0.0 and idle["provisional"] is False,
          "idle method and band: %r" % idle)
    check(idle["watts"] > 0 and 0 < idle["joules"] <= idle["watts"] * out["wall_seconds"] * 1.05 + 0.05,
          "idle energy over the run: %r (wall %r)" % (idle, out["wall_seconds"]))
    check(0 < idle["share_joules"] <= idle["joules"] + 1e-9, "the tree's share of idle: %r" % idle)
    check(abs(out["energy_with_idle_joules"] - (out["energy_joules"] + idle["share_joules"])) < 1e-9,
          "energy_with_idle_joules != energy_joules + share: %r" % out)
    for e in out["each"]:
        check(e["energy_with_idle_joules"] >= e["energy_joules"], "each run with idle: %r" % e)


# Runs a command and writes the CPU time its process tree was charged
# (RUSAGE_CHILDREN: the kernel's own account) to a file.
RUSAGE_WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[2:]); "
                  "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
                  "open(sys.argv[1], 'w').write(repr(r.ru_utime + r.ru_stime))")


def check_cpu_against_kernel(out, truth_file, what):
    """joulectl's CPU time against the kernel's for the same tree: on a busy
    host stress-ng -t 2 gets less than 2 CPU-seconds, and the measurement
    must say how much it really got (the wrapper's own Python start-up,
    counted by the cgroup but not by RUSAGE_CHILDREN, is the slack)."""
    truth = float(open(truth_file).read())
    check(truth > 0.2, "%s: stress-ng got only %.3f CPU-seconds" % (what, truth))
    check(truth - 0.02 <= out["cpu_seconds"] <= truth + 0.4,
          "%s: joulectl says %r CPU-seconds, the kernel %.3f" % (what, out["cpu_seconds"], truth))


def test_stress_ng_self_collected():
    with jtest.TempDir() as d:
        truth = os.path.join(d, "cpu")
        out = run_json("--", sys.executable, "-c", RUSAGE_WRAPPER, truth, "stress-ng", "--cpu", "1", "-t", "2", "--quiet")
        check_cpu_against_kernel(out, truth, "stress-ng --cpu 1 -t 2")
    check_fields(out)
    check(out["command"][-6:] == ["stress-ng", "--cpu", "1", "-t", "2", "--quiet"], "command: %r" % out["command"])
    check(out["exit_status"] == 0 and out["runs"] == 1, "status/runs: %r" % out)
    check(1.9 <= out["wall_seconds"] <= 4, "wall %r" % out["wall_seconds"])
    check(out["energy_joules"] > 0, "energy not positive: %r" % out["energy_joules"])
    check(out["estimated"] is True and any(s["source"] == "model" for s in out["sources"]),
          "model source not reported as estimated: %r" % out["sources"])
    check(out["energy_from"] == "self" and out["process_tree"] == "cgroup", "collection: %r" % out)
    check_idle_view(out, "source")
    # The table says the same.
    r = run("--", "stress-ng", "--cpu", "1", "-t", "1", "--quiet")
    check(re.search(r"energy with its CPU-time share of idle \(idle [0-9.]+ \u00b1 0\.00 W, source\)", r.stderr),
          "run's text lacks the with-idle line:\n" + r.stderr)


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
    # The command's own exit status is joulectl's (CI sees the failure).
    r = run("--", "sh", "-c", "exit 7", rc=7)
    check("exit status 7" in r.stderr, "failing command not reported: %r" % r.stderr)
    out = run_json("--", "sh", "-c", "exit 7", rc=7)
    check(out["exit_status"] == 7, "exit_status: %r" % out)
    r = run("--", "/nonexistent/command", rc=1)
    err = r.stderr.strip()
    check(err.count("\n") == 0 and "/nonexistent/command" in err, "missing command: %r" % r.stderr)
    r = run("--", "true")
    check("Energy of 'true'" in r.stderr and "gCO2e" in r.stderr and "estimated" in r.stderr,
          "human output: %r" % r.stderr)
    check(not our_cgroups(), "cgroups left behind: %r" % our_cgroups())


def test_benchmark_flags():
    # --budget with units: accepted, compared in joules.
    for b in ("5J", "2kJ", "1Wh", "0.5 kWh", "250mJ", "5"):
        run("--budget", b, "--", "true")
    out = run_json("--budget", "1mJ", "--", jtest.BURNER, "b", "1", "100", rc=3)
    check(out["budget_joules"] == 0.001 and out["over_budget"] is True, "--budget 1mJ: %r" % out)
    # --warmup: not measured; per-run lines and min/max in the table.
    with jtest.TempDir() as d:
        marker = os.path.join(d, "runs")
        r = run("--warmup", "2", "--repeat", "3", "--", "sh", "-c", "echo x >> %s; %s b 1 50 >/dev/null"
                % (marker, jtest.BURNER))
        check(open(marker).read().count("x") == 5, "2 warmup + 3 runs did not run 5 times")
    check("3 runs after 2 warmup" in r.stderr and "min … max" in r.stderr, "table: %r" % r.stderr)
    lines = [l.split() for l in r.stderr.splitlines() if l.split() and l.split()[0] in ("1", "2", "3")]
    check([l[0] for l in lines] == ["1", "2", "3"], "per-run lines: %r" % r.stderr)
    # A failure stops the runs and is passed through; --ignore-failure measures
    # every run and exits 0.
    out = run_json("--repeat", "3", "--", "sh", "-c", "exit 5", rc=5)
    check(out["runs"] == 1 and out["exit_status"] == 5, "failure stops the runs: %r" % out)
    out = run_json("--repeat", "3", "--ignore-failure", "--", "sh", "-c", "exit 5")
    check(out["runs"] == 3 and all(x["exit_status"] == 5 for x in out["each"]), "--ignore-failure: %r" % out)
    r = run("--", "sh", "-c", "kill -TERM $$", rc=128 + 15)
    # Leftover processes are reported (count, names) before they are stopped.
    out = run_json("--", "sh", "-c", "sleep 30 & sleep 30 & exit 0")
    check(out["each"][0]["leftover_processes"] == 2, "leftovers: %r" % out)
    # Named by its comm: sleep once it has exec'd (a loaded host may not have
    # got there yet: still the forked sh).
    r = run("--", "sh", "-c", "sleep 30 & sleep 0.3; exit 0")
    check("left 1 process running (sleep)" in r.stderr or "left 1 process running (sh)" in r.stderr,
          "leftover not reported: %r" % r.stderr)
    check(not our_cgroups(), "cgroups left behind: %r" % our_cgroups())


def test_starved_warning():
    """A CPU-bound command sharing every CPU with more CPU-bound work than CPUs
    waits for a CPU much of its wall time: the run is marked starved and
    warned about. Whether the hogs really slow it depends on how the host's
    scheduler groups them (cgroup fairness): a run that got more than half of
    its wall time as CPU is not held to the warning, one that got less must
    carry it; if no try starves it, that is said."""
    n = 3 * (os.cpu_count() or 1)   # several times more work than CPUs, whatever else runs
    for attempt in range(3):
        # In a session of their own, so that the whole group is stopped after.
        hogs = subprocess.Popen([jtest.BURNER, "hog", str(n), "4000", str(n)], stdout=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(0.3)
            out = run_json("--", jtest.BURNER, "x", "1", "600")
        finally:
            os.killpg(hogs.pid, signal.SIGKILL)
            hogs.wait()
        each = out["each"][0]
        share = each["cpu_seconds"] / max(each["wall_seconds"], 1e-9)
        if each["starved"]:
            check(any("starved of CPU" in w for w in out["warnings"]), "no warning: %r" % out["warnings"])
            return
        check(share > 0.5, "got %.0f%% of its wall time as CPU, yet not marked starved: %r" % (share * 100, out))
        print("try %d: the command got %.0f%% of its wall time as CPU (cpu.pressure wait %.3f s): not starved"
              % (attempt + 1, share * 100, each.get("cpu_wait_seconds", 0)))
    print("note: the hogs never starved the command on this host; the warning was not exercised")


def test_interrupt():
    """SIGINT during run 2 of 5: run 1 is reported, run 2 is not averaged in, exit 130."""
    with jtest.TempDir() as d:
        marker = os.path.join(d, "runs")
        for json_out in (False, True):
            if os.path.exists(marker):
                os.unlink(marker)
            cmd = [jtest.JOULECTL, "--db", "/nonexistent/jouled.db", "run", "--repeat", "5"] + \
                (["--json"] if json_out else []) + ["--", "sh", "-c", "echo x >> %s; sleep 3" % marker]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            OURS.add(p.pid)
            try:
                jtest.wait_until(lambda: os.path.exists(marker) and open(marker).read().count("x") == 2, 30)
                time.sleep(0.3)
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            check(p.returncode == 130, "exit %r after SIGINT, wanted 130: %r" % (p.returncode, err))
            check(open(marker).read().count("x") == 2, "a run started after SIGINT")
            if json_out:
                o = json.loads(out)
                check(o["runs"] == 1 and len(o["each"]) == 1 and o["interrupted"] is True, "JSON: %r" % o)
                check(2.5 <= o["wall_seconds"] <= 10, "run 1 is the complete one: %r" % o)
            else:
                check("(1 run," in err and "Interrupted" in err, "text after SIGINT: %r" % err)
        check(not our_cgroups(), "cgroups left behind: %r" % our_cgroups())


def our_cgroups():
    return [d for d in os.listdir(cgroup_root())
            if d.startswith("jouled-run-") and d.split("-")[2].isdigit() and int(d.split("-")[2]) in OURS]


def cgroup_root():
    for line in open("/proc/self/mountinfo"):
        if " - cgroup2 " in line:
            return line.split()[4]
    return "/sys/fs/cgroup"


def test_with_daemon():
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ["--interval", "0.5", "--source", "model"]) as dm:
            dm.wait_intervals(2)
            truth = os.path.join(d, "cpu")
            out = run_json("--", sys.executable, "-c", RUSAGE_WRAPPER, truth, "stress-ng", "--cpu", "1", "-t", "2",
                           "--quiet", db=dm.db)
            dm.stop()
            check_cpu_against_kernel(out, truth, "with daemon")
        check_fields(out)
        check(out["energy_from"] == "jouled", "daemon not used: %r" % out)
        check(out["energy_joules"] >= 0, "with daemon: %r" % out)
        check(out["estimated"] is True, "model data not estimated: %r" % out)
        check_idle_view(out, "source")


if __name__ == "__main__":
    jtest.require_root()
    if not shutil.which("stress-ng"):
        print("SKIP: stress-ng not installed")
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_stress_ng_self_collected, test_grandchildren_counted_and_nothing_else,
                     test_repeat_budget_and_failure, test_benchmark_flags, test_starved_warning, test_interrupt, test_with_daemon])
