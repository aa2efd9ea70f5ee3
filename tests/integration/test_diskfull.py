#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Disk full: jouled keeps measuring, logs once, buffers what it
could not write and writes it, without a gap, when space returns."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

INTERVAL = 0.1


def raw_intervals(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute("SELECT start_ns, end_ns FROM intervals WHERE level = 0 ORDER BY start_ns").fetchall()
    finally:
        con.close()


def fill(path):
    """Write until the filesystem is full (unbuffered: no data left to flush at
    close, which would raise ENOSPC again)."""
    for name, chunk in ((path, b"\0" * 65536), (path + ".2", b"\0" * 512)):  # then the last partial blocks
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(fd, chunk)
        except OSError:
            pass
        finally:
            os.close(fd)


def test_disk_full_buffered_and_written_later(size="8m"):
    with jtest.TempDir() as d:
        mnt = os.path.join(d, "small")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", mnt], check=True)
        try:
            db = os.path.join(mnt, "jouled.db")
            with jtest.Daemon(d, ["--interval", str(INTERVAL), "--source", "model", "--tracker", "procfs"], db=db) as dm:
                dm.wait_intervals(5)
                filler = os.path.join(mnt, "filler")
                fill(filler)
                # The WAL is reused after each checkpoint: writes go on into
                # its space until it is used up, then fail.
                check(jtest.wait_until(lambda: "Failed to write interval" in dm.read_log(), 20),
                      "writes never failed on a full disk: %s" % dm.read_log()[-500:])
                n_full = len(raw_intervals(db))
                time.sleep(2.0)  # ~20 intervals that cannot be written
                check(dm.proc.poll() is None, "jouled died on a full disk: %s" % dm.read_log()[-500:])
                log = dm.read_log()
                check(log.count("Failed to write interval") == 1,
                      "wanted exactly one write error in the log, got %d: %s" % (log.count("Failed to write interval"), log[-800:]))
                check(len(raw_intervals(db)) <= n_full + 1, "intervals were written on a full disk?")
                os.unlink(filler)
                if os.path.exists(filler + ".2"):
                    os.unlink(filler + ".2")
                check(jtest.wait_until(lambda: len(raw_intervals(db)) >= n_full + 20, 10),
                      "buffered intervals were not written when space returned: %s" % dm.read_log()[-500:])
                check("work again" in dm.read_log(), "no notice that writes work again")
                st = jtest.joulectl_json("status", db=db)
                check(st["counters"].get("write_errors", 0) and st["counters"]["write_errors"] > 0,
                      "status does not count the write errors: %r" % st["counters"])
                check("intervals_dropped" in st["counters"], "status lacks intervals_dropped: %r" % st["counters"])
                dm.stop()
            rows = raw_intervals(db)
            gaps = [(a, b) for (a, b) in zip(rows, rows[1:]) if b[0] != a[1]]
            check(not gaps, "%d gaps in the interval times, first %r" % (len(gaps), gaps[:1]))
        finally:
            subprocess.run(["umount", "-l", mnt])


def test_disk_full_tiny_filesystem():
    """The same on 4 MB: the WAL, checkpointed while jouled runs, leaves room
    for writes to resume once space is freed."""
    test_disk_full_buffered_and_written_later("4m")


def test_sigterm_while_buffering_says_what_is_lost():
    """SIGTERM while the disk is full: a last write is tried, and what could
    not be written is logged with its count; the exit status says so."""
    import re
    with jtest.TempDir() as d:
        mnt = os.path.join(d, "small")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mnt], check=True)
        try:
            db = os.path.join(mnt, "jouled.db")
            with jtest.Daemon(d, ["--interval", str(INTERVAL), "--source", "model", "--tracker", "procfs"], db=db) as dm:
                dm.wait_intervals(5)
                fill(os.path.join(mnt, "filler"))
                check(jtest.wait_until(lambda: "Failed to write interval" in dm.read_log(), 20),
                      "writes never failed on a full disk: %s" % dm.read_log()[-500:])
                time.sleep(1.5)  # ~15 intervals that cannot be written
                rc = dm.stop()
                log = dm.read_log()
                m = re.search(r"Exiting with (\d+) intervals .* lost", log)
                check(m is not None, "no line says what is lost: %s" % log[-800:])
                check(int(m.group(1)) >= 10, "only %s intervals said lost after 1.5 s of a full disk" % m.group(1))
                check(rc == 1, "jouled exited %d after losing intervals, not 1" % rc)
                check("0 buffered intervals written, 0 dropped" not in log, "a notice counted nothing: %s" % log)
        finally:
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_disk_full_buffered_and_written_later, test_disk_full_tiny_filesystem,
                     test_sigterm_while_buffering_says_what_is_lost])
