#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Accuracy of the attribution against a known model of the real load.

A powercap fixture is driven by a model whose truth the test knows: every
~20 ms the test reads the kernel's own accounting (/proc/stat busy time) and
advances the counter by

    E += P_IDLE × Δt + K × Δbusy_cpu_seconds

while real workloads run in phases (idle, one core busy, all cores busy, a
storm of short processes). jouled does not know P_IDLE or K: it must estimate
the idle power itself (regression), and attribute to each workload the
dynamic energy K × its own CPU time (measured by rusage).

Done when: each workload's dynamic energy is within 3% of K × its CPU time,
the idle power estimate within 5% of P_IDLE, and measured = idle + attributed
+ unattributed in every interval (and the per-process rows add up to
attributed)."""
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest
from jtest import check, Failure

jtest.require_root()

P_IDLE = 6.0    # W
K = 15.0        # J per busy CPU-second
RANGE_UJ = 262143328850
# Workload names unique to this run: the daemon sees every process on the
# host, and a concurrent run of this same test must not be counted as ours.
TAG = "%05x" % (os.getpid() & 0xfffff)


def wname(prefix):
    return "%s.%s" % (prefix, TAG)   # at most 15 characters (comm)


def read_stat(path="/proc/stat"):
    """Busy ns of the "cpu" line and of each "cpuN" line, as jouled reads them."""
    hz = os.sysconf("SC_CLK_TCK")
    total, per_cpu = 0, {}
    with open(path) as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            parts = line.split()
            v = [int(x) for x in parts[1:]]
            busy = (v[0] + v[1] + v[2] + v[5] + v[6]) * 1_000_000_000 // hz
            if parts[0] == "cpu":
                total = busy
            else:
                per_cpu[int(parts[0][3:])] = busy
    return total, per_cpu


class ModelDriver:
    """Advances fixture zones from /proc/stat: zone -> CPUs whose busy time it sees."""

    def __init__(self, fx, zones, period=0.02):
        self.fx, self.zones, self.period = fx, zones, period
        self.stop_ev = threading.Event()
        self.truth_dyn_uj = {z: 0 for z in zones}
        self.trace = []   # (CLOCK_REALTIME ns, host busy ns) at each step: interval_ratios()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def busy_of(self, cpus):
        total, per_cpu = read_stat()
        return total if cpus is None else sum(per_cpu.get(c, 0) for c in cpus)

    def loop(self):
        # The simulated meter must not lag the kernel's accounting because
        # the shared host is loaded (a real meter is never starved): this
        # thread runs at the highest nice priority.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -20)
        except OSError:
            pass
        last_t = time.monotonic()
        last = {z: self.busy_of(c) for z, c in self.zones.items()}
        while not self.stop_ev.is_set():
            time.sleep(self.period)
            now = time.monotonic()
            total, per_cpu = read_stat()
            self.trace.append((time.time_ns(), total))
            for z, cpus in self.zones.items():
                b = total if cpus is None else sum(per_cpu.get(c, 0) for c in cpus)
                dyn = K * (b - last[z]) / 1e9
                self.fx.advance(z, int((P_IDLE * (now - last_t) + dyn) * 1e6))
                self.truth_dyn_uj[z] += dyn * 1e6
                last[z] = b
            last_t = now

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join()


def busy_at(trace, t_ns):
    """Host busy ns at realtime t_ns, interpolated in the driver's trace."""
    import bisect
    i = bisect.bisect_left(trace, (t_ns, -1))
    if i <= 0 or i >= len(trace):
        return None
    (t0, b0), (t1, b1) = trace[i - 1], trace[i]
    return b0 + (b1 - b0) * (t_ns - t0) / max(t1 - t0, 1)


def interval_ratios(con, trace, skip_first=1):
    """Per interval, Σ process CPU over the host's busy time in the same
    stretch of time (busy interpolated from the driver's /proc/stat trace
    at the interval's boundaries); intervals shorter than 0.1 s or with less
    than 0.05 s of busy time are left out (the ratio means nothing there).
    Returns the sorted ratios."""
    rows = con.execute("""SELECT i.start_ns, i.end_ns, COALESCE(SUM(s.cpu_ns), 0) FROM intervals i
                          LEFT JOIN samples s ON s.interval_id = i.id WHERE i.level = 0
                          GROUP BY i.id ORDER BY i.id""").fetchall()[skip_first:]
    out = []
    for start, end, cpu in rows:
        b0, b1 = busy_at(trace, start), busy_at(trace, end)
        if b0 is None or b1 is None or end - start < 100_000_000 or b1 - b0 < 50_000_000:
            continue
        out.append(cpu / (b1 - b0))
    return sorted(out)


def ratio_summary(r):
    """"n=…, min/p5/median/p95/max" of interval_ratios()."""
    if not r:
        return "no interval"
    q = lambda f: r[min(len(r) - 1, int(f * len(r)))]
    return "n=%d min %.3f p5 %.3f median %.3f p95 %.3f max %.3f" % (len(r), r[0], q(0.05), q(0.5), q(0.95), r[-1])


