#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Accuracy with the idle power estimated, never configured.

The simulated meter is test_accuracy's: a powercap fixture advanced every
~20 ms from the kernel's own accounting (/proc/stat busy time),

    E += P_IDLE × Δt + K × Δbusy_cpu_seconds,

so a workload's true dynamic energy is K × its own CPU time (rusage), whatever
else runs on the host. jouled is never told P_IDLE. Scenarios:

  (a) phases: idle, one CPU, all CPUs, a storm of short processes;
  (d) then a restart on the same database: the persisted estimate is used
      (method "persisted") and its band holds the truth;
  (b) a host busy on one CPU from before jouled starts to the end;
  (c) a host saturated on all CPUs from before start, on the model source:
      `joulectl run` with the daemon just started gives the same joules per
      CPU-second (within 3%) as without the daemon;
  (e) an exec'd process and a process that moves between cgroups: CPU
      under the new comm, exe and unit from the next interval on.

Every figure is printed. Targets: dynamic energy per workload within 2% of
the truth in (a) and (b); the idle estimate within 5% once an idle phase has
been seen, and inside its stated band in (b).

The host is shared (a 2-CPU VM where other tests run): others' load moves the
utilisation points but not the truth. When others keep the host saturated for
a whole scenario, the data cannot identify idle power at all (no estimator
can): the estimate is then a provisional prior, and the check is that its
band holds the truth; the 2% target is printed as not applicable (set
JOULED_ACCURACY_STRICT=1 to fail instead).

A one-line summary of the run is written to JOULED_BUILD_ROOT/accuracy-summary.txt;
with JOULED_ACCURACY_README=PATH it also replaces README's accuracy line (between
its "<!-- accuracy" markers) with it."""
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check, Failure  # noqa: E402
from test_accuracy import (P_IDLE, K, RANGE_UJ, TAG, wname, read_stat, ModelDriver,  # noqa: E402
                           check_conservation, comm_energy, interval_ratios, ratio_summary)

jtest.require_root()

STRICT = bool(os.environ.get("JOULED_ACCURACY_STRICT"))
INTERVAL = "0.5"
SUMMARY = {}


def not_applicable(msg):
    print("note: " + msg)
    if STRICT:
        raise Failure(msg)


def expect_fail(cond, msg, why):
    """A check that cannot pass yet, for a stated reason: printed as XFAIL
    (or XPASS, when it passes: then the mark should go), never faked."""
    if cond:
        print("XPASS (remove the expected-failure mark: %s): %s" % (why, msg))
    else:
        print("XFAIL (%s): %s" % (why, msg))


def burner(comm, n, ms, parallel=1):
    """CPU ns the burner's children used (rusage); a generous timeout: the
    shared host may be loaded many times over."""
    r = subprocess.run([jtest.BURNER, comm, str(n), str(ms), str(parallel)], capture_output=True, text=True,
                       timeout=240)
    check(r.returncode == 0, "burner %s failed: %s" % (comm, r.stderr))
    return json.loads(r.stdout)["children_cpu_ns"]


def cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


def fixture(d):
    pc = os.path.join(d, "powercap")
    fx = jtest.PowercapFixture(pc, [{"path": "intel-rapl:0", "name": "package-0",
                                     "max_energy_range_uj": RANGE_UJ, "energy_uj": 1000}])
    return pc, fx


def host_load(seconds):
    """Busy CPUs on the host over the next `seconds`."""
    b0, t0 = read_stat()[0], time.monotonic()
    time.sleep(seconds)
    return (read_stat()[0] - b0) / 1e9 / (time.monotonic() - t0)


def idle_rows(con):
    return con.execute("""SELECT x.interval_id, x.idle_w, x.idle_method, i.start_ns FROM interval_domains x
                          JOIN domains d ON d.id = x.domain_id JOIN intervals i ON i.id = x.interval_id
                          WHERE d.name = 'package-0' AND i.level = 0
                          ORDER BY x.interval_id""").fetchall()


def idle_state(con):
    """The daemon's last idle estimate: (W, band W, method)."""
    row = con.execute("SELECT value FROM daemon_state WHERE key = 'idle_estimate.package-0'").fetchone()
    check(row is not None, "no idle_estimate.package-0 in daemon_state")
    w, band, method = row[0].split()
    return float(w), float(band), method


