#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hardening: valgrind finds no leak or memory error in jouled's
main loop (a few seconds of sampling, writing and maintenance, then SIGTERM)."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


def test_no_leak_in_main_loop():
    vg = shutil.which("valgrind")
    if not vg:
        print("SKIP: valgrind not installed")
        sys.exit(jtest.SKIP)
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        log = os.path.join(d, "vg.log")
        cmd = [vg, "--leak-check=full", "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
               "--error-exitcode=99", "--log-file=" + log,
               jtest.JOULED, "--db", db, "--interval", "0.2", "--source", "model", "--tracker", "procfs"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(6)
            check(p.poll() is None, "jouled under valgrind exited early (%s)" % p.returncode)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        with open(log) as f:
            text = f.read()
        check(rc == 0, "valgrind reported errors or leaks (exit %d): %s" % (rc, text[-3000:]))
        check("definitely lost: 0 bytes" in text or "All heap blocks were freed" in text,
              "no clean leak summary: %s" % text[-1500:])


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_no_leak_in_main_loop])
