#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end: the real jouled (real BPF tracker) and joulectl, against the
model source on this machine and a fixture powercap tree whose counters
advance and wrap during the test."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest
from jtest import check, Failure

jtest.require_root()


def integrity_ok(db):
    con = sqlite3.connect(db)
    try:
        (res,) = con.execute("PRAGMA integrity_check").fetchone()
    finally:
        con.close()
    return res == "ok"


def test_short_lived_processes_attributed():
    """500 processes of ~4 ms each: >= 99% of their rusage CPU time appears
    under their comm, with energy, and SIGTERM loses no completed interval."""
    with jtest.TempDir() as d, jtest.Daemon(d, ["--interval", "0.2", "--source", "model"]) as dm:
        dm.wait_intervals(2)
        r = subprocess.run([jtest.BURNER, "jt-short500", "500", "4"], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "burner failed: %s" % r.stderr)
        truth_ns = json.loads(r.stdout)["children_cpu_ns"]
        # Exit events arrive when the kernel frees each task (after an RCU
        # grace period): give the last ones a few intervals to be stored.
        jtest.wait_until(lambda: jtest.comm_cpu_ns(dm.db, "jt-short500") >= 0.995 * truth_ns, 5.0)
        con = sqlite3.connect("file:%s?mode=ro" % dm.db, uri=True)
        (before,) = con.execute("SELECT COUNT(*) FROM intervals").fetchone()
        con.close()
        t_stop = time.time()
        rc = dm.stop(signal.SIGTERM)
        check(rc == 0, "jouled exited %d on SIGTERM: %s" % (rc, dm.read_log()))
        check(integrity_ok(dm.db), "integrity_check failed after SIGTERM")

        con = sqlite3.connect(dm.db)
        (after, last_end) = con.execute("SELECT COUNT(*), MAX(end_ns) FROM intervals").fetchone()
        con.close()
        check(after >= before, "intervals lost on SIGTERM: %d before, %d after" % (before, after))
        # The partial interval up to the signal was written too.
        check(abs(last_end / 1e9 - t_stop) < 0.5, "last interval ends %.3fs away from the stop" % (last_end / 1e9 - t_stop))

        rep = jtest.joulectl_json("report", "--by", "comm", db=dm.db)
        rows = [x for x in rep["rows"] if x["key"] == "jt-short500"]
        check(len(rows) == 1, "no row for comm jt-short500 in %s" % [x["key"] for x in rep["rows"]][:20])
        got_ns = rows[0]["cpu_seconds"] * 1e9
        ratio = got_ns / truth_ns
        print("short-lived: rusage %.3f s, jouled %.3f s (%.2f%%)" % (truth_ns / 1e9, got_ns / 1e9, ratio * 100))
        check(ratio >= 0.99, "only %.2f%% of the children's CPU time was attributed" % (ratio * 100))
        check(ratio <= 1.02, "%.2f%% of the children's CPU time: counted twice?" % (ratio * 100))
        check(rows[0]["energy_joules"] > 0, "no energy attributed to the workload")
        check(rep["estimated"] is True, "model source figures must be marked estimated")
        check(all(s["estimated"] for s in rep["sources"]), "sources not marked estimated: %s" % rep["sources"])
        t = rep["totals"]
        check(abs(t["measured_joules"] - (t["attributed_joules"] + t["idle_joules"] + t["unattributed_joules"])) < 1e-6,
              "conservation broken: %s" % t)
        # Both views of the rows, as jouled stored them: the dynamic energy adds
        # up to attributed, the energy with idle to attributed + the processes'
        # idle shares, at most the idle energy (all of it when processes ran in
        # every interval; jouled itself runs in each).
        rep = jtest.joulectl_json("report", db=dm.db)
        t = rep["totals"]
        dyn = sum(x["energy_joules"] for x in rep["rows"])
        with_idle = sum(x["energy_with_idle_joules"] for x in rep["rows"])
        check(abs(dyn - t["attributed_joules"]) <= 1e-6 * max(1.0, t["attributed_joules"]),
              "rows %r != attributed %r" % (dyn, t["attributed_joules"]))
        check(abs(with_idle - (t["attributed_joules"] + t["idle_share_joules"])) <= 1e-6 * max(1.0, with_idle),
              "rows with idle %r != attributed + idle share: %r" % (with_idle, t))
        check(0.95 * t["idle_joules"] <= t["idle_share_joules"] <= t["idle_joules"] * (1 + 1e-9) + 1e-9,
              "idle shares %r of idle %r" % (t["idle_share_joules"], t["idle_joules"]))
        idle = {x["domain"]: x for x in rep["idle"]}
        check(idle["package-0"]["method"] == "source" and idle["package-0"]["band_watts"] == 0.0,
              "the model's own idle, exact: %r" % rep["idle"])