def unattributed_share(con):
    (meas, idle, unatt) = con.execute("""SELECT SUM(measured_j), SUM(idle_j), SUM(unattributed_j)
                                         FROM interval_domains x JOIN intervals i ON i.id = x.interval_id
                                         WHERE i.level = 0""").fetchone()
    return unatt / max(meas - idle, 1e-9)


def workload_report(con, truth, tol, label, checked):
    """Print each workload's figures; check within tol when `checked`.
    Returns the relative errors."""
    errs = []
    for comm, cpu_ns in truth.items():
        want = K * cpu_ns / 1e9
        got = comm_energy(con, comm, "package-0")
        (tracked,) = con.execute("""SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s JOIN processes p
                                    ON p.id = s.process_id JOIN intervals i ON i.id = s.interval_id
                                    WHERE p.comm = ? AND i.level = 0""", (comm,)).fetchone()
        err = (got - want) / want
        errs.append(err)
        print("(%s) %-11s rusage %.3f CPU-s, tracked %.3f CPU-s, truth %.2f J, dynamic %.2f J (%+.2f%%)"
              % (label, comm, cpu_ns / 1e9, tracked / 1e9, want, got, err * 100))
        if checked:
            check(abs(err) <= tol, "(%s) %s: dynamic energy %.2f J, truth %.2f J (%+.2f%%, limit %g%%)"
                  % (label, comm, got, want, err * 100, tol * 100))
    return errs


def phases(dm):
    truth = {}
    truth[wname("ea1")] = burner(wname("ea1"), 1, 5000)         # one CPU
    truth[wname("eaA")] = burner(wname("eaA"), 2, 3000, 2)      # all (both) CPUs
    truth[wname("eaS")] = burner(wname("eaS"), 600, 4, 2)       # a storm of short processes
    time.sleep(1.5)
    jtest.wait_until(lambda: jtest.comm_cpu_ns(dm.db, wname("eaS")) >= 0.995 * truth[wname("eaS")], 5.0)
    return truth


