#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What the store promises when things go wrong: one daemon per database,
no directories made and no symbolic links followed for --db, a database
deleted under jouled made again, a WAL that is checkpointed while jouled
runs, and no thread holding more capabilities than the main thread."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

ARGS = ["--interval", "0.1", "--source", "model", "--tracker", "procfs"]
SPAWN_IDLE = os.environ.get("SPAWN_IDLE", "build/tests/spawn-idle")


def run_jouled(args, timeout=10):
    t0 = time.monotonic()
    r = subprocess.run([jtest.JOULED] + args, capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - t0


def raw_rows(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute("SELECT start_ns, end_ns FROM intervals WHERE level = 0 ORDER BY start_ns").fetchall()
    finally:
        con.close()


def test_second_daemon_refused():
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ARGS) as dm:
            dm.wait_intervals(3)
            r, took = run_jouled(["--db", dm.db] + ARGS)
            check(r.returncode == 1, "a second jouled exited %d, not 1: %s" % (r.returncode, r.stderr))
            check(took < 1.0, "a second jouled took %.2f s to give up" % took)
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            check(len(lines) == 1, "wanted one line, got: %r" % r.stderr)
            check(str(dm.proc.pid) in lines[0] and "in use" in lines[0],
                  "the line does not name PID %d: %r" % (dm.proc.pid, lines[0]))
            check(dm.proc.poll() is None, "the first jouled stopped")
            with open(dm.db + ".lock") as f:
                check(f.read().strip() == str(dm.proc.pid), "the lock file does not hold the PID")
            dm.wait_intervals(6)
            check(dm.stop() == 0, "jouled did not exit 0")
        rows = raw_rows(dm.db)
        overlaps = [(a, b) for a, b in zip(rows, rows[1:]) if b[0] < a[1]]
        check(not overlaps, "%d overlapping intervals: %r" % (len(overlaps), overlaps[:2]))
        # Free again once the first is gone.
        with jtest.Daemon(d, ARGS) as dm2:
            dm2.wait_intervals(len(rows) + 2)
            check(dm2.stop() == 0, "jouled did not exit 0 on a database left by another")


def test_db_path_refusals():
    with jtest.TempDir() as d:
        missing = os.path.join(d, "no", "such", "dir", "x.db")
        r, _ = run_jouled(["--db", missing] + ARGS)
        check(r.returncode == 1, "--db in a missing directory exited %d: %s" % (r.returncode, r.stderr))
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(len(lines) == 1 and "does not exist" in lines[0], "wanted one clear line: %r" % r.stderr)
        check(not os.path.exists(os.path.join(d, "no")), "jouled created the missing directories")

        target = os.path.join(d, "target")
        with open(target, "w") as f:
            f.write("precious\n")
        os.chmod(target, 0o644)
        link = os.path.join(d, "link.db")
        os.symlink(target, link)
        r, _ = run_jouled(["--db", link] + ARGS)
        check(r.returncode == 1, "--db at a symbolic link exited %d: %s" % (r.returncode, r.stderr))
        check("symbolic link" in r.stderr, "no clear refusal: %r" % r.stderr)
        with open(target) as f:
            check(f.read() == "precious\n", "the link's target was changed")
        check(not os.path.exists(target + "-wal") and not os.path.exists(link + "-wal"), "a -wal was made")


def test_deleted_database_recreated():
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ARGS) as dm:
            dm.wait_intervals(3)
            for suffix in ("", "-wal", "-shm"):
                os.unlink(dm.db + suffix)
            check(jtest.wait_until(lambda: os.path.exists(dm.db), 5), "the database was not made again")
            dm.wait_intervals(5)
            log = dm.read_log()
            check(log.count("deleted or replaced") == 1, "wanted one line about it: %s" % log[-800:])
            check(dm.stop() == 0, "jouled did not exit 0")
        st = jtest.joulectl_json("status", db=dm.db)
        check(st is not None, "status does not read the new database")


def test_wal_checkpointed_while_running():
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ["--interval", "0.25", "--source", "model", "--tracker", "procfs"]) as dm:
            dm.wait_intervals(2)
            storm = subprocess.Popen([SPAWN_IDLE, "storm", "6000", "25"], stdout=subprocess.DEVNULL)
            max_wal = 0
            end = time.monotonic() + 25
            while time.monotonic() < end:
                max_wal = max(max_wal, os.path.getsize(dm.db + "-wal"))
                time.sleep(0.2)
            storm.wait(timeout=60)
            main = os.path.getsize(dm.db)
            wal = os.path.getsize(dm.db + "-wal")
            print("-wal at most %d bytes, now %d; database %d bytes" % (max_wal, wal, main))
            check(max_wal <= 8 * 1024 * 1024, "-wal reached %d bytes" % max_wal)
            check(main > 64 * 1024, "the database file holds nothing yet (%d bytes): never checkpointed" % main)
            check(dm.stop() == 0, "jouled did not exit 0")


def caps(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                out[k] = int(v.strip(), 16)
    return out


def test_every_thread_least_privilege():
    """Capabilities are per thread: every thread of a running jouled (the
    WAL checkpoint thread, the HTTP server's) has the main thread's or fewer."""
    port = 20000 + os.getpid() % 20000
    with jtest.TempDir() as d:
        with jtest.Daemon(d, ARGS + ["--metrics-listen", "127.0.0.1:%d" % port]) as dm:
            dm.wait_intervals(3)
            time.sleep(1.0)
            task_dir = "/proc/%d/task" % dm.proc.pid
            main = caps("/proc/%d/status" % dm.proc.pid)
            tids = sorted(int(t) for t in os.listdir(task_dir))
            check(len(tids) >= 3, "wanted the main, checkpoint and HTTP threads, found %d" % len(tids))
            check(main["CapEff"] != 0 or main["CapPrm"] == 0, "main thread caps: %r" % main)
            for tid in tids:
                c = caps("%s/%d/status" % (task_dir, tid))
                for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                    check(c[k] & ~main[k] == 0, "thread %d holds %s %#x, the main thread %#x" % (tid, k, c[k], main[k]))
            check(dm.stop() == 0, "jouled did not exit 0")


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_second_daemon_refused, test_db_path_refusals, test_deleted_database_recreated,
                     test_wal_checkpointed_while_running, test_every_thread_least_privilege])