def burner(comm, n, ms, parallel=1, cpu=None):
    cmd = [jtest.BURNER, comm, str(n), str(ms), str(parallel)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "burner %s failed: %s" % (comm, r.stderr))
    return json.loads(r.stdout)["children_cpu_ns"]


def check_conservation(con):
    bad = con.execute("""SELECT COUNT(*), MAX(ABS(measured_j - idle_j - attributed_j - unattributed_j))
                         FROM interval_domains
                         WHERE ABS(measured_j - idle_j - attributed_j - unattributed_j) > 1e-9""").fetchone()
    check(bad[0] == 0, "conservation broken in %d interval(s), worst by %s J" % bad)
    (n,) = con.execute("SELECT COUNT(*) FROM interval_domains").fetchone()
    check(n > 0, "no interval stored")
    # The per-process rows add up to the attributed figure.
    (worst,) = con.execute("""SELECT MAX(ABS(x.attributed_j - COALESCE(
                                  (SELECT SUM(sd.energy_j) FROM sample_domains sd
                                   WHERE sd.interval_id = x.interval_id AND sd.domain_id = x.domain_id), 0)))
                              FROM interval_domains x""").fetchone()
    check(worst is not None and worst < 1e-6, "per-process energy does not add up to attributed: off by %s J" % worst)


def comm_energy(con, comm, domain):
    # Raw intervals only (level 0): after a minute the store adds rollup
    # rows, sums of the raw ones, to the same tables.
    (e,) = con.execute("""SELECT COALESCE(SUM(sd.energy_j), 0) FROM sample_domains sd
                          JOIN processes p ON p.id = sd.process_id JOIN domains d ON d.id = sd.domain_id
                          JOIN intervals i ON i.id = sd.interval_id
                          WHERE p.comm = ? AND d.name = ? AND i.level = 0""", (comm, domain)).fetchone()
    return e


def workload_phases(dm):
    """One core busy, all (both) cores busy, a storm of short processes.
    Returns {comm: CPU ns by rusage}."""
    truth = {}
    truth[wname("acc1")] = burner(wname("acc1"), 1, 7000)          # one core busy
    truth[wname("accA")] = burner(wname("accA"), 2, 6000, 2)       # all (both) cores busy
    truth[wname("accS")] = burner(wname("accS"), 1500, 4, 2)       # short processes
    time.sleep(1.5)
    jtest.wait_until(lambda: jtest.comm_cpu_ns(dm.db, wname("accS")) >= 0.995 * truth[wname("accS")], 5.0)
    return truth


def test_accuracy_phases():
    """Idle phase, then the workload phases, against the model's truth.

    Other work may run on the host at the same time (a busy CI machine): the
    model charges its CPU time too, and it gets its share; each workload's
    truth is K x its own rusage CPU time whatever else runs. Only the idle
    power estimate needs the idle phase to be idle: when other work kept the
    CPUs busy through it, no estimator can see idle power, so that one check
    is skipped (and said so; JOULED_ACCURACY_STRICT=1 fails instead) and the
    workload phases run under a daemon told the idle power, so that dynamic
    energy and conservation are still checked."""
    with jtest.TempDir() as d:
        pc = os.path.join(d, "powercap")
        fx = jtest.PowercapFixture(pc, [{"path": "intel-rapl:0", "name": "package-0",
                                         "max_energy_range_uj": RANGE_UJ, "energy_uj": 1000}])
        args = ["--interval", "0.5", "--source", "rapl", "--powercap-root", pc]
        drv = ModelDriver(fx, {"intel-rapl:0": None})
        drv.start()
        try:
            with jtest.Daemon(d, args) as dm:
                dm.wait_intervals(1)
                b0, t0 = read_stat()[0], time.monotonic()
                time.sleep(6)                                    # phase 1: idle
                background = (read_stat()[0] - b0) / 1e9 / (time.monotonic() - t0)
                quiet = background <= 0.3
                if quiet:
                    truth = workload_phases(dm)
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
            if not quiet:
                msg = ("host busy with other work during the idle phase (%.2f CPUs): idle power estimate "
                       "NOT checked; dynamic energy and conservation checked with the idle power configured"
                       % background)
                print("note: " + msg)
                if os.environ.get("JOULED_ACCURACY_STRICT"):
                    raise Failure(msg)
                with jtest.Daemon(d, args + ["--idle-power", "package-0:%g" % P_IDLE],
                                  db=os.path.join(d, "configured.db")) as dm:
                    dm.wait_intervals(1)
                    truth = workload_phases(dm)
                    check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        finally:
            drv.stop()

        if os.environ.get("JTEST_KEEP_DB"):
            import shutil
            shutil.copy(dm.db, os.environ["JTEST_KEEP_DB"])
        con = sqlite3.connect(dm.db)
        try:
            check_conservation(con)
            print("per-interval CPU / busy: %s" % ratio_summary(interval_ratios(con, drv.trace)))
            ours = 0.0
            for comm, cpu_ns in truth.items():
                want = K * cpu_ns / 1e9
                got = comm_energy(con, comm, "package-0")
                ours += got
                err = (got - want) / want
                print("%-10s rusage %.3f CPU-s, truth %.2f J, attributed %.2f J (%+.2f%%)"
                      % (comm, cpu_ns / 1e9, want, got, err * 100))
                check(abs(err) <= 0.03, "%s: dynamic energy %.2f J, model truth %.2f J (%+.1f%%, limit 3%%)"
                      % (comm, got, want, err * 100))
            (att,) = con.execute("""SELECT SUM(x.attributed_j) FROM interval_domains x
                                    JOIN domains d ON d.id = x.domain_id JOIN intervals i ON i.id = x.interval_id
                                    WHERE d.name = 'package-0' AND i.level = 0""").fetchone()
            print("other processes (background, the test itself): %.2f J" % (att - ours))
            row = con.execute("""SELECT x.idle_w, x.idle_method FROM interval_domains x
                                 JOIN domains d ON d.id = x.domain_id JOIN intervals i ON i.id = x.interval_id
                                 WHERE d.name = 'package-0' AND i.level = 0
                                 ORDER BY x.interval_id DESC LIMIT 1""").fetchone()
            print("idle estimate %.3f W (%s), truth %.3f W" % (row[0], row[1], P_IDLE))
            if quiet:
                check(row[1] in ("measured-idle", "regression"),
                      "idle power estimated by %s, not from the data (measured-idle, regression)" % row[1])
                check(abs(row[0] - P_IDLE) <= 0.05 * P_IDLE, "idle estimate %.3f W, truth %.3f W" % (row[0], P_IDLE))
            else:
                check(row[1] == "configured", "idle method %s, configured expected" % row[1])
        finally:
            con.close()


