#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Wall-clock steps of -2 and +2 minutes while jouled runs (an LD_PRELOAD
shim moves CLOCK_REALTIME for jouled and joulectl only): every interval is
kept with its true length (from CLOCK_MONOTONIC), none is dropped, and the
report counts all the energy stored."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

CLOCKSHIM = os.environ.get("CLOCKSHIM", "build/tests/libclockshim.so")
INTERVAL = 0.1


def rows(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute("SELECT start_ns, end_ns FROM intervals WHERE level = 0 ORDER BY id").fetchall()
    finally:
        con.close()


def measured(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        (j,) = con.execute("SELECT total(d.measured_j) FROM intervals i JOIN interval_domains d "
                           "ON d.interval_id = i.id WHERE i.level = 0 AND d.host_total = 1").fetchone()
        return j
    finally:
        con.close()


def test_clock_steps_lose_nothing():
    with jtest.TempDir() as d:
        off = os.path.join(d, "offset")
        with open(off, "w") as f:
            f.write("0\n")
        env = dict(os.environ, LD_PRELOAD=os.path.abspath(CLOCKSHIM), CLOCKSHIM_FILE=off)
        db = os.path.join(d, "jouled.db")
        log = open(os.path.join(d, "jouled.log"), "w")
        t0 = time.monotonic()
        proc = subprocess.Popen([jtest.JOULED, "--db", db, "--interval", str(INTERVAL), "--source", "model",
                                 "--tracker", "procfs"], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            check(jtest.wait_until(lambda: os.path.exists(db) and len(rows(db)) >= 10, 30), "no intervals stored")
            for step in (-120, 0, 120):  # back 2 minutes, then forward 2 minutes, twice
                with open(off, "w") as f:
                    f.write("%d\n" % (step * 10**9))
                time.sleep(1.5)
            proc.send_signal(15)
            rc = proc.wait(timeout=30)
            elapsed = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        with open(os.path.join(d, "jouled.log")) as f:
            text = f.read()
        check(rc == 0, "jouled exited %d: %s" % (rc, text[-800:]))
        check("refused" not in text and "Failed to write" not in text, "an interval was not written: %s" % text[-800:])
        check(text.count("wall clock stepped") >= 3, "the steps were not logged: %s" % text[-800:])
        r = rows(db)
        check(all(e >= s for s, e in r), "an interval ends before it starts")
        total = sum(e - s for s, e in r) / 1e9
        check(total <= elapsed and total >= elapsed - 3, "intervals cover %.2f s of a %.2f s run" % (total, elapsed))
        longest = max(e - s for s, e in r) / 1e9
        check(longest < 1.0, "an interval of %.1f s: a clock step was stored as time that passed" % longest)
        # The report, read at jouled's (shifted) time, counts every joule stored.
        rep = subprocess.run([jtest.JOULECTL, "--db", db, "report", "--since", "1d", "--until", "now", "--json"],
                             capture_output=True, text=True, env=env, timeout=60)
        check(rep.returncode == 0, "report failed: %s" % rep.stderr)
        import json
        got = json.loads(rep.stdout)["totals"]["measured_joules"]
        want = measured(db)
        check(abs(got - want) <= 1e-6 * max(1, want), "report says %r J, %r J stored" % (got, want))


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_clock_steps_lose_nothing])