def test_a_phases_then_d_restart():
    """(a) idle / one CPU / all CPUs / storm, idle estimated; (d) a restart
    on the same database uses the persisted estimate."""
    with jtest.TempDir() as d:
        pc, fx = fixture(d)
        args = ["--interval", INTERVAL, "--source", "rapl", "--powercap-root", pc]
        drv = ModelDriver(fx, {"intel-rapl:0": None})
        drv.start()
        try:
            with jtest.Daemon(d, args) as dm:
                dm.wait_intervals(1)
                background = host_load(8)                          # phase 1: idle (as far as others allow)
                truth = phases(dm)
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
            with sqlite3.connect(dm.db) as c0:
                state1 = idle_state(c0)
            restart_ns = time.time_ns()
            with sqlite3.connect(dm.db) as c0:
                (n0,) = c0.execute("SELECT COUNT(*) FROM intervals").fetchone()
            with jtest.Daemon(d, args) as dm2:                     # (d): the same database
                dm2.wait_intervals(n0 + 4)
                check(dm2.stop() == 0, "jouled failed after restart: %s" % dm2.read_log())
        finally:
            drv.stop()

        con = sqlite3.connect(dm.db)
        try:
            check_conservation(con)
            rows = idle_rows(con)
            first = [r for r in rows if r[3] < restart_ns]
            after = [r for r in rows if r[3] >= restart_ns]
            check(first and after, "intervals before/after the restart: %d/%d" % (len(first), len(after)))
            w_a, method_a = first[-1][1], first[-1][2]
            methods = sorted(set(r[2] for r in first))
            idle_seen = background <= 0.3
            print("(a) background during the idle phase: %.2f CPUs (%s)" %
                  (background, "idle phase seen" if idle_seen else "NOT idle: others' load"))
            print("(a) idle estimate at the end of run 1: %.3f W (%s), truth %.3f W (%+.2f%%); methods seen %s"
                  % (w_a, method_a, P_IDLE, (w_a - P_IDLE) / P_IDLE * 100, methods))
            ratios = interval_ratios(con, drv.trace)
            print("(a) per-interval CPU / busy: %s" % ratio_summary(ratios))
            SUMMARY["ratio_median"] = ratios[len(ratios) // 2] if ratios else float("nan")
            SUMMARY["ratio_p5_p95"] = (ratios[int(0.05 * len(ratios))], ratios[int(0.95 * len(ratios))]) \
                if ratios else (float("nan"),) * 2
            print("(a) unattributed share of dynamic energy (whole run, all processes): %.2f%%"
                  % (unattributed_share(con) * 100))
            identified = method_a in ("measured-idle", "regression")
            if not identified:
                not_applicable("(a) the host never idled (%.2f CPUs busy in the idle phase): idle power %s, "
                               "dynamic energy printed but not held to 2%%" % (background, method_a))
            errs = workload_report(con, truth, 0.02, "a", identified)
            SUMMARY["a"] = (errs, identified, "%s %.2f W" % (method_a, w_a), background)
            if idle_seen:
                check(method_a in ("measured-idle", "regression"), "(a) idle method %s after an idle phase" % method_a)
                check(abs(w_a - P_IDLE) <= 0.05 * P_IDLE, "(a) idle estimate %.3f W, truth %.3f W" % (w_a, P_IDLE))
                SUMMARY["a_idle_err"] = (w_a - P_IDLE) / P_IDLE

            # (d) the restart.
            print("(d) first intervals after the restart: %s" %
                  ", ".join("%.3f W %s" % (r[1], r[2]) for r in after[:4]))
            w1, band1, m1 = state1
            print("(d) run 1 left %.3f ± %.3f W (%s) in daemon_state, truth %.3f W" % (w1, band1, m1, P_IDLE))
            if m1 in ("measured-idle", "regression"):
                w_p = after[0][1]
                check(after[0][2] == "persisted", "(d) first interval after restart: method %s, persisted expected"
                      % after[0][2])
                check(abs(w_p - w1) <= 1e-3 * max(w1, 1), "(d) persisted %.3f W, run 1 left %.3f W" % (w_p, w1))
                check(abs(w_p - P_IDLE) <= band1 + 1e-9,
                      "(d) persisted %.3f ± %.3f W does not hold the truth %.3f W" % (w_p, band1, P_IDLE))
                SUMMARY["d"] = "first intervals persisted, %.2f ± %.2f W" % (w_p, band1)
            else:
                SUMMARY["d"] = "n/a (nothing persisted: run 1's idle was %s)" % m1
                not_applicable("(d) run 1 identified no idle power (%s): nothing was persisted to restart from" % m1)
        finally:
            con.close()


def test_b_busy_one_cpu():
    """(b) One CPU busy from before jouled starts to the end; a workload on
    the other CPU in the middle. The estimate is inside its band."""
    with jtest.TempDir() as d:
        pc, fx = fixture(d)
        drv = ModelDriver(fx, {"intel-rapl:0": None})
        drv.start()
        bg = subprocess.Popen([jtest.BURNER, wname("ebg"), "1", "60000"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(2)
            with jtest.Daemon(d, ["--interval", INTERVAL, "--source", "rapl", "--powercap-root", pc]) as dm:
                dm.wait_intervals(1)
                load0 = host_load(6)
                truth = {wname("ebW"): burner(wname("ebW"), 1, 5000)}
                load1 = host_load(6)
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        finally:
            bg.kill()
            bg.wait()
            drv.stop()

        con = sqlite3.connect(dm.db)
        try:
            check_conservation(con)
            w, band, method = idle_state(con)
            print("(b) host load around the workload: %.2f and %.2f CPUs" % (load0, load1))
            print("(b) idle estimate %.3f ± %.3f W (%s), truth %.3f W (%+.2f%%)"
                  % (w, band, method, P_IDLE, (w - P_IDLE) / P_IDLE * 100))
            print("(b) per-interval CPU / busy: %s" % ratio_summary(interval_ratios(con, drv.trace)))
            print("(b) unattributed share of dynamic energy: %.2f%%" % (unattributed_share(con) * 100))
            check(abs(w - P_IDLE) <= band + 1e-9, "(b) idle estimate %.3f ± %.3f W (%s) does not hold the truth %.3f W"
                  % (w, band, method, P_IDLE))
            identified = method in ("measured-idle", "regression")
            if not identified:
                not_applicable("(b) the data did not identify idle power (%s, host at %.2f/%.2f CPUs): "
                               "dynamic energy printed but not held to 2%%" % (method, load0, load1))
            errs = workload_report(con, truth, 0.02, "b", identified)
            SUMMARY["b"] = (errs, identified, "%s %.2f ± %.2f W" % (method, w, band), min(load0, load1))
        finally:
            con.close()


def run_json(db, *cmd):
    r = subprocess.run([jtest.JOULECTL, "--db", db, "run", "--json", "--"] + list(cmd),
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "joulectl run failed: %s" % r.stderr)
    return json.loads(r.stdout)


def test_c_model_saturated():
    """(c) All CPUs busy from before start, model source: joulectl run gives
    the same joules per CPU-second with the daemon just started as alone."""
    n = os.cpu_count()
    with jtest.TempDir() as d:
        sat = subprocess.Popen([jtest.BURNER, wname("ecS"), str(n), "120000", str(n)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(2)
            alone = run_json(os.path.join(d, "none.db"), jtest.BURNER, wname("ecW"), "1", "2000")
            with jtest.Daemon(d, ["--interval", INTERVAL, "--source", "model"]) as dm:
                dm.wait_intervals(1)
                withd = run_json(dm.db, jtest.BURNER, wname("ecD"), "1", "2000")
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        finally:
            sat.kill()
            sat.wait()
        con = sqlite3.connect(dm.db)
        try:
            rows = con.execute("""SELECT DISTINCT x.idle_method, x.idle_w FROM interval_domains x
                                  JOIN intervals i ON i.id = x.interval_id WHERE i.level = 0""").fetchall()
        finally:
            con.close()
        a = alone["energy_joules"] / alone["cpu_seconds"]
        b = withd["energy_joules"] / withd["cpu_seconds"]
        err = (b - a) / a
        print("(c) saturated host, model source: alone %.3f J / %.3f CPU-s = %.3f J/CPU-s (from %s); "
              "with the daemon just started %.3f J / %.3f CPU-s = %.3f J/CPU-s (from %s): %+.2f%%; daemon idle %s"
              % (alone["energy_joules"], alone["cpu_seconds"], a, alone.get("energy_from"),
                 withd["energy_joules"], withd["cpu_seconds"], b, withd.get("energy_from"), err * 100, rows))
        check(withd.get("energy_from") == "jouled", "joulectl run did not use the daemon: %r" % withd.get("energy_from"))
        check(abs(err) <= 0.03, "(c) %.3f J/CPU-s with the daemon, %.3f alone (%+.2f%%, limit 3%%)" % (b, a, err * 100))
        SUMMARY["c"] = err


PY_BURN = ("import os, sys, time\n"
           "def burn(s):\n"
           "    end = time.thread_time() + s\n"
           "    while time.thread_time() < end:\n"
           "        pass\n")


def test_e_exec_and_cgroup_move():
    """(e) After exec, CPU under the new comm and exe; after a cgroup move,
    under the new unit, from the next interval on."""
    py = os.path.realpath(sys.executable)
    with jtest.TempDir() as d:
        a, b, c = (os.path.join(d, wname(x)) for x in ("exA", "exB", "cgM"))
        # exA and cgM are python; exB is another program (a C burner): the
        # exe label is the resolved file (/proc/PID/exe), and it must change
        # with the exec. The symlink's name sets the comm.
        twohot = os.path.realpath(os.environ.get("TWOHOT", "build/tests/twohot"))
        for link, target in ((a, py), (b, twohot), (c, py)):
            os.symlink(target, link)
        root = cgroup2_root()
        check(root is not None, "no cgroup2 mount")
        cg = {x: os.path.join(root, "jacc-%s-%s" % (x, TAG)) for x in ("A", "B")}
        for p in cg.values():
            os.mkdir(p)
        try:
            with jtest.Daemon(d, ["--interval", INTERVAL, "--source", "model"]) as dm:
                dm.wait_intervals(1)
                # The exec: 1.0 CPU-s as exA (python), then exec'd as exB (twohot) for 1.5 s.
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                r = subprocess.run([a, "-c", PY_BURN + "burn(1.0)\nsys.stdout.write('%%d\\n' %% time.process_time_ns())\n"
                                    "sys.stdout.flush()\nos.execv(%r, [%r, '1500'])\n" % (b, b)],
                                   capture_output=True, text=True, timeout=60)
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                check(r.returncode == 0, "exec workload failed: %s" % r.stderr)
                before = int(r.stdout.split()[0])
                total = int(((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * 1e9)
                # The move: 1.0 CPU-s in cgroup A, then 1.5 CPU-s in cgroup B.
                mv = ("def move(g):\n"
                      "    with open(g + '/cgroup.procs', 'w') as f:\n"
                      "        f.write(str(os.getpid()))\n"
                      "move(%r)\nburn(1.0)\nt = time.process_time_ns()\nmove(%r)\nburn(1.5)\n"
                      "print(t, time.process_time_ns())\n" % (cg["A"], cg["B"]))
                r = subprocess.run([c, "-c", PY_BURN + mv], capture_output=True, text=True, timeout=60)
                check(r.returncode == 0, "cgroup workload failed: %s" % r.stderr)
                in_a, cg_total = (int(x) for x in r.stdout.split())
                time.sleep(1.5)
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        finally:
            for p in cg.values():
                jtest.wait_until(lambda: not _rmdir(p), 5.0)

        con = sqlite3.connect(dm.db)
        try:
            def cpu_by(col, val):
                # The labels each interval's row had (schema 5: label sets).
                (ns,) = con.execute("SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s JOIN labels l "
                                    "ON l.id = s.labels_id JOIN intervals i ON i.id = s.interval_id "
                                    "WHERE l.%s = ? AND i.level = 0" % col, (val,)).fetchone()
                return ns / 1e9
            slack = float(INTERVAL)   # the interval of the exec or move may go either way
            got_a, got_b = cpu_by("comm", wname("exA")), cpu_by("comm", wname("exB"))
            (xb_ns,) = con.execute("SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s JOIN labels l "
                                   "ON l.id = s.labels_id JOIN intervals i ON i.id = s.interval_id "
                                   "WHERE l.exe = ? AND l.comm = ? AND i.level = 0", (twohot, wname("exB"))).fetchone()
            got_xb = xb_ns / 1e9
            print("(e) exec: truth %.3f CPU-s as %s then %.3f as %s; stored %.3f and %.3f (exe %s: %.3f)"
                  % (before / 1e9, wname("exA"), (total - before) / 1e9, wname("exB"), got_a, got_b, twohot, got_xb))
            check(got_b >= (total - before) / 1e9 - slack and got_a <= before / 1e9 + slack,
                  "after exec, CPU under the new comm (%.3f of %.3f CPU-s)" % (got_b, (total - before) / 1e9))
            check(got_xb >= (total - before) / 1e9 - slack,
                  "after exec, CPU under the new exe %s (%.3f of %.3f CPU-s)" % (twohot, got_xb, (total - before) / 1e9))
            unit_a, unit_b = os.path.basename(cg["A"]), os.path.basename(cg["B"])
            ga, gb = cpu_by("unit", unit_a), cpu_by("unit", unit_b)
            print("(e) cgroup move: truth %.3f CPU-s in %s then %.3f in %s; stored %.3f and %.3f"
                  % (in_a / 1e9, unit_a, (cg_total - in_a) / 1e9, unit_b, ga, gb))
            check(gb >= (cg_total - in_a) / 1e9 - slack and ga <= in_a / 1e9 + slack,
                  "after a cgroup move, CPU under the new unit (%.3f of %.3f CPU-s)" % (gb, (cg_total - in_a) / 1e9))
        finally:
            con.close()


def _rmdir(p):
    try:
        os.rmdir(p)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def write_summary():
    def part(key, what):
        if key not in SUMMARY:
            return "%s: not run" % what
        errs, identified, idle, load = SUMMARY[key]
        rng = "%+.2f%%" % (errs[0] * 100) if len(errs) == 1 else \
            "%+.2f to %+.2f%%" % (min(errs) * 100, max(errs) * 100)
        return "%s: workloads' dynamic energy %s of the truth (idle %s, truth %.2f W; %s)" % (
            what, rng, idle, P_IDLE, "target 2%" if identified else
            "the data did not identify idle power, the host at %.2f CPUs or more in its quietest "
            "phase: 2%% target n/a" % load)
    line = ("%s, test_accuracy_estimated, simulated meter, idle never configured. %s. %s. "
            "Idle estimate after an idle phase: %s. Restart: %s. Model source on a saturated host, "
            "daemon just started: %s joules per CPU-second against joulectl run alone. "
            "Per-interval CPU / busy: median %.3f (p5 %.3f, p95 %.3f)."
            % (time.strftime("%Y-%m-%d", time.gmtime()),
               part("a", "Idle/one-CPU/all-CPU/storm phases"), part("b", "Host busy from before start"),
               "%+.2f%%" % (SUMMARY["a_idle_err"] * 100) if "a_idle_err" in SUMMARY else "n/a (no idle phase)",
               SUMMARY.get("d", "not run"), "%+.2f%%" % (SUMMARY["c"] * 100) if "c" in SUMMARY else "not run",
               SUMMARY.get("ratio_median", float("nan")), *SUMMARY.get("ratio_p5_p95", (float("nan"),) * 2)))
    print("summary: " + line)
    root = os.environ.get("JOULED_BUILD_ROOT")
    if root:
        with open(os.path.join(root, "accuracy-summary.txt"), "w") as f:
            f.write(line + "\n")
    readme = os.environ.get("JOULED_ACCURACY_README")
    if readme:
        # README's accuracy line is this line, between its markers.
        import re
        with open(readme) as f:
            text = f.read()
        new, n = re.subn(r"(<!-- accuracy:[^\n]*-->\n)(.*?)(\n *<!-- /accuracy -->)",
                         lambda mo: mo.group(1) + "  " + line + mo.group(3), text, flags=re.S)
        if n == 1:
            with open(readme, "w") as f:
                f.write(new)


if __name__ == "__main__":
    import atexit
    atexit.register(write_summary)
    tests = [test_a_phases_then_d_restart, test_b_busy_one_cpu, test_c_model_saturated,
             test_e_exec_and_cgroup_move]
    # Arguments: run only the tests whose names contain one of them.
    jtest.run_tests([t for t in tests if len(sys.argv) < 2 or any(a in t.__name__ for a in sys.argv[1:])])