def test_per_package_split():
    """Topology override: CPU 0 and CPU 1 are two packages, each with its own
    powercap zone driven by its own CPU's busy time. A workload pinned to CPU 1
    gets package-1's energy and not package-0's; the switch program is on."""
    if os.cpu_count() < 2:
        print("note: one CPU, per-package split not checked")
        return
    with jtest.TempDir() as d:
        pc = os.path.join(d, "powercap")
        fx = jtest.PowercapFixture(pc, [
            {"path": "intel-rapl:0", "name": "package-0", "max_energy_range_uj": RANGE_UJ, "energy_uj": 1000},
            {"path": "intel-rapl:1", "name": "package-1", "max_energy_range_uj": RANGE_UJ, "energy_uj": 1000},
        ])
        drv = ModelDriver(fx, {"intel-rapl:0": [0], "intel-rapl:1": [1]})
        drv.start()
        old = os.environ.get("JOULED_TOPOLOGY")
        os.environ["JOULED_TOPOLOGY"] = "0:0,1:1"
        try:
            # The split is under test here, not the idle estimator: idle configured.
            with jtest.Daemon(d, ["--interval", "0.5", "--source", "rapl", "--powercap-root", pc,
                                  "--idle-power", "package-0:%g" % P_IDLE, "--idle-power", "package-1:%g" % P_IDLE]) as dm:
                dm.wait_intervals(2)
                cpu_ns = burner(wname("accP"), 1, 4000, 1, cpu=1)
                time.sleep(1.2)
                check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        finally:
            if old is None:
                del os.environ["JOULED_TOPOLOGY"]
            else:
                os.environ["JOULED_TOPOLOGY"] = old
            drv.stop()

        con = sqlite3.connect(dm.db)
        try:
            check_conservation(con)
            state = dict(con.execute("SELECT key, value FROM daemon_state").fetchall())
            check(state.get("attribution_per_package") == "yes", "switch program not on: %s" % state)
            check(state.get("attribution_basis") in ("cpu-time", "cycles"), "basis: %s" % state.get("attribution_basis"))
            e1 = comm_energy(con, wname("accP"), "package-1")
            e0 = comm_energy(con, wname("accP"), "package-0")
            want = K * cpu_ns / 1e9
            print("pinned to CPU 1: %.2f CPU-s, package-1 %.2f J (truth %.2f J), package-0 %.3f J"
                  % (cpu_ns / 1e9, e1, want, e0))
            check(abs(e1 - want) <= 0.05 * want, "package-1 energy %.2f J, truth %.2f J" % (e1, want))
            check(e0 <= 0.01 * e1, "package-0 gave %.3f J to a workload that never ran there" % e0)
        finally:
            con.close()


if __name__ == "__main__":
    jtest.run_tests([test_accuracy_phases, test_per_package_split])
