#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Privacy: the database is created 0640, group "jouled"
when that group exists; a user outside it gets one clear line from joulectl
(exit 1), a member can read it; command lines are stored only with
[Daemon] StoreCommandLine=yes."""
import grp
import os
import sqlite3
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

NOBODY = 65534
GROUP = "jouled"
MESSAGE = ("joulectl: cannot read DB: Permission denied; add yourself to the 'jouled' group "
           "(usermod -aG jouled $USER) or use sudo")
ARGS = ["--interval", "0.1", "--source", "model", "--tracker", "procfs"]


class JouledGroup:
    """The "jouled" group: made for the test when missing, removed after."""

    def __enter__(self):
        self.made = False
        try:
            grp.getgrnam(GROUP)
        except KeyError:
            subprocess.run(["groupadd", "--system", GROUP], check=True)
            self.made = True
        self.gid = grp.getgrnam(GROUP).gr_gid
        return self

    def __exit__(self, *exc):
        if self.made:
            subprocess.run(["groupdel", GROUP], check=False)


def as_nobody(args, groups=None):
    cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY]
    cmd += ["--groups=%s" % ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    return subprocess.run(cmd + [jtest.JOULECTL] + args, capture_output=True, text=True, timeout=60)


def cmdlines(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return [r[0] for r in con.execute("SELECT cmdline FROM processes")]
    finally:
        con.close()


def test_mode_group_and_unprivileged_reader():
    with JouledGroup() as g, jtest.TempDir() as d:
        os.chmod(d, 0o755)  # only the file's own mode keeps others out
        with jtest.Daemon(d, ARGS) as dm:
            dm.wait_intervals(5)
            st = os.stat(dm.db)
            check(stat.S_IMODE(st.st_mode) == 0o640, "database mode is %o, not 640" % stat.S_IMODE(st.st_mode))
            check(st.st_uid == 0, "database owner is %d, not root" % st.st_uid)
            check(st.st_gid == g.gid, "database group is %d, not jouled (%d)" % (st.st_gid, g.gid))
            r = as_nobody(["--db", dm.db, "status"], groups=[g.gid])
            check(r.returncode == 0, "a member of group jouled cannot read while jouled runs (%d): %s"
                  % (r.returncode, r.stderr))
            dm.stop()
        for verb in (["status"], ["report", "--since", "1h"]):
            r = as_nobody(["--db", dm.db] + verb)
            check(r.returncode == 1, "joulectl %s as nobody exited %d (wanted 1): %s" % (verb[0], r.returncode, r.stderr))
            check(r.stderr.strip() == MESSAGE, "joulectl %s as nobody said %r, wanted %r" % (verb[0], r.stderr, MESSAGE))
            check(r.stdout == "", "joulectl printed something on stdout: %r" % r.stdout)
        # A member of the group reads it once jouled stopped too (-wal and -shm stay).
        r = as_nobody(["--db", dm.db, "report", "--since", "1h"], groups=[g.gid])
        check(r.returncode == 0, "a member of group jouled cannot read the database (%d): %s" % (r.returncode, r.stderr))
        # Root still reads it, and a directory nobody may enter gives the same line.
        jtest.joulectl("--db", dm.db, "status")
        os.chmod(d, 0o700)
        r = as_nobody(["--db", dm.db, "status"])
        check(r.returncode == 1 and r.stderr.strip() == MESSAGE,
              "unreadable directory: joulectl exited %d: %r" % (r.returncode, r.stderr))


def test_command_lines_only_when_asked():
    with jtest.TempDir() as d:
        marker = "privacy-marker-%d" % os.getpid()
        # A busy process with a recognisable command line: on a quiet machine
        # nothing else may use CPU in the first intervals (no CPU, no row).
        busy = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: pass", marker])
        try:
            with jtest.Daemon(d, ARGS) as dm:
                dm.wait_intervals(5)
                jtest.wait_until(lambda: len(cmdlines(dm.db)) > 0, 10)
                dm.stop()
        finally:
            busy.kill()
            busy.wait()
        rows = cmdlines(dm.db)
        check(rows, "no processes stored")
        check(all(c is None for c in rows), "command lines stored by default: %r" % [c for c in rows if c][:3])

        conf = os.path.join(d, "jouled.conf")
        with open(conf, "w") as f:
            f.write("[Daemon]\nStoreCommandLine=yes\n")
        db2 = os.path.join(d, "with-cmdline.db")
        # A process with a recognisable command line, busy enough to get a row.
        busy = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: pass", marker])
        try:
            with jtest.Daemon(d, ["--config", conf] + ARGS, db=db2) as dm:
                dm.wait_intervals(5)
                ok = jtest.wait_until(lambda: any(c and marker in c for c in cmdlines(db2)), 10)
                dm.stop()
        finally:
            busy.kill()
            busy.wait()
        check(ok, "StoreCommandLine=yes did not store the command line: %r" % [c for c in cmdlines(db2) if c][:5])


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_mode_group_and_unprivileged_reader, test_command_lines_only_when_asked])