def make_rapl_tree(root, range_uj):
    return jtest.PowercapFixture(root, [
        {"path": "intel-rapl:0", "name": "package-0", "max_energy_range_uj": range_uj, "energy_uj": range_uj - 1000},
        {"path": "intel-rapl:0/intel-rapl:0:0", "name": "core", "max_energy_range_uj": range_uj, "energy_uj": 17},
        {"path": "intel-rapl:0/intel-rapl:0:1", "name": "dram", "max_energy_range_uj": range_uj, "energy_uj": 5},
    ])


def test_rapl_fixture_wraps():
    """Counters that wrap many times: the stored measurement equals the
    energy the fixture added, to the micro-joule, with no jump."""
    with jtest.TempDir() as d:
        pc = os.path.join(d, "powercap")
        # 25 J: at 20 W the package counter wraps every 1.25 s. Like the
        # hardware's, a counter can only be unfolded when it is read at least
        # once per wrap: a sample late by a whole wrap period on a loaded
        # machine would lose one, so the period stays well above the interval.
        rng = 25_000_000
        fx = make_rapl_tree(pc, rng)
        with jtest.Daemon(d, ["--interval", "0.1", "--powercap-root", pc, "--source", "rapl"]) as dm:
            dm.wait_intervals(1)
            fx.run_power({"intel-rapl:0": 20.0, "intel-rapl:0/intel-rapl:0:0": 12.0,
                          "intel-rapl:0/intel-rapl:0:1": 3.0}, period=0.02)
            time.sleep(6.5)
            fx.stop()
            time.sleep(0.3)  # one more sample sees the final counters
            check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        truth = fx.truth_uj
        check(truth["intel-rapl:0"] > 4 * rng, "fixture did not wrap enough: %d" % truth["intel-rapl:0"])

        con = sqlite3.connect(dm.db)
        rows = dict(con.execute("""SELECT d.name, SUM(x.measured_j) FROM interval_domains x
                                   JOIN domains d ON d.id = x.domain_id GROUP BY d.name""").fetchall())
        peak = con.execute("""SELECT MAX(x.measured_j * 1e9 / (i.end_ns - i.start_ns)) FROM interval_domains x
                              JOIN domains d ON d.id = x.domain_id JOIN intervals i ON i.id = x.interval_id
                              WHERE d.name = 'package-0'""").fetchone()[0]
        con.close()
        for path, name in (("intel-rapl:0", "package-0"), ("intel-rapl:0/intel-rapl:0:0", "core-0"),
                           ("intel-rapl:0/intel-rapl:0:1", "dram-0")):
            check(name in rows, "domain %s not stored: %s" % (name, rows))
            check(abs(rows[name] * 1e6 - truth[path]) < 1.0,
                  "%s: stored %.6f J, fixture added %.6f J" % (name, rows[name], truth[path] / 1e6))
        check(peak < 20.0 * 3, "a jump: package-0 peaked at %.1f W for a 20 W load" % peak)

        rep = jtest.joulectl_json("report", db=dm.db)
        check(rep["estimated"] is False, "RAPL figures must not be marked estimated")
        # Host total: package + dram (core is inside the package).
        want = (truth["intel-rapl:0"] + truth["intel-rapl:0/intel-rapl:0:1"]) / 1e6
        check(abs(rep["totals"]["measured_joules"] - want) < 1e-5,
              "host total %.6f J, expected package + dram = %.6f J" % (rep["totals"]["measured_joules"], want))
        doms = {s["domain"]: s for s in rep["sources"]}
        check(doms.get("package-0", {}).get("source") == "rapl", "sources: %s" % rep["sources"])


