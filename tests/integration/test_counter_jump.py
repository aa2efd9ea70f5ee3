#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Counter glitches: a RAPL counter that goes backwards
without a wrap, then jumps far beyond what the domain's maximum power allows.
Each glitch costs that interval's reading, with a log line, and is counted
in `joulectl status` (counters_discarded); it is never stored as energy."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

ZONE = "intel-rapl:0"
RANGE_UJ = 2**32 - 1      # ~4295 J: "backwards" read as a wrap would be ~4290 J
MAX_POWER_W = 50.0
LOAD_W = 10.0


def stored(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        total, peak = con.execute(
            """SELECT total(x.measured_j), max(x.measured_j * 1e9 / (i.end_ns - i.start_ns))
               FROM interval_domains x JOIN domains d ON d.id = x.domain_id
               JOIN intervals i ON i.id = x.interval_id WHERE d.name = 'package-0'""").fetchone()
        (n,) = con.execute("SELECT count(*) FROM intervals WHERE level = 0").fetchone()
    finally:
        con.close()
    return total, peak or 0.0, n


def test_backwards_then_jump_discarded_and_counted():
    with jtest.TempDir() as d:
        pc = os.path.join(d, "powercap")
        fx = jtest.PowercapFixture(pc, [{"path": ZONE, "name": "package-0", "max_energy_range_uj": RANGE_UJ,
                                         "energy_uj": 1_000_000_000}])
        with open(os.path.join(pc, ZONE, "constraint_0_max_power_uw"), "w") as f:
            f.write("%d\n" % int(MAX_POWER_W * 1e6))
        with jtest.Daemon(d, ["--interval", "0.1", "--powercap-root", pc, "--source", "rapl",
                              "--tracker", "procfs"]) as dm:
            dm.wait_intervals(2)
            fx.run_power({ZONE: LOAD_W}, period=0.02)
            time.sleep(1.0)
            fx.stop()
            before = jtest.joulectl_json("status", db=dm.db)["counters"].get("counters_discarded")
            check(before == 0, "counters_discarded is %r before any glitch" % (before,))

            with fx.lock:  # 5 J backwards, no wrap
                fx._write(ZONE, fx.zones[ZONE]["energy_uj"] - 5_000_000)
            time.sleep(0.5)
            with fx.lock:  # then 1000 J at once: 100 times what 50 W gives in 0.1 s
                fx._write(ZONE, fx.zones[ZONE]["energy_uj"] + 1_000_000_000)
            time.sleep(0.5)
            fx._stop.clear()
            fx.run_power({ZONE: LOAD_W}, period=0.02)
            time.sleep(1.0)
            fx.stop()
            time.sleep(0.3)
            ok = jtest.wait_until(
                lambda: (jtest.joulectl_json("status", db=dm.db)["counters"].get("counters_discarded") or 0) >= 2, 5)
            st = jtest.joulectl_json("status", db=dm.db)
            check(dm.stop() == 0, "jouled failed: %s" % dm.read_log()[-800:])
        log = dm.read_log()
        check(ok, "counters_discarded does not count both glitches: %r" % st["counters"])
        check("discarded" in log, "no log line about the discarded reading: %s" % log[-800:])
        total, peak, n = stored(dm.db)
        truth = fx.truth_uj[ZONE] / 1e6  # what the load really added, glitches excluded
        check(peak < 2 * MAX_POWER_W, "an interval was stored at %.1f W (max power %.0f W)" % (peak, MAX_POWER_W))
        check(total <= truth + 1e-3, "stored %.3f J, more than the %.3f J the load used" % (total, truth))
        check(total >= truth * 0.5, "stored %.3f J of %.3f J: too much lost around the glitches" % (total, truth))
        check(n > 20, "only %d intervals stored" % n)


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_backwards_then_jump_discarded_and_counted])