def test_probe_on_this_machine():
    r = subprocess.run([jtest.JOULED, "--probe", "--powercap-root", "/nonexistent-powercap"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--probe failed: %s" % r.stderr)
    check("No hardware energy meter found" in r.stdout and "estimated" in r.stdout,
          "--probe does not say plainly that the model is used: %s" % r.stdout)


def test_bad_input():
    cases = [
        (["--bogus"], 2, "--bogus"),
        (["--interval", "fast"], 2, "--interval"),
        (["--interval", "0"], 2, "--interval"),
        (["--source", "nuclear"], 1, "nuclear"),
        (["--tracker", "magic"], 2, "--tracker"),
        (["extra-arg"], 2, "extra-arg"),
        (["--config", "/nonexistent/jouled.conf"], 2, "/nonexistent/jouled.conf"),
        (["--db", "/proc/self/jouled.db", "--source", "model"], 1, "/proc/self/jouled.db"),
    ]
    for args, code, needle in cases:
        r = subprocess.run([jtest.JOULED] + args, capture_output=True, text=True, timeout=30)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == code, "jouled %s exited %d, wanted %d: %s" % (args, r.returncode, code, r.stderr))
        check(any(needle in l for l in lines), "jouled %s: error does not name %r: %s" % (args, needle, r.stderr))
        check("Traceback" not in r.stderr and r.returncode >= 0, "jouled %s crashed" % args)


def test_newer_schema_refused_untouched():
    with jtest.TempDir() as d:
        db = os.path.join(d, "new.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE future(x)")
        con.execute("PRAGMA user_version = 9999")
        con.commit()
        con.close()
        before = hashlib.sha256(open(db, "rb").read()).hexdigest()
        r = subprocess.run([jtest.JOULED, "--db", db, "--source", "model"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1, "jouled accepted a newer schema (rc %d)" % r.returncode)
        check("newer" in r.stderr, "no clear message: %s" % r.stderr)
        after = hashlib.sha256(open(db, "rb").read()).hexdigest()
        check(before == after, "the newer database was modified")


def test_config_file_and_override():
    with jtest.TempDir() as d:
        conf = os.path.join(d, "jouled.conf")
        with open(conf, "w") as f:
            f.write("[Daemon]\nInterval=0.3\nSource=model\n[Attribution]\nIdlePower=package-0:1.5\n")
        with jtest.Daemon(d, ["--config", conf, "--interval", "0.2"]) as dm:
            dm.wait_intervals(3)
            check(dm.stop() == 0, "jouled failed: %s" % dm.read_log())
        con = sqlite3.connect(dm.db)
        rows = con.execute("SELECT idle_w, idle_method FROM interval_domains").fetchall()
        spans = sorted(r[0] for r in con.execute("SELECT end_ns - start_ns FROM intervals WHERE id > 1"))
        con.close()
        spans = spans[len(spans) // 2]  # the median: robust to a busy machine's late ticks
        check(all(r == (1.5, "configured") for r in rows), "idle override not applied: %s" % rows[:3])
        check(0.19 < spans / 1e9 < 0.25, "command line did not override Interval= (median %.3fs)" % (spans / 1e9))
        bad = os.path.join(d, "bad.conf")
        with open(bad, "w") as f:
            f.write("[Daemon]\nInterval=0.3\nSorce=model\n")
        r = subprocess.run([jtest.JOULED, "--config", bad, "--db", os.path.join(d, "x.db")],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "bad.conf:3:" in r.stderr, "bad key not reported with file:line: %s" % r.stderr)
        check(not os.path.exists(os.path.join(d, "x.db")), "jouled started despite a bad configuration")


if __name__ == "__main__":
    jtest.run_tests([
        test_probe_on_this_machine,
        test_bad_input,
        test_newer_schema_refused_untouched,
        test_config_file_and_override,
        test_rapl_fixture_wraps,
        test_short_lived_processes_attributed,
    ])
